/* A copy of the last frame sent to a display output, for a source that
 * says nothing about what it changed (a mediated device's plane is plain
 * memory the guest writes; no flushes, no damage). Each poll compares the
 * source with the copy and sends only the rows that differ, each run of
 * changed rows as one rectangle narrowed to the columns that changed, so
 * a still picture costs a compare and no traffic. What is sent comes from
 * the copy, never from the source again: a guest writing meanwhile cannot
 * make the display and the copy disagree, it only shows up in the next
 * poll.
 *
 * 32-bit pixels, any layout (the bytes are compared, not the colours).
 * Not thread-safe: one poller owns it. */
#ifndef GVMM_FRAME_SHADOW_H
#define GVMM_FRAME_SHADOW_H

#include <stdbool.h>
#include <stdint.h>

#include "display.h"

struct frame_shadow {
	uint8_t *pixels;      /* width * 4 bytes per row, rows packed */
	uint32_t width, height;
	bool valid;           /* false: it holds nothing the output shows */
};

/* A rectangle that changed; pixels point at its first pixel in the copy,
 * with stride bytes per row. */
typedef void (*frame_shadow_send_fn)(void *ctx, const struct display_rect *rect,
				     const uint8_t *pixels, uint32_t stride);

/* Makes the copy width x height (1..DISPLAY_MAX_*), holding nothing: the
 * next update sends the whole frame. Returns 0, or -1 when the size is out
 * of range or there is no memory (then it is empty, 0 x 0). */
int frame_shadow_resize(struct frame_shadow *s, uint32_t width, uint32_t height);

/* The output no longer shows the copy (it was resized, or turned off):
 * the next update sends the whole frame. */
void frame_shadow_invalidate(struct frame_shadow *s);

void frame_shadow_free(struct frame_shadow *s);

/* Compares the frame at src (stride bytes per row, at least width * 4;
 * height rows) with the copy, takes the rows that differ into it and
 * calls send for each run of them. Returns how many rectangles were sent. */
unsigned frame_shadow_update(struct frame_shadow *s, const uint8_t *src, uint32_t stride,
			     frame_shadow_send_fn send, void *ctx);

#endif
