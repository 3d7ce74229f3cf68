#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bench-kernels.sh NAME N KIND...: the swsva benchmark on kernels and
# setups side by side.  The first KIND is the baseline, "base": the kernel
# with only the first N patches of the series, built by
# "scripts/kernel.sh build-first N", or with N "full" the full series with
# nothing set up.  The other KINDs boot the full series and set up what
# bench-kernels-guest.sh names them for:
#
#   off    nothing (trace events off, no fault policy)
#   on     every iommu trace event on, into the tracefs buffer
#   pass   a passthrough fault policy (policy_pass.bpf.o: group, request
#          and response callbacks) on the benchmark's endpoint, swsva0
#   group  a passthrough policy with a group callback only
#          (policy_pass_group.bpf.o), on swsva0
#   other  the same policy on the other endpoint, swsva1
#   top    iopf-top running (batch mode, 1 s interval, output to a file)
#   bpftrace  its bpftrace equivalent, scripts/iopf-top.bt, running
#
# The guests are booted in turn, KIND after KIND, so that the drift of a
# noisy host spreads evenly over them.  Each boot gives one median per
# group size; the table takes the median over boots, and the ratios to
# base in the same run.  "vs cpu" divides the device's rate by the CPU's
# first-touch rate measured in the same boot, which cancels most of the
# boot-to-boot noise.
#
# BENCH_ICOUNT=N (the default, 3) runs the guests with QEMU's -icount
# shift=N,sleep=off: guest time counts instructions, so a figure repeats
# from boot to boot to 0.1% whatever the host does, and ratios resolve
# effects of 1%.  BENCH_ICOUNT= (empty) runs them on the wall clock.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${IOPFKIT_BUILD:-$top/build}
name=${1:?usage: $0 NAME N KIND...}
base_n=${2:?usage: $0 NAME N KIND... (N: patches of the baseline kernel)}
shift 2
kinds=("base" "$@")
boots=${BENCH_BOOTS:-5}
mib=${BENCH_MIB:-32}
rounds=${BENCH_ROUNDS:-3}
cpus=${BENCH_CPUS:-1}
icount=${BENCH_ICOUNT-3}
mode=${icount:+icount}
mode=${mode:-wall}
base_kbuild=$build/first-$base_n/kbuild-default
full_kbuild=$build/kbuild-default
[ "$base_n" = full ] && base_kbuild=$full_kbuild
out=$build/vm/out
raw=$out/bench-$name-$mode.raw
table=$out/bench-$name-$mode.txt

mkdir -p "$out"
: > "$raw"
for ((i = 1; i <= boots; i++)); do
	for kind in "${kinds[@]}"; do
		kb=$full_kbuild
		[ $kind = base ] && kb=$base_kbuild
		echo "bench-$name ($mode): boot $i/$boots, $kind" >&2
		"$top/scripts/vm-run.sh" -b "$kb" -c "$cpus" ${icount:+-d "$icount"} \
			-t 900 -l "$build/vm/console-bench.log" -- \
			"$top/scripts/bench-kernels-guest.sh" "$kind" "$mib" "$rounds" |
			sed -n "s/^result /$kind /p" >> "$raw"
	done
done

# raw lines: KIND G RATE P50 CPU; quantile Q (0-1, interpolated) over the
# boots of KIND and G of EXPR
quantile() {
	awk -v k="$1" -v g="$2" "\$1 == k && \$2 == g { print $4 }" "$raw" | sort -g |
		awk -v q="$3" '{ v[NR] = $1 }
			END { x = 1 + q * (NR - 1); i = int(x); f = x - i
			      print i < NR ? v[i] + f * (v[i + 1] - v[i]) : v[NR] }'
}

{
	if [ "$mode" = icount ]; then
		echo "# guest time: QEMU -icount shift=$icount,sleep=off (deterministic)"
	else
		echo "# guest time: wall clock (QEMU TCG on a shared host)"
	fi
	echo "# bench-$name: swsva-bench -s $mib -r $rounds, $boots boots of each, in turn, $cpus vCPU(s)"
	if [ "$base_n" = full ]; then
		echo "# base: the full series, nothing attached"
	else
		echo "# base: first $base_n patches ($(git -C "$build/first-$base_n/linux" log -1 --format=%s))"
	fi
	echo "# ${kinds[*]:1}: full series ($(git -C "$build/linux" rev-list --count base..HEAD) patches), see scripts/bench-kernels.sh"
	echo "# medians over boots; req/s q1-q3: the spread between boots"
	printf '%-4s %-5s %8s %15s %8s %8s %11s %12s\n' g kernel "req/s" "req/s q1-q3" \
		"p50 us" "vs cpu" "req/s/base" "vs cpu/base"
	for g in $(awk '{ print $2 }' "$raw" | sort -nu); do
		declare -A rate=() q1=() q3=() p50=() norm=()
		for kind in "${kinds[@]}"; do
			rate[$kind]=$(quantile "$kind" "$g" 0.5 '$3')
			q1[$kind]=$(quantile "$kind" "$g" 0.25 '$3')
			q3[$kind]=$(quantile "$kind" "$g" 0.75 '$3')
			p50[$kind]=$(quantile "$kind" "$g" 0.5 '$4')
			norm[$kind]=$(quantile "$kind" "$g" 0.5 '$3 / $5')
		done
		for kind in "${kinds[@]}"; do
			awk -v g="$g" -v k=$kind -v r="${rate[$kind]}" -v a="${q1[$kind]}" \
			    -v b="${q3[$kind]}" -v p="${p50[$kind]}" -v n="${norm[$kind]}" \
			    -v rb="${rate[base]}" -v nb="${norm[base]}" \
				'BEGIN { printf "%-4s %-5s %8.0f %7.0f-%-7.0f %8.1f %8.4f %11.3f %12.3f\n",
					 g, k, r, a, b, p, n, r / rb, n / nb }'
		done
	done
} | tee "$table"
