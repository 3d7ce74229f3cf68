// SPDX-License-Identifier: GPL-2.0
/*
 * Policies for tests/vm/fault_policy_limits.c: one that prefaults where
 * the test says from its request callback, and two that do nothing, for
 * a device target and a process target, whose attach needs privileges.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

extern int bpf_iommu_fault_prefault(struct iommu_fault_ctx *fctx, __u64 addr,
				    __u32 nr_pages) __ksym;

/* Set by the test before a DMA: where the next request prefaults */
__u64 prefault_at;
__u32 prefault_pages;
/* What that prefault returned */
int prefault_ret = -1000;

SEC("struct_ops.s/request")
int BPF_PROG(prefault_at_request, struct iommu_fault_ctx *fctx)
{
	__u64 at = prefault_at;

	if (at) {
		prefault_at = 0;
		prefault_ret = bpf_iommu_fault_prefault(fctx, at, prefault_pages);
	}
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops prefault_where = {
	.request = (void *)prefault_at_request,
	.name = "limits_prefault",
};

SEC("struct_ops/group")
int BPF_PROG(noop_group, struct iommu_fault_ctx *fctx)
{
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops every_device = {
	.group = (void *)noop_group,
	.name = "limits_device",
};

SEC(".struct_ops.link")
struct iommu_fault_ops one_process = {
	.group = (void *)noop_group,
	.name = "limits_process",
};

/* For limited policies: one that answers Failure, one that denies */
SEC("struct_ops/group")
int BPF_PROG(failure_group, struct iommu_fault_ctx *fctx)
{
	return IOMMU_FAULT_FAILURE;
}

SEC(".struct_ops.link")
struct iommu_fault_ops fail_process = {
	.group = (void *)failure_group,
	.name = "limits_failure",
};

SEC("struct_ops/group")
int BPF_PROG(deny_group, struct iommu_fault_ctx *fctx)
{
	return IOMMU_FAULT_INVALID;
}

SEC(".struct_ops.link")
struct iommu_fault_ops deny_process = {
	.group = (void *)deny_group,
	.name = "limits_deny",
};

/* Response Failure for every group of swsva0 */
SEC(".struct_ops.link")
struct iommu_fault_ops fail_device = {
	.group = (void *)failure_group,
	.name = "limits_fail_dev",
	.device = "swsva0",
};
