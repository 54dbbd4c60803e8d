/* The VFIO ioctls behind a mediated device's display (vfio_gfx_device.h). */
#include "vfio_gfx_device.h"

#include <errno.h>
#include <sys/ioctl.h>

static int device_fd(void *ctx)
{
	return *(const int *)ctx;
}

static int query_plane(void *ctx, struct vfio_device_gfx_plane_info *plane)
{
	return ioctl(device_fd(ctx), VFIO_DEVICE_QUERY_GFX_PLANE, plane) < 0 ? -errno : 0;
}

static int get_dmabuf(void *ctx, uint32_t dmabuf_id)
{
	int fd = ioctl(device_fd(ctx), VFIO_DEVICE_GET_GFX_DMABUF, &dmabuf_id);

	return fd < 0 ? -errno : fd;
}

static int region(void *ctx, uint32_t index, struct vfio_gfx_region *out)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = index };

	if (ioctl(device_fd(ctx), VFIO_DEVICE_GET_REGION_INFO, &info) < 0)
		return -errno;
	*out = (struct vfio_gfx_region){
		.fd = device_fd(ctx), .offset = info.offset, .size = info.size,
		.mappable = info.flags & VFIO_REGION_INFO_FLAG_MMAP,
	};
	return 0;
}

const struct vfio_gfx_ops vfio_gfx_device_ops = { query_plane, get_dmabuf, region };
