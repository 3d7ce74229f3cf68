#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo, in the guest: a realistic load on the software SVA device
# (tests/bench/swsva-load.c: processes that stream, DMA at random, make
# bad accesses and die mid-DMA), watched by the iopfkit tools: iopf-top
# for a few intervals, then iopf-lat with its heat map, sva-snoop, the
# Prometheus exporter, and a fault policy (iopf-policy run prefault) that
# cuts the streams' page requests.  Everything shown is their real output.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${IOPFKIT_BUILD:-$top/build}
bin=$build/bin
out=${IOPFKIT_VM_OUT:-/tmp}
# the load runs until the tools are done, at most this long
seconds=${DEMO_SECONDS:-600}

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

section "iopfkit demo: kernel $(uname -r), $(nproc) vCPUs (QEMU)"
want=$(cat "$build/kbuild-${KERNEL_FLAVOR:-default}/include/config/kernel.release")
[ "$(uname -r)" = "$want" ] || echo "warning: not the kernel built here ($want)"
modprobe ${IOPFKIT_MODROOT:+-d "$IOPFKIT_MODROOT"} swsva
echo "software SVA device: $(ls /dev/swsva* | tr '\n' ' ')(docs/swsva.md)"

section "workload: swsva-load (2 streaming, 1 random, 1 bad accesses, 1 exiting mid-DMA)"
# an iopf-top that sees the whole run, for the check against the device
"$bin/iopf-top" -j 1 > /tmp/top.json &
audit=$!
until [ -s /tmp/top.json ]; do sleep 0.2; done
"$build/bench/swsva-load" -q -d "$seconds" > /tmp/load.out 2>&1 &
load=$!
trap 'kill $load $audit 2>/dev/null; wait $load $audit 2>/dev/null' EXIT
# stream-0 binds first: the tools below start after it and find it by scanning
sleep 2

section "iopf-top -C 2 3: page requests per device, PASID and process"
"$bin/iopf-top" -C 2 3

section "iopf-lat -P --heatmap, 6 s: response latency per PASID, and a heat map"
timeout --preserve-status -s INT 6 "$bin/iopf-lat" -P --heatmap "$out/iopf-lat-heatmap.svg"

section "iopf-lat -S 5 1: where the time goes, stage by stage"
"$bin/iopf-lat" -S 5 1

section "sva-snoop, 5 s: binds and unbinds (the exiter binds again and again)"
timeout --preserve-status -s INT 5 "$bin/sva-snoop"

section "iopf-exporter: Prometheus metrics (one scrape, checked by promtool)"
port=9478
"$bin/iopf-exporter" -l "127.0.0.1:$port" &
exporter=$!
for i in $(seq 50); do
	curl -sf "http://127.0.0.1:$port/metrics" > /tmp/metrics.txt && break
	sleep 0.2
done
sleep 2
curl -sf "http://127.0.0.1:$port/metrics" > /tmp/metrics.txt
kill -INT $exporter 2>/dev/null || true
wait $exporter || true
grep -E '^iopf_(page_requests_total|page_request_groups_total|page_responses_total|pasid_info)' /tmp/metrics.txt | head -n 12
echo "... $(grep -vc '^#' /tmp/metrics.txt) samples; promtool check metrics: $(promtool check metrics < /tmp/metrics.txt 2>&1 && echo ok)"

section "iopf-policy run prefault, 2 x 2 s: fault ahead of the streams (docs/policies.md)"
# The streams' page requests drop; the random worker starts no stream
"$bin/iopf-policy" run prefault -d swsva0 -q -i 2 -c 2
echo "... and iopf-top for 2 s with it attached, then without:"
"$bin/iopf-policy" attach prefault -d swsva0 -n demo_prefault > /dev/null
"$bin/iopf-top" -C 2 1 | sed -n '/^DEVICE/,$p'
"$bin/iopf-policy" detach demo_prefault > /dev/null
"$bin/iopf-top" -C 2 1 | sed -n '/^DEVICE/,$p'

section "the workload's own count (the device's counters, which the tools must match)"
# (on a slow machine the load may have ended by itself)
kill -INT $load 2>/dev/null || true
wait $load || true
sleep 1.5
kill -INT $audit 2>/dev/null || true
wait $audit || true
trap - EXIT
cat /tmp/load.out

section "check: what iopf-top counted over the whole run, against the device"
python3 - /tmp/top.json <<'PY'
import json, sys
tot = {}
for line in open(sys.argv[1]):
    for k, v in json.loads(line)["totals"].items():
        if k in ("requests", "groups", "responses", "success", "invalid", "failure"):
            tot[k] = tot.get(k, 0) + v
dev = {k: sum(int(open(f"/sys/bus/swsva/devices/swsva{e}/counters/{c}").read())
              for e in (0, 1))
       for k, c in (("requests", "page_requests"), ("groups", "groups"),
                    ("responses", "responses"), ("success", "resp_success"),
                    ("invalid", "resp_invalid"), ("failure", "resp_failure"))}
for k in dev:
    print(f"  {k:10} iopf-top {tot.get(k, 0):8}   device {dev[k]:8}   "
          + ("ok" if tot.get(k, 0) == dev[k] else "DIFFERENT"))
PY
echo
echo "heat map: build/vm/out/iopf-lat-heatmap.svg"
