// SPDX-License-Identifier: GPL-2.0
/*
 * Fault policies whose callbacks do not end (progs/fault_policy_stall.bpf.c):
 * an init() that spins must not hold up binds, and a request callback that
 * prefaults in a loop is detached for STALL once its group's budget is
 * spent, while unbinds, exits and detaches elsewhere complete.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "kselftest_harness.h"
#include "../lib/proc_util.h"
#include "../lib/swsva_fixture.h"

static size_t page_size;

#include "../lib/policy_util.h"
#include "fault_policy_stall.skel.h"

/* The skeleton with only its struct_ops maps @names (NULL-ended) */
static struct fault_policy_stall_bpf *open_only(const char *const *names)
{
	struct fault_policy_stall_bpf *skel = fault_policy_stall_bpf__open();

	if (skel)
		select_struct_ops(skel->obj, names);
	return skel;
}

/*
 * Load the maps @names, and attach idle to a PASID nobody has: the static
 * key is on, so that binds and unbinds call into the policies
 */
static struct fault_policy_stall_bpf *open_with_idle(const char *const *names,
						    struct bpf_link **idle)
{
	struct fault_policy_stall_bpf *skel = open_only(names);
	int err;

	if (!skel)
		return NULL;
	skel->struct_ops.idle->pasid = (1 << 20) - 1;
	if (fault_policy_stall_bpf__load(skel) ||
	    !(*idle = attach_map(skel->maps.idle, &err))) {
		fault_policy_stall_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

FIXTURE(stall) {
};

FIXTURE_SETUP(stall)
{
	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, swsva_load_module(NULL));
}

FIXTURE_TEARDOWN(stall)
{
	EXPECT_ALL_ANSWERED(0);
	EXPECT_ALL_ANSWERED(1);
	EXPECT_TRUE(no_policy_left());
}

struct attach_arg {
	struct bpf_map *map;
	struct bpf_link *link;
	int err;
	volatile int done;
};

static void *attach_thread(void *data)
{
	struct attach_arg *a = data;

	a->link = attach_map(a->map, &a->err);
	a->done = 1;
	return NULL;
}

/*
 * A policy's init() may sleep and spin as long as the verifier lets it:
 * while it runs, another process binds and unbinds, with another policy
 * attached (so the bind calls into the policies). The bind must not wait
 * for init() to end.
 */
TEST_F_TIMEOUT(stall, init_that_spins_does_not_stall_binds, 120)
{
	const char *const names[] = { "idle", "spin_init", NULL };
	struct fault_policy_stall_bpf *skel;
	struct attach_arg a = {};
	struct bpf_link *other;
	int ready[2], go[2];
	pthread_t thread;
	char c = 0;
	pid_t child;

	skel = open_with_idle(names, &other);
	ASSERT_NE(NULL, skel);

	a.map = skel->maps.spin_init;
	ASSERT_EQ(0, pthread_create(&thread, NULL, attach_thread, &a));
	while (!*(volatile __u32 *)&skel->bss->init_spinning && !a.done)
		usleep(1000);
	ASSERT_EQ(0, a.done) TH_LOG("the attach ended before init(): %s", strerror(-a.err));

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		int fd = swsva_open(0);

		c = fd >= 0 && swsva_bind(fd) > 0;
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	EXPECT_EQ(1, c);
	/* The bind came back while init() still spun */
	EXPECT_EQ(0, *(volatile __u32 *)&skel->bss->init_done);

	skel->bss->release = 1;
	ASSERT_EQ(0, pthread_join(thread, NULL));
	/* Its unbind, at exit, with the policy attached */
	ASSERT_EQ(1, write(go[1], &c, 1));
	EXPECT_EQ(0, wait_exit(child));
	EXPECT_EQ(0, a.err);
	EXPECT_EQ(1, skel->bss->init_done);
	bpf_link__destroy(a.link);
	bpf_link__destroy(other);
	fault_policy_stall_bpf__destroy(skel);
	EXPECT_TRUE(no_policy_left());
}

/* A DMA of @pages fresh pages on endpoint @ep, in a process of its own */
static pid_t dma_elsewhere(int ep, size_t pages)
{
	struct swsva_counters d;
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	fd = swsva_open(ep);
	if (fd < 0 || swsva_bind(fd) <= 0)
		_exit(10);
	_exit(dma_fresh(fd, pages, true, NULL, &d) ? 11 : 0);
}

static double ms_since(uint64_t t0)
{
	return (swsva_now_ns() - t0) / 1e6;
}

/*
 * A sleepable request callback on swsva1 that prefaults in a loop for
 * minutes: the kernel detaches it (STALL) once the group's budget is
 * spent, and its loop ends soon after. Meanwhile another process's bind,
 * DMA and unbind at exit on swsva0, which flushes the IOMMU's fault
 * queue, and the detach of another policy, complete; their latencies
 * are logged.
 */
TEST_F_TIMEOUT(stall, request_callback_that_spins_is_detached_for_stall, 300)
{
	const char *const names[] = { "spin_request", "idle", NULL };
	struct fault_policy_stall_bpf *skel;
	struct bpf_link *spin, *other;
	char line[1024];
	pid_t dma, unbind;
	uint64_t t0;
	int err;

	skel = open_with_idle(names, &other);
	ASSERT_NE(NULL, skel);
	spin = attach_map(skel->maps.spin_request, &err);
	ASSERT_EQ(0, err);

	t0 = swsva_now_ns();
	/* 64 pages: each prefault call finds 64 pages to fault in */
	dma = dma_elsewhere(1, 64);
	ASSERT_LT(0, dma);
	while (!*(volatile __u64 *)&skel->bss->prefault_calls)
		usleep(1000);
	TH_LOG("the request callback started after %.1f ms", ms_since(t0));

	t0 = swsva_now_ns();
	unbind = dma_elsewhere(0, 1);
	ASSERT_LT(0, unbind);
	EXPECT_EQ(0, wait_exit(unbind));
	TH_LOG("bind, DMA and unbind on swsva0: %.1f ms", ms_since(t0));

	t0 = swsva_now_ns();
	bpf_link__destroy(other);
	TH_LOG("detach of another policy: %.1f ms", ms_since(t0));

	t0 = swsva_now_ns();
	EXPECT_EQ(0, wait_exit(dma));
	TH_LOG("the spinning DMA ended %.1f ms later", ms_since(t0));

	/* Every call after the budget was refused, and the loop ran out */
	EXPECT_EQ(1 << 23, skel->bss->prefault_calls);
	EXPECT_LE(1 << 22, skel->bss->prefault_cancelled);
	EXPECT_NE(NULL, strstr(policy_line("stall_request", line, sizeof(line)),
			       "exit=\"stall: ")) TH_LOG("%s", line);
	bpf_link__destroy(spin);
	fault_policy_stall_bpf__destroy(skel);
}

/*
 * The device a policy names goes away while the policy's init() runs:
 * the attach fails with ENODEV, rather than attach a policy that would
 * cover the next device of that name.
 */
TEST_F_TIMEOUT(stall, device_removed_during_init_fails_the_attach, 120)
{
	const char *const names[] = { "spin_init", NULL };
	const char *modroot = getenv("IOPFKIT_MODROOT");
	struct fault_policy_stall_bpf *skel;
	struct attach_arg a = {};
	pthread_t thread;
	char cmd[512];

	skel = open_only(names);
	ASSERT_NE(NULL, skel);
	ASSERT_EQ(0, fault_policy_stall_bpf__load(skel));
	a.map = skel->maps.spin_init;
	ASSERT_EQ(0, pthread_create(&thread, NULL, attach_thread, &a));
	while (!*(volatile __u32 *)&skel->bss->init_spinning && !a.done)
		usleep(1000);
	ASSERT_EQ(0, a.done);

	/* swsva1, its target, goes with the module */
	ASSERT_EQ(0, system("rmmod swsva"));
	skel->bss->release = 1;
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(-ENODEV, a.err);
	EXPECT_EQ(NULL, a.link);
	fault_policy_stall_bpf__destroy(skel);

	snprintf(cmd, sizeof(cmd), "modprobe %s%s swsva",
		 modroot ? "-d " : "", modroot ? modroot : "");
	ASSERT_EQ(0, system(cmd));
}

TEST_HARNESS_MAIN
