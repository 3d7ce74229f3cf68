// SPDX-License-Identifier: GPL-2.0
/*
 * iopf-exporter: SVA and I/O page fault statistics as Prometheus metrics.
 *
 * The tp_btf programs of bpf/iopf_stats.bpf.h keep cumulative counters and
 * a latency histogram per (device, PASID); each scrape of /metrics reads
 * that map and bpf/pasid_map.bpf.h's PASID-to-process map, and renders
 * them in the Prometheus text format 0.0.4. Nothing is reset by a scrape,
 * so any number of Prometheus servers may scrape the same exporter.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <microhttpd.h>

#include "iopfkit.h"
#include "iopf-exporter.skel.h"

#define TOOL		"iopf-exporter"
#define DEFAULT_LISTEN	"127.0.0.1:9478"
#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* Histogram buckets: every power of two of ns from 2^10 (1 us) to 2^36 (68.7 s) */
#define LE_FIRST_LOG2	10
#define LE_LAST_LOG2	36

static struct env {
	const char *listen;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char url[128];		/* http://ADDR:PORT or unix:PATH, for messages */
	const char *device;	/* NULL: every device */
	bool once;
} env = {
	.listen = DEFAULT_LISTEN,
};

static struct iopf_exporter_bpf *skel;
/* One scrape at a time: the counter below and the map walk */
static pthread_mutex_t scrape_lock = PTHREAD_MUTEX_INITIALIZER;
static __u64 scrapes;

/* --- command line ----------------------------------------------------- */

enum { OPT_ONCE = 0x100 };

static const char doc[] =
"Serve SVA and I/O page fault statistics as Prometheus metrics.\v"
"Metrics are served at http://ADDR:PORT/metrics, by default on the loopback "
"address only (" DEFAULT_LISTEN "). ADDR is an IPv4 address, an IPv6 address "
"in brackets, \"localhost\", or nothing for every IPv4 interface (\":9478\"). "
"unix:PATH listens on a Unix domain socket instead.\n"
"\n"
"Examples:\n"
"  iopf-exporter                     # http://127.0.0.1:9478/metrics\n"
"  iopf-exporter -l [::1]:9100 -d swsva0\n"
"  iopf-exporter --once              # one scrape on stdout";

static const struct argp_option opts[] = {
	{ "listen", 'l', "ADDR:PORT", 0,
	  "Listen on ADDR:PORT or unix:PATH (default " DEFAULT_LISTEN ")", 0 },
	{ "device", 'd', "DEV", 0, "Export only device DEV (e.g. swsva0)", 0 },
	{ "once", OPT_ONCE, NULL, 0,
	  "Print one scrape on stdout and exit, without listening", 0 },
	{},
};

/* -v also logs each request */
static const struct argp_child children[] = {
	{ &iopf_base_argp, 0, NULL, 0 },
	{},
};

/*
 * ADDR:PORT or unix:PATH into env.addr; false if it is not an address we
 * take
 */
static bool parse_listen(struct argp_state *state, const char *arg)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&env.addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&env.addr;
	struct sockaddr_un *un = (struct sockaddr_un *)&env.addr;
	const char *colon = strrchr(arg, ':');
	char host[INET6_ADDRSTRLEN + 2];
	size_t len;
	int port;

	memset(&env.addr, 0, sizeof(env.addr));
	if (!strncmp(arg, "unix:", 5)) {
		len = strlen(arg + 5);
		if (!len || len >= sizeof(un->sun_path))
			return false;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, arg + 5, len);
		env.addrlen = sizeof(*un);
		snprintf(env.url, sizeof(env.url), "%s", arg);
		return true;
	}
	if (!colon || (size_t)(colon - arg) >= sizeof(host))
		return false;
	len = colon - arg;
	memcpy(host, arg, len);
	host[len] = '\0';
	port = iopf_arg_num(state, "port", colon + 1, 1, 65535);

	if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
		host[len - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			return false;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		env.addrlen = sizeof(*in6);
		snprintf(env.url, sizeof(env.url), "http://[%s]:%d", host + 1, port);
		return true;
	}
	if (!len)
		in->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (!strcmp(host, "localhost"))
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
		return false;
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	env.addrlen = sizeof(*in);
	snprintf(env.url, sizeof(env.url), "http://%s:%d", len ? host : "0.0.0.0",
		 port);
	return true;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'l':
		env.listen = arg;
		if (!parse_listen(state, arg))
			argp_error(state, "invalid listen address: '%s' (ADDR:PORT or unix:PATH, e.g. 127.0.0.1:9478, [::1]:9478)",
				   arg);
		break;
	case 'd':
		if (!*arg || strlen(arg) >= IOPF_DEV_LEN)
			argp_error(state, "invalid device name: '%s'", arg);
		env.device = arg;
		break;
	case OPT_ONCE:
		env.once = true;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument: '%s'", arg);
		break;
	case ARGP_KEY_END:
		/* the default needs parsing too */
		if (!env.addrlen && !parse_listen(state, env.listen))
			argp_error(state, "invalid listen address: '%s'", env.listen);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* --- the scrape ------------------------------------------------------- */

/* One series set: the map entries of a (device name, PASID), summed */
struct series {
	struct iopf_stats_key key;
	struct iopf_stats s;
};

static bool same_labels(const struct series *x, const struct series *y)
{
	return x->key.pasid == y->key.pasid &&
	       !strncmp(x->s.device, y->s.device, IOPF_DEV_LEN);
}

static int series_cmp(const void *a, const void *b)
{
	const struct series *x = a, *y = b;
	int r = strncmp(x->s.device, y->s.device, IOPF_DEV_LEN);

	if (r)
		return r;
	if (x->key.pasid != y->key.pasid)
		return x->key.pasid < y->key.pasid ? -1 : 1;
	if (x->key.dev != y->key.dev)
		return x->key.dev < y->key.dev ? -1 : 1;
	return 0;
}

static void stats_add(struct iopf_stats *d, const struct iopf_stats *s)
{
	int i;

	d->requests += s->requests;
	d->groups += s->groups;
	d->refused += s->refused;
	d->responses += s->responses;
	for (i = 0; i < IOPF_NR_RESP_CODES; i++) {
		d->codes[i] += s->codes[i];
		d->verdicts[i] += s->verdicts[i];
	}
	d->lat_sum_ns += s->lat_sum_ns;
	d->lat_unknown += s->lat_unknown;
	d->tracked += s->tracked;
	d->answered += s->answered;
	d->binds += s->binds;
	d->unbinds += s->unbinds;
	for (i = 0; i < IOPF_LAT_SLOTS; i++)
		d->lat[i] += s->lat[i];
}

/*
 * Every entry of the map, sorted by device name and PASID, merged by them:
 * a device that went away and came back under the same name has two keys
 * (struct device pointers) but must make one series, or Prometheus would
 * reject duplicates.
 */
static int read_series(struct series **out, size_t *nr)
{
	int fd = bpf_map__fd(skel->maps.iopf_stats);
	struct iopf_stats_key key, next, *prev = NULL;
	struct series *v = NULL, *tmp;
	size_t n = 0, cap = 0, i, m;
	int err;

	while (!(err = bpf_map_get_next_key(fd, prev, &next))) {
		key = next;
		prev = &key;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			tmp = realloc(v, cap * sizeof(*v));
			if (!tmp) {
				free(v);
				return -ENOMEM;
			}
			v = tmp;
		}
		if (bpf_map_lookup_elem(fd, &key, &v[n].s))
			continue;	/* entries are never deleted; be safe */
		v[n].s.device[IOPF_DEV_LEN - 1] = '\0';
		/* just created, not named yet: the next scrape has it */
		if (!v[n].s.device[0])
			continue;
		if (env.device && strcmp(v[n].s.device, env.device))
			continue;
		v[n].key = key;
		n++;
	}
	if (errno != ENOENT) {
		err = -errno;
		free(v);
		return err;
	}
	if (n)
		qsort(v, n, sizeof(*v), series_cmp);
	for (i = 0, m = 0; i < n; i++) {
		struct series *last = m ? &v[m - 1] : NULL;

		/* the same key twice: a walk restarted by a deletion */
		if (last && last->key.dev == v[i].key.dev &&
		    last->key.pasid == v[i].key.pasid)
			continue;
		if (last && same_labels(last, &v[i])) {
			stats_add(&last->s, &v[i].s);
			last->key.dev = v[i].key.dev;
			continue;
		}
		v[m++] = v[i];
	}
	*out = v;
	*nr = m;
	return 0;
}

/*
 * A label value: UTF-8 (a comm is any bytes: invalid sequences become
 * U+FFFD), with backslash, double quote and line feed escaped.
 */
static void put_label_value(FILE *f, const char *s, size_t max)
{
	const char *end = s + strnlen(s, max);

	while (s < end) {
		size_t len = iopf_utf8_len(s, end);

		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (len)
			fwrite(s, 1, len, f);
		else
			fputs(IOPF_REPLACEMENT_CHAR, f);
		s += len ? len : 1;
	}
}

static void put_labels(FILE *f, const struct series *v)
{
	fputs("{device=\"", f);
	put_label_value(f, v->s.device, IOPF_DEV_LEN);
	if (v->key.pasid == IOPF_NO_PASID)
		fputs("\",pasid=\"none\"", f);
	else
		fprintf(f, "\",pasid=\"%u\"", v->key.pasid);
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample per series of a per-(device, PASID) counter or gauge */
#define SIMPLE_FAMILY(f, v, nr, name, type, help, expr) do {		\
	family(f, name, type, help);					\
	for (size_t _i = 0; _i < (nr); _i++) {				\
		const struct iopf_stats *s = &(v)[_i].s;		\
									\
		fputs(name, f);						\
		put_labels(f, &(v)[_i]);				\
		fprintf(f, "} %llu\n", (unsigned long long)(expr));	\
	}								\
} while (0)

/* Nanoseconds as exact decimal seconds: 1024 -> 0.000001024 */
static void put_seconds(FILE *f, __u64 ns)
{
	char frac[16];
	int n;

	n = snprintf(frac, sizeof(frac), "%09llu",
		     (unsigned long long)(ns % 1000000000ULL));
	while (n > 1 && frac[n - 1] == '0')
		frac[--n] = '\0';
	fprintf(f, "%llu.%s", (unsigned long long)(ns / 1000000000ULL), frac);
}

static const char *const code_names[IOPF_NR_RESP_CODES] = {
	[IOPF_RESP_SUCCESS] = "success",
	[IOPF_RESP_INVALID] = "invalid",
	[IOPF_RESP_FAILURE] = "failure",
};

static void put_histogram(FILE *f, const struct series *v, size_t nr)
{
	const char *name = "iopf_page_response_latency_seconds";
	size_t i;

	family(f, name, "histogram",
	       "Time from the report of a page request group's last request to its response.");
	for (i = 0; i < nr; i++) {
		const struct iopf_stats *s = &v[i].s;
		__u64 cum = 0;
		__u32 slot = 0, l;

		for (l = LE_FIRST_LOG2; l <= LE_LAST_LOG2; l++) {
			/* slots wholly below 2^l ns */
			for (; slot < IOPF_LAT_SLOTS &&
			       iopf_lat_slot_low(slot) < (1ULL << l); slot++)
				cum += s->lat[slot];
			fprintf(f, "%s_bucket", name);
			put_labels(f, &v[i]);
			fputs(",le=\"", f);
			put_seconds(f, 1ULL << l);
			fprintf(f, "\"} %llu\n", (unsigned long long)cum);
		}
		for (; slot < IOPF_LAT_SLOTS; slot++)
			cum += s->lat[slot];
		fprintf(f, "%s_bucket", name);
		put_labels(f, &v[i]);
		fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
		fprintf(f, "%s_sum", name);
		put_labels(f, &v[i]);
		fputs("} ", f);
		put_seconds(f, s->lat_sum_ns);
		fprintf(f, "\n%s_count", name);
		put_labels(f, &v[i]);
		fprintf(f, "} %llu\n", (unsigned long long)cum);
	}
}

static void put_pasid_info(FILE *f, const struct series *v, size_t nr)
{
	int fd = bpf_map__fd(skel->maps.pasid_procs);
	struct iopf_proc proc;
	size_t i;

	family(f, "iopf_pasid_info", "gauge",
	       "The process whose address space a PASID is, where known (bound before the exporter started, or seen binding).");
	for (i = 0; i < nr; i++) {
		/* tgid 0: bound on a process's behalf, by whom is unknown */
		if (iopf_pasid_lookup(fd, v[i].key.pasid, &proc) || !proc.tgid)
			continue;
		fputs("iopf_pasid_info", f);
		put_labels(f, &v[i]);
		fprintf(f, ",pid=\"%u\",comm=\"", proc.tgid);
		put_label_value(f, proc.comm, IOPF_COMM_LEN);
		fputs("\"} 1\n", f);
	}
}

/* The whole exposition into @f; the caller holds scrape_lock */
static int scrape(FILE *f)
{
	struct series *v = NULL;
	size_t nr = 0, i;
	int err, c;

	err = read_series(&v, &nr);
	if (err)
		return err;
	scrapes++;

	SIMPLE_FAMILY(f, v, nr, "iopf_page_requests_total", "counter",
		      "Page requests reported to the IOMMU core.", s->requests);
	SIMPLE_FAMILY(f, v, nr, "iopf_page_request_groups_total", "counter",
		      "Page request groups reported (requests with the last-page flag): one response each.",
		      s->groups);
	SIMPLE_FAMILY(f, v, nr, "iopf_page_requests_refused_total", "counter",
		      "Page requests that reached no fault handler (PASID not bound, no fault parameters, no memory, handler error).",
		      s->refused);

	family(f, "iopf_page_responses_total", "counter",
	       "Page responses sent, by response code.");
	for (i = 0; i < nr; i++) {
		for (c = 0; c < IOPF_NR_RESP_CODES; c++) {
			fputs("iopf_page_responses_total", f);
			put_labels(f, &v[i]);
			fprintf(f, ",code=\"%s\"} %llu\n", code_names[c],
				(unsigned long long)v[i].s.codes[c]);
		}
	}

	/*
	 * The groups whose report the programs saw, less those answered
	 * since (bpf/iopf_stats.bpf.h): exact whatever was in flight at
	 * start-up; the clamp is for a read that races the programs
	 */
	SIMPLE_FAMILY(f, v, nr, "iopf_page_request_groups_in_flight", "gauge",
		      "Page request groups reported and not yet answered.",
		      s->tracked > s->answered ? s->tracked - s->answered : 0);

	put_histogram(f, v, nr);
	SIMPLE_FAMILY(f, v, nr, "iopf_page_responses_untimed_total", "counter",
		      "Page responses to groups reported while nothing traced responses: not in the latency histogram.",
		      s->lat_unknown);

	family(f, "iopf_policy_verdicts_total", "counter",
	       "Page request groups answered, or requests refused, by a BPF fault policy, by verdict.");
	for (i = 0; i < nr; i++) {
		for (c = IOPF_RESP_INVALID; c < IOPF_NR_RESP_CODES; c++) {
			fputs("iopf_policy_verdicts_total", f);
			put_labels(f, &v[i]);
			fprintf(f, ",verdict=\"%s\"} %llu\n", code_names[c],
				(unsigned long long)v[i].s.verdicts[c]);
		}
	}

	SIMPLE_FAMILY(f, v, nr, "iopf_sva_binds_total", "counter",
		      "Successful SVA binds of an address space to the device.",
		      s->binds);
	SIMPLE_FAMILY(f, v, nr, "iopf_sva_unbinds_total", "counter",
		      "SVA unbinds.", s->unbinds);
	put_pasid_info(f, v, nr);

	family(f, "iopf_exporter_scrapes_total", "counter",
	       "Scrapes served, this one included.");
	fprintf(f, "iopf_exporter_scrapes_total %llu\n",
		(unsigned long long)scrapes);
	family(f, "iopf_exporter_stats_dropped_total", "counter",
	       "Events not counted because the statistics map was full.");
	fprintf(f, "iopf_exporter_stats_dropped_total %llu\n",
		(unsigned long long)__atomic_load_n(&skel->bss->iopf_stats_dropped,
						    __ATOMIC_RELAXED));
	free(v);
	return 0;
}

/* --- HTTP ------------------------------------------------------------- */

static const char index_page[] =
	"<html><head><title>iopf-exporter</title></head><body>\n"
	"<h1>iopf-exporter</h1>\n"
	"<p>SVA and I/O page fault metrics: <a href=\"/metrics\">/metrics</a></p>\n"
	"</body></html>\n";

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status,
			     const char *type, void *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, body, mode);
	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn,
				  unsigned int status, const char *text)
{
	return reply(conn, status, "text/plain; charset=utf-8", (void *)text,
		     strlen(text), MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result serve_metrics(struct MHD_Connection *conn)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	f = open_memstream(&buf, &len);
	if (!f)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory\n");
	pthread_mutex_lock(&scrape_lock);
	err = scrape(f);
	pthread_mutex_unlock(&scrape_lock);
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (err) {
		free(buf);
		fprintf(stderr, "%s: scrape: %s\n", TOOL, strerror(-err));
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "reading the BPF statistics failed\n");
	}
	return reply(conn, MHD_HTTP_OK, CONTENT_TYPE, buf, len,
		     MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	if (iopf_verbose)
		fprintf(stderr, "%s: %s %s\n", TOOL, method, url);
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "method not allowed\n");
	if (!strcmp(url, "/metrics"))
		return serve_metrics(conn);
	if (!strcmp(url, "/"))
		return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8",
			     (void *)index_page, sizeof(index_page) - 1,
			     MHD_RESPMEM_PERSISTENT);
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	if (!iopf_verbose)
		return;
	fprintf(stderr, "%s: http: ", TOOL);
	vfprintf(stderr, fmt, ap);
}

/*
 * A socket file left by an exporter that died: nothing accepts on it.
 * Anything else at the path (a live socket, a file) is not ours to remove.
 */
static bool stale_socket(const struct sockaddr_un *un)
{
	struct stat st;
	bool stale;
	int fd;

	if (stat(un->sun_path, &st) || !S_ISSOCK(st.st_mode))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	stale = connect(fd, (const struct sockaddr *)un, sizeof(*un)) &&
		errno == ECONNREFUSED;
	close(fd);
	return stale;
}

/*
 * Our own listening socket, so that a taken port is reported as such
 * (MHD_start_daemon() only returns NULL), and before loading anything
 */
static int open_listener(void)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&env.addr;
	int fd, err, one = 1;

	fd = socket(env.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* TIME_WAIT of a previous run must not block a restart */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (env.addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	err = bind(fd, (struct sockaddr *)&env.addr, env.addrlen);
	if (err && errno == EADDRINUSE && env.addr.ss_family == AF_UNIX &&
	    stale_socket(un)) {
		unlink(un->sun_path);
		err = bind(fd, (struct sockaddr *)&env.addr, env.addrlen);
	}
	if (err || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static const char *listen_hint(int err)
{
	if (err == -EADDRINUSE)
		return " (another exporter running? choose another address with --listen)";
	if (err == -EAFNOSUPPORT)
		return " (a kernel without this protocol: --listen unix:PATH needs none)";
	return "";
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.doc = doc,
		.children = children,
	};
	struct MHD_Daemon *daemon = NULL;
	sigset_t block, orig;
	int err, lfd = -1;
	bool listening = false;
	unsigned int flags;

	iopf_init();
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	if (iopf_check_kernel(TOOL, "iommu_iopf_report"))
		return 1;

	if (!env.once) {
		lfd = open_listener();
		if (lfd < 0) {
			fprintf(stderr, "%s: cannot listen on %s: %s%s\n", TOOL,
				env.listen, strerror(-lfd), listen_hint(lfd));
			return 1;
		}
		listening = true;
	}

	skel = iopf_exporter_bpf__open();
	if (!skel) {
		err = iopf_fail(TOOL, "opening the BPF object", errno);
		goto out;
	}
	/* a kernel of the series before its fault policy patches has none */
	if (!iopf_kernel_has_event("iommu_fault_policy_verdict"))
		bpf_program__set_autoload(skel->progs.iopf_stats_on_verdict, false);
	err = iopf_exporter_bpf__load(skel);
	if (err) {
		err = iopf_fail(TOOL, "loading the BPF programs", err);
		goto out;
	}
	/* run once below, by hand, not attached to anything */
	bpf_program__set_autoattach(skel->progs.iopf_iter_pasids, false);
	err = iopf_exporter_bpf__attach(skel);
	if (err) {
		err = iopf_fail(TOOL, "attaching the BPF programs", err);
		goto out;
	}
	/* after the attach: a bind in between is not missed */
	err = iopf_pasid_map_scan(skel->progs.iopf_iter_pasids);
	if (err) {
		err = iopf_fail(TOOL, "scanning the processes bound to devices", err);
		goto out;
	}

	if (env.once) {
		pthread_mutex_lock(&scrape_lock);
		err = scrape(stdout);
		pthread_mutex_unlock(&scrape_lock);
		if (err)
			err = iopf_fail(TOOL, "reading the BPF statistics", err);
		else if (fflush(stdout))
			err = iopf_fail(TOOL, "writing the metrics", errno);
		goto out;
	}

	/*
	 * The signals wait for the main thread's sigsuspend(): MHD's thread
	 * inherits them blocked, so a SIGTERM cannot land there unseen
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &orig);

	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (env.addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
				  MHD_OPTION_LISTEN_SOCKET, lfd,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_CONNECTION_LIMIT, 64U,
				  MHD_OPTION_CONNECTION_TIMEOUT, 10U,
				  MHD_OPTION_END);
	if (!daemon) {
		fprintf(stderr, "%s: cannot start the HTTP server on %s\n",
			TOOL, env.listen);
		err = 1;
		goto out;
	}
	lfd = -1;	/* the daemon's now: MHD_stop_daemon() closes it */
	if (env.addr.ss_family == AF_UNIX)
		fprintf(stderr, "%s: serving /metrics on %s\n", TOOL, env.url);
	else
		fprintf(stderr, "%s: serving %s/metrics\n", TOOL, env.url);

	while (!iopf_exiting)
		sigsuspend(&orig);
	err = 0;
out:
	if (daemon)
		MHD_stop_daemon(daemon);
	if (lfd >= 0)
		close(lfd);
	if (!env.once && env.addr.ss_family == AF_UNIX && listening)
		unlink(((struct sockaddr_un *)&env.addr)->sun_path);
	iopf_exporter_bpf__destroy(skel);
	return err;
}
