// SPDX-License-Identifier: GPL-2.0
/*
 * The smallest fault policy: answer every page request group of swsva0
 * Invalid before its handler sees it. Attached with nothing but bpftool:
 *
 *	bpftool struct_ops register policy_deny.bpf.o /sys/fs/bpf/deny
 *	rm /sys/fs/bpf/deny/deny_all		# detach
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/group")
int BPF_PROG(deny_group, struct iommu_fault_ctx *fctx)
{
	return IOMMU_FAULT_INVALID;
}

SEC(".struct_ops.link")
struct iommu_fault_ops deny_all = {
	.group = (void *)deny_group,
	.name = "deny_all",
	.device = "swsva0",
};
