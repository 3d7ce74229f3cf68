#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest half of bench-kernels.sh: KIND MIB ROUNDS.  Sets up KIND, then
# prints "result GROUP_PAGES REQ/S P50_US CPU_FAULTS/S" per group size.
set -eu
kind=$1 mib=$2 rounds=$3
bench=$IOPFKIT_BUILD/bench/swsva-bench
# The device first, then what watches it: a tool started before the module
# measured slower still (iopf-top: 0.851 instead of 0.895 of no tool at one
# page per group, under icount), which is not how tools meet devices
modprobe ${IOPFKIT_MODROOT:+-d "$IOPFKIT_MODROOT"} swsva
policy() {
	mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
	mkdir -p /sys/fs/bpf/bench
	"$IOPFKIT_BUILD/bpftool/bpftool" struct_ops register \
		"$IOPFKIT_BUILD/bpfobj/$1.bpf.o" /sys/fs/bpf/bench >&2
}
# A tool started in the background is attached once its output shows $1
ready() {
	i=0
	until grep -q "$1" /tmp/tool.out 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 6000 ] || { echo "bench-kernels-guest: no '$1' from $kind" >&2; exit 1; }
		sleep 0.1
	done
}
case $kind in
base|off) ;;
on)
	echo 8192 > /sys/kernel/tracing/buffer_size_kb
	echo 1 > /sys/kernel/tracing/events/iommu/enable
	;;
pass) policy policy_pass ;;
group) policy policy_pass_group ;;
other) policy policy_pass_swsva1 ;;
top)
	"$IOPFKIT_BUILD/bin/iopf-top" -C 1 > /tmp/tool.out 2>&1 &
	ready .
	;;
bpftrace)
	bpftrace "$(dirname "$0")/iopf-top.bt" > /tmp/tool.out 2>&1 &
	ready "Tracing page requests"
	;;
*) echo "bench-kernels-guest: unknown kind $kind" >&2; exit 2 ;;
esac
for g in 1 8; do
	"$bench" -s "$mib" -r "$rounds" -g "$g" |
		awk -v g="$g" '$1 == "median" { print "result", g, $2, $3, $5 }'
done
