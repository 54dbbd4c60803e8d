/* The GPU's host memory end to end, as gvmm runs it: the 2D command
 * engine, the display and the SPICE server on its loop thread, no client.
 * A hostile guest asks for big scanouts on every output and floods them
 * with flushes; it gets out-of-memory errors, and the process grows by no
 * more than --gpu max-memory (the README's bound) and a little slack for
 * spice-server's own state. Measured as the process's resident set
 * (VmRSS), so whatever the engine, the display or spice-server
 * allocates, counted or not, shows. */
#include "check.h"

#include <endian.h>
#include <linux/virtio_gpu.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <unistd.h>

#include "../../devices/gpu/virtio_gpu_cmd.h"
#include "../../display/spice_display.h"
#include "../../display/spice_ticket.h"
#include "../../vmm/event_loop.h"
#include "../../vmm/guest_memory.h"
#include "proc_status.h"

#define OUTPUTS      16
#define MODE_W       640
#define MODE_H       480
#define CAP          (64ull << 20)
/* spice-server's workers, encoders and allocator arenas, the engine's
 * tables: what the process grows by beyond what is counted. */
#define SLACK        (32ull << 20)

#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer keeps freed blocks (256 MiB of them by default) and
 * shadows every byte with an eighth of one: a small quarantine, and room
 * for the shadow and it. */
#define SAN_SLACK    (CAP / 8 + (32ull << 20))
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}
#else
#define SAN_SLACK    0
#endif

/* ---- the SPICE server on its loop thread, as in gvmm ---- */

struct server {
	struct event_loop loop;
	pthread_t thread;
	sem_t ready;
	struct spice_options opt;
	bool created;
	char err[256];
	struct display *display;
};

static void *run_loop(void *opaque)
{
	struct server *s = opaque;

	s->created = spice_display_create(&s->display, &s->opt, &s->loop, OUTPUTS, MODE_W, MODE_H,
					  s->err, sizeof(s->err)) == 0;
	sem_post(&s->ready);
	if (!s->created)
		return NULL;
	event_loop_run(&s->loop);
	spice_display_destroy(s->display);
	return NULL;
}

static bool server_start(struct server *s)
{
	char arg[128];

	memset(s, 0, sizeof(*s));
	signal(SIGPIPE, SIG_IGN);
	snprintf(arg, sizeof(arg), "unix:/tmp/gvmm-gpu-memory-%d.sock,refresh-rate=240",
		 (int)getpid());
	if (spice_options_parse(arg, &s->opt, s->err, sizeof(s->err)) < 0 ||
	    spice_ticket_settle(&s->opt, NULL, s->err, sizeof(s->err)) < 0 ||
	    event_loop_init(&s->loop) < 0)
		return false;
	sem_init(&s->ready, 0, 0);
	if (pthread_create(&s->thread, NULL, run_loop, s)) {
		event_loop_destroy(&s->loop);
		return false;
	}
	sem_wait(&s->ready);
	if (!s->created) {
		fprintf(stderr, "  spice_display_create: %s\n", s->err);
		pthread_join(s->thread, NULL);
		event_loop_destroy(&s->loop);
	}
	return s->created;
}

static void server_stop(struct server *s)
{
	event_loop_stop(&s->loop);
	pthread_join(s->thread, NULL);
	event_loop_destroy(&s->loop);
	sem_destroy(&s->ready);
}

/* ---- the guest's requests ---- */

static uint32_t send_request(struct gpu2d *g, const void *req, size_t len)
{
	uint8_t resp[GPU2D_MAX_RESPONSE];
	struct virtio_gpu_ctrl_hdr h;

	if (gpu2d_handle(g, GPU2D_CONTROLQ, req, len, resp, sizeof(resp)) < sizeof(h))
		return 0;
	memcpy(&h, resp, sizeof(h));
	return le32toh(h.type);
}

static struct virtio_gpu_rect rect(uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	return (struct virtio_gpu_rect){ htole32(x), htole32(y), htole32(w), htole32(h) };
}

static uint32_t create(struct gpu2d *g, uint32_t id, uint32_t w, uint32_t h)
{
	struct virtio_gpu_resource_create_2d c = {
		.hdr.type = htole32(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D),
		.resource_id = htole32(id), .format = htole32(VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM),
		.width = htole32(w), .height = htole32(h),
	};

	return send_request(g, &c, sizeof(c));
}

static uint32_t set_scanout(struct gpu2d *g, uint32_t scanout, uint32_t id,
			    struct virtio_gpu_rect r)
{
	struct virtio_gpu_set_scanout c = {
		.hdr.type = htole32(VIRTIO_GPU_CMD_SET_SCANOUT), .r = r,
		.scanout_id = htole32(scanout), .resource_id = htole32(id),
	};

	return send_request(g, &c, sizeof(c));
}

static uint32_t flush(struct gpu2d *g, uint32_t id, struct virtio_gpu_rect r)
{
	struct virtio_gpu_resource_flush c = {
		.hdr.type = htole32(VIRTIO_GPU_CMD_RESOURCE_FLUSH), .r = r,
		.resource_id = htole32(id),
	};

	return send_request(g, &c, sizeof(c));
}

/* ---- the measurement ---- */

/* The process's resident set in bytes, 0 if unknown. */
static uint64_t rss(void)
{
	return proc_status_kib("VmRSS") << 10;
}

static void test_hostile_guest_stays_within_max_memory(void)
{
	const uint64_t bound = CAP + SLACK + SAN_SLACK;
	uint64_t base, now, worst = 0;
	unsigned shown = 0, refused = 0;
	struct guest_memory mem;
	struct server s;
	struct gpu2d g;
	char err[128];

	if (!rss())
		SKIP_TEST("no VmRSS in /proc/self/status");
	if (!server_start(&s)) {
		CHECK(!"the SPICE server starts");
		return;
	}
	CHECK_EQ(guest_memory_create(&mem, 1 << 20, false, err, sizeof(err)), 0);
	CHECK_EQ(gpu2d_init(&g, &mem, s.display, OUTPUTS, MODE_W, MODE_H, CAP), 0);
	/* The outputs' pictures of the configured mode exist from the start:
	 * the configuration's, before any guest. */
	usleep(100 * 1000);
	base = rss();

	/* One big resource within the cap, shown whole on every output, then
	 * a quarter of it: what the display would need is far beyond it. */
	CHECK_EQ(create(&g, 1, 2048, 2048), VIRTIO_GPU_RESP_OK_NODATA);
	for (unsigned i = 0; i < OUTPUTS; i++)
		CHECK_EQ(set_scanout(&g, i, 1, rect(0, 0, 2048, 2048)),
			 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	for (unsigned i = 0; i < OUTPUTS; i++) {
		if (set_scanout(&g, i, 1, rect(0, 0, 1024, 1024)) == VIRTIO_GPU_RESP_OK_NODATA)
			shown++;
		else
			refused++;
		CHECK(g.host_memory <= CAP);
	}
	CHECK(shown >= 1 && refused >= 1);
	/* Flushes that overlap and never cover one another whole, as fast
	 * as the guest can: every output showing the resource gets them. */
	for (unsigned k = 0; k < 240; k++) {
		uint32_t shift = (k * 37) % 1024;

		CHECK_EQ(flush(&g, 1, rect(0, shift, 2048, 2048 - shift)), VIRTIO_GPU_RESP_OK_NODATA);
		if (k % 4)
			continue;
		usleep(2000);
		now = rss();
		if (now > base && now - base > worst)
			worst = now - base;
		if (worst > bound)
			break;   /* failed: no need to eat the machine to show it */
	}
	usleep(200 * 1000);
	now = rss();
	if (now > base && now - base > worst)
		worst = now - base;
	fprintf(stderr, "  %u outputs shown, %u refused; grew by %llu MiB at most (bound %llu MiB)\n",
		shown, refused, (unsigned long long)(worst >> 20), (unsigned long long)(bound >> 20));
	CHECK(worst <= bound);
	CHECK(g.host_memory <= CAP);

	gpu2d_destroy(&g);
	server_stop(&s);
	guest_memory_destroy(&mem);
}

TEST_MAIN("gpu_memory",
	TEST_CASE(test_hostile_guest_stays_within_max_memory))
