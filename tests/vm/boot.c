// SPDX-License-Identifier: GPL-2.0
/*
 * The guest runs the kernel we built, with BTF, and runs BPF programs built
 * with our libbpf and bpftool.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kselftest_harness.h"
#include "boot.skel.h"

/* The release string of the kernel the harness booted, from its build. */
static int built_release(char *buf, size_t size)
{
	const char *build = getenv("IOPFKIT_BUILD");
	const char *flavor = getenv("KERNEL_FLAVOR");
	char path[4096];
	ssize_t n;
	int fd;

	if (!build || !flavor)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/kbuild-%s/include/config/kernel.release",
		 build, flavor);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

TEST(running_kernel_is_the_patched_build)
{
	char release[256];
	struct utsname uts;

	ASSERT_EQ(0, uname(&uts));
	ASSERT_EQ(0, built_release(release, sizeof(release)));
	EXPECT_STREQ(release, uts.release);
	EXPECT_NE(NULL, strstr(uts.release, "-iopfkit"));
}

TEST(vmlinux_btf_describes_the_iommu_core)
{
	static const char *const types[] = {
		"iommu_domain", "iommu_attach_handle", "iopf_group", "iopf_fault",
		"iommu_fault_param",
	};
	struct btf *btf;
	unsigned int i;

	ASSERT_EQ(0, access("/sys/kernel/btf/vmlinux", R_OK));
	btf = btf__load_vmlinux_btf();
	ASSERT_NE(NULL, btf);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int id = btf__find_by_name_kind(btf, types[i], BTF_KIND_STRUCT);

		EXPECT_LT(0, id) TH_LOG("struct %s missing from vmlinux BTF", types[i]);
	}
	btf__free(btf);
}

TEST(kernel_supports_tracing_and_struct_ops_programs)
{
	EXPECT_EQ(1, libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING, NULL));
	EXPECT_EQ(1, libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_STRUCT_OPS, NULL));
}

/* Renames itself @count times; another process's renames must not count. */
static void rename_self(int count, const char *prefix)
{
	char name[16];
	int i;

	for (i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		prctl(PR_SET_NAME, name);
	}
}

TEST(tp_btf_program_counts_exactly_the_events_triggered)
{
	const int count = 1000;
	struct boot_bpf *skel;
	char expect[16];
	int status;
	pid_t child;

	skel = boot_bpf__open();
	ASSERT_NE(NULL, skel);
	skel->rodata->target_tgid = getpid();
	ASSERT_EQ(0, boot_bpf__load(skel));
	ASSERT_EQ(0, boot_bpf__attach(skel));

	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		rename_self(count / 2, "other");
		_exit(0);
	}
	rename_self(count, "iopfkit");
	ASSERT_EQ(child, waitpid(child, &status, 0));
	boot_bpf__detach(skel);
	rename_self(10, "detached");

	EXPECT_EQ(count, skel->bss->renames);
	snprintf(expect, sizeof(expect), "iopfkit%d", count - 1);
	EXPECT_STREQ(expect, skel->bss->last_comm);
	boot_bpf__destroy(skel);
}

TEST_HARNESS_MAIN
