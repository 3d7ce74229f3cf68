// SPDX-License-Identifier: GPL-2.0
/*
 * readonly: the device may read the process's memory, not write to it.
 * Page requests for write access are refused before the kernel faults
 * anything in, and each refusal is reported. The second example of
 * docs/policies.md ("Writing a policy"), tested by tests/vm/iopf_policy.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "iopf_policy.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* An option: iopf-policy run readonly.bpf.o verdict=2 */
const volatile __u32 verdict = IOMMU_FAULT_INVALID;

/* Counters: iopf-policy run prints them every second */
__u64 reads, writes_refused;

SEC("struct_ops/request")
int BPF_PROG(readonly_request, struct iommu_fault_ctx *fctx)
{
	if (!(fctx->perm & IOPF_PERM_WRITE)) {
		__sync_fetch_and_add(&reads, 1);
		return IOMMU_FAULT_DEFAULT;
	}
	__sync_fetch_and_add(&writes_refused, 1);
	/* into iopf_events, which iopf-policy run prints */
	return iopf_policy_event(fctx, verdict, "write refused");
}

IOPF_POLICY_EXIT_CALLBACK(readonly_exit);

SEC(".struct_ops.link")
struct iommu_fault_ops readonly = {
	.request = (void *)readonly_request,
	.exit = (void *)readonly_exit,
	.name = "readonly",
};
