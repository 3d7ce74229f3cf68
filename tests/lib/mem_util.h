/* SPDX-License-Identifier: GPL-2.0 */
/* Memory for the in-VM tests: fresh mappings, and what of them is resident */
#ifndef IOPFKIT_MEM_UTIL_H
#define IOPFKIT_MEM_UTIL_H

#include <stddef.h>
#include <unistd.h>
#include <sys/mman.h>

/* @pages of untouched anonymous memory, or NULL */
static inline void *map_fresh(size_t pages)
{
	size_t len = pages * sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* One page request per page: no huge page fills a range at once */
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

/* How many of the @pages at @p are resident (mincore), (size_t)-1 on error */
static inline size_t resident_pages(void *p, size_t pages)
{
	unsigned char vec[pages];
	size_t n = 0;

	if (mincore(p, pages * sysconf(_SC_PAGESIZE), vec))
		return (size_t)-1;
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	return n;
}

#endif
