// SPDX-License-Identifier: GPL-2.0
/*
 * iopf-top: I/O page faults by device, PASID and process, refreshed every
 * interval, like biotop(8) for page requests.
 *
 * The BPF side (bpf/iopf-top.bpf.c) is the shared per-(device, PASID)
 * statistics of bpf/iopf_stats.bpf.h, cumulative, and a map iterator that
 * dumps them. Each interval is the difference between two dumps: counts,
 * rates, and p50/p99 from the difference of the latency histograms; the
 * maximum comes from the epoch-switched lat_max_ns[] slots.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "iopfkit.h"
#include "iopf-top.skel.h"

#define TOOL		"iopf-top"
#define POLICIES	"/sys/kernel/debug/iommu/fault_policies"
#define MAX_ROWS	10000
/* The highest PASID of PCIe (20 bits); -1 selects requests without one */

enum sort_key {
	SORT_REQUESTS,
	SORT_GROUPS,
	SORT_P50,
	SORT_P99,
	SORT_MAX,
	SORT_INFLIGHT,
	SORT_INVALID,
	SORT_PASID,
	SORT_PID,
	SORT_DEVICE,
	NR_SORT_KEYS,
};

static const char *const sort_names[NR_SORT_KEYS] = {
	[SORT_REQUESTS] = "requests",
	[SORT_GROUPS] = "groups",
	[SORT_P50] = "p50",
	[SORT_P99] = "p99",
	[SORT_MAX] = "max",
	[SORT_INFLIGHT] = "inflight",
	[SORT_INVALID] = "invalid",
	[SORT_PASID] = "pasid",
	[SORT_PID] = "pid",
	[SORT_DEVICE] = "device",
};

static struct {
	bool noclear;
	bool json;
	bool all;
	enum sort_key sort;
	int rows;
	int interval;
	int count;		/* 0: for ever */
} env = {
	.rows = 20,
	.interval = 1,
};

const char *argp_program_version = "iopf-top (iopfkit)";
const char argp_program_doc[] =
"Page requests, groups and response latency by device, PASID and process,\n"
"every interval seconds (default 1), count times (default: until Ctrl-C).\n"
"\v"
"EXAMPLES:\n"
"    iopf-top              # refresh every second, busiest first\n"
"    iopf-top 5 10         # 5 second intervals, 10 of them\n"
"    iopf-top -C           # don't clear the screen: one block per interval\n"
"    iopf-top -s p99       # highest 99th percentile latency first\n"
"    iopf-top -d swsva0    # one device\n"
"    iopf-top -p 181       # the PASIDs of process 181\n"
"    iopf-top -j 1 60      # a JSON object per line, for a minute\n"
"\n"
"Sort keys: requests (default), groups, p50, p99, max, inflight, invalid,\n"
"pasid, pid, device.\n";

static const struct argp_option opts[] = {
	{ "noclear", 'C', NULL, 0, "Don't clear the screen: one block per interval", 0 },
	{ "sort", 's', "KEY", 0, "Sort rows by KEY (default: requests)", 0 },
	{ "rows", 'r', "N", 0, "Show at most N rows (default 20)", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per line per interval", 0 },
	{ "all", 'a', NULL, 0, "Also show rows that were idle in the interval", 0 },
	{},
};


static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	int i;

	switch (key) {
	case 'C':
		env.noclear = true;
		break;
	case 's':
		for (i = 0; i < NR_SORT_KEYS; i++)
			if (!strcmp(arg, sort_names[i]))
				break;
		if (i == NR_SORT_KEYS)
			argp_error(state, "invalid sort key: '%s' (requests, groups, p50, p99, max, inflight, invalid, pasid, pid or device)",
				   arg);
		env.sort = i;
		break;
	case 'r':
		env.rows = iopf_arg_num(state, "-r", arg, 1, MAX_ROWS);
		break;
	case 'j':
		env.json = true;
		break;
	case 'a':
		env.all = true;
		break;
	case ARGP_KEY_ARG:
		return iopf_arg_interval_count(state, arg, &env.interval,
					       &env.count);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* One entry of the statistics, as the dump iterator writes it */
struct entry {
	struct iopf_stats_key key;
	struct iopf_stats s;
};

/* the iterator writes the two back to back; merge_stats() sees u64s */
_Static_assert(sizeof(struct entry) ==
	       sizeof(struct iopf_stats_key) + sizeof(struct iopf_stats),
	       "struct entry has padding");
_Static_assert(offsetof(struct iopf_stats, requests) == IOPF_DEV_LEN &&
	       sizeof(struct iopf_stats) % sizeof(__u64) == 0,
	       "struct iopf_stats: counters after the name");

/* Dumps: the one just read and the one before, each sorted by key */
struct dump {
	struct entry *e;
	size_t nr, cap;
};

/* What one row shows for one interval */
struct row {
	struct iopf_stats_key key;
	char device[IOPF_DEV_LEN];
	struct iopf_proc proc;
	__u64 requests, groups, responses, refused;
	__u64 codes[IOPF_NR_RESP_CODES];
	__u64 verdicts[IOPF_NR_RESP_CODES];
	__u64 in_flight;
	__u64 lat_n;		/* responses with a latency, in lat[] */
	double p50_ns, p99_ns, max_ns;
	__u64 lat[IOPF_LAT_SLOTS];
};

struct totals {
	__u64 requests, groups, responses, refused, in_flight;
	__u64 codes[IOPF_NR_RESP_CODES];
	__u64 verdicts[IOPF_NR_RESP_CODES];
	__u64 lat_n;
	double max_ns;
	__u64 lat[IOPF_LAT_SLOTS];
	size_t rows, shown;
};

static int key_cmp(const struct iopf_stats_key *a, const struct iopf_stats_key *b)
{
	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	if (a->pasid != b->pasid)
		return a->pasid < b->pasid ? -1 : 1;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return key_cmp(&((const struct entry *)a)->key,
		       &((const struct entry *)b)->key);
}

/* Every counter of @s, the highest of @s and @o */
static void merge_stats(struct iopf_stats *s, const struct iopf_stats *o)
{
	const size_t first = offsetof(struct iopf_stats, requests) / sizeof(__u64);
	const size_t nr = sizeof(*s) / sizeof(__u64);
	__u64 *a = (__u64 *)s;
	const __u64 *b = (const __u64 *)o;

	for (size_t i = first; i < nr; i++)
		if (b[i] > a[i])
			a[i] = b[i];
}

/*
 * Read every entry through the iterator: one read() for a few dozen
 * entries, instead of two syscalls per entry.
 */
static int read_dump(int link_fd, struct dump *d)
{
	static char *buf;
	static size_t cap;
	size_t len = 0, i, n;
	ssize_t got;
	int fd, err = 0;

	fd = bpf_iter_create(link_fd);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (cap - len < 65536) {
			char *p = realloc(buf, cap + (1 << 20));

			if (!p) {
				err = -ENOMEM;
				break;
			}
			buf = p;
			cap += 1 << 20;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			break;
		}
		if (!got)
			break;
		len += got;
	}
	close(fd);
	if (err)
		return err;
	if (len % sizeof(struct entry))
		return -EPROTO;

	n = len / sizeof(struct entry);
	if (n > d->cap) {
		struct entry *e = realloc(d->e, n * sizeof(*e));

		if (!e)
			return -ENOMEM;
		d->e = e;
		d->cap = n;
	}
	memcpy(d->e, buf, len);
	qsort(d->e, n, sizeof(*d->e), entry_cmp);
	/*
	 * An entry created while the iterator walks its hash bucket can make
	 * it show another one twice: keep one, with the highest of each
	 * counter, and the maximum latency that only the first copy had
	 */
	d->nr = 0;
	for (i = 0; i < n; i++) {
		struct entry *last = d->nr ? &d->e[d->nr - 1] : NULL;

		if (last && !key_cmp(&last->key, &d->e[i].key))
			merge_stats(&last->s, &d->e[i].s);
		else
			d->e[d->nr++] = d->e[i];
	}
	return 0;
}

static const struct entry *find_entry(const struct dump *d,
				      const struct iopf_stats_key *key)
{
	struct entry k = { .key = *key };

	return d->nr ? bsearch(&k, d->e, d->nr, sizeof(*d->e), entry_cmp) : NULL;
}

/*
 * A percentile is interpolated within its histogram slot, up to 25% above
 * the true value: not above the maximum, when there is one
 */
static double percentile(const __u64 *lat, __u64 n, double p, double max)
{
	double v = iopf_lat_percentile(lat, n, p);

	return max > 0 && v > max ? max : v;
}

static __u64 sub(__u64 now, __u64 before)
{
	/* entries are never deleted: should one be, count it anew */
	return now >= before ? now - before : now;
}

/*
 * The interval of one entry: @cur minus @prev (NULL: the entry is new)
 */
static void make_row(struct row *r, const struct entry *cur,
		     const struct entry *prev, int procs_fd)
{
	static const struct iopf_stats zero;
	const struct iopf_stats *c = &cur->s, *p = prev ? &prev->s : &zero;
	__u64 answered;
	int i;

	memset(r, 0, sizeof(*r));
	r->key = cur->key;
	memcpy(r->device, c->device, IOPF_DEV_LEN);
	r->device[IOPF_DEV_LEN - 1] = '\0';
	/* the name is written right after the entry's creation */
	if (!r->device[0] && prev && prev->s.device[0])
		memcpy(r->device, prev->s.device, IOPF_DEV_LEN - 1);
	if (!r->device[0])
		strcpy(r->device, "?");
	iopf_pasid_lookup(procs_fd, cur->key.pasid, &r->proc);
	r->proc.comm[IOPF_COMM_LEN - 1] = '\0';

	r->requests = sub(c->requests, p->requests);
	r->groups = sub(c->groups, p->groups);
	r->responses = sub(c->responses, p->responses);
	r->refused = sub(c->refused, p->refused);
	for (i = 0; i < IOPF_NR_RESP_CODES; i++) {
		r->codes[i] = sub(c->codes[i], p->codes[i]);
		r->verdicts[i] = sub(c->verdicts[i], p->verdicts[i]);
	}
	for (i = 0; i < IOPF_LAT_SLOTS; i++) {
		r->lat[i] = sub(c->lat[i], p->lat[i]);
		r->lat_n += r->lat[i];
	}
	/* both slots: see bpf/iopf-top.bpf.c */
	r->max_ns = c->lat_max_ns[0] > c->lat_max_ns[1] ? c->lat_max_ns[0] :
							  c->lat_max_ns[1];
	r->p50_ns = percentile(r->lat, r->lat_n, 0.50, r->max_ns);
	r->p99_ns = percentile(r->lat, r->lat_n, 0.99, r->max_ns);
	/*
	 * Groups without a response, now: the BPF programs keep the set of
	 * groups whose report they saw (bpf/iopf_stats.bpf.h), so groups in
	 * flight before the tool started are neither here nor counted. The
	 * entry is read field by field while the programs count: hence the
	 * clamp.
	 */
	answered = c->answered;
	r->in_flight = c->tracked > answered ? c->tracked - answered : 0;
}

static bool row_active(const struct row *r)
{
	return r->requests || r->groups || r->responses || r->refused ||
	       r->verdicts[IOPF_RESP_INVALID] || r->verdicts[IOPF_RESP_FAILURE] ||
	       r->in_flight;
}

/* tgid 0, a PASID whose process is not known, matches no -p */
static bool row_selected(const struct row *r)
{
	return iopf_filter_match(r->device, r->key.pasid == IOPF_NO_PASID ? -1 :
				 r->key.pasid, r->proc.tgid);
}

static int cmp_u64_desc(__u64 a, __u64 b)
{
	return a == b ? 0 : a > b ? -1 : 1;
}

static int cmp_dbl_desc(double a, double b)
{
	return a == b ? 0 : a > b ? -1 : 1;
}

static int row_cmp(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	int c = 0;

	switch (env.sort) {
	case SORT_REQUESTS:
		c = cmp_u64_desc(a->requests, b->requests);
		break;
	case SORT_GROUPS:
		c = cmp_u64_desc(a->groups, b->groups);
		break;
	case SORT_P50:
		c = cmp_dbl_desc(a->p50_ns, b->p50_ns);
		break;
	case SORT_P99:
		c = cmp_dbl_desc(a->p99_ns, b->p99_ns);
		break;
	case SORT_MAX:
		c = cmp_dbl_desc(a->max_ns, b->max_ns);
		break;
	case SORT_INFLIGHT:
		c = cmp_u64_desc(a->in_flight, b->in_flight);
		break;
	case SORT_INVALID:
		c = cmp_u64_desc(a->codes[IOPF_RESP_INVALID],
				 b->codes[IOPF_RESP_INVALID]);
		break;
	case SORT_PASID:
		/* no PASID, (__u32)-1, last */
		c = a->key.pasid == b->key.pasid ? 0 :
		    a->key.pasid < b->key.pasid ? -1 : 1;
		break;
	case SORT_PID:
		c = a->proc.tgid == b->proc.tgid ? 0 :
		    a->proc.tgid < b->proc.tgid ? -1 : 1;
		break;
	case SORT_DEVICE:
	default:
		break;
	}
	if (c)
		return c;
	/* then by device and PASID, so that rows keep their place */
	c = strcmp(a->device, b->device);
	if (c)
		return c;
	return key_cmp(&a->key, &b->key);
}

static void add_totals(struct totals *t, const struct row *r)
{
	int i;

	t->requests += r->requests;
	t->groups += r->groups;
	t->responses += r->responses;
	t->refused += r->refused;
	t->in_flight += r->in_flight;
	for (i = 0; i < IOPF_NR_RESP_CODES; i++) {
		t->codes[i] += r->codes[i];
		t->verdicts[i] += r->verdicts[i];
	}
	for (i = 0; i < IOPF_LAT_SLOTS; i++)
		t->lat[i] += r->lat[i];
	t->lat_n += r->lat_n;
	if (r->max_ns > t->max_ns)
		t->max_ns = r->max_ns;
}

/* Entries in the PASID map: one walk of its keys */
static unsigned int pasid_map_size(int fd)
{
	__u32 key, next;
	unsigned int n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

/* Is a fault policy attached? debugfs lists them, when mounted */
static bool policy_attached(void)
{
	FILE *f = fopen(POLICIES, "r");
	bool any;

	if (!f)
		return false;
	any = fgetc(f) != EOF;
	fclose(f);
	return any;
}

/* --- output ---------------------------------------------------------- */

struct screen {
	bool interactive;	/* ANSI redraw in place */
	int width, height;	/* of the terminal; 0: unknown */
	int lines;		/* printed in this frame */
	bool first;
};

static struct screen scr = { .first = true };

/*
 * One line of the text output. On a terminal: cut to its width (a line
 * that wraps would scroll the frame) and erase the rest of the old line.
 */
static void __attribute__((format(printf, 1, 2))) line(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (!scr.interactive) {
		printf("%s\n", buf);
		return;
	}
	if (scr.height && scr.lines >= scr.height - 1)
		return;
	/* one column short: writing the last one leaves a pending wrap */
	if (scr.width > 1 && n > scr.width - 1)
		buf[scr.width - 1] = '\0';
	printf("%s\033[K\n", buf);
	scr.lines++;
}

static void fmt_us(char *buf, size_t size, double ns, __u64 n)
{
	if (!n)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f", ns / 1000);
}

static void print_text(const struct row *rows, const struct totals *t,
		       double secs, unsigned int pasids, __u64 dropped,
		       bool verdicts)
{
	char ts[16], p50[32], p99[32], max[32], pasid[16], comm[IOPF_COMM_LEN];
	char dev[IOPF_DEV_LEN];
	size_t i;

	if (scr.interactive) {
		struct winsize ws;

		if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws)) {
			scr.width = ws.ws_col;
			scr.height = ws.ws_row;
		}
		scr.lines = 0;
		fputs(scr.first ? "\033[H\033[2J" : "\033[H", stdout);
	} else if (!scr.first) {
		putchar('\n');
	}
	scr.first = false;

	iopf_strftime(ts, sizeof(ts));
	if (dropped)
		line("%s - %s  interval %.2fs  rows %zu/%zu  PASID map %u  dropped %llu (stats map full)",
		     TOOL, ts, secs, t->shown, t->rows, pasids, dropped);
	else
		line("%s - %s  interval %.2fs  rows %zu/%zu  PASID map %u",
		     TOOL, ts, secs, t->shown, t->rows, pasids);
	line("Requests: %llu (%.1f/s)  Groups: %llu (%.1f/s)  In flight: %llu  Refused: %llu",
	     t->requests, t->requests / secs, t->groups, t->groups / secs,
	     t->in_flight, t->refused);
	fmt_us(p50, sizeof(p50), percentile(t->lat, t->lat_n, 0.50, t->max_ns), t->lat_n);
	fmt_us(p99, sizeof(p99), percentile(t->lat, t->lat_n, 0.99, t->max_ns), t->lat_n);
	fmt_us(max, sizeof(max), t->max_ns, t->lat_n);
	if (verdicts)
		line("Responses: %llu success, %llu invalid, %llu failure  Latency: p50 %s us, p99 %s us, max %s us  Policy verdicts: %llu invalid, %llu failure",
		     t->codes[IOPF_RESP_SUCCESS], t->codes[IOPF_RESP_INVALID],
		     t->codes[IOPF_RESP_FAILURE], p50, p99, max,
		     t->verdicts[IOPF_RESP_INVALID],
		     t->verdicts[IOPF_RESP_FAILURE]);
	else
		line("Responses: %llu success, %llu invalid, %llu failure  Latency: p50 %s us, p99 %s us, max %s us",
		     t->codes[IOPF_RESP_SUCCESS], t->codes[IOPF_RESP_INVALID],
		     t->codes[IOPF_RESP_FAILURE], p50, p99, max);
	line("%s", "");
	line("%-12s %7s %7s %-15s %9s %8s %8s %8s %8s %7s %7s %7s %6s %7s%s",
	     "DEVICE", "PASID", "PID", "COMM", "REQ/s", "GRP/s", "P50us",
	     "P99us", "MAXus", "SUCCESS", "INVALID", "FAILURE", "INFLT",
	     "REFUSED", verdicts ? "  V-INVAL  V-FAIL" : "");
	for (i = 0; i < t->shown; i++) {
		const struct row *r = &rows[i];
		char vbuf[40] = "";

		if (r->key.pasid == IOPF_NO_PASID)
			strcpy(pasid, "-");
		else
			snprintf(pasid, sizeof(pasid), "%u", r->key.pasid);
		iopf_printable(dev, r->device, sizeof(dev));
		iopf_printable(comm, r->proc.comm, sizeof(comm));
		fmt_us(p50, sizeof(p50), r->p50_ns, r->lat_n);
		fmt_us(p99, sizeof(p99), r->p99_ns, r->lat_n);
		fmt_us(max, sizeof(max), r->max_ns, r->lat_n);
		if (verdicts)
			snprintf(vbuf, sizeof(vbuf), " %8llu %7llu",
				 r->verdicts[IOPF_RESP_INVALID],
				 r->verdicts[IOPF_RESP_FAILURE]);
		line("%-12s %7s %7u %-15s %9.1f %8.1f %8s %8s %8s %7llu %7llu %7llu %6llu %7llu%s",
		     dev, pasid, r->proc.tgid, comm, r->requests / secs,
		     r->groups / secs, p50, p99, max,
		     r->codes[IOPF_RESP_SUCCESS], r->codes[IOPF_RESP_INVALID],
		     r->codes[IOPF_RESP_FAILURE], r->in_flight, r->refused,
		     vbuf);
	}
	if (scr.interactive)
		fputs("\033[J", stdout);
}

/* A latency in µs, null when the interval had no response with one */
static void json_us(const char *name, double ns, __u64 n)
{
	if (n)
		printf(",\"%s\":%.3f", name, ns / 1000);
	else
		printf(",\"%s\":null", name);
}

static void print_json(const struct row *rows, const struct totals *t,
		       double secs, unsigned int pasids, __u64 dropped)
{
	struct timespec now;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &now);
	printf("{\"time\":%lld.%03ld,\"interval_s\":%.6f,\"totals\":{",
	       (long long)now.tv_sec, now.tv_nsec / 1000000, secs);
	printf("\"requests\":%llu,\"groups\":%llu,\"requests_per_s\":%.3f,\"groups_per_s\":%.3f",
	       t->requests, t->groups, t->requests / secs, t->groups / secs);
	json_us("p50_us", percentile(t->lat, t->lat_n, 0.50, t->max_ns), t->lat_n);
	json_us("p99_us", percentile(t->lat, t->lat_n, 0.99, t->max_ns), t->lat_n);
	json_us("max_us", t->max_ns, t->lat_n);
	printf(",\"responses\":%llu,\"success\":%llu,\"invalid\":%llu,\"failure\":%llu,\"refused\":%llu,\"in_flight\":%llu,\"verdict_invalid\":%llu,\"verdict_failure\":%llu,\"rows\":%zu,\"rows_shown\":%zu,\"pasids\":%u,\"dropped\":%llu},\"rows\":[",
	       t->responses, t->codes[IOPF_RESP_SUCCESS],
	       t->codes[IOPF_RESP_INVALID], t->codes[IOPF_RESP_FAILURE],
	       t->refused, t->in_flight, t->verdicts[IOPF_RESP_INVALID],
	       t->verdicts[IOPF_RESP_FAILURE], t->rows, t->shown, pasids,
	       dropped);
	for (i = 0; i < t->shown; i++) {
		const struct row *r = &rows[i];

		printf("%s{\"device\":", i ? "," : "");
		iopf_json_str(stdout, r->device);
		printf(",\"pasid\":%lld,\"pid\":%u,\"comm\":",
		       r->key.pasid == IOPF_NO_PASID ? -1LL : (long long)r->key.pasid,
		       r->proc.tgid);
		iopf_json_str(stdout, r->proc.comm[0] ? r->proc.comm : "?");
		printf(",\"requests\":%llu,\"groups\":%llu,\"requests_per_s\":%.3f,\"groups_per_s\":%.3f",
		       r->requests, r->groups, r->requests / secs,
		       r->groups / secs);
		json_us("p50_us", r->p50_ns, r->lat_n);
		json_us("p99_us", r->p99_ns, r->lat_n);
		json_us("max_us", r->max_ns, r->lat_n);
		printf(",\"responses\":%llu,\"success\":%llu,\"invalid\":%llu,\"failure\":%llu,\"refused\":%llu,\"in_flight\":%llu,\"verdict_invalid\":%llu,\"verdict_failure\":%llu}",
		       r->responses, r->codes[IOPF_RESP_SUCCESS],
		       r->codes[IOPF_RESP_INVALID], r->codes[IOPF_RESP_FAILURE],
		       r->refused, r->in_flight, r->verdicts[IOPF_RESP_INVALID],
		       r->verdicts[IOPF_RESP_FAILURE]);
	}
	printf("]}\n");
}

/* --- main loop ------------------------------------------------------- */

struct state {
	struct iopf_top_bpf *skel;
	int dump_link_fd, procs_fd;
	struct dump prev, cur;
	struct row *rows;
	size_t rows_cap;
	bool verdicts_seen;
};

static int report(struct state *st, double secs)
{
	unsigned int pasids;
	struct totals t = {};
	struct dump tmp;
	size_t i, n = 0;
	int err;

	/*
	 * Switch the programs to the other lat_max_ns[] slot, then dump: the
	 * dump reads and clears the slot of the interval that ended
	 * (bpf/iopf-top.bpf.c says what a program racing the switch does)
	 */
	__atomic_add_fetch(&st->skel->bss->iopf_stats_epoch, 1, __ATOMIC_SEQ_CST);
	err = read_dump(st->dump_link_fd, &st->cur);
	if (err)
		return iopf_fail(TOOL, "reading the statistics", err);

	if (st->cur.nr > st->rows_cap) {
		struct row *r = realloc(st->rows, st->cur.nr * sizeof(*r));

		if (!r)
			return iopf_fail(TOOL, "memory", ENOMEM);
		st->rows = r;
		st->rows_cap = st->cur.nr;
	}
	for (i = 0; i < st->cur.nr; i++) {
		const struct entry *c = &st->cur.e[i];
		struct row *r = &st->rows[n];

		if (c->s.verdicts[IOPF_RESP_INVALID] ||
		    c->s.verdicts[IOPF_RESP_FAILURE])
			st->verdicts_seen = true;
		make_row(r, c, find_entry(&st->prev, &c->key), st->procs_fd);
		if (!row_selected(r))
			continue;
		add_totals(&t, r);
		if (env.all || row_active(r))
			n++;
	}
	qsort(st->rows, n, sizeof(*st->rows), row_cmp);
	t.rows = n;
	t.shown = n < (size_t)env.rows ? n : (size_t)env.rows;
	pasids = pasid_map_size(st->procs_fd);

	if (env.json)
		print_json(st->rows, &t, secs, pasids,
			   st->skel->bss->iopf_stats_dropped);
	else
		print_text(st->rows, &t, secs, pasids,
			   st->skel->bss->iopf_stats_dropped,
			   st->verdicts_seen || policy_attached());
	fflush(stdout);

	/*
	 * This dump is the base of the next interval. An entry the iterator
	 * missed (see read_dump()) keeps its old base until it is seen again.
	 */
	for (i = 0; i < st->prev.nr; i++) {
		const struct entry *p = &st->prev.e[i];

		if (find_entry(&st->cur, &p->key))
			continue;
		if (st->cur.nr == st->cur.cap) {
			size_t cap = st->cur.cap * 2 + 16;
			struct entry *e = realloc(st->cur.e, cap * sizeof(*e));

			if (!e)
				return iopf_fail(TOOL, "memory", ENOMEM);
			st->cur.e = e;
			st->cur.cap = cap;
		}
		st->cur.e[st->cur.nr++] = *p;
		qsort(st->cur.e, st->cur.nr, sizeof(*st->cur.e), entry_cmp);
	}
	tmp = st->prev;
	st->prev = st->cur;
	st->cur = tmp;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.args_doc = "[interval] [count]",
		.doc = argp_program_doc,
		.children = iopf_argp_children,
	};
	LIBBPF_OPTS(bpf_iter_attach_opts, iter_opts);
	union bpf_iter_link_info linfo = {};
	struct bpf_link *dump_link = NULL;
	struct state st = {};
	sigset_t block, orig;
	__u64 start, deadline, now;
	int err, n = 0;

	iopf_init();
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	if (iopf_check_kernel(TOOL, "iommu_iopf_report"))
		return 1;

	st.skel = iopf_top_bpf__open();
	if (!st.skel)
		return iopf_fail(TOOL, "opening the BPF object", errno);
	/* a kernel of the series before its fault policy patches has none */
	if (!iopf_kernel_has_event("iommu_fault_policy_verdict"))
		bpf_program__set_autoload(st.skel->progs.iopf_stats_on_verdict, false);
	err = iopf_top_bpf__load(st.skel);
	if (err) {
		err = iopf_fail(TOOL, "loading the BPF programs", err);
		goto out;
	}
	/* both iterators run on demand, not attached at start-up */
	bpf_program__set_autoattach(st.skel->progs.iopf_iter_pasids, false);
	bpf_program__set_autoattach(st.skel->progs.iopf_top_dump, false);
	/*
	 * Responses before reports: a group whose response the programs
	 * missed would stay in their in-flight set until its index is
	 * reused (bpf/iopf_stats.bpf.h)
	 */
	bpf_program__set_autoattach(st.skel->progs.iopf_stats_on_report, false);
	err = iopf_top_bpf__attach(st.skel);
	if (err) {
		err = iopf_fail(TOOL, "attaching the BPF programs", err);
		goto out;
	}
	st.skel->links.iopf_stats_on_report =
		bpf_program__attach(st.skel->progs.iopf_stats_on_report);
	if (!st.skel->links.iopf_stats_on_report) {
		err = iopf_fail(TOOL, "attaching the BPF programs", errno);
		goto out;
	}
	linfo.map.map_fd = bpf_map__fd(st.skel->maps.iopf_stats);
	iter_opts.link_info = &linfo;
	iter_opts.link_info_len = sizeof(linfo);
	dump_link = bpf_program__attach_iter(st.skel->progs.iopf_top_dump,
					     &iter_opts);
	if (!dump_link) {
		err = iopf_fail(TOOL, "attaching the statistics iterator", errno);
		goto out;
	}
	st.dump_link_fd = bpf_link__fd(dump_link);
	st.procs_fd = bpf_map__fd(st.skel->maps.pasid_procs);
	start = iopf_now_ns();
	/* after the attach: a bind made meanwhile is seen by one or the other */
	err = iopf_pasid_map_scan(st.skel->progs.iopf_iter_pasids);
	if (err) {
		err = iopf_fail(TOOL, "scanning the processes for PASIDs", err);
		goto out;
	}

	scr.interactive = !env.json && !env.noclear && isatty(STDOUT_FILENO);

	/* the signals are taken in ppoll() only: none is missed before it */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);

	deadline = start + env.interval * 1000000000ULL;
	while (!iopf_exiting) {
		now = iopf_now_ns();
		if (now < deadline) {
			struct timespec ts = {
				.tv_sec = (deadline - now) / 1000000000ULL,
				.tv_nsec = (deadline - now) % 1000000000ULL,
			};

			ppoll(NULL, 0, &ts, &orig);
			continue;
		}
		err = report(&st, (now - start) / 1e9);
		if (err)
			goto out;
		start = now;
		deadline += env.interval * 1000000000ULL;
		/* a stopped tool (SIGSTOP, a suspended laptop) does not catch up */
		if (deadline <= now)
			deadline = now + env.interval * 1000000000ULL;
		if (env.count && ++n >= env.count)
			break;
	}
	err = 0;
out:
	bpf_link__destroy(dump_link);
	iopf_top_bpf__destroy(st.skel);
	free(st.prev.e);
	free(st.cur.e);
	free(st.rows);
	return err;
}
