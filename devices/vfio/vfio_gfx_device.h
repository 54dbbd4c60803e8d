/* What a mediated device's display (vfio_display.h) asks of the device:
 * its plane, a dma-buf for a plane, and where a region lies. An interface
 * of three calls, so that tests can stand in for a device; the real one
 * is three ioctls on the VFIO device fd. */
#ifndef GVMM_VFIO_GFX_DEVICE_H
#define GVMM_VFIO_GFX_DEVICE_H

#include <linux/vfio.h>
#include <stdbool.h>
#include <stdint.h>

/* A region of the device, to read a region plane from. */
struct vfio_gfx_region {
	int fd;               /* the file it is read through: the device's */
	uint64_t offset;      /* where it starts in fd */
	uint64_t size;
	bool mappable;        /* mmap works on it; else pread */
};

struct vfio_gfx_ops {
	/* VFIO_DEVICE_QUERY_GFX_PLANE: the caller sets argsz, flags and
	 * drm_plane_type. 0, or -errno. */
	int (*query_plane)(void *ctx, struct vfio_device_gfx_plane_info *plane);
	/* VFIO_DEVICE_GET_GFX_DMABUF: a new dma-buf fd for the plane
	 * dmabuf_id (the caller closes it), or -errno. */
	int (*get_dmabuf)(void *ctx, uint32_t dmabuf_id);
	/* VFIO_DEVICE_GET_REGION_INFO of region index. 0, or -errno. */
	int (*region)(void *ctx, uint32_t index, struct vfio_gfx_region *out);
};

/* The real device: ctx points at its VFIO device fd (an int that outlives
 * every use of ctx). */
extern const struct vfio_gfx_ops vfio_gfx_device_ops;

#endif
