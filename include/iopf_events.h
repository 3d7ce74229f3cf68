/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The values the iommu trace events carry (Documentation/trace/
 * events-iommu.rst in the kernel series), for BPF programs and tools alike.
 * They mirror the tracing-only enums of the kernel's
 * include/trace/events/iommu.h, and macros of include/linux/iommu.h,
 * which neither user space nor vmlinux.h sees; the names are ours so that
 * BPF code can include this next to vmlinux.h.  The event formats are not
 * a stable ABI: tools read them through BTF with CO-RE.
 */
#ifndef IOPFKIT_IOPF_EVENTS_H
#define IOPFKIT_IOPF_EVENTS_H

/* enum iommu_iopf_refusal: iommu_iopf_refuse's reason */
enum iopf_refusal {
	IOPF_REFUSE_NO_HANDLER,
	IOPF_REFUSE_NO_FAULT_PARAM,
	IOPF_REFUSE_NOMEM,
	IOPF_REFUSE_HANDLER_ERROR,
	IOPF_NR_REFUSALS,
};

/* enum iommu_sva_fault_outcome: iommu_sva_fault's outcome */
enum iopf_sva_outcome {
	IOPF_SVA_MINOR,
	IOPF_SVA_MAJOR,
	IOPF_SVA_ERROR,
	IOPF_SVA_NO_PASID,
	IOPF_SVA_MM_EXITED,
	IOPF_SVA_NO_VMA,
	IOPF_SVA_ACCESS,
	IOPF_SVA_SKIPPED,
	IOPF_SVA_IO_PFNMAP,
	IOPF_SVA_POLICY,
	IOPF_NR_SVA_OUTCOMES,
};

/*
 * enum iommu_iopf_handler: iommu_iopf_dispatch's handler, which the kernel
 * derives from the domain type (iommu_iopf_handler_of())
 */
enum iopf_handler_kind {
	IOPF_HANDLER_OTHER,
	IOPF_HANDLER_SVA,
	IOPF_HANDLER_IOMMUFD,
	IOPF_NR_HANDLER_KINDS,
};

/* enum iommu_page_response_code: iommu_iopf_response's code */
enum iopf_response_code {
	IOPF_RESP_SUCCESS,
	IOPF_RESP_INVALID,
	IOPF_RESP_FAILURE,
	IOPF_NR_RESP_CODES,
};

/*
 * iommu_domain::type of an SVA domain (IOMMU_DOMAIN_SVA). Only then is
 * iommu_domain::mm, a union member, the bound address space.
 */
#define IOPF_DOMAIN_SVA		(1U << 4)

/* IOMMU_FAULT_PERM_*: iommu_fault_page_request::perm, iommu_fault_ctx::perm */
#define IOPF_PERM_READ		(1U << 0)
#define IOPF_PERM_WRITE		(1U << 1)
#define IOPF_PERM_EXEC		(1U << 2)
#define IOPF_PERM_PRIV		(1U << 3)

/* iommu_fault_page_request::flags */
#define IOPF_FLAG_PASID_VALID	(1U << 0)
#define IOPF_FLAG_LAST_PAGE	(1U << 1)

#endif
