#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boots the patched kernel and runs the in-VM suite (vm-suite.sh).  The
# guest console is one more test case: a run whose console shows a kernel
# splat, or whose guest hangs or dies, fails it whatever the tests said.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
flavor=${KERNEL_FLAVOR:-default}
log=$top/build/vm/console-$flavor.log
rc=0
"$top/scripts/vm-run.sh" -f "$flavor" -t "${VM_TIMEOUT:-2400}" -l "$log" \
	-- "$top/tests/vm-suite.sh" || rc=$?
case $rc in
0|1) echo "ok - vm: guest console clean, guest finished ($log)"
     echo "# vm-guest totals: pass:1 fail:0 skip:0" ;;
123) echo "not ok - vm: kernel reports on the guest console ($log)"
     echo "# vm-guest totals: pass:0 fail:1 skip:0" ;;
*)   echo "not ok - vm: guest did not finish (exit $rc, console: $log)"
     echo "# vm-guest totals: pass:0 fail:1 skip:0" ;;
esac
exit $rc
