/* The dma-bufs of a mediated device's display, mapped for reading and
 * kept by the id the device gave them (VFIO_DEVICE_QUERY_GFX_PLANE's
 * dmabuf_id): a guest that flips between two buffers costs one
 * VFIO_DEVICE_GET_GFX_DMABUF and one mmap per buffer, not one per flip.
 *
 * Each id is asked for once while it is held, never twice, and a dma-buf
 * that cannot be mapped is held too, unmapped, with its error: asking
 * again at every poll would be 30 ioctls a second for nothing, and some
 * devices cannot take it. The kernel's mbochs sample puts a buffer's
 * pages at each release of its dma-buf, so a second export and release
 * frees them under the guest's framebuffer; and it hands out the same
 * dma-buf file again without taking a reference for the second fd.
 * Bounded: the least recently used buffer is unmapped and closed to make
 * room. */
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
	const uint8_t *pixels;     /* its read-only mapping; NULL: see error */
	uint64_t size;             /* of the dma-buf, and of the mapping */
	int error;                 /* -errno: why it has no size or mapping */
	uint64_t last_used;
};

struct vfio_dmabuf_cache {
	struct vfio_dmabuf entries[VFIO_DMABUF_CACHE_SIZE];
	uint64_t clock;            /* counts lookups, for last_used */
};

void vfio_dmabuf_cache_init(struct vfio_dmabuf_cache *c);

/* The dma-buf of id: held already, or got through ops->get_dmabuf and
 * mapped now. NULL with -errno in *error when the device refuses it. A
 * dma-buf whose size cannot be told or that cannot be mapped is held all
 * the same, with no pixels and the reason in its error. */
const struct vfio_dmabuf *vfio_dmabuf_cache_get(struct vfio_dmabuf_cache *c,
						const struct vfio_gfx_ops *ops, void *ctx,
						uint32_t id, int *error);

/* How many dma-bufs are held. */
unsigned vfio_dmabuf_cache_count(const struct vfio_dmabuf_cache *c);

/* Unmaps and closes every one (the plane went off, the device goes). */
void vfio_dmabuf_cache_clear(struct vfio_dmabuf_cache *c);

#endif
