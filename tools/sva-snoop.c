// SPDX-License-Identifier: GPL-2.0
/*
 * sva-snoop: trace SVA binds and unbinds, one line each, like execsnoop.
 *
 * Every iommu_sva_bind_device() and iommu_sva_unbind_device() of any
 * driver, with the calling process, the device, the PASID, the bond's
 * users after the call and, for a bind, its result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <bpf/libbpf.h>

#include "iopfkit.h"
#include "sva_snoop.h"
#include "sva-snoop.skel.h"

static const char *const tool = "sva-snoop";

static struct env {
	bool failed;
	bool json;
	bool relative;
} env;

/*
 * The address space, as an identity that does not give away a kernel
 * address: the same within a run, keyed anew at each start
 */
static __u64 mm_key;

static __u64 mm_id(__u64 mm)
{
	__u64 x = (mm ^ mm_key) * 0x9e3779b97f4a7c15ULL;

	return x ^ (x >> 29);
}

/* Boot time of the tool's start, and wall clock minus boot clock */
static __u64 start_ns;
static __s64 wall_offset_ns;

const char *argp_program_version = "sva-snoop (iopfkit)";
const char *argp_program_bug_address = "the iopfkit developers";
static const char doc[] =
"Trace SVA binds and unbinds of every device, one line each.\n"
"\n"
"USAGE: sva-snoop [-h] [-x] [-t] [-p PID] [-d DEV] [--pasid N] [-j]\n"
"\n"
"EXAMPLES:\n"
"    sva-snoop              # every bind and unbind\n"
"    sva-snoop -x           # failed binds only\n"
"    sva-snoop -p 181       # binds and unbinds by process 181\n"
"    sva-snoop -d swsva0    # of device swsva0 only\n"
"    sva-snoop --json       # one JSON object per line";

static const struct argp_option opts[] = {
	{ "failed", 'x', NULL, 0, "Failed binds only", 0 },
	{ "timestamp", 't', NULL, 0, "Seconds since start instead of the time of day", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per line", 0 },
	{},
};


static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'x':
		env.failed = true;
		break;
	case 't':
		env.relative = true;
		break;
	case 'j':
		env.json = true;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument: '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static __u64 clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void format_time(__u64 ts_ns, char *buf, size_t size)
{
	time_t secs;
	struct tm tm;

	if (env.relative) {
		snprintf(buf, size, "%.6f",
			 ts_ns > start_ns ? (ts_ns - start_ns) / 1e9 : 0.0);
		return;
	}
	secs = (ts_ns + wall_offset_ns) / 1000000000LL;
	strftime(buf, size, "%H:%M:%S", localtime_r(&secs, &tm));
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct sva_snoop_event *e = data;
	const char *kind = e->kind == SVA_SNOOP_BIND ? "bind" : "unbind";
	char when[32], pasid[16];

	if (size < sizeof(*e))
		return 0;
	/* the process filter runs in BPF too, before the ring buffer */
	if (!iopf_filter_match(e->device, e->pasid == IOPF_NO_PASID ? -1 : e->pasid,
			       e->tgid))
		return 0;
	format_time(e->ts_ns, when, sizeof(when));
	if (e->pasid == IOPF_NO_PASID)
		strcpy(pasid, "-");
	else
		snprintf(pasid, sizeof(pasid), "%u", e->pasid);

	if (env.json) {
		printf("{\"time\":%.6f,\"ts_ns\":%llu,\"event\":\"%s\",\"pid\":%u,\"comm\":",
		       (e->ts_ns + wall_offset_ns) / 1e9, e->ts_ns, kind, e->tgid);
		iopf_json_str(stdout, e->comm);
		printf(",\"device\":");
		iopf_json_str(stdout, e->device);
		printf(",\"pasid\":%d,\"refs\":%u,\"mm\":\"%016llx\",\"own_mm\":%s",
		       e->pasid == IOPF_NO_PASID ? -1 : (int)e->pasid, e->refs,
		       mm_id(e->mm), e->mm_is_caller ? "true" : "false");
		if (e->kind == SVA_SNOOP_BIND)
			printf(",\"ret\":%d,\"result\":\"%s\"", e->ret,
			       e->ret ? iopf_errno_name(e->ret) : "ok");
		printf("}\n");
	} else {
		char comm[IOPF_COMM_LEN], dev[IOPF_DEV_LEN];

		iopf_printable(comm, e->comm, sizeof(comm));
		iopf_printable(dev, e->device, sizeof(dev));
		printf("%-*s %-6s %-7u %-16s %-12s %-7s %-4u %s\n",
		       env.relative ? 12 : 8, when, kind, e->tgid, comm,
		       dev, pasid, e->refs,
		       e->kind == SVA_SNOOP_UNBIND ? "-" :
		       e->ret ? iopf_errno_name(e->ret) : "ok");
	}
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.doc = doc,
		.children = iopf_argp_children,
	};
	struct ring_buffer *rb = NULL;
	struct sva_snoop_bpf *skel;
	int err;

	iopf_init();
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	if (iopf_check_kernel(tool, "iommu_sva_bind"))
		return 1;

	skel = sva_snoop_bpf__open();
	if (!skel)
		return iopf_fail(tool, "cannot open the BPF object", errno);
	skel->rodata->targ_tgid = iopf_filter.pid;
	skel->rodata->targ_failed = env.failed;
	err = sva_snoop_bpf__load(skel);
	if (err) {
		iopf_fail(tool, "cannot load the BPF programs", err);
		goto out;
	}
	err = sva_snoop_bpf__attach(skel);
	if (err) {
		iopf_fail(tool, "cannot attach to iommu_sva_bind/unbind", err);
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), handle_event,
			      NULL, NULL);
	if (!rb) {
		err = -errno;
		iopf_fail(tool, "cannot open the ring buffer", err);
		goto out;
	}

	if (getrandom(&mm_key, sizeof(mm_key), 0) != sizeof(mm_key))
		mm_key = clock_ns(CLOCK_MONOTONIC) * 0x2545f4914f6cdd1dULL;
	start_ns = clock_ns(CLOCK_BOOTTIME);
	wall_offset_ns = clock_ns(CLOCK_REALTIME) - start_ns;
	if (env.json) {
		fprintf(stderr, "Tracing SVA binds and unbinds... Hit Ctrl-C to end.\n");
	} else {
		printf("Tracing SVA binds and unbinds... Hit Ctrl-C to end.\n");
		printf("%-*s %-6s %-7s %-16s %-12s %-7s %-4s %s\n",
		       env.relative ? 12 : 8, env.relative ? "TIME(s)" : "TIME",
		       "EVENT", "PID", "COMM", "DEVICE", "PASID", "REFS",
		       "RESULT");
	}
	fflush(stdout);

	while (!iopf_exiting) {
		err = ring_buffer__poll(rb, 100);
		if (err == -EINTR) {
			err = 0;
			break;
		}
		if (err < 0) {
			iopf_fail(tool, "cannot read the ring buffer", err);
			goto out;
		}
		err = 0;
	}
	/* What the kernel recorded before the signal */
	ring_buffer__consume(rb);
	if (skel->bss->lost)
		fprintf(stderr, "%s: %llu events lost (ring buffer full)\n", tool,
			(unsigned long long)skel->bss->lost);
out:
	ring_buffer__free(rb);
	sva_snoop_bpf__destroy(skel);
	return err ? 1 : 0;
}
