// SPDX-License-Identifier: GPL-2.0
/*
 * iopf-policy (build/bin/iopf-policy) against the software SVA device:
 * each bundled policy does what its help says to real page requests,
 * counted by the device itself; the counters and events the tool prints
 * add up to the device's; attach, detach, list and bpftool agree on what
 * is attached; a user's object is loaded by the same contract; every
 * error has its exit status and message and leaves nothing behind.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <bpf/bpf.h>

#include "kselftest_harness.h"
#include "../lib/file_util.h"
#include "../lib/swsva_fixture.h"
#include "../lib/tool_util.h"
#include "../lib/mem_util.h"

#define POLICIES	"/sys/kernel/debug/iommu/fault_policies"
#define PIN_ROOT	"/sys/fs/bpf/iopfkit"
#define BPFTOOL_PIN	"/sys/fs/bpf/iopfkit_test"
#define READY		" attached to "

static size_t page_size;

/* --- memory and DMAs ------------------------------------------------------ */

static void fill(void *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		memcpy((char *)buf + i, &seed, 8);
	}
}

/* Whether @pages at @mem hold what fill(@seed) writes */
static bool holds(const void *mem, size_t pages, uint64_t seed)
{
	size_t len = pages * page_size;
	char *want = malloc(len);
	bool same;

	fill(want, len, seed);
	same = !memcmp(mem, want, len);
	free(want);
	return same;
}

/*
 * The device writes fill(@seed) to @pages at @mem; 0 or -errno. *@d gets
 * what the endpoint of @fd counted meanwhile.
 */
static int dma_write(int fd, void *mem, size_t pages, uint64_t seed,
		     struct swsva_counters *d)
{
	size_t len = pages * page_size;
	struct swsva_counters a, b;
	char *buf = malloc(len);
	int ret;

	fill(buf, len, seed);
	swsva_counters(fd, &a);
	ret = swsva_dma(fd, true, mem, len, buf, NULL);
	swsva_counters(fd, &b);
	if (d)
		swsva_counters_delta(d, &a, &b);
	free(buf);
	return ret;
}

/* One-page write DMAs, each at a page nothing touched, for @secs */
struct load {
	long long dmas, ok, efault, eio, other;
	long long ok_after_eio;	/* DMAs that worked after a Response Failure */
	int last_error;
	uint64_t ns;		/* from the first DMA's start to the last's end */
};

#define LOAD_PAGES	(1 << 16)

static void offer_load(int fd, double secs, struct load *l)
{
	char *mem = map_fresh(LOAD_PAGES), buf[64] = { 1 };
	uint64_t t0 = swsva_now_ns(), now = t0;
	size_t page = 0;

	memset(l, 0, sizeof(*l));
	while (mem && now - t0 < secs * 1e9) {
		int ret = swsva_dma(fd, true, mem + page * page_size,
				    sizeof(buf), buf, NULL);

		if (++page == LOAD_PAGES) {
			munmap(mem, LOAD_PAGES * page_size);
			mem = map_fresh(LOAD_PAGES);
			page = 0;
		}
		l->dmas++;
		if (!ret) {
			l->ok++;
			l->ok_after_eio += l->eio > 0;
		} else if (ret == -EFAULT) {
			l->efault++;
		} else if (ret == -EIO) {
			l->eio++;
		} else {
			l->other++;
			l->last_error = ret;
		}
		now = swsva_now_ns();
	}
	l->ns = now - t0;
	if (mem)
		munmap(mem, LOAD_PAGES * page_size);
}

/* A process of its own, so a PASID of its own, on endpoint @ep */
static int bind_own(int ep)
{
	int fd = swsva_open(ep);

	return fd >= 0 && swsva_bind(fd) > 0 ? fd : -1;
}

/* --- the tool -------------------------------------------------------------- */

struct tool_out {
	int status;		/* exit status; -1: killed, or did not run */
	char *out, *err;
};

static char *memfd_text(int fd)
{
	off_t len = lseek(fd, 0, SEEK_END);
	char *text = calloc(1, len + 1);

	if (text && pread(fd, text, len, 0) != len)
		text[0] = '\0';
	close(fd);
	return text;
}

/* exec iopf-policy @args in a child; as @uid unless it is 0 */
static pid_t tool_fork(char *const args[], uid_t uid, int out, int err)
{
	char *argv[32] = { strdup(build_path("bin/iopf-policy")) };
	pid_t pid;

	for (int i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out, 1);
		dup2(err, 2);
		if (uid && (setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	free(argv[0]);
	return pid;
}

/* Run iopf-policy @args to its end, its stdout and stderr apart */
static int tool_exec(struct tool_out *o, uid_t uid, char *const args[])
{
	int out = memfd_create("out", 0), err = memfd_create("err", 0);
	pid_t pid = tool_fork(args, uid, out, err);
	int status;

	o->status = -1;
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		o->status = WEXITSTATUS(status);
	o->out = memfd_text(out);
	o->err = memfd_text(err);
	return o->status;
}

#define TOOL(o, ...)		tool_exec(o, 0, (char *[]){ __VA_ARGS__, NULL })
#define TOOL_AS(o, uid, ...)	tool_exec(o, uid, (char *[]){ __VA_ARGS__, NULL })

static void tool_out_free(struct tool_out *o)
{
	free(o->out);
	free(o->err);
}

/*
 * `iopf-policy run` in the background, its output into a file: a pipe
 * could fill up and block it
 */
struct policy_run {
	pid_t pid;
	int fd;
	char name[32];		/* the policy's name, as the tool printed it */
	char *out;		/* everything it printed, once stopped */
};

/* Start it and wait until it says it attached; 0, or -1 */
static int run_start(struct policy_run *r, char *const args[])
{
	int fd = memfd_create("run", 0);

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->pid = tool_fork(args, 0, fd, fd);
	for (int ms = 0; r->pid > 0 && ms < 120000; ms += 10) {
		off_t len = lseek(fd, 0, SEEK_END);
		char text[4096] = "", *p;

		if (pread(fd, text, len < 4095 ? len : 4095, 0) < 0)
			break;
		p = strstr(text, READY);
		if (p) {
			while (p > text && p[-1] != '\n')
				p--;
			sscanf(p, "%31s", r->name);
			return 0;
		}
		if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
			r->pid = 0;
			break;
		}
		usleep(10000);
	}
	return -1;
}

#define RUN(r, ...)	run_start(r, (char *[]){ "run", __VA_ARGS__, NULL })

/* Send @sig (0: none, it ends by itself) and reap it; its exit status */
static int run_stop(struct policy_run *r, int sig)
{
	int status = -1;

	if (r->pid <= 0)
		return -1;
	if (sig)
		kill(r->pid, sig);
	if (waitpid(r->pid, &status, 0) != r->pid)
		status = -1;
	r->pid = 0;
	r->out = memfd_text(r->fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Whether the running tool printed @what within @ms milliseconds */
static bool run_said(struct policy_run *r, const char *what, int ms)
{
	for (; ms > 0; ms -= 20) {
		off_t len = lseek(r->fd, 0, SEEK_END);
		char *text = calloc(1, len + 1);
		bool said = text && pread(r->fd, text, len, 0) == len &&
			    strstr(text, what);

		free(text);
		if (said)
			return true;
		usleep(20000);
	}
	return false;
}

/* "key":N in the object @obj ("kernel" or "counters") of @line; -1 if absent */
static long long obj_num(const char *line, const char *obj, const char *key)
{
	char pat[64], sub[2048];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "\"%s\":{", obj);
	p = strstr(line, pat);
	end = p ? strchr(p, '}') : NULL;
	if (!end)
		return -1;
	snprintf(sub, sizeof(sub), "%.*s", (int)(end - p), p);
	return json_num(sub, key, -1);
}

/* The same in the run's final counters line */
static long long final_num(const char *out, const char *obj, const char *key)
{
	char line[4096];
	size_t pos = 0;

	while (json_next_line(out, &pos, line, sizeof(line)))
		if (strstr(line, "\"final\":true"))
			return obj_num(line, obj, key);
	return -1;
}

/* Event lines of a run: @event ("group", ...) with @verdict (NULL: any) */
static int count_events(const char *out, const char *event, const char *verdict)
{
	char line[4096], v[16];
	size_t pos = 0;
	int n = 0;

	while (json_next_line(out, &pos, line, sizeof(line))) {
		if (!json_str(line, "event", v, sizeof(v)) || strcmp(v, event))
			continue;
		n += !verdict || (json_str(line, "verdict", v, sizeof(v)) &&
				  !strcmp(v, verdict));
	}
	return n;
}

/* The text after "detached":, "" if the run printed none */
static const char *detached_reason(const char *out, char *buf, size_t size)
{
	char line[4096];
	size_t pos = 0;

	buf[0] = '\0';
	while (json_next_line(out, &pos, line, sizeof(line)))
		json_str(line, "detached", buf, size);
	return buf;
}

static bool valid_json(struct __test_metadata *_metadata, const char *out)
{
	char err[256];

	if (json_lines_valid(out, err, sizeof(err))) {
		TH_LOG("%s", err);
		return false;
	}
	return true;
}

/* The name `attach` says to detach with: "(iopf-policy detach NAME)" */
static const char *attach_name(const char *out, char *name)
{
	const char *p = strstr(out, "(iopf-policy detach ");

	name[0] = '\0';
	if (p)
		sscanf(p, "(iopf-policy detach %31[^)])", name);
	return name;
}

static char *debugfs_policies(void)
{
	char *text = read_file(POLICIES, NULL);

	return text ? text : strdup("(unreadable)");
}

/* Entries of PIN_ROOT: one per pinned policy */
static int pinned(void)
{
	DIR *d = opendir(PIN_ROOT);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* What a failed test may leave: pins of its own */
static void unpin_all(void)
{
	system("rm -rf " PIN_ROOT " " BPFTOOL_PIN);
	for (int ms = 0; ms < 5000; ms += 10) {
		char *text = debugfs_policies();
		bool empty = !*text;

		free(text);
		if (empty)
			break;
		usleep(10000);
	}
}

/*
 * Every test starts from endpoint 0 bound and nothing attached, and ends
 * with every group of both endpoints answered once, nothing attached and
 * nothing pinned.
 */
#define IPOL_SETUP(self) do {						\
	char *text;							\
									\
	SWSVA_SETUP_BOUND(self);					\
	ASSERT_EQ(0, access("/dev/swsva1", F_OK))			\
		TH_LOG("needs two endpoints");				\
	text = debugfs_policies();					\
	ASSERT_STREQ("", text);						\
	free(text);							\
	ASSERT_EQ(0, pinned());						\
} while (0)

#define IPOL_TEARDOWN(self) do {					\
	char *text;							\
									\
	run_stop(&(self)->run, SIGKILL);				\
	free((self)->run.out);						\
	close((self)->fd);						\
	for (int ep = 0; ep < 2; ep++) {				\
		EXPECT_EQ(0, swsva_wait_idle(ep, 20000));		\
		EXPECT_EQ(swsva_sysfs_counter(ep, "groups"),		\
			  swsva_sysfs_counter(ep, "responses"));	\
		EXPECT_EQ(0, swsva_sysfs_counter(ep, "resp_unexpected"));\
	}								\
	text = debugfs_policies();					\
	EXPECT_STREQ("", text);						\
	free(text);							\
	EXPECT_EQ(0, pinned());						\
	unpin_all();							\
} while (0)

FIXTURE(pol) {
	int fd;
	int pasid;
	struct swsva_counters start;
	struct policy_run run;
};

FIXTURE_SETUP(pol)
{
	IPOL_SETUP(self);
}

FIXTURE_TEARDOWN(pol)
{
	IPOL_TEARDOWN(self);
}

/* --- list, attach, detach --------------------------------------------------- */

static const char *const bundled[] = {
	"passthrough", "ratelimit", "range-guard", "prefault", "fault-trace",
};

/* The id of the link pinned at @pin, 0 if none */
static __u32 pinned_link_id(const char *pin)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(pin);

	if (fd < 0)
		return 0;
	if (bpf_link_get_info_by_fd(fd, &info, &len) ||
	    info.type != BPF_LINK_TYPE_STRUCT_OPS)
		info.id = 0;
	close(fd);
	return info.id;
}

/* Whether map @id is a struct_ops map named @name */
static bool struct_ops_map(__u32 id, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_map_get_fd_by_id(id);
	bool ok;

	if (fd < 0)
		return false;
	ok = !bpf_map_get_info_by_fd(fd, &info, &len) &&
	     info.type == BPF_MAP_TYPE_STRUCT_OPS && !strcmp(info.name, name);
	close(fd);
	return ok;
}

TEST_F_TIMEOUT(pol, list_shows_bundled_and_attached_policies, 120)
{
	struct tool_out o;
	struct swsva_counters d;
	char name[32], pin[PATH_MAX], line[4096];
	const char *att, *row;
	long long map_id, link_id, groups, requests, responses;
	void *mem = map_fresh(16);

	ASSERT_EQ(0, TOOL(&o, "list"));
	for (size_t i = 0; i < sizeof(bundled) / sizeof(bundled[0]); i++) {
		snprintf(line, sizeof(line), "\n  %s ", bundled[i]);
		EXPECT_NE(NULL, strstr(o.out, line)) TH_LOG("%s", o.out);
	}
	EXPECT_NE(NULL, strstr(o.out, "Attached policies:\n  none\n")) TH_LOG("%s", o.out);
	tool_out_free(&o);

	ASSERT_EQ(0, TOOL(&o, "list", "-j"));
	EXPECT_TRUE(valid_json(_metadata, o.out));
	for (size_t i = 0; i < sizeof(bundled) / sizeof(bundled[0]); i++) {
		snprintf(line, sizeof(line), "{\"name\":\"%s\",", bundled[i]);
		EXPECT_NE(NULL, strstr(o.out, line)) TH_LOG("%s", o.out);
	}
	EXPECT_NE(NULL, strstr(o.out, "\"attached\":[]")) TH_LOG("%s", o.out);
	tool_out_free(&o);

	ASSERT_EQ(0, TOOL(&o, "attach", "passthrough", "-d", "swsva0")) TH_LOG("%s", o.err);
	attach_name(o.out, name);
	EXPECT_STREQ("passthrough", name) TH_LOG("%s", o.out);
	snprintf(pin, sizeof(pin), PIN_ROOT "/%s/link", name);
	EXPECT_NE(NULL, strstr(o.out, "passthrough attached to swsva0, pinned at " PIN_ROOT "/passthrough"))
		TH_LOG("%s", o.out);
	EXPECT_EQ(0, access(pin, F_OK));
	tool_out_free(&o);

	ASSERT_EQ(0, dma_write(self->fd, mem, 16, 1, &d));
	EXPECT_TRUE(holds(mem, 16, 1));
	EXPECT_LT(0, d.groups);

	ASSERT_EQ(0, TOOL(&o, "list", "-j"));
	EXPECT_TRUE(valid_json(_metadata, o.out));
	att = strstr(o.out, "\"attached\":[{");
	ASSERT_NE(NULL, att) TH_LOG("%s", o.out);
	EXPECT_EQ(NULL, strstr(att + 1, "},{")) TH_LOG("one policy: %s", att);
	json_str(att, "name", line, sizeof(line));
	EXPECT_STREQ("passthrough", line);
	json_str(att, "device", line, sizeof(line));
	EXPECT_STREQ("swsva0", line);
	json_str(att, "pin", line, sizeof(line));
	EXPECT_STREQ(pin, line);
	json_str(att, "state", line, sizeof(line));
	EXPECT_STREQ("attached", line);
	EXPECT_EQ(0, json_num(att, "pasid", -1));
	EXPECT_EQ(0, json_num(att, "tgid", -1));
	map_id = json_num(att, "map_id", 0);
	link_id = json_num(att, "link_id", 0);
	/* the ids are the kernel's: the link pinned, the policy's map */
	EXPECT_EQ(pinned_link_id(pin), link_id);
	EXPECT_TRUE(struct_ops_map(map_id, "passthrough")) TH_LOG("map %lld", map_id);
	/* The kernel's counters for it are the device's since the attach */
	EXPECT_EQ(d.groups, json_num(att, "groups", -1));
	EXPECT_EQ(d.page_requests, json_num(att, "requests", -1));
	EXPECT_EQ(d.responses, json_num(att, "responses", -1));
	tool_out_free(&o);

	/* The table says the same */
	ASSERT_EQ(0, TOOL(&o, "list"));
	row = strstr(o.out, "\n  passthrough  ");
	row = row ? strstr(row + 1, "\n  passthrough ") : NULL;
	ASSERT_NE(NULL, row) TH_LOG("%s", o.out);
	ASSERT_EQ(6, sscanf(row, " %31s %63s %63s %lld %lld %lld", name, line,
			    line + 64, &groups, &requests, &responses)) TH_LOG("%s", row);
	EXPECT_STREQ("swsva0", line);
	EXPECT_STREQ("attached", line + 64);
	EXPECT_EQ(d.groups, groups);
	EXPECT_EQ(d.page_requests, requests);
	EXPECT_EQ(d.responses, responses);
	EXPECT_NE(NULL, strstr(row, "pin " PIN_ROOT "/passthrough/link")) TH_LOG("%s", row);
	tool_out_free(&o);

	/*
	 * Without debugfs (lockdown, or not mounted): the same from the
	 * kernel's BPF iterator, and the tool did not mount debugfs for it
	 */
	ASSERT_EQ(0, umount2("/sys/kernel/debug", MNT_DETACH));
	ASSERT_EQ(0, TOOL(&o, "list", "-j")) TH_LOG("%s", o.err);
	EXPECT_NE(0, access("/sys/kernel/debug/iommu", F_OK));
	att = strstr(o.out, "\"attached\":[{");
	EXPECT_NE(NULL, att) TH_LOG("%s", o.out);
	if (att) {
		json_str(att, "state", line, sizeof(line));
		EXPECT_STREQ("attached", line);
		EXPECT_EQ(link_id, json_num(att, "link_id", 0));
		EXPECT_EQ(d.groups, json_num(att, "groups", -1));
		EXPECT_EQ(d.page_requests, json_num(att, "requests", -1));
	}
	tool_out_free(&o);
	ASSERT_EQ(0, mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL));

	ASSERT_EQ(0, TOOL(&o, "detach", "passthrough")) TH_LOG("%s", o.err);
	EXPECT_STREQ("passthrough detached\n", o.out);
	tool_out_free(&o);
	ASSERT_EQ(0, TOOL(&o, "list", "-j"));
	EXPECT_NE(NULL, strstr(o.out, "\"attached\":[]")) TH_LOG("%s", o.out);
	tool_out_free(&o);
	EXPECT_EQ(-1, access(PIN_ROOT "/passthrough", F_OK));
	EXPECT_EQ(-ENOENT, bpf_link_get_fd_by_id(link_id));
}

/* --- passthrough ----------------------------------------------------------- */

/*
 * Its counters and the kernel's for it are the device's, and it changes
 * nothing: same data, same page requests as without it.
 */
TEST_F_TIMEOUT(pol, passthrough_counts_what_the_device_counts, 120)
{
	struct swsva_counters before, after, d, without, with;
	void *mem = map_fresh(64), *mem2 = map_fresh(64), *more = map_fresh(32);
	char *readback = malloc(64 * page_size), why[64];

	ASSERT_EQ(0, dma_write(self->fd, mem, 64, 2, &without));

	ASSERT_EQ(0, RUN(&self->run, "passthrough", "-d", "swsva0", "-j"));
	swsva_counters(self->fd, &before);
	ASSERT_EQ(0, dma_write(self->fd, mem2, 64, 3, &with));
	EXPECT_TRUE(holds(mem2, 64, 3));
	EXPECT_EQ(without.page_requests, with.page_requests);
	EXPECT_EQ(without.groups, with.groups);
	EXPECT_EQ(without.resp_success, with.resp_success);
	/* and some more: DMAs of other sizes, a read of what was written */
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(0, dma_write(self->fd, (char *)more + i * 8 * page_size,
				       1 + i * 2, 4 + i, NULL));
	ASSERT_EQ(0, swsva_dma(self->fd, false, mem2, 64 * page_size, readback, NULL));
	EXPECT_EQ(0, memcmp(readback, mem2, 64 * page_size));
	swsva_counters(self->fd, &after);
	swsva_counters_delta(&d, &before, &after);
	EXPECT_EQ(0, swsva_wait_idle(0, 20000));

	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_STREQ("passthrough", self->run.name);
	EXPECT_NE(NULL, strstr(self->run.out, "passthrough attached to swsva0. Hit Ctrl-C to detach.\n"))
		TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));
	EXPECT_STREQ("unregistered", detached_reason(self->run.out, why, sizeof(why)));

	EXPECT_LT(with.groups, d.groups);
	EXPECT_EQ(d.groups, d.resp_success);
	EXPECT_EQ(d.groups, final_num(self->run.out, "counters", "groups"));
	EXPECT_EQ(d.page_requests, final_num(self->run.out, "counters", "requests"));
	/* the responses are the kernel's to count */
	EXPECT_EQ(d.groups, final_num(self->run.out, "kernel", "groups"));
	EXPECT_EQ(d.page_requests, final_num(self->run.out, "kernel", "requests"));
	EXPECT_EQ(d.responses, final_num(self->run.out, "kernel", "responses"));
	EXPECT_EQ(0, final_num(self->run.out, "kernel", "group_invalid"));
	EXPECT_EQ(0, final_num(self->run.out, "kernel", "group_failure"));
	free(readback);
}

/* --- ratelimit ------------------------------------------------------------- */

/*
 * The budget: RATE groups a second after a burst of BURST. The test
 * offers one-page DMAs as fast as the device takes them: 150 to 550 a
 * second on the debug kernel, thousands on the default one (each test
 * checks it offered several times the budget), so the policy, not the
 * device, decides how many get through; a burst of half a second's worth
 * rides out the guest's pauses under TCG.
 */
#define RATE	20
#define BURST	10

/* What the budget lets through in @ns of load over the limit */
static double budget(uint64_t ns)
{
	return RATE * (ns / 1e9) + BURST;
}

static char *int_arg(const char *fmt, long long v)
{
	char *s;

	return asprintf(&s, fmt, v) < 0 ? NULL : s;
}

TEST_F_TIMEOUT(pol, ratelimit_lets_its_budget_through_and_refuses_the_rest, 180)
{
	struct swsva_counters a, b, d;
	struct load l;
	long long refused;

	ASSERT_EQ(0, RUN(&self->run, "ratelimit", "-d", "swsva0", "--pasid",
			 int_arg("%lld", self->pasid), int_arg("rate=%lld", RATE),
			 int_arg("burst=%lld", BURST), "-j"));
	swsva_counters(self->fd, &a);
	offer_load(self->fd, 3, &l);
	swsva_counters(self->fd, &b);
	swsva_counters_delta(&d, &a, &b);
	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));

	TH_LOG("offered %lld groups in %.2f s (%.0f/s); accepted %lld, budget %.0f",
	       l.dmas, l.ns / 1e9, l.dmas / (l.ns / 1e9), d.resp_success, budget(l.ns));
	ASSERT_LT(3 * budget(l.ns), l.dmas) TH_LOG("the device cannot offer enough");
	EXPECT_EQ(l.dmas, d.groups);
	EXPECT_EQ(0, l.other) TH_LOG("last error %d", l.last_error);
	EXPECT_EQ(0, l.eio);
	EXPECT_LE(0.9 * budget(l.ns), d.resp_success);
	EXPECT_GE(1.1 * budget(l.ns), d.resp_success);
	EXPECT_EQ(l.ok, d.resp_success);

	refused = final_num(self->run.out, "counters", "refused");
	EXPECT_EQ(d.resp_invalid, refused);
	EXPECT_EQ(l.efault, refused);
	EXPECT_EQ(d.resp_success, final_num(self->run.out, "counters", "accepted"));
	EXPECT_EQ(refused, final_num(self->run.out, "kernel", "group_invalid"));
	/* One event per refusal, printed or counted as dropped */
	EXPECT_EQ(refused, count_events(self->run.out, "group", "invalid") +
		  final_num(self->run.out, "counters", "iopf_events_dropped"));
	EXPECT_NE(NULL, strstr(self->run.out, "\"reason\":\"over budget\""));
}

/*
 * verdict=failure: the groups over budget get Response Failure, the DMA
 * EIO. swsva models no PRI shutdown: the device keeps raising page
 * requests, one per DMA, and those within budget work again.
 */
TEST_F_TIMEOUT(pol, ratelimit_failure_verdict_is_response_failure, 180)
{
	struct swsva_counters a, b, d;
	struct load l;
	long long refused;

	ASSERT_EQ(0, RUN(&self->run, "ratelimit", "-d", "swsva0", "--pasid",
			 int_arg("%lld", self->pasid), int_arg("rate=%lld", RATE),
			 int_arg("burst=%lld", BURST), "verdict=failure", "-q", "-j"));
	swsva_counters(self->fd, &a);
	offer_load(self->fd, 1.5, &l);
	swsva_counters(self->fd, &b);
	swsva_counters_delta(&d, &a, &b);
	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));

	ASSERT_LT(3 * budget(l.ns), l.dmas);
	refused = final_num(self->run.out, "counters", "refused");
	EXPECT_LT(0, refused);
	EXPECT_EQ(d.resp_failure, refused);
	EXPECT_EQ(l.eio, refused);
	EXPECT_EQ(refused, final_num(self->run.out, "kernel", "group_failure"));
	EXPECT_EQ(0, final_num(self->run.out, "kernel", "group_invalid"));
	EXPECT_EQ(0, l.efault + l.other) TH_LOG("last error %d", l.last_error);
	EXPECT_EQ(l.dmas, d.page_requests);
	EXPECT_EQ(l.ok, d.resp_success);
	EXPECT_LT(0, l.ok_after_eio);
}

/* per_device=1: one bucket for every PASID of the device */
TEST_F_TIMEOUT(pol, ratelimit_per_device_shares_one_bucket, 180)
{
	struct swsva_counters a, b, d;
	struct load l, lc;
	int go[2], res[2];
	uint64_t t0;
	pid_t child;

	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(res));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		int fd = bind_own(0);
		char c;

		close(self->fd);
		if (fd < 0 || read(go[0], &c, 1) != 1)
			_exit(1);
		offer_load(fd, 3, &lc);
		_exit(write(res[1], &lc, sizeof(lc)) == sizeof(lc) ? 0 : 2);
	}
	ASSERT_EQ(0, RUN(&self->run, "ratelimit", "-d", "swsva0", "per_device=1",
			 int_arg("rate=%lld", RATE), int_arg("burst=%lld", BURST),
			 "-q", "-j"));
	swsva_counters(self->fd, &a);
	t0 = swsva_now_ns();
	ASSERT_EQ(1, write(go[1], "g", 1));
	offer_load(self->fd, 3, &l);
	ASSERT_EQ(sizeof(lc), read(res[0], &lc, sizeof(lc)));
	l.ns = swsva_now_ns() - t0;
	swsva_counters(self->fd, &b);
	swsva_counters_delta(&d, &a, &b);
	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));
	ASSERT_EQ(child, waitpid(child, NULL, 0));

	TH_LOG("two PASIDs offered %lld + %lld groups in %.2f s; accepted %lld + %lld, budget %.0f",
	       l.dmas, lc.dmas, l.ns / 1e9, l.ok, lc.ok, budget(l.ns));
	ASSERT_LT(3 * budget(l.ns), l.dmas + lc.dmas);
	EXPECT_EQ(0, l.other + lc.other + l.eio + lc.eio);
	EXPECT_EQ(l.ok + lc.ok, d.resp_success);
	EXPECT_LE(0.9 * budget(l.ns), d.resp_success);
	EXPECT_GE(1.1 * budget(l.ns), d.resp_success);
	EXPECT_EQ(d.resp_invalid, final_num(self->run.out, "counters", "refused"));
}

/* --- range-guard ----------------------------------------------------------- */

static char *range_arg(int pasid, uintptr_t start, uintptr_t end)
{
	char *s;

	if (pasid)
		return asprintf(&s, "allow=%d:%#lx-%#lx", pasid, start, end) < 0 ? NULL : s;
	return asprintf(&s, "allow=%#lx-%#lx", start, end) < 0 ? NULL : s;
}

/* The denial events of a run, by address */
static int denial_at(const char *out, uintptr_t addr, int pasid)
{
	char line[4096], v[64];
	size_t pos = 0;
	int n = 0;

	while (json_next_line(out, &pos, line, sizeof(line)))
		n += json_str(line, "event", v, sizeof(v)) && !strcmp(v, "request") &&
		     json_num(line, "addr", 0) == (long long)addr &&
		     json_num(line, "pasid", 0) == pasid &&
		     json_str(line, "verdict", v, sizeof(v)) && !strcmp(v, "invalid") &&
		     json_str(line, "reason", v, sizeof(v)) &&
		     !strcmp(v, "outside allowed ranges");
	return n;
}

/*
 * A in the allow-list, B not: A gets its data, B gets nothing faulted in
 * and stays zero. A range that is not page aligned allows every page it
 * overlaps.
 */
TEST_F_TIMEOUT(pol, range_guard_denies_outside_the_allowed_ranges, 120)
{
	char *a = map_fresh(16), *b = map_fresh(16), *c = map_fresh(4);
	struct swsva_counters before, after, d, da, dc;
	char *zero = calloc(16, page_size);

	ASSERT_EQ(0, RUN(&self->run, "range-guard", "-d", "swsva0", "--pasid",
			 int_arg("%lld", self->pasid), "-j",
			 range_arg(0, (uintptr_t)a, (uintptr_t)a + 16 * page_size),
			 /* 100 bytes into page 0 to 1 byte into page 2 */
			 range_arg(0, (uintptr_t)c + 100, (uintptr_t)c + 2 * page_size + 1)));
	swsva_counters(self->fd, &before);
	EXPECT_EQ(0, dma_write(self->fd, a, 16, 5, &da));
	EXPECT_TRUE(holds(a, 16, 5));

	EXPECT_EQ(-EFAULT, dma_write(self->fd, b, 16, 6, &d));
	EXPECT_EQ(0, resident_pages(b, 16));
	EXPECT_EQ(1, d.resp_invalid);
	EXPECT_EQ(0, memcmp(b, zero, 16 * page_size));
	free(zero);

	EXPECT_EQ(0, dma_write(self->fd, c, 3, 7, &dc));
	EXPECT_TRUE(holds(c, 3, 7));
	EXPECT_EQ(-EFAULT, dma_write(self->fd, c + 3 * page_size, 1, 8, &d));
	EXPECT_EQ(3, resident_pages(c, 4));
	swsva_counters(self->fd, &after);
	swsva_counters_delta(&d, &before, &after);

	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));
	EXPECT_EQ(2, d.resp_invalid);
	EXPECT_EQ(1, denial_at(self->run.out, (uintptr_t)b, self->pasid)) TH_LOG("%s", self->run.out);
	EXPECT_EQ(1, denial_at(self->run.out, (uintptr_t)c + 3 * page_size, self->pasid));
	EXPECT_EQ(2, count_events(self->run.out, "request", NULL));
	EXPECT_EQ(2, final_num(self->run.out, "counters", "denied"));
	EXPECT_EQ(2, final_num(self->run.out, "kernel", "request_invalid"));
	EXPECT_EQ(da.page_requests + dc.page_requests,
		  final_num(self->run.out, "counters", "allowed"));
	EXPECT_EQ(16 + 3, da.page_requests + dc.page_requests);
}

/* An entry for one PASID allows nothing to another, at the same address */
TEST_F_TIMEOUT(pol, range_guard_pasid_entry_is_for_that_pasid_only, 120)
{
	char *a = map_fresh(8);
	struct swsva_counters before, after, d;
	int status;
	pid_t child;

	ASSERT_EQ(0, RUN(&self->run, "range-guard", "-d", "swsva0", "-j",
			 range_arg(self->pasid, (uintptr_t)a, (uintptr_t)a + 8 * page_size)));
	swsva_counters(self->fd, &before);
	/* The child's copy of the untouched mapping, through its own PASID */
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		int fd = bind_own(0);

		close(self->fd);
		if (fd < 0 || dma_write(fd, a, 8, 9, NULL) != -EFAULT)
			_exit(1);
		_exit(resident_pages(a, 8) ? 2 : 0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, dma_write(self->fd, a, 8, 10, NULL));
	EXPECT_TRUE(holds(a, 8, 10));
	swsva_counters(self->fd, &after);
	swsva_counters_delta(&d, &before, &after);

	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));
	EXPECT_EQ(1, d.resp_invalid);
	EXPECT_EQ(1, final_num(self->run.out, "counters", "denied"));
	EXPECT_EQ(8, final_num(self->run.out, "counters", "allowed"));
	EXPECT_EQ(1, count_events(self->run.out, "request", "invalid"));
	EXPECT_EQ(0, denial_at(self->run.out, (uintptr_t)a, self->pasid));
}

/* --- prefault -------------------------------------------------------------- */

TEST_F_TIMEOUT(pol, prefault_cuts_the_page_requests_of_a_stream, 120)
{
	const size_t pages = 1024;
	/* room for the window past the DMA: no prefault runs off the mapping */
	void *mem = map_fresh(pages + 16);
	struct swsva_counters d;
	long long prefaulted;

	ASSERT_EQ(0, RUN(&self->run, "prefault", "-d", "swsva0", "window=16", "-j"));
	ASSERT_EQ(0, dma_write(self->fd, mem, pages, 11, &d));
	EXPECT_TRUE(holds(mem, pages, 11));
	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));

	prefaulted = final_num(self->run.out, "counters", "prefaulted");
	TH_LOG("%zu-page stream, window 16: %llu page requests in %llu groups, %lld pages prefaulted",
	       pages, d.page_requests, d.groups, prefaulted);
	/* at least 8 times fewer than the one per page without it */
	EXPECT_GE(pages / 8, d.page_requests);
	EXPECT_EQ(d.page_requests, final_num(self->run.out, "counters", "requests"));
	EXPECT_EQ(d.page_requests, final_num(self->run.out, "kernel", "requests"));
	EXPECT_EQ(prefaulted, final_num(self->run.out, "kernel", "prefaulted"));
	/* every page of the stream came from a request or a prefault */
	EXPECT_LE(pages - d.page_requests, prefaulted);
	EXPECT_EQ(0, final_num(self->run.out, "counters", "prefault_errors"));
	EXPECT_EQ(0, final_num(self->run.out, "kernel", "errors"));
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* A fixed shuffle of 0..@n-1 in which no page follows its predecessor */
static void shuffle_no_run(size_t *order, size_t n)
{
	uint64_t seed = 42;
	bool run;

	for (size_t i = 0; i < n; i++)
		order[i] = i;
	do {
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = next_rand(&seed) % (i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		run = false;
		for (size_t i = 1; i < n; i++)
			run |= order[i] == order[i - 1] + 1;
	} while (run);
}

TEST_F_TIMEOUT(pol, prefault_leaves_random_access_alone, 120)
{
	const size_t pages = 256;
	char *mem = map_fresh(pages);
	struct swsva_counters before, after, d;
	size_t order[pages];

	shuffle_no_run(order, pages);
	ASSERT_EQ(0, RUN(&self->run, "prefault", "-d", "swsva0", "window=16", "-j"));
	swsva_counters(self->fd, &before);
	for (size_t i = 0; i < pages; i++)
		ASSERT_EQ(0, dma_write(self->fd, mem + order[i] * page_size, 1,
				       order[i] + 1, NULL));
	swsva_counters(self->fd, &after);
	swsva_counters_delta(&d, &before, &after);
	for (size_t i = 0; i < pages; i++)
		EXPECT_TRUE(holds(mem + i * page_size, 1, i + 1));
	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));

	EXPECT_EQ(pages, d.page_requests);
	EXPECT_EQ(pages, final_num(self->run.out, "counters", "requests"));
	EXPECT_EQ(0, final_num(self->run.out, "counters", "streams"));
	EXPECT_EQ(0, final_num(self->run.out, "counters", "prefaulted"));
	EXPECT_EQ(0, final_num(self->run.out, "kernel", "prefaulted"));
}

/* --- fault-trace ----------------------------------------------------------- */

/* fault-trace over a 16-page DMA: an event per group, request, response */
static void trace_dma(struct __test_metadata *_metadata,
		      FIXTURE_DATA(pol) *self, bool requests)
{
	const size_t pages = 16;
	char *mem = map_fresh(pages), line[4096], v[32];
	int seen[16] = {}, groups = 0, nr_requests = 0, responses = 0;
	struct swsva_counters d;
	size_t pos = 0;

	ASSERT_EQ(0, RUN(&self->run, "fault-trace", "-d", "swsva0", "-j",
			 requests ? NULL : "trace_requests=0"));
	ASSERT_EQ(0, dma_write(self->fd, mem, pages, 12, &d));
	EXPECT_TRUE(holds(mem, pages, 12));
	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));

	ASSERT_EQ((pages + swsva_group_pages() - 1) / swsva_group_pages(), d.groups);
	ASSERT_EQ(pages, d.page_requests);
	while (json_next_line(self->run.out, &pos, line, sizeof(line))) {
		if (!json_str(line, "event", v, sizeof(v)))
			continue;
		EXPECT_EQ(self->pasid, json_num(line, "pasid", -1));
		if (!strcmp(v, "group")) {
			groups++;
			EXPECT_TRUE(json_str(line, "verdict", v, sizeof(v)) &&
				    !strcmp(v, "default")) TH_LOG("%s", line);
		} else if (!strcmp(v, "request")) {
			uintptr_t addr = json_num(line, "addr", 0);

			nr_requests++;
			if (addr >= (uintptr_t)mem && addr < (uintptr_t)mem + pages * page_size &&
			    !(addr % page_size))
				seen[(addr - (uintptr_t)mem) / page_size]++;
		} else if (!strcmp(v, "response")) {
			responses++;
			EXPECT_TRUE(json_str(line, "code", v, sizeof(v)) &&
				    !strcmp(v, "success")) TH_LOG("%s", line);
		}
	}
	EXPECT_EQ(d.groups, groups);
	EXPECT_EQ(d.responses, responses);
	if (requests) {
		EXPECT_EQ(d.page_requests, nr_requests);
		for (size_t i = 0; i < pages; i++) {
			EXPECT_EQ(1, seen[i]) TH_LOG("page %zu", i);
		}
	} else {
		EXPECT_EQ(0, nr_requests);
	}
	/* the request callback counts them either way */
	EXPECT_EQ(d.page_requests, final_num(self->run.out, "counters", "requests"));
	EXPECT_EQ(d.groups, final_num(self->run.out, "counters", "groups"));
}

TEST_F_TIMEOUT(pol, fault_trace_records_every_group_request_response, 120)
{
	trace_dma(_metadata, self, true);
}

TEST_F_TIMEOUT(pol, fault_trace_without_requests, 120)
{
	trace_dma(_metadata, self, false);
}

/* --- a process target ------------------------------------------------------ */

/*
 * range-guard with no range denies everything; attached to a process
 * before it binds, it covers that process once it binds, and no other.
 */
TEST_F_TIMEOUT(pol, process_target_applies_from_its_bind, 120)
{
	int go[2], res[2], result[2], status;
	struct swsva_counters before, after, d;
	char name[32], *att;
	struct tool_out o;
	pid_t child;
	void *mine = map_fresh(4);

	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(res));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		void *mem = map_fresh(4);
		int fd, r[2] = { -1, -1 };
		char c;

		close(self->fd);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		fd = bind_own(0);
		if (fd >= 0)
			r[0] = dma_write(fd, mem, 4, 13, NULL);
		r[1] = resident_pages(mem, 4);
		if (write(res[1], r, sizeof(r)) != sizeof(r))
			_exit(2);
		/* bound until told */
		_exit(read(go[0], &c, 1) == 1 ? 0 : 3);
	}

	ASSERT_EQ(0, TOOL(&o, "attach", "range-guard", "-p", int_arg("%lld", child)))
		TH_LOG("%s", o.err);
	attach_name(o.out, name);
	ASSERT_NE(0, name[0]) TH_LOG("%s", o.out);
	tool_out_free(&o);
	ASSERT_EQ(0, TOOL(&o, "list", "-j"));
	EXPECT_TRUE(valid_json(_metadata, o.out));
	att = strstr(o.out, "\"attached\":[{");
	ASSERT_NE(NULL, att) TH_LOG("%s", o.out);
	EXPECT_EQ(child, json_num(att, "tgid", -1));
	EXPECT_EQ(0, json_num(att, "covers", -1));
	tool_out_free(&o);

	swsva_counters(self->fd, &before);
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(sizeof(result), read(res[0], result, sizeof(result)));
	EXPECT_EQ(-EFAULT, result[0]);
	EXPECT_EQ(0, result[1]);
	/* the child holds its binding: another process works meanwhile */
	EXPECT_EQ(0, dma_write(self->fd, mine, 4, 14, NULL));
	EXPECT_TRUE(holds(mine, 4, 14));
	swsva_counters(self->fd, &after);
	swsva_counters_delta(&d, &before, &after);
	EXPECT_EQ(1, d.resp_invalid);

	ASSERT_EQ(0, TOOL(&o, "list", "-j"));
	att = strstr(o.out, "\"attached\":[{");
	ASSERT_NE(NULL, att) TH_LOG("%s", o.out);
	EXPECT_LT(0, json_num(att, "covers", -1));
	EXPECT_NE(self->pasid, json_num(att, "covers", -1));
	EXPECT_EQ(1, json_num(att, "request_invalid", -1));
	tool_out_free(&o);

	ASSERT_EQ(1, write(go[1], "q", 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, TOOL(&o, "detach", name)) TH_LOG("%s", o.err);
	tool_out_free(&o);
}

/* --- errors ---------------------------------------------------------------- */

/* @o failed with @status, said @msg on stderr, and left nothing behind */
static void expect_error(struct __test_metadata *_metadata, struct tool_out *o,
			 int status, const char *msg, int pins)
{
	char *text = debugfs_policies();

	EXPECT_EQ(status, o->status) TH_LOG("stdout: %s\nstderr: %s", o->out, o->err);
	EXPECT_NE(NULL, strstr(o->err, msg)) TH_LOG("stderr: %s", o->err);
	EXPECT_EQ(pins, pinned());
	if (!pins)
		EXPECT_STREQ("", text);
	free(text);
	tool_out_free(o);
}

TEST_F_TIMEOUT(pol, errors_have_their_status_and_leave_nothing, 180)
{
	static const char first[] = "passthrough device=swsva0 ";
	struct tool_out o;
	char *text, *bad = strdup(build_path("bpfobj/user_policy_bad.bpf.o"));
	int status;
	pid_t gone;

	ASSERT_EQ(0, TOOL(&o, "attach", "passthrough", "-d", "swsva0"));
	tool_out_free(&o);
	TOOL(&o, "attach", "ratelimit", "-d", "swsva0");
	expect_error(_metadata, &o, 5, "target busy", 1);
	TOOL(&o, "run", "ratelimit");
	expect_error(_metadata, &o, 5, "target busy", 1);
	/* the first one only */
	text = debugfs_policies();
	EXPECT_EQ(0, strncmp(text, first, strlen(first))) TH_LOG("%s", text);
	EXPECT_EQ(strchr(text, '\n'), strrchr(text, '\n')) TH_LOG("%s", text);
	free(text);
	ASSERT_EQ(0, TOOL(&o, "detach", "passthrough"));
	tool_out_free(&o);

	TOOL(&o, "detach", "nosuch");
	expect_error(_metadata, &o, 6, "no attached policy", 0);

	gone = fork();
	ASSERT_LE(0, gone);
	if (gone == 0)
		_exit(0);
	ASSERT_EQ(gone, waitpid(gone, &status, 0));
	TOOL(&o, "attach", "passthrough", "-p", int_arg("%lld", gone));
	expect_error(_metadata, &o, 6, "no process", 0);
	TOOL(&o, "attach", "passthrough", "-d", "nodev");
	expect_error(_metadata, &o, 6, "no device", 0);

	TOOL(&o, "attach", "ratelimit", "foo=1");
	expect_error(_metadata, &o, 2, "has no option", 0);
	TOOL(&o, "attach", "ratelimit", "rate=0");
	expect_error(_metadata, &o, 2, "rate=0", 0);
	TOOL(&o, "attach", "ratelimit", "rate=abc");
	expect_error(_metadata, &o, 2, "rate=abc", 0);
	TOOL(&o, "run", "prefault", "window=257");
	expect_error(_metadata, &o, 2, "window=257", 0);

	TOOL(&o, "attach", strdup(build_path("bpfobj/iopf-top.bpf.o")));
	expect_error(_metadata, &o, 7, "no struct iommu_fault_ops", 0);
	TOOL(&o, "attach", bad);
	expect_error(_metadata, &o, 7, "user_policy_bad.bpf.o", 0);
	/* -v: the verifier's own words */
	TOOL(&o, "attach", "-v", bad);
	expect_error(_metadata, &o, 7, "only read is supported", 0);

	TOOL_AS(&o, 65534, "attach", "passthrough", "-d", "swsva0");
	expect_error(_metadata, &o, 4, "needs root", 0);
	TOOL_AS(&o, 65534, "run", "passthrough");
	expect_error(_metadata, &o, 4, "needs root", 0);
	free(bad);
}

/* --- a user's object ------------------------------------------------------- */

TEST_F_TIMEOUT(pol, user_object_with_its_own_options, 120)
{
	char *obj = strdup(build_path("bpfobj/user_policy.bpf.o"));
	struct swsva_counters before, after, d;
	char *mem = map_fresh(10), why[64];
	struct tool_out o;
	int n = 10;

	ASSERT_EQ(0, TOOL(&o, "help", obj)) TH_LOG("%s", o.err);
	EXPECT_NE(NULL, strstr(o.out, "deny_every")) TH_LOG("%s", o.out);
	EXPECT_NE(NULL, strstr(o.out, "error_after")) TH_LOG("%s", o.out);
	EXPECT_NE(NULL, strstr(o.out, " groups denied")) TH_LOG("%s", o.out);
	tool_out_free(&o);

	ASSERT_EQ(0, RUN(&self->run, obj, "-d", "swsva0", "deny_every=2", "-j"));
	EXPECT_STREQ("user_policy", self->run.name);
	swsva_counters(self->fd, &before);
	/* one group each: every second one denied */
	for (int i = 0; i < n; i++)
		EXPECT_EQ(i % 2 ? -EFAULT : 0,
			  dma_write(self->fd, mem + i * page_size, 1, 15, NULL));
	swsva_counters(self->fd, &after);
	swsva_counters_delta(&d, &before, &after);
	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));
	EXPECT_STREQ("unregistered", detached_reason(self->run.out, why, sizeof(why)));

	EXPECT_EQ(n, d.groups);
	EXPECT_EQ(n / 2, d.resp_invalid);
	EXPECT_EQ(n, final_num(self->run.out, "counters", "groups"));
	EXPECT_EQ(n / 2, final_num(self->run.out, "counters", "denied"));
	EXPECT_EQ(n / 2, final_num(self->run.out, "kernel", "group_invalid"));
	EXPECT_EQ(n / 2, count_events(self->run.out, "group", "invalid"));
	free(obj);
}

/* dmesg lines that mention @what */
static int kmsg_count(const char *what)
{
	static char out[1 << 20];
	char *argv[] = { "/bin/dmesg", NULL };
	int n = 0;

	if (run_capture(argv, out, sizeof(out)))
		return -1;
	for (char *p = out; (p = strstr(p, what)); p++)
		n++;
	return n;
}

/*
 * docs/policies.md's second example, readonly.bpf.o: the device reads
 * untouched memory (read requests, faulted in), and its write into
 * untouched memory is refused before anything is faulted in.
 */
TEST_F_TIMEOUT(pol, readonly_example_refuses_writes_only, 120)
{
	char *obj = strdup(build_path("bpfobj/readonly.bpf.o"));
	char *rmem = map_fresh(4), *wmem = map_fresh(4), buf[4 * 4096], why[64];
	struct swsva_counters before, after, d;

	ASSERT_GE(sizeof(buf), 4 * page_size);
	ASSERT_EQ(0, RUN(&self->run, obj, "-d", "swsva0", "-j"));
	swsva_counters(self->fd, &before);
	EXPECT_EQ(0, swsva_dma(self->fd, false, rmem, 4 * page_size, buf, NULL));
	EXPECT_EQ(-EFAULT, dma_write(self->fd, wmem, 4, 21, NULL));
	swsva_counters(self->fd, &after);
	swsva_counters_delta(&d, &before, &after);
	EXPECT_EQ(0, resident_pages(wmem, 4));
	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));
	EXPECT_STREQ("unregistered", detached_reason(self->run.out, why, sizeof(why)));

	EXPECT_EQ(2, d.groups);
	EXPECT_EQ(1, d.resp_success);
	EXPECT_EQ(1, d.resp_invalid);
	EXPECT_EQ(4, final_num(self->run.out, "counters", "reads"));
	/* the first write request refuses its group: the others never come */
	EXPECT_EQ(1, final_num(self->run.out, "counters", "writes_refused"));
	EXPECT_EQ(1, count_events(self->run.out, "request", "invalid"));
	EXPECT_NE(NULL, strstr(self->run.out, "\"reason\":\"write refused\""));
	free(obj);
}

/*
 * An object that names its own target (policy_deny.bpf.o: swsva0) and is
 * run without one keeps it, and the tool reports and reads that target.
 */
TEST_F_TIMEOUT(pol, user_object_keeps_its_own_target, 120)
{
	char *obj = strdup(build_path("bpfobj/policy_deny.bpf.o"));
	struct swsva_counters before, after, d;
	char *mem = map_fresh(1), why[64];

	ASSERT_EQ(0, RUN(&self->run, obj, "-j"));
	swsva_counters(self->fd, &before);
	EXPECT_EQ(-EFAULT, dma_write(self->fd, mem, 1, 15, NULL));
	swsva_counters(self->fd, &after);
	swsva_counters_delta(&d, &before, &after);
	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_NE(NULL, strstr(self->run.out, "deny_all attached to swsva0."))
		TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));
	EXPECT_STREQ("unregistered", detached_reason(self->run.out, why, sizeof(why)));
	EXPECT_EQ(1, d.resp_invalid);
	/* the kernel's counters of the policy: found under the object's target */
	EXPECT_EQ(1, final_num(self->run.out, "kernel", "groups"));
	EXPECT_EQ(1, final_num(self->run.out, "kernel", "group_invalid"));
	free(obj);
}

/* bpf_iommu_fault_error(): the kernel detaches it, run says why, exit 8 */
TEST_F_TIMEOUT(pol, user_object_that_gives_up_ends_the_run, 120)
{
	static const char kmsg[] = "fault policy user_policy detached: error: user: enough";
	char *obj = strdup(build_path("bpfobj/user_policy.bpf.o")), *text;
	int logged = kmsg_count(kmsg);
	char *mem = map_fresh(5);

	ASSERT_EQ(0, RUN(&self->run, obj, "-d", "swsva0", "error_after=3"));
	/* the third group gives up; it and the rest are the kernel's */
	for (int i = 0; i < 5; i++)
		EXPECT_EQ(0, dma_write(self->fd, mem + i * page_size, 1, 16, NULL));
	ASSERT_EQ(8, run_stop(&self->run, 0)) TH_LOG("%s", self->run.out);
	EXPECT_NE(NULL, strstr(self->run.out, "\nuser_policy detached: error: user: enough\n"))
		TH_LOG("%s", self->run.out);
	EXPECT_NE(NULL, strstr(self->run.out, " groups 3 denied 0\n")) TH_LOG("%s", self->run.out);
	/* what the kernel logged */
	EXPECT_EQ(logged + 1, kmsg_count(kmsg));
	text = debugfs_policies();
	EXPECT_STREQ("", text);
	free(text);
	free(obj);
}

/*
 * The same, failing closed: once the kernel detached it, its target
 * refuses every request, and run says so and holds the link until it is
 * told to end (exit 8); then the target is open again.
 */
TEST_F_TIMEOUT(pol, user_object_that_fails_closed_holds_the_target_until_run_ends, 120)
{
	char *obj = strdup(build_path("bpfobj/user_policy_closed.bpf.o")), *text;
	char *mem = map_fresh(6);

	ASSERT_EQ(0, RUN(&self->run, obj, "-d", "swsva0", "error_after=3"));
	EXPECT_EQ(0, dma_write(self->fd, mem, 1, 17, NULL));
	EXPECT_EQ(0, dma_write(self->fd, mem + page_size, 1, 17, NULL));
	/* the third group gives up: it and the later ones are refused */
	for (int i = 2; i < 5; i++)
		EXPECT_EQ(-EFAULT, dma_write(self->fd, mem + i * page_size, 1, 17, NULL));
	EXPECT_EQ(0, resident_pages(mem + 2 * page_size, 3));
	text = debugfs_policies();
	EXPECT_NE(NULL, strstr(text, " state=closed ")) TH_LOG("%s", text);
	free(text);

	/* run says so once it sees it (it looks every 100 ms) */
	EXPECT_TRUE(run_said(&self->run, "user_policy failed closed: ", 5000));
	ASSERT_EQ(8, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_NE(NULL, strstr(self->run.out, "user_policy failed closed: error: user: enough; "
			       "its target refuses every page request until iopf-policy ends\n"))
		TH_LOG("%s", self->run.out);
	EXPECT_NE(NULL, strstr(self->run.out, "\nuser_policy detached: error: user: enough\n"))
		TH_LOG("%s", self->run.out);
	/* its link gone, the target is open */
	EXPECT_EQ(0, dma_write(self->fd, mem + 5 * page_size, 1, 17, NULL));
	text = debugfs_policies();
	EXPECT_STREQ("", text);
	free(text);
	free(obj);
}

/* --- bpftool --------------------------------------------------------------- */

/*
 * The bundled object registered by bpftool alone, with no target: list
 * shows it held by bpftool's link, detach detaches it.
 */
TEST_F_TIMEOUT(pol, detach_takes_a_policy_bpftool_registered, 120)
{
	static const char dir[] = BPFTOOL_PIN;
	char out[4096], cmd[PATH_MAX * 2], *text;
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	long long map_id, link_id;
	struct swsva_counters d;
	void *mem = map_fresh(8);
	struct tool_out o;
	const char *att;

	ASSERT_EQ(0, mkdir(dir, 0700));
	snprintf(cmd, sizeof(cmd), "%s struct_ops register %s %s",
		 strdup(build_path("bpftool/bpftool")),
		 strdup(build_path("bpfobj/passthrough.bpf.o")), dir);
	ASSERT_EQ(0, run_capture(argv, out, sizeof(out))) TH_LOG("%s", out);
	ASSERT_EQ(2, sscanf(strstr(out, "map id") ?: "", "map id %lld link id %lld",
			    &map_id, &link_id)) TH_LOG("%s", out);

	ASSERT_EQ(0, dma_write(self->fd, mem, 8, 17, &d));
	ASSERT_EQ(0, TOOL(&o, "list", "-j"));
	EXPECT_TRUE(valid_json(_metadata, o.out));
	att = strstr(o.out, "\"attached\":[{");
	ASSERT_NE(NULL, att) TH_LOG("%s", o.out);
	EXPECT_NE(NULL, strstr(att, "\"name\":\"passthrough\",\"device\":\"\",")) TH_LOG("%s", att);
	EXPECT_NE(NULL, strstr(att, "\"pin\":null")) TH_LOG("%s", att);
	EXPECT_EQ(map_id, json_num(att, "map_id", -1));
	EXPECT_EQ(link_id, json_num(att, "link_id", -1));
	EXPECT_EQ(d.groups, json_num(att, "groups", -1));
	tool_out_free(&o);

	ASSERT_EQ(0, TOOL(&o, "detach", "passthrough")) TH_LOG("%s", o.err);
	EXPECT_STREQ("passthrough detached\n", o.out);
	tool_out_free(&o);
	text = debugfs_policies();
	EXPECT_STREQ("", text);
	free(text);
	ASSERT_EQ(0, TOOL(&o, "list", "-j"));
	EXPECT_NE(NULL, strstr(o.out, "\"attached\":[]")) TH_LOG("%s", o.out);
	tool_out_free(&o);
	/* bpftool's pin holds a link to nothing now: ours to clean */
	snprintf(cmd, sizeof(cmd), "rm -r %s", dir);
	EXPECT_EQ(0, run_capture(argv, out, sizeof(out)));
}

/* --- detach under load ----------------------------------------------------- */

/* Processes that run DMAs until told to stop, and what they got */
struct dma_worker {
	volatile int stop;
	long long dmas, ok, efault, other, bad_data;
	int last_error;
};

static void dma_worker(int ep, struct dma_worker *w)
{
	int fd = bind_own(ep);
	uint64_t seed = 100;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (fd >= 0 && !w->stop) {
		void *mem = map_fresh(16);
		int ret = dma_write(fd, mem, 16, ++seed, NULL);

		w->dmas++;
		if (!ret) {
			w->ok++;
			w->bad_data += !holds(mem, 16, seed);
		} else if (ret == -EFAULT) {
			w->efault++;
		} else {
			w->other++;
			w->last_error = ret;
		}
		munmap(mem, 16 * page_size);
	}
	_exit(fd < 0);
}

FIXTURE(storm) {
	int fd;
	int pasid;
	struct swsva_counters start;
	struct policy_run run;
};

FIXTURE_VARIANT(storm) {
	const char *policy;
	const char *opt[2];
	bool refuses;		/* its DMAs may fail with EFAULT */
};

FIXTURE_VARIANT_ADD(storm, passthrough) { .policy = "passthrough" };
FIXTURE_VARIANT_ADD(storm, ratelimit) {
	.policy = "ratelimit", .opt = { "rate=5", "burst=2" }, .refuses = true,
};
/* no allow=: everything denied */
FIXTURE_VARIANT_ADD(storm, range_guard) { .policy = "range-guard", .refuses = true };
FIXTURE_VARIANT_ADD(storm, prefault) { .policy = "prefault" };
FIXTURE_VARIANT_ADD(storm, fault_trace) { .policy = "fault-trace" };

FIXTURE_SETUP(storm)
{
	IPOL_SETUP(self);
}

FIXTURE_TEARDOWN(storm)
{
	IPOL_TEARDOWN(self);
}

/* one per endpoint */
#define WORKERS	2

/*
 * With DMAs running on both endpoints, attach and detach the policy over
 * and over, then run it and interrupt it: no DMA gets an error the policy
 * does not give, and every group is answered once (the teardown checks).
 */
TEST_F_TIMEOUT(storm, detach_under_load_loses_no_request, 600)
{
	struct dma_worker *w = mmap(NULL, WORKERS * sizeof(*w), PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	const char *const *opt = variant->opt;
	pid_t pids[WORKERS];
	char name[32], why[64];
	long long refused = 0;
	struct tool_out o;
	int i;

	ASSERT_NE(MAP_FAILED, w);
	memset(w, 0, WORKERS * sizeof(*w));
	for (i = 0; i < WORKERS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			close(self->fd);
			dma_worker(i, &w[i]);
		}
	}

	for (i = 0; i < 3; i++) {
		char *attach[] = { "attach", (char *)variant->policy,
				   (char *)opt[0], (char *)opt[1], NULL };

		ASSERT_EQ(0, tool_exec(&o, 0, attach)) TH_LOG("%s", o.err);
		attach_name(o.out, name);
		tool_out_free(&o);
		usleep(100000 * i);
		ASSERT_EQ(0, TOOL(&o, "detach", name)) TH_LOG("%s", o.err);
		tool_out_free(&o);
	}
	ASSERT_EQ(0, RUN(&self->run, (char *)variant->policy, "-q", "-j",
			 (char *)opt[0], (char *)opt[1]));
	usleep(500000);
	ASSERT_EQ(0, run_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);
	EXPECT_TRUE(valid_json(_metadata, self->run.out));
	EXPECT_STREQ("unregistered", detached_reason(self->run.out, why, sizeof(why)));
	/* it had load to work on */
	EXPECT_LT(0, final_num(self->run.out, "kernel", "groups"));

	for (i = 0; i < WORKERS; i++)
		w[i].stop = 1;
	for (i = 0; i < WORKERS; i++) {
		int status;

		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_EQ(0, WEXITSTATUS(status));
		TH_LOG("worker on swsva%d: %lld DMAs, %lld ok, %lld EFAULT",
		       i, w[i].dmas, w[i].ok, w[i].efault);
		EXPECT_LT(0, w[i].ok);
		EXPECT_EQ(0, w[i].bad_data);
		EXPECT_EQ(0, w[i].other) TH_LOG("last error %d", w[i].last_error);
		refused += w[i].efault;
	}
	if (variant->refuses) {
		EXPECT_LT(0, refused);
	} else {
		EXPECT_EQ(0, refused);
	}
}

TEST_HARNESS_MAIN
