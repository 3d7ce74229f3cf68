// SPDX-License-Identifier: GPL-2.0
/*
 * policy-bench: completion time and page requests of a DMA over untouched
 * memory, streaming or at random, next to the CPU first-touching the same
 * amount of memory in the same order; measured side by side in one run,
 * for whatever fault policy is attached to swsva0 at the time
 * (scripts/bench-policies-guest.sh attaches none, passthrough, prefault).
 *
 *   policy-bench [-s MIB] [-r ROUNDS] [-a seq|random]
 *
 * seq: one DMA write of the whole buffer. random: one DMA write of one
 * page per page of the buffer, in a random order (the same in every round
 * and run: a fixed seed). Two references on the CPU, in the same order:
 * its first touch (one byte per page: a page fault each), and its doing
 * the DMA's work (copying the same data into untouched memory: the fault
 * and the copy). And the device's floor: the same DMA again into the
 * memory the CPU touched, whose pages are present and need no request.
 * THP off. One line per round, then the medians.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <sys/mman.h>

#include "../lib/bench_util.h"
#include "../lib/mem_util.h"
#include "../lib/swsva_util.h"

/* xorshift64*: the same order on every run, without libc's rand() */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* The DMA of a round into @mem: whole, or page by page in @order */
static uint64_t dma_round(int fd, unsigned char *mem, unsigned char *buf, size_t len,
			  const size_t *order, bool random_access,
			  uint64_t *nreq, uint64_t *ngroups)
{
	size_t page = sysconf(_SC_PAGESIZE), i;
	uint64_t t0 = swsva_now_ns();
	struct swsva_dma d;

	*nreq = *ngroups = 0;
	for (i = 0; i < (random_access ? len / page : 1); i++) {
		size_t off = random_access ? order[i] * page : 0;

		if (swsva_dma(fd, true, mem + off, random_access ? page : len,
			      buf + off, &d)) {
			perror("policy-bench: DMA");
			exit(1);
		}
		*nreq += d.page_requests;
		*ngroups += d.groups;
	}
	return swsva_now_ns() - t0;
}

static void usage(const char *prog, int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [-s MIB] [-r ROUNDS] [-a seq|random]\n"
		"  -s MIB     memory per round (default 64)\n"
		"  -r ROUNDS  rounds (default 3)\n"
		"  -a ACCESS  seq: one streaming DMA (default); random: a one-page\n"
		"             DMA per page, in a random order\n", prog);
	exit(status);
}

int main(int argc, char **argv)
{
	size_t mib = 64, rounds = 3, page = sysconf(_SC_PAGESIZE);
	double dev_ms[64], cpu_ms[64], copy_ms[64], floor_ms[64], ratio[64];
	double reqs[64], groups[64];
	bool random_access = false;
	int opt, fd;
	size_t r, i;

	while ((opt = getopt(argc, argv, "s:r:a:h")) != -1) {
		char *end;

		switch (opt) {
		case 's':
			mib = strtoul(optarg, &end, 10);
			if (*end || !mib || mib > 1024)
				usage(argv[0], 2);
			break;
		case 'r':
			rounds = strtoul(optarg, &end, 10);
			if (*end || !rounds || rounds > 64)
				usage(argv[0], 2);
			break;
		case 'a':
			if (!strcmp(optarg, "random"))
				random_access = true;
			else if (strcmp(optarg, "seq"))
				usage(argv[0], 2);
			break;
		case 'h':
			usage(argv[0], 0);
			break;
		default:
			usage(argv[0], 2);
		}
	}
	if (optind != argc)
		usage(argv[0], 2);
	if (swsva_load_module(NULL)) {
		fprintf(stderr, "policy-bench: no /dev/swsva0 and no swsva module\n");
		return 1;
	}
	fd = swsva_open(0);
	if (fd < 0 || swsva_bind(fd) <= 0) {
		perror("policy-bench: open/bind /dev/swsva0");
		return 1;
	}

	size_t len = mib << 20, pages = len / page;
	unsigned char *buf = malloc(len);
	size_t *order = malloc(pages * sizeof(*order));
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	if (!buf || !order)
		return 1;
	memset(buf, 0x5a, len);
	for (i = 0; i < pages; i++)
		order[i] = i;
	for (i = pages - 1; random_access && i > 0; i--) {
		size_t j = next_rand(&seed) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	printf("# policy-bench: %zu MiB %s DMA write to untouched anonymous memory, "
	       "%zu pages of %zu bytes, THP off\n", mib,
	       random_access ? "random-access (one page per DMA)" : "streaming",
	       pages, page);
	printf("%-6s %10s %14s %10s %10s %12s %15s %10s\n", "round", "device ms",
	       "page requests", "groups", "cpu ms", "cpu copy ms", "device floor ms",
	       "device/cpu");
	for (r = 0; r < rounds; r++) {
		unsigned char *dev_mem = map_fresh(len / page);
		unsigned char *cpu_mem = map_fresh(len / page);
		unsigned char *copy_mem = map_fresh(len / page);
		uint64_t t0, dev_ns, cpu_ns, copy_ns, floor_ns, nreq, ngroups;
		uint64_t floor_req, floor_groups;

		if (!dev_mem || !cpu_mem || !copy_mem) {
			perror("policy-bench: mmap");
			return 1;
		}
		dev_ns = dma_round(fd, dev_mem, buf, len, order, random_access,
				   &nreq, &ngroups);
		if (memcmp(dev_mem, buf, len)) {
			fprintf(stderr, "policy-bench: the DMA wrote wrong data\n");
			return 1;
		}
		t0 = swsva_now_ns();
		for (i = 0; i < pages; i++)
			cpu_mem[order[i] * page] = 1;
		cpu_ns = swsva_now_ns() - t0;
		t0 = swsva_now_ns();
		if (random_access) {
			for (i = 0; i < pages; i++)
				memcpy(copy_mem + order[i] * page, buf + order[i] * page, page);
		} else {
			memcpy(copy_mem, buf, len);
		}
		copy_ns = swsva_now_ns() - t0;
		floor_ns = dma_round(fd, cpu_mem, buf, len, order, random_access,
				     &floor_req, &floor_groups);
		if (floor_req) {
			fprintf(stderr, "policy-bench: %llu page requests into present memory\n",
				(unsigned long long)floor_req);
			return 1;
		}

		dev_ms[r] = dev_ns / 1e6;
		cpu_ms[r] = cpu_ns / 1e6;
		copy_ms[r] = copy_ns / 1e6;
		floor_ms[r] = floor_ns / 1e6;
		ratio[r] = (double)dev_ns / cpu_ns;
		reqs[r] = nreq;
		groups[r] = ngroups;
		printf("%-6zu %10.1f %14llu %10llu %10.1f %12.1f %15.1f %10.2f\n", r + 1,
		       dev_ms[r], (unsigned long long)nreq,
		       (unsigned long long)ngroups, cpu_ms[r], copy_ms[r],
		       floor_ms[r], ratio[r]);
		munmap(dev_mem, len);
		munmap(cpu_mem, len);
		munmap(copy_mem, len);
	}
	printf("%-6s %10.1f %14.0f %10.0f %10.1f %12.1f %15.1f %10.2f\n", "median",
	       median(dev_ms, rounds), median(reqs, rounds), median(groups, rounds),
	       median(cpu_ms, rounds), median(copy_ms, rounds), median(floor_ms, rounds),
	       median(ratio, rounds));
	close(fd);
	free(buf);
	free(order);
	return 0;
}
