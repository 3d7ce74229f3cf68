/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The setup shared by the in-VM fixtures that start from endpoint 0,
 * opened and bound: for use in a FIXTURE_SETUP() whose fixture has the
 * fields fd, pasid and start (the counters when the test begins).
 */
#ifndef IOPFKIT_SWSVA_FIXTURE_H
#define IOPFKIT_SWSVA_FIXTURE_H

#include "swsva_util.h"

#define SWSVA_SETUP_BOUND(self) do {					\
	page_size = sysconf(_SC_PAGESIZE);				\
	ASSERT_EQ(0, swsva_load_module(NULL));				\
	(self)->fd = swsva_open(0);					\
	ASSERT_LE(0, (self)->fd);					\
	(self)->pasid = swsva_bind((self)->fd);				\
	ASSERT_LT(0, (self)->pasid)					\
		TH_LOG("bind: %s", strerror(-(self)->pasid));		\
	ASSERT_EQ(0, swsva_counters((self)->fd, &(self)->start));	\
} while (0)

#endif
