#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The VM harness end to end: it returns the guest command's status, fails a
# run whose kernel splats (a real WARN from lkdtm), ignores "WARNING:" in
# the command's own output, and times out a hung guest; -c and -b work.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/build/linux/tools/testing/selftests/kselftest/ktap_helpers.sh"
vmrun=$top/scripts/vm-run.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ktap_print_header
if [ ! -f "$top/build/kbuild-${KERNEL_FLAVOR:-default}/arch/x86/boot/bzImage" ]; then
	ktap_skip_all "no kernel built: run 'make kernel'"
	ktap_print_totals
	exit "$KSFT_SKIP"
fi
ktap_set_plan 13

# expect NAME STATUS [vm-run args...]
expect() {
	local name=$1 want=$2 rc=0
	shift 2
	"$vmrun" -l "$tmp/console.log" "$@" > "$tmp/out" 2>&1 || rc=$?
	if [ "$rc" -eq "$want" ]; then
		ktap_test_pass "$name"
	else
		ktap_print_msg "exit $rc, expected $want; output:"
		sed 's/^/#   /' "$tmp/out" | tail -n 30
		ktap_test_fail "$name"
	fi
}

expect "guest command's exit status is returned" 7 -t 120 -- sh -c 'exit 7'
expect "'WARNING:' printed by the command is not a splat" 0 -t 120 -- \
	sh -c 'echo "WARNING: CPU: 0 PID: 1 at fake.c:1"; echo "BUG: not a real one"'
expect "a kernel WARN fails the run" 123 -t 120 -- sh -c \
	'modprobe -d "$IOPFKIT_MODROOT" lkdtm && echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT'
expect "a hung guest times out" 124 -t 15 -- sleep 600
expect "bad arguments are a usage error" 2 -t soon -- true
expect "a bad CPU count is a usage error" 2 -c 0 -- true
expect "a missing build folder is a usage error" 2 -b "$tmp/none" -- true
expect "an unknown IOMMU is a usage error" 2 -i amd -- true
expect "an icount shift out of range is a usage error" 2 -d 11 -- true
expect "-d runs the guest on instruction-counted time" 0 -d 3 -c 1 -t 120 -- \
	sh -c '[ "$IOPFKIT_VM_ICOUNT" = 3 ] && [ "$(nproc)" = 1 ]'
expect "-i intel boots with an enabled VT-d" 0 -i intel -t 120 -- sh -c \
	'[ "$IOPFKIT_VM_IOMMU" = intel ] && [ -e /sys/class/iommu/dmar0 ]'
expect "-c sets the guest's CPUs" 0 -c 1 -t 120 -- sh -c '[ "$(nproc)" = 1 ]'
expect "-b boots the kernel and modules of a build folder" 0 -t 120 \
	-b "$top/build/kbuild-${KERNEL_FLAVOR:-default}" -- \
	sh -c 'modprobe -d "$IOPFKIT_MODROOT" lkdtm && [ -d /sys/kernel/debug/provoke-crash ]'
ktap_finished
