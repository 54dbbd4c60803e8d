/* virtio-input behind the virtio-pci transport, served on a real I/O
 * thread: the test plays the guest driver (config space, BAR 0 MMIO, split
 * rings in guest RAM laid out from virtio 1.2, 2.7, one 8-byte buffer per
 * event as Linux's driver posts them) and reads what arrives. */
#include "check.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <linux/input-event-codes.h>

#include "../../devices/pci.h"
#include "../../devices/virtio_input.h"
#include "../../vmm/bus.h"
#include "../../vmm/guest_memory.h"
#include "../../vmm/io_thread.h"

/* virtio 1.2, 4.1.4.3. */
enum {
	GFSELECT = 0x08, GF = 0x0c, STATUS = 0x14, Q_SELECT = 0x16, Q_SIZE = 0x18,
	Q_ENABLE = 0x1c, Q_DESC = 0x20, Q_DRIVER = 0x28, Q_DEVICE = 0x30,
};
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR    3
#define CAP_DEVICE 4
#define F_VERSION_1 32
#define DESC_F_NEXT  1
#define DESC_F_WRITE 2

#define EVENTQ     0
#define STATUSQ    1
#define RAM_SIZE   (4ull << 20)
#define QSIZE      64            /* the device's most */
/* Queue q's rings: descriptors, then avail and used a page apart. */
#define RING_GPA   0x10000ull
#define Q_OFF(q)   ((q) * 0x4000ull)
#define AVAIL_OFF  0x1000ull
#define USED_OFF   0x2000ull
#define EVENT_BUF_GPA  0x100000ull   /* event buffer with head h at + 8 * h */
#define STATUS_BUF_GPA 0x180000ull

/* ---- the device, driven as a guest ---- */

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
	struct io_thread io;
	struct bus pio, mmio;
	struct pci_bus pb;
	struct guest_memory mem;
	struct fake_irq irq;
	struct virtio_input in;
	uint16_t bdf;
	uint64_t bar;
	uint32_t common, notify, isr, device;
	uint16_t qsize;
	uint16_t avail_idx[2];
	uint16_t used_seen;            /* event-queue used entries read so far */
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

/* Reset, negotiate VERSION_1 only, set up both queues with qsize
 * entries, DRIVER_OK. */
static void driver_start(struct rig *r, uint16_t qsize)
{
	static const uint8_t zero[0x8000];

	common_write(r, STATUS, 0, 1);
	CHECK_EQ(guest_memory_write(&r->mem, RING_GPA, zero, sizeof(zero)), 0);
	r->qsize = qsize;
	r->avail_idx[0] = r->avail_idx[1] = 0;
	r->used_seen = 0;
	set_status(r, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_write(r, GFSELECT, 1, 4);
	common_write(r, GF, 1u << (F_VERSION_1 - 32), 4);
	set_status(r, VIRTIO_STATUS_FEATURES_OK);
	CHECK(status_of(r) & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 2; q++) {
		common_write(r, Q_SELECT, q, 2);
		common_write(r, Q_SIZE, qsize, 2);
		common_write(r, Q_DESC, RING_GPA + Q_OFF(q), 8);
		common_write(r, Q_DRIVER, RING_GPA + Q_OFF(q) + AVAIL_OFF, 8);
		common_write(r, Q_DEVICE, RING_GPA + Q_OFF(q) + USED_OFF, 8);
		common_write(r, Q_ENABLE, 1, 2);
	}
	set_status(r, VIRTIO_STATUS_DRIVER_OK);
	CHECK(status_of(r) & VIRTIO_STATUS_DRIVER_OK);
}

static struct rig *rig_new(enum virtio_input_kind kind)
{
	const struct pci_windows win = {
		.io_start = 0xc000, .io_end = 0x10000,
		.mem32_start = 0xc0000000, .mem32_end = 0xe0000000,
	};
	struct rig *r = calloc(1, sizeof(*r));
	struct irq_line intx;
	struct virtio_pci_env env;
	char err[128];

	if (!r)
		abort();
	intx = (struct irq_line){ .set_level = fake_set_level, .ctx = &r->irq };
	CHECK_EQ(io_thread_start(&r->io, "input"), 0);
	bus_init(&r->pio, "pio");
	bus_init(&r->mmio, "mmio");
	CHECK_EQ(guest_memory_create(&r->mem, RAM_SIZE, false, err, sizeof(err)), 0);
	CHECK_EQ(pci_bus_init(&r->pb, &r->pio, &r->mmio, 0xe0000000, 1 << 20, &win, &intx), 0);
	env = (struct virtio_pci_env){
		.mem = &r->mem, .vm_fd = -1,
		.router = { .bind = no_bind, .update = no_update },
	};
	CHECK_EQ(virtio_input_create(&r->in, kind, &r->io, &env), 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, &r->in.transport.pci), 0);
	r->bdf = (uint16_t)(r->in.transport.pci.slot << 3);
	CHECK_EQ(cfg_read(r, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_INPUT);
	r->bar = (cfg_read(r, PCI_BAR0, 4) & ~0xfull) | (uint64_t)cfg_read(r, PCI_BAR0 + 4, 4) << 32;
	find_caps(r);
	CHECK(r->device != 0);
	return r;
}

static void rig_free(struct rig *r)
{
	virtio_input_destroy(&r->in);
	io_thread_stop(&r->io);
	pci_bus_destroy(&r->pb);
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

	put(r, RING_GPA + Q_OFF(q) + 16ull * idx, &d, sizeof(d));
}

/* Publishes head in queue q's avail ring, without a notification. */
static void offer(struct rig *r, unsigned q, uint16_t head)
{
	uint16_t v = htole16(head);

	put(r, RING_GPA + Q_OFF(q) + AVAIL_OFF + 4 + 2ull * (r->avail_idx[q] % r->qsize), &v, 2);
	r->avail_idx[q]++;
	/* Release, as a driver's write barrier: the entry before the index. */
	__atomic_store_n((uint16_t *)guest_memory_ptr(&r->mem, RING_GPA + Q_OFF(q) + AVAIL_OFF + 2, 2),
			 htole16(r->avail_idx[q]), __ATOMIC_RELEASE);
}

static void kick(struct rig *r, unsigned q)
{
	mmio_write(r, r->notify + 4 * q, q, 2);
}

/* Posts n one-event buffers on the event queue and kicks. The device
 * uses them in order, so the next free descriptor is the avail index. */
static void post_event_buffers(struct rig *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint16_t head = (uint16_t)(r->avail_idx[EVENTQ] % r->qsize);

		desc(r, EVENTQ, head, EVENT_BUF_GPA + 8ull * head, 8, DESC_F_WRITE, 0);
		offer(r, EVENTQ, head);
	}
	kick(r, EVENTQ);
}

/* Acquire, as a driver's read barrier: the index before the elements. */
static uint16_t used_idx(struct rig *r, unsigned q)
{
	return le16toh(__atomic_load_n((uint16_t *)guest_memory_ptr(&r->mem,
			RING_GPA + Q_OFF(q) + USED_OFF + 2, 2), __ATOMIC_ACQUIRE));
}

static void used_elem(struct rig *r, unsigned q, uint16_t slot, uint32_t *id, uint32_t *len)
{
	uint32_t e[2] = { 0, 0 };

	CHECK_EQ(guest_memory_read(&r->mem, RING_GPA + Q_OFF(q) + USED_OFF + 4 +
				   8ull * (slot % r->qsize), e, 8), 0);
	*id = le32toh(e[0]);
	*len = le32toh(e[1]);
}

/* The events the device used since the last call, up to max, in order. */
static unsigned read_events(struct rig *r, struct virtio_input_event *out, unsigned max)
{
	uint16_t end = used_idx(r, EVENTQ);
	unsigned n = 0;

	while (r->used_seen != end && n < max) {
		uint8_t wire[8];
		uint32_t id, len;

		used_elem(r, EVENTQ, r->used_seen, &id, &len);
		CHECK_EQ(len, 8);
		CHECK(id < r->qsize);
		CHECK_EQ(guest_memory_read(&r->mem, EVENT_BUF_GPA + 8ull * (id % r->qsize), wire, 8), 0);
		out[n++] = (struct virtio_input_event){
			.type = (uint16_t)(wire[0] | wire[1] << 8),
			.code = (uint16_t)(wire[2] | wire[3] << 8),
			.value = wire[4] | wire[5] << 8 | wire[6] << 16 | (uint32_t)wire[7] << 24,
		};
		r->used_seen++;
	}
	return n;
}

static bool event_is(const struct virtio_input_event *e, uint16_t type, uint16_t code,
		     uint32_t value)
{
	return e->type == type && e->code == code && e->value == value;
}

/* The device answers kicks on its own thread: wait (up to 5 s) for it. */
static bool wait_for(bool (*cond)(struct rig *, unsigned), struct rig *r, unsigned arg)
{
	const struct timespec pause = { .tv_nsec = 1000000 };

	for (int i = 0; i < 5000; i++) {
		if (cond(r, arg))
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

static bool events_used_reached(struct rig *r, unsigned n)
{
	return used_idx(r, EVENTQ) == (uint16_t)n;
}

static bool status_used_reached(struct rig *r, unsigned n)
{
	return used_idx(r, STATUSQ) == (uint16_t)n;
}

static bool needs_reset(struct rig *r, unsigned unused)
{
	(void)unused;
	return status_of(r) & VIRTIO_STATUS_NEEDS_RESET;
}

/* For "nothing happens": long enough for the I/O thread to have acted. */
static void settle(void)
{
	const struct timespec pause = { .tv_nsec = 50000000 };

	nanosleep(&pause, NULL);
}

static const struct virtio_input_event syn = { EV_SYN, SYN_REPORT, 0 };

static void send_key(struct rig *r, uint16_t code, bool down)
{
	const struct virtio_input_event group[] = { { EV_KEY, code, down }, syn };

	virtio_input_send(&r->in, group, 2);
}

/* ---- config space ---- */

/* Selects through the device config as Linux's driver does (select,
 * subsel, then size and the answer). Returns the size. */
static uint8_t config_select(struct rig *r, uint8_t select, uint8_t subsel, uint8_t *u)
{
	uint8_t size;

	mmio_write(r, r->device + VIRTIO_INPUT_CONFIG_SELECT, select, 1);
	mmio_write(r, r->device + VIRTIO_INPUT_CONFIG_SUBSEL, subsel, 1);
	size = (uint8_t)mmio_read(r, r->device + VIRTIO_INPUT_CONFIG_SIZE_AT, 1);
	for (unsigned i = 0; i < VIRTIO_INPUT_CONFIG_U_SIZE; i += 4) {
		uint32_t v = (uint32_t)mmio_read(r, r->device + VIRTIO_INPUT_CONFIG_U_AT + i, 4);

		for (unsigned b = 0; b < 4; b++)
			u[i + b] = (uint8_t)(v >> (8 * b));
	}
	return size;
}

static bool bit_set(const uint8_t *bitmap, unsigned bit)
{
	return bitmap[bit / 8] & (1u << (bit % 8));
}

static uint32_t le32_at(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check_ids(struct rig *r, const char *name, uint16_t product)
{
	uint8_t u[VIRTIO_INPUT_CONFIG_U_SIZE];
	uint8_t size;

	size = config_select(r, VIRTIO_INPUT_CFG_ID_NAME, 0, u);
	CHECK_EQ(size, strlen(name));
	CHECK(memcmp(u, name, strlen(name)) == 0);
	CHECK_EQ(u[size], 0);
	CHECK(config_select(r, VIRTIO_INPUT_CFG_ID_SERIAL, 0, u) > 0);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_ID_DEVIDS, 0, u), 8);
	CHECK_EQ(u[0] | u[1] << 8, 0x06);     /* BUS_VIRTUAL */
	CHECK_EQ(u[2] | u[3] << 8, VIRTIO_INPUT_VENDOR);
	CHECK_EQ(u[4] | u[5] << 8, product);
	CHECK_EQ(u[6] | u[7] << 8, 1);
	/* Nothing the spec gives: size 0 and an empty answer. */
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_PROP_BITS, 0, u), 0);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_ID_NAME, 1, u), 0);
	CHECK_EQ(u[0], 0);
	CHECK_EQ(config_select(r, 0x42, 0, u), 0);
	CHECK_EQ(config_select(r, 0xff, 0xff, u), 0);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_UNSET, 0, u), 0);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_SW, u), 0);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, 0xff, u), 0);
}

static void keyboard_config(void)
{
	struct rig *r = rig_new(VIRTIO_INPUT_KEYBOARD);
	uint8_t u[VIRTIO_INPUT_CONFIG_U_SIZE];
	uint8_t size;

	CHECK_EQ(cfg_read(r, PCI_REVISION_ID, 4) >> 8, 0x090000);
	check_ids(r, "gvmm keyboard", 1);
	size = config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, u);
	CHECK(size >= KEY_MICMUTE / 8 + 1);
	CHECK(bit_set(u, KEY_A));
	CHECK(bit_set(u, KEY_ESC));
	CHECK(bit_set(u, KEY_MICMUTE));
	CHECK(!bit_set(u, KEY_RESERVED));
	CHECK(!bit_set(u, BTN_LEFT));   /* a button would make it a mouse */
	CHECK(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_REP, u) > 0);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_LED, u), 1);
	CHECK_EQ(u[0], 1u << LED_NUML | 1u << LED_CAPSL | 1u << LED_SCROLLL);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_REL, u), 0);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS, u), 0);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_ABS_INFO, ABS_X, u), 0);
	rig_free(r);
}

static void tablet_config(void)
{
	struct rig *r = rig_new(VIRTIO_INPUT_TABLET);
	uint8_t u[VIRTIO_INPUT_CONFIG_U_SIZE];

	check_ids(r, "gvmm tablet", 3);
	CHECK(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, u) > 0);
	CHECK(bit_set(u, BTN_LEFT) && bit_set(u, BTN_RIGHT) && bit_set(u, BTN_MIDDLE));
	CHECK(bit_set(u, BTN_SIDE) && bit_set(u, BTN_EXTRA));
	CHECK(!bit_set(u, KEY_A));
	CHECK(!bit_set(u, BTN_TOUCH));   /* an absolute mouse, not a touchscreen */
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS, u), 1);
	CHECK_EQ(u[0], 1u << ABS_X | 1u << ABS_Y);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_REL, u), 2);
	CHECK(bit_set(u, REL_WHEEL) && !bit_set(u, REL_X));
	for (unsigned axis = ABS_X; axis <= ABS_Y; axis++) {
		CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_ABS_INFO, (uint8_t)axis, u), 20);
		CHECK_EQ(le32_at(&u[0]), 0);          /* min */
		CHECK_EQ(le32_at(&u[4]), 32767);      /* max */
		CHECK_EQ(le32_at(&u[8]), 0);          /* fuzz */
		CHECK_EQ(le32_at(&u[12]), 0);         /* flat */
		CHECK_EQ(le32_at(&u[16]), 0);         /* res */
	}
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_ABS_INFO, ABS_Z, u), 0);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_ABS_INFO, 0xff, u), 0);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_LED, u), 0);
	rig_free(r);
}

static void mouse_config(void)
{
	struct rig *r = rig_new(VIRTIO_INPUT_MOUSE);
	uint8_t u[VIRTIO_INPUT_CONFIG_U_SIZE];

	check_ids(r, "gvmm mouse", 2);
	CHECK(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, u) > 0);
	CHECK(bit_set(u, BTN_LEFT) && bit_set(u, BTN_EXTRA));
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_REL, u), 2);
	CHECK(bit_set(u, REL_X) && bit_set(u, REL_Y) && bit_set(u, REL_WHEEL));
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS, u), 0);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_ABS_INFO, ABS_X, u), 0);
	rig_free(r);
}

static void config_writes(void)
{
	struct rig *r = rig_new(VIRTIO_INPUT_TABLET);
	uint8_t u[VIRTIO_INPUT_CONFIG_U_SIZE];

	/* select and subsel in one 2-byte write. */
	mmio_write(r, r->device, VIRTIO_INPUT_CFG_ABS_INFO | ABS_Y << 8, 2);
	CHECK_EQ(mmio_read(r, r->device + VIRTIO_INPUT_CONFIG_SIZE_AT, 1), 20);
	CHECK_EQ(mmio_read(r, r->device + VIRTIO_INPUT_CONFIG_U_AT + 4, 4), 32767);
	CHECK_EQ(mmio_read(r, r->device, 2), VIRTIO_INPUT_CFG_ABS_INFO | ABS_Y << 8);
	/* size and the answer are the device's: writes leave them. */
	mmio_write(r, r->device + VIRTIO_INPUT_CONFIG_SIZE_AT, 0x55, 1);
	mmio_write(r, r->device + VIRTIO_INPUT_CONFIG_U_AT + 4, 0x1234, 4);
	mmio_write(r, r->device + 4, 0xffffffff, 4);
	CHECK_EQ(mmio_read(r, r->device + VIRTIO_INPUT_CONFIG_SIZE_AT, 1), 20);
	CHECK_EQ(mmio_read(r, r->device + VIRTIO_INPUT_CONFIG_U_AT + 4, 4), 32767);
	CHECK_EQ(mmio_read(r, r->device + 4, 4), 0);
	/* Past the end of the config: ignored, no crash. */
	mmio_write(r, r->device + VIRTIO_INPUT_CONFIG_SIZE - 2, 0xffffffff, 4);
	mmio_read(r, r->device + VIRTIO_INPUT_CONFIG_SIZE, 4);
	/* A reset forgets the selection. */
	driver_start(r, QSIZE);
	CHECK_EQ(mmio_read(r, r->device + VIRTIO_INPUT_CONFIG_SIZE_AT, 1), 0);
	CHECK_EQ(config_select(r, VIRTIO_INPUT_CFG_ID_NAME, 0, u), strlen("gvmm tablet"));
	rig_free(r);
}

static void config_answer_is_pure(void)
{
	uint8_t u[VIRTIO_INPUT_CONFIG_U_SIZE];

	memset(u, 0xaa, sizeof(u));
	CHECK_EQ(virtio_input_config_answer(VIRTIO_INPUT_KINDS, VIRTIO_INPUT_CFG_ID_NAME, 0, u), 0);
	CHECK_EQ(u[0], 0);
	CHECK_EQ(virtio_input_config_answer(VIRTIO_INPUT_MOUSE, VIRTIO_INPUT_CFG_ID_NAME, 0, u), 10);
	CHECK(memcmp(u, "gvmm mouse", 11) == 0);
	for (unsigned kind = 0; kind < VIRTIO_INPUT_KINDS; kind++)
		for (unsigned sel = 0; sel < 256; sel++)
			for (unsigned sub = 0; sub < 256; sub++)
				CHECK(virtio_input_config_answer((enum virtio_input_kind)kind, (uint8_t)sel,
								 (uint8_t)sub, u) <= sizeof(u));
}

/* ---- events ---- */

struct sender {
	struct rig *r;
	unsigned groups;
};

static void *send_keys(void *arg)
{
	struct sender *s = arg;

	for (unsigned i = 0; i < s->groups; i++)
		send_key(s->r, (uint16_t)(KEY_1 + i), i % 2 == 0);
	return NULL;
}

static void events_from_another_thread(void)
{
	struct rig *r = rig_new(VIRTIO_INPUT_KEYBOARD);
	struct virtio_input_event got[16];
	struct sender s = { r, 4 };
	pthread_t thread;
	int rises;

	driver_start(r, QSIZE);
	post_event_buffers(r, 16);
	rises = atomic_load(&r->irq.rises);
	CHECK_EQ(pthread_create(&thread, NULL, send_keys, &s), 0);
	pthread_join(thread, NULL);
	CHECK(wait_for(events_used_reached, r, 8));
	CHECK_EQ(read_events(r, got, 16), 8);
	for (unsigned i = 0; i < 4; i++) {
		CHECK(event_is(&got[2 * i], EV_KEY, KEY_1 + i, i % 2 == 0));
		CHECK(event_is(&got[2 * i + 1], EV_SYN, SYN_REPORT, 0));
	}
	CHECK(atomic_load(&r->irq.rises) > rises);
	CHECK_EQ(mmio_read(r, r->isr, 1), 1);
	/* Values are le32; relative motion is negative. */
	const struct virtio_input_event motion[] = { { EV_REL, REL_X, (uint32_t)-5 }, syn };
	virtio_input_send(&r->in, motion, 2);
	CHECK_EQ(read_events(r, got, 16), 2);
	CHECK(event_is(&got[0], EV_REL, REL_X, 0xfffffffb));
	CHECK_EQ(status_of(r) & VIRTIO_STATUS_NEEDS_RESET, 0);
	rig_free(r);
}

static void events_wait_for_buffers(void)
{
	struct rig *r = rig_new(VIRTIO_INPUT_KEYBOARD);
	struct virtio_input_event got[16];

	driver_start(r, QSIZE);
	send_key(r, KEY_A, true);
	send_key(r, KEY_A, false);
	/* A batch without its SYN_REPORT gets one. */
	const struct virtio_input_event open_group[] = { { EV_KEY, KEY_B, 1 } };
	virtio_input_send(&r->in, open_group, 1);
	settle();
	CHECK_EQ(used_idx(r, EVENTQ), 0);
	post_event_buffers(r, 16);
	CHECK(wait_for(events_used_reached, r, 6));
	CHECK_EQ(read_events(r, got, 16), 6);
	CHECK(event_is(&got[0], EV_KEY, KEY_A, 1));
	CHECK(event_is(&got[1], EV_SYN, SYN_REPORT, 0));
	CHECK(event_is(&got[2], EV_KEY, KEY_A, 0));
	CHECK(event_is(&got[3], EV_SYN, SYN_REPORT, 0));
	CHECK(event_is(&got[4], EV_KEY, KEY_B, 1));
	CHECK(event_is(&got[5], EV_SYN, SYN_REPORT, 0));

	/* 10 buffers are left; a 3-event group after 3 more groups of 3
	 * finds only 1: it waits whole, and its buffer is used with it. */
	const struct virtio_input_event abs[] = {
		{ EV_ABS, ABS_X, 1 }, { EV_ABS, ABS_Y, 2 }, syn,
		{ EV_ABS, ABS_X, 3 }, { EV_ABS, ABS_Y, 4 }, syn,
		{ EV_ABS, ABS_X, 5 }, { EV_ABS, ABS_Y, 6 }, syn,
		{ EV_ABS, ABS_X, 7 }, { EV_ABS, ABS_Y, 8 }, syn,
	};
	virtio_input_send(&r->in, abs, 12);
	CHECK_EQ(used_idx(r, EVENTQ), 15);
	CHECK_EQ(read_events(r, got, 16), 9);
	CHECK(event_is(&got[6], EV_ABS, ABS_X, 5));
	post_event_buffers(r, 1);
	settle();
	CHECK_EQ(used_idx(r, EVENTQ), 15);
	post_event_buffers(r, 1);
	CHECK(wait_for(events_used_reached, r, 18));
	CHECK_EQ(read_events(r, got, 16), 3);
	CHECK(event_is(&got[0], EV_ABS, ABS_X, 7));
	CHECK(event_is(&got[1], EV_ABS, ABS_Y, 8));
	CHECK(event_is(&got[2], EV_SYN, SYN_REPORT, 0));
	CHECK_EQ(r->in.dropped_events, 0);
	rig_free(r);
}

static void overflow_drops_whole_groups(void)
{
	struct rig *r = rig_new(VIRTIO_INPUT_TABLET);
	struct virtio_input_event got[VIRTIO_INPUT_PENDING_EVENTS + 16];
	unsigned n = 0;

	driver_start(r, QSIZE);
	/* 100 groups of 3, a group of 2 among them: 299 events for 256 places. */
	for (unsigned v = 0; v < 100; v++) {
		const struct virtio_input_event three[] = {
			{ EV_ABS, ABS_X, v }, { EV_ABS, ABS_Y, v }, syn };
		const struct virtio_input_event two[] = { { EV_ABS, ABS_X, v }, syn };

		if (v == 50)
			virtio_input_send(&r->in, two, 2);
		else
			virtio_input_send(&r->in, three, 3);
	}
	CHECK_EQ(r->in.nr_pending, 254);
	CHECK_EQ(r->in.dropped_events, 299 - 254);
	/* Linux's way: post a ring of buffers, post each again once read. */
	post_event_buffers(r, QSIZE);
	for (int tries = 0; tries < 5000 && n < 254; tries++) {
		unsigned more = read_events(r, got + n, (unsigned)(sizeof(got) / sizeof(got[0])) - n);

		n += more;
		if (more)
			post_event_buffers(r, more);
		else
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	CHECK_EQ(n, 254);
	settle();
	CHECK_EQ(read_events(r, got + n, 16), 0);
	/* Whole groups only, oldest dropped: 15, 16, ..., 99. */
	for (unsigned i = 0, v = 15; i < n && v < 100; v++) {
		CHECK(event_is(&got[i++], EV_ABS, ABS_X, v));
		if (v != 50)
			CHECK(event_is(&got[i++], EV_ABS, ABS_Y, v));
		CHECK(event_is(&got[i++], EV_SYN, SYN_REPORT, 0));
	}
	CHECK_EQ(status_of(r) & VIRTIO_STATUS_NEEDS_RESET, 0);
	rig_free(r);
}

static void group_longer_than_queue_is_dropped(void)
{
	struct rig *r = rig_new(VIRTIO_INPUT_TABLET);
	struct virtio_input_event got[4];
	const struct virtio_input_event abs[] = {
		{ EV_ABS, ABS_X, 1 }, { EV_ABS, ABS_Y, 2 }, syn,
		{ EV_ABS, ABS_X, 3 }, syn,
	};

	/* A driver with 2-entry queues can never take a 3-event group
	 * whole; it must not hold up the ones after it. */
	driver_start(r, 2);
	post_event_buffers(r, 2);
	settle();
	virtio_input_send(&r->in, abs, 5);
	CHECK_EQ(read_events(r, got, 4), 2);
	CHECK(event_is(&got[0], EV_ABS, ABS_X, 3));
	CHECK(event_is(&got[1], EV_SYN, SYN_REPORT, 0));
	CHECK_EQ(r->in.dropped_events, 3);
	/* Too long for the device at all. */
	struct virtio_input_event many[VIRTIO_INPUT_MAX_GROUP + 1];
	for (unsigned i = 0; i < VIRTIO_INPUT_MAX_GROUP; i++)
		many[i] = (struct virtio_input_event){ EV_KEY, BTN_LEFT, i % 2 };
	many[VIRTIO_INPUT_MAX_GROUP] = syn;
	virtio_input_send(&r->in, many, VIRTIO_INPUT_MAX_GROUP + 1);
	CHECK_EQ(r->in.nr_pending, 0);
	CHECK_EQ(r->in.dropped_events, 3 + VIRTIO_INPUT_MAX_GROUP + 1);
	rig_free(r);
}

/* ---- a hostile guest ---- */

static void expect_failed_then_recover(struct rig *r)
{
	struct virtio_input_event got[4];

	CHECK(wait_for(needs_reset, r, 0));
	/* Failed: nothing is taken any more, nothing crashes. */
	send_key(r, KEY_A, true);
	CHECK_EQ(r->in.nr_pending, 0);
	driver_start(r, QSIZE);
	CHECK_EQ(status_of(r) & VIRTIO_STATUS_NEEDS_RESET, 0);
	post_event_buffers(r, 4);
	settle();
	send_key(r, KEY_Z, true);
	CHECK_EQ(read_events(r, got, 4), 2);
	CHECK(event_is(&got[0], EV_KEY, KEY_Z, 1));
}

static void hostile_event_chains(void)
{
	struct rig *r = rig_new(VIRTIO_INPUT_KEYBOARD);

	/* A device-readable buffer: no room for an event. */
	driver_start(r, QSIZE);
	desc(r, EVENTQ, 0, EVENT_BUF_GPA, 8, 0, 0);
	offer(r, EVENTQ, 0);
	send_key(r, KEY_A, true);
	expect_failed_then_recover(r);

	/* Writable, but shorter than an event. */
	driver_start(r, QSIZE);
	desc(r, EVENTQ, 0, EVENT_BUF_GPA, 7, DESC_F_WRITE, 0);
	offer(r, EVENTQ, 0);
	kick(r, EVENTQ);
	send_key(r, KEY_A, true);
	expect_failed_then_recover(r);

	/* Outside guest RAM, found on the kick path with an event waiting. */
	driver_start(r, QSIZE);
	send_key(r, KEY_A, true);
	desc(r, EVENTQ, 0, RAM_SIZE + 0x100000, 8, DESC_F_WRITE, 0);
	offer(r, EVENTQ, 0);
	kick(r, EVENTQ);
	expect_failed_then_recover(r);

	/* A chain that loops onto itself. */
	driver_start(r, QSIZE);
	desc(r, EVENTQ, 3, EVENT_BUF_GPA, 8, DESC_F_WRITE | DESC_F_NEXT, 3);
	offer(r, EVENTQ, 3);
	send_key(r, KEY_A, true);
	expect_failed_then_recover(r);

	/* A head beyond the queue. */
	driver_start(r, QSIZE);
	offer(r, EVENTQ, 0xffff);
	send_key(r, KEY_A, true);
	expect_failed_then_recover(r);
	rig_free(r);
}

static void status_queue(void)
{
	struct rig *r = rig_new(VIRTIO_INPUT_KEYBOARD);
	const uint8_t led[8] = { EV_LED, 0, LED_CAPSL, 0, 1, 0, 0, 0 };
	uint32_t id, len;

	driver_start(r, QSIZE);
	put(r, STATUS_BUF_GPA, led, sizeof(led));
	desc(r, STATUSQ, 0, STATUS_BUF_GPA, 8, 0, 0);
	offer(r, STATUSQ, 0);
	/* Odd but harmless: a writable buffer, and an empty one. */
	desc(r, STATUSQ, 1, STATUS_BUF_GPA + 0x100, 8, DESC_F_WRITE, 0);
	offer(r, STATUSQ, 1);
	desc(r, STATUSQ, 2, STATUS_BUF_GPA + 0x200, 0, 0, 0);
	offer(r, STATUSQ, 2);
	kick(r, STATUSQ);
	CHECK(wait_for(status_used_reached, r, 3));
	used_elem(r, STATUSQ, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 0);
	CHECK_EQ(status_of(r) & VIRTIO_STATUS_NEEDS_RESET, 0);
	/* A broken status ring fails the device too. */
	desc(r, STATUSQ, 4, RAM_SIZE + 0x100000, 8, 0, 0);
	offer(r, STATUSQ, 4);
	kick(r, STATUSQ);
	expect_failed_then_recover(r);
	rig_free(r);
}

/* ---- life cycle ---- */

static void reset_forgets_pending_events(void)
{
	struct rig *r = rig_new(VIRTIO_INPUT_KEYBOARD);
	struct virtio_input_event got[8];

	/* No driver yet: dropped, not kept for one that comes later. */
	send_key(r, KEY_Q, true);
	CHECK_EQ(r->in.nr_pending, 0);
	driver_start(r, QSIZE);
	send_key(r, KEY_W, true);
	CHECK_EQ(r->in.nr_pending, 2);
	/* The driver goes away with events waiting. */
	common_write(r, STATUS, 0, 1);
	CHECK_EQ(r->in.nr_pending, 0);
	send_key(r, KEY_E, true);
	CHECK_EQ(r->in.nr_pending, 0);
	driver_start(r, QSIZE);
	post_event_buffers(r, 8);
	settle();
	CHECK_EQ(used_idx(r, EVENTQ), 0);
	send_key(r, KEY_R, true);
	CHECK_EQ(read_events(r, got, 8), 2);
	CHECK(event_is(&got[0], EV_KEY, KEY_R, 1));
	CHECK(event_is(&got[1], EV_SYN, SYN_REPORT, 0));
	/* A driver that never enabled the event queue gets nothing. */
	common_write(r, STATUS, 0, 1);
	set_status(r, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_write(r, GFSELECT, 1, 4);
	common_write(r, GF, 1u << (F_VERSION_1 - 32), 4);
	set_status(r, VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	CHECK(status_of(r) & VIRTIO_STATUS_DRIVER_OK);
	send_key(r, KEY_T, true);
	CHECK_EQ(r->in.nr_pending, 0);
	rig_free(r);
}

TEST_MAIN("virtio_input",
	  TEST_CASE(keyboard_config),
	  TEST_CASE(tablet_config),
	  TEST_CASE(mouse_config),
	  TEST_CASE(config_writes),
	  TEST_CASE(config_answer_is_pure),
	  TEST_CASE(events_from_another_thread),
	  TEST_CASE(events_wait_for_buffers),
	  TEST_CASE(overflow_drops_whole_groups),
	  TEST_CASE(group_longer_than_queue_is_dropped),
	  TEST_CASE(hostile_event_chains),
	  TEST_CASE(status_queue),
	  TEST_CASE(reset_forgets_pending_events))
