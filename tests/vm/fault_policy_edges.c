// SPDX-License-Identifier: GPL-2.0
/*
 * The edges of fault policy attach and of process targets, driven as an
 * adversary would: binds and unbinds racing the attach, a PASID reused by
 * another process, exec, PID namespaces, an mm freed inside the unbind of
 * a driver that holds no reference of its own, init() return values that
 * are no errno, maps without a link, and an init() that does not end.
 * Policies: progs/fault_policy_edges.bpf.c.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "kselftest_harness.h"
#include "../lib/proc_util.h"
#include "../lib/swsva_fixture.h"

static size_t page_size;

#include "../lib/policy_util.h"
#include "fault_policy_edges.skel.h"

#define BPFFS		"/sys/fs/bpf"
#define EXEC_ENV	"IOPFKIT_EDGES_EXEC_FD"

/* The skeleton with only its struct_ops maps @names (NULL-ended) */
static struct fault_policy_edges_bpf *open_only(const char *const *names)
{
	struct fault_policy_edges_bpf *skel = fault_policy_edges_bpf__open();

	if (skel)
		select_struct_ops(skel->obj, names);
	return skel;
}

/*
 * Load deny_a for process @target, with an init() of @init_spin loop steps;
 * attach it unless @link is NULL
 */
static struct fault_policy_edges_bpf *deny_process(pid_t target, __u32 init_spin,
						  struct bpf_link **link)
{
	const char *const names[] = { "deny_a", NULL };
	struct fault_policy_edges_bpf *skel = open_only(names);
	int err;

	if (!skel)
		return NULL;
	skel->struct_ops.deny_a->tgid = target;
	skel->rodata->init_spin = init_spin;
	if (fault_policy_edges_bpf__load(skel) ||
	    (link && !(*link = attach_map(skel->maps.deny_a, &err)))) {
		fault_policy_edges_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static int bind_flags(int fd, unsigned int flags)
{
	struct swsva_bind b = { .size = sizeof(b), .flags = flags };

	return ioctl(fd, SWSVA_IOC_BIND, &b) ? -errno : (int)b.pasid;
}

static int send_fd(int sock, int fd)
{
	char c = 0;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u = {};
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u = {};
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -errno;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * Each test starts with the module loaded and ends with every group of
 * both endpoints answered once, and no policy left.
 */
FIXTURE(edges) {
};

FIXTURE_SETUP(edges)
{
	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, swsva_load_module(NULL));
}

FIXTURE_TEARDOWN(edges)
{
	EXPECT_ALL_ANSWERED(0);
	EXPECT_ALL_ANSWERED(1);
	EXPECT_TRUE(no_policy_left());
}

/*
 * idxd and uacce hold no mm reference of their own: when the process that
 * bound has exited and another closes the file, the unbind drops the last
 * one. The core must not touch the mm or its iommu_mm after that (KASAN
 * sees it on the debug kernel). The process target stops covering the
 * PASID, which the freed mm gives back.
 */
TEST_F(edges, unbind_that_frees_the_mm_of_an_exited_binder)
{
	struct fault_policy_edges_bpf *skel;
	struct bpf_link *link;
	int sv[2], go[2], fd, pasid;
	struct swsva_counters d;
	char c = 0;
	pid_t child;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		fd = swsva_open(0);
		pasid = fd < 0 ? -1 : bind_flags(fd, SWSVA_BIND_NO_MM_REF);
		if (pasid <= 0 || write(sv[1], &pasid, sizeof(pasid)) != sizeof(pasid))
			_exit(10);
		/* Covered by then: the device's requests are refused */
		if (read(go[0], &c, 1) != 1)
			_exit(11);
		if (dma_fresh(fd, 2, true, NULL, &d) != -EFAULT)
			_exit(12);
		_exit(send_fd(sv[1], fd) ? 13 : 0);
	}
	ASSERT_EQ(sizeof(pasid), read(sv[0], &pasid, sizeof(pasid)));

	skel = deny_process(child, 0, &link);
	ASSERT_NE(NULL, skel);
	EXPECT_EQ(pasid, policy_stat("edges_a", "covers"));

	ASSERT_EQ(1, write(go[1], &c, 1));
	fd = recv_fd(sv[0]);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, wait_exit(child));
	EXPECT_LT(0, skel->bss->denied[0]);

	/* The last reference to the exited child's mm goes in this unbind */
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(1, skel->bss->unbinds[0]);
	EXPECT_EQ(0, policy_stat("edges_a", "covers"));

	bpf_link__destroy(link);
	fault_policy_edges_bpf__destroy(skel);
}

/*
 * init()'s return becomes BPF_LINK_CREATE's: 1 and 7 would be taken for
 * file descriptors (libbpf would close stdout, or fd 7 at destroy), -600
 * is no errno user space knows. Each is refused with EPROTO, and both
 * descriptors stay what they were. A real errno passes through.
 */
TEST_F(edges, init_returns_that_are_no_errno_are_refused)
{
	const struct { int ret, err; } cases[] = {
		{ 1, -EPROTO }, { 7, -EPROTO }, { -600, -EPROTO },
		{ -E2BIG, -E2BIG }, { 0, 0 },
	};
	const char *const names[] = { "init_returns", NULL };
	struct stat out0, seven0, st;
	int null = open("/dev/null", O_RDONLY);

	ASSERT_LE(0, null);
	ASSERT_EQ(7, dup2(null, 7));
	ASSERT_EQ(0, fstat(1, &out0));
	ASSERT_EQ(0, fstat(7, &seven0));

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fault_policy_edges_bpf *skel = open_only(names);
		struct bpf_link *link;
		int err;

		ASSERT_NE(NULL, skel);
		skel->rodata->init_ret = cases[i].ret;
		ASSERT_EQ(0, fault_policy_edges_bpf__load(skel));
		link = attach_map(skel->maps.init_returns, &err);
		EXPECT_EQ(cases[i].err, err) TH_LOG("init() returned %d", cases[i].ret);
		if (!cases[i].err)
			EXPECT_EQ(0, policy_stat("edges_init", "covers"));
		bpf_link__destroy(link);
		fault_policy_edges_bpf__destroy(skel);

		EXPECT_EQ(0, fstat(1, &st));
		EXPECT_EQ(out0.st_ino, st.st_ino);
		EXPECT_EQ(0, fstat(7, &st)) TH_LOG("init() returned %d", cases[i].ret);
		EXPECT_EQ(seven0.st_ino, st.st_ino);
		EXPECT_TRUE(no_policy_left());
	}
	close(7);
	close(null);
}

static int bpftool(char *out, size_t size, const char *args)
{
	char cmd[PATH_MAX + 512];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	int status;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", build_path("bpftool/bpftool"),
		 args);
	status = run_capture(argv, out, size);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int count_of(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* The same through bpftool alone: nothing registered, nothing pinned */
TEST_F(edges, bpftool_register_refuses_init_returns_that_are_no_errno)
{
	char args[PATH_MAX + 64], out[8192];

	system("rm -rf " BPFFS "/iopfkit_init_ret");
	ASSERT_EQ(0, mkdir(BPFFS "/iopfkit_init_ret", 0700));
	snprintf(args, sizeof(args), "struct_ops register %s %s",
		 build_path("bpfobj/policy_init_ret.bpf.o"),
		 BPFFS "/iopfkit_init_ret");
	EXPECT_NE(0, bpftool(out, sizeof(out), args));
	EXPECT_EQ(3, count_of(out, "Protocol error")) TH_LOG("%s", out);
	EXPECT_EQ(0, count_of(out, "Registered")) TH_LOG("%s", out);
	EXPECT_EQ(0, rmdir(BPFFS "/iopfkit_init_ret")) TH_LOG("a link was pinned");
	EXPECT_TRUE(no_policy_left());
}

/* A policy in SEC(".struct_ops") would register without a link */
TEST_F(edges, bpftool_register_refuses_a_policy_without_a_link)
{
	char args[PATH_MAX + 64], out[8192];
	struct swsva_counters d;
	int fd;

	snprintf(args, sizeof(args), "struct_ops register %s",
		 build_path("bpfobj/policy_no_link.bpf.o"));
	EXPECT_NE(0, bpftool(out, sizeof(out), args));
	EXPECT_NE(NULL, strstr(out, "Operation not supported")) TH_LOG("%s", out);
	EXPECT_TRUE(no_policy_left());

	/* and the device's requests are handled as without it */
	fd = swsva_open(0);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, swsva_bind(fd));
	EXPECT_EQ(0, dma_fresh(fd, 4, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_success);
	close(fd);
}

/*
 * The kernel's state of each policy through its BPF iterator, with
 * bpftool alone: the line iopf-policy's iterator program prints is
 * debugfs's, plus the id of the link that holds the policy.
 */
TEST_F(edges, bpftool_reads_the_policies_through_their_iterator)
{
	const char *const names[] = { "deny_b", NULL };
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	struct fault_policy_edges_bpf *skel;
	char args[PATH_MAX + 64], out[8192], line[1024], want[1100];
	struct bpf_link *link;
	char *text, *id;
	int err;

	skel = open_only(names);
	ASSERT_NE(NULL, skel);
	skel->struct_ops.deny_b->pasid = 77;
	ASSERT_EQ(0, fault_policy_edges_bpf__load(skel));
	link = attach_map(skel->maps.deny_b, &err);
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, bpf_link_get_info_by_fd(bpf_link__fd(link), &info, &len));

	system("rm -f " BPFFS "/iopfkit_policies");
	snprintf(args, sizeof(args), "iter pin %s %s",
		 build_path("bpfobj/iopf-policy.bpf.o"), BPFFS "/iopfkit_policies");
	EXPECT_EQ(0, bpftool(out, sizeof(out), args)) TH_LOG("%s", out);
	text = read_file(BPFFS "/iopfkit_policies", NULL);
	ASSERT_NE(NULL, text);
	unlink(BPFFS "/iopfkit_policies");

	/* debugfs's line, with the link's id before a newline */
	policy_line("edges_b", line, sizeof(line));
	snprintf(want, sizeof(want), "%s link_id=%u\n", line, info.id);
	EXPECT_NE(NULL, strstr(text, want)) TH_LOG("%s", text);
	id = strstr(text, "edges_b device=* pasid=77 tgid=0 pid=0 covers=77 state=attached ");
	EXPECT_NE(NULL, id) TH_LOG("%s", text);
	free(text);
	bpf_link__destroy(link);
	fault_policy_edges_bpf__destroy(skel);
}

/*
 * What the target of the race test does, in memory it shares with the
 * test: bind and unbind as fast as it can while the test attaches, then
 * settle bound or unbound as told and report. The test's order is one
 * word, round * 4 + command, so that no round is read with another's
 * command.
 */
enum { RACE_RUN, RACE_SETTLE_BOUND, RACE_SETTLE_UNBOUND, RACE_QUIT };

struct race {
	_Atomic int order;
	_Atomic int settled;	/* the round the target settled in */
	int bound, pasid, dma;	/* as settled: bound, its PASID, a DMA's result */
	_Atomic int flaps;	/* binds and unbinds while the test attached */
};

static void race_order(struct race *r, int round, int cmd)
{
	atomic_store(&r->order, round * 4 + cmd);
}

/* Bind if unbound, unbind if bound; 0 or -errno */
static int flap(int fd, int *bound, int *pasid)
{
	int ret = *bound ? swsva_unbind(fd) : swsva_bind(fd);

	if (ret < 0)
		return ret;
	if (!*bound)
		*pasid = ret;
	*bound = !*bound;
	return 0;
}

static int race_target(struct race *r)
{
	struct swsva_counters d;
	int fd = swsva_open(0), pasid = 0, bound = 0;

	if (fd < 0)
		return 10;
	for (;;) {
		int order = atomic_load(&r->order);
		int cmd = order & 3, round = order >> 2;

		if (cmd == RACE_QUIT)
			break;
		if (cmd == RACE_RUN) {
			if (flap(fd, &bound, &pasid))
				return 11;
			atomic_fetch_add(&r->flaps, 1);
			continue;
		}
		if (atomic_load(&r->settled) == round)
			continue;
		if (bound != (cmd == RACE_SETTLE_BOUND) &&
		    flap(fd, &bound, &pasid))
			return 12;
		r->bound = bound;
		r->pasid = pasid;
		r->dma = bound ? dma_fresh(fd, 1, true, NULL, &d) : 0;
		atomic_store(&r->settled, round);
	}
	/* The last unbind, racing the test's last attach */
	if (bound && swsva_unbind(fd))
		return 13;
	close(fd);
	return 0;
}

/* A short-lived process on each CPU, which takes its lazy TLB mm over */
static void visit_every_cpu(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	for (long cpu = 0; cpu < cpus; cpu++) {
		pid_t pid = fork();

		if (pid == 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof(set), &set);
			_exit(0);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
}

/*
 * Attach and detach the only process-target policy while its process
 * binds and unbinds: the static key is off at each attach, the window in
 * which a bind or the last unbind went unseen. After each attach the
 * policy must cover the PASID exactly when the process is bound, and
 * refuse its DMA then. Once the process is gone, another that gets its
 * PASID back must never get its verdicts.
 */
TEST_F_TIMEOUT(edges, process_target_attach_races_binds_and_unbinds, 900)
{
	/* Fewer on the debug kernel, which looks for what the race breaks */
	const char *flavor = getenv("KERNEL_FLAVOR");
	int rounds = getenv("IOPFKIT_RACE_ROUNDS") ?
		     atoi(getenv("IOPFKIT_RACE_ROUNDS")) :
		     flavor && !strcmp(flavor, "debug") ? 500 : 2000;
	int missed_bind = 0, kept_unbound = 0, let_through = 0;
	struct fault_policy_edges_bpf *skel;
	struct swsva_counters d;
	struct race *r;
	int fd, pasid, last_pasid = 0;
	pid_t child;

	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r);
	atomic_store(&r->settled, -1);
	race_order(r, 0, RACE_RUN);
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0)
		_exit(race_target(r));

	/* An init() that takes a while, as real ones do (maps to fill) */
	skel = deny_process(child, 1 << 16, NULL);
	ASSERT_NE(NULL, skel);

	for (int i = 0; i < rounds; i++) {
		struct bpf_link *link;
		long long covers;
		int err;

		race_order(r, i, RACE_RUN);
		link = attach_map(skel->maps.deny_a, &err);
		ASSERT_EQ(0, err);
		race_order(r, i, i & 1 ? RACE_SETTLE_BOUND : RACE_SETTLE_UNBOUND);
		while (atomic_load(&r->settled) != i) {
			ASSERT_EQ(0, kill(child, 0));
			sched_yield();
		}

		covers = policy_stat("edges_a", "covers");
		if (r->bound && covers != r->pasid)
			missed_bind++;
		if (!r->bound && covers != 0)
			kept_unbound++;
		if (r->bound && r->dma != -EFAULT)
			let_through++;
		if (r->bound)
			last_pasid = r->pasid;
		bpf_link__destroy(link);
	}
	TH_LOG("%d rounds, %d binds and unbinds during the attaches", rounds,
	       atomic_load(&r->flaps));
	/* The attaches raced binds and unbinds, or this test showed nothing */
	EXPECT_LT(rounds / 2, atomic_load(&r->flaps));
	EXPECT_EQ(0, missed_bind);
	EXPECT_EQ(0, kept_unbound);
	EXPECT_EQ(0, let_through);

	/*
	 * The target's last unbind races one more attach, and it exits: its
	 * mm is freed, its PASID with it
	 */
	struct bpf_link *link;
	int err;

	race_order(r, rounds, RACE_QUIT);
	link = attach_map(skel->maps.deny_a, &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(0, wait_exit(child));
	EXPECT_EQ(0, policy_stat("edges_a", "covers"));

	/* Another process gets the PASID back: the policy is not its own */
	unsigned long long denied = skel->bss->denied[0];

	/*
	 * The exited target's PASID goes with its mm, which an idle CPU keeps
	 * as its lazy TLB mm until it runs another process: run one on each
	 * CPU, and bind until the PASID comes back
	 */
	for (int tries = 0; tries < 100; tries++) {
		visit_every_cpu();
		fd = swsva_open(0);
		ASSERT_LE(0, fd);
		pasid = swsva_bind(fd);
		ASSERT_LT(0, pasid);
		if (pasid == last_pasid)
			break;
		close(fd);
		usleep(10000);
	}
	ASSERT_EQ(last_pasid, pasid) TH_LOG("the PASID was not reused");
	EXPECT_EQ(0, dma_fresh(fd, 4, true, NULL, &d));
	EXPECT_EQ(d.groups, d.resp_success);
	EXPECT_EQ(denied, skel->bss->denied[0]);
	EXPECT_EQ(0, policy_stat("edges_a", "covers"));
	close(fd);
	bpf_link__destroy(link);
	fault_policy_edges_bpf__destroy(skel);
}

/*
 * The exec'd image of process_target_follows_exec: bind the new address
 * space, run a DMA, report the PASID and the result on the descriptor the
 * test passed, then wait for the test to let it go.
 */
__attribute__((constructor)) static void exec_target(void)
{
	const char *env = getenv(EXEC_ENV);
	struct swsva_counters d;
	int report, fd, res[2];
	char c;

	if (!env)
		return;
	report = atoi(env);
	page_size = sysconf(_SC_PAGESIZE);
	fd = swsva_open(0);
	res[0] = fd < 0 ? -ENODEV : swsva_bind(fd);
	res[1] = res[0] > 0 ? dma_fresh(fd, 2, true, NULL, &d) : 0;
	if (write(report, res, sizeof(res)) != sizeof(res) ||
	    read(report, &c, 1) != 1)
		_exit(1);
	_exit(0);
}

/*
 * A process target is the process, whatever it runs: after an exec, the
 * address space it binds is covered, even while a descriptor it kept
 * holds the old one bound.
 */
TEST_F(edges, process_target_follows_exec)
{
	struct fault_policy_edges_bpf *skel;
	struct bpf_link *link;
	int sv[2], old_pasid, res[2];
	char c = 0;
	pid_t child;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		/* Not O_CLOEXEC: the binding of the old image lives on */
		int fd = open("/dev/swsva0", O_RDWR);
		char env[32];

		old_pasid = fd < 0 ? -1 : swsva_bind(fd);
		if (write(sv[1], &old_pasid, sizeof(old_pasid)) != sizeof(old_pasid) ||
		    read(sv[1], &c, 1) != 1)
			_exit(10);
		snprintf(env, sizeof(env), "%d", sv[1]);
		setenv(EXEC_ENV, env, 1);
		execl("/proc/self/exe", "fault_policy_edges", NULL);
		_exit(11);
	}
	ASSERT_EQ(sizeof(old_pasid), read(sv[0], &old_pasid, sizeof(old_pasid)));
	ASSERT_LT(0, old_pasid);

	skel = deny_process(child, 0, &link);
	ASSERT_NE(NULL, skel);
	EXPECT_EQ(old_pasid, policy_stat("edges_a", "covers"));

	ASSERT_EQ(1, write(sv[0], &c, 1));
	ASSERT_EQ(sizeof(res), read(sv[0], res, sizeof(res)));
	ASSERT_LT(0, res[0]);
	EXPECT_NE(old_pasid, res[0]);
	EXPECT_EQ(-EFAULT, res[1]);
	EXPECT_EQ(res[0], policy_stat("edges_a", "covers"));
	EXPECT_EQ((unsigned int)res[0], skel->bss->last_pasid[0]);
	/* The first bind came before the attach */
	EXPECT_EQ(1, skel->bss->binds[0]);

	ASSERT_EQ(1, write(sv[0], &c, 1));
	EXPECT_EQ(0, wait_exit(child));
	EXPECT_EQ(0, policy_stat("edges_a", "covers"));
	bpf_link__destroy(link);
	fault_policy_edges_bpf__destroy(skel);
}

/* A process in a new PID namespace whose number there is @tid */
static pid_t clone_with_tid(pid_t tid)
{
	struct clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uintptr_t)&tid,
		.set_tid_size = 1,
	};

	return syscall(SYS_clone3, &args, sizeof(args));
}

/* NSpid of /proc/@pid/status: its number in each namespace, outermost first */
static int nspid(pid_t pid, int *outer, int *inner)
{
	char path[64], line[256];
	FILE *f;
	int n = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "NSpid:", 6))
			n = sscanf(line + 6, "%d %d", outer, inner);
	fclose(f);
	return n;
}

/*
 * Process targets are processes, not numbers: a loader in a child PID
 * namespace targets its process N while another policy targets process N
 * of the initial namespace, another process. Both attach; debugfs shows
 * the loader's number and the initial namespace's.
 */
TEST_F(edges, process_targets_in_two_pid_namespaces_do_not_overlap)
{
	struct fault_policy_edges_bpf *skel;
	struct bpf_link *link;
	int sv[2], res, outer = 0, inner = 0;
	pid_t target, loader;
	char c = 0, line[1024], want[64];

	target = fork();
	ASSERT_LE(0, target);
	if (target == 0) {
		pause();
		_exit(0);
	}
	skel = deny_process(target, 0, &link);
	ASSERT_NE(NULL, skel);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, unshare(CLONE_NEWPID));
	loader = fork();
	ASSERT_LE(0, loader);
	if (loader == 0) {
		/* PID 1 of the new namespace: make process `target` there */
		const char *const names_b[] = { "deny_b", NULL };
		struct fault_policy_edges_bpf *mine;
		struct bpf_link *l;
		pid_t q = clone_with_tid(target);

		if (q == 0) {
			pause();
			_exit(0);
		}
		if (q != target)
			_exit(20);
		mine = open_only(names_b);
		if (!mine)
			_exit(21);
		mine->struct_ops.deny_b->tgid = target;
		if (fault_policy_edges_bpf__load(mine))
			_exit(22);
		l = attach_map(mine->maps.deny_b, &res);
		if (write(sv[1], &res, sizeof(res)) != sizeof(res) ||
		    read(sv[1], &c, 1) != 1)
			_exit(23);
		bpf_link__destroy(l);
		fault_policy_edges_bpf__destroy(mine);
		kill(q, SIGKILL);
		waitpid(q, NULL, 0);
		_exit(0);
	}
	ASSERT_EQ(sizeof(res), read(sv[0], &res, sizeof(res)));
	EXPECT_EQ(0, res) TH_LOG("attach in the child namespace: %s", strerror(-res));
	if (!res) {
		/* edges_b: the loader's number, and the initial namespace's */
		long long pid = policy_stat("edges_b", "pid");

		snprintf(want, sizeof(want), " tgid=%d ", target);
		EXPECT_NE(NULL, strstr(policy_line("edges_b", line, sizeof(line)), want))
			TH_LOG("%s", line);
		EXPECT_NE(target, pid);
		EXPECT_EQ(2, nspid(pid, &outer, &inner));
		EXPECT_EQ(pid, outer);
		EXPECT_EQ(target, inner);
		EXPECT_EQ(target, policy_stat("edges_a", "pid"));
	}
	ASSERT_EQ(1, write(sv[0], &c, 1));
	EXPECT_EQ(0, wait_exit(loader));
	kill(target, SIGKILL);
	waitpid(target, NULL, 0);
	bpf_link__destroy(link);
	fault_policy_edges_bpf__destroy(skel);
	EXPECT_TRUE(no_policy_left());
}

TEST_HARNESS_MAIN
