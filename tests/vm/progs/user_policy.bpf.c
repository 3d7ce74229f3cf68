// SPDX-License-Identifier: GPL-2.0
/*
 * A fault policy written the way a user would, against the installed
 * contract only (bpf/iopf_policy.bpf.h): tests/vm/iopf_policy.c loads it
 * with `iopf-policy run user_policy.bpf.o NAME=VALUE...` and holds the
 * tool to what it promises any object (options, counters, events, exit).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "iopf_policy.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Options: .rodata, set by NAME=VALUE before the load */
const volatile __u32 deny_every = 0;	/* every Nth group Invalid; 0: none */
const volatile __u32 error_after = 0;	/* give up at the Nth group; 0: never */

/* Counters: .bss integers, printed by name */
__u64 groups, denied;

SEC("struct_ops/group")
int BPF_PROG(user_group, struct iommu_fault_ctx *fctx)
{
	__u64 n = __sync_fetch_and_add(&groups, 1) + 1;

	if (error_after && n >= error_after) {
		/* The kernel detaches us and answers as without a policy */
		bpf_iommu_fault_error(fctx, "user: enough");
		return IOMMU_FAULT_DEFAULT;
	}
	if (deny_every && n % deny_every == 0) {
		__sync_fetch_and_add(&denied, 1);
		return iopf_policy_event(fctx, IOMMU_FAULT_INVALID, "every Nth");
	}
	return IOMMU_FAULT_DEFAULT;
}

IOPF_POLICY_EXIT_CALLBACK(user_exit);

/* user_policy_closed.bpf.c: the same, failing closed */
#ifndef USER_POLICY_FLAGS
#define USER_POLICY_FLAGS	0
#endif

SEC(".struct_ops.link")
struct iommu_fault_ops user_policy = {
	.group = (void *)user_group,
	.exit = (void *)user_exit,
	.name = "user_policy",
	.flags = USER_POLICY_FLAGS,
};
