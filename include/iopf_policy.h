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
};

struct iopf_policy_exit {
	long long kind;			/* written last: 0 until recorded */
	char reason[IOPF_POLICY_EXIT_REASON_LEN];
	char msg[IOPF_POLICY_EXIT_MSG_LEN];
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
