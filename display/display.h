/* The seam between the guest's display devices and whoever shows them.
 *
 * A GPU device (virtio-gpu) tells the display what each of its outputs
 * (scanouts) shows: its size, the pixels of each rectangle the guest
 * flushed, and the cursor. The display keeps its own copy of every
 * output's pixels, so nothing it shows is backed by guest memory, and the
 * frames may come from any thread: the thread that owns the GPU's queues
 * today, a GL thread reading back rendered frames later. Every function
 * below is thread-safe.
 *
 * The other way, the display hands what its viewers do to whichever
 * devices are attached now: a viewer's keys and pointer to the input
 * devices, a viewer's window size to the GPU as a new preferred mode.
 *
 * A display lives for the whole gvmm run; the devices of each VM (a guest
 * reboot builds a new one) attach when they are created and detach before
 * they go. The implementation is the SPICE server (display/spice_*.c). */
#ifndef GVMM_DISPLAY_H
#define GVMM_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISPLAY_MAX_OUTPUTS   16
#define DISPLAY_MAX_WIDTH     8192
#define DISPLAY_MAX_HEIGHT    8192
#define DISPLAY_CURSOR_MAX    64     /* cursor images are at most 64x64 */

struct display;

/* 32-bit pixel layouts, named by their byte order in memory: BGRX is
 * bytes B, G, R, unused (DRM's XRGB8888 on a little-endian host, what
 * Linux's virtio-gpu driver scans out). X bytes are ignored; A is alpha,
 * not premultiplied. */
enum display_format {
	DISPLAY_BGRX, DISPLAY_BGRA, DISPLAY_XRGB, DISPLAY_ARGB,
	DISPLAY_RGBX, DISPLAY_RGBA, DISPLAY_XBGR, DISPLAY_ABGR,
};

struct display_rect {
	uint32_t x, y, width, height;
};

/* ---- from the GPU: what each output shows ---- */

/* Output `output` now shows a width x height picture (both 0: it is off,
 * as after the guest disabled the scanout). Content is black until
 * updates arrive. Sizes beyond DISPLAY_MAX_* are refused (-1), and so is
 * a picture there is no memory for. */
int display_output_resize(struct display *d, unsigned output, uint32_t width,
			  uint32_t height);

/* The most host memory one output showing a width x height picture makes
 * the display hold: its copy of the pixels and whatever the backend keeps
 * to show them (0 x 0, an off output: 0). The GPU charges it against its
 * memory cap before it resizes an output. 0 without a display. */
uint64_t display_output_bytes(const struct display *d, uint32_t width, uint32_t height);

/* The guest flushed `rect` of an output: pixels points at the rectangle's
 * first pixel in a buffer with `stride` bytes per row and `format`. The
 * display copies them before returning (the caller's buffer may change
 * at once). A rectangle outside the output is clipped. Updates are sent
 * to viewers coalesced, at most at the viewer's refresh rate. */
void display_output_update(struct display *d, unsigned output,
			   const struct display_rect *rect, const void *pixels,
			   uint32_t stride, enum display_format format);

/* Whether anybody is watching now: a GPU that must read frames back
 * (virgl renders on the host GPU) skips that while nobody is. True for a
 * backend that cannot tell; false without a display. */
bool display_has_viewers(const struct display *d);

/* What has gone through an output so far, for the control socket's
 * status: a viewer that sees nothing new can tell a guest that stopped
 * drawing (no updates) from a picture that never reached it. */
struct display_output_stats {
	uint32_t width, height;   /* as the GPU last sized it; 0 x 0: off */
	uint64_t updates;         /* rectangles the GPU handed over */
	uint64_t sent;            /* pictures the backend took to show (SPICE: draw
	                           * commands spice-server pulled) */
	uint64_t dmabuf_draws;    /* rectangles of a dmabuf drawn */
	uint64_t dmabuf_acks;     /* of those, the ones viewers acknowledged */
};

/* The outputs the GPU has sized so far: those below this index. */
unsigned display_nr_outputs_used(const struct display *d);
/* False without a display or for an output beyond DISPLAY_MAX_OUTPUTS. */
bool display_output_stats(const struct display *d, unsigned output,
			  struct display_output_stats *out);

/* ---- from the GPU: frames as dmabufs, for viewers on this host ----
 *
 * A backend whose viewers map a buffer themselves (SPICE's GL scanout,
 * to clients on a unix socket) lets a GPU that renders on a render node
 * show an output with no copy of its frames in host memory: the GPU names
 * the output's buffer (display_output_dmabuf), then each rectangle it
 * changed in it (display_output_dmabuf_draw). A viewer reads the buffer
 * until it acknowledges the draw, so the GPU writes the buffer again, and
 * draws again, only while the output is DISPLAY_DMABUF_READY. A draw not
 * acknowledged within DISPLAY_DMABUF_ACK_TIMEOUT_MS leaves the output
 * STALLED: the GPU then shows it by pixel updates (display_output_update)
 * until the viewer has acknowledged or another has come, and never waits
 * for the viewer. */
#define DISPLAY_DMABUF_ACK_TIMEOUT_MS 2000u

enum display_dmabuf_mode {
	DISPLAY_DMABUF_OFF,      /* the backend takes pixel updates only */
	DISPLAY_DMABUF_AUTO,     /* dmabufs where the GPU can make them */
	DISPLAY_DMABUF_ON,       /* the user asked for them: a GPU that cannot
				  * make them refuses to start */
};
enum display_dmabuf_state {
	DISPLAY_DMABUF_READY,    /* no draw unacknowledged */
	DISPLAY_DMABUF_BUSY,     /* a viewer still reads the buffer */
	DISPLAY_DMABUF_STALLED,  /* ... and has for longer than the timeout */
};

/* OFF without a display. */
enum display_dmabuf_mode display_dmabuf_mode(const struct display *d);
/* Output `output` (sized by display_output_resize to width x height
 * first) shows the dmabuf `fd`: DRM format fourcc, stride bytes a row,
 * top row first. The display owns fd from now on, on failure too.
 * Refused (-1) unless the output is READY, and for a size other than the
 * output's. Content is what the buffer holds; nothing is drawn until
 * display_output_dmabuf_draw. */
int display_output_dmabuf(struct display *d, unsigned output, int fd, uint32_t width,
			  uint32_t height, uint32_t stride, uint32_t fourcc);
/* Viewers draw `rect` of the output's buffer (clipped to it). Refused
 * (-1) without a buffer or unless READY. */
int display_output_dmabuf_draw(struct display *d, unsigned output,
			       const struct display_rect *rect);
enum display_dmabuf_state display_output_dmabuf_state(const struct display *d,
						      unsigned output);

/* The cursor image (width, height <= DISPLAY_CURSOR_MAX, hot spot inside
 * it), copied. */
void display_cursor_define(struct display *d, unsigned output, uint32_t width,
			   uint32_t height, uint32_t hot_x, uint32_t hot_y,
			   const void *pixels, uint32_t stride, enum display_format format);
/* Where the cursor is on an output, or that it is hidden. */
void display_cursor_move(struct display *d, unsigned output, int32_t x, int32_t y,
			 bool visible);

/* ---- to the devices: what viewers do ---- */

/* A GPU that can follow a viewer's window: the viewer of `output` asks for
 * width x height (0 x 0: it closed that output). The GPU offers it to
 * the guest as the preferred mode (a display-change event); the guest
 * decides. Called on the display's thread. */
struct display_gpu_ops {
	void (*request_mode)(void *opaque, unsigned output, uint32_t width, uint32_t height);
	/* A viewer came: a GPU that sends frames only while someone watches
	 * (display_has_viewers) sends what its outputs show now, without
	 * waiting for the guest's next flush of a picture that may not
	 * change. Optional. Called on the display's thread. */
	void (*viewer_arrived)(void *opaque);
};

/* Input devices. Absolute positions are scaled to 0..DISPLAY_ABS_MAX over
 * the output the pointer is on. Keys are Linux evdev codes (KEY_*,
 * <linux/input-event-codes.h>); buttons a mask of DISPLAY_BUTTON_*.
 * Called on the display's thread; each call is one complete event
 * (the device adds the SYN_REPORT). */
#define DISPLAY_ABS_MAX        32767
#define DISPLAY_BUTTON_LEFT    1u
#define DISPLAY_BUTTON_MIDDLE  2u
#define DISPLAY_BUTTON_RIGHT   4u
#define DISPLAY_BUTTON_SIDE    8u
#define DISPLAY_BUTTON_EXTRA   16u

struct display_input_ops {
	void (*key)(void *opaque, uint16_t evdev_code, bool pressed);
	void (*pointer_absolute)(void *opaque, uint32_t x, uint32_t y);
	void (*pointer_relative)(void *opaque, int32_t dx, int32_t dy);
	void (*buttons)(void *opaque, uint32_t pressed_mask);
	void (*wheel)(void *opaque, int32_t clicks);   /* > 0: away from the user */
};

/* Attaches (ops non-NULL) or detaches (NULL) the GPU / the input devices.
 * Detaching returns only when no call into the old ops is running, so the
 * caller may then free what opaque points at. */
void display_attach_gpu(struct display *d, const struct display_gpu_ops *ops, void *opaque);
void display_attach_input(struct display *d, const struct display_input_ops *ops,
			  void *opaque);

/* Converts one row of `width` pixels to BGRA, the display's own layout:
 * alpha from layouts that have it, 0xff for the others (SPICE's xRGB
 * surfaces ignore that byte; its cursors use it). Pure. */
void display_convert_row(uint8_t *dst_bgra, const uint8_t *src, uint32_t width,
			 enum display_format format);

#endif
