/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The iopfkit tools' shared helpers: start-up checks, argument parsing,
 * signals, the PASID-to-process map, histograms, JSON and time stamps.
 * Kept small on purpose: one tool per file in tools/, this is what two or
 * more of them need.
 */
#ifndef IOPFKIT_TOOLS_LIB_H
#define IOPFKIT_TOOLS_LIB_H

#include <argp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>
#include <bpf/libbpf.h>

#include "iopf_tools.h"

/* Set by SIGINT and SIGTERM (iopf_init()): tools leave their loop */
extern volatile sig_atomic_t iopf_exiting;
/* -v: libbpf's debug output */
extern bool iopf_verbose;

/*
 * Call first: bad flags then exit 2 (argp's default is 64), SIGINT and
 * SIGTERM set iopf_exiting, and libbpf prints only with -v.
 */
void iopf_init(void);

/* Whether the process may load BPF: CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON */
bool iopf_privileged(void);

/*
 * Before loading anything: a one-line message on stderr and -1 when the
 * user lacks privileges, the kernel lacks BTF, or lacks the iommu trace
 * events of the iopfkit series (@event, e.g. "iommu_iopf_report").
 */
int iopf_check_kernel(const char *tool, const char *event);

/*
 * A loader's failure: one line naming what failed, with strerror; or, if
 * the kernel lacks the event iopf_check_kernel() was given, saying so
 */
int iopf_fail(const char *tool, const char *what, int err);

/*
 * Numeric option values: anything but a whole decimal number in
 * [min, max] is an argp_error() (usage, exit 2) naming the option.
 */
long long iopf_arg_num(struct argp_state *state, const char *opt,
		       const char *arg, long long min, long long max);

/*
 * What the tools select by, set by iopf_filter_argp: -d DEV, -p PID,
 * --pasid N (-1: requests without a PASID, and binds that got none)
 */
struct iopf_filter {
	const char *device;	/* NULL: any */
	pid_t pid;		/* 0: any */
	bool has_pasid;
	long long pasid;
};
extern struct iopf_filter iopf_filter;

/* The largest PASID (PCIe: 20 bits) */
#define IOPF_MAX_PASID	((1LL << 20) - 1)

/*
 * argp children every tool lists (struct argp_child): iopf_filter_argp
 * for -d, -p and --pasid, iopf_base_argp for -v and a hidden -h (--help)
 */
extern const struct argp iopf_filter_argp;
extern const struct argp iopf_base_argp;
/* Both, as a tool's struct argp::children */
extern const struct argp_child iopf_argp_children[];

/* Whether @dev, @pasid and the process @tgid pass the filter */
bool iopf_filter_match(const char *dev, long long pasid, pid_t tgid);

/* Whether the running kernel has trace event @event (parses vmlinux BTF) */
bool iopf_kernel_has_event(const char *event);

/* Positional [interval] [count] of the bcc tools */
int iopf_arg_interval_count(struct argp_state *state, const char *arg,
			    int *interval, int *count);

/*
 * Runs the task iterator iopf_iter_pasids (bpf/pasid_map.bpf.h) once:
 * fills pasid_procs with the bindings made before the tool started.
 */
int iopf_pasid_map_scan(struct bpf_program *iter);

/*
 * The process behind @pasid: 0 and fills @proc, or -ENOENT (no bind seen
 * or found: the label is then "?", tgid 0)
 */
int iopf_pasid_lookup(int map_fd, __u32 pasid, struct iopf_proc *proc);

/*
 * Time stamps: HH:MM:SS (-T), Unix time in seconds (the "time" of every
 * JSON object), seconds since boot, CLOCK_MONOTONIC ns
 */
void iopf_strftime(char *buf, size_t size);
double iopf_epoch(void);
double iopf_uptime(void);
__u64 iopf_now_ns(void);

/* "EINVAL" for 22 (glibc's strerrorname_np), "E<n>" if unknown; 0: "0" */
const char *iopf_errno_name(int err);

/*
 * The length of the UTF-8 sequence at @s (before @end), or 0 if invalid:
 * a comm or a device name from the kernel is any bytes, and often cut in
 * the middle of a character
 */
size_t iopf_utf8_len(const char *s, const char *end);
#define IOPF_REPLACEMENT_CHAR	"\xef\xbf\xbd"	/* U+FFFD, for invalid bytes */

/* @s as a JSON string: quotes, escapes, invalid UTF-8 replaced */
void iopf_json_str(FILE *f, const char *s);

/* @src for a terminal, in @dst: what is not printable ASCII becomes '?' */
void iopf_printable(char *dst, const char *src, size_t size);

/*
 * A log2 histogram as bcc's print_log2_hist() prints it:
 *     usecs               : count    distribution
 *         0 -> 1          : 0        |                                        |
 */
void iopf_print_log2_hist(FILE *f, const __u64 *vals, int nr, const char *unit);
/* ... and as JSON: [{"low":0,"high":1,"count":0}, ...], empty tail cut */
void iopf_json_log2_hist(FILE *f, const __u64 *vals, int nr);

/*
 * The log-linear latency histogram of struct iopf_stats: the latency (ns)
 * below which a fraction @p of the @total samples lie, interpolated
 * within its slot; 0 when empty.
 */
double iopf_lat_percentile(const __u64 *slots, __u64 total, double p);

#endif
