#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# What every tool in build/bin/ owes its users before it runs anything:
# a man page that renders without warnings and documents every option of
# --help; bad flags and values answered with usage and exit 2; a clear
# one-line message and exit 1 for a user without privileges and for a
# kernel without the iopfkit trace events (this host's); libbpf inside,
# no LLVM at run time.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/build/linux/tools/testing/selftests/kselftest/ktap_helpers.sh"

tools=()
for src in "$top"/tools/*.c; do
	tools+=("$(basename "$src" .c)")
done

# What differs for iopf-policy: commands, each with its own --help, and
# exit statuses of its own for missing privileges (4) and kernel (3)
help_text() {	# TOOL
	local c
	if [ "$1" = iopf-policy ]; then
		for c in list run attach detach help; do
			"$top/build/bin/$1" $c --help || return 1
		done
	else
		"$top/build/bin/$1" --help
	fi
}
declare -A run_args=([iopf-policy]=list)
declare -A priv_exit=([iopf-policy]=4)
declare -A kernel_exit=([iopf-policy]=3)
declare -A kernel_says=([iopf-policy]="no BPF fault policies")
host_has_events=0
[ -d /sys/kernel/tracing/events/iommu/iommu_iopf_report ] && host_has_events=1

ktap_print_header
ktap_set_plan $((${#tools[@]} * 7))

check() {	# NAME COMMAND...: pass if COMMAND succeeds
	local name=$1; shift
	if "$@"; then ktap_test_pass "$name"; else ktap_test_fail "$name"; fi
}

# TOOL ARGS...: exit status 2 and argp's pointer to --help on stderr
usage_exit_2() {
	local tool=$1 out rc=0; shift
	out=$("$top/build/bin/$tool" "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" -eq 2 ] && grep -q -- "$tool --help" <<< "$out" && return 0
	ktap_print_msg "$tool $*: exit $rc: $out"
	return 1
}

# every long option --help lists is in the man page
options_documented() {
	local tool=$1 man=$top/docs/man/$1.8 opt missing=
	[ -f "$man" ] || { ktap_print_msg "no $man"; return 1; }
	for opt in $(help_text "$tool" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		case $opt in --help|--usage|--version) continue ;; esac
		# troff writes each - as \-
		grep -qF -- "${opt//-/\\-}" "$man" || missing+=" $opt"
	done
	[ -z "$missing" ] && return 0
	ktap_print_msg "$tool: undocumented in $man:$missing"
	return 1
}

man_clean() {
	local man=$top/docs/man/$1.8 warn
	[ -f "$man" ] || return 1
	warn=$( { groff -man -ww -z "$man"; MANWIDTH=80 man --warnings -l "$man" >/dev/null; } 2>&1)
	[ -z "$warn" ] && return 0
	ktap_print_msg "$warn"
	return 1
}

# a one-line message naming the problem, exit 1 (or the tool's own)
refuses() {	# TOOL STATUS PATTERN [runner...]
	local tool=$1 status=$2 pattern=$3 out rc=0; shift 3
	out=$("$@" "$top/build/bin/$tool" ${run_args[$tool]:-} 2>&1 </dev/null) || rc=$?
	if [ "$rc" -eq "$status" ] && [ "$(wc -l <<< "$out")" -eq 1 ] &&
	   grep -q -- "$pattern" <<< "$out"; then
		return 0
	fi
	ktap_print_msg "$tool: exit $rc: $out"
	return 1
}

no_llvm() {
	local bin=$top/build/bin/$1 libs
	libs=$(ldd "$bin") || return 1
	if grep -qiE 'llvm|clang|libbpf' <<< "$libs"; then
		ktap_print_msg "$libs"
		return 1
	fi
	nm "$bin" | grep -q ' T bpf_object__open_mem$'
}

for t in "${tools[@]}"; do
	check "$t: man page renders without warnings" man_clean "$t"
	check "$t: --help exits 0" \
		bash -c '"$0" --help >/dev/null' "$top/build/bin/$t"
	check "$t: every option of --help is in its man page" options_documented "$t"
	if usage_exit_2 "$t" --no-such-flag && usage_exit_2 "$t" 1 2 3 4 5; then
		ktap_test_pass "$t: bad flags and arguments: usage, exit 2"
	else
		ktap_test_fail "$t: bad flags and arguments: usage, exit 2"
	fi
	if id nobody >/dev/null 2>&1; then
		check "$t: unprivileged: one line, exit ${priv_exit[$t]:-1}" \
			refuses "$t" "${priv_exit[$t]:-1}" "needs root" \
			setpriv --reuid=nobody --regid=nogroup --clear-groups
	else
		ktap_test_skip "$t: unprivileged: no user nobody on this host"
	fi
	if [ "$(id -u)" -ne 0 ]; then
		ktap_test_skip "$t: kernel without the events: the test needs root"
	elif [ $host_has_events = 1 ]; then
		ktap_test_skip "$t: kernel without the events: this host's kernel has them"
	else
		check "$t: kernel without the iopfkit events: one line, exit ${kernel_exit[$t]:-1}" \
			refuses "$t" "${kernel_exit[$t]:-1}" \
			"${kernel_says[$t]:-lacks the iommu trace event}"
	fi
	check "$t: libbpf linked in, no LLVM, libbpf or libclang at run time" no_llvm "$t"
done
ktap_finished
