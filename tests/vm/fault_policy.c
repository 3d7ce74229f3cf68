// SPDX-License-Identifier: GPL-2.0
/*
 * BPF fault policies (struct iommu_fault_ops): attached by a libbpf
 * skeleton (progs/fault_policy.bpf.c) and by bpftool alone, against real
 * page requests of the software SVA device. Each test compares what the
 * policy saw with the device's own counters, and ends with every group
 * answered once.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "kselftest_harness.h"
#include "../lib/mem_util.h"
#include "../lib/file_util.h"
#include "../lib/proc_util.h"
#include "../lib/swsva_fixture.h"

static size_t page_size;

#include "../lib/policy_util.h"
#include <linux/types.h>
#include "progs/fault_policy.h"
#include "fault_policy.skel.h"
#include "fault_policy_refused.skel.h"

#define BPFFS		"/sys/fs/bpf"

/* bpftool's shadow type of a struct_ops leaves char arrays unnamed */
#define OPS_DEVICE(ops)		((ops)->__unsupported_8)

static bool wait_for(volatile long long *v, long long want, int ms)
{
	for (; ms > 0 && *v != want; ms -= 10)
		usleep(10000);
	return *v == want;
}

FIXTURE(policy) {
	int fd;
	int pasid;
	struct swsva_counters start;
	struct fault_policy_bpf *skel;
	struct bpf_link *link[2];
};

FIXTURE_SETUP(policy)
{
	struct bpf_map *map;

	SWSVA_SETUP_BOUND(self);
	self->skel = fault_policy_bpf__open();
	ASSERT_NE(NULL, self->skel);
	/* Tests pick the policies they attach */
	bpf_object__for_each_map(map, self->skel->obj)
		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
			bpf_map__set_autocreate(map, false);
}

FIXTURE_TEARDOWN(policy)
{
	for (int i = 0; i < 2; i++)
		bpf_link__destroy(self->link[i]);
	fault_policy_bpf__destroy(self->skel);
	if (self->fd >= 0) {
		close(self->fd);
		/* Every group posted by the test got exactly one response */
		EXPECT_EQ(0, swsva_wait_idle(0, 20000));
		EXPECT_EQ(swsva_sysfs_counter(0, "groups"),
			  swsva_sysfs_counter(0, "responses"));
		EXPECT_EQ(0, swsva_sysfs_counter(0, "resp_unexpected"));
	}
	/* and no policy is left behind */
	char *text = read_file(POLICIES, NULL);

	EXPECT_STREQ("", text ? text : "(unreadable)");
	free(text);
}

/* Load the skeleton with the policies @maps chose, then attach them */
static int attach(struct __test_metadata *_metadata,
		  FIXTURE_DATA(policy) *self, struct bpf_map *m0,
		  struct bpf_map *m1)
{
	struct bpf_map *maps[2] = { m0, m1 };
	int err;

	for (int i = 0; i < 2; i++)
		if (maps[i])
			bpf_map__set_autocreate(maps[i], true);
	err = fault_policy_bpf__load(self->skel);
	if (err)
		return err;
	for (int i = 0; i < 2 && maps[i]; i++) {
		self->link[i] = bpf_map__attach_struct_ops(maps[i]);
		if (!self->link[i])
			return -errno;
	}
	return 0;
}

static void detach(FIXTURE_DATA(policy) *self, int i)
{
	bpf_link__destroy(self->link[i]);
	self->link[i] = NULL;
}

#define COUNTS(id)	(&self->skel->bss->counts[id])

/*
 * Without a policy and with a policy that only looks, the same workload
 * makes the device count the same, and the policy saw every group,
 * request and response the device did.
 */
TEST_F(policy, passthrough_changes_no_outcome)
{
	struct swsva_counters without, with;
	int ret_without, ret_with;

	ret_without = dma_fresh(self->fd, 64, true, NULL, &without);
	ASSERT_EQ(0, ret_without);

	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.pass, NULL));
	EXPECT_EQ(1, COUNTS(PASS)->init);
	ret_with = dma_fresh(self->fd, 64, true, NULL, &with);
	EXPECT_EQ(ret_without, ret_with);

	EXPECT_EQ(without.page_requests, with.page_requests);
	EXPECT_EQ(without.groups, with.groups);
	EXPECT_EQ(without.responses, with.responses);
	EXPECT_EQ(without.resp_success, with.resp_success);
	EXPECT_EQ(without.resp_invalid, with.resp_invalid);
	EXPECT_EQ(without.resp_failure, with.resp_failure);
	EXPECT_EQ(without.dma_bytes, with.dma_bytes);

	/* The policy's view is the device's */
	EXPECT_EQ(with.groups, COUNTS(PASS)->groups);
	EXPECT_EQ(with.page_requests, COUNTS(PASS)->group_requests);
	EXPECT_EQ(with.page_requests, COUNTS(PASS)->requests);
	EXPECT_EQ(with.groups, COUNTS(PASS)->requests_last);
	EXPECT_EQ(with.responses, COUNTS(PASS)->responses);
	EXPECT_EQ(with.resp_success, COUNTS(PASS)->resp_code[IOPF_RESP_SUCCESS]);
	EXPECT_EQ(0, COUNTS(PASS)->resp_latency_zero);
	EXPECT_EQ(0, COUNTS(PASS)->wrong_device);
	EXPECT_EQ((unsigned int)self->pasid, COUNTS(PASS)->last_pasid);

	/* and the kernel's, in debugfs */
	EXPECT_EQ(with.groups, policy_stat("test_pass", "groups"));
	EXPECT_EQ(with.page_requests, policy_stat("test_pass", "requests"));
	EXPECT_EQ(with.responses, policy_stat("test_pass", "responses"));

	/* A bind after the attach is told, with the binding process */
	int fd2 = swsva_open(0);

	ASSERT_LE(0, fd2);
	ASSERT_LT(0, swsva_bind(fd2));
	EXPECT_EQ(1, COUNTS(PASS)->binds);
	EXPECT_EQ(1, COUNTS(PASS)->bind_tgid_is_current);
	EXPECT_EQ(getpid(), COUNTS(PASS)->last_bind_tgid);
	close(fd2);
	EXPECT_EQ(1, COUNTS(PASS)->unbinds);

	/* Closing the link detaches it; exit says why */
	detach(self, 0);
	EXPECT_EQ(1, COUNTS(PASS)->exit);
	EXPECT_EQ(IOPF_POLICY_EXIT_UNREG, COUNTS(PASS)->exit_info.kind);
	EXPECT_STREQ("unregistered", COUNTS(PASS)->exit_info.reason);
}

/*
 * Deny at the group: the device gets Invalid for every group, the DMA
 * fails, and the mm is untouched (the SVA handler never ran).
 */
TEST_F(policy, deny_group_fails_the_dma_and_leaves_the_mm_untouched)
{
	struct swsva_counters d;
	void *mem;

	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.deny_group, NULL));
	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 16, false, &mem, &d));
	EXPECT_EQ(0, resident_pages(mem, 16));
	munmap(mem, 16 * page_size);

	EXPECT_LT(0, d.groups);
	EXPECT_EQ(d.groups, d.responses);
	EXPECT_EQ(d.groups, d.resp_invalid);
	EXPECT_EQ(0, d.resp_success);
	EXPECT_EQ(d.groups, COUNTS(DENY_GROUP)->groups);
	EXPECT_EQ(d.groups, COUNTS(DENY_GROUP)->resp_code[IOPF_RESP_INVALID]);
	EXPECT_EQ(d.groups, policy_stat("test_deny_group", "group_invalid"));
	EXPECT_EQ(0, policy_stat("test_deny_group", "requests"));

	/* Detached, the same DMA works */
	detach(self, 0);
	EXPECT_EQ(0, dma_fresh(self->fd, 16, false, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_success);
}

TEST_F(policy, failure_at_the_group_is_response_failure)
{
	struct swsva_counters d;

	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.fail_group, NULL));
	EXPECT_EQ(-EIO, dma_fresh(self->fd, 4, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_failure);
	EXPECT_EQ(d.groups, d.responses);
	EXPECT_EQ(d.groups, COUNTS(FAIL_GROUP)->resp_code[IOPF_RESP_FAILURE]);
	EXPECT_EQ(d.groups, policy_stat("test_fail_group", "group_failure"));
}

/*
 * Deny in the SVA handler: the first request of each group is refused,
 * the rest skipped; the mm is untouched.
 */
TEST_F(policy, deny_request_fails_the_dma_and_leaves_the_mm_untouched)
{
	struct swsva_counters d;
	void *mem;

	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.deny_request,
			    NULL));
	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 16, true, &mem, &d));
	EXPECT_EQ(0, resident_pages(mem, 16));
	munmap(mem, 16 * page_size);

	EXPECT_LT(0, d.groups);
	EXPECT_EQ(d.groups, d.resp_invalid);
	EXPECT_EQ(d.groups, d.responses);
	EXPECT_EQ(d.groups, COUNTS(DENY_REQUEST)->groups);
	EXPECT_EQ(d.groups, COUNTS(DENY_REQUEST)->requests);
	EXPECT_EQ(d.groups, policy_stat("test_deny_request", "request_invalid"));
	EXPECT_EQ(0, policy_stat("test_deny_request", "group_invalid"));
}

/*
 * The DMA engine translates a window of group_pages pages at a time and
 * posts one group with the window's missing pages. Replay that on a model
 * of the mapping, where each request also makes @prefault pages from its
 * own present (up to the end of the mapping).
 */
static void model_dma(size_t pages, unsigned int window, unsigned int prefault,
		      long long *requests, long long *groups,
		      long long *prefaulted)
{
	bool present[pages];

	memset(present, 0, sizeof(present));
	*requests = *groups = *prefaulted = 0;
	for (size_t start = 0; start < pages; start += window) {
		size_t end = start + window < pages ? start + window : pages;
		size_t miss[window], misses = 0;

		/* The group holds every page of the window that missed */
		for (size_t i = start; i < end; i++)
			if (!present[i])
				miss[misses++] = i;
		for (size_t m = 0; m < misses; m++) {
			size_t i = miss[m];

			for (size_t j = i; j < i + prefault && j < pages; j++) {
				present[j] = true;
				(*prefaulted)++;
			}
			present[i] = true;
		}
		*requests += misses;
		*groups += misses > 0;
	}
}

TEST_F(policy, prefault_lowers_the_page_requests_by_the_expected_factor)
{
	const size_t pages = 1024;
	unsigned int window = swsva_group_pages();
	long long want_requests, want_groups, want_prefaulted;
	long long base_requests, base_groups, none;
	struct swsva_counters d;
	void *mem;

	ASSERT_LT(0, window);
	model_dma(pages, window, 0, &base_requests, &base_groups, &none);
	ASSERT_EQ(0, dma_fresh(self->fd, pages, false, NULL, &d));
	EXPECT_EQ(base_requests, d.page_requests);
	EXPECT_EQ(base_groups, d.groups);

	self->skel->rodata->prefault_pages = 16;
	model_dma(pages, window, 16, &want_requests, &want_groups,
		  &want_prefaulted);
	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.prefault, NULL));
	ASSERT_EQ(0, dma_fresh(self->fd, pages, false, &mem, &d));
	EXPECT_EQ(want_requests, d.page_requests);
	EXPECT_EQ(want_groups, d.groups);
	EXPECT_EQ(d.groups, d.resp_success);
	EXPECT_EQ(want_prefaulted, COUNTS(PREFAULT)->prefaulted);
	EXPECT_EQ(want_prefaulted, policy_stat("test_prefault", "prefaulted"));
	EXPECT_EQ(0, COUNTS(PREFAULT)->prefault_errors);
	EXPECT_EQ(pages, resident_pages(mem, pages));
	munmap(mem, pages * page_size);
	TH_LOG("%zu pages, window %u: %lld page requests without policy, %lld with prefault 16 (%.1fx fewer)",
	       pages, window, base_requests, want_requests,
	       (double)base_requests / want_requests);
}

/* The kernel's record of why @name was detached, from debugfs */
static bool policy_exit_is(const char *name, const char *exit)
{
	char line[1024];

	return strstr(policy_line(name, line, sizeof(line)), exit) != NULL;
}

/* dmesg lines that mention @what */
static int kmsg_count(const char *what)
{
	char out[65536];
	char *argv[] = { "/bin/dmesg", NULL };
	int n = 0;

	if (run_capture(argv, out, sizeof(out)))
		return -1;
	for (char *p = out; (p = strstr(p, what)); p++)
		n++;
	return n;
}

/* Wait for the policy's exit callback, then check what it recorded */
static void expect_exit(struct __test_metadata *_metadata,
			struct policy_counts *c, long long kind,
			const char *reason, const char *msg)
{
	ASSERT_TRUE(wait_for((volatile long long *)&c->exit, 1, 5000));
	EXPECT_EQ(kind, c->exit_info.kind);
	EXPECT_STREQ(reason, c->exit_info.reason);
	EXPECT_NE(NULL, strstr(c->exit_info.msg, msg))
		TH_LOG("msg: %s", c->exit_info.msg);
}

/*
 * A verdict out of range detaches the policy: the kernel answers that
 * group and the next ones itself, records the reason and logs it once.
 */
TEST_F(policy, bad_verdict_detaches_the_policy_with_its_reason)
{
	struct swsva_counters d;

	ASSERT_EQ(0, attach(_metadata, self,
			    self->skel->maps.bad_verdict_policy, NULL));
	EXPECT_EQ(0, dma_fresh(self->fd, 32, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_success);
	EXPECT_EQ(1, COUNTS(BAD_VERDICT)->groups);

	expect_exit(_metadata, COUNTS(BAD_VERDICT), IOPF_POLICY_EXIT_BAD_VERDICT,
		    "bad verdict", "group returned 7");
	EXPECT_TRUE(policy_exit_is("test_bad_verdict", "state=detached"));
	EXPECT_TRUE(policy_exit_is("test_bad_verdict",
				   "exit=\"bad verdict: group returned 7\""));
	EXPECT_EQ(1, kmsg_count("fault policy test_bad_verdict detached: bad verdict: group returned 7"));
	iopf_policy_exit_print(stderr, "test_bad_verdict",
			       &COUNTS(BAD_VERDICT)->exit_info);

	/* The target is free again while the dead policy's link is open */
	struct fault_policy_bpf *other = fault_policy_bpf__open();
	struct bpf_map *map;
	struct bpf_link *link;

	ASSERT_NE(NULL, other);
	bpf_object__for_each_map(map, other->obj)
		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
			bpf_map__set_autocreate(map, map == other->maps.deny_group);
	ASSERT_EQ(0, fault_policy_bpf__load(other));
	link = bpf_map__attach_struct_ops(other->maps.deny_group);
	EXPECT_NE(NULL, link);
	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 1, true, NULL, &d));
	bpf_link__destroy(link);
	fault_policy_bpf__destroy(other);

	/* Closing the dead policy's link calls exit no second time */
	detach(self, 0);
	EXPECT_EQ(1, COUNTS(BAD_VERDICT)->exit);
}

/* The error kfunc detaches the policy with the reason it gave */
TEST_F(policy, error_kfunc_detaches_the_policy_with_its_reason)
{
	struct swsva_counters d;

	self->skel->rodata->error_after = 3;
	ASSERT_EQ(0, attach(_metadata, self,
			    self->skel->maps.error_after_policy, NULL));
	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 1, true, NULL, &d));
	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 1, true, NULL, &d));
	/* The third group: the policy gives up and the kernel handles it */
	EXPECT_EQ(0, dma_fresh(self->fd, 1, true, NULL, &d));
	EXPECT_EQ(0, dma_fresh(self->fd, 8, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_success);
	EXPECT_EQ(3, COUNTS(ERROR_AFTER)->groups);

	expect_exit(_metadata, COUNTS(ERROR_AFTER), IOPF_POLICY_EXIT_ERROR,
		    "error", "test: enough groups");
	EXPECT_EQ(2, policy_stat("test_error_after", "group_invalid"));
	EXPECT_EQ(1, kmsg_count("fault policy test_error_after detached: error: test: enough groups"));
}

/*
 * A kfunc called with arguments it refuses at run time (more than 64
 * pages to prefault) detaches the policy; the request is handled by the
 * kernel as without it.
 */
TEST_F(policy, kfunc_misuse_detaches_the_policy_with_its_reason)
{
	struct swsva_counters d;

	self->skel->rodata->prefault_pages = 65;
	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.prefault, NULL));
	EXPECT_EQ(0, dma_fresh(self->fd, 16, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_success);
	EXPECT_EQ(1, COUNTS(PREFAULT)->prefault_errors);
	EXPECT_EQ(0, COUNTS(PREFAULT)->prefaulted);
	EXPECT_EQ(1, COUNTS(PREFAULT)->requests);

	expect_exit(_metadata, COUNTS(PREFAULT), IOPF_POLICY_EXIT_KFUNC,
		    "kfunc misuse", "bpf_iommu_fault_prefault(");
	EXPECT_NE(NULL, strstr(COUNTS(PREFAULT)->exit_info.msg, "65 pages"));
	EXPECT_EQ(1, policy_stat("test_prefault", "errors"));
}

#define TRACEFS		"/sys/kernel/tracing"
#define INSTANCE	TRACEFS "/instances/iopfkit_policy"

static int count_lines(const char *text, const char *a, const char *b)
{
	int n = 0;

	for (const char *p = text; p && *p; ) {
		const char *nl = strchrnul(p, '\n');
		char line[1024];

		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		n += strstr(line, a) && (!b || strstr(line, b));
		p = *nl ? nl + 1 : nl;
	}
	return n;
}

/*
 * Attach, each verdict other than default, and detach are traced; the SVA
 * handler reports a request a policy refused with outcome "policy".
 */
TEST_F(policy, attach_verdicts_and_detach_are_traced)
{
	struct swsva_counters d;
	char *trace;

	rmdir(INSTANCE);
	ASSERT_EQ(0, mkdir(INSTANCE, 0755));
	ASSERT_EQ(0, write_file(INSTANCE "/events/iommu/iommu_fault_policy_attach/enable", "1"));
	ASSERT_EQ(0, write_file(INSTANCE "/events/iommu/iommu_fault_policy_detach/enable", "1"));
	ASSERT_EQ(0, write_file(INSTANCE "/events/iommu/iommu_fault_policy_verdict/enable", "1"));
	ASSERT_EQ(0, write_file(INSTANCE "/events/iommu/iommu_sva_fault/enable", "1"));

	bpf_map__set_autocreate(self->skel->maps.deny_request, true);
	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.deny_group, NULL));
	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 16, true, NULL, &d));
	detach(self, 0);
	self->link[0] = bpf_map__attach_struct_ops(self->skel->maps.deny_request);
	ASSERT_NE(NULL, self->link[0]);
	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 16, true, NULL, &d));
	detach(self, 0);

	trace = read_file(INSTANCE "/trace", NULL);
	ASSERT_NE(NULL, trace);
	EXPECT_EQ(1, count_lines(trace, "iommu_fault_policy_attach: name=test_deny_group device=swsva0 pasid=0 tgid=0", NULL));
	EXPECT_EQ(COUNTS(DENY_GROUP)->groups,
		  count_lines(trace, "name=test_deny_group device=swsva0", "hook=group verdict=invalid"));
	EXPECT_EQ(COUNTS(DENY_REQUEST)->requests,
		  count_lines(trace, "name=test_deny_request device=swsva0", "hook=request verdict=invalid"));
	/* The SVA handler reports the request the policy refused */
	EXPECT_EQ(COUNTS(DENY_REQUEST)->requests,
		  count_lines(trace, "iommu_sva_fault:", "outcome=policy"));
	EXPECT_EQ(1, count_lines(trace, "iommu_fault_policy_detach: name=test_deny_group kind=unreg", NULL));
	EXPECT_EQ(1, count_lines(trace, "iommu_fault_policy_detach: name=test_deny_request kind=unreg", NULL));
	EXPECT_LT(0, COUNTS(DENY_GROUP)->groups);
	free(trace);
	rmdir(INSTANCE);
}

/* Two endpoints, a policy on each: each sees its own device only */
TEST_F(policy, two_policies_on_two_endpoints)
{
	struct swsva_counters d0, d1;
	int fd1;

	fd1 = swsva_open(1);
	if (fd1 < 0)
		SKIP(return, "no second endpoint (swsva endpoints=1)");
	ASSERT_LT(0, swsva_bind(fd1));
	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.deny_group,
			    self->skel->maps.pass_ep1));

	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 8, true, NULL, &d0));
	EXPECT_EQ(0, dma_fresh(fd1, 8, true, NULL, &d1));
	EXPECT_EQ(d0.groups, COUNTS(DENY_GROUP)->groups);
	EXPECT_EQ(d1.groups, COUNTS(PASS_EP1)->groups);
	EXPECT_EQ(d1.page_requests, COUNTS(PASS_EP1)->group_requests);
	EXPECT_EQ(d1.groups, COUNTS(PASS_EP1)->responses);
	EXPECT_EQ(0, COUNTS(DENY_GROUP)->wrong_device);
	EXPECT_EQ(0, COUNTS(PASS_EP1)->wrong_device);
	close(fd1);
	EXPECT_EQ(swsva_sysfs_counter(1, "groups"),
		  swsva_sysfs_counter(1, "responses"));
}

/* Overlapping targets: the second policy gets EBUSY and changes nothing */
TEST_F(policy, second_policy_on_an_overlapping_target_is_busy)
{
	struct bpf_link *link;
	struct swsva_counters d;

	/* deny_group on every device overlaps pass on swsva0 */
	OPS_DEVICE(self->skel->struct_ops.deny_group)[0] = '\0';
	/* a PASID of swsva1 does not overlap it */
	strcpy(OPS_DEVICE(self->skel->struct_ops.pass_ep1), "swsva1");
	self->skel->struct_ops.pass_ep1->pasid = 1;
	bpf_map__set_autocreate(self->skel->maps.deny_group, true);
	bpf_map__set_autocreate(self->skel->maps.pass_ep1, true);
	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.pass, NULL));

	link = bpf_map__attach_struct_ops(self->skel->maps.deny_group);
	EXPECT_EQ(NULL, link);
	EXPECT_EQ(EBUSY, errno);
	bpf_link__destroy(link);
	EXPECT_EQ(0, COUNTS(DENY_GROUP)->init);
	EXPECT_EQ(0, COUNTS(DENY_GROUP)->exit);
	EXPECT_STREQ("", policy_line("test_deny_group", (char[256]){ 0 }, 256));

	self->link[1] = bpf_map__attach_struct_ops(self->skel->maps.pass_ep1);
	EXPECT_NE(NULL, self->link[1]);

	EXPECT_EQ(0, dma_fresh(self->fd, 4, true, NULL, &d));
	EXPECT_EQ(d.groups, COUNTS(PASS)->groups);
	EXPECT_EQ(0, COUNTS(DENY_GROUP)->groups);
}

/*
 * A process target covers the PASID of the process from its first bind
 * on, and only that PASID: the parent's DMA on the same device works.
 */
TEST_F(policy, process_target_covers_the_process_from_its_first_bind)
{
	int go[2], done[2];
	struct swsva_counters d;
	char c = 0;
	pid_t child;

	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		int fd, ret;

		close(self->fd);
		if (read(go[0], &c, 1) != 1)
			_exit(10);
		fd = swsva_open(0);
		if (fd < 0 || swsva_bind(fd) <= 0)
			_exit(11);
		ret = dma_fresh(fd, 4, true, NULL, &d);
		c = ret == -EFAULT ? 0 : 12;
		if (write(done[1], &c, 1) != 1)
			_exit(13);
		_exit(c);
	}

	OPS_DEVICE(self->skel->struct_ops.deny_group)[0] = '\0';
	self->skel->struct_ops.deny_group->tgid = child;
	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.deny_group, NULL));
	EXPECT_EQ(0, policy_stat("test_deny_group", "covers"));

	ASSERT_EQ(1, write(go[1], &c, 1));
	ASSERT_EQ(1, read(done[0], &c, 1));
	EXPECT_EQ(0, c);
	EXPECT_LT(0, COUNTS(DENY_GROUP)->groups);
	EXPECT_EQ(1, COUNTS(DENY_GROUP)->binds);
	EXPECT_EQ(child, COUNTS(DENY_GROUP)->last_bind_tgid);
	EXPECT_NE((unsigned int)self->pasid, COUNTS(DENY_GROUP)->last_pasid);

	/* The parent, another PASID on the same device, is not covered */
	long long groups = COUNTS(DENY_GROUP)->groups;

	EXPECT_EQ(0, dma_fresh(self->fd, 4, true, NULL, &d));
	EXPECT_EQ(groups, COUNTS(DENY_GROUP)->groups);

	/* The process exits: the policy stays, covering nothing */
	int status;

	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1, COUNTS(DENY_GROUP)->unbinds);
	EXPECT_EQ(0, policy_stat("test_deny_group", "covers"));
	EXPECT_TRUE(policy_exit_is("test_deny_group", "state=attached"));
}

/* A process that bound before the attach is covered at once */
TEST_F(policy, process_target_that_bound_already_is_covered_at_attach)
{
	struct swsva_counters d;

	self->skel->struct_ops.deny_group->tgid = getpid();
	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.deny_group, NULL));
	EXPECT_EQ(self->pasid, policy_stat("test_deny_group", "covers"));
	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 2, true, NULL, &d));
	EXPECT_EQ(d.groups, COUNTS(DENY_GROUP)->groups);
}

/* A process target must exist at attach: no later process takes its place */
TEST_F(policy, process_target_that_does_not_exist_is_refused)
{
	pid_t gone = fork();
	int status;

	ASSERT_LE(0, gone);
	if (gone == 0)
		_exit(0);
	ASSERT_EQ(gone, waitpid(gone, &status, 0));
	self->skel->struct_ops.deny_group->tgid = gone;
	EXPECT_EQ(-ESRCH, attach(_metadata, self, self->skel->maps.deny_group,
				 NULL));
	EXPECT_EQ(0, COUNTS(DENY_GROUP)->init);
	EXPECT_STREQ("", policy_line("test_deny_group", (char[256]){ 0 }, 256));
}

/* A PASID target covers that PASID only */
TEST_F(policy, pasid_target_covers_that_pasid_only)
{
	struct swsva_counters d;

	self->skel->struct_ops.deny_group->pasid = self->pasid;
	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.deny_group, NULL));
	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 2, true, NULL, &d));

	/* A child's DMA on its own PASID is not denied */
	pid_t child = fork();

	ASSERT_LE(0, child);
	if (child == 0) {
		int fd = swsva_open(0);

		close(self->fd);
		if (fd < 0 || swsva_bind(fd) <= 0)
			_exit(1);
		_exit(dma_fresh(fd, 2, true, NULL, &d) ? 2 : 0);
	}
	int status;

	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, COUNTS(DENY_GROUP)->wrong_pasid);
	EXPECT_EQ(1, policy_stat("test_deny_group", "group_invalid"));
}

/*
 * Detach and attach policies while DMAs run: every group is answered
 * once (the teardown checks it), the DMAs end with success or the
 * policy's Invalid, and nothing else.
 */
struct storm {
	int fd;
	int seconds;
	int ok, denied, other, last_error;
};

static void *dma_storm(void *arg)
{
	struct storm *s = arg;
	uint64_t t0 = swsva_now_ns();
	struct swsva_counters d;

	while (swsva_now_ns() - t0 < s->seconds * 1000000000ull) {
		int ret = dma_fresh(s->fd, 16, true, NULL, &d);

		if (!ret)
			s->ok++;
		else if (ret == -EFAULT)
			s->denied++;
		else
			s->other++, s->last_error = ret;
	}
	return NULL;
}

TEST_F_TIMEOUT(policy, detach_during_a_dma_storm, 120)
{
	struct storm s[2] = { { .fd = self->fd, .seconds = 4 },
			      { .seconds = 4 } };
	pthread_t t[2];
	int rounds = 0;
	uint64_t t0;

	s[1].fd = swsva_open(0);
	ASSERT_LE(0, s[1].fd);
	ASSERT_LT(0, swsva_bind(s[1].fd));
	bpf_map__set_autocreate(self->skel->maps.deny_request, true);
	bpf_map__set_autocreate(self->skel->maps.prefault, true);
	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.deny_group, NULL));
	detach(self, 0);

	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, dma_storm, &s[i]));
	t0 = swsva_now_ns();
	while (swsva_now_ns() - t0 < 3500000000ull) {
		struct bpf_map *maps[] = { self->skel->maps.deny_group,
					   self->skel->maps.deny_request,
					   self->skel->maps.prefault };
		struct bpf_link *link;

		link = bpf_map__attach_struct_ops(maps[rounds % 3]);
		EXPECT_NE(NULL, link);
		usleep(1000 * (rounds % 7));
		bpf_link__destroy(link);
		rounds++;
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	close(s[1].fd);
	TH_LOG("%d attach/detach rounds; DMAs: %d+%d ok, %d+%d denied, %d+%d other",
	       rounds, s[0].ok, s[1].ok, s[0].denied, s[1].denied,
	       s[0].other, s[1].other);
	EXPECT_EQ(0, s[0].other) TH_LOG("last error %d", s[0].last_error);
	EXPECT_EQ(0, s[1].other) TH_LOG("last error %d", s[1].last_error);
	EXPECT_LT(0, s[0].ok + s[1].ok);
}

/*
 * A process killed in the middle of its DMAs while its policy prefaults
 * its pages from the sleepable callback: the policy's mm reference and
 * mmap_lock race with the exit; every group is still answered once, and
 * the policy stays attached to a target that covers nothing.
 */
TEST_F_TIMEOUT(policy, process_killed_while_its_policy_prefaults, 120)
{
	int ready[2], go[2];
	pid_t child;
	char c;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		struct swsva_counters d;
		int fd = swsva_open(0);

		close(self->fd);
		if (fd < 0 || swsva_bind(fd) <= 0)
			_exit(1);
		/* Bound before the attach, DMAs only after it */
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		for (;;)
			dma_fresh(fd, 256, true, NULL, &d);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	self->skel->rodata->prefault_pages = 64;
	OPS_DEVICE(self->skel->struct_ops.prefault)[0] = '\0';
	self->skel->struct_ops.prefault->tgid = child;
	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.prefault, NULL));
	EXPECT_LT(0, policy_stat("test_prefault", "covers"));
	ASSERT_EQ(1, write(go[1], "g", 1));

	/* Kill it once the policy has prefaulted for it */
	for (int i = 0; i < 500 && !COUNTS(PREFAULT)->prefaulted; i++)
		usleep(10000);
	EXPECT_LT(0, COUNTS(PREFAULT)->prefaulted);
	usleep(20000);
	ASSERT_EQ(0, kill(child, SIGKILL));
	ASSERT_EQ(child, waitpid(child, NULL, 0));

	EXPECT_EQ(0, policy_stat("test_prefault", "covers"));
	EXPECT_TRUE(policy_exit_is("test_prefault", "state=attached"));
	EXPECT_EQ(0, COUNTS(PREFAULT)->prefault_errors);
	EXPECT_EQ(policy_stat("test_prefault", "groups"),
		  policy_stat("test_prefault", "responses"));
}

/*
 * The policy goes with its loader: a process that attached it through its
 * skeleton and is killed takes the link, and so the policy, with it.
 */
TEST_F(policy, policy_goes_with_its_loader)
{
	struct swsva_counters d;
	int ready[2], status;
	char line[256];
	pid_t loader;
	char c;

	ASSERT_EQ(0, pipe(ready));
	loader = fork();
	ASSERT_LE(0, loader);
	if (loader == 0) {
		struct fault_policy_bpf *skel = fault_policy_bpf__open();
		struct bpf_map *map;

		if (!skel)
			_exit(1);
		bpf_object__for_each_map(map, skel->obj)
			if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
				bpf_map__set_autocreate(map, map == skel->maps.deny_group);
		if (fault_policy_bpf__load(skel) ||
		    !bpf_map__attach_struct_ops(skel->maps.deny_group) ||
		    write(ready[1], "r", 1) != 1)
			_exit(2);
		pause();
		_exit(3);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 2, true, NULL, &d));
	EXPECT_TRUE(policy_exit_is("test_deny_group", "state=attached"));

	ASSERT_EQ(0, kill(loader, SIGKILL));
	ASSERT_EQ(loader, waitpid(loader, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_STREQ("", policy_line("test_deny_group", line, sizeof(line)));
	EXPECT_EQ(0, dma_fresh(self->fd, 2, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_success);
}

/*
 * The device goes away (module unload) with a policy attached to its
 * name: the policy is detached (target gone), and the device of that
 * name that comes next is not covered.
 */
TEST_F(policy, policy_is_detached_with_its_device_and_does_not_cover_the_next)
{
	struct swsva_counters d;
	char cmd[512];
	const char *modroot = getenv("IOPFKIT_MODROOT");
	long long groups;

	ASSERT_EQ(0, attach(_metadata, self, self->skel->maps.deny_group, NULL));
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(0, system("rmmod swsva"));
	EXPECT_TRUE(wait_for((volatile long long *)&COUNTS(DENY_GROUP)->exit, 1, 5000));
	EXPECT_TRUE(policy_exit_is("test_deny_group", "state=detached"));
	EXPECT_TRUE(policy_exit_is("test_deny_group",
				   "exit=\"target gone: device swsva0 was removed\""));
	groups = COUNTS(DENY_GROUP)->groups;

	snprintf(cmd, sizeof(cmd), "modprobe %s%s swsva",
		 modroot ? "-d " : "", modroot ? modroot : "");
	ASSERT_EQ(0, system(cmd));
	self->fd = swsva_open(0);
	ASSERT_LE(0, self->fd);
	ASSERT_LT(0, swsva_bind(self->fd));
	EXPECT_EQ(0, dma_fresh(self->fd, 2, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_success);
	EXPECT_EQ(groups, COUNTS(DENY_GROUP)->groups);
}

/* What the verifier said, for the refusal tests */
static char verifier_log[65536];
static size_t verifier_log_len;

static int log_print(enum libbpf_print_level level, const char *fmt,
		     va_list ap)
{
	if (verifier_log_len < sizeof(verifier_log) - 1)
		verifier_log_len += vsnprintf(verifier_log + verifier_log_len,
					      sizeof(verifier_log) - verifier_log_len,
					      fmt, ap);
	return 0;
}

/* Load the one policy @name of progs/fault_policy_refused.bpf.c */
static int load_refused(const char *name)
{
	struct fault_policy_refused_bpf *skel;
	libbpf_print_fn_t old;
	struct bpf_map *map;
	int err;

	skel = fault_policy_refused_bpf__open();
	if (!skel)
		return -errno;
	bpf_object__for_each_map(map, skel->obj)
		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
			bpf_map__set_autocreate(map,
						!strcmp(bpf_map__name(map), name));
	verifier_log_len = 0;
	verifier_log[0] = '\0';
	old = libbpf_set_print(log_print);
	err = fault_policy_refused_bpf__load(skel);
	if (!err) {
		/* Target fields reach the kernel when the map is attached */
		struct bpf_link *link;

		link = bpf_map__attach_struct_ops(bpf_object__find_map_by_name(skel->obj, name));
		err = link ? 0 : -errno;
		bpf_link__destroy(link);
	}
	libbpf_set_print(old);
	fault_policy_refused_bpf__destroy(skel);
	return err;
}

TEST(verifier_refuses_a_write_to_the_request)
{
	EXPECT_EQ(-EACCES, load_refused("write_ctx"));
	EXPECT_NE(NULL, strstr(verifier_log, "only read is supported"))
		TH_LOG("%s", verifier_log);
}

/* Each kfunc in the callback it is for: the verifier refuses the rest */
TEST(verifier_refuses_prefault_from_the_group_callback)
{
	EXPECT_EQ(-EACCES, load_refused("prefault_in_group"));
	EXPECT_NE(NULL, strstr(verifier_log,
			       "calling kernel function bpf_iommu_fault_prefault is not allowed"))
		TH_LOG("%s", verifier_log);
}

TEST(verifier_refuses_group_request_from_the_request_callback)
{
	EXPECT_EQ(-EACCES, load_refused("group_request_in_request"));
	EXPECT_NE(NULL, strstr(verifier_log,
			       "calling kernel function bpf_iommu_fault_group_request is not allowed"))
		TH_LOG("%s", verifier_log);
}

TEST(a_sleepable_group_callback_is_refused)
{
	EXPECT_EQ(-EINVAL, load_refused("sleepable_group_ops"));
}

TEST(unknown_flags_are_refused)
{
	EXPECT_EQ(-EINVAL, load_refused("bad_flags"));
}

TEST(a_target_is_a_pasid_or_a_process_not_both)
{
	EXPECT_EQ(-EINVAL, load_refused("pasid_and_tgid"));
}

/* A map registered without a link would have no owner to detach it */
TEST(a_policy_without_a_link_is_refused)
{
	char *text;

	EXPECT_EQ(-EOPNOTSUPP, load_refused("no_link"));
	text = read_file(POLICIES, NULL);
	EXPECT_STREQ("", text ? text : "(unreadable)");
	free(text);
}

/* Attaching takes the privileges of BPF struct_ops: an unprivileged user gets EPERM */
TEST(an_unprivileged_user_cannot_attach_a_policy)
{
	pid_t child = fork();
	int status;

	ASSERT_LE(0, child);
	if (child == 0) {
		struct fault_policy_bpf *skel;
		int err;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		libbpf_set_print(NULL);
		skel = fault_policy_bpf__open();
		if (!skel)
			_exit(11);
		err = fault_policy_bpf__load(skel);
		fault_policy_bpf__destroy(skel);
		_exit(err == -EPERM ? 0 : 12);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * bpftool alone: register a policy from its object, see it deny, see the
 * second registration on the same target refused, unpin to detach.
 */
static int bpftool(char *out, size_t size, const char *fmt, ...)
{
	char args[512], cmd[PATH_MAX + 512];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s %s", build_path("bpftool/bpftool"),
		 args);
	status = run_capture(argv, out, size);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(policy, bpftool_alone_attaches_and_detaches_a_policy)
{
	char obj[PATH_MAX], out[4096];
	struct swsva_counters d;
	int fd = self->fd;

	system("mount -t bpf bpf " BPFFS " 2>/dev/null");
	system("rm -rf " BPFFS "/iopfkit_deny " BPFFS "/iopfkit_deny2");
	ASSERT_EQ(0, mkdir(BPFFS "/iopfkit_deny", 0700));
	ASSERT_EQ(0, mkdir(BPFFS "/iopfkit_deny2", 0700));
	snprintf(obj, sizeof(obj), "%s", build_path("bpfobj/policy_deny.bpf.o"));

	EXPECT_EQ(0, bpftool(out, sizeof(out), "struct_ops register %s %s",
			     obj, BPFFS "/iopfkit_deny"))
		TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "Registered iommu_fault_ops deny_all"));
	EXPECT_EQ(-EFAULT, dma_fresh(fd, 4, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_invalid);
	EXPECT_EQ(d.groups, policy_stat("deny_all", "group_invalid"));

	EXPECT_NE(0, bpftool(out, sizeof(out), "struct_ops register %s %s",
			     obj, BPFFS "/iopfkit_deny2"));
	EXPECT_NE(NULL, strstr(out, "Device or resource busy")) TH_LOG("%s", out);

	EXPECT_EQ(0, bpftool(out, sizeof(out), "struct_ops show name deny_all"));
	EXPECT_NE(NULL, strstr(out, "iommu_fault_ops")) TH_LOG("%s", out);

	/* The link goes when its last reference does: a deferred release */
	system("rm -rf " BPFFS "/iopfkit_deny " BPFFS "/iopfkit_deny2");
	for (int ms = 0; ms < 5000 && *policy_line("deny_all", out, sizeof(out)); ms += 10)
		usleep(10000);
	EXPECT_STREQ("", out);
	EXPECT_EQ(0, dma_fresh(fd, 4, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_success);
}

TEST_HARNESS_MAIN
