#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest half of bench-policies.sh: MIB ROUNDS SETUP...  For each SETUP in
# turn (none, or a bundled policy with options, "prefault:window=64"),
# attaches it to swsva0 with iopf-policy, runs policy-bench streaming and
# at random, and prints
#   result SETUP ACCESS DEVICE_MS PAGE_REQUESTS GROUPS CPU_MS
set -eu
mib=$1 rounds=$2
shift 2
bin=$IOPFKIT_BUILD/bin/iopf-policy
bench=$IOPFKIT_BUILD/bench/policy-bench
modprobe ${IOPFKIT_MODROOT:+-d "$IOPFKIT_MODROOT"} swsva
for setup in "$@"; do
	policy=${setup%%:*}
	opts=
	[ "$policy" = "$setup" ] || opts=$(echo "${setup#*:}" | tr , ' ')
	# shellcheck disable=SC2086 # opts: NAME=VALUE words
	[ "$policy" = none ] || "$bin" attach "$policy" -d swsva0 -n bench $opts >&2
	for access in seq random; do
		"$bench" -s "$mib" -r "$rounds" -a "$access" |
			awk -v s="$setup" -v a="$access" \
				'$1 == "median" { print "result", s, a, $2, $3, $4, $5 }'
	done
	[ "$policy" = none ] || "$bin" detach bench >&2
done
