/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types the bundled fault policies (bpf/policies/) share with each other
 * and with iopf-policy, which loads them: the per-(device, PASID) key of
 * their maps and range-guard's allow-list.
 *
 * Include after vmlinux.h in BPF, after <linux/types.h> in user space.
 */
#ifndef IOPFKIT_IOPF_POLICIES_H
#define IOPFKIT_IOPF_POLICIES_H

/* State kept per device and PASID (ratelimit's buckets, prefault's streams) */
struct iopf_policy_key {
	__u64 dev;		/* struct device *, a stable identity */
	__u32 pasid;		/* 0: requests without PASID, or per device */
	__u32 pad;
};

/*
 * range-guard: one entry of the `ranges` array map, filled by the loader
 * after the load. A page request is allowed when its page overlaps a used
 * range of its PASID or of PASID 0; the others are denied, so an empty
 * list denies everything.
 */
#define IOPF_RANGE_MAX		64

struct iopf_range {
	__u64 start;		/* bytes, [start, end) */
	__u64 end;
	__u32 pasid;		/* 0: every PASID of the policy's target */
	__u32 used;		/* 0: an empty slot */
};

#endif
