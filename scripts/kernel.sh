#!/bin/bash
# The patched kernel: unpack, patch, configure, build, and regenerate the
# series from the tree.
#
#   scripts/kernel.sh tree            unpack + apply kernel-patches/series
#   scripts/kernel.sh build [FLAVOR]  tree + configure + bzImage + modules
#   scripts/kernel.sh build-first N   the default kernel with only the first N
#                                     patches, in build/first-N (benchmarks)
#   scripts/kernel.sh build-rev REV NAME [FLAVOR]
#                                     a kernel of any commit of the tree, in
#                                     build/rev-NAME (e.g. the series with a
#                                     fix reverted, to see its test fail)
#   scripts/kernel.sh format-patch    kernel-patches/ from the tree's commits
#   scripts/kernel.sh make OUT ARGS   make in the tree with O=OUT, as the build
#                                     does ($IOPFKIT_KTREE: another tree)
#
# The tree (build/linux) is a git repository: the pristine Debian source is
# its first commit, tagged "base", and the series is applied on top with
# "git am".  Kernel developers edit and commit there, then run
# "make kernel-patches".  Objects go to build/kbuild-FLAVOR (O=), so the
# default and debug kernels build side by side and the tree stays clean.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${IOPFKIT_BUILD:-$top/build}
tree=${IOPFKIT_KTREE:-$build/linux}
patches=${IOPFKIT_PATCHES:-$top/kernel-patches}
configs=$top/kernel-config
src_tar=${IOPFKIT_KSRC_TAR:-/usr/src/linux-source-6.12.tar.xz}
stamp=$build/.series-stamp

die() { echo "kernel: $*" >&2; exit 1; }
log() { echo "kernel: $*"; }

git_tree() {
	git -C "$tree" -c user.name=iopfkit -c user.email=iopfkit@localhost \
		-c advice.detachedHead=false "$@"
}

series_list() {
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$patches/series"
}

series_hash() {
	{
		cat "$patches/series"
		series_list | while read -r p; do cat "$patches/$p"; done
	} | sha256sum | cut -d' ' -f1
}

check_base_version() {
	local want have
	want=$(awk '$1 == "package" { print $3 }' "$patches/BASE")
	have=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
	if [ "$want" != "$have" ]; then
		echo "kernel: WARNING: the series is tested on linux-source-6.12 $want," \
			"installed is ${have:-none}" >&2
	fi
}

unpack() {
	[ -f "$src_tar" ] || die "$src_tar missing: run 'make deps'"
	log "unpacking $src_tar into $tree"
	rm -rf "$tree" "$tree.tmp" "$stamp"
	mkdir -p "$tree.tmp"
	tar -C "$tree.tmp" -xf "$src_tar"
	mv "$tree.tmp"/linux-source-6.12 "$tree"
	rmdir "$tree.tmp"
	local version
	version=$(make -s -C "$tree" kernelversion)
	git -C "$tree" init -q
	# 86,000 loose objects would start "git gc --auto" on every commit
	git -C "$tree" config gc.auto 0
	# Debian's top-level .gitignore ignores "/*": force-add the pristine tree.
	git_tree add -f -A
	git_tree commit -q -m "Linux $version (Debian linux-source-6.12 $(dpkg-query -W -f='${Version}' linux-source-6.12))"
	git_tree tag base
}

apply_series() {
	git_tree reset -q --hard base
	local p
	series_list | while read -r p; do
		[ -f "$patches/$p" ] || die "series names $p, which is missing"
		if ! git_tree am -q --keep-cr "$patches/$p" >/dev/null 2>&1; then
			git_tree am --abort >/dev/null 2>&1 || true
			git_tree reset -q --hard base
			rm -f "$stamp"
			die "patch $p does not apply to $(git_tree log -1 --format=%s base)"
		fi
		log "applied $p"
	done
	write_stamp
}

write_stamp() {
	printf '%s %s\n' "$(series_hash)" "$(git_tree rev-parse HEAD)" > "$stamp"
}

# Bring the tree in line with kernel-patches/.  The stamp records the series
# last applied or generated and the HEAD it produced; a developer's new
# commits in the tree are never thrown away.
sync_tree() {
	[ -d "$tree/.git" ] || unpack
	check_base_version
	local want have_hash have_head head
	want=$(series_hash)
	head=$(git_tree rev-parse HEAD)
	if [ -f "$stamp" ]; then
		read -r have_hash have_head < "$stamp"
	else
		have_hash=none
		have_head=$(git_tree rev-parse base)
	fi
	[ "$want" = "$have_hash" ] && return 0
	if [ "$head" != "$have_head" ] || ! git_tree diff --quiet HEAD; then
		die "both $tree and kernel-patches/ changed since the last sync:
  run 'make kernel-patches' to keep the tree's commits, or
  'git -C $tree reset --hard $have_head' to take the series"
	fi
	log "applying kernel-patches/series"
	apply_series
}

configure() {
	local flavor=$1 out=$2
	local frags=("$configs/iopfkit.config")
	case "$flavor" in
	debug) frags+=("$configs/debug.config") ;;
	kcsan) frags+=("$configs/kcsan.config") ;;
	esac
	local want
	want=$(cat "${frags[@]}" | sha256sum | cut -d' ' -f1)
	if [ -f "$out/.config" ] && [ -f "$out/.iopfkit-config" ] &&
	   [ "$(cat "$out/.iopfkit-config")" = "$want" ]; then
		# olddefconfig picks up Kconfig options that new patches add
		kmake "$out" olddefconfig >/dev/null
		return 0
	fi
	log "configuring $flavor kernel in $out"
	kmake "$out" tinyconfig >/dev/null
	KCONFIG_CONFIG=$out/.config "$tree/scripts/kconfig/merge_config.sh" \
		-m -O "$out" "$out/.config" "${frags[@]}" >/dev/null
	kmake "$out" olddefconfig >/dev/null
	# fail on options that did not stick (the last fragment that names one wins)
	local line opt val missing=0
	local -A want_opt=()
	while read -r line; do
		case "$line" in
		CONFIG_*=*) want_opt[${line%%=*}]=${line#*=} ;;
		"# CONFIG_"*" is not set") opt=${line#"# "}; want_opt[${opt%% *}]=n ;;
		esac
	done < <(cat "${frags[@]}")
	for opt in "${!want_opt[@]}"; do
		val=${want_opt[$opt]}
		if [ "$val" = n ]; then
			grep -q "^$opt=" "$out/.config" || continue
			echo "kernel: $opt is set, the fragments unset it" >&2
		else
			grep -qxF "$opt=$val" "$out/.config" && continue
			# an option a later patch adds, in a kernel of the first patches
			if ! grep -rqsE --include='Kconfig*' \
				"^[[:space:]]*(menu)?config ${opt#CONFIG_}\$" "$tree"; then
				log "$opt: not in this tree's Kconfig, left out"
				continue
			fi
			echo "kernel: $opt=$val did not stick" >&2
		fi
		missing=1
	done
	[ $missing -eq 0 ] || die "config fragment did not apply (see above)"
	echo "$want" > "$out/.iopfkit-config"
}

# ccache keyed on paths relative to the build folder, so that a clone of the
# project elsewhere (CI's) hits what this one compiled
kmake() {
	local out=$1; shift
	local cc=gcc
	command -v ccache >/dev/null && cc="ccache gcc"
	CCACHE_BASEDIR=$build CCACHE_NOHASHDIR=1 CCACHE_IGNOREOPTIONS="-fmacro-prefix-map=*" \
	KBUILD_BUILD_TIMESTAMP="${KBUILD_BUILD_TIMESTAMP:-2024-11-17}" \
	KBUILD_BUILD_USER=iopfkit KBUILD_BUILD_HOST=iopfkit LOCALVERSION= \
		make -s -C "$tree" O="$out" CC="$cc" HOSTCC="$cc" "$@"
}

build_kernel() {
	local flavor=${1:-default}
	case "$flavor" in default|debug|kcsan) ;; *) die "unknown KERNEL_FLAVOR $flavor (default, debug, kcsan)";; esac
	local out=$build/kbuild-$flavor
	mkdir -p "$out"
	sync_tree
	configure "$flavor" "$out"
	log "building $flavor kernel ($(nproc) jobs)"
	compile "$out"
}

# bzImage and modules in OUT, modules installed in OUT/modroot
compile() {
	local out=$1
	kmake "$out" -j"$(nproc)" bzImage modules
	rm -rf "$out/modroot"
	kmake "$out" INSTALL_MOD_PATH="$out/modroot" modules_install >/dev/null
	log "$(cat "$out/include/config/kernel.release"): $out/arch/x86/boot/bzImage"
}

# The default kernel with only the first N patches of the series: what a
# benchmark compares the full series against.
build_first() {
	local n=$1 total commit
	case "$n" in ''|*[!0-9]*) die "build-first: N must be a patch count";; esac
	sync_tree
	total=$(git_tree rev-list --count base..HEAD)
	[ "$n" -le "$total" ] || die "build-first: the series has $total patches"
	if [ "$n" -eq 0 ]; then
		commit=$(git_tree rev-parse base)
	else
		commit=$(git_tree rev-list --reverse base..HEAD | sed -n "${n}p")
	fi
	build_at "$commit" "$build/first-$n" default
}

# A kernel of commit REV of the tree, in build/rev-NAME.
build_rev() {
	local rev=$1 name=$2 flavor=${3:-default} commit
	[ -n "$rev" ] && [ -n "$name" ] || die "build-rev: REV and NAME needed"
	case "$name" in *[!A-Za-z0-9_.-]*) die "build-rev: bad NAME '$name'";; esac
	case "$flavor" in default|debug|kcsan) ;; *) die "unknown flavor $flavor";; esac
	[ -d "$tree/.git" ] || die "no tree at $tree: run 'make kernel' first"
	commit=$(git_tree rev-parse --verify -q "$rev^{commit}") ||
		die "build-rev: no commit '$rev' in $tree"
	build_at "$commit" "$build/rev-$name" "$flavor"
}

# Build COMMIT with FLAVOR in DIR: its tree is a worktree of the main one
# in DIR/linux, objects in DIR/kbuild-FLAVOR; the layout mirrors build/,
# so that ccache serves every object the kernels share.
build_at() {
	local commit=$1 dir=$2 flavor=$3
	if [ -d "$dir/linux" ]; then
		git -C "$dir/linux" checkout -q --detach "$commit"
	else
		mkdir -p "$dir"
		git_tree worktree prune
		git_tree worktree add -q --detach "$dir/linux" "$commit"
	fi
	log "$(basename "$dir"): $(git_tree log -1 --format='%h %s' "$commit")"
	build=$dir tree=$dir/linux
	local out=$build/kbuild-$flavor
	mkdir -p "$out"
	configure "$flavor" "$out"
	log "building the $flavor kernel in $out ($(nproc) jobs)"
	compile "$out"
}

format_patch() {
	[ -d "$tree/.git" ] || die "no tree at $tree: run 'make kernel' first"
	git_tree diff --quiet HEAD || die "$tree has uncommitted changes: commit them first"
	rm -f "$patches"/*.patch
	# Blank context lines without the trailing space, so that checkpatch finds
	# nothing to say even when it reads a patch as a file
	git_tree -c diff.suppressBlankEmpty=true format-patch -q --zero-commit \
		--no-signature -o "$patches" base..HEAD
	{
		echo "# iopfkit kernel series, applied in order onto the base tree (see BASE)"
		(cd "$patches" && ls -1 -- *.patch 2>/dev/null || true)
	} > "$patches/series"
	write_stamp
	log "kernel-patches/: $(git_tree rev-list --count base..HEAD) patches"
}

case "${1:-}" in
tree) sync_tree ;;
build) build_kernel "${2:-default}" ;;
build-first) build_first "${2:-}" ;;
build-rev) build_rev "${2:-}" "${3:-}" "${4:-}" ;;
format-patch) format_patch ;;
make) shift; kmake "$@" ;;
*) echo "usage: $0 {tree|build [default|debug|kcsan]|build-first N|build-rev REV NAME [FLAVOR]|format-patch|make OUT ARGS...}" >&2; exit 2 ;;
esac
