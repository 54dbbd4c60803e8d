/* The generic display: every pixel layout converted to BGRA, the checks
 * before the backend sees a call (frames as dmabufs too: whose fd is
 * closed when), and the attached devices (calls reach them, detaching
 * waits for a call in flight). */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../display/display_backend.h"

/* ---- conversion ---- */

/* One pixel with distinct channel values, laid out per format. */
static void pixel_in(enum display_format f, uint8_t out[4], uint8_t r, uint8_t g, uint8_t b,
		     uint8_t a)
{
	const uint8_t x = 0x5a;   /* an unused byte: must not show up */

	switch (f) {
	case DISPLAY_BGRX: out[0] = b; out[1] = g; out[2] = r; out[3] = x; break;
	case DISPLAY_BGRA: out[0] = b; out[1] = g; out[2] = r; out[3] = a; break;
	case DISPLAY_XRGB: out[0] = x; out[1] = r; out[2] = g; out[3] = b; break;
	case DISPLAY_ARGB: out[0] = a; out[1] = r; out[2] = g; out[3] = b; break;
	case DISPLAY_RGBX: out[0] = r; out[1] = g; out[2] = b; out[3] = x; break;
	case DISPLAY_RGBA: out[0] = r; out[1] = g; out[2] = b; out[3] = a; break;
	case DISPLAY_XBGR: out[0] = x; out[1] = b; out[2] = g; out[3] = r; break;
	case DISPLAY_ABGR: out[0] = a; out[1] = b; out[2] = g; out[3] = r; break;
	}
}

static bool has_alpha(enum display_format f)
{
	return f == DISPLAY_BGRA || f == DISPLAY_ARGB || f == DISPLAY_RGBA || f == DISPLAY_ABGR;
}

static void test_convert_every_layout(void)
{
	enum { N = 37 };   /* odd, so no path can rely on a multiple of anything */

	for (int f = DISPLAY_BGRX; f <= DISPLAY_ABGR; f++) {
		uint8_t src[N * 4], dst[N * 4 + 4];

		for (unsigned i = 0; i < N; i++)
			pixel_in(f, src + i * 4, (uint8_t)(0x10 + i), (uint8_t)(0x80 + i),
				 (uint8_t)(0xc0 + i), (uint8_t)(0x30 + i));
		memset(dst, 0xee, sizeof(dst));
		display_convert_row(dst, src, N, f);
		for (unsigned i = 0; i < N; i++) {
			CHECK_EQ(dst[i * 4 + 0], 0xc0 + i);
			CHECK_EQ(dst[i * 4 + 1], 0x80 + i);
			CHECK_EQ(dst[i * 4 + 2], 0x10 + i);
			CHECK_EQ(dst[i * 4 + 3], has_alpha(f) ? 0x30 + i : 0xff);
		}
		/* Nothing past the row. */
		CHECK_EQ(dst[N * 4], 0xee);
	}
}

static void test_convert_in_place(void)
{
	uint8_t buf[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };

	display_convert_row(buf, buf, 2, DISPLAY_RGBA);
	CHECK_EQ(buf[0], 0x33);
	CHECK_EQ(buf[1], 0x22);
	CHECK_EQ(buf[2], 0x11);
	CHECK_EQ(buf[3], 0x44);
	CHECK_EQ(buf[4], 0x77);
	CHECK_EQ(buf[7], 0x88);
	display_convert_row(buf, buf, 0, DISPLAY_XBGR);   /* an empty row writes nothing */
	CHECK_EQ(buf[0], 0x33);
}

/* ---- dispatch to the backend ---- */

struct fake_backend {
	int resizes, updates, defines, moves;
	unsigned output;
	uint32_t w, h;
	struct display_rect rect;
	int32_t x, y;
	bool visible;
	int resize_result;
};

static int fake_resize(void *impl, unsigned output, uint32_t w, uint32_t h)
{
	struct fake_backend *b = impl;

	b->resizes++;
	b->output = output;
	b->w = w;
	b->h = h;
	return b->resize_result;
}

static void fake_update(void *impl, unsigned output, const struct display_rect *r,
			const void *pixels, uint32_t stride, enum display_format f)
{
	struct fake_backend *b = impl;

	(void)pixels;
	(void)stride;
	(void)f;
	b->updates++;
	b->output = output;
	b->rect = *r;
}

static void fake_define(void *impl, unsigned output, uint32_t w, uint32_t h, uint32_t hx,
			uint32_t hy, const void *pixels, uint32_t stride, enum display_format f)
{
	struct fake_backend *b = impl;

	(void)hx;
	(void)hy;
	(void)pixels;
	(void)stride;
	(void)f;
	b->defines++;
	b->output = output;
	b->w = w;
	b->h = h;
}

static void fake_move(void *impl, unsigned output, int32_t x, int32_t y, bool visible)
{
	struct fake_backend *b = impl;

	b->moves++;
	b->output = output;
	b->x = x;
	b->y = y;
	b->visible = visible;
}

static const struct display_backend_ops fake_ops = {
	.output_resize = fake_resize,
	.output_update = fake_update,
	.cursor_define = fake_define,
	.cursor_move = fake_move,
};

static void test_resize_checks(void)
{
	struct fake_backend b = { .resize_result = 0 };
	struct display *d = display_new(&fake_ops, &b);

	CHECK(d != NULL);
	CHECK(display_impl(d) == &b);
	CHECK_EQ(display_output_resize(d, 3, 640, 480), 0);
	CHECK_EQ(b.resizes, 1);
	CHECK_EQ(b.output, 3);
	CHECK_EQ(b.w, 640);
	CHECK_EQ(display_output_resize(d, 0, 0, 0), 0);           /* off */
	CHECK_EQ(b.resizes, 2);
	CHECK_EQ(display_output_resize(d, DISPLAY_MAX_OUTPUTS, 640, 480), -1);
	CHECK_EQ(display_output_resize(d, 0, DISPLAY_MAX_WIDTH + 1, 480), -1);
	CHECK_EQ(display_output_resize(d, 0, 640, DISPLAY_MAX_HEIGHT + 1), -1);
	CHECK_EQ(display_output_resize(d, 0, 640, 0), -1);
	CHECK_EQ(display_output_resize(d, 0, 0, 480), -1);
	CHECK_EQ(b.resizes, 2);
	CHECK_EQ(display_output_resize(d, 0, DISPLAY_MAX_WIDTH, DISPLAY_MAX_HEIGHT), 0);
	b.resize_result = -1;                                   /* the backend's answer stands */
	CHECK_EQ(display_output_resize(d, 0, 800, 600), -1);
	display_free(d);
}

static uint64_t fake_bytes(void *impl, uint32_t w, uint32_t h)
{
	(void)impl;
	return (uint64_t)w * h * 16 + 1;
}

/* What an output costs is the backend's to say; nothing without one, or
 * for an output that is off. */
static void test_output_bytes(void)
{
	struct display_backend_ops ops = fake_ops;
	struct fake_backend b = { 0 };
	struct display *d = display_new(&fake_ops, &b);

	CHECK_EQ(display_output_bytes(NULL, 640, 480), 0);
	CHECK_EQ(display_output_bytes(d, 640, 480), 0);   /* no output_bytes op */
	display_free(d);
	ops.output_bytes = fake_bytes;
	d = display_new(&ops, &b);
	CHECK_EQ(display_output_bytes(d, 640, 480), 640 * 480 * 16 + 1);
	CHECK_EQ(display_output_bytes(d, DISPLAY_MAX_WIDTH, DISPLAY_MAX_HEIGHT),
		 (uint64_t)DISPLAY_MAX_WIDTH * DISPLAY_MAX_HEIGHT * 16 + 1);
	CHECK_EQ(display_output_bytes(d, 0, 0), 0);
	CHECK_EQ(display_output_bytes(d, 640, 0), 0);
	display_free(d);
}

static bool viewers_now;

static bool fake_has_viewers(void *impl)
{
	(void)impl;
	return viewers_now;
}

/* Whether anybody watches is the backend's to say; a backend that cannot
 * tell counts as watched (frames keep flowing), no display as not. */
static void test_has_viewers(void)
{
	struct display_backend_ops ops = fake_ops;
	struct fake_backend b = { 0 };
	struct display *d = display_new(&fake_ops, &b);

	CHECK(!display_has_viewers(NULL));
	CHECK(display_has_viewers(d));
	display_free(d);
	ops.has_viewers = fake_has_viewers;
	d = display_new(&ops, &b);
	viewers_now = false;
	CHECK(!display_has_viewers(d));
	viewers_now = true;
	CHECK(display_has_viewers(d));
	display_free(d);
}

static void test_update_checks(void)
{
	struct fake_backend b = { 0 };
	struct display *d = display_new(&fake_ops, &b);
	uint32_t pixels[16] = { 0 };
	struct display_rect r = { 10, 20, 4, 4 };

	display_output_update(d, 1, &r, pixels, 16, DISPLAY_BGRX);
	CHECK_EQ(b.updates, 1);
	CHECK_EQ(b.output, 1);
	CHECK_EQ(b.rect.x, 10);
	CHECK_EQ(b.rect.height, 4);
	/* Refused before the backend: */
	display_output_update(d, DISPLAY_MAX_OUTPUTS, &r, pixels, 16, DISPLAY_BGRX);
	display_output_update(d, 0, NULL, pixels, 16, DISPLAY_BGRX);
	display_output_update(d, 0, &r, NULL, 16, DISPLAY_BGRX);
	display_output_update(d, 0, &r, pixels, 15, DISPLAY_BGRX);            /* stride < row */
	display_output_update(d, 0, &r, pixels, 16, (enum display_format)8);   /* no such format */
	display_output_update(d, 0, &(struct display_rect){ 0, 0, 0, 4 }, pixels, 16, DISPLAY_BGRX);
	display_output_update(d, 0, &(struct display_rect){ DISPLAY_MAX_WIDTH, 0, 1, 1 }, pixels,
			      16, DISPLAY_BGRX);
	display_output_update(d, 0, &(struct display_rect){ 0, 0, 1, DISPLAY_MAX_HEIGHT + 1 },
			      pixels, 16, DISPLAY_BGRX);
	display_output_update(d, 0, &(struct display_rect){ 0, 0xffffffffu, 1, 1 }, pixels, 16,
			      DISPLAY_BGRX);
	CHECK_EQ(b.updates, 1);
	/* Partly outside an output is the backend's to clip, not refused. */
	display_output_update(d, 0, &(struct display_rect){ 8000, 8000, 4, 4 }, pixels, 16,
			      DISPLAY_RGBA);
	CHECK_EQ(b.updates, 2);
	display_free(d);
}

static uint64_t fake_sent(void *impl, unsigned output)
{
	(void)impl;
	return 1000 + output;
}

/* The stats count what reached the backend: sizes it took, updates past
 * the checks; a refused resize leaves the size as it was. */
static void test_output_stats(void)
{
	struct display_backend_ops ops = fake_ops;
	struct fake_backend b = { 0 };
	struct display *d = display_new(&fake_ops, &b);
	struct display_output_stats st;
	uint32_t pixels[16] = { 0 };
	struct display_rect r = { 0, 0, 4, 4 };

	CHECK_EQ(display_nr_outputs_used(NULL), 0);
	CHECK(!display_output_stats(NULL, 0, &st));
	CHECK_EQ(display_nr_outputs_used(d), 0);
	CHECK(display_output_stats(d, 0, &st));
	CHECK_EQ(st.width, 0);
	CHECK_EQ(st.updates, 0);
	CHECK_EQ(st.sent, 0);                       /* no output_sent op */
	CHECK(!display_output_stats(d, DISPLAY_MAX_OUTPUTS, &st));

	CHECK_EQ(display_output_resize(d, 2, 640, 480), 0);
	CHECK_EQ(display_nr_outputs_used(d), 3);
	CHECK_EQ(display_output_resize(d, 0, 800, 600), 0);
	CHECK_EQ(display_nr_outputs_used(d), 3);    /* the highest counts */
	display_output_update(d, 2, &r, pixels, 16, DISPLAY_BGRX);
	display_output_update(d, 2, &r, pixels, 16, DISPLAY_BGRX);
	display_output_update(d, 2, &r, pixels, 15, DISPLAY_BGRX);   /* refused */
	b.resize_result = -1;
	CHECK_EQ(display_output_resize(d, 2, 1024, 768), -1);
	CHECK(display_output_stats(d, 2, &st));
	CHECK_EQ(st.width, 640);
	CHECK_EQ(st.height, 480);
	CHECK_EQ(st.updates, 2);
	CHECK(display_output_stats(d, 0, &st));
	CHECK_EQ(st.width, 800);
	CHECK_EQ(st.updates, 0);
	b.resize_result = 0;
	CHECK_EQ(display_output_resize(d, 2, 0, 0), 0);   /* off */
	CHECK(display_output_stats(d, 2, &st));
	CHECK_EQ(st.width, 0);
	CHECK_EQ(st.height, 0);
	CHECK_EQ(st.updates, 2);
	display_free(d);

	ops.output_sent = fake_sent;
	d = display_new(&ops, &b);
	CHECK(display_output_stats(d, 5, &st));
	CHECK_EQ(st.sent, 1005);
	display_free(d);
}

static void test_cursor_checks(void)
{
	struct fake_backend b = { 0 };
	struct display *d = display_new(&fake_ops, &b);
	static uint32_t shape[DISPLAY_CURSOR_MAX * DISPLAY_CURSOR_MAX];

	display_cursor_define(d, 0, 64, 64, 63, 63, shape, 256, DISPLAY_BGRA);
	CHECK_EQ(b.defines, 1);
	display_cursor_define(d, 0, 65, 64, 0, 0, shape, 260, DISPLAY_BGRA);     /* too wide */
	display_cursor_define(d, 0, 64, 65, 0, 0, shape, 256, DISPLAY_BGRA);     /* too tall */
	display_cursor_define(d, 0, 32, 32, 32, 0, shape, 128, DISPLAY_BGRA);    /* hot spot out */
	display_cursor_define(d, 0, 32, 32, 0, 32, shape, 128, DISPLAY_BGRA);
	display_cursor_define(d, 0, 0, 32, 0, 0, shape, 128, DISPLAY_BGRA);
	display_cursor_define(d, 0, 32, 32, 0, 0, shape, 127, DISPLAY_BGRA);     /* short stride */
	display_cursor_define(d, 0, 32, 32, 0, 0, NULL, 128, DISPLAY_BGRA);
	display_cursor_define(d, 16, 32, 32, 0, 0, shape, 128, DISPLAY_BGRA);
	CHECK_EQ(b.defines, 1);

	display_cursor_move(d, 2, -5, 7, true);
	CHECK_EQ(b.moves, 1);
	CHECK_EQ(b.output, 2);
	CHECK_EQ((uint32_t)b.x, (uint32_t)-5);
	CHECK(b.visible);
	display_cursor_move(d, DISPLAY_MAX_OUTPUTS, 0, 0, false);
	CHECK_EQ(b.moves, 1);
	display_free(d);
}

/* ---- frames as dmabufs ---- */

#define XRGB8888 0x34325258u   /* DRM_FORMAT_XRGB8888: 'X', 'R', '2', '4' */

/* A backend whose viewers map buffers themselves. It owns the fd it is
 * given, and keeps it open until the test lets it go (dmabuf_release),
 * so the test can tell it was not closed under the backend. */
struct fake_dmabuf_backend {
	struct fake_backend base;   /* the pixel side, as fake_ops does it */
	enum display_dmabuf_mode mode;
	int dmabufs, draws, states;
	unsigned output;
	int fd;                     /* the last one handed over; -1: none */
	uint32_t w, h, stride, fourcc;
	struct display_rect rect;
	int dmabuf_result, draw_result;
	enum display_dmabuf_state state;
	uint64_t acks[DISPLAY_MAX_OUTPUTS];
};

static enum display_dmabuf_mode fake_dmabuf_mode(void *impl)
{
	struct fake_dmabuf_backend *b = impl;

	return b->mode;
}

static int fake_dmabuf(void *impl, unsigned output, int fd, uint32_t w, uint32_t h,
		       uint32_t stride, uint32_t fourcc)
{
	struct fake_dmabuf_backend *b = impl;

	b->dmabufs++;
	b->output = output;
	if (b->fd >= 0)
		close(b->fd);
	b->fd = fd;
	b->w = w;
	b->h = h;
	b->stride = stride;
	b->fourcc = fourcc;
	return b->dmabuf_result;
}

static int fake_dmabuf_draw(void *impl, unsigned output, const struct display_rect *r)
{
	struct fake_dmabuf_backend *b = impl;

	b->draws++;
	b->output = output;
	b->rect = *r;
	return b->draw_result;
}

static enum display_dmabuf_state fake_dmabuf_state(void *impl, unsigned output)
{
	struct fake_dmabuf_backend *b = impl;

	b->states++;
	b->output = output;
	return b->state;
}

static uint64_t fake_dmabuf_acks(void *impl, unsigned output)
{
	struct fake_dmabuf_backend *b = impl;

	return b->acks[output];
}

static const struct display_backend_ops fake_dmabuf_ops = {
	.output_resize = fake_resize,
	.output_update = fake_update,
	.cursor_define = fake_define,
	.cursor_move = fake_move,
	.dmabuf_mode = fake_dmabuf_mode,
	.output_dmabuf = fake_dmabuf,
	.output_dmabuf_draw = fake_dmabuf_draw,
	.output_dmabuf_state = fake_dmabuf_state,
	.output_dmabuf_acks = fake_dmabuf_acks,
};

static void dmabuf_backend_init(struct fake_dmabuf_backend *b, enum display_dmabuf_mode mode)
{
	memset(b, 0, sizeof(*b));
	b->mode = mode;
	b->fd = -1;
}

/* The backend lets go of the buffer it holds. */
static void dmabuf_release(struct fake_dmabuf_backend *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

/* Stands in for a GPU's buffer: any fd shows who closed it. */
static int buffer_fd(void)
{
	return eventfd(0, EFD_CLOEXEC);
}

static bool fd_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* A backend without the ops (or one that says OFF, as SPICE does with
 * gl=off or on TCP) takes pixel updates only: every dmabuf is refused
 * and its fd closed, draws are refused, and the output is always READY. */
static void test_dmabuf_off(void)
{
	struct fake_backend plain = { 0 };
	struct fake_dmabuf_backend b;
	struct display *d = display_new(&fake_ops, &plain);
	struct display_rect r = { 0, 0, 64, 64 };
	struct display_output_stats st;
	int fd;

	CHECK_EQ(display_dmabuf_mode(NULL), DISPLAY_DMABUF_OFF);
	CHECK_EQ(display_output_dmabuf_state(NULL, 0), DISPLAY_DMABUF_READY);
	CHECK_EQ(display_output_dmabuf_draw(NULL, 0, &r), -1);
	fd = buffer_fd();
	CHECK(fd >= 0);
	CHECK_EQ(display_output_dmabuf(NULL, 0, fd, 640, 480, 2560, XRGB8888), -1);
	CHECK(fd_closed(fd));

	CHECK_EQ(display_dmabuf_mode(d), DISPLAY_DMABUF_OFF);   /* no dmabuf_mode op */
	CHECK_EQ(display_output_resize(d, 0, 640, 480), 0);
	fd = buffer_fd();
	CHECK(fd >= 0);
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 640, 480, 2560, XRGB8888), -1);
	CHECK(fd_closed(fd));
	CHECK_EQ(display_output_dmabuf_draw(d, 0, &r), -1);
	CHECK_EQ(display_output_dmabuf_state(d, 0), DISPLAY_DMABUF_READY);
	CHECK(display_output_stats(d, 0, &st));
	CHECK_EQ(st.dmabuf_draws, 0);
	CHECK_EQ(st.dmabuf_acks, 0);                            /* nobody to ask */
	display_free(d);

	/* The ops are there but the backend says OFF: none of the others
	 * is asked, whatever they would answer. */
	dmabuf_backend_init(&b, DISPLAY_DMABUF_OFF);
	b.state = DISPLAY_DMABUF_STALLED;
	d = display_new(&fake_dmabuf_ops, &b);
	CHECK_EQ(display_dmabuf_mode(d), DISPLAY_DMABUF_OFF);
	CHECK_EQ(display_output_resize(d, 0, 640, 480), 0);
	fd = buffer_fd();
	CHECK(fd >= 0);
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 640, 480, 2560, XRGB8888), -1);
	CHECK(fd_closed(fd));
	CHECK_EQ(display_output_dmabuf_draw(d, 0, &r), -1);
	CHECK_EQ(display_output_dmabuf_state(d, 0), DISPLAY_DMABUF_READY);
	CHECK_EQ(b.dmabufs, 0);
	CHECK_EQ(b.draws, 0);
	CHECK_EQ(b.states, 0);
	display_free(d);
}

/* The mode is the backend's to say. */
static void test_dmabuf_mode_from_backend(void)
{
	struct fake_dmabuf_backend b;
	struct display *d;

	dmabuf_backend_init(&b, DISPLAY_DMABUF_AUTO);
	d = display_new(&fake_dmabuf_ops, &b);
	CHECK_EQ(display_dmabuf_mode(d), DISPLAY_DMABUF_AUTO);
	b.mode = DISPLAY_DMABUF_ON;
	CHECK_EQ(display_dmabuf_mode(d), DISPLAY_DMABUF_ON);
	display_free(d);
}

/* A buffer must be the output's size as the GPU last set it, with rows
 * long enough; one refused never reaches the backend, and its fd is
 * closed. */
static void test_dmabuf_checks(void)
{
	struct fake_dmabuf_backend b;
	struct display *d;
	int fd;

	dmabuf_backend_init(&b, DISPLAY_DMABUF_AUTO);
	d = display_new(&fake_dmabuf_ops, &b);

	/* Before the GPU sized the output, it is off: no size matches. */
	fd = buffer_fd();
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 640, 480, 2560, XRGB8888), -1);
	CHECK(fd_closed(fd));

	CHECK_EQ(display_output_resize(d, 0, 640, 480), 0);
	CHECK_EQ(display_output_resize(d, 1, 0, 0), 0);     /* off */
	fd = buffer_fd();
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 800, 600, 3200, XRGB8888), -1);
	CHECK(fd_closed(fd));
	fd = buffer_fd();
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 641, 480, 2564, XRGB8888), -1);
	CHECK(fd_closed(fd));
	fd = buffer_fd();
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 640, 479, 2560, XRGB8888), -1);
	CHECK(fd_closed(fd));
	fd = buffer_fd();                                   /* stride < a row */
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 640, 480, 2559, XRGB8888), -1);
	CHECK(fd_closed(fd));
	fd = buffer_fd();
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 640, 480, 0, XRGB8888), -1);
	CHECK(fd_closed(fd));
	fd = buffer_fd();                                   /* an output that is off */
	CHECK_EQ(display_output_dmabuf(d, 1, fd, 0, 0, 0, XRGB8888), -1);
	CHECK(fd_closed(fd));
	fd = buffer_fd();
	CHECK_EQ(display_output_dmabuf(d, DISPLAY_MAX_OUTPUTS, fd, 640, 480, 2560, XRGB8888), -1);
	CHECK(fd_closed(fd));
	CHECK_EQ(display_output_dmabuf(d, 0, -1, 640, 480, 2560, XRGB8888), -1);
	CHECK_EQ(b.dmabufs, 0);

	/* A good one reaches the backend as it came; the fd is the
	 * backend's now, open. */
	fd = buffer_fd();
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 640, 480, 2560, XRGB8888), 0);
	CHECK_EQ(b.dmabufs, 1);
	CHECK_EQ(b.output, 0);
	CHECK_EQ(b.fd, fd);
	CHECK_EQ(b.w, 640);
	CHECK_EQ(b.h, 480);
	CHECK_EQ(b.stride, 2560);
	CHECK_EQ(b.fourcc, XRGB8888);
	CHECK(!fd_closed(fd));
	/* Rows longer than needed are fine (a GPU aligns them). */
	fd = buffer_fd();
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 640, 480, 4096, 0x34325241u), 0);
	CHECK_EQ(b.dmabufs, 2);
	CHECK_EQ(b.fd, fd);
	CHECK_EQ(b.stride, 4096);
	CHECK_EQ(b.fourcc, 0x34325241u);
	/* The size that counts is the latest one. */
	CHECK_EQ(display_output_resize(d, 0, 1024, 768), 0);
	fd = buffer_fd();
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 640, 480, 2560, XRGB8888), -1);
	CHECK(fd_closed(fd));
	fd = buffer_fd();
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 1024, 768, 4096, XRGB8888), 0);
	CHECK_EQ(b.dmabufs, 3);

	/* The backend's refusal stands; the fd is the backend's to close
	 * then, not the display's (it is still open here). */
	b.dmabuf_result = -1;
	fd = buffer_fd();
	CHECK_EQ(display_output_dmabuf(d, 0, fd, 1024, 768, 4096, XRGB8888), -1);
	CHECK_EQ(b.dmabufs, 4);
	CHECK_EQ(b.fd, fd);
	CHECK(!fd_closed(fd));
	dmabuf_release(&b);
	display_free(d);
}

/* Draws: an empty rectangle never reaches the backend; those the backend
 * took are counted in the stats, the acknowledgements are the backend's
 * count. */
static void test_dmabuf_draw(void)
{
	struct fake_dmabuf_backend b;
	struct display *d;
	struct display_output_stats st;
	struct display_rect r = { 10, 20, 30, 40 };

	dmabuf_backend_init(&b, DISPLAY_DMABUF_ON);
	d = display_new(&fake_dmabuf_ops, &b);
	CHECK_EQ(display_output_resize(d, 2, 640, 480), 0);
	CHECK_EQ(display_output_dmabuf(d, 2, buffer_fd(), 640, 480, 2560, XRGB8888), 0);

	CHECK_EQ(display_output_dmabuf_draw(d, 2, NULL), -1);
	CHECK_EQ(display_output_dmabuf_draw(d, 2, &(struct display_rect){ 0, 0, 0, 40 }), -1);
	CHECK_EQ(display_output_dmabuf_draw(d, 2, &(struct display_rect){ 0, 0, 30, 0 }), -1);
	CHECK_EQ(display_output_dmabuf_draw(d, DISPLAY_MAX_OUTPUTS, &r), -1);
	CHECK_EQ(b.draws, 0);

	CHECK_EQ(display_output_dmabuf_draw(d, 2, &r), 0);
	CHECK_EQ(b.draws, 1);
	CHECK_EQ(b.output, 2);
	CHECK_EQ(b.rect.x, 10);
	CHECK_EQ(b.rect.y, 20);
	CHECK_EQ(b.rect.width, 30);
	CHECK_EQ(b.rect.height, 40);
	CHECK(display_output_stats(d, 2, &st));
	CHECK_EQ(st.dmabuf_draws, 1);
	CHECK_EQ(st.dmabuf_acks, 0);
	CHECK_EQ(st.updates, 0);                 /* a draw is no pixel update */

	/* A draw the backend refuses (busy, no buffer) is not counted. */
	b.draw_result = -1;
	CHECK_EQ(display_output_dmabuf_draw(d, 2, &r), -1);
	CHECK_EQ(b.draws, 2);
	b.draw_result = 0;
	/* Clipping is the backend's: reaching past the output is no refusal. */
	CHECK_EQ(display_output_dmabuf_draw(d, 2, &(struct display_rect){ 600, 400, 640, 480 }),
		 0);
	CHECK_EQ(b.rect.width, 640);
	b.acks[2] = 1;
	b.acks[3] = 99;
	CHECK(display_output_stats(d, 2, &st));
	CHECK_EQ(st.dmabuf_draws, 2);
	CHECK_EQ(st.dmabuf_acks, 1);
	CHECK(display_output_stats(d, 3, &st));  /* per output */
	CHECK_EQ(st.dmabuf_draws, 0);
	CHECK_EQ(st.dmabuf_acks, 99);
	dmabuf_release(&b);
	display_free(d);
}

/* Whether the GPU may write its buffer again is the backend's answer. */
static void test_dmabuf_state(void)
{
	struct fake_dmabuf_backend b;
	struct display *d;

	dmabuf_backend_init(&b, DISPLAY_DMABUF_AUTO);
	d = display_new(&fake_dmabuf_ops, &b);
	CHECK_EQ(display_output_dmabuf_state(d, 4), DISPLAY_DMABUF_READY);
	CHECK_EQ(b.states, 1);
	CHECK_EQ(b.output, 4);
	b.state = DISPLAY_DMABUF_BUSY;
	CHECK_EQ(display_output_dmabuf_state(d, 4), DISPLAY_DMABUF_BUSY);
	b.state = DISPLAY_DMABUF_STALLED;
	CHECK_EQ(display_output_dmabuf_state(d, 4), DISPLAY_DMABUF_STALLED);
	CHECK_EQ(b.states, 3);
	/* No such output: nothing to wait for, and the backend is not asked. */
	CHECK_EQ(display_output_dmabuf_state(d, DISPLAY_MAX_OUTPUTS), DISPLAY_DMABUF_READY);
	CHECK_EQ(b.states, 3);
	display_free(d);
}

/* ---- attached devices ---- */

struct fake_devices {
	int modes, keys, absolutes, relatives, buttons, wheels;
	unsigned output;
	uint32_t w, h, x, y, mask;
	int32_t dx, dy, clicks;
	uint16_t code;
	bool pressed;
	atomic_bool in_call;
	atomic_bool finished;
};

static void fake_request_mode(void *opaque, unsigned output, uint32_t w, uint32_t h)
{
	struct fake_devices *f = opaque;

	f->modes++;
	f->output = output;
	f->w = w;
	f->h = h;
}

static void fake_key(void *opaque, uint16_t code, bool pressed)
{
	struct fake_devices *f = opaque;

	f->keys++;
	f->code = code;
	f->pressed = pressed;
}

static void fake_absolute(void *opaque, uint32_t x, uint32_t y)
{
	struct fake_devices *f = opaque;

	f->absolutes++;
	f->x = x;
	f->y = y;
}

static void fake_relative(void *opaque, int32_t dx, int32_t dy)
{
	struct fake_devices *f = opaque;

	f->relatives++;
	f->dx = dx;
	f->dy = dy;
}

static void fake_buttons(void *opaque, uint32_t mask)
{
	struct fake_devices *f = opaque;

	f->buttons++;
	f->mask = mask;
}

/* Stays in the call a while, to show detach waiting for it. */
static void fake_slow_wheel(void *opaque, int32_t clicks)
{
	struct fake_devices *f = opaque;

	atomic_store(&f->in_call, true);
	usleep(100 * 1000);
	f->wheels++;
	f->clicks = clicks;
	atomic_store(&f->finished, true);
}

static const struct display_gpu_ops fake_gpu = { .request_mode = fake_request_mode };
static const struct display_input_ops fake_input = {
	.key = fake_key, .pointer_absolute = fake_absolute, .pointer_relative = fake_relative,
	.buttons = fake_buttons, .wheel = fake_slow_wheel,
};

static void test_attach_and_dispatch(void)
{
	struct fake_backend b = { 0 };
	struct display *d = display_new(&fake_ops, &b);
	struct fake_devices f = { 0 };

	/* Nothing attached: calls go nowhere, harmlessly. */
	display_request_mode(d, 0, 800, 600);
	display_input_key(d, 30, true);

	display_attach_gpu(d, &fake_gpu, &f);
	display_attach_input(d, &fake_input, &f);
	display_request_mode(d, 1, 1024, 768);
	CHECK_EQ(f.modes, 1);
	CHECK_EQ(f.output, 1);
	CHECK_EQ(f.w, 1024);
	CHECK_EQ(f.h, 768);
	display_input_key(d, 30, true);
	CHECK_EQ(f.keys, 1);
	CHECK_EQ(f.code, 30);
	CHECK(f.pressed);
	display_input_pointer_absolute(d, 100, 32767);
	CHECK_EQ(f.absolutes, 1);
	CHECK_EQ(f.y, 32767);
	display_input_pointer_relative(d, -3, 4);
	CHECK_EQ(f.relatives, 1);
	CHECK_EQ((uint32_t)f.dx, (uint32_t)-3);
	display_input_buttons(d, DISPLAY_BUTTON_LEFT | DISPLAY_BUTTON_RIGHT);
	CHECK_EQ(f.mask, DISPLAY_BUTTON_LEFT | DISPLAY_BUTTON_RIGHT);
	display_input_wheel(d, -2);
	CHECK_EQ(f.wheels, 1);
	CHECK_EQ((uint32_t)f.clicks, (uint32_t)-2);

	display_attach_gpu(d, NULL, &f);
	display_attach_input(d, NULL, NULL);
	display_request_mode(d, 0, 640, 480);
	display_input_key(d, 31, false);
	display_input_wheel(d, 1);
	CHECK_EQ(f.modes, 1);
	CHECK_EQ(f.keys, 1);
	CHECK_EQ(f.wheels, 1);
	display_free(d);
}

struct wheel_thread_arg {
	struct display *d;
};

static void *turn_wheel(void *opaque)
{
	struct wheel_thread_arg *arg = opaque;

	display_input_wheel(arg->d, 1);
	return NULL;
}

static void test_detach_waits_for_call_in_flight(void)
{
	struct fake_backend b = { 0 };
	struct display *d = display_new(&fake_ops, &b);
	struct fake_devices f = { 0 };
	struct wheel_thread_arg arg = { d };
	pthread_t thread;

	display_attach_input(d, &fake_input, &f);
	CHECK_EQ(pthread_create(&thread, NULL, turn_wheel, &arg), 0);
	for (int i = 0; i < 2000 && !atomic_load(&f.in_call); i++)
		usleep(1000);
	CHECK(atomic_load(&f.in_call));
	display_attach_input(d, NULL, NULL);
	/* Detach returned: the call that was running has finished. */
	CHECK(atomic_load(&f.finished));
	pthread_join(thread, NULL);
	display_free(d);
}

TEST_MAIN("display",
	TEST_CASE(test_convert_every_layout),
	TEST_CASE(test_convert_in_place),
	TEST_CASE(test_resize_checks),
	TEST_CASE(test_output_bytes),
	TEST_CASE(test_has_viewers),
	TEST_CASE(test_update_checks),
	TEST_CASE(test_output_stats),
	TEST_CASE(test_cursor_checks),
	TEST_CASE(test_dmabuf_off),
	TEST_CASE(test_dmabuf_mode_from_backend),
	TEST_CASE(test_dmabuf_checks),
	TEST_CASE(test_dmabuf_draw),
	TEST_CASE(test_dmabuf_state),
	TEST_CASE(test_attach_and_dispatch),
	TEST_CASE(test_detach_waits_for_call_in_flight))
