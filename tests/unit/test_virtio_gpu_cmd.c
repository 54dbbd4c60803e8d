/* The virtio-gpu 2D command engine, driven request by request as the
 * device would: requests built from the wire structs of virtio 1.2,
 * 5.7.6, guest RAM holding the backing pages, and a fake display (through
 * display_backend.h) that records what the engine showed. */
#include "check.h"

#include <endian.h>
#include <linux/virtio_gpu.h>
#include <stdint.h>

#include "../../devices/gpu/virtio_gpu_cmd.h"
#include "../../display/display_backend.h"
#include "../../firmware/edid.h"
#include "../../vmm/guest_memory.h"

#define RAM_SIZE     (16ull << 20)
#define CAP          (8ull << 20)
#define NR_OUTPUTS   2
#define PREF_W       1280
#define PREF_H       800
#define FMT_BGRX     VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM

/* ---- the fake display ---- */

#define MAX_SEEN_PIXELS (128 * 128)

struct fake_display {
	unsigned resizes;
	unsigned resize_output;
	uint32_t resize_w, resize_h;

	unsigned updates;
	unsigned update_output;
	struct display_rect update_rect;
	enum display_format update_format;
	uint32_t update_pixels[MAX_SEEN_PIXELS];   /* packed, rect width a row */

	unsigned defines;
	uint32_t cursor_w, cursor_h, hot_x, hot_y;
	enum display_format cursor_format;
	uint32_t cursor_pixels[DISPLAY_CURSOR_MAX * DISPLAY_CURSOR_MAX];

	unsigned moves;
	unsigned move_output;
	int32_t move_x, move_y;
	bool move_visible;
};

static void copy_rect(uint32_t *dst, const void *pixels, uint32_t stride, uint32_t w, uint32_t h)
{
	if ((uint64_t)w * h > MAX_SEEN_PIXELS)
		return;
	for (uint32_t y = 0; y < h; y++)
		memcpy(dst + (size_t)y * w, (const uint8_t *)pixels + (size_t)y * stride, w * 4);
}

static int fake_resize(void *impl, unsigned output, uint32_t w, uint32_t h)
{
	struct fake_display *f = impl;

	f->resizes++;
	f->resize_output = output;
	f->resize_w = w;
	f->resize_h = h;
	return 0;
}

/* Like the SPICE display: four frames and a little. */
static uint64_t fake_output_bytes(void *impl, uint32_t w, uint32_t h)
{
	(void)impl;
	return (uint64_t)w * h * 16 + 4096;
}

static void fake_update(void *impl, unsigned output, const struct display_rect *r,
			const void *pixels, uint32_t stride, enum display_format format)
{
	struct fake_display *f = impl;

	f->updates++;
	f->update_output = output;
	f->update_rect = *r;
	f->update_format = format;
	copy_rect(f->update_pixels, pixels, stride, r->width, r->height);
}

static void fake_cursor_define(void *impl, unsigned output, uint32_t w, uint32_t h,
			       uint32_t hot_x, uint32_t hot_y, const void *pixels,
			       uint32_t stride, enum display_format format)
{
	struct fake_display *f = impl;

	(void)output;
	f->defines++;
	f->cursor_w = w;
	f->cursor_h = h;
	f->hot_x = hot_x;
	f->hot_y = hot_y;
	f->cursor_format = format;
	copy_rect(f->cursor_pixels, pixels, stride, w, h);
}

static void fake_cursor_move(void *impl, unsigned output, int32_t x, int32_t y, bool visible)
{
	struct fake_display *f = impl;

	f->moves++;
	f->move_output = output;
	f->move_x = x;
	f->move_y = y;
	f->move_visible = visible;
}

static const struct display_backend_ops fake_ops = {
	.output_resize = fake_resize,
	.output_bytes = fake_output_bytes,
	.output_update = fake_update,
	.cursor_define = fake_cursor_define,
	.cursor_move = fake_cursor_move,
};

/* ---- the bench: RAM, display, engine ---- */

struct bench {
	struct guest_memory mem;
	struct fake_display seen;
	struct display *display;
	struct gpu2d g;
	uint8_t resp[GPU2D_MAX_RESPONSE];
	size_t resp_len;
};

static struct bench *bench_with(bool headless, unsigned nr_outputs, uint64_t cap)
{
	struct bench *b = calloc(1, sizeof(*b));
	char err[128];

	if (!b)
		abort();
	CHECK_EQ(guest_memory_create(&b->mem, RAM_SIZE, false, err, sizeof(err)), 0);
	if (!headless)
		b->display = display_new(&fake_ops, &b->seen);
	CHECK_EQ(gpu2d_init(&b->g, &b->mem, b->display, nr_outputs, PREF_W, PREF_H, cap), 0);
	return b;
}

static struct bench *bench_new(bool headless)
{
	return bench_with(headless, NR_OUTPUTS, CAP);
}

static void bench_free(struct bench *b)
{
	gpu2d_destroy(&b->g);
	display_free(b->display);
	guest_memory_destroy(&b->mem);
	free(b);
}

static struct virtio_gpu_ctrl_hdr hdr_of(uint32_t type)
{
	return (struct virtio_gpu_ctrl_hdr){ .type = htole32(type) };
}

/* Sends a request on a queue; returns the response type. */
static uint32_t send_on(struct bench *b, enum gpu2d_queue q, const void *req, size_t len)
{
	struct virtio_gpu_ctrl_hdr h;

	memset(b->resp, 0xee, sizeof(b->resp));
	b->resp_len = gpu2d_handle(&b->g, q, req, len, b->resp, sizeof(b->resp));
	if (b->resp_len < sizeof(h))
		return 0;
	memcpy(&h, b->resp, sizeof(h));
	return le32toh(h.type);
}

static uint32_t send(struct bench *b, const void *req, size_t len)
{
	return send_on(b, GPU2D_CONTROLQ, req, len);
}

static uint32_t create(struct bench *b, uint32_t id, uint32_t format, uint32_t w, uint32_t h)
{
	struct virtio_gpu_resource_create_2d c = {
		.hdr = hdr_of(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D),
		.resource_id = htole32(id), .format = htole32(format),
		.width = htole32(w), .height = htole32(h),
	};

	return send(b, &c, sizeof(c));
}

static uint32_t unref(struct bench *b, uint32_t id)
{
	struct virtio_gpu_resource_unref c = {
		.hdr = hdr_of(VIRTIO_GPU_CMD_RESOURCE_UNREF), .resource_id = htole32(id),
	};

	return send(b, &c, sizeof(c));
}

struct entry { uint64_t addr; uint32_t len; };

/* ATTACH_BACKING with entries; len_cut bytes less than it needs. */
static uint32_t attach_cut(struct bench *b, uint32_t id, const struct entry *e, uint32_t nr,
			   uint32_t claimed_nr, size_t len_cut)
{
	size_t len = sizeof(struct virtio_gpu_resource_attach_backing) +
		     (size_t)nr * sizeof(struct virtio_gpu_mem_entry);
	uint8_t *req = calloc(1, len);
	struct virtio_gpu_resource_attach_backing c = {
		.hdr = hdr_of(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING),
		.resource_id = htole32(id), .nr_entries = htole32(claimed_nr),
	};
	uint32_t type;

	memcpy(req, &c, sizeof(c));
	for (uint32_t i = 0; i < nr; i++) {
		struct virtio_gpu_mem_entry m = { .addr = htole64(e[i].addr), .length = htole32(e[i].len) };

		memcpy(req + sizeof(c) + i * sizeof(m), &m, sizeof(m));
	}
	type = send(b, req, len - len_cut);
	free(req);
	return type;
}

static uint32_t attach(struct bench *b, uint32_t id, const struct entry *e, uint32_t nr)
{
	return attach_cut(b, id, e, nr, nr, 0);
}

static uint32_t detach(struct bench *b, uint32_t id)
{
	struct virtio_gpu_resource_detach_backing c = {
		.hdr = hdr_of(VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING), .resource_id = htole32(id),
	};

	return send(b, &c, sizeof(c));
}

static struct virtio_gpu_rect rect(uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	return (struct virtio_gpu_rect){ htole32(x), htole32(y), htole32(w), htole32(h) };
}

static uint32_t set_scanout(struct bench *b, uint32_t scanout, uint32_t id,
			    struct virtio_gpu_rect r)
{
	struct virtio_gpu_set_scanout c = {
		.hdr = hdr_of(VIRTIO_GPU_CMD_SET_SCANOUT), .r = r,
		.scanout_id = htole32(scanout), .resource_id = htole32(id),
	};

	return send(b, &c, sizeof(c));
}

static uint32_t transfer(struct bench *b, uint32_t id, struct virtio_gpu_rect r, uint64_t offset)
{
	struct virtio_gpu_transfer_to_host_2d c = {
		.hdr = hdr_of(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D), .r = r,
		.offset = htole64(offset), .resource_id = htole32(id),
	};

	return send(b, &c, sizeof(c));
}

static uint32_t flush(struct bench *b, uint32_t id, struct virtio_gpu_rect r)
{
	struct virtio_gpu_resource_flush c = {
		.hdr = hdr_of(VIRTIO_GPU_CMD_RESOURCE_FLUSH), .r = r, .resource_id = htole32(id),
	};

	return send(b, &c, sizeof(c));
}

static uint32_t cursor(struct bench *b, uint32_t type, uint32_t scanout, int32_t x, int32_t y,
		       uint32_t id, uint32_t hot_x, uint32_t hot_y)
{
	struct virtio_gpu_update_cursor c = {
		.hdr = hdr_of(type),
		.pos = { .scanout_id = htole32(scanout), .x = htole32((uint32_t)x),
			 .y = htole32((uint32_t)y) },
		.resource_id = htole32(id), .hot_x = htole32(hot_x), .hot_y = htole32(hot_y),
	};

	return send_on(b, GPU2D_CURSORQ, &c, sizeof(c));
}

/* The pixel at (x, y) of a width-wide picture in guest RAM at gpa: a
 * value that names its place. */
static uint32_t pattern(uint32_t x, uint32_t y)
{
	return 0xff000000u | y << 12 | x;
}

static void fill_guest(struct bench *b, uint64_t gpa, uint32_t w, uint32_t h)
{
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			uint32_t v = htole32(pattern(x, y));

			CHECK_EQ(guest_memory_write(&b->mem, gpa + 4ull * (y * w + x), &v, 4), 0);
		}
}

/* A w x h BGRX resource backed by one run of guest RAM at gpa, filled
 * with the pattern and transferred. */
static void make_picture(struct bench *b, uint32_t id, uint32_t w, uint32_t h, uint64_t gpa)
{
	struct entry e = { gpa, w * h * 4 };

	CHECK_EQ(create(b, id, FMT_BGRX, w, h), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(attach(b, id, &e, 1), VIRTIO_GPU_RESP_OK_NODATA);
	fill_guest(b, gpa, w, h);
	CHECK_EQ(transfer(b, id, rect(0, 0, w, h), 0), VIRTIO_GPU_RESP_OK_NODATA);
}

/* Whether the last update showed resource pixels starting at (x0, y0). */
static bool update_shows(const struct fake_display *f, uint32_t x0, uint32_t y0)
{
	for (uint32_t y = 0; y < f->update_rect.height; y++)
		for (uint32_t x = 0; x < f->update_rect.width; x++)
			if (f->update_pixels[y * f->update_rect.width + x] != pattern(x0 + x, y0 + y))
				return false;
	return true;
}

static bool rect_is(const struct display_rect *r, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	return r->x == x && r->y == y && r->width == w && r->height == h;
}

/* ---- tests ---- */

/* What the engine counts: its resources' and its outputs' charges. */
static uint64_t charged(const struct gpu2d *g)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < g->nr_buckets; i++)
		for (const struct gpu2d_resource *r = g->buckets[i]; r; r = r->next_in_bucket)
			sum += r->charged;
	for (unsigned i = 0; i < g->nr_outputs; i++)
		sum += g->scanouts[i].display_charged;
	return sum;
}


static void display_info_lists_the_preferred_modes(void)
{
	struct bench *b = bench_new(false);
	struct virtio_gpu_ctrl_hdr h = hdr_of(VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	struct virtio_gpu_resp_display_info info;

	CHECK_EQ(send(b, &h, sizeof(h)), VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	CHECK_EQ(b->resp_len, sizeof(info));
	memcpy(&info, b->resp, sizeof(info));
	for (unsigned i = 0; i < NR_OUTPUTS; i++) {
		CHECK_EQ(le32toh(info.pmodes[i].enabled), 1);
		CHECK_EQ(le32toh(info.pmodes[i].r.x), 0);
		CHECK_EQ(le32toh(info.pmodes[i].r.y), 0);
		CHECK_EQ(le32toh(info.pmodes[i].r.width), PREF_W);
		CHECK_EQ(le32toh(info.pmodes[i].r.height), PREF_H);
	}
	CHECK_EQ(le32toh(info.pmodes[NR_OUTPUTS].enabled), 0);
	CHECK_EQ(le32toh(info.pmodes[NR_OUTPUTS].r.width), 0);

	/* A viewer's window: the new preferred mode; 0 x 0 disconnects. */
	CHECK(gpu2d_set_preferred_mode(&b->g, 0, 1920, 1080));
	CHECK(!gpu2d_set_preferred_mode(&b->g, 0, 1920, 1080));
	CHECK(gpu2d_set_preferred_mode(&b->g, 1, 0, 0));
	CHECK(!gpu2d_set_preferred_mode(&b->g, NR_OUTPUTS, 640, 480));
	CHECK_EQ(send(b, &h, sizeof(h)), VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	memcpy(&info, b->resp, sizeof(info));
	CHECK_EQ(le32toh(info.pmodes[0].r.width), 1920);
	CHECK_EQ(le32toh(info.pmodes[0].r.height), 1080);
	CHECK_EQ(le32toh(info.pmodes[1].enabled), 0);

	/* A response buffer too small gets what fits. */
	CHECK_EQ(gpu2d_handle(&b->g, GPU2D_CONTROLQ, (const uint8_t *)&h, sizeof(h), b->resp, 30), 30);
	CHECK_EQ(gpu2d_handle(&b->g, GPU2D_CONTROLQ, (const uint8_t *)&h, sizeof(h), NULL, 0), 0);
	bench_free(b);
}

static void edid_needs_the_feature_and_a_scanout(void)
{
	struct bench *b = bench_new(false);
	struct virtio_gpu_cmd_get_edid c = { .hdr = hdr_of(VIRTIO_GPU_CMD_GET_EDID) };
	struct virtio_gpu_resp_edid r;
	uint8_t expect[EDID_BLOCK_SIZE];

	CHECK_EQ(send(b, &c, sizeof(c)), VIRTIO_GPU_RESP_ERR_UNSPEC);
	b->g.edid = true;
	CHECK_EQ(send(b, &c, sizeof(c)), VIRTIO_GPU_RESP_OK_EDID);
	CHECK_EQ(b->resp_len, sizeof(r));
	memcpy(&r, b->resp, sizeof(r));
	CHECK_EQ(le32toh(r.size), EDID_BLOCK_SIZE);
	edid_build(expect, PREF_W, PREF_H, 0);
	CHECK(!memcmp(r.edid, expect, sizeof(expect)));
	/* It follows the preferred mode; output 1 has its own serial. */
	gpu2d_set_preferred_mode(&b->g, 1, 1920, 1080);
	c.scanout = htole32(1);
	CHECK_EQ(send(b, &c, sizeof(c)), VIRTIO_GPU_RESP_OK_EDID);
	memcpy(&r, b->resp, sizeof(r));
	edid_build(expect, 1920, 1080, 1);
	CHECK(!memcmp(r.edid, expect, sizeof(expect)));
	c.scanout = htole32(NR_OUTPUTS);
	CHECK_EQ(send(b, &c, sizeof(c)), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(b->resp_len, sizeof(struct virtio_gpu_ctrl_hdr));
	CHECK_EQ(send(b, &c, sizeof(c) - 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	bench_free(b);
}

static void formats_map_by_byte_order(void)
{
	static const struct { uint32_t virtio; enum display_format display; } map[] = {
		{ VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, DISPLAY_BGRA },
		{ VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, DISPLAY_BGRX },
		{ VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, DISPLAY_ARGB },
		{ VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, DISPLAY_XRGB },
		{ VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, DISPLAY_RGBA },
		{ VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, DISPLAY_XBGR },
		{ VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, DISPLAY_ABGR },
		{ VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, DISPLAY_RGBX },
	};
	struct bench *b = bench_new(false);
	enum display_format f;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		CHECK(gpu2d_format(map[i].virtio, &f));
		CHECK_EQ(f, map[i].display);
		CHECK_EQ(create(b, 100 + (uint32_t)i, map[i].virtio, 8, 8), VIRTIO_GPU_RESP_OK_NODATA);
	}
	CHECK(!gpu2d_format(0, &f));
	CHECK(!gpu2d_format(5, &f));
	CHECK_EQ(create(b, 1, 0, 8, 8), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create(b, 1, 70, 8, 8), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	bench_free(b);
}

static void create_checks_ids_sizes_and_the_cap(void)
{
	struct bench *b = bench_new(false);
	uint64_t one;
	uint32_t id;

	CHECK_EQ(b->g.host_memory, 0);
	CHECK_EQ(create(b, 1, FMT_BGRX, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
	one = b->g.host_memory;
	CHECK(one >= 64 * 64 * 4);
	CHECK_EQ(create(b, 0, FMT_BGRX, 64, 64), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(create(b, 1, FMT_BGRX, 64, 64), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(create(b, 2, FMT_BGRX, 0, 64), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create(b, 2, FMT_BGRX, 64, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create(b, 2, FMT_BGRX, 16385, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create(b, 2, FMT_BGRX, 0xffffffffu, 0xffffffffu),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Allowed sides, more bytes than the cap. */
	CHECK_EQ(create(b, 2, FMT_BGRX, 16384, 16384), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	CHECK_EQ(create(b, 2, FMT_BGRX, 2048, 1024), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	CHECK_EQ(b->g.host_memory, one);
	CHECK_EQ(create(b, 2, FMT_BGRX, 1024, 1024), VIRTIO_GPU_RESP_OK_NODATA);
	/* Tiny resources count too: they run into the cap. */
	for (id = 3; id < 1000000; id++)
		if (create(b, id, FMT_BGRX, 1, 1) != VIRTIO_GPU_RESP_OK_NODATA)
			break;
	CHECK_EQ(le32toh(((struct virtio_gpu_ctrl_hdr *)b->resp)->type),
		 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	CHECK(id < 1000000);
	CHECK(b->g.host_memory <= CAP);
	CHECK_EQ(b->g.nr_resources, id - 1);
	/* Unref gives it all back. */
	for (uint32_t i = 1; i < id; i++)
		CHECK_EQ(unref(b, i), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b->g.host_memory, 0);
	CHECK_EQ(b->g.nr_resources, 0);
	CHECK_EQ(unref(b, 1), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(unref(b, 0), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	bench_free(b);
}

static void backing_must_be_guest_ram(void)
{
	struct bench *b = bench_new(false);
	struct entry two[2] = { { 0x10000, 4096 }, { 0x30000, 4096 } };
	struct entry outside = { RAM_SIZE - 8, 16 };
	struct entry wraps = { 0xfffffffffffff000ull, 0x2000 };
	struct entry far = { 1ull << 40, 4096 };
	uint64_t before;

	CHECK_EQ(attach(b, 1, two, 2), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(create(b, 1, FMT_BGRX, 32, 64), VIRTIO_GPU_RESP_OK_NODATA);
	before = b->g.host_memory;
	CHECK_EQ(attach(b, 1, &outside, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(b, 1, &wraps, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(b, 1, &far, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* One good entry does not save a bad one. */
	{
		struct entry mixed[2] = { two[0], outside };

		CHECK_EQ(attach(b, 1, mixed, 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	}
	CHECK_EQ(attach_cut(b, 1, two, 0, 0, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach_cut(b, 1, two, 2, 16385, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach_cut(b, 1, two, 2, 0xffffffffu, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* The request must hold every entry it claims. */
	CHECK_EQ(attach_cut(b, 1, two, 2, 2, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach_cut(b, 1, two, 2, 3, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK(b->g.host_memory == before);
	CHECK_EQ(detach(b, 1), VIRTIO_GPU_RESP_ERR_UNSPEC);

	CHECK_EQ(attach(b, 1, two, 2), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(b->g.host_memory > before);       /* the entries are counted */
	CHECK_EQ(attach(b, 1, two, 2), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(detach(b, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b->g.host_memory, before);
	CHECK_EQ(detach(b, 1), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(detach(b, 2), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(attach(b, 1, two, 2), VIRTIO_GPU_RESP_OK_NODATA);
	/* Unref with backing attached gives back both. */
	CHECK_EQ(unref(b, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b->g.host_memory, 0);
	bench_free(b);
}

static void transfer_checks_rect_and_backing(void)
{
	struct bench *b = bench_new(false);
	struct entry small = { 0x10000, 16 * 16 * 4 - 4 };

	CHECK_EQ(transfer(b, 1, rect(0, 0, 1, 1), 0), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(create(b, 1, FMT_BGRX, 16, 16), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(transfer(b, 1, rect(0, 0, 16, 16), 0), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(attach(b, 1, &small, 1), VIRTIO_GPU_RESP_OK_NODATA);
	/* Outside, overflowing or empty rectangles. */
	CHECK_EQ(transfer(b, 1, rect(1, 0, 16, 1), 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(b, 1, rect(0, 15, 1, 2), 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(b, 1, rect(0xffffffffu, 0, 2, 1), 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(b, 1, rect(0, 0xffffffffu, 1, 2), 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(b, 1, rect(0, 0, 0, 1), 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(b, 1, rect(0, 0, 1, 0), 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* The backing is one pixel short of the whole picture. */
	CHECK_EQ(transfer(b, 1, rect(0, 0, 16, 16), 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(b, 1, rect(0, 0, 16, 15), 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(transfer(b, 1, rect(0, 0, 15, 16), 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(transfer(b, 1, rect(0, 0, 15, 16), 8), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(b, 1, rect(0, 0, 1, 1), 16 * 16 * 4 - 8), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(transfer(b, 1, rect(0, 0, 1, 1), 16 * 16 * 4 - 7), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(b, 1, rect(0, 0, 1, 1), UINT64_MAX), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(b, 1, rect(0, 0, 1, 1), UINT64_MAX - 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	bench_free(b);
}

static void scanout_follows_set_scanout(void)
{
	struct bench *b = bench_new(false);
	struct fake_display *f = &b->seen;

	CHECK_EQ(create(b, 1, FMT_BGRX, 64, 48), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create(b, 2, FMT_BGRX, 64, 48), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(set_scanout(b, NR_OUTPUTS, 1, rect(0, 0, 64, 48)),
		 VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(set_scanout(b, 0xffffffffu, 0, rect(0, 0, 0, 0)),
		 VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(set_scanout(b, 0, 3, rect(0, 0, 64, 48)), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(set_scanout(b, 0, 1, rect(0, 0, 65, 48)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(set_scanout(b, 0, 1, rect(1, 0, 64, 48)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(set_scanout(b, 0, 1, rect(0xffffffffu, 0, 2, 48)),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(set_scanout(b, 0, 1, rect(0, 0, 0, 48)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(f->resizes, 0);

	CHECK_EQ(set_scanout(b, 1, 1, rect(0, 0, 64, 48)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->resizes, 1);
	CHECK_EQ(f->resize_output, 1);
	CHECK_EQ(f->resize_w, 64);
	CHECK_EQ(f->resize_h, 48);
	/* A page flip to a same-sized resource does not resize. */
	CHECK_EQ(set_scanout(b, 1, 2, rect(0, 0, 64, 48)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->resizes, 1);
	CHECK_EQ(b->g.scanouts[1].resource_id, 2);
	/* A smaller rect is a new size. */
	CHECK_EQ(set_scanout(b, 1, 2, rect(8, 8, 32, 24)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->resizes, 2);
	CHECK_EQ(f->resize_w, 32);
	CHECK_EQ(f->resize_h, 24);
	/* Disabling turns the output off, once. */
	CHECK_EQ(set_scanout(b, 1, 0, rect(0, 0, 0, 0)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->resizes, 3);
	CHECK_EQ(f->resize_w, 0);
	CHECK_EQ(f->resize_h, 0);
	CHECK_EQ(set_scanout(b, 1, 0, rect(5, 5, 5, 5)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->resizes, 3);
	/* Sizes the display cannot show are refused. */
	CHECK_EQ(create(b, 3, FMT_BGRX, 8193, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(set_scanout(b, 0, 3, rect(0, 0, 8193, 1)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(set_scanout(b, 0, 3, rect(1, 0, 8192, 1)), VIRTIO_GPU_RESP_OK_NODATA);
	bench_free(b);
}

static void flush_shows_transferred_pixels(void)
{
	struct bench *b = bench_new(false);
	struct fake_display *f = &b->seen;

	make_picture(b, 1, 64, 48, 0x100000);
	CHECK_EQ(flush(b, 1, rect(0, 0, 64, 48)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->updates, 0);          /* on no scanout yet */
	CHECK_EQ(set_scanout(b, 0, 1, rect(0, 0, 64, 48)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flush(b, 1, rect(0, 0, 64, 48)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->updates, 1);
	CHECK_EQ(f->update_output, 0);
	CHECK_EQ(f->update_format, DISPLAY_BGRX);
	CHECK(rect_is(&f->update_rect, 0, 0, 64, 48));
	CHECK(update_shows(f, 0, 0));
	/* A partial flush: just that rectangle, at its place. */
	CHECK_EQ(flush(b, 1, rect(10, 20, 5, 7)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->updates, 2);
	CHECK(rect_is(&f->update_rect, 10, 20, 5, 7));
	CHECK(update_shows(f, 10, 20));
	/* Invalid flushes show nothing. */
	CHECK_EQ(flush(b, 1, rect(60, 0, 5, 1)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(flush(b, 1, rect(0xffffffffu, 0, 2, 1)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(flush(b, 1, rect(0, 0, 0, 0)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(flush(b, 2, rect(0, 0, 1, 1)), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(f->updates, 2);
	bench_free(b);
}

static void flush_maps_into_scanout_coordinates(void)
{
	struct bench *b = bench_new(false);
	struct fake_display *f = &b->seen;

	make_picture(b, 1, 64, 48, 0x100000);
	/* Output 1 shows the 32x24 window at (16, 8) of the resource. */
	CHECK_EQ(set_scanout(b, 1, 1, rect(16, 8, 32, 24)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flush(b, 1, rect(0, 0, 64, 48)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->updates, 1);
	CHECK_EQ(f->update_output, 1);
	CHECK(rect_is(&f->update_rect, 0, 0, 32, 24));
	CHECK(update_shows(f, 16, 8));
	/* Partly inside: clipped to the window. */
	CHECK_EQ(flush(b, 1, rect(40, 2, 20, 10)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->updates, 2);
	CHECK(rect_is(&f->update_rect, 24, 0, 8, 4));
	CHECK(update_shows(f, 40, 8));
	/* Inside. */
	CHECK_EQ(flush(b, 1, rect(20, 10, 8, 4)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(rect_is(&f->update_rect, 4, 2, 8, 4));
	CHECK(update_shows(f, 20, 10));
	/* Outside the window: nothing to show. */
	CHECK_EQ(flush(b, 1, rect(0, 0, 16, 48)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->updates, 3);
	/* Two outputs on one resource: both hear of it. */
	CHECK_EQ(set_scanout(b, 0, 1, rect(0, 0, 64, 48)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flush(b, 1, rect(20, 10, 8, 4)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->updates, 5);
	bench_free(b);
}

static void transfer_reads_split_backing(void)
{
	struct bench *b = bench_new(false);
	struct fake_display *f = &b->seen;
	/* The 16x8 picture (512 bytes) in pieces that split pixels and rows,
	 * scattered in guest RAM out of order. */
	static const uint32_t piece_len[] = { 3, 61, 100, 1, 0, 200, 147 };
	static const uint64_t piece_gpa[] = { 0x90000, 0x20005, 0x70000, 0x40001, 0x50000,
					      0x60003, 0x30000 };
	struct entry e[7];
	uint8_t picture[512];
	size_t at = 0;

	for (uint32_t y = 0; y < 8; y++)
		for (uint32_t x = 0; x < 16; x++) {
			uint32_t v = htole32(pattern(x, y));

			memcpy(&picture[4 * (y * 16 + x)], &v, 4);
		}
	for (unsigned i = 0; i < 7; i++) {
		e[i] = (struct entry){ piece_gpa[i], piece_len[i] };
		CHECK_EQ(guest_memory_write(&b->mem, piece_gpa[i], picture + at, piece_len[i]), 0);
		at += piece_len[i];
	}
	CHECK_EQ(at, sizeof(picture));
	CHECK_EQ(create(b, 1, FMT_BGRX, 16, 8), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(attach(b, 1, e, 7), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(set_scanout(b, 0, 1, rect(0, 0, 16, 8)), VIRTIO_GPU_RESP_OK_NODATA);
	/* Whole rows at once. */
	CHECK_EQ(transfer(b, 1, rect(0, 0, 16, 8), 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flush(b, 1, rect(0, 0, 16, 8)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(update_shows(f, 0, 0));
	/* A partial transfer moves only its rectangle: change the guest's
	 * copy everywhere, transfer a 3x2 part, and only it changes. */
	for (size_t i = 0; i < sizeof(picture); i += 4)
		picture[i] ^= 0x5a;
	at = 0;
	for (unsigned i = 0; i < 7; i++) {
		CHECK_EQ(guest_memory_write(&b->mem, piece_gpa[i], picture + at, piece_len[i]), 0);
		at += piece_len[i];
	}
	CHECK_EQ(transfer(b, 1, rect(5, 3, 3, 2), (3 * 16 + 5) * 4), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flush(b, 1, rect(0, 0, 16, 8)), VIRTIO_GPU_RESP_OK_NODATA);
	for (uint32_t y = 0; y < 8; y++)
		for (uint32_t x = 0; x < 16; x++) {
			bool changed = x >= 5 && x < 8 && y >= 3 && y < 5;

			CHECK_EQ(f->update_pixels[y * 16 + x], pattern(x, y) ^ (changed ? 0x5a : 0));
		}
	bench_free(b);
}

static void unref_leaves_the_scanouts(void)
{
	struct bench *b = bench_new(false);
	struct fake_display *f = &b->seen;

	make_picture(b, 1, 32, 32, 0x100000);
	CHECK_EQ(set_scanout(b, 0, 1, rect(0, 0, 32, 32)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(set_scanout(b, 1, 1, rect(0, 0, 16, 16)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(unref(b, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b->g.scanouts[0].resource_id, 0);
	CHECK_EQ(b->g.scanouts[1].resource_id, 0);
	/* A new resource under the old id is not on them. */
	make_picture(b, 1, 32, 32, 0x100000);
	f->updates = 0;
	CHECK_EQ(flush(b, 1, rect(0, 0, 32, 32)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->updates, 0);
	bench_free(b);
}

static void cursor_queue_defines_and_moves(void)
{
	struct bench *b = bench_new(false);
	struct fake_display *f = &b->seen;
	struct virtio_gpu_ctrl_hdr h = hdr_of(VIRTIO_GPU_CMD_GET_DISPLAY_INFO);

	make_picture(b, 7, 64, 64, 0x100000);
	CHECK_EQ(cursor(b, VIRTIO_GPU_CMD_UPDATE_CURSOR, 1, 100, 200, 7, 3, 4),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->defines, 1);
	CHECK_EQ(f->cursor_w, 64);
	CHECK_EQ(f->cursor_h, 64);
	CHECK_EQ(f->hot_x, 3);
	CHECK_EQ(f->hot_y, 4);
	CHECK_EQ(f->cursor_format, DISPLAY_BGRX);
	CHECK_EQ(f->cursor_pixels[0], pattern(0, 0));
	CHECK_EQ(f->cursor_pixels[64 * 63 + 63], pattern(63, 63));
	CHECK_EQ(f->moves, 1);
	CHECK_EQ(f->move_output, 1);
	CHECK_EQ(f->move_x, 100);
	CHECK_EQ(f->move_y, 200);
	CHECK(f->move_visible);
	/* Moves may go off the top left. */
	CHECK_EQ(cursor(b, VIRTIO_GPU_CMD_MOVE_CURSOR, 1, -5, -7, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->moves, 2);
	CHECK_EQ(f->move_x, -5);
	CHECK_EQ(f->move_y, -7);
	CHECK(f->move_visible);
	/* A hot spot outside the image is pulled inside. */
	CHECK_EQ(cursor(b, VIRTIO_GPU_CMD_UPDATE_CURSOR, 1, 0, 0, 7, 64, 1000),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->hot_x, 63);
	CHECK_EQ(f->hot_y, 63);
	/* Resource 0 hides it; moving keeps it hidden. */
	CHECK_EQ(cursor(b, VIRTIO_GPU_CMD_UPDATE_CURSOR, 1, 1, 2, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(!f->move_visible);
	CHECK_EQ(cursor(b, VIRTIO_GPU_CMD_MOVE_CURSOR, 1, 3, 4, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(!f->move_visible);
	CHECK_EQ(f->move_x, 3);
	/* Refusals. */
	CHECK_EQ(create(b, 8, FMT_BGRX, 65, 64), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(cursor(b, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 0, 0, 8, 0, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(cursor(b, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 0, 0, 9, 0, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(cursor(b, VIRTIO_GPU_CMD_UPDATE_CURSOR, NR_OUTPUTS, 0, 0, 7, 0, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(cursor(b, VIRTIO_GPU_CMD_MOVE_CURSOR, 0xffffffffu, 0, 0, 0, 0, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(f->defines, 2);
	/* Each queue carries its own commands only. */
	CHECK_EQ(send_on(b, GPU2D_CURSORQ, &h, sizeof(h)), VIRTIO_GPU_RESP_ERR_UNSPEC);
	{
		struct virtio_gpu_update_cursor c = { .hdr = hdr_of(VIRTIO_GPU_CMD_MOVE_CURSOR) };

		CHECK_EQ(send(b, &c, sizeof(c)), VIRTIO_GPU_RESP_ERR_UNSPEC);
		CHECK_EQ(send_on(b, GPU2D_CURSORQ, &c, sizeof(c) - 4),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	}
	bench_free(b);
}

static void unknown_and_short_requests(void)
{
	static const uint32_t unknown[] = {
		0, VIRTIO_GPU_CMD_GET_CAPSET_INFO, VIRTIO_GPU_CMD_GET_CAPSET,
		VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID, VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB,
		VIRTIO_GPU_CMD_SET_SCANOUT_BLOB, VIRTIO_GPU_CMD_CTX_CREATE,
		VIRTIO_GPU_CMD_SUBMIT_3D, VIRTIO_GPU_CMD_RESOURCE_CREATE_3D,
		VIRTIO_GPU_RESP_OK_NODATA, 0xffffffffu,
	};
	struct bench *b = bench_new(false);
	uint8_t big[256] = { 0 };
	struct virtio_gpu_ctrl_hdr h;

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		h = hdr_of(unknown[i]);
		memcpy(big, &h, sizeof(h));
		CHECK_EQ(send(b, big, sizeof(big)), VIRTIO_GPU_RESP_ERR_UNSPEC);
		CHECK_EQ(b->resp_len, sizeof(h));
	}
	/* Not even a header. */
	h = hdr_of(VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	CHECK_EQ(send(b, &h, sizeof(h) - 1), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(b->resp_len, sizeof(h));
	CHECK_EQ(send(b, NULL, 0), VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* A header, but less than the command. */
	h = hdr_of(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D);
	CHECK_EQ(send(b, &h, sizeof(h)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	{
		struct virtio_gpu_resource_create_2d c = {
			.hdr = hdr_of(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D),
			.resource_id = htole32(1), .format = htole32(FMT_BGRX),
			.width = htole32(4), .height = htole32(4),
		};

		CHECK_EQ(send(b, &c, sizeof(c) - 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
		CHECK_EQ(b->g.nr_resources, 0);
		/* Longer is fine: the rest is ignored. */
		memcpy(big, &c, sizeof(c));
		CHECK_EQ(send(b, big, sizeof(big)), VIRTIO_GPU_RESP_OK_NODATA);
	}
	bench_free(b);
}

static void fences_are_echoed(void)
{
	struct bench *b = bench_new(false);
	struct virtio_gpu_ctrl_hdr h = hdr_of(VIRTIO_GPU_CMD_RESOURCE_UNREF), r;
	uint8_t req[sizeof(struct virtio_gpu_resource_unref)] = { 0 };

	h.flags = htole32(VIRTIO_GPU_FLAG_FENCE);
	h.fence_id = htole64(0x1122334455667788ull);
	h.ctx_id = htole32(5);
	memcpy(req, &h, sizeof(h));
	/* On an error too: the fence is done either way. */
	CHECK_EQ(send(b, req, sizeof(req)), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	memcpy(&r, b->resp, sizeof(r));
	CHECK_EQ(le32toh(r.flags), VIRTIO_GPU_FLAG_FENCE);
	CHECK_EQ(le64toh(r.fence_id), 0x1122334455667788ull);
	CHECK_EQ(le32toh(r.ctx_id), 5);
	/* Without the flag nothing is echoed. */
	h.flags = 0;
	memcpy(req, &h, sizeof(h));
	CHECK_EQ(send(b, req, sizeof(req)), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	memcpy(&r, b->resp, sizeof(r));
	CHECK_EQ(r.flags, 0);
	CHECK_EQ(r.fence_id, 0);
	CHECK_EQ(r.ctx_id, 0);
	CHECK_EQ(r.ring_idx, 0);
	bench_free(b);
}

static void reset_frees_everything_quietly(void)
{
	struct bench *b = bench_new(false);
	struct fake_display *f = &b->seen;
	unsigned resizes;

	make_picture(b, 1, 32, 32, 0x100000);
	make_picture(b, 2, 32, 32, 0x200000);
	CHECK_EQ(set_scanout(b, 0, 1, rect(0, 0, 32, 32)), VIRTIO_GPU_RESP_OK_NODATA);
	resizes = f->resizes;
	gpu2d_reset(&b->g);
	CHECK_EQ(b->g.nr_resources, 0);
	CHECK_EQ(b->g.scanouts[0].resource_id, 0);
	/* The display keeps the last picture, which stays charged; the same
	 * size comes back without a resize or a second charge. */
	CHECK_EQ(b->g.host_memory, fake_output_bytes(NULL, 32, 32));
	CHECK_EQ(f->resizes, resizes);
	make_picture(b, 1, 32, 32, 0x100000);
	CHECK_EQ(set_scanout(b, 0, 1, rect(0, 0, 32, 32)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(f->resizes, resizes);
	CHECK_EQ(b->g.host_memory, charged(&b->g));
	bench_free(b);
}

static void headless_works(void)
{
	struct bench *b = bench_new(true);

	make_picture(b, 1, 32, 32, 0x100000);
	CHECK_EQ(set_scanout(b, 0, 1, rect(0, 0, 32, 32)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flush(b, 1, rect(0, 0, 32, 32)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(cursor(b, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 1, 1, 1, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(cursor(b, VIRTIO_GPU_CMD_MOVE_CURSOR, 0, 1, 1, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(set_scanout(b, 0, 0, rect(0, 0, 0, 0)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(unref(b, 1), VIRTIO_GPU_RESP_OK_NODATA);
	bench_free(b);
}

/* The display's copy and surfaces of every output count against the cap
 * as resources do: one huge resource inside the cap, shown on every
 * output, would otherwise make the display hold sixteen times more. The
 * guest gets out-of-memory errors; the display is never asked. */
static void scanouts_are_charged_to_the_cap(void)
{
	const uint64_t cap = 256ull << 20;   /* the default */
	struct bench *b = bench_with(false, 16, cap);
	struct fake_display *f = &b->seen;
	unsigned shown = 0, refused = 0;
	uint64_t before, one;

	/* 8192x8000: 250 MiB, inside the cap; on an output it costs 1 GiB
	 * more, at any window of it wider than ~1/4 of it too. */
	CHECK_EQ(create(b, 1, FMT_BGRX, 8192, 8000), VIRTIO_GPU_RESP_OK_NODATA);
	for (unsigned i = 0; i < 16; i++) {
		CHECK_EQ(set_scanout(b, i, 1, rect(0, 0, 8192, 8000)), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
		CHECK_EQ(set_scanout(b, i, 1, rect(0, 0, 2048, 1024)), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
		CHECK(b->g.host_memory <= cap);
	}
	CHECK_EQ(f->resizes, 0);
	CHECK_EQ(b->g.host_memory, charged(&b->g));
	/* What is left of the cap shows a few small windows of it, no more. */
	for (unsigned i = 0; i < 16; i++) {
		uint32_t type = set_scanout(b, i, 1, rect(0, 0, 1024, 256));

		CHECK(type == VIRTIO_GPU_RESP_OK_NODATA || type == VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
		if (type == VIRTIO_GPU_RESP_OK_NODATA)
			shown++;
		else
			refused++;
		CHECK(b->g.host_memory <= cap);
		CHECK_EQ(b->g.host_memory, charged(&b->g));
	}
	CHECK_EQ(shown, 1);
	CHECK_EQ(refused, 15);
	CHECK_EQ(f->resizes, shown);
	CHECK_EQ(b->g.scanouts[1].resource_id, 0);   /* a refused scanout stays as it was */

	/* A smaller picture gives back the difference; a page flip to the
	 * same size charges nothing more; off gives back all of it. */
	CHECK_EQ(unref(b, 1), VIRTIO_GPU_RESP_OK_NODATA);
	before = b->g.host_memory;
	CHECK_EQ(before, fake_output_bytes(NULL, 1024, 256));
	CHECK_EQ(create(b, 2, FMT_BGRX, 640, 480), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create(b, 3, FMT_BGRX, 640, 480), VIRTIO_GPU_RESP_OK_NODATA);
	one = b->g.host_memory - before;
	CHECK_EQ(set_scanout(b, 0, 2, rect(0, 0, 640, 480)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b->g.host_memory, one + fake_output_bytes(NULL, 640, 480));
	CHECK_EQ(set_scanout(b, 0, 3, rect(0, 0, 640, 480)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b->g.host_memory, one + fake_output_bytes(NULL, 640, 480));
	CHECK_EQ(set_scanout(b, 0, 0, rect(0, 0, 0, 0)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b->g.host_memory, one);
	/* Every output at 640x480 fits now: 16 x 4.7 MiB. */
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(set_scanout(b, i, 2 + i % 2, rect(0, 0, 640, 480)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b->g.host_memory, charged(&b->g));
	/* A reset frees the resources; the display keeps its pictures, and
	 * they stay charged. */
	gpu2d_reset(&b->g);
	CHECK_EQ(b->g.host_memory, 16 * fake_output_bytes(NULL, 640, 480));
	CHECK_EQ(b->g.host_memory, charged(&b->g));
	/* The engine's end puts the outputs back to the configured mode. */
	f->resizes = 0;
	gpu2d_destroy(&b->g);
	CHECK_EQ(f->resizes, 16);
	CHECK_EQ(f->resize_w, PREF_W);
	CHECK_EQ(f->resize_h, PREF_H);
	bench_free(b);
}

/* Headless, nothing is shown and nothing but resources is charged. */
static void headless_outputs_cost_nothing(void)
{
	struct bench *b = bench_with(true, 16, CAP);

	CHECK_EQ(create(b, 1, FMT_BGRX, 1024, 1024), VIRTIO_GPU_RESP_OK_NODATA);
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(set_scanout(b, i, 1, rect(0, 0, 1024, 1024)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b->g.host_memory, charged(&b->g));
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(b->g.scanouts[i].display_charged, 0);
	bench_free(b);
}

static void many_resources_stay_findable(void)
{
	struct bench *b = bench_new(true);

	/* Enough to grow the table several times; ids spread wide. */
	for (uint32_t i = 1; i <= 2000; i++)
		CHECK_EQ(create(b, i * 2654435761u | 1, FMT_BGRX, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(b->g.nr_buckets > 64);
	for (uint32_t i = 1; i <= 2000; i += 2)
		CHECK_EQ(unref(b, i * 2654435761u | 1), VIRTIO_GPU_RESP_OK_NODATA);
	for (uint32_t i = 1; i <= 2000; i++)
		CHECK_EQ(create(b, i * 2654435761u | 1, FMT_BGRX, 1, 1),
			 i % 2 ? VIRTIO_GPU_RESP_OK_NODATA : VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(b->g.nr_resources, 2000);
	bench_free(b);
}

TEST_MAIN("virtio_gpu_cmd",
	  TEST_CASE(display_info_lists_the_preferred_modes),
	  TEST_CASE(edid_needs_the_feature_and_a_scanout),
	  TEST_CASE(formats_map_by_byte_order),
	  TEST_CASE(create_checks_ids_sizes_and_the_cap),
	  TEST_CASE(backing_must_be_guest_ram),
	  TEST_CASE(transfer_checks_rect_and_backing),
	  TEST_CASE(scanout_follows_set_scanout),
	  TEST_CASE(flush_shows_transferred_pixels),
	  TEST_CASE(flush_maps_into_scanout_coordinates),
	  TEST_CASE(transfer_reads_split_backing),
	  TEST_CASE(unref_leaves_the_scanouts),
	  TEST_CASE(cursor_queue_defines_and_moves),
	  TEST_CASE(unknown_and_short_requests),
	  TEST_CASE(fences_are_echoed),
	  TEST_CASE(reset_frees_everything_quietly),
	  TEST_CASE(headless_works),
	  TEST_CASE(many_resources_stay_findable),
	  TEST_CASE(scanouts_are_charged_to_the_cap),
	  TEST_CASE(headless_outputs_cost_nothing))
