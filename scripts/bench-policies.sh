#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bench-policies.sh [SETUP...]: the bundled policies' effect on a 64 MiB
# DMA over untouched memory, streaming and at random, next to the CPU
# first-touching the same memory in the same order, side by side in each
# boot (scripts/bench-policies-guest.sh, tests/bench/policy-bench.c).
# SETUP: none, or a bundled policy with options (prefault:window=64);
# default: none passthrough prefault prefault:window=64 prefault:window=256
# none:again (the last bounds the drift within a boot).
#
# BENCH_ICOUNT=N (default 3): QEMU -icount shift=N,sleep=off, guest time
# counts instructions and the figures repeat from boot to boot; empty:
# the wall clock. BENCH_BOOTS (default 3), BENCH_MIB (64), BENCH_ROUNDS
# (3). BENCH_QEMU_CPU (default max): the guest CPU model; "max,-erms,-fsrm"
# takes away the byte-wise REP MOVSB/STOSB that the kernel's memcpy() and
# clear_page() use otherwise, and that icount weighs one instruction per
# byte (docs/benchmarks.md). The table: medians over boots of each
# setup's median round, and ratios to "none" and to the CPU of the same
# boot.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${IOPFKIT_BUILD:-$top/build}
setups=("$@")
[ ${#setups[@]} -gt 0 ] ||
	setups=(none passthrough prefault prefault:window=64 prefault:window=256 none:again)
boots=${BENCH_BOOTS:-3}
mib=${BENCH_MIB:-64}
rounds=${BENCH_ROUNDS:-3}
icount=${BENCH_ICOUNT-3}
mode=${icount:+icount}
mode=${mode:-wall}
cpu=${BENCH_QEMU_CPU:-max}
tag=$mode
[ "$cpu" = max ] || tag=$mode-$(echo "$cpu" | tr -d , | tr + -)
out=$build/vm/out
raw=$out/bench-policies-$tag.raw
table=$out/bench-policies-$tag.txt

# the binaries of this run: a rebuild while it runs changes nothing
bindir=$out/bench-policies-bin
mkdir -p "$bindir"
cp "$build/bin/iopf-policy" "$build/bench/policy-bench" "$bindir/"
: > "$raw"
for ((i = 1; i <= boots; i++)); do
	echo "bench-policies ($tag): boot $i/$boots" >&2
	IOPFKIT_QEMU_CPU=$cpu "$top/scripts/vm-run.sh" -c 1 ${icount:+-d "$icount"} -t 1800 \
		-l "$build/vm/console-bench.log" -- \
		"$top/scripts/bench-policies-guest.sh" "$bindir" "$mib" "$rounds" "${setups[@]}" |
		sed -n "s/^result /$i /p" >> "$raw"
done

# raw: BOOT SETUP ACCESS DEVICE_MS REQUESTS GROUPS CPU_MS CPU_COPY_MS FLOOR_MS
median() {	# SETUP ACCESS AWK-EXPR
	awk -v s="$1" -v a="$2" "\$2 == s && \$3 == a { print $3 }" "$raw" | sort -g |
		awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

{
	if [ "$mode" = icount ]; then
		echo "# guest time: QEMU -icount shift=$icount,sleep=off (deterministic), 1 vCPU"
	else
		echo "# guest time: wall clock (QEMU TCG on a shared host), 1 vCPU"
	fi
	echo "# guest CPU: -cpu $cpu; policy-bench -s $mib -r $rounds, $boots boots; medians over boots;"
	echo "# swsva group_pages 8"
	printf '%-6s %-20s %10s %9s %7s %8s %9s %8s %8s %9s %9s %7s\n' access setup "device ms" \
		requests groups "vs none" "cpu ms" "dev/cpu" "copy ms" "dev/copy" "floor ms" spread
	for access in seq random; do
		none=$(median none "$access" '$4')
		for setup in "${setups[@]}"; do
			ms=$(median "$setup" "$access" '$4')
			lo=$(awk -v s="$setup" -v a="$access" '$2 == s && $3 == a { print $4 }' "$raw" | sort -g | head -1)
			hi=$(awk -v s="$setup" -v a="$access" '$2 == s && $3 == a { print $4 }' "$raw" | sort -g | tail -1)
			awk -v a="$access" -v s="$setup" -v ms="$ms" -v none="$none" \
			    -v req="$(median "$setup" "$access" '$5')" \
			    -v grp="$(median "$setup" "$access" '$6')" \
			    -v cpu="$(median "$setup" "$access" '$7')" \
			    -v ratio="$(median "$setup" "$access" '$4 / $7')" \
			    -v copy="$(median "$setup" "$access" '$8')" \
			    -v cratio="$(median "$setup" "$access" '$4 / $8')" \
			    -v floor="$(median "$setup" "$access" '$9')" \
			    -v lo="$lo" -v hi="$hi" \
				'BEGIN { printf "%-6s %-20s %10.1f %9d %7d %8.3f %9.1f %8.2f %8.1f %9.2f %9.1f %6.2f%%\n",
					 a, s, ms, req, grp, none / ms, cpu, ratio, copy, cratio, floor,
					 100 * (hi - lo) / ms }'
		done
	done
	echo "# vs none: speed relative to no policy (none's time / this time); dev/cpu: the"
	echo "# DMA's time over the CPU's first touch of the same pages (a byte each) in the"
	echo "# same boot; dev/copy: over the CPU copying the same data into untouched memory;"
	echo "# floor ms: the same DMA into memory already present (no page request): the"
	echo "# device's own cost; spread: max - min device ms over the boots"
} | tee "$table"
