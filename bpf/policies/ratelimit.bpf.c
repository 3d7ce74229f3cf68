// SPDX-License-Identifier: GPL-2.0
/*
 * ratelimit: a token bucket per PASID, or per device, on page request
 * groups.
 *
 * A device that faults faster than its budget gets the groups over budget
 * answered at dispatch, before the SVA handler takes the mm's lock: a
 * runaway or hostile accelerator context cannot keep the fault workqueue
 * and the memory of the process busy. Groups, not requests, are counted:
 * a group is one struct_ops call, and it is what the device waits on.
 *
 * The bucket is GCRA (the generic cell rate algorithm): per bucket, the
 * theoretical arrival time of the next group; a group arriving more than
 * (burst - 1) intervals before it is refused.
 *
 * Options:
 *	rate		groups per second, >= 1 (1000)
 *	burst		groups accepted back to back, >= 1 (32)
 *	per_device	0: a bucket per device and PASID; 1: one per device (0)
 *	verdict		for groups over budget: 1 Invalid Request, 2 Response
 *			Failure, which turns the device's PRI off (1)
 * Counters:
 *	accepted	groups within budget
 *	refused		groups over budget, each also an event
 *	untracked	groups accepted because the bucket map was full
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <asm-generic/errno-base.h>

#include "iopf_policy.bpf.h"
#include "iopf_policies.h"

#define NSEC_PER_SEC	1000000000ULL

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 rate = 1000;	/* groups per second */
const volatile __u32 burst = 32;	/* groups back to back */
const volatile __u32 per_device = 0;	/* one bucket per device */
const volatile __u32 verdict = IOMMU_FAULT_INVALID; /* over budget */

__u64 accepted, refused, untracked;

struct ratelimit_bucket {
	struct bpf_spin_lock lock;
	__u64 tat;		/* theoretical arrival time, ns */
};

/*
 * Buckets are never deleted: PASIDs are allocated lowest first and
 * reused, and a stale bucket only grants a full burst.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct iopf_policy_key);
	__type(value, struct ratelimit_bucket);
} buckets SEC(".maps");

SEC("struct_ops/init")
int BPF_PROG(ratelimit_init)
{
	if (!rate || !burst || verdict < IOMMU_FAULT_INVALID ||
	    verdict > IOMMU_FAULT_FAILURE)
		return -EINVAL;
	return 0;
}

SEC("struct_ops/group")
int BPF_PROG(ratelimit_group, struct iommu_fault_ctx *fctx)
{
	struct iopf_policy_key key = {
		.dev = (__u64)fctx->dev,
		.pasid = per_device ? 0 : fctx->pasid,
	};
	__u64 interval = NSEC_PER_SEC / rate;
	__u64 now = bpf_ktime_get_ns(), tat;
	struct ratelimit_bucket *b, empty = {};
	bool ok;

	b = bpf_map_lookup_elem(&buckets, &key);
	if (!b) {
		/* EEXIST: another CPU created it; E2BIG: full, below */
		bpf_map_update_elem(&buckets, &key, &empty, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&buckets, &key);
		if (!b) {
			__sync_fetch_and_add(&untracked, 1);
			return IOMMU_FAULT_DEFAULT;
		}
	}

	bpf_spin_lock(&b->lock);
	tat = b->tat > now ? b->tat : now;
	ok = tat - now <= (__u64)(burst - 1) * interval;
	if (ok)
		b->tat = tat + interval;
	bpf_spin_unlock(&b->lock);

	if (ok) {
		__sync_fetch_and_add(&accepted, 1);
		return IOMMU_FAULT_DEFAULT;
	}
	__sync_fetch_and_add(&refused, 1);
	return iopf_policy_event(fctx, verdict, "over budget");
}

IOPF_POLICY_EXIT_CALLBACK(ratelimit_exit);

SEC(".struct_ops.link")
struct iommu_fault_ops ratelimit = {
	.group = (void *)ratelimit_group,
	.init = (void *)ratelimit_init,
	.exit = (void *)ratelimit_exit,
	.name = "ratelimit",
};
