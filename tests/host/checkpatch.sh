#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every patch of the series passes checkpatch --strict (a missing
# Signed-off-by aside: the series is signed off when it is sent).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/build/linux/tools/testing/selftests/kselftest/ktap_helpers.sh"
checkpatch=$top/build/linux/scripts/checkpatch.pl

mapfile -t patches < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$top/kernel-patches/series")
ktap_print_header
if [ ${#patches[@]} -eq 0 ]; then
	ktap_skip_all "the series has no patch yet"
	ktap_print_totals
	exit "$KSFT_SKIP"
fi
ktap_set_plan ${#patches[@]}
for p in "${patches[@]}"; do
	out=$(perl "$checkpatch" --strict --no-signoff --quiet --no-tree \
		"$top/kernel-patches/$p" 2>&1)
	if [ -z "$out" ]; then
		ktap_test_pass "checkpatch --strict: $p"
	else
		echo "$out" | sed 's/^/# /'
		ktap_test_fail "checkpatch --strict: $p"
	fi
done
ktap_finished
