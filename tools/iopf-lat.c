// SPDX-License-Identifier: GPL-2.0
/*
 * iopf-lat: page request latency as a log2 histogram, like biolatency.
 *
 * The latency is latency_ns of iommu_iopf_response: from the report of a
 * group's last request to the group's response, as the IOMMU core measures
 * it. One histogram, or one per device (-D) or per device and PASID (-P);
 * with -S, the stages of the groups the SVA handler answered. The BPF
 * counts are cumulative: each interval prints the difference between two
 * reads, so every response is counted once, whatever the timing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "iopfkit.h"
#include "iopf_lat.h"
#include "iopf-lat.skel.h"

static const char *const tool = "iopf-lat";

static struct env {
	int interval;		/* seconds; 0: print at exit */
	int count;		/* intervals; 0: until a signal */
	bool ms;
	bool device_hist;
	bool pasid_hist;
	bool stages;
	bool timestamp;
	bool json;
	const char *heatmap;
} env;

const char *argp_program_version = "iopf-lat (iopfkit)";
const char *argp_program_bug_address = "the iopfkit developers";
static const char doc[] =
"Summarize I/O page request latency (report to response) as a histogram.\n"
"\n"
"USAGE: iopf-lat [-h] [-m] [-D | -P] [-S] [-d DEV] [-p PID] [--pasid N]\n"
"                [-T] [-j] [--heatmap FILE.svg] [interval] [count]\n"
"\n"
"EXAMPLES:\n"
"    iopf-lat                 # one histogram, printed at Ctrl-C\n"
"    iopf-lat 1 10            # every second, 10 times\n"
"    iopf-lat -mT 5           # milliseconds, every 5 s, with time stamps\n"
"    iopf-lat -D              # one histogram per device\n"
"    iopf-lat -P              # per device and PASID, with the process\n"
"    iopf-lat -S              # and where the time goes: the stages\n"
"    iopf-lat -d swsva0 -p 181  # device swsva0, process 181 only\n"
"    iopf-lat --json 1        # one JSON object per line each second\n"
"    iopf-lat --heatmap lat.svg 1  # and a heat map at exit";

enum { OPT_HEATMAP = 1000 };

static const struct argp_option opts[] = {
	{ "milliseconds", 'm', NULL, 0, "Histograms in milliseconds", 0 },
	{ "device-hist", 'D', NULL, 0, "A histogram per device", 0 },
	{ "pasid-hist", 'P', NULL, 0, "A histogram per device and PASID, with its process", 0 },
	{ "stages", 'S', NULL, 0, "Also the stages of each group: dispatch, queue, fault, respond", 0 },
	{ "timestamp", 'T', NULL, 0, "Print the time of day with each interval", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per line per interval", 0 },
	{ "heatmap", OPT_HEATMAP, "FILE.svg", 0, "Write a latency heat map (SVG) at exit", 0 },
	{},
};


static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'm':
		env.ms = true;
		break;
	case 'D':
		env.device_hist = true;
		break;
	case 'P':
		env.pasid_hist = true;
		break;
	case 'S':
		env.stages = true;
		break;
	case 'T':
		env.timestamp = true;
		break;
	case 'j':
		env.json = true;
		break;
	case OPT_HEATMAP:
		if (!*arg)
			argp_error(state, "invalid heat map file: ''");
		env.heatmap = arg;
		break;
	case ARGP_KEY_ARG:
		return iopf_arg_interval_count(state, arg, &env.interval,
					       &env.count);
	case ARGP_KEY_END:
		if (env.device_hist && env.pasid_hist)
			argp_error(state, "-D and -P exclude each other");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---- snapshots of the cumulative counts --------------------------------- */

struct row {
	struct iopf_lat_key key;
	struct iopf_lat_hist h;
	__u64 count;		/* sum of h.slots */
	struct iopf_proc proc;	/* -P */
};

struct snap {
	struct row *rows;	/* sorted by key */
	int nr, cap;
	struct iopf_lat_hist stages[IOPF_NR_STAGES];
	__u64 untimed, unstaged;
};

static int key_cmp(const void *a, const void *b)
{
	const struct iopf_lat_key *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->pasid != y->pasid)
		return x->pasid < y->pasid ? -1 : 1;
	return 0;
}

static int snap_read(struct iopf_lat_bpf *skel, struct snap *s)
{
	int fd = bpf_map__fd(skel->maps.hists);
	struct iopf_lat_key key, next, *prev = NULL;
	__u32 i;
	int err;

	s->nr = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (s->nr == s->cap) {
			int cap = s->cap ? s->cap * 2 : 16;
			struct row *rows = realloc(s->rows, cap * sizeof(*rows));

			if (!rows)
				return -ENOMEM;
			s->rows = rows;
			s->cap = cap;
		}
		key = next;
		prev = &key;
		/* rows are never deleted: ENOENT cannot happen */
		if (bpf_map_lookup_elem(fd, &key, &s->rows[s->nr].h))
			continue;
		s->rows[s->nr++].key = key;
	}
	qsort(s->rows, s->nr, sizeof(*s->rows), key_cmp);

	fd = bpf_map__fd(skel->maps.stages);
	for (i = 0; i < IOPF_NR_STAGES; i++) {
		err = bpf_map_lookup_elem(fd, &i, &s->stages[i]);
		if (err)
			return -errno;
	}
	s->untimed = __atomic_load_n(&skel->bss->untimed, __ATOMIC_RELAXED);
	s->unstaged = __atomic_load_n(&skel->bss->unstaged, __ATOMIC_RELAXED);
	return 0;
}

/* *d = *b - *a, slot by slot; returns the count */
static __u64 hist_sub(struct iopf_lat_hist *d, const struct iopf_lat_hist *a,
		      const struct iopf_lat_hist *b)
{
	__u64 count = 0;
	int i;

	memcpy(d->device, b->device, sizeof(d->device));
	d->sum_ns = b->sum_ns - (a ? a->sum_ns : 0);
	for (i = 0; i < IOPF_LAT_HIST_SLOTS; i++) {
		d->slots[i] = b->slots[i] - (a ? a->slots[i] : 0);
		count += d->slots[i];
	}
	return count;
}

/* What happened between @a (NULL: the start) and @b */
static int snap_delta(struct snap *d, const struct snap *a, const struct snap *b)
{
	int i;

	free(d->rows);
	memset(d, 0, sizeof(*d));
	d->rows = calloc(b->nr ? b->nr : 1, sizeof(*d->rows));
	if (!d->rows)
		return -ENOMEM;
	for (i = 0; i < b->nr; i++) {
		const struct row *old = a ? bsearch(&b->rows[i].key, a->rows,
						    a->nr, sizeof(*a->rows),
						    key_cmp) : NULL;
		struct row *r = &d->rows[d->nr];

		r->key = b->rows[i].key;
		r->count = hist_sub(&r->h, old ? &old->h : NULL, &b->rows[i].h);
		if (r->count)
			d->nr++;
	}
	for (i = 0; i < IOPF_NR_STAGES; i++)
		hist_sub(&d->stages[i], a ? &a->stages[i] : NULL, &b->stages[i]);
	d->untimed = b->untimed - (a ? a->untimed : 0);
	d->unstaged = b->unstaged - (a ? a->unstaged : 0);
	return 0;
}

/* ---- output ------------------------------------------------------------- */

static const char *unit(void)
{
	return env.ms ? "msecs" : "usecs";
}

static const struct {
	const char *name, *what;
} stage_info[IOPF_NR_STAGES] = {
	[IOPF_STAGE_DISPATCH] = { "dispatch", "report of the last request -> iommu_iopf_dispatch" },
	[IOPF_STAGE_QUEUE] = { "queue", "dispatch -> the SVA handler starts (workqueue)" },
	[IOPF_STAGE_FAULT] = { "fault", "handler start -> end of its last request (mm fault)" },
	[IOPF_STAGE_RESPOND] = { "respond", "end of the last request -> iommu_iopf_response" },
};

/* Display order: device name, then PASID */
static int row_label_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = strncmp(x->h.device, y->h.device, IOPF_DEV_LEN);

	if (c)
		return c;
	return x->key.pasid < y->key.pasid ? -1 : x->key.pasid > y->key.pasid;
}

static void label_rows(struct iopf_lat_bpf *skel, struct snap *d)
{
	int fd = bpf_map__fd(skel->maps.pasid_procs), i;

	for (i = 0; i < d->nr; i++) {
		struct row *r = &d->rows[i];

		r->h.device[IOPF_DEV_LEN - 1] = '\0';
		if (!env.pasid_hist)
			continue;
		iopf_pasid_lookup(fd, r->key.pasid, &r->proc);
		r->proc.comm[IOPF_COMM_LEN - 1] = '\0';
		if (!r->proc.comm[0])
			strcpy(r->proc.comm, "?");
	}
	qsort(d->rows, d->nr, sizeof(*d->rows), row_label_cmp);
}

static double scale(void)
{
	return env.ms ? 1e6 : 1e3;
}

static void print_summary(__u64 count, __u64 sum_ns)
{
	printf("avg = %.0f %s, total: %.0f %s, count: %llu\n",
	       count ? sum_ns / scale() / count : 0.0, unit(),
	       sum_ns / scale(), unit(), (unsigned long long)count);
}

static void print_text(const struct snap *d)
{
	char ts[32];
	int i;

	if (env.interval)
		printf("\n");
	if (env.timestamp) {
		iopf_strftime(ts, sizeof(ts));
		printf("%-8s\n", ts);
	}
	for (i = 0; i < d->nr; i++) {
		const struct row *r = &d->rows[i];
		char pasid[16], dev[IOPF_DEV_LEN], comm[IOPF_COMM_LEN];

		if (r->key.pasid == IOPF_NO_PASID)
			strcpy(pasid, "-");
		else
			snprintf(pasid, sizeof(pasid), "%u", r->key.pasid);
		iopf_printable(dev, r->h.device, sizeof(dev));
		iopf_printable(comm, r->proc.comm, sizeof(comm));
		if (env.device_hist)
			printf("\ndevice = %s\n", dev);
		else if (env.pasid_hist)
			printf("\ndevice = %s, pasid = %s, pid = %u, comm = %s\n",
			       dev, pasid, r->proc.tgid, comm);
		iopf_print_log2_hist(stdout, r->h.slots, IOPF_LAT_HIST_SLOTS,
				     unit());
		print_summary(r->count, r->h.sum_ns);
	}
	if (env.stages) {
		for (i = 0; i < IOPF_NR_STAGES; i++) {
			const struct iopf_lat_hist *h = &d->stages[i];
			__u64 count = 0;
			int j;

			for (j = 0; j < IOPF_LAT_HIST_SLOTS; j++)
				count += h->slots[j];
			printf("\nstage %s: %s\n", stage_info[i].name,
			       stage_info[i].what);
			if (count)
				iopf_print_log2_hist(stdout, h->slots,
						     IOPF_LAT_HIST_SLOTS, unit());
			print_summary(count, h->sum_ns);
		}
		if (d->unstaged)
			printf("\ngroups without stages (not answered by the SVA handler): %llu\n",
			       (unsigned long long)d->unstaged);
	}
	if (d->untimed)
		printf("\nresponses without latency (reported before tracing began): %llu\n",
		       (unsigned long long)d->untimed);
}

static void json_hist(const struct iopf_lat_hist *h, __u64 count)
{
	printf("\"count\":%llu,\"sum_ns\":%llu,\"buckets\":",
	       (unsigned long long)count, (unsigned long long)h->sum_ns);
	iopf_json_log2_hist(stdout, h->slots, IOPF_LAT_HIST_SLOTS);
}

static void print_json(const struct snap *d)
{
	int i;

	printf("{\"time\":%.3f,\"unit\":\"%s\",\"hists\":[", iopf_epoch(), unit());
	for (i = 0; i < d->nr; i++) {
		const struct row *r = &d->rows[i];

		printf("%s{", i ? "," : "");
		if (env.device_hist || env.pasid_hist) {
			printf("\"device\":");
			iopf_json_str(stdout, r->h.device);
			printf(",");
		}
		if (env.pasid_hist) {
			printf("\"pasid\":%d,\"pid\":%u,\"comm\":",
			       r->key.pasid == IOPF_NO_PASID ? -1 : (int)r->key.pasid,
			       r->proc.tgid);
			iopf_json_str(stdout, r->proc.comm);
			printf(",");
		}
		json_hist(&r->h, r->count);
		printf("}");
	}
	printf("]");
	if (env.stages) {
		printf(",\"stages\":{");
		for (i = 0; i < IOPF_NR_STAGES; i++) {
			const struct iopf_lat_hist *h = &d->stages[i];
			__u64 count = 0;
			int j;

			for (j = 0; j < IOPF_LAT_HIST_SLOTS; j++)
				count += h->slots[j];
			printf("%s\"%s\":{", i ? "," : "", stage_info[i].name);
			json_hist(h, count);
			printf("}");
		}
		printf(",\"unstaged\":%llu}", (unsigned long long)d->unstaged);
	}
	printf(",\"untimed\":%llu}\n", (unsigned long long)d->untimed);
}

/* ---- heat map ------------------------------------------------------------ */

struct column {
	double t;		/* seconds since start, at the column's end */
	__u64 slots[IOPF_LAT_HIST_SLOTS];
};

static struct column *columns;
static int nr_columns, cap_columns;

static int heat_add(const struct snap *d, double t)
{
	struct column *c;
	int i, j;

	if (nr_columns == cap_columns) {
		int cap = cap_columns ? cap_columns * 2 : 64;

		c = realloc(columns, cap * sizeof(*columns));
		if (!c)
			return -ENOMEM;
		columns = c;
		cap_columns = cap;
	}
	c = &columns[nr_columns++];
	memset(c, 0, sizeof(*c));
	c->t = t;
	for (i = 0; i < d->nr; i++)
		for (j = 0; j < IOPF_LAT_HIST_SLOTS; j++)
			c->slots[j] += d->rows[i].h.slots[j];
	return 0;
}

static void xml_str(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			/* XML 1.0 allows no control characters */
			fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
		}
	}
}

/* Yellow to red through orange (ColorBrewer YlOrRd), f in [0, 1] */
static void heat_colour(double f, char *buf, size_t size)
{
	static const int stop[3][3] = {
		{ 255, 255, 178 }, { 253, 141, 60 }, { 189, 0, 38 },
	};
	int k = f < 0.5 ? 0 : 1, c[3], i;
	double g = f < 0.5 ? f * 2 : (f - 0.5) * 2;

	for (i = 0; i < 3; i++)
		c[i] = (int)(stop[k][i] + (stop[k + 1][i] - stop[k][i]) * g + 0.5);
	snprintf(buf, size, "#%02x%02x%02x", c[0], c[1], c[2]);
}

/* Natural logarithm of x >= 1, without libm: 2 atanh((m-1)/(m+1)) + k ln 2 */
static double ln(double x)
{
	double y, y2, term, sum = 0;
	int k = 0, i;

	for (; x >= 2; x /= 2)
		k++;
	y = (x - 1) / (x + 1);
	y2 = y * y;
	term = y;
	for (i = 1; i < 41; i += 2, term *= y2)
		sum += term / i;
	return 2 * sum + k * 0.69314718055994530942;
}

/* A count on the log colour scale: 1 is 0, the largest count 1 */
static double heat_level(__u64 count, __u64 max)
{
	return max > 1 ? ln((double)count) / ln((double)max) : 1.0;
}

/* The geometric middle of the scale, for its legend */
static __u64 heat_mid(__u64 max)
{
	__u64 r = 1;

	while ((r + 1) * (r + 1) <= max)
		r++;
	return r;
}

static __u64 bucket_low(int slot)
{
	return slot ? 1ULL << slot : 0;
}

static __u64 bucket_high(int slot)
{
	return slot ? (1ULL << (slot + 1)) - 1 : 1;
}

static int heat_write(FILE *f)
{
	const int left = 130, top = 60, legend_w = 110, bottom = 60;
	int lo = IOPF_LAT_HIST_SLOTS, hi = -1, rows, i, j, cw, ch, pw, ph, step;
	__u64 max = 0, total = 0;
	char colour[16], filter[160] = "";

	for (i = 0; i < nr_columns; i++)
		for (j = 0; j < IOPF_LAT_HIST_SLOTS; j++) {
			__u64 c = columns[i].slots[j];

			if (!c)
				continue;
			total += c;
			if (c > max)
				max = c;
			if (j < lo)
				lo = j;
			if (j > hi)
				hi = j;
		}
	if (hi < 0)
		lo = hi = 0;
	rows = hi - lo + 1;
	cw = nr_columns ? 800 / nr_columns : 800;
	cw = cw < 2 ? 2 : cw > 40 ? 40 : cw;
	ch = 360 / rows;
	ch = ch < 12 ? 12 : ch > 30 ? 30 : ch;
	pw = cw * (nr_columns ? nr_columns : 1);
	ph = ch * rows;

	snprintf(filter, sizeof(filter), "%s%s", iopf_filter.device ? "device " : "all devices",
		 iopf_filter.device ?: "");
	if (iopf_filter.pid)
		snprintf(filter + strlen(filter), sizeof(filter) - strlen(filter),
			 ", pid %d", iopf_filter.pid);
	if (iopf_filter.has_pasid)
		snprintf(filter + strlen(filter), sizeof(filter) - strlen(filter),
			 ", PASID %lld", iopf_filter.pasid);

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"font-family=\"sans-serif\" font-size=\"11\" data-total=\"%llu\">\n",
		left + pw + legend_w, top + ph + bottom, (unsigned long long)total);
	fprintf(f, "<title>iopf-lat: page request latency, ");
	xml_str(f, filter);
	fprintf(f, ", %llu groups</title>\n", (unsigned long long)total);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">"
		"Page request latency: ", (left + pw + legend_w) / 2);
	xml_str(f, filter);
	fprintf(f, ", %llu groups</text>\n", (unsigned long long)total);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#f0f0f0\"/>\n",
		left, top, pw, ph);

	/* cells: the higher the latency the higher up */
	for (i = 0; i < nr_columns; i++) {
		double t0 = i ? columns[i - 1].t : 0;

		for (j = lo; j <= hi; j++) {
			__u64 c = columns[i].slots[j];

			if (!c)
				continue;
			heat_colour(heat_level(c, max), colour, sizeof(colour));
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
				"fill=\"%s\" data-count=\"%llu\" data-low=\"%llu\" "
				"data-high=\"%llu\" data-time=\"%.3f\"><title>%.1f-%.1f s, "
				"%llu-%llu %s: %llu</title></rect>\n",
				left + i * cw, top + (hi - j) * ch, cw, ch, colour,
				(unsigned long long)c,
				(unsigned long long)bucket_low(j),
				(unsigned long long)bucket_high(j), columns[i].t,
				t0, columns[i].t,
				(unsigned long long)bucket_low(j),
				(unsigned long long)bucket_high(j), unit(),
				(unsigned long long)c);
		}
	}

	/* y axis: one label per bucket, fewer when they would overlap */
	step = ch >= 12 ? 1 : 2;
	for (j = lo; j <= hi; j += step)
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
			"dominant-baseline=\"middle\">%llu-%llu</text>\n",
			left - 6, top + (hi - j) * ch + ch / 2,
			(unsigned long long)bucket_low(j),
			(unsigned long long)bucket_high(j));
	fprintf(f, "<text transform=\"translate(16 %d) rotate(-90)\" "
		"text-anchor=\"middle\">latency (%s, log2 buckets)</text>\n",
		top + ph / 2, unit());

	/*
	 * x axis: the end of a column, about ten labels; whole seconds but
	 * for a last column cut short by the signal
	 */
	step = nr_columns > 10 ? (nr_columns + 9) / 10 : 1;
	for (i = 0; i < nr_columns; i += step) {
		double t = columns[i].t;
		bool whole = t - (long)(t + 0.5) < 0.05 && (long)(t + 0.5) - t < 0.05;

		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.*f</text>\n",
			left + i * cw + cw / 2, top + ph + 16, whole ? 0 : 1, t);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
		"time since start (s), a column per %s</text>\n",
		left + pw / 2, top + ph + 40,
		env.interval ? "interval" : "second");

	/* legend: the log colour scale from 1 to the largest cell count */
	fprintf(f, "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n");
	for (i = 0; i <= 4; i++) {
		heat_colour(i / 4.0, colour, sizeof(colour));
		fprintf(f, "<stop offset=\"%d%%\" stop-color=\"%s\"/>\n", i * 25, colour);
	}
	fprintf(f, "</linearGradient></defs>\n");
	fprintf(f, "<text x=\"%d\" y=\"%d\">count (log)</text>\n",
		left + pw + 20, top - 8);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"16\" height=\"%d\" "
		"fill=\"url(#scale)\" stroke=\"#888\"/>\n", left + pw + 20, top, ph);
	if (max > 1)
		fprintf(f, "<text x=\"%d\" y=\"%d\" dominant-baseline=\"middle\">%llu</text>\n",
			left + pw + 40, top + 6, (unsigned long long)max);
	if (max > 3) {
		__u64 mid = heat_mid(max);

		fprintf(f, "<text x=\"%d\" y=\"%d\" dominant-baseline=\"middle\">%llu</text>\n",
			left + pw + 40,
			top + ph - (int)(ph * heat_level(mid, max)),
			(unsigned long long)mid);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" dominant-baseline=\"middle\">%s</text>\n",
		left + pw + 40, top + ph - 6, max ? "1" : "none");
	fprintf(f, "</svg>\n");
	return fclose(f) ? -errno : 0;
}

/* ---- main ---------------------------------------------------------------- */

/* Sleep until @deadline (CLOCK_MONOTONIC ns) or a signal, race-free */
static void wait_until(__u64 deadline, const sigset_t *unblocked)
{
	__u64 now = iopf_now_ns();
	struct timespec ts;

	if (now >= deadline || iopf_exiting)
		return;
	if (deadline == UINT64_MAX) {
		ppoll(NULL, 0, NULL, unblocked);
		return;
	}
	ts.tv_sec = (deadline - now) / 1000000000ULL;
	ts.tv_nsec = (deadline - now) % 1000000000ULL;
	ppoll(NULL, 0, &ts, unblocked);
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.doc = doc,
		.children = iopf_argp_children,
	};
	struct snap snaps[2] = {}, delta = {};
	struct iopf_lat_bpf *skel;
	FILE *heat_file = NULL;
	sigset_t block, unblocked;
	__u64 t0, next, step;
	int err, cur = 0, printed = 0;

	iopf_init();
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	if (iopf_check_kernel(tool, "iommu_iopf_response"))
		return 1;
	/* now rather than after a long run */
	if (env.heatmap) {
		heat_file = fopen(env.heatmap, "w");
		if (!heat_file) {
			fprintf(stderr, "%s: cannot write %s: %s\n", tool,
				env.heatmap, strerror(errno));
			return 1;
		}
	}

	skel = iopf_lat_bpf__open();
	if (!skel) {
		err = -errno;
		goto out;
	}
	skel->rodata->targ_mode = env.pasid_hist ? IOPF_LAT_PASID :
				  env.device_hist ? IOPF_LAT_DEVICE : IOPF_LAT_ALL;
	skel->rodata->targ_ms = env.ms;
	skel->rodata->targ_stages = env.stages;
	skel->rodata->targ_tgid = iopf_filter.pid;
	/* as the events have it: a request without PASID is PASID (u32)-1 */
	if (iopf_filter.has_pasid)
		skel->rodata->targ_pasid = (__u32)iopf_filter.pasid;
	if (iopf_filter.device)
		strncpy((char *)skel->rodata->targ_dev, iopf_filter.device,
			IOPF_DEV_LEN - 1);
	if (!env.stages) {
		bpf_program__set_autoload(skel->progs.iopf_lat_dispatch, false);
		bpf_program__set_autoload(skel->progs.iopf_lat_handler, false);
		bpf_program__set_autoload(skel->progs.iopf_lat_sva_fault, false);
	}
	err = iopf_lat_bpf__load(skel);
	if (err) {
		iopf_fail(tool, "cannot load the BPF programs", err);
		goto out;
	}
	bpf_program__set_autoattach(skel->progs.iopf_iter_pasids, false);
	err = iopf_lat_bpf__attach(skel);
	if (err) {
		iopf_fail(tool, env.stages ?
			  "cannot attach to the iommu trace events and iommu_sva_handle_iopf()" :
			  "cannot attach to the iommu trace events", err);
		goto out;
	}
	/* after the bind program is attached: no binding falls in between */
	err = iopf_pasid_map_scan(skel->progs.iopf_iter_pasids);
	if (err) {
		iopf_fail(tool, "cannot scan the processes for PASIDs", err);
		goto out;
	}
	/* signals wake ppoll() only, so that none is missed before it sleeps */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	sigdelset(&unblocked, SIGINT);
	sigdelset(&unblocked, SIGTERM);

	fprintf(env.json ? stderr : stdout,
		"Tracing page request latency... Hit Ctrl-C to end.\n");
	fflush(stdout);

	/*
	 * The maps were created empty at load: the first interval starts
	 * from nothing, and counts what came before the banner too.
	 * Without an interval, the heat map still wants a column a second;
	 * without it either, sleep until a signal.
	 */
	t0 = iopf_now_ns();
	step = (env.interval ? env.interval : 1) * 1000000000ULL;
	next = env.interval || env.heatmap ? t0 + step : UINT64_MAX;
	for (;;) {
		struct snap *prev = &snaps[cur], *now = &snaps[!cur];

		wait_until(next, &unblocked);
		/* after a stop (SIGSTOP, suspend), one interval, not a burst */
		if (next != UINT64_MAX) {
			next += step;
			if (next < iopf_now_ns())
				next = iopf_now_ns() + step;
		}
		err = snap_read(skel, now);
		if (err)
			goto fail_read;
		err = snap_delta(&delta, prev, now);
		if (err)
			goto fail_read;
		if (env.heatmap && heat_add(&delta, (iopf_now_ns() - t0) / 1e9)) {
			err = -ENOMEM;
			goto fail_read;
		}
		cur = !cur;
		if (env.interval) {
			label_rows(skel, &delta);
			if (env.json)
				print_json(&delta);
			else
				print_text(&delta);
			fflush(stdout);
			printed++;
			if (env.count && printed == env.count)
				break;
		}
		if (iopf_exiting)
			break;
	}
	if (!env.interval) {
		/* everything since the start */
		err = snap_delta(&delta, NULL, &snaps[cur]);
		if (err)
			goto fail_read;
		label_rows(skel, &delta);
		if (env.json)
			print_json(&delta);
		else
			print_text(&delta);
		fflush(stdout);
	}
	if (skel->bss->hist_dropped || skel->bss->group_dropped)
		fprintf(stderr, "%s: maps full: %llu responses not counted, %llu groups without stages\n",
			tool, (unsigned long long)skel->bss->hist_dropped,
			(unsigned long long)skel->bss->group_dropped);
	if (heat_file) {
		err = heat_write(heat_file);
		heat_file = NULL;
		if (err) {
			fprintf(stderr, "%s: cannot write %s: %s\n", tool,
				env.heatmap, strerror(-err));
			goto out;
		}
	}
	err = 0;
	goto out;

fail_read:
	iopf_fail(tool, "cannot read the BPF maps", err);
out:
	if (!skel)
		iopf_fail(tool, "cannot open the BPF object", err);
	/* left empty: never unlink what the user named, it may be a device */
	if (heat_file)
		fclose(heat_file);
	free(snaps[0].rows);
	free(snaps[1].rows);
	free(delta.rows);
	free(columns);
	iopf_lat_bpf__destroy(skel);
	return err ? 1 : 0;
}
