/* The fuzz targets' display: see fake_display.h. */
#include "fake_display.h"

#include <stdlib.h>

static void read_pixels(struct fake_display *f, const void *pixels, uint32_t stride,
			uint32_t w, uint32_t h)
{
	const uint8_t *row = pixels;

	for (uint32_t y = 0; y < h; y++, row += stride)
		for (uint32_t x = 0; x < w * 4; x++)
			f->checksum += row[x];
}

/* Four frames, as the SPICE display holds (spice_output_bytes). */
static uint64_t fake_output_bytes(void *impl, uint32_t w, uint32_t h)
{
	const struct fake_display *f = impl;

	return (uint64_t)w * h * 16 + f->output_extra_bytes;
}

static int fake_resize(void *impl, unsigned output, uint32_t w, uint32_t h)
{
	struct fake_display *f = impl;

	f->width[output] = w;
	f->height[output] = h;
	return 0;
}

/* display.c passes on no empty rectangle; the engines map into the
 * output's own size. */
static void fake_update(void *impl, unsigned output, const struct display_rect *r,
			const void *pixels, uint32_t stride, enum display_format format)
{
	struct fake_display *f = impl;

	(void)format;
	if (!r->width || !r->height || (uint64_t)r->x + r->width > f->width[output] ||
	    (uint64_t)r->y + r->height > f->height[output])
		abort();
	read_pixels(f, pixels, stride, r->width, r->height);
}

static void fake_cursor_define(void *impl, unsigned output, uint32_t w, uint32_t h,
			       uint32_t hot_x, uint32_t hot_y, const void *pixels,
			       uint32_t stride, enum display_format format)
{
	(void)output;
	(void)format;
	if (hot_x >= w || hot_y >= h || w > DISPLAY_CURSOR_MAX || h > DISPLAY_CURSOR_MAX)
		abort();
	read_pixels(impl, pixels, stride, w, h);
}

static void fake_cursor_move(void *impl, unsigned output, int32_t x, int32_t y, bool visible)
{
	(void)impl; (void)output; (void)x; (void)y; (void)visible;
}

static bool fake_has_viewers(void *impl)
{
	return ((struct fake_display *)impl)->viewers;
}

const struct display_backend_ops *fake_display_ops(void)
{
	static const struct display_backend_ops ops = {
		.output_resize = fake_resize,
		.output_bytes = fake_output_bytes,
		.output_update = fake_update,
		.cursor_define = fake_cursor_define,
		.cursor_move = fake_cursor_move,
		.has_viewers = fake_has_viewers,
	};

	return &ops;
}
