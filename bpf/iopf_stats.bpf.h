/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-(device, PASID) page request statistics (struct iopf_stats in
 * include/iopf_tools.h), kept by tp_btf programs on the iommu trace
 * events: what iopf-top shows and iopf-exporter serves. Include after
 * pasid_map.bpf.h. One hash lookup and a few atomic adds per event.
 */
#ifndef IOPFKIT_IOPF_STATS_BPF_H
#define IOPFKIT_IOPF_STATS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);	/* the tools may resize before load */
	__type(key, struct iopf_stats_key);
	__type(value, struct iopf_stats);
} iopf_stats SEC(".maps");

/* The groups reported since the programs attached, until answered */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct iopf_group_key);
	__type(value, __u8);
} iopf_groups_in_flight SEC(".maps");

/* Which lat_max_ns[] slot the programs write: the reader bumps it */
__u32 iopf_stats_epoch;
/* Entries that could not be created: the map was full */
__u64 iopf_stats_dropped;

/* Too big for the BPF stack: new entries are copied from here */
static const struct iopf_stats iopf_stats_zero;

static __always_inline __u32 iopf_fault_pasid(struct iommu_fault *fault)
{
	return fault->prm.flags & IOPF_FLAG_PASID_VALID ? fault->prm.pasid :
							  IOPF_NO_PASID;
}

static __always_inline struct iopf_stats *
iopf_stats_get(struct device *dev, __u32 pasid)
{
	struct iopf_stats_key key = { .dev = (__u64)dev, .pasid = pasid };
	struct iopf_stats *s;

	s = bpf_map_lookup_elem(&iopf_stats, &key);
	if (s)
		return s;
	/* EEXIST: another CPU created it; E2BIG: full, counted below */
	bpf_map_update_elem(&iopf_stats, &key, &iopf_stats_zero, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&iopf_stats, &key);
	if (!s) {
		__sync_fetch_and_add(&iopf_stats_dropped, 1);
		return NULL;
	}
	/* Two CPUs may both get here: they write the same name */
	iopf_dev_name(s->device, dev);
	return s;
}

/* Before the report program: skeletons attach in this order */
SEC("tp_btf/iommu_iopf_response")
int BPF_PROG(iopf_stats_on_response, struct device *dev,
	     struct iommu_fault *fault, struct iommu_page_response *resp,
	     u64 latency_ns)
{
	struct iopf_stats *s = iopf_stats_get(dev, iopf_fault_pasid(fault));
	struct iopf_group_key g = {
		.dev = (__u64)dev,
		.pasid = iopf_fault_pasid(fault),
		.grpid = resp->grpid,
	};
	__u32 code = resp->code, slot, epoch;
	__u64 *max;

	if (!s)
		return 0;
	__sync_fetch_and_add(&s->responses, 1);
	/* only the groups whose report was counted leave the in-flight set */
	if (!bpf_map_delete_elem(&iopf_groups_in_flight, &g))
		__sync_fetch_and_add(&s->answered, 1);
	if (code < IOPF_NR_RESP_CODES)
		__sync_fetch_and_add(&s->codes[code], 1);
	/* 0: the group was reported before anyone listened */
	if (!latency_ns) {
		__sync_fetch_and_add(&s->lat_unknown, 1);
		return 0;
	}
	slot = iopf_lat_slot(latency_ns);
	barrier_var(slot);
	if (slot >= IOPF_LAT_SLOTS)
		return 0;
	__sync_fetch_and_add(&s->lat[slot], 1);
	__sync_fetch_and_add(&s->lat_sum_ns, latency_ns);
	epoch = iopf_stats_epoch & 1;
	max = &s->lat_max_ns[epoch];
	/* a racing CPU may lose its maximum: it is an observation, not a count */
	if (latency_ns > *max)
		*max = latency_ns;
	return 0;
}

SEC("tp_btf/iommu_iopf_report")
int BPF_PROG(iopf_stats_on_report, struct device *dev, struct iommu_fault *fault)
{
	struct iopf_stats *s = iopf_stats_get(dev, iopf_fault_pasid(fault));

	if (!s)
		return 0;
	__sync_fetch_and_add(&s->requests, 1);
	if (fault->prm.flags & IOPF_FLAG_LAST_PAGE) {
		struct iopf_group_key g = {
			.dev = (__u64)dev,
			.pasid = iopf_fault_pasid(fault),
			.grpid = fault->prm.grpid,
		};
		__u8 one = 1;

		__sync_fetch_and_add(&s->groups, 1);
		/*
		 * A key left by a response nobody saw (the tools attach
		 * the response program first) is not counted twice: the
		 * next response of the index takes it out
		 */
		if (!bpf_map_update_elem(&iopf_groups_in_flight, &g, &one, BPF_NOEXIST))
			__sync_fetch_and_add(&s->tracked, 1);
	}
	return 0;
}

SEC("tp_btf/iommu_iopf_refuse")
int BPF_PROG(iopf_stats_on_refuse, struct device *dev, struct iommu_fault *fault,
	     u32 reason)
{
	struct iopf_stats *s = iopf_stats_get(dev, iopf_fault_pasid(fault));

	if (s)
		__sync_fetch_and_add(&s->refused, 1);
	return 0;
}

SEC("tp_btf/iommu_fault_policy_verdict")
int BPF_PROG(iopf_stats_on_verdict, const struct iommu_fault_ops *ops,
	     const struct iommu_fault_ctx *fctx, int verdict)
{
	/* a policy's context says IOMMU_NO_PASID (0) where the events say -1 */
	struct iopf_stats *s = iopf_stats_get(fctx->dev, fctx->pasid ?:
							 IOPF_NO_PASID);

	if (!s)
		return 0;
	/*
	 * Constant indexes: clang folds a range check of verdict into one
	 * on a copy, and the verifier then sees an unbounded index
	 */
	if (verdict == IOPF_RESP_INVALID)
		__sync_fetch_and_add(&s->verdicts[IOPF_RESP_INVALID], 1);
	else if (verdict == IOPF_RESP_FAILURE)
		__sync_fetch_and_add(&s->verdicts[IOPF_RESP_FAILURE], 1);
	return 0;
}

SEC("tp_btf/iommu_sva_bind")
int BPF_PROG(iopf_stats_on_bind, struct device *dev, struct mm_struct *mm,
	     u32 pasid, struct iommu_domain *domain, unsigned int refs, int ret)
{
	struct iopf_stats *s;

	if (ret)
		return 0;
	s = iopf_stats_get(dev, pasid);
	if (s)
		__sync_fetch_and_add(&s->binds, 1);
	return 0;
}

SEC("tp_btf/iommu_sva_unbind")
int BPF_PROG(iopf_stats_on_unbind, struct device *dev, struct mm_struct *mm,
	     u32 pasid, struct iommu_domain *domain, unsigned int refs)
{
	struct iopf_stats *s = iopf_stats_get(dev, pasid);

	if (s)
		__sync_fetch_and_add(&s->unbinds, 1);
	return 0;
}

#endif
