// SPDX-License-Identifier: GPL-2.0
/*
 * Two guards for tests/vm/fault_policy_guard.c: each allows the groups
 * inside [allow_lo, allow_hi) and refuses the rest, until the test sets
 * fail_now, when the next group makes it give up with
 * bpf_iommu_fault_error(). One fails closed, the other open.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

extern void bpf_iommu_fault_error(struct iommu_fault_ctx *fctx,
				  const char *reason) __ksym;

__u64 allow_lo, allow_hi;
__u32 fail_now;
__u64 calls[2];

static int guard(int id, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&calls[id], 1);
	if (fail_now) {
		bpf_iommu_fault_error(fctx, "forced");
		return IOMMU_FAULT_DEFAULT;
	}
	if (fctx->addr < allow_lo || fctx->addr >= allow_hi)
		return IOMMU_FAULT_INVALID;
	return IOMMU_FAULT_DEFAULT;
}

SEC("struct_ops/group")
int BPF_PROG(closed_group, struct iommu_fault_ctx *fctx)
{
	return guard(0, fctx);
}

SEC(".struct_ops.link")
struct iommu_fault_ops guard_closed = {
	.group = (void *)closed_group,
	.name = "closed_guard",
	.device = "swsva0",
	.flags = IOMMU_FAULT_OPS_FAIL_CLOSED,
};

SEC("struct_ops/group")
int BPF_PROG(open_group, struct iommu_fault_ctx *fctx)
{
	return guard(1, fctx);
}

SEC(".struct_ops.link")
struct iommu_fault_ops guard_open = {
	.group = (void *)open_group,
	.name = "open_guard",
	.device = "swsva0",
};

/*
 * A guard with a group callback only, as on a domain that is not SVA's:
 * it refuses a group if any of its requests is in [deny_lo, deny_hi),
 * looking at each with bpf_iommu_fault_group_request().
 */
extern int bpf_iommu_fault_group_request(struct iommu_fault_ctx *fctx,
					 __u32 index, __u64 *addr,
					 __u32 *perm) __ksym;

__u64 deny_lo, deny_hi;
__u64 requests_seen;

SEC("struct_ops/group")
int BPF_PROG(every_request_group, struct iommu_fault_ctx *fctx)
{
	__u32 i, n = fctx->nr_requests, perm = 0;
	__u64 addr = 0;
	int verdict = IOMMU_FAULT_DEFAULT;

	for (i = 0; i < n && i < 512; i++) {
		if (bpf_iommu_fault_group_request(fctx, i, &addr, &perm))
			break;
		__sync_fetch_and_add(&requests_seen, 1);
		if (addr >= deny_lo && addr < deny_hi)
			verdict = IOMMU_FAULT_INVALID;
	}
	return verdict;
}

SEC(".struct_ops.link")
struct iommu_fault_ops guard_every_request = {
	.group = (void *)every_request_group,
	.name = "group_guard",
	.device = "swsva0",
};
