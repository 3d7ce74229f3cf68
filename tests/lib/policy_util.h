/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the in-VM tests of fault policies: a DMA into fresh memory, and the
 * kernel's view of each policy in debugfs iommu/fault_policies. Needs a
 * global page_size.
 */
#ifndef IOPFKIT_POLICY_UTIL_H
#define IOPFKIT_POLICY_UTIL_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "file_util.h"
#include "mem_util.h"
#include "swsva_util.h"

#define POLICIES	"/sys/kernel/debug/iommu/fault_policies"

/* A DMA over @pages untouched pages; *@d gets what the device counted */
static inline int dma_fresh(int fd, size_t pages, bool write, void **mem,
		     struct swsva_counters *d)
{
	struct swsva_counters a, b;
	char *buf = calloc(pages, page_size);
	void *p = map_fresh(pages);
	int ret;

	if (!buf || !p)
		return -ENOMEM;
	swsva_counters(fd, &a);
	ret = swsva_dma(fd, write, p, pages * page_size, buf, NULL);
	swsva_counters(fd, &b);
	swsva_counters_delta(d, &a, &b);
	free(buf);
	if (mem)
		*mem = p;
	else
		munmap(p, pages * page_size);
	return ret;
}

/* A policy's line of debugfs iommu/fault_policies, "" if not listed */
static inline char *policy_line(const char *name, char *line, size_t size)
{
	size_t len = strlen(name);
	char *text = read_file(POLICIES, NULL);
	char *p = text;

	line[0] = '\0';
	while (p && *p) {
		char *nl = strchrnul(p, '\n');

		if (!strncmp(p, name, len) && p[len] == ' ') {
			snprintf(line, size, "%.*s", (int)(nl - p), p);
			break;
		}
		p = *nl ? nl + 1 : nl;
	}
	free(text);
	return line;
}

/* A "key=value" number of a policy's debugfs line, -1 if missing */
static inline long long policy_stat(const char *name, const char *key)
{
	char line[1024], needle[64];
	char *p;

	snprintf(needle, sizeof(needle), " %s=", key);
	p = strstr(policy_line(name, line, sizeof(line)), needle);
	return p ? strtoll(p + strlen(needle), NULL, 10) : -1;
}

static inline bool no_policy_left(void)
{
	char *text = read_file(POLICIES, NULL);
	bool empty = text && !*text;

	free(text);
	return empty;
}

/* Create only the struct_ops maps @names (NULL-ended) of @obj at its load */
static inline void select_struct_ops(struct bpf_object *obj, const char *const *names)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		bool want = false;

		if (bpf_map__type(map) != BPF_MAP_TYPE_STRUCT_OPS)
			continue;
		for (const char *const *n = names; *n; n++)
			want |= !strcmp(bpf_map__name(map), *n);
		bpf_map__set_autocreate(map, want);
	}
}

/* Attach one policy; *@err gets 0 or -errno */
static inline struct bpf_link *attach_map(struct bpf_map *map, int *err)
{
	struct bpf_link *link = bpf_map__attach_struct_ops(map);

	*err = link ? 0 : -errno;
	return link;
}

/* Every group endpoint @ep posted was answered once (a test's check) */
#define EXPECT_ALL_ANSWERED(ep) do {					\
	EXPECT_EQ(0, swsva_wait_idle(ep, 20000));			\
	EXPECT_EQ(swsva_sysfs_counter(ep, "groups"),			\
		  swsva_sysfs_counter(ep, "responses"));		\
	EXPECT_EQ(0, swsva_sysfs_counter(ep, "resp_unexpected"));	\
} while (0)

#endif
