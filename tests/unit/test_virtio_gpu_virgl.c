/* The virtio-gpu 3D command engine over the real virglrenderer, on the
 * host's EGL (Mesa's llvmpipe through the surfaceless platform where
 * there is no GPU), driven request by request as the device would.
 * Skipped, with the reason, where EGL or virglrenderer cannot start. */
#include "check.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_gpu.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../devices/gpu/gpu3d_gl_host.h"
#include "../../devices/gpu/virtio_gpu_virgl.h"
#include "../../display/display_backend.h"
#include "../../display/gl_host.h"
#include "../../vmm/guest_memory.h"
#include "../../vmm/log.h"

#define RAM_SIZE      (16ull << 20)
#define CAP           (64ull << 20)
#define BACKING_GPA   0x100000ull
#define TEX_SIDE      16
#define TEX_BYTES     (TEX_SIDE * TEX_SIDE * 4)
#define VIRGL_FORMAT_B8G8R8A8_UNORM  1
#define VIRGL_BIND_SAMPLER_VIEW      (1u << 3)
#define VIRGL_BIND_RENDER_TARGET     (1u << 1)
#define VIRGL_FORMAT_B8G8R8X8_UNORM  2
#define VIRGL_BIND_SCANOUT           (1u << 18)
#define VIRGL_BIND_SHARED            (1u << 20)
#define VIRGL_BIND_STAGING           (1u << 19)
#define CCMD_RESOURCE_INLINE_WRITE   9
#define CAPSET_VENUS                 4   /* not offered by gvmm */
#define CCMD_HEADER(cmd, len)        ((uint32_t)(cmd) | ((uint32_t)(len) << 16))
#define CCMD_PIPE_RESOURCE_CREATE    48
#define PIPE_RES_CREATE_LEN          11
#define VIRGL_FORMAT_R8_UNORM        64
#define VIRGL_BIND_VERTEX_BUFFER     (1u << 4)
/* virgl_hw.h's resource flags for memory the guest maps. */
#define VIRGL_RESOURCE_FLAG_MAP_PERSISTENT (1u << 1)
#define VIRGL_RESOURCE_FLAG_MAP_COHERENT   (1u << 2)
#define WINDOW_SIZE                  (64ull << 20)
#define PAGE                         4096ull

/* ---- host GL: display/gl_host.h behind the engine's gl ops ----
 *
 * One host for the process, never closed: EGL has one display per device
 * in a process, and closing terminates it. Frames are read back through
 * the same host, so its contexts share the renderer's textures. */

static struct gl_host *host;

static const char *egl_start(void)
{
	static char why[200];

	if (host)
		return NULL;
	if (gl_host_open(&host, NULL, why, sizeof(why)) < 0)
		return why;
	return NULL;
}

/* ---- a display that keeps the last frame update ---- */

struct fake_display {
	bool viewers;
	unsigned updates;
	struct display_rect rect;
	uint8_t pixels[TEX_BYTES];   /* rect's pixels, rows packed */
	bool too_large;
	unsigned cursors;            /* shapes defined */
	uint32_t cursor_w, cursor_h, hot_x, hot_y;
	uint8_t cursor[TEX_BYTES];   /* the last shape, BGRA rows packed */
	bool cursor_bad;             /* a shape not BGRA or too large */
	int32_t cursor_x, cursor_y;
	bool cursor_visible;
};

static int fake_resize(void *impl, unsigned output, uint32_t w, uint32_t h)
{
	(void)impl; (void)output; (void)w; (void)h;
	return 0;
}

static void fake_update(void *impl, unsigned output, const struct display_rect *r,
			const void *pixels, uint32_t stride, enum display_format format)
{
	struct fake_display *f = impl;
	size_t row = (size_t)r->width * 4;

	(void)output;
	f->updates++;
	f->rect = *r;
	f->too_large = format != DISPLAY_BGRA || row * r->height > sizeof(f->pixels);
	if (f->too_large)
		return;
	for (uint32_t y = 0; y < r->height; y++)
		memcpy(f->pixels + y * row, (const uint8_t *)pixels + (size_t)y * stride, row);
}

static void fake_cursor_define(void *impl, unsigned output, uint32_t w, uint32_t h,
			       uint32_t hot_x, uint32_t hot_y, const void *pixels,
			       uint32_t stride, enum display_format format)
{
	struct fake_display *f = impl;

	(void)output;
	f->cursors++;
	f->cursor_w = w;
	f->cursor_h = h;
	f->hot_x = hot_x;
	f->hot_y = hot_y;
	f->cursor_bad = format != DISPLAY_BGRA || (size_t)w * h * 4 > sizeof(f->cursor);
	if (f->cursor_bad)
		return;
	for (uint32_t y = 0; y < h; y++)
		memcpy(f->cursor + (size_t)y * w * 4, (const uint8_t *)pixels + (size_t)y * stride,
		       (size_t)w * 4);
}

static void fake_cursor_move(void *impl, unsigned output, int32_t x, int32_t y, bool visible)
{
	struct fake_display *f = impl;

	(void)output;
	f->cursor_x = x;
	f->cursor_y = y;
	f->cursor_visible = visible;
}

static bool fake_has_viewers(void *impl)
{
	return ((struct fake_display *)impl)->viewers;
}

static const struct display_backend_ops fake_ops = {
	.output_resize = fake_resize,
	.output_update = fake_update,
	.cursor_define = fake_cursor_define,
	.cursor_move = fake_cursor_move,
	.has_viewers = fake_has_viewers,
};

/* ---- a host window that records what is mapped into it ---- */

#define MAX_WINDOW_MAPS 8

struct fake_window {
	struct gpu3d_host_window ops;
	struct { uint64_t offset, size; void *host; } maps[MAX_WINDOW_MAPS];
	unsigned nr_maps;
	int fail_with;                   /* map's answer, when not 0 */
};

static int window_map(void *opaque, uint64_t offset, void *pages, uint64_t size)
{
	struct fake_window *w = opaque;

	if (w->fail_with)
		return w->fail_with;
	CHECK(w->nr_maps < MAX_WINDOW_MAPS);
	CHECK((uintptr_t)pages % PAGE == 0 && size % PAGE == 0 && offset % PAGE == 0);
	CHECK(offset + size <= WINDOW_SIZE);
	w->maps[w->nr_maps].offset = offset;
	w->maps[w->nr_maps].size = size;
	w->maps[w->nr_maps].host = pages;
	w->nr_maps++;
	return 0;
}

static void window_unmap(void *opaque, uint64_t offset, uint64_t size)
{
	struct fake_window *w = opaque;

	for (unsigned i = 0; i < w->nr_maps; i++)
		if (w->maps[i].offset == offset && w->maps[i].size == size) {
			w->maps[i] = w->maps[--w->nr_maps];
			return;
		}
	CHECK(!"unmap of something never mapped");
}

/* ---- the bench ---- */

#define MAX_COMPLETED 64

struct bench {
	struct guest_memory mem;
	struct gpu3d *g;
	struct display *display;         /* NULL: headless */
	struct fake_display seen;
	uint64_t completed[MAX_COMPLETED];
	unsigned nr_completed;
	uint8_t *req;
	uint8_t resp[GPU3D_MAX_RESPONSE];
	size_t resp_len;
	bool held;
	struct fake_window window;
};

static void on_complete(void *opaque, uint64_t token)
{
	struct bench *b = opaque;

	if (b->nr_completed < MAX_COMPLETED)
		b->completed[b->nr_completed] = token;
	b->nr_completed++;
}

/* NULL, or why the test is skipped. shown: with a display frames are
 * read back for. */
static const char *bench_start(struct bench *b, uint64_t cap, bool shown)
{
	struct gpu3d_config cfg = {
		.nr_outputs = 1, .width = 640, .height = 480, .max_host_memory = cap,
		.gl = gpu3d_gl_host_ops(), .complete = on_complete, .complete_opaque = b,
		.max_held = 16,
	};
	const char *why = egl_start();
	char err[160];

	memset(b, 0, sizeof(*b));
	if (why)
		return why;
	b->window.ops = (struct gpu3d_host_window){
		.size = WINDOW_SIZE, .map = window_map, .unmap = window_unmap, .opaque = &b->window,
	};
	cfg.window = &b->window.ops;
	CHECK_EQ(guest_memory_create(&b->mem, RAM_SIZE, false, err, sizeof(err)), 0);
	b->req = calloc(1, GPU3D_MAX_REQUEST);
	cfg.mem = &b->mem;
	cfg.gl_opaque = host;
	cfg.gles = gl_host_info(host)->gles;
	if (shown) {
		b->display = display_new(&fake_ops, &b->seen);
		CHECK(b->display != NULL);
		cfg.display = b->display;
		cfg.readback_gl = host;
	}
	if (gpu3d_create(&b->g, &cfg, err, sizeof(err)) < 0) {
		static char reason[200];

		snprintf(reason, sizeof(reason), "%s", err);
		display_free(b->display);
		guest_memory_destroy(&b->mem);
		free(b->req);
		return reason;
	}
	gpu3d_set_features(b->g, false, true, true);
	return NULL;
}

static void bench_stop(struct bench *b)
{
	gpu3d_destroy(b->g);
	display_free(b->display);
	guest_memory_destroy(&b->mem);
	free(b->req);
}

/* Sends the request built in b->req (len bytes); returns the response type. */
static uint32_t send_token(struct bench *b, enum gpu2d_queue q, size_t len, uint64_t token)
{
	struct virtio_gpu_ctrl_hdr hdr;

	b->resp_len = gpu3d_handle(b->g, q, b->req, len, b->resp, sizeof(b->resp), token,
				   &b->held);
	if (b->resp_len < sizeof(hdr))
		return 0;
	memcpy(&hdr, b->resp, sizeof(hdr));
	return le32toh(hdr.type);
}

static uint32_t send(struct bench *b, size_t len)
{
	return send_token(b, GPU2D_CONTROLQ, len, 0);
}

static void *request(struct bench *b, uint32_t type, uint32_t ctx_id, size_t len)
{
	struct virtio_gpu_ctrl_hdr *hdr = (void *)b->req;

	memset(b->req, 0, len);
	hdr->type = htole32(type);
	hdr->ctx_id = htole32(ctx_id);
	return b->req;
}

static uint32_t ctx_create(struct bench *b, uint32_t ctx_id, uint32_t capset)
{
	struct virtio_gpu_ctx_create *c = request(b, VIRTIO_GPU_CMD_CTX_CREATE, ctx_id, sizeof(*c));

	c->nlen = htole32(4);
	c->context_init = htole32(capset);
	memcpy(c->debug_name, "test", 4);
	return send(b, sizeof(*c));
}

static uint32_t ctx_destroy(struct bench *b, uint32_t ctx_id)
{
	request(b, VIRTIO_GPU_CMD_CTX_DESTROY, ctx_id, sizeof(struct virtio_gpu_ctx_destroy));
	return send(b, sizeof(struct virtio_gpu_ctx_destroy));
}

static uint32_t create_texture(struct bench *b, uint32_t id, uint32_t w, uint32_t h)
{
	struct virtio_gpu_resource_create_3d *c =
		request(b, VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, 0, sizeof(*c));

	c->resource_id = htole32(id);
	c->target = htole32(2);   /* PIPE_TEXTURE_2D */
	c->format = htole32(VIRGL_FORMAT_B8G8R8A8_UNORM);
	c->bind = htole32(VIRGL_BIND_SAMPLER_VIEW | VIRGL_BIND_RENDER_TARGET);
	c->width = htole32(w);
	c->height = htole32(h);
	c->depth = htole32(1);
	c->array_size = htole32(1);
	return send(b, sizeof(*c));
}

static uint32_t ctx_attach(struct bench *b, uint32_t ctx_id, uint32_t id)
{
	struct virtio_gpu_ctx_resource *cr =
		request(b, VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, ctx_id, sizeof(*cr));

	cr->resource_id = htole32(id);
	return send(b, sizeof(*cr));
}

static uint32_t attach(struct bench *b, uint32_t id, uint64_t gpa, uint32_t len)
{
	struct virtio_gpu_resource_attach_backing *a =
		request(b, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, 0, sizeof(*a) + 16);
	struct virtio_gpu_mem_entry e = { .addr = htole64(gpa), .length = htole32(len) };

	a->resource_id = htole32(id);
	a->nr_entries = htole32(1);
	memcpy(b->req + sizeof(*a), &e, sizeof(e));
	return send(b, sizeof(*a) + sizeof(e));
}

static uint32_t transfer(struct bench *b, uint32_t type, uint32_t ctx_id, uint32_t id)
{
	struct virtio_gpu_transfer_host_3d *t = request(b, type, ctx_id, sizeof(*t));

	t->resource_id = htole32(id);
	t->box.w = htole32(TEX_SIDE);
	t->box.h = htole32(TEX_SIDE);
	t->box.d = htole32(1);
	t->stride = htole32(TEX_SIDE * 4);
	return send(b, sizeof(*t));
}

static uint32_t submit(struct bench *b, uint32_t ctx_id, const uint32_t *dwords, uint32_t n)
{
	struct virtio_gpu_cmd_submit *s = request(b, VIRTIO_GPU_CMD_SUBMIT_3D, ctx_id,
						  sizeof(*s) + n * 4);

	s->size = htole32(n * 4);
	memcpy(b->req + sizeof(*s), dwords, n * 4);
	return send(b, sizeof(*s) + n * 4);
}

static void fill_pattern(struct bench *b, uint8_t seed)
{
	uint8_t *p = guest_memory_ptr(&b->mem, BACKING_GPA, TEX_BYTES);

	for (unsigned i = 0; i < TEX_BYTES; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

static bool pattern_is(struct bench *b, uint8_t seed)
{
	const uint8_t *p = guest_memory_ptr(&b->mem, BACKING_GPA, TEX_BYTES);

	for (unsigned i = 0; i < TEX_BYTES; i++)
		if (p[i] != (uint8_t)(i * 7 + seed))
			return false;
	return true;
}

#define START_SHOWN(b, cap, shown) do { \
	const char *why_ = bench_start((b), (cap), (shown)); \
	if (why_) \
		SKIP_TEST(why_); \
} while (0)
#define START(b, cap) START_SHOWN(b, cap, false)

/* ---- tests ---- */

/* Both virgl capsets are offered with the renderer's sizes; an index or
 * id beyond them, or a version above the maximum, is refused. */
static void test_capsets(void)
{
	struct bench b;
	struct virtio_gpu_get_capset_info *info;
	struct virtio_gpu_resp_capset_info ri;
	struct virtio_gpu_get_capset *get;
	uint32_t size2;

	START(&b, CAP);
	CHECK_EQ(gpu3d_num_capsets(b.g), 2);
	info = request(&b, VIRTIO_GPU_CMD_GET_CAPSET_INFO, 0, sizeof(*info));
	info->capset_index = htole32(1);
	CHECK_EQ(send(&b, sizeof(*info)), VIRTIO_GPU_RESP_OK_CAPSET_INFO);
	memcpy(&ri, b.resp, sizeof(ri));
	CHECK_EQ(le32toh(ri.capset_id), VIRTIO_GPU_CAPSET_VIRGL2);
	size2 = le32toh(ri.capset_max_size);
	CHECK(size2 > 0 && size2 <= GPU3D_MAX_CAPSET_SIZE);
	info->capset_index = htole32(2);
	CHECK_EQ(send(&b, sizeof(*info)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

	get = request(&b, VIRTIO_GPU_CMD_GET_CAPSET, 0, sizeof(*get));
	get->capset_id = htole32(VIRTIO_GPU_CAPSET_VIRGL2);
	get->capset_version = htole32(le32toh(ri.capset_max_version));
	CHECK_EQ(send(&b, sizeof(*get)), VIRTIO_GPU_RESP_OK_CAPSET);
	CHECK_EQ(b.resp_len, sizeof(struct virtio_gpu_ctrl_hdr) + size2);
	get->capset_version = htole32(le32toh(ri.capset_max_version) + 1);
	CHECK_EQ(send(&b, sizeof(*get)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	get->capset_id = htole32(CAPSET_VENUS);
	get->capset_version = 0;
	CHECK_EQ(send(&b, sizeof(*get)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(send(&b, 10), VIRTIO_GPU_RESP_ERR_UNSPEC);   /* no whole header */
	bench_stop(&b);
}

/* A request answered into no room at all, which may be no buffer: the
 * command still runs, and nothing is written. */
static void test_response_without_room(void)
{
	struct bench b;
	struct virtio_gpu_get_capset_info *info;

	START(&b, CAP);
	info = request(&b, VIRTIO_GPU_CMD_GET_CAPSET_INFO, 0, sizeof(*info));
	CHECK_EQ(gpu3d_handle(b.g, GPU2D_CONTROLQ, b.req, sizeof(*info), NULL, 0, 0, &b.held), 0);
	CHECK_EQ(gpu3d_handle(b.g, GPU2D_CONTROLQ, b.req, 4, NULL, 0, 0, &b.held), 0);
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	request(&b, VIRTIO_GPU_CMD_CTX_DESTROY, 1, sizeof(struct virtio_gpu_ctx_destroy));
	CHECK_EQ(gpu3d_handle(b.g, GPU2D_CONTROLQ, b.req, sizeof(struct virtio_gpu_ctx_destroy),
			      NULL, 0, 0, &b.held), 0);
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);   /* it did go */
	bench_stop(&b);
}

/* Contexts come and go by id; ids that are 0, too large, taken or
 * unknown, and capsets not offered, are refused. */
static void test_contexts(void)
{
	struct bench b;

	START(&b, CAP);
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(ctx_create(&b, 0, 0), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(ctx_create(&b, GPU3D_MAX_CONTEXTS + 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(ctx_create(&b, 2, VIRTIO_GPU_CAPSET_VIRGL2), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_create(&b, 3, CAPSET_VENUS), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(ctx_create(&b, 4, 0xff), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(ctx_destroy(&b, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_destroy(&b, 1), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(ctx_destroy(&b, 99999), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);   /* the id is free again */
	bench_stop(&b);
}

struct refusal_log {
	int lines;
	char first[256], last[256];
};

static void capture_refusals(void *ctx, enum log_level level, const char *line)
{
	struct refusal_log *l = ctx;

	(void)level;
	if (!strstr(line, "refused the guest's command"))
		return;
	if (!l->lines++)
		snprintf(l->first, sizeof(l->first), "%s", line);
	snprintf(l->last, sizeof(l->last), "%s", line);
}

/* A guest's refused commands are said, naming the command, its context
 * and the answer, but a guest that sends them in a loop gets one line,
 * not one per command; accepted commands say nothing. */
static void test_refusals_logged_once(void)
{
	struct refusal_log logged = { 0 };
	struct bench b;

	START(&b, CAP);
	log_set_sink(capture_refusals, &logged);
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(logged.lines, 0);
	for (int i = 0; i < 100; i++)
		CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(ctx_destroy(&b, 77), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	log_set_sink(NULL, NULL);
	CHECK_EQ(logged.lines, 1);
	CHECK(strstr(logged.first, "command 0x0200 (context 1) with 0x1204") != NULL);
	bench_stop(&b);
}

/* Guest bytes go to the host texture and come back unchanged. */
static void test_transfer_round_trip(void)
{
	struct bench b;

	START(&b, CAP);
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_texture(&b, 5, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(transfer(&b, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, 1, 5),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);   /* no backing yet */
	CHECK_EQ(ctx_attach(&b, 1, 5), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_attach(&b, 1, 6), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(ctx_attach(&b, 3, 5), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(attach(&b, 5, BACKING_GPA, TEX_BYTES), VIRTIO_GPU_RESP_OK_NODATA);
	fill_pattern(&b, 3);
	CHECK_EQ(transfer(&b, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, 1, 5), VIRTIO_GPU_RESP_OK_NODATA);
	memset(guest_memory_ptr(&b.mem, BACKING_GPA, TEX_BYTES), 0, TEX_BYTES);
	CHECK_EQ(transfer(&b, VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, 1, 5),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(pattern_is(&b, 3));
	bench_stop(&b);
}

/* A valid stream (an inline write into the texture) is run; a garbage
 * one is that context's error, and gvmm and another context go on. */
static void test_submit(void)
{
	struct bench b;
	uint32_t write[12 + 4] = {
		CCMD_HEADER(CCMD_RESOURCE_INLINE_WRITE, 11 + 4), 5, 0, 0, TEX_SIDE * 4, 0,
		0, 0, 0, 4, 1, 1, 0x11223344, 0x55667788, 0x99aabbcc, 0xddeeff00,
	};
	uint32_t garbage[8] = { 0xffffffff, 0xdeadbeef, 0x7fff0001, 1, 2, 3, 4, 5 };
	const uint32_t *p;

	START(&b, CAP);
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_create(&b, 2, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_texture(&b, 5, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(attach(&b, 5, BACKING_GPA, TEX_BYTES), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_attach(&b, 2, 5), VIRTIO_GPU_RESP_OK_NODATA);

	CHECK(submit(&b, 1, garbage, 8) != VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(submit(&b, 2, write, 16), VIRTIO_GPU_RESP_OK_NODATA);
	memset(guest_memory_ptr(&b.mem, BACKING_GPA, TEX_BYTES), 0, TEX_BYTES);
	CHECK_EQ(transfer(&b, VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, 2, 5),
		 VIRTIO_GPU_RESP_OK_NODATA);
	p = guest_memory_ptr(&b.mem, BACKING_GPA, 16);
	CHECK_EQ(p[0], 0x11223344);
	CHECK_EQ(p[3], 0xddeeff00);

	/* Hostile sizes: beyond the request, beyond the cap, not dwords. */
	struct virtio_gpu_cmd_submit *s = request(&b, VIRTIO_GPU_CMD_SUBMIT_3D, 2, sizeof(*s));
	s->size = htole32(64);
	CHECK_EQ(send(&b, sizeof(*s) + 8), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	s->size = htole32(GPU3D_MAX_SUBMIT + 4);
	CHECK_EQ(send(&b, GPU3D_MAX_REQUEST), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	s->size = htole32(6);
	CHECK_EQ(send(&b, sizeof(*s) + 8), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(submit(&b, 77, write, 16), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	bench_stop(&b);
}

static uint32_t fenced_nop(struct bench *b, uint32_t ctx_id, uint64_t fence, bool ring,
			   uint8_t ring_idx, uint64_t token)
{
	struct virtio_gpu_cmd_submit *s = request(b, VIRTIO_GPU_CMD_SUBMIT_3D, ctx_id, sizeof(*s));

	s->hdr.flags = htole32(VIRTIO_GPU_FLAG_FENCE | (ring ? VIRTIO_GPU_FLAG_INFO_RING_IDX : 0));
	s->hdr.fence_id = htole64(fence);
	s->hdr.ring_idx = ring_idx;
	return send_token(b, GPU2D_CONTROLQ, sizeof(*s), token);
}

static void poll_until(struct bench *b, unsigned completed)
{
	for (int i = 0; i < 2000 && b->nr_completed < completed; i++) {
		gpu3d_poll(b->g);
		if (b->nr_completed < completed)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
}

/* Fenced requests are held until the renderer signals, then complete in
 * fence order per ring; a failed fenced request is answered at once. */
static void test_fences(void)
{
	struct bench b;

	START(&b, CAP);
	CHECK_EQ(ctx_create(&b, 1, VIRTIO_GPU_CAPSET_VIRGL2), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(fenced_nop(&b, 1, 10, false, 0, 100), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(b.held);
	CHECK_EQ(fenced_nop(&b, 1, 5, true, 0, 101), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(b.held);
	CHECK_EQ(fenced_nop(&b, 1, 11, false, 0, 102), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(b.held);
	/* The response carries the fence back. */
	struct virtio_gpu_ctrl_hdr hdr;
	memcpy(&hdr, b.resp, sizeof(hdr));
	CHECK_EQ(le64toh(hdr.fence_id), 11);
	CHECK(le32toh(hdr.flags) & VIRTIO_GPU_FLAG_FENCE);
	CHECK_EQ(b.nr_completed, 0);   /* nothing before the renderer says so */
	CHECK_EQ(gpu3d_pending(b.g), 3);
	poll_until(&b, 3);
	CHECK_EQ(b.nr_completed, 3);
	CHECK_EQ(gpu3d_pending(b.g), 0);
	/* The global ring in order: 100 before 102. */
	unsigned at100 = 9, at102 = 9;
	for (unsigned i = 0; i < 3 && i < b.nr_completed; i++) {
		if (b.completed[i] == 100)
			at100 = i;
		if (b.completed[i] == 102)
			at102 = i;
	}
	CHECK(at100 < at102 && at102 < 3);

	/* virgl contexts have one ring: a fence on another is answered at
	 * once, unfenced, rather than held forever. */
	CHECK_EQ(fenced_nop(&b, 1, 6, true, 5, 104), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(!b.held);
	/* A fence on an unknown context's ring: the command fails, no hold. */
	CHECK_EQ(fenced_nop(&b, 9, 12, true, 0, 103), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK(!b.held);
	bench_stop(&b);
}

/* A reset drops held requests without completing them; a destroyed
 * context's held requests complete. */
static void test_reset_and_destroy_with_fences(void)
{
	struct bench b;

	START(&b, CAP);
	CHECK_EQ(ctx_create(&b, 1, VIRTIO_GPU_CAPSET_VIRGL2), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(fenced_nop(&b, 1, 1, true, 0, 200), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(fenced_nop(&b, 1, 2, false, 0, 201), VIRTIO_GPU_RESP_OK_NODATA);
	gpu3d_reset(b.g);
	CHECK_EQ(gpu3d_pending(b.g), 0);
	CHECK_EQ(b.nr_completed, 0);
	gpu3d_poll(b.g);
	gpu3d_set_features(b.g, false, true, true);
	CHECK_EQ(ctx_create(&b, 1, VIRTIO_GPU_CAPSET_VIRGL2), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(fenced_nop(&b, 1, 3, true, 0, 300), VIRTIO_GPU_RESP_OK_NODATA);
	if (b.nr_completed == 0) {
		CHECK_EQ(ctx_destroy(&b, 1), VIRTIO_GPU_RESP_OK_NODATA);
		CHECK_EQ(b.nr_completed, 1);
		CHECK_EQ(b.completed[0], 300);
	}
	bench_stop(&b);
}

/* Hostile resources: ids, sizes, backing outside RAM, too many entries,
 * backing twice, unknown ids everywhere. */
static void test_hostile_resources(void)
{
	struct bench b;
	struct virtio_gpu_resource_create_3d *c;
	struct virtio_gpu_resource_attach_backing *a;

	START(&b, CAP);
	CHECK_EQ(create_texture(&b, 0, 16, 16), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(create_texture(&b, 7, 16, 16), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_texture(&b, 7, 16, 16), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(create_texture(&b, 8, 0, 16), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_texture(&b, 8, 100000, 16), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	c = request(&b, VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, 0, sizeof(*c));
	c->resource_id = htole32(8);
	c->target = htole32(99);
	c->format = htole32(1);
	c->width = c->height = c->depth = c->array_size = htole32(1);
	CHECK_EQ(send(&b, sizeof(*c)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	c->target = htole32(2);
	c->format = htole32(0xffff);
	CHECK_EQ(send(&b, sizeof(*c)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Bind bits are the renderer's to judge (Mesa and minigbm use more
	 * every release): what the guest's GBM asks for a buffer it scans
	 * out, and a staging buffer as weston's uploads use, are fine. */
	c->resource_id = htole32(9);
	c->format = htole32(VIRGL_FORMAT_B8G8R8X8_UNORM);
	c->bind = htole32(VIRGL_BIND_RENDER_TARGET | VIRGL_BIND_SAMPLER_VIEW |
			  VIRGL_BIND_SCANOUT | VIRGL_BIND_SHARED);
	CHECK_EQ(send(&b, sizeof(*c)), VIRTIO_GPU_RESP_OK_NODATA);
	c->resource_id = htole32(10);
	c->target = htole32(0);          /* PIPE_BUFFER */
	c->format = htole32(64);         /* VIRGL_FORMAT_R8_UNORM */
	c->width = htole32(4096);
	c->bind = htole32(VIRGL_BIND_STAGING);
	CHECK_EQ(send(&b, sizeof(*c)), VIRTIO_GPU_RESP_OK_NODATA);
	c->target = htole32(2);
	c->width = htole32(1);
	c->resource_id = htole32(8);
	c->format = htole32(1);
	c->bind = htole32(1u << 31);
	CHECK_EQ(send(&b, sizeof(*c) - 4), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

	CHECK_EQ(attach(&b, 7, RAM_SIZE + 4096, 4096), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(&b, 7, BACKING_GPA, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(&b, 99, BACKING_GPA, 4096), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	a = request(&b, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, 0, sizeof(*a));
	a->resource_id = htole32(7);
	a->nr_entries = htole32(GPU2D_MAX_BACKING_ENTRIES + 1);
	CHECK_EQ(send(&b, GPU3D_MAX_REQUEST), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	a->nr_entries = htole32(1000);   /* more than the request holds */
	CHECK_EQ(send(&b, sizeof(*a) + 16), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(&b, 7, BACKING_GPA, 4096), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(attach(&b, 7, BACKING_GPA, 4096), VIRTIO_GPU_RESP_ERR_UNSPEC);

	request(&b, VIRTIO_GPU_CMD_RESOURCE_UNREF, 0, sizeof(struct virtio_gpu_resource_unref));
	((struct virtio_gpu_resource_unref *)b.req)->resource_id = htole32(12345);
	CHECK_EQ(send(&b, sizeof(struct virtio_gpu_resource_unref)),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	((struct virtio_gpu_resource_unref *)b.req)->resource_id = htole32(7);
	CHECK_EQ(send(&b, sizeof(struct virtio_gpu_resource_unref)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(transfer(&b, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, 0, 7),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	request(&b, 0x7777, 0, 64);
	CHECK_EQ(send(&b, 64), VIRTIO_GPU_RESP_ERR_UNSPEC);
	bench_stop(&b);
}

/* Resources beyond max-memory get OUT_OF_MEMORY; freeing gives it back. */
static void test_memory_cap(void)
{
	struct bench b;
	unsigned made = 0;

	START(&b, 16ull << 20);
	/* 1024 x 1024 x 4 bytes and a little estimated each: a 16 MiB cap
	 * holds three. */
	for (uint32_t id = 1; id <= 20; id++)
		if (create_texture(&b, id, 1024, 1024) == VIRTIO_GPU_RESP_OK_NODATA)
			made++;
	CHECK_EQ(made, 3);
	CHECK_EQ(create_texture(&b, 50, 1024, 1024), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	request(&b, VIRTIO_GPU_CMD_RESOURCE_UNREF, 0, sizeof(struct virtio_gpu_resource_unref));
	((struct virtio_gpu_resource_unref *)b.req)->resource_id = htole32(1);
	CHECK_EQ(send(&b, sizeof(struct virtio_gpu_resource_unref)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_texture(&b, 50, 1024, 1024), VIRTIO_GPU_RESP_OK_NODATA);
	bench_stop(&b);
}

/* ---- frames read back for viewers ---- */

#define SCANOUT_ID 0

static uint32_t set_scanout(struct bench *b, uint32_t id, uint32_t x, uint32_t y, uint32_t w,
			    uint32_t h)
{
	struct virtio_gpu_set_scanout *c = request(b, VIRTIO_GPU_CMD_SET_SCANOUT, 0, sizeof(*c));

	c->scanout_id = htole32(SCANOUT_ID);
	c->resource_id = htole32(id);
	c->r = (struct virtio_gpu_rect){
		.x = htole32(x), .y = htole32(y), .width = htole32(w), .height = htole32(h),
	};
	return send(b, sizeof(*c));
}

static uint32_t flush(struct bench *b, uint32_t id, uint32_t x, uint32_t y, uint32_t w,
		      uint32_t h)
{
	struct virtio_gpu_resource_flush *c =
		request(b, VIRTIO_GPU_CMD_RESOURCE_FLUSH, 0, sizeof(*c));

	c->resource_id = htole32(id);
	c->r = (struct virtio_gpu_rect){
		.x = htole32(x), .y = htole32(y), .width = htole32(w), .height = htole32(h),
	};
	return send(b, sizeof(*c));
}

static uint32_t unref(struct bench *b, uint32_t id)
{
	struct virtio_gpu_resource_unref *c =
		request(b, VIRTIO_GPU_CMD_RESOURCE_UNREF, 0, sizeof(*c));

	c->resource_id = htole32(id);
	return send(b, sizeof(*c));
}

/* Polls, as the device's timer does, until the display got `updates`
 * frames or a second passed. */
static void poll_until_shown(struct bench *b, unsigned updates)
{
	for (int ms = 0; ms < 1000 && b->seen.updates < updates; ms++) {
		gpu3d_poll(b->g);
		if (b->seen.updates < updates)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
}

/* A texture resource filled from guest RAM with the pattern; 3D ones keep
 * GL's bottom-up rows, the 2D command's are top-down (Y_0_TOP). */
static void make_shown_texture(struct bench *b, uint32_t id, bool through_2d)
{
	if (through_2d) {
		struct virtio_gpu_resource_create_2d *c =
			request(b, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 0, sizeof(*c));
		struct virtio_gpu_transfer_to_host_2d *t;

		c->resource_id = htole32(id);
		c->format = htole32(VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM);
		c->width = c->height = htole32(TEX_SIDE);
		CHECK_EQ(send(b, sizeof(*c)), VIRTIO_GPU_RESP_OK_NODATA);
		CHECK_EQ(attach(b, id, BACKING_GPA, TEX_BYTES), VIRTIO_GPU_RESP_OK_NODATA);
		fill_pattern(b, 11);
		t = request(b, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 0, sizeof(*t));
		t->resource_id = htole32(id);
		t->r.width = t->r.height = htole32(TEX_SIDE);
		CHECK_EQ(send(b, sizeof(*t)), VIRTIO_GPU_RESP_OK_NODATA);
		return;
	}
	CHECK_EQ(ctx_create(b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_texture(b, id, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_attach(b, 1, id), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(attach(b, id, BACKING_GPA, TEX_BYTES), VIRTIO_GPU_RESP_OK_NODATA);
	fill_pattern(b, 11);
	CHECK_EQ(transfer(b, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, 1, id), VIRTIO_GPU_RESP_OK_NODATA);
}

/* Whether the last update holds the resource's pixels of its rect moved
 * by (dx, dy), the image's top row first: a top-down resource's row y is
 * the guest's row y, a bottom-up one's the guest's row TEX_SIDE-1-y. */
static bool update_shows(struct bench *b, uint32_t dx, uint32_t dy)
{
	const uint8_t *guest = guest_memory_ptr(&b->mem, BACKING_GPA, TEX_BYTES);
	const struct display_rect *r = &b->seen.rect;

	if (b->seen.too_large)
		return false;
	for (uint32_t y = 0; y < r->height; y++) {
		uint32_t image_y = r->y + dy + y;
		uint32_t guest_y = image_y;
		const uint8_t *want = guest + ((size_t)guest_y * TEX_SIDE + r->x + dx) * 4;

		if (memcmp(b->seen.pixels + (size_t)y * r->width * 4, want, (size_t)r->width * 4))
			return false;
	}
	return true;
}

static bool rect_is(const struct display_rect *r, uint32_t x, uint32_t y, uint32_t w,
		    uint32_t h)
{
	return r->x == x && r->y == y && r->width == w && r->height == h;
}

/* A flush is read back without waiting and shown once polled, the top
 * row first; later flushes show only their rectangle, clipped to the
 * resource. The guest's rows, top row first, are what a viewer sees, for
 * a 2D resource (a dumb buffer, fbcon's) and a 3D one (a GBM buffer the
 * guest's GL rendered into the way KMS scans it out) alike. */
static bool rows_shown(struct bench *b)
{
	return update_shows(b, 0, 0);
}

static void check_flushes_shown(bool through_2d)
{
	struct bench b;

	START_SHOWN(&b, CAP, true);
	b.seen.viewers = true;
	make_shown_texture(&b, 5, through_2d);
	CHECK_EQ(set_scanout(&b, 5, 0, 0, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);

	CHECK_EQ(flush(&b, 5, 0, 0, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b.seen.updates, 0);          /* nothing before a poll */
	CHECK_EQ(gpu3d_pending(b.g), 1);      /* so the device's timer runs */
	poll_until_shown(&b, 1);
	CHECK_EQ(b.seen.updates, 1);
	CHECK(rect_is(&b.seen.rect, 0, 0, TEX_SIDE, TEX_SIDE));
	CHECK(rows_shown(&b));
	CHECK_EQ(gpu3d_pending(b.g), 0);

	CHECK_EQ(flush(&b, 5, 2, 3, 5, 4), VIRTIO_GPU_RESP_OK_NODATA);
	poll_until_shown(&b, 2);
	CHECK_EQ(b.seen.updates, 2);
	CHECK(rect_is(&b.seen.rect, 2, 3, 5, 4));
	CHECK(rows_shown(&b));

	/* The guest's rectangle runs far beyond the resource. */
	CHECK_EQ(flush(&b, 5, 10, 12, 0xfffffff0u, 1000), VIRTIO_GPU_RESP_OK_NODATA);
	poll_until_shown(&b, 3);
	CHECK_EQ(b.seen.updates, 3);
	CHECK(rect_is(&b.seen.rect, 10, 12, TEX_SIDE - 10, TEX_SIDE - 12));
	CHECK(rows_shown(&b));
	bench_stop(&b);
}

static void test_flush_of_3d_resource_shown(void)
{
	check_flushes_shown(false);
}

static void test_flush_of_2d_resource_shown(void)
{
	check_flushes_shown(true);
}

/* Resource 5, a 3D texture with the pattern, shown whole. */
static void show_texture(struct bench *b)
{
	make_shown_texture(b, 5, false);
	CHECK_EQ(set_scanout(b, 5, 0, 0, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
}

/* Polls as the device would for a while: nothing may reach the display. */
static void check_nothing_shown(struct bench *b)
{
	CHECK_EQ(gpu3d_pending(b->g), 0);
	for (int i = 0; i < 20; i++)
		gpu3d_poll(b->g);
	CHECK_EQ(b->seen.updates, 0);
}

/* A scanout of part of the resource: updates are in the output's
 * coordinates, and only what the scanout shows is read. */
static void test_flush_of_scanout_part(void)
{
	struct bench b;

	START_SHOWN(&b, CAP, true);
	b.seen.viewers = true;
	make_shown_texture(&b, 5, false);
	/* Clipped to the resource: 12 x 14 from (4, 2). */
	CHECK_EQ(set_scanout(&b, 5, 4, 2, 100, 100), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flush(&b, 5, 0, 0, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	poll_until_shown(&b, 1);
	CHECK_EQ(b.seen.updates, 1);
	CHECK(rect_is(&b.seen.rect, 0, 0, TEX_SIDE - 4, TEX_SIDE - 2));
	CHECK(update_shows(&b, 4, 2));
	/* Partly outside the scanout: only the part inside. */
	CHECK_EQ(flush(&b, 5, 0, 0, 6, 5), VIRTIO_GPU_RESP_OK_NODATA);
	poll_until_shown(&b, 2);
	CHECK_EQ(b.seen.updates, 2);
	CHECK(rect_is(&b.seen.rect, 0, 0, 2, 3));
	CHECK(update_shows(&b, 4, 2));
	/* Wholly outside it: nothing read. */
	CHECK_EQ(flush(&b, 5, 0, 0, 4, 16), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(gpu3d_pending(b.g), 0);
	bench_stop(&b);
}

/* Two flushes before the first is shown: one update, of both rectangles
 * (nothing lost to the coalescing). */
static void test_flushes_coalesce(void)
{
	struct bench b;

	START_SHOWN(&b, CAP, true);
	b.seen.viewers = true;
	show_texture(&b);
	CHECK_EQ(flush(&b, 5, 0, 0, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	poll_until_shown(&b, 1);
	CHECK_EQ(flush(&b, 5, 1, 2, 2, 2), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flush(&b, 5, 9, 10, 3, 3), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(gpu3d_pending(b.g), 1);
	poll_until_shown(&b, 2);
	for (int i = 0; i < 20; i++)
		gpu3d_poll(b.g);
	CHECK_EQ(b.seen.updates, 2);
	CHECK(rect_is(&b.seen.rect, 1, 2, 11, 11));
	CHECK(update_shows(&b, 0, 0));
	bench_stop(&b);
}

/* Without viewers nothing is read back; the first flush once one is
 * there shows the whole scanout, whatever rectangle it names. */
static void test_flush_without_viewers(void)
{
	struct bench b;

	START_SHOWN(&b, CAP, true);
	show_texture(&b);
	CHECK_EQ(flush(&b, 5, 0, 0, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	check_nothing_shown(&b);

	b.seen.viewers = true;
	CHECK_EQ(flush(&b, 5, 3, 3, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	poll_until_shown(&b, 1);
	CHECK_EQ(b.seen.updates, 1);
	CHECK(rect_is(&b.seen.rect, 0, 0, TEX_SIDE, TEX_SIDE));
	CHECK(update_shows(&b, 0, 0));
	CHECK_EQ(flush(&b, 5, 3, 3, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	poll_until_shown(&b, 2);
	CHECK(rect_is(&b.seen.rect, 3, 3, 1, 1));
	bench_stop(&b);
}

/* A viewer that comes to a picture the guest no longer flushes gets it
 * all the same (the guest holds a finished frame; nobody watched it). */
static void test_viewer_arrival_shows_the_picture(void)
{
	struct bench b;

	START_SHOWN(&b, CAP, true);
	show_texture(&b);
	CHECK_EQ(flush(&b, 5, 0, 0, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	gpu3d_show_again(b.g);           /* still nobody: nothing read */
	check_nothing_shown(&b);
	b.seen.viewers = true;
	gpu3d_show_again(b.g);
	CHECK_EQ(gpu3d_pending(b.g), 1);
	poll_until_shown(&b, 1);
	CHECK(rect_is(&b.seen.rect, 0, 0, TEX_SIDE, TEX_SIDE));
	CHECK(update_shows(&b, 0, 0));
	bench_stop(&b);
}

/* The shown resource goes, or the device resets, while its frame is in
 * flight: the readback is dropped, nothing shown, nothing left pending. */
static void test_readback_dropped_with_its_resource(void)
{
	struct bench b;

	START_SHOWN(&b, CAP, true);
	b.seen.viewers = true;
	show_texture(&b);
	CHECK_EQ(flush(&b, 5, 0, 0, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(unref(&b, 5), VIRTIO_GPU_RESP_OK_NODATA);
	check_nothing_shown(&b);

	CHECK_EQ(create_texture(&b, 6, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(set_scanout(&b, 6, 0, 0, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flush(&b, 6, 0, 0, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	gpu3d_reset(b.g);
	check_nothing_shown(&b);
	bench_stop(&b);
}

/* The readback's buffers are charged with the output: a cap that holds
 * the resource but not three more frames of the scanout refuses it. */
static void test_readback_charged(void)
{
	struct bench b;

	START_SHOWN(&b, 16ull << 20, true);
	/* 1024 x 1024: 4 MiB and a little; the readback three times that. */
	CHECK_EQ(create_texture(&b, 1, 1024, 1024), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(set_scanout(&b, 1, 0, 0, 1024, 1024), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	CHECK_EQ(set_scanout(&b, 1, 0, 0, 512, 512), VIRTIO_GPU_RESP_OK_NODATA);
	bench_stop(&b);
}

/* ---- blobs ---- */

static uint32_t create_blob(struct bench *b, uint32_t id, uint32_t ctx_id, uint32_t blob_mem,
			    uint32_t flags, uint64_t blob_id, uint64_t size, uint32_t nr_entries,
			    uint64_t gpa, uint32_t entry_len)
{
	struct virtio_gpu_resource_create_blob *c =
		request(b, VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB, ctx_id, sizeof(*c) + 16);
	struct virtio_gpu_mem_entry e = { .addr = htole64(gpa), .length = htole32(entry_len) };

	c->resource_id = htole32(id);
	c->blob_mem = htole32(blob_mem);
	c->blob_flags = htole32(flags);
	c->blob_id = htole64(blob_id);
	c->size = htole64(size);
	c->nr_entries = htole32(nr_entries);
	memcpy(b->req + sizeof(*c), &e, sizeof(e));
	return send(b, sizeof(*c) + (nr_entries ? sizeof(e) : 0));
}

static uint32_t map_blob(struct bench *b, uint32_t id, uint64_t offset)
{
	struct virtio_gpu_resource_map_blob *m =
		request(b, VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB, 0, sizeof(*m));

	m->resource_id = htole32(id);
	m->offset = htole64(offset);
	return send(b, sizeof(*m));
}

static uint32_t unmap_blob(struct bench *b, uint32_t id)
{
	struct virtio_gpu_resource_unmap_blob *m =
		request(b, VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB, 0, sizeof(*m));

	m->resource_id = htole32(id);
	return send(b, sizeof(*m));
}

/* A pipe resource made in ctx_id's command stream, for a host3d blob. */
static uint32_t pipe_resource(struct bench *b, uint32_t ctx_id, uint32_t blob_id,
			      uint32_t target, uint32_t format, uint32_t bind, uint32_t width,
			      uint32_t height, uint32_t flags)
{
	uint32_t cmd[1 + PIPE_RES_CREATE_LEN] = {
		CCMD_HEADER(CCMD_PIPE_RESOURCE_CREATE, PIPE_RES_CREATE_LEN),
		target, format, bind, width, height, 1, 1, 0, 0, flags, blob_id,
	};

	return submit(b, ctx_id, cmd, 1 + PIPE_RES_CREATE_LEN);
}

/* Not negotiated: every blob command is refused. */
static void test_blob_not_negotiated(void)
{
	struct bench b;

	START(&b, CAP);
	gpu3d_set_features(b.g, false, true, false);
	CHECK(gpu3d_offers_blob(b.g));
	CHECK_EQ(create_blob(&b, 1, 0, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, PAGE, 1, BACKING_GPA, PAGE),
		 VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(map_blob(&b, 1, 0), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(unmap_blob(&b, 1), VIRTIO_GPU_RESP_ERR_UNSPEC);
	bench_stop(&b);
}

/* Guest blobs: the guest's pages, checked as backing is; every hostile
 * field refused; nothing to map; the charge comes back with it. */
static void test_guest_blob(void)
{
	struct bench b;
	uint64_t before;
	struct virtio_gpu_resource_create_blob *c;

	START(&b, CAP);
	before = gpu3d_host_memory(b.g);
	CHECK_EQ(create_blob(&b, 0, 0, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, PAGE, 1, BACKING_GPA, PAGE),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(create_blob(&b, 1, 0, 0, 0, 0, PAGE, 1, BACKING_GPA, PAGE),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_blob(&b, 1, 0, 5, 0, 0, PAGE, 1, BACKING_GPA, PAGE),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_blob(&b, 1, 0, VIRTIO_GPU_BLOB_MEM_GUEST, 8, 0, PAGE, 1, BACKING_GPA, PAGE),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_blob(&b, 1, 0, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, 0, 1, BACKING_GPA, PAGE),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_blob(&b, 1, 0, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, CAP + 1, 1, BACKING_GPA,
			     PAGE), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_blob(&b, 1, 0, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, PAGE, 0, 0, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_blob(&b, 1, 0, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, PAGE, 1, RAM_SIZE, PAGE),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Entries that do not cover the size, or more than the request holds. */
	CHECK_EQ(create_blob(&b, 1, 0, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, 2 * PAGE, 1, BACKING_GPA,
			     PAGE), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_blob(&b, 1, 0, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, PAGE, 2, BACKING_GPA, PAGE),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	c = (void *)b.req;
	c->nr_entries = htole32(0xffffffff);
	CHECK_EQ(send(&b, GPU3D_MAX_REQUEST), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(gpu3d_host_memory(b.g), before);

	CHECK_EQ(create_blob(&b, 1, 0, VIRTIO_GPU_BLOB_MEM_GUEST, VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE,
			     0, PAGE, 1, BACKING_GPA, PAGE), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(gpu3d_host_memory(b.g) > before);
	CHECK_EQ(create_blob(&b, 1, 0, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, PAGE, 1, BACKING_GPA, PAGE),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* The guest maps its own pages itself. */
	CHECK_EQ(map_blob(&b, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(unmap_blob(&b, 1), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(map_blob(&b, 2, 0), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* Host memory belongs to a context. */
	CHECK_EQ(create_blob(&b, 2, 0, VIRTIO_GPU_BLOB_MEM_HOST3D, 0, 1, PAGE, 0, 0, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(create_blob(&b, 2, 9, VIRTIO_GPU_BLOB_MEM_HOST3D, 0, 1, PAGE, 0, 0, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(unref(&b, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(gpu3d_host_memory(b.g), before);
	bench_stop(&b);
}

/* A host3d blob of a pipe resource the stream made: a blob id nobody
 * made, or entries with it, are refused; it is charged its size. */
static void test_host3d_blob(void)
{
	struct bench b;
	uint64_t before;

	START(&b, CAP);
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	before = gpu3d_host_memory(b.g);
	CHECK_EQ(pipe_resource(&b, 1, 7, 0, VIRGL_FORMAT_R8_UNORM, VIRGL_BIND_VERTEX_BUFFER,
			       16 * PAGE, 1, VIRGL_RESOURCE_FLAG_MAP_PERSISTENT |
			       VIRGL_RESOURCE_FLAG_MAP_COHERENT), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_blob(&b, 3, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE,
			     8, 16 * PAGE, 0, 0, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_blob(&b, 3, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE,
			     7, 16 * PAGE, 1, BACKING_GPA, PAGE), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_blob(&b, 3, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE,
			     7, 16 * PAGE, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(gpu3d_host_memory(b.g) >= before + 16 * PAGE);
	CHECK_EQ(unref(&b, 3), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(gpu3d_host_memory(b.g), before);
	bench_stop(&b);
}

/* Pipe resources a stream makes are charged before it runs; those no
 * blob claims go with their context (the renderer would keep them
 * forever), so a loop of contexts each making one holds nothing; a
 * claimed one is charged once. */
static void test_unclaimed_pipe_resources(void)
{
	struct bench b;
	uint64_t idle, with_context;

	START(&b, CAP);
	gpu3d_set_features(b.g, false, true, true);
	idle = gpu3d_host_memory(b.g);
	for (unsigned round = 0; round < 8; round++) {
		CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
		with_context = gpu3d_host_memory(b.g);
		CHECK_EQ(pipe_resource(&b, 1, 7, 0, VIRGL_FORMAT_R8_UNORM, VIRGL_BIND_VERTEX_BUFFER,
				       CAP / 4 * 3, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
		CHECK(gpu3d_host_memory(b.g) >= with_context + CAP / 4 * 3);
		/* Next to it a second is refused before the renderer sees it. */
		CHECK_EQ(pipe_resource(&b, 1, 8, 0, VIRGL_FORMAT_R8_UNORM, VIRGL_BIND_VERTEX_BUFFER,
				       CAP / 2, 1, 0), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
		CHECK_EQ(ctx_destroy(&b, 1), VIRTIO_GPU_RESP_OK_NODATA);
		CHECK_EQ(gpu3d_host_memory(b.g), idle);
	}
	/* A record whose sizes no driver sends: the stream is refused. */
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	with_context = gpu3d_host_memory(b.g);
	CHECK_EQ(pipe_resource(&b, 1, 7, 0, VIRGL_FORMAT_R8_UNORM, VIRGL_BIND_VERTEX_BUFFER,
			       0, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(gpu3d_host_memory(b.g), with_context);
	/* Claimed by a blob: one charge, not two; it goes with the blob. */
	CHECK_EQ(pipe_resource(&b, 1, 9, 0, VIRGL_FORMAT_R8_UNORM, VIRGL_BIND_VERTEX_BUFFER,
			       CAP / 2, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_blob(&b, 3, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, 0, 9, CAP / 2, 0, 0, 0),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(gpu3d_host_memory(b.g) >= with_context + CAP / 2);
	CHECK(gpu3d_host_memory(b.g) < with_context + CAP / 2 + CAP / 8);
	CHECK_EQ(unref(&b, 3), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(gpu3d_host_memory(b.g), with_context);
	/* A reset frees what the streams left unclaimed too. */
	CHECK_EQ(pipe_resource(&b, 1, 10, 0, VIRGL_FORMAT_R8_UNORM, VIRGL_BIND_VERTEX_BUFFER,
			       CAP / 2, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	gpu3d_reset(b.g);
	CHECK_EQ(gpu3d_host_memory(b.g), idle);
	bench_stop(&b);
}

/* Mapping into the window: offsets outside it, unaligned or over another
 * mapping are refused; a map of a mapped blob and an unmap of an
 * unmapped one are errors; unref and reset take mappings out. Where the
 * renderer's memory is not whole host pages (llvmpipe mallocs buffers),
 * every map is refused and nothing reaches the window. */
static void test_map_blob(void)
{
	struct bench b;
	struct virtio_gpu_resp_map_info info;
	uint32_t first;

	START(&b, CAP);
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	for (uint32_t id = 3; id <= 4; id++) {
		CHECK_EQ(pipe_resource(&b, 1, id, 0, VIRGL_FORMAT_R8_UNORM, VIRGL_BIND_VERTEX_BUFFER,
				       16 * PAGE, 1, VIRGL_RESOURCE_FLAG_MAP_PERSISTENT |
				       VIRGL_RESOURCE_FLAG_MAP_COHERENT), VIRTIO_GPU_RESP_OK_NODATA);
		CHECK_EQ(create_blob(&b, id, 1, VIRTIO_GPU_BLOB_MEM_HOST3D,
				     VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE, id, 16 * PAGE, 0, 0, 0),
			 VIRTIO_GPU_RESP_OK_NODATA);
	}
	CHECK_EQ(unmap_blob(&b, 3), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(map_blob(&b, 3, WINDOW_SIZE), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(map_blob(&b, 3, WINDOW_SIZE - PAGE), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(map_blob(&b, 3, 100), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(map_blob(&b, 3, UINT64_MAX - PAGE + 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(b.window.nr_maps, 0);
	first = map_blob(&b, 3, 0);
	if (first == VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER) {
		CHECK_EQ(b.window.nr_maps, 0);
		bench_stop(&b);
		SKIP_TEST("the renderer's blob memory is not whole host pages here (llvmpipe)");
	}
	CHECK_EQ(first, VIRTIO_GPU_RESP_OK_MAP_INFO);
	memcpy(&info, b.resp, sizeof(info));
	CHECK(le32toh(info.map_info) != VIRTIO_GPU_MAP_CACHE_NONE);
	CHECK_EQ(b.window.nr_maps, 1);
	CHECK_EQ(map_blob(&b, 3, 32 * PAGE), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(map_blob(&b, 4, 8 * PAGE), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(map_blob(&b, 4, 16 * PAGE), VIRTIO_GPU_RESP_OK_MAP_INFO);
	CHECK_EQ(unmap_blob(&b, 3), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(unmap_blob(&b, 3), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(b.window.nr_maps, 1);
	CHECK_EQ(map_blob(&b, 3, 0), VIRTIO_GPU_RESP_OK_MAP_INFO);
	CHECK_EQ(unref(&b, 3), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b.window.nr_maps, 1);
	b.window.fail_with = -ENOSPC;
	CHECK_EQ(unmap_blob(&b, 4), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(map_blob(&b, 4, 0), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	b.window.fail_with = 0;
	CHECK_EQ(map_blob(&b, 4, 0), VIRTIO_GPU_RESP_OK_MAP_INFO);
	gpu3d_reset(b.g);
	CHECK_EQ(b.window.nr_maps, 0);
	bench_stop(&b);
}

static uint32_t set_scanout_blob(struct bench *b, uint32_t output, uint32_t id, uint32_t w,
				 uint32_t h, uint32_t format, uint32_t stride, uint32_t offset)
{
	struct virtio_gpu_set_scanout_blob *c =
		request(b, VIRTIO_GPU_CMD_SET_SCANOUT_BLOB, 0, sizeof(*c));

	c->scanout_id = htole32(output);
	c->resource_id = htole32(id);
	c->r.width = htole32(w);
	c->r.height = htole32(h);
	c->width = htole32(w);
	c->height = htole32(h);
	c->format = htole32(format);
	c->strides[0] = htole32(stride);
	c->offsets[0] = htole32(offset);
	return send(b, sizeof(*c));
}

/* A host3d blob with a texture is shown as a 3D resource is; one
 * without (guest pages), or described beyond its texture, is not. */
static void test_scanout_blob(void)
{
	struct bench b;
	const uint32_t bgra = VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM;

	START_SHOWN(&b, CAP, true);
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(pipe_resource(&b, 1, 5, 2, VIRGL_FORMAT_B8G8R8A8_UNORM,
			       VIRGL_BIND_RENDER_TARGET | VIRGL_BIND_SCANOUT, TEX_SIDE, TEX_SIDE, 0),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_blob(&b, 5, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, VIRTIO_GPU_BLOB_FLAG_USE_SHAREABLE,
			     5, TEX_BYTES, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_blob(&b, 6, 0, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, TEX_BYTES, 1, BACKING_GPA,
			     TEX_BYTES), VIRTIO_GPU_RESP_OK_NODATA);

	CHECK_EQ(set_scanout_blob(&b, 1, 5, TEX_SIDE, TEX_SIDE, bgra, TEX_SIDE * 4, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(set_scanout_blob(&b, 0, 9, TEX_SIDE, TEX_SIDE, bgra, TEX_SIDE * 4, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(set_scanout_blob(&b, 0, 6, TEX_SIDE, TEX_SIDE, bgra, TEX_SIDE * 4, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(set_scanout_blob(&b, 0, 5, TEX_SIDE + 1, TEX_SIDE, bgra, TEX_SIDE * 8, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(set_scanout_blob(&b, 0, 5, TEX_SIDE, TEX_SIDE, 0x7777, TEX_SIDE * 4, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(set_scanout_blob(&b, 0, 5, TEX_SIDE, TEX_SIDE, bgra, TEX_SIDE * 4 - 4, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(set_scanout_blob(&b, 0, 5, TEX_SIDE, TEX_SIDE, bgra, TEX_SIDE * 4, 64),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(set_scanout_blob(&b, 0, 5, TEX_SIDE, TEX_SIDE, bgra, TEX_SIDE * 4, 0),
		 VIRTIO_GPU_RESP_OK_NODATA);
	b.seen.viewers = true;
	CHECK_EQ(flush(&b, 5, 0, 0, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	poll_until_shown(&b, 1);
	CHECK_EQ(b.seen.updates, 1);
	CHECK(rect_is(&b.seen.rect, 0, 0, TEX_SIDE, TEX_SIDE));
	CHECK_EQ(set_scanout_blob(&b, 0, 0, 0, 0, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	bench_stop(&b);
}

/* One engine per process: virglrenderer's state is global. */
static uint32_t update_cursor(struct bench *b, uint32_t id, uint32_t x, uint32_t y,
			      uint32_t hot_x, uint32_t hot_y)
{
	struct virtio_gpu_update_cursor *c =
		request(b, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, sizeof(*c));

	c->resource_id = htole32(id);
	c->pos.x = htole32(x);
	c->pos.y = htole32(y);
	c->hot_x = htole32(hot_x);
	c->hot_y = htole32(hot_y);
	return send_token(b, GPU2D_CURSORQ, sizeof(*c), 0);
}

/* The guest's cursor is a dumb buffer: a 2D resource filled by
 * TRANSFER_TO_HOST_2D. Its shape reaches the display exactly, top row
 * first, with its hot spot; moving it moves it; resource 0 hides it; a
 * shape too large or a hot spot outside it is refused. */
static void test_cursor(void)
{
	struct bench b;
	const uint8_t *guest;

	START_SHOWN(&b, 64ull << 20, true);
	make_shown_texture(&b, 7, true);
	CHECK_EQ(update_cursor(&b, 7, 100, 200, 3, 5), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b.seen.cursors, 1);
	CHECK_EQ(b.seen.cursor_w, TEX_SIDE);
	CHECK_EQ(b.seen.cursor_h, TEX_SIDE);
	CHECK_EQ(b.seen.hot_x, 3);
	CHECK_EQ(b.seen.hot_y, 5);
	CHECK(!b.seen.cursor_bad);
	guest = guest_memory_ptr(&b.mem, BACKING_GPA, TEX_BYTES);
	CHECK(memcmp(b.seen.cursor, guest, TEX_BYTES) == 0);
	if (memcmp(b.seen.cursor, guest, TEX_BYTES) != 0)
		fprintf(stderr, "  cursor bytes 0..7: %02x %02x %02x %02x %02x %02x %02x %02x, "
			"guest's: %02x %02x %02x %02x %02x %02x %02x %02x\n",
			b.seen.cursor[0], b.seen.cursor[1], b.seen.cursor[2], b.seen.cursor[3],
			b.seen.cursor[4], b.seen.cursor[5], b.seen.cursor[6], b.seen.cursor[7],
			guest[0], guest[1], guest[2], guest[3], guest[4], guest[5], guest[6], guest[7]);
	CHECK_EQ(b.seen.cursor_x, 100);
	CHECK_EQ(b.seen.cursor_y, 200);
	CHECK(b.seen.cursor_visible);

	request(&b, VIRTIO_GPU_CMD_MOVE_CURSOR, 0, sizeof(struct virtio_gpu_update_cursor));
	((struct virtio_gpu_update_cursor *)b.req)->pos.x = htole32(7);
	((struct virtio_gpu_update_cursor *)b.req)->pos.y = htole32(9);
	CHECK_EQ(send_token(&b, GPU2D_CURSORQ, sizeof(struct virtio_gpu_update_cursor), 0),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(b.seen.cursors, 1);
	CHECK_EQ(b.seen.cursor_x, 7);
	CHECK_EQ(b.seen.cursor_y, 9);

	CHECK_EQ(update_cursor(&b, 0, 7, 9, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(!b.seen.cursor_visible);

	CHECK_EQ(update_cursor(&b, 7, 0, 0, TEX_SIDE, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(update_cursor(&b, 99, 0, 0, 0, 0), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(b.seen.cursors, 1);
	bench_stop(&b);
}

static void test_one_per_process(void)
{
	struct bench b;
	struct gpu3d *second;
	struct gpu3d_config cfg = {
		.nr_outputs = 1, .gl = gpu3d_gl_host_ops(), .gl_opaque = host, .max_held = 1,
	};
	char err[160] = "";

	START(&b, CAP);
	cfg.mem = &b.mem;
	CHECK_EQ(gpu3d_create(&second, &cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "one virgl GPU") != NULL);
	bench_stop(&b);
}

/* ---- contexts made while another one is in use ---- */

#define CCMD_CREATE_OBJECT         1
#define CCMD_SET_FRAMEBUFFER_STATE 5
#define CCMD_CLEAR                 7
#define OBJ_SURFACE                8
#define SURFACE_LEN                5
#define FRAMEBUFFER_LEN(cbufs)     ((cbufs) + 2)
#define CLEAR_LEN                  8
#define CLEAR_COLOR0               (1u << 2)   /* PIPE_CLEAR_COLOR0 */
#define CLEAR_SURFACE              10
#define OPAQUE_RED_BGRA            0xffff0000u
#define FLOAT_ONE                  0x3f800000u

static uint32_t object_header(uint32_t object, uint32_t len)
{
	return CCMD_HEADER(CCMD_CREATE_OBJECT, len) | object << 8;
}

/* The context's framebuffer: surface CLEAR_SURFACE of resource `id`, kept
 * in the context's own GL state, which another context does not share. */
static uint32_t bind_framebuffer(struct bench *b, uint32_t ctx_id, uint32_t id)
{
	const uint32_t stream[] = {
		object_header(OBJ_SURFACE, SURFACE_LEN), CLEAR_SURFACE, id,
		VIRGL_FORMAT_B8G8R8A8_UNORM, 0, 0,
		CCMD_HEADER(CCMD_SET_FRAMEBUFFER_STATE, FRAMEBUFFER_LEN(1)), 1, 0, CLEAR_SURFACE,
	};

	return submit(b, ctx_id, stream, sizeof(stream) / 4);
}

static uint32_t clear_red(struct bench *b, uint32_t ctx_id)
{
	const uint32_t stream[] = {
		CCMD_HEADER(CCMD_CLEAR, CLEAR_LEN), CLEAR_COLOR0, FLOAT_ONE, 0, 0, FLOAT_ONE,
		0, 0, 0,
	};

	return submit(b, ctx_id, stream, sizeof(stream) / 4);
}

static bool texture_is(struct bench *b, uint32_t pixel)
{
	const uint32_t *p = guest_memory_ptr(&b->mem, BACKING_GPA, TEX_BYTES);

	for (unsigned i = 0; i < TEX_SIDE * TEX_SIDE; i++)
		if (le32toh(p[i]) != pixel)
			return false;
	return true;
}

/* virglrenderer makes the GL context of a context it creates current
 * without noting it; the context that was in use before then runs its
 * next commands in that GL context, where its framebuffer and the rest of
 * its per-context GL state do not exist, unless the engine puts the
 * renderer back in step. Headless: no readback makes it right by chance. */
static void test_context_survives_another_created(void)
{
	struct bench b;

	START(&b, CAP);
	CHECK_EQ(ctx_create(&b, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_texture(&b, 5, TEX_SIDE, TEX_SIDE), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(attach(&b, 5, BACKING_GPA, TEX_BYTES), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_attach(&b, 1, 5), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(bind_framebuffer(&b, 1, 5), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_create(&b, 2, 0), VIRTIO_GPU_RESP_OK_NODATA);

	CHECK_EQ(clear_red(&b, 1), VIRTIO_GPU_RESP_OK_NODATA);
	memset(guest_memory_ptr(&b.mem, BACKING_GPA, TEX_BYTES), 0, TEX_BYTES);
	CHECK_EQ(transfer(&b, VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, 1, 5),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(texture_is(&b, OPAQUE_RED_BGRA));
	bench_stop(&b);
}

TEST_MAIN("virtio_gpu_virgl",
	TEST_CASE(test_capsets),
	TEST_CASE(test_cursor),
	TEST_CASE(test_response_without_room),
	TEST_CASE(test_contexts),
	TEST_CASE(test_refusals_logged_once),
	TEST_CASE(test_transfer_round_trip),
	TEST_CASE(test_submit),
	TEST_CASE(test_fences),
	TEST_CASE(test_reset_and_destroy_with_fences),
	TEST_CASE(test_hostile_resources),
	TEST_CASE(test_memory_cap),
	TEST_CASE(test_flush_of_3d_resource_shown),
	TEST_CASE(test_flush_of_2d_resource_shown),
	TEST_CASE(test_flush_of_scanout_part),
	TEST_CASE(test_flushes_coalesce),
	TEST_CASE(test_flush_without_viewers),
	TEST_CASE(test_viewer_arrival_shows_the_picture),
	TEST_CASE(test_readback_dropped_with_its_resource),
	TEST_CASE(test_readback_charged),
	TEST_CASE(test_blob_not_negotiated),
	TEST_CASE(test_guest_blob),
	TEST_CASE(test_host3d_blob),
	TEST_CASE(test_unclaimed_pipe_resources),
	TEST_CASE(test_map_blob),
	TEST_CASE(test_scanout_blob),
	TEST_CASE(test_one_per_process),
	TEST_CASE(test_context_survives_another_created))
