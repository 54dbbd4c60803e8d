/* The generic half of a `struct display` (display/display.h): what the
 * GPU calls is checked here and handed to a backend (the SPICE server),
 * and what the backend's viewers do is handed to whichever devices are
 * attached now.
 *
 * Locking: the GPU ops and the input ops each sit behind their own mutex,
 * held while a call into them runs, so detaching waits for calls in
 * flight. A GPU must therefore not detach while holding a lock that its
 * request_mode takes, nor input devices one that their ops take. */
#ifndef GVMM_DISPLAY_BACKEND_H
#define GVMM_DISPLAY_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "display.h"

/* What a backend implements. Called on whatever thread the GPU uses,
 * after the arguments were checked: output < DISPLAY_MAX_OUTPUTS, sizes
 * within DISPLAY_MAX_* (cursor within DISPLAY_CURSOR_MAX, hot spot
 * inside it), strides large enough for a row, a known format. Clipping a
 * rectangle to the output, and outputs beyond those the backend has, are
 * the backend's business. */
struct display_backend_ops {
	int (*output_resize)(void *impl, unsigned output, uint32_t width, uint32_t height);
	/* display_output_bytes; NULL: the backend holds nothing per output. */
	uint64_t (*output_bytes)(void *impl, uint32_t width, uint32_t height);
	void (*output_update)(void *impl, unsigned output, const struct display_rect *rect,
			      const void *pixels, uint32_t stride, enum display_format format);
	void (*cursor_define)(void *impl, unsigned output, uint32_t width, uint32_t height,
			      uint32_t hot_x, uint32_t hot_y, const void *pixels,
			      uint32_t stride, enum display_format format);
	void (*cursor_move)(void *impl, unsigned output, int32_t x, int32_t y, bool visible);
	/* display_has_viewers; NULL: the backend cannot tell. Any thread. */
	bool (*has_viewers)(void *impl);
	/* How many pictures of the output the backend took to show so far
	 * (display_output_stats' sent); NULL: 0. Any thread. */
	uint64_t (*output_sent)(void *impl, unsigned output);
	/* Frames as dmabufs (display.h): all five, or none. mode NULL: OFF,
	 * and the other four are never called. output_dmabuf owns fd.
	 * output_dmabuf_acks: any thread. */
	enum display_dmabuf_mode (*dmabuf_mode)(void *impl);
	int (*output_dmabuf)(void *impl, unsigned output, int fd, uint32_t width,
			     uint32_t height, uint32_t stride, uint32_t fourcc);
	int (*output_dmabuf_draw)(void *impl, unsigned output, const struct display_rect *rect);
	enum display_dmabuf_state (*output_dmabuf_state)(void *impl, unsigned output);
	uint64_t (*output_dmabuf_acks)(void *impl, unsigned output);
};

/* NULL when out of memory. */
struct display *display_new(const struct display_backend_ops *ops, void *impl);
/* Devices must be detached already. */
void display_free(struct display *d);
/* The impl given to display_new, for the backend's own entry points. */
void *display_impl(const struct display *d);

/* From the backend's viewers to the attached devices; no-ops while none
 * is attached. */
void display_request_mode(struct display *d, unsigned output, uint32_t width, uint32_t height);
void display_viewer_arrived(struct display *d);
void display_input_key(struct display *d, uint16_t evdev_code, bool pressed);
void display_input_pointer_absolute(struct display *d, uint32_t x, uint32_t y);
void display_input_pointer_relative(struct display *d, int32_t dx, int32_t dy);
void display_input_buttons(struct display *d, uint32_t pressed_mask);
void display_input_wheel(struct display *d, int32_t clicks);

#endif
