#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest (see run-vm.sh): every in-VM test program.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/runner.sh"
build=${IOPFKIT_BUILD:-$top/build}
run_suite vm "$build"/tests/vm/*[!.d]
