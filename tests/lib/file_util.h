/* SPDX-License-Identifier: GPL-2.0 */
/* Small file helpers for the in-VM tests: sysfs, debugfs and tracefs. */
#ifndef IOPFKIT_FILE_UTIL_H
#define IOPFKIT_FILE_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Writes @text to @path; returns 0 or -errno. */
static inline int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		ret = -EIO;
	if (fclose(f))
		ret = -errno;
	return ret;
}

/* The whole of @path, NUL-terminated, or NULL; free() it. */
static inline char *read_file(const char *path, size_t *lenp)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap), *tmp;
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f || !buf)
		goto err;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			tmp = realloc(buf, cap * 2);
			if (!tmp)
				goto err;
			buf = tmp;
			cap *= 2;
		}
	}
	if (ferror(f))
		goto err;
	fclose(f);
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
err:
	if (f)
		fclose(f);
	free(buf);
	return NULL;
}

#endif
