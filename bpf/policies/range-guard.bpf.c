// SPDX-License-Identifier: GPL-2.0
/*
 * range-guard: page requests outside an allow-list of address ranges are
 * denied.
 *
 * A device bound to a process with SVA can reach all of its address
 * space; range-guard confines it to the buffers it was given (per PASID),
 * so that a buggy or compromised device or firmware cannot fault in the
 * rest of the process's memory. Pages already present are outside its
 * reach: a policy only sees the pages a device asks for. The loader fills
 * the `ranges` map (struct iopf_range, include/iopf_policies.h) after the
 * load; a page is allowed when it overlaps a used range whose PASID is 0
 * or the request's, so ranges are rounded out to pages. With no range,
 * every request is denied.
 *
 * Requests are checked one by one, in the SVA handler: a group's context
 * only has the address of its last request.
 *
 * Options:
 *	verdict		for a request outside: 1 Invalid Request, 2 Response
 *			Failure, which turns the device's PRI off (1)
 *	report		1: an event for each denied request; 0: count only (1)
 * Counters:
 *	allowed		requests inside a range
 *	denied		requests outside every range
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <asm-generic/errno-base.h>

#include "iopf_policy.bpf.h"
#include "iopf_policies.h"

#define IOPF_PAGE_SIZE	(1ULL << IOPF_PAGE_SHIFT)

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 verdict = IOMMU_FAULT_INVALID; /* outside the ranges */
const volatile __u32 report = 1;	/* an event per denied request */

__u64 allowed, denied;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOPF_RANGE_MAX);
	__type(key, __u32);
	__type(value, struct iopf_range);
} ranges SEC(".maps");

SEC("struct_ops/init")
int BPF_PROG(range_guard_init)
{
	if (verdict < IOMMU_FAULT_INVALID || verdict > IOMMU_FAULT_FAILURE)
		return -EINVAL;
	return 0;
}

struct range_match {
	__u64 page;
	__u32 pasid;
	bool allowed;
};

static long match_range(struct bpf_map *map, __u32 *idx, struct iopf_range *r,
			struct range_match *m)
{
	if (r->used && (!r->pasid || r->pasid == m->pasid) &&
	    r->start < m->page + IOPF_PAGE_SIZE && r->end > m->page) {
		m->allowed = true;
		return 1;	/* stop the walk */
	}
	return 0;
}

SEC("struct_ops/request")
int BPF_PROG(range_guard_request, struct iommu_fault_ctx *fctx)
{
	struct range_match m = {
		.page = fctx->addr & ~(IOPF_PAGE_SIZE - 1),
		.pasid = fctx->pasid,
	};

	bpf_for_each_map_elem(&ranges, match_range, &m, 0);
	if (m.allowed) {
		__sync_fetch_and_add(&allowed, 1);
		return IOMMU_FAULT_DEFAULT;
	}
	__sync_fetch_and_add(&denied, 1);
	if (!report)
		return verdict;
	return iopf_policy_event(fctx, verdict, "outside allowed ranges");
}

IOPF_POLICY_EXIT_CALLBACK(range_guard_exit);

SEC(".struct_ops.link")
struct iommu_fault_ops range_guard = {
	.request = (void *)range_guard_request,
	.init = (void *)range_guard_init,
	.exit = (void *)range_guard_exit,
	.name = "range_guard",	/* the kernel takes no '-' in a name */
	/* A guard that breaks must not open what it guarded */
	.flags = IOMMU_FAULT_OPS_FAIL_CLOSED,
};
