/* One display output as spice-server sees it (display/spice_qxl.c), with
 * a real spice-server but no client: what the output holds in draw
 * commands stays within what spice_output_bytes says, whether nobody
 * pulls the commands (this test plays spice-server's worker, late) or
 * spice-server pulls them itself; and the picture the commands paint,
 * once drained, is the last one the GPU wrote. */
#include "check.h"

#include <stdatomic.h>
#include <unistd.h>

#include <spice.h>

#include "../../display/spice_core.h"
#include "../../display/spice_qxl.h"
#include "../../vmm/event_loop.h"

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

static bool rig_start(struct rig *r, bool started)
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
	r->o = spice_output_new(0, WIDTH, HEIGHT, count_wake, r);
	if (!r->o || spice_output_attach(r->o, r->server) < 0)
		return false;
	if (started)
		spice_server_vm_start(r->server);
	return true;
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

/* Plays spice-server's worker: pulls every command, paints the draws on
 * canvas (BGRA rows of WIDTH), gives each back. Returns how many. */
static unsigned drain(struct spice_output *o, uint32_t *canvas)
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
			CHECK(d->bbox.left >= 0 && d->bbox.right <= WIDTH && d->bbox.left < d->bbox.right);
			CHECK(d->bbox.top >= 0 && d->bbox.bottom <= HEIGHT && d->bbox.top < d->bbox.bottom);
			for (int32_t y = d->bbox.top; y < d->bbox.bottom; y++)
				memcpy(canvas + (size_t)y * WIDTH + d->bbox.left,
				       src + (size_t)(y - d->bbox.top) * img->bitmap.stride,
				       (size_t)(d->bbox.right - d->bbox.left) * 4);
			info = &d->release_info;
		} else {
			QXLUpdateCmd *u = (QXLUpdateCmd *)(uintptr_t)ext.cmd.data;

			CHECK_EQ(ext.cmd.type, QXL_CMD_UPDATE);
			CHECK(u->area.left == 0 && u->area.top == 0);
			CHECK(u->area.right == WIDTH && u->area.bottom == HEIGHT);
			info = &u->release_info;
		}
		sif->release_resource(qin, (struct QXLReleaseInfoExt){ .info = info });
	}
	return n;
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

TEST_MAIN("spice_qxl",
	TEST_CASE(test_flood_with_nobody_pulling),
	TEST_CASE(test_spice_server_lets_go))
