// SPDX-License-Identifier: GPL-2.0
/*
 * For bpftool struct_ops register, in tests/vm/fault_policy_edges.c: three
 * policies whose init() returns what is not an errno. The kernel refuses
 * each attach with EPROTO; a positive return would otherwise come back
 * from BPF_LINK_CREATE as a file descriptor.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define INIT_RETURNING(id, value)					\
SEC("struct_ops.s/init")						\
int BPF_PROG(id##_init)							\
{									\
	return value;							\
}									\
SEC(".struct_ops.link")							\
struct iommu_fault_ops id = {						\
	.init = (void *)id##_init,					\
	.name = #id,							\
}

INIT_RETURNING(init_ret_1, 1);
INIT_RETURNING(init_ret_7, 7);
INIT_RETURNING(init_ret_600, -600);
