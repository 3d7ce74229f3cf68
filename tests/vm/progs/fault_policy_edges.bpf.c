// SPDX-License-Identifier: GPL-2.0
/*
 * Policies for tests/vm/fault_policy_edges.c, which drives the edges of
 * the attach and of process targets: two denying policies a test can
 * aim at two processes, the first recording what it is told of binds,
 * and one whose init() returns what the test sets.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Set by the test before load: what init() returns */
const volatile int init_ret;

/* Per policy: groups denied, binds and unbinds seen, the last PASID */
__u64 denied[2], binds[2], unbinds[2];
__u32 last_pasid[2];

static int deny(int id, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&denied[id], 1);
	last_pasid[id] = fctx->pasid;
	return IOMMU_FAULT_INVALID;
}

SEC("struct_ops/group")
int BPF_PROG(deny_a_group, struct iommu_fault_ctx *fctx)
{
	return deny(0, fctx);
}

SEC("struct_ops/bind")
void BPF_PROG(deny_a_bind, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&binds[0], 1);
}

SEC("struct_ops/unbind")
void BPF_PROG(deny_a_unbind, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&unbinds[0], 1);
}

/*
 * Set by the race test: init() spins this many loop steps, which widens
 * any window of the attach in which a bind or an unbind goes unseen
 */
const volatile __u32 init_spin;

static long spin_step(__u64 i, void *ctx)
{
	return 0;
}

SEC("struct_ops.s/init")
int BPF_PROG(deny_a_init)
{
	bpf_loop(init_spin, spin_step, NULL, 0);
	return 0;
}

SEC(".struct_ops.link")
struct iommu_fault_ops deny_a = {
	.group = (void *)deny_a_group,
	.bind = (void *)deny_a_bind,
	.unbind = (void *)deny_a_unbind,
	.init = (void *)deny_a_init,
	.name = "edges_a",
};

SEC("struct_ops/group")
int BPF_PROG(deny_b_group, struct iommu_fault_ctx *fctx)
{
	return deny(1, fctx);
}

SEC(".struct_ops.link")
struct iommu_fault_ops deny_b = {
	.group = (void *)deny_b_group,
	.name = "edges_b",
};

SEC("struct_ops.s/init")
int BPF_PROG(returning_init)
{
	return init_ret;
}

SEC(".struct_ops.link")
struct iommu_fault_ops init_returns = {
	.init = (void *)returning_init,
	.name = "edges_init",
};
