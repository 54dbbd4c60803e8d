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
#include "virtio_driver.h"

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

struct rig {
	struct vdrv drv;
	struct io_thread io;
	struct virtio_console con;
	pthread_mutex_t lock;
	uint8_t out[4096];
	size_t nr_out;
	atomic_int rx_space_calls;
};

/* Reset, negotiate VERSION_1 only, set up both queues, DRIVER_OK. */
static void driver_start(struct rig *r)
{
	vdrv_common_write(&r->drv, VDRV_STATUS, 0, 1);
	vdrv_zero(&r->drv, DESC_GPA, 0x13000);
	CHECK(vdrv_negotiate(&r->drv, 1ull << VDRV_F_VERSION_1));
	for (unsigned q = 0; q < 2; q++)
		vdrv_queue_setup(&r->drv, q, QSIZE, DESC_GPA + Q_OFF(q), AVAIL_GPA + Q_OFF(q),
				 USED_GPA + Q_OFF(q));
	CHECK(vdrv_driver_ok(&r->drv));
}

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct virtio_pci_env env;

	if (!r)
		abort();
	CHECK_EQ(io_thread_start(&r->io, "con"), 0);
	vdrv_platform_init(&r->drv, RAM_SIZE);
	env = vdrv_env(&r->drv);
	pthread_mutex_init(&r->lock, NULL);
	CHECK_EQ(virtio_console_create(&r->con, &r->io, &env, &con_ops, r), 0);
	vdrv_attach(&r->drv, &r->con.transport.pci);
	CHECK_EQ(vdrv_cfg_read(&r->drv, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_CONSOLE);
	return r;
}

static void rig_free(struct rig *r)
{
	virtio_console_destroy(&r->con);
	io_thread_stop(&r->io);
	vdrv_platform_destroy(&r->drv);
	free(r);
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

static bool rx_space_at_least(void *ctx, unsigned n)
{
	struct rig *r = ctx;

	return atomic_load(&r->rx_space_calls) >= (int)n;
}

static void transmit_reaches_backend(void)
{
	struct rig *r = rig_new();
	uint32_t id, len;

	driver_start(r);
	CHECK_EQ(vdrv_mmio_read(&r->drv, 0x2000, 2), 80);
	CHECK_EQ(vdrv_mmio_read(&r->drv, 0x2002, 2), 25);
	guest_memory_write(&r->drv.mem, BUF_GPA, "hello, ", 7);
	guest_memory_write(&r->drv.mem, BUF_GPA + 0x100, "world\n", 6);
	vdrv_desc(&r->drv, 1, 0, BUF_GPA, 7, VDRV_DESC_F_NEXT, 1);
	vdrv_desc(&r->drv, 1, 1, BUF_GPA + 0x100, 6, 0, 0);
	vdrv_offer_and_kick(&r->drv, 1, 0);
	CHECK(vdrv_wait_used(&r->drv, 1, 1));
	vdrv_used_elem(&r->drv, 1, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 0);
	pthread_mutex_lock(&r->lock);
	CHECK_EQ(r->nr_out, 13);
	CHECK(memcmp(r->out, "hello, world\n", 13) == 0);
	pthread_mutex_unlock(&r->lock);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.isr, 1), 1);
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
	vdrv_desc(&r->drv, 0, 0, BUF_GPA, 4, VDRV_DESC_F_WRITE, 0);
	vdrv_desc(&r->drv, 0, 1, BUF_GPA + 0x100, 4, VDRV_DESC_F_WRITE, 0);
	vdrv_offer_and_kick(&r->drv, 0, 0);
	vdrv_offer_and_kick(&r->drv, 0, 1);
	CHECK(vdrv_wait(rx_space_at_least, r, 1));
	CHECK_EQ(virtio_console_receive(&r->con, (const uint8_t *)"abcdefghij", 10), 8);
	CHECK_EQ(vdrv_used_idx(&r->drv, 0), 2);
	vdrv_used_elem(&r->drv, 0, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 4);
	vdrv_used_elem(&r->drv, 0, 1, &id, &len);
	CHECK_EQ(id, 1);
	CHECK_EQ(len, 4);
	guest_memory_read(&r->drv.mem, BUF_GPA, got, 4);
	guest_memory_read(&r->drv.mem, BUF_GPA + 0x100, got + 4, 4);
	CHECK(memcmp(got, "abcdefgh", 8) == 0);
	CHECK_EQ(vdrv_mmio_read(&r->drv, r->drv.isr, 1), 1);
	/* Out of buffers: nothing taken until the guest posts more. */
	int calls = atomic_load(&r->rx_space_calls);
	CHECK_EQ(virtio_console_receive(&r->con, (const uint8_t *)"ij", 2), 0);
	vdrv_desc(&r->drv, 0, 2, BUF_GPA + 0x200, 16, VDRV_DESC_F_WRITE, 0);
	vdrv_offer_and_kick(&r->drv, 0, 2);
	CHECK(vdrv_wait(rx_space_at_least, r, calls + 1));
	CHECK_EQ(virtio_console_receive(&r->con, (const uint8_t *)"ij", 2), 2);
	vdrv_used_elem(&r->drv, 0, 2, &id, &len);
	CHECK_EQ(len, 2);
	/* After a reset nothing is taken. */
	vdrv_common_write(&r->drv, VDRV_STATUS, 0, 1);
	CHECK_EQ(virtio_console_receive(&r->con, (const uint8_t *)"k", 1), 0);
	driver_start(r);
	rig_free(r);
}

TEST_MAIN("virtio_console",
	  TEST_CASE(transmit_reaches_backend),
	  TEST_CASE(receive_fills_guest_buffers))
