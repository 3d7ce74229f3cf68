// SPDX-License-Identifier: GPL-2.0
/*
 * The iommu SVA and I/O page fault trace events, read three ways while the
 * software SVA device runs a known workload: through tracefs, through
 * tp_btf programs, and through Debian's bpftrace, a client none of us
 * wrote.  Every count must equal what the device counted on its side.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <bpf/libbpf.h>

#include "kselftest_harness.h"
#include "../lib/file_util.h"
#include "../lib/proc_util.h"
#include "../lib/swsva_util.h"
#include "iopf_events.h"
#include "iopf_trace.skel.h"

#define TRACEFS		"/sys/kernel/tracing"
#define INSTANCE	TRACEFS "/instances/iopfkit_test"

/* Each event and the fields Documentation/trace/events-iommu.rst lists */
static const char *const event_fields[][12] = {
	{ "iommu_sva_bind", "device", "pasid", "mm", "domain", "refs", "ret" },
	{ "iommu_sva_unbind", "device", "pasid", "mm", "domain", "refs" },
	{ "iommu_iopf_report", "device", "pasid", "grpid", "addr", "perm",
	  "flags" },
	{ "iommu_iopf_refuse", "device", "pasid", "grpid", "addr", "last",
	  "reason" },
	{ "iommu_iopf_dispatch", "device", "pasid", "grpid", "nr_faults",
	  "handler", "domain" },
	{ "iommu_sva_fault", "device", "pasid", "grpid", "addr", "perm",
	  "outcome", "access", "vm_flags", "result", "code", "mm" },
	{ "iommu_iopf_response", "device", "pasid", "grpid", "code",
	  "latency_ns" },
	{ "iommu_iopf_flush", "device", "pending", "duration_ns" },
	{ "iommu_iopf_discard", "device", "partial", "groups" },
	{ "iommu_remove_dev_pasid", "device", "pasid", "domain",
	  "duration_ns" },
	{ "iommu_fault_policy_attach", "name", "device", "pasid", "tgid" },
	{ "iommu_fault_policy_detach", "name", "kind", "msg" },
	{ "iommu_fault_policy_verdict", "name", "device", "pasid", "grpid",
	  "addr", "hook", "verdict" },
};

/* What one consumer saw of the workload */
struct iopf_counts {
	long long binds, unbinds, bind_pasid, bind_refs, bind_tgid, unbind_refs;
	long long reports, reports_last;
	long long refusals, refusals_last, refused_no_handler;
	long long dispatches, dispatches_sva, dispatched_faults;
	long long minor, access, skipped, other_outcomes;
	long long responses, success, invalid, failure, zero_latency;
	long long flushes, removes;
};

/* The known workload and what the device counted while it ran */
struct workload {
	int pasid;
	unsigned int group_pages;
	struct swsva_counters delta;
};

#define WL_PAGES	64	/* written to untouched memory */
#define WL_RAW_PAGES	3	/* raw group for a PASID nobody bound */
#define UNBOUND_PASID	((1u << SWSVA_PASID_BITS) - 1)

/*
 * Bind; write WL_PAGES untouched pages (WL_PAGES minor faults); write one
 * group's worth of read-only pages (the first request fails the VMA check,
 * the others are skipped); a raw group for an unbound PASID (refused);
 * unbind.
 */
static void run_workload(struct __test_metadata *_metadata,
			 struct workload *w)
{
	const size_t page = sysconf(_SC_PAGESIZE);
	struct swsva_counters before, after;
	unsigned char *mem, *ro, *buf;
	unsigned int response = ~0u;
	size_t len, ro_len;
	int fd;

	w->group_pages = swsva_group_pages();
	ASSERT_LT(0, w->group_pages);
	len = WL_PAGES * page;
	ro_len = w->group_pages * page;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, ro_len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = calloc(1, len);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_NE(NULL, buf);
	/* one request per 4 KiB page, whatever THP is set to */
	ASSERT_EQ(0, madvise(mem, len, MADV_NOHUGEPAGE));

	fd = swsva_open(0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, swsva_counters(fd, &before));
	w->pasid = swsva_bind(fd);
	ASSERT_LT(0, w->pasid);
	ASSERT_EQ(0, swsva_dma(fd, true, mem, len, buf, NULL));
	ASSERT_EQ(-EFAULT, swsva_dma(fd, true, ro, ro_len, buf, NULL));
	ASSERT_EQ(0, swsva_raw_group(fd, UNBOUND_PASID, mem, WL_RAW_PAGES,
				      &response));
	EXPECT_EQ(SWSVA_RESP_INVALID, response);
	ASSERT_EQ(0, swsva_unbind(fd));
	ASSERT_EQ(0, swsva_counters(fd, &after));
	close(fd);
	swsva_counters_delta(&w->delta, &before, &after);

	/* the device's own view, which the events must match */
	ASSERT_EQ(WL_PAGES + w->group_pages + WL_RAW_PAGES,
		  w->delta.page_requests);
	ASSERT_EQ(w->delta.groups, w->delta.responses);
	ASSERT_EQ(2, w->delta.resp_invalid);
	ASSERT_EQ(1, w->delta.binds);
	ASSERT_EQ(1, w->delta.unbinds);
	munmap(mem, len);
	munmap(ro, ro_len);
	free(buf);
}

static void check_counts(struct __test_metadata *_metadata, const char *who,
			 const struct iopf_counts *c, const struct workload *w)
{
	const struct swsva_counters *d = &w->delta;
	const long long handled = d->page_requests - WL_RAW_PAGES;

	TH_LOG("%s: %lld reports, %lld dispatches, %lld responses",
	       who, c->reports, c->dispatches, c->responses);
	EXPECT_EQ(d->binds, c->binds) TH_LOG("%s: binds", who);
	EXPECT_EQ(d->unbinds, c->unbinds) TH_LOG("%s: unbinds", who);
	EXPECT_EQ(w->pasid, c->bind_pasid) TH_LOG("%s: bind pasid", who);
	EXPECT_EQ(1, c->bind_refs) TH_LOG("%s: bind refs", who);
	EXPECT_EQ(getpid(), c->bind_tgid) TH_LOG("%s: bind tgid", who);
	EXPECT_EQ(0, c->unbind_refs) TH_LOG("%s: unbind refs", who);

	EXPECT_EQ(d->page_requests, c->reports) TH_LOG("%s: reports", who);
	EXPECT_EQ(d->groups, c->reports_last) TH_LOG("%s: last reports", who);
	EXPECT_EQ(WL_RAW_PAGES, c->refusals) TH_LOG("%s: refusals", who);
	EXPECT_EQ(WL_RAW_PAGES, c->refused_no_handler)
		TH_LOG("%s: no_handler refusals", who);
	EXPECT_EQ(1, c->refusals_last) TH_LOG("%s: last refusals", who);
	EXPECT_EQ(d->groups - 1, c->dispatches) TH_LOG("%s: dispatches", who);
	EXPECT_EQ(c->dispatches, c->dispatches_sva)
		TH_LOG("%s: dispatches to the SVA handler", who);
	EXPECT_EQ(handled, c->dispatched_faults)
		TH_LOG("%s: faults in dispatched groups", who);

	EXPECT_EQ(WL_PAGES, c->minor) TH_LOG("%s: minor faults", who);
	EXPECT_EQ(1, c->access) TH_LOG("%s: access refusals", who);
	EXPECT_EQ(w->group_pages - 1, c->skipped) TH_LOG("%s: skipped", who);
	EXPECT_EQ(0, c->other_outcomes) TH_LOG("%s: other outcomes", who);
	EXPECT_EQ(handled, c->minor + c->access + c->skipped)
		TH_LOG("%s: one sva_fault per handled request", who);

	EXPECT_EQ(d->responses, c->responses) TH_LOG("%s: responses", who);
	EXPECT_EQ(d->resp_success, c->success) TH_LOG("%s: success", who);
	EXPECT_EQ(d->resp_invalid, c->invalid) TH_LOG("%s: invalid", who);
	EXPECT_EQ(d->resp_failure, c->failure) TH_LOG("%s: failure", who);
	EXPECT_EQ(0, c->zero_latency) TH_LOG("%s: responses without latency", who);

	EXPECT_EQ(1, c->removes) TH_LOG("%s: PASID removals", who);
	EXPECT_EQ(1, c->flushes) TH_LOG("%s: flushes", who);
}

/* Value of "name=" in a trace line, or NULL */
static const char *trace_field(const char *line, const char *name)
{
	size_t n = strlen(name);
	const char *p = line;

	while ((p = strstr(p, name))) {
		if ((p == line || p[-1] == ' ') && p[n] == '=')
			return p + n + 1;
		p += n;
	}
	return NULL;
}

static long long trace_num(const char *line, const char *name)
{
	const char *v = trace_field(line, name);

	return v ? strtoll(v, NULL, 0) : -1;
}

static bool trace_is(const char *line, const char *name, const char *value)
{
	const char *v = trace_field(line, name);
	size_t n = strlen(value);

	return v && !strncmp(v, value, n) &&
	       (v[n] == ' ' || v[n] == '\n' || v[n] == '\0');
}

/* Does @ev, the event name in a trace line, name @name? */
static bool is_event(const char *ev, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(ev, name, n) && ev[n] == ':';
}

/* The common_pid of a trace line: "comm-pid [cpu] ...", comm may hold '-' */
static long long trace_pid(const char *line)
{
	const char *end = strstr(line, " [");
	const char *p = end;

	while (p && p > line && p[-1] != '-')
		p--;
	return p && p > line ? strtoll(p, NULL, 10) : -1;
}

/* Count the events of a tracefs "trace" file into @c; -1 on lost events */
static int tracefs_counts(char *text, struct iopf_counts *c)
{
	char *line, *save = NULL;

	memset(c, 0, sizeof(*c));
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *ev;
		bool last = false;
		size_t len = strlen(line);

		if (line[0] == '#')
			continue;
		if (strstr(line, "LOST") && strstr(line, "EVENTS"))
			return -1;
		ev = strstr(line, ": iommu_");
		if (!ev)
			continue;
		ev += 2;
		if (len > 5 && !strcmp(line + len - 5, " last"))
			last = true;
		if (is_event(ev, "iommu_sva_bind")) {
			c->binds++;
			c->bind_pasid = trace_num(line, "pasid");
			c->bind_refs = trace_num(line, "refs");
			/* the binding thread is the main one: pid == tgid */
			c->bind_tgid = trace_pid(line);
		} else if (is_event(ev, "iommu_sva_unbind")) {
			c->unbinds++;
			c->unbind_refs = trace_num(line, "refs");
		} else if (is_event(ev, "iommu_iopf_report")) {
			c->reports++;
			c->reports_last += last;
		} else if (is_event(ev, "iommu_iopf_refuse")) {
			c->refusals++;
			c->refusals_last += strstr(line, " last reason=") != NULL;
			c->refused_no_handler += trace_is(line, "reason", "no_handler");
		} else if (is_event(ev, "iommu_iopf_dispatch")) {
			c->dispatches++;
			c->dispatches_sva += trace_is(line, "handler", "sva");
			c->dispatched_faults += trace_num(line, "faults");
		} else if (is_event(ev, "iommu_sva_fault")) {
			if (trace_is(line, "outcome", "minor"))
				c->minor++;
			else if (trace_is(line, "outcome", "access"))
				c->access++;
			else if (trace_is(line, "outcome", "skipped"))
				c->skipped++;
			else
				c->other_outcomes++;
		} else if (is_event(ev, "iommu_iopf_response")) {
			c->responses++;
			c->success += trace_is(line, "code", "success");
			c->invalid += trace_is(line, "code", "invalid");
			c->failure += trace_is(line, "code", "failure");
			c->zero_latency += trace_num(line, "latency_ns") <= 0;
		} else if (is_event(ev, "iommu_iopf_flush")) {
			c->flushes++;
		} else if (is_event(ev, "iommu_remove_dev_pasid")) {
			c->removes++;
		}
	}
	return 0;
}

static void bpf_counts(const struct iopf_trace_bpf *skel, struct iopf_counts *c)
{
	const typeof(*skel->bss) *b = skel->bss;

	memset(c, 0, sizeof(*c));
	c->binds = b->binds;
	c->unbinds = b->unbinds;
	c->bind_pasid = b->bind_pasid;
	c->bind_refs = b->bind_refs;
	c->bind_tgid = b->bind_tgid;
	c->unbind_refs = b->unbind_refs;
	c->reports = b->reports;
	c->reports_last = b->reports_last;
	for (int i = 0; i < IOPF_NR_REFUSALS; i++)
		c->refusals += b->refusals[i];
	c->refusals_last = b->refusals_last;
	c->refused_no_handler = b->refusals[IOPF_REFUSE_NO_HANDLER];
	c->dispatches = b->dispatches;
	c->dispatches_sva = b->dispatches_sva;
	c->dispatched_faults = b->dispatched_faults;
	c->minor = b->sva_faults[IOPF_SVA_MINOR];
	c->access = b->sva_faults[IOPF_SVA_ACCESS];
	c->skipped = b->sva_faults[IOPF_SVA_SKIPPED];
	for (int i = 0; i < IOPF_NR_SVA_OUTCOMES; i++)
		c->other_outcomes += b->sva_faults[i];
	c->other_outcomes -= c->minor + c->access + c->skipped;
	c->responses = b->responses;
	c->success = b->response_codes[IOPF_RESP_SUCCESS];
	c->invalid = b->response_codes[IOPF_RESP_INVALID];
	c->failure = b->response_codes[IOPF_RESP_FAILURE];
	c->zero_latency = b->responses_zero_latency;
	c->flushes = b->flushes;
	c->removes = b->removes;
}

/* A tracefs instance with every iommu event on, and the tp_btf programs */
FIXTURE(iopf_trace) {
	struct iopf_trace_bpf *skel;
};

FIXTURE_SETUP(iopf_trace)
{
	ASSERT_EQ(0, swsva_load_module(NULL));
	rmdir(INSTANCE);
	ASSERT_EQ(0, mkdir(INSTANCE, 0755)) TH_LOG("%s: %m", INSTANCE);
	ASSERT_EQ(0, write_file(INSTANCE "/buffer_size_kb", "4096"));
	ASSERT_EQ(0, write_file(INSTANCE "/events/iommu/enable", "1"));
	self->skel = iopf_trace_bpf__open_and_load();
	ASSERT_NE(NULL, self->skel);
	ASSERT_EQ(0, iopf_trace_bpf__attach(self->skel));
}

FIXTURE_TEARDOWN(iopf_trace)
{
	iopf_trace_bpf__destroy(self->skel);
	write_file(INSTANCE "/events/iommu/enable", "0");
	EXPECT_EQ(0, rmdir(INSTANCE));
	/* every group ever posted on the endpoint got exactly one response */
	EXPECT_EQ(swsva_sysfs_counter(0, "groups"),
		  swsva_sysfs_counter(0, "responses"));
}

TEST_F(iopf_trace, tracefs_and_tp_btf_counts_equal_the_device_counters)
{
	const char *remove, *flush;
	struct iopf_counts c;
	struct workload w;
	char *text;

	run_workload(_metadata, &w);

	text = read_file(INSTANCE "/trace", NULL);
	ASSERT_NE(NULL, text);
	/* the removal ends the PASID: its flush inside, every request before */
	remove = strstr(text, ": iommu_remove_dev_pasid: ");
	flush = strstr(text, ": iommu_iopf_flush: ");
	ASSERT_NE(NULL, remove);
	ASSERT_NE(NULL, flush);
	EXPECT_LT(flush, remove);
	EXPECT_EQ(w.pasid, trace_num(remove, "pasid"));
	EXPECT_EQ(NULL, strstr(remove, ": iommu_iopf_"));
	EXPECT_EQ(NULL, strstr(remove, ": iommu_sva_fault: "));
	ASSERT_EQ(0, tracefs_counts(text, &c)) TH_LOG("tracefs lost events");
	free(text);
	check_counts(_metadata, "tracefs", &c, &w);

	bpf_counts(self->skel, &c);
	check_counts(_metadata, "tp_btf", &c, &w);
	/* what only BTF shows: the mm behind the domains and the faults */
	EXPECT_EQ(1, self->skel->bss->binds_mm_is_current);
	EXPECT_EQ(c.dispatches, self->skel->bss->dispatches_bound_mm);
	EXPECT_EQ(c.dispatched_faults, self->skel->bss->sva_faults_bound_mm);
	EXPECT_EQ(w.pasid, self->skel->bss->remove_pasid);
	EXPECT_EQ(1, self->skel->bss->removes_of_bound_mm);
}

TEST_F(iopf_trace, unbound_pasid_request_is_refused_and_answered_once)
{
	struct swsva_counters before, after;
	const char *report, *refuse, *response;
	unsigned int resp = ~0u;
	char *text;
	int fd;

	fd = swsva_open(0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, swsva_counters(fd, &before));
	ASSERT_EQ(0, swsva_raw_group(fd, UNBOUND_PASID, (void *)0x10000, 1,
				      &resp));
	EXPECT_EQ(SWSVA_RESP_INVALID, resp);
	ASSERT_EQ(0, swsva_counters(fd, &after));
	close(fd);
	EXPECT_EQ(1, after.responses - before.responses);
	EXPECT_EQ(1, after.resp_invalid - before.resp_invalid);

	text = read_file(INSTANCE "/trace", NULL);
	ASSERT_NE(NULL, text);
	report = strstr(text, "iommu_iopf_report: ");
	refuse = strstr(text, "iommu_iopf_refuse: ");
	response = strstr(text, "iommu_iopf_response: ");
	ASSERT_NE(NULL, report);
	ASSERT_NE(NULL, refuse);
	ASSERT_NE(NULL, response);
	/* in the order they happen, for the PASID asked */
	EXPECT_LT(report, refuse);
	EXPECT_LT(refuse, response);
	EXPECT_EQ(UNBOUND_PASID, trace_num(refuse, "pasid"));
	EXPECT_EQ(0x10000, trace_num(refuse, "addr"));
	EXPECT_TRUE(trace_is(refuse, "reason", "no_handler"));
	EXPECT_NE(NULL, strstr(refuse, " last reason="));
	EXPECT_TRUE(trace_is(response, "code", "invalid"));
	EXPECT_LT(0, trace_num(response, "latency_ns"));
	EXPECT_EQ(NULL, strstr(text, "iommu_iopf_dispatch: "));
	EXPECT_EQ(NULL, strstr(text, "iommu_sva_fault: "));
	EXPECT_EQ(NULL, strstr(response + 1, "iommu_iopf_response: "));
	free(text);

	EXPECT_EQ(1, self->skel->bss->refusals[IOPF_REFUSE_NO_HANDLER]);
	EXPECT_EQ(1, self->skel->bss->responses);
	EXPECT_EQ(0, self->skel->bss->dispatches);
}

TEST_F(iopf_trace, bind_and_unbind_events_count_bond_references)
{
	int fd1, fd2, pasid;
	char *text, *line, *save = NULL;
	long long refs[4], n = 0;

	fd1 = swsva_open(0);
	fd2 = swsva_open(0);
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	/* two files of one process share the bond between device and mm */
	pasid = swsva_bind(fd1);
	ASSERT_LT(0, pasid);
	ASSERT_EQ(pasid, swsva_bind(fd2));
	ASSERT_EQ(0, swsva_unbind(fd1));
	ASSERT_EQ(0, swsva_unbind(fd2));
	close(fd1);
	close(fd2);

	text = read_file(INSTANCE "/trace", NULL);
	ASSERT_NE(NULL, text);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strstr(line, ": iommu_sva_bind: ") &&
		    !strstr(line, ": iommu_sva_unbind: "))
			continue;
		ASSERT_GT(4, n);
		EXPECT_EQ(pasid, trace_num(line, "pasid"));
		EXPECT_EQ(getpid(), trace_pid(line));
		refs[n++] = trace_num(line, "refs");
	}
	free(text);
	ASSERT_EQ(4, n);
	/* bind, join, leave, last unbind detaches */
	EXPECT_EQ(1, refs[0]);
	EXPECT_EQ(2, refs[1]);
	EXPECT_EQ(1, refs[2]);
	EXPECT_EQ(0, refs[3]);
	EXPECT_EQ(2, self->skel->bss->binds_ok);
	EXPECT_EQ(2, self->skel->bss->unbinds);
	EXPECT_EQ(1, self->skel->bss->unbinds_last);
	/* only the detach removes the PASID, drains and flushes */
	EXPECT_EQ(1, self->skel->bss->removes);
	EXPECT_EQ(1, self->skel->bss->flushes);
}

/* Count the lines of one event in a trace text, with a field's value */
static int count_events(const char *text, const char *event,
			const char *field, const char *value)
{
	char pat[64];
	const char *p = text;
	int n = 0;

	snprintf(pat, sizeof(pat), " %s: ", event);
	while ((p = strstr(p, pat))) {
		p += strlen(pat);
		if (!field || trace_is(p, field, value))
			n++;
	}
	return n;
}

/*
 * A DMA to [vvar], a VM_IO | VM_PFNMAP mapping: the SVA handler refuses the
 * request without calling the mapping's ->fault() (which WARNs when called
 * from a kworker), and says so.
 */
TEST_F(iopf_trace, request_on_vvar_is_refused_as_io_pfnmap)
{
	const size_t page = sysconf(_SC_PAGESIZE);
	unsigned long start = 0, end = 0;
	char line[512], *text;
	unsigned char *buf = malloc(page);
	FILE *maps;
	int fd;

	maps = fopen("/proc/self/maps", "r");
	ASSERT_NE(NULL, maps);
	while (fgets(line, sizeof(line), maps))
		if (strstr(line, "[vvar]") &&
		    sscanf(line, "%lx-%lx", &start, &end) == 2)
			break;
	fclose(maps);
	ASSERT_LT(0, start);
	fd = swsva_open(0);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, swsva_bind(fd));
	EXPECT_EQ(-EFAULT, swsva_dma(fd, false, (void *)start, page, buf, NULL));
	close(fd);
	free(buf);

	text = read_file(INSTANCE "/trace", NULL);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(1, count_events(text, "iommu_sva_fault", NULL, NULL));
	EXPECT_EQ(1, count_events(text, "iommu_sva_fault", "outcome",
				  "io_pfnmap"));
	EXPECT_EQ(1, count_events(text, "iommu_iopf_response", "code",
				  "invalid"));
	free(text);
	EXPECT_EQ(1, self->skel->bss->sva_faults[IOPF_SVA_IO_PFNMAP]);
}

/*
 * Partial requests queued while the PASID was bound, last request after
 * the unbind: the refusal discards them, and the discard event counts them.
 */
TEST_F(iopf_trace, partial_requests_left_by_an_unbind_are_discarded)
{
	const size_t page = sysconf(_SC_PAGESIZE);
	struct swsva_page_request req = {
		.size = sizeof(req),
		.flags = SWSVA_PAGE_REQUEST_NO_LAST,
		.perm = SWSVA_PERM_READ,
		.pages = 3,
	};
	unsigned char *mem = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const char *discard;
	char *text;
	int fd;

	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, swsva_wait_idle(0, 10000));
	fd = swsva_open(0);
	ASSERT_LE(0, fd);
	req.pasid = swsva_bind(fd);
	ASSERT_LT(0, (int)req.pasid);
	req.addr = (uintptr_t)mem;
	ASSERT_EQ(0, ioctl(fd, SWSVA_IOC_PAGE_REQUEST, &req));
	ASSERT_EQ(0, swsva_unbind(fd));
	req.flags = 0;
	req.pages = 1;
	req.addr = (uintptr_t)mem + 3 * page;
	ASSERT_EQ(0, ioctl(fd, SWSVA_IOC_PAGE_REQUEST, &req));
	EXPECT_EQ(SWSVA_RESP_INVALID, req.response);
	close(fd);

	text = read_file(INSTANCE "/trace", NULL);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(4, count_events(text, "iommu_iopf_report", NULL, NULL));
	EXPECT_EQ(1, count_events(text, "iommu_iopf_refuse", "reason",
				  "no_handler"));
	discard = strstr(text, " iommu_iopf_discard: ");
	ASSERT_NE(NULL, discard);
	EXPECT_EQ(3, trace_num(discard, "partial"));
	EXPECT_EQ(0, trace_num(discard, "groups"));
	/* discarded before the group's one response */
	EXPECT_LT(discard, strstr(discard, " iommu_iopf_response: "));
	EXPECT_EQ(1, count_events(text, "iommu_iopf_response", NULL, NULL));
	EXPECT_EQ(0, count_events(text, "iommu_iopf_dispatch", NULL, NULL));
	free(text);
	munmap(mem, 4 * page);
}

/*
 * PASIDs are signed in the events: the filter a user writes for "no
 * PASID" is accepted, and selects nothing in a workload where every
 * request has one.
 */
TEST_F(iopf_trace, pasid_filter_takes_minus_one)
{
	struct workload w;
	char *text;

	ASSERT_EQ(0, write_file(INSTANCE "/events/iommu/iommu_iopf_report/filter",
				"pasid == -1"));
	ASSERT_EQ(0, write_file(INSTANCE "/events/iommu/iommu_iopf_response/filter",
				"pasid != -1"));
	run_workload(_metadata, &w);
	text = read_file(INSTANCE "/trace", NULL);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(0, count_events(text, "iommu_iopf_report", NULL, NULL));
	EXPECT_EQ(w.delta.responses,
		  count_events(text, "iommu_iopf_response", NULL, NULL));
	free(text);
	/* the tp_btf programs see every event, filters are tracefs's */
	EXPECT_EQ(w.delta.page_requests, self->skel->bss->reports);
}

/* The fields of an event's format file after the common ones */
struct format_field {
	char name[32];
	int offset, size;
};

static int format_fields(const char *format, struct format_field *f, int max)
{
	const char *p = format;
	int n = 0;

	while ((p = strstr(p, "field:")) && n < max) {
		const char *semi = strchr(p, ';'), *name = semi;

		if (!semi)
			break;
		while (name > p && name[-1] != ' ' && name[-1] != '*')
			name--;
		p = semi;
		if (!strncmp(name, "common_", 7))
			continue;
		snprintf(f[n].name, sizeof(f[n].name), "%.*s",
			 (int)(strcspn(name, "[;")), name);
		f[n].offset = atoi(strstr(p, "offset:") + 7);
		f[n].size = atoi(strstr(p, "size:") + 5);
		n++;
	}
	return n;
}

/*
 * Exactly the documented fields, laid out without holes, and an output
 * format that perf and trace-cmd can decode: every enum symbol that
 * TP_printk() uses was replaced by its value (TRACE_DEFINE_ENUM).
 */
TEST(every_event_has_its_documented_fields)
{
	char path[256], *format, field[64], array[64];
	struct format_field ff[16];
	size_t i, f;
	int n, k;

	for (i = 0; i < ARRAY_SIZE(event_fields); i++) {
		snprintf(path, sizeof(path), TRACEFS "/events/iommu/%s/format",
			 event_fields[i][0]);
		format = read_file(path, NULL);
		ASSERT_NE(NULL, format) TH_LOG("%s: %m", path);
		for (f = 1; f < ARRAY_SIZE(event_fields[i]) && event_fields[i][f]; f++) {
			snprintf(field, sizeof(field), " %s;", event_fields[i][f]);
			snprintf(array, sizeof(array), " %s[", event_fields[i][f]);
			EXPECT_TRUE(strstr(format, field) || strstr(format, array))
				TH_LOG("%s has no field %s", event_fields[i][0],
				       event_fields[i][f]);
		}
		n = format_fields(format, ff, ARRAY_SIZE(ff));
		EXPECT_EQ(f - 1, n) TH_LOG("%s: %d fields, %zu documented",
					   event_fields[i][0], n, f - 1);
		for (k = 1; k < n; k++) {
			/* braces: TH_LOG() runs after the EXPECT statement */
			EXPECT_EQ(ff[k - 1].offset + ff[k - 1].size, ff[k].offset)
				TH_LOG("%s: hole before %s", event_fields[i][0],
				       ff[k].name);
		}
		EXPECT_EQ(NULL, strstr(strstr(format, "print fmt:"), "IOMMU_"))
			TH_LOG("%s: enum left in its format", event_fields[i][0]);
		EXPECT_EQ(NULL, strstr(strstr(format, "print fmt:"), "VM_FAULT_"))
			TH_LOG("%s: enum left in its format", event_fields[i][0]);
		free(format);
	}
}

/* bpftrace's "@name: N" or "@name[key]: N", the key formatted from @fmt */
static long long __attribute__((format(printf, 2, 3)))
bpftrace_value(const char *out, const char *fmt, ...)
{
	char needle[64];
	const char *p;
	va_list ap;

	needle[0] = '\n';
	va_start(ap, fmt);
	vsnprintf(needle + 1, sizeof(needle) - 3, fmt, ap);
	va_end(ap);
	strcat(needle, ": ");
	p = strstr(out, needle);
	return p ? strtoll(p + strlen(needle), NULL, 10) : 0;
}

/* BEGIN fires once every probe is attached and SIGINT is handled */
static const char bpftrace_script[] =
	"BEGIN { printf(\"probes ready\\n\"); }\n"
	"tracepoint:iommu:iommu_sva_bind { @binds = count(); }\n"
	"tracepoint:iommu:iommu_sva_unbind { @unbinds = count(); }\n"
	"tracepoint:iommu:iommu_iopf_report { @reports = count(); }\n"
	"tracepoint:iommu:iommu_iopf_refuse { @refusals = count(); }\n"
	"tracepoint:iommu:iommu_iopf_dispatch { @dispatches = count();"
	" @faults = sum(args->nr_faults); }\n"
	"tracepoint:iommu:iommu_sva_fault { @outcome[args->outcome] = count(); }\n"
	"tracepoint:iommu:iommu_iopf_response { @responses = count();"
	" @by_device[str(args->device)] = count();"
	" if (args->latency_ns == 0) { @zero_latency = count(); } }\n";

#define BPFTRACE	"/usr/bin/bpftrace"
#define PERF		"/usr/bin/perf"

/* Third-party clients: each test skips when its client is missing */
FIXTURE(client) {
};

FIXTURE_SETUP(client)
{
	ASSERT_EQ(0, swsva_load_module(NULL));
}

FIXTURE_TEARDOWN(client)
{
}

#define SKIP_WITHOUT(tool)						\
	do {								\
		if (access(tool, X_OK))					\
			SKIP(return, "%s is not installed (scripts/deps.sh installs it)", \
			     tool);					\
	} while (0)

/* bpftrace compiles its script with LLVM: minutes on a KASAN guest */
TEST_F_TIMEOUT(client, bpftrace_counts_the_events, 600)
{
	char out[16384] = "\n";
	size_t len = 1;
	uint64_t t0;
	struct workload w;
	int pipefd[2], status;
	pid_t pid;

	SKIP_WITHOUT(BPFTRACE);
	t0 = swsva_now_ns();
	pid = spawn((char *const []){ BPFTRACE, "-e", (char *)bpftrace_script,
				      NULL }, &pipefd[0]);
	ASSERT_LT(0, pid);

	while (!strstr(out, "probes ready\n") && len < sizeof(out) - 1) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		ssize_t n;

		ASSERT_LT(0, poll(&pfd, 1, 500000)) TH_LOG("bpftrace silent");
		n = read(pipefd[0], out + len, sizeof(out) - 1 - len);
		ASSERT_LT(0, n) TH_LOG("bpftrace exited: %s", out);
		len += n;
		out[len] = '\0';
	}
	TH_LOG("bpftrace ready after %.1f s", (swsva_now_ns() - t0) / 1e9);

	run_workload(_metadata, &w);
	TH_LOG("workload done after %.1f s", (swsva_now_ns() - t0) / 1e9);

	kill(pid, SIGINT);
	for (;;) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 120000) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		n = read(pipefd[0], out + len, sizeof(out) - 1 - len);
		if (n <= 0)
			break;
		len += n;
	}
	out[len] = '\0';
	close(pipefd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("bpftrace did not exit after SIGINT");
	TH_LOG("bpftrace done after %.1f s, printed:%s",
	       (swsva_now_ns() - t0) / 1e9, out);

	EXPECT_EQ(w.delta.binds, bpftrace_value(out, "@binds"));
	EXPECT_EQ(w.delta.unbinds, bpftrace_value(out, "@unbinds"));
	EXPECT_EQ(w.delta.page_requests, bpftrace_value(out, "@reports"));
	EXPECT_EQ(WL_RAW_PAGES, bpftrace_value(out, "@refusals"));
	EXPECT_EQ(w.delta.groups - 1, bpftrace_value(out, "@dispatches"));
	EXPECT_EQ(w.delta.page_requests - WL_RAW_PAGES,
		  bpftrace_value(out, "@faults"));
	EXPECT_EQ(WL_PAGES, bpftrace_value(out, "@outcome[%d]", IOPF_SVA_MINOR));
	EXPECT_EQ(1, bpftrace_value(out, "@outcome[%d]", IOPF_SVA_ACCESS));
	EXPECT_EQ(w.group_pages - 1, bpftrace_value(out, "@outcome[%d]", IOPF_SVA_SKIPPED));
	EXPECT_EQ(w.delta.responses, bpftrace_value(out, "@responses"));
	EXPECT_EQ(w.delta.responses, bpftrace_value(out, "@by_device[swsva0]"));
	EXPECT_EQ(0, bpftrace_value(out, "@zero_latency"));
}

/* Send a command to perf's control fifo and wait for its ack */
static int perf_control(int ctl, int ack, const char *cmd)
{
	char buf[16] = "";

	if (write(ctl, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -1;
	if (read(ack, buf, sizeof(buf) - 1) <= 0)
		return -1;
	return strncmp(buf, "ack", 3) ? -1 : 0;
}

/*
 * perf, a client none of us wrote, formats the events with libtraceevent
 * from their format files alone.  A DMA past the end of a memfd faults
 * with SIGBUS: perf script must name the VM_FAULT bit, which it can only
 * if the format carries its value (TRACE_DEFINE_ENUM), and must show one
 * iommu_sva_fault per request the device counted.
 */
TEST_F_TIMEOUT(client, perf_script_decodes_the_sva_fault_result, 300)
{
	char dir[] = "/tmp/iopf-perf-XXXXXX", ctl[64], ack[64], data[64];
	char ctlspec[160], out[65536];
	const size_t page = sysconf(_SC_PAGESIZE);
	struct swsva_counters before, after;
	int fd, memfd, ctl_fd, ack_fd, status, lines = 0;
	unsigned char *mem, buf[64] = { 1 };
	const char *p;
	pid_t pid;

	SKIP_WITHOUT(PERF);
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(ctl, sizeof(ctl), "%s/ctl", dir);
	snprintf(ack, sizeof(ack), "%s/ack", dir);
	snprintf(data, sizeof(data), "%s/perf.data", dir);
	snprintf(ctlspec, sizeof(ctlspec), "fifo:%s,%s", ctl, ack);
	ASSERT_EQ(0, mkfifo(ctl, 0600));
	ASSERT_EQ(0, mkfifo(ack, 0600));

	/* recording starts disabled: the ack of "enable" is the sync */
	pid = spawn((char *const []){ PERF, "record", "-q", "-a", "-e",
				      "iommu:iommu_sva_fault", "-D", "-1",
				      "--control", ctlspec, "-o", data, NULL },
		    NULL);
	ASSERT_LT(0, pid);
	ctl_fd = open(ctl, O_WRONLY);
	ack_fd = open(ack, O_RDONLY);
	ASSERT_LE(0, ctl_fd);
	ASSERT_LE(0, ack_fd);
	ASSERT_EQ(0, perf_control(ctl_fd, ack_fd, "enable\n"));

	/* one page of file, two of mapping: the second faults with SIGBUS */
	memfd = memfd_create("iopf-perf", 0);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, ftruncate(memfd, page));
	mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	fd = swsva_open(0);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, swsva_bind(fd));
	ASSERT_EQ(0, swsva_counters(fd, &before));
	EXPECT_EQ(0, swsva_dma(fd, true, mem, sizeof(buf), buf, NULL));
	EXPECT_EQ(-EFAULT, swsva_dma(fd, true, mem + page, sizeof(buf), buf,
				     NULL));
	ASSERT_EQ(0, swsva_counters(fd, &after));
	ASSERT_EQ(0, swsva_unbind(fd));
	close(fd);
	munmap(mem, 2 * page);
	close(memfd);

	ASSERT_EQ(0, perf_control(ctl_fd, ack_fd, "disable\n"));
	kill(pid, SIGINT);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(ctl_fd);
	close(ack_fd);
	/* perf record writes its data, then re-raises the SIGINT */
	EXPECT_TRUE((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
		    (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT))
		TH_LOG("perf record: status %#x", status);

	status = run_capture((char *const []){ PERF, "script", "-i", data,
					       NULL }, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("perf script: status %#x: %s", status, out);
	for (p = out; (p = strstr(p, "iommu:iommu_sva_fault:")); p++)
		lines++;
	EXPECT_EQ(after.page_requests - before.page_requests, lines)
		TH_LOG("perf script printed:\n%s", out);
	EXPECT_EQ(1, count_events(out, "iommu:iommu_sva_fault", "result",
				  "SIGBUS"));
	EXPECT_EQ(1, count_events(out, "iommu:iommu_sva_fault", "outcome",
				  "error"));
	EXPECT_EQ(1, count_events(out, "iommu:iommu_sva_fault", "outcome",
				  "minor"));
	EXPECT_EQ(NULL, strstr(out, "FAILED TO PARSE"));
	unlink(ctl);
	unlink(ack);
	unlink(data);
	rmdir(dir);
}

TEST_HARNESS_MAIN
