#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The VM harness's console rule (scripts/console-check.sh), against guest
# consoles recorded from real runs: clean-*.log must pass, splat-*.log
# (WARN, BUG, lockdep, KASAN, kmemleak, ...) must fail and be reported.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/build/linux/tools/testing/selftests/kselftest/ktap_helpers.sh"
check=$top/scripts/console-check.sh
dir=$top/tests/host/consoles

clean=("$dir"/clean-*.log)
splat=("$dir"/splat-*.log)
ktap_print_header
ktap_set_plan $(( ${#clean[@]} + ${#splat[@]} + 1 ))

for log in "${clean[@]}"; do
	if out=$("$check" "$log" 2>&1) && [ -z "$out" ]; then
		ktap_test_pass "clean console passes: $(basename "$log")"
	else
		ktap_print_msg "$out"
		ktap_test_fail "clean console passes: $(basename "$log")"
	fi
done

for log in "${splat[@]}"; do
	# each recorded splat names the line the checker must quote
	want=$(sed -n 's/^# expect: //p' "$log.expect" 2>/dev/null)
	out=$("$check" "$log" 2>&1); rc=$?
	if [ $rc -eq 1 ] && [ -n "$want" ] && grep -qF -- "$want" <<< "$out"; then
		ktap_test_pass "splat is reported: $(basename "$log")"
	else
		ktap_print_msg "exit $rc, expected 1 and a report quoting '$want'"
		ktap_test_fail "splat is reported: $(basename "$log")"
	fi
done

"$check" /nonexistent/console.log > /dev/null 2>&1
rc=$?
if [ $rc -eq 2 ]; then
	ktap_test_pass "unreadable console is an error, not a pass"
else
	ktap_test_fail "unreadable console is an error, not a pass (exit $rc)"
fi
ktap_finished
