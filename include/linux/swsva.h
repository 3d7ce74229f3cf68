/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Software SVA device: a software IOMMU with PASID- and PRI-capable
 * endpoints, for testing shared virtual addressing and I/O page faults
 * without hardware.  Each endpoint is a character device, /dev/swsvaN.
 *
 * Every ioctl argument starts with @size, which userspace sets to the size
 * of the structure it was built with.  A larger @size is accepted when the
 * bytes the kernel does not know are zero; every flag the kernel does not
 * know is refused with EINVAL.
 */
#ifndef _UAPI_LINUX_SWSVA_H
#define _UAPI_LINUX_SWSVA_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SWSVA_IOC_MAGIC		0xB9

/**
 * struct swsva_bind - SWSVA_IOC_BIND: bind the caller's address space
 * @size: sizeof(struct swsva_bind)
 * @flags: must be 0
 * @pasid: out: the PASID the device uses for this address space
 * @__reserved: must be 0
 *
 * One binding per open file: a second bind returns EBUSY.  The binding
 * ends with SWSVA_IOC_UNBIND or when the last reference to the file goes.
 */
struct swsva_bind {
	__u32 size;
	__u32 flags;
	__u32 pasid;
	__u32 __reserved;
};

/* DMA direction: the device reads the bound address space (the default) */
#define SWSVA_DMA_WRITE		(1U << 0)	/* device writes it */

/**
 * struct swsva_dma - SWSVA_IOC_DMA: run a DMA on the file's binding
 * @size: sizeof(struct swsva_dma)
 * @flags: SWSVA_DMA_WRITE, or 0 for a read
 * @addr: address in the bound address space (the PASID's)
 * @len: bytes to move, at most SWSVA_DMA_MAX_LEN
 * @buf: the caller's buffer: where a read puts the data, what a write
 *	stores
 * @latencies: optional: array of __u64 that receives the latency, in
 *	nanoseconds, of each page request group the DMA raised, from the
 *	post of its last request to the response
 * @latencies_len: in: entries @latencies holds; out: entries written
 * @page_requests: out: page requests raised
 * @groups: out: page request groups raised (one response each)
 * @retries: out: translations that missed again after a successful
 *	response
 * @bytes_done: out: bytes moved before the DMA ended
 * @nsecs: out: time the DMA took
 *
 * The device translates @addr page by page without faulting, like a PCIe
 * device with ATS.  Pages that miss are requested in one page request
 * group per window of up to the "group_pages" module parameter pages; a
 * successful response makes the device translate again.  The DMA fails
 * with EFAULT on an Invalid response, EIO on a Response Failure,
 * ETIMEDOUT when a response is lost, ECANCELED when the binding is being
 * torn down, ENODEV when the endpoint is removed and EINTR when the caller
 * is killed.  On failure the structure is still copied back, so
 * @bytes_done and the counts say how far the DMA got.
 */
struct swsva_dma {
	__u32 size;
	__u32 flags;
	__u64 addr;
	__u64 len;
	__u64 buf;
	__u64 latencies;
	__u32 latencies_len;
	__u32 page_requests;
	__u32 groups;
	__u32 retries;
	__u64 bytes_done;
	__u64 nsecs;
};

#define SWSVA_DMA_MAX_LEN	(1ULL << 30)

/* Page request permissions, as in PCIe PRI */
#define SWSVA_PERM_READ		(1U << 0)
#define SWSVA_PERM_WRITE	(1U << 1)

/* Response codes, as in PCIe PRI and enum iommu_page_response_code */
#define SWSVA_RESP_SUCCESS	0
#define SWSVA_RESP_INVALID	1
#define SWSVA_RESP_FAILURE	2

/**
 * struct swsva_page_request - SWSVA_IOC_PAGE_REQUEST: raise a raw group
 * @size: sizeof(struct swsva_page_request)
 * @flags: must be 0
 * @pasid: the PASID, bound or not, below 2^SWSVA_PASID_BITS
 * @perm: SWSVA_PERM_READ and/or SWSVA_PERM_WRITE
 * @addr: page-aligned address of the first page
 * @pages: requests in the group, 1 to SWSVA_GROUP_MAX_PAGES
 * @response: out: the response code (SWSVA_RESP_*)
 *
 * Posts a page request group as the device would, without a DMA, and
 * waits for the response: a fault injection for tests of the page request
 * path, in particular for PASIDs that are not bound.
 */
struct swsva_page_request {
	__u32 size;
	__u32 flags;
	__u32 pasid;
	__u32 perm;
	__u64 addr;
	__u32 pages;
	__u32 response;
};

#define SWSVA_PASID_BITS	20
#define SWSVA_GROUP_MAX_PAGES	64

/**
 * struct swsva_faults - SWSVA_IOC_SET_FAULTS: fault injection
 * @size: sizeof(struct swsva_faults)
 * @flags: must be 0
 * @delay_count: the next @delay_count responses reach the device
 *	@delay_ms late
 * @delay_ms: delay in milliseconds, at most 60000
 * @lose_count: the next @lose_count responses never reach the device
 * @lost_timeout_ms: how long the device waits for a response before it
 *	fails the DMA with ETIMEDOUT, 1 to 60000 (default 1000)
 *
 * Applies to the whole endpoint and replaces the previous settings.  The
 * kernel still answers every request: a delayed or lost response is one
 * that the IOMMU sent and the device got late or not at all.
 */
struct swsva_faults {
	__u32 size;
	__u32 flags;
	__u32 delay_count;
	__u32 delay_ms;
	__u32 lose_count;
	__u32 lost_timeout_ms;
};

/**
 * struct swsva_counters - SWSVA_IOC_COUNTERS: the endpoint's counters
 * @size: sizeof(struct swsva_counters)
 * @flags: must be 0
 * @page_requests: page requests posted to the IOMMU
 * @groups: page request groups posted (each one expects a response)
 * @responses: responses received from the IOMMU for posted groups
 * @resp_success: ... of which Success
 * @resp_invalid: ... of which Invalid Request
 * @resp_failure: ... of which Response Failure
 * @resp_lost: ... of which dropped by fault injection
 * @resp_unexpected: responses that matched no outstanding group
 * @retries: translations that missed again after a Success
 * @dma_ops: DMAs run
 * @dma_errors: DMAs that failed
 * @dma_bytes: bytes moved
 * @in_flight: groups posted and not yet answered
 * @binds: successful binds
 * @unbinds: unbinds (by ioctl, close, or removal)
 */
struct swsva_counters {
	__u32 size;
	__u32 flags;
	__u64 page_requests;
	__u64 groups;
	__u64 responses;
	__u64 resp_success;
	__u64 resp_invalid;
	__u64 resp_failure;
	__u64 resp_lost;
	__u64 resp_unexpected;
	__u64 retries;
	__u64 dma_ops;
	__u64 dma_errors;
	__u64 dma_bytes;
	__u64 in_flight;
	__u64 binds;
	__u64 unbinds;
};

#define SWSVA_IOC_BIND		_IOWR(SWSVA_IOC_MAGIC, 0x00, struct swsva_bind)
#define SWSVA_IOC_UNBIND	_IO(SWSVA_IOC_MAGIC, 0x01)
#define SWSVA_IOC_DMA		_IOWR(SWSVA_IOC_MAGIC, 0x02, struct swsva_dma)
#define SWSVA_IOC_PAGE_REQUEST	_IOWR(SWSVA_IOC_MAGIC, 0x03, struct swsva_page_request)
#define SWSVA_IOC_SET_FAULTS	_IOW(SWSVA_IOC_MAGIC, 0x04, struct swsva_faults)
#define SWSVA_IOC_COUNTERS	_IOWR(SWSVA_IOC_MAGIC, 0x05, struct swsva_counters)

#endif /* _UAPI_LINUX_SWSVA_H */
