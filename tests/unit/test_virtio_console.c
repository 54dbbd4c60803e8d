/* virtio-console behind the virtio-pci transport, served on a real I/O
 * thread: the test plays the guest driver (config space, BAR 0 MMIO, a
 * split ring in guest RAM laid out from virtio 1.2, 2.7) and waits for
 * the device thread to answer; a fake backend stands for the serial
 * console. */
#include "check.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../devices/pci/pci.h"
#include "../../devices/virtio/virtio_console.h"
#include "../../vmm/bus.h"
#include "../../vmm/guest_memory.h"
#include "../../vmm/io_thread.h"
#include "../../vmm/serial_console.h"
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
static size_t con_transmit(void *opaque, const uint8_t *bytes, size_t len);
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

/* The device in front of ops (the fake backend when NULL). */
static struct rig *rig_new_with(const struct virtio_console_ops *ops, void *opaque)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct virtio_pci_env env;

	if (!r)
		abort();
	CHECK_EQ(io_thread_start(&r->io, "con"), 0);
	vdrv_platform_init(&r->drv, RAM_SIZE);
	env = vdrv_env(&r->drv);
	pthread_mutex_init(&r->lock, NULL);
	CHECK_EQ(virtio_console_create(&r->con, &r->io, &env, ops ? ops : &con_ops,
				       ops ? opaque : r), 0);
	vdrv_attach(&r->drv, &r->con.transport.pci);
	CHECK_EQ(vdrv_cfg_read(&r->drv, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_CONSOLE);
	return r;
}

static struct rig *rig_new(void)
{
	return rig_new_with(NULL, NULL);
}

static void rig_free(struct rig *r)
{
	virtio_console_destroy(&r->con);
	io_thread_stop(&r->io);
	vdrv_platform_destroy(&r->drv);
	free(r);
}

static size_t con_transmit(void *opaque, const uint8_t *bytes, size_t len)
{
	struct rig *r = opaque;

	pthread_mutex_lock(&r->lock);
	if (len <= sizeof(r->out) - r->nr_out) {
		memcpy(r->out + r->nr_out, bytes, len);
		r->nr_out += len;
	}
	pthread_mutex_unlock(&r->lock);
	return len;
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

/* ---- the real console backend, writing to a pipe nobody reads ---- */

#define STALL_CHAINS   QSIZE
#define STALL_CHUNK    (16u << 10)
#define STALL_TOTAL    (STALL_CHAINS * STALL_CHUNK)

static uint8_t stall_byte(size_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static size_t vm_like_receive(void *dev, const uint8_t *buf, size_t len)
{
	return virtio_console_receive(dev, buf, len);
}

static void vm_like_tx_space(void *dev)
{
	virtio_console_tx_space(dev);
}

static void *loop_main(void *arg)
{
	event_loop_run(arg);
	return NULL;
}

struct io_probe {
	struct io_thread *io;
	atomic_bool done;
};

static void io_noop(void *arg)
{
	(void)arg;
}

static void *io_probe_main(void *arg)
{
	struct io_probe *p = arg;

	io_thread_call(p->io, io_noop, NULL);
	atomic_store(&p->done, true);
	return NULL;
}

static bool io_probe_done(void *ctx, unsigned arg)
{
	(void)arg;
	return atomic_load(&((struct io_probe *)ctx)->done);
}

static bool console_buffer_full(void *ctx, unsigned arg)
{
	(void)arg;
	return console_output_buffered(&((struct serial_console *)ctx)->out) ==
	       CONSOLE_OUTPUT_BUFFER;
}

/* Reads the pipe until want bytes came or nothing comes for a while. */
static size_t read_pipe(int fd, uint8_t *buf, size_t want)
{
	size_t got = 0;

	while (got < want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, VDRV_WAIT_MS) <= 0)
			break;
		n = read(fd, buf + got, want - got);
		if (n <= 0 && errno != EAGAIN)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	return got;
}

/* The guest writes far more than the pipe and the console's buffer hold,
 * and nobody reads: the I/O thread must go on serving (here: answering a
 * call), the console must buffer no more than its bound and leave the
 * rest in the ring, and once the pipe is read everything arrives, in
 * order, and every chain completes. */
static void stalled_reader_does_not_stall_the_io_thread(void)
{
	static const struct virtio_console_ops serial_ops = {
		.transmit = serial_console_transmit_bytes,
		.rx_space = serial_console_rx_space,
	};
	char dir[] = "/tmp/gvmm-test-XXXXXX", fifo[64];
	struct serial_config cfg = { .mode = SERIAL_FILE };
	struct serial_console sc;
	struct event_loop loop;
	struct io_probe probe = { 0 };
	pthread_t loop_thread, probe_thread;
	uint8_t *want = malloc(STALL_TOTAL), *got = calloc(1, STALL_TOTAL);
	uint16_t used_while_stalled;
	char err[256];
	struct rig *r;
	size_t n;
	int rd;

	CHECK(want && got && mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/console", dir);
	CHECK_EQ(mkfifo(fifo, 0600), 0);
	snprintf(cfg.path, sizeof(cfg.path), "%s", fifo);
	rd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(rd >= 0);
	/* The smallest pipe: whatever the host's default, the guest writes
	 * far more than it holds. */
	fcntl(rd, F_SETPIPE_SZ, 4096);
	CHECK_EQ(serial_console_open(&sc, &cfg, err, sizeof(err)), 0);
	CHECK_EQ(event_loop_init(&loop), 0);
	CHECK_EQ(serial_console_start(&sc, &loop, NULL, NULL), 0);
	r = rig_new_with(&serial_ops, &sc);
	serial_console_attach(&sc, vm_like_receive, vm_like_tx_space, &r->con);
	CHECK_EQ(pthread_create(&loop_thread, NULL, loop_main, &loop), 0);

	driver_start(r);
	for (size_t i = 0; i < STALL_TOTAL; i++)
		want[i] = stall_byte(i);
	guest_memory_write(&r->drv.mem, BIG_GPA, want, STALL_TOTAL);
	for (uint16_t c = 0; c < STALL_CHAINS; c++) {
		vdrv_desc(&r->drv, 1, c, BIG_GPA + (uint64_t)c * STALL_CHUNK, STALL_CHUNK, 0, 0);
		vdrv_offer(&r->drv, 1, c);
	}
	vdrv_kick(&r->drv, 1);

	/* The I/O thread still answers. */
	probe.io = &r->io;
	CHECK_EQ(pthread_create(&probe_thread, NULL, io_probe_main, &probe), 0);
	CHECK(vdrv_wait(io_probe_done, &probe, 0));
	/* Stalled for good: the buffer at its bound, chains left in the ring. */
	CHECK(vdrv_wait(console_buffer_full, &sc, 0));
	used_while_stalled = vdrv_used_idx(&r->drv, 1);
	CHECK(used_while_stalled < STALL_CHAINS);
	CHECK(console_output_buffered(&sc.out) <= CONSOLE_OUTPUT_BUFFER);
	nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	CHECK_EQ(vdrv_used_idx(&r->drv, 1), used_while_stalled);

	/* The reader wakes up: all of it, in order. */
	n = read_pipe(rd, got, STALL_TOTAL);
	CHECK_EQ(n, STALL_TOTAL);
	CHECK(memcmp(got, want, STALL_TOTAL) == 0);
	CHECK(vdrv_wait_used(&r->drv, 1, STALL_CHAINS));
	pthread_join(probe_thread, NULL);

	event_loop_stop(&loop);
	pthread_join(loop_thread, NULL);
	serial_console_attach(&sc, NULL, NULL, NULL);
	rig_free(r);
	serial_console_close(&sc);
	event_loop_destroy(&loop);
	close(rd);
	unlink(fifo);
	rmdir(dir);
	free(want);
	free(got);
}

TEST_MAIN("virtio_console",
	  TEST_CASE(transmit_reaches_backend),
	  TEST_CASE(receive_fills_guest_buffers),
	  TEST_CASE(stalled_reader_does_not_stall_the_io_thread))
