#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest half of bench-tracepoints.sh: KIND MIB ROUNDS.  Prints
# "result GROUP_PAGES REQ/S P50_US CPU_FAULTS/S" per group size.
set -eu
kind=$1 mib=$2 rounds=$3
bench=$IOPFKIT_BUILD/bench/swsva-bench
if [ "$kind" = on ]; then
	echo 8192 > /sys/kernel/tracing/buffer_size_kb
	echo 1 > /sys/kernel/tracing/events/iommu/enable
fi
for g in 1 8; do
	"$bench" -s "$mib" -r "$rounds" -g "$g" |
		awk -v g="$g" '$1 == "median" { print "result", g, $2, $3, $5 }'
done
