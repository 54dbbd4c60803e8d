/* Judging a mediated device's display plane (vfio_gfx_plane.h). */
#include "vfio_gfx_plane.h"

#include <drm_fourcc.h>
#include <inttypes.h>
#include <stdio.h>

#include "../../vmm/error_text.h"

#define BYTES_PER_PIXEL 4

/* DRM names a format by its channels from the most significant bit of a
 * little-endian word; the display names them by byte order in memory. */
static const struct {
	uint32_t drm;
	enum display_format display;
} formats[] = {
	{ DRM_FORMAT_XRGB8888, DISPLAY_BGRX },
	{ DRM_FORMAT_ARGB8888, DISPLAY_BGRA },
	{ DRM_FORMAT_XBGR8888, DISPLAY_RGBX },
	{ DRM_FORMAT_ABGR8888, DISPLAY_RGBA },
	{ DRM_FORMAT_RGBX8888, DISPLAY_XBGR },
	{ DRM_FORMAT_RGBA8888, DISPLAY_ABGR },
	{ DRM_FORMAT_BGRX8888, DISPLAY_XRGB },
	{ DRM_FORMAT_BGRA8888, DISPLAY_ARGB },
};

bool vfio_gfx_plane_is_off(const struct vfio_device_gfx_plane_info *plane)
{
	return plane->drm_format == 0 || plane->size == 0;
}

bool vfio_gfx_format(uint32_t drm_format, enum display_format *out)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (formats[i].drm == drm_format) {
			*out = formats[i].display;
			return true;
		}
	}
	return false;
}

bool vfio_gfx_plane_same(const struct vfio_device_gfx_plane_info *a,
			 const struct vfio_device_gfx_plane_info *b)
{
	/* dmabuf_id and region_index share their place: comparing one is
	 * comparing the other. */
	return a->flags == b->flags && a->drm_format == b->drm_format &&
	       a->drm_format_mod == b->drm_format_mod && a->width == b->width &&
	       a->height == b->height && a->stride == b->stride && a->size == b->size &&
	       a->x_pos == b->x_pos && a->y_pos == b->y_pos && a->dmabuf_id == b->dmabuf_id;
}

void vfio_gfx_fourcc_name(uint32_t fourcc, char name[16])
{
	char c[4];

	for (unsigned i = 0; i < 4; i++) {
		c[i] = (char)(fourcc >> (8 * i));
		if (c[i] < 0x20 || c[i] > 0x7e) {
			snprintf(name, 16, "0x%08" PRIx32, fourcc);
			return;
		}
	}
	snprintf(name, 16, "%c%c%c%c", c[0], c[1], c[2], c[3]);
}

int vfio_gfx_plane_check(const struct vfio_device_gfx_plane_info *plane, uint64_t buffer_size,
			 struct vfio_gfx_layout *out, char *err, size_t errlen)
{
	enum display_format format;
	char name[16];
	uint64_t bytes;

	if (plane->drm_format_mod != DRM_FORMAT_MOD_LINEAR)
		return write_error(err, errlen, "a tiled plane (format modifier 0x%" PRIx64 "); "
				   "only linear ones can be shown", (uint64_t)plane->drm_format_mod);
	if (!vfio_gfx_format(plane->drm_format, &format)) {
		vfio_gfx_fourcc_name(plane->drm_format, name);
		return write_error(err, errlen, "pixel format %s is not supported (32-bit RGB "
				   "such as XR24/AR24 is)", name);
	}
	if (plane->width == 0 || plane->height == 0)
		return write_error(err, errlen, "an empty plane (%" PRIu32 "x%" PRIu32 ")",
				   plane->width, plane->height);
	if (plane->width > DISPLAY_MAX_WIDTH || plane->height > DISPLAY_MAX_HEIGHT)
		return write_error(err, errlen, "a %" PRIu32 "x%" PRIu32 " plane is larger than "
				   "the display's %ux%u", plane->width, plane->height,
				   DISPLAY_MAX_WIDTH, DISPLAY_MAX_HEIGHT);
	if (plane->stride / BYTES_PER_PIXEL < plane->width)
		return write_error(err, errlen, "stride %" PRIu32 " is too small for %" PRIu32
				   " pixels a row", plane->stride, plane->width);
	/* 64-bit arithmetic: the factors are at most 2^32 and 2^13. */
	bytes = (uint64_t)plane->stride * (plane->height - 1) +
		(uint64_t)plane->width * BYTES_PER_PIXEL;
	if (bytes > plane->size)
		return write_error(err, errlen, "%" PRIu32 "x%" PRIu32 " pixels with stride %"
				   PRIu32 " need %" PRIu64 " bytes, the device says %" PRIu32,
				   plane->width, plane->height, plane->stride, bytes, plane->size);
	if (bytes > buffer_size)
		return write_error(err, errlen, "%" PRIu32 "x%" PRIu32 " pixels with stride %"
				   PRIu32 " need %" PRIu64 " bytes, its buffer holds %" PRIu64,
				   plane->width, plane->height, plane->stride, bytes, buffer_size);
	*out = (struct vfio_gfx_layout){ plane->width, plane->height, plane->stride, format,
					 bytes };
	return 0;
}
