/* SPDX-License-Identifier: GPL-2.0 */
/* sva-snoop's records, from bpf/sva-snoop.bpf.c to tools/sva-snoop.c */
#ifndef IOPFKIT_SVA_SNOOP_H
#define IOPFKIT_SVA_SNOOP_H

#include "iopf_tools.h"

enum sva_snoop_kind {
	SVA_SNOOP_BIND,
	SVA_SNOOP_UNBIND,
};

struct sva_snoop_event {
	__u64 ts_ns;		/* bpf_ktime_get_boot_ns() */
	__u64 mm;		/* the bound address space, an identity */
	__u32 kind;		/* enum sva_snoop_kind */
	__u32 tgid;		/* the caller */
	__u32 pasid;		/* IOPF_NO_PASID: a bind that failed before one */
	__u32 refs;		/* the bond's users after the call */
	__s32 ret;		/* bind: 0 or -errno */
	__u32 mm_is_caller;	/* the caller bound or unbound its own mm */
	char comm[IOPF_COMM_LEN];
	char device[IOPF_DEV_LEN];
};

#endif
