/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Running the clients the in-VM tests drive (bpftool, bpftrace, perf) and
 * finding the project's build folder from a test program.
 */
#ifndef IOPFKIT_PROC_UTIL_H
#define IOPFKIT_PROC_UTIL_H

#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

/*
 * Start @argv, a client of ours, killed if the test dies (a test that
 * times out must not leave it attached); with @out, its stdout and
 * stderr go to a pipe whose read end is returned there.
 */
static inline pid_t spawn(char *const argv[], int *out)
{
	int pipefd[2];
	pid_t pid;

	if (out && pipe(pipefd))
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (out) {
			dup2(pipefd[1], 1);
			dup2(pipefd[1], 2);
			close(pipefd[0]);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (out) {
		close(pipefd[1]);
		*out = pipefd[0];
	}
	return pid;
}

/* Run @argv with stdout and stderr into @out; returns its wait status */
static inline int run_capture(char *const argv[], char *out, size_t size)
{
	size_t len = 0;
	int fd, status;
	ssize_t n;
	pid_t pid;

	pid = spawn(argv, &fd);
	if (pid < 0)
		return -1;
	while (len < size - 1 && (n = read(fd, out + len, size - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(fd);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* The exit status of @pid, 128 + the signal that killed it, or -1 */
static inline int wait_exit(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * @rel under the build folder, which holds this program in tests/vm/
 * (build/tests/vm/NAME): the same folder on the host and in the guest.
 */
static inline const char *build_path(const char *rel)
{
	static char path[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return rel;
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/../../%s", dirname(exe), rel);
	return path;
}

#endif
