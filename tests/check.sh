#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: the host suite, then the in-VM suite; ends with the plain line
# "N passed, N failed[, N skipped]" that adds up every test case.  The whole
# output stays in build/check.log.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/check.log
mkdir -p "$top/build"
: > "$out"

"$top/tests/run-host.sh" 2>&1 | tee -a "$out"
"$top/tests/run-vm.sh" 2>&1 | tee -a "$out"

sum() { grep -E '^# [a-z-]+ totals: ' "$out" | sed -E "s/.* $1:([0-9]+).*/\\1/" |
	awk '{ n += $1 } END { print n + 0 }'; }
pass=$(sum pass); fail=$(sum fail); skip=$(sum skip)
suites=$(grep -cE '^# [a-z-]+ totals: ' "$out")
if [ "$suites" -lt 3 ]; then
	echo "check: a suite ended without totals"
	fail=$((fail + 1))
fi
line="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && line+=", $skip skipped"
echo "$line"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
