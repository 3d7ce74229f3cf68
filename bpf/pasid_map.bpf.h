/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The PASID-to-process map every iopfkit tool shows processes from
 * (struct iopf_proc in include/iopf_tools.h). A tool includes this in its
 * BPF object, runs iopf_iter_pasids once at start-up (iopf_pasid_map_scan()
 * in tools/lib) for the bindings made before it started, and keeps
 * iopf_pasid_on_bind attached for the ones made after.
 */
#ifndef IOPFKIT_PASID_MAP_BPF_H
#define IOPFKIT_PASID_MAP_BPF_H

#include <bpf/bpf_core_read.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct iopf_proc);
} pasid_procs SEC(".maps");

/*
 * Every process whose mm has a PASID: mm->iommu_mm lives from the mm's
 * first SVA bind to its end, with the PASID that all of its bonds use.
 * Threads share the mm: the first task seen (the group leader comes first
 * in the iteration) names the process.
 */
SEC("iter/task")
int iopf_iter_pasids(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct iommu_mm_data *iommu_mm;
	struct iopf_proc proc = { .flags = IOPF_PROC_SCANNED };
	struct mm_struct *mm;
	__u32 pasid;

	if (!task || !bpf_core_field_exists(struct mm_struct, iommu_mm))
		return 0;
	mm = task->mm;
	if (!mm)
		return 0;
	iommu_mm = BPF_CORE_READ(mm, iommu_mm);
	if (!iommu_mm)
		return 0;
	pasid = BPF_CORE_READ(iommu_mm, pasid);
	proc.mm = (__u64)mm;
	proc.tgid = task->tgid;
	bpf_probe_read_kernel_str(proc.comm, sizeof(proc.comm), task->comm);
	bpf_map_update_elem(&pasid_procs, &pasid, &proc, BPF_NOEXIST);
	return 0;
}

/*
 * The caller of a bind usually binds its own mm; when it binds another's
 * (a driver acting for a process), the owner is unknown: tgid 0, unless
 * the iterator or an earlier bind named that mm's process. A PASID freed
 * with its mm and given to another is a new entry.
 */
static __always_inline void iopf_pasid_map_bind(struct mm_struct *mm,
						u32 pasid, int ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct iopf_proc proc = { .mm = (__u64)mm, .flags = IOPF_PROC_BOUND };
	struct iopf_proc *known;

	if (ret)
		return;
	if (task->mm != mm) {
		known = bpf_map_lookup_elem(&pasid_procs, &pasid);
		if (known && known->mm == (__u64)mm)
			return;
		bpf_map_update_elem(&pasid_procs, &pasid, &proc, BPF_ANY);
		return;
	}
	proc.tgid = task->tgid;
	bpf_get_current_comm(proc.comm, sizeof(proc.comm));
	bpf_map_update_elem(&pasid_procs, &pasid, &proc, BPF_ANY);
}

SEC("tp_btf/iommu_sva_bind")
int BPF_PROG(iopf_pasid_on_bind, struct device *dev, struct mm_struct *mm,
	     u32 pasid, struct iommu_domain *domain, unsigned int refs, int ret)
{
	iopf_pasid_map_bind(mm, pasid, ret);
	return 0;
}

/* dev_name(): the kobject's name once the device is registered */
static __always_inline void iopf_dev_name(char *buf, struct device *dev)
{
	bpf_probe_read_kernel_str(buf, IOPF_DEV_LEN, BPF_CORE_READ(dev, kobj.name));
}

#endif
