/* A mediated display device for unit tests (devices/vfio/vfio_gfx_device.h
 * ops): it answers plane queries with whatever plane the test set, hands
 * out dma-bufs that are memfds the test draws into, and has one region
 * (a memfd too) for region planes. It counts every call and can be told
 * to fail each kind, or to hand out dma-bufs that cannot be mapped. */
#ifndef GVMM_TESTS_FAKE_GFX_DEVICE_H
#define GVMM_TESTS_FAKE_GFX_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../devices/vfio/vfio_gfx_device.h"

#define FAKE_GFX_BUFFERS 8    /* dma-buf ids 0..7 */

struct fake_gfx_device {
	uint32_t plane_types;      /* VFIO_GFX_PLANE_TYPE_* its probe accepts */
	struct vfio_device_gfx_plane_info plane;   /* the answer to a query */
	int query_error, get_error, region_error;  /* -errno answers, when not 0 */
	bool unmappable;           /* dma-bufs given write-only: mmap fails */

	int buffer_fds[FAKE_GFX_BUFFERS];          /* -1: no such dma-buf */
	uint8_t *buffers[FAKE_GFX_BUFFERS];        /* the test's writable mapping */
	size_t buffer_sizes[FAKE_GFX_BUFFERS];
	unsigned gets[FAKE_GFX_BUFFERS];           /* VFIO_DEVICE_GET_GFX_DMABUF */

	uint32_t region_index;
	struct vfio_gfx_region region;             /* fd -1: none */
	uint8_t *region_pixels;                    /* its first bytes, writable */

	unsigned probes, queries, region_lookups;
};

extern const struct vfio_gfx_ops fake_gfx_device_ops;

void fake_gfx_device_init(struct fake_gfx_device *f);
/* Closes the buffers and the region. */
void fake_gfx_device_destroy(struct fake_gfx_device *f);
/* Makes dma-buf id, size bytes of zeros; returns its writable mapping. */
uint8_t *fake_gfx_device_add_buffer(struct fake_gfx_device *f, uint32_t id, size_t size);
/* Makes region index, size bytes of zeros, starting at offset in its
 * memfd (a page multiple); returns its writable first byte. */
uint8_t *fake_gfx_device_add_region(struct fake_gfx_device *f, uint32_t index, size_t size,
				    uint64_t offset, bool mappable);

#endif
