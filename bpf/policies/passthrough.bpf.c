// SPDX-License-Identifier: GPL-2.0
/*
 * passthrough: a fault policy that counts and changes nothing.
 *
 * Every group goes to its domain's handler and every request is faulted
 * in as without a policy. It is the baseline of the others: what a policy
 * costs the fault path by itself, with the least a policy can have, one
 * struct_ops call per group and none per request; and a check that page
 * requests reach the target at all. (The responses are the kernel's to
 * count: their total in the policy's debugfs line, by code in iopf-top.)
 *
 * Options: none.
 * Counters:
 *	groups		page request groups dispatched
 *	requests	page requests in those groups
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define IOPF_POLICY_NO_EVENTS
#include "iopf_policy.bpf.h"

char LICENSE[] SEC("license") = "GPL";

__u64 groups, requests;

/* The group carries its request count: no per-request callback needed */
SEC("struct_ops/group")
int BPF_PROG(passthrough_group, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&groups, 1);
	__sync_fetch_and_add(&requests, fctx->nr_requests);
	return IOMMU_FAULT_DEFAULT;
}

IOPF_POLICY_EXIT_CALLBACK(passthrough_exit);

SEC(".struct_ops.link")
struct iommu_fault_ops passthrough = {
	.group = (void *)passthrough_group,
	.exit = (void *)passthrough_exit,
	.name = "passthrough",
};
