// SPDX-License-Identifier: GPL-2.0
/*
 * Policies that do not end, for tests/vm/fault_policy_stall.c: an init()
 * that spins, a request callback that prefaults in a loop, and a policy
 * that only takes the static key on.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/group")
int BPF_PROG(idle_group, struct iommu_fault_ctx *fctx)
{
	return IOMMU_FAULT_DEFAULT;
}

/*
 * The test aims it at a PASID nobody has on swsva0: it only takes the
 * static key on, clear of the others' target, every PASID of swsva1
 */
SEC(".struct_ops.link")
struct iommu_fault_ops idle = {
	.group = (void *)idle_group,
	.name = "stall_idle",
	.device = "swsva0",
};

/*
 * An init() that spins until the test releases it (or for 2^28 loop
 * steps): the binds and unbinds of other processes must not wait for it.
 */
__u32 release, init_spinning, init_done;

static long spin_step(__u64 i, void *ctx)
{
	return *(volatile __u32 *)&release ? 1 : 0;
}

static long spin_round(__u64 i, void *ctx)
{
	bpf_loop(1 << 16, spin_step, NULL, 0);
	return *(volatile __u32 *)&release ? 1 : 0;
}

SEC("struct_ops.s/init")
int BPF_PROG(spinning_init)
{
	init_spinning = 1;
	bpf_loop(1 << 12, spin_round, NULL, 0);
	init_done = 1;
	return 0;
}

SEC(".struct_ops.link")
struct iommu_fault_ops spin_init = {
	.init = (void *)spinning_init,
	.name = "stall_init",
	.device = "swsva1",
};

/*
 * A sleepable request callback that prefaults the same 64 pages 2^23
 * times: minutes of work, unless the kernel's budget stops it.
 */
extern int bpf_iommu_fault_prefault(struct iommu_fault_ctx *fctx, __u64 addr,
				    __u32 nr_pages) __ksym;

__u64 prefault_calls, prefault_cancelled;

SEC("struct_ops.s/request")
int BPF_PROG(spinning_request, struct iommu_fault_ctx *fctx)
{
	int i;

	bpf_for(i, 0, 1 << 23) {
		__sync_fetch_and_add(&prefault_calls, 1);
		if (bpf_iommu_fault_prefault(fctx, fctx->addr, 64) == -125)
			__sync_fetch_and_add(&prefault_cancelled, 1);
	}
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops spin_request = {
	.request = (void *)spinning_request,
	.name = "stall_request",
	.device = "swsva1",
};
