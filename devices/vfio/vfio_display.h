/* A mediated device's display (a vGPU, the kernel's mbochs sample) shown
 * on one output of the display seam (display/display.h), as virtio-gpu's
 * scanouts are: the device's primary plane, found with
 * VFIO_DEVICE_QUERY_GFX_PLANE, either in a dma-buf the device exports or
 * in one of its regions.
 *
 * The device says neither when the guest switches planes nor what it
 * drew, so the display polls, VFIO_DISPLAY_POLL_HZ times a second and only
 * while someone watches: a new plane (format, size, stride, buffer) is
 * checked (vfio_gfx_plane.h) and resizes the output; its pixels go to the
 * display through a copy of the last frame sent (display/frame_shadow.h),
 * so only what changed travels. A plane the display cannot show turns the
 * output off, with a log line (once per unknown format, rate-limited for
 * the rest); the guest is not told.
 *
 * Everything runs on the event loop's thread. */
#ifndef GVMM_VFIO_DISPLAY_H
#define GVMM_VFIO_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../display/display.h"
#include "../../display/frame_shadow.h"
#include "../../vmm/event_loop.h"
#include "../../vmm/log_limit.h"
#include "vfio_dmabuf_cache.h"
#include "vfio_gfx_device.h"
#include "vfio_gfx_plane.h"

#define VFIO_DISPLAY_POLL_HZ          30
#define VFIO_DISPLAY_REFUSED_FORMATS  16   /* formats logged once each */

/* How a device hands out its planes; VFIO_GFX_PLANE_TYPE_* values. */
enum vfio_display_kind {
	VFIO_DISPLAY_NONE = 0,
	VFIO_DISPLAY_DMABUF = VFIO_GFX_PLANE_TYPE_DMABUF,
	VFIO_DISPLAY_REGION = VFIO_GFX_PLANE_TYPE_REGION,
};

/* Which kind of plane the device offers (VFIO_GFX_PLANE_TYPE_PROBE),
 * dma-bufs first; NONE for a device without a display (or one that is not
 * mediated: vfio-pci refuses the ioctl). */
enum vfio_display_kind vfio_display_probe(const struct vfio_gfx_ops *ops, void *ctx);

/* "dma-buf" or "region". */
const char *vfio_display_kind_name(enum vfio_display_kind kind);

/* A region plane's source: the region, mapped when it can be, else read
 * into a buffer at each poll. */
struct vfio_display_region {
	bool open;
	uint32_t index;
	struct vfio_gfx_region info;
	const uint8_t *map;        /* its first map_size bytes, or NULL */
	size_t map_size;
	uint8_t *copy;             /* without a mapping: copy_size bytes read */
	size_t copy_size;
};

struct vfio_display {
	char name[64];
	enum vfio_display_kind kind;
	const struct vfio_gfx_ops *ops;
	void *ctx;
	struct display *display;
	unsigned output;

	struct vfio_device_gfx_plane_info plane;   /* the device's last answer */
	bool have_plane;           /* false: the next answer counts as new */
	bool showing;              /* the plane passed its checks, the output shows it */
	struct vfio_gfx_layout layout;
	uint32_t shown_width, shown_height;        /* the output's size; UINT32_MAX: unknown */
	struct vfio_dmabuf_cache dmabufs;
	struct vfio_display_region region;
	struct frame_shadow shadow;

	unsigned failed_queries;   /* in a row */
	struct log_limit problems; /* bad planes, buffers that cannot be had */
	uint32_t refused_formats[VFIO_DISPLAY_REFUSED_FORMATS];
	unsigned nr_refused_formats;

	struct event_loop *loop;
	int timer_fd;              /* -1: not polling */
};

/* Shows the primary plane of the device behind ops/ctx on output of
 * display (not NULL); kind comes from vfio_display_probe (not NONE). name
 * names the device in log lines. Nothing is asked of the device yet. */
void vfio_display_init(struct vfio_display *d, const char *name, enum vfio_display_kind kind,
		       const struct vfio_gfx_ops *ops, void *ctx, struct display *display,
		       unsigned output);

/* One poll: does nothing while the display has no viewers; else asks for
 * the plane, sets up a new one, and sends what changed. */
void vfio_display_refresh(struct vfio_display *d);

/* Polls on loop's timer from now on. 0, or -errno. */
int vfio_display_start(struct vfio_display *d, struct event_loop *loop);

/* Stops polling, lets go of every buffer and turns the output off (the
 * display outlives the device). */
void vfio_display_destroy(struct vfio_display *d);

#endif
