// SPDX-License-Identifier: GPL-2.0
/*
 * The software SVA device under a client that races, misuses and probes
 * it: raw requests for a PASID while another file unbinds it, DMA to
 * special mappings, memory shared by fork(), incomplete page request
 * groups, argument sizes of other versions of the uapi, teardown while
 * the device waits.  Each test ends with every group answered once.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "../lib/file_util.h"
#include "../lib/swsva_fixture.h"

#define offsetofend(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))

static size_t page_size;

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Every group posted on @ep so far got exactly one response. */
static void expect_balanced(struct __test_metadata *_metadata, int ep)
{
	ASSERT_EQ(0, swsva_wait_idle(ep, 20000));
	EXPECT_EQ(swsva_sysfs_counter(ep, "groups"),
		  swsva_sysfs_counter(ep, "responses"));
	EXPECT_EQ(0, swsva_sysfs_counter(ep, "resp_unexpected"));
}

/* A raw page request group; returns 0 (with the response) or -errno. */
static int raw_request(int fd, __u32 pasid, void *addr, __u32 pages,
		       __u32 flags, struct swsva_page_request *out)
{
	struct swsva_page_request req = {
		.size = sizeof(req),
		.flags = flags,
		.pasid = pasid,
		.perm = SWSVA_PERM_READ | SWSVA_PERM_WRITE,
		.addr = (uintptr_t)addr,
		.pages = pages,
	};
	int ret = ioctl(fd, SWSVA_IOC_PAGE_REQUEST, &req) ? -errno : 0;

	if (out)
		*out = req;
	return ret;
}

/* The range of a special mapping of ours, from /proc/self/maps. */
static int find_mapping(const char *name, unsigned long *start,
			unsigned long *end)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, name))
			continue;
		if (sscanf(line, "%lx-%lx", start, end) == 2)
			ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

static uint64_t elapsed_ms(uint64_t since_ns)
{
	return (swsva_now_ns() - since_ns) / 1000000;
}

/*
 * Raw requests for a PASID from one file while another file binds and
 * unbinds it: once the detach of the PASID has started, no request may
 * reach the core, which would hand it the handle and domain being freed.
 */
struct flapper {
	int fd;
	int seconds;
	volatile int rounds;
	int errors;
};

static void *flap_binding(void *arg)
{
	struct flapper *f = arg;
	uint64_t t0 = swsva_now_ns();

	while (elapsed_ms(t0) < f->seconds * 1000ull) {
		if (swsva_bind(f->fd) <= 0 || swsva_unbind(f->fd))
			f->errors++;
		f->rounds++;
	}
	return NULL;
}

struct raw_results {
	unsigned int success, invalid, canceled, other;
	int last_error;
};

static void count_raw(struct raw_results *r, int ret,
		      const struct swsva_page_request *req)
{
	if (ret == -ECANCELED)
		r->canceled++;
	else if (ret)
		r->other++, r->last_error = ret;
	else if (req->response == SWSVA_RESP_SUCCESS)
		r->success++;
	else if (req->response == SWSVA_RESP_INVALID)
		r->invalid++;
	else
		r->other++, r->last_error = 1000 + req->response;
}

TEST(raw_requests_race_the_unbind_of_their_pasid)
{
	struct flapper f = { .seconds = 4 };
	struct raw_results r = {};
	struct swsva_page_request req;
	unsigned char *mem;
	pthread_t tid;
	int raw_fd, pasid;

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, swsva_load_module(NULL));
	mem = map_anon(page_size);
	ASSERT_NE(NULL, mem);
	mem[0] = 1;
	f.fd = swsva_open(0);
	raw_fd = swsva_open(0);
	ASSERT_LE(0, f.fd);
	ASSERT_LE(0, raw_fd);
	/* the PASID is the mm's: every bind of this process gets it */
	pasid = swsva_bind(f.fd);
	ASSERT_LT(0, pasid);
	ASSERT_EQ(0, swsva_unbind(f.fd));

	ASSERT_EQ(0, pthread_create(&tid, NULL, flap_binding, &f));
	while (!f.rounds)
		sched_yield();
	while (f.rounds && pthread_tryjoin_np(tid, NULL) == EBUSY) {
		int ret = raw_request(raw_fd, pasid, mem, 2, 0, &req);

		count_raw(&r, ret, &req);
	}
	TH_LOG("%d bind/unbind rounds; raw groups: %u success, %u invalid, %u canceled",
	       f.rounds, r.success, r.invalid, r.canceled);
	EXPECT_EQ(0, f.errors);
	EXPECT_EQ(0, r.other) TH_LOG("unexpected result %d", r.last_error);
	/* both sides of the race happened */
	EXPECT_LT(0, r.success);
	EXPECT_LT(0, r.invalid);
	close(f.fd);
	close(raw_fd);
	expect_balanced(_metadata, 0);
}

/* The same, with a child process whose only binding comes and goes. */
TEST(raw_requests_race_a_child_that_flaps_its_binding)
{
	struct raw_results r = {};
	struct swsva_page_request req;
	int pipefd[2], status, raw_fd, pasid;
	void *child_mem;
	uint64_t t0;
	pid_t pid, w;

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, swsva_load_module(NULL));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct flapper f = { .fd = swsva_open(1), .seconds = 4 };
		unsigned char *mem = map_anon(page_size);
		int p = swsva_bind(f.fd);

		mem[0] = 1;
		/* tell the parent the PASID and where a present page is */
		if (p <= 0 || write(pipefd[1], &p, sizeof(p)) != sizeof(p) ||
		    write(pipefd[1], &mem, sizeof(mem)) != sizeof(mem))
			_exit(1);
		swsva_unbind(f.fd);
		flap_binding(&f);
		_exit(f.errors ? 2 : 0);
	}
	ASSERT_EQ(sizeof(pasid), read(pipefd[0], &pasid, sizeof(pasid)));
	ASSERT_EQ(sizeof(child_mem),
		  read(pipefd[0], &child_mem, sizeof(child_mem)));
	raw_fd = swsva_open(1);
	ASSERT_LE(0, raw_fd);
	t0 = swsva_now_ns();
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 &&
	       elapsed_ms(t0) < 60000) {
		int ret = raw_request(raw_fd, pasid, child_mem, 2, 0, &req);

		count_raw(&r, ret, &req);
	}
	ASSERT_EQ(pid, w);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	TH_LOG("raw groups: %u success, %u invalid, %u canceled",
	       r.success, r.invalid, r.canceled);
	EXPECT_EQ(0, r.other) TH_LOG("unexpected result %d", r.last_error);
	EXPECT_LT(0, r.success);
	/* the child is gone, and its PASID with it: refused, once */
	EXPECT_EQ(0, raw_request(raw_fd, pasid, (void *)0x10000, 3, 0, &req));
	EXPECT_EQ(SWSVA_RESP_INVALID, req.response);
	close(raw_fd);
	close(pipefd[0]);
	close(pipefd[1]);
	expect_balanced(_metadata, 1);
}

/* Endpoint 0, opened and bound, for the tests of one client. */
FIXTURE(bound) {
	int fd;
	int pasid;
	struct swsva_counters start;
};

FIXTURE_SETUP(bound)
{
	SWSVA_SETUP_BOUND(self);
}

FIXTURE_TEARDOWN(bound)
{
	if (self->fd >= 0) {
		swsva_set_faults(self->fd, 0, 0, 0, 0);
		close(self->fd);
	}
	expect_balanced(_metadata, 0);
}

#define DELTA(self, c, field) ((c).field - (self)->start.field)

/*
 * [vvar] is VM_IO | VM_PFNMAP: the SVA handler must refuse it as GUP does,
 * not call its ->fault() from a kworker (which WARNs in the time namespace
 * code).  [vdso] is ordinary read-only text: reads work, writes are an
 * access fault.
 */
TEST_F(bound, dma_to_vvar_and_vdso)
{
	unsigned long start, end, va;
	struct swsva_counters c;
	unsigned char *buf;
	struct swsva_dma d;
	unsigned int n = 0;

	ASSERT_EQ(0, find_mapping("[vvar]", &start, &end));
	buf = malloc(page_size);
	ASSERT_NE(NULL, buf);
	for (va = start; va < end; va += page_size, n++) {
		EXPECT_EQ(-EFAULT, swsva_dma(self->fd, false, (void *)va,
					     page_size, buf, &d))
			TH_LOG("read of [vvar] page %u", n);
		EXPECT_EQ(0, d.bytes_done);
		EXPECT_EQ(-EFAULT, swsva_dma(self->fd, true, (void *)va,
					     page_size, buf, &d))
			TH_LOG("write of [vvar] page %u", n);
	}
	ASSERT_EQ(0, swsva_counters(self->fd, &c));
	EXPECT_EQ(2 * n, DELTA(self, c, resp_invalid));

	ASSERT_EQ(0, find_mapping("[vdso]", &start, &end));
	EXPECT_EQ(0, swsva_dma(self->fd, false, (void *)start, page_size, buf,
			       &d));
	EXPECT_EQ(0, memcmp(buf, (void *)start, page_size));
	memset(buf, 0xcc, page_size);
	EXPECT_EQ(-EFAULT, swsva_dma(self->fd, true, (void *)start, page_size,
				     buf, &d));
	EXPECT_NE(0xcc, *(unsigned char *)start);
	free(buf);
}

/*
 * Anonymous memory that fork() shares copy-on-write: a device reads it as
 * the CPU does, without unsharing it, while the child lives, after it
 * exited, and from the child through the inherited file (whose binding is
 * the parent's address space).
 */
TEST_F(bound, read_dma_of_memory_shared_with_a_child)
{
	const size_t len = 16 * page_size;
	unsigned char *mem = map_anon(len), *buf = malloc(len);
	int go[2], done[2], status;
	struct swsva_dma d;
	size_t i;
	pid_t pid;
	char c;

	ASSERT_NE(NULL, mem);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < len; i++)
		mem[i] = (unsigned char)(i * 7 + 3);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		memset(buf, 0, len);
		if (swsva_dma(self->fd, false, mem, len, buf, &d))
			_exit(2);
		if (memcmp(buf, mem, len) || d.retries || d.page_requests)
			_exit(3);
		_exit(write(done[1], "d", 1) == 1 ? 0 : 4);
	}
	/* the child lives and shares every page */
	memset(buf, 0, len);
	ASSERT_EQ(0, swsva_dma(self->fd, false, mem, len, buf, &d));
	EXPECT_EQ(0, memcmp(buf, mem, len));
	EXPECT_EQ(0, d.retries);
	EXPECT_EQ(0, d.page_requests);
	/* the child reads through the inherited file */
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(1, read(done[0], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* the child is gone, the pages are still not exclusive */
	memset(buf, 0, len);
	ASSERT_EQ(0, swsva_dma(self->fd, false, mem, len, buf, &d));
	EXPECT_EQ(0, memcmp(buf, mem, len));
	EXPECT_EQ(0, d.retries);
	/* and a write DMA breaks COW as the CPU would */
	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 5 + 1);
	ASSERT_EQ(0, swsva_dma(self->fd, true, mem, len, buf, &d));
	EXPECT_EQ(0, memcmp(buf, mem, len));
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	munmap(mem, len);
	free(buf);
}

static bool page_resident(void *addr)
{
	unsigned char vec = 0;

	return mincore(addr, page_size, &vec) == 0 && (vec & 1);
}

/*
 * Partial requests queued while the PASID had a handler, whose group's last
 * request comes after the unbind: the core must drop them, not merge them
 * into the next group that reuses the index.
 */
TEST_F(bound, partial_requests_of_an_unbound_pasid_are_dropped)
{
	unsigned char *mem = map_anon(4 * page_size);
	struct swsva_page_request req;
	struct swsva_counters c;
	int i, fd2;

	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, swsva_wait_idle(0, 10000));
	/* three requests, no last one: they wait on the partial list */
	ASSERT_EQ(0, raw_request(self->fd, self->pasid, mem, 3,
				 SWSVA_PAGE_REQUEST_NO_LAST, &req));
	EXPECT_EQ(0, req.grpid);
	ASSERT_EQ(0, swsva_unbind(self->fd));
	/* the group's last request, now without a handler: Invalid, once */
	ASSERT_EQ(0, raw_request(self->fd, self->pasid, mem + 3 * page_size, 1,
				 0, &req));
	EXPECT_EQ(0, req.grpid);
	EXPECT_EQ(SWSVA_RESP_INVALID, req.response);

	/* bound again, a group with the same index faults its page only */
	fd2 = swsva_open(0);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(self->pasid, swsva_bind(fd2));
	ASSERT_EQ(0, raw_request(fd2, self->pasid, mem + 3 * page_size, 1, 0,
				 &req));
	EXPECT_EQ(0, req.grpid);
	EXPECT_EQ(SWSVA_RESP_SUCCESS, req.response);
	EXPECT_TRUE(page_resident(mem + 3 * page_size));
	for (i = 0; i < 3; i++) {
		EXPECT_FALSE(page_resident(mem + i * page_size))
			TH_LOG("page %d of the dropped partial requests", i);
	}
	ASSERT_EQ(0, swsva_counters(self->fd, &c));
	EXPECT_EQ(5, DELTA(self, c, page_requests));
	/* the incomplete group expects no response */
	EXPECT_EQ(2, DELTA(self, c, groups));
	close(fd2);
	munmap(mem, 4 * page_size);
}

TEST_F(bound, raw_request_range_may_not_wrap)
{
	struct swsva_page_request req;
	struct swsva_counters c;

	EXPECT_EQ(-EINVAL, raw_request(self->fd, self->pasid,
				       (void *)(-2 * page_size), 3, 0, &req));
	EXPECT_EQ(-EINVAL, raw_request(self->fd, self->pasid,
				       (void *)(-page_size), 2, 0, &req));
	EXPECT_EQ(-EINVAL, raw_request(self->fd, self->pasid,
				       (void *)0x10000, 1, 2, &req));
	ASSERT_EQ(0, swsva_counters(self->fd, &c));
	EXPECT_EQ(0, DELTA(self, c, page_requests));
	EXPECT_EQ(0, DELTA(self, c, groups));
}

/* The uapi grows like iommufd's: sizes are not part of the command. */
TEST_F(bound, argument_structures_of_other_sizes)
{
	struct {
		struct swsva_counters c;
		__u64 tail;
	} big;
	struct {
		struct swsva_page_request req;
		__u64 sentinel;
	} old;
	struct swsva_counters c;
	unsigned char *mem = map_anon(page_size);

	ASSERT_NE(NULL, mem);
	mem[0] = 1;
	EXPECT_EQ(0, _IOC_SIZE(SWSVA_IOC_DMA));
	EXPECT_EQ(0, _IOC_SIZE(SWSVA_IOC_COUNTERS));

	/* a newer program: a larger structure with a zero tail */
	memset(&big, 0, sizeof(big));
	big.c.size = sizeof(big);
	ASSERT_EQ(0, ioctl(self->fd, SWSVA_IOC_COUNTERS, &big));
	EXPECT_EQ(self->start.binds, big.c.binds);
	EXPECT_EQ(0, big.tail);
	/* ... with something the kernel does not know in the tail */
	big.tail = 1;
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_COUNTERS, &big));
	EXPECT_EQ(E2BIG, errno);

	/* below the first version */
	memset(&c, 0, sizeof(c));
	c.size = offsetofend(struct swsva_counters, unbinds) - 8;
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_COUNTERS, &c));
	EXPECT_EQ(EINVAL, errno);
	c.size = 4;
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_PAGE_REQUEST, &c));
	EXPECT_EQ(EINVAL, errno);

	/* an older program: the first version of the raw request */
	memset(&old, 0, sizeof(old));
	old.req.size = offsetofend(struct swsva_page_request, response);
	old.req.pasid = self->pasid;
	old.req.perm = SWSVA_PERM_READ;
	old.req.addr = (uintptr_t)mem;
	old.req.pages = 1;
	old.req.grpid = 0xa5a5a5a5;	/* not part of that version */
	old.sentinel = 0x5a5a5a5a5a5a5a5aull;
	ASSERT_EQ(0, ioctl(self->fd, SWSVA_IOC_PAGE_REQUEST, &old.req));
	EXPECT_EQ(SWSVA_RESP_SUCCESS, old.req.response);
	/* the kernel neither read nor wrote past the size it was given */
	EXPECT_EQ(0xa5a5a5a5, old.req.grpid);
	EXPECT_EQ(0x5a5a5a5a5a5a5a5aull, old.sentinel);
	munmap(mem, page_size);
}

TEST(read_only_file_may_read_counters_only)
{
	struct swsva_counters c;
	int fd;

	ASSERT_EQ(0, swsva_load_module(NULL));
	fd = open("/dev/swsva0", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADF, swsva_bind(fd));
	EXPECT_EQ(-EBADF, swsva_unbind(fd));
	EXPECT_EQ(-EBADF, swsva_set_faults(fd, 0, 0, 0, 0));
	EXPECT_EQ(-EBADF, raw_request(fd, 1, (void *)0x10000, 1, 0, NULL));
	EXPECT_EQ(0, swsva_counters(fd, &c));
	close(fd);
}

/* SET_FAULTS: code and header agree on the range and the default. */
TEST_F(bound, fault_injection_limits_and_default_timeout)
{
	unsigned char *mem = map_anon(page_size), *buf = malloc(page_size);
	struct swsva_counters c;
	struct swsva_dma d;
	uint64_t t0;

	ASSERT_NE(NULL, mem);
	EXPECT_EQ(-EINVAL, swsva_set_faults(self->fd, 0, 0, 1, 60001));
	EXPECT_EQ(-EINVAL, swsva_set_faults(self->fd, 1, 0, 0, 100));
	/* refused settings changed nothing: no response is lost */
	ASSERT_EQ(0, swsva_dma(self->fd, true, mem, page_size, buf, &d));
	ASSERT_EQ(0, swsva_counters(self->fd, &c));
	EXPECT_EQ(0, DELTA(self, c, resp_lost));

	/* 0 is the documented default: the device waits 10 s */
	munmap(mem, page_size);
	mem = map_anon(page_size);
	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, swsva_set_faults(self->fd, 0, 0, 1, 0));
	t0 = swsva_now_ns();
	EXPECT_EQ(-ETIMEDOUT, swsva_dma(self->fd, true, mem, page_size, buf,
					&d));
	EXPECT_LE(9500, elapsed_ms(t0));
	EXPECT_EQ(1, d.groups);
	munmap(mem, page_size);
	free(buf);
}

/*
 * A response the device gets late or never: the counters count it by its
 * code, the latencies the device reports include the delay, and the lost
 * timeout applies to lost responses only.
 */
TEST_F(bound, delayed_and_lost_responses_as_documented)
{
	const size_t len = 2 * page_size;
	unsigned char *mem = map_anon(len), *buf = malloc(len);
	__u64 lat[4] = { 0 };
	struct swsva_counters c;
	struct swsva_dma d = {
		.size = sizeof(d), .flags = SWSVA_DMA_WRITE,
		.addr = (uintptr_t)mem, .len = len, .buf = (uintptr_t)buf,
		.latencies = (uintptr_t)lat, .latencies_len = 4,
	};

	ASSERT_NE(NULL, mem);
	/* delayed 300 ms, lost-response timeout 100 ms: the DMA succeeds */
	ASSERT_EQ(0, swsva_set_faults(self->fd, 1, 300, 0, 100));
	ASSERT_EQ(0, ioctl(self->fd, SWSVA_IOC_DMA, &d));
	EXPECT_EQ(1, d.groups);
	EXPECT_EQ(1, d.latencies_len);
	EXPECT_LE(300000000ull, lat[0]);
	EXPECT_EQ(0, lat[1]);

	/* a lost Success response counts as a Success, and as lost */
	munmap(mem, len);
	mem = map_anon(len);
	ASSERT_EQ(0, swsva_set_faults(self->fd, 0, 0, 1, 100));
	EXPECT_EQ(-ETIMEDOUT, swsva_dma(self->fd, true, mem, len, buf, NULL));
	ASSERT_EQ(0, swsva_counters(self->fd, &c));
	EXPECT_EQ(1, DELTA(self, c, resp_lost));
	EXPECT_EQ(2, DELTA(self, c, resp_success));
	EXPECT_EQ(c.responses, c.resp_success + c.resp_invalid + c.resp_failure);
	munmap(mem, len);
	free(buf);
}

TEST_F(bound, latencies_len_counts_what_was_written)
{
	const size_t len = 2 * page_size;
	unsigned char *mem = map_anon(len), *buf = malloc(len);
	__u64 *ro = mmap(NULL, page_size, PROT_READ,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct swsva_dma d = {
		.size = sizeof(d), .flags = SWSVA_DMA_WRITE,
		.addr = (uintptr_t)mem, .len = len, .buf = (uintptr_t)buf,
		.latencies = 0, .latencies_len = 4,
	};

	ASSERT_NE(NULL, mem);
	ASSERT_NE(MAP_FAILED, ro);
	/* no array: nothing written, whatever the length said */
	ASSERT_EQ(0, ioctl(self->fd, SWSVA_IOC_DMA, &d));
	EXPECT_EQ(1, d.groups);
	EXPECT_EQ(0, d.latencies_len);

	/* an array the kernel cannot write: EFAULT, nothing written */
	munmap(mem, len);
	mem = map_anon(len);
	d.addr = (uintptr_t)mem;
	d.latencies = (uintptr_t)ro;
	d.latencies_len = 4;
	EXPECT_EQ(-1, ioctl(self->fd, SWSVA_IOC_DMA, &d));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(1, d.groups);
	EXPECT_EQ(0, d.latencies_len);
	munmap(ro, page_size);
	munmap(mem, len);
	free(buf);
}

/* A thread that runs one DMA to untouched memory and times it. */
struct slow_dma {
	int fd;
	size_t len;
	unsigned char *mem, *buf;
	int ret;
	uint64_t ms;
	struct swsva_dma d;
};

static void *slow_dma_fn(void *arg)
{
	struct slow_dma *t = arg;
	uint64_t t0 = swsva_now_ns();

	t->ret = swsva_dma(t->fd, true, t->mem, t->len, t->buf, &t->d);
	t->ms = elapsed_ms(t0);
	return NULL;
}

static void start_slow_dma(struct __test_metadata *_metadata,
			   struct slow_dma *t, int fd, pthread_t *tid)
{
	*t = (struct slow_dma){ .fd = fd, .len = 2 * page_size };
	t->mem = map_anon(t->len);
	t->buf = calloc(1, t->len);
	ASSERT_NE(NULL, t->mem);
	ASSERT_EQ(0, pthread_create(tid, NULL, slow_dma_fn, t));
	/* let it post its group and wait */
	usleep(300 * 1000);
}

/*
 * Unbind while the device waits a minute for a lost or late response: the
 * unbind does not wait with it (the hung-task detector would fire first);
 * the DMA ends ECANCELED, and the group is still answered once.
 */
static void unbind_while_the_device_waits(struct __test_metadata *_metadata,
					  int fd, unsigned int delay_count,
					  unsigned int delay_ms,
					  unsigned int lose_count,
					  unsigned int timeout_ms)
{
	struct slow_dma t;
	pthread_t tid;
	uint64_t t0;

	ASSERT_EQ(0, swsva_set_faults(fd, delay_count, delay_ms, lose_count,
				      timeout_ms));
	start_slow_dma(_metadata, &t, fd, &tid);
	t0 = swsva_now_ns();
	EXPECT_EQ(0, swsva_unbind(fd));
	EXPECT_GT(30000, elapsed_ms(t0));
	pthread_join(tid, NULL);
	EXPECT_EQ(-ECANCELED, t.ret);
	EXPECT_EQ(1, t.d.groups);
	EXPECT_GT(30000, t.ms);
}

TEST_F(bound, unbind_does_not_wait_for_a_lost_response)
{
	unbind_while_the_device_waits(_metadata, self->fd, 0, 0, 1, 60000);
}

TEST_F(bound, unbind_does_not_wait_for_a_delayed_response)
{
	unbind_while_the_device_waits(_metadata, self->fd, 1, 60000, 0, 0);
}

TEST(endpoint_removal_does_not_wait_for_a_lost_response)
{
	const char *drv = "/sys/bus/swsva/drivers/swsva-ep";
	struct slow_dma t;
	char path[128];
	pthread_t tid;
	uint64_t t0;
	int fd;

	page_size = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, swsva_load_module(NULL));
	fd = swsva_open(1);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, swsva_bind(fd));
	ASSERT_EQ(0, swsva_set_faults(fd, 0, 0, 1, 60000));
	start_slow_dma(_metadata, &t, fd, &tid);
	t0 = swsva_now_ns();
	snprintf(path, sizeof(path), "%s/unbind", drv);
	ASSERT_EQ(0, write_file(path, "swsva1"));
	EXPECT_GT(30000, elapsed_ms(t0));
	pthread_join(tid, NULL);
	EXPECT_EQ(-ENODEV, t.ret);
	close(fd);
	EXPECT_EQ(swsva_sysfs_counter(1, "groups"),
		  swsva_sysfs_counter(1, "responses"));
	EXPECT_EQ(0, swsva_sysfs_counter(1, "in_flight"));
	snprintf(path, sizeof(path), "%s/bind", drv);
	ASSERT_EQ(0, write_file(path, "swsva1"));
	fd = swsva_open(1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, swsva_set_faults(fd, 0, 0, 0, 0));
	close(fd);
}

/*
 * DMAs that race an unbind: one that started on the binding ends with
 * success or ECANCELED and is counted; one that finds the binding going or
 * gone gets ENOTCONN and is not.
 */
struct dma_loop {
	int fd;
	volatile bool stop;
	unsigned int ok, canceled, notconn, other;
	int last_error;
};

static void *dma_loop_fn(void *arg)
{
	struct dma_loop *l = arg;
	unsigned char buf[64];

	while (!l->stop) {
		unsigned char *mem = map_anon(4 * page_size);
		int ret;

		ret = swsva_dma(l->fd, true, mem, 4 * page_size - 64, buf, NULL);
		if (!ret)
			l->ok++;
		else if (ret == -ECANCELED)
			l->canceled++;
		else if (ret == -ENOTCONN)
			l->notconn++;
		else
			l->other++, l->last_error = ret;
		munmap(mem, 4 * page_size);
	}
	return NULL;
}

TEST_F(bound, dmas_racing_an_unbind_are_counted_once)
{
	struct dma_loop l = { .fd = self->fd };
	struct swsva_counters c;
	pthread_t tid;
	int round;

	ASSERT_EQ(0, swsva_set_faults(self->fd, 100000, 2, 0, 0));
	ASSERT_EQ(0, pthread_create(&tid, NULL, dma_loop_fn, &l));
	for (round = 0; round < 40; round++) {
		usleep(20 * 1000);
		ASSERT_EQ(0, swsva_unbind(self->fd));
		usleep(5 * 1000);
		ASSERT_EQ(self->pasid, swsva_bind(self->fd));
	}
	l.stop = true;
	pthread_join(tid, NULL);
	TH_LOG("DMAs: %u ok, %u canceled, %u not connected",
	       l.ok, l.canceled, l.notconn);
	EXPECT_EQ(0, l.other) TH_LOG("unexpected result %d", l.last_error);
	ASSERT_EQ(0, swsva_counters(self->fd, &c));
	EXPECT_EQ(l.ok + l.canceled, DELTA(self, c, dma_ops));
	EXPECT_EQ(l.canceled, DELTA(self, c, dma_errors));
	EXPECT_LT(0, l.ok);
	EXPECT_LT(0, l.canceled + l.notconn);
}

/*
 * The counters of a request's own group are final when the request
 * returns: no read of them has to wait.  Each round posts a group that
 * the core answers at once (no handler) and one that the SVA handler
 * answers from its workqueue, and reads the counters right after each.
 */
TEST_F(bound, counters_are_final_when_a_request_returns)
{
	unsigned char *mem = map_anon(page_size);
	struct swsva_counters a, b, d;
	int round, bad = 0;

	ASSERT_NE(NULL, mem);
	mem[0] = 1;
	for (round = 0; round < 10000; round++) {
		bool bound_pasid = round & 1;
		__u32 pasid = bound_pasid ? self->pasid :
					    (1 << SWSVA_PASID_BITS) - 1;

		ASSERT_EQ(0, swsva_counters(self->fd, &a));
		ASSERT_EQ(0, raw_request(self->fd, pasid, mem, 1, 0, NULL));
		ASSERT_EQ(0, swsva_counters(self->fd, &b));
		swsva_counters_delta(&d, &a, &b);
		if (d.groups != 1 || d.responses != 1 || d.in_flight != 0 ||
		    d.resp_success != bound_pasid ||
		    d.resp_invalid != !bound_pasid) {
			if (!bad++)
				TH_LOG("round %d: groups %lld responses %lld in_flight %lld success %lld invalid %lld",
				       round, (long long)d.groups,
				       (long long)d.responses,
				       (long long)d.in_flight,
				       (long long)d.resp_success,
				       (long long)d.resp_invalid);
		}
	}
	EXPECT_EQ(0, bad);
	munmap(mem, page_size);
}

TEST_HARNESS_MAIN
