#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boots the patched kernel and runs the in-VM suites (vm-suite.sh):
#
#   vm        every tests/vm program;
#   vm-vtd    (default flavor) the device, trace, policy and tool programs
#             again, on a machine with QEMU's emulated Intel VT-d enabled,
#             where the software IOMMU must find its endpoints next to a
#             hardware one.
#
# Each boot's guest console is one more test case: a run whose console
# shows a kernel splat, or whose guest hangs or dies, fails it whatever the
# tests said.  Suite names carry the flavor for a debug kernel (vm-debug).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
flavor=${KERNEL_FLAVOR:-default}
suffix=
[ "$flavor" = default ] || suffix=-$flavor

# boot NAME [vm-run options] -- [PROGRAM...]
boot() {
	local name=$1 rc=0 log; shift
	local opts=()
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	log=$top/build/vm/console-$name.log
	"$top/scripts/vm-run.sh" -f "$flavor" -t "${VM_TIMEOUT:-2400}" -l "$log" \
		"${opts[@]}" -- "$top/tests/vm-suite.sh" "$name" "$@" || rc=$?
	case $rc in
	0|1) echo "ok - $name: guest console clean, guest finished ($log)"
	     echo "# $name-guest totals: pass:1 fail:0 skip:0" ;;
	123) echo "not ok - $name: kernel reports on the guest console ($log)"
	     echo "# $name-guest totals: pass:0 fail:1 skip:0" ;;
	*)   echo "not ok - $name: guest did not finish (exit $rc, console: $log)"
	     echo "# $name-guest totals: pass:0 fail:1 skip:0" ;;
	esac
	return $rc
}

rc=0
boot "vm$suffix" -- || rc=$?
if [ "$flavor" = default ]; then
	boot "vm-vtd" -i intel -- swsva swsva_adversarial iopf_trace fault_policy \
		fault_policy_edges fault_policy_stall fault_policy_limits fault_policy_guard \
		iopf_policy iopf_top iopf_lat sva_snoop iopf_exporter || rc=$?
fi
exit $rc
