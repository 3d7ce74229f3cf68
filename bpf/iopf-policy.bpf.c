// SPDX-License-Identifier: GPL-2.0
/*
 * iopf-policy's view of the kernel's fault policies: the BPF iterator
 * "iommu_fault_policy" prints one line per policy, with the fields and
 * in the format of debugfs iommu/fault_policies, from the kernel's
 * struct iommu_fault_policy_info (CO-RE). The tool reads it where
 * debugfs is not mounted or lockdown hides it, and its text is the
 * tool's own, not a kernel ABI.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

static const char *state_word(__u32 state)
{
	if (state == bpf_core_enum_value(enum iommu_fault_policy_state,
					 IOMMU_FAULT_POLICY_ATTACHING))
		return "attaching";
	if (state == bpf_core_enum_value(enum iommu_fault_policy_state,
					 IOMMU_FAULT_POLICY_ATTACHED))
		return "attached";
	if (state == bpf_core_enum_value(enum iommu_fault_policy_state,
					 IOMMU_FAULT_POLICY_CLOSED))
		return "closed";
	return "detached";
}

SEC("iter/iommu_fault_policy")
int policy_lines(struct bpf_iter__iommu_fault_policy *ctx)
{
	struct iommu_fault_policy_info *p = ctx->policy;
	struct seq_file *seq = ctx->meta->seq;

	if (!p)
		return 0;
	BPF_SEQ_PRINTF(seq, "%s device=%s pasid=%u tgid=%d pid=%d covers=%u state=%s",
		       p->name, p->device[0] ? p->device : "*", p->pasid,
		       p->tgid, p->pid, p->covers, state_word(p->state));
	BPF_SEQ_PRINTF(seq, " groups=%llu requests=%llu responses=%llu binds=%llu unbinds=%llu",
		       p->groups, p->requests, p->responses, p->binds, p->unbinds);
	BPF_SEQ_PRINTF(seq, " group_invalid=%llu group_failure=%llu request_invalid=%llu",
		       p->group_invalid, p->group_failure, p->request_invalid);
	BPF_SEQ_PRINTF(seq, " request_failure=%llu prefaulted=%llu errors=%llu closed=%llu",
		       p->request_failure, p->prefaulted, p->errors, p->closed);
	BPF_SEQ_PRINTF(seq, " link_id=%u", p->link_id);
	if (p->exit_kind)
		BPF_SEQ_PRINTF(seq, " exit=\"%s%s%s\"", p->exit_reason,
			       p->exit_msg[0] ? ": " : "", p->exit_msg);
	BPF_SEQ_PRINTF(seq, "\n");
	return 0;
}
