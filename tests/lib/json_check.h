/* SPDX-License-Identifier: GPL-2.0 */
/* The tools' --json output, checked by a JSON parser we did not write */
#ifndef IOPFKIT_JSON_CHECK_H
#define IOPFKIT_JSON_CHECK_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

/*
 * Every line of @text that starts with '{' is one JSON value by Python's
 * json module, a parser none of us wrote: UTF-8 only, no NaN or Infinity,
 * no trailing text. 0, or -1 with the first complaint in @err.
 */
static inline int json_lines_valid(const char *text, char *err, size_t size)
{
	static const char check[] =
		"import json, sys\n"
		"def bad(c): raise ValueError('not JSON: ' + c)\n"
		"for n, l in enumerate(sys.stdin.buffer.read().split(b'\\n'), 1):\n"
		"    if l.startswith(b'{'):\n"
		"        try: json.loads(l.decode('utf-8'), parse_constant=bad)\n"
		"        except Exception as e: sys.exit('line %d: %s: %r' % (n, e, l[:120]))\n";
	char path[] = "/tmp/json-lines-XXXXXX";
	char *argv[] = { "/usr/bin/python3", "-c", (char *)check, NULL };
	int fd = mkstemp(path), status, in;
	size_t len = strlen(text);
	pid_t pid;

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return -1;
	close(fd);
	in = open(path, O_RDONLY);
	unlink(path);
	if (in < 0)
		return -1;
	pid = fork();
	if (!pid) {
		dup2(in, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	snprintf(err, size, "python3 json.loads refused a line (status %#x, its message above)",
		 status);
	return -1;
}

#endif
