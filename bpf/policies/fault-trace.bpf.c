// SPDX-License-Identifier: GPL-2.0
/*
 * fault-trace: records every group, request, response, bind and unbind
 * that reaches the policy's target, and changes nothing.
 *
 * For debugging a device or another policy: `iopf-policy run fault-trace`
 * prints one line per event, with the device, PASID, address, access,
 * response code and latency, from the same hooks a policy gets, in the
 * order it gets them. It costs a struct_ops call and a ring buffer record
 * per event; trace_requests=0 leaves out the records of requests, the
 * most frequent (the request callback still runs, to count them).
 *
 * Options:
 *	trace_requests	1: a record per request too; 0: groups, responses,
 *			binds and unbinds only (1)
 * Counters:
 *	groups, requests, responses, binds, unbinds	what it saw
 *	iopf_events_dropped	records the ring buffer had no room for
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "iopf_policy.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 trace_requests = 1; /* a record per request */

__u64 groups, requests, responses, binds, unbinds;

SEC("struct_ops/group")
int BPF_PROG(fault_trace_group, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&groups, 1);
	return iopf_policy_event(fctx, IOMMU_FAULT_DEFAULT, NULL);
}

SEC("struct_ops/request")
int BPF_PROG(fault_trace_request, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&requests, 1);
	if (!trace_requests)
		return IOMMU_FAULT_DEFAULT;
	return iopf_policy_event(fctx, IOMMU_FAULT_DEFAULT, NULL);
}

SEC("struct_ops/response")
void BPF_PROG(fault_trace_response, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&responses, 1);
	iopf_policy_event(fctx, IOMMU_FAULT_DEFAULT, NULL);
}

SEC("struct_ops/bind")
void BPF_PROG(fault_trace_bind, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&binds, 1);
	iopf_policy_event(fctx, IOMMU_FAULT_DEFAULT, NULL);
}

SEC("struct_ops/unbind")
void BPF_PROG(fault_trace_unbind, struct iommu_fault_ctx *fctx)
{
	__sync_fetch_and_add(&unbinds, 1);
	iopf_policy_event(fctx, IOMMU_FAULT_DEFAULT, NULL);
}

IOPF_POLICY_EXIT_CALLBACK(fault_trace_exit);

SEC(".struct_ops.link")
struct iommu_fault_ops fault_trace = {
	.group = (void *)fault_trace_group,
	.request = (void *)fault_trace_request,
	.response = (void *)fault_trace_response,
	.bind = (void *)fault_trace_bind,
	.unbind = (void *)fault_trace_unbind,
	.exit = (void *)fault_trace_exit,
	.name = "fault_trace",	/* the kernel takes no '-' in a name */
};
