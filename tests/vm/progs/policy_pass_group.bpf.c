// SPDX-License-Identifier: GPL-2.0
/*
 * The cheapest policy that looks at every page request group of swsva0
 * and lets it through: a group callback only. bench-kernels.sh compares
 * it with policy_pass.bpf.c, which has a callback per request and per
 * response too.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

__u64 groups;

SEC("struct_ops/group")
int BPF_PROG(pass_group, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&groups, 1);
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops pass_group_only = {
	.group = (void *)pass_group,
	.name = "pass_group_only",
	.device = "swsva0",
};
