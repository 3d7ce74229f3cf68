// SPDX-License-Identifier: GPL-2.0
/*
 * passthrough: a fault policy that counts and changes nothing.
 *
 * Every group goes to its domain's handler and every request is faulted
 * in as without a policy. It is the baseline of the others: what a policy
 * costs the fault path by itself (two struct_ops calls per group, none per
 * request), and a check that page requests reach the target at all.
 *
 * Options: none.
 * Counters:
 *	groups		page request groups dispatched
 *	requests	page requests in those groups
 *	responses	groups answered, by code: success, invalid, failure
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define IOPF_POLICY_NO_EVENTS
#include "iopf_policy.bpf.h"

char LICENSE[] SEC("license") = "GPL";

__u64 groups, requests;
__u64 responses, success, invalid, failure;

/* The group carries its request count: no per-request callback needed */
SEC("struct_ops/group")
int BPF_PROG(passthrough_group, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&groups, 1);
	__sync_fetch_and_add(&requests, fctx->nr_requests);
	return IOMMU_FAULT_DEFAULT;
}

SEC("struct_ops/response")
void BPF_PROG(passthrough_response, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&responses, 1);
	switch (fctx->code) {
	case IOPF_RESP_SUCCESS:
		__sync_fetch_and_add(&success, 1);
		break;
	case IOPF_RESP_INVALID:
		__sync_fetch_and_add(&invalid, 1);
		break;
	case IOPF_RESP_FAILURE:
		__sync_fetch_and_add(&failure, 1);
		break;
	}
}

IOPF_POLICY_EXIT_CALLBACK(passthrough_exit);

SEC(".struct_ops.link")
struct iommu_fault_ops passthrough = {
	.group = (void *)passthrough_group,
	.response = (void *)passthrough_response,
	.exit = (void *)passthrough_exit,
	.name = "passthrough",
};
