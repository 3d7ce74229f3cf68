// SPDX-License-Identifier: GPL-2.0
/*
 * iopf-lat: log2 histograms of page request latency, the latency_ns of
 * iommu_iopf_response (the report of a group's last request to its
 * response), and with -S the stages of the groups the SVA handler answers.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "iopf_tools.h"
#include "iopf_lat.h"
#include "pasid_map.bpf.h"

/* Set before load */
const volatile __u32 targ_mode = IOPF_LAT_ALL;
const volatile bool targ_ms;
const volatile bool targ_stages;
const volatile __u32 targ_tgid;			/* 0: any process */
const volatile __s64 targ_pasid = -1;		/* -1: any PASID */
const volatile char targ_dev[IOPF_DEV_LEN];	/* empty: any device */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct iopf_lat_key);
	__type(value, struct iopf_lat_hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOPF_NR_STAGES);
	__type(key, __u32);
	__type(value, struct iopf_lat_hist);
} stages SEC(".maps");

/* Groups between dispatch and response; a device has at most 512 (PRI) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct iopf_lat_group_key);
	__type(value, struct iopf_lat_group);
} groups SEC(".maps");

/* Responses without a latency: their group was reported before we listened */
__u64 untimed;
/* Timed groups in the histograms but not in the stages (-S) */
__u64 unstaged;
/* Histogram rows or in-flight groups that found their map full */
__u64 hist_dropped;
__u64 group_dropped;

/* Too big for the BPF stack: new rows are copied from here */
static const struct iopf_lat_hist zero_hist;

static __always_inline bool dev_selected(struct device *dev)
{
	char name[IOPF_DEV_LEN];
	int i;

	if (!targ_dev[0])
		return true;
	iopf_dev_name(name, dev);
	for (i = 0; i < IOPF_DEV_LEN; i++) {
		if (name[i] != targ_dev[i])
			return false;
		if (!name[i])
			break;
	}
	return true;
}

static __always_inline bool selected(struct device *dev, __u32 pasid)
{
	struct iopf_proc *proc;

	if (targ_pasid >= 0 && pasid != (__u32)targ_pasid)
		return false;
	if (targ_tgid) {
		proc = bpf_map_lookup_elem(&pasid_procs, &pasid);
		if (!proc || proc->tgid != targ_tgid)
			return false;
	}
	return dev_selected(dev);
}

static __always_inline __u32 fault_pasid(struct iommu_fault *fault)
{
	return fault->prm.flags & IOPF_FLAG_PASID_VALID ? fault->prm.pasid :
							  IOPF_NO_PASID;
}

/* In the unit of the histograms, as biolatency bins them */
static __always_inline __u32 lat_slot(__u64 ns)
{
	__u64 v = targ_ms ? ns / 1000000 : ns / 1000;

	return iopf_log2_u64(v) & (IOPF_LAT_HIST_SLOTS - 1);
}

static __always_inline void hist_add(struct iopf_lat_hist *h, __u64 ns)
{
	__u32 slot = lat_slot(ns);

	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->sum_ns, ns);
}

static __always_inline struct iopf_lat_hist *hist_get(struct device *dev,
						      __u32 pasid)
{
	struct iopf_lat_key key = {};
	struct iopf_lat_hist *h;

	if (targ_mode != IOPF_LAT_ALL)
		key.dev = (__u64)dev;
	if (targ_mode == IOPF_LAT_PASID)
		key.pasid = pasid;
	h = bpf_map_lookup_elem(&hists, &key);
	if (h)
		return h;
	/* EEXIST: another CPU created it */
	bpf_map_update_elem(&hists, &key, &zero_hist, BPF_NOEXIST);
	h = bpf_map_lookup_elem(&hists, &key);
	if (!h) {
		__sync_fetch_and_add(&hist_dropped, 1);
		return NULL;
	}
	/* Two CPUs may both get here: they write the same name */
	if (targ_mode != IOPF_LAT_ALL)
		iopf_dev_name(h->device, dev);
	return h;
}

static __always_inline void stage_add(__u32 stage, __u64 ns)
{
	struct iopf_lat_hist *h = bpf_map_lookup_elem(&stages, &stage);

	if (h)
		hist_add(h, ns);
}

/*
 * Stages, -S. The origin is the kernel's own time stamp of the report
 * (iopf_group::reported_ns), that of latency_ns, and the last stage ends
 * where latency_ns ends: the four add up to the latency exactly. The
 * clamps only keep the order if two clock reads disagree by a few ns.
 */
static __always_inline void stages_add(struct iopf_lat_group *g, __u64 lat)
{
	__u64 end = g->reported_ns + lat;
	__u64 t1 = g->dispatch_ns, t2 = g->start_ns, t3 = g->fault_end_ns;

	if (t1 < g->reported_ns)
		t1 = g->reported_ns;
	if (t1 > end)
		t1 = end;
	if (t2 < t1)
		t2 = t1;
	if (t2 > end)
		t2 = end;
	if (t3 < t2)
		t3 = t2;
	if (t3 > end)
		t3 = end;
	stage_add(IOPF_STAGE_DISPATCH, t1 - g->reported_ns);
	stage_add(IOPF_STAGE_QUEUE, t2 - t1);
	stage_add(IOPF_STAGE_FAULT, t3 - t2);
	stage_add(IOPF_STAGE_RESPOND, end - t3);
}

SEC("tp_btf/iommu_iopf_response")
int BPF_PROG(iopf_lat_response, struct device *dev, struct iommu_fault *fault,
	     struct iommu_page_response *resp, u64 latency_ns)
{
	__u32 pasid = fault_pasid(fault);
	struct iopf_lat_group_key gkey = {
		.dev = (__u64)dev, .pasid = pasid, .grpid = resp->grpid,
	};
	struct iopf_lat_group g = {}, *gp;
	struct iopf_lat_hist *h;

	if (targ_stages) {
		gp = bpf_map_lookup_elem(&groups, &gkey);
		if (gp) {
			g = *gp;
			bpf_map_delete_elem(&groups, &gkey);
		}
	}
	/* 0: the group was reported before anyone listened */
	if (!latency_ns) {
		if (selected(dev, pasid))
			__sync_fetch_and_add(&untimed, 1);
		return 0;
	}
	if (!selected(dev, pasid))
		return 0;
	h = hist_get(dev, pasid);
	if (!h)
		return 0;
	hist_add(h, latency_ns);
	if (!targ_stages)
		return 0;
	/* refused, answered by a fault policy or not an SVA domain */
	if (g.start_ns && g.fault_end_ns && g.reported_ns)
		stages_add(&g, latency_ns);
	else
		__sync_fetch_and_add(&unstaged, 1);
	return 0;
}

/*
 * -S only (autoload off otherwise). A group reported while the response
 * event was off has no time stamp, and no latency either: skip it.
 */
SEC("tp_btf/iommu_iopf_dispatch")
int BPF_PROG(iopf_lat_dispatch, struct device *dev, struct iopf_group *group)
{
	struct iommu_fault *fault = &group->last_fault.fault;
	struct iopf_lat_group_key key = {
		.dev = (__u64)dev,
		.pasid = fault_pasid(fault),
		.grpid = fault->prm.grpid,
	};
	struct iopf_lat_group g = {};

	if (!bpf_core_field_exists(group->reported_ns))
		return 0;
	g.reported_ns = BPF_CORE_READ(group, reported_ns);
	if (!g.reported_ns || !selected(dev, key.pasid))
		return 0;
	g.dispatch_ns = bpf_ktime_get_ns();
	/* BPF_ANY: a stale entry of a group whose response we missed */
	if (bpf_map_update_elem(&groups, &key, &g, BPF_ANY))
		__sync_fetch_and_add(&group_dropped, 1);
	return 0;
}

/*
 * The SVA handler's work function: a workqueue worker starts the group.
 * Its argument is &group->work.
 */
SEC("fentry/iommu_sva_handle_iopf")
int BPF_PROG(iopf_lat_handler, struct work_struct *work)
{
	struct iopf_group *group = (void *)work -
				   bpf_core_field_offset(struct iopf_group, work);
	struct iopf_lat_group_key key = {};
	struct iopf_lat_group *g;
	__u32 flags;

	key.dev = (__u64)BPF_CORE_READ(group, fault_param, dev);
	flags = BPF_CORE_READ(group, last_fault.fault.prm.flags);
	key.pasid = flags & IOPF_FLAG_PASID_VALID ?
		    BPF_CORE_READ(group, last_fault.fault.prm.pasid) :
		    IOPF_NO_PASID;
	key.grpid = BPF_CORE_READ(group, last_fault.fault.prm.grpid);
	g = bpf_map_lookup_elem(&groups, &key);
	if (g)
		g->start_ns = bpf_ktime_get_ns();
	return 0;
}

/*
 * One request the handler took, at its end. The requests it skips after
 * a failure come after its loop, with outcome skipped: not fault time.
 */
SEC("tp_btf/iommu_sva_fault")
int BPF_PROG(iopf_lat_sva_fault, struct device *dev, struct iommu_fault *fault,
	     struct mm_struct *mm, u32 outcome)
{
	struct iopf_lat_group_key key = {
		.dev = (__u64)dev,
		.pasid = fault_pasid(fault),
		.grpid = fault->prm.grpid,
	};
	struct iopf_lat_group *g;

	if (outcome == IOPF_SVA_SKIPPED)
		return 0;
	g = bpf_map_lookup_elem(&groups, &key);
	if (g && g->start_ns)
		g->fault_end_ns = bpf_ktime_get_ns();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
