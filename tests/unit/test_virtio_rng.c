/* virtio-rng behind the virtio-pci transport, served on a real I/O
 * thread: the test plays the guest driver (config space, BAR 0 MMIO, a
 * split ring in guest RAM laid out from virtio 1.2, 2.7) and waits for
 * the device thread to answer. The I/O thread the device relies on is
 * checked first. */
#include "check.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "../../devices/pci.h"
#include "../../devices/virtio_rng.h"
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

/* ---- the I/O thread ---- */

struct where {
	struct io_thread *io;
	bool on_io_thread;
	char name[16];
	int nested_ran;
};

static void note_thread(void *arg)
{
	struct where *w = arg;

	w->on_io_thread = pthread_equal(pthread_self(), w->io->thread);
	pthread_getname_np(pthread_self(), w->name, sizeof(w->name));
}

static void nested(void *arg)
{
	((struct where *)arg)->nested_ran++;
}

static void call_nested(void *arg)
{
	struct where *w = arg;

	/* From the I/O thread itself: runs at once instead of waiting on itself. */
	CHECK_EQ(io_thread_call(w->io, nested, w), 0);
	CHECK_EQ(w->nested_ran, 1);
}

static void count_up(void *arg)
{
	(*(int *)arg)++;   /* only ever on the I/O thread: no race */
}

struct caller {
	struct io_thread *io;
	int *counter;
};

static void *call_many(void *arg)
{
	struct caller *c = arg;

	for (int i = 0; i < 200; i++)
		CHECK_EQ(io_thread_call(c->io, count_up, c->counter), 0);
	return NULL;
}

static void io_thread_runs_calls_on_its_thread(void)
{
	struct io_thread io;
	struct where w = { .io = &io };
	pthread_t callers[4];
	struct caller c;
	int counter = 0;

	CHECK_EQ(io_thread_start(&io, "test"), 0);
	CHECK(io.started);
	CHECK_EQ(io_thread_call(&io, note_thread, &w), 0);
	CHECK(w.on_io_thread);
	CHECK_EQ(strcmp(w.name, "gvmm-io-test"), 0);
	CHECK_EQ(io_thread_call(&io, call_nested, &w), 0);
	CHECK_EQ(w.nested_ran, 1);

	/* Calls from several threads at once all run, one at a time. */
	c = (struct caller){ .io = &io, .counter = &counter };
	for (int i = 0; i < 4; i++)
		CHECK_EQ(pthread_create(&callers[i], NULL, call_many, &c), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(callers[i], NULL);
	CHECK_EQ(counter, 800);
	io_thread_stop(&io);
	CHECK(!io.started);
	/* Once stopped, a call runs on the caller. */
	CHECK_EQ(io_thread_call(&io, count_up, &counter), 0);
	CHECK_EQ(counter, 801);
}

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
	struct virtio_rng rng;
	uint16_t bdf;
	uint64_t bar;
	uint32_t common, notify, isr;
	uint16_t avail_idx;
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
	static const uint8_t zero[0x3000];

	common_write(r, STATUS, 0, 1);
	CHECK_EQ(guest_memory_write(&r->mem, DESC_GPA, zero, sizeof(zero)), 0);
	r->avail_idx = 0;
	set_status(r, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_write(r, GFSELECT, 1, 4);
	common_write(r, GF, 1u << (F_VERSION_1 - 32), 4);
	set_status(r, VIRTIO_STATUS_FEATURES_OK);
	CHECK(status_of(r) & VIRTIO_STATUS_FEATURES_OK);
	common_write(r, Q_SELECT, 0, 2);
	common_write(r, Q_SIZE, QSIZE, 2);
	common_write(r, Q_DESC, DESC_GPA, 8);
	common_write(r, Q_DRIVER, AVAIL_GPA, 8);
	common_write(r, Q_DEVICE, USED_GPA, 8);
	common_write(r, Q_ENABLE, 1, 2);
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
	CHECK_EQ(io_thread_start(&r->io, "rng"), 0);
	bus_init(&r->pio, "pio");
	bus_init(&r->mmio, "mmio");
	CHECK_EQ(guest_memory_create(&r->mem, RAM_SIZE, false, err, sizeof(err)), 0);
	CHECK_EQ(pci_bus_init(&r->pb, &r->pio, &r->mmio, 0xe0000000, 1 << 20, &win, &intx), 0);
	env = (struct virtio_pci_env){
		.mem = &r->mem, .vm_fd = -1,
		.router = { .bind = no_bind, .update = no_update },
	};
	CHECK_EQ(virtio_rng_create(&r->rng, &r->io, &env), 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, &r->rng.transport.pci), 0);
	r->bdf = (uint16_t)(r->rng.transport.pci.slot << 3);
	CHECK_EQ(cfg_read(r, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_RNG);
	r->bar = (cfg_read(r, PCI_BAR0, 4) & ~0xfull) | (uint64_t)cfg_read(r, PCI_BAR0 + 4, 4) << 32;
	find_caps(r);
	return r;
}

static void rig_free(struct rig *r)
{
	virtio_rng_destroy(&r->rng);
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

static void desc(struct rig *r, uint16_t idx, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = {
		htole64(addr), htole32(len), htole16(flags), htole16(next) };

	put(r, DESC_GPA + 16ull * idx, &d, sizeof(d));
}

/* Publishes head in the avail ring and notifies queue 0. */
static void offer_and_kick(struct rig *r, uint16_t head)
{
	uint16_t v = htole16(head);

	put(r, AVAIL_GPA + 4 + 2ull * (r->avail_idx % QSIZE), &v, 2);
	r->avail_idx++;
	/* Release, as a driver's write barrier: the entry before the index. */
	__atomic_store_n((uint16_t *)guest_memory_ptr(&r->mem, AVAIL_GPA + 2, 2),
			 htole16(r->avail_idx), __ATOMIC_RELEASE);
	mmio_write(r, r->notify, 0, 2);
}

/* Acquire, as a driver's read barrier: the index before the elements. */
static uint16_t used_idx(struct rig *r)
{
	return le16toh(__atomic_load_n((uint16_t *)guest_memory_ptr(&r->mem, USED_GPA + 2, 2),
				       __ATOMIC_ACQUIRE));
}

static void used_elem(struct rig *r, uint16_t slot, uint32_t *id, uint32_t *len)
{
	uint32_t e[2] = { 0, 0 };

	CHECK_EQ(guest_memory_read(&r->mem, USED_GPA + 4 + 8ull * (slot % QSIZE), e, 8), 0);
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

static bool used_reached(struct rig *r, unsigned idx)
{
	return used_idx(r) == idx;
}

static bool status_has(struct rig *r, unsigned bits)
{
	return (status_of(r) & bits) == bits;
}

static bool nonzero(struct rig *r, uint64_t gpa, size_t len)
{
	const uint8_t *p = guest_memory_ptr(&r->mem, gpa, len);
	size_t zeros = 0;

	for (size_t i = 0; p && i < len; i++)
		zeros += p[i] == 0;
	/* Random bytes: a few zeros, never mostly zeros. */
	return p && zeros < len / 8 + 4;
}

static void fills_writable_buffers(void)
{
	struct rig *r = rig_new();
	uint32_t id, len;

	driver_start(r);
	/* One request of two device-writable buffers. */
	desc(r, 0, BUF_GPA, 100, DESC_F_WRITE | DESC_F_NEXT, 1);
	desc(r, 1, BUF_GPA + 0x1000, 28, DESC_F_WRITE, 0);
	offer_and_kick(r, 0);
	CHECK(wait_for(used_reached, r, 1));
	used_elem(r, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 128);
	CHECK(nonzero(r, BUF_GPA, 100));
	CHECK(nonzero(r, BUF_GPA + 0x1000, 28));
	/* Bytes right after each buffer stay untouched. */
	CHECK_EQ(*(uint8_t *)guest_memory_ptr(&r->mem, BUF_GPA + 100, 1), 0);
	CHECK_EQ(*(uint8_t *)guest_memory_ptr(&r->mem, BUF_GPA + 0x1000 + 28, 1), 0);
	/* MSI-X is off: the interrupt came as INTx with ISR bit 0. */
	CHECK(atomic_load(&r->irq.rises) >= 1);
	CHECK_EQ(mmio_read(r, r->isr, 1), 1);

	/* Two separate one-buffer requests in one kick. */
	desc(r, 2, BUF_GPA + 0x2000, 16, DESC_F_WRITE, 0);
	desc(r, 3, BUF_GPA + 0x3000, 32, DESC_F_WRITE, 0);
	offer_and_kick(r, 2);
	offer_and_kick(r, 3);
	CHECK(wait_for(used_reached, r, 3));
	used_elem(r, 1, &id, &len);
	CHECK_EQ(id, 2);
	CHECK_EQ(len, 16);
	used_elem(r, 2, &id, &len);
	CHECK_EQ(id, 3);
	CHECK_EQ(len, 32);
	CHECK(!(status_of(r) & VIRTIO_STATUS_NEEDS_RESET));
	rig_free(r);
}

static void odd_requests_get_nothing(void)
{
	struct rig *r = rig_new();
	uint32_t id, len;

	driver_start(r);
	/* Only a device-readable buffer. */
	desc(r, 0, BUF_GPA, 64, 0, 0);
	offer_and_kick(r, 0);
	CHECK(wait_for(used_reached, r, 1));
	used_elem(r, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 0);
	CHECK(!nonzero(r, BUF_GPA, 64));
	/* A readable buffer before a writable one: still nothing. */
	desc(r, 1, BUF_GPA, 64, DESC_F_NEXT, 2);
	desc(r, 2, BUF_GPA + 0x1000, 64, DESC_F_WRITE, 0);
	offer_and_kick(r, 1);
	CHECK(wait_for(used_reached, r, 2));
	used_elem(r, 1, &id, &len);
	CHECK_EQ(id, 1);
	CHECK_EQ(len, 0);
	CHECK(!nonzero(r, BUF_GPA + 0x1000, 64));
	/* An empty writable buffer. */
	desc(r, 3, BUF_GPA, 0, DESC_F_WRITE, 0);
	offer_and_kick(r, 3);
	CHECK(wait_for(used_reached, r, 3));
	used_elem(r, 2, &id, &len);
	CHECK_EQ(len, 0);
	CHECK(!(status_of(r) & VIRTIO_STATUS_NEEDS_RESET));
	rig_free(r);
}

static void large_requests_are_capped(void)
{
	struct rig *r = rig_new();
	uint32_t id, len;

	driver_start(r);
	desc(r, 0, BIG_GPA, 48 * 1024, DESC_F_WRITE | DESC_F_NEXT, 1);
	desc(r, 1, BIG_GPA + 48 * 1024, 48 * 1024, DESC_F_WRITE, 0);
	offer_and_kick(r, 0);
	CHECK(wait_for(used_reached, r, 1));
	used_elem(r, 0, &id, &len);
	CHECK_EQ(len, VIRTIO_RNG_MAX_REQUEST);
	CHECK(nonzero(r, BIG_GPA + VIRTIO_RNG_MAX_REQUEST - 64, 64));
	CHECK(!nonzero(r, BIG_GPA + VIRTIO_RNG_MAX_REQUEST, 64));
	rig_free(r);
}

static void broken_ring_fails_until_reset(void)
{
	struct rig *r = rig_new();
	uint32_t id, len;

	driver_start(r);
	/* A buffer outside guest RAM. */
	desc(r, 0, RAM_SIZE + 0x1000, 64, DESC_F_WRITE, 0);
	offer_and_kick(r, 0);
	CHECK(wait_for(status_has, r, VIRTIO_STATUS_NEEDS_RESET));
	CHECK_EQ(used_idx(r), 0);
	CHECK_EQ(mmio_read(r, r->isr, 1) & 2, 2);

	/* After a reset the device serves again. */
	driver_start(r);
	CHECK(!(status_of(r) & VIRTIO_STATUS_NEEDS_RESET));
	desc(r, 0, BUF_GPA, 32, DESC_F_WRITE, 0);
	offer_and_kick(r, 0);
	CHECK(wait_for(used_reached, r, 1));
	used_elem(r, 0, &id, &len);
	CHECK_EQ(len, 32);
	rig_free(r);
}

static void reset_stops_the_device(void)
{
	struct rig *r = rig_new();
	const struct timespec settle = { .tv_nsec = 20000000 };

	driver_start(r);
	common_write(r, STATUS, 0, 1);
	CHECK_EQ(status_of(r), 0);
	/* A ring the device no longer owns: a kick must not be served. */
	desc(r, 0, BUF_GPA, 32, DESC_F_WRITE, 0);
	offer_and_kick(r, 0);
	nanosleep(&settle, NULL);
	CHECK_EQ(used_idx(r), 0);
	CHECK(!nonzero(r, BUF_GPA, 32));
	/* Many resets and restarts in a row. */
	for (int i = 0; i < 50; i++)
		driver_start(r);
	desc(r, 0, BUF_GPA, 32, DESC_F_WRITE, 0);
	offer_and_kick(r, 0);
	CHECK(wait_for(used_reached, r, 1));
	rig_free(r);
}

TEST_MAIN("virtio_rng",
	  TEST_CASE(io_thread_runs_calls_on_its_thread),
	  TEST_CASE(fills_writable_buffers),
	  TEST_CASE(odd_requests_get_nothing),
	  TEST_CASE(large_requests_are_capped),
	  TEST_CASE(broken_ring_fails_until_reset),
	  TEST_CASE(reset_stops_the_device))
