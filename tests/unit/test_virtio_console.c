/* virtio-console behind the virtio-pci transport, served on a real I/O
 * thread: the test plays the guest driver (config space, BAR 0 MMIO, a
 * split ring in guest RAM laid out from virtio 1.2, 2.7) and waits for
 * the device thread to answer; a fake backend stands for the serial
 * console. */
#include "check.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "../../devices/pci.h"
#include "../../devices/virtio_console.h"
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
#define F_VERSION_1 32
#define DESC_F_NEXT  1
#define DESC_F_WRITE 2

#define RAM_SIZE   (4ull << 20)
#define QSIZE      16
#define DESC_GPA   0x10000ull
#define AVAIL_GPA  0x11000ull
#define USED_GPA   0x12000ull
#define BUF_GPA    0x100000ull
#define BIG_GPA    0x200000ull   /* room for more than one request's cap */

#define Q_OFF(q) ((q) * 0x4000ull)

struct rig;
static void con_transmit(void *opaque, const uint8_t *bytes, size_t len);
static void con_rx_space(void *opaque);
static const struct virtio_console_ops con_ops = { .transmit = con_transmit, .rx_space = con_rx_space };

/* ---- the rng, driven as a guest ---- */

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
	struct virtio_console con;
	pthread_mutex_t lock;
	uint8_t out[4096];
	size_t nr_out;
	atomic_int rx_space_calls;
	uint16_t bdf;
	uint64_t bar;
	uint32_t common, notify, isr;
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
		}
	}
}

/* Reset, negotiate VERSION_1 only, set up queue 0, DRIVER_OK. */
static void driver_start(struct rig *r)
{
	static const uint8_t zero[0x13000];

	common_write(r, STATUS, 0, 1);
	CHECK_EQ(guest_memory_write(&r->mem, DESC_GPA, zero, sizeof(zero)), 0);
	r->avail_idx[0] = r->avail_idx[1] = 0;
	set_status(r, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
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

static struct rig *rig_new(void)
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
	CHECK_EQ(io_thread_start(&r->io, "con"), 0);
	bus_init(&r->pio, "pio");
	bus_init(&r->mmio, "mmio");
	CHECK_EQ(guest_memory_create(&r->mem, RAM_SIZE, false, err, sizeof(err)), 0);
	CHECK_EQ(pci_bus_init(&r->pb, &r->pio, &r->mmio, 0xe0000000, 1 << 20, &win, &intx), 0);
	env = (struct virtio_pci_env){
		.mem = &r->mem, .vm_fd = -1,
		.router = { .bind = no_bind, .update = no_update },
	};
	pthread_mutex_init(&r->lock, NULL);
	CHECK_EQ(virtio_console_create(&r->con, &r->io, &env, &con_ops, r), 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, &r->con.transport.pci), 0);
	r->bdf = (uint16_t)(r->con.transport.pci.slot << 3);
	CHECK_EQ(cfg_read(r, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_CONSOLE);
	r->bar = (cfg_read(r, PCI_BAR0, 4) & ~0xfull) | (uint64_t)cfg_read(r, PCI_BAR0 + 4, 4) << 32;
	find_caps(r);
	return r;
}

static void rig_free(struct rig *r)
{
	virtio_console_destroy(&r->con);
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

static void desc(struct rig *r, unsigned q, uint16_t idx, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = {
		htole64(addr), htole32(len), htole16(flags), htole16(next) };

	put(r, DESC_GPA + Q_OFF(q) + 16ull * idx, &d, sizeof(d));
}

/* Publishes head in the avail ring and notifies queue 0. */
static void offer_and_kick(struct rig *r, unsigned q, uint16_t head)
{
	uint16_t v = htole16(head);

	put(r, AVAIL_GPA + Q_OFF(q) + 4 + 2ull * (r->avail_idx[q] % QSIZE), &v, 2);
	r->avail_idx[q]++;
	/* Release, as a driver's write barrier: the entry before the index. */
	__atomic_store_n((uint16_t *)guest_memory_ptr(&r->mem, AVAIL_GPA + Q_OFF(q) + 2, 2),
			 htole16(r->avail_idx[q]), __ATOMIC_RELEASE);
	mmio_write(r, r->notify + 4 * q, q, 2);
}

/* Acquire, as a driver's read barrier: the index before the elements. */
static uint16_t used_idx(struct rig *r, unsigned q)
{
	return le16toh(__atomic_load_n((uint16_t *)guest_memory_ptr(&r->mem, USED_GPA + Q_OFF(q) + 2, 2),
				       __ATOMIC_ACQUIRE));
}

static void used_elem(struct rig *r, unsigned q, uint16_t slot, uint32_t *id, uint32_t *len)
{
	uint32_t e[2] = { 0, 0 };

	CHECK_EQ(guest_memory_read(&r->mem, USED_GPA + Q_OFF(q) + 4 + 8ull * (slot % QSIZE), e, 8), 0);
	*id = le32toh(e[0]);
	*len = le32toh(e[1]);
}

/* The device answers on its own thread: wait (up to 5 s) for it. */
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

static bool used_reached(struct rig *r, unsigned q_idx)
{
	return used_idx(r, q_idx >> 16) == (q_idx & 0xffff);
}

static void con_transmit(void *opaque, const uint8_t *bytes, size_t len)
{
	struct rig *r = opaque;

	pthread_mutex_lock(&r->lock);
	if (len <= sizeof(r->out) - r->nr_out) {
		memcpy(r->out + r->nr_out, bytes, len);
		r->nr_out += len;
	}
	pthread_mutex_unlock(&r->lock);
}

static void con_rx_space(void *opaque)
{
	struct rig *r = opaque;

	atomic_fetch_add(&r->rx_space_calls, 1);
}

static bool rx_space_at_least(struct rig *r, unsigned n)
{
	return atomic_load(&r->rx_space_calls) >= (int)n;
}

static void transmit_reaches_backend(void)
{
	struct rig *r = rig_new();
	uint32_t id, len;

	driver_start(r);
	CHECK_EQ(mmio_read(r, 0x2000, 2), 80);
	CHECK_EQ(mmio_read(r, 0x2002, 2), 25);
	guest_memory_write(&r->mem, BUF_GPA, "hello, ", 7);
	guest_memory_write(&r->mem, BUF_GPA + 0x100, "world\n", 6);
	desc(r, 1, 0, BUF_GPA, 7, DESC_F_NEXT, 1);
	desc(r, 1, 1, BUF_GPA + 0x100, 6, 0, 0);
	offer_and_kick(r, 1, 0);
	CHECK(wait_for(used_reached, r, 1 << 16 | 1));
	used_elem(r, 1, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 0);
	pthread_mutex_lock(&r->lock);
	CHECK_EQ(r->nr_out, 13);
	CHECK(memcmp(r->out, "hello, world\n", 13) == 0);
	pthread_mutex_unlock(&r->lock);
	CHECK_EQ(mmio_read(r, r->isr, 1), 1);
	rig_free(r);
}

static void receive_fills_guest_buffers(void)
{
	struct rig *r = rig_new();
	uint32_t id, len;
	char got[16] = { 0 };

	/* Nothing to receive into before the driver is up. */
	CHECK_EQ(virtio_console_receive(&r->con, (const uint8_t *)"x", 1), 0);
	driver_start(r);
	CHECK_EQ(virtio_console_receive(&r->con, (const uint8_t *)"x", 1), 0);
	/* Posting buffers and kicking: the backend hears it may offer again. */
	desc(r, 0, 0, BUF_GPA, 4, DESC_F_WRITE, 0);
	desc(r, 0, 1, BUF_GPA + 0x100, 4, DESC_F_WRITE, 0);
	offer_and_kick(r, 0, 0);
	offer_and_kick(r, 0, 1);
	CHECK(wait_for(rx_space_at_least, r, 1));
	CHECK_EQ(virtio_console_receive(&r->con, (const uint8_t *)"abcdefghij", 10), 8);
	CHECK_EQ(used_idx(r, 0), 2);
	used_elem(r, 0, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 4);
	used_elem(r, 0, 1, &id, &len);
	CHECK_EQ(id, 1);
	CHECK_EQ(len, 4);
	guest_memory_read(&r->mem, BUF_GPA, got, 4);
	guest_memory_read(&r->mem, BUF_GPA + 0x100, got + 4, 4);
	CHECK(memcmp(got, "abcdefgh", 8) == 0);
	CHECK_EQ(mmio_read(r, r->isr, 1), 1);
	/* Out of buffers: nothing taken until the guest posts more. */
	int calls = atomic_load(&r->rx_space_calls);
	CHECK_EQ(virtio_console_receive(&r->con, (const uint8_t *)"ij", 2), 0);
	desc(r, 0, 2, BUF_GPA + 0x200, 16, DESC_F_WRITE, 0);
	offer_and_kick(r, 0, 2);
	CHECK(wait_for(rx_space_at_least, r, calls + 1));
	CHECK_EQ(virtio_console_receive(&r->con, (const uint8_t *)"ij", 2), 2);
	used_elem(r, 0, 2, &id, &len);
	CHECK_EQ(len, 2);
	/* After a reset nothing is taken. */
	common_write(r, STATUS, 0, 1);
	CHECK_EQ(virtio_console_receive(&r->con, (const uint8_t *)"k", 1), 0);
	driver_start(r);
	rig_free(r);
}

TEST_MAIN("virtio_console",
	  TEST_CASE(transmit_reaches_backend),
	  TEST_CASE(receive_fills_guest_buffers))
