/* The copy of the last frame sent (frame_shadow.h). */
#include "frame_shadow.h"

#include <stdlib.h>
#include <string.h>

#define BYTES_PER_PIXEL 4

int frame_shadow_resize(struct frame_shadow *s, uint32_t width, uint32_t height)
{
	frame_shadow_free(s);
	if (width == 0 || height == 0 || width > DISPLAY_MAX_WIDTH || height > DISPLAY_MAX_HEIGHT)
		return -1;
	s->pixels = malloc((size_t)width * height * BYTES_PER_PIXEL);
	if (!s->pixels)
		return -1;
	s->width = width;
	s->height = height;
	return 0;
}

void frame_shadow_invalidate(struct frame_shadow *s)
{
	s->valid = false;
}

void frame_shadow_free(struct frame_shadow *s)
{
	free(s->pixels);
	*s = (struct frame_shadow){ 0 };
}

static bool same_pixel(const uint8_t *a, const uint8_t *b, uint32_t x)
{
	return memcmp(a + (size_t)x * BYTES_PER_PIXEL, b + (size_t)x * BYTES_PER_PIXEL,
		      BYTES_PER_PIXEL) == 0;
}

/* The columns [*first, *last] of a row outside which src and copy agree;
 * false when the whole row agrees. */
static bool changed_columns(const uint8_t *src, const uint8_t *copy, uint32_t width,
			    uint32_t *first, uint32_t *last)
{
	uint32_t x0 = 0, x1 = width - 1;

	if (memcmp(src, copy, (size_t)width * BYTES_PER_PIXEL) == 0)
		return false;
	while (x0 < x1 && same_pixel(src, copy, x0))
		x0++;
	while (x1 > x0 && same_pixel(src, copy, x1))
		x1--;
	*first = x0;
	*last = x1;
	return true;
}

/* The run of changed rows [y0, y_end) spanning columns [x0, x1]. */
struct run {
	bool open;
	uint32_t y0, x0, x1;
};

static unsigned send_run(const struct frame_shadow *s, struct run *r, uint32_t y_end,
			 frame_shadow_send_fn send, void *ctx)
{
	uint32_t stride = s->width * BYTES_PER_PIXEL;
	struct display_rect rect = { r->x0, r->y0, r->x1 - r->x0 + 1, y_end - r->y0 };

	if (!r->open)
		return 0;
	r->open = false;
	send(ctx, &rect, s->pixels + (size_t)r->y0 * stride + (size_t)r->x0 * BYTES_PER_PIXEL,
	     stride);
	return 1;
}

unsigned frame_shadow_update(struct frame_shadow *s, const uint8_t *src, uint32_t stride,
			     frame_shadow_send_fn send, void *ctx)
{
	size_t row_bytes = (size_t)s->width * BYTES_PER_PIXEL;
	struct run run = { 0 };
	unsigned sent = 0;

	if (!s->pixels || stride / BYTES_PER_PIXEL < s->width)
		return 0;
	for (uint32_t y = 0; y < s->height; y++) {
		const uint8_t *from = src + (size_t)y * stride;
		uint8_t *copy = s->pixels + (size_t)y * row_bytes;
		uint32_t x0 = 0, x1 = s->width - 1;

		if (s->valid && !changed_columns(from, copy, s->width, &x0, &x1)) {
			sent += send_run(s, &run, y, send, ctx);
			continue;
		}
		/* Only the columns found to differ are taken: the rest of the
		 * copy must stay what the output shows, and a run's rectangle
		 * sends just those columns of this row from the copy. */
		memcpy(copy + (size_t)x0 * BYTES_PER_PIXEL, from + (size_t)x0 * BYTES_PER_PIXEL,
		       (size_t)(x1 - x0 + 1) * BYTES_PER_PIXEL);
		if (!run.open) {
			run = (struct run){ true, y, x0, x1 };
		} else {
			if (x0 < run.x0)
				run.x0 = x0;
			if (x1 > run.x1)
				run.x1 = x1;
		}
	}
	sent += send_run(s, &run, s->height, send, ctx);
	s->valid = true;
	return sent;
}
