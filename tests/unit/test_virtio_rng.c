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

#include "../../devices/pci/pci.h"
#include "../../devices/virtio/virtio_rng.h"
#include "../../vmm/bus.h"
#include "../../vmm/guest_memory.h"
#include "../../vmm/io_thread.h"
#include "virtio_driver.h"

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

struct rig {
	struct vdrv drv;
	struct io_thread io;
	struct virtio_rng rng;
};

/* Reset, negotiate VERSION_1 only, set up queue 0, DRIVER_OK. */
static void driver_start(struct rig *r)
{
	vdrv_common_write(&r->drv, VDRV_STATUS, 0, 1);
	vdrv_zero(&r->drv, DESC_GPA, 0x3000);
	CHECK(vdrv_negotiate(&r->drv, 1ull << VDRV_F_VERSION_1));
	vdrv_queue_setup(&r->drv, 0, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
	CHECK(vdrv_driver_ok(&r->drv));
}

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct virtio_pci_env env;

	if (!r)
		abort();
	CHECK_EQ(io_thread_start(&r->io, "rng"), 0);
	vdrv_platform_init(&r->drv, RAM_SIZE);
	env = vdrv_env(&r->drv);
	CHECK_EQ(virtio_rng_create(&r->rng, &r->io, &env), 0);
	vdrv_attach(&r->drv, &r->rng.transport.pci);
	CHECK_EQ(vdrv_cfg_read(&r->drv, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_RNG);
	return r;
}

static void rig_free(struct rig *r)
{
	virtio_rng_destroy(&r->rng);
	io_thread_stop(&r->io);
	vdrv_platform_destroy(&r->drv);
	free(r);
}

static bool nonzero(struct rig *r, uint64_t gpa, size_t len)
{
	const uint8_t *p = guest_memory_ptr(&r->drv.mem, gpa, len);
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
	vdrv_desc(&r->drv, 0, 0, BUF_GPA, 100, VDRV_DESC_F_WRITE | VDRV_DESC_F_NEXT, 1);
	vdrv_desc(&r->drv, 0, 1, BUF_GPA + 0x1000, 28, VDRV_DESC_F_WRITE, 0);
	vdrv_offer_and_kick(&r->drv, 0, 0);
	CHECK(vdrv_wait_used(&r->drv, 0, 1));
	vdrv_used_elem(&r->drv, 0, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 128);
	CHECK(nonzero(r, BUF_GPA, 100));
	CHECK(nonzero(r, BUF_GPA + 0x1000, 28));
	/* Bytes right after each buffer stay untouched. */
	CHECK_EQ(*(uint8_t *)guest_memory_ptr(&r->drv.mem, BUF_GPA + 100, 1), 0);
	CHECK_EQ(*(uint8_t *)guest_memory_ptr(&r->drv.mem, BUF_GPA + 0x1000 + 28, 1), 0);
	/* MSI-X is off: the interrupt came as INTx with ISR bit 0. */
	CHECK(atomic_load(&r->drv.irq.rises) >= 1);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.isr, 1), 1);

	/* Two separate one-buffer requests in one kick. */
	vdrv_desc(&r->drv, 0, 2, BUF_GPA + 0x2000, 16, VDRV_DESC_F_WRITE, 0);
	vdrv_desc(&r->drv, 0, 3, BUF_GPA + 0x3000, 32, VDRV_DESC_F_WRITE, 0);
	vdrv_offer_and_kick(&r->drv, 0, 2);
	vdrv_offer_and_kick(&r->drv, 0, 3);
	CHECK(vdrv_wait_used(&r->drv, 0, 3));
	vdrv_used_elem(&r->drv, 0, 1, &id, &len);
	CHECK_EQ(id, 2);
	CHECK_EQ(len, 16);
	vdrv_used_elem(&r->drv, 0, 2, &id, &len);
	CHECK_EQ(id, 3);
	CHECK_EQ(len, 32);
	CHECK(!(vdrv_status(&r->drv) & VIRTIO_STATUS_NEEDS_RESET));
	rig_free(r);
}

static void odd_requests_get_nothing(void)
{
	struct rig *r = rig_new();
	uint32_t id, len;

	driver_start(r);
	/* Only a device-readable buffer. */
	vdrv_desc(&r->drv, 0, 0, BUF_GPA, 64, 0, 0);
	vdrv_offer_and_kick(&r->drv, 0, 0);
	CHECK(vdrv_wait_used(&r->drv, 0, 1));
	vdrv_used_elem(&r->drv, 0, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 0);
	CHECK(!nonzero(r, BUF_GPA, 64));
	/* A readable buffer before a writable one: still nothing. */
	vdrv_desc(&r->drv, 0, 1, BUF_GPA, 64, VDRV_DESC_F_NEXT, 2);
	vdrv_desc(&r->drv, 0, 2, BUF_GPA + 0x1000, 64, VDRV_DESC_F_WRITE, 0);
	vdrv_offer_and_kick(&r->drv, 0, 1);
	CHECK(vdrv_wait_used(&r->drv, 0, 2));
	vdrv_used_elem(&r->drv, 0, 1, &id, &len);
	CHECK_EQ(id, 1);
	CHECK_EQ(len, 0);
	CHECK(!nonzero(r, BUF_GPA + 0x1000, 64));
	/* An empty writable buffer. */
	vdrv_desc(&r->drv, 0, 3, BUF_GPA, 0, VDRV_DESC_F_WRITE, 0);
	vdrv_offer_and_kick(&r->drv, 0, 3);
	CHECK(vdrv_wait_used(&r->drv, 0, 3));
	vdrv_used_elem(&r->drv, 0, 2, &id, &len);
	CHECK_EQ(len, 0);
	CHECK(!(vdrv_status(&r->drv) & VIRTIO_STATUS_NEEDS_RESET));
	rig_free(r);
}

static void large_requests_are_capped(void)
{
	struct rig *r = rig_new();
	uint32_t id, len;

	driver_start(r);
	vdrv_desc(&r->drv, 0, 0, BIG_GPA, 48 * 1024, VDRV_DESC_F_WRITE | VDRV_DESC_F_NEXT, 1);
	vdrv_desc(&r->drv, 0, 1, BIG_GPA + 48 * 1024, 48 * 1024, VDRV_DESC_F_WRITE, 0);
	vdrv_offer_and_kick(&r->drv, 0, 0);
	CHECK(vdrv_wait_used(&r->drv, 0, 1));
	vdrv_used_elem(&r->drv, 0, 0, &id, &len);
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
	vdrv_desc(&r->drv, 0, 0, RAM_SIZE + 0x1000, 64, VDRV_DESC_F_WRITE, 0);
	vdrv_offer_and_kick(&r->drv, 0, 0);
	CHECK(vdrv_wait_status(&r->drv, VIRTIO_STATUS_NEEDS_RESET));
	CHECK_EQ(vdrv_used_idx(&r->drv, 0), 0);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.isr, 1) & 2, 2);

	/* After a reset the device serves again. */
	driver_start(r);
	CHECK(!(vdrv_status(&r->drv) & VIRTIO_STATUS_NEEDS_RESET));
	vdrv_desc(&r->drv, 0, 0, BUF_GPA, 32, VDRV_DESC_F_WRITE, 0);
	vdrv_offer_and_kick(&r->drv, 0, 0);
	CHECK(vdrv_wait_used(&r->drv, 0, 1));
	vdrv_used_elem(&r->drv, 0, 0, &id, &len);
	CHECK_EQ(len, 32);
	rig_free(r);
}

static void reset_stops_the_device(void)
{
	struct rig *r = rig_new();
	const struct timespec settle = { .tv_nsec = 20000000 };

	driver_start(r);
	vdrv_common_write(&r->drv, VDRV_STATUS, 0, 1);
	CHECK_EQ(vdrv_status(&r->drv), 0);
	/* A ring the device no longer owns: a kick must not be served. */
	vdrv_desc(&r->drv, 0, 0, BUF_GPA, 32, VDRV_DESC_F_WRITE, 0);
	vdrv_offer_and_kick(&r->drv, 0, 0);
	nanosleep(&settle, NULL);
	CHECK_EQ(vdrv_used_idx(&r->drv, 0), 0);
	CHECK(!nonzero(r, BUF_GPA, 32));
	/* Many resets and restarts in a row. */
	for (int i = 0; i < 50; i++)
		driver_start(r);
	vdrv_desc(&r->drv, 0, 0, BUF_GPA, 32, VDRV_DESC_F_WRITE, 0);
	vdrv_offer_and_kick(&r->drv, 0, 0);
	CHECK(vdrv_wait_used(&r->drv, 0, 1));
	rig_free(r);
}

TEST_MAIN("virtio_rng",
	  TEST_CASE(io_thread_runs_calls_on_its_thread),
	  TEST_CASE(fills_writable_buffers),
	  TEST_CASE(odd_requests_get_nothing),
	  TEST_CASE(large_requests_are_capped),
	  TEST_CASE(broken_ring_fails_until_reset),
	  TEST_CASE(reset_stops_the_device))
