/* The copy of the last frame sent, for sources without damage reports:
 * what it sends for a first frame, for nothing changed, for scattered
 * changes, and that what it sent always rebuilds the source's frame. */
#include "check.h"

#include <stdint.h>

#include "../../display/frame_shadow.h"

#define W       64u
#define H       48u
#define STRIDE  (W * 4 + 32)   /* the source's rows have padding */
#define MAX_RECTS 64

/* What the output got: the rectangles, and the picture they make. */
struct receiver {
	unsigned nr_rects;
	struct display_rect rects[MAX_RECTS];
	uint32_t picture[H][W];
};

static void receive(void *ctx, const struct display_rect *rect, const uint8_t *pixels,
		    uint32_t stride)
{
	struct receiver *r = ctx;

	if (r->nr_rects < MAX_RECTS)
		r->rects[r->nr_rects] = *rect;
	r->nr_rects++;
	for (uint32_t y = 0; y < rect->height; y++)
		memcpy(&r->picture[rect->y + y][rect->x], pixels + (size_t)y * stride,
		       (size_t)rect->width * 4);
}

static uint8_t source[H * STRIDE];

static void put(uint32_t x, uint32_t y, uint32_t value)
{
	memcpy(source + (size_t)y * STRIDE + (size_t)x * 4, &value, 4);
}

static void fill(uint32_t seed)
{
	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++)
			put(x, y, (x * 2654435761u) ^ (y * 40503u) ^ seed);
}

/* The receiver's picture equals the source's pixels. */
static bool picture_is_source(const struct receiver *r)
{
	for (uint32_t y = 0; y < H; y++)
		if (memcmp(r->picture[y], source + (size_t)y * STRIDE, W * 4))
			return false;
	return true;
}

static bool rect_is(const struct display_rect *r, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	if (r->x == x && r->y == y && r->width == w && r->height == h)
		return true;
	fprintf(stderr, "  rect %u,%u %ux%u, wanted %u,%u %ux%u\n", r->x, r->y, r->width,
		r->height, x, y, w, h);
	return false;
}

/* A copy of W x H that has sent the frame of seed; r then counts anew. */
static void first_frame(struct frame_shadow *s, struct receiver *r, uint32_t seed)
{
	fill(seed);
	CHECK_EQ(frame_shadow_resize(s, W, H), 0);
	frame_shadow_update(s, source, STRIDE, receive, r);
	r->nr_rects = 0;
}

static void test_first_frame_whole(void)
{
	struct frame_shadow s = { 0 };
	struct receiver r = { 0 };

	fill(1);
	CHECK_EQ(frame_shadow_resize(&s, W, H), 0);
	CHECK_EQ(frame_shadow_update(&s, source, STRIDE, receive, &r), 1);
	CHECK(rect_is(&r.rects[0], 0, 0, W, H));
	CHECK(picture_is_source(&r));
	frame_shadow_free(&s);
}

static void test_nothing_changed(void)
{
	struct frame_shadow s = { 0 };
	struct receiver r = { 0 };

	first_frame(&s, &r, 2);
	CHECK_EQ(frame_shadow_update(&s, source, STRIDE, receive, &r), 0);
	CHECK_EQ(r.nr_rects, 0);
	/* Invalidated (the output was resized under it): all again. */
	frame_shadow_invalidate(&s);
	CHECK_EQ(frame_shadow_update(&s, source, STRIDE, receive, &r), 1);
	CHECK(rect_is(&r.rects[0], 0, 0, W, H));
	frame_shadow_free(&s);
}

static void test_changes_narrowed(void)
{
	struct frame_shadow s = { 0 };
	struct receiver r = { 0 };

	first_frame(&s, &r, 3);
	/* One pixel. */
	put(10, 20, 0xdeadbeef);
	CHECK_EQ(frame_shadow_update(&s, source, STRIDE, receive, &r), 1);
	CHECK(rect_is(&r.rects[0], 10, 20, 1, 1));
	CHECK(picture_is_source(&r));

	/* Rows next to each other make one rectangle over the columns any
	 * of them changed; an unchanged row between makes two. */
	r.nr_rects = 0;
	put(5, 30, 1);
	put(9, 31, 2);
	put(7, 32, 3);
	put(0, 40, 4);
	put(W - 1, 40, 5);
	CHECK_EQ(frame_shadow_update(&s, source, STRIDE, receive, &r), 2);
	CHECK(rect_is(&r.rects[0], 5, 30, 5, 3));
	CHECK(rect_is(&r.rects[1], 0, 40, W, 1));
	CHECK(picture_is_source(&r));

	/* The first and the last row. */
	r.nr_rects = 0;
	put(W - 1, 0, 6);
	put(0, H - 1, 7);
	CHECK_EQ(frame_shadow_update(&s, source, STRIDE, receive, &r), 2);
	CHECK(rect_is(&r.rects[0], W - 1, 0, 1, 1));
	CHECK(rect_is(&r.rects[1], 0, H - 1, 1, 1));
	CHECK(picture_is_source(&r));
	frame_shadow_free(&s);
}

/* Whatever changes between updates, the output ends up with the frame. */
static void test_random_changes_rebuild_the_frame(void)
{
	struct frame_shadow s = { 0 };
	struct receiver r = { 0 };
	uint32_t rng = 12345;

	first_frame(&s, &r, 4);
	for (unsigned round = 0; round < 200; round++) {
		unsigned n = round % 7;

		for (unsigned i = 0; i < n; i++) {
			rng = rng * 1103515245u + 12345u;
			put((rng >> 8) % W, (rng >> 20) % H, rng);
		}
		frame_shadow_update(&s, source, STRIDE, receive, &r);
		if (!picture_is_source(&r)) {
			CHECK(!"the output's picture differs from the source");
			break;
		}
	}
	frame_shadow_free(&s);
}

static void test_sizes(void)
{
	struct frame_shadow s = { 0 };
	struct receiver r = { 0 };

	CHECK_EQ(frame_shadow_resize(&s, 0, H), -1);
	CHECK_EQ(frame_shadow_resize(&s, W, 0), -1);
	CHECK_EQ(frame_shadow_resize(&s, DISPLAY_MAX_WIDTH + 1, 1), -1);
	CHECK_EQ(frame_shadow_resize(&s, 1, DISPLAY_MAX_HEIGHT + 1), -1);
	CHECK(s.pixels == NULL);
	/* Nothing to compare with: nothing sent. */
	CHECK_EQ(frame_shadow_update(&s, source, STRIDE, receive, &r), 0);
	/* A stride shorter than a row is refused, not read past. */
	CHECK_EQ(frame_shadow_resize(&s, W, H), 0);
	CHECK_EQ(frame_shadow_update(&s, source, W * 4 - 4, receive, &r), 0);
	CHECK_EQ(r.nr_rects, 0);
	/* Resizing drops what was held: the next update sends it all. */
	fill(5);
	frame_shadow_update(&s, source, STRIDE, receive, &r);
	CHECK_EQ(frame_shadow_resize(&s, W / 2, H / 2), 0);
	r.nr_rects = 0;
	CHECK_EQ(frame_shadow_update(&s, source, STRIDE, receive, &r), 1);
	CHECK(rect_is(&r.rects[0], 0, 0, W / 2, H / 2));
	frame_shadow_free(&s);
	frame_shadow_free(&s);   /* twice is harmless */
}

TEST_MAIN("frame_shadow",
	  TEST_CASE(test_first_frame_whole),
	  TEST_CASE(test_nothing_changed),
	  TEST_CASE(test_changes_narrowed),
	  TEST_CASE(test_random_changes_rebuild_the_frame),
	  TEST_CASE(test_sizes))
