/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for programs that drive the software SVA device (/dev/swsvaN):
 * the in-VM tests and the benchmarks.
 */
#ifndef IOPFKIT_SWSVA_UTIL_H
#define IOPFKIT_SWSVA_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/swsva.h>

/* Load the module of the kernel under test if no endpoint is there yet. */
static inline int swsva_load_module(const char *params)
{
	const char *modroot = getenv("IOPFKIT_MODROOT");
	char cmd[512];

	if (access("/dev/swsva0", F_OK) == 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "modprobe %s%s swsva %s",
		 modroot ? "-d " : "", modroot ? modroot : "", params ? params : "");
	if (system(cmd) != 0)
		return -1;
	return access("/dev/swsva0", F_OK);
}

/* The module's group_pages parameter: pages per page request group. */
static inline unsigned int swsva_group_pages(void)
{
	FILE *f = fopen("/sys/module/swsva/parameters/group_pages", "r");
	unsigned int n = 0;

	if (f) {
		if (fscanf(f, "%u", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

static inline int swsva_open(int ep)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/swsva%d", ep);
	return open(path, O_RDWR | O_CLOEXEC);
}

/* Returns the PASID, or -errno. */
static inline int swsva_bind(int fd)
{
	struct swsva_bind b = { .size = sizeof(b) };

	if (ioctl(fd, SWSVA_IOC_BIND, &b))
		return -errno;
	return (int)b.pasid;
}

static inline int swsva_unbind(int fd)
{
	return ioctl(fd, SWSVA_IOC_UNBIND) ? -errno : 0;
}

/* Runs a DMA; returns 0 or -errno, and fills *out when given. */
static inline int swsva_dma(int fd, bool write, void *addr, size_t len,
			    void *buf, struct swsva_dma *out)
{
	struct swsva_dma d = {
		.size = sizeof(d),
		.flags = write ? SWSVA_DMA_WRITE : 0,
		.addr = (uintptr_t)addr,
		.len = len,
		.buf = (uintptr_t)buf,
	};
	int ret = ioctl(fd, SWSVA_IOC_DMA, &d) ? -errno : 0;

	if (out)
		*out = d;
	return ret;
}

/* The counters of struct swsva_counters, in its order */
#define SWSVA_COUNTER_FIELDS(X)						\
	X(page_requests) X(groups) X(responses) X(resp_success)		\
	X(resp_invalid) X(resp_failure) X(resp_lost) X(resp_unexpected)	\
	X(retries) X(dma_ops) X(dma_errors) X(dma_bytes) X(in_flight)	\
	X(binds) X(unbinds)

/* *d = *b - *a, counter by counter */
static inline void swsva_counters_delta(struct swsva_counters *d,
					const struct swsva_counters *a,
					const struct swsva_counters *b)
{
#define SWSVA_SUB(f) d->f = b->f - a->f;
	SWSVA_COUNTER_FIELDS(SWSVA_SUB)
#undef SWSVA_SUB
}

static inline int swsva_counters(int fd, struct swsva_counters *c)
{
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	return ioctl(fd, SWSVA_IOC_COUNTERS, c) ? -errno : 0;
}

/* A counter from sysfs: readable even after the endpoint's removal. */
static inline long long swsva_sysfs_counter(int ep, const char *name)
{
	char path[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/swsva/devices/swsva%d/counters/%s",
		 ep, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * A raw page request group of @pages read requests (SWSVA_IOC_PAGE_REQUEST)
 * for @pasid, bound or not; 0 and the response code in *@response, or
 * -errno
 */
static inline int swsva_raw_group(int fd, unsigned int pasid, void *addr,
				  unsigned int pages, unsigned int *response)
{
	struct swsva_page_request r = {
		.size = sizeof(r),
		.pasid = pasid,
		.perm = SWSVA_PERM_READ,
		.addr = (uintptr_t)addr,
		.pages = pages,
	};

	if (ioctl(fd, SWSVA_IOC_PAGE_REQUEST, &r))
		return -errno;
	*response = r.response;
	return 0;
}

static inline int swsva_set_faults(int fd, unsigned int delay_count,
				   unsigned int delay_ms, unsigned int lose_count,
				   unsigned int timeout_ms)
{
	struct swsva_faults f = {
		.size = sizeof(f),
		.delay_count = delay_count,
		.delay_ms = delay_ms,
		.lose_count = lose_count,
		.lost_timeout_ms = timeout_ms,
	};

	return ioctl(fd, SWSVA_IOC_SET_FAULTS, &f) ? -errno : 0;
}

static inline uint64_t swsva_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Wait until the endpoint has no group in flight (responses travel through
 * a workqueue), at most @ms milliseconds.  Returns the groups in flight.
 */
static inline long long swsva_wait_idle(int ep, int ms)
{
	long long in_flight = -1;

	for (; ms >= 0; ms -= 10) {
		in_flight = swsva_sysfs_counter(ep, "in_flight");
		if (in_flight == 0)
			break;
		usleep(10000);
	}
	return in_flight;
}

#endif
