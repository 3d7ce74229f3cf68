/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a fault policy (struct iommu_fault_ops) includes after vmlinux.h to
 * follow iopf-policy's contract (include/iopf_policy.h): the kfuncs, the
 * exit record, and the iopf_events ring buffer that `iopf-policy run`
 * prints. The bundled policies in bpf/policies/ use it; so can yours:
 *
 *	#include "vmlinux.h"
 *	#include <bpf/bpf_helpers.h>
 *	#include <bpf/bpf_tracing.h>
 *	#include "iopf_policy.bpf.h"
 *
 *	IOPF_POLICY_EXIT_CALLBACK(my_exit);
 *
 * and in its struct iommu_fault_ops: .exit = (void *)my_exit.
 */
#ifndef IOPFKIT_IOPF_POLICY_BPF_H
#define IOPFKIT_IOPF_POLICY_BPF_H

#include "iopf_events.h"
#include "iopf_policy.h"

/* The kfuncs of Documentation/iommu/fault-policies.rst */
extern int bpf_iommu_fault_prefault(struct iommu_fault_ctx *fctx, __u64 addr,
				    __u32 nr_pages) __ksym;
extern void bpf_iommu_fault_error(struct iommu_fault_ctx *fctx,
				  const char *reason) __ksym;
extern int bpf_iommu_fault_dev_name(struct iommu_fault_ctx *fctx, char *buf,
				    __u32 buf__sz) __ksym;
extern int bpf_iommu_fault_group_request(struct iommu_fault_ctx *fctx,
					 __u32 index, __u64 *addr,
					 __u32 *perm) __ksym;

/* The most pages one bpf_iommu_fault_prefault() call takes */
#define IOPF_PREFAULT_MAX_PAGES	64

#ifndef IOPF_PAGE_SHIFT
#define IOPF_PAGE_SHIFT		12
#endif

/* Why the kernel detached the policy, for the loader */
struct iopf_policy_exit iopf_exit;

#define IOPF_POLICY_EXIT_CALLBACK(fn)					\
SEC("struct_ops.s/exit")						\
void BPF_PROG(fn, struct iommu_fault_exit_info *info)			\
{									\
	IOPF_POLICY_EXIT_RECORD(&iopf_exit, info);			\
}

#ifndef IOPF_POLICY_NO_EVENTS
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} iopf_events SEC(".maps");

/* Records the ring buffer had no room for: a counter like any other */
__u64 iopf_events_dropped;

/*
 * Record what @fctx shows and what the callback decided. @reason may be
 * NULL. Returns @verdict, so that a callback can end with
 *	return iopf_policy_event(fctx, IOPF_POLICY_INVALID, "outside");
 */
static __always_inline int iopf_policy_event(struct iommu_fault_ctx *fctx,
					     int verdict, const char *reason)
{
	struct iopf_policy_event *e;

	e = bpf_ringbuf_reserve(&iopf_events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&iopf_events_dropped, 1);
		return verdict;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->hook = fctx->hook;
	e->addr = fctx->addr;
	e->latency_ns = fctx->latency_ns;
	e->pasid = fctx->pasid;
	e->grpid = fctx->grpid;
	e->perm = fctx->perm;
	e->nr_requests = fctx->nr_requests;
	e->code = fctx->code;
	e->verdict = verdict;
	e->tgid = fctx->tgid;
	if (bpf_iommu_fault_dev_name(fctx, e->device, sizeof(e->device)) < 0)
		e->device[0] = 0;
	if (reason)
		bpf_probe_read_kernel_str(e->reason, sizeof(e->reason), reason);
	else
		e->reason[0] = 0;
	bpf_ringbuf_submit(e, 0);
	return verdict;
}
#endif

#endif
