#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: the host suite, then the in-VM suites on each kernel flavor
# of $CHECK_FLAVORS (default: "default"; CI adds "debug", the KASAN,
# lockdep and kmemleak kernel); ends with the plain line
# "N passed, N failed[, N skipped]" that adds up every test case.  The whole
# output stays in build/check.log.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/check.log
mkdir -p "$top/build"
: > "$out"

"$top/tests/run-host.sh" 2>&1 | tee -a "$out"
flavors=${CHECK_FLAVORS:-default}
want=1
for flavor in $flavors; do
	KERNEL_FLAVOR=$flavor "$top/tests/run-vm.sh" 2>&1 | tee -a "$out"
	# vm and vm-vtd on the default kernel, vm on the others, with consoles
	if [ "$flavor" = default ]; then want=$((want + 4)); else want=$((want + 2)); fi
done

sum() { grep -E '^# [a-z-]+ totals: ' "$out" | sed -E "s/.* $1:([0-9]+).*/\\1/" |
	awk '{ n += $1 } END { print n + 0 }'; }
pass=$(sum pass); fail=$(sum fail); skip=$(sum skip)
suites=$(grep -cE '^# [a-z-]+ totals: ' "$out")
if [ "$suites" -lt "$want" ]; then
	echo "check: a suite ended without totals"
	fail=$((fail + 1))
fi
line="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && line+=", $skip skipped"
echo "$line"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
