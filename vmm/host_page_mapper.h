/* Host pages shown in guest physical memory, as a device asks for them:
 * the VM supplies map and unmap (a KVM memory slot each); unit tests
 * supply their own. A device that puts host memory behind one of its
 * BARs (virtio-gpu's blobs) sees no more of the VM than this. */
#ifndef GVMM_HOST_PAGE_MAPPER_H
#define GVMM_HOST_PAGE_MAPPER_H

#include <stdint.h>

struct host_page_mapper {
	/* Shows [host, host + size) at guest physical gpa; all three page
	 * aligned. Returns a handle >= 0 for unmap, or -errno (-ENOSPC: no
	 * slot left; -EEXIST: gpa overlaps RAM or another mapping). */
	int (*map)(void *ctx, uint64_t gpa, void *host, uint64_t size);
	/* Takes a mapping out of the guest; when it returns, no vCPU can
	 * reach the host pages through it any more. */
	void (*unmap)(void *ctx, int handle);
	void *ctx;                   /* NULL map: the VM cannot map host pages */
};

#endif
