// SPDX-License-Identifier: GPL-2.0
/*
 * policy_pass.bpf.c on the other endpoint, for bench-kernels.sh: what a
 * policy attached elsewhere costs the faults of swsva0.
 */
#define PASS_DEVICE	"swsva1"
#define PASS_NAME	"pass_swsva1"
#include "policy_pass.bpf.c"
