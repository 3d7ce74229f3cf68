// SPDX-License-Identifier: GPL-2.0
/*
 * For bpftool struct_ops register, in tests/vm/fault_policy_edges.c: a
 * policy declared in SEC(".struct_ops"), which would register with the
 * map update and no link. The kernel refuses it with EOPNOTSUPP.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/group")
int BPF_PROG(linkless_group, struct iommu_fault_ctx *fctx)
{
	return IOMMU_FAULT_INVALID;
}

SEC(".struct_ops")
struct iommu_fault_ops linkless = {
	.group = (void *)linkless_group,
	.name = "linkless",
};
