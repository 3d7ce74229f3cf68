// SPDX-License-Identifier: GPL-2.0
/*
 * Counts the iommu SVA and I/O page fault trace events through tp_btf
 * programs, following their arguments through BTF the way the iopfkit
 * tools will, for tests/vm/iopf_trace.c to compare with the device's own
 * counters and with tracefs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "iopf_events.h"

__u64 binds, binds_ok, binds_mm_is_current, unbinds, unbinds_last;
__u32 bind_pasid, bind_tgid, bind_refs, unbind_refs;
__s32 bind_ret;

__u64 reports, reports_last;
__u64 refusals[IOPF_NR_REFUSALS], refusals_last;
__u64 dispatches, dispatches_sva, dispatched_faults, dispatches_bound_mm;
__u64 sva_faults[IOPF_NR_SVA_OUTCOMES], sva_faults_bound_mm;
__u64 responses, response_codes[IOPF_NR_RESP_CODES], responses_zero_latency;
__u64 flushes, removes, remove_pasid, removes_of_bound_mm;

/* mm of the last successful bind: the one every fault must resolve in */
struct mm_struct *bound_mm;

SEC("tp_btf/iommu_sva_bind")
int BPF_PROG(on_bind, struct device *dev, struct mm_struct *mm, u32 pasid,
	     struct iommu_domain *domain, unsigned int refs, int ret)
{
	struct task_struct *task = bpf_get_current_task_btf();

	__sync_fetch_and_add(&binds, 1);
	bind_pasid = pasid;
	bind_ret = ret;
	bind_refs = refs;
	bind_tgid = task->tgid;
	if (ret)
		return 0;
	__sync_fetch_and_add(&binds_ok, 1);
	if (task->mm == mm)
		__sync_fetch_and_add(&binds_mm_is_current, 1);
	/* the domain of an SVA bond is the mm's: follow it through BTF */
	if (domain->type == IOPF_DOMAIN_SVA)
		bound_mm = domain->mm;
	return 0;
}

SEC("tp_btf/iommu_sva_unbind")
int BPF_PROG(on_unbind, struct device *dev, struct mm_struct *mm, u32 pasid,
	     struct iommu_domain *domain, unsigned int refs)
{
	__sync_fetch_and_add(&unbinds, 1);
	unbind_refs = refs;
	if (!refs)
		__sync_fetch_and_add(&unbinds_last, 1);
	return 0;
}

SEC("tp_btf/iommu_iopf_report")
int BPF_PROG(on_report, struct device *dev, struct iommu_fault *fault)
{
	__sync_fetch_and_add(&reports, 1);
	if (fault->prm.flags & IOPF_FLAG_LAST_PAGE)
		__sync_fetch_and_add(&reports_last, 1);
	return 0;
}

SEC("tp_btf/iommu_iopf_refuse")
int BPF_PROG(on_refuse, struct device *dev, struct iommu_fault *fault,
	     u32 reason)
{
	if (reason < IOPF_NR_REFUSALS)
		__sync_fetch_and_add(&refusals[reason], 1);
	if (fault->prm.flags & IOPF_FLAG_LAST_PAGE)
		__sync_fetch_and_add(&refusals_last, 1);
	return 0;
}

SEC("tp_btf/iommu_iopf_dispatch")
int BPF_PROG(on_dispatch, struct device *dev, struct iopf_group *group)
{
	struct iommu_domain *domain = group->attach_handle->domain;

	__sync_fetch_and_add(&dispatches, 1);
	__sync_fetch_and_add(&dispatched_faults, group->fault_count);
	/* mm is a union member: read it for SVA domains only */
	if (domain->type != IOPF_DOMAIN_SVA)
		return 0;
	__sync_fetch_and_add(&dispatches_sva, 1);
	if (domain->mm == bound_mm)
		__sync_fetch_and_add(&dispatches_bound_mm, 1);
	return 0;
}

SEC("tp_btf/iommu_sva_fault")
int BPF_PROG(on_sva_fault, struct device *dev, struct iommu_fault *fault,
	     struct mm_struct *mm, u32 outcome,
	     unsigned long access, unsigned long vm_flags, vm_fault_t result,
	     u32 code)
{
	if (outcome < IOPF_NR_SVA_OUTCOMES)
		__sync_fetch_and_add(&sva_faults[outcome], 1);
	if (mm == bound_mm)
		__sync_fetch_and_add(&sva_faults_bound_mm, 1);
	return 0;
}

SEC("tp_btf/iommu_iopf_response")
int BPF_PROG(on_response, struct device *dev, struct iommu_fault *fault,
	     struct iommu_page_response *resp, u64 latency_ns)
{
	__u32 code = resp->code;

	__sync_fetch_and_add(&responses, 1);
	if (code < IOPF_NR_RESP_CODES)
		__sync_fetch_and_add(&response_codes[code], 1);
	if (!latency_ns)
		__sync_fetch_and_add(&responses_zero_latency, 1);
	return 0;
}

SEC("tp_btf/iommu_iopf_flush")
int BPF_PROG(on_flush, struct device *dev, unsigned int pending,
	     u64 duration_ns)
{
	__sync_fetch_and_add(&flushes, 1);
	return 0;
}

SEC("tp_btf/iommu_remove_dev_pasid")
int BPF_PROG(on_remove, struct device *dev, ioasid_t pasid,
	     struct iommu_domain *domain, u64 duration_ns)
{
	__sync_fetch_and_add(&removes, 1);
	remove_pasid = pasid;
	if (domain->type == IOPF_DOMAIN_SVA && domain->mm == bound_mm)
		__sync_fetch_and_add(&removes_of_bound_mm, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
