// SPDX-License-Identifier: GPL-2.0
/*
 * Guards. One that the kernel detaches must not open what it guarded when
 * it asked to fail closed (IOMMU_FAULT_OPS_FAIL_CLOSED): its target
 * refuses every page request, without calling it, until its link is
 * closed; without the flag the target falls back to the kernel's
 * handling. One with a group callback only must see every request of a
 * group, not only the last. Policies: progs/fault_policy_guard.bpf.c.
 */
#define _GNU_SOURCE
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "kselftest_harness.h"
#include "../lib/proc_util.h"
#include "../lib/swsva_fixture.h"

static size_t page_size;

#include "../lib/policy_util.h"
#include "fault_policy_guard.skel.h"

FIXTURE(guard) {
	int fd;
	int pasid;
	struct swsva_counters start;
	struct fault_policy_guard_bpf *skel;
	struct bpf_link *link;
	void *allowed;
};

FIXTURE_SETUP(guard)
{
	SWSVA_SETUP_BOUND(self);
	self->skel = fault_policy_guard_bpf__open();
	ASSERT_NE(NULL, self->skel);
	self->allowed = map_fresh(64);
	ASSERT_NE(NULL, self->allowed);
}

FIXTURE_TEARDOWN(guard)
{
	bpf_link__destroy(self->link);
	fault_policy_guard_bpf__destroy(self->skel);
	munmap(self->allowed, 64 * page_size);
	close(self->fd);
	EXPECT_ALL_ANSWERED(0);
	EXPECT_TRUE(no_policy_left());
}

/* Attach guard @name over self->allowed, and check that it guards */
static void attach_guard(struct __test_metadata *_metadata,
			 FIXTURE_DATA(guard) *self, const char *name)
{
	const char *const names[] = { name, NULL };
	struct swsva_counters d;
	int err;

	select_struct_ops(self->skel->obj, names);
	ASSERT_EQ(0, fault_policy_guard_bpf__load(self->skel));
	self->skel->bss->allow_lo = (uintptr_t)self->allowed;
	self->skel->bss->allow_hi = (uintptr_t)self->allowed + 64 * page_size;
	self->link = attach_map(bpf_object__find_map_by_name(self->skel->obj, name),
				&err);
	ASSERT_EQ(0, err);

	ASSERT_EQ(0, swsva_dma(self->fd, true, self->allowed, 4 * page_size,
			       (char[4 << 12]){ 0 }, NULL));
	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 2, true, NULL, &d));
}

/* Make the guard give up in its next group (inside the range), and wait */
static void force_failure(struct __test_metadata *_metadata,
			  FIXTURE_DATA(guard) *self, const char *policy,
			  const char *state, int expect)
{
	char line[1024];

	self->skel->bss->fail_now = 1;
	EXPECT_EQ(expect, swsva_dma(self->fd, true, (char *)self->allowed + 8 * page_size,
				    page_size, (char[4096]){ 0 }, NULL));
	for (int ms = 0; ms < 5000 && !strstr(policy_line(policy, line, sizeof(line)),
					       "exit="); ms += 10)
		usleep(10000);
	EXPECT_NE(NULL, strstr(line, state)) TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, "exit=\"error: forced\"")) TH_LOG("%s", line);
}

TEST_F(guard, a_guard_that_fails_closed_keeps_refusing)
{
	struct swsva_counters d;
	unsigned long long calls;
	void *outside;

	attach_guard(_metadata, self, "guard_closed");
	/* The group it failed in is refused too */
	force_failure(_metadata, self, "closed_guard", "state=closed", -EFAULT);
	calls = self->skel->bss->calls[0];

	/* Outside and inside alike: refused, untouched, without asking it */
	EXPECT_EQ(-EFAULT, dma_fresh(self->fd, 2, true, &outside, &d));
	EXPECT_EQ(0, resident_pages(outside, 2));
	munmap(outside, 2 * page_size);
	EXPECT_EQ(d.groups, d.resp_invalid);
	EXPECT_EQ(-EFAULT, swsva_dma(self->fd, true, (char *)self->allowed + 16 * page_size,
				     page_size, (char[4096]){ 0 }, NULL));
	EXPECT_EQ(calls, self->skel->bss->calls[0]);
	EXPECT_LE(d.groups + 1, policy_stat("closed_guard", "closed"));

	/* Another policy cannot take the target meanwhile */
	struct fault_policy_guard_bpf *other = fault_policy_guard_bpf__open();
	const char *const names[] = { "guard_open", NULL };
	int err;

	ASSERT_NE(NULL, other);
	select_struct_ops(other->obj, names);
	ASSERT_EQ(0, fault_policy_guard_bpf__load(other));
	bpf_link__destroy(attach_map(other->maps.guard_open, &err));
	EXPECT_EQ(-EBUSY, err);
	fault_policy_guard_bpf__destroy(other);

	/* Closing its link opens the target */
	bpf_link__destroy(self->link);
	self->link = NULL;
	EXPECT_EQ(0, dma_fresh(self->fd, 2, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_success);
}

TEST_F(guard, a_guard_without_the_flag_fails_open)
{
	struct swsva_counters d;

	attach_guard(_metadata, self, "guard_open");
	/* Its verdict in the failing group was the default */
	force_failure(_metadata, self, "open_guard", "state=detached", 0);
	EXPECT_EQ(0, dma_fresh(self->fd, 2, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_success);
}

/*
 * A group verdict answers every request of the group: a guard with a
 * group callback only, as on a domain whose handler is not SVA's, must
 * see the forbidden page whichever request it is in; here the first of
 * two, raised raw as a device would.
 */
TEST_F(guard, a_group_guard_sees_every_request_of_the_group)
{
	const char *const names[] = { "guard_every_request", NULL };
	struct fault_policy_guard_bpf *skel = self->skel;
	char *mem = map_fresh(4);
	unsigned int resp = ~0u;
	int err;

	ASSERT_NE(NULL, mem);
	select_struct_ops(skel->obj, names);
	ASSERT_EQ(0, fault_policy_guard_bpf__load(skel));
	skel->bss->deny_lo = (uintptr_t)mem;
	skel->bss->deny_hi = (uintptr_t)mem + page_size;
	self->link = attach_map(skel->maps.guard_every_request, &err);
	ASSERT_EQ(0, err);

	/* Pages 0-1: the forbidden page first, the last one allowed */
	ASSERT_EQ(0, swsva_raw_group(self->fd, self->pasid, mem, 2, &resp));
	EXPECT_EQ(SWSVA_RESP_INVALID, resp);
	EXPECT_EQ(0, resident_pages(mem, 2));
	EXPECT_EQ(2, skel->bss->requests_seen);

	/* Pages 1-2: allowed */
	ASSERT_EQ(0, swsva_raw_group(self->fd, self->pasid, mem + page_size, 2, &resp));
	EXPECT_EQ(SWSVA_RESP_SUCCESS, resp);
	EXPECT_EQ(2, resident_pages(mem + page_size, 2));
	EXPECT_EQ(4, skel->bss->requests_seen);
	munmap(mem, 4 * page_size);

	/* 64 requests, the forbidden page the 40th: each seen once */
	mem = map_fresh(64);
	ASSERT_NE(NULL, mem);
	skel->bss->deny_lo = (uintptr_t)mem + 39 * page_size;
	skel->bss->deny_hi = (uintptr_t)mem + 40 * page_size;
	ASSERT_EQ(0, swsva_raw_group(self->fd, self->pasid, mem, 64, &resp));
	EXPECT_EQ(SWSVA_RESP_INVALID, resp);
	EXPECT_EQ(0, resident_pages(mem, 64));
	EXPECT_EQ(4 + 64, skel->bss->requests_seen);
	munmap(mem, 64 * page_size);
}

/* DMAs that run while the link of a closed guard closes */
static pid_t dma_worker(int fd, volatile int *stop)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct swsva_counters d;

		while (!*stop) {
			int ret = dma_fresh(fd, 2, true, NULL, &d);

			if (ret && ret != -EFAULT)
				_exit(1);
		}
		_exit(0);
	}
	return pid;
}

/*
 * Closing the link of a closed guard while the device faults: the fault
 * path, which finds the closed policy to refuse for it, must not use it
 * after its link freed it (KASAN on the debug kernel), and every group
 * is answered once.
 */
TEST_F(guard, a_closed_guard_detached_under_load)
{
	volatile int *stop = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct swsva_counters d;
	pid_t worker;

	ASSERT_NE(MAP_FAILED, stop);
	attach_guard(_metadata, self, "guard_closed");
	force_failure(_metadata, self, "closed_guard", "state=closed", -EFAULT);
	worker = dma_worker(self->fd, stop);
	ASSERT_LT(0, worker);
	usleep(200000);
	bpf_link__destroy(self->link);
	self->link = NULL;
	usleep(200000);
	*stop = 1;
	EXPECT_EQ(0, wait_exit(worker));
	EXPECT_EQ(0, dma_fresh(self->fd, 2, true, NULL, &d));
}

TEST_HARNESS_MAIN
