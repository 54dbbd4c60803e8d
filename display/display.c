/* The generic display: argument checks, the dispatch to the backend, the
 * attached devices, and the pixel-format conversion every backend uses. */
#include "display_backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct display {
	const struct display_backend_ops *ops;
	void *impl;

	/* Separate locks: a viewer's typing must not wait behind a GPU that
	 * is slow to take a mode request. */
	pthread_mutex_t gpu_lock;
	const struct display_gpu_ops *gpu_ops;
	void *gpu_opaque;

	pthread_mutex_t input_lock;
	const struct display_input_ops *input_ops;
	void *input_opaque;

	/* The stats (display_output_stats): written by the GPU's threads,
	 * read by the control socket's. */
	_Atomic uint32_t widths[DISPLAY_MAX_OUTPUTS], heights[DISPLAY_MAX_OUTPUTS];
	_Atomic uint64_t updates[DISPLAY_MAX_OUTPUTS];
	_Atomic uint64_t dmabuf_draws[DISPLAY_MAX_OUTPUTS];
	atomic_uint nr_outputs_used;
};

struct display *display_new(const struct display_backend_ops *ops, void *impl)
{
	struct display *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->ops = ops;
	d->impl = impl;
	pthread_mutex_init(&d->gpu_lock, NULL);
	pthread_mutex_init(&d->input_lock, NULL);
	return d;
}

void display_free(struct display *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->gpu_lock);
	pthread_mutex_destroy(&d->input_lock);
	free(d);
}

void *display_impl(const struct display *d)
{
	return d->impl;
}

/* ---- from the GPU ---- */

static bool format_known(enum display_format format)
{
	return (unsigned)format <= DISPLAY_ABGR;
}

int display_output_resize(struct display *d, unsigned output, uint32_t width,
			  uint32_t height)
{
	if (!d || output >= DISPLAY_MAX_OUTPUTS)
		return -1;
	if (width > DISPLAY_MAX_WIDTH || height > DISPLAY_MAX_HEIGHT)
		return -1;
	/* Off is 0 x 0; a picture with one side empty is neither. */
	if ((width == 0) != (height == 0))
		return -1;
	if (d->ops->output_resize(d->impl, output, width, height) < 0)
		return -1;
	atomic_store(&d->widths[output], width);
	atomic_store(&d->heights[output], height);
	for (unsigned used = atomic_load(&d->nr_outputs_used); used <= output;)
		if (atomic_compare_exchange_weak(&d->nr_outputs_used, &used, output + 1))
			break;
	return 0;
}

uint64_t display_output_bytes(const struct display *d, uint32_t width, uint32_t height)
{
	if (!d || !d->ops->output_bytes || !width || !height)
		return 0;
	return d->ops->output_bytes(d->impl, width, height);
}

bool display_has_viewers(const struct display *d)
{
	if (!d)
		return false;
	return !d->ops->has_viewers || d->ops->has_viewers(d->impl);
}

void display_output_update(struct display *d, unsigned output,
			   const struct display_rect *rect, const void *pixels,
			   uint32_t stride, enum display_format format)
{
	if (!d || output >= DISPLAY_MAX_OUTPUTS || !rect || !pixels || !format_known(format))
		return;
	if (rect->width == 0 || rect->height == 0)
		return;
	/* Anything starting or reaching beyond the largest output is a
	 * caller's bug, not something to clip. */
	if (rect->x >= DISPLAY_MAX_WIDTH || rect->y >= DISPLAY_MAX_HEIGHT ||
	    rect->width > DISPLAY_MAX_WIDTH || rect->height > DISPLAY_MAX_HEIGHT)
		return;
	if (stride / 4 < rect->width)
		return;
	d->ops->output_update(d->impl, output, rect, pixels, stride, format);
	atomic_fetch_add(&d->updates[output], 1);
}

enum display_dmabuf_mode display_dmabuf_mode(const struct display *d)
{
	if (!d || !d->ops->dmabuf_mode)
		return DISPLAY_DMABUF_OFF;
	return d->ops->dmabuf_mode(d->impl);
}

int display_output_dmabuf(struct display *d, unsigned output, int fd, uint32_t width,
			  uint32_t height, uint32_t stride, uint32_t fourcc)
{
	if (display_dmabuf_mode(d) == DISPLAY_DMABUF_OFF || output >= DISPLAY_MAX_OUTPUTS ||
	    fd < 0 || !width || !height || width != atomic_load(&d->widths[output]) ||
	    height != atomic_load(&d->heights[output]) || stride / 4 < width) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return d->ops->output_dmabuf(d->impl, output, fd, width, height, stride, fourcc);
}

int display_output_dmabuf_draw(struct display *d, unsigned output,
			       const struct display_rect *rect)
{
	if (display_dmabuf_mode(d) == DISPLAY_DMABUF_OFF || output >= DISPLAY_MAX_OUTPUTS ||
	    !rect || !rect->width || !rect->height)
		return -1;
	if (d->ops->output_dmabuf_draw(d->impl, output, rect) < 0)
		return -1;
	atomic_fetch_add(&d->dmabuf_draws[output], 1);
	return 0;
}

enum display_dmabuf_state display_output_dmabuf_state(const struct display *d,
						      unsigned output)
{
	if (display_dmabuf_mode(d) == DISPLAY_DMABUF_OFF || output >= DISPLAY_MAX_OUTPUTS)
		return DISPLAY_DMABUF_READY;
	return d->ops->output_dmabuf_state(d->impl, output);
}

unsigned display_nr_outputs_used(const struct display *d)
{
	return d ? atomic_load(&d->nr_outputs_used) : 0;
}

bool display_output_stats(const struct display *d, unsigned output,
			  struct display_output_stats *out)
{
	if (!d || output >= DISPLAY_MAX_OUTPUTS)
		return false;
	out->width = atomic_load(&d->widths[output]);
	out->height = atomic_load(&d->heights[output]);
	out->updates = atomic_load(&d->updates[output]);
	out->sent = d->ops->output_sent ? d->ops->output_sent(d->impl, output) : 0;
	out->dmabuf_draws = atomic_load(&d->dmabuf_draws[output]);
	out->dmabuf_acks = d->ops->dmabuf_mode ? d->ops->output_dmabuf_acks(d->impl, output) : 0;
	return true;
}

void display_cursor_define(struct display *d, unsigned output, uint32_t width,
			   uint32_t height, uint32_t hot_x, uint32_t hot_y,
			   const void *pixels, uint32_t stride, enum display_format format)
{
	if (!d || output >= DISPLAY_MAX_OUTPUTS || !pixels || !format_known(format))
		return;
	if (width == 0 || height == 0 || width > DISPLAY_CURSOR_MAX || height > DISPLAY_CURSOR_MAX)
		return;
	if (hot_x >= width || hot_y >= height || stride / 4 < width)
		return;
	d->ops->cursor_define(d->impl, output, width, height, hot_x, hot_y, pixels, stride,
			      format);
}

void display_cursor_move(struct display *d, unsigned output, int32_t x, int32_t y,
			 bool visible)
{
	if (!d || output >= DISPLAY_MAX_OUTPUTS)
		return;
	d->ops->cursor_move(d->impl, output, x, y, visible);
}

/* ---- attached devices ---- */

void display_attach_gpu(struct display *d, const struct display_gpu_ops *ops, void *opaque)
{
	pthread_mutex_lock(&d->gpu_lock);
	d->gpu_ops = ops;
	d->gpu_opaque = ops ? opaque : NULL;
	pthread_mutex_unlock(&d->gpu_lock);
}

void display_attach_input(struct display *d, const struct display_input_ops *ops,
			  void *opaque)
{
	pthread_mutex_lock(&d->input_lock);
	d->input_ops = ops;
	d->input_opaque = ops ? opaque : NULL;
	pthread_mutex_unlock(&d->input_lock);
}

void display_request_mode(struct display *d, unsigned output, uint32_t width, uint32_t height)
{
	pthread_mutex_lock(&d->gpu_lock);
	if (d->gpu_ops && d->gpu_ops->request_mode)
		d->gpu_ops->request_mode(d->gpu_opaque, output, width, height);
	pthread_mutex_unlock(&d->gpu_lock);
}

void display_viewer_arrived(struct display *d)
{
	pthread_mutex_lock(&d->gpu_lock);
	if (d->gpu_ops && d->gpu_ops->viewer_arrived)
		d->gpu_ops->viewer_arrived(d->gpu_opaque);
	pthread_mutex_unlock(&d->gpu_lock);
}

/* Calls one input op, if input devices that have it are attached. */
#define CALL_INPUT(d, op, ...) do { \
	pthread_mutex_lock(&(d)->input_lock); \
	if ((d)->input_ops && (d)->input_ops->op) \
		(d)->input_ops->op((d)->input_opaque, __VA_ARGS__); \
	pthread_mutex_unlock(&(d)->input_lock); \
} while (0)

void display_input_key(struct display *d, uint16_t evdev_code, bool pressed)
{
	CALL_INPUT(d, key, evdev_code, pressed);
}

void display_input_pointer_absolute(struct display *d, uint32_t x, uint32_t y)
{
	CALL_INPUT(d, pointer_absolute, x, y);
}

void display_input_pointer_relative(struct display *d, int32_t dx, int32_t dy)
{
	CALL_INPUT(d, pointer_relative, dx, dy);
}

void display_input_buttons(struct display *d, uint32_t pressed_mask)
{
	CALL_INPUT(d, buttons, pressed_mask);
}

void display_input_wheel(struct display *d, int32_t clicks)
{
	CALL_INPUT(d, wheel, clicks);
}

/* ---- pixel formats ---- */

/* Where each channel sits in a source pixel's four bytes; alpha -1 for
 * layouts without it. */
struct pixel_layout {
	uint8_t r, g, b;
	int8_t a;
};

static const struct pixel_layout layouts[] = {
	[DISPLAY_BGRX] = { 2, 1, 0, -1 },
	[DISPLAY_BGRA] = { 2, 1, 0, 3 },
	[DISPLAY_XRGB] = { 1, 2, 3, -1 },
	[DISPLAY_ARGB] = { 1, 2, 3, 0 },
	[DISPLAY_RGBX] = { 0, 1, 2, -1 },
	[DISPLAY_RGBA] = { 0, 1, 2, 3 },
	[DISPLAY_XBGR] = { 3, 2, 1, -1 },
	[DISPLAY_ABGR] = { 3, 2, 1, 0 },
};

void display_convert_row(uint8_t *dst_bgra, const uint8_t *src, uint32_t width,
			 enum display_format format)
{
	const struct pixel_layout *l;

	if (!format_known(format))
		return;
	/* The guest's usual layout is already ours but for alpha: copy and
	 * then only set the alpha bytes. */
	if (format == DISPLAY_BGRA || format == DISPLAY_BGRX) {
		memmove(dst_bgra, src, (size_t)width * 4);
		if (format == DISPLAY_BGRX)
			for (uint32_t i = 0; i < width; i++)
				dst_bgra[i * 4 + 3] = 0xff;
		return;
	}
	l = &layouts[format];
	for (uint32_t i = 0; i < width; i++, src += 4, dst_bgra += 4) {
		uint8_t r = src[l->r], g = src[l->g], b = src[l->b];
		uint8_t a = l->a < 0 ? 0xff : src[l->a];

		dst_bgra[0] = b;
		dst_bgra[1] = g;
		dst_bgra[2] = r;
		dst_bgra[3] = a;
	}
}
