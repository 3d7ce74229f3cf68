// SPDX-License-Identifier: GPL-2.0
/*
 * The cheapest policy that looks at every page request group of swsva0
 * and lets it through: policy_pass.bpf.c with its group callback only,
 * which bench-kernels.sh compares with the whole of it.
 */
#define PASS_DEVICE	"swsva0"
#define PASS_NAME	"pass_group_only"
#define PASS_GROUP_ONLY
#include "policy_pass.bpf.c"
