/* A mediated device's display plane as VFIO_DEVICE_QUERY_GFX_PLANE
 * describes it, judged before a byte of it is read: the device (a vGPU
 * driver, the guest behind it) chooses every field, so sizes, stride and
 * format are checked against the buffer that holds the pixels (a dma-buf,
 * or a region of the device). Pure functions, no device. */
#ifndef GVMM_VFIO_GFX_PLANE_H
#define GVMM_VFIO_GFX_PLANE_H

#include <linux/vfio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../display/display.h"

/* DRM's plane types (the kernel's enum drm_plane_type; not in its UAPI). */
#define VFIO_GFX_DRM_PLANE_PRIMARY 1u

/* How to read a plane that passed the checks. */
struct vfio_gfx_layout {
	uint32_t width, height;
	uint32_t stride;               /* bytes per row */
	enum display_format format;
	uint64_t bytes;                /* from the first pixel to the end of the last */
};

/* The guest shows nothing on it: the kernel's convention for a disabled
 * plane is a zero format or size. */
bool vfio_gfx_plane_is_off(const struct vfio_device_gfx_plane_info *plane);

/* The display layout of a DRM fourcc (DRM_FORMAT_XRGB8888, ARGB8888 and
 * the other 32-bit RGB orders); false for any other. */
bool vfio_gfx_format(uint32_t drm_format, enum display_format *out);

/* Whether two answers describe the same plane: same buffer, geometry and
 * format. A change means the plane must be judged and set up again. */
bool vfio_gfx_plane_same(const struct vfio_device_gfx_plane_info *a,
			 const struct vfio_device_gfx_plane_info *b);

/* Checks a plane that is not off against the buffer_size bytes that hold
 * it (the plane starts at the buffer's first byte): linear (no format
 * modifier), a known format, 1..DISPLAY_MAX_* pixels each way, a stride
 * that holds a row, and every row inside both the buffer and the size
 * the device gave. Returns 0 with *out, or -1 with one line in err. */
int vfio_gfx_plane_check(const struct vfio_device_gfx_plane_info *plane, uint64_t buffer_size,
			 struct vfio_gfx_layout *out, char *err, size_t errlen);

/* "XR24" for a fourcc: printable characters, else its hex value. */
void vfio_gfx_fourcc_name(uint32_t fourcc, char name[16]);

#endif
