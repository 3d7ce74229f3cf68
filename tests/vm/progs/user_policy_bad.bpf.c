// SPDX-License-Identifier: GPL-2.0
/*
 * A fault policy the verifier refuses: the context is read-only, and this
 * one writes to it. tests/vm/iopf_policy.c checks that iopf-policy says so
 * (exit 7) and, with -v, shows the verifier's log.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/request")
int BPF_PROG(bad_request, struct iommu_fault_ctx *fctx)
{
	fctx->addr = 0;
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops user_policy_bad = {
	.request = (void *)bad_request,
	.name = "user_policy_bad",
};
