#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: runs in the guest.  Shows what the patched kernel offers.
# Later steps add the software SVA device, the tracepoints and the tools.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${IOPFKIT_BUILD:-$top/build}
bpftool=$build/bpftool/bpftool

echo "== iopfkit demo"
echo "kernel:        $(uname -r) ($(uname -m))"
want=$(cat "$build/kbuild-${KERNEL_FLAVOR:-default}/include/config/kernel.release")
if [ "$(uname -r)" = "$want" ]; then
	echo "               the patched kernel built by 'make kernel'"
else
	echo "               NOT the kernel built here ($want)"
fi
if [ -r /sys/kernel/btf/vmlinux ]; then
	echo "BTF:           /sys/kernel/btf/vmlinux, $(stat -c %s /sys/kernel/btf/vmlinux) bytes," \
		"$("$bpftool" btf dump file /sys/kernel/btf/vmlinux | grep -c '^\[') types"
else
	echo "BTF:           missing"
fi
echo "BPF programs:  $("$bpftool" feature probe kernel 2>/dev/null |
	sed -n 's/^eBPF program_type \([a-z_]*\) is available$/\1/p' | tr '\n' ' ')"
echo "IOMMU core:    IOMMU_SVA=$(zcat /proc/config.gz | sed -n 's/^CONFIG_IOMMU_SVA=//p')" \
	"IOMMU_IOPF=$(zcat /proc/config.gz | sed -n 's/^CONFIG_IOMMU_IOPF=//p')"
echo "tracing:       $(wc -l < /sys/kernel/tracing/available_events) events in tracefs"

echo
echo "== the software SVA device (docs/swsva.md)"
modprobe -d "$IOPFKIT_MODROOT" swsva
ls /dev/swsva*
"$build/bench/swsva-bench" -s 16 -r 1
echo "counters of swsva0:"
for c in page_requests groups responses resp_success in_flight binds unbinds; do
	printf '  %-14s %s\n' "$c" "$(cat /sys/bus/swsva/devices/swsva0/counters/$c)"
done
