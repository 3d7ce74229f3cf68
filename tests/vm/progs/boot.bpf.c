// SPDX-License-Identifier: GPL-2.0
/*
 * Counts task:task_rename events of one process through a tp_btf program:
 * proof that our libbpf, bpftool and vmlinux.h produce programs the patched
 * kernel loads, and that its BTF lets a program follow tracepoint arguments.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile pid_t target_tgid;

__u64 renames;
char last_comm[16];

SEC("tp_btf/task_rename")
int BPF_PROG(count_task_rename, struct task_struct *task, const char *comm)
{
	/* a BTF-typed argument, read without bpf_probe_read */
	if (task->tgid != target_tgid)
		return 0;
	__sync_fetch_and_add(&renames, 1);
	bpf_probe_read_kernel_str(last_comm, sizeof(last_comm), comm);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
