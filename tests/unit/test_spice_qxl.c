/* One display output as spice-server sees it (display/spice_qxl.c), with
 * a real spice-server but no client: what the output holds in draw
 * commands stays within what spice_output_bytes says, whether nobody
 * pulls the commands (this test plays spice-server's worker, late) or
 * spice-server pulls them itself; and the picture the commands paint,
 * once drained, is the last one the GPU wrote; and that the output's
 * copy of the pixels gives its pages back once all of it was sent, and
 * only then. Then the GL scanout's state machine, with no server at all:
 * this test plays the worker's acknowledgement (async_complete). */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include <spice.h>

#include "../../display/spice_core.h"
#include "../../display/spice_qxl.h"
#include "../../vmm/event_loop.h"
#include "proc_status.h"

#define WIDTH    320
#define HEIGHT   200
#define FRAME    ((uint64_t)WIDTH * HEIGHT * 4)

/* A server with one output, not listening anywhere. The worker pulls
 * commands only once the "VM" runs (started). */
struct rig {
	struct event_loop loop;
	SpiceServer *server;
	struct spice_output *o;
	atomic_uint wakes;
	bool core_open;
};

static void count_wake(void *opaque)
{
	struct rig *r = opaque;

	atomic_fetch_add(&r->wakes, 1);
}

static bool rig_start_sized(struct rig *r, bool started, uint32_t width, uint32_t height)
{
	SpiceCoreInterface *core;

	memset(r, 0, sizeof(*r));
	if (event_loop_init(&r->loop) < 0)
		return false;
	core = spice_core_open(&r->loop);
	r->core_open = core != NULL;
	r->server = core ? spice_server_new() : NULL;
	if (!r->server)
		return false;
	spice_server_set_noauth(r->server);
	if (spice_server_init(r->server, core))
		return false;
	r->o = spice_output_new(0, width, height, count_wake, r);
	if (!r->o || spice_output_attach(r->o, r->server) < 0)
		return false;
	if (started)
		spice_server_vm_start(r->server);
	return true;
}

static bool rig_start(struct rig *r, bool started)
{
	return rig_start_sized(r, started, WIDTH, HEIGHT);
}

static void rig_stop(struct rig *r)
{
	if (r->server)
		spice_server_destroy(r->server);
	if (r->core_open)
		spice_core_close();
	spice_output_free(r->o);
	event_loop_destroy(&r->loop);
}

/* The picture of generation gen at (x, y), as the GPU hands it (BGRX:
 * R, G, B in the low three bytes of a little-endian word). */
static uint32_t pixel(uint32_t x, uint32_t y, uint32_t gen)
{
	return ((x * 7 + gen * 13) & 0xff) << 16 | ((y * 5 + gen) & 0xff) << 8 |
	       (((x ^ y) + gen * 3) & 0xff);
}

/* The GPU flushes rectangle r of generation gen. */
static void paint(struct spice_output *o, struct display_rect r, uint32_t gen)
{
	uint32_t *buf = malloc((size_t)r.width * r.height * 4);

	for (uint32_t y = 0; y < r.height; y++)
		for (uint32_t x = 0; x < r.width; x++)
			buf[y * r.width + x] = pixel(r.x + x, r.y + y, gen);
	spice_output_update(o, &r, (const uint8_t *)buf, r.width * 4, DISPLAY_BGRX);
	free(buf);
}

/* What the output holds in draw commands may be at most what
 * spice_output_bytes counts beyond the copy and the surface. */
static bool within_bound(struct spice_output *o, uint64_t *worst)
{
	uint64_t queued, held;

	spice_output_draw_bytes(o, &queued, &held);
	if (held > *worst)
		*worst = held;
	return queued <= held && held <= spice_output_bytes(WIDTH, HEIGHT) - 2 * FRAME;
}

/* Rectangle k of a flood: overlapping ones that no later one covers
 * whole, the worst for spice-server's drawing tree, and full frames. */
static struct display_rect flood_rect(unsigned k)
{
	uint32_t shift = k % (HEIGHT / 2);

	if (k % 7 == 0)
		return (struct display_rect){ 0, 0, WIDTH, HEIGHT };
	return (struct display_rect){ 0, shift, WIDTH, HEIGHT - shift };
}

/* Plays spice-server's worker on a width x height output: pulls every
 * command, paints the draws on canvas (BGRA rows of width), gives each
 * back. Returns how many. */
static unsigned drain_sized(struct spice_output *o, uint32_t *canvas, uint32_t width,
			    uint32_t height)
{
	QXLInstance *qin = spice_output_qxl(o);
	const QXLInterface *sif = (const QXLInterface *)qin->base.sif;
	struct QXLCommandExt ext;
	unsigned n = 0;

	while (sif->get_command(qin, &ext)) {
		QXLReleaseInfo *info;

		n++;
		if (ext.cmd.type == QXL_CMD_DRAW) {
			QXLDrawable *d = (QXLDrawable *)(uintptr_t)ext.cmd.data;
			QXLImage *img = (QXLImage *)(uintptr_t)d->u.copy.src_bitmap;
			const uint8_t *src = (const uint8_t *)(uintptr_t)img->bitmap.data;

			CHECK_EQ(d->type, QXL_DRAW_COPY);
			CHECK(d->bbox.left >= 0 && d->bbox.right <= (int32_t)width &&
			      d->bbox.left < d->bbox.right);
			CHECK(d->bbox.top >= 0 && d->bbox.bottom <= (int32_t)height &&
			      d->bbox.top < d->bbox.bottom);
			for (int32_t y = d->bbox.top; y < d->bbox.bottom; y++)
				memcpy(canvas + (size_t)y * width + d->bbox.left,
				       src + (size_t)(y - d->bbox.top) * img->bitmap.stride,
				       (size_t)(d->bbox.right - d->bbox.left) * 4);
			info = &d->release_info;
		} else {
			QXLUpdateCmd *u = (QXLUpdateCmd *)(uintptr_t)ext.cmd.data;

			CHECK_EQ(ext.cmd.type, QXL_CMD_UPDATE);
			CHECK(u->area.left == 0 && u->area.top == 0);
			CHECK(u->area.right == (int32_t)width && u->area.bottom == (int32_t)height);
			info = &u->release_info;
		}
		sif->release_resource(qin, (struct QXLReleaseInfoExt){ .info = info });
	}
	return n;
}

static unsigned drain(struct spice_output *o, uint32_t *canvas)
{
	return drain_sized(o, canvas, WIDTH, HEIGHT);
}

/* Nobody pulls (a stalled spice-server): a flood of flushes, each sent
 * as the loop would, keeps the output's draw commands within the bound;
 * then drained, they paint the last picture. */
static void test_flood_with_nobody_pulling(void)
{
	uint32_t *canvas = calloc(WIDTH * HEIGHT, 4);
	uint64_t worst = 0, queued, held;
	unsigned k, over = 0, rounds;
	struct rig r;

	if (!rig_start(&r, false)) {
		CHECK(!"a server starts");
		rig_stop(&r);
		free(canvas);
		return;
	}
	for (k = 0; k < 300; k++) {
		paint(r.o, flood_rect(k), k);
		spice_output_send(r.o);
		if (!within_bound(r.o, &worst))
			over++;
	}
	fprintf(stderr, "  nobody pulling: at most %llu bytes of draw commands (bound %llu)\n",
		(unsigned long long)worst,
		(unsigned long long)(spice_output_bytes(WIDTH, HEIGHT) - 2 * FRAME));
	CHECK_EQ(over, 0);
	/* The worker wakes up: it takes everything; gvmm, woken, sends what
	 * it held back; until nothing is left. */
	for (rounds = 0; rounds < 100; rounds++) {
		unsigned pulled = drain(r.o, canvas);

		spice_output_send(r.o);
		CHECK(within_bound(r.o, &worst));
		if (!pulled && !spice_output_has_dirty(r.o))
			break;
	}
	CHECK(rounds < 100);
	CHECK(atomic_load(&r.wakes) > 0);
	spice_output_draw_bytes(r.o, &queued, &held);
	CHECK_EQ(queued, 0);
	CHECK_EQ(held, 0);
	/* The last flush painted rows shift..HEIGHT; the rows above last
	 * came from the newest flush that covered them. */
	for (uint32_t y = 0; y < HEIGHT; y++) {
		unsigned gen = k - 1;

		while (flood_rect(gen).y > y)
			gen--;
		for (uint32_t x = 0; x < WIDTH; x++) {
			if ((canvas[y * WIDTH + x] & 0xffffff) != pixel(x, y, gen)) {
				/* pixel() has no X byte; the display made it 0xff. */
				fprintf(stderr, "  (%u,%u) is %06x, wanted %06x\n", x, y,
					canvas[y * WIDTH + x] & 0xffffff, pixel(x, y, gen));
				CHECK(!"the drained commands paint the last picture");
				y = HEIGHT;
				break;
			}
		}
	}
	rig_stop(&r);
	free(canvas);
}

/* spice-server pulls itself, no client: it would keep every draw command
 * that no later one covers whole; the output's flushes make it let go. */
static void test_spice_server_lets_go(void)
{
	uint64_t worst = 0, queued = 1, held = 1;
	unsigned over = 0;
	struct rig r;

	if (!rig_start(&r, true)) {
		CHECK(!"a server starts");
		rig_stop(&r);
		return;
	}
	for (unsigned k = 0; k < 600; k++) {
		paint(r.o, flood_rect(k), k);
		spice_output_send(r.o);
		if (!within_bound(r.o, &worst))
			over++;
		if (k % 16 == 0)
			usleep(1000);   /* let the worker run now and then */
	}
	/* Held-back changes go when the worker has caught up. */
	for (int i = 0; i < 500 && (held > FRAME || queued || spice_output_has_dirty(r.o)); i++) {
		usleep(2000);
		spice_output_send(r.o);
		if (!within_bound(r.o, &worst))
			over++;
		spice_output_draw_bytes(r.o, &queued, &held);
	}
	fprintf(stderr, "  spice-server pulling: at most %llu bytes of draw commands (bound %llu)\n",
		(unsigned long long)worst,
		(unsigned long long)(spice_output_bytes(WIDTH, HEIGHT) - 2 * FRAME));
	CHECK_EQ(over, 0);
	CHECK(!spice_output_has_dirty(r.o));
	/* Without a client nothing stays but what came since the last
	 * flush, less than a frame. */
	CHECK_EQ(queued, 0);
	CHECK(held <= FRAME);
	rig_stop(&r);
}

/* Whether rectangle r of canvas (rows of width) shows generation gen. */
static bool shows(const uint32_t *canvas, uint32_t width, struct display_rect r, uint32_t gen)
{
	for (uint32_t y = r.y; y < r.y + r.height; y++)
		for (uint32_t x = r.x; x < r.x + r.width; x++)
			if ((canvas[(size_t)y * width + x] & 0xffffff) != pixel(x, y, gen))
				return false;
	return true;
}

/* The copy gives its pages back once everything in it was sent, and
 * only then: a change not yet sent survives a release, and a released
 * copy takes the next changes as before. */
static void test_copy_released_once_sent(void)
{
	const uint32_t width = 1024, height = 1024;
	const struct display_rect all = { 0, 0, width, height };
	const struct display_rect corner = { 100, 200, 64, 32 };
	const uint64_t frame_kib = (uint64_t)width * height * 4 / 1024;
	uint32_t *canvas = calloc((size_t)width * height, 4);
	uint64_t before, after;
	struct rig r;

	if (!canvas || !rig_start_sized(&r, false, width, height)) {
		CHECK(!"a server starts");
		rig_stop(&r);
		free(canvas);
		return;
	}
	/* A change not sent yet: the copy is kept. */
	paint(r.o, all, 1);
	CHECK(!spice_output_release_copy(r.o));
	spice_output_send(r.o);
	drain_sized(r.o, canvas, width, height);
	CHECK(!spice_output_has_dirty(r.o));
	CHECK(shows(canvas, width, all, 1));

	/* Everything sent: the copy's pages, a frame of them, go back. */
	before = proc_status_kib("RssAnon");
	CHECK(spice_output_release_copy(r.o));
	after = proc_status_kib("RssAnon");
	fprintf(stderr, "  release: resident anonymous memory %" PRIu64 " -> %" PRIu64
		" KiB (a frame is %" PRIu64 ")\n", before, after, frame_kib);
	CHECK(before >= after + frame_kib * 9 / 10);

	/* The released copy takes a change and sends it whole. */
	paint(r.o, corner, 2);
	spice_output_send(r.o);
	drain_sized(r.o, canvas, width, height);
	CHECK(shows(canvas, width, corner, 2));
	CHECK(shows(canvas, width, (struct display_rect){ 0, 0, width, corner.y }, 1));
	rig_stop(&r);
	free(canvas);
}

/* ---- GL scanout ----
 *
 * First the GPU's half (spice_output_gl_scanout, _gl_draw, _gl_state) and
 * the acknowledgement (the async_complete callback), on an output no
 * server knows. The loop thread's half, spice_output_service, hands the
 * buffer and the draw to spice-server (spice_qxl_gl_scanout,
 * spice_qxl_gl_draw_async), which reads the instance's state that
 * spice_server_add_interface made: on an output never attached it would
 * crash, so those tests never call it; the last one does, on an attached
 * output with no client. What a client does (maps the fd, acknowledges
 * late or never: the timeout that leaves an output STALLED after
 * DISPLAY_DMABUF_ACK_TIMEOUT_MS) is tests/e2e/guest_gl_dmabuf.sh's. */

#define GL_DRAW_COOKIE 0x676c64726177ull   /* spice_qxl.c's, the only one it answers */
#define XRGB8888       0x34325258u         /* DRM_FORMAT_XRGB8888 */

/* An output no server knows: nothing here may reach spice-server. */
static struct spice_output *unattached_output(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	r->o = spice_output_new(0, WIDTH, HEIGHT, count_wake, r);
	return r->o;
}

/* Stands in for a GPU's buffer (a memfd of a frame): any fd shows who
 * closed it. */
static int buffer_fd(void)
{
	int fd = memfd_create("gl-buffer", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)FRAME) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool fd_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* spice-server's worker says every client acknowledged a draw. */
static void acknowledge(struct spice_output *o, uint64_t cookie)
{
	QXLInstance *qin = spice_output_qxl(o);
	const QXLInterface *sif = (const QXLInterface *)qin->base.sif;

	sif->async_complete(qin, cookie);
}

static const struct display_rect whole = { 0, 0, WIDTH, HEIGHT };

/* Nothing to draw from before the GPU names a buffer. */
static void test_gl_draw_needs_a_buffer(void)
{
	struct rig r;

	if (!unattached_output(&r)) {
		CHECK(!"an output");
		return;
	}
	CHECK_EQ(spice_output_gl_state(r.o), DISPLAY_DMABUF_READY);
	CHECK_EQ(spice_output_gl_acks(r.o), 0);
	CHECK_EQ(spice_output_gl_draw(r.o, &whole), -1);
	CHECK_EQ(spice_output_gl_state(r.o), DISPLAY_DMABUF_READY);
	CHECK_EQ(atomic_load(&r.wakes), 0);                  /* nothing for the loop */
	/* A stray acknowledgement changes nothing either. */
	acknowledge(r.o, GL_DRAW_COOKIE - 1);
	CHECK_EQ(spice_output_gl_acks(r.o), 0);
	spice_output_free(r.o);
}

/* One draw at a time: from the draw until spice-server's worker answers
 * its cookie the output is BUSY, and neither a draw nor a new buffer is
 * taken (a new buffer's fd is closed). The answer makes it READY. */
static void test_gl_draw_busy_until_acknowledged(void)
{
	struct rig r;
	int fd, refused, second;
	unsigned wakes;

	if (!unattached_output(&r)) {
		CHECK(!"an output");
		return;
	}
	fd = buffer_fd();
	CHECK(fd >= 0);
	CHECK_EQ(spice_output_gl_scanout(r.o, fd, WIDTH, HEIGHT, WIDTH * 4, XRGB8888), 0);
	CHECK(!fd_closed(fd));                               /* the output's, until handed over */
	CHECK(atomic_load(&r.wakes) > 0);                    /* the loop hands it over */
	CHECK_EQ(spice_output_gl_state(r.o), DISPLAY_DMABUF_READY);   /* a buffer is no draw */

	wakes = atomic_load(&r.wakes);
	CHECK_EQ(spice_output_gl_draw(r.o, &whole), 0);
	CHECK(atomic_load(&r.wakes) > wakes);
	CHECK_EQ(spice_output_gl_state(r.o), DISPLAY_DMABUF_BUSY);
	CHECK_EQ(spice_output_gl_draw(r.o, &whole), -1);
	CHECK_EQ(spice_output_gl_draw(r.o, &(struct display_rect){ 0, 0, 1, 1 }), -1);
	refused = buffer_fd();
	CHECK(refused >= 0);
	CHECK_EQ(spice_output_gl_scanout(r.o, refused, WIDTH, HEIGHT, WIDTH * 4, XRGB8888), -1);
	CHECK(fd_closed(refused));
	CHECK(!fd_closed(fd));                               /* the named one stays */
	CHECK_EQ(spice_output_gl_state(r.o), DISPLAY_DMABUF_BUSY);

	/* Only the GL draw's cookie ends it. */
	acknowledge(r.o, 0);
	acknowledge(r.o, GL_DRAW_COOKIE + 1);
	CHECK_EQ(spice_output_gl_state(r.o), DISPLAY_DMABUF_BUSY);
	CHECK_EQ(spice_output_gl_acks(r.o), 0);
	acknowledge(r.o, GL_DRAW_COOKIE);
	CHECK_EQ(spice_output_gl_state(r.o), DISPLAY_DMABUF_READY);
	CHECK_EQ(spice_output_gl_acks(r.o), 1);

	/* The buffer stays named: the next frame is a draw alone. */
	CHECK_EQ(spice_output_gl_draw(r.o, &whole), 0);
	CHECK_EQ(spice_output_gl_state(r.o), DISPLAY_DMABUF_BUSY);
	acknowledge(r.o, GL_DRAW_COOKIE);
	CHECK_EQ(spice_output_gl_state(r.o), DISPLAY_DMABUF_READY);
	CHECK_EQ(spice_output_gl_acks(r.o), 2);

	/* A new buffer while READY is taken; one the loop never handed
	 * over is closed when the next replaces it, and when the output
	 * goes. */
	second = buffer_fd();
	CHECK(second >= 0);
	CHECK_EQ(spice_output_gl_scanout(r.o, second, WIDTH, HEIGHT, WIDTH * 4, XRGB8888), 0);
	CHECK(fd_closed(fd));
	CHECK(!fd_closed(second));
	spice_output_free(r.o);
	CHECK(fd_closed(second));
}

/* A draw is clipped to the buffer (what reaches spice-server is the loop
 * thread's, and the end-to-end test's: here only that it is taken); one
 * that starts outside it is refused. */
static void test_gl_draw_clipped_to_buffer(void)
{
	struct rig r;

	if (!unattached_output(&r)) {
		CHECK(!"an output");
		return;
	}
	CHECK_EQ(spice_output_gl_scanout(r.o, buffer_fd(), WIDTH, HEIGHT, WIDTH * 4, XRGB8888),
		 0);
	CHECK_EQ(spice_output_gl_draw(r.o, &(struct display_rect){ WIDTH, 0, 1, 1 }), -1);
	CHECK_EQ(spice_output_gl_draw(r.o, &(struct display_rect){ 0, HEIGHT, 1, 1 }), -1);
	CHECK_EQ(spice_output_gl_state(r.o), DISPLAY_DMABUF_READY);
	CHECK_EQ(spice_output_gl_draw(r.o, &(struct display_rect){ WIDTH - 10, HEIGHT - 10,
								  100, 100 }), 0);
	CHECK_EQ(spice_output_gl_state(r.o), DISPLAY_DMABUF_BUSY);
	acknowledge(r.o, GL_DRAW_COOKIE);
	CHECK_EQ(spice_output_gl_draw(r.o, &(struct display_rect){ 0, 0, UINT32_MAX,
								  UINT32_MAX }), 0);
	acknowledge(r.o, GL_DRAW_COOKIE);
	/* The buffer's size counts, not the output's. */
	CHECK_EQ(spice_output_gl_scanout(r.o, buffer_fd(), WIDTH / 2, HEIGHT / 2, WIDTH * 2,
					 XRGB8888), 0);
	CHECK_EQ(spice_output_gl_draw(r.o, &(struct display_rect){ WIDTH / 2, 0, 1, 1 }), -1);
	CHECK_EQ(spice_output_gl_draw(r.o, &(struct display_rect){ WIDTH / 2 - 1, 0, 1, 1 }), 0);
	CHECK_EQ(spice_output_gl_acks(r.o), 2);
	spice_output_free(r.o);
}

/* Polls until spice-server's worker answered the draw; false after 2 s. */
static bool wait_ready(struct spice_output *o)
{
	for (int i = 0; i < 2000; i++) {
		if (spice_output_gl_state(o) == DISPLAY_DMABUF_READY)
			return true;
		usleep(1000);
	}
	return false;
}

/* With a server but no client: the loop thread hands the buffer, then the
 * draw, over, and spice-server, with nobody to wait for, answers the draw
 * at once with its cookie. */
static void test_gl_through_spice_server(void)
{
	struct rig r;
	int fd;

	if (!rig_start(&r, true)) {
		CHECK(!"a server starts");
		rig_stop(&r);
		return;
	}
	fd = buffer_fd();
	CHECK(fd >= 0);
	CHECK_EQ(spice_output_gl_scanout(r.o, fd, WIDTH, HEIGHT, WIDTH * 4, XRGB8888), 0);
	CHECK_EQ(spice_output_gl_draw(r.o, &whole), 0);
	CHECK_EQ(spice_output_gl_state(r.o), DISPLAY_DMABUF_BUSY);
	spice_output_service(r.o);                           /* the loop thread, woken */
	CHECK(wait_ready(r.o));
	CHECK_EQ(spice_output_gl_acks(r.o), 1);
	CHECK(!fd_closed(fd));                               /* spice-server's now */
	/* The next frame: a draw alone, on the buffer spice-server holds. */
	CHECK_EQ(spice_output_gl_draw(r.o, &(struct display_rect){ 8, 8, 16, 16 }), 0);
	spice_output_service(r.o);
	CHECK(wait_ready(r.o));
	CHECK_EQ(spice_output_gl_acks(r.o), 2);
	/* Nothing pending: servicing again hands nothing over. */
	spice_output_service(r.o);
	CHECK_EQ(spice_output_gl_acks(r.o), 2);
	rig_stop(&r);
	/* spice-server (0.15) keeps the last buffer's fd past
	 * spice_server_destroy; the output no longer has it either. */
	if (!fd_closed(fd))
		close(fd);
}

TEST_MAIN("spice_qxl",
	TEST_CASE(test_flood_with_nobody_pulling),
	TEST_CASE(test_spice_server_lets_go),
	TEST_CASE(test_copy_released_once_sent),
	TEST_CASE(test_gl_draw_needs_a_buffer),
	TEST_CASE(test_gl_draw_busy_until_acknowledged),
	TEST_CASE(test_gl_draw_clipped_to_buffer),
	TEST_CASE(test_gl_through_spice_server))
