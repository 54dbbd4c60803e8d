/* A mediated device's display on the display seam, against a fake device
 * (tests/unit/fake_gfx_device.h) and a display that keeps the picture it
 * was sent: probing, polling only while someone watches, dma-buf and
 * region planes shown pixel for pixel, only changes sent, buffers asked
 * for once, and planes that must not be shown turning the output off
 * with a bounded number of log lines. */
#include "check.h"

#include <drm_fourcc.h>
#include <errno.h>
#include <stdlib.h>

#include "../../devices/vfio/vfio_display.h"
#include "../../display/display_backend.h"
#include "../../vmm/log.h"
#include "fake_gfx_device.h"
#include "open_fds.h"

#define OUTPUT  3
#define W       96u
#define H       64u
#define STRIDE  (W * 4 + 64)
#define BYTES   (STRIDE * H)
#define PAGE    4096u

/* ---- the display: what output OUTPUT shows ---- */

struct seen {
	bool viewers;
	unsigned resizes, rects;
	uint32_t width, height;
	uint8_t *picture;          /* BGRA, width * 4 a row */
};

static struct seen seen;

static int fake_resize(void *impl, unsigned output, uint32_t width, uint32_t height)
{
	struct seen *s = impl;

	CHECK_EQ(output, OUTPUT);
	free(s->picture);
	s->picture = calloc((size_t)width * height + 1, 4);
	s->width = width;
	s->height = height;
	s->resizes++;
	return 0;
}

static void fake_update(void *impl, unsigned output, const struct display_rect *r,
			const void *pixels, uint32_t stride, enum display_format format)
{
	struct seen *s = impl;

	CHECK_EQ(output, OUTPUT);
	CHECK(r->x + r->width <= s->width && r->y + r->height <= s->height);
	if (r->x + r->width > s->width || r->y + r->height > s->height)
		return;
	s->rects++;
	for (uint32_t y = 0; y < r->height; y++)
		display_convert_row(s->picture + ((size_t)(r->y + y) * s->width + r->x) * 4,
				    (const uint8_t *)pixels + (size_t)y * stride, r->width, format);
}

static void fake_cursor_define(void *impl, unsigned output, uint32_t w, uint32_t h, uint32_t hx,
			       uint32_t hy, const void *pixels, uint32_t stride,
			       enum display_format format)
{
	(void)impl; (void)output; (void)w; (void)h; (void)hx; (void)hy; (void)pixels;
	(void)stride; (void)format;
}

static void fake_cursor_move(void *impl, unsigned output, int32_t x, int32_t y, bool visible)
{
	(void)impl; (void)output; (void)x; (void)y; (void)visible;
}

static bool fake_has_viewers(void *impl)
{
	return ((struct seen *)impl)->viewers;
}

static const struct display_backend_ops fake_display_ops = {
	.output_resize = fake_resize,
	.output_update = fake_update,
	.cursor_define = fake_cursor_define,
	.cursor_move = fake_cursor_move,
	.has_viewers = fake_has_viewers,
};

/* ---- log lines ---- */

static unsigned warnings, infos;
static char last_warning[512];

static void count_log(void *ctx, enum log_level level, const char *line)
{
	(void)ctx;
	if (level == LOG_WARN || level == LOG_ERROR) {
		warnings++;
		snprintf(last_warning, sizeof(last_warning), "%s", line);
	} else if (level == LOG_INFO) {
		infos++;
	}
}

/* ---- the bench ---- */

static struct fake_gfx_device dev;
static struct display *display;
static struct vfio_display vd;

static void set_up(uint32_t plane_types)
{
	free(seen.picture);
	seen = (struct seen){ .viewers = true };
	warnings = infos = 0;
	last_warning[0] = '\0';
	log_set_sink(count_log, NULL);
	fake_gfx_device_init(&dev);
	dev.plane_types = plane_types;
	display = display_new(&fake_display_ops, &seen);
	vfio_display_init(&vd, "mdev-test", vfio_display_probe(&fake_gfx_device_ops, &dev),
			  &fake_gfx_device_ops, &dev, display, OUTPUT);
}

static void tear_down(void)
{
	vfio_display_destroy(&vd);
	display_free(display);
	fake_gfx_device_destroy(&dev);
	log_set_sink(NULL, NULL);
	free(seen.picture);
	seen.picture = NULL;
}

/* What the device answers: an XRGB8888 dma-buf plane of W x H. */
static void show_dmabuf(uint32_t id, uint32_t format)
{
	dev.plane = (struct vfio_device_gfx_plane_info){
		.drm_format = format, .width = W, .height = H, .stride = STRIDE,
		.size = BYTES, .dmabuf_id = id,
	};
}

static uint32_t pattern(uint32_t x, uint32_t y, uint32_t seed)
{
	uint32_t v = (x + 1) * 0x9e3779b1u ^ (y + 1) * 0x85ebca77u ^ seed;

	v ^= v >> 15;
	return v * 0x2c1b3c6du;
}

static void draw(uint8_t *buffer, uint32_t seed)
{
	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++) {
			uint32_t v = pattern(x, y, seed);

			memcpy(buffer + (size_t)y * STRIDE + (size_t)x * 4, &v, 4);
		}
}

/* The output shows buffer (XRGB8888, or ARGB8888 with alpha) exactly. */
static bool output_shows(const uint8_t *buffer, bool alpha)
{
	if (seen.width != W || seen.height != H || !seen.picture) {
		fprintf(stderr, "  the output is %ux%u\n", seen.width, seen.height);
		return false;
	}
	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++) {
			const uint8_t *src = buffer + (size_t)y * STRIDE + (size_t)x * 4;
			const uint8_t *got = seen.picture + ((size_t)y * W + x) * 4;
			uint8_t a = alpha ? src[3] : 0xff;

			if (got[0] != src[0] || got[1] != src[1] || got[2] != src[2] || got[3] != a) {
				fprintf(stderr, "  pixel %u,%u differs\n", x, y);
				return false;
			}
		}
	return true;
}

static bool output_off(void)
{
	return seen.width == 0 && seen.height == 0;
}

/* A dma-buf device whose buffer 1, drawn from seed, the output shows. */
static uint8_t *shown_buffer(uint32_t seed)
{
	uint8_t *buf;

	set_up(VFIO_GFX_PLANE_TYPE_DMABUF);
	buf = fake_gfx_device_add_buffer(&dev, 1, BYTES);
	draw(buf, seed);
	show_dmabuf(1, DRM_FORMAT_XRGB8888);
	vfio_display_refresh(&vd);
	CHECK(output_shows(buf, false));
	return buf;
}

/* ---- tests ---- */

static void test_probe(void)
{
	static const struct {
		uint32_t types;
		enum vfio_display_kind kind;
	} cases[] = {
		{ VFIO_GFX_PLANE_TYPE_DMABUF, VFIO_DISPLAY_DMABUF },
		{ VFIO_GFX_PLANE_TYPE_REGION, VFIO_DISPLAY_REGION },
		{ VFIO_GFX_PLANE_TYPE_DMABUF | VFIO_GFX_PLANE_TYPE_REGION, VFIO_DISPLAY_DMABUF },
		{ 0, VFIO_DISPLAY_NONE },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_gfx_device_init(&dev);
		dev.plane_types = cases[i].types;
		CHECK_EQ(vfio_display_probe(&fake_gfx_device_ops, &dev), cases[i].kind);
		CHECK_EQ(dev.queries, 0);   /* probes only */
	}
	CHECK(!strcmp(vfio_display_kind_name(VFIO_DISPLAY_DMABUF), "dma-buf"));
	CHECK(!strcmp(vfio_display_kind_name(VFIO_DISPLAY_REGION), "region"));
}

static void test_polls_only_while_watched(void)
{
	uint8_t *buf;

	set_up(VFIO_GFX_PLANE_TYPE_DMABUF);
	buf = fake_gfx_device_add_buffer(&dev, 1, BYTES);
	draw(buf, 1);
	show_dmabuf(1, DRM_FORMAT_XRGB8888);
	seen.viewers = false;
	vfio_display_refresh(&vd);
	vfio_display_refresh(&vd);
	CHECK_EQ(dev.queries, 0);
	CHECK_EQ(seen.resizes, 0);
	/* Someone comes: the first poll shows the picture. */
	seen.viewers = true;
	vfio_display_refresh(&vd);
	CHECK_EQ(dev.queries, 1);
	CHECK(output_shows(buf, false));
	/* They go, the guest draws, they come back: the changes arrive. */
	seen.viewers = false;
	draw(buf, 2);
	vfio_display_refresh(&vd);
	seen.viewers = true;
	vfio_display_refresh(&vd);
	CHECK(output_shows(buf, false));
	tear_down();
}

static void test_off_plane_turns_the_output_off(void)
{
	set_up(VFIO_GFX_PLANE_TYPE_DMABUF);
	/* mbochs while the guest has no mode: success, all zeros. */
	vfio_display_refresh(&vd);
	CHECK(output_off());
	CHECK_EQ(seen.resizes, 1);
	vfio_display_refresh(&vd);
	CHECK_EQ(seen.resizes, 1);
	CHECK_EQ(warnings, 0);
	tear_down();
}

static void test_dmabuf_plane_shown_and_only_changes_sent(void)
{
	uint8_t *buf;
	uint32_t v = 0x00123456;

	buf = shown_buffer(3);
	CHECK_EQ(seen.resizes, 1);
	CHECK_EQ(dev.gets[1], 1);

	/* A still picture sends nothing. */
	seen.rects = 0;
	vfio_display_refresh(&vd);
	vfio_display_refresh(&vd);
	CHECK_EQ(seen.rects, 0);
	/* One pixel drawn: one rectangle. */
	memcpy(buf + 7 * STRIDE + 9 * 4, &v, 4);
	vfio_display_refresh(&vd);
	CHECK_EQ(seen.rects, 1);
	CHECK(output_shows(buf, false));
	CHECK_EQ(dev.gets[1], 1);
	CHECK_EQ(warnings, 0);
	tear_down();
}

static void test_flips_between_buffers(void)
{
	uint8_t *a, *b;

	set_up(VFIO_GFX_PLANE_TYPE_DMABUF);
	a = fake_gfx_device_add_buffer(&dev, 1, BYTES);
	b = fake_gfx_device_add_buffer(&dev, 2, BYTES);
	draw(a, 4);
	draw(b, 5);
	for (unsigned flip = 0; flip < 6; flip++) {
		show_dmabuf(flip % 2 ? 2 : 1, DRM_FORMAT_XRGB8888);
		vfio_display_refresh(&vd);
		CHECK(output_shows(flip % 2 ? b : a, false));
	}
	/* The same size throughout: one resize; each buffer asked for once. */
	CHECK_EQ(seen.resizes, 1);
	CHECK_EQ(dev.gets[1], 1);
	CHECK_EQ(dev.gets[2], 1);
	tear_down();
}

static void test_format_change_repaints(void)
{
	uint8_t *buf = shown_buffer(6);

	/* The same bytes as ARGB: alpha now comes from them. */
	show_dmabuf(1, DRM_FORMAT_ARGB8888);
	vfio_display_refresh(&vd);
	CHECK(output_shows(buf, true));
	tear_down();
}

static void test_bad_planes_turn_the_output_off(void)
{
	uint8_t *buf = shown_buffer(7);

	fake_gfx_device_add_buffer(&dev, 2, PAGE);
	/* A stride too small for a row. */
	dev.plane.stride = W * 4 - 4;
	vfio_display_refresh(&vd);
	CHECK(output_off());
	CHECK_EQ(warnings, 1);
	CHECK(strstr(last_warning, "stride") != NULL);
	/* The same plane again is not judged (nor logged) again. */
	vfio_display_refresh(&vd);
	CHECK_EQ(warnings, 1);

	/* A plane larger than its dma-buf: refused, and rate-limited with
	 * the line before. */
	show_dmabuf(2, DRM_FORMAT_XRGB8888);
	vfio_display_refresh(&vd);
	CHECK(output_off());
	CHECK_EQ(warnings, 1);

	/* Back to a good one: shown again. */
	show_dmabuf(1, DRM_FORMAT_XRGB8888);
	vfio_display_refresh(&vd);
	CHECK(output_shows(buf, false));
	tear_down();
}

static void test_bad_sizes_never_read(void)
{
	static const struct { uint32_t width, height, stride, size; } bad[] = {
		{ 0, H, STRIDE, BYTES },                      /* zero width */
		{ W, 0, STRIDE, BYTES },                      /* zero height */
		{ W, H, 0, BYTES },                           /* zero stride */
		{ W, H + 1, STRIDE, BYTES + STRIDE },         /* a row past the buffer */
		{ W, H, STRIDE, STRIDE * (H - 1) + W * 4 - 1 },  /* past the size it gave */
		{ DISPLAY_MAX_WIDTH + 1, 1, UINT32_MAX, UINT32_MAX },
		{ 1, UINT32_MAX, 4, UINT32_MAX },
		{ DISPLAY_MAX_WIDTH, DISPLAY_MAX_HEIGHT, UINT32_MAX, UINT32_MAX },
	};

	set_up(VFIO_GFX_PLANE_TYPE_DMABUF);
	fake_gfx_device_add_buffer(&dev, 1, BYTES);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		show_dmabuf(1, DRM_FORMAT_XRGB8888);
		dev.plane.width = bad[i].width;
		dev.plane.height = bad[i].height;
		dev.plane.stride = bad[i].stride;
		dev.plane.size = bad[i].size;
		seen.rects = 0;
		vfio_display_refresh(&vd);
		if (!output_off() || seen.rects)
			fprintf(stderr, "  bad plane %zu was shown\n", i);
		CHECK(output_off());
		CHECK_EQ(seen.rects, 0);
	}
	tear_down();
}

static void test_unknown_format_logged_once(void)
{
	uint8_t *buf;

	set_up(VFIO_GFX_PLANE_TYPE_DMABUF);
	buf = fake_gfx_device_add_buffer(&dev, 1, BYTES);
	draw(buf, 8);
	for (unsigned round = 0; round < 3; round++) {
		show_dmabuf(1, DRM_FORMAT_RGB565);
		vfio_display_refresh(&vd);
		CHECK(output_off());
		show_dmabuf(1, DRM_FORMAT_XRGB8888);
		vfio_display_refresh(&vd);
		CHECK(output_shows(buf, false));
	}
	CHECK_EQ(warnings, 1);
	CHECK(strstr(last_warning, "RG16") != NULL);
	/* Another unknown format gets its own line. */
	show_dmabuf(1, DRM_FORMAT_NV12);
	vfio_display_refresh(&vd);
	CHECK_EQ(warnings, 2);
	CHECK(strstr(last_warning, "NV12") != NULL);
	tear_down();
}

static void test_dmabuf_refused_then_given(void)
{
	uint8_t *buf;

	set_up(VFIO_GFX_PLANE_TYPE_DMABUF);
	buf = fake_gfx_device_add_buffer(&dev, 1, BYTES);
	draw(buf, 9);
	show_dmabuf(1, DRM_FORMAT_XRGB8888);
	dev.get_error = -ENOMEM;
	vfio_display_refresh(&vd);
	CHECK(output_off());
	CHECK_EQ(warnings, 1);
	/* The same plane is tried again at the next poll. */
	dev.get_error = 0;
	vfio_display_refresh(&vd);
	CHECK(output_shows(buf, false));
	tear_down();
}

static void test_dmabuf_that_cannot_be_mapped(void)
{
	set_up(VFIO_GFX_PLANE_TYPE_DMABUF);
	fake_gfx_device_add_buffer(&dev, 1, BYTES);
	show_dmabuf(1, DRM_FORMAT_XRGB8888);
	dev.unmappable = true;
	/* Nothing shown, one line that says why, and the dma-buf asked for
	 * once however long the guest shows it (a second export and release
	 * frees mbochs's pages under the guest). */
	for (unsigned i = 0; i < 2 * VFIO_DISPLAY_POLL_HZ; i++)
		vfio_display_refresh(&vd);
	CHECK(output_off());
	CHECK_EQ(dev.gets[1], 1);
	CHECK_EQ(warnings, 1);
	CHECK(strstr(last_warning, "mapping its plane's dma-buf") != NULL);
	CHECK(strstr(last_warning, "Permission denied") != NULL);
	tear_down();
}

static void test_query_failures(void)
{
	uint8_t *buf = shown_buffer(10);

	/* A failing query leaves the output as it was; a warning only after
	 * a second of them, and one line when it works again. */
	dev.query_error = -ENOMEM;
	for (unsigned i = 0; i < 2 * VFIO_DISPLAY_POLL_HZ; i++)
		vfio_display_refresh(&vd);
	CHECK(output_shows(buf, false));
	CHECK_EQ(warnings, 1);
	CHECK(strstr(last_warning, "Cannot allocate memory") != NULL);
	dev.query_error = 0;
	infos = 0;
	vfio_display_refresh(&vd);
	CHECK_EQ(infos, 1);
	/* One failure alone (mbochs after a mode change) says nothing. */
	dev.query_error = -ENOMEM;
	vfio_display_refresh(&vd);
	dev.query_error = 0;
	vfio_display_refresh(&vd);
	CHECK_EQ(warnings, 1);
	tear_down();
}

static void test_region_planes(void)
{
	for (int mappable = 1; mappable >= 0; mappable--) {
		uint8_t *region;
		uint32_t v = 0x00abcdef;

		set_up(VFIO_GFX_PLANE_TYPE_REGION);
		CHECK_EQ(vd.kind, VFIO_DISPLAY_REGION);
		region = fake_gfx_device_add_region(&dev, 5, BYTES + PAGE, 16 * PAGE, mappable);
		draw(region, 11);
		dev.plane = (struct vfio_device_gfx_plane_info){
			.drm_format = DRM_FORMAT_XRGB8888, .width = W, .height = H,
			.stride = STRIDE, .size = BYTES, .region_index = 5,
		};
		vfio_display_refresh(&vd);
		CHECK(output_shows(region, false));
		memcpy(region + 3 * STRIDE, &v, 4);
		vfio_display_refresh(&vd);
		CHECK(output_shows(region, false));
		CHECK_EQ(dev.region_lookups, 1);
		/* A region that does not exist: off, with a line. */
		dev.plane.region_index = 6;
		vfio_display_refresh(&vd);
		CHECK(output_off());
		CHECK_EQ(warnings, 1);
		/* Larger than the region. */
		dev.plane.region_index = 5;
		dev.plane.height = H + 32;
		dev.plane.size = STRIDE * (H + 32);
		vfio_display_refresh(&vd);
		CHECK(output_off());
		tear_down();
	}
}

static void test_destroy_lets_go(void)
{
	unsigned before = open_fds();

	set_up(VFIO_GFX_PLANE_TYPE_DMABUF);
	for (uint32_t id = 0; id < FAKE_GFX_BUFFERS; id++) {
		fake_gfx_device_add_buffer(&dev, id, BYTES);
		show_dmabuf(id, DRM_FORMAT_XRGB8888);
		vfio_display_refresh(&vd);
	}
	CHECK_EQ(vfio_dmabuf_cache_count(&vd.dmabufs), VFIO_DMABUF_CACHE_SIZE);
	vfio_display_destroy(&vd);
	CHECK_EQ(vfio_dmabuf_cache_count(&vd.dmabufs), 0);
	CHECK(output_off());
	fake_gfx_device_destroy(&dev);
	CHECK_EQ(open_fds(), before);
	/* Destroying again (tear_down does) is harmless. */
	tear_down();
}

TEST_MAIN("vfio_display",
	  TEST_CASE(test_probe),
	  TEST_CASE(test_polls_only_while_watched),
	  TEST_CASE(test_off_plane_turns_the_output_off),
	  TEST_CASE(test_dmabuf_plane_shown_and_only_changes_sent),
	  TEST_CASE(test_flips_between_buffers),
	  TEST_CASE(test_format_change_repaints),
	  TEST_CASE(test_bad_planes_turn_the_output_off),
	  TEST_CASE(test_bad_sizes_never_read),
	  TEST_CASE(test_unknown_format_logged_once),
	  TEST_CASE(test_dmabuf_refused_then_given),
	  TEST_CASE(test_dmabuf_that_cannot_be_mapped),
	  TEST_CASE(test_query_failures),
	  TEST_CASE(test_region_planes),
	  TEST_CASE(test_destroy_lets_go))
