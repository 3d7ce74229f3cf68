// SPDX-License-Identifier: GPL-2.0
/*
 * iopf-exporter: the shared per-(device, PASID) statistics and the
 * PASID-to-process map; user space reads both at each scrape.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "iopf_tools.h"
#include "pasid_map.bpf.h"
#include "iopf_stats.bpf.h"

char LICENSE[] SEC("license") = "GPL";
