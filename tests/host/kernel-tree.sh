#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/kernel.sh's tree management, on a toy source tarball: the pristine
# source becomes the first commit, the series applies in order, a patch
# that does not apply stops the build and is named, and a developer's
# commits are never thrown away.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/build/linux/tools/testing/selftests/kselftest/ktap_helpers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export IOPFKIT_BUILD=$tmp/build IOPFKIT_PATCHES=$tmp/patches
export IOPFKIT_KSRC_TAR=$tmp/linux-source-6.12.tar.xz
ks="$top/scripts/kernel.sh"
tree=$IOPFKIT_BUILD/linux
g() { git -C "$tree" -c user.name=t -c user.email=t@t "$@"; }

mkdir -p "$tmp/src/linux-source-6.12" "$IOPFKIT_PATCHES"
printf 'kernelversion:\n\t@echo 6.12.117\n' > "$tmp/src/linux-source-6.12/Makefile"
printf 'one\ntwo\nthree\n' > "$tmp/src/linux-source-6.12/file.c"
printf '/*\n' > "$tmp/src/linux-source-6.12/.gitignore"	# like Debian's
tar -C "$tmp/src" -cJf "$IOPFKIT_KSRC_TAR" linux-source-6.12
cp "$top/kernel-patches/BASE" "$IOPFKIT_PATCHES/"

# two patches made the way developers make them
mkdir -p "$tmp/gen" && tar -C "$tmp/gen" -xJf "$IOPFKIT_KSRC_TAR"
(cd "$tmp/gen/linux-source-6.12" && git init -q && git add -f -A &&
 git -c user.name=t -c user.email=t@t commit -qm base &&
 sed -i 's/two/TWO/' file.c && git -c user.name=t -c user.email=t@t commit -qam "file: two" &&
 echo four >> file.c && git -c user.name=t -c user.email=t@t commit -qam "file: four" &&
 git format-patch -q -o "$IOPFKIT_PATCHES" HEAD~2)
(cd "$IOPFKIT_PATCHES" && ls *.patch) > "$IOPFKIT_PATCHES/series"

ktap_print_header
ktap_set_plan 7

"$ks" tree > "$tmp/out" 2>&1
if [ "$(g log --format=%s | tr '\n' '|')" = "file: four|file: two|Linux 6.12.117 (Debian linux-source-6.12 $(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null))|" ] &&
   [ "$(g rev-parse base)" = "$(g rev-list --max-parents=0 HEAD)" ]; then
	ktap_test_pass "pristine source is the first commit, the series applies on top"
else
	ktap_print_msg "$(cat "$tmp/out"; g log --oneline)"
	ktap_test_fail "pristine source is the first commit, the series applies on top"
fi

# a developer commits in the tree; a sync must keep it
echo five >> "$tree/file.c"
g commit -qam "file: five"
"$ks" tree > "$tmp/out" 2>&1
if grep -q five "$tree/file.c"; then
	ktap_test_pass "a developer's commit survives a sync"
else
	ktap_test_fail "a developer's commit survives a sync"
fi

# both sides changed: stop, and say how to resolve
echo "# changed" >> "$IOPFKIT_PATCHES/series"
if ! "$ks" tree > "$tmp/out" 2>&1 && grep -q "make kernel-patches" "$tmp/out" &&
   grep -q five "$tree/file.c"; then
	ktap_test_pass "tree and series both changed: refuses, changes nothing"
else
	ktap_print_msg "$(cat "$tmp/out")"
	ktap_test_fail "tree and series both changed: refuses, changes nothing"
fi

# format-patch takes the tree's commits into the series
"$ks" format-patch > "$tmp/out" 2>&1
if [ "$(grep -c '\.patch$' "$IOPFKIT_PATCHES/series")" -eq 3 ] &&
   grep -q "file: five" "$IOPFKIT_PATCHES"/0003-*.patch; then
	ktap_test_pass "format-patch regenerates the series from the tree"
else
	ktap_print_msg "$(cat "$tmp/out" "$IOPFKIT_PATCHES/series")"
	ktap_test_fail "format-patch regenerates the series from the tree"
fi

# a patch that no longer applies is named, and the tree is left at base
sed -i 's/^+five$/+FIVE/; s/^ four$/ FOUR/' "$IOPFKIT_PATCHES"/0003-*.patch
if ! "$ks" tree > "$tmp/out" 2>&1 && grep -q "patch 0003-.*does not apply" "$tmp/out" &&
   [ "$(g rev-parse HEAD)" = "$(g rev-parse base)" ]; then
	ktap_test_pass "a patch that does not apply stops the build and is named"
else
	ktap_print_msg "$(cat "$tmp/out")"
	ktap_test_fail "a patch that does not apply stops the build and is named"
fi

# build-rev names what it cannot build, and creates nothing
if ! "$ks" build-rev no-such-commit x > "$tmp/out" 2>&1 &&
   grep -q "no commit 'no-such-commit'" "$tmp/out" && [ ! -e "$IOPFKIT_BUILD/rev-x" ]; then
	ktap_test_pass "build-rev refuses a commit the tree does not have"
else
	ktap_print_msg "$(cat "$tmp/out")"
	ktap_test_fail "build-rev refuses a commit the tree does not have"
fi
if ! "$ks" build-rev base ../x > "$tmp/out" 2>&1 && grep -q "bad NAME" "$tmp/out"; then
	ktap_test_pass "build-rev refuses a NAME that is not a plain word"
else
	ktap_print_msg "$(cat "$tmp/out")"
	ktap_test_fail "build-rev refuses a NAME that is not a plain word"
fi
ktap_finished
