// SPDX-License-Identifier: GPL-2.0
/*
 * What a fault policy may not do (progs/fault_policy_limits.bpf.c): be
 * attached by whoever can load BPF but lacks CAP_SYS_ADMIN, except to a
 * process it may ptrace, and then answer Response Failure (which turns
 * the device's PRI off for everyone) or follow the process into an exec;
 * and prefault what get_user_pages() refuses (secretmem, a read-only
 * mapping for a write, PROT_NONE).
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "kselftest_harness.h"
#include "../lib/proc_util.h"
#include "../lib/swsva_fixture.h"

static size_t page_size;

#include "../lib/policy_util.h"
#include "fault_policy_limits.skel.h"

#define EXEC_ENV	"IOPFKIT_LIMITS_EXEC_FD"

static struct fault_policy_limits_bpf *open_only(const char *const *names)
{
	struct fault_policy_limits_bpf *skel = fault_policy_limits_bpf__open();

	if (skel)
		select_struct_ops(skel->obj, names);
	return skel;
}

FIXTURE(limits) {
	int fd;
	int pasid;
	struct swsva_counters start;
};

FIXTURE_SETUP(limits)
{
	SWSVA_SETUP_BOUND(self);
}

#define PCIE_PRI	"/sys/module/swsva/parameters/pcie_pri"
#define PRI_ENABLED	"/sys/bus/swsva/devices/swsva0/pri_enabled"

FIXTURE_TEARDOWN(limits)
{
	/* a_failure_verdict_turns_pri_off may have left them changed */
	write_file(PCIE_PRI, "0");
	write_file(PRI_ENABLED, "1");
	close(self->fd);
	EXPECT_ALL_ANSWERED(0);
	EXPECT_TRUE(no_policy_left());
}

/* Keep only CAP_BPF and CAP_PERFMON: what loading a policy needs */
static int keep_bpf_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	int bpf = CAP_BPF - 32, perfmon = CAP_PERFMON - 32;

	d[1].effective = d[1].permitted = (1U << bpf) | (1U << perfmon);
	return syscall(SYS_capset, &h, d);
}

/* A process target: the process that attaches */
#define SELF	(-1)

/* The process target of the skeleton's policy @name */
static int set_tgid(struct fault_policy_limits_bpf *skel, const char *name,
		    pid_t tgid)
{
	if (!strcmp(name, "one_process"))
		skel->struct_ops.one_process->tgid = tgid;
	else if (!strcmp(name, "fail_process"))
		skel->struct_ops.fail_process->tgid = tgid;
	else if (!strcmp(name, "deny_process"))
		skel->struct_ops.deny_process->tgid = tgid;
	else
		return -1;
	return 0;
}

/*
 * In a process with CAP_BPF and CAP_PERFMON but not CAP_SYS_ADMIN, load
 * the policy @name (a process target @tgid if not 0) and attach it, then
 * run @then (if given) with the link held: returns 0 or the attach's
 * errno, what @then returned, or 100 + n when the setup failed.
 */
static int attach_unprivileged_then(const char *name, pid_t tgid,
				    int (*then)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		const char *const names[] = { name, NULL };
		struct fault_policy_limits_bpf *skel;
		struct bpf_link *link;
		struct bpf_map *map;
		int err;

		if (keep_bpf_caps())
			_exit(101);
		libbpf_set_print(NULL);
		skel = open_only(names);
		if (!skel)
			_exit(102);
		map = bpf_object__find_map_by_name(skel->obj, name);
		if (tgid && set_tgid(skel, name, tgid == SELF ? getpid() : tgid))
			_exit(104);
		if (fault_policy_limits_bpf__load(skel))
			_exit(103);
		link = attach_map(map, &err);
		if (!err && then)
			err = -then(arg);
		bpf_link__destroy(link);
		fault_policy_limits_bpf__destroy(skel);
		_exit(-err);
	}
	return pid < 0 ? 100 : wait_exit(pid);
}

static int attach_unprivileged(const char *name, pid_t tgid)
{
	return attach_unprivileged_then(name, tgid, NULL, NULL);
}

TEST_F(limits, a_device_policy_needs_cap_sys_admin)
{
	EXPECT_EQ(EPERM, attach_unprivileged("every_device", 0));
}

TEST_F(limits, a_process_target_needs_the_right_to_ptrace_it)
{
	pid_t other = fork();

	ASSERT_LE(0, other);
	if (other == 0) {
		if (setresuid(65534, 65534, 65534))
			_exit(1);
		pause();
		_exit(0);
	}
	/* Its own process: allowed; another user's: not */
	EXPECT_EQ(0, attach_unprivileged("one_process", SELF));
	EXPECT_EQ(EPERM, attach_unprivileged("one_process", other));
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
}

/*
 * A write DMA into one fresh page makes a request; its callback
 * prefaults @pages pages at @at. Returns what the prefault returned.
 */
static int prefault_during_dma(struct __test_metadata *_metadata,
			       struct fault_policy_limits_bpf *skel, int fd,
			       void *at, unsigned int pages)
{
	struct swsva_counters d;

	skel->data->prefault_ret = -1000;
	skel->bss->prefault_pages = pages;
	skel->bss->prefault_at = (uintptr_t)at;
	EXPECT_EQ(0, dma_fresh(fd, 1, true, NULL, &d));
	EXPECT_EQ(0, skel->bss->prefault_at);
	return skel->data->prefault_ret;
}

TEST_F(limits, prefault_refuses_what_gup_refuses)
{
	const char *const names[] = { "prefault_where", NULL };
	struct fault_policy_limits_bpf *skel;
	struct bpf_link *link;
	void *rw, *ro, *none, *secret = NULL;
	int err, sfd;

	skel = open_only(names);
	ASSERT_NE(NULL, skel);
	ASSERT_EQ(0, fault_policy_limits_bpf__load(skel));
	link = attach_map(skel->maps.prefault_where, &err);
	ASSERT_EQ(0, err);

	/* What it may: an anonymous read-write mapping */
	rw = map_fresh(4);
	ASSERT_NE(NULL, rw);
	EXPECT_EQ(4, prefault_during_dma(_metadata, skel, self->fd, rw, 4));
	EXPECT_EQ(4, resident_pages(rw, 4));

	/* A write into read-only memory, and PROT_NONE */
	ro = mmap(NULL, 4 * page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none = mmap(NULL, 4 * page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_NE(MAP_FAILED, none);
	EXPECT_EQ(0, prefault_during_dma(_metadata, skel, self->fd, ro, 4));
	EXPECT_EQ(0, resident_pages(ro, 4));
	EXPECT_EQ(0, prefault_during_dma(_metadata, skel, self->fd, none, 4));
	EXPECT_EQ(0, resident_pages(none, 4));

	/* secretmem: no one but the process touches it */
	sfd = syscall(SYS_memfd_secret, 0);
	if (sfd < 0) {
		TH_LOG("no memfd_secret (%s): secretmem not checked", strerror(errno));
	} else {
		ASSERT_EQ(0, ftruncate(sfd, 4 * page_size));
		secret = mmap(NULL, 4 * page_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, sfd, 0);
		ASSERT_NE(MAP_FAILED, secret);
		EXPECT_EQ(0, prefault_during_dma(_metadata, skel, self->fd, secret, 4));
		EXPECT_EQ(0, resident_pages(secret, 4));
		munmap(secret, 4 * page_size);
		close(sfd);
	}
	munmap(rw, 4 * page_size);
	munmap(ro, 4 * page_size);
	munmap(none, 4 * page_size);
	bpf_link__destroy(link);
	fault_policy_limits_bpf__destroy(skel);
	ASSERT_LE(0, sfd) TH_LOG("memfd_secret is in the test kernel's config");
}

/* Its own DMA, under its own Failure policy: 0 if answered Invalid */
static int own_dma(void *arg)
{
	struct swsva_counters d;
	int fd = swsva_open(0), ret;

	if (fd < 0 || swsva_bind(fd) <= 0)
		return 110;
	ret = dma_fresh(fd, 2, true, NULL, &d);
	close(fd);
	return ret == -EFAULT ? 0 : ret == -EIO ? 111 : 112;
}

/*
 * Response Failure turns a function's PRI off for every process it
 * serves: a policy attached on the right to ptrace one process gets
 * Invalid answered where it says Failure.
 */
TEST_F(limits, a_limited_policy_answers_invalid_for_failure)
{
	long long failures = swsva_sysfs_counter(0, "resp_failure");

	EXPECT_EQ(0, attach_unprivileged_then("fail_process", SELF, own_dma, NULL));
	EXPECT_EQ(failures, swsva_sysfs_counter(0, "resp_failure"));
}

/*
 * The exec'd image of a_limited_policy_does_not_follow_exec: bind, run a
 * DMA, report the result on the descriptor the test passed, and wait.
 */
__attribute__((constructor)) static void exec_target(void)
{
	const char *env = getenv(EXEC_ENV);
	struct swsva_counters d;
	int report, fd, ret;
	char c;

	if (!env)
		return;
	report = atoi(env);
	page_size = sysconf(_SC_PAGESIZE);
	fd = swsva_open(0);
	ret = fd < 0 || swsva_bind(fd) <= 0 ? -ENODEV : dma_fresh(fd, 2, true, NULL, &d);
	if (write(report, &ret, sizeof(ret)) != sizeof(ret) || read(report, &c, 1) != 1)
		_exit(1);
	_exit(0);
}

struct exec_run {
	int sock;		/* to the target */
	int result;		/* its DMA's, after the exec */
	char line[1024];	/* the policy's debugfs line then */
};

/* With the link held: let the target exec, and read what came of it */
static int let_it_exec(void *arg)
{
	struct exec_run *r = arg;
	char c = 0;

	if (write(r->sock, &c, 1) != 1 ||
	    read(r->sock, &r->result, sizeof(r->result)) != sizeof(r->result))
		return 120;
	for (int ms = 0; ms < 5000 && !strstr(policy_line("limits_deny", r->line,
							   sizeof(r->line)), "exit="); ms += 10)
		usleep(10000);
	if (r->result)
		return 121;
	return strstr(r->line, "exit=\"target gone: ") ? 0 : 122;
}

/*
 * ptrace loses a process that execs a setuid program: a policy attached
 * on that right alone does not follow its process into an exec, and is
 * detached with target_gone when the new image binds.
 */
TEST_F(limits, a_limited_policy_does_not_follow_exec)
{
	struct exec_run *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int sv[2];
	pid_t target;
	char c;

	ASSERT_NE(MAP_FAILED, r);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	target = fork();
	ASSERT_LE(0, target);
	if (target == 0) {
		char env[32];

		/* No more than its loader has, or ptrace would refuse it */
		if (keep_bpf_caps() || read(sv[1], &c, 1) != 1)
			_exit(10);
		snprintf(env, sizeof(env), "%d", sv[1]);
		setenv(EXEC_ENV, env, 1);
		execl("/proc/self/exe", "fault_policy_limits", NULL);
		_exit(11);
	}
	r->sock = sv[0];
	r->result = -1;
	EXPECT_EQ(0, attach_unprivileged_then("deny_process", target, let_it_exec, r))
		TH_LOG("the exec'd target's DMA: %d; %s", r->result, r->line);
	c = 0;
	EXPECT_EQ(1, write(sv[0], &c, 1));
	EXPECT_EQ(0, wait_exit(target));
}

static int read_number(const char *path)
{
	char *text = read_file(path, NULL);
	int n = text ? atoi(text) : -1;

	free(text);
	return n;
}

/*
 * swsva's pcie_pri mode, as a PCIe function: the Response Failure of a
 * Failure verdict turns the endpoint's PRI off; it then sends no page
 * request, whoever asks, until it is reset (pri_enabled).
 */
TEST_F(limits, a_failure_verdict_turns_pri_off_until_reset)
{
	const char *const names[] = { "fail_device", NULL };
	struct fault_policy_limits_bpf *skel;
	struct swsva_counters d;
	struct bpf_link *link;
	int err;

	ASSERT_EQ(0, write_file(PCIE_PRI, "1"));
	skel = open_only(names);
	ASSERT_NE(NULL, skel);
	ASSERT_EQ(0, fault_policy_limits_bpf__load(skel));
	link = attach_map(skel->maps.fail_device, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(1, read_number(PRI_ENABLED));
	EXPECT_EQ(-EIO, dma_fresh(self->fd, 2, true, NULL, &d));
	EXPECT_EQ(1, d.resp_failure);
	EXPECT_EQ(0, read_number(PRI_ENABLED));
	bpf_link__destroy(link);
	fault_policy_limits_bpf__destroy(skel);

	/* No policy now, and still no page request leaves the device */
	EXPECT_EQ(-EIO, dma_fresh(self->fd, 2, true, NULL, &d));
	EXPECT_EQ(0, d.page_requests);
	EXPECT_EQ(-EINVAL, write_file(PRI_ENABLED, "0"));
	EXPECT_EQ(0, read_number(PRI_ENABLED));

	/* The reset turns it back on */
	EXPECT_EQ(0, write_file(PRI_ENABLED, "1"));
	EXPECT_EQ(1, read_number(PRI_ENABLED));
	EXPECT_EQ(0, dma_fresh(self->fd, 2, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_success);
}

TEST_HARNESS_MAIN
