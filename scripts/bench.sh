#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: runs in the guest.  Every figure of a table comes from one run,
# side by side, so that ratios hold on noisy machines; docs/benchmarks.md
# records them.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${IOPFKIT_BUILD:-$top/build}
mode=${1:-wall}
out=${IOPFKIT_VM_OUT:-/tmp}/bench-$mode.txt
{
	echo "# kernel $(uname -r), $(nproc) vCPUs, QEMU TCG, guest time: $mode${IOPFKIT_VM_ICOUNT:+ (-icount shift=$IOPFKIT_VM_ICOUNT,sleep=off)}"
	for g in 1 8; do
		"$build/bench/swsva-bench" -s 64 -r 5 -g "$g"
		echo
	done
} | tee "$out"
