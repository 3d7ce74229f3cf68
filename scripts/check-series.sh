#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# check-series.sh: every patch of kernel-patches/ builds on its own.
#
# Applies the series one patch at a time in a separate worktree of
# build/linux (build/series-check) and builds the kernel and modules after
# each, incrementally, with kernel-config/series-check.config on top of
# the usual configuration so that the files each patch touches compile.
# Takes one full kernel build plus an incremental one per patch.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${IOPFKIT_BUILD:-$top/build}
tree=$build/linux
wt=$build/series-check
out=$build/kbuild-series

[ -d "$tree/.git" ] || { echo "check-series: run 'make kernel' first" >&2; exit 2; }
mapfile -t patches < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$top/kernel-patches/series")

git -C "$tree" worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"
git -C "$tree" worktree prune
git -C "$tree" worktree add -q --detach "$wt" base
mkdir -p "$out"

kmake() { IOPFKIT_KTREE=$wt "$top/scripts/kernel.sh" make "$out" "$@"; }

# Options a patch adds (CONFIG_IOMMU_SWSVA) are set as soon as they exist.
configure() {
	kmake tinyconfig >/dev/null
	KCONFIG_CONFIG=$out/.config "$wt/scripts/kconfig/merge_config.sh" -m -O "$out" \
		"$out/.config" "$top/kernel-config/iopfkit.config" \
		"$top/kernel-config/series-check.config" >/dev/null
	kmake olddefconfig >/dev/null
}

failed=0
n=0
for p in "${patches[@]}"; do
	n=$((n + 1))
	git -C "$wt" -c user.name=iopfkit -c user.email=iopfkit@localhost \
		am -q "$top/kernel-patches/$p"
	configure
	if kmake -j"$(nproc)" vmlinux modules > "$out/build-$n.log" 2>&1 &&
	   ! grep -E '(error|warning):' "$out/build-$n.log" | grep -v 'frame size'; then
		echo "ok $n $p"
	else
		echo "not ok $n $p (log: $out/build-$n.log)"
		failed=1
	fi
done
git -C "$tree" worktree remove --force "$wt"
exit $failed
