// SPDX-License-Identifier: GPL-2.0
/* sva-snoop: one record per SVA bind and unbind, through a ring buffer */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "sva_snoop.h"

/* Filters, set before load: 0 / empty = any */
const volatile __u32 targ_tgid;
const volatile bool targ_failed;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Records the ring buffer had no room for */
__u64 lost;

static __always_inline int submit(enum sva_snoop_kind kind, struct device *dev,
				  struct mm_struct *mm, u32 pasid,
				  unsigned int refs, int ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct sva_snoop_event *e;

	if (targ_tgid && task->tgid != targ_tgid)
		return 0;
	if (targ_failed && !ret)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->mm = (__u64)mm;
	e->kind = kind;
	e->tgid = task->tgid;
	e->pasid = pasid;
	e->refs = refs;
	e->ret = ret;
	e->mm_is_caller = task->mm == mm;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->device, sizeof(e->device),
				  BPF_CORE_READ(dev, kobj.name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/iommu_sva_bind")
int BPF_PROG(sva_snoop_bind, struct device *dev, struct mm_struct *mm,
	     u32 pasid, struct iommu_domain *domain, unsigned int refs, int ret)
{
	return submit(SVA_SNOOP_BIND, dev, mm, pasid, refs, ret);
}

SEC("tp_btf/iommu_sva_unbind")
int BPF_PROG(sva_snoop_unbind, struct device *dev, struct mm_struct *mm,
	     u32 pasid, struct iommu_domain *domain, unsigned int refs)
{
	return submit(SVA_SNOOP_UNBIND, dev, mm, pasid, refs, 0);
}

char LICENSE[] SEC("license") = "GPL";
