// SPDX-License-Identifier: GPL-2.0
/*
 * iopf-exporter, the Prometheus exporter, as Prometheus would see it: the
 * test starts build/bin/iopf-exporter, scrapes /metrics over HTTP before
 * and after a known workload on the software SVA device, and requires the
 * metrics to equal the device's own counters, the histogram to be one
 * Prometheus accepts, and promtool to find nothing to say about the page.
 *
 * Each fixture test runs twice: on a loopback TCP port (the default
 * transport; skipped on a kernel without CONFIG_INET, such as the test
 * guest's), and on a Unix domain socket, which any kernel has.
 */
#define _GNU_SOURCE
#include <math.h>	/* INFINITY */
#include <poll.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "../lib/file_util.h"
#include "../lib/proc_util.h"
#include "../lib/swsva_util.h"
#include "policy_deny.skel.h"

#define PROMTOOL	"/usr/bin/promtool"
#define CURL		"/usr/bin/curl"
#define SOCK_PATH	"/tmp/iopf-exporter-test.sock"
#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define POLICIES	"/sys/kernel/debug/iommu/fault_policies"

#define WL_PAGES	48	/* written to untouched memory */
#define WL_HOLE_PAGES	4	/* read from a hole: Invalid */
#define WL_RAW_PAGES	3	/* raw group for a PASID nobody bound */
#define UNBOUND_PASID	((1u << SWSVA_PASID_BITS) - 2)

/*
 * The comm of the process bound before the exporter starts: every
 * character a label value must escape, and a byte that is not UTF-8
 */
static const char odd_comm[] = "ex\"p\\o\nrt\xff";
/* ... as the label must carry it: unescaped, the byte as U+FFFD */
static const char odd_comm_label[] = "ex\"p\\o\nrt\xef\xbf\xbd";

/* --- the exporter ----------------------------------------------------- */

FIXTURE(exporter) {
	char listen[128];	/* the --listen argument */
	char url[128];		/* http://HOST:PORT for curl */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	pid_t pid;		/* the exporter, 0 when not running */
	int err_fd;		/* its stdout and stderr */
	char err[4096];		/* what it printed until "serving" */
};

FIXTURE_VARIANT(exporter) {
	bool tcp;
};

FIXTURE_VARIANT_ADD(exporter, tcp_loopback) {
	.tcp = true,
};

FIXTURE_VARIANT_ADD(exporter, unix_socket) {
	.tcp = false,
};

/* A free loopback port: bind port 0, note it, let it go */
static int free_port(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	int fd, port = -1;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!bind(fd, (struct sockaddr *)&in, sizeof(in)) &&
	    !getsockname(fd, (struct sockaddr *)&in, &len))
		port = ntohs(in.sin_port);
	close(fd);
	return port;
}

FIXTURE_SETUP(exporter)
{
	ASSERT_EQ(0, swsva_load_module(NULL));
	ASSERT_EQ(0, access(build_path("bin/iopf-exporter"), X_OK))
		TH_LOG("%s: run make tools", build_path("bin/iopf-exporter"));
	if (variant->tcp) {
		struct sockaddr_in *in = (struct sockaddr_in *)&self->addr;
		int port = free_port();

		if (port == -EAFNOSUPPORT)
			SKIP(return, "no IPv4 in this kernel (CONFIG_INET): the Unix socket variant covers HTTP");
		ASSERT_LT(0, port);
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		self->addrlen = sizeof(*in);
		snprintf(self->listen, sizeof(self->listen), "127.0.0.1:%d", port);
		snprintf(self->url, sizeof(self->url), "http://127.0.0.1:%d", port);
	} else {
		struct sockaddr_un *un = (struct sockaddr_un *)&self->addr;

		unlink(SOCK_PATH);
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, SOCK_PATH);
		self->addrlen = sizeof(*un);
		snprintf(self->listen, sizeof(self->listen), "unix:%s", SOCK_PATH);
		snprintf(self->url, sizeof(self->url), "http://localhost");
	}
	self->pid = 0;
	self->err_fd = -1;
}

FIXTURE_TEARDOWN(exporter)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
	if (self->err_fd >= 0)
		close(self->err_fd);
	if (!variant->tcp)
		unlink(SOCK_PATH);
}

/*
 * Start the exporter on the fixture's address with @extra flags, and wait
 * until it says it serves: then its programs are attached and the
 * processes bound before it are scanned. 0, or -1 if it exited first.
 */
static int start_exporter(struct __test_metadata *_metadata,
			  FIXTURE_DATA(exporter) *self, const char *extra)
{
	char *argv[6] = { (char *)build_path("bin/iopf-exporter"), "-l",
			  self->listen };
	size_t len = 0;
	int argc = 3;

	if (extra) {
		argv[argc++] = "-d";
		argv[argc++] = (char *)extra;
	}
	argv[argc] = NULL;
	self->err[0] = '\0';
	self->pid = spawn(argv, &self->err_fd);
	if (self->pid < 0)
		return -1;
	while (!strstr(self->err, "serving ")) {
		struct pollfd pfd = { .fd = self->err_fd, .events = POLLIN };
		ssize_t n;

		/* a hang guard, not a time limit: KASAN kernels load slowly */
		if (poll(&pfd, 1, 240000) <= 0)
			return -1;
		n = read(self->err_fd, self->err + len, sizeof(self->err) - 1 - len);
		if (n <= 0)
			return -1;
		len += n;
		self->err[len] = '\0';
	}
	return 0;
}

/* Its exit status after @sig, or -1 */
static int stop_exporter(FIXTURE_DATA(exporter) *self, int sig)
{
	int status;

	if (kill(self->pid, sig) || waitpid(self->pid, &status, 0) != self->pid)
		return -1;
	self->pid = 0;
	return status;
}

/* --- a tiny HTTP client ----------------------------------------------- */

struct http_reply {
	int status;
	char type[128];		/* Content-Type */
	char *raw;		/* the whole reply; free() it */
	const char *body;
};

/* One HTTP/1.0 request (the server closes after the reply); 0 or -errno */
static int http(FIXTURE_DATA(exporter) *self, const char *method,
		const char *path, struct http_reply *r)
{
	size_t len = 0, cap = 1 << 16;
	char req[256], *p, *eoh;
	ssize_t n;
	int fd;

	memset(r, 0, sizeof(*r));
	fd = socket(self->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&self->addr, self->addrlen))
		goto err;
	n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: localhost\r\n"
		     "Accept: text/plain\r\n\r\n", method, path);
	if (write(fd, req, n) != n)
		goto err;
	r->raw = malloc(cap);
	if (!r->raw)
		goto err;
	while ((n = read(fd, r->raw + len, cap - len - 1)) > 0) {
		len += n;
		if (len == cap - 1) {
			p = realloc(r->raw, cap *= 2);
			if (!p)
				goto err;
			r->raw = p;
		}
	}
	if (n < 0)
		goto err;
	close(fd);
	r->raw[len] = '\0';
	if (sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1)
		return -EPROTO;
	eoh = strstr(r->raw, "\r\n\r\n");
	if (!eoh)
		return -EPROTO;
	*eoh = '\0';
	r->body = eoh + 4;
	for (p = strstr(r->raw, "\r\n"); p; p = strstr(p + 2, "\r\n"))
		if (!strncasecmp(p + 2, "Content-Type:", 13))
			sscanf(p + 15, " %127[^\r]", r->type);
	return 0;
err:
	n = -errno;
	close(fd);
	free(r->raw);
	r->raw = NULL;
	return n;
}

/* --- the text format -------------------------------------------------- */

#define MAX_LABELS	8

struct sample {
	char name[128];
	int nr_labels;
	char key[MAX_LABELS][32];
	char val[MAX_LABELS][128];	/* unescaped */
	double value;
};

/* One sample line into @s: 0, or -1 when it is not the text format */
static int parse_sample(const char *line, struct sample *s)
{
	const char *p = line;
	size_t n;

	memset(s, 0, sizeof(*s));
	n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
	if (!n || n >= sizeof(s->name))
		return -1;
	memcpy(s->name, p, n);
	p += n;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			char *v;
			size_t k = strspn(p, "abcdefghijklmnopqrstuvwxyz_");

			if (s->nr_labels == MAX_LABELS || !k ||
			    k >= sizeof(s->key[0]) || p[k] != '=' || p[k + 1] != '"')
				return -1;
			memcpy(s->key[s->nr_labels], p, k);
			p += k + 2;
			v = s->val[s->nr_labels];
			for (n = 0; *p != '"'; p++) {
				char c = *p;

				if (!c || c == '\n' || n == sizeof(s->val[0]) - 1)
					return -1;
				if (c == '\\') {
					c = *++p;
					if (c == 'n')
						c = '\n';
					else if (c != '\\' && c != '"')
						return -1;
				}
				v[n++] = c;
			}
			p++;
			s->nr_labels++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return -1;
		}
		p++;
	}
	if (*p++ != ' ')
		return -1;
	s->value = !strncmp(p, "+Inf", 4) ? INFINITY : strtod(p, (char **)&p);
	return 0;
}

static const char *label(const struct sample *s, const char *key)
{
	for (int i = 0; i < s->nr_labels; i++)
		if (!strcmp(s->key[i], key))
			return s->val[i];
	return NULL;
}

/*
 * The samples of @name whose labels have the values of @match ("key",
 * "value", ..., NULL): their number into *@count, their sum returned.
 * A malformed line counts as -1000000 samples: it cannot go unnoticed.
 */
static double metric(const char *text, const char *name, int *count,
		     const char *const match[])
{
	const char *line = text, *end;
	struct sample s;
	char buf[1024];
	double sum = 0;
	int n = 0;

	for (; *line; line = *end ? end + 1 : end) {
		bool ok = true;

		end = strchrnul(line, '\n');
		if (*line == '#' || line == end)
			continue;
		snprintf(buf, sizeof(buf), "%.*s", (int)(end - line), line);
		if (parse_sample(buf, &s)) {
			n = -1000000;
			continue;
		}
		if (strcmp(s.name, name))
			continue;
		for (int i = 0; match && match[i]; i += 2) {
			const char *v = label(&s, match[i]);

			ok = ok && v && !strcmp(v, match[i + 1]);
		}
		if (ok) {
			sum += s.value;
			n++;
		}
	}
	if (count)
		*count = n;
	return sum;
}

#define LABELS(...) ((const char *const []){ __VA_ARGS__, NULL })
#define SWSVA0 "device", "swsva0"

/* Counts are integers: round what strtod() made of them (no libm) */
static long long to_ll(double v)
{
	return (long long)(v < 0 ? v - 0.5 : v + 0.5);
}

/* Sum over the samples of @name with the labels, as an integer */
static long long value_of(const char *text, const char *name,
			  const char *const match[])
{
	return to_ll(metric(text, name, NULL, match));
}

/*
 * Every histogram of device @dev: le ascending and ending in +Inf, buckets
 * non-decreasing, +Inf equal to _count. Returns the sum of the +Inf
 * buckets, or -1 at the first violation (logged).
 */
static long long check_histograms(struct __test_metadata *_metadata,
				  const char *text, const char *dev)
{
	const char *line = text, *end;
	char pasid[32] = "", buf[1024];
	double prev_le = -1, prev = 0;
	long long total = 0;
	struct sample s;

	for (; *line; line = *end ? end + 1 : end) {
		const char *le, *p;

		end = strchrnul(line, '\n');
		if (*line == '#' || line == end)
			continue;
		snprintf(buf, sizeof(buf), "%.*s", (int)(end - line), line);
		if (parse_sample(buf, &s) ||
		    strcmp(s.name, "iopf_page_response_latency_seconds_bucket"))
			continue;
		if (!label(&s, "device") || strcmp(label(&s, "device"), dev))
			continue;
		p = label(&s, "pasid");
		le = label(&s, "le");
		if (!p || !le) {
			TH_LOG("bucket without pasid or le: %s", buf);
			return -1;
		}
		if (strcmp(p, pasid)) {
			/* a new series: the previous one ended in +Inf */
			if (pasid[0] && prev_le != INFINITY) {
				TH_LOG("pasid %s: no +Inf bucket", pasid);
				return -1;
			}
			snprintf(pasid, sizeof(pasid), "%s", p);
			prev_le = -1;
			prev = 0;
		}
		if (strtod(le, NULL) <= prev_le && strcmp(le, "+Inf")) {
			TH_LOG("pasid %s: le %s after %g", pasid, le, prev_le);
			return -1;
		}
		if (s.value < prev) {
			TH_LOG("pasid %s: bucket le=%s %g < %g: not cumulative",
			       pasid, le, s.value, prev);
			return -1;
		}
		prev_le = strcmp(le, "+Inf") ? strtod(le, NULL) : INFINITY;
		prev = s.value;
		if (prev_le == INFINITY) {
			long long count = value_of(text,
				"iopf_page_response_latency_seconds_count",
				LABELS("device", dev, "pasid", pasid));

			if (count != to_ll(s.value)) {
				TH_LOG("pasid %s: +Inf %g, _count %lld", pasid,
				       s.value, count);
				return -1;
			}
			total += count;
		}
	}
	if (pasid[0] && prev_le != INFINITY) {
		TH_LOG("pasid %s: no +Inf bucket", pasid);
		return -1;
	}
	return total;
}

/* promtool check metrics < @text: its exit status, its output into @out */
static int promtool_check(const char *text, char *out, size_t size)
{
	char path[] = "/tmp/iopf-exporter-scrape-XXXXXX";
	int fd = mkstemp(path), status, pipefd[2];
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (fd < 0)
		return -1;
	unlink(path);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    lseek(fd, 0, SEEK_SET) || pipe(pipefd)) {
		close(fd);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		dup2(fd, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execl(PROMTOOL, PROMTOOL, "check", "metrics", NULL);
		_exit(127);
	}
	close(fd);
	close(pipefd[1]);
	while (len < size - 1 && (n = read(pipefd[0], out + len, size - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(pipefd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* --- the workload ----------------------------------------------------- */

/*
 * On @fd, bound: write WL_PAGES untouched pages (Success), read a hole
 * where memory was (Invalid), post a raw group for a PASID nobody bound
 * (refused, Invalid). @delta: what the device counted meanwhile.
 */
static void run_workload(struct __test_metadata *_metadata, int fd,
			 struct swsva_counters *delta)
{
	const size_t page = sysconf(_SC_PAGESIZE);
	struct swsva_counters before, after;
	size_t len = WL_PAGES * page;
	unsigned int response = ~0u;
	unsigned char *mem, *hole, *buf;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hole = mmap(NULL, WL_HOLE_PAGES * page, PROT_READ,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = calloc(1, len);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_NE(MAP_FAILED, hole);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, munmap(hole, WL_HOLE_PAGES * page));
	/* one request per 4 KiB page, whatever THP is set to */
	ASSERT_EQ(0, madvise(mem, len, MADV_NOHUGEPAGE));

	ASSERT_EQ(0, swsva_counters(fd, &before));
	ASSERT_EQ(0, swsva_dma(fd, true, mem, len, buf, NULL));
	ASSERT_EQ(-EFAULT, swsva_dma(fd, false, hole, WL_HOLE_PAGES * page,
				     buf, NULL));
	ASSERT_EQ(0, swsva_raw_group(fd, UNBOUND_PASID, mem, WL_RAW_PAGES,
				      &response));
	EXPECT_EQ(SWSVA_RESP_INVALID, response);
	ASSERT_EQ(0, swsva_counters(fd, &after));
	swsva_counters_delta(delta, &before, &after);

	/* the device's view, which the metrics must match */
	ASSERT_LE(WL_PAGES + 1 + WL_RAW_PAGES, delta->page_requests);
	ASSERT_LE(2, delta->resp_invalid);
	ASSERT_LE(WL_PAGES / swsva_group_pages(), delta->resp_success);
	ASSERT_EQ(delta->groups, delta->responses);
	munmap(mem, len);
	free(buf);
}

static void scrape(struct __test_metadata *_metadata,
		   FIXTURE_DATA(exporter) *self, struct http_reply *r)
{
	int err = http(self, "GET", "/metrics", r);

	ASSERT_EQ(0, err) TH_LOG("scrape: %s", strerror(-err));
	ASSERT_EQ(200, r->status);
	ASSERT_STREQ(CONTENT_TYPE, r->type);
}

/* --- the tests -------------------------------------------------------- */

TEST_F_TIMEOUT(exporter, metrics_equal_the_device_counters, 300)
{
	struct http_reply before, after;
	struct swsva_counters d;
	char pasid[16], pid[16], unbound[16], out[8192];
	long long inf_total;
	int fd, bound, n, status;
	const char *body;

	/* bound before the exporter: its scan, not a bind event, names it */
	ASSERT_EQ(0, prctl(PR_SET_NAME, odd_comm));
	fd = swsva_open(0);
	ASSERT_LE(0, fd);
	bound = swsva_bind(fd);
	ASSERT_LT(0, bound);
	snprintf(pasid, sizeof(pasid), "%d", bound);
	snprintf(pid, sizeof(pid), "%d", getpid());
	snprintf(unbound, sizeof(unbound), "%u", UNBOUND_PASID);
	ASSERT_EQ(0, swsva_wait_idle(0, 10000));

	ASSERT_EQ(0, start_exporter(_metadata, self, NULL))
		TH_LOG("exporter: %s", self->err);
	scrape(_metadata, self, &before);
	run_workload(_metadata, fd, &d);
	scrape(_metadata, self, &after);
	body = after.body;

#define DELTA(name, ...) \
	(value_of(after.body, name, LABELS(SWSVA0, ##__VA_ARGS__)) - \
	 value_of(before.body, name, LABELS(SWSVA0, ##__VA_ARGS__)))

	EXPECT_EQ(d.page_requests, DELTA("iopf_page_requests_total"));
	EXPECT_EQ(d.groups, DELTA("iopf_page_request_groups_total"));
	EXPECT_EQ(WL_RAW_PAGES, DELTA("iopf_page_requests_refused_total"));
	EXPECT_EQ(WL_RAW_PAGES, DELTA("iopf_page_requests_refused_total",
				      "pasid", unbound));
	EXPECT_EQ(d.resp_success, DELTA("iopf_page_responses_total",
					"code", "success"));
	EXPECT_EQ(d.resp_invalid, DELTA("iopf_page_responses_total",
					"code", "invalid"));
	EXPECT_EQ(d.resp_failure, DELTA("iopf_page_responses_total",
					"code", "failure"));
	EXPECT_EQ(d.responses, DELTA("iopf_page_responses_total"));
	/* the binding predates the exporter: no bind event to count */
	EXPECT_EQ(0, value_of(body, "iopf_sva_binds_total", LABELS(SWSVA0)));
	EXPECT_EQ(0, value_of(body, "iopf_page_request_groups_in_flight",
			      LABELS(SWSVA0)));
	EXPECT_EQ(0, value_of(body, "iopf_policy_verdicts_total",
			      LABELS(SWSVA0)));

	/* the exporter started before the workload: every response timed */
	inf_total = check_histograms(_metadata, body, "swsva0");
	EXPECT_EQ(d.groups, inf_total);
	EXPECT_EQ(d.groups, DELTA("iopf_page_response_latency_seconds_count"));
	EXPECT_EQ(0, value_of(body, "iopf_page_responses_untimed_total",
			      LABELS(SWSVA0)));
	EXPECT_LT(0, metric(body, "iopf_page_response_latency_seconds_sum",
			    NULL, LABELS(SWSVA0, "pasid", pasid)));
	/* 27 power-of-two bounds from 1 us to 68 s, and +Inf */
	metric(body, "iopf_page_response_latency_seconds_bucket", &n,
	       LABELS(SWSVA0, "pasid", pasid));
	EXPECT_EQ(28, n);
	metric(body, "iopf_page_response_latency_seconds_bucket", &n,
	       LABELS(SWSVA0, "pasid", pasid, "le", "0.000001024"));
	EXPECT_EQ(1, n);
	metric(body, "iopf_page_response_latency_seconds_bucket", &n,
	       LABELS(SWSVA0, "pasid", pasid, "le", "68.719476736"));
	EXPECT_EQ(1, n);

	/* the process, by its pid and its comm, escaped and made UTF-8 */
	EXPECT_EQ(1, value_of(body, "iopf_pasid_info",
			      LABELS(SWSVA0, "pasid", pasid, "pid", pid,
				     "comm", odd_comm_label)))
		TH_LOG("no iopf_pasid_info for pid %s:\n%s", pid, body);
	metric(body, "iopf_pasid_info", &n, LABELS("pasid", pasid));
	EXPECT_EQ(1, n);

	EXPECT_EQ(1, value_of(before.body, "iopf_exporter_scrapes_total", NULL));
	EXPECT_EQ(2, value_of(body, "iopf_exporter_scrapes_total", NULL));
	EXPECT_EQ(0, value_of(body, "iopf_exporter_stats_dropped_total", NULL));

	/* every line parses, and promtool has nothing to say */
	metric(body, "", &n, NULL);
	EXPECT_LE(0, n) TH_LOG("a line is not in the text format:\n%s", body);
	status = promtool_check(body, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("promtool: status %#x: %s", status, out);
	EXPECT_STREQ("", out) TH_LOG("scrape:\n%s", body);
	status = promtool_check(before.body, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("promtool: status %#x: %s", status, out);
	EXPECT_STREQ("", out) TH_LOG("scrape:\n%s", before.body);

	EXPECT_EQ(0, WEXITSTATUS(stop_exporter(self, SIGTERM)));
	free(before.raw);
	free(after.raw);
	close(fd);
}

/* -d: only that device's series; the other is counted but not served */
TEST_F_TIMEOUT(exporter, device_flag_exports_one_device, 300)
{
	const size_t page = sysconf(_SC_PAGESIZE);
	struct swsva_counters before, after;
	struct http_reply r;
	unsigned char *mem, buf[64];
	int fd0, fd1, n;

	ASSERT_EQ(0, start_exporter(_metadata, self, "swsva1"))
		TH_LOG("exporter: %s", self->err);
	fd0 = swsva_open(0);
	fd1 = swsva_open(1);
	ASSERT_LE(0, fd0);
	ASSERT_LE(0, fd1) TH_LOG("swsva1: %m (module loaded with one endpoint?)");
	ASSERT_LT(0, swsva_bind(fd0));
	ASSERT_LT(0, swsva_bind(fd1));
	ASSERT_EQ(0, swsva_counters(fd1, &before));
	mem = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, swsva_dma(fd1, true, mem, sizeof(buf), buf, NULL));
	ASSERT_EQ(0, swsva_dma(fd0, true, mem + 2 * page, sizeof(buf), buf,
			       NULL));
	ASSERT_EQ(0, swsva_counters(fd1, &after));
	close(fd0);
	close(fd1);

	scrape(_metadata, self, &r);
	EXPECT_EQ(after.page_requests - before.page_requests,
		  value_of(r.body, "iopf_page_requests_total",
			   LABELS("device", "swsva1")));
	EXPECT_EQ(1, value_of(r.body, "iopf_sva_binds_total",
			      LABELS("device", "swsva1")));
	metric(r.body, "iopf_page_requests_total", &n, NULL);
	EXPECT_EQ(1, n) TH_LOG("%s", r.body);
	EXPECT_EQ(NULL, strstr(r.body, "device=\"swsva0\""));
	free(r.raw);
	munmap(mem, 4 * page);
}

/* One small DMA on a new binding of endpoint 0: the page requests */
static long long dma_on_swsva0(struct __test_metadata *_metadata, int *pasid)
{
	const size_t page = sysconf(_SC_PAGESIZE);
	struct swsva_counters before, after;
	unsigned char *mem, buf[64] = { 1 };
	int fd;

	mem = mmap(NULL, page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = swsva_open(0);
	if (mem == MAP_FAILED || fd < 0)
		return -1;
	*pasid = swsva_bind(fd);
	if (*pasid <= 0 || swsva_counters(fd, &before) ||
	    swsva_dma(fd, true, mem, sizeof(buf), buf, NULL) ||
	    swsva_counters(fd, &after))
		return -1;
	close(fd);
	munmap(mem, page);
	return after.page_requests - before.page_requests;
}

/*
 * The module reloaded: swsva0 is a new struct device, with a new key in
 * the map unless the allocator gives it the old one's address (twice
 * reloaded, it rarely does every time), and the exporter must still serve
 * one series per (device, PASID), the sum, or Prometheus would reject
 * the page.
 */
TEST_F_TIMEOUT(exporter, a_device_that_comes_back_keeps_one_series, 300)
{
	long long total = 0, n_req;
	char pasid[16], out[8192];
	int p, p1 = 0, n, status;
	struct http_reply r;

	ASSERT_EQ(0, start_exporter(_metadata, self, NULL))
		TH_LOG("exporter: %s", self->err);
	for (int i = 0; i < 3; i++) {
		if (i) {
			ASSERT_EQ(0, system("rmmod swsva"));
			ASSERT_EQ(0, swsva_load_module(NULL));
		}
		n_req = dma_on_swsva0(_metadata, &p);
		ASSERT_LT(0, n_req);
		/* the PASID is the address space's, whatever the device */
		if (i)
			ASSERT_EQ(p1, p);
		p1 = p;
		total += n_req;
	}
	snprintf(pasid, sizeof(pasid), "%d", p1);

	scrape(_metadata, self, &r);
	EXPECT_EQ(total, value_of(r.body, "iopf_page_requests_total",
				  LABELS(SWSVA0, "pasid", pasid)));
	metric(r.body, "iopf_page_requests_total", &n,
	       LABELS(SWSVA0, "pasid", pasid));
	EXPECT_EQ(1, n);
	EXPECT_EQ(3, value_of(r.body, "iopf_sva_binds_total",
			      LABELS(SWSVA0, "pasid", pasid)));
	EXPECT_EQ(1, value_of(r.body, "iopf_pasid_info",
			      LABELS(SWSVA0, "pasid", pasid)));
	EXPECT_LE(0, check_histograms(_metadata, r.body, "swsva0"));
	status = promtool_check(r.body, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("promtool: %s", out);
	EXPECT_STREQ("", out);
	free(r.raw);
}

/* Is fault policy @name attached (a line of its own in POLICIES)? */
static bool policy_attached(const char *name)
{
	char *text = read_file(POLICIES, NULL), *p = text;
	size_t len = strlen(name);
	bool found = false;

	for (; p && *p && !found; p = strchrnul(p, '\n'), p += !!*p)
		found = !strncmp(p, name, len) && p[len] == ' ';
	free(text);
	return found;
}

/*
 * A fault policy that answers every group of swsva0 Invalid
 * (tests/vm/progs/policy_deny.bpf.c): one verdict per group.
 */
TEST_F_TIMEOUT(exporter, policy_verdicts_are_counted, 300)
{
	const size_t page = sysconf(_SC_PAGESIZE);
	struct swsva_counters before, after;
	struct policy_deny_bpf *skel;
	unsigned char *mem, *buf;
	struct bpf_link *link;
	struct http_reply r;
	char pasid[16];
	int fd, p;

	ASSERT_EQ(0, start_exporter(_metadata, self, NULL))
		TH_LOG("exporter: %s", self->err);
	fd = swsva_open(0);
	ASSERT_LE(0, fd);
	p = swsva_bind(fd);
	ASSERT_LT(0, p);
	snprintf(pasid, sizeof(pasid), "%d", p);
	mem = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = calloc(1, 4 * page);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_NE(NULL, buf);

	skel = policy_deny_bpf__open_and_load();
	ASSERT_NE(NULL, skel);
	link = bpf_map__attach_struct_ops(skel->maps.deny_all);
	ASSERT_NE(NULL, link) TH_LOG("attach: %m");
	ASSERT_EQ(0, swsva_counters(fd, &before));
	EXPECT_EQ(-EFAULT, swsva_dma(fd, true, mem, 4 * page, buf, NULL));
	ASSERT_EQ(0, swsva_counters(fd, &after));
	bpf_link__destroy(link);
	policy_deny_bpf__destroy(skel);
	/* the release may be deferred: the next test must not meet it */
	for (int ms = 0; ms < 10000 && policy_attached("deny_all"); ms += 10)
		usleep(10000);
	ASSERT_FALSE(policy_attached("deny_all"));
	ASSERT_LT(0, after.groups - before.groups);
	ASSERT_EQ(after.groups - before.groups,
		  after.resp_invalid - before.resp_invalid);

	scrape(_metadata, self, &r);
	EXPECT_EQ(after.groups - before.groups,
		  value_of(r.body, "iopf_policy_verdicts_total",
			   LABELS(SWSVA0, "pasid", pasid, "verdict", "invalid")));
	EXPECT_EQ(0, value_of(r.body, "iopf_policy_verdicts_total",
			      LABELS(SWSVA0, "pasid", pasid, "verdict", "failure")));
	EXPECT_EQ(after.resp_invalid - before.resp_invalid,
		  value_of(r.body, "iopf_page_responses_total",
			   LABELS(SWSVA0, "pasid", pasid, "code", "invalid")));
	free(r.raw);
	close(fd);
	munmap(mem, 4 * page);
	free(buf);
}

/* curl, a client we did not write, for / and a path that is not there */
static void curl_get(struct __test_metadata *_metadata,
		     FIXTURE_DATA(exporter) *self, const char *path,
		     char *out, size_t size)
{
	char url[256];
	char *argv[12] = { CURL, "-sS", "-o", "/dev/null", "-w",
			   "%{http_code} %{content_type}" };
	int argc = 6, status;

	snprintf(url, sizeof(url), "%s%s", self->url, path);
	if (self->addr.ss_family == AF_UNIX) {
		argv[argc++] = "--unix-socket";
		argv[argc++] = SOCK_PATH;
	}
	argv[argc++] = url;
	argv[argc] = NULL;
	status = run_capture(argv, out, size);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("curl %s: %s", url, out);
}

TEST_F_TIMEOUT(exporter, index_page_links_metrics_and_the_rest_is_404, 300)
{
	struct http_reply r;
	char out[512];

	ASSERT_EQ(0, start_exporter(_metadata, self, NULL))
		TH_LOG("exporter: %s", self->err);
	ASSERT_EQ(0, http(self, "GET", "/", &r));
	EXPECT_EQ(200, r.status);
	EXPECT_NE(NULL, strstr(r.body, "href=\"/metrics\""));
	free(r.raw);
	ASSERT_EQ(0, http(self, "GET", "/nope", &r));
	EXPECT_EQ(404, r.status);
	free(r.raw);
	ASSERT_EQ(0, http(self, "GET", "/metrics/x", &r));
	EXPECT_EQ(404, r.status);
	free(r.raw);
	ASSERT_EQ(0, http(self, "POST", "/metrics", &r));
	EXPECT_EQ(405, r.status);
	free(r.raw);

	ASSERT_EQ(0, access(CURL, X_OK)) TH_LOG("scripts/deps.sh installs curl");
	curl_get(_metadata, self, "/metrics", out, sizeof(out));
	EXPECT_STREQ("200 " CONTENT_TYPE, out);
	curl_get(_metadata, self, "/nope", out, sizeof(out));
	EXPECT_EQ(0, strncmp(out, "404 ", 4)) TH_LOG("curl: %s", out);
	curl_get(_metadata, self, "/", out, sizeof(out));
	EXPECT_EQ(0, strncmp(out, "200 text/html", 13)) TH_LOG("curl: %s", out);
}

/* The address in use: a clear message, non-zero, and the owner untouched */
TEST_F_TIMEOUT(exporter, taken_address_is_a_clear_error, 300)
{
	char *argv[] = { (char *)build_path("bin/iopf-exporter"), "-l",
			 self->listen, NULL };
	char out[4096];
	struct http_reply r;
	int status;

	ASSERT_EQ(0, start_exporter(_metadata, self, NULL))
		TH_LOG("exporter: %s", self->err);
	status = run_capture(argv, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1)
		TH_LOG("status %#x: %s", status, out);
	EXPECT_NE(NULL, strstr(out, "cannot listen on"));
	EXPECT_NE(NULL, strstr(out, self->listen));
	EXPECT_NE(NULL, strstr(out, "Address already in use")) TH_LOG("%s", out);
	/* the second one did not take the first one's socket away */
	ASSERT_EQ(0, http(self, "GET", "/", &r));
	EXPECT_EQ(200, r.status);
	free(r.raw);
}

/*
 * A Unix socket left by an exporter that died is taken over; a file that
 * is not a socket is left alone.
 */
TEST_F_TIMEOUT(exporter, stale_unix_socket_is_replaced_a_file_is_not, 300)
{
	char *argv[] = { (char *)build_path("bin/iopf-exporter"), "-l",
			 self->listen, NULL };
	struct http_reply r;
	char out[4096];
	int fd, status;

	if (variant->tcp)
		SKIP(return, "Unix sockets only");
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&self->addr, self->addrlen));
	close(fd);	/* nothing listens: stale */
	ASSERT_EQ(0, start_exporter(_metadata, self, NULL))
		TH_LOG("exporter: %s", self->err);
	ASSERT_EQ(0, http(self, "GET", "/", &r));
	EXPECT_EQ(200, r.status);
	free(r.raw);
	status = stop_exporter(self, SIGINT);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(-1, access(SOCK_PATH, F_OK)) TH_LOG("socket left behind");

	ASSERT_EQ(0, write_file(SOCK_PATH, "not a socket\n"));
	status = run_capture(argv, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1)
		TH_LOG("status %#x: %s", status, out);
	EXPECT_NE(NULL, strstr(out, "Address already in use")) TH_LOG("%s", out);
	EXPECT_EQ(0, access(SOCK_PATH, F_OK));
}

TEST_F_TIMEOUT(exporter, sigterm_and_sigint_exit_zero, 300)
{
	const int sigs[] = { SIGTERM, SIGINT };
	int status;

	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		ASSERT_EQ(0, start_exporter(_metadata, self, NULL))
			TH_LOG("exporter: %s", self->err);
		status = stop_exporter(self, sigs[i]);
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("%s: status %#x", strsignal(sigs[i]), status);
		close(self->err_fd);
		self->err_fd = -1;
		/* it let the address go: a new one starts on it */
	}
	if (!variant->tcp)
		EXPECT_EQ(-1, access(SOCK_PATH, F_OK)) TH_LOG("socket left behind");
}

/* Before anything is loaded: exit 2, what is wrong, and where help is */
TEST(bad_flags_exit_2_with_usage)
{
	static const char *const bad[][3] = {
		{ "-l", "127.0.0.1:0" },
		{ "-l", "127.0.0.1:65536" },
		{ "-l", "127.0.0.1:http" },
		{ "-l", "127.0.0.1" },
		{ "-l", "999.0.0.1:9478" },
		{ "-l", "::1:9478" },
		{ "-l", "unix:" },
		{ "--listen=nowhere" },
		{ "-d", "" },
		{ "--bogus" },
		{ "extra" },
		{ "-l" },
	};
	char out[4096];
	int status;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *argv[4] = { (char *)build_path("bin/iopf-exporter"),
				  (char *)bad[i][0], (char *)bad[i][1] };

		status = run_capture(argv, out, sizeof(out));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2)
			TH_LOG("%s %s: status %#x: %s", bad[i][0],
			       bad[i][1] ?: "", status, out);
		EXPECT_NE(NULL, strstr(out, "iopf-exporter")) TH_LOG("%s", out);
		EXPECT_NE(NULL, strstr(out, "--help")) TH_LOG("no usage: %s", out);
	}
	status = run_capture((char *const []){
			(char *)build_path("bin/iopf-exporter"), "--help", NULL },
			out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_NE(NULL, strstr(out, "127.0.0.1:9478")) TH_LOG("%s", out);
}

/* --once: one scrape on stdout, the same format, nothing listening */
TEST(once_prints_one_scrape)
{
	char *argv[] = { (char *)build_path("bin/iopf-exporter"), "--once", NULL };
	char *out = malloc(1 << 20), check[8192];
	int status, n;

	ASSERT_NE(NULL, out);
	ASSERT_EQ(0, swsva_load_module(NULL));
	status = run_capture(argv, out, 1 << 20);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("status %#x: %s", status, out);
	EXPECT_NE(NULL, strstr(out, "# TYPE iopf_page_requests_total counter\n"));
	EXPECT_NE(NULL, strstr(out, "# TYPE iopf_page_response_latency_seconds histogram\n"));
	EXPECT_EQ(1, value_of(out, "iopf_exporter_scrapes_total", NULL));
	metric(out, "", &n, NULL);
	EXPECT_LE(0, n) TH_LOG("%s", out);
	status = promtool_check(out, check, sizeof(check));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("promtool: %s", check);
	EXPECT_STREQ("", check);
	free(out);
}

TEST_HARNESS_MAIN
