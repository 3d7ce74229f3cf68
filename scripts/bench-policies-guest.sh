#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest half of bench-policies.sh: BINDIR MIB ROUNDS SETUP... (BINDIR: the
# run's copy of iopf-policy and policy-bench)  For each SETUP in
# turn (none, or a bundled policy with options, "prefault:window=64";
# "none:again" is none, a second time), attaches it to swsva0 with
# iopf-policy, runs policy-bench streaming and at random, and prints
#   result SETUP ACCESS DEVICE_MS PAGE_REQUESTS GROUPS CPU_MS CPU_COPY_MS FLOOR_MS
set -eu
bindir=$1 mib=$2 rounds=$3
shift 3
bin=$bindir/iopf-policy
bench=$bindir/policy-bench
modprobe ${IOPFKIT_MODROOT:+-d "$IOPFKIT_MODROOT"} swsva
for setup in "$@"; do
	policy=${setup%%:*}
	opts=
	[ "$policy" = "$setup" ] || [ "$policy" = none ] ||
		opts=$(echo "${setup#*:}" | tr , ' ')
	# shellcheck disable=SC2086 # opts: NAME=VALUE words
	[ "$policy" = none ] || "$bin" attach "$policy" -d swsva0 -n bench $opts >&2
	for access in seq random; do
		"$bench" -s "$mib" -r "$rounds" -a "$access" |
			awk -v s="$setup" -v a="$access" \
				'$1 == "median" { print "result", s, a, $2, $3, $4, $5, $6, $7 }'
	done
	[ "$policy" = none ] || "$bin" detach bench >&2
done
