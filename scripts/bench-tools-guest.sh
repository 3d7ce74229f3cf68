#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench-tools, in the guest: how long each tool takes to show its
# first data and how much memory it peaks at, next to the bpftrace
# equivalent of docs/tracing.md, side by side in one boot while the
# device runs a steady load.  Writes build/vm/out/bench-tools-start-MODE.txt.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${IOPFKIT_BUILD:-$top/build}
mode=${1:-wall}
runs=${BENCH_TOOL_RUNS:-3}
out=${IOPFKIT_VM_OUT:-/tmp}/bench-tools-start-$mode.txt
bin=$build/bin
start=$build/bench/tool-start

modprobe ${IOPFKIT_MODROOT:+-d "$IOPFKIT_MODROOT"} swsva
# a steady load, so that every tool has something to show in its first second
(while :; do "$build/bench/swsva-bench" -s 2 -r 1 > /dev/null; done) &
load=$!
trap 'kill $load 2>/dev/null' EXIT

# measure NAME MATCH COMMAND...: "NAME first_ms total_ms rss_kb"
measure() {
	local name=$1 match=$2; shift 2
	echo "bench-tools: $name: $*" >&2
	"$start" -n "$runs" -m "$match" -- "$@" > /tmp/start.out ||
		{ echo "$name failed: $(tail -n 1 /tmp/start.out)"; return; }
	awk -v n="$name" '$1 == "median" { print n, $2, $3, $4 }' /tmp/start.out
}

lat_bt='tracepoint:iommu:iommu_iopf_response
	{ @usecs[str(args->device)] = hist(args->latency_ns / 1000); }
	interval:s:1 { exit(); }'
snoop_bt='BEGIN { printf("Tracing SVA binds\n"); }
	tracepoint:iommu:iommu_sva_bind
	{ printf("%s[%d] pasid %d ret %d\n", comm, pid, args->pasid, args->ret); }
	interval:s:3 { exit(); }'

{
	echo "# kernel $(uname -r), $(nproc) vCPU(s), guest time: $mode${IOPFKIT_VM_ICOUNT:+ (-icount shift=$IOPFKIT_VM_ICOUNT,sleep=off)}"
	echo "# median of $runs runs under a steady swsva-bench load; first: ms to the"
	echo "# first data (interval tools: their first 1 s interval) or, for the"
	echo "# tracers, to the line that says they are attached; rss: peak KiB"
	measure iopf-top . "$bin/iopf-top" -C 1 1
	measure bpftrace:iopf-top.bt "@requests[" bpftrace "$top/scripts/iopf-top.bt" 1
	measure iopf-lat usecs "$bin/iopf-lat" 1 1
	measure bpftrace:iopf-lat "@usecs[" bpftrace -e "$lat_bt"
	measure sva-snoop "Tracing SVA" timeout --preserve-status -s INT 3 "$bin/sva-snoop"
	measure bpftrace:sva-snoop "Tracing SVA" bpftrace -e "$snoop_bt"
	measure iopf-exporter "iopf_page_requests_total" "$bin/iopf-exporter" --once
} | tee "$out"
