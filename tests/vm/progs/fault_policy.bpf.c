// SPDX-License-Identifier: GPL-2.0
/*
 * Test fault policies (struct iommu_fault_ops) for tests/vm/fault_policy.c,
 * which attaches one or two of them at a time through the skeleton. Each
 * counts what it saw in its own struct policy_counts, so that the test
 * can compare the counts with the device's and the kernel's.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define IOPF_POLICY_NO_EVENTS
#include "iopf_policy.bpf.h"	/* the kfuncs */
#include "fault_policy.h"

char LICENSE[] SEC("license") = "GPL";

struct policy_counts counts[NR_POLICIES];

/* Set by the test before load */
const volatile __u32 expect_pasid;	/* 0: any */
const volatile __u32 prefault_pages = 16;
const volatile int bad_verdict = 7;
const volatile __u64 error_after = 3;	/* groups */

static void seen(struct policy_counts *c, struct iommu_fault_ctx *fctx)
{
	char name[16];

	if (bpf_iommu_fault_dev_name(fctx, name, sizeof(name)) < 0 ||
	    name[0] != 's' || name[1] != 'w')
		__sync_fetch_and_add(&c->wrong_device, 1);
	if (expect_pasid && fctx->pasid != expect_pasid)
		__sync_fetch_and_add(&c->wrong_pasid, 1);
	c->last_pasid = fctx->pasid;
}

static void count_group(struct policy_counts *c, struct iommu_fault_ctx *fctx)
{
	seen(c, fctx);
	__sync_fetch_and_add(&c->groups, 1);
	__sync_fetch_and_add(&c->group_requests, fctx->nr_requests);
}

static void count_request(struct policy_counts *c, struct iommu_fault_ctx *fctx)
{
	seen(c, fctx);
	__sync_fetch_and_add(&c->requests, 1);
	if (fctx->last)
		__sync_fetch_and_add(&c->requests_last, 1);
}

static void count_response(struct policy_counts *c, struct iommu_fault_ctx *fctx)
{
	__u32 code = fctx->code;

	barrier_var(code);
	seen(c, fctx);
	__sync_fetch_and_add(&c->responses, 1);
	if (code < IOPF_NR_RESP_CODES)
		__sync_fetch_and_add(&c->resp_code[code], 1);
	if (!fctx->latency_ns)
		__sync_fetch_and_add(&c->resp_latency_zero, 1);
}

static void count_bind(struct policy_counts *c, struct iommu_fault_ctx *fctx,
		       bool bind)
{
	seen(c, fctx);
	__sync_fetch_and_add(bind ? &c->binds : &c->unbinds, 1);
	if (bind) {
		c->last_bind_tgid = fctx->tgid;
		if (fctx->tgid == bpf_get_current_pid_tgid() >> 32)
			__sync_fetch_and_add(&c->bind_tgid_is_current, 1);
	}
}

/* The callbacks every test policy has: count, record the exit */
#define POLICY_COMMON(id)						\
SEC("struct_ops/response")						\
void BPF_PROG(id##_response, struct iommu_fault_ctx *fctx)		\
{									\
	count_response(&counts[id], fctx);				\
}									\
SEC("struct_ops/bind")							\
void BPF_PROG(id##_bind, struct iommu_fault_ctx *fctx)			\
{									\
	count_bind(&counts[id], fctx, true);				\
}									\
SEC("struct_ops/unbind")						\
void BPF_PROG(id##_unbind, struct iommu_fault_ctx *fctx)		\
{									\
	count_bind(&counts[id], fctx, false);				\
}									\
SEC("struct_ops.s/init")						\
int BPF_PROG(id##_init)							\
{									\
	__sync_fetch_and_add(&counts[id].init, 1);			\
	return 0;							\
}									\
SEC("struct_ops.s/exit")						\
void BPF_PROG(id##_exit, struct iommu_fault_exit_info *info)		\
{									\
	__sync_fetch_and_add(&counts[id].exit, 1);			\
	IOPF_POLICY_EXIT_RECORD(&counts[id].exit_info, info);		\
}

#define POLICY_OPS(id, lname)						\
	.response = (void *)id##_response,				\
	.bind = (void *)id##_bind,					\
	.unbind = (void *)id##_unbind,					\
	.init = (void *)id##_init,					\
	.exit = (void *)id##_exit,					\
	.name = lname

/* Changes nothing: the kernel decides everything */
POLICY_COMMON(PASS)
SEC("struct_ops/group")
int BPF_PROG(pass_group, struct iommu_fault_ctx *fctx)
{
	count_group(&counts[PASS], fctx);
	return IOMMU_FAULT_DEFAULT;
}

SEC("struct_ops/request")
int BPF_PROG(pass_request, struct iommu_fault_ctx *fctx)
{
	count_request(&counts[PASS], fctx);
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops pass = {
	.group = (void *)pass_group,
	.request = (void *)pass_request,
	POLICY_OPS(PASS, "test_pass"),
	.device = "swsva0",
};

/* The same on the second endpoint */
POLICY_COMMON(PASS_EP1)
SEC("struct_ops/group")
int BPF_PROG(pass_ep1_group, struct iommu_fault_ctx *fctx)
{
	count_group(&counts[PASS_EP1], fctx);
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops pass_ep1 = {
	.group = (void *)pass_ep1_group,
	POLICY_OPS(PASS_EP1, "test_pass_ep1"),
	.device = "swsva1",
};

/* Answers every group Invalid at dispatch */
POLICY_COMMON(DENY_GROUP)
SEC("struct_ops/group")
int BPF_PROG(deny_group_group, struct iommu_fault_ctx *fctx)
{
	count_group(&counts[DENY_GROUP], fctx);
	return IOMMU_FAULT_INVALID;
}

SEC(".struct_ops.link")
struct iommu_fault_ops deny_group = {
	.group = (void *)deny_group_group,
	POLICY_OPS(DENY_GROUP, "test_deny_group"),
	.device = "swsva0",
};

/* Answers every group Response Failure at dispatch */
POLICY_COMMON(FAIL_GROUP)
SEC("struct_ops/group")
int BPF_PROG(fail_group_group, struct iommu_fault_ctx *fctx)
{
	count_group(&counts[FAIL_GROUP], fctx);
	return IOMMU_FAULT_FAILURE;
}

SEC(".struct_ops.link")
struct iommu_fault_ops fail_group = {
	.group = (void *)fail_group_group,
	POLICY_OPS(FAIL_GROUP, "test_fail_group"),
	.device = "swsva0",
};

/* Refuses every request in the SVA handler */
POLICY_COMMON(DENY_REQUEST)
SEC("struct_ops/group")
int BPF_PROG(deny_request_group, struct iommu_fault_ctx *fctx)
{
	count_group(&counts[DENY_REQUEST], fctx);
	return IOMMU_FAULT_DEFAULT;
}

SEC("struct_ops/request")
int BPF_PROG(deny_request_request, struct iommu_fault_ctx *fctx)
{
	count_request(&counts[DENY_REQUEST], fctx);
	return IOMMU_FAULT_INVALID;
}

SEC(".struct_ops.link")
struct iommu_fault_ops deny_request = {
	.group = (void *)deny_request_group,
	.request = (void *)deny_request_request,
	POLICY_OPS(DENY_REQUEST, "test_deny_request"),
	.device = "swsva0",
};

/* Fault-around: each request faults in prefault_pages from its page */
POLICY_COMMON(PREFAULT)
SEC("struct_ops.s/request")
int BPF_PROG(prefault_request, struct iommu_fault_ctx *fctx)
{
	int n;

	count_request(&counts[PREFAULT], fctx);
	n = bpf_iommu_fault_prefault(fctx, fctx->addr, prefault_pages);
	if (n < 0)
		__sync_fetch_and_add(&counts[PREFAULT].prefault_errors, 1);
	else
		__sync_fetch_and_add(&counts[PREFAULT].prefaulted, n);
	return IOMMU_FAULT_DEFAULT;
}

SEC("struct_ops/group")
int BPF_PROG(prefault_group, struct iommu_fault_ctx *fctx)
{
	count_group(&counts[PREFAULT], fctx);
	return IOMMU_FAULT_DEFAULT;
}

SEC(".struct_ops.link")
struct iommu_fault_ops prefault = {
	.group = (void *)prefault_group,
	.request = (void *)prefault_request,
	POLICY_OPS(PREFAULT, "test_prefault"),
	.device = "swsva0",
};

/* Returns a value that is not a verdict: the kernel detaches it */
POLICY_COMMON(BAD_VERDICT)
SEC("struct_ops/group")
int BPF_PROG(bad_verdict_group, struct iommu_fault_ctx *fctx)
{
	count_group(&counts[BAD_VERDICT], fctx);
	return bad_verdict;
}

SEC(".struct_ops.link")
struct iommu_fault_ops bad_verdict_policy = {
	.group = (void *)bad_verdict_group,
	POLICY_OPS(BAD_VERDICT, "test_bad_verdict"),
	.device = "swsva0",
};

/* Denies groups, then gives up through the error kfunc */
POLICY_COMMON(ERROR_AFTER)
SEC("struct_ops/group")
int BPF_PROG(error_after_group, struct iommu_fault_ctx *fctx)
{
	count_group(&counts[ERROR_AFTER], fctx);
	if (counts[ERROR_AFTER].groups >= error_after) {
		bpf_iommu_fault_error(fctx, "test: enough groups");
		return IOMMU_FAULT_DEFAULT;
	}
	return IOMMU_FAULT_INVALID;
}

SEC(".struct_ops.link")
struct iommu_fault_ops error_after_policy = {
	.group = (void *)error_after_group,
	POLICY_OPS(ERROR_AFTER, "test_error_after"),
	.device = "swsva0",
};
