/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Software SVA device: a software IOMMU with PASID- and PRI-capable
 * endpoints, for testing shared virtual addressing and I/O page faults
 * without hardware.  Each endpoint is a character device, /dev/swsvaN.
 *
 * Every ioctl argument starts with @size, which userspace sets to the size
 * of the structure it was built with.  The command numbers do not encode
 * the size, so that a structure can grow at its end: the kernel accepts any
 * @size from the end of the structure's first version (EINVAL below it);
 * bytes past the structure it knows must be zero (E2BIG otherwise); it
 * writes back at most @size bytes.  Every flag the kernel does not know is
 * refused with EINVAL.
 *
 * Every ioctl but SWSVA_IOC_COUNTERS needs a file opened O_RDWR (EBADF
 * otherwise): binding lets the device read and write the caller's memory.
 */
#ifndef _UAPI_LINUX_SWSVA_H
#define _UAPI_LINUX_SWSVA_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SWSVA_IOC_MAGIC		0xB9

/**
 * struct swsva_bind - SWSVA_IOC_BIND: bind the caller's address space
 * @size: sizeof(struct swsva_bind)
 * @flags: 0 or SWSVA_BIND_NO_MM_REF
 * @pasid: out: the PASID the device uses for this address space
 * @__reserved: must be 0
 *
 * One binding per open file: a second bind returns EBUSY.  The binding
 * ends with SWSVA_IOC_UNBIND or when the last reference to the file goes.
 * The first version ends at @__reserved.
 */
/*
 * The endpoint keeps no reference of its own to the bound address space,
 * as idxd and uacce do: only the SVA domain's pins it, so the last unbind
 * of an exited process may free the mm inside iommu_sva_unbind_device().
 * For tests of the core's paths as those drivers reach them.
 */
#define SWSVA_BIND_NO_MM_REF	(1U << 0)

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
 * @latencies: optional: array of __u64 that receives, for each page
 *	request group the DMA raised and got a response to, in order, the
 *	time in nanoseconds from the post of the group to the moment the
 *	device sees its response (an injected delay included)
 * @latencies_len: in: entries @latencies holds (0: none wanted); out:
 *	entries written
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
 * successful response makes the device translate again.
 *
 * Errors: EFAULT on an Invalid response or when @buf or @latencies cannot
 * be accessed, EIO on a Response Failure, ETIMEDOUT when a response is
 * lost, ECANCELED when the binding is torn down during the DMA, ENODEV
 * when the endpoint is removed, EINTR when the caller is killed, ENOTCONN
 * when the file has no binding (also while an unbind is under way).  On
 * failure the structure is still copied back, so @bytes_done and the
 * counts say how far the DMA got.  The first version ends at @nsecs.
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

/*
 * Post the requests without the group's last one, as a device that lost or
 * never sent it: nothing answers such a group, the ioctl returns once they
 * are queued, and the device reuses the group index at once.
 */
#define SWSVA_PAGE_REQUEST_NO_LAST	(1U << 0)

/**
 * struct swsva_page_request - SWSVA_IOC_PAGE_REQUEST: raise a raw group
 * @size: sizeof(struct swsva_page_request)
 * @flags: 0 or SWSVA_PAGE_REQUEST_NO_LAST
 * @pasid: the PASID, bound or not, below 2^pasid_bits (the module
 *	parameter, SWSVA_PASID_BITS by default)
 * @perm: SWSVA_PERM_READ and/or SWSVA_PERM_WRITE
 * @addr: page-aligned address of the first page
 * @pages: requests in the group, 1 to SWSVA_GROUP_MAX_PAGES
 * @response: out: the response code (SWSVA_RESP_*); 0 with NO_LAST
 * @grpid: out: the page request group index the device used
 * @__reserved: must be 0
 *
 * Posts a page request group as the device would, without a DMA, and
 * waits for the response: a fault injection for tests of the page request
 * path, in particular for PASIDs that are not bound.  Any file may post
 * for any PASID, except while the endpoint is detaching that PASID (from
 * the start of the drain of its page requests to the end of the unbind
 * that detaches it): the device then posts nothing and the ioctl fails
 * with ECANCELED, as it does while the file's own binding is being torn
 * down.  The first version ends at @response.
 */
struct swsva_page_request {
	__u32 size;
	__u32 flags;
	__u32 pasid;
	__u32 perm;
	__u64 addr;
	__u32 pages;
	__u32 response;
	__u32 grpid;
	__u32 __reserved;
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
 *	fails the DMA with ETIMEDOUT: 1 to 60000, or 0 for the default,
 *	10000.  It applies to lost responses only: a delayed response is
 *	waited for however long the delay
 *
 * Applies to the whole endpoint and replaces the previous settings.  The
 * kernel still answers every request: a delayed or lost response is one
 * that the IOMMU sent and the device got late or not at all, and the
 * counters count it by its code as any other (resp_lost counts it once
 * more).  The first version ends at @lost_timeout_ms.
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
 * @groups: page request groups posted that expect a response (not those
 *	posted with SWSVA_PAGE_REQUEST_NO_LAST)
 * @responses: responses received from the IOMMU for posted groups
 * @resp_success: ... of which Success
 * @resp_invalid: ... of which Invalid Request
 * @resp_failure: ... of which Response Failure
 * @resp_lost: responses that fault injection kept from the device (each
 *	also counted above by its code)
 * @resp_unexpected: responses that matched no outstanding group
 * @retries: translations that missed again after a Success
 * @dma_ops: DMAs run on a binding (not those that found none)
 * @dma_errors: ... of which failed
 * @dma_bytes: bytes moved
 * @in_flight: groups posted and not yet answered
 * @binds: successful binds
 * @unbinds: unbinds (by ioctl, close, or removal)
 *
 * The first version ends at @unbinds.
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

#define SWSVA_IOC_BIND		_IO(SWSVA_IOC_MAGIC, 0x00)
#define SWSVA_IOC_UNBIND	_IO(SWSVA_IOC_MAGIC, 0x01)
#define SWSVA_IOC_DMA		_IO(SWSVA_IOC_MAGIC, 0x02)
#define SWSVA_IOC_PAGE_REQUEST	_IO(SWSVA_IOC_MAGIC, 0x03)
#define SWSVA_IOC_SET_FAULTS	_IO(SWSVA_IOC_MAGIC, 0x04)
#define SWSVA_IOC_COUNTERS	_IO(SWSVA_IOC_MAGIC, 0x05)

#endif /* _UAPI_LINUX_SWSVA_H */
