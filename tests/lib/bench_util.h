/* SPDX-License-Identifier: GPL-2.0 */
/* What the benchmarks in tests/bench/ share */
#ifndef IOPFKIT_BENCH_UTIL_H
#define IOPFKIT_BENCH_UTIL_H

#include <stddef.h>
#include <stdlib.h>

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of @n values (sorts them in place) */
static inline double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
