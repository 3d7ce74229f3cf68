// SPDX-License-Identifier: GPL-2.0
/*
 * swsva-load: a realistic workload on the software SVA device, for the demo
 * and the tools' benchmarks.
 *
 *   swsva-load [-d SECONDS] [-w WORKERS] [-s MIB] [-e ENDPOINTS] [-q]
 *              [--fixed-rounds N]
 *
 * Forks worker processes, each with its own name (comm), each binding an
 * endpoint (round-robin over /dev/swsva0..E-1):
 *
 *   stream-N  sequential write DMAs over fresh untouched memory, then read
 *             DMAs that check the data; a new mapping every round
 *   random-N  reads and writes of 1-16 pages at random offsets of a large
 *             untouched mapping, replaced every 64 DMAs
 *   badaddr   valid DMAs, plus DMAs to an unmapped range, across the end of
 *             a mapping, and a write DMA to a PROT_READ mapping: those get
 *             Invalid responses and fail with EFAULT, as they must
 *   exiter    a long DMA, during which the process dies: SIGKILL from the
 *             parent or _exit() from another of its threads, in turn; the
 *             parent then starts a new one
 *
 * The first worker (stream-0) binds before the others start and lives for
 * the whole run, so a tool started later has to find it by scanning.
 *
 * Kinds by worker count: stream-0, random-0, badaddr, exiter, then
 * stream-1, random-1, stream-2...  Workers sleep 2-20 ms between DMAs.
 *
 * --fixed-rounds N: for benchmarks, N rounds per worker with fixed seeds,
 * no sleeps and no kills; an exiter round is a process that binds, runs
 * its long DMA and exits without unbinding.
 *
 * At the end: per worker, DMAs done and failed (by errno), and the deltas
 * of the device counters, with the checks every run must pass (every group
 * answered once).  Exit status 0 when they pass, 1 otherwise, 2 on usage.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "../lib/swsva_util.h"

#define MAX_WORKERS	64
#define MAX_EP		16
#define MAX_ERRNO	134
#define STREAM_CHUNK	32	/* pages per stream DMA */
#define RANDOM_DMAS	64	/* random DMAs per mapping */
#define BAD_VALID	8	/* valid DMAs per badaddr round */
#define EXIT_BY_THREAD	42	/* exiter's status when its thread exits */

enum kind { K_STREAM, K_RANDOM, K_BADADDR, K_EXITER };

/* One worker, in memory shared with the parent. */
struct slot {
	char name[16];
	enum kind kind;
	int ep;
	int index;
	/* written by the worker */
	int pid, pasid, in_dma, setup_err;
	uint64_t rounds, dmas, failed, expected, unexpected, verify_errors;
	uint64_t short_done, page_requests, groups, retries, bytes;
	uint64_t errs[MAX_ERRNO + 1];	/* last: any higher errno */
	/* exiter instances, counted by the parent */
	uint64_t instances, sigkilled, thread_exits, normal_exits, mid_dma;
	uint64_t abnormal;
	/* the parent's bookkeeping */
	pid_t live;
	bool died, by_thread;
	int status;
	uint64_t kill_at, respawn_at, spawned_at;
};

static struct slot *slots;
static int nworkers;
static size_t page_size, region;	/* region: bytes per stream mapping */
static unsigned int fixed_rounds;
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	stop = 1;
}

static void stat_add(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static uint64_t stat_get(uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* xorshift64*: cheap, and the same sequence for a fixed seed */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static unsigned int rnd_range(uint64_t *s, unsigned int lo, unsigned int hi)
{
	return lo + rnd(s) % (hi - lo + 1);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { ns / 1000000000ull, ns % 1000000000ull };

	nanosleep(&ts, NULL);	/* a stop signal cuts it short, as wanted */
}

static void *map_untouched(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* page by page requests, not one 2 MiB fault per huge page */
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static const char *errname(int e)
{
	const char *n = e < MAX_ERRNO ? strerrorname_np(e) : NULL;

	return n ? n : "E?";
}

/* --- workers ---------------------------------------------------------- */

struct worker {
	struct slot *s;
	int fd;
	uint64_t rng;
};

/* The throttle between DMAs: none in fixed-rounds mode. */
static void pause_dma(struct worker *w)
{
	if (!fixed_rounds && !stop)
		sleep_ns(rnd_range(&w->rng, 2, 20) * 1000000ull);
}

/*
 * Run a DMA and count it.  @bad: the DMA must fail with EFAULT (an Invalid
 * response); anything else is an unexpected result, as is any failure of
 * a DMA that is not @bad.
 */
static int dma(struct worker *w, bool write, void *addr, size_t len,
	       void *buf, bool bad, struct swsva_dma *out)
{
	struct slot *s = w->s;
	struct swsva_dma d;
	int ret;

	__atomic_store_n(&s->in_dma, 1, __ATOMIC_SEQ_CST);
	ret = swsva_dma(w->fd, write, addr, len, buf, &d);
	__atomic_store_n(&s->in_dma, 0, __ATOMIC_SEQ_CST);

	stat_add(&s->dmas, 1);
	stat_add(&s->page_requests, d.page_requests);
	stat_add(&s->groups, d.groups);
	stat_add(&s->retries, d.retries);
	stat_add(&s->bytes, d.bytes_done);
	if (ret) {
		stat_add(&s->failed, 1);
		stat_add(&s->errs[-ret < MAX_ERRNO ? -ret : MAX_ERRNO], 1);
	}
	if (bad && ret == -EFAULT)
		stat_add(&s->expected, 1);
	else if (bad || ret)
		stat_add(&s->unexpected, 1);
	if (out)
		*out = d;
	return ret;
}

static void fill_pattern(void *buf, size_t len, uint64_t tag)
{
	uint64_t *b = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		b[i] = (tag + i) * 0x9E3779B97F4A7C15ULL;
}

/* Write a fresh mapping front to back, then read it back and compare. */
static void stream_round(struct worker *w, uint64_t round, void *wbuf,
			 void *rbuf)
{
	size_t chunk = STREAM_CHUNK * page_size, off;
	char *p = map_untouched(region, PROT_READ | PROT_WRITE);
	uint64_t tag = (uint64_t)w->s->index << 48 | round << 24;

	if (!p) {
		stat_add(&w->s->unexpected, 1);
		return;
	}
	for (off = 0; off < region && !stop; off += chunk) {
		fill_pattern(wbuf, chunk, tag + off / 8);
		dma(w, true, p + off, chunk, wbuf, false, NULL);
		pause_dma(w);
	}
	for (off = 0; off < region && !stop; off += chunk) {
		if (!dma(w, false, p + off, chunk, rbuf, false, NULL)) {
			fill_pattern(wbuf, chunk, tag + off / 8);
			if (memcmp(wbuf, rbuf, chunk))
				stat_add(&w->s->verify_errors, 1);
		}
		pause_dma(w);
	}
	munmap(p, region);
}

/* Small DMAs, either way, anywhere in a large untouched mapping. */
static void random_round(struct worker *w, void *buf)
{
	size_t len = 4 * region, npages = len / page_size;
	char *p = map_untouched(len, PROT_READ | PROT_WRITE);
	int i;

	if (!p) {
		stat_add(&w->s->unexpected, 1);
		return;
	}
	for (i = 0; i < RANDOM_DMAS && !stop; i++) {
		size_t n = rnd_range(&w->rng, 1, 16);
		size_t pg = rnd(&w->rng) % (npages - n + 1);

		dma(w, rnd(&w->rng) & 1, p + pg * page_size, n * page_size,
		    buf, false, NULL);
		pause_dma(w);
	}
	munmap(p, len);
}

/*
 * Valid DMAs, then three that must fail with EFAULT: into a range just
 * unmapped, across the end of a mapping, and a write into a PROT_READ
 * mapping.
 */
static void badaddr_round(struct worker *w, void *buf)
{
	size_t vpages = 64, len = vpages * page_size;
	char *p = map_untouched(len, PROT_READ | PROT_WRITE), *q;
	struct swsva_dma d;
	int i;

	if (!p) {
		stat_add(&w->s->unexpected, 1);
		return;
	}
	for (i = 0; i < BAD_VALID && !stop; i++) {
		size_t n = rnd_range(&w->rng, 1, 8);
		size_t pg = rnd(&w->rng) % (vpages - n + 1);

		dma(w, rnd(&w->rng) & 1, p + pg * page_size, n * page_size,
		    buf, false, NULL);
		pause_dma(w);
	}
	munmap(p, len);
	if (stop)
		return;

	/* a hole made just now, so that no later mapping of ours fills it */
	q = map_untouched(16 * page_size, PROT_READ | PROT_WRITE);
	if (q) {
		munmap(q, 16 * page_size);
		dma(w, rnd(&w->rng) & 1, q + 4 * page_size, 4 * page_size, buf,
		    true, NULL);
		pause_dma(w);
	}

	/*
	 * 2 pages of the mapping, then 2 of a hole past its end.  The 2 are
	 * touched first: the device moves the pages of a window before its
	 * first miss, and none after an Invalid response (even those the
	 * IOMMU faulted in), so bytes_done must be exactly 2 pages.
	 */
	q = map_untouched(16 * page_size, PROT_READ | PROT_WRITE);
	if (q) {
		munmap(q + 8 * page_size, 8 * page_size);
		memset(q + 6 * page_size, 1, 2 * page_size);
		if (dma(w, true, q + 6 * page_size, 4 * page_size, buf, true,
			&d) == -EFAULT && d.bytes_done != 2 * page_size)
			stat_add(&w->s->short_done, 1);
		munmap(q, 8 * page_size);
		pause_dma(w);
	}

	q = map_untouched(4 * page_size, PROT_READ);
	if (q) {
		dma(w, true, q, 4 * page_size, buf, true, NULL);
		munmap(q, 4 * page_size);
		pause_dma(w);
	}
}

static void worker_setup(struct slot *s, pid_t parent)
{
	struct sigaction sa = { .sa_handler = on_stop };

	prctl(PR_SET_NAME, s->name);
	/* a worker must not outlive a parent killed without its cleanup */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int worker_bind(struct worker *w)
{
	int pasid;

	w->fd = swsva_open(w->s->ep);
	if (w->fd < 0) {
		w->s->setup_err = errno;
		return -1;
	}
	pasid = swsva_bind(w->fd);
	if (pasid < 0) {
		w->s->setup_err = -pasid;
		return -1;
	}
	__atomic_store_n(&w->s->pid, getpid(), __ATOMIC_RELEASE);
	__atomic_store_n(&w->s->pasid, pasid, __ATOMIC_RELEASE);
	return 0;
}

static uint64_t worker_seed(struct slot *s)
{
	uint64_t seed = 0x9E3779B97F4A7C15ULL * (s->index + 1);

	if (!fixed_rounds)
		seed ^= swsva_now_ns() ^ (uint64_t)getpid() << 32;
	return seed ? seed : 1;
}

static void __attribute__((noreturn)) worker_main(struct slot *s, pid_t parent)
{
	size_t chunk = STREAM_CHUNK * page_size;
	struct worker w = { .s = s };
	void *wbuf, *rbuf;
	uint64_t round;

	worker_setup(s, parent);
	w.rng = worker_seed(s);
	wbuf = malloc(chunk);
	rbuf = malloc(chunk);
	if (!wbuf || !rbuf) {
		s->setup_err = ENOMEM;
		_exit(1);
	}
	memset(wbuf, 0x5a, chunk);
	memset(rbuf, 0, chunk);
	if (worker_bind(&w))
		_exit(1);

	for (round = 0; !stop && (!fixed_rounds || round < fixed_rounds); round++) {
		switch (s->kind) {
		case K_STREAM:
			stream_round(&w, round, wbuf, rbuf);
			break;
		case K_RANDOM:
			random_round(&w, wbuf);
			break;
		case K_BADADDR:
			badaddr_round(&w, wbuf);
			break;
		default:
			_exit(1);
		}
		if (!stop)
			stat_add(&s->rounds, 1);
	}
	if (swsva_unbind(w.fd))
		stat_add(&s->unexpected, 1);
	close(w.fd);
	_exit(0);
}

/* --- exiter ----------------------------------------------------------- */

static struct slot *exiter_slot;
static uint64_t exiter_rng;

/* The other thread of an exiter: ends the process during the DMA. */
static void *exiter_thread(void *arg)
{
	uint64_t delay = *(uint64_t *)arg;

	while (!__atomic_load_n(&exiter_slot->in_dma, __ATOMIC_SEQ_CST))
		sleep_ns(1000000);
	sleep_ns(delay);
	_exit(EXIT_BY_THREAD);
}

/*
 * One exiter process: bind, then long write DMAs into fresh memory until
 * it dies.  @by_thread: a thread of its own ends it after @delay_ns of
 * DMA; otherwise the parent kills it.  In fixed-rounds mode: one DMA, then
 * exit with the binding still there.
 */
static void __attribute__((noreturn)) exiter_main(struct slot *s, pid_t parent,
						  bool by_thread, uint64_t delay_ns)
{
	size_t len = 2 * region;
	struct worker w = { .s = s };
	pthread_t thread;
	void *src;

	worker_setup(s, parent);
	if (len > SWSVA_DMA_MAX_LEN)
		len = SWSVA_DMA_MAX_LEN;
	/* never written: the device copies zero pages from it */
	src = map_untouched(len, PROT_READ);
	if (!src || worker_bind(&w))
		_exit(1);
	exiter_slot = s;
	if (by_thread && pthread_create(&thread, NULL, exiter_thread, &delay_ns))
		_exit(1);
	do {
		void *p = map_untouched(len, PROT_READ | PROT_WRITE);

		if (!p)
			_exit(1);
		dma(&w, true, p, len, src, false, NULL);
		munmap(p, len);
	} while (!fixed_rounds && !stop);
	_exit(0);
}

/* --- parent ----------------------------------------------------------- */

static pid_t spawn(struct slot *s)
{
	pid_t parent = getpid(), pid;
	bool by_thread = false;
	uint64_t delay = 0;

	if (s->kind == K_EXITER) {
		/* alternate: the parent's SIGKILL, the process's own _exit */
		by_thread = !fixed_rounds && (s->instances & 1);
		s->by_thread = by_thread;
		delay = rnd_range(&exiter_rng, 5, 100) * 1000000ull;
		__atomic_store_n(&s->in_dma, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&s->pasid, 0, __ATOMIC_SEQ_CST);
		s->kill_at = 0;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("swsva-load: fork");
		return -1;
	}
	if (pid == 0) {
		if (s->kind == K_EXITER)
			exiter_main(s, parent, by_thread, delay);
		worker_main(s, parent);
	}
	s->live = pid;
	s->spawned_at = swsva_now_ns();
	if (s->kind == K_EXITER)
		s->instances++;
	return pid;
}

static void reaped(struct slot *s, int status, uint64_t now);

/* Wait until @s's process has bound its endpoint: true if it did. */
static bool wait_bound(struct slot *s, int ms)
{
	int status;

	for (; ms > 0; ms -= 2) {
		if (__atomic_load_n(&s->pasid, __ATOMIC_ACQUIRE) > 0)
			return true;
		if (waitpid(s->live, &status, WNOHANG) == s->live) {
			reaped(s, status, swsva_now_ns());
			return __atomic_load_n(&s->pasid, __ATOMIC_ACQUIRE) > 0;
		}
		sleep_ns(2000000);
	}
	return false;
}

/* A worker's process ended with @status. */
static void reaped(struct slot *s, int status, uint64_t now)
{
	s->live = 0;
	if (s->kind != K_EXITER) {
		/* in timed mode, only a stop ends a worker */
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
		    (!fixed_rounds && !stop)) {
			s->died = true;
			s->status = status;
		}
		return;
	}
	if (__atomic_load_n(&s->in_dma, __ATOMIC_SEQ_CST))
		s->mid_dma++;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		s->sigkilled++;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_BY_THREAD) {
		s->thread_exits++;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		s->normal_exits++;
	} else {
		s->abnormal++;
		s->status = status;
	}
	s->respawn_at = now + rnd_range(&exiter_rng, 100, 500) * 1000000ull;
}

static struct slot *slot_of(pid_t pid)
{
	int i;

	for (i = 0; i < nworkers; i++)
		if (slots[i].live == pid)
			return &slots[i];
	return NULL;
}

static void reap_all(bool block)
{
	struct slot *s;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, block ? 0 : WNOHANG)) > 0) {
		s = slot_of(pid);
		if (s)
			reaped(s, status, swsva_now_ns());
	}
}

static int live_workers(void)
{
	int i, n = 0;

	for (i = 0; i < nworkers; i++)
		n += slots[i].live != 0;
	return n;
}

/* End every worker: SIGTERM (the exiter SIGKILL), then SIGKILL laggards. */
static void stop_all(void)
{
	uint64_t deadline = swsva_now_ns() + 20 * 1000000000ull;
	int i;

	for (i = 0; i < nworkers; i++)
		if (slots[i].live)
			kill(slots[i].live,
			     slots[i].kind == K_EXITER ? SIGKILL : SIGTERM);
	while (live_workers() && swsva_now_ns() < deadline) {
		reap_all(false);
		sleep_ns(5000000);
	}
	for (i = 0; i < nworkers; i++)
		if (slots[i].live) {
			fprintf(stderr, "swsva-load: %s (pid %d) ignored SIGTERM, killing it\n",
				slots[i].name, slots[i].live);
			kill(slots[i].live, SIGKILL);
		}
	while (live_workers())
		reap_all(true);
}

/* The exiter's lifecycle in timed mode: kill it, or start the next one. */
static void tend_exiter(struct slot *s, uint64_t now)
{
	if (!s->live) {
		if (!stop && now >= s->respawn_at)
			spawn(s);
		return;
	}
	if (s->by_thread)
		return;		/* its own thread ends it */
	if (!s->kill_at) {
		/* the delay starts when its DMA does; 10 s at most */
		if (__atomic_load_n(&s->in_dma, __ATOMIC_SEQ_CST))
			s->kill_at = now + rnd_range(&exiter_rng, 5, 100) * 1000000ull;
		else if (now - s->spawned_at > 10 * 1000000000ull)
			s->kill_at = now;
	}
	if (s->kill_at && now >= s->kill_at) {
		kill(s->live, SIGKILL);
		s->kill_at = ~0ull;	/* once */
	}
}

/* CPU time of the whole machine, from /proc/stat: busy and total ticks */
static void cpu_ticks(uint64_t *busy, uint64_t *total)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int i;

	*busy = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];	/* idle, iowait */
	}
	fclose(f);
}

static int read_counters(int *cfd, int neps, struct swsva_counters *c)
{
	int i;

	for (i = 0; i < neps; i++)
		if (swsva_counters(cfd[i], &c[i]))
			return -1;
	return 0;
}

static void status_line(double t, int *cfd, int neps,
			const struct swsva_counters *start, uint64_t *last_pr,
			double *last_t)
{
	struct swsva_counters c[MAX_EP];
	uint64_t dmas = 0, failed = 0, pr = 0, groups = 0, resp = 0, inflight = 0;
	int i;

	if (read_counters(cfd, neps, c))
		return;
	for (i = 0; i < nworkers; i++) {
		dmas += stat_get(&slots[i].dmas);
		failed += stat_get(&slots[i].failed);
	}
	for (i = 0; i < neps; i++) {
		pr += c[i].page_requests - start[i].page_requests;
		groups += c[i].groups - start[i].groups;
		resp += c[i].responses - start[i].responses;
		inflight += c[i].in_flight;
	}
	printf("[%6.1fs] dmas %llu (failed %llu)  page_requests %llu (%.0f/s)  "
	       "groups %llu  responses %llu  in_flight %llu\n", t,
	       (unsigned long long)dmas, (unsigned long long)failed,
	       (unsigned long long)pr, (pr - *last_pr) / (t - *last_t),
	       (unsigned long long)groups, (unsigned long long)resp,
	       (unsigned long long)inflight);
	fflush(stdout);
	*last_pr = pr;
	*last_t = t;
}

static void print_errors(const struct slot *s)
{
	const char *sep = "";
	int e;

	if (!s->failed) {
		printf("-");
		return;
	}
	for (e = 1; e <= MAX_ERRNO; e++)
		if (s->errs[e]) {
			printf("%s%s=%llu", sep, e == MAX_ERRNO ? "other" : errname(e),
			       (unsigned long long)s->errs[e]);
			sep = ",";
		}
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by %s", sigabbrev_np(WTERMSIG(status)) ?: "?");
	else
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
}

/* Returns the number of failed checks. */
static int summary(double secs, int neps, const struct swsva_counters *a,
		   const struct swsva_counters *b, double cpu_busy)
{
	struct swsva_counters d[MAX_EP + 1] = { 0 };
	uint64_t unexpected = 0, verify = 0, short_done = 0, died = 0;
	uint64_t bad_expected = 0, dmas = 0, mid_dma = 0;
	int i, fails = 0;
	char why[64];

	printf("\nswsva-load: %.1f s, %d workers, %d endpoint%s, group_pages %u, "
	       "%zu MiB regions, %s; cpu busy %.0f%%\n", secs, nworkers, neps,
	       neps > 1 ? "s" : "", swsva_group_pages(), region >> 20,
	       fixed_rounds ? "fixed rounds" : "timed", cpu_busy);
	printf("%-10s %7s %3s %6s %7s %8s %7s %5s %10s %8s %7s %9s  %s\n", "worker",
	       "pid", "ep", "pasid", "rounds", "dmas", "failed", "unexp",
	       "page_reqs", "groups", "retries", "MiB", "errors");
	for (i = 0; i < nworkers; i++) {
		struct slot *s = &slots[i];

		printf("%-10s %7d %3d %6d %7llu %8llu %7llu %5llu %10llu %8llu %7llu %9.1f  ",
		       s->name, s->pid, s->ep, s->pasid,
		       (unsigned long long)(s->kind == K_EXITER ? s->instances : s->rounds),
		       (unsigned long long)s->dmas, (unsigned long long)s->failed,
		       (unsigned long long)s->unexpected,
		       (unsigned long long)s->page_requests,
		       (unsigned long long)s->groups,
		       (unsigned long long)s->retries, s->bytes / 1048576.0);
		print_errors(s);
		if (s->kind == K_BADADDR)
			printf(" (%llu of the bad DMAs, as expected)",
			       (unsigned long long)s->expected);
		if (i == 0)
			printf(" (bound first)");
		printf("\n");
		if (s->kind == K_EXITER)
			printf("%-10s   %llu processes (pid, pasid: the last): %llu SIGKILLed, "
			       "%llu _exit from a thread, %llu exited, %llu other; "
			       "%llu died mid-DMA\n", "",
			       (unsigned long long)s->instances,
			       (unsigned long long)s->sigkilled,
			       (unsigned long long)s->thread_exits,
			       (unsigned long long)s->normal_exits,
			       (unsigned long long)s->abnormal,
			       (unsigned long long)s->mid_dma);
		if (s->setup_err)
			printf("%-10s   setup failed: %s\n", "", strerror(s->setup_err));
		if (s->died) {
			describe_status(s->status, why, sizeof(why));
			printf("%-10s   died during the run (%s)\n", "", why);
		}
		if (s->kind == K_EXITER && s->abnormal) {
			describe_status(s->status, why, sizeof(why));
			printf("%-10s   a process ended abnormally (last: %s)\n", "", why);
		}
		unexpected += s->unexpected;
		verify += s->verify_errors;
		short_done += s->short_done;
		died += s->died + s->abnormal + (s->setup_err != 0);
		bad_expected += s->expected;
		dmas += s->dmas;
		mid_dma += s->mid_dma;
	}

	printf("\ndevice counters: deltas over the run (in_flight: at the end)\n");
	printf("%-16s", "counter");
	for (i = 0; i < neps; i++)
		printf(" %11s%-2d", "swsva", i);
	printf(" %13s\n", "total");
	for (i = 0; i < neps; i++) {
		swsva_counters_delta(&d[i], &a[i], &b[i]);
		d[i].in_flight = b[i].in_flight;
#define SWSVA_SUM(f) d[neps].f += d[i].f;
		SWSVA_COUNTER_FIELDS(SWSVA_SUM)
#undef SWSVA_SUM
	}
#define SWSVA_ROW(f)							\
	printf("%-16s", #f);						\
	for (i = 0; i <= neps; i++)					\
		printf(" %13llu", (unsigned long long)d[i].f);		\
	printf("\n");
	SWSVA_COUNTER_FIELDS(SWSVA_ROW)
#undef SWSVA_ROW

	printf("\n");
#define CHECK(cond, fmt, ...) do {					\
		printf("check: " fmt ": %s\n", ##__VA_ARGS__, (cond) ? "ok" : "FAILED"); \
		fails += !(cond);					\
	} while (0)
	for (i = 0; i < neps; i++) {
		const struct swsva_counters *c = &d[i];
		char name[16];

		snprintf(name, sizeof(name), "swsva%d", i);
		CHECK(c->responses == c->groups, "%s responses == groups (%llu, %llu)",
		      name, (unsigned long long)c->responses,
		      (unsigned long long)c->groups);
		CHECK(c->resp_success + c->resp_invalid + c->resp_failure == c->responses,
		      "%s resp_success + resp_invalid + resp_failure == responses", name);
		CHECK(c->resp_unexpected == 0, "%s resp_unexpected == 0 (%llu)", name,
		      (unsigned long long)c->resp_unexpected);
		CHECK(c->in_flight == 0, "%s in_flight == 0 (%llu)", name,
		      (unsigned long long)c->in_flight);
	}
	CHECK(unexpected == 0, "no unexpected DMA result (%llu)",
	      (unsigned long long)unexpected);
	CHECK(verify == 0, "data read back as written (%llu mismatches)",
	      (unsigned long long)verify);
	CHECK(short_done == 0, "bytes_done exact across a mapping's end (%llu off)",
	      (unsigned long long)short_done);
	CHECK(died == 0, "no worker died or failed to set up (%llu)",
	      (unsigned long long)died);
#undef CHECK
	printf("info: the device ran %llu DMAs, the workers saw %llu end and %llu "
	       "cut by their process's death; %llu Invalid responses, %llu for "
	       "badaddr's bad DMAs\n",
	       (unsigned long long)d[neps].dma_ops, (unsigned long long)dmas,
	       (unsigned long long)mid_dma, (unsigned long long)d[neps].resp_invalid,
	       (unsigned long long)bad_expected);
	/* what the workers cannot count: the DMAs their death cut short */
	printf("info: page requests (groups, retries) of DMAs that never returned, i.e. the "
	       "exiter's, and of any other user of the device:");
	for (i = 0; i < neps; i++) {
		uint64_t pr = d[i].page_requests, gr = d[i].groups, rt = d[i].retries;
		int j;

		for (j = 0; j < nworkers; j++)
			if (slots[j].ep == i) {
				pr -= slots[j].page_requests;
				gr -= slots[j].groups;
				rt -= slots[j].retries;
			}
		printf(" swsva%d %lld (%lld, %lld)", i, (long long)pr, (long long)gr,
		       (long long)rt);
	}
	printf("\n");
	printf("swsva-load: %s\n", fails ? "FAILED" : "ok");
	return fails;
}

static void usage(const char *prog, int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [-d SECONDS] [-w WORKERS] [-s MIB] [-e ENDPOINTS] [-q]\n"
		"          [--fixed-rounds N]\n"
		"  -d SECONDS        run time (default 30)\n"
		"  -w WORKERS        worker processes, 1-%d (default 5: stream-0, random-0,\n"
		"                    badaddr, exiter, stream-1; then random-1, stream-2...)\n"
		"  -s MIB            stream mapping size; random maps 4x, exiter DMAs 2x\n"
		"                    (default 16)\n"
		"  -e ENDPOINTS      use /dev/swsva0..ENDPOINTS-1 (default: all present)\n"
		"  -q                quiet until the summary\n"
		"  --fixed-rounds N  N rounds per worker, fixed seeds, no sleeps, no kills\n"
		"                    (-d does not apply)\n",
		prog, MAX_WORKERS);
	exit(status);
}

static unsigned long parse_num(const char *arg, unsigned long max,
			       const char *prog)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || end == arg || !v || v > max || arg[0] == '-')
		usage(prog, 2);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "fixed-rounds", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct swsva_counters start[MAX_EP], end[MAX_EP];
	unsigned long secs = 30, mib = 16, want_eps = 0;
	uint64_t t0, deadline, next_status, busy0, total0, busy1, total1;
	struct sigaction sa = { .sa_handler = on_stop };
	int opt, i, neps, cfd[MAX_EP];
	double last_t = 0, cpu;
	uint64_t last_pr = 0;
	bool quiet = false;
	int fails;

	nworkers = 5;
	while ((opt = getopt_long(argc, argv, "d:w:s:e:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			secs = parse_num(optarg, 7 * 86400, argv[0]);
			break;
		case 'w':
			nworkers = parse_num(optarg, MAX_WORKERS, argv[0]);
			break;
		case 's':
			mib = parse_num(optarg, 1024, argv[0]);
			break;
		case 'e':
			want_eps = parse_num(optarg, MAX_EP, argv[0]);
			break;
		case 'q':
			quiet = true;
			break;
		case 'F':
			fixed_rounds = parse_num(optarg, 1000000, argv[0]);
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

	page_size = sysconf(_SC_PAGESIZE);
	region = mib << 20;
	if (swsva_load_module(NULL)) {
		fprintf(stderr, "swsva-load: no /dev/swsva0 and no swsva module\n");
		return 1;
	}
	for (neps = 0; neps < MAX_EP; neps++) {
		char path[32];

		snprintf(path, sizeof(path), "/dev/swsva%d", neps);
		if (access(path, F_OK))
			break;
	}
	if (want_eps > (unsigned long)neps) {
		fprintf(stderr, "swsva-load: %lu endpoints wanted, %d present\n",
			want_eps, neps);
		return 1;
	}
	if (want_eps)
		neps = want_eps;
	for (i = 0; i < neps; i++) {
		char path[32];

		/* the counters need no O_RDWR, and this file never binds */
		snprintf(path, sizeof(path), "/dev/swsva%d", i);
		cfd[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (cfd[i] < 0) {
			fprintf(stderr, "swsva-load: %s: %s\n", path, strerror(errno));
			return 1;
		}
	}

	slots = mmap(NULL, sizeof(*slots) * nworkers, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED) {
		perror("swsva-load: mmap");
		return 1;
	}
	for (i = 0; i < nworkers; i++) {
		static const enum kind first[] = { K_STREAM, K_RANDOM, K_BADADDR, K_EXITER };
		static const char *const kname[] = { "stream", "random", "badaddr", "exiter" };
		static int count[4];
		struct slot *s = &slots[i];

		s->kind = i < 4 ? first[i] : (i % 2 ? K_RANDOM : K_STREAM);
		s->index = i;
		s->ep = i % neps;
		if (s->kind == K_STREAM || s->kind == K_RANDOM)
			snprintf(s->name, sizeof(s->name), "%s-%d", kname[s->kind],
				 count[s->kind]++);
		else
			snprintf(s->name, sizeof(s->name), "%s", kname[s->kind]);
	}
	exiter_rng = fixed_rounds ? 0x5eed : swsva_now_ns() | 1;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (read_counters(cfd, neps, start)) {
		perror("swsva-load: counters");
		return 1;
	}
	cpu_ticks(&busy0, &total0);
	t0 = swsva_now_ns();
	if (!quiet) {
		if (fixed_rounds)
			printf("swsva-load: %d workers, %d endpoint%s, %u rounds each\n",
			       nworkers, neps, neps > 1 ? "s" : "", fixed_rounds);
		else
			printf("swsva-load: %d workers, %d endpoint%s, %lu s\n",
			       nworkers, neps, neps > 1 ? "s" : "", secs);
	}

	/* the early one: bound before any other worker exists */
	for (i = 0; i < nworkers && !stop; i++) {
		struct slot *s = &slots[i];

		if (spawn(s) < 0)
			break;
		if (!wait_bound(s, 30000) && s->live) {
			kill(s->live, SIGKILL);
			waitpid(s->live, &s->status, 0);
			s->live = 0;
			s->died = true;
		}
		if (!quiet && s->pasid > 0)
			printf("  %-10s pid %-7d /dev/swsva%d PASID %d%s\n", s->name,
			       s->pid, s->ep, s->pasid,
			       i == 0 ? " (bound first)" : "");
		else if (!quiet)
			printf("  %-10s failed to bind /dev/swsva%d\n", s->name, s->ep);
	}
	fflush(stdout);

	deadline = t0 + secs * 1000000000ull;
	next_status = swsva_now_ns() + 5 * 1000000000ull;
	while (!stop) {
		uint64_t now = swsva_now_ns();

		reap_all(false);
		if (!fixed_rounds && now >= deadline)
			break;
		for (i = 0; i < nworkers; i++) {
			struct slot *s = &slots[i];

			if (s->kind != K_EXITER)
				continue;
			if (!fixed_rounds)
				tend_exiter(s, now);
			else if (!s->live && s->instances < fixed_rounds && !s->abnormal)
				spawn(s);
		}
		if (fixed_rounds && !live_workers())
			break;
		if (!quiet && now >= next_status) {
			status_line((now - t0) / 1e9, cfd, neps, start, &last_pr,
				    &last_t);
			next_status += 5 * 1000000000ull;
		}
		sleep_ns(fixed_rounds ? 1000000 : 5000000);
	}
	if (stop && !quiet)
		printf("swsva-load: stopping\n");
	stop = 1;	/* from here on, a worker's end is not a death */
	stop_all();

	/* responses travel through a workqueue: let the last ones land */
	for (i = 0; i < neps; i++)
		swsva_wait_idle(i, 5000);
	cpu_ticks(&busy1, &total1);
	cpu = total1 > total0 ? 100.0 * (busy1 - busy0) / (total1 - total0) : 0;
	if (read_counters(cfd, neps, end)) {
		perror("swsva-load: counters");
		return 1;
	}
	fails = summary((swsva_now_ns() - t0) / 1e9, neps, start, end, cpu);
	return fails ? 1 : 0;
}
