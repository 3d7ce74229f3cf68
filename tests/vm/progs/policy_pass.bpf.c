// SPDX-License-Identifier: GPL-2.0
/*
 * A fault policy that changes nothing, attached with bpftool: it only
 * counts, in globals that "bpftool map dump" shows. On swsva0 with a
 * callback per group, request and response unless the includer says
 * otherwise (policy_pass_swsva1.bpf.c, policy_pass_group.bpf.c); the
 * benchmarks measure what it costs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#ifndef PASS_DEVICE
#define PASS_DEVICE	"swsva0"
#define PASS_NAME	"pass_swsva0"
#endif

char LICENSE[] SEC("license") = "GPL";

__u64 groups, requests, responses;

SEC("struct_ops/group")
int BPF_PROG(pass_group, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&groups, 1);
	return IOMMU_FAULT_DEFAULT;
}

#ifndef PASS_GROUP_ONLY
SEC("struct_ops/request")
int BPF_PROG(pass_request, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&requests, 1);
	return IOMMU_FAULT_DEFAULT;
}

SEC("struct_ops/response")
void BPF_PROG(pass_response, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&responses, 1);
}
#endif

SEC(".struct_ops.link")
struct iommu_fault_ops pass_all = {
	.group = (void *)pass_group,
#ifndef PASS_GROUP_ONLY
	.request = (void *)pass_request,
	.response = (void *)pass_response,
#endif
	.name = PASS_NAME,
	.device = PASS_DEVICE,
};
