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

#include "../../devices/pci/pci.h"
#include "../../devices/virtio/virtio_input.h"
#include "../../vmm/bus.h"
#include "../../vmm/guest_memory.h"
#include "../../vmm/io_thread.h"
#include "virtio_driver.h"

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

struct rig {
	struct vdrv drv;
	struct io_thread io;
	struct virtio_input in;
	uint16_t used_seen;            /* event-queue used entries read so far */
};

/* Reset, negotiate VERSION_1 only, set up both queues with qsize
 * entries, DRIVER_OK. */
static void driver_start(struct rig *r, uint16_t qsize)
{
	vdrv_common_write(&r->drv, VDRV_STATUS, 0, 1);
	vdrv_zero(&r->drv, RING_GPA, 0x8000);
	r->used_seen = 0;
	CHECK(vdrv_negotiate(&r->drv, 1ull << VDRV_F_VERSION_1));
	for (unsigned q = 0; q < 2; q++)
		vdrv_queue_setup(&r->drv, q, qsize, RING_GPA + Q_OFF(q), RING_GPA + Q_OFF(q) + AVAIL_OFF,
				 RING_GPA + Q_OFF(q) + USED_OFF);
	CHECK(vdrv_driver_ok(&r->drv));
}

static struct rig *rig_new(enum virtio_input_kind kind)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct virtio_pci_env env;

	if (!r)
		abort();
	CHECK_EQ(io_thread_start(&r->io, "input"), 0);
	vdrv_platform_init(&r->drv, RAM_SIZE);
	env = vdrv_env(&r->drv);
	CHECK_EQ(virtio_input_create(&r->in, kind, &r->io, &env), 0);
	vdrv_attach(&r->drv, &r->in.transport.pci);
	CHECK_EQ(vdrv_cfg_read(&r->drv, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_INPUT);
	CHECK(r->drv.device != 0);
	return r;
}

static void rig_free(struct rig *r)
{
	virtio_input_destroy(&r->in);
	io_thread_stop(&r->io);
	vdrv_platform_destroy(&r->drv);
	free(r);
}

/* The event queue's size, as driver_start() set it up. */
static uint16_t eventq_size(struct rig *r)
{
	return r->drv.vq[EVENTQ].size;
}

/* Posts n one-event buffers on the event queue and kicks. The device
 * uses them in order, so the next free descriptor is the avail index. */
static void post_event_buffers(struct rig *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint16_t head = (uint16_t)(r->drv.vq[EVENTQ].avail_idx % eventq_size(r));

		vdrv_desc(&r->drv, EVENTQ, head, EVENT_BUF_GPA + 8ull * head, 8, VDRV_DESC_F_WRITE, 0);
		vdrv_offer(&r->drv, EVENTQ, head);
	}
	vdrv_kick(&r->drv, EVENTQ);
}

/* The events the device used since the last call, up to max, in order. */
static unsigned read_events(struct rig *r, struct virtio_input_event *out, unsigned max)
{
	uint16_t end = vdrv_used_idx(&r->drv, EVENTQ);
	unsigned n = 0;

	while (r->used_seen != end && n < max) {
		uint8_t wire[8];
		uint32_t id, len;

		vdrv_used_elem(&r->drv, EVENTQ, r->used_seen, &id, &len);
		CHECK_EQ(len, 8);
		CHECK(id < eventq_size(r));
		CHECK_EQ(guest_memory_read(&r->drv.mem, EVENT_BUF_GPA + 8ull * (id % eventq_size(r)), wire, 8), 0);
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

	vdrv_mmio_write(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_SELECT, select, 1);
	vdrv_mmio_write(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_SUBSEL, subsel, 1);
	size = (uint8_t)vdrv_mmio_read(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_SIZE_AT, 1);
	for (unsigned i = 0; i < VIRTIO_INPUT_CONFIG_U_SIZE; i += 4) {
		uint32_t v = (uint32_t)vdrv_mmio_read(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_U_AT + i, 4);

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

	CHECK_EQ(vdrv_cfg_read(&r->drv, PCI_REVISION_ID, 4) >> 8, 0x090000);
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
	vdrv_mmio_write(&r->drv, r->drv.device, VIRTIO_INPUT_CFG_ABS_INFO | ABS_Y << 8, 2);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_SIZE_AT, 1), 20);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_U_AT + 4, 4), 32767);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.device, 2), VIRTIO_INPUT_CFG_ABS_INFO | ABS_Y << 8);
	/* size and the answer are the device's: writes leave them. */
	vdrv_mmio_write(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_SIZE_AT, 0x55, 1);
	vdrv_mmio_write(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_U_AT + 4, 0x1234, 4);
	vdrv_mmio_write(&r->drv, r->drv.device + 4, 0xffffffff, 4);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_SIZE_AT, 1), 20);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_U_AT + 4, 4), 32767);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.device + 4, 4), 0);
	/* Past the end of the config: ignored, no crash. */
	vdrv_mmio_write(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_SIZE - 2, 0xffffffff, 4);
	vdrv_mmio_read(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_SIZE, 4);
	/* A reset forgets the selection. */
	driver_start(r, QSIZE);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.device + VIRTIO_INPUT_CONFIG_SIZE_AT, 1), 0);
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
	rises = atomic_load(&r->drv.irq.rises);
	CHECK_EQ(pthread_create(&thread, NULL, send_keys, &s), 0);
	pthread_join(thread, NULL);
	CHECK(vdrv_wait_used(&r->drv, EVENTQ, 8));
	CHECK_EQ(read_events(r, got, 16), 8);
	for (unsigned i = 0; i < 4; i++) {
		CHECK(event_is(&got[2 * i], EV_KEY, KEY_1 + i, i % 2 == 0));
		CHECK(event_is(&got[2 * i + 1], EV_SYN, SYN_REPORT, 0));
	}
	CHECK(atomic_load(&r->drv.irq.rises) > rises);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.isr, 1), 1);
	/* Values are le32; relative motion is negative. */
	const struct virtio_input_event motion[] = { { EV_REL, REL_X, (uint32_t)-5 }, syn };
	virtio_input_send(&r->in, motion, 2);
	CHECK_EQ(read_events(r, got, 16), 2);
	CHECK(event_is(&got[0], EV_REL, REL_X, 0xfffffffb));
	CHECK_EQ(vdrv_status(&r->drv) & VIRTIO_STATUS_NEEDS_RESET, 0);
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
	CHECK_EQ(vdrv_used_idx(&r->drv, EVENTQ), 0);
	post_event_buffers(r, 16);
	CHECK(vdrv_wait_used(&r->drv, EVENTQ, 6));
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
	CHECK_EQ(vdrv_used_idx(&r->drv, EVENTQ), 15);
	CHECK_EQ(read_events(r, got, 16), 9);
	CHECK(event_is(&got[6], EV_ABS, ABS_X, 5));
	post_event_buffers(r, 1);
	settle();
	CHECK_EQ(vdrv_used_idx(&r->drv, EVENTQ), 15);
	post_event_buffers(r, 1);
	CHECK(vdrv_wait_used(&r->drv, EVENTQ, 18));
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
	CHECK_EQ(vdrv_status(&r->drv) & VIRTIO_STATUS_NEEDS_RESET, 0);
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

	CHECK(vdrv_wait_status(&r->drv, VIRTIO_STATUS_NEEDS_RESET));
	/* Failed: nothing is taken any more, nothing crashes. */
	send_key(r, KEY_A, true);
	CHECK_EQ(r->in.nr_pending, 0);
	driver_start(r, QSIZE);
	CHECK_EQ(vdrv_status(&r->drv) & VIRTIO_STATUS_NEEDS_RESET, 0);
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
	vdrv_desc(&r->drv, EVENTQ, 0, EVENT_BUF_GPA, 8, 0, 0);
	vdrv_offer(&r->drv, EVENTQ, 0);
	send_key(r, KEY_A, true);
	expect_failed_then_recover(r);

	/* Writable, but shorter than an event. */
	driver_start(r, QSIZE);
	vdrv_desc(&r->drv, EVENTQ, 0, EVENT_BUF_GPA, 7, VDRV_DESC_F_WRITE, 0);
	vdrv_offer(&r->drv, EVENTQ, 0);
	vdrv_kick(&r->drv, EVENTQ);
	send_key(r, KEY_A, true);
	expect_failed_then_recover(r);

	/* Outside guest RAM, found on the kick path with an event waiting. */
	driver_start(r, QSIZE);
	send_key(r, KEY_A, true);
	vdrv_desc(&r->drv, EVENTQ, 0, RAM_SIZE + 0x100000, 8, VDRV_DESC_F_WRITE, 0);
	vdrv_offer(&r->drv, EVENTQ, 0);
	vdrv_kick(&r->drv, EVENTQ);
	expect_failed_then_recover(r);

	/* A chain that loops onto itself. */
	driver_start(r, QSIZE);
	vdrv_desc(&r->drv, EVENTQ, 3, EVENT_BUF_GPA, 8, VDRV_DESC_F_WRITE | VDRV_DESC_F_NEXT, 3);
	vdrv_offer(&r->drv, EVENTQ, 3);
	send_key(r, KEY_A, true);
	expect_failed_then_recover(r);

	/* A head beyond the queue. */
	driver_start(r, QSIZE);
	vdrv_offer(&r->drv, EVENTQ, 0xffff);
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
	vdrv_put(&r->drv, STATUS_BUF_GPA, led, sizeof(led));
	vdrv_desc(&r->drv, STATUSQ, 0, STATUS_BUF_GPA, 8, 0, 0);
	vdrv_offer(&r->drv, STATUSQ, 0);
	/* Odd but harmless: a writable buffer, and an empty one. */
	vdrv_desc(&r->drv, STATUSQ, 1, STATUS_BUF_GPA + 0x100, 8, VDRV_DESC_F_WRITE, 0);
	vdrv_offer(&r->drv, STATUSQ, 1);
	vdrv_desc(&r->drv, STATUSQ, 2, STATUS_BUF_GPA + 0x200, 0, 0, 0);
	vdrv_offer(&r->drv, STATUSQ, 2);
	vdrv_kick(&r->drv, STATUSQ);
	CHECK(vdrv_wait_used(&r->drv, STATUSQ, 3));
	vdrv_used_elem(&r->drv, STATUSQ, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 0);
	CHECK_EQ(vdrv_status(&r->drv) & VIRTIO_STATUS_NEEDS_RESET, 0);
	/* A broken status ring fails the device too. */
	vdrv_desc(&r->drv, STATUSQ, 4, RAM_SIZE + 0x100000, 8, 0, 0);
	vdrv_offer(&r->drv, STATUSQ, 4);
	vdrv_kick(&r->drv, STATUSQ);
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
	vdrv_common_write(&r->drv, VDRV_STATUS, 0, 1);
	CHECK_EQ(r->in.nr_pending, 0);
	send_key(r, KEY_E, true);
	CHECK_EQ(r->in.nr_pending, 0);
	driver_start(r, QSIZE);
	post_event_buffers(r, 8);
	settle();
	CHECK_EQ(vdrv_used_idx(&r->drv, EVENTQ), 0);
	send_key(r, KEY_R, true);
	CHECK_EQ(read_events(r, got, 8), 2);
	CHECK(event_is(&got[0], EV_KEY, KEY_R, 1));
	CHECK(event_is(&got[1], EV_SYN, SYN_REPORT, 0));
	/* A driver that never enabled the event queue gets nothing. */
	vdrv_common_write(&r->drv, VDRV_STATUS, 0, 1);
	vdrv_set_status(&r->drv, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdrv_common_write(&r->drv, VDRV_GFSELECT, 1, 4);
	vdrv_common_write(&r->drv, VDRV_GF, 1u << (VDRV_F_VERSION_1 - 32), 4);
	vdrv_set_status(&r->drv, VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	CHECK(vdrv_status(&r->drv) & VIRTIO_STATUS_DRIVER_OK);
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
