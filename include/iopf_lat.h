/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iopf-lat: the maps its BPF programs (bpf/iopf-lat.bpf.c) fill and its
 * user space (tools/iopf-lat.c) reads. Include after iopf_tools.h.
 *
 * Every count is cumulative: nothing is ever cleared, user space prints
 * the difference between two reads, so no event is lost to a race between
 * a reader and the programs.
 */
#ifndef IOPFKIT_IOPF_LAT_H
#define IOPFKIT_IOPF_LAT_H

/* log2 slots of a latency in the chosen unit: all of a __u64 */
#define IOPF_LAT_HIST_SLOTS	64

/* What the histograms are keyed by */
enum iopf_lat_mode {
	IOPF_LAT_ALL,		/* one histogram: key {0, 0} */
	IOPF_LAT_DEVICE,	/* per device: key {dev, 0} */
	IOPF_LAT_PASID,		/* per device and PASID: key {dev, pasid} */
};

struct iopf_lat_key {
	__u64 dev;		/* struct device *, a stable identity */
	__u32 pasid;		/* IOPF_NO_PASID: requests without PASID */
	__u32 pad;
};

struct iopf_lat_hist {
	char device[IOPF_DEV_LEN];	/* empty in IOPF_LAT_ALL */
	__u64 sum_ns;			/* of the latencies in slots[] */
	__u64 slots[IOPF_LAT_HIST_SLOTS];
};

/*
 * -S: the stages of a group the SVA handler answered, which add up to its
 * latency exactly (see docs/man/iopf-lat.8)
 */
enum iopf_lat_stage {
	IOPF_STAGE_DISPATCH,	/* last request's report -> iommu_iopf_dispatch */
	IOPF_STAGE_QUEUE,	/* dispatch -> iommu_sva_handle_iopf() starts */
	IOPF_STAGE_FAULT,	/* -> end of the last request it handled */
	IOPF_STAGE_RESPOND,	/* -> iommu_iopf_response */
	IOPF_NR_STAGES,
};

/* A group between its dispatch and its response, for -S */
struct iopf_lat_group_key {
	__u64 dev;
	__u32 pasid;
	__u32 grpid;
};

struct iopf_lat_group {
	__u64 reported_ns;	/* the kernel's, the origin of latency_ns */
	__u64 dispatch_ns;
	__u64 start_ns;		/* 0 until the SVA handler takes it */
	__u64 fault_end_ns;	/* 0 until it handled a request */
};

#endif
