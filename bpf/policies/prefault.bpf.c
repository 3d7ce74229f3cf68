// SPDX-License-Identifier: GPL-2.0
/*
 * prefault: detects sequential streams of page requests per PASID and
 * faults in a bounded window ahead of them.
 *
 * A device streaming through untouched memory (a DMA into a fresh buffer)
 * waits for a page request round trip every few pages: it asks for the
 * missing pages of its translation window (8 on swsva) as one group. Once
 * `detect` requests in a row follow each other, each request of the
 * stream, at page p, makes the pages up to p + window - 1 present (p
 * itself is the kernel's to fault, right after). Page p + window stays
 * missing: the device's next group is that one page, whose request moves
 * the window on, so that a stream costs about one request per `window`
 * pages. Random access starts no stream and costs a map lookup per
 * request.
 *
 * Request at page p continues the stream when
 * next <= p <= max(next, ahead) + gap, where next is the page after the
 * previous request and ahead the end of what was faulted ahead; otherwise
 * it starts a new one. Pages are faulted with bpf_iommu_fault_prefault(),
 * with the request's access and the SVA handler's checks, which only the
 * sleepable request callback may call.
 *
 * Options:
 *	window		pages kept present from a request of a stream on, its
 *			own included, 1-256 (16)
 *	detect		requests in a row that make a stream, >= 1 (2)
 *	gap		pages a request may skip and still continue a stream (0)
 * Counters:
 *	requests	page requests seen
 *	streams		times a stream reached `detect` requests
 *	prefault_calls	bpf_iommu_fault_prefault() calls
 *	prefaulted	pages they made present
 *	prefault_errors	calls that made fewer pages present than asked: a
 *			stream running past the end of its mapping, or pages
 *			the request's access is not allowed to
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <asm-generic/errno-base.h>

#define IOPF_POLICY_NO_EVENTS
#include "iopf_policy.bpf.h"
#include "iopf_policies.h"

#define PREFAULT_WINDOW_MAX	256

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 window = 16;	/* pages present from a request on */
const volatile __u32 detect = 2;	/* requests in a row that make a stream */
const volatile __u32 gap = 0;		/* pages a stream may skip */

__u64 requests, streams, prefault_calls, prefaulted, prefault_errors;

/* In page numbers */
struct stream {
	__u64 next;		/* the page after the last request */
	__u64 ahead;		/* the end of the pages faulted ahead */
	__u32 run;		/* requests in the stream so far */
	__u32 pad;
};

/* LRU: PASIDs come and go, and a forgotten stream only starts over */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct iopf_policy_key);
	__type(value, struct stream);
} stream_state SEC(".maps");

SEC("struct_ops/init")
int BPF_PROG(prefault_init)
{
	if (!window || window > PREFAULT_WINDOW_MAX || !detect)
		return -EINVAL;
	return 0;
}

SEC("struct_ops.s/request")
int BPF_PROG(prefault_request, struct iommu_fault_ctx *fctx)
{
	struct iopf_policy_key key = {
		.dev = (__u64)fctx->dev,
		.pasid = fctx->pasid,
	};
	__u64 p = fctx->addr >> IOPF_PAGE_SHIFT, from = 0, end = 0;
	struct stream *s, st = {};
	int i, n, ret;

	__sync_fetch_and_add(&requests, 1);

	/*
	 * Requests of a PASID may run on several CPUs: work on a copy, and
	 * write it back before faulting so that the others see the window
	 * taken. A lost update only costs a request or a page faulted twice:
	 * whatever the state says, no page outside [p + 1, p + window) is.
	 */
	s = bpf_map_lookup_elem(&stream_state, &key);
	if (s)
		st = *s;
	if (p >= st.next && p <= (st.ahead > st.next ? st.ahead : st.next) + gap) {
		st.run++;
	} else {
		st.run = 1;
		st.ahead = 0;
	}
	st.next = p + 1;

	if (st.run >= detect) {
		from = st.ahead > p + 1 ? st.ahead : p + 1;
		end = p + window;
		if (end > from)
			st.ahead = end;
	}

	if (s)
		*s = st;
	else
		bpf_map_update_elem(&stream_state, &key, &st, BPF_ANY);

	if (st.run == detect)
		__sync_fetch_and_add(&streams, 1);

	for (i = 0; i < PREFAULT_WINDOW_MAX / IOPF_PREFAULT_MAX_PAGES && from < end; i++) {
		n = end - from < IOPF_PREFAULT_MAX_PAGES ? end - from :
							   IOPF_PREFAULT_MAX_PAGES;
		ret = bpf_iommu_fault_prefault(fctx, from << IOPF_PAGE_SHIFT, n);
		__sync_fetch_and_add(&prefault_calls, 1);
		if (ret > 0)
			__sync_fetch_and_add(&prefaulted, ret);
		/* It stops at the first page it cannot fault in: so do we */
		if (ret < n) {
			__sync_fetch_and_add(&prefault_errors, 1);
			break;
		}
		from += n;
	}
	return IOMMU_FAULT_DEFAULT;
}

IOPF_POLICY_EXIT_CALLBACK(prefault_exit);

SEC(".struct_ops.link")
struct iommu_fault_ops prefault = {
	.request = (void *)prefault_request,
	.init = (void *)prefault_init,
	.exit = (void *)prefault_exit,
	.name = "prefault",
};
