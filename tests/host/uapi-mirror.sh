#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The uapi headers our programs compile against (include/linux/) are the
# ones the kernel series ships (include/uapi/linux/ in build/linux).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/build/linux/tools/testing/selftests/kselftest/ktap_helpers.sh"

headers=("$top"/include/linux/*.h)
ktap_print_header
ktap_set_plan ${#headers[@]}
for h in "${headers[@]}"; do
	name=$(basename "$h")
	kernel=$top/build/linux/include/uapi/linux/$name
	if cmp -s "$h" "$kernel"; then
		ktap_test_pass "include/linux/$name mirrors the series"
	else
		ktap_print_msg "$(diff -u "$kernel" "$h" 2>&1 | head -n 20)"
		ktap_test_fail "include/linux/$name mirrors the series"
	fi
done
ktap_finished
