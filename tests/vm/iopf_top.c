// SPDX-License-Identifier: GPL-2.0
/*
 * iopf-top (build/bin/iopf-top) against known workloads on the software
 * SVA device: the counts of its JSON lines must add up to what the device
 * and each process counted, each row must name its process (also one
 * bound before the tool started), its filters must select exactly their
 * rows, a fault policy's verdicts must show, it must exit as documented,
 * and a terminal (tmux) must show its screen.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "../lib/file_util.h"
#include "../lib/json_check.h"
#include "../lib/proc_util.h"
#include "../lib/swsva_util.h"

/* A guard against a hung tool or worker, not a measure of anything */
#define HANG_MS		120000

static size_t page_size;

/* --- workers: processes that bind and run DMAs when told ---------------- */

struct w_result {
	int ret;		/* bind: the PASID; DMA: 0 or -errno */
	__u64 requests, groups;	/* what the device raised for them */
};

struct worker {
	pid_t pid;
	int cmd, res;
	int ep;
	int pasid;
	char name[16];
	/* what its DMAs raised and how they were answered */
	long long requests, groups, success, invalid;
};

/* Write @len bytes of untouched memory: one page request per page */
static int dma_fresh(int fd, size_t len, struct w_result *r)
{
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf = malloc(len);
	struct swsva_dma out = {};
	int ret;

	if (mem == MAP_FAILED || !buf) {
		free(buf);
		return -ENOMEM;
	}
	madvise(mem, len, MADV_NOHUGEPAGE);
	memset(buf, 0x5a, len);
	ret = swsva_dma(fd, true, mem, len, buf, &out);
	r->requests += out.page_requests;
	r->groups += out.groups;
	munmap(mem, len);
	free(buf);
	return ret;
}

/* A page that was mapped and is no more: its request is answered Invalid */
static int dma_unmapped(int fd, struct w_result *r)
{
	char buf[64] = { 1 };
	struct swsva_dma out = {};
	void *mem = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	if (mem == MAP_FAILED)
		return -ENOMEM;
	munmap(mem, page_size);
	ret = swsva_dma(fd, true, mem, sizeof(buf), buf, &out);
	r->requests += out.page_requests;
	r->groups += out.groups;
	return ret;
}

/*
 * Commands: 'b' bind, 'd' write 2 MiB of fresh memory, 'i' one DMA to an
 * unmapped page, 'l' write 1 MiB of fresh memory again and again until the
 * next command byte (which it takes), 'q' exit.
 */
static void __attribute__((noreturn))
worker_main(int cmd, int res, const char *name, int ep)
{
	int fd;
	char c;

	prctl(PR_SET_NAME, name);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = swsva_open(ep);
	while (read(cmd, &c, 1) == 1 && c != 'q') {
		struct w_result r = {};
		struct pollfd pfd = { .fd = cmd, .events = POLLIN };

		if (fd < 0)
			r.ret = -ENODEV;
		else if (c == 'b')
			r.ret = swsva_bind(fd);
		else if (c == 'd')
			r.ret = dma_fresh(fd, 2 << 20, &r);
		else if (c == 'i')
			r.ret = dma_unmapped(fd, &r);
		else if (c == 'l')
			while (!r.ret && poll(&pfd, 1, 0) == 0)
				r.ret = dma_fresh(fd, 1 << 20, &r);
		if (c == 'l' && read(cmd, &c, 1) != 1)
			break;
		if (write(res, &r, sizeof(r)) != sizeof(r))
			break;
	}
	_exit(0);
}

static int worker_start(struct worker *w, const char *name, int ep)
{
	int cmd[2], res[2];

	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->ep = ep;
	w->pasid = -1;
	if (pipe2(cmd, O_CLOEXEC) || pipe2(res, O_CLOEXEC))
		return -errno;
	w->pid = fork();
	if (w->pid < 0)
		return -errno;
	if (!w->pid) {
		close(cmd[1]);
		close(res[0]);
		worker_main(cmd[0], res[1], name, ep);
	}
	close(cmd[0]);
	close(res[1]);
	w->cmd = cmd[1];
	w->res = res[0];
	return 0;
}

static int worker_send(struct worker *w, char c)
{
	return write(w->cmd, &c, 1) == 1 ? 0 : -EPIPE;
}

static int worker_result(struct worker *w, struct w_result *r)
{
	struct pollfd pfd = { .fd = w->res, .events = POLLIN };

	if (poll(&pfd, 1, HANG_MS) != 1)
		return -ETIMEDOUT;
	return read(w->res, r, sizeof(*r)) == sizeof(*r) ? 0 : -EPIPE;
}

/* Run a command and count what it raised; -errno of the DMA, or 0 */
static int worker_do(struct worker *w, char c)
{
	struct w_result r;
	int err = worker_send(w, c);

	if (!err)
		err = worker_result(w, &r);
	if (err)
		return err;
	if (c == 'b') {
		w->pasid = r.ret;
		return r.ret < 0 ? r.ret : 0;
	}
	w->requests += r.requests;
	w->groups += r.groups;
	if (!r.ret)
		w->success += r.groups;
	else if (r.ret == -EFAULT)
		/* the group of the page that failed; none before it here */
		w->invalid += r.groups;
	return r.ret;
}

static void worker_stop(struct worker *w)
{
	if (w->pid <= 0)
		return;
	worker_send(w, 'q');
	close(w->cmd);
	close(w->res);
	waitpid(w->pid, NULL, 0);
	w->pid = 0;
}

/* --- the tool, its output, and its JSON -------------------------------- */

struct tool {
	pid_t pid;
	int out, err;
	char *buf;		/* stdout so far */
	size_t len, cap, pos;	/* pos: the first line not taken */
	char errbuf[8192];	/* stderr so far */
	size_t errlen;
	int status;
};

static char tool_path[PATH_MAX];

/*
 * Start @argv with its stdout and stderr on two pipes. Close-on-exec
 * everywhere: a process forked later (a worker, tmux's server) must hold
 * no end of them, or the reader would never see their end.
 */
static int spawn_cmd(struct tool *t, char *const argv[])
{
	int out[2], err[2];

	memset(t, 0, sizeof(*t));
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		return -errno;
	t->pid = fork();
	if (t->pid < 0)
		return -errno;
	if (!t->pid) {
		int null = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	t->out = out[0];
	t->err = err[0];
	return 0;
}

static int tool_start(struct tool *t, const char *const args[])
{
	char *argv[16] = { tool_path };

	for (int i = 0; args[i] && i < 14; i++)
		argv[i + 1] = (char *)args[i];
	return spawn_cmd(t, argv);
}

/*
 * Wait up to @ms for output; take what came. 0: something came, -EPIPE:
 * stdout ended, -ETIMEDOUT: nothing came.
 */
static int tool_read(struct tool *t, int ms)
{
	struct pollfd pfd[2] = {
		{ .fd = t->out, .events = POLLIN },
		{ .fd = t->err, .events = POLLIN },
	};
	ssize_t n;

	if (t->out < 0)
		return -EPIPE;
	if (poll(pfd, t->err >= 0 ? 2 : 1, ms) <= 0)
		return -ETIMEDOUT;
	if (t->err >= 0 && pfd[1].revents) {
		n = read(t->err, t->errbuf + t->errlen,
			 sizeof(t->errbuf) - 1 - t->errlen);
		if (n <= 0) {
			close(t->err);
			t->err = -1;
		} else {
			t->errlen += n;
			t->errbuf[t->errlen] = '\0';
		}
	}
	if (!pfd[0].revents)
		return 0;
	if (t->cap - t->len < 65536) {
		char *p = realloc(t->buf, t->cap + (1 << 20));

		if (!p)
			return -ENOMEM;
		t->buf = p;
		t->cap += 1 << 20;
	}
	n = read(t->out, t->buf + t->len, t->cap - 1 - t->len);
	if (n <= 0) {
		close(t->out);
		t->out = -1;
		return -EPIPE;
	}
	t->len += n;
	t->buf[t->len] = '\0';
	return 0;
}

/* Take the next whole line of stdout, waiting up to @ms for it */
static bool tool_line(struct tool *t, int ms)
{
	for (;;) {
		char *nl = t->buf ? memchr(t->buf + t->pos, '\n', t->len - t->pos) : NULL;

		if (nl) {
			t->pos = nl + 1 - t->buf;
			return true;
		}
		/* nothing came, or stdout ended */
		if (tool_read(t, ms))
			return false;
	}
}

/*
 * After a workload: take every line already written, then @more lines.
 * The first line written after this point may have read the statistics
 * before the workload ended; the second one read them after, and the
 * third covers an interval that began after it.
 */
static int tool_sync(struct tool *t, int more)
{
	while (tool_read(t, 0) == 0)
		;
	while (tool_line(t, 0))
		;
	while (more--)
		if (!tool_line(t, HANG_MS))
			return -1;
	return 0;
}

/* Signal it, read everything to the end, return its wait status */
static int tool_stop(struct tool *t, int sig)
{
	int status = -1;

	if (sig)
		kill(t->pid, sig);
	while (t->out >= 0 || t->err >= 0) {
		if (t->out < 0) {
			/* stdout ended: stderr ends with the process */
			struct pollfd p = { .fd = t->err, .events = POLLIN };
			ssize_t n;

			if (poll(&p, 1, HANG_MS) <= 0)
				break;
			n = read(t->err, t->errbuf + t->errlen,
				 sizeof(t->errbuf) - 1 - t->errlen);
			if (n <= 0) {
				close(t->err);
				t->err = -1;
			} else {
				t->errlen += n;
				t->errbuf[t->errlen] = '\0';
			}
			continue;
		}
		if (tool_read(t, HANG_MS) == -ETIMEDOUT) {
			kill(t->pid, SIGKILL);
			break;
		}
	}
	waitpid(t->pid, &status, 0);
	if (t->out >= 0)
		close(t->out);
	if (t->err >= 0)
		close(t->err);
	t->out = t->err = -1;
	t->status = status;
	return status;
}

static void tool_free(struct tool *t)
{
	if (t->pid > 0 && t->out >= 0)
		tool_stop(t, SIGKILL);
	free(t->buf);
	t->buf = NULL;
}

/* Run the tool to its end with no workload; its wait status */
static int tool_run(struct tool *t, const char *const args[])
{
	if (tool_start(t, args))
		return -1;
	return tool_stop(t, 0);
}

#define EXITED_WITH(status, code) \
	(WIFEXITED(status) && WEXITSTATUS(status) == (code))

/* The JSON of one interval, for the keys the tests compare */
struct jrow {
	char device[32], comm[32];
	long long pasid, pid;
	long long requests, groups, responses, success, invalid, failure;
	long long refused, in_flight, verdict_invalid, verdict_failure;
	double p50, p99, max;	/* -1: null */
};

#define MAX_JROWS	32

struct jline {
	double interval;
	long long requests, groups, responses, success, invalid, failure;
	long long in_flight, rows, shown;
	int n;
	struct jrow r[MAX_JROWS];
};

/* The value of "key": in [obj, end), or NULL */
static const char *json_val(const char *obj, const char *end, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = memmem(obj, end - obj, pat, strlen(pat));
	return p ? p + strlen(pat) : NULL;
}

static long long json_ll(const char *obj, const char *end, const char *key)
{
	const char *v = json_val(obj, end, key);

	return v ? strtoll(v, NULL, 10) : LLONG_MIN;
}

static double json_dbl(const char *obj, const char *end, const char *key)
{
	const char *v = json_val(obj, end, key);

	if (!v || !strncmp(v, "null", 4))
		return -1;
	return strtod(v, NULL);
}

static void json_strval(const char *obj, const char *end, const char *key,
			char *out, size_t size)
{
	const char *v = json_val(obj, end, key);
	size_t n = 0;

	out[0] = '\0';
	if (!v || *v++ != '"')
		return;
	for (; v < end && *v != '"' && n + 1 < size; v++) {
		if (*v == '\\')
			v++;
		out[n++] = *v;
	}
	out[n] = '\0';
}

/* false when the line is not one of iopf-top's JSON objects */
static bool parse_line(const char *s, struct jline *l)
{
	const char *end = s + strlen(s), *tot, *tot_end, *p;

	memset(l, 0, sizeof(*l));
	if (s[0] != '{' || end[-1] != '}' || !json_val(s, end, "time"))
		return false;
	l->interval = json_dbl(s, end, "interval_s");
	tot = json_val(s, end, "totals");
	p = strstr(s, "\"rows\":[");
	if (!tot || *tot != '{' || !p || l->interval <= 0)
		return false;
	tot_end = strchr(tot, '}');
	l->requests = json_ll(tot, tot_end, "requests");
	l->groups = json_ll(tot, tot_end, "groups");
	l->responses = json_ll(tot, tot_end, "responses");
	l->success = json_ll(tot, tot_end, "success");
	l->invalid = json_ll(tot, tot_end, "invalid");
	l->failure = json_ll(tot, tot_end, "failure");
	l->in_flight = json_ll(tot, tot_end, "in_flight");
	l->rows = json_ll(tot, tot_end, "rows");
	l->shown = json_ll(tot, tot_end, "rows_shown");
	for (p += 8; *p == '{' || *p == ','; ) {
		const char *o = *p == ',' ? p + 1 : p, *oe = strchr(o, '}');
		struct jrow *r;

		if (*o != '{' || !oe || l->n == MAX_JROWS)
			return false;
		r = &l->r[l->n++];
		json_strval(o, oe, "device", r->device, sizeof(r->device));
		json_strval(o, oe, "comm", r->comm, sizeof(r->comm));
		r->pasid = json_ll(o, oe, "pasid");
		r->pid = json_ll(o, oe, "pid");
		r->requests = json_ll(o, oe, "requests");
		r->groups = json_ll(o, oe, "groups");
		r->responses = json_ll(o, oe, "responses");
		r->success = json_ll(o, oe, "success");
		r->invalid = json_ll(o, oe, "invalid");
		r->failure = json_ll(o, oe, "failure");
		r->refused = json_ll(o, oe, "refused");
		r->in_flight = json_ll(o, oe, "in_flight");
		r->verdict_invalid = json_ll(o, oe, "verdict_invalid");
		r->verdict_failure = json_ll(o, oe, "verdict_failure");
		r->p50 = json_dbl(o, oe, "p50_us");
		r->p99 = json_dbl(o, oe, "p99_us");
		r->max = json_dbl(o, oe, "max_us");
		if (r->requests < 0 || r->groups < 0 || r->success < 0 ||
		    r->invalid < 0 || r->pasid == LLONG_MIN || r->pid < 0 ||
		    r->verdict_invalid < 0 || r->verdict_failure < 0)
			return false;
		p = oe + 1;
	}
	return !strcmp(p, "]}");
}

/* Every line of the tool's stdout, parsed; false if one is not JSON */
static bool parse_all(const struct tool *t, struct jline **lines, int *n)
{
	const char *p = t->buf ? t->buf : "";
	const char *end = p + t->len;
	char err[128];
	int cap = 0;

	*lines = NULL;
	*n = 0;
	/* valid JSON first, by Python's parser: then the fields by ours */
	if (json_lines_valid(p, err, sizeof(err)))
		return false;
	while (p < end) {
		const char *nl = p + strcspn(p, "\n");
		char *copy;
		bool ok;

		copy = strndup(p, nl - p);
		if (*n == cap) {
			cap = cap * 2 + 8;
			*lines = realloc(*lines, cap * sizeof(**lines));
		}
		ok = copy && *lines && parse_line(copy, &(*lines)[*n]);
		free(copy);
		if (!ok)
			return false;
		(*n)++;
		p = nl + 1;
	}
	return true;
}

/* What a selection of rows added up to over every interval */
struct sums {
	long long rows, requests, groups, responses, success, invalid, failure;
	long long refused, verdict_invalid, verdict_failure;
};

typedef bool (*row_pred)(const struct jrow *r, const void *arg);

static struct sums sum_rows(const struct jline *l, int n, row_pred pred,
			    const void *arg)
{
	struct sums s = {};

	for (int i = 0; i < n; i++)
		for (int j = 0; j < l[i].n; j++) {
			const struct jrow *r = &l[i].r[j];

			if (pred && !pred(r, arg))
				continue;
			s.rows++;
			s.requests += r->requests;
			s.groups += r->groups;
			s.responses += r->responses;
			s.success += r->success;
			s.invalid += r->invalid;
			s.failure += r->failure;
			s.refused += r->refused;
			s.verdict_invalid += r->verdict_invalid;
			s.verdict_failure += r->verdict_failure;
		}
	return s;
}

static bool on_device(const struct jrow *r, const void *dev)
{
	return !strcmp(r->device, dev);
}

static bool of_worker(const struct jrow *r, const void *arg)
{
	const struct worker *w = arg;

	return r->pasid == w->pasid;
}

/* The rows of @w: its PASID, with its device, pid and name, every time */
static void check_worker_rows(struct __test_metadata *_metadata,
			      const char *who, const struct jline *l, int n,
			      const struct worker *w)
{
	const struct jrow *wrong = NULL;
	struct sums s = sum_rows(l, n, of_worker, w);
	char dev[16];

	snprintf(dev, sizeof(dev), "swsva%d", w->ep);
	for (int i = 0; i < n && !wrong; i++)
		for (int j = 0; j < l[i].n && !wrong; j++) {
			const struct jrow *r = &l[i].r[j];

			if (r->pasid == w->pasid &&
			    (strcmp(dev, r->device) || w->pid != r->pid ||
			     strcmp(w->name, r->comm)))
				wrong = r;
		}
	EXPECT_EQ(NULL, wrong) TH_LOG("%s: PASID %d is %s pid %d on %s, not %s pid %lld on %s",
				      who, w->pasid, w->name, w->pid, dev,
				      wrong->comm, wrong->pid, wrong->device);
	EXPECT_LT(0, s.rows) TH_LOG("%s: no row for %s", who, w->name);
	EXPECT_EQ(w->requests, s.requests) TH_LOG("%s: %s requests", who, w->name);
	EXPECT_EQ(w->groups, s.groups) TH_LOG("%s: %s groups", who, w->name);
	EXPECT_EQ(w->groups, s.responses) TH_LOG("%s: %s responses", who, w->name);
	EXPECT_EQ(w->success, s.success) TH_LOG("%s: %s success", who, w->name);
	EXPECT_EQ(w->invalid, s.invalid) TH_LOG("%s: %s invalid", who, w->name);
	EXPECT_EQ(0, s.failure) TH_LOG("%s: %s failure", who, w->name);
}

static int device_counters(int ep, struct swsva_counters *c)
{
	char path[32];
	int fd, ret;

	snprintf(path, sizeof(path), "/dev/swsva%d", ep);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = swsva_counters(fd, c);
	close(fd);
	return ret;
}

#define TMUX		"/usr/bin/tmux"
#define TMUX_SOCKET	"iopf-top-test"

static int tmux(struct tool *t, const char *const args[]);
static void deny_detach(void);

FIXTURE(top) {
	struct worker w[3];
	struct tool t[4];
	bool tmux;		/* a tmux server to end */
	bool deny;		/* a policy to detach */
};

FIXTURE_SETUP(top)
{
	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, swsva_load_module(NULL));
	snprintf(tool_path, sizeof(tool_path), "%s", build_path("bin/iopf-top"));
	ASSERT_EQ(0, access(tool_path, X_OK)) TH_LOG("%s: %m (make tools)",
						     tool_path);
}

FIXTURE_TEARDOWN(top)
{
	for (int i = 0; i < 4; i++)
		tool_free(&self->t[i]);
	for (int i = 0; i < 3; i++)
		worker_stop(&self->w[i]);
	if (self->deny)
		deny_detach();
	if (self->tmux) {
		struct tool tt;

		/* the pane's iopf-top goes with the server */
		tmux(&tt, (const char *[]){ "kill-server", NULL });
		tool_free(&tt);
	}
	/* every group the test posted got exactly one response */
	for (int ep = 0; ep < 2; ep++) {
		if (swsva_sysfs_counter(ep, "groups") < 0)
			continue;
		EXPECT_EQ(0, swsva_wait_idle(ep, 20000));
		EXPECT_EQ(swsva_sysfs_counter(ep, "groups"),
			  swsva_sysfs_counter(ep, "responses"));
	}
}

#define WAIT_FIRST_LINE(t)						\
	ASSERT_TRUE(tool_line(t, HANG_MS))				\
		TH_LOG("no first line; stderr: %s", (t)->errbuf)

/*
 * Two processes write fresh memory through swsva0 at the same time, one
 * bound before the tool started (only the task iterator can name it),
 * one after (the bind program names it); the first also makes a DMA
 * that is answered Invalid. Three instances watch: by default, with -a,
 * and with -r 1 -s pasid.
 */
TEST_F_TIMEOUT(top, json_counts_equal_the_device_and_process_counts, 300)
{
	struct worker *early = &self->w[0], *late = &self->w[1];
	struct tool *t = &self->t[0], *ta = &self->t[1], *tr = &self->t[2];
	struct swsva_counters before, after, d;
	struct jline *l, *la, *lr;
	struct w_result r;
	int n, na, nr, status;
	struct sums s;

	ASSERT_EQ(0, worker_start(early, "top-early", 0));
	ASSERT_EQ(0, worker_do(early, 'b'));
	ASSERT_EQ(0, device_counters(0, &before));

	ASSERT_EQ(0, tool_start(t, (const char *[]){ "-j", "1", NULL }));
	ASSERT_EQ(0, tool_start(ta, (const char *[]){ "--json", "--all", "1", NULL }));
	ASSERT_EQ(0, tool_start(tr, (const char *[]){ "-j", "-r", "1", "-s", "pasid", "1", NULL }));
	/* a line is an interval that ended: the programs are attached */
	WAIT_FIRST_LINE(t);
	WAIT_FIRST_LINE(ta);
	WAIT_FIRST_LINE(tr);

	ASSERT_EQ(0, worker_start(late, "top-late", 0));
	ASSERT_EQ(0, worker_do(late, 'b'));
	ASSERT_NE(early->pasid, late->pasid);
	/* at the same time */
	ASSERT_EQ(0, worker_send(early, 'd'));
	ASSERT_EQ(0, worker_do(late, 'd'));
	ASSERT_EQ(0, worker_result(early, &r));
	ASSERT_EQ(0, r.ret);
	early->requests += r.requests;
	early->groups += r.groups;
	early->success += r.groups;
	ASSERT_EQ(0, worker_do(late, 'd'));
	ASSERT_EQ(-EFAULT, worker_do(early, 'i'));
	ASSERT_EQ(1, early->invalid);
	ASSERT_EQ(0, swsva_wait_idle(0, 20000));
	ASSERT_EQ(0, device_counters(0, &after));
	swsva_counters_delta(&d, &before, &after);
	/* the device's view and the processes' agree: nothing else ran */
	ASSERT_EQ(early->requests + late->requests, d.page_requests);
	ASSERT_EQ(early->groups + late->groups, d.groups);
	ASSERT_EQ(1, d.resp_invalid);

	ASSERT_EQ(0, tool_sync(t, 3));
	ASSERT_EQ(0, tool_sync(ta, 3));
	ASSERT_EQ(0, tool_sync(tr, 3));
	status = tool_stop(t, SIGINT);
	EXPECT_TRUE(EXITED_WITH(status, 0)) TH_LOG("status %#x", status);
	status = tool_stop(ta, SIGINT);
	EXPECT_TRUE(EXITED_WITH(status, 0)) TH_LOG("status %#x", status);
	status = tool_stop(tr, SIGINT);
	EXPECT_TRUE(EXITED_WITH(status, 0)) TH_LOG("status %#x", status);
	EXPECT_STREQ("", t->errbuf);

	ASSERT_TRUE(parse_all(t, &l, &n)) TH_LOG("not JSON lines:\n%s", t->buf);
	ASSERT_TRUE(parse_all(ta, &la, &na)) TH_LOG("not JSON lines:\n%s", ta->buf);
	ASSERT_TRUE(parse_all(tr, &lr, &nr)) TH_LOG("not JSON lines:\n%s", tr->buf);
	ASSERT_LE(4, n);
	TH_LOG("%d intervals: %llu requests, %llu groups", n,
	       d.page_requests, d.groups);

	/* the rows of swsva0 add up to what the device counted */
	s = sum_rows(l, n, on_device, "swsva0");
	EXPECT_EQ(d.page_requests, s.requests);
	EXPECT_EQ(d.groups, s.groups);
	EXPECT_EQ(d.responses, s.responses);
	EXPECT_EQ(d.resp_success, s.success);
	EXPECT_EQ(d.resp_invalid, s.invalid);
	EXPECT_EQ(d.resp_failure, s.failure);
	EXPECT_EQ(0, s.refused);
	EXPECT_EQ(0, s.verdict_invalid);
	EXPECT_EQ(0, s.verdict_failure);
	/* and each process's rows to what its DMAs raised */
	check_worker_rows(_metadata, "default", l, n, early);
	check_worker_rows(_metadata, "default", l, n, late);
	check_worker_rows(_metadata, "-a", la, na, early);
	check_worker_rows(_metadata, "-a", la, na, late);

	for (int i = 0; i < n; i++) {
		long long req = 0, grp = 0, succ = 0, inv = 0;

		for (int j = 0; j < l[i].n; j++) {
			const struct jrow *r = &l[i].r[j];

			req += r->requests;
			grp += r->groups;
			succ += r->success;
			inv += r->invalid;
			/* busiest first */
			if (j)
				EXPECT_GE(l[i].r[j - 1].requests, r->requests);
			/* one histogram: p50 <= p99; null when no response */
			EXPECT_EQ(r->p50 < 0, r->p99 < 0);
			EXPECT_GE(r->p99, r->p50);
			if (r->p50 >= 0)
				EXPECT_LT(0, r->max);
			/* interpolated within a slot, but never above the max */
			EXPECT_GE(r->max, r->p99);
		}
		/* the totals are the rows' (all shown: fewer than -r) */
		EXPECT_EQ(l[i].requests, req);
		EXPECT_EQ(l[i].groups, grp);
		EXPECT_EQ(l[i].success, succ);
		EXPECT_EQ(l[i].invalid, inv);
		EXPECT_EQ(l[i].n, l[i].shown);
		EXPECT_EQ(l[i].rows, l[i].shown);
	}
	/* the last interval began after the workload: idle, nothing in flight */
	EXPECT_EQ(0, l[n - 1].n);
	EXPECT_EQ(0, l[n - 1].in_flight);
	EXPECT_LE(2, la[na - 1].n) TH_LOG("-a shows idle rows");
	for (int j = 0; j < la[na - 1].n; j++) {
		EXPECT_EQ(0, la[na - 1].r[j].requests);
		EXPECT_EQ(-1, la[na - 1].r[j].p50);
	}

	/* -r 1 -s pasid: the lowest PASID of those active, the other counted */
	for (int i = 0; i < nr; i++) {
		EXPECT_GE(1, lr[i].n);
		if (lr[i].rows == 2) {
			EXPECT_EQ(1, lr[i].shown);
			EXPECT_EQ(early->pasid < late->pasid ? early->pasid :
				  late->pasid, lr[i].r[0].pasid);
		}
	}
	s = sum_rows(lr, nr, NULL, NULL);
	EXPECT_GT(d.page_requests, s.requests) TH_LOG("-r 1 hid no row");
	free(l);
	free(la);
	free(lr);
}

static bool has_pid(const struct jrow *r, const void *pid)
{
	return r->pid == *(const pid_t *)pid;
}

/*
 * -p (pre-bound and post-bound processes), --pasid and -d, each in its
 * own instance over one workload on both endpoints: each shows exactly
 * the rows it selects, and all of their counts.
 */
TEST_F_TIMEOUT(top, filters_select_exactly_their_rows, 300)
{
	struct worker *a = &self->w[0], *b = &self->w[1], *c = &self->w[2];
	struct swsva_counters before, after, d;
	char pid_a[16], pid_c[16], pasid_b[16];
	struct jline *l[4];
	int n[4], status;
	struct sums s;

	if (access("/dev/swsva1", F_OK))
		SKIP(return, "no second endpoint (swsva endpoints=1)");
	ASSERT_EQ(0, worker_start(a, "top-a", 0));
	ASSERT_EQ(0, worker_start(b, "top-b", 0));
	ASSERT_EQ(0, worker_start(c, "top-c", 1));
	ASSERT_EQ(0, worker_do(a, 'b'));
	ASSERT_EQ(0, worker_do(b, 'b'));
	snprintf(pid_a, sizeof(pid_a), "%d", a->pid);
	snprintf(pid_c, sizeof(pid_c), "%d", c->pid);
	snprintf(pasid_b, sizeof(pasid_b), "%d", b->pasid);
	ASSERT_EQ(0, device_counters(1, &before));

	ASSERT_EQ(0, tool_start(&self->t[0], (const char *[]){ "-j", "-p", pid_a, "1", NULL }));
	ASSERT_EQ(0, tool_start(&self->t[1], (const char *[]){ "-j", "--pasid", pasid_b, "1", NULL }));
	ASSERT_EQ(0, tool_start(&self->t[2], (const char *[]){ "-j", "-d", "swsva1", "1", NULL }));
	ASSERT_EQ(0, tool_start(&self->t[3], (const char *[]){ "-j", "--pid", pid_c, "1", NULL }));
	for (int i = 0; i < 4; i++) {
		WAIT_FIRST_LINE(&self->t[i]);
	}

	/* c binds now: named by the bind program, not the iterator */
	ASSERT_EQ(0, worker_do(c, 'b'));
	ASSERT_EQ(0, worker_do(a, 'd'));
	ASSERT_EQ(-EFAULT, worker_do(a, 'i'));
	ASSERT_EQ(0, worker_do(b, 'd'));
	ASSERT_EQ(0, worker_do(c, 'd'));
	ASSERT_EQ(0, swsva_wait_idle(0, 20000));
	ASSERT_EQ(0, swsva_wait_idle(1, 20000));
	ASSERT_EQ(0, device_counters(1, &after));
	swsva_counters_delta(&d, &before, &after);
	ASSERT_EQ(c->requests, d.page_requests);

	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, tool_sync(&self->t[i], 2));
		/* SIGTERM like SIGINT */
		status = tool_stop(&self->t[i], i % 2 ? SIGTERM : SIGINT);
		EXPECT_TRUE(EXITED_WITH(status, 0)) TH_LOG("status %#x", status);
		ASSERT_TRUE(parse_all(&self->t[i], &l[i], &n[i]))
			TH_LOG("not JSON lines:\n%s", self->t[i].buf);
	}

	/* -p a: a's rows (found by the iterator) and nothing else */
	s = sum_rows(l[0], n[0], has_pid, &a->pid);
	EXPECT_EQ(s.rows, sum_rows(l[0], n[0], NULL, NULL).rows);
	check_worker_rows(_metadata, "-p a", l[0], n[0], a);
	EXPECT_EQ(1, s.invalid);
	/* --pasid b */
	s = sum_rows(l[1], n[1], of_worker, b);
	EXPECT_EQ(s.rows, sum_rows(l[1], n[1], NULL, NULL).rows);
	check_worker_rows(_metadata, "--pasid b", l[1], n[1], b);
	/* -d swsva1: c only, all of the endpoint's counts */
	s = sum_rows(l[2], n[2], on_device, "swsva1");
	EXPECT_EQ(s.rows, sum_rows(l[2], n[2], NULL, NULL).rows);
	EXPECT_EQ(d.page_requests, s.requests);
	EXPECT_EQ(d.groups, s.groups);
	EXPECT_EQ(d.resp_success, s.success);
	check_worker_rows(_metadata, "-d swsva1", l[2], n[2], c);
	/* --pid c (bound after the start) */
	s = sum_rows(l[3], n[3], has_pid, &c->pid);
	EXPECT_EQ(s.rows, sum_rows(l[3], n[3], NULL, NULL).rows);
	check_worker_rows(_metadata, "--pid c", l[3], n[3], c);
	for (int i = 0; i < 4; i++)
		free(l[i]);
}

/* interval and count: exactly count intervals, then exit 0 on its own */
TEST_F_TIMEOUT(top, count_ends_it_after_count_intervals, 120)
{
	struct tool *t = &self->t[0];
	struct jline *l;
	const char *p;
	int status, n, blocks = 0;

	status = tool_run(t, (const char *[]){ "-j", "1", "3", NULL });
	EXPECT_TRUE(EXITED_WITH(status, 0)) TH_LOG("status %#x: %s", status,
						   t->errbuf);
	EXPECT_STREQ("", t->errbuf);
	ASSERT_TRUE(parse_all(t, &l, &n)) TH_LOG("not JSON lines:\n%s", t->buf);
	EXPECT_EQ(3, n);
	free(l);
	tool_free(t);

	/* -C: plain text, one block per interval; no escape sequence */
	status = tool_run(t, (const char *[]){ "-C", "1", "2", NULL });
	EXPECT_TRUE(EXITED_WITH(status, 0)) TH_LOG("status %#x", status);
	ASSERT_NE(NULL, t->buf);
	for (p = t->buf; (p = strstr(p, "iopf-top - ")); p++)
		blocks++;
	EXPECT_EQ(2, blocks) TH_LOG("%s", t->buf);
	EXPECT_EQ(NULL, strchr(t->buf, '\033'));
	EXPECT_NE(NULL, strstr(t->buf, "\n\niopf-top - ")) TH_LOG("blank line between blocks");
	EXPECT_NE(NULL, strstr(t->buf, "DEVICE"));
	tool_free(t);

	/* stdout not a terminal: the same without -C */
	status = tool_run(t, (const char *[]){ "1", "1", NULL });
	EXPECT_TRUE(EXITED_WITH(status, 0)) TH_LOG("status %#x", status);
	ASSERT_NE(NULL, t->buf);
	EXPECT_EQ(t->buf, strstr(t->buf, "iopf-top - "));
	EXPECT_EQ(NULL, strchr(t->buf, '\033'));
}

TEST_F_TIMEOUT(top, sigterm_and_sigint_exit_0, 120)
{
	static const int sigs[] = { SIGTERM, SIGINT };

	for (int i = 0; i < 2; i++) {
		struct tool *t = &self->t[i];
		int status;

		ASSERT_EQ(0, tool_start(t, (const char *[]){ "-j", "1", NULL }));
		WAIT_FIRST_LINE(t);
		status = tool_stop(t, sigs[i]);
		EXPECT_TRUE(EXITED_WITH(status, 0))
			TH_LOG("%s: status %#x", strsignal(sigs[i]), status);
		EXPECT_STREQ("", t->errbuf);
	}
}

/* Usage errors exit 2, before loading anything, and say what was wrong */
TEST(bad_arguments_exit_2_and_help_exits_0)
{
	static const struct {
		const char *args[4];
		const char *says;
	} bad[] = {
		{ { "-r", "x" }, "invalid -r: 'x'" },
		{ { "-r", "0" }, "invalid -r: '0'" },
		{ { "--bogus" }, "unrecognized option '--bogus'" },
		{ { "-s", "nosuchkey" }, "invalid sort key: 'nosuchkey'" },
		{ { "1", "2", "3" }, "unexpected argument: '3'" },
		{ { "0" }, "invalid interval: '0'" },
		{ { "--pasid", "x" }, "invalid --pasid: 'x'" },
		{ { "-p", "-1" }, "invalid -p: '-1'" },
	};
	struct tool t;
	int status;

	snprintf(tool_path, sizeof(tool_path), "%s", build_path("bin/iopf-top"));
	ASSERT_EQ(0, access(tool_path, X_OK)) TH_LOG("%s: %m", tool_path);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		status = tool_run(&t, bad[i].args);
		EXPECT_TRUE(EXITED_WITH(status, 2))
			TH_LOG("%s: status %#x", bad[i].says, status);
		EXPECT_NE(NULL, strstr(t.errbuf, bad[i].says)) TH_LOG("%s", t.errbuf);
		EXPECT_NE(NULL, strstr(t.errbuf, "iopf-top --help"))
			TH_LOG("%s", t.errbuf);
		EXPECT_EQ(0, t.len) TH_LOG("stdout: %s", t.buf);
		tool_free(&t);
	}
	status = tool_run(&t, (const char *[]){ "--help", NULL });
	EXPECT_TRUE(EXITED_WITH(status, 0)) TH_LOG("status %#x", status);
	ASSERT_NE(NULL, t.buf);
	EXPECT_NE(NULL, strstr(t.buf, "Usage: iopf-top"));
	for (const char *o = "--noclear\0--sort\0--rows\0--device\0--pid\0--pasid\0--json\0--all\0--verbose\0";
	     *o; o += strlen(o) + 1) {
		EXPECT_NE(NULL, strstr(t.buf, o)) TH_LOG("--help: no %s", o);
	}
	EXPECT_STREQ("", t.errbuf);
	tool_free(&t);
}

/* --- fault policy verdicts ------------------------------------------------ */

/*
 * The sum, over the text rows that name @comm, of their @from_end-th
 * number from the end (1: the last column)
 */
static long long text_column_sum(const char *text, const char *comm,
				 int from_end)
{
	char *copy = strdup(text), *line, *save = NULL, pat[32];
	long long sum = 0;

	snprintf(pat, sizeof(pat), " %s ", comm);
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p = line + strlen(line);
		int k = 0;

		if (!strstr(line, pat))
			continue;
		while (p > line && k < from_end) {
			while (p > line && p[-1] == ' ')
				p--;
			while (p > line && p[-1] != ' ')
				p--;
			k++;
		}
		sum += strtoll(p, NULL, 10);
	}
	free(copy);
	return sum;
}

#define DENY_PIN	"/sys/fs/bpf/iopf_top_deny"
#define POLICIES	"/sys/kernel/debug/iommu/fault_policies"

/* bpftool struct_ops register policy_deny.bpf.o @pin */
static int deny_attach(const char *pin, char *out, size_t size)
{
	char bpftool[PATH_MAX], obj[PATH_MAX];
	struct tool t;
	int status;

	snprintf(bpftool, sizeof(bpftool), "%s", build_path("bpftool/bpftool"));
	snprintf(obj, sizeof(obj), "%s", build_path("bpfobj/policy_deny.bpf.o"));
	if (spawn_cmd(&t, (char *[]){ bpftool, "struct_ops", "register", obj,
				      (char *)pin, NULL }))
		return -1;
	status = tool_stop(&t, 0);
	snprintf(out, size, "%.2000s%.2000s", t.buf ? t.buf : "", t.errbuf);
	tool_free(&t);
	return status;
}

static bool policies_listed(void)
{
	char *text = read_file(POLICIES, NULL);
	bool any = text && *text;

	free(text);
	return any;
}

static void deny_detach(void)
{
	system("rm -rf " DENY_PIN);
	/* the link goes with its last reference, a deferred release */
	for (int ms = 0; ms < 5000 && policies_listed(); ms += 10)
		usleep(10000);
}

/*
 * A policy that answers every group of swsva0 Invalid (policy_deny.bpf.c,
 * attached with bpftool): its verdicts are counted per row, and the text
 * output grows the verdict columns, which it has not without a policy.
 */
TEST_F_TIMEOUT(top, policy_verdicts_are_counted_and_shown, 180)
{
	struct tool *tj = &self->t[0], *tt = &self->t[1];
	struct worker *w = &self->w[0];
	struct swsva_counters before, after, d;
	char out[4096];
	struct jline *l;
	struct sums s;
	int n, status;

	if (policies_listed())
		SKIP(return, "a fault policy is already attached");
	status = tool_run(tt, (const char *[]){ "-C", "1", "1", NULL });
	ASSERT_TRUE(EXITED_WITH(status, 0));
	EXPECT_EQ(NULL, strstr(tt->buf, "V-INVAL")) TH_LOG("%s", tt->buf);
	EXPECT_EQ(NULL, strstr(tt->buf, "verdicts")) TH_LOG("%s", tt->buf);
	tool_free(tt);

	self->deny = true;
	system("rm -rf " DENY_PIN);
	ASSERT_EQ(0, mkdir(DENY_PIN, 0700));
	status = deny_attach(DENY_PIN, out, sizeof(out));
	ASSERT_TRUE(EXITED_WITH(status, 0)) TH_LOG("bpftool: %s", out);
	ASSERT_TRUE(policies_listed());

	ASSERT_EQ(0, worker_start(w, "top-denied", 0));
	ASSERT_EQ(0, worker_do(w, 'b'));
	ASSERT_EQ(0, device_counters(0, &before));
	ASSERT_EQ(0, tool_start(tj, (const char *[]){ "-j", "1", NULL }));
	ASSERT_EQ(0, tool_start(tt, (const char *[]){ "-C", "1", NULL }));
	WAIT_FIRST_LINE(tj);
	WAIT_FIRST_LINE(tt);
	ASSERT_EQ(-EFAULT, worker_do(w, 'd'));
	ASSERT_EQ(-EFAULT, worker_do(w, 'd'));
	ASSERT_EQ(0, swsva_wait_idle(0, 20000));
	ASSERT_EQ(0, device_counters(0, &after));
	swsva_counters_delta(&d, &before, &after);
	ASSERT_EQ(2, d.resp_invalid);

	ASSERT_EQ(0, tool_sync(tj, 2));
	ASSERT_EQ(0, tool_sync(tt, 2));
	status = tool_stop(tj, SIGINT);
	EXPECT_TRUE(EXITED_WITH(status, 0)) TH_LOG("status %#x", status);
	status = tool_stop(tt, SIGINT);
	EXPECT_TRUE(EXITED_WITH(status, 0)) TH_LOG("status %#x", status);
	deny_detach();

	ASSERT_TRUE(parse_all(tj, &l, &n)) TH_LOG("not JSON lines:\n%s", tj->buf);
	s = sum_rows(l, n, of_worker, w);
	EXPECT_EQ(d.resp_invalid, s.verdict_invalid);
	EXPECT_EQ(0, s.verdict_failure);
	check_worker_rows(_metadata, "deny", l, n, w);
	free(l);
	/* the columns, and the worker's rows with the counts under them */
	EXPECT_NE(NULL, strstr(tt->buf, "V-INVAL")) TH_LOG("%s", tt->buf);
	EXPECT_NE(NULL, strstr(tt->buf, "Policy verdicts: ")) TH_LOG("%s", tt->buf);
	EXPECT_EQ(d.resp_invalid, text_column_sum(tt->buf, w->name, 2))
		TH_LOG("%s", tt->buf);
}

/* --- a real terminal: tmux ------------------------------------------------ */

/* Run a tmux command on our server; its wait status, its output in @t */
static int tmux(struct tool *t, const char *const args[])
{
	char *argv[20] = { TMUX, "-L", TMUX_SOCKET };

	for (int i = 0; args[i] && i < 16; i++)
		argv[i + 3] = (char *)args[i];
	if (spawn_cmd(t, argv))
		return -1;
	return tool_stop(t, 0);
}

/* Does a line of @screen hold all of @words, as whole words? */
static bool screen_has_row(const char *screen, const char *const words[])
{
	char *copy = strdup(screen), *line, *save = NULL;
	bool found = false;

	for (line = strtok_r(copy, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		char padded[512];
		int i;

		snprintf(padded, sizeof(padded), " %s ", line);
		found = true;
		for (i = 0; words[i] && found; i++) {
			char w[64];

			snprintf(w, sizeof(w), " %s ", words[i]);
			found = strstr(padded, w) != NULL;
		}
	}
	free(copy);
	return found;
}

static int count_str(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s++)
		n++;
	return n;
}

/*
 * iopf-top on a 160x40 tmux pane while a process writes fresh memory
 * without pause: after two intervals, the pane shows one header (the
 * screen is redrawn in place, not scrolled) and the process's row.
 */
TEST_F_TIMEOUT(top, tmux_pane_shows_the_header_and_the_row, 180)
{
	struct worker *w = &self->w[0];
	char dir[] = "/tmp/iopf-top-tmux-XXXXXX", conf[64], cmd[PATH_MAX + 16];
	char screen[16384] = "", last_time[16] = "", pasid[16], pid[16];
	struct tool tt;
	const char *hdr;
	int status, i, times = 0;
	bool ok = false;
	struct w_result r;

	if (access(TMUX, X_OK))
		SKIP(return, "%s is not installed (scripts/deps.sh installs it)", TMUX);
	ASSERT_NE(NULL, mkdtemp(dir));
	/* the server's socket somewhere writable; a pane that stays to be read */
	setenv("TMUX_TMPDIR", dir, 1);
	setenv("TERM", "xterm-256color", 1);
	unsetenv("TMUX");
	snprintf(conf, sizeof(conf), "%s/tmux.conf", dir);
	ASSERT_EQ(0, write_file(conf, "set -g remain-on-exit on\nset -g status off\n"));

	ASSERT_EQ(0, worker_start(w, "top-tmux", 0));
	ASSERT_EQ(0, worker_do(w, 'b'));
	snprintf(pasid, sizeof(pasid), "%d", w->pasid);
	snprintf(pid, sizeof(pid), "%d", w->pid);
	ASSERT_EQ(0, worker_send(w, 'l'));

	snprintf(cmd, sizeof(cmd), "%s 1", tool_path);
	self->tmux = true;
	status = tmux(&tt, (const char *[]){ "-f", conf, "new-session", "-d",
		"-s", "top", "-x", "160", "-y", "40", cmd, NULL });
	if (!EXITED_WITH(status, 0)) {
		char why[512];

		snprintf(why, sizeof(why), "%.200s%.300s", tt.buf ? tt.buf : "", tt.errbuf);
		tool_free(&tt);
		SKIP(return, "tmux cannot start a session here (status %#x): %s",
		     status, why);
	}
	tool_free(&tt);

	/* poll the pane until the row is there and the header ticked twice */
	for (i = 0; i < HANG_MS / 250 && !ok; i++) {
		usleep(250000);
		status = tmux(&tt, (const char *[]){ "capture-pane", "-p",
			"-t", "top", NULL });
		snprintf(screen, sizeof(screen), "%s", tt.buf ? tt.buf : "");
		tool_free(&tt);
		if (!EXITED_WITH(status, 0))
			break;
		hdr = strstr(screen, "iopf-top - ");
		if (!hdr)
			continue;
		if (strncmp(last_time, hdr + 11, 8)) {
			snprintf(last_time, sizeof(last_time), "%.8s", hdr + 11);
			times++;
		}
		ok = times >= 3 &&
		     screen_has_row(screen, (const char *[]){ "swsva0", pasid,
				    pid, "top-tmux", NULL });
	}
	/* the pane's empty lines below the table */
	for (i = strlen(screen); i > 0 && screen[i - 1] == '\n'; i--)
		screen[i - 1] = '\0';
	TH_LOG("the pane, after %d frames:\n%s", times, screen);
	ASSERT_EQ(0, worker_send(w, 's'));
	ASSERT_EQ(0, worker_result(w, &r));
	EXPECT_EQ(0, r.ret);
	EXPECT_TRUE(ok) TH_LOG("no row for swsva0 PASID %s pid %s top-tmux",
			       pasid, pid);
	/* redrawn in place: one header, one column header */
	EXPECT_EQ(1, count_str(screen, "iopf-top - "));
	EXPECT_EQ(1, count_str(screen, "DEVICE"));
	EXPECT_NE(NULL, strstr(screen, "\nRequests: "));
	EXPECT_NE(NULL, strstr(screen, "\nResponses: "));
	unlink(conf);
}

TEST_HARNESS_MAIN
