// SPDX-License-Identifier: GPL-2.0
/*
 * iopf-top: page requests, groups and response latency per (device,
 * PASID), with the process behind each PASID. The counting is the shared
 * iopf_stats programs'; what is iopf-top's own is the dump below, which
 * reads the whole table in one read() and retires each entry's maximum
 * latency of the interval that just ended.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "iopf_tools.h"
#include "pasid_map.bpf.h"
#include "iopf_stats.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * Map element iterator over iopf_stats, attached by the tool with the
 * map's fd. One record per entry, struct iopf_stats_key then struct
 * iopf_stats, so that one read() returns the whole table.
 *
 * It also retires the maximum latency of the interval that just ended:
 * the tool bumps iopf_stats_epoch right before it reads, the programs then
 * write lat_max_ns[epoch & 1], and the other slot, copied out here, is
 * cleared for its next turn, two intervals later. Only that slot is
 * written, in place: a map update from user space would replace the
 * whole element (a hash map swaps in a copy), losing every count added
 * between the tool's lookup and its update.
 *
 * The slot is cleared only once the record is in the output: when the
 * output buffer is full, the kernel drops the entry's partial record and
 * runs the program on it again at the next read(), and a slot cleared by
 * the first run would have lost its maximum.
 *
 * The histogram in the record covers the responses up to the copy, the
 * old slot those up to the bump: the tool takes the larger of both slots
 * (the new one holds the responses in between), so that the maximum is
 * never below what the histogram holds, at the cost of counting those few
 * responses in the maximum of the next interval too.
 *
 * The race that remains: a program that read the epoch just before the
 * bump still writes the old slot. If it stores between the copy and the
 * clear below, its latency is lost to the maximum; if after the clear,
 * it shows up two intervals late. The window is the few instructions
 * between that program's read of the epoch and its store, and the maximum
 * is an observation, not a count: the counters and the histogram, where
 * p50 and p99 come from, are exact.
 */
SEC("iter/bpf_map_elem")
int iopf_top_dump(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct iopf_stats_key *key = ctx->key;
	struct iopf_stats *s = ctx->value;
	__u32 old = (iopf_stats_epoch + 1) & 1;

	if (!key || !s)
		return 0;
	if (bpf_seq_write(seq, key, sizeof(*key)) ||
	    bpf_seq_write(seq, s, sizeof(*s)))
		return 0;
	/* a buffer takes constant offsets only */
	if (old)
		s->lat_max_ns[1] = 0;
	else
		s->lat_max_ns[0] = 0;
	return 0;
}
