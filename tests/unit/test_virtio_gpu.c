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

#include "../../devices/pci.h"
#include "../../devices/virtio_gpu.h"
#include "../../display/display_backend.h"
#include "../../vmm/bus.h"
#include "../../vmm/guest_memory.h"

/* virtio 1.2, 4.1.4.3. */
enum {
	DFSELECT = 0x00, DF = 0x04, GFSELECT = 0x08, GF = 0x0c, STATUS = 0x14,
	CFG_GENERATION = 0x15, Q_SELECT = 0x16, Q_SIZE = 0x18, Q_ENABLE = 0x1c,
	Q_DESC = 0x20, Q_DRIVER = 0x28, Q_DEVICE = 0x30,
};
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR    3
#define CAP_DEVICE 4
#define F_VERSION_1  32
#define F_EDID       1
#define DESC_F_NEXT  1
#define DESC_F_WRITE 2
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
};

static int fake_resize(void *impl, unsigned output, uint32_t w, uint32_t h)
{
	struct fake_display *f = impl;

	(void)output; (void)w; (void)h;
	atomic_fetch_add(&f->resizes, 1);
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

struct fake_irq {
	atomic_int rises;
	atomic_bool level;
};

static void fake_set_level(void *ctx, unsigned gsi, bool level)
{
	struct fake_irq *irq = ctx;

	(void)gsi;
	if (level && !atomic_load(&irq->level))
		atomic_fetch_add(&irq->rises, 1);
	atomic_store(&irq->level, level);
}

static int no_bind(void *ctx, uint64_t address, uint32_t data, int fd, unsigned *gsi)
{
	(void)ctx; (void)address; (void)data; (void)fd; (void)gsi;
	return -ENOSYS;
}

static int no_update(void *ctx, unsigned gsi, uint64_t address, uint32_t data)
{
	(void)ctx; (void)gsi; (void)address; (void)data;
	return -ENOSYS;
}

struct rig {
	struct bus pio, mmio;
	struct pci_bus pb;
	struct guest_memory mem;
	struct fake_irq irq;
	struct fake_display seen;
	struct display *display;
	struct virtio_gpu *gpu;
	uint16_t bdf;
	uint64_t bar;
	uint32_t common, notify, isr, device;
	uint16_t avail_idx[2];
};

static uint32_t cfg_read(struct rig *r, uint32_t off, unsigned len)
{
	return pci_bus_config_read(&r->pb, r->bdf, off, len);
}

static uint64_t mmio_read(struct rig *r, uint64_t off, unsigned len)
{
	uint8_t data[8] = { 0 };
	uint64_t v = 0;

	CHECK(bus_dispatch(&r->mmio, r->bar + off, data, len, false));
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static void mmio_write(struct rig *r, uint64_t off, uint64_t v, unsigned len)
{
	uint8_t data[8];

	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
	CHECK(bus_dispatch(&r->mmio, r->bar + off, data, len, true));
}

static void common_write(struct rig *r, unsigned field, uint64_t v, unsigned len)
{
	mmio_write(r, r->common + field, v, len);
}

static uint8_t status_of(struct rig *r)
{
	return (uint8_t)mmio_read(r, r->common + STATUS, 1);
}

static void set_status(struct rig *r, uint8_t bits)
{
	common_write(r, STATUS, status_of(r) | bits, 1);
}

static uint32_t config_read(struct rig *r, unsigned off)
{
	return (uint32_t)mmio_read(r, r->device + off, 4);
}

static void find_caps(struct rig *r)
{
	for (uint8_t at = (uint8_t)cfg_read(r, PCI_CAPABILITY_LIST, 1), n = 0; at && n < 48;
	     at = (uint8_t)cfg_read(r, at + 1, 1), n++) {
		if (cfg_read(r, at, 1) != PCI_CAP_ID_VNDR)
			continue;
		switch (cfg_read(r, at + 3, 1)) {
		case CAP_COMMON:
			r->common = cfg_read(r, at + 8, 4);
			break;
		case CAP_NOTIFY:
			r->notify = cfg_read(r, at + 8, 4);
			break;
		case CAP_ISR:
			r->isr = cfg_read(r, at + 8, 4);
			break;
		case CAP_DEVICE:
			r->device = cfg_read(r, at + 8, 4);
			break;
		}
	}
}

/* Reset, negotiate VERSION_1 (and EDID if asked), both queues, DRIVER_OK. */
static void driver_start(struct rig *r, bool edid)
{
	static const uint8_t zero[0x8000];

	common_write(r, STATUS, 0, 1);
	CHECK_EQ(guest_memory_write(&r->mem, DESC_GPA, zero, sizeof(zero)), 0);
	r->avail_idx[0] = r->avail_idx[1] = 0;
	set_status(r, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_write(r, DFSELECT, 0, 4);
	CHECK(mmio_read(r, r->common + DF, 4) & 1u << F_EDID);
	common_write(r, GFSELECT, 0, 4);
	common_write(r, GF, edid ? 1u << F_EDID : 0, 4);
	common_write(r, GFSELECT, 1, 4);
	common_write(r, GF, 1u << (F_VERSION_1 - 32), 4);
	set_status(r, VIRTIO_STATUS_FEATURES_OK);
	CHECK(status_of(r) & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 2; q++) {
		common_write(r, Q_SELECT, q, 2);
		common_write(r, Q_SIZE, QSIZE, 2);
		common_write(r, Q_DESC, DESC_GPA + Q_OFF(q), 8);
		common_write(r, Q_DRIVER, AVAIL_GPA + Q_OFF(q), 8);
		common_write(r, Q_DEVICE, USED_GPA + Q_OFF(q), 8);
		common_write(r, Q_ENABLE, 1, 2);
	}
	set_status(r, VIRTIO_STATUS_DRIVER_OK);
	CHECK(status_of(r) & VIRTIO_STATUS_DRIVER_OK);
}

static struct rig *rig_new(unsigned outputs)
{
	const struct pci_windows win = {
		.io_start = 0xc000, .io_end = 0x10000,
		.mem32_start = 0xc0000000, .mem32_end = 0xe0000000,
	};
	struct rig *r = calloc(1, sizeof(*r));
	struct virtio_gpu_config cfg;
	struct irq_line intx;
	struct virtio_pci_env env;
	char err[128];

	if (!r)
		abort();
	intx = (struct irq_line){ .set_level = fake_set_level, .ctx = &r->irq };
	bus_init(&r->pio, "pio");
	bus_init(&r->mmio, "mmio");
	CHECK_EQ(guest_memory_create(&r->mem, RAM_SIZE, false, err, sizeof(err)), 0);
	CHECK_EQ(pci_bus_init(&r->pb, &r->pio, &r->mmio, 0xe0000000, 1 << 20, &win, &intx), 0);
	env = (struct virtio_pci_env){
		.mem = &r->mem, .vm_fd = -1,
		.router = { .bind = no_bind, .update = no_update },
	};
	r->display = display_new(&fake_ops, &r->seen);
	CHECK_EQ(virtio_gpu_option_parse("", &cfg, err, sizeof(err)), 0);
	cfg.nr_outputs = outputs;
	CHECK_EQ(virtio_gpu_create(&r->gpu, &cfg, r->display, &env, err, sizeof(err)), 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, virtio_gpu_pci_device(r->gpu)), 0);
	r->bdf = (uint16_t)(virtio_gpu_pci_device(r->gpu)->slot << 3);
	r->bar = (cfg_read(r, PCI_BAR0, 4) & ~0xfull) | (uint64_t)cfg_read(r, PCI_BAR0 + 4, 4) << 32;
	find_caps(r);
	return r;
}

static void rig_free(struct rig *r)
{
	/* The bus reads its devices' BARs as it lets go of them: before the
	 * device is freed. */
	pci_bus_destroy(&r->pb);
	virtio_gpu_destroy(r->gpu);
	/* Detached: a late viewer request reaches nobody. */
	display_request_mode(r->display, 0, 800, 600);
	display_free(r->display);
	guest_memory_destroy(&r->mem);
	bus_destroy(&r->mmio);
	bus_destroy(&r->pio);
	free(r);
}

static void put(struct rig *r, uint64_t gpa, const void *v, size_t len)
{
	CHECK_EQ(guest_memory_write(&r->mem, gpa, v, len), 0);
}

static void desc(struct rig *r, unsigned q, uint16_t idx, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = {
		htole64(addr), htole32(len), htole16(flags), htole16(next) };

	put(r, DESC_GPA + Q_OFF(q) + 16ull * idx, &d, sizeof(d));
}

static void offer_and_kick(struct rig *r, unsigned q, uint16_t head)
{
	uint16_t v = htole16(head);

	put(r, AVAIL_GPA + Q_OFF(q) + 4 + 2ull * (r->avail_idx[q] % QSIZE), &v, 2);
	r->avail_idx[q]++;
	__atomic_store_n((uint16_t *)guest_memory_ptr(&r->mem, AVAIL_GPA + Q_OFF(q) + 2, 2),
			 htole16(r->avail_idx[q]), __ATOMIC_RELEASE);
	mmio_write(r, r->notify + 4 * q, q, 2);
}

static uint16_t used_idx(struct rig *r, unsigned q)
{
	return le16toh(__atomic_load_n((uint16_t *)guest_memory_ptr(&r->mem,
								    USED_GPA + Q_OFF(q) + 2, 2),
				       __ATOMIC_ACQUIRE));
}

static uint32_t used_len(struct rig *r, unsigned q, uint16_t slot)
{
	uint32_t e[2] = { 0, 0 };

	CHECK_EQ(guest_memory_read(&r->mem, USED_GPA + Q_OFF(q) + 4 + 8ull * (slot % QSIZE), e, 8), 0);
	return le32toh(e[1]);
}

/* The device answers on its own thread: wait (up to 5 s) for it. */
static bool wait_used(struct rig *r, unsigned q, uint16_t idx)
{
	const struct timespec pause = { .tv_nsec = 1000000 };

	for (int i = 0; i < 5000; i++) {
		if (used_idx(r, q) == idx)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

static bool wait_status(struct rig *r, uint8_t bits)
{
	const struct timespec pause = { .tv_nsec = 1000000 };

	for (int i = 0; i < 5000; i++) {
		if ((status_of(r) & bits) == bits)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
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
	uint16_t before = used_idx(r, q);
	uint32_t len;

	put(r, REQ_GPA, req, req_len);
	put(r, RESP_GPA, (uint8_t[EDID_RESP_SIZE]){ 0 }, EDID_RESP_SIZE);
	if (resp_room) {
		desc(r, q, head, REQ_GPA, req_len, DESC_F_NEXT, (uint16_t)(head + 1));
		desc(r, q, (uint16_t)(head + 1), RESP_GPA, resp_room, DESC_F_WRITE, 0);
	} else {
		desc(r, q, head, REQ_GPA, req_len, 0, 0);
	}
	offer_and_kick(r, q, head);
	CHECK(wait_used(r, q, (uint16_t)(before + 1)));
	len = used_len(r, q, before);
	CHECK_EQ(guest_memory_read(&r->mem, RESP_GPA, resp, EDID_RESP_SIZE), 0);
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

	CHECK_EQ(cfg_read(r, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_GPU);
	/* The revision byte, then the class code. */
	CHECK_EQ(cfg_read(r, PCI_REVISION_ID, 4) >> 8, 0x038000);
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
	CHECK(!(status_of(r) & VIRTIO_STATUS_NEEDS_RESET));
	rig_free(r);
}

static void viewer_mode_raises_a_config_event(void)
{
	struct rig *r = rig_new(2);
	uint8_t resp[EDID_RESP_SIZE];
	uint8_t generation;

	driver_start(r, true);
	(void)mmio_read(r, r->isr, 1);
	generation = (uint8_t)mmio_read(r, r->common + CFG_GENERATION, 1);
	display_request_mode(r->display, 1, 1920, 1080);
	CHECK_EQ(mmio_read(r, r->isr, 1) & ISR_CONFIG, ISR_CONFIG);
	CHECK(atomic_load(&r->irq.rises) >= 1);
	CHECK((uint8_t)mmio_read(r, r->common + CFG_GENERATION, 1) != generation);
	CHECK_EQ(config_read(r, CONFIG_EVENTS_READ), 1);
	display_info(r, resp);
	CHECK_EQ(pmode(resp, 0, 2), VIRTIO_GPU_DEFAULT_WIDTH);
	CHECK_EQ(pmode(resp, 1, 2), 1920);
	CHECK_EQ(pmode(resp, 1, 3), 1080);
	/* Write 1 to clear. */
	mmio_write(r, r->device + CONFIG_EVENTS_CLEAR, 1, 4);
	CHECK_EQ(config_read(r, CONFIG_EVENTS_READ), 0);
	/* The same size again is no news. */
	display_request_mode(r->display, 1, 1920, 1080);
	CHECK_EQ(config_read(r, CONFIG_EVENTS_READ), 0);
	CHECK_EQ(mmio_read(r, r->isr, 1) & ISR_CONFIG, 0);
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
	common_write(r, STATUS, 0, 1);
	CHECK_EQ(config_read(r, CONFIG_EVENTS_READ), 0);
	display_request_mode(r->display, 0, 1024, 768);
	CHECK_EQ(config_read(r, CONFIG_EVENTS_READ), 1);
	CHECK_EQ(mmio_read(r, r->isr, 1), 0);
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
	desc(r, CONTROLQ, 0, RAM_SIZE + 0x1000, HDR_SIZE, 0, 0);
	offer_and_kick(r, CONTROLQ, 0);
	CHECK(wait_status(r, VIRTIO_STATUS_NEEDS_RESET));
	CHECK_EQ(mmio_read(r, r->isr, 1) & ISR_CONFIG, ISR_CONFIG);
	/* A loop on the cursor queue, after a reset. */
	driver_start(r, false);
	CHECK(!(status_of(r) & VIRTIO_STATUS_NEEDS_RESET));
	desc(r, CURSORQ, 0, REQ_GPA, HDR_SIZE, DESC_F_NEXT, 1);
	desc(r, CURSORQ, 1, REQ_GPA, HDR_SIZE, DESC_F_NEXT, 0);
	offer_and_kick(r, CURSORQ, 0);
	CHECK(wait_status(r, VIRTIO_STATUS_NEEDS_RESET));
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
		.mem = &mem, .vm_fd = -1, .router = { .bind = no_bind, .update = no_update },
	};
	CHECK_EQ(virtio_gpu_option_parse("virgl", &cfg, err, sizeof(err)), 0);
	CHECK_EQ(virtio_gpu_create(&gpu, &cfg, NULL, &env, err, sizeof(err)), -1);
	CHECK(strstr(err, "virgl") != NULL);
	CHECK_EQ(virtio_gpu_option_parse("outputs=16", &cfg, err, sizeof(err)), 0);
	CHECK_EQ(virtio_gpu_create(&gpu, &cfg, NULL, &env, err, sizeof(err)), 0);
	virtio_gpu_destroy(gpu);
	guest_memory_destroy(&mem);
}

static void option_parser(void)
{
	static const char *const bad[] = {
		"3d", "2d,2d", "width=1920,virgl", "width=63", "width=8193", "height=0",
		"height=8193", "width=", "width=12x", "outputs=0", "outputs=17", "outputs=-1",
		"max-memory=15M", "max-memory=", "max-memory=lots", "width", "colour=red",
		",", "2d,", ",width=800", "2d,,width=800",
		"max-memory=99999999999999999999999",
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
	CHECK_EQ(virtio_gpu_option_parse("virgl", &cfg, err, sizeof(err)), 0);
	CHECK(cfg.virgl);
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
	  TEST_CASE(option_parser))
