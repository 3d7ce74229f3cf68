/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Running an iopfkit tool (build/bin/) from an in-VM test: start it, wait
 * until it says it is tracing, stop it with a signal, keep everything it
 * printed; and reading fields of its --json lines.
 */
#ifndef IOPFKIT_TOOL_UTIL_H
#define IOPFKIT_TOOL_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>

#include "json_check.h"
#include "proc_util.h"

struct tool_run {
	pid_t pid;
	int fd;			/* its stdout and stderr */
	char *out;		/* all of it so far, NUL-terminated */
	size_t len, cap;
};

/* Reads what is there within @timeout_ms; 0 at EOF, 1 if more may come */
static inline int tool_read(struct tool_run *t, int timeout_ms)
{
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 1;
	if (t->len + 4096 + 1 > t->cap) {
		t->cap = (t->cap + 4096) * 2;
		t->out = realloc(t->out, t->cap);
	}
	n = read(t->fd, t->out + t->len, 4096);
	if (n <= 0)
		return 0;
	t->len += n;
	t->out[t->len] = '\0';
	return 1;
}

/*
 * Starts @argv and waits up to a minute for @ready in its output: the
 * line a tool prints once its programs are attached. 0, or -1 if it died
 * or never said it.
 */
static inline int tool_start(struct tool_run *t, char *const argv[],
			     const char *ready)
{
	int i;

	memset(t, 0, sizeof(*t));
	t->cap = 8192;
	t->out = calloc(1, t->cap);
	t->pid = spawn(argv, &t->fd);
	if (t->pid < 0)
		return -1;
	for (i = 0; i < 600; i++) {
		if (strstr(t->out, ready))
			return 0;
		if (!tool_read(t, 100))
			return -1;
	}
	return -1;
}

/* Sends @sig (0: none, the tool ends by itself), reads to EOF, reaps it */
static inline int tool_stop(struct tool_run *t, int sig)
{
	int status = -1;

	if (sig)
		kill(t->pid, sig);
	while (tool_read(t, 60000))
		;
	close(t->fd);
	if (waitpid(t->pid, &status, 0) != t->pid)
		return -1;
	return status;
}

static inline void tool_free(struct tool_run *t)
{
	free(t->out);
	t->out = NULL;
}

/* The next line of @text starting with '{' from *@pos on, in @buf */
static inline bool json_next_line(const char *text, size_t *pos, char *buf,
				  size_t size)
{
	while (text[*pos]) {
		const char *line = text + *pos;
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		*pos += len + (nl != NULL);
		if (line[0] != '{')
			continue;
		if (len >= size)
			len = size - 1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		return true;
	}
	return false;
}

/* "key":NUMBER in @obj; @def when absent */
static inline long long json_num(const char *obj, const char *key, long long def)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : def;
}

/* "key":"STRING" in @obj (no escapes expected) into @buf; false if absent */
static inline bool json_str(const char *obj, const char *key, char *buf,
			    size_t size)
{
	char pat[64];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(obj, pat);
	if (!p)
		return false;
	p += strlen(pat);
	end = strchr(p, '"');
	if (!end || (size_t)(end - p) >= size)
		return false;
	memcpy(buf, p, end - p);
	buf[end - p] = '\0';
	return true;
}

#endif
