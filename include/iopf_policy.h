/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a fault policy (struct iommu_fault_ops, Documentation/iommu/
 * fault-policies.rst in the kernel series) hands to its loader when the
 * kernel detaches it: the pattern of sched_ext's user_exit_info.h. The BPF
 * side records the kernel's struct iommu_fault_exit_info in a global from
 * its exit callback; the loader reads the global and prints it.
 *
 *	struct iopf_policy_exit exit_info;	// in the BPF object
 *
 *	SEC("struct_ops.s/exit")
 *	void BPF_PROG(on_exit, struct iommu_fault_exit_info *info)
 *	{
 *		IOPF_POLICY_EXIT_RECORD(&exit_info, info);
 *	}
 */
#ifndef IOPFKIT_IOPF_POLICY_H
#define IOPFKIT_IOPF_POLICY_H

#define IOPF_POLICY_EXIT_REASON_LEN	32
#define IOPF_POLICY_EXIT_MSG_LEN	128	/* IOMMU_FAULT_EXIT_MSG_LEN */

/* enum iommu_fault_exit_kind */
enum iopf_policy_exit_kind {
	IOPF_POLICY_ATTACHED,
	IOPF_POLICY_EXIT_UNREG,
	IOPF_POLICY_EXIT_BAD_VERDICT,
	IOPF_POLICY_EXIT_TARGET_BUSY,
	IOPF_POLICY_EXIT_ERROR,
	IOPF_POLICY_EXIT_KFUNC,
	IOPF_POLICY_EXIT_STALL,
};

struct iopf_policy_exit {
	long long kind;			/* written last: 0 until recorded */
	char reason[IOPF_POLICY_EXIT_REASON_LEN];
	char msg[IOPF_POLICY_EXIT_MSG_LEN];
};

/*
 * What iopf-policy reads from a policy object (docs/policies.md, "The
 * loader's contract"):
 *
 *  - its options: the `const volatile` globals of .rodata, set by
 *    NAME=VALUE before the load;
 *  - its counters: the integer globals of .bss, printed by name each
 *    interval;
 *  - its exit: a global `struct iopf_policy_exit iopf_exit`, recorded by
 *    its exit callback (IOPF_POLICY_EXIT_RECORD());
 *  - its events: records of struct iopf_policy_event in a ring buffer map
 *    named iopf_events (bpf/iopf_policy.bpf.h), printed one per line.
 */
#define IOPF_POLICY_EVENTS_MAP		"iopf_events"
#define IOPF_POLICY_EXIT_VAR		"iopf_exit"
#define IOPF_POLICY_REASON_LEN		32

/* enum iommu_fault_hook: the callback an event comes from */
enum iopf_policy_hook {
	IOPF_POLICY_HOOK_GROUP,
	IOPF_POLICY_HOOK_REQUEST,
	IOPF_POLICY_HOOK_RESPONSE,
	IOPF_POLICY_HOOK_BIND,
	IOPF_POLICY_HOOK_UNBIND,
	IOPF_POLICY_NR_HOOKS,
};

/* enum iommu_fault_verdict */
enum iopf_policy_verdict {
	IOPF_POLICY_DEFAULT,
	IOPF_POLICY_INVALID,
	IOPF_POLICY_FAILURE,
};

/*
 * One record of the iopf_events ring buffer: what a callback saw and what
 * it decided. @verdict is the callback's verdict (group, request), @code
 * the response sent (response), @reason the policy's own words.
 */
struct iopf_policy_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
	__u64 addr;		/* group (its last request), request */
	__u64 latency_ns;	/* response */
	__u32 hook;		/* enum iopf_policy_hook */
	__u32 pasid;
	__u32 grpid;
	__u32 perm;		/* IOPF_PERM_* (iopf_events.h) */
	__u32 nr_requests;	/* group */
	__u32 code;		/* response: enum iopf_response_code */
	__s32 verdict;		/* group, request: enum iopf_policy_verdict */
	__s32 tgid;		/* bind, unbind: the caller */
	char device[32];	/* bpf_iommu_fault_dev_name(), cut */
	char reason[IOPF_POLICY_REASON_LEN];
};

#ifdef __bpf__
#define IOPF_POLICY_EXIT_RECORD(dst, info) do {				\
	bpf_probe_read_kernel_str((dst)->reason, sizeof((dst)->reason),	\
				  (info)->reason);			\
	bpf_probe_read_kernel_str((dst)->msg, sizeof((dst)->msg),	\
				  (info)->msg);				\
	/* a full barrier, as user_exit_info.h does it, then the kind */	\
	__sync_val_compare_and_swap(&(dst)->kind, (dst)->kind,		\
				    (info)->kind);			\
} while (0)
#else
#include <stdio.h>

/* One line, as the kernel logs it: "NAME detached: REASON: MSG" */
static inline int iopf_policy_exit_print(FILE *f, const char *name,
					 const volatile struct iopf_policy_exit *e)
{
	if (!e->kind)
		return 0;
	__sync_synchronize();
	return fprintf(f, "%s detached: %s%s%s\n", name, e->reason,
		       e->msg[0] ? ": " : "", e->msg);
}
#endif

#endif
