// SPDX-License-Identifier: GPL-2.0
/*
 * user_policy.bpf.c failing closed (IOMMU_FAULT_OPS_FAIL_CLOSED): once the
 * kernel detaches it, its target refuses every page request until the
 * loader lets go of its link.
 */
#define USER_POLICY_FLAGS	IOMMU_FAULT_OPS_FAIL_CLOSED
#include "user_policy.bpf.c"
