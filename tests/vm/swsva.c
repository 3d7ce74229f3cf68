// SPDX-License-Identifier: GPL-2.0
/*
 * The software SVA device against the real SVA and I/O page fault code:
 * every test moves real data through page requests and ends with as many
 * responses as groups posted and nothing in flight.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "../lib/file_util.h"
#include "../lib/swsva_fixture.h"

static size_t page_size;

static void *map_anon(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void fill_pattern(unsigned char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 131 + seed * 7 + (i >> 12));
}

static int set_fault_around_bytes(unsigned long bytes, unsigned long *old)
{
	const char *path = "/sys/kernel/debug/fault_around_bytes";
	FILE *f;
	int ret = 0;

	if (old) {
		f = fopen(path, "r");
		if (!f || fscanf(f, "%lu", old) != 1)
			ret = -1;
		if (f)
			fclose(f);
	}
	f = fopen(path, "w");
	if (!f)
		return -1;
	if (fprintf(f, "%lu\n", bytes) < 0)
		ret = -1;
	if (fclose(f))
		ret = -1;
	return ret;
}

/* Endpoint 0, opened and bound; teardown checks the accounting. */
FIXTURE(swsva) {
	int fd;
	int pasid;
	struct swsva_counters start;
};

FIXTURE_SETUP(swsva)
{
	SWSVA_SETUP_BOUND(self);
}

FIXTURE_TEARDOWN(swsva)
{
	ASSERT_EQ(0, swsva_wait_idle(0, 10000));
	if (self->fd >= 0)
		close(self->fd);
	/* Every group ever posted on the endpoint got exactly one response */
	EXPECT_EQ(swsva_sysfs_counter(0, "groups"),
		  swsva_sysfs_counter(0, "responses"));
	EXPECT_EQ(0, swsva_sysfs_counter(0, "resp_unexpected"));
}

#define EXPECT_DELTA(self, field, n) do {				\
	struct swsva_counters __c;					\
	ASSERT_EQ(0, swsva_counters((self)->fd, &__c));			\
	EXPECT_EQ((__u64)(n), __c.field - (self)->start.field)		\
		TH_LOG("counter " #field);				\
} while (0)

TEST_F(swsva, write_to_untouched_anon_memory)
{
	const size_t pages = 64, len = pages * page_size;
	unsigned int gp = swsva_group_pages();
	unsigned char *mem, *buf;
	struct swsva_dma d;

	ASSERT_LT(0, gp);
	mem = map_anon(len, PROT_READ | PROT_WRITE);
	buf = malloc(len);
	ASSERT_NE(NULL, mem);
	ASSERT_NE(NULL, buf);
	fill_pattern(buf, len, 1);

	ASSERT_EQ(0, swsva_dma(self->fd, true, mem, len, buf, &d));
	EXPECT_EQ(len, d.bytes_done);
	/* exactly one page request per page, grouped by window */
	EXPECT_EQ(pages, d.page_requests);
	EXPECT_EQ((pages + gp - 1) / gp, d.groups);
	EXPECT_EQ(0, d.retries);
	EXPECT_LT(0, d.nsecs);
	/* the CPU sees what the device wrote */
	EXPECT_EQ(0, memcmp(mem, buf, len));
	EXPECT_DELTA(self, page_requests, pages);
	EXPECT_DELTA(self, resp_success, d.groups);
	EXPECT_DELTA(self, responses, d.groups);

	/* mapped now: a second DMA raises nothing */
	fill_pattern(buf, len, 2);
	ASSERT_EQ(0, swsva_dma(self->fd, true, mem, len, buf, &d));
	EXPECT_EQ(0, d.page_requests);
	EXPECT_EQ(0, memcmp(mem, buf, len));
	munmap(mem, len);
	free(buf);
}

TEST_F(swsva, read_untouched_then_cpu_written_memory)
{
	const size_t pages = 40, len = pages * page_size;
	unsigned char *mem, *buf, *zero;
	struct swsva_dma d;

	mem = map_anon(len, PROT_READ | PROT_WRITE);
	buf = malloc(len);
	zero = calloc(1, len);
	ASSERT_NE(NULL, mem);
	ASSERT_NE(NULL, buf);
	memset(buf, 0xa5, len);

	ASSERT_EQ(0, swsva_dma(self->fd, false, mem, len, buf, &d));
	EXPECT_EQ(pages, d.page_requests);
	EXPECT_EQ(0, memcmp(buf, zero, len));

	/* the device reads what the CPU wrote, through a write fault now */
	fill_pattern(mem, len, 3);
	memset(buf, 0, len);
	ASSERT_EQ(0, swsva_dma(self->fd, false, mem, len, buf, &d));
	EXPECT_EQ(0, d.page_requests);
	EXPECT_EQ(0, memcmp(mem, buf, len));
	munmap(mem, len);
	free(buf);
	free(zero);
}

TEST_F(swsva, unaligned_dma_moves_exact_bytes)
{
	const size_t len = 3 * page_size;
	unsigned char *mem, *buf;
	struct swsva_dma d;

	mem = map_anon(len, PROT_READ | PROT_WRITE);
	buf = malloc(len);
	ASSERT_NE(NULL, mem);
	memset(mem, 0x11, len);
	fill_pattern(buf, len, 4);

	/* 100 bytes into page 0 up to 100 bytes before the end */
	ASSERT_EQ(0, swsva_dma(self->fd, true, mem + 100, len - 200, buf, &d));
	EXPECT_EQ(len - 200, d.bytes_done);
	EXPECT_EQ(0x11, mem[99]);
	EXPECT_EQ(0, memcmp(mem + 100, buf, len - 200));
	EXPECT_EQ(0x11, mem[len - 100]);
	munmap(mem, len);
	free(buf);
}

TEST_F(swsva, write_to_read_only_mapping_fails)
{
	const size_t len = 4 * page_size;
	unsigned char *mem, *buf;
	struct swsva_dma d;

	mem = map_anon(len, PROT_READ);
	buf = malloc(len);
	ASSERT_NE(NULL, mem);
	fill_pattern(buf, len, 5);

	EXPECT_EQ(-EFAULT, swsva_dma(self->fd, true, mem, len, buf, &d));
	EXPECT_EQ(0, d.bytes_done);
	EXPECT_EQ(1, d.groups);
	EXPECT_DELTA(self, resp_invalid, 1);
	EXPECT_DELTA(self, dma_errors, 1);
	/* nothing was written: the pages still read as zero */
	EXPECT_EQ(0, mem[0]);
	EXPECT_EQ(0, mem[len - 1]);
	munmap(mem, len);
	free(buf);
}

TEST_F(swsva, access_to_unmapped_memory_fails_after_mapped_prefix)
{
	const size_t len = 4 * page_size;
	unsigned char *mem, *buf;
	struct swsva_dma d;

	mem = map_anon(len, PROT_READ | PROT_WRITE);
	buf = malloc(len);
	ASSERT_NE(NULL, mem);
	fill_pattern(mem, 2 * page_size, 6);
	ASSERT_EQ(0, munmap(mem + 2 * page_size, 2 * page_size));

	EXPECT_EQ(-EFAULT, swsva_dma(self->fd, false, mem, len, buf, &d));
	/* the two mapped pages moved, the hole stopped the DMA */
	EXPECT_EQ(2 * page_size, d.bytes_done);
	EXPECT_EQ(0, memcmp(buf, mem, 2 * page_size));
	EXPECT_EQ(2, d.page_requests);
	EXPECT_DELTA(self, resp_invalid, 1);
	munmap(mem, 2 * page_size);
	free(buf);
}

TEST_F(swsva, file_backed_shared_mapping)
{
	const size_t len = 16 * page_size;
	char path[] = "/tmp/swsva-file-XXXXXX";
	unsigned char *mem, *buf, *back;
	unsigned long around;
	struct swsva_dma d;
	int fd, ret;

	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	unlink(path);
	buf = malloc(len);
	back = malloc(len);
	fill_pattern(buf, len, 7);
	ASSERT_EQ((ssize_t)len, pwrite(fd, buf, len, 0));
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);

	/*
	 * The device reads the file's pages through read faults, one per
	 * page once fault-around (which maps cached neighbours) is off.
	 */
	ASSERT_EQ(0, set_fault_around_bytes(page_size, &around));
	memset(back, 0, len);
	ret = swsva_dma(self->fd, false, mem, len, back, &d);
	ASSERT_EQ(0, set_fault_around_bytes(around, NULL));
	ASSERT_EQ(0, ret);
	EXPECT_EQ(16, d.page_requests);
	EXPECT_EQ(0, memcmp(back, buf, len));

	/* and, mapped anew, writes through write faults that reach the file */
	munmap(mem, len);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	fill_pattern(buf, len, 8);
	ASSERT_EQ(0, swsva_dma(self->fd, true, mem, len, buf, &d));
	EXPECT_EQ(16, d.page_requests);
	memset(back, 0, len);
	ASSERT_EQ((ssize_t)len, pread(fd, back, len, 0));
	EXPECT_EQ(0, memcmp(back, buf, len));
	munmap(mem, len);
	close(fd);
	free(buf);
	free(back);
}

TEST_F(swsva, transparent_huge_pages_fault_once_per_huge_page)
{
	unsigned int gp = swsva_group_pages();
	const size_t huge = 2 << 20, len = 2 * huge;
	unsigned char *raw, *mem, *buf;
	char line[256];
	long anon_huge_kb = 0;
	struct swsva_dma d;
	FILE *f;

	raw = map_anon(len + huge, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, raw);
	mem = (unsigned char *)(((uintptr_t)raw + huge - 1) & ~(huge - 1));
	if (madvise(mem, len, MADV_HUGEPAGE))
		SKIP(return, "madvise(MADV_HUGEPAGE): %s", strerror(errno));
	buf = malloc(len);
	fill_pattern(buf, len, 9);

	ASSERT_EQ(0, swsva_dma(self->fd, true, mem, len, buf, &d));
	EXPECT_EQ(0, memcmp(mem, buf, len));
	/*
	 * The first fault maps a whole huge page: one group per 2 MiB, and
	 * the rest of the window it asked for was there by then.
	 */
	EXPECT_EQ(len / huge, d.groups);
	EXPECT_EQ(len / huge * gp, d.page_requests);

	f = fopen("/proc/self/smaps_rollup", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		sscanf(line, "AnonHugePages: %ld kB", &anon_huge_kb);
	fclose(f);
	EXPECT_LE((long)(len >> 10), anon_huge_kb);
	munmap(raw, len + huge);
	free(buf);
}

TEST_F(swsva, two_processes_on_two_endpoints)
{
	const size_t len = 32 * page_size;
	int pipefd[2], go[2], pasids[2], i, status;
	pid_t pids[2];

	ASSERT_EQ(0, access("/dev/swsva1", F_OK));
	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(0, pipe(go));
	for (i = 0; i < 2; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			unsigned char *mem = map_anon(len, PROT_READ | PROT_WRITE);
			unsigned char *buf = malloc(len);
			struct swsva_dma d;
			int fd = swsva_open(i), pasid = swsva_bind(fd);
			char c;

			close(go[1]);
			if (write(pipefd[1], &pasid, sizeof(pasid)) != sizeof(pasid))
				_exit(2);
			/* both bound at once, then both DMA at once */
			if (read(go[0], &c, 1) != 0)
				_exit(3);
			fill_pattern(buf, len, 10 + i);
			if (pasid <= 0 || swsva_dma(fd, true, mem, len, buf, &d) ||
			    d.page_requests != 32 || memcmp(mem, buf, len))
				_exit(1);
			close(fd);
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(sizeof(int), read(pipefd[0], &pasids[i], sizeof(int)));
	close(go[1]);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* two address spaces, two PASIDs, none of them ours */
	EXPECT_NE(pasids[0], pasids[1]);
	EXPECT_NE(self->pasid, pasids[0]);
	EXPECT_NE(self->pasid, pasids[1]);
	EXPECT_EQ(0, swsva_wait_idle(1, 10000));
	EXPECT_EQ(swsva_sysfs_counter(1, "groups"),
		  swsva_sysfs_counter(1, "responses"));
	close(pipefd[0]);
	close(pipefd[1]);
	close(go[0]);
}

/*
 * After fork, the binding still names the parent's address space: a DMA
 * issued through the inherited file writes the parent's memory, breaking
 * copy-on-write there, and leaves the child's copy alone.
 */
TEST_F(swsva, fork_after_bind_targets_the_binding_mm)
{
	const size_t len = 8 * page_size;
	unsigned char *mem, *buf;
	int status;
	pid_t pid;

	mem = map_anon(len, PROT_READ | PROT_WRITE);
	buf = malloc(len);
	ASSERT_NE(NULL, mem);
	memset(mem, 0x22, len);		/* present, and COW after fork */
	fill_pattern(buf, len, 12);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct swsva_dma d;

		if (swsva_dma(self->fd, true, mem, len, buf, &d))
			_exit(1);
		/* COW breaks in the parent: one write request per page */
		if (d.page_requests != 8)
			_exit(2);
		/* the child's own copy is untouched */
		_exit(mem[0] == 0x22 && mem[len - 1] == 0x22 ? 0 : 3);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, memcmp(mem, buf, len));
	munmap(mem, len);
	free(buf);
}

struct dma_thread {
	int fd;
	unsigned char *mem;
	unsigned char *buf;
	size_t len;
	int ret;
	struct swsva_dma d;
};

static void *dma_thread_fn(void *arg)
{
	struct dma_thread *t = arg;

	t->ret = swsva_dma(t->fd, true, t->mem, t->len, t->buf, &t->d);
	return NULL;
}

TEST_F(swsva, threads_issue_dma_at_once)
{
	enum { NTHREADS = 4, PAGES = 48 };
	const size_t len = PAGES * page_size;
	struct dma_thread t[NTHREADS];
	unsigned char *mem;
	pthread_t tid[NTHREADS];
	__u64 requests = 0;
	int i;

	mem = map_anon(NTHREADS * len, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, mem);
	for (i = 0; i < NTHREADS; i++) {
		t[i] = (struct dma_thread){ .fd = self->fd, .len = len,
					    .mem = mem + i * len,
					    .buf = malloc(len) };
		fill_pattern(t[i].buf, len, 20 + i);
	}
	for (i = 0; i < NTHREADS; i++)
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, dma_thread_fn, &t[i]));
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(tid[i], NULL);
		EXPECT_EQ(0, t[i].ret);
		EXPECT_EQ(0, memcmp(t[i].mem, t[i].buf, len));
		requests += t[i].d.page_requests;
		free(t[i].buf);
	}
	EXPECT_EQ(NTHREADS * PAGES, requests);
	EXPECT_DELTA(self, page_requests, NTHREADS * PAGES);
	munmap(mem, NTHREADS * len);
}

TEST_F(swsva, unbind_during_dma_cancels_it)
{
	const size_t len = 64 * page_size;
	struct dma_thread t;
	pthread_t tid;

	/* every response reaches the device 50 ms late: the DMA is slow */
	ASSERT_EQ(0, swsva_set_faults(self->fd, 1000, 50, 0, 0));
	t = (struct dma_thread){ .fd = self->fd, .len = len,
				 .mem = map_anon(len, PROT_READ | PROT_WRITE),
				 .buf = malloc(len) };
	fill_pattern(t.buf, len, 30);
	ASSERT_EQ(0, pthread_create(&tid, NULL, dma_thread_fn, &t));
	usleep(120 * 1000);
	EXPECT_EQ(0, swsva_unbind(self->fd));
	pthread_join(tid, NULL);
	ASSERT_EQ(0, swsva_set_faults(self->fd, 0, 0, 0, 0));

	EXPECT_EQ(-ECANCELED, t.ret);
	EXPECT_LT(0, t.d.groups);
	EXPECT_GT(len, t.d.bytes_done);
	/* what moved is correct */
	EXPECT_EQ(0, memcmp(t.mem, t.buf, t.d.bytes_done));
	EXPECT_EQ(-ENOTCONN, swsva_dma(self->fd, true, t.mem, len, t.buf, NULL));
	/* and the file can bind again */
	EXPECT_EQ(self->pasid, swsva_bind(self->fd));
	EXPECT_DELTA(self, unbinds, 1);
	free(t.buf);
}

TEST_F(swsva, kill_during_dma)
{
	const size_t len = 256 * page_size;
	long long unbinds = swsva_sysfs_counter(0, "unbinds");
	int status, ready[2];
	pid_t pid;
	char c;

	ASSERT_EQ(0, swsva_set_faults(self->fd, 100000, 20, 0, 0));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		unsigned char *mem = map_anon(len, PROT_READ | PROT_WRITE);
		unsigned char *buf = calloc(1, len);
		int fd = swsva_open(0);

		if (swsva_bind(fd) <= 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		swsva_dma(fd, true, mem, len, buf, NULL);
		_exit(3);	/* not reached: killed during the DMA */
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	usleep(200 * 1000);
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, swsva_set_faults(self->fd, 0, 0, 0, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* exit closed the file, which unbound */
	EXPECT_EQ(unbinds + 1, swsva_sysfs_counter(0, "unbinds"));
	close(ready[0]);
	close(ready[1]);
}

TEST_F(swsva, lost_response_times_out)
{
	const size_t len = 2 * page_size;
	unsigned char *mem, *buf;
	struct swsva_dma d;

	mem = map_anon(len, PROT_READ | PROT_WRITE);
	buf = malloc(len);
	ASSERT_EQ(0, swsva_set_faults(self->fd, 0, 0, 1, 200));
	EXPECT_EQ(-ETIMEDOUT, swsva_dma(self->fd, true, mem, len, buf, &d));
	ASSERT_EQ(0, swsva_set_faults(self->fd, 0, 0, 0, 0));
	EXPECT_EQ(1, d.groups);
	/* the IOMMU did answer; the device never heard it */
	EXPECT_DELTA(self, resp_lost, 1);
	EXPECT_DELTA(self, responses, 1);
	/* the next DMA works */
	fill_pattern(buf, len, 31);
	EXPECT_EQ(0, swsva_dma(self->fd, true, mem, len, buf, &d));
	EXPECT_EQ(0, memcmp(mem, buf, len));
	munmap(mem, len);
	free(buf);
}

TEST_F(swsva, page_request_for_unbound_pasid_is_refused_once)
{
	struct swsva_page_request req = {
		.size = sizeof(req),
		.pasid = (1 << SWSVA_PASID_BITS) - 1,	/* never allocated here */
		.perm = SWSVA_PERM_READ,
		.addr = 0x10000,
		.pages = 3,
	};

	ASSERT_EQ(0, ioctl(self->fd, SWSVA_IOC_PAGE_REQUEST, &req));
	EXPECT_EQ(SWSVA_RESP_INVALID, req.response);
	EXPECT_DELTA(self, page_requests, 3);
	EXPECT_DELTA(self, groups, 1);
	/* one group, one response, though three requests found no handler */
	EXPECT_DELTA(self, responses, 1);
	EXPECT_DELTA(self, resp_unexpected, 0);
}

TEST_F(swsva, page_request_for_bound_pasid_faults_the_page_in)
{
	unsigned char *mem = map_anon(page_size, PROT_READ | PROT_WRITE);
	struct swsva_page_request req = {
		.size = sizeof(req),
		.pasid = self->pasid,
		.perm = SWSVA_PERM_READ | SWSVA_PERM_WRITE,
		.addr = (uintptr_t)mem,
		.pages = 1,
	};
	unsigned char vec = 0;

	ASSERT_EQ(0, mincore(mem, page_size, &vec));
	EXPECT_EQ(0, vec & 1);
	ASSERT_EQ(0, ioctl(self->fd, SWSVA_IOC_PAGE_REQUEST, &req));
	EXPECT_EQ(SWSVA_RESP_SUCCESS, req.response);
	ASSERT_EQ(0, mincore(mem, page_size, &vec));
	EXPECT_EQ(1, vec & 1);
	munmap(mem, page_size);
}

TEST_F(swsva, bad_arguments_change_nothing)
{
	unsigned char *mem = map_anon(page_size, PROT_READ | PROT_WRITE);
	struct swsva_counters before, after;
	struct {
		struct swsva_dma d;
		__u64 tail;
	} big = {};
	struct swsva_page_request req;
	struct swsva_faults f;
	struct swsva_dma d;
	struct swsva_bind b;
	char buf[64];

	ASSERT_EQ(0, swsva_counters(self->fd, &before));

	/* a second bind on one file */
	EXPECT_EQ(-EBUSY, swsva_bind(self->fd));
	/* a flag the kernel does not know (SWSVA_BIND_NO_MM_REF is bit 0) */
	b = (struct swsva_bind){ .size = sizeof(b), .flags = 2 };
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_BIND, &b));
	EXPECT_EQ(EINVAL, errno);

	/* DMA: size, flags, length, address, buffer */
	d = (struct swsva_dma){ .size = 8, .addr = (uintptr_t)mem, .len = 64,
				.buf = (uintptr_t)buf };
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_DMA, &d));
	EXPECT_EQ(EINVAL, errno);
	big.d = (struct swsva_dma){ .size = sizeof(big), .addr = (uintptr_t)mem,
				    .len = 64, .buf = (uintptr_t)buf };
	big.tail = 1;
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_DMA, &big));
	EXPECT_EQ(E2BIG, errno);
	d = (struct swsva_dma){ .size = sizeof(d), .flags = 2,
				.addr = (uintptr_t)mem, .len = 64,
				.buf = (uintptr_t)buf };
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_DMA, &d));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, swsva_dma(self->fd, true, mem, 0, buf, NULL));
	EXPECT_EQ(-EINVAL, swsva_dma(self->fd, true, (void *)-4096L, 64, buf, NULL));
	EXPECT_EQ(-EINVAL, swsva_dma(self->fd, true, mem, SWSVA_DMA_MAX_LEN + 1,
				     buf, NULL));
	EXPECT_EQ(-EFAULT, swsva_dma(self->fd, false, mem, 64,
				     (void *)-4096L, NULL));
	EXPECT_EQ(-ENOTTY, ioctl(self->fd, _IO(SWSVA_IOC_MAGIC, 0x7f)) ? -errno : 0);
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_DMA, NULL));
	EXPECT_EQ(EFAULT, errno);

	/* raw page requests: PASID, permissions, count, alignment */
	req = (struct swsva_page_request){ .size = sizeof(req),
		.pasid = 1 << SWSVA_PASID_BITS, .perm = SWSVA_PERM_READ,
		.addr = 0x10000, .pages = 1 };
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_PAGE_REQUEST, &req));
	EXPECT_EQ(EINVAL, errno);
	req.pasid = 1;
	req.perm = 4;
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_PAGE_REQUEST, &req));
	EXPECT_EQ(EINVAL, errno);
	req.perm = SWSVA_PERM_READ;
	req.pages = SWSVA_GROUP_MAX_PAGES + 1;
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_PAGE_REQUEST, &req));
	EXPECT_EQ(EINVAL, errno);
	req.pages = 1;
	req.addr = 0x10001;
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_PAGE_REQUEST, &req));
	EXPECT_EQ(EINVAL, errno);

	/* fault injection: out of range */
	f = (struct swsva_faults){ .size = sizeof(f), .delay_count = 1,
				   .delay_ms = 60001 };
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_SET_FAULTS, &f));
	EXPECT_EQ(EINVAL, errno);

	/* nothing above raised a request or ran a DMA */
	ASSERT_EQ(0, swsva_counters(self->fd, &after));
	EXPECT_EQ(before.page_requests, after.page_requests);
	EXPECT_EQ(before.groups, after.groups);
	EXPECT_EQ(before.dma_ops, after.dma_ops);
	EXPECT_EQ(before.binds, after.binds);

	/* unbound file: DMA and unbind say so */
	EXPECT_EQ(0, swsva_unbind(self->fd));
	EXPECT_EQ(-ENOTCONN, swsva_unbind(self->fd));
	EXPECT_EQ(-ENOTCONN, swsva_dma(self->fd, true, mem, 64, buf, NULL));
	munmap(mem, page_size);
}

/* The PASID belongs to the address space, and is freed with it. */
TEST_F(swsva, pasid_is_freed_when_the_process_exits)
{
	int pipefd[2], status, round, pasid[2];
	cpu_set_t cpu0;

	/*
	 * One CPU for all: when a child exits, the CPU switches to us and
	 * drops its lazy-TLB reference to the child's mm, the last one.
	 */
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu0), &cpu0));
	ASSERT_EQ(0, pipe(pipefd));
	for (round = 0; round < 2; round++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0) {
			int fd = swsva_open(1);
			int p = swsva_bind(fd);

			_exit(write(pipefd[1], &p, sizeof(p)) == sizeof(p) ? 0 : 1);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_EQ(sizeof(int), read(pipefd[0], &pasid[round], sizeof(int)));
		EXPECT_LT(0, pasid[round]);
	}
	/* the second process got the first one's PASID back */
	EXPECT_EQ(pasid[0], pasid[1]);
	close(pipefd[0]);
	close(pipefd[1]);
}

/*
 * Removing an endpoint (its driver unbound, as on hot unplug) under a bound
 * process that is in the middle of a DMA: the DMA fails with ENODEV, every
 * group it posted is answered, and the file is dead from then on.
 */
TEST(endpoint_removal_under_a_running_dma)
{
	const char *drv = "/sys/bus/swsva/drivers/swsva-ep";
	long long unbinds, groups;
	int status, ready[2], fd;
	char path[128], c;
	pid_t pid;

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, swsva_load_module(NULL));
	unbinds = swsva_sysfs_counter(1, "unbinds");
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		const size_t len = 256 * page_size;
		unsigned char *mem = map_anon(len, PROT_READ | PROT_WRITE);
		unsigned char *buf = calloc(1, len);
		struct swsva_counters cnt;
		struct swsva_dma d;

		fd = swsva_open(1);
		if (swsva_bind(fd) <= 0 || swsva_set_faults(fd, 100000, 20, 0, 0))
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		if (swsva_dma(fd, true, mem, len, buf, &d) != -ENODEV)
			_exit(3);
		if (!d.groups || d.bytes_done >= len)
			_exit(4);
		if (swsva_counters(fd, &cnt) != -ENODEV)
			_exit(5);
		close(fd);
		_exit(0);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	usleep(150 * 1000);
	snprintf(path, sizeof(path), "%s/unbind", drv);
	ASSERT_EQ(0, write_file(path, "swsva1"));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_NE(0, access("/dev/swsva1", F_OK));

	/* the counters outlive the removal, and balance */
	groups = swsva_sysfs_counter(1, "groups");
	EXPECT_LT(0, groups);
	EXPECT_EQ(groups, swsva_sysfs_counter(1, "responses"));
	EXPECT_EQ(0, swsva_sysfs_counter(1, "in_flight"));
	EXPECT_EQ(unbinds + 1, swsva_sysfs_counter(1, "unbinds"));

	/* the endpoint comes back, and works */
	snprintf(path, sizeof(path), "%s/bind", drv);
	ASSERT_EQ(0, write_file(path, "swsva1"));
	fd = swsva_open(1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, swsva_set_faults(fd, 0, 0, 0, 0));
	EXPECT_LT(0, swsva_bind(fd));
	close(fd);
	close(ready[0]);
	close(ready[1]);
}

static int run(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A module with an open file stays; once the file is closed, it goes. */
TEST(endpoints_have_iommu_groups_of_their_own)
{
	char path[128], group[2][256];
	ssize_t n;
	int ep;

	ASSERT_EQ(0, swsva_load_module(NULL));
	/* a PASID attached to one endpoint must not reach another */
	for (ep = 0; ep < 2; ep++) {
		snprintf(path, sizeof(path),
			 "/sys/bus/swsva/devices/swsva%d/iommu_group", ep);
		n = readlink(path, group[ep], sizeof(group[ep]) - 1);
		ASSERT_LT(0, n) TH_LOG("%s: %m", path);
		group[ep][n] = '\0';
	}
	EXPECT_STRNE(group[0], group[1]);
}

/*
 * The endpoints are probed by the software IOMMU, also on a machine whose
 * hardware IOMMU registered first (run-vm.sh boots the suite a second time
 * with QEMU's VT-d, IOPFKIT_VM_IOMMU=intel).
 */
TEST(endpoints_probe_on_the_software_iommu)
{
	const char *hw = getenv("IOPFKIT_VM_IOMMU");
	char path[128], link[256];
	ssize_t n;
	int ep;

	ASSERT_EQ(0, swsva_load_module(NULL));
	if (hw && !strcmp(hw, "intel")) {
		ASSERT_EQ(0, access("/sys/class/iommu/dmar0", F_OK))
			TH_LOG("booted with VT-d, but no dmar0");
	}
	for (ep = 0; ep < 2; ep++) {
		snprintf(path, sizeof(path),
			 "/sys/bus/swsva/devices/swsva%d/iommu", ep);
		n = readlink(path, link, sizeof(link) - 1);
		ASSERT_LT(0, n) TH_LOG("%s: %m", path);
		link[n] = '\0';
		EXPECT_STREQ("swsva", strrchr(link, '/') + 1);
	}
}

TEST(module_unload_waits_for_open_files)
{
	char cmd[512];
	int fd;

	ASSERT_EQ(0, swsva_load_module(NULL));
	fd = swsva_open(0);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, swsva_bind(fd));
	EXPECT_NE(0, run("rmmod swsva 2>/dev/null"));
	EXPECT_EQ(0, access("/dev/swsva0", F_OK));
	close(fd);
	EXPECT_EQ(0, run("rmmod swsva"));
	EXPECT_NE(0, access("/dev/swsva0", F_OK));
	EXPECT_NE(0, access("/sys/bus/swsva", F_OK));
	/* and loads again, with other parameters */
	snprintf(cmd, sizeof(cmd), "modprobe -d %s swsva endpoints=3",
		 getenv("IOPFKIT_MODROOT"));
	EXPECT_EQ(0, run(cmd));
	EXPECT_EQ(0, access("/dev/swsva2", F_OK));
	EXPECT_EQ(0, run("rmmod swsva"));
	EXPECT_EQ(0, swsva_load_module(NULL));
	/* bad parameters are refused */
	snprintf(cmd, sizeof(cmd), "echo 0 > /sys/module/swsva/parameters/group_pages 2>/dev/null");
	EXPECT_NE(0, run(cmd));
	EXPECT_EQ(8, swsva_group_pages());
}

TEST_HARNESS_MAIN
