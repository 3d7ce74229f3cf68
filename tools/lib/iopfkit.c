// SPDX-License-Identifier: GPL-2.0
/* The iopfkit tools' shared helpers (iopfkit.h) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/capability.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "iopfkit.h"

volatile sig_atomic_t iopf_exiting;
bool iopf_verbose;

static void on_signal(int sig)
{
	iopf_exiting = 1;
}

/*
 * libbpf's warnings and errors too only with -v: a failure is one line
 * (iopf_fail()), which says -v shows the rest
 */
static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	if (!iopf_verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void iopf_init(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	argp_err_exit_status = 2;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	libbpf_set_print(libbpf_print);
}

bool iopf_privileged(void)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t bpf = CAP_CLEAR, perfmon = CAP_CLEAR, admin = CAP_CLEAR;

	if (!caps)
		return geteuid() == 0;
	cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &admin);
#ifdef CAP_BPF
	cap_get_flag(caps, CAP_BPF, CAP_EFFECTIVE, &bpf);
	cap_get_flag(caps, CAP_PERFMON, CAP_EFFECTIVE, &perfmon);
#endif
	cap_free(caps);
	return admin == CAP_SET || (bpf == CAP_SET && perfmon == CAP_SET);
}

/* The event iopf_check_kernel() was asked about, for iopf_fail() */
static const char *checked_event;

/*
 * tracefs lists the events when mounted; otherwise the event is there
 * when vmlinux BTF has its tp_btf type
 */
bool iopf_kernel_has_event(const char *event)
{
	char name[192];
	struct btf *btf;
	int id;

	if (!access("/sys/kernel/tracing/events", F_OK)) {
		snprintf(name, sizeof(name), "/sys/kernel/tracing/events/iommu/%s", event);
		return !access(name, F_OK);
	}
	btf = btf__load_vmlinux_btf();
	if (!btf)
		return false;
	snprintf(name, sizeof(name), "btf_trace_%s", event);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	btf__free(btf);
	return id >= 0;
}

static int no_event(const char *tool, const char *event)
{
	fprintf(stderr, "%s: the running kernel lacks the iommu trace event %s: it needs the iopfkit kernel series (kernel-patches/)\n",
		tool, event);
	return -1;
}

/*
 * Cheap checks only: parsing vmlinux BTF here would double the start-up
 * time, as libbpf parses it again to load. Without tracefs the event is
 * looked for in BTF when loading fails (iopf_fail()).
 */
int iopf_check_kernel(const char *tool, const char *event)
{
	char path[192];

	checked_event = event;
	if (!iopf_privileged()) {
		fprintf(stderr, "%s: needs root (or CAP_BPF and CAP_PERFMON) to load BPF programs\n",
			tool);
		return -1;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "%s: the running kernel has no BTF (/sys/kernel/btf/vmlinux): needs CONFIG_DEBUG_INFO_BTF\n",
			tool);
		return -1;
	}
	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/iommu/%s", event);
	if (!access("/sys/kernel/tracing/events", F_OK) && access(path, F_OK))
		return no_event(tool, event);
	return 0;
}

int iopf_fail(const char *tool, const char *what, int err)
{
	if (err < 0)
		err = -err;
	if (checked_event && !iopf_kernel_has_event(checked_event)) {
		no_event(tool, checked_event);
		return 1;
	}
	fprintf(stderr, "%s: %s: %s%s\n", tool, what, strerror(err),
		iopf_verbose ? "" : " (-v shows libbpf's log)");
	return 1;
}

long long iopf_arg_num(struct argp_state *state, const char *opt,
		       const char *arg, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		argp_error(state, "invalid %s: '%s' (a number from %lld to %lld)",
			   opt, arg, min, max);
	return v;
}

struct iopf_filter iopf_filter;

enum { OPT_PASID = 0x1000 };

static const struct argp_option filter_opts[] = {
	{ "device", 'd', "DEV", 0, "This device only (its dev_name, e.g. swsva0)", 0 },
	{ "pid", 'p', "PID", 0, "This process only", 0 },
	{ "pasid", OPT_PASID, "N", 0, "This PASID only (-1: requests without PASID)", 0 },
	{},
};

static error_t parse_filter(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'd':
		if (!*arg || strlen(arg) >= IOPF_DEV_LEN)
			argp_error(state, "invalid device name: '%s'", arg);
		iopf_filter.device = arg;
		return 0;
	case 'p':
		iopf_filter.pid = iopf_arg_num(state, "-p", arg, 1, INT_MAX);
		return 0;
	case OPT_PASID:
		iopf_filter.pasid = iopf_arg_num(state, "--pasid", arg, -1,
						 IOPF_MAX_PASID);
		iopf_filter.has_pasid = true;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp iopf_filter_argp = {
	.options = filter_opts,
	.parser = parse_filter,
};

static const struct argp_option base_opts[] = {
	{ "verbose", 'v', NULL, 0, "Verbose debug output (libbpf)", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};

static error_t parse_base(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'v':
		iopf_verbose = true;
		return 0;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp iopf_base_argp = {
	.options = base_opts,
	.parser = parse_base,
};

const struct argp_child iopf_argp_children[] = {
	{ &iopf_filter_argp, 0, NULL, 0 },
	{ &iopf_base_argp, 0, NULL, 0 },
	{},
};

bool iopf_filter_match(const char *dev, long long pasid, pid_t tgid)
{
	if (iopf_filter.device && strcmp(dev, iopf_filter.device))
		return false;
	if (iopf_filter.has_pasid && pasid != iopf_filter.pasid)
		return false;
	return !iopf_filter.pid || tgid == iopf_filter.pid;
}

int iopf_arg_interval_count(struct argp_state *state, const char *arg,
			    int *interval, int *count)
{
	switch (state->arg_num) {
	case 0:
		*interval = iopf_arg_num(state, "interval", arg, 1, INT_MAX);
		return 0;
	case 1:
		*count = iopf_arg_num(state, "count", arg, 1, INT_MAX);
		return 0;
	default:
		argp_error(state, "unexpected argument: '%s'", arg);
		return ARGP_ERR_UNKNOWN;
	}
}

int iopf_pasid_map_scan(struct bpf_program *iter)
{
	struct bpf_link *link = bpf_program__attach_iter(iter, NULL);
	char buf[64];
	int fd, n, err = 0;

	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* The program writes the map; reading runs it over every task */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		err = -errno;
	close(fd);
out:
	bpf_link__destroy(link);
	return err;
}

int iopf_pasid_lookup(int map_fd, __u32 pasid, struct iopf_proc *proc)
{
	if (pasid != IOPF_NO_PASID && !bpf_map_lookup_elem(map_fd, &pasid, proc))
		return 0;
	memset(proc, 0, sizeof(*proc));
	strcpy(proc->comm, "?");
	return -ENOENT;
}

void iopf_strftime(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	strftime(buf, size, "%H:%M:%S", localtime_r(&t, &tm));
}

double iopf_epoch(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double iopf_uptime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__u64 iopf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

const char *iopf_errno_name(int err)
{
	static __thread char buf[16];
	const char *name;

	if (err < 0)
		err = -err;
	if (!err)
		return "0";
	name = strerrorname_np(err);
	if (name)
		return name;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

size_t iopf_utf8_len(const char *s, const char *end)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char c = *p;
	size_t len = 0, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	for (i = 1; len && i < len; i++)
		if (s + i >= end || (p[i] & 0xc0) != 0x80)
			return 0;
	/* overlong, surrogates and beyond U+10FFFF */
	if ((len == 3 && c == 0xe0 && p[1] < 0xa0) ||
	    (len == 3 && c == 0xed && p[1] >= 0xa0) ||
	    (len == 4 && c == 0xf0 && p[1] < 0x90) ||
	    (len == 4 && c == 0xf4 && p[1] >= 0x90))
		return 0;
	return len;
}

void iopf_json_str(FILE *f, const char *s)
{
	const char *end = s + strlen(s);

	fputc('"', f);
	while (s < end) {
		unsigned char c = *s;
		size_t len = iopf_utf8_len(s, end);

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else if (len)
			fwrite(s, 1, len, f);
		else
			fputs(IOPF_REPLACEMENT_CHAR, f);
		s += len ? len : 1;
	}
	fputc('"', f);
}

void iopf_printable(char *dst, const char *src, size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
	if (!i && size > 1)
		strcpy(dst, "?");
}

static void print_stars(FILE *f, __u64 val, __u64 max, int width)
{
	int n = max ? (int)(val * width / max) : 0, i;

	if (n > width)
		n = width;
	for (i = 0; i < width; i++)
		fputc(i < n ? '*' : ' ', f);
	if (val > max)
		fputc('+', f);
}

/* Slot @i of a log2 histogram: [2^i, 2^(i+1) - 1], slot 0 [0, 1] */
static __u64 log2_low(int i)
{
	return i ? 1ULL << i : 0;
}

static __u64 log2_high(int i)
{
	if (!i)
		return 1;
	return i < 63 ? (1ULL << (i + 1)) - 1 : ~0ULL;
}

/* Slots up to the last non-empty one (at least one) */
static int hist_len(const __u64 *vals, int nr)
{
	int n;

	for (n = nr; n > 1 && !vals[n - 1]; n--)
		;
	return n;
}

void iopf_print_log2_hist(FILE *f, const __u64 *vals, int nr, const char *unit)
{
	int n = hist_len(vals, nr), i, width = 10;
	__u64 max = 0;

	for (i = 0; i < n; i++)
		if (vals[i] > max)
			max = vals[i];
	if (n > 32)
		width = 20;
	fprintf(f, "%*s%-*s : count    distribution\n", width == 10 ? 5 : 15, "",
		width == 10 ? 19 : 29, unit);
	for (i = 0; i < n; i++) {
		__u64 low = log2_low(i), high = log2_high(i);

		if (width == 10)
			fprintf(f, "%10llu -> %-10llu : %-8llu |", low, high, vals[i]);
		else
			fprintf(f, "%20llu -> %-20llu : %-8llu |", low, high, vals[i]);
		print_stars(f, vals[i], max, 40);
		fputs("|\n", f);
	}
}

void iopf_json_log2_hist(FILE *f, const __u64 *vals, int nr)
{
	int n = hist_len(vals, nr), i;

	fputc('[', f);
	for (i = 0; i < n; i++) {
		__u64 low = log2_low(i), high = log2_high(i);

		fprintf(f, "%s{\"low\":%llu,\"high\":%llu,\"count\":%llu}",
			i ? "," : "", low, high, vals[i]);
	}
	fputc(']', f);
}

double iopf_lat_percentile(const __u64 *slots, __u64 total, double p)
{
	double rank = p * total, seen = 0;
	__u32 i;

	if (!total)
		return 0;
	for (i = 0; i < IOPF_LAT_SLOTS; i++) {
		double low, high;

		if (!slots[i] || seen + slots[i] < rank) {
			seen += slots[i];
			continue;
		}
		low = iopf_lat_slot_low(i);
		high = i + 1 < IOPF_LAT_SLOTS ? iopf_lat_slot_low(i + 1) : low * 2;
		return low + (high - low) * (rank - seen) / slots[i];
	}
	return iopf_lat_slot_low(IOPF_LAT_SLOTS - 1);
}
