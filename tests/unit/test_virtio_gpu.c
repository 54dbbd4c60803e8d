/* virtio-gpu behind the virtio-pci transport, served on its own GPU
 * thread: the test plays the guest driver (config space, BAR 0 MMIO,
 * split rings in guest RAM as virtio 1.2, 2.7 lays them out) and a viewer
 * (a fake display through display_backend.h asking for new modes). Also
 * the --gpu option parser. Requests are built byte by byte from virtio
 * 1.2, 5.7.6: <linux/virtio_gpu.h> has its own struct virtio_gpu_config. */
#include "check.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "../../devices/pci/pci.h"
#include "../../devices/gpu/virtio_gpu.h"
#include "../../display/display_backend.h"
#include "../../vmm/bus.h"
#include "../../vmm/guest_memory.h"
#include "fake_mapper.h"
#include "virtio_driver.h"

#define F_EDID       1
#define ISR_CONFIG   2

/* virtio 1.2, 5.7. */
#define CMD_GET_DISPLAY_INFO  0x0100
#define CMD_RESOURCE_CREATE_2D 0x0101
#define CMD_GET_EDID          0x010a
#define CMD_UPDATE_CURSOR     0x0300
#define RESP_OK_NODATA        0x1100
#define RESP_OK_DISPLAY_INFO  0x1101
#define RESP_OK_EDID          0x1104
#define RESP_ERR_UNSPEC       0x1200
#define RESP_ERR_INVALID_RESOURCE_ID 0x1203
#define RESP_ERR_INVALID_PARAMETER 0x1205
#define HDR_SIZE              24
#define DISPLAY_INFO_SIZE     (HDR_SIZE + 16 * 24)
#define EDID_RESP_SIZE        (HDR_SIZE + 8 + 1024)
#define CONFIG_EVENTS_READ    0
#define CONFIG_EVENTS_CLEAR   4
#define CONFIG_NUM_SCANOUTS   8
#define CONFIG_NUM_CAPSETS    12

#define RAM_SIZE   (4ull << 20)
#define QSIZE      16
#define DESC_GPA   0x10000ull
#define AVAIL_GPA  0x11000ull
#define USED_GPA   0x12000ull
#define REQ_GPA    0x100000ull
#define RESP_GPA   0x101000ull
#define Q_OFF(q)   ((q) * 0x4000ull)
#define CONTROLQ   0
#define CURSORQ    1

/* ---- a fake display ---- */

struct fake_display {
	atomic_int resizes, cursor_defines, cursor_moves;
	/* hold_resizes: a resize waits (on the GPU thread) for release, so a
	 * test can look at the rings while the device is stuck mid-queue. */
	atomic_bool hold_resizes, in_resize, release;
};

static int fake_resize(void *impl, unsigned output, uint32_t w, uint32_t h)
{
	struct fake_display *f = impl;

	(void)output; (void)w; (void)h;
	atomic_fetch_add(&f->resizes, 1);
	if (atomic_load(&f->hold_resizes)) {
		atomic_store(&f->in_resize, true);
		for (int ms = 0; ms < VDRV_WAIT_MS && !atomic_load(&f->release); ms++)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	return 0;
}

static void fake_update(void *impl, unsigned output, const struct display_rect *r,
			const void *pixels, uint32_t stride, enum display_format format)
{
	(void)impl; (void)output; (void)r; (void)pixels; (void)stride; (void)format;
}

static void fake_cursor_define(void *impl, unsigned output, uint32_t w, uint32_t h,
			       uint32_t hot_x, uint32_t hot_y, const void *pixels,
			       uint32_t stride, enum display_format format)
{
	struct fake_display *f = impl;

	(void)output; (void)w; (void)h; (void)hot_x; (void)hot_y; (void)pixels; (void)stride;
	(void)format;
	atomic_fetch_add(&f->cursor_defines, 1);
}

static void fake_cursor_move(void *impl, unsigned output, int32_t x, int32_t y, bool visible)
{
	struct fake_display *f = impl;

	(void)output; (void)x; (void)y; (void)visible;
	atomic_fetch_add(&f->cursor_moves, 1);
}

static const struct display_backend_ops fake_ops = {
	.output_resize = fake_resize,
	.output_update = fake_update,
	.cursor_define = fake_cursor_define,
	.cursor_move = fake_cursor_move,
};

/* ---- the rig ---- */

struct rig {
	struct vdrv drv;
	struct fake_display seen;
	struct display *display;
	struct virtio_gpu *gpu;
	struct fake_mapper mapper;   /* host pages into the guest, as KVM slots */
};

static uint32_t config_read(struct rig *r, unsigned off)
{
	return (uint32_t)vdrv_mmio_read(&r->drv, r->drv.device + off, 4);
}

/* Reset, negotiate VERSION_1 (and EDID if asked), both queues, DRIVER_OK. */
static void driver_start(struct rig *r, bool edid)
{
	vdrv_common_write(&r->drv, VDRV_STATUS, 0, 1);
	vdrv_zero(&r->drv, DESC_GPA, 0x8000);
	CHECK(vdrv_device_features(&r->drv) & 1u << F_EDID);
	CHECK(vdrv_negotiate(&r->drv, 1ull << VDRV_F_VERSION_1 | (edid ? 1u << F_EDID : 0)));
	for (unsigned q = 0; q < 2; q++)
		vdrv_queue_setup(&r->drv, q, QSIZE, DESC_GPA + Q_OFF(q), AVAIL_GPA + Q_OFF(q),
				 USED_GPA + Q_OFF(q));
	CHECK(vdrv_driver_ok(&r->drv));
}

static struct rig *rig_new(unsigned outputs)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct virtio_gpu_config cfg;
	struct virtio_pci_env env;
	char err[128];

	if (!r)
		abort();
	vdrv_platform_init(&r->drv, RAM_SIZE);
	env = vdrv_env(&r->drv);
	r->display = display_new(&fake_ops, &r->seen);
	CHECK_EQ(virtio_gpu_option_parse("", &cfg, err, sizeof(err)), 0);
	cfg.nr_outputs = outputs;
	CHECK_EQ(virtio_gpu_create(&r->gpu, &cfg, r->display, &env, err, sizeof(err)), 0);
	vdrv_attach(&r->drv, virtio_gpu_pci_device(r->gpu));
	return r;
}

static void rig_free(struct rig *r)
{
	/* As vm_destroy does: the GPU thread stops raising interrupts on the
	 * bus, and the bus reads its devices' BARs as it lets go of them,
	 * before the device is freed. */
	virtio_gpu_stop(r->gpu);
	pci_bus_destroy(&r->drv.pb);
	virtio_gpu_destroy(r->gpu);
	/* Detached: a late viewer request reaches nobody. */
	display_request_mode(r->display, 0, 800, 600);
	display_free(r->display);
	guest_memory_destroy(&r->drv.mem);
	bus_destroy(&r->drv.mmio);
	bus_destroy(&r->drv.pio);
	CHECK_EQ(fake_mapper_count(&r->mapper), 0);
	fake_mapper_destroy(&r->mapper);
	free(r);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One request of req_len bytes (already in req) with a resp_room-byte
 * response buffer, on queue q; returns the used length, the response in
 * resp. */
static uint32_t round_trip(struct rig *r, unsigned q, const uint8_t *req, uint32_t req_len,
			   uint32_t resp_room, uint8_t *resp)
{
	/* Each request is done before the next: descriptors 0 and 1 serve
	 * them all. */
	uint16_t head = 0;
	uint16_t before = vdrv_used_idx(&r->drv, q);
	uint32_t id, len;

	vdrv_put(&r->drv, REQ_GPA, req, req_len);
	vdrv_put(&r->drv, RESP_GPA, (uint8_t[EDID_RESP_SIZE]){ 0 }, EDID_RESP_SIZE);
	if (resp_room) {
		vdrv_desc(&r->drv, q, head, REQ_GPA, req_len, VDRV_DESC_F_NEXT, (uint16_t)(head + 1));
		vdrv_desc(&r->drv, q, (uint16_t)(head + 1), RESP_GPA, resp_room, VDRV_DESC_F_WRITE, 0);
	} else {
		vdrv_desc(&r->drv, q, head, REQ_GPA, req_len, 0, 0);
	}
	vdrv_offer_and_kick(&r->drv, q, head);
	CHECK(vdrv_wait_used(&r->drv, q, (uint16_t)(before + 1)));
	vdrv_used_elem(&r->drv, q, before, &id, &len);
	CHECK_EQ(guest_memory_read(&r->drv.mem, RESP_GPA, resp, EDID_RESP_SIZE), 0);
	return len;
}

static void display_info(struct rig *r, uint8_t *resp)
{
	uint8_t req[HDR_SIZE] = { 0 };

	put_le32(req, CMD_GET_DISPLAY_INFO);
	CHECK_EQ(round_trip(r, CONTROLQ, req, sizeof(req), DISPLAY_INFO_SIZE, resp),
		 DISPLAY_INFO_SIZE);
	CHECK_EQ(get_le32(resp), RESP_OK_DISPLAY_INFO);
}

/* pmodes[i]: rect x, y, width, height, enabled, flags. */
static uint32_t pmode(const uint8_t *resp, unsigned output, unsigned field)
{
	return get_le32(resp + HDR_SIZE + 24 * output + 4 * field);
}

/* ---- tests ---- */

static void identifies_as_a_display_controller(void)
{
	struct rig *r = rig_new(3);

	CHECK_EQ(vdrv_cfg_read(&r->drv, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_GPU);
	/* The revision byte, then the class code. */
	CHECK_EQ(vdrv_cfg_read(&r->drv, PCI_REVISION_ID, 4) >> 8, 0x038000);
	CHECK_EQ(config_read(r, CONFIG_NUM_SCANOUTS), 3);
	CHECK_EQ(config_read(r, CONFIG_NUM_CAPSETS), 0);
	CHECK_EQ(config_read(r, CONFIG_EVENTS_READ), 0);
	rig_free(r);
}

static void display_info_round_trip(void)
{
	struct rig *r = rig_new(2);
	uint8_t resp[EDID_RESP_SIZE], req[HDR_SIZE + 8] = { 0 };

	driver_start(r, true);
	display_info(r, resp);
	for (unsigned i = 0; i < 2; i++) {
		CHECK_EQ(pmode(resp, i, 2), VIRTIO_GPU_DEFAULT_WIDTH);
		CHECK_EQ(pmode(resp, i, 3), VIRTIO_GPU_DEFAULT_HEIGHT);
		CHECK_EQ(pmode(resp, i, 4), 1);
	}
	CHECK_EQ(pmode(resp, 2, 4), 0);
	/* With EDID negotiated, each output has one. */
	put_le32(req, CMD_GET_EDID);
	put_le32(req + HDR_SIZE, 1);
	CHECK_EQ(round_trip(r, CONTROLQ, req, sizeof(req), EDID_RESP_SIZE, resp), EDID_RESP_SIZE);
	CHECK_EQ(get_le32(resp), RESP_OK_EDID);
	CHECK_EQ(get_le32(resp + HDR_SIZE), 128);
	CHECK_EQ(resp[HDR_SIZE + 8 + 12], 1);       /* the serial is the output */
	/* A response buffer too small gets what fits. */
	put_le32(req, CMD_GET_DISPLAY_INFO);
	CHECK_EQ(round_trip(r, CONTROLQ, req, HDR_SIZE, 40, resp), 40);
	CHECK_EQ(get_le32(resp), RESP_OK_DISPLAY_INFO);
	CHECK_EQ(resp[40], 0);
	/* No response buffer at all: the request still runs. */
	CHECK_EQ(round_trip(r, CONTROLQ, req, HDR_SIZE, 0, resp), 0);
	/* Without EDID negotiated there is none. */
	driver_start(r, false);
	put_le32(req, CMD_GET_EDID);
	CHECK_EQ(round_trip(r, CONTROLQ, req, sizeof(req), EDID_RESP_SIZE, resp), HDR_SIZE);
	CHECK_EQ(get_le32(resp), RESP_ERR_UNSPEC);
	CHECK(!(vdrv_status(&r->drv) & VIRTIO_STATUS_NEEDS_RESET));
	rig_free(r);
}

static void viewer_mode_raises_a_config_event(void)
{
	struct rig *r = rig_new(2);
	uint8_t resp[EDID_RESP_SIZE];
	uint8_t generation;

	driver_start(r, true);
	(void)vdrv_mmio_read(&r->drv, r->drv.isr, 1);
	generation = (uint8_t)vdrv_mmio_read(&r->drv, r->drv.common + VDRV_GENERATION, 1);
	display_request_mode(r->display, 1, 1920, 1080);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.isr, 1) & ISR_CONFIG, ISR_CONFIG);
	CHECK(atomic_load(&r->drv.irq.rises) >= 1);
	CHECK((uint8_t)vdrv_mmio_read(&r->drv, r->drv.common + VDRV_GENERATION, 1) != generation);
	CHECK_EQ(config_read(r, CONFIG_EVENTS_READ), 1);
	display_info(r, resp);
	CHECK_EQ(pmode(resp, 0, 2), VIRTIO_GPU_DEFAULT_WIDTH);
	CHECK_EQ(pmode(resp, 1, 2), 1920);
	CHECK_EQ(pmode(resp, 1, 3), 1080);
	/* Write 1 to clear. */
	vdrv_mmio_write(&r->drv, r->drv.device + CONFIG_EVENTS_CLEAR, 1, 4);
	CHECK_EQ(config_read(r, CONFIG_EVENTS_READ), 0);
	/* The same size again is no news. */
	display_request_mode(r->display, 1, 1920, 1080);
	CHECK_EQ(config_read(r, CONFIG_EVENTS_READ), 0);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.isr, 1) & ISR_CONFIG, 0);
	/* A closed viewer disconnects the output; absurd sizes are bounded;
	 * outputs the device lacks are ignored. */
	display_request_mode(r->display, 1, 0, 0);
	display_request_mode(r->display, 0, 100000, 3);
	display_request_mode(r->display, 5, 640, 480);
	display_info(r, resp);
	CHECK_EQ(pmode(resp, 1, 4), 0);
	CHECK_EQ(pmode(resp, 0, 2), DISPLAY_MAX_WIDTH);
	CHECK_EQ(pmode(resp, 0, 3), 64);
	CHECK_EQ(config_read(r, CONFIG_EVENTS_READ), 1);
	/* A reset forgets the event; before DRIVER_OK a new mode sets it
	 * without interrupting. */
	vdrv_common_write(&r->drv, VDRV_STATUS, 0, 1);
	CHECK_EQ(config_read(r, CONFIG_EVENTS_READ), 0);
	display_request_mode(r->display, 0, 1024, 768);
	CHECK_EQ(config_read(r, CONFIG_EVENTS_READ), 1);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.isr, 1), 0);
	driver_start(r, true);
	display_info(r, resp);
	CHECK_EQ(pmode(resp, 0, 2), 1024);
	CHECK_EQ(pmode(resp, 0, 3), 768);
	rig_free(r);
}

static void cursor_queue_reaches_the_display(void)
{
	struct rig *r = rig_new(1);
	uint8_t resp[EDID_RESP_SIZE], create[HDR_SIZE + 16] = { 0 }, cur[HDR_SIZE + 32] = { 0 };

	driver_start(r, false);
	put_le32(create, CMD_RESOURCE_CREATE_2D);
	put_le32(create + HDR_SIZE, 9);          /* resource id */
	put_le32(create + HDR_SIZE + 4, 2);      /* B8G8R8X8 */
	put_le32(create + HDR_SIZE + 8, 64);
	put_le32(create + HDR_SIZE + 12, 64);
	CHECK_EQ(round_trip(r, CONTROLQ, create, sizeof(create), HDR_SIZE, resp), HDR_SIZE);
	CHECK_EQ(get_le32(resp), RESP_OK_NODATA);
	put_le32(cur, CMD_UPDATE_CURSOR);
	put_le32(cur + HDR_SIZE + 16, 9);
	/* Linux offers no response buffer on the cursor queue. */
	CHECK_EQ(round_trip(r, CURSORQ, cur, sizeof(cur), 0, resp), 0);
	CHECK_EQ(atomic_load(&r->seen.cursor_defines), 1);
	CHECK_EQ(atomic_load(&r->seen.cursor_moves), 1);
	/* A reset drops every resource. */
	driver_start(r, false);
	CHECK_EQ(round_trip(r, CURSORQ, cur, sizeof(cur), HDR_SIZE, resp), HDR_SIZE);
	CHECK_EQ(get_le32(resp), RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(round_trip(r, CONTROLQ, create, sizeof(create), HDR_SIZE, resp), HDR_SIZE);
	CHECK_EQ(get_le32(resp), RESP_OK_NODATA);
	rig_free(r);
}

static void broken_ring_needs_reset(void)
{
	struct rig *r = rig_new(1);
	uint8_t resp[EDID_RESP_SIZE];

	driver_start(r, false);
	/* A buffer outside guest RAM. */
	vdrv_desc(&r->drv, CONTROLQ, 0, RAM_SIZE + 0x1000, HDR_SIZE, 0, 0);
	vdrv_offer_and_kick(&r->drv, CONTROLQ, 0);
	CHECK(vdrv_wait_status(&r->drv, VIRTIO_STATUS_NEEDS_RESET));
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.isr, 1) & ISR_CONFIG, ISR_CONFIG);
	/* A loop on the cursor queue, after a reset. */
	driver_start(r, false);
	CHECK(!(vdrv_status(&r->drv) & VIRTIO_STATUS_NEEDS_RESET));
	vdrv_desc(&r->drv, CURSORQ, 0, REQ_GPA, HDR_SIZE, VDRV_DESC_F_NEXT, 1);
	vdrv_desc(&r->drv, CURSORQ, 1, REQ_GPA, HDR_SIZE, VDRV_DESC_F_NEXT, 0);
	vdrv_offer_and_kick(&r->drv, CURSORQ, 0);
	CHECK(vdrv_wait_status(&r->drv, VIRTIO_STATUS_NEEDS_RESET));
	/* And it works again after the next reset. */
	driver_start(r, false);
	display_info(r, resp);
	rig_free(r);
}

static void headless_device(void)
{
	struct guest_memory mem;
	struct virtio_gpu_config cfg;
	struct virtio_gpu *gpu;
	struct virtio_pci_env env;
	char err[128];

	CHECK_EQ(guest_memory_create(&mem, RAM_SIZE, false, err, sizeof(err)), 0);
	env = (struct virtio_pci_env){
		.mem = &mem, .vm_fd = -1, .router = { .bind = vdrv_no_msi_bind, .update = vdrv_no_msi_update },
	};
	/* A render node that is not there: 3D cannot start, and says so in
	 * one line that points at 2D. */
	CHECK_EQ(virtio_gpu_option_parse("virgl,rendernode=/nonexistent/renderD200", &cfg, err,
					 sizeof(err)), 0);
	CHECK_EQ(virtio_gpu_create(&gpu, &cfg, NULL, &env, err, sizeof(err)), -1);
	CHECK(strstr(err, "--gpu virgl: cannot start 3D: ") == err);
	CHECK(strstr(err, "; use --gpu 2d") != NULL && !strchr(err, '\n'));
	CHECK_EQ(virtio_gpu_option_parse("outputs=16", &cfg, err, sizeof(err)), 0);
	CHECK_EQ(virtio_gpu_create(&gpu, &cfg, NULL, &env, err, sizeof(err)), 0);
	virtio_gpu_destroy(gpu);
	guest_memory_destroy(&mem);
}

/* ---- virgl ---- */

#define F_VIRGL               0
#define F_CONTEXT_INIT        4
#define CMD_RESOURCE_CREATE_2D_SIZE 40
#define CMD_SET_SCANOUT       0x0103
#define CMD_GET_CAPSET_INFO   0x0108
#define CMD_CTX_CREATE        0x0200
#define CMD_SUBMIT_3D         0x0207
#define RESP_OK_CAPSET_INFO   0x1102
#define FLAG_FENCE            1
#define FORMAT_B8G8R8A8       1
#define CAPSET_VIRGL          1
#define CAPSET_VIRGL2         2
#define VIRGL_FEATURES        (1ull << VDRV_F_VERSION_1 | 1u << F_EDID | 1u << F_VIRGL | \
			       1u << F_CONTEXT_INIT)
/* Two chains in flight at once, besides round_trip's descriptors 0 and 1. */
#define A_REQ_GPA  0x102000ull
#define A_RESP_GPA 0x102800ull
#define B_REQ_GPA  0x103000ull
#define B_RESP_GPA 0x103800ull
#define A_HEAD     2
#define B_HEAD     4
/* Where rings go after a reset, away from the first ones. */
#define SECOND_RINGS 0x20000ull

/* A virgl rig made with --gpu option, on a VM that can map host pages
 * when mapper is set; or NULL when this host cannot run 3D (*why says
 * why). */
static struct rig *rig_new_virgl_with(const char *option, bool mapper, const char **why)
{
	static char reason[256];
	struct rig *r = calloc(1, sizeof(*r));
	struct virtio_gpu_config cfg;
	struct virtio_pci_env env;

	if (!r)
		abort();
	vdrv_platform_init(&r->drv, RAM_SIZE);
	fake_mapper_init(&r->mapper);
	env = vdrv_env(&r->drv);
	if (mapper)
		env.mapper = fake_mapper_ops(&r->mapper);
	r->display = display_new(&fake_ops, &r->seen);
	CHECK_EQ(virtio_gpu_option_parse(option, &cfg, reason, sizeof(reason)), 0);
	if (virtio_gpu_create(&r->gpu, &cfg, r->display, &env, reason, sizeof(reason)) < 0) {
		*why = reason;
		display_free(r->display);
		guest_memory_destroy(&r->drv.mem);
		bus_destroy(&r->drv.mmio);
		bus_destroy(&r->drv.pio);
		fake_mapper_destroy(&r->mapper);
		free(r);
		return NULL;
	}
	vdrv_attach(&r->drv, virtio_gpu_pci_device(r->gpu));
	return r;
}

#define START_VIRGL_WITH(r, option, mapper) do { \
	const char *why_ = NULL; \
	(r) = rig_new_virgl_with((option), (mapper), &why_); \
	if (!(r)) \
		SKIP_TEST(why_); \
} while (0)
#define START_VIRGL(r) START_VIRGL_WITH(r, "virgl", false)

/* As driver_start, with 3D and features on top, the rings at base. */
static void virgl_driver_start_with(struct rig *r, uint64_t base, uint64_t features)
{
	vdrv_common_write(&r->drv, VDRV_STATUS, 0, 1);
	vdrv_zero(&r->drv, base, 0x8000);
	features |= VIRGL_FEATURES;
	CHECK_EQ(vdrv_device_features(&r->drv) & features, features);
	CHECK(vdrv_negotiate(&r->drv, features));
	for (unsigned q = 0; q < 2; q++)
		vdrv_queue_setup(&r->drv, q, QSIZE, base + Q_OFF(q), base + 0x1000 + Q_OFF(q),
				 base + 0x2000 + Q_OFF(q));
	CHECK(vdrv_driver_ok(&r->drv));
}

static void virgl_driver_start(struct rig *r, uint64_t base)
{
	virgl_driver_start_with(r, base, 0);
}

static void header(uint8_t *req, uint32_t type, uint32_t flags, uint64_t fence, uint32_t ctx)
{
	memset(req, 0, HDR_SIZE);
	put_le32(req, type);
	put_le32(req + 4, flags);
	put_le32(req + 8, (uint32_t)fence);
	put_le32(req + 12, (uint32_t)(fence >> 32));
	put_le32(req + 16, ctx);
}

static uint32_t simple_request(struct rig *r, const uint8_t *req, uint32_t len)
{
	uint8_t resp[EDID_RESP_SIZE];

	CHECK_EQ(round_trip(r, CONTROLQ, req, len, HDR_SIZE, resp), HDR_SIZE);
	return get_le32(resp);
}

static void create_context(struct rig *r, uint32_t ctx)
{
	uint8_t req[HDR_SIZE + 8 + 64] = { 0 };

	header(req, CMD_CTX_CREATE, 0, 0, ctx);
	put_le32(req + HDR_SIZE, 4);
	memcpy(req + HDR_SIZE + 8, "test", 4);
	CHECK_EQ(simple_request(r, req, sizeof(req)), RESP_OK_NODATA);
}

static void create_2d(struct rig *r, uint32_t id)
{
	uint8_t req[CMD_RESOURCE_CREATE_2D_SIZE];

	header(req, CMD_RESOURCE_CREATE_2D, 0, 0, 0);
	put_le32(req + HDR_SIZE, id);
	put_le32(req + HDR_SIZE + 4, FORMAT_B8G8R8A8);
	put_le32(req + HDR_SIZE + 8, 64);
	put_le32(req + HDR_SIZE + 12, 64);
	CHECK_EQ(simple_request(r, req, sizeof(req)), RESP_OK_NODATA);
}

/* Puts a two-descriptor chain at head (request, then a response buffer)
 * and offers it without a kick. */
static void offer_chain(struct rig *r, uint16_t head, uint64_t req_gpa, const uint8_t *req,
			uint32_t len, uint64_t resp_gpa)
{
	vdrv_put(&r->drv, req_gpa, req, len);
	vdrv_zero(&r->drv, resp_gpa, HDR_SIZE);
	vdrv_desc(&r->drv, CONTROLQ, head, req_gpa, len, VDRV_DESC_F_NEXT, (uint16_t)(head + 1));
	vdrv_desc(&r->drv, CONTROLQ, (uint16_t)(head + 1), resp_gpa, HDR_SIZE, VDRV_DESC_F_WRITE, 0);
	vdrv_offer(&r->drv, CONTROLQ, head);
}

/* SUBMIT_3D of an empty stream on ctx with a fence on the global ring. */
static void offer_fenced_submit(struct rig *r, uint32_t ctx, uint64_t fence)
{
	uint8_t req[HDR_SIZE + 8] = { 0 };

	header(req, CMD_SUBMIT_3D, FLAG_FENCE, fence, ctx);
	offer_chain(r, A_HEAD, A_REQ_GPA, req, sizeof(req), A_RESP_GPA);
}

/* SET_SCANOUT of resource 1 on output 0: the display resizes, and the
 * fake one waits there while hold_resizes is set. */
static void offer_scanout(struct rig *r)
{
	uint8_t req[HDR_SIZE + 24] = { 0 };

	header(req, CMD_SET_SCANOUT, 0, 0, 0);
	put_le32(req + HDR_SIZE + 8, 64);
	put_le32(req + HDR_SIZE + 12, 64);
	put_le32(req + HDR_SIZE + 20, 1);
	offer_chain(r, B_HEAD, B_REQ_GPA, req, sizeof(req), B_RESP_GPA);
}

/* Context 1 and resource 1 made, resizes held from now on; returns the
 * used index. */
static uint16_t virgl_ready_to_hold(struct rig *r)
{
	virgl_driver_start(r, DESC_GPA);
	create_context(r, 1);
	create_2d(r, 1);
	atomic_store(&r->seen.hold_resizes, true);
	return vdrv_used_idx(&r->drv, CONTROLQ);
}

static bool resize_entered(void *ctx, unsigned arg)
{
	(void)arg;
	return atomic_load(&((struct fake_display *)ctx)->in_resize);
}

static void virgl_offers_capsets(void)
{
	struct rig *r;
	uint8_t req[HDR_SIZE + 8] = { 0 }, resp[EDID_RESP_SIZE];
	uint32_t capsets, id;

	START_VIRGL(r);
	CHECK_EQ(vdrv_device_features(&r->drv) & (1u << F_VIRGL | 1u << F_CONTEXT_INIT),
		 1u << F_VIRGL | 1u << F_CONTEXT_INIT);
	capsets = config_read(r, CONFIG_NUM_CAPSETS);
	CHECK(capsets >= 1 && capsets <= 2);
	virgl_driver_start(r, DESC_GPA);
	header(req, CMD_GET_CAPSET_INFO, 0, 0, 0);
	CHECK_EQ(round_trip(r, CONTROLQ, req, sizeof(req), HDR_SIZE + 16, resp), HDR_SIZE + 16);
	CHECK_EQ(get_le32(resp), RESP_OK_CAPSET_INFO);
	id = get_le32(resp + HDR_SIZE);
	CHECK(id == CAPSET_VIRGL || id == CAPSET_VIRGL2);
	CHECK(get_le32(resp + HDR_SIZE + 8) > 0);   /* max_size */
	/* Past the last: an error, not a crash. */
	put_le32(req + HDR_SIZE, capsets);
	CHECK_EQ(round_trip(r, CONTROLQ, req, sizeof(req), HDR_SIZE + 16, resp), HDR_SIZE);
	CHECK_EQ(get_le32(resp), RESP_ERR_INVALID_PARAMETER);
	rig_free(r);
}

/* A fenced SUBMIT_3D is answered into the guest's buffer at once, but its
 * chain reaches the used ring only once the renderer's fence is seen: the
 * GPU thread is held inside the next chain (a display resize), where it
 * cannot poll, and the ring shows nothing of the fenced one. */
static void virgl_fenced_chain_waits_for_its_fence(void)
{
	struct rig *r;
	uint8_t resp[HDR_SIZE];
	uint16_t before;
	uint32_t id, len;

	START_VIRGL(r);
	before = virgl_ready_to_hold(r);
	offer_fenced_submit(r, 1, 7);
	offer_scanout(r);
	vdrv_kick(&r->drv, CONTROLQ);
	CHECK(vdrv_wait(resize_entered, &r->seen, 0));
	/* Answered, with its fence... */
	vdrv_get(&r->drv, A_RESP_GPA, resp, sizeof(resp));
	CHECK_EQ(get_le32(resp), RESP_OK_NODATA);
	CHECK(get_le32(resp + 4) & FLAG_FENCE);
	CHECK_EQ(get_le32(resp + 8), 7);
	/* ...and held. */
	CHECK_EQ(vdrv_used_idx(&r->drv, CONTROLQ), before);
	atomic_store(&r->seen.release, true);
	CHECK(vdrv_wait_used(&r->drv, CONTROLQ, (uint16_t)(before + 2)));
	vdrv_used_elem(&r->drv, CONTROLQ, before, &id, &len);
	CHECK_EQ(id, B_HEAD);
	CHECK_EQ(len, HDR_SIZE);
	vdrv_used_elem(&r->drv, CONTROLQ, (uint16_t)(before + 1), &id, &len);
	CHECK_EQ(id, A_HEAD);
	CHECK_EQ(len, HDR_SIZE);
	rig_free(r);
}

static void *reset_device(void *arg)
{
	struct rig *r = arg;

	vdrv_common_write(&r->drv, VDRV_STATUS, 0, 1);
	return NULL;
}

/* A reset drops a held chain: it never reaches a used ring, the old one
 * or the one the driver sets up next, even once its fence signals. The
 * reset is asked for while the GPU thread is held in the chain before the
 * fenced one, so it is queued before that fence exists and runs first. */
static void virgl_reset_drops_held_chains(void)
{
	struct rig *r;
	pthread_t resetter;
	uint8_t req[HDR_SIZE + 8] = { 0 }, resp[HDR_SIZE];
	uint16_t before, after_reset;
	uint32_t id, len;

	START_VIRGL(r);
	before = virgl_ready_to_hold(r);
	offer_scanout(r);
	offer_fenced_submit(r, 1, 7);
	vdrv_kick(&r->drv, CONTROLQ);
	CHECK(vdrv_wait(resize_entered, &r->seen, 0));
	CHECK_EQ(pthread_create(&resetter, NULL, reset_device, r), 0);
	/* The reset cannot be seen until the GPU thread runs it; this gives
	 * the resetter time to ask. If it asked late, the fence may complete
	 * first: the checks below hold either way. */
	nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	atomic_store(&r->seen.release, true);
	pthread_join(resetter, NULL);
	after_reset = vdrv_used_idx(&r->drv, CONTROLQ);
	/* The scanout's chain came back; the fenced one was answered... */
	CHECK(after_reset == before + 1 || after_reset == before + 2);
	vdrv_get(&r->drv, A_RESP_GPA, resp, sizeof(resp));
	CHECK(get_le32(resp + 4) & FLAG_FENCE);
	if (after_reset == before + 1)
		fprintf(stderr, "  the fenced chain was held at the reset\n");

	/* New rings elsewhere, and a fenced request there: by the time it
	 * completes, the renderer has signalled the older fence too. */
	atomic_store(&r->seen.hold_resizes, false);
	virgl_driver_start(r, SECOND_RINGS);
	create_context(r, 1);
	header(req, CMD_SUBMIT_3D, FLAG_FENCE, 8, 1);
	CHECK_EQ(simple_request(r, req, sizeof(req)), RESP_OK_NODATA);
	CHECK_EQ(vdrv_used_idx(&r->drv, CONTROLQ), 2);
	for (uint16_t i = 0; i < 2; i++) {
		vdrv_used_elem(&r->drv, CONTROLQ, i, &id, &len);
		CHECK_EQ(id, 0);
	}
	/* The old used ring is as the reset left it. */
	uint16_t old_idx;
	guest_memory_read(&r->drv.mem, USED_GPA + Q_OFF(CONTROLQ) + 2, &old_idx, 2);
	CHECK_EQ(le16toh(old_idx), after_reset);
	rig_free(r);
}

/* ---- blobs ---- */

#define F_RESOURCE_BLOB       3
#define CAP_SHARED_MEMORY     8
#define SHM_ID_HOST_VISIBLE   1
#define SHM_BAR               2
#define CMD_RESOURCE_MAP_BLOB 0x0208
#define MAP_BLOB_SIZE         (HDR_SIZE + 16)
#define MAP_INFO_SIZE         (HDR_SIZE + 8)

struct shm_cap {
	bool found;
	uint8_t bar, id;
	uint64_t offset, length;
};

/* The driver's walk for the host-visible region (virtio 1.2, 4.1.4.7). */
static struct shm_cap find_shm_cap(struct rig *r)
{
	struct shm_cap c = { 0 };
	unsigned guard = 0;

	for (uint8_t at = (uint8_t)vdrv_cfg_read(&r->drv, PCI_CAPABILITY_LIST, 1);
	     at && guard < 48; at = (uint8_t)vdrv_cfg_read(&r->drv, at + 1, 1), guard++) {
		if (vdrv_cfg_read(&r->drv, at, 1) != PCI_CAP_ID_VNDR ||
		    vdrv_cfg_read(&r->drv, at + 3, 1) != CAP_SHARED_MEMORY)
			continue;
		CHECK(!c.found);
		CHECK_EQ(vdrv_cfg_read(&r->drv, at + 2, 1), 24);
		c.found = true;
		c.bar = (uint8_t)vdrv_cfg_read(&r->drv, at + 4, 1);
		c.id = (uint8_t)vdrv_cfg_read(&r->drv, at + 5, 1);
		c.offset = vdrv_cfg_read(&r->drv, at + 8, 4) |
			   (uint64_t)vdrv_cfg_read(&r->drv, at + 16, 4) << 32;
		c.length = vdrv_cfg_read(&r->drv, at + 12, 4) |
			   (uint64_t)vdrv_cfg_read(&r->drv, at + 20, 4) << 32;
	}
	return c;
}

/* The answer to a RESOURCE_MAP_BLOB of a resource that does not exist:
 * ERR_UNSPEC while blobs are not negotiated, else the engine looks. */
static uint32_t map_missing_blob(struct rig *r)
{
	uint8_t req[MAP_BLOB_SIZE] = { 0 }, resp[EDID_RESP_SIZE];

	header(req, CMD_RESOURCE_MAP_BLOB, 0, 0, 0);
	put_le32(req + HDR_SIZE, 77);
	CHECK_EQ(round_trip(r, CONTROLQ, req, sizeof(req), MAP_INFO_SIZE, resp), HDR_SIZE);
	return get_le32(resp);
}

/* Offered with blob-memory (256M by default) on a VM that can map host
 * pages: the feature, and the region as BAR 2, shmid 1, of that size;
 * the engine serves blobs once the driver takes the feature. */
static void virgl_offers_blobs(void)
{
	struct rig *r;
	struct shm_cap c;
	uint32_t bar_lo;

	START_VIRGL_WITH(r, "virgl", true);
	CHECK(vdrv_device_features(&r->drv) & 1u << F_RESOURCE_BLOB);
	c = find_shm_cap(r);
	CHECK(c.found);
	CHECK_EQ(c.bar, SHM_BAR);
	CHECK_EQ(c.id, SHM_ID_HOST_VISIBLE);
	CHECK_EQ(c.offset, 0);
	CHECK_EQ(c.length, VIRTIO_GPU_DEFAULT_BLOB_MEMORY);
	bar_lo = vdrv_cfg_read(&r->drv, PCI_BAR0 + 4 * SHM_BAR, 4);
	CHECK_EQ(bar_lo & 0xf, 0xc);                         /* 64-bit, prefetchable */
	CHECK_EQ(bar_lo & ~0xfu & (VIRTIO_GPU_DEFAULT_BLOB_MEMORY - 1), 0);
	CHECK(bar_lo & ~0xfu);                               /* placed */

	virgl_driver_start(r, DESC_GPA);                     /* without blobs */
	CHECK_EQ(map_missing_blob(r), RESP_ERR_UNSPEC);
	virgl_driver_start_with(r, SECOND_RINGS, 1ull << F_RESOURCE_BLOB);
	CHECK_EQ(map_missing_blob(r), RESP_ERR_INVALID_RESOURCE_ID);
	rig_free(r);

	START_VIRGL_WITH(r, "virgl,blob-memory=64M", true);
	c = find_shm_cap(r);
	CHECK(c.found);
	CHECK_EQ(c.length, 64ull << 20);
	rig_free(r);
}

/* blob-memory=0, or a VM that cannot map host pages: no feature, no
 * region, no BAR 2. */
static void virgl_without_blobs(void)
{
	static const struct { const char *option; bool mapper; } cases[] = {
		{ "virgl,blob-memory=0", true }, { "virgl", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rig *r;

		START_VIRGL_WITH(r, cases[i].option, cases[i].mapper);
		CHECK(!(vdrv_device_features(&r->drv) & 1u << F_RESOURCE_BLOB));
		CHECK(!find_shm_cap(r).found);
		CHECK_EQ(vdrv_cfg_read(&r->drv, PCI_BAR0 + 4 * SHM_BAR, 4), 0);
		/* Taking it anyway is refused. */
		vdrv_common_write(&r->drv, VDRV_STATUS, 0, 1);
		CHECK(!vdrv_negotiate(&r->drv, VIRGL_FEATURES | 1ull << F_RESOURCE_BLOB));
		rig_free(r);
	}
}

static void option_parser(void)
{
	static const char *const bad[] = {
		"3d", "2d,2d", "width=1920,virgl", "width=63", "width=8193", "height=0",
		"height=8193", "width=", "width=12x", "outputs=0", "outputs=17", "outputs=-1",
		"max-memory=15M", "max-memory=", "max-memory=lots", "width", "colour=red",
		",", "2d,", ",width=800", "2d,,width=800",
		"max-memory=99999999999999999999999", "rendernode=/dev/dri/renderD128",
		"2d,rendernode=/dev/dri/renderD128", "virgl,rendernode=",
		"blob-memory=256M", "2d,blob-memory=0", "virgl,blob-memory=", "virgl,blob-memory=3M",
		"virgl,blob-memory=512K", "virgl,blob-memory=16G", "virgl,blob-memory=-1",
		"virgl,blob-memory=1X", "virgl,blob-memory=99999999999999999999G",
		"widthwidthwidthwidthwidthwidthwidthwidthwidthwidthwidthwidthwidthwidthwidth=1",
	};
	struct virtio_gpu_config cfg;
	char err[256];

	CHECK_EQ(virtio_gpu_option_parse("", &cfg, err, sizeof(err)), 0);
	CHECK(!cfg.virgl);
	CHECK_EQ(cfg.nr_outputs, 1);
	CHECK_EQ(cfg.width, VIRTIO_GPU_DEFAULT_WIDTH);
	CHECK_EQ(cfg.height, VIRTIO_GPU_DEFAULT_HEIGHT);
	CHECK_EQ(cfg.max_host_memory, VIRTIO_GPU_DEFAULT_HOSTMEM);
	CHECK_EQ(virtio_gpu_option_parse("2d", &cfg, err, sizeof(err)), 0);
	CHECK(!cfg.virgl);
	CHECK_EQ(cfg.blob_memory, 0);
	CHECK_EQ(virtio_gpu_option_parse("virgl", &cfg, err, sizeof(err)), 0);
	CHECK(cfg.virgl);
	CHECK_EQ(cfg.render_node[0], 0);
	CHECK_EQ(cfg.blob_memory, VIRTIO_GPU_DEFAULT_BLOB_MEMORY);
	CHECK_EQ(virtio_gpu_option_parse("virgl,blob-memory=0", &cfg, err, sizeof(err)), 0);
	CHECK_EQ(cfg.blob_memory, 0);
	CHECK_EQ(virtio_gpu_option_parse("virgl,blob-memory=1M", &cfg, err, sizeof(err)), 0);
	CHECK_EQ(cfg.blob_memory, 1ull << 20);
	CHECK_EQ(virtio_gpu_option_parse("virgl,blob-memory=8G,outputs=2", &cfg, err,
					 sizeof(err)), 0);
	CHECK_EQ(cfg.blob_memory, 8ull << 30);
	CHECK_EQ(cfg.nr_outputs, 2);
	CHECK_EQ(virtio_gpu_option_parse("virgl,rendernode=/dev/dri/renderD129,outputs=2", &cfg,
					 err, sizeof(err)), 0);
	CHECK(cfg.virgl);
	CHECK(!strcmp(cfg.render_node, "/dev/dri/renderD129"));
	CHECK_EQ(cfg.nr_outputs, 2);
	CHECK_EQ(virtio_gpu_option_parse("2d,width=1920,height=1080,outputs=4,max-memory=1G",
					 &cfg, err, sizeof(err)), 0);
	CHECK_EQ(cfg.width, 1920);
	CHECK_EQ(cfg.height, 1080);
	CHECK_EQ(cfg.nr_outputs, 4);
	CHECK_EQ(cfg.max_host_memory, 1ull << 30);
	CHECK_EQ(virtio_gpu_option_parse("height=64,width=8192,max-memory=16M", &cfg, err,
					 sizeof(err)), 0);
	CHECK_EQ(cfg.width, 8192);
	CHECK_EQ(cfg.height, 64);
	CHECK_EQ(cfg.max_host_memory, 16ull << 20);
	/* The default grows to 8 frames of the mode per output. */
	CHECK_EQ(virtio_gpu_option_parse("outputs=16", &cfg, err, sizeof(err)), 0);
	CHECK_EQ(cfg.max_host_memory, 16ull * 8 * 1280 * 800 * 4);
	CHECK_EQ(virtio_gpu_option_parse("width=4096,height=2160", &cfg, err, sizeof(err)), 0);
	CHECK_EQ(cfg.max_host_memory, 8ull * 4096 * 2160 * 4);
	CHECK_EQ(virtio_gpu_option_parse("outputs=2", &cfg, err, sizeof(err)), 0);
	CHECK_EQ(cfg.max_host_memory, VIRTIO_GPU_DEFAULT_HOSTMEM);
	CHECK_EQ(virtio_gpu_option_parse("outputs=16,max-memory=64M", &cfg, err, sizeof(err)), 0);
	CHECK_EQ(cfg.max_host_memory, 64ull << 20);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (virtio_gpu_option_parse(bad[i], &cfg, err, sizeof(err)) != -1) {
			CHECK(!"accepted");
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
		}
		/* One line that says something. */
		CHECK(strlen(err) > 10 && !strchr(err, '\n'));
	}
}

TEST_MAIN("virtio_gpu",
	  TEST_CASE(identifies_as_a_display_controller),
	  TEST_CASE(display_info_round_trip),
	  TEST_CASE(viewer_mode_raises_a_config_event),
	  TEST_CASE(cursor_queue_reaches_the_display),
	  TEST_CASE(broken_ring_needs_reset),
	  TEST_CASE(headless_device),
	  TEST_CASE(virgl_offers_capsets),
	  TEST_CASE(virgl_fenced_chain_waits_for_its_fence),
	  TEST_CASE(virgl_reset_drops_held_chains),
	  TEST_CASE(virgl_offers_blobs),
	  TEST_CASE(virgl_without_blobs),
	  TEST_CASE(option_parser))
