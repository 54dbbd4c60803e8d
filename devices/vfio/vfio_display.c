/* A mediated device's display on the display seam (vfio_display.h). */
#include "vfio_display.h"

#include <errno.h>
#include <linux/dma-buf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../vmm/log.h"

#define NS_PER_S              1000000000ull
#define PROBLEM_LOG_INTERVAL  (10 * NS_PER_S)
/* Failed queries in a row before a warning: about a second of polls.
 * One failure alone is nothing to report (mbochs fails the first query
 * after each mode change while it makes the new buffer). */
#define QUERY_FAILURES_TO_WARN  VFIO_DISPLAY_POLL_HZ

enum vfio_display_kind vfio_display_probe(const struct vfio_gfx_ops *ops, void *ctx)
{
	static const enum vfio_display_kind kinds[] = { VFIO_DISPLAY_DMABUF, VFIO_DISPLAY_REGION };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct vfio_device_gfx_plane_info probe = {
			.argsz = sizeof(probe),
			.flags = VFIO_GFX_PLANE_TYPE_PROBE | (uint32_t)kinds[i],
		};

		if (ops->query_plane(ctx, &probe) == 0)
			return kinds[i];
	}
	return VFIO_DISPLAY_NONE;
}

const char *vfio_display_kind_name(enum vfio_display_kind kind)
{
	return kind == VFIO_DISPLAY_DMABUF ? "dma-buf" : kind == VFIO_DISPLAY_REGION ? "region"
										     : "none";
}

void vfio_display_init(struct vfio_display *d, const char *name, enum vfio_display_kind kind,
		       const struct vfio_gfx_ops *ops, void *ctx, struct display *display,
		       unsigned output)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->kind = kind;
	d->ops = ops;
	d->ctx = ctx;
	d->display = display;
	d->output = output;
	d->shown_width = d->shown_height = UINT32_MAX;
	vfio_dmabuf_cache_init(&d->dmabufs);
	log_limit_init(&d->problems, PROBLEM_LOG_INTERVAL);
	d->timer_fd = -1;
}

/* ---- log lines a guest can cause ---- */

static void report_problem(struct vfio_display *d, const char *what, const char *why)
{
	uint64_t unlogged;

	if (!log_limit_allow(&d->problems, log_limit_now_ns(), &unlogged))
		return;
	if (unlogged)
		log_warn("vfio %s: %s: %s (%llu more problems not logged)", d->name, what, why,
			 (unsigned long long)unlogged);
	else
		log_warn("vfio %s: %s: %s", d->name, what, why);
}

/* A format is refused once in the log, not at every plane that has it. */
static bool format_refused_before(struct vfio_display *d, uint32_t format)
{
	for (unsigned i = 0; i < d->nr_refused_formats; i++)
		if (d->refused_formats[i] == format)
			return true;
	if (d->nr_refused_formats < VFIO_DISPLAY_REFUSED_FORMATS) {
		d->refused_formats[d->nr_refused_formats++] = format;
		return false;
	}
	return true;   /* the list is full: enough has been said */
}

/* ---- the output ---- */

static void size_output(struct vfio_display *d, uint32_t width, uint32_t height)
{
	if (d->shown_width == width && d->shown_height == height)
		return;
	if (display_output_resize(d->display, d->output, width, height) < 0) {
		/* The display had no memory for it: it still shows the old
		 * size, which the next change of plane tries to leave again. */
		report_problem(d, "its display", "the display cannot hold a picture that large");
		return;
	}
	d->shown_width = width;
	d->shown_height = height;
}

/* ---- where the pixels are ---- */

/* Lets go of the region's pixels (its mapping or the buffer polls fill). */
static void region_drop_pixels(struct vfio_display_region *r)
{
	if (r->map)
		munmap((void *)r->map, r->map_size);
	free(r->copy);
	r->map = NULL;
	r->copy = NULL;
}

static void region_close(struct vfio_display_region *r)
{
	region_drop_pixels(r);
	*r = (struct vfio_display_region){ 0 };
}

/* Region index's place in the device, for a plane; 0 or -errno. */
static int region_open(struct vfio_display *d, uint32_t index)
{
	struct vfio_display_region *r = &d->region;
	int ret;

	if (r->open && r->index == index)
		return 0;
	region_close(r);
	ret = d->ops->region(d->ctx, index, &r->info);
	if (ret < 0)
		return ret;
	r->open = true;
	r->index = index;
	return 0;
}

/* Makes the first bytes of the open region readable: mapped when the
 * device lets it (whole pages), else a buffer that each poll fills. */
static int region_prepare(struct vfio_display_region *r, uint64_t bytes)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t size = (size_t)((bytes + (uint64_t)page - 1) & ~((uint64_t)page - 1));
	void *map;

	region_drop_pixels(r);
	if (r->info.mappable && size <= r->info.size) {
		map = mmap(NULL, size, PROT_READ, MAP_SHARED, r->info.fd, (off_t)r->info.offset);
		if (map != MAP_FAILED) {
			r->map = map;
			r->map_size = size;
			return 0;
		}
	}
	r->copy = malloc((size_t)bytes);
	if (!r->copy)
		return -ENOMEM;
	r->copy_size = (size_t)bytes;
	return 0;
}

/* The plane's pixels as they are now, or NULL (logged). */
static const uint8_t *region_pixels(struct vfio_display *d)
{
	struct vfio_display_region *r = &d->region;
	ssize_t n;

	if (r->map)
		return r->map;
	n = pread(r->info.fd, r->copy, r->copy_size, (off_t)r->info.offset);
	if (n != (ssize_t)r->copy_size) {
		report_problem(d, "reading its display region",
			       n < 0 ? strerror(errno) : "short read");
		return NULL;
	}
	return r->copy;
}

/* dma-bufs want to hear when the CPU starts and stops reading them, for
 * exporters whose memory is not coherent with the CPU's caches; those
 * without such needs take the calls as no-ops. */
static void dmabuf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags | DMA_BUF_SYNC_READ };

	while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0 && (errno == EINTR || errno == EAGAIN))
		;
}

/* ---- a new plane ---- */

/* The dma-bufs already had stay open (within the cache's bound) while
 * nothing is shown: the next plane is often one of them again, and a
 * device may not take giving one back and handing it out anew (the
 * kernel's mbochs sample frees the buffer's pages at the second release
 * of the same dma-buf, under the guest's framebuffer). */
static void show_nothing(struct vfio_display *d)
{
	d->showing = false;
	region_close(&d->region);
	frame_shadow_free(&d->shadow);
	size_output(d, 0, 0);
}

/* How many bytes hold the plane: its dma-buf's size, or its region's. A
 * buffer that cannot be had now may be there at the next poll: the plane
 * is asked for afresh then (a dma-buf the device gave but that cannot be
 * mapped is held, and not asked for again). 0, or -errno with *what
 * saying what failed. */
static int plane_buffer_size(struct vfio_display *d, uint64_t *size, const char **what)
{
	const struct vfio_dmabuf *b;
	int ret;

	if (d->kind == VFIO_DISPLAY_DMABUF) {
		*what = "getting its plane's dma-buf";
		b = vfio_dmabuf_cache_get(&d->dmabufs, d->ops, d->ctx, d->plane.dmabuf_id, &ret);
		if (!b)
			return ret;
		if (!b->pixels) {
			*what = "mapping its plane's dma-buf for reading (the device "
				"exports buffers gvmm cannot map)";
			return b->error;
		}
		*size = b->size;
		return 0;
	}
	*what = "finding its plane's region";
	ret = region_open(d, d->plane.region_index);
	if (ret < 0)
		return ret;
	*size = d->region.info.size;
	return 0;
}

static void set_up_plane(struct vfio_display *d)
{
	struct vfio_gfx_layout layout;
	uint64_t buffer_size = 0;
	const char *what = "";
	char why[256];
	int ret;

	if (vfio_gfx_plane_is_off(&d->plane)) {
		show_nothing(d);
		return;
	}
	ret = plane_buffer_size(d, &buffer_size, &what);
	if (ret < 0) {
		report_problem(d, what, strerror(-ret));
		show_nothing(d);
		d->have_plane = false;
		return;
	}
	if (vfio_gfx_plane_check(&d->plane, buffer_size, &layout, why, sizeof(why)) < 0) {
		enum display_format known;

		if (vfio_gfx_format(d->plane.drm_format, &known))
			report_problem(d, "its display plane is not shown", why);
		else if (!format_refused_before(d, d->plane.drm_format))
			log_warn("vfio %s: its display plane is not shown: %s", d->name, why);
		show_nothing(d);
		return;
	}
	if (d->kind == VFIO_DISPLAY_REGION && region_prepare(&d->region, layout.bytes) < 0) {
		report_problem(d, "its display region", "out of memory");
		show_nothing(d);
		d->have_plane = false;
		return;
	}
	/* A plane of the size and format shown keeps the copy of what the
	 * output shows: a flip to another buffer sends only what differs.
	 * The same bytes in another format are other colours. */
	if (d->showing && layout.format != d->layout.format)
		frame_shadow_invalidate(&d->shadow);
	if (layout.width != d->shown_width || layout.height != d->shown_height ||
	    !d->shadow.pixels) {
		size_output(d, layout.width, layout.height);
		if (d->shown_width != layout.width || d->shown_height != layout.height ||
		    frame_shadow_resize(&d->shadow, layout.width, layout.height) < 0) {
			show_nothing(d);
			d->have_plane = false;
			return;
		}
	}
	d->layout = layout;
	d->showing = true;
}

/* ---- polling ---- */

static void send_rect(void *ctx, const struct display_rect *rect, const uint8_t *pixels,
		      uint32_t stride)
{
	struct vfio_display *d = ctx;

	display_output_update(d->display, d->output, rect, pixels, stride, d->layout.format);
}

static void send_changes(struct vfio_display *d)
{
	const struct vfio_dmabuf *b;
	int ret;

	if (d->kind == VFIO_DISPLAY_REGION) {
		const uint8_t *pixels = region_pixels(d);

		if (pixels)
			frame_shadow_update(&d->shadow, pixels, d->layout.stride, send_rect, d);
		return;
	}
	/* Held since the plane was set up: the cache only finds it. */
	b = vfio_dmabuf_cache_get(&d->dmabufs, d->ops, d->ctx, d->plane.dmabuf_id, &ret);
	if (!b || !b->pixels) {
		d->have_plane = false;
		return;
	}
	dmabuf_sync(b->fd, DMA_BUF_SYNC_START);
	frame_shadow_update(&d->shadow, b->pixels, d->layout.stride, send_rect, d);
	dmabuf_sync(b->fd, DMA_BUF_SYNC_END);
}

static void query_failed(struct vfio_display *d, int error)
{
	if (++d->failed_queries == QUERY_FAILURES_TO_WARN)
		log_warn("vfio %s: its display plane cannot be had (%s); still trying",
			 d->name, strerror(-error));
}

void vfio_display_refresh(struct vfio_display *d)
{
	struct vfio_device_gfx_plane_info plane = {
		.argsz = sizeof(plane),
		.flags = (uint32_t)d->kind,
		.drm_plane_type = VFIO_GFX_DRM_PLANE_PRIMARY,
	};
	int ret;

	/* The output keeps what was sent last; a viewer who comes later gets
	 * the changes since then in the first poll. */
	if (!display_has_viewers(d->display))
		return;
	ret = d->ops->query_plane(d->ctx, &plane);
	if (ret < 0) {
		query_failed(d, ret);
		return;
	}
	if (d->failed_queries >= QUERY_FAILURES_TO_WARN)
		log_info("vfio %s: its display plane can be had again", d->name);
	d->failed_queries = 0;
	if (!d->have_plane || !vfio_gfx_plane_same(&plane, &d->plane)) {
		d->plane = plane;
		d->have_plane = true;
		set_up_plane(d);
	}
	if (d->showing)
		send_changes(d);
}

static void on_timer(void *opaque, uint32_t events)
{
	(void)events;
	vfio_display_refresh(opaque);
}

int vfio_display_start(struct vfio_display *d, struct event_loop *loop)
{
	const uint64_t period = NS_PER_S / VFIO_DISPLAY_POLL_HZ;
	int fd = event_loop_add_timer(loop, period, period, on_timer, d);

	if (fd < 0)
		return fd;
	d->loop = loop;
	d->timer_fd = fd;
	return 0;
}

void vfio_display_destroy(struct vfio_display *d)
{
	/* The loop closes its timer's fd once it has let go of it. */
	if (d->timer_fd >= 0)
		event_loop_remove(d->loop, d->timer_fd);
	d->timer_fd = -1;
	show_nothing(d);
	vfio_dmabuf_cache_clear(&d->dmabufs);
}
