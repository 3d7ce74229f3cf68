// SPDX-License-Identifier: GPL-2.0
/*
 * sva-snoop against the software SVA device: one line per bind and
 * unbind, as many as the device counted, with the right process, device,
 * PASID and references; each filter selects exactly its lines; signals,
 * usage and exit statuses as the bcc tools have them.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "../lib/swsva_util.h"
#include "../lib/tool_util.h"

#define READY	"Tracing SVA binds and unbinds"

struct snoop_line {
	char event[8], comm[16], device[32], result[16];
	long long pid, pasid, refs, ret;
};

/* The JSON lines of a run, parsed; returns how many */
static int snoop_lines(const char *out, struct snoop_line *l, int max)
{
	char buf[512];
	size_t pos = 0;
	int n = 0;

	while (n < max && json_next_line(out, &pos, buf, sizeof(buf))) {
		memset(&l[n], 0, sizeof(l[n]));
		json_str(buf, "event", l[n].event, sizeof(l[n].event));
		json_str(buf, "comm", l[n].comm, sizeof(l[n].comm));
		json_str(buf, "device", l[n].device, sizeof(l[n].device));
		json_str(buf, "result", l[n].result, sizeof(l[n].result));
		l[n].pid = json_num(buf, "pid", -1);
		l[n].pasid = json_num(buf, "pasid", -2);
		l[n].refs = json_num(buf, "refs", -1);
		l[n].ret = json_num(buf, "ret", 0);
		n++;
	}
	return n;
}

static int start_snoop(struct tool_run *t, const char *a1, const char *a2)
{
	char *argv[] = { strdup(build_path("bin/sva-snoop")), "--json",
			 (char *)a1, (char *)a2, NULL };

	return tool_start(t, argv, READY);
}

static long long ep_binds(int ep)
{
	return swsva_sysfs_counter(ep, "binds") + swsva_sysfs_counter(ep, "unbinds");
}

FIXTURE(snoop) {
	struct tool_run run;
	struct snoop_line lines[64];
	int nr;
};

FIXTURE_SETUP(snoop)
{
	ASSERT_EQ(0, swsva_load_module(NULL));
	ASSERT_EQ(0, access("/dev/swsva1", F_OK)) TH_LOG("needs two endpoints");
	prctl(PR_SET_NAME, "snoop-test");
}

FIXTURE_TEARDOWN(snoop)
{
	tool_free(&self->run);
}

/* Two binds of one file pair on swsva0 (join, leave), one on swsva1 */
static void bind_pattern(struct __test_metadata *_metadata, int *pasid)
{
	int a = swsva_open(0), b = swsva_open(0), c = swsva_open(1);

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);
	*pasid = swsva_bind(a);
	ASSERT_LT(0, *pasid);
	ASSERT_EQ(*pasid, swsva_bind(b));
	ASSERT_EQ(*pasid, swsva_bind(c));
	ASSERT_EQ(0, swsva_unbind(b));
	ASSERT_EQ(0, swsva_unbind(a));
	ASSERT_EQ(0, swsva_unbind(c));
	close(a);
	close(b);
	close(c);
}

TEST_F(snoop, every_bind_and_unbind_once_with_its_refs)
{
	static const struct { const char *event, *device; int refs; } want[] = {
		{ "bind", "swsva0", 1 }, { "bind", "swsva0", 2 },
		{ "bind", "swsva1", 1 }, { "unbind", "swsva0", 1 },
		{ "unbind", "swsva0", 0 }, { "unbind", "swsva1", 0 },
	};
	long long before = ep_binds(0) + ep_binds(1);
	int pasid, i;

	ASSERT_EQ(0, start_snoop(&self->run, NULL, NULL)) TH_LOG("%s", self->run.out);
	bind_pattern(_metadata, &pasid);
	ASSERT_EQ(0, tool_stop(&self->run, SIGINT)) TH_LOG("%s", self->run.out);

	self->nr = snoop_lines(self->run.out, self->lines, 64);
	{
		char err[128];

		EXPECT_EQ(0, json_lines_valid(self->run.out, err, sizeof(err)))
			TH_LOG("%s", err);
	}
	/* the device counts binds of its files; iommu refs are per mm */
	EXPECT_EQ(ep_binds(0) + ep_binds(1) - before, self->nr);
	ASSERT_EQ(6, self->nr) TH_LOG("%s", self->run.out);
	for (i = 0; i < 6; i++) {
		struct snoop_line *l = &self->lines[i];

		EXPECT_STREQ(want[i].event, l->event);
		EXPECT_STREQ(want[i].device, l->device);
		EXPECT_EQ(want[i].refs, l->refs);
		EXPECT_EQ(pasid, l->pasid);
		EXPECT_EQ(getpid(), l->pid);
		EXPECT_STREQ("snoop-test", l->comm);
		if (!strcmp(l->event, "bind"))
			EXPECT_STREQ("ok", l->result);
	}
}

/* The file's last reference goes at exit: the unbind is the exiting child's */
TEST_F(snoop, exit_without_unbind_is_an_unbind_of_the_process)
{
	int pasid_pipe[2], pasid = 0, status;
	pid_t child;

	ASSERT_EQ(0, pipe(pasid_pipe));
	ASSERT_EQ(0, start_snoop(&self->run, NULL, NULL));
	child = fork();
	if (!child) {
		int fd = swsva_open(0);

		prctl(PR_SET_NAME, "snoop-child");
		pasid = swsva_bind(fd);
		if (write(pasid_pipe[1], &pasid, sizeof(pasid)) != sizeof(pasid))
			_exit(1);
		_exit(0);	/* no unbind, no close */
	}
	ASSERT_EQ(sizeof(pasid), read(pasid_pipe[0], &pasid, sizeof(pasid)));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_LT(0, pasid);
	ASSERT_EQ(0, tool_stop(&self->run, SIGTERM)) TH_LOG("%s", self->run.out);

	self->nr = snoop_lines(self->run.out, self->lines, 64);
	ASSERT_EQ(2, self->nr) TH_LOG("%s", self->run.out);
	EXPECT_STREQ("bind", self->lines[0].event);
	EXPECT_STREQ("unbind", self->lines[1].event);
	EXPECT_EQ(child, self->lines[0].pid);
	EXPECT_EQ(child, self->lines[1].pid);
	EXPECT_STREQ("snoop-child", self->lines[1].comm);
	EXPECT_EQ(pasid, self->lines[1].pasid);
	EXPECT_EQ(0, self->lines[1].refs);
}

/* Each filter: exactly the lines of the full trace that match it */
TEST_F(snoop, filters_select_exactly_their_lines)
{
	struct tool_run all, by_pid, by_dev, by_pasid, failed;
	struct snoop_line l[64];
	char pid_arg[16], pasid_arg[16];
	int pasid, n_all, n, i, status, other_pasid, fd;
	pid_t child;

	ASSERT_EQ(0, start_snoop(&all, NULL, NULL));
	ASSERT_EQ(0, start_snoop(&by_dev, "-d", "swsva1"));
	ASSERT_EQ(0, start_snoop(&failed, "-x", NULL));
	/* our PASID is known before the filters that need it start */
	fd = swsva_open(0);
	pasid = swsva_bind(fd);
	ASSERT_LT(0, pasid);
	close(fd);
	snprintf(pid_arg, sizeof(pid_arg), "%d", getpid());
	snprintf(pasid_arg, sizeof(pasid_arg), "%d", pasid);
	ASSERT_EQ(0, start_snoop(&by_pid, "-p", pid_arg));
	ASSERT_EQ(0, start_snoop(&by_pasid, "--pasid", pasid_arg));

	bind_pattern(_metadata, &pasid);
	/* another process, another PASID, on both devices */
	child = fork();
	if (!child) {
		int dummy;

		bind_pattern(_metadata, &dummy);
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));

	ASSERT_EQ(0, tool_stop(&by_pid, SIGINT));
	ASSERT_EQ(0, tool_stop(&by_pasid, SIGINT));
	ASSERT_EQ(0, tool_stop(&all, SIGINT));
	ASSERT_EQ(0, tool_stop(&by_dev, SIGINT));
	ASSERT_EQ(0, tool_stop(&failed, SIGINT));

	n_all = snoop_lines(all.out, self->lines, 64);
	/* bind+unbind of the first file, then two patterns of six */
	ASSERT_EQ(14, n_all) TH_LOG("%s", all.out);
	other_pasid = self->lines[13].pasid;
	EXPECT_NE(pasid, other_pasid);

	n = snoop_lines(by_dev.out, l, 64);
	for (i = 0; i < n; i++)
		EXPECT_STREQ("swsva1", l[i].device);
	EXPECT_EQ(4, n) TH_LOG("%s", by_dev.out);	/* bind+unbind x 2 */

	n = snoop_lines(by_pid.out, l, 64);
	for (i = 0; i < n; i++)
		EXPECT_EQ(getpid(), l[i].pid);
	EXPECT_EQ(6, n) TH_LOG("%s", by_pid.out);

	n = snoop_lines(by_pasid.out, l, 64);
	for (i = 0; i < n; i++)
		EXPECT_EQ(pasid, l[i].pasid);
	EXPECT_EQ(6, n) TH_LOG("%s", by_pasid.out);

	/* every bind succeeded: -x shows none of the 14 */
	EXPECT_EQ(0, snoop_lines(failed.out, l, 64)) TH_LOG("%s", failed.out);

	tool_free(&all);
	tool_free(&by_pid);
	tool_free(&by_dev);
	tool_free(&by_pasid);
	tool_free(&failed);
}

TEST_F(snoop, text_output_has_a_header_and_a_line_per_event)
{
	char *argv[] = { strdup(build_path("bin/sva-snoop")), "-t", NULL };
	int pasid;
	char *p;

	ASSERT_EQ(0, tool_start(&self->run, argv, "RESULT"));
	bind_pattern(_metadata, &pasid);
	ASSERT_EQ(0, tool_stop(&self->run, SIGINT));
	EXPECT_NE(NULL, strstr(self->run.out,
			       "TIME(s)      EVENT  PID     COMM             DEVICE       PASID   REFS RESULT"))
		TH_LOG("%s", self->run.out);
	p = self->run.out;
	self->nr = 0;
	while ((p = strstr(p, " snoop-test ")))
		p++, self->nr++;
	EXPECT_EQ(6, self->nr) TH_LOG("%s", self->run.out);
}

/*
 * A command name is any bytes, cut at 15: quotes, backslashes, a terminal
 * escape, a UTF-8 character cut in half. The JSON stays valid JSON
 * (Python's parser says so) and the table shows no control byte.
 */
TEST_F(snoop, odd_command_names_stay_valid_json_and_printable)
{
	static const char odd[] = "\xff\"\\\x1b[1mab\xe2\x82";
	char *text_argv[] = { strdup(build_path("bin/sva-snoop")), NULL };
	struct tool_run text;
	char err[128];
	int status;
	pid_t child;

	ASSERT_EQ(0, start_snoop(&self->run, NULL, NULL));
	ASSERT_EQ(0, tool_start(&text, text_argv, "RESULT"));
	child = fork();
	if (!child) {
		int fd = swsva_open(0);

		prctl(PR_SET_NAME, odd);
		_exit(swsva_bind(fd) > 0 && !swsva_unbind(fd) ? 0 : 1);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_EQ(0, status);
	ASSERT_EQ(0, tool_stop(&self->run, SIGINT));
	ASSERT_EQ(0, tool_stop(&text, SIGINT));

	EXPECT_EQ(2, snoop_lines(self->run.out, self->lines, 64));
	EXPECT_EQ(0, json_lines_valid(self->run.out, err, sizeof(err)))
		TH_LOG("%s: %s", err, self->run.out);
	/* U+FFFD for 0xff and for each byte of the cut character, escapes */
	EXPECT_NE(NULL, strstr(self->run.out,
			       "\"comm\":\"\xef\xbf\xbd\\\"\\\\\\u001b[1mab\xef\xbf\xbd\xef\xbf\xbd\""))
		TH_LOG("%s", self->run.out);
	EXPECT_EQ(NULL, strchr(text.out, '\x1b')) TH_LOG("%s", text.out);
	EXPECT_NE(NULL, strstr(text.out, " ?\"\\?[1mab?? ")) TH_LOG("%s", text.out);
	tool_free(&text);
}

/*
 * A device with a 2-bit PASID space (swsva pasid_bits=2) carries PASIDs 1
 * to 3: address spaces that keep their bindings use them up, and the
 * next bind fails in iommu_sva_bind_device() with ENOSPC, before a PASID
 * is allocated. -x shows that bind and nothing else.
 */
TEST(failed_bind_shows_its_errno_name)
{
	struct tool_run all, failed;
	struct snoop_line l[64];
	int gate[2], result[2], i, n, ret = 0, binds = 0, status;
	pid_t kids[5], failed_pid = 0;

	system("rmmod swsva 2>/dev/null");
	ASSERT_EQ(0, swsva_load_module("pasid_bits=2"));
	/* close-on-exec: the tools must not hold the gate open */
	ASSERT_EQ(0, pipe2(gate, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(result, O_CLOEXEC));
	ASSERT_EQ(0, start_snoop(&all, NULL, NULL));
	ASSERT_EQ(0, start_snoop(&failed, "-x", NULL));

	/* children bind and hold their binding until the gate closes */
	for (i = 0; i < 5 && !ret; i++) {
		kids[i] = fork();
		if (!kids[i]) {
			int fd = swsva_open(0), r = swsva_bind(fd);
			char c;

			close(gate[1]);
			if (write(result[1], &r, sizeof(r)) != sizeof(r))
				_exit(1);
			if (read(gate[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
		ASSERT_EQ(sizeof(ret), read(result[0], &ret, sizeof(ret)));
		if (ret > 0) {
			binds++;
			ret = 0;
		} else {
			failed_pid = kids[i];
		}
	}
	n = i;
	close(gate[1]);
	for (i = 0; i < n; i++)
		waitpid(kids[i], &status, 0);
	EXPECT_EQ(-ENOSPC, ret);
	EXPECT_GE(3, binds);
	ASSERT_EQ(0, tool_stop(&all, SIGINT));
	ASSERT_EQ(0, tool_stop(&failed, SIGINT));
	system("rmmod swsva");
	ASSERT_EQ(0, swsva_load_module(NULL));

	ASSERT_EQ(1, snoop_lines(failed.out, l, 64)) TH_LOG("%s", failed.out);
	EXPECT_STREQ("bind", l[0].event);
	EXPECT_EQ(failed_pid, l[0].pid);
	EXPECT_EQ(-ENOSPC, l[0].ret);
	EXPECT_STREQ("ENOSPC", l[0].result);
	EXPECT_EQ(-1, l[0].pasid);
	/* the full trace: each bind, the failed one, each unbind at exit */
	EXPECT_EQ(2 * binds + 1, snoop_lines(all.out, l, 64)) TH_LOG("%s", all.out);
	EXPECT_NE(NULL, strstr(all.out, "\"result\":\"ENOSPC\""));
	tool_free(&all);
	tool_free(&failed);
}

/* Bad flags and values: usage on stderr, exit 2; --help: exit 0 */
TEST(usage_and_exit_statuses)
{
	static const char *const bad[][3] = {
		{ "--bogus" }, { "-p", "x" }, { "-p", "0" }, { "--pasid", "-2" }, { "--pasid", "1048576" },
		{ "extra" }, { "-d", "" },
		{ "-d", "a-device-name-that-is-much-too-long" },
	};
	const char *tool = build_path("bin/sva-snoop");
	char out[4096];
	int i, status;

	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		char *argv[] = { (char *)tool, (char *)bad[i][0],
				 (char *)bad[i][1], NULL };

		status = run_capture(argv, out, sizeof(out));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(2, WEXITSTATUS(status)) TH_LOG("%s %s: %s", bad[i][0],
							  bad[i][1] ?: "", out);
		EXPECT_NE(NULL, strstr(out, "sva-snoop --help")) TH_LOG("%s", out);
	}
	status = run_capture((char *[]){ (char *)tool, "--help", NULL }, out,
			     sizeof(out));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_NE(NULL, strstr(out, "--failed")) TH_LOG("%s", out);
}

TEST_HARNESS_MAIN
