/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by progs/fault_policy.bpf.c and fault_policy.c */
#ifndef IOPFKIT_TEST_FAULT_POLICY_H
#define IOPFKIT_TEST_FAULT_POLICY_H

#include "iopf_events.h"
#include "iopf_policy.h"

/* The test policies, each with its own counts */
enum { PASS, DENY_GROUP, FAIL_GROUP, DENY_REQUEST, PREFAULT, BAD_VERDICT,
       ERROR_AFTER, PASS_EP1, NR_POLICIES };

struct policy_counts {
	__u64 init, exit;
	__u64 groups, group_requests, requests, requests_last, responses;
	__u64 resp_code[IOPF_NR_RESP_CODES];
	__u64 resp_latency_zero;
	__u64 binds, unbinds, bind_tgid_is_current;
	__u64 prefaulted, prefault_errors;
	__u64 wrong_device, wrong_pasid;
	__u32 last_pasid, last_bind_tgid;
	struct iopf_policy_exit exit_info;
};

#endif
