// SPDX-License-Identifier: GPL-2.0
/*
 * Fault policies the kernel must refuse at load or attach, each in its own
 * struct_ops map so that tests/vm/fault_policy.c loads them one by one.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define IOPF_POLICY_NO_EVENTS
#include "iopf_policy.bpf.h"	/* the kfuncs */

char LICENSE[] SEC("license") = "GPL";

/* The context is read-only: the verifier refuses the store */
SEC("struct_ops/request")
int BPF_PROG(write_request, struct iommu_fault_ctx *fctx)
{
	fctx->addr = 0;
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops write_ctx = {
	.request = (void *)write_request,
	.name = "refused_write",
};

/* Prefault sleeps: not from the group callback, which may not */
SEC("struct_ops/group")
int BPF_PROG(prefault_group, struct iommu_fault_ctx *fctx)
{
	bpf_iommu_fault_prefault(fctx, fctx->addr, 1);
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops prefault_in_group = {
	.group = (void *)prefault_group,
	.name = "refused_prefault",
};

/* The group callback runs where it cannot sleep */
SEC("struct_ops.s/group")
int BPF_PROG(sleepable_group, struct iommu_fault_ctx *fctx)
{
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops sleepable_group_ops = {
	.group = (void *)sleepable_group,
	.name = "refused_sleepable",
};

/* flags: IOMMU_FAULT_OPS_FAIL_CLOSED, nothing else */
SEC("struct_ops/group")
int BPF_PROG(flags_group, struct iommu_fault_ctx *fctx)
{
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops bad_flags = {
	.group = (void *)flags_group,
	.name = "refused_flags",
	.flags = 2,
};

/* A target is a PASID or a process, not both (.validate) */
SEC("struct_ops/group")
int BPF_PROG(both_group, struct iommu_fault_ctx *fctx)
{
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops pasid_and_tgid = {
	.group = (void *)both_group,
	.name = "refused_both",
	.pasid = 1,
	.tgid = 1,
};

/* Registered without a link: no owner could detach it */
SEC("struct_ops/group")
int BPF_PROG(no_link_group, struct iommu_fault_ctx *fctx)
{
	return IOMMU_FAULT_INVALID;
}

SEC(".struct_ops")
struct iommu_fault_ops no_link = {
	.group = (void *)no_link_group,
	.name = "refused_no_link",
};

/* The requests of a group are the group callback's to see */
SEC("struct_ops/request")
int BPF_PROG(group_request_request, struct iommu_fault_ctx *fctx)
{
	__u64 addr = 0;
	__u32 perm = 0;

	bpf_iommu_fault_group_request(fctx, 0, &addr, &perm);
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops group_request_in_request = {
	.request = (void *)group_request_request,
	.name = "refused_group_req",
};
