// SPDX-License-Identifier: GPL-2.0
/*
 * iopf-lat against the software SVA device: its histograms count every
 * page request group the device raised, once, over all intervals; rows
 * per PASID name the process (bound before or after the tool started),
 * rows per device match each device's counters, filters select exactly
 * their rows; the stages add up to the latency; an injected response
 * delay is the device's, not the kernel's; the heat map is valid SVG
 * whose cells add up to the groups; count, signals, usage and exit
 * statuses as the bcc tools have them.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "../lib/json_check.h"
#include "../lib/file_util.h"
#include "../lib/swsva_util.h"
#include "../lib/tool_util.h"

#define READY		"Tracing page request latency"
#define NSTAGES		4
#define UNBOUND_PASID	((1u << SWSVA_PASID_BITS) - 1)

static const char *const stage_names[NSTAGES] = {
	"dispatch", "queue", "fault", "respond",
};

/* ---- a small JSON reader: every line iopf-lat prints must parse -------- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	int t;
	long long num;		/* J_NUM, J_BOOL */
	char *str;		/* J_STR */
	int n;			/* J_ARR, J_OBJ */
	char **keys;		/* J_OBJ */
	struct jv *items;
};

static const char *jws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

static const char *jstring(const char *p, char **out)
{
	char *s = malloc(strlen(p) + 1), *d = s;
	unsigned int u;

	for (p++; *p && *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			goto bad;
		if (*p != '\\') {
			*d++ = *p;
			continue;
		}
		switch (*++p) {
		case '"': case '\\': case '/': *d++ = *p; break;
		case 'b': *d++ = '\b'; break;
		case 'f': *d++ = '\f'; break;
		case 'n': *d++ = '\n'; break;
		case 'r': *d++ = '\r'; break;
		case 't': *d++ = '\t'; break;
		case 'u':
			if (sscanf(p + 1, "%4x", &u) != 1)
				goto bad;
			*d++ = u < 0x80 ? u : '?';
			p += 4;
			break;
		default:
			goto bad;
		}
	}
	if (*p != '"')
		goto bad;
	*d = '\0';
	*out = s;
	return p + 1;
bad:
	free(s);
	return NULL;
}

static const char *jvalue(const char *p, struct jv *v, int depth)
{
	char *end;

	memset(v, 0, sizeof(*v));
	p = jws(p);
	if (depth > 16)
		return NULL;
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';

		v->t = *p == '{' ? J_OBJ : J_ARR;
		p = jws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
			v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
			v->keys[v->n] = NULL;
			if (v->t == J_OBJ) {
				p = jws(p);
				if (*p != '"')
					return NULL;
				p = jstring(p, &v->keys[v->n]);
				if (!p)
					return NULL;
				p = jws(p);
				if (*p++ != ':')
					return NULL;
			}
			p = jvalue(p, &v->items[v->n], depth + 1);
			if (!p)
				return NULL;
			v->n++;
			p = jws(p);
			if (*p == ',') {
				p++;
				continue;
			}
			return *p == close ? p + 1 : NULL;
		}
	}
	if (*p == '"') {
		v->t = J_STR;
		return jstring(p, &v->str);
	}
	if (!strncmp(p, "true", 4) || !strncmp(p, "false", 5)) {
		v->t = J_BOOL;
		v->num = *p == 't';
		return p + (*p == 't' ? 4 : 5);
	}
	if (!strncmp(p, "null", 4)) {
		v->t = J_NULL;
		return p + 4;
	}
	if (*p == '-' || isdigit((unsigned char)*p)) {
		v->t = J_NUM;
		v->num = strtoll(p, &end, 10);
		if (*end == '.' || *end == 'e' || *end == 'E')
			v->num = (long long)strtod(p, &end);
		return end;
	}
	return NULL;
}

static void jfree(struct jv *v)
{
	int i;

	for (i = 0; i < v->n; i++) {
		jfree(&v->items[i]);
		free(v->keys ? v->keys[i] : NULL);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
}

static struct jv *jget(struct jv *o, const char *key)
{
	int i;

	if (!o || o->t != J_OBJ)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return &o->items[i];
	return NULL;
}

static long long jnum(struct jv *o, const char *key, long long def)
{
	struct jv *v = jget(o, key);

	return v && v->t == J_NUM ? v->num : def;
}

static const char *jstr(struct jv *o, const char *key)
{
	struct jv *v = jget(o, key);

	return v && v->t == J_STR ? v->str : "";
}

/* ---- what a --json run printed, summed over its intervals -------------- */

struct lat_row {
	char device[32], comm[32];
	long long pasid, pid, count, sum_ns;
	bool label_changed;	/* pid or comm differ between intervals */
};

struct lat_out {
	int lines;
	const char *error;	/* a line that does not parse or add up */
	char unit[8];
	long long count, sum_ns, untimed;
	struct lat_row rows[16];
	int nr;
	bool stages;
	long long st_count[NSTAGES], st_sum[NSTAGES], unstaged;
};

/*
 * Sum of a "buckets" array, checking each bucket's bounds: [0, 1], then
 * [2^i, 2^(i+1) - 1]
 */
static long long buckets_sum(struct jv *b, struct lat_out *o)
{
	long long sum = 0;
	int i;

	if (!b || b->t != J_ARR) {
		o->error = "no buckets array";
		return 0;
	}
	for (i = 0; i < b->n; i++) {
		struct jv *k = &b->items[i];
		long long low = i ? 1LL << i : 0, high = i ? (1LL << (i + 1)) - 1 : 1;

		if (jnum(k, "low", -1) != low || jnum(k, "high", -1) != high ||
		    jnum(k, "count", -1) < 0)
			o->error = "a bucket with wrong bounds or count";
		sum += jnum(k, "count", 0);
	}
	return sum;
}

/* A histogram object: "count" must be the sum of its buckets */
static long long hist_count(struct jv *h, struct lat_out *o)
{
	long long count = jnum(h, "count", -1);

	if (count != buckets_sum(jget(h, "buckets"), o))
		o->error = "a count that is not the sum of its buckets";
	if (jnum(h, "sum_ns", -1) < 0)
		o->error = "no sum_ns";
	return count;
}

static struct lat_row *row_of(struct lat_out *o, const char *device,
			      long long pasid)
{
	int i;

	for (i = 0; i < o->nr; i++)
		if (!strcmp(o->rows[i].device, device) && o->rows[i].pasid == pasid)
			return &o->rows[i];
	if (o->nr == 16)
		return NULL;
	memset(&o->rows[o->nr], 0, sizeof(o->rows[0]));
	snprintf(o->rows[o->nr].device, sizeof(o->rows[0].device), "%s", device);
	o->rows[o->nr].pasid = pasid;
	o->rows[o->nr].pid = -1;
	return &o->rows[o->nr++];
}

static void lat_line(struct jv *l, struct lat_out *o)
{
	struct jv *hists = jget(l, "hists"), *st = jget(l, "stages");
	int i;

	if (!jget(l, "time") || jget(l, "time")->t != J_NUM)
		o->error = "no time";
	if (o->lines == 1)
		snprintf(o->unit, sizeof(o->unit), "%s", jstr(l, "unit"));
	else if (strcmp(o->unit, jstr(l, "unit")))
		o->error = "the unit changed";
	o->untimed += jnum(l, "untimed", 0);
	if (!hists || hists->t != J_ARR) {
		o->error = "no hists array";
		return;
	}
	for (i = 0; i < hists->n; i++) {
		struct jv *h = &hists->items[i];
		long long count = hist_count(h, o);
		struct lat_row *r = row_of(o, jstr(h, "device"),
					   jnum(h, "pasid", -2));

		if (count <= 0)
			o->error = "an empty row";
		o->count += count;
		o->sum_ns += jnum(h, "sum_ns", 0);
		if (!r) {
			o->error = "too many rows";
			continue;
		}
		r->count += count;
		r->sum_ns += jnum(h, "sum_ns", 0);
		if (r->pid >= 0 && (r->pid != jnum(h, "pid", -1) ||
				    strcmp(r->comm, jstr(h, "comm"))))
			r->label_changed = true;
		r->pid = jnum(h, "pid", -1);
		snprintf(r->comm, sizeof(r->comm), "%s", jstr(h, "comm"));
	}
	if (!st)
		return;
	o->stages = true;
	for (i = 0; i < NSTAGES; i++) {
		struct jv *h = jget(st, stage_names[i]);

		if (!h) {
			o->error = "a stage is missing";
			continue;
		}
		o->st_count[i] += hist_count(h, o);
		o->st_sum[i] += jnum(h, "sum_ns", 0);
	}
	o->unstaged += jnum(st, "unstaged", 0);
}

/* Every line of @text that starts with '{' is one interval */
static void lat_collect(const char *text, struct lat_out *o)
{
	const char *p = text;
	char err[128];

	memset(o, 0, sizeof(*o));
	/* UTF-8, no NaN: Python's parser judges, ours reads the fields */
	if (json_lines_valid(text, err, sizeof(err)))
		o->error = "a line that Python's json module refuses";
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (*p == '{') {
			char *line = strndup(p, len);
			const char *end;
			struct jv v;

			o->lines++;
			end = jvalue(line, &v, 0);
			if (!end || *jws(end) || v.t != J_OBJ)
				o->error = "a line that is not a JSON object";
			else
				lat_line(&v, o);
			jfree(&v);
			free(line);
		}
		p += len + (nl != NULL);
	}
}

#define EXPECT_CLEAN(o, text) \
	EXPECT_EQ(NULL, (o)->error) TH_LOG("%s:\n%s", (o)->error, text)

static struct lat_row *find_row(struct lat_out *o, const char *device,
				long long pasid)
{
	int i;

	for (i = 0; i < o->nr; i++)
		if (!strcmp(o->rows[i].device, device) &&
		    (pasid < -1 || o->rows[i].pasid == pasid))
			return &o->rows[i];
	return NULL;
}

/* ---- running the tool ----------------------------------------------------- */

/* iopf-lat with up to 6 arguments, NULL-terminated */
static int start_lat(struct tool_run *t, const char *a1, const char *a2,
		     const char *a3, const char *a4, const char *a5,
		     const char *a6)
{
	char *argv[] = { strdup(build_path("bin/iopf-lat")), (char *)a1,
			 (char *)a2, (char *)a3, (char *)a4, (char *)a5,
			 (char *)a6, NULL };
	int ret = tool_start(t, argv, READY);

	free(argv[0]);
	return ret;
}

static long long ep_groups(int ep)
{
	return swsva_sysfs_counter(ep, "groups");
}

/* ---- workers: processes that bind, then DMA on command -------------------- */

struct worker {
	pid_t pid;
	int pasid;
	int cmd, reply;		/* pipes: to it, from it */
};

/* A DMA of @pages untouched pages, written by the device, on endpoint @ep */
static int dma_untouched(int fd, int pages, struct swsva_dma *out)
{
	size_t len = pages * sysconf(_SC_PAGESIZE);
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *buf = calloc(1, len);
	int ret;

	if (mem == MAP_FAILED || !buf)
		return -ENOMEM;
	/* one request per 4 KiB page, whatever THP is set to */
	madvise(mem, len, MADV_NOHUGEPAGE);
	ret = swsva_dma(fd, true, mem, len, buf, out);
	munmap(mem, len);
	free(buf);
	return ret;
}

static void worker_main(const char *name, unsigned int eps, int cmd, int reply)
{
	int fds[2] = { -1, -1 }, ep, pasid = -ENODEV, pages;

	prctl(PR_SET_NAME, name);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (ep = 0; ep < 2; ep++) {
		if (!(eps & (1u << ep)))
			continue;
		fds[ep] = swsva_open(ep);
		pasid = fds[ep] < 0 ? -errno : swsva_bind(fds[ep]);
		if (pasid < 0)
			break;
	}
	if (write(reply, &pasid, sizeof(pasid)) != sizeof(pasid) || pasid < 0)
		_exit(1);
	/* a command: pages to DMA on endpoint 0, then 1; 0 ends */
	while (read(cmd, &pages, sizeof(pages)) == sizeof(pages) && pages) {
		int ret = 0;

		ep = pages >> 16;
		pages &= 0xffff;
		if (fds[ep] < 0)
			ret = -ENOTCONN;
		else
			ret = dma_untouched(fds[ep], pages, NULL);
		if (write(reply, &ret, sizeof(ret)) != sizeof(ret))
			_exit(1);
	}
	_exit(0);
}

/* Binds endpoints @eps (bit 0: swsva0, bit 1: swsva1) as process @name */
static int worker_start(struct worker *w, const char *name, unsigned int eps)
{
	int cmd[2], reply[2];

	if (pipe(cmd) || pipe(reply))
		return -1;
	w->pid = fork();
	if (!w->pid) {
		close(cmd[1]);
		close(reply[0]);
		worker_main(name, eps, cmd[0], reply[1]);
	}
	close(cmd[0]);
	close(reply[1]);
	w->cmd = cmd[1];
	w->reply = reply[0];
	if (read(w->reply, &w->pasid, sizeof(w->pasid)) != sizeof(w->pasid))
		return -1;
	return w->pasid < 0 ? -1 : 0;
}

/* Its DMA of @pages untouched pages on @ep: the device's groups, or -1 */
static long long worker_dma(struct worker *w, int ep, int pages)
{
	long long before = ep_groups(ep);
	int msg = ep << 16 | pages, ret;

	if (write(w->cmd, &msg, sizeof(msg)) != sizeof(msg) ||
	    read(w->reply, &ret, sizeof(ret)) != sizeof(ret) || ret)
		return -1;
	return ep_groups(ep) - before;
}

static int worker_stop(struct worker *w)
{
	int msg = 0, status = -1;

	if (w->pid <= 0)
		return -1;
	if (write(w->cmd, &msg, sizeof(msg)) != sizeof(msg))
		kill(w->pid, SIGKILL);
	waitpid(w->pid, &status, 0);
	close(w->cmd);
	close(w->reply);
	w->pid = 0;
	return status;
}

/* ---- tests ------------------------------------------------------------------ */

FIXTURE(lat) {
	struct tool_run run[5];
	struct worker w[3];
	struct lat_out out;
};

FIXTURE_SETUP(lat)
{
	memset(self, 0, sizeof(*self));
	ASSERT_EQ(0, swsva_load_module(NULL));
	ASSERT_EQ(0, access("/dev/swsva1", F_OK)) TH_LOG("needs two endpoints");
	ASSERT_LT(0, swsva_group_pages());
	prctl(PR_SET_NAME, "lat-test");
}

FIXTURE_TEARDOWN(lat)
{
	int i;

	for (i = 0; i < 3; i++)
		if (self->w[i].pid > 0)
			worker_stop(&self->w[i]);
	for (i = 0; i < 5; i++) {
		if (self->run[i].pid > 0 && self->run[i].out) {
			kill(self->run[i].pid, SIGKILL);
			waitpid(self->run[i].pid, NULL, 0);
		}
		tool_free(&self->run[i]);
	}
}

/* Stops a run with @sig; the tool must exit 0 */
#define STOP_OK(t, sig) do {						\
	int __st = tool_stop(t, sig);					\
	ASSERT_TRUE(WIFEXITED(__st)) TH_LOG("%s", (t)->out);		\
	ASSERT_EQ(0, WEXITSTATUS(__st)) TH_LOG("%s", (t)->out);		\
	(t)->pid = 0;							\
} while (0)

/*
 * Two DMAs a second apart, so that they likely fall in different
 * intervals: whatever the split, the buckets of all intervals add up to
 * the groups the device raised, in usecs and in msecs alike.
 */
TEST_F_TIMEOUT(lat, json_intervals_add_up_to_the_groups, 120)
{
	struct tool_run *us = &self->run[0], *ms = &self->run[1];
	long long groups = 0, g;

	ASSERT_EQ(0, worker_start(&self->w[0], "lat-a", 1));
	ASSERT_EQ(0, start_lat(us, "--json", "1", NULL, NULL, NULL, NULL))
		TH_LOG("%s", us->out);
	ASSERT_EQ(0, start_lat(ms, "-j", "-m", "1", NULL, NULL, NULL))
		TH_LOG("%s", ms->out);
	g = worker_dma(&self->w[0], 0, 64);
	ASSERT_LT(0, g);
	groups += g;
	usleep(1200 * 1000);
	g = worker_dma(&self->w[0], 0, 40);
	ASSERT_LT(0, g);
	groups += g;
	STOP_OK(us, SIGINT);
	STOP_OK(ms, SIGINT);

	lat_collect(us->out, &self->out);
	EXPECT_CLEAN(&self->out, us->out);
	EXPECT_LE(1, self->out.lines);
	EXPECT_STREQ("usecs", self->out.unit);
	EXPECT_EQ(groups, self->out.count) TH_LOG("%s", us->out);
	EXPECT_EQ(1, self->out.nr);
	EXPECT_EQ(0, self->out.untimed);
	EXPECT_FALSE(self->out.stages);

	lat_collect(ms->out, &self->out);
	EXPECT_CLEAN(&self->out, ms->out);
	EXPECT_STREQ("msecs", self->out.unit);
	EXPECT_EQ(groups, self->out.count) TH_LOG("%s", ms->out);
}

/*
 * -P: a row per PASID, named after its process, one that bound before the
 * tool started (the task iterator found it) and one after (the bind
 * program saw it), each with the groups of its own DMAs.
 */
TEST_F_TIMEOUT(lat, per_pasid_rows_name_their_processes, 120)
{
	struct worker *early = &self->w[0], *late = &self->w[1];
	struct tool_run *t = &self->run[0];
	struct lat_row *r;
	long long g_early, g_late;

	ASSERT_EQ(0, worker_start(early, "lat-early", 1));
	ASSERT_EQ(0, start_lat(t, "-P", "--json", "1", NULL, NULL, NULL))
		TH_LOG("%s", t->out);
	ASSERT_EQ(0, worker_start(late, "lat-late", 1));
	ASSERT_NE(early->pasid, late->pasid);
	g_early = worker_dma(early, 0, 48);
	g_late = worker_dma(late, 0, 24);
	ASSERT_LT(0, g_early);
	ASSERT_LT(0, g_late);
	STOP_OK(t, SIGINT);

	lat_collect(t->out, &self->out);
	EXPECT_CLEAN(&self->out, t->out);
	ASSERT_EQ(2, self->out.nr) TH_LOG("%s", t->out);
	r = find_row(&self->out, "swsva0", early->pasid);
	ASSERT_NE(NULL, r) TH_LOG("%s", t->out);
	EXPECT_EQ(early->pid, r->pid);
	EXPECT_STREQ("lat-early", r->comm);
	EXPECT_EQ(g_early, r->count);
	EXPECT_FALSE(r->label_changed);
	r = find_row(&self->out, "swsva0", late->pasid);
	ASSERT_NE(NULL, r) TH_LOG("%s", t->out);
	EXPECT_EQ(late->pid, r->pid);
	EXPECT_STREQ("lat-late", r->comm);
	EXPECT_EQ(g_late, r->count);
	EXPECT_FALSE(r->label_changed);
}

/* -D: a row per device, each with that device's groups */
TEST_F_TIMEOUT(lat, per_device_rows_match_each_device, 120)
{
	struct tool_run *t = &self->run[0];
	struct lat_row *r0, *r1;
	long long g0, g1;

	ASSERT_EQ(0, worker_start(&self->w[0], "lat-two", 3));
	ASSERT_EQ(0, start_lat(t, "-D", "--json", NULL, NULL, NULL, NULL))
		TH_LOG("%s", t->out);
	g0 = worker_dma(&self->w[0], 0, 64);
	g1 = worker_dma(&self->w[0], 1, 24);
	ASSERT_LT(0, g0);
	ASSERT_LT(0, g1);
	ASSERT_NE(g0, g1);
	STOP_OK(t, SIGINT);

	lat_collect(t->out, &self->out);
	EXPECT_CLEAN(&self->out, t->out);
	EXPECT_EQ(1, self->out.lines);	/* no interval: one at the end */
	ASSERT_EQ(2, self->out.nr) TH_LOG("%s", t->out);
	r0 = find_row(&self->out, "swsva0", -2);
	r1 = find_row(&self->out, "swsva1", -2);
	ASSERT_NE(NULL, r0) TH_LOG("%s", t->out);
	ASSERT_NE(NULL, r1) TH_LOG("%s", t->out);
	EXPECT_EQ(g0, r0->count);
	EXPECT_EQ(g1, r1->count);
	/* per device: no PASID, no process */
	EXPECT_EQ(-2, r0->pasid);
	EXPECT_EQ(-1, r0->pid);
}

/* Same (device, PASID) rows, same counts and same latencies */
static void expect_same_row(struct __test_metadata *_metadata,
			    struct lat_out *all, struct lat_row *r)
{
	struct lat_row *a = find_row(all, r->device, r->pasid);

	ASSERT_NE(NULL, a) TH_LOG("%s pasid %lld", r->device, r->pasid);
	EXPECT_EQ(a->count, r->count) TH_LOG("%s pasid %lld", r->device, r->pasid);
	EXPECT_EQ(a->sum_ns, r->sum_ns) TH_LOG("%s pasid %lld", r->device, r->pasid);
	EXPECT_EQ(a->pid, r->pid);
}

/*
 * Process A on both devices, B on swsva0: each filter shows exactly the
 * rows of the unfiltered run that match it, with the same counts and the
 * same latency sums (the same responses).
 */
TEST_F_TIMEOUT(lat, filters_select_exactly_their_rows, 180)
{
	struct tool_run *all = &self->run[0], *dev = &self->run[1],
			*pid = &self->run[2], *pasid = &self->run[3];
	struct worker *a = &self->w[0], *b = &self->w[1];
	struct lat_out f;
	char pid_arg[16], pasid_arg[16];
	int i;

	ASSERT_EQ(0, worker_start(a, "lat-a", 3));
	ASSERT_EQ(0, worker_start(b, "lat-b", 1));
	snprintf(pid_arg, sizeof(pid_arg), "%d", a->pid);
	snprintf(pasid_arg, sizeof(pasid_arg), "%d", b->pasid);
	ASSERT_EQ(0, start_lat(all, "-P", "-j", NULL, NULL, NULL, NULL));
	ASSERT_EQ(0, start_lat(dev, "-P", "-j", "-d", "swsva1", NULL, NULL));
	ASSERT_EQ(0, start_lat(pid, "-P", "-j", "-p", pid_arg, NULL, NULL));
	ASSERT_EQ(0, start_lat(pasid, "-P", "-j", "--pasid", pasid_arg, NULL, NULL));
	ASSERT_LT(0, worker_dma(a, 0, 32));
	ASSERT_LT(0, worker_dma(a, 1, 16));
	ASSERT_LT(0, worker_dma(b, 0, 24));
	STOP_OK(all, SIGINT);
	STOP_OK(dev, SIGINT);
	STOP_OK(pid, SIGINT);
	STOP_OK(pasid, SIGINT);

	lat_collect(all->out, &self->out);
	EXPECT_CLEAN(&self->out, all->out);
	ASSERT_EQ(3, self->out.nr) TH_LOG("%s", all->out);

	lat_collect(dev->out, &f);
	EXPECT_CLEAN(&f, dev->out);
	ASSERT_EQ(1, f.nr) TH_LOG("%s", dev->out);
	EXPECT_STREQ("swsva1", f.rows[0].device);
	EXPECT_EQ(a->pasid, f.rows[0].pasid);
	expect_same_row(_metadata, &self->out, &f.rows[0]);

	lat_collect(pid->out, &f);
	EXPECT_CLEAN(&f, pid->out);
	ASSERT_EQ(2, f.nr) TH_LOG("%s", pid->out);
	for (i = 0; i < f.nr; i++) {
		EXPECT_EQ(a->pid, f.rows[i].pid);
		EXPECT_EQ(a->pasid, f.rows[i].pasid);
		expect_same_row(_metadata, &self->out, &f.rows[i]);
	}
	EXPECT_STRNE(f.rows[0].device, f.rows[1].device);

	lat_collect(pasid->out, &f);
	EXPECT_CLEAN(&f, pasid->out);
	ASSERT_EQ(1, f.nr) TH_LOG("%s", pasid->out);
	EXPECT_STREQ("swsva0", f.rows[0].device);
	EXPECT_EQ(b->pasid, f.rows[0].pasid);
	EXPECT_EQ(b->pid, f.rows[0].pid);
	expect_same_row(_metadata, &self->out, &f.rows[0]);
}

/*
 * -S. The groups of our PASID all reach the SVA handler (one fails its
 * VMA check and has its other requests skipped): each stage counts every
 * group, and the four stages of a group add up to its latency, so their
 * sums add up to the histogram's. A raw group for a PASID nobody bound is
 * refused before dispatch: in the histogram of an unfiltered run, in no
 * stage.
 */
TEST_F_TIMEOUT(lat, stages_add_up_to_the_latency, 120)
{
	const size_t page = sysconf(_SC_PAGESIZE);
	struct tool_run *mine = &self->run[0], *all = &self->run[1];
	unsigned int gp = swsva_group_pages(), response = ~0u;
	char pasid_arg[16];
	long long before, groups, stage_total = 0;
	void *ro, *buf;
	int fd, pasid, i;

	fd = swsva_open(0);
	ASSERT_LE(0, fd);
	pasid = swsva_bind(fd);
	ASSERT_LT(0, pasid);
	snprintf(pasid_arg, sizeof(pasid_arg), "%d", pasid);
	ASSERT_EQ(0, start_lat(mine, "-S", "-j", "1", "--pasid", pasid_arg, NULL))
		TH_LOG("%s", mine->out);
	ASSERT_EQ(0, start_lat(all, "-S", "-j", NULL, NULL, NULL, NULL))
		TH_LOG("%s", all->out);

	before = ep_groups(0);
	ASSERT_EQ(0, dma_untouched(fd, 64, NULL));
	ro = mmap(NULL, gp * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = calloc(1, gp * page);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(-EFAULT, swsva_dma(fd, true, ro, gp * page, buf, NULL));
	groups = ep_groups(0) - before;
	ASSERT_EQ(0, swsva_raw_group(fd, UNBOUND_PASID, ro, 2, &response));
	EXPECT_EQ(SWSVA_RESP_INVALID, response);
	STOP_OK(mine, SIGINT);
	STOP_OK(all, SIGINT);
	close(fd);
	munmap(ro, gp * page);
	free(buf);

	lat_collect(mine->out, &self->out);
	EXPECT_CLEAN(&self->out, mine->out);
	ASSERT_TRUE(self->out.stages) TH_LOG("%s", mine->out);
	EXPECT_EQ(groups, self->out.count);
	EXPECT_EQ(0, self->out.unstaged);
	for (i = 0; i < NSTAGES; i++) {
		EXPECT_EQ(groups, self->out.st_count[i]) TH_LOG("%s", stage_names[i]);
		EXPECT_GE(self->out.sum_ns, self->out.st_sum[i])
			TH_LOG("%s", stage_names[i]);
		stage_total += self->out.st_sum[i];
	}
	EXPECT_EQ(self->out.sum_ns, stage_total) TH_LOG("%s", mine->out);

	lat_collect(all->out, &self->out);
	EXPECT_CLEAN(&self->out, all->out);
	EXPECT_EQ(groups + 1, self->out.count) TH_LOG("%s", all->out);
	EXPECT_EQ(1, self->out.unstaged);
	for (i = 0; i < NSTAGES; i++) {
		EXPECT_EQ(groups, self->out.st_count[i]) TH_LOG("%s", stage_names[i]);
		EXPECT_GE(self->out.sum_ns, self->out.st_sum[i]);
	}
}

/*
 * SWSVA_IOC_SET_FAULTS delays a response at the device, after the IOMMU
 * sent it: the delay is in the device's latencies (post to the response
 * seen), not in the kernel's latency_ns (last report to response sent),
 * which is what iopf-lat shows. A kernel latency never exceeds the
 * device's latency of the same group, which comes later and starts
 * earlier; a delayed group's device latency exceeds it by the delay. So
 * iopf-lat's sum is at most the device's sum less the delays; a tool that
 * took the delays in would fail this.
 */
#define DELAYED		3
#define DELAY_MS	200
#define JIFFY_MS	10	/* a sleep may end a jiffy early; HZ >= 100 */

TEST_F_TIMEOUT(lat, an_injected_delay_is_the_device_s_not_the_kernel_s, 120)
{
	const size_t page = sysconf(_SC_PAGESIZE);
	struct tool_run *t = &self->run[0];
	long long before, groups, dev_sum = 0, delayed = 0;
	__u64 lat[64];
	struct swsva_dma d = {
		.size = sizeof(d),
		.flags = SWSVA_DMA_WRITE,
		.len = 64 * page,
		.latencies = (uintptr_t)lat,
		.latencies_len = 64,
	};
	void *mem, *buf;
	int fd;
	__u32 i;

	fd = swsva_open(0);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, swsva_bind(fd));
	mem = mmap(NULL, d.len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = calloc(1, d.len);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, madvise(mem, d.len, MADV_NOHUGEPAGE));
	d.addr = (uintptr_t)mem;
	d.buf = (uintptr_t)buf;
	ASSERT_EQ(0, start_lat(t, "-j", "-d", "swsva0", NULL, NULL, NULL))
		TH_LOG("%s", t->out);

	before = ep_groups(0);
	ASSERT_EQ(0, swsva_set_faults(fd, DELAYED, DELAY_MS, 0, 0));
	ASSERT_EQ(0, ioctl(fd, SWSVA_IOC_DMA, &d)) TH_LOG("%s", strerror(errno));
	groups = ep_groups(0) - before;
	ASSERT_EQ(0, swsva_set_faults(fd, 0, 0, 0, 0));
	STOP_OK(t, SIGINT);
	close(fd);
	munmap(mem, 64 * page);
	free(buf);

	ASSERT_LE(DELAYED, groups);
	ASSERT_EQ(groups, d.latencies_len);
	for (i = 0; i < d.latencies_len; i++) {
		dev_sum += lat[i];
		delayed += lat[i] >= (DELAY_MS - JIFFY_MS) * 1000000ULL;
	}
	/* the device saw the delays */
	EXPECT_LE(DELAYED, delayed);

	lat_collect(t->out, &self->out);
	EXPECT_CLEAN(&self->out, t->out);
	/* the delayed groups are answered once, counted once */
	EXPECT_EQ(groups, self->out.count) TH_LOG("%s", t->out);
	EXPECT_GE(dev_sum - DELAYED * (DELAY_MS - JIFFY_MS) * 1000000LL,
		  self->out.sum_ns)
		TH_LOG("device %lld ns, iopf-lat %lld ns", dev_sum, self->out.sum_ns);
}

/* Sum of the data-count attributes of the cells, -1 if none or no total */
static long long svg_cells(const char *svg, long long *total)
{
	const char *p = svg;
	long long sum = 0;
	int cells = 0;

	p = strstr(svg, "data-total=\"");
	*total = p ? strtoll(p + 12, NULL, 10) : -1;
	p = svg;
	while ((p = strstr(p, "data-count=\""))) {
		p += 12;
		sum += strtoll(p, NULL, 10);
		cells++;
	}
	return cells ? sum : -1;
}

/* xmllint if the guest sees it, else Python's XML parser */
static int xml_well_formed(const char *path, char *out, size_t size)
{
	char *lint[] = { "/usr/bin/xmllint", "--noout", (char *)path, NULL };
	char *py[] = { "/usr/bin/python3", "-c",
		       "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])",
		       (char *)path, NULL };

	return run_capture(access(lint[0], X_OK) ? py : lint, out, size);
}

/*
 * --heatmap, with and without an interval (a column a second then): a
 * well-formed SVG whose cells add up to the groups.
 */
TEST_F_TIMEOUT(lat, heatmap_cells_add_up_to_the_groups, 120)
{
	static const char *const path[2] = { "/tmp/iopf-lat-test-1.svg",
					     "/tmp/iopf-lat-test-2.svg" };
	long long groups = 0, g, total;
	char out[4096];
	int i;

	unlink(path[0]);
	unlink(path[1]);
	ASSERT_EQ(0, worker_start(&self->w[0], "lat-heat", 3));
	ASSERT_EQ(0, start_lat(&self->run[0], "--heatmap", path[0], NULL,
			       NULL, NULL, NULL));
	ASSERT_EQ(0, start_lat(&self->run[1], "-j", "-m", "--heatmap", path[1],
			       "1", NULL));
	g = worker_dma(&self->w[0], 0, 64);
	ASSERT_LT(0, g);
	groups += g;
	usleep(1100 * 1000);
	g = worker_dma(&self->w[0], 1, 32);
	ASSERT_LT(0, g);
	groups += g;
	STOP_OK(&self->run[0], SIGINT);
	STOP_OK(&self->run[1], SIGTERM);

	for (i = 0; i < 2; i++) {
		size_t len;
		char *svg = read_file(path[i], &len);
		int status;

		ASSERT_NE(NULL, svg) TH_LOG("%s: %s", path[i], self->run[i].out);
		status = xml_well_formed(path[i], out, sizeof(out));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
			TH_LOG("%s: %s", path[i], out);
		EXPECT_NE(NULL, strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
		EXPECT_NE(NULL, strstr(svg, i ? "msecs" : "usecs"));
		EXPECT_NE(NULL, strstr(svg, "all devices"));
		EXPECT_EQ(groups, svg_cells(svg, &total)) TH_LOG("%s", path[i]);
		EXPECT_EQ(groups, total);
		free(svg);
		unlink(path[i]);
	}
}

/* With a count the tool ends by itself after as many intervals, status 0 */
TEST_F_TIMEOUT(lat, count_ends_after_count_intervals, 60)
{
	struct tool_run *t = &self->run[0];

	ASSERT_EQ(0, start_lat(t, "--json", "1", "3", NULL, NULL, NULL))
		TH_LOG("%s", t->out);
	STOP_OK(t, 0);
	lat_collect(t->out, &self->out);
	EXPECT_CLEAN(&self->out, t->out);
	EXPECT_EQ(3, self->out.lines) TH_LOG("%s", t->out);
}

/*
 * Text output, printed at SIGTERM: the histogram's lines add up to the
 * groups, as does its summary line.
 */
TEST_F_TIMEOUT(lat, sigterm_prints_the_histogram_and_exits_0, 60)
{
	struct tool_run *t = &self->run[0];
	unsigned long long low, high, count, sum = 0, summary = 0;
	long long groups;
	const char *p;

	ASSERT_EQ(0, worker_start(&self->w[0], "lat-text", 1));
	ASSERT_EQ(0, start_lat(t, NULL, NULL, NULL, NULL, NULL, NULL));
	groups = worker_dma(&self->w[0], 0, 64);
	ASSERT_LT(0, groups);
	STOP_OK(t, SIGTERM);

	EXPECT_NE(NULL, strstr(t->out, "usecs               : count    distribution"))
		TH_LOG("%s", t->out);
	for (p = t->out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (sscanf(p, " %llu -> %llu : %llu |", &low, &high, &count) == 3)
			sum += count;
		else if (!strncmp(p, "avg = ", 6))
			EXPECT_EQ(1, sscanf(strstr(p, "count: "), "count: %llu", &summary));
	}
	EXPECT_EQ(groups, sum) TH_LOG("%s", t->out);
	EXPECT_EQ(groups, summary) TH_LOG("%s", t->out);
}

/* Bad flags and values: usage on stderr, exit 2; --help: exit 0 */
TEST(usage_and_exit_statuses)
{
	static const char *const bad[][3] = {
		{ "-m", "x" }, { "--bogus" }, { "1", "2", "3" }, { "0" },
		{ "1", "0" }, { "-p", "0" }, { "-p", "x" }, { "--pasid", "-2" },
		{ "-d", "" }, { "-d", "a-device-name-that-is-much-too-long" },
		{ "-D", "-P" }, { "--heatmap" }, { "--json", "-1" },
	};
	const char *tool = build_path("bin/iopf-lat");
	char out[8192];
	int i, status;

	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		char *argv[] = { (char *)tool, (char *)bad[i][0],
				 (char *)bad[i][1], (char *)bad[i][2], NULL };

		status = run_capture(argv, out, sizeof(out));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(2, WEXITSTATUS(status))
			TH_LOG("%s %s %s: %s", bad[i][0], bad[i][1] ?: "",
			       bad[i][2] ?: "", out);
		EXPECT_NE(NULL, strstr(out, "iopf-lat --help")) TH_LOG("%s", out);
	}
	status = run_capture((char *[]){ (char *)tool, "--help", NULL }, out,
			     sizeof(out));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_NE(NULL, strstr(out, "--stages")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "--heatmap")) TH_LOG("%s", out);
}

TEST_HARNESS_MAIN
