#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host tests: everything that needs no guest.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib/runner.sh"
run_suite host "$top"/tests/host/*.sh
