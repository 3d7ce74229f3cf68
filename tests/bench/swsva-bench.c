// SPDX-License-Identifier: GPL-2.0
/*
 * swsva-bench: page-request throughput and latency of the software SVA
 * device, next to the CPU's own first touch of the same amount of memory,
 * measured side by side in one run.
 *
 *   swsva-bench [-s MIB] [-r ROUNDS] [-g GROUP_PAGES]
 *
 * Each round maps SIZE MiB of untouched anonymous memory (no THP) twice: the
 * device writes the first with one sequential DMA, the CPU writes one byte
 * per page of the second.  Prints one line per round and the medians.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <sys/mman.h>

#include "../lib/bench_util.h"
#include "../lib/mem_util.h"
#include "../lib/swsva_util.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t percentile(uint64_t *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	i = (size_t)(p * (n - 1) + 0.5);
	return v[i];
}

static void usage(const char *prog, int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [-s MIB] [-r ROUNDS] [-g GROUP_PAGES]\n"
		"  -s MIB          memory per round (default 64)\n"
		"  -r ROUNDS       rounds (default 5)\n"
		"  -g GROUP_PAGES  set the module's group_pages first (1-64)\n",
		prog);
	exit(status);
}

int main(int argc, char **argv)
{
	size_t mib = 64, rounds = 5, page = sysconf(_SC_PAGESIZE);
	double dev_rate[64], cpu_rate[64], dev_p50[64], dev_p99[64];
	double ratio[64];
	long group_pages = 0;
	int opt, fd;
	size_t r;

	while ((opt = getopt(argc, argv, "s:r:g:h")) != -1) {
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
		case 'g':
			group_pages = strtol(optarg, &end, 10);
			if (*end || group_pages < 1 || group_pages > SWSVA_GROUP_MAX_PAGES)
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
		fprintf(stderr, "swsva-bench: no /dev/swsva0 and no swsva module\n");
		return 1;
	}
	if (group_pages) {
		FILE *f = fopen("/sys/module/swsva/parameters/group_pages", "w");

		if (!f || fprintf(f, "%ld\n", group_pages) < 0 || fclose(f)) {
			perror("swsva-bench: group_pages");
			return 1;
		}
	}
	fd = swsva_open(0);
	if (fd < 0 || swsva_bind(fd) <= 0) {
		perror("swsva-bench: open/bind /dev/swsva0");
		return 1;
	}

	size_t len = mib << 20, pages = len / page;
	unsigned char *buf = malloc(len);
	uint64_t *lat = calloc(pages, sizeof(*lat));

	memset(buf, 0x5a, len);
	printf("# swsva-bench: %zu MiB sequential DMA write to untouched anonymous memory, "
	       "%zu pages of %zu bytes, THP off\n", mib, pages, page);
	printf("%-6s %12s %12s %12s %12s %14s %10s\n", "round", "device req/s",
	       "groups", "p50 group us", "p99 group us", "cpu faults/s", "cpu/device");
	for (r = 0; r < rounds; r++) {
		unsigned char *dev_mem = map_fresh(len / page);
		unsigned char *cpu_mem = map_fresh(len / page);
		struct swsva_dma d = {
			.size = sizeof(d), .flags = SWSVA_DMA_WRITE,
			.addr = (uintptr_t)dev_mem, .len = len,
			.buf = (uintptr_t)buf,
			.latencies = (uintptr_t)lat, .latencies_len = pages,
		};
		uint64_t t0, cpu_ns;
		size_t i;

		if (!dev_mem || !cpu_mem) {
			perror("swsva-bench: mmap");
			return 1;
		}
		if (ioctl(fd, SWSVA_IOC_DMA, &d) || d.page_requests != pages) {
			fprintf(stderr, "swsva-bench: DMA failed (%s), %u requests\n",
				strerror(errno), d.page_requests);
			return 1;
		}
		t0 = swsva_now_ns();
		for (i = 0; i < len; i += page)
			cpu_mem[i] = 1;
		cpu_ns = swsva_now_ns() - t0;

		dev_rate[r] = d.page_requests / (d.nsecs / 1e9);
		cpu_rate[r] = pages / (cpu_ns / 1e9);
		dev_p50[r] = percentile(lat, d.latencies_len, 0.50) / 1e3;
		dev_p99[r] = percentile(lat, d.latencies_len, 0.99) / 1e3;
		ratio[r] = cpu_rate[r] / dev_rate[r];
		printf("%-6zu %12.0f %12u %12.1f %12.1f %14.0f %10.1f\n", r + 1,
		       dev_rate[r], d.groups, dev_p50[r], dev_p99[r], cpu_rate[r],
		       ratio[r]);
		munmap(dev_mem, len);
		munmap(cpu_mem, len);
	}
	printf("%-6s %12.0f %12s %12.1f %12.1f %14.0f %10.1f\n", "median",
	       median(dev_rate, rounds), "", median(dev_p50, rounds),
	       median(dev_p99, rounds), median(cpu_rate, rounds),
	       median(ratio, rounds));
	close(fd);
	free(buf);
	free(lat);
	return 0;
}
