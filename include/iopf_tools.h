/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types the iopfkit tools share between their BPF programs (bpf/) and
 * their user space (tools/): the PASID-to-process map, the per-(device,
 * PASID) statistics of iopf-top and iopf-exporter, and the latency
 * histogram both read percentiles and Prometheus buckets from.
 *
 * Include after vmlinux.h in BPF, after <linux/types.h> in user space.
 */
#ifndef IOPFKIT_IOPF_TOOLS_H
#define IOPFKIT_IOPF_TOOLS_H

#include "iopf_events.h"

#define IOPF_DEV_LEN		32	/* dev_name() of an IOMMU endpoint */
#define IOPF_COMM_LEN		16	/* TASK_COMM_LEN */
#define IOPF_POLICY_NAME_LEN	32	/* iommu_fault_ops::name */

/* PASID -1 of the events: a request without PASID */
#define IOPF_NO_PASID		((__u32)-1)

/*
 * pasid_procs: PASID -> the process whose address space it is. A PASID
 * belongs to one mm for the mm's lifetime (mm->iommu_mm), so the map is
 * global, not per device. Filled at start-up by a task iterator for the
 * bindings made before the tool started, then by every successful bind.
 */
struct iopf_proc {
	__u64 mm;		/* the address space: a PASID freed and given to
				 * another mm is another entry */
	__u32 tgid;		/* 0: bound on its behalf by another process */
	__u32 flags;		/* IOPF_PROC_* */
	char comm[IOPF_COMM_LEN];
};

#define IOPF_PROC_SCANNED	(1U << 0)	/* found by the task iterator */
#define IOPF_PROC_BOUND		(1U << 1)	/* seen binding */

/*
 * Response latency histogram, log-linear: slots 0-3 are 0-3 ns, then each
 * power of two [2^l, 2^(l+1)) is split into 4 slots of equal width, up to
 * 2^41 ns (36 minutes; the last slot takes anything longer). Percentiles
 * read from it are within a slot's width (25%) of the true value.
 */
#define IOPF_LAT_SUB_BITS	2
#define IOPF_LAT_SUBS		(1U << IOPF_LAT_SUB_BITS)
#define IOPF_LAT_MAX_LOG2	39
#define IOPF_LAT_SLOTS		((IOPF_LAT_MAX_LOG2 + 1) * IOPF_LAT_SUBS)

/* Position of the highest set bit of a non-zero value, without a loop */
static inline __u32 iopf_log2_u64(__u64 v)
{
	__u32 r = 0, s;

	s = (v > 0xffffffffULL) << 5; v >>= s; r |= s;
	s = (v > 0xffff) << 4; v >>= s; r |= s;
	s = (v > 0xff) << 3; v >>= s; r |= s;
	s = (v > 0xf) << 2; v >>= s; r |= s;
	s = (v > 0x3) << 1; v >>= s; r |= s;
	r |= (v >> 1);
	return r;
}

static inline __u32 iopf_lat_slot(__u64 ns)
{
	__u32 l, slot;

	if (ns < IOPF_LAT_SUBS)
		return ns;
	l = iopf_log2_u64(ns);
	slot = ((l - IOPF_LAT_SUB_BITS + 1) << IOPF_LAT_SUB_BITS) |
	       ((ns >> (l - IOPF_LAT_SUB_BITS)) & (IOPF_LAT_SUBS - 1));
	return slot < IOPF_LAT_SLOTS ? slot : IOPF_LAT_SLOTS - 1;
}

/* Smallest latency, in ns, that falls in @slot */
static inline __u64 iopf_lat_slot_low(__u32 slot)
{
	__u32 l;

	if (slot < IOPF_LAT_SUBS)
		return slot;
	l = (slot >> IOPF_LAT_SUB_BITS) + IOPF_LAT_SUB_BITS - 1;
	return (1ULL << l) + ((__u64)(slot & (IOPF_LAT_SUBS - 1)) <<
			      (l - IOPF_LAT_SUB_BITS));
}

/*
 * iopf_stats: one entry per (device, PASID) that raised a page request or
 * got a verdict. Cumulative counters: readers take differences between two
 * reads, so a reader never races the BPF programs by clearing an entry.
 */
struct iopf_stats_key {
	__u64 dev;		/* struct device *, a stable identity */
	__u32 pasid;		/* IOPF_NO_PASID: requests without PASID */
	__u32 pad;
};

/* A group in flight: a device reuses a group index once it is answered */
struct iopf_group_key {
	__u64 dev;
	__u32 pasid;
	__u32 grpid;
};

struct iopf_stats {
	char device[IOPF_DEV_LEN];
	__u64 requests;		/* iommu_iopf_report */
	__u64 groups;		/* ... with the last-page flag: one response each */
	__u64 refused;		/* iommu_iopf_refuse (no handler, ...) */
	__u64 responses;	/* iommu_iopf_response */
	__u64 codes[IOPF_NR_RESP_CODES];
	__u64 lat_sum_ns;	/* of the responses in lat[] */
	__u64 lat_unknown;	/* responses without latency: nothing traced the report */
	/*
	 * Groups whose last request the programs saw reported, and those of
	 * them answered since: tracked - answered is exactly the groups in
	 * flight, whatever was in flight when the tool started or attached
	 */
	__u64 tracked, answered;
	__u64 verdicts[IOPF_NR_RESP_CODES];	/* a fault policy's: [1] invalid, [2] failure */
	__u64 binds, unbinds;	/* iommu_sva_bind (successful), iommu_sva_unbind */
	/*
	 * The highest latency of the current and of the previous interval:
	 * [epoch & 1] is written, the reader bumps the epoch and reads and
	 * clears the other one
	 */
	__u64 lat_max_ns[2];
	__u64 lat[IOPF_LAT_SLOTS];
};

#endif
