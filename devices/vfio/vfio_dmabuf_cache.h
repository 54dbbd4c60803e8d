/* The dma-bufs of a mediated device's display, mapped for reading and
 * kept by the id the device gave them (VFIO_DEVICE_QUERY_GFX_PLANE's
 * dmabuf_id): a guest that flips between two buffers costs one
 * VFIO_DEVICE_GET_GFX_DMABUF and one mmap per buffer, not one per flip.
 *
 * Each id is asked for once while it is held, never twice: some devices
 * (the kernel's mbochs sample) hand out the same dma-buf file again
 * without taking a reference for the second fd. Bounded: the least
 * recently used buffer is unmapped and closed to make room. */
#ifndef GVMM_VFIO_DMABUF_CACHE_H
#define GVMM_VFIO_DMABUF_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "vfio_gfx_device.h"

#define VFIO_DMABUF_CACHE_SIZE 4

struct vfio_dmabuf {
	bool used;
	uint32_t id;
	int fd;
	const uint8_t *pixels;     /* its read-only mapping */
	uint64_t size;             /* of the dma-buf, and of the mapping */
	uint64_t last_used;
};

struct vfio_dmabuf_cache {
	struct vfio_dmabuf entries[VFIO_DMABUF_CACHE_SIZE];
	uint64_t clock;            /* counts lookups, for last_used */
};

void vfio_dmabuf_cache_init(struct vfio_dmabuf_cache *c);

/* The dma-buf of id, mapped: held already, or got through ops->get_dmabuf
 * and mapped now. NULL with -errno in *error when the device refuses it,
 * its size cannot be told, or it cannot be mapped. */
const struct vfio_dmabuf *vfio_dmabuf_cache_get(struct vfio_dmabuf_cache *c,
						const struct vfio_gfx_ops *ops, void *ctx,
						uint32_t id, int *error);

/* How many dma-bufs are held. */
unsigned vfio_dmabuf_cache_count(const struct vfio_dmabuf_cache *c);

/* Unmaps and closes every one (the plane went off, the device goes). */
void vfio_dmabuf_cache_clear(struct vfio_dmabuf_cache *c);

#endif
