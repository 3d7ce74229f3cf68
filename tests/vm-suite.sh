#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest (see run-vm.sh): the in-VM test programs as one suite.
#
#   vm-suite.sh [NAME [PROGRAM...]]
#
# NAME names the suite in its totals line (default "vm"); PROGRAMs are
# names of tests/vm programs (default: every one).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/runner.sh"
build=${IOPFKIT_BUILD:-$top/build}
suite=${1:-vm}
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then
	progs=()
	for p in "$@"; do progs+=("$build/tests/vm/$p"); done
	run_suite "$suite" "${progs[@]}"
else
	# every program: not the make dependency files (*.d) beside them
	progs=()
	for p in "$build"/tests/vm/*; do
		case "$p" in *.d) ;; *) progs+=("$p") ;; esac
	done
	run_suite "$suite" "${progs[@]}"
fi
