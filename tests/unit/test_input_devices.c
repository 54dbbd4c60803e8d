/* The keyboard, tablet and mouse as the display drives them: the test
 * calls input_devices_display_ops the way a viewer's thread does and, as
 * the guest driver of all three functions (virtio-pci, split rings in
 * guest RAM, one 8-byte buffer per event), reads the exact evdev events
 * each device hands over. */
#include "check.h"

#include <endian.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <linux/input-event-codes.h>

#include "../../devices/virtio/input_devices.h"
#include "../../devices/pci/pci.h"
#include "../../devices/virtio/virtio_pci.h"
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
#define F_VERSION_1 32
#define DESC_F_WRITE 2

#define EVENTQ     0
#define RAM_SIZE   (4ull << 20)
#define QSIZE      64
/* Function f's queue q: descriptors, then avail and used a page apart. */
#define RING_GPA(f, q)  (0x10000ull + (f) * 0x10000ull + (q) * 0x4000ull)
#define AVAIL_OFF       0x1000ull
#define USED_OFF        0x2000ull
/* Function f's event buffer with head h. */
#define BUF_GPA(f, h)   (0x100000ull + (f) * 0x1000ull + 8ull * (h))

struct event {
	uint16_t type, code;
	uint32_t value;
};

static void no_set_level(void *ctx, unsigned gsi, bool level)
{
	(void)ctx; (void)gsi; (void)level;
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

/* One function as its guest driver knows it. */
struct function {
	uint16_t bdf;
	uint64_t bar;
	uint32_t common, notify;
	uint16_t avail_idx;
	uint16_t used_seen;
};

struct rig {
	struct io_thread io;
	struct bus pio, mmio;
	struct pci_bus pb;
	struct guest_memory mem;
	struct input_devices *devices;
	struct function fn[INPUT_DEVICES_COUNT];
};

static uint32_t cfg_read(struct rig *r, struct function *f, uint32_t off, unsigned len)
{
	return pci_bus_config_read(&r->pb, f->bdf, off, len);
}

static uint64_t mmio_read(struct rig *r, uint64_t addr, unsigned len)
{
	uint8_t data[8] = { 0 };
	uint64_t v = 0;

	CHECK(bus_dispatch(&r->mmio, addr, data, len, false));
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static void mmio_write(struct rig *r, uint64_t addr, uint64_t v, unsigned len)
{
	uint8_t data[8];

	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
	CHECK(bus_dispatch(&r->mmio, addr, data, len, true));
}

static void common_write(struct rig *r, struct function *f, unsigned field, uint64_t v,
			 unsigned len)
{
	mmio_write(r, f->bar + f->common + field, v, len);
}

static uint8_t status_of(struct rig *r, struct function *f)
{
	return (uint8_t)mmio_read(r, f->bar + f->common + STATUS, 1);
}

static void set_status(struct rig *r, struct function *f, uint8_t bits)
{
	common_write(r, f, STATUS, status_of(r, f) | bits, 1);
}

static void find_caps(struct rig *r, struct function *f)
{
	for (uint8_t at = (uint8_t)cfg_read(r, f, PCI_CAPABILITY_LIST, 1), n = 0; at && n < 48;
	     at = (uint8_t)cfg_read(r, f, at + 1, 1), n++) {
		if (cfg_read(r, f, at, 1) != PCI_CAP_ID_VNDR)
			continue;
		switch (cfg_read(r, f, at + 3, 1)) {
		case CAP_COMMON:
			f->common = cfg_read(r, f, at + 8, 4);
			break;
		case CAP_NOTIFY:
			f->notify = cfg_read(r, f, at + 8, 4);
			break;
		}
	}
}

/* Negotiates VERSION_1, sets up the event queue, DRIVER_OK. */
static void driver_start(struct rig *r, unsigned i)
{
	static const uint8_t zero[0x4000];
	struct function *f = &r->fn[i];

	common_write(r, f, STATUS, 0, 1);
	CHECK_EQ(guest_memory_write(&r->mem, RING_GPA(i, EVENTQ), zero, sizeof(zero)), 0);
	f->avail_idx = f->used_seen = 0;
	set_status(r, f, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_write(r, f, GFSELECT, 1, 4);
	common_write(r, f, GF, 1u << (F_VERSION_1 - 32), 4);
	set_status(r, f, VIRTIO_STATUS_FEATURES_OK);
	common_write(r, f, Q_SELECT, EVENTQ, 2);
	common_write(r, f, Q_SIZE, QSIZE, 2);
	common_write(r, f, Q_DESC, RING_GPA(i, EVENTQ), 8);
	common_write(r, f, Q_DRIVER, RING_GPA(i, EVENTQ) + AVAIL_OFF, 8);
	common_write(r, f, Q_DEVICE, RING_GPA(i, EVENTQ) + USED_OFF, 8);
	common_write(r, f, Q_ENABLE, 1, 2);
	set_status(r, f, VIRTIO_STATUS_DRIVER_OK);
	CHECK(status_of(r, f) & VIRTIO_STATUS_DRIVER_OK);
}

static void put(struct rig *r, uint64_t gpa, const void *v, size_t len)
{
	CHECK_EQ(guest_memory_write(&r->mem, gpa, v, len), 0);
}

/* Posts n one-event buffers on function i's event queue and kicks. The
 * device uses them in order, so the next free descriptor is the avail
 * index. */
static void post_buffers(struct rig *r, unsigned i, unsigned n)
{
	struct function *f = &r->fn[i];

	for (unsigned k = 0; k < n; k++) {
		uint16_t head = (uint16_t)(f->avail_idx % QSIZE), v = htole16(head);
		struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = {
			htole64(BUF_GPA(i, head)), htole32(8), htole16(DESC_F_WRITE), 0 };

		put(r, RING_GPA(i, EVENTQ) + 16ull * head, &d, sizeof(d));
		put(r, RING_GPA(i, EVENTQ) + AVAIL_OFF + 4 + 2ull * (f->avail_idx % QSIZE), &v, 2);
		f->avail_idx++;
		__atomic_store_n((uint16_t *)guest_memory_ptr(&r->mem, RING_GPA(i, EVENTQ) + AVAIL_OFF + 2, 2),
				 htole16(f->avail_idx), __ATOMIC_RELEASE);
	}
	mmio_write(r, f->bar + f->notify + 4 * EVENTQ, EVENTQ, 2);
}

static uint16_t used_idx(struct rig *r, unsigned i)
{
	return le16toh(__atomic_load_n((uint16_t *)guest_memory_ptr(&r->mem,
			RING_GPA(i, EVENTQ) + USED_OFF + 2, 2), __ATOMIC_ACQUIRE));
}

/* Waits (up to 5 s) for the I/O thread to have used the ring up to
 * target. */
static bool wait_used(struct rig *r, unsigned i, uint16_t target)
{
	const struct timespec pause = { .tv_nsec = 1000000 };

	for (int k = 0; k < 5000; k++) {
		if (used_idx(r, i) == target)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

/* The events function i used since the last call, in order. */
static unsigned take_events(struct rig *r, unsigned i, struct event *out, unsigned max)
{
	struct function *f = &r->fn[i];
	uint16_t end = used_idx(r, i);
	unsigned n = 0;

	while (f->used_seen != end && n < max) {
		uint32_t e[2];
		uint8_t w[8];

		CHECK_EQ(guest_memory_read(&r->mem, RING_GPA(i, EVENTQ) + USED_OFF + 4 +
					   8ull * (f->used_seen % QSIZE), e, 8), 0);
		CHECK_EQ(le32toh(e[1]), 8);
		CHECK_EQ(guest_memory_read(&r->mem, BUF_GPA(i, le32toh(e[0]) % QSIZE), w, 8), 0);
		out[n++] = (struct event){
			(uint16_t)(w[0] | w[1] << 8), (uint16_t)(w[2] | w[3] << 8),
			w[4] | w[5] << 8 | w[6] << 16 | (uint32_t)w[7] << 24 };
		f->used_seen++;
	}
	return n;
}

/* Checks that function i handed over exactly `want` since the last look. */
static void expect_events(struct rig *r, unsigned i, const struct event *want, unsigned n)
{
	struct event got[32];
	unsigned count = take_events(r, i, got, 32);

	CHECK_EQ(count, n);
	for (unsigned k = 0; k < n && k < count; k++) {
		CHECK_EQ(got[k].type, want[k].type);
		CHECK_EQ(got[k].code, want[k].code);
		CHECK_EQ(got[k].value, want[k].value);
	}
}

#define EXPECT(r, i, ...) do { \
	const struct event want_[] = { __VA_ARGS__ }; \
	expect_events(r, i, want_, sizeof(want_) / sizeof(want_[0])); \
} while (0)

#define EXPECT_NONE(r, i) CHECK_EQ(used_idx(r, i), (r)->fn[i].used_seen)

#define SYN { EV_SYN, SYN_REPORT, 0 }

/* All three functions on a bus, each driver running with 32 buffers
 * posted. Sending takes posted buffers at once, kick or no kick. */
static struct rig *rig_new(void)
{
	const struct pci_windows win = {
		.io_start = 0xc000, .io_end = 0x10000,
		.mem32_start = 0xc0000000, .mem32_end = 0xe0000000,
	};
	struct rig *r = calloc(1, sizeof(*r));
	struct irq_line intx = { .set_level = no_set_level };
	struct virtio_pci_env env;
	char err[128];

	if (!r)
		abort();
	CHECK_EQ(io_thread_start(&r->io, "input"), 0);
	bus_init(&r->pio, "pio");
	bus_init(&r->mmio, "mmio");
	CHECK_EQ(guest_memory_create(&r->mem, RAM_SIZE, false, err, sizeof(err)), 0);
	CHECK_EQ(pci_bus_init(&r->pb, &r->pio, &r->mmio, 0xe0000000, 1 << 20, &win, &intx), 0);
	env = (struct virtio_pci_env){
		.mem = &r->mem, .vm_fd = -1,
		.router = { .bind = no_bind, .update = no_update },
	};
	CHECK_EQ(input_devices_create(&r->devices, &r->io, &env), 0);
	CHECK(input_devices_pci_device(r->devices, INPUT_DEVICES_COUNT) == NULL);
	for (unsigned i = 0; i < INPUT_DEVICES_COUNT; i++) {
		struct pci_device *dev = input_devices_pci_device(r->devices, i);
		struct function *f = &r->fn[i];

		CHECK_EQ(pci_bus_add_device(&r->pb, dev), 0);
		f->bdf = (uint16_t)(dev->slot << 3);
		CHECK_EQ(cfg_read(r, f, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_INPUT);
		f->bar = (cfg_read(r, f, PCI_BAR0, 4) & ~0xfull) |
			 (uint64_t)cfg_read(r, f, PCI_BAR0 + 4, 4) << 32;
		find_caps(r, f);
		driver_start(r, i);
		post_buffers(r, i, 32);
	}
	return r;
}

static void rig_free(struct rig *r)
{
	/* The drivers reset the functions, so no device thread interrupts
	 * through the bus; the bus lets go of them before their memory goes;
	 * the devices stop through the I/O thread. */
	for (unsigned i = 0; i < INPUT_DEVICES_COUNT; i++)
		common_write(r, &r->fn[i], STATUS, 0, 1);
	pci_bus_destroy(&r->pb);
	input_devices_destroy(r->devices);
	io_thread_stop(&r->io);
	guest_memory_destroy(&r->mem);
	bus_destroy(&r->mmio);
	bus_destroy(&r->pio);
	free(r);
}

static const struct display_input_ops *ops = &input_devices_display_ops;

static void keys_go_to_the_keyboard(void)
{
	struct rig *r = rig_new();

	ops->key(r->devices, KEY_A, true);
	EXPECT(r, INPUT_DEVICE_KEYBOARD, { EV_KEY, KEY_A, 1 }, SYN);
	ops->key(r->devices, KEY_A, false);
	EXPECT(r, INPUT_DEVICE_KEYBOARD, { EV_KEY, KEY_A, 0 }, SYN);
	ops->key(r->devices, KEY_MICMUTE, true);
	EXPECT(r, INPUT_DEVICE_KEYBOARD, { EV_KEY, KEY_MICMUTE, 1 }, SYN);
	/* Codes evdev has no key for are dropped. */
	ops->key(r->devices, 0, true);
	ops->key(r->devices, KEY_MAX + 1, true);
	ops->key(r->devices, 0xffff, false);
	EXPECT_NONE(r, INPUT_DEVICE_KEYBOARD);
	EXPECT_NONE(r, INPUT_DEVICE_TABLET);
	EXPECT_NONE(r, INPUT_DEVICE_MOUSE);
	rig_free(r);
}

static void absolute_pointer_goes_to_the_tablet(void)
{
	struct rig *r = rig_new();

	ops->pointer_absolute(r->devices, 100, 32767);
	EXPECT(r, INPUT_DEVICE_TABLET, { EV_ABS, ABS_X, 100 }, { EV_ABS, ABS_Y, 32767 }, SYN);
	/* Beyond the scale: clamped to its end. */
	ops->pointer_absolute(r->devices, 40000, 0xffffffff);
	EXPECT(r, INPUT_DEVICE_TABLET, { EV_ABS, ABS_X, DISPLAY_ABS_MAX },
	       { EV_ABS, ABS_Y, DISPLAY_ABS_MAX }, SYN);
	EXPECT_NONE(r, INPUT_DEVICE_MOUSE);
	EXPECT_NONE(r, INPUT_DEVICE_KEYBOARD);
	rig_free(r);
}

static void relative_pointer_goes_to_the_mouse(void)
{
	struct rig *r = rig_new();

	ops->pointer_relative(r->devices, 5, -3);
	EXPECT(r, INPUT_DEVICE_MOUSE, { EV_REL, REL_X, 5 }, { EV_REL, REL_Y, (uint32_t)-3 }, SYN);
	/* Only the axes that moved. */
	ops->pointer_relative(r->devices, 0, 7);
	EXPECT(r, INPUT_DEVICE_MOUSE, { EV_REL, REL_Y, 7 }, SYN);
	ops->pointer_relative(r->devices, -1, 0);
	EXPECT(r, INPUT_DEVICE_MOUSE, { EV_REL, REL_X, (uint32_t)-1 }, SYN);
	ops->pointer_relative(r->devices, 0, 0);
	EXPECT_NONE(r, INPUT_DEVICE_MOUSE);
	EXPECT_NONE(r, INPUT_DEVICE_TABLET);
	rig_free(r);
}

static void buttons_are_diffed(void)
{
	struct rig *r = rig_new();

	ops->buttons(r->devices, DISPLAY_BUTTON_LEFT);
	EXPECT(r, INPUT_DEVICE_TABLET, { EV_KEY, BTN_LEFT, 1 }, SYN);
	/* Unchanged: nothing. */
	ops->buttons(r->devices, DISPLAY_BUTTON_LEFT);
	EXPECT_NONE(r, INPUT_DEVICE_TABLET);
	/* Several at once, in one group; unknown bits ignored. */
	ops->buttons(r->devices, DISPLAY_BUTTON_RIGHT | DISPLAY_BUTTON_MIDDLE | DISPLAY_BUTTON_SIDE |
		     DISPLAY_BUTTON_EXTRA | 0x80000000u);
	EXPECT(r, INPUT_DEVICE_TABLET, { EV_KEY, BTN_LEFT, 0 }, { EV_KEY, BTN_MIDDLE, 1 },
	       { EV_KEY, BTN_RIGHT, 1 }, { EV_KEY, BTN_SIDE, 1 }, { EV_KEY, BTN_EXTRA, 1 }, SYN);
	ops->buttons(r->devices, DISPLAY_BUTTON_SIDE);
	EXPECT(r, INPUT_DEVICE_TABLET, { EV_KEY, BTN_MIDDLE, 0 }, { EV_KEY, BTN_RIGHT, 0 },
	       { EV_KEY, BTN_EXTRA, 0 }, SYN);
	ops->buttons(r->devices, 0);
	EXPECT(r, INPUT_DEVICE_TABLET, { EV_KEY, BTN_SIDE, 0 }, SYN);
	EXPECT_NONE(r, INPUT_DEVICE_MOUSE);
	rig_free(r);
}

static void buttons_and_wheel_follow_the_motion(void)
{
	struct rig *r = rig_new();

	ops->wheel(r->devices, 1);
	EXPECT(r, INPUT_DEVICE_TABLET, { EV_REL, REL_WHEEL, 1 }, SYN);
	ops->wheel(r->devices, 0);
	EXPECT_NONE(r, INPUT_DEVICE_TABLET);
	/* Left held on the tablet when the viewer goes relative. */
	ops->buttons(r->devices, DISPLAY_BUTTON_LEFT);
	EXPECT(r, INPUT_DEVICE_TABLET, { EV_KEY, BTN_LEFT, 1 }, SYN);
	ops->pointer_relative(r->devices, 1, 1);
	EXPECT(r, INPUT_DEVICE_MOUSE, { EV_REL, REL_X, 1 }, { EV_REL, REL_Y, 1 }, SYN);
	ops->wheel(r->devices, -2);
	EXPECT(r, INPUT_DEVICE_MOUSE, { EV_REL, REL_WHEEL, (uint32_t)-2 }, SYN);
	EXPECT_NONE(r, INPUT_DEVICE_TABLET);
	/* The next buttons go to the mouse; the tablet lets go of its own. */
	ops->buttons(r->devices, DISPLAY_BUTTON_LEFT | DISPLAY_BUTTON_RIGHT);
	EXPECT(r, INPUT_DEVICE_TABLET, { EV_KEY, BTN_LEFT, 0 }, SYN);
	EXPECT(r, INPUT_DEVICE_MOUSE, { EV_KEY, BTN_LEFT, 1 }, { EV_KEY, BTN_RIGHT, 1 }, SYN);
	ops->buttons(r->devices, DISPLAY_BUTTON_RIGHT);
	EXPECT(r, INPUT_DEVICE_MOUSE, { EV_KEY, BTN_LEFT, 0 }, SYN);
	EXPECT_NONE(r, INPUT_DEVICE_TABLET);
	/* Back to absolute. */
	ops->pointer_absolute(r->devices, 1, 2);
	EXPECT(r, INPUT_DEVICE_TABLET, { EV_ABS, ABS_X, 1 }, { EV_ABS, ABS_Y, 2 }, SYN);
	ops->buttons(r->devices, 0);
	EXPECT(r, INPUT_DEVICE_MOUSE, { EV_KEY, BTN_RIGHT, 0 }, SYN);
	EXPECT_NONE(r, INPUT_DEVICE_TABLET);
	ops->wheel(r->devices, 3);
	EXPECT(r, INPUT_DEVICE_TABLET, { EV_REL, REL_WHEEL, 3 }, SYN);
	EXPECT_NONE(r, INPUT_DEVICE_MOUSE);
	rig_free(r);
}

static void events_wait_for_buffers(void)
{
	struct rig *r = rig_new();
	struct event sink[32];

	/* Use up the keyboard's 32 buffers. */
	for (unsigned k = 0; k < 16; k++)
		ops->key(r->devices, KEY_B, k % 2 == 0);
	CHECK_EQ(take_events(r, INPUT_DEVICE_KEYBOARD, sink, 32), 32);
	ops->key(r->devices, KEY_C, true);
	EXPECT_NONE(r, INPUT_DEVICE_KEYBOARD);
	/* The kick brings it, on the I/O thread. */
	post_buffers(r, INPUT_DEVICE_KEYBOARD, 2);
	CHECK(wait_used(r, INPUT_DEVICE_KEYBOARD, 34));
	EXPECT(r, INPUT_DEVICE_KEYBOARD, { EV_KEY, KEY_C, 1 }, SYN);
	rig_free(r);
}

TEST_MAIN("input_devices",
	  TEST_CASE(keys_go_to_the_keyboard),
	  TEST_CASE(absolute_pointer_goes_to_the_tablet),
	  TEST_CASE(relative_pointer_goes_to_the_mouse),
	  TEST_CASE(buttons_are_diffed),
	  TEST_CASE(buttons_and_wheel_follow_the_motion),
	  TEST_CASE(events_wait_for_buffers))
