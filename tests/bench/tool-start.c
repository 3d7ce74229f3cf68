// SPDX-License-Identifier: GPL-2.0
/*
 * tool-start: how long a tracing tool takes to show its first data, and
 * the memory it peaks at, over several runs of the same command.
 *
 *   tool-start [-n RUNS] [-w WARMUPS] [-m MATCH] -- COMMAND [ARG...]
 *
 * Each run starts COMMAND with its standard output on a pipe, notes when
 * the first line containing MATCH appears (default: any line), waits for
 * COMMAND to end by itself (give it a count, or make it exit), and reads
 * its peak resident set from wait4().  WARMUPS runs (default 1) come
 * first and do not count: the first start of a program reads it and its
 * libraries from disk (the guest's 9p root), which is not what a second
 * start costs.  Prints one line per run and
 * "median first_ms total_ms max_rss_kb".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "../lib/bench_util.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void usage(const char *prog, int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [-n RUNS] [-w WARMUPS] [-m MATCH] -- COMMAND [ARG...]\n",
		prog);
	exit(status);
}

/* One run: 0, and *first (-1: MATCH never seen), *total in ms, *rss in KiB */
static int run(char **argv, const char *match, double *first, double *total,
	       long *rss)
{
	struct rusage ru;
	int pipefd[2], status;
	double t0 = now_ms();
	char line[4096];
	FILE *out;
	pid_t pid;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		close(pipefd[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	*first = -1;
	while (fgets(line, sizeof(line), out))
		if (*first < 0 && (!match || strstr(line, match)))
			*first = now_ms() - t0;
	fclose(out);
	if (wait4(pid, &status, 0, &ru) != pid)
		return -1;
	*total = now_ms() - t0;
	*rss = ru.ru_maxrss;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "tool-start: %s exited with status %#x\n", argv[0], status);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	double firsts[64], totals[64], rss_kb[64];
	const char *match = NULL;
	int runs = 5, warmups = 1, opt, i;

	while ((opt = getopt(argc, argv, "+n:w:m:h")) != -1) {
		switch (opt) {
		case 'n':
			runs = atoi(optarg);
			if (runs < 1 || runs > 64)
				usage(argv[0], 2);
			break;
		case 'w':
			warmups = atoi(optarg);
			if (warmups < 0 || warmups > 64)
				usage(argv[0], 2);
			break;
		case 'm':
			match = optarg;
			break;
		case 'h':
			usage(argv[0], 0);
			break;
		default:
			usage(argv[0], 2);
		}
	}
	if (optind >= argc)
		usage(argv[0], 2);
	for (i = -warmups; i < runs; i++) {
		long rss;
		double first, total;

		if (run(argv + optind, match, &first, &total, &rss))
			return 1;
		if (first < 0) {
			fprintf(stderr, "tool-start: no line matched '%s'\n", match);
			return 1;
		}
		printf("%s %d first_ms %.1f total_ms %.1f max_rss_kb %ld\n",
		       i < 0 ? "warmup" : "run", i < 0 ? i + warmups + 1 : i + 1,
		       first, total, rss);
		if (i < 0)
			continue;
		firsts[i] = first;
		totals[i] = total;
		rss_kb[i] = rss;
	}
	printf("median %.1f %.1f %.0f\n", median(firsts, runs), median(totals, runs),
	       median(rss_kb, runs));
	return 0;
}
