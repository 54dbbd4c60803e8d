/* virtio-net behind the real virtio-pci transport, served on its real
 * per-pair I/O threads: the test plays the guest driver (config space,
 * BAR 0 MMIO, split rings in guest RAM laid out from virtio 1.2, 2.7, and
 * the control queue of 5.1.6.5) and a fake net_backend plays the host
 * side. The device answers on its own threads, so every wait is bounded
 * and a broken device fails a check rather than hanging the run. */
#include "check.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../../devices/pci/pci.h"
#include "../../devices/net/virtio_net.h"
#include "../../vmm/bus.h"
#include "../../vmm/guest_memory.h"
#include "../../vmm/io_thread.h"

/* virtio 1.2, 4.1.4.3. */
enum {
	DFSELECT = 0x00, DF = 0x04, GFSELECT = 0x08, GF = 0x0c, STATUS = 0x14,
	Q_SELECT = 0x16, Q_SIZE = 0x18, Q_ENABLE = 0x1c, Q_DESC = 0x20,
	Q_DRIVER = 0x28, Q_DEVICE = 0x30,
};
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR    3
#define CAP_DEVICE 4
#define DESC_F_NEXT  1
#define DESC_F_WRITE 2

/* virtio 1.2, 5.1.3 and 5.1.6.5. */
#define F_MAC            5
#define F_MTU            3
#define F_MRG_RXBUF      15
#define F_STATUS         16
#define F_CTRL_VQ        17
#define F_CTRL_RX        18
#define F_MQ             22
#define F_CTRL_MAC_ADDR  23
#define CTRL_MQ               4
#define CTRL_MQ_VQ_PAIRS_SET  0

#define BIT(n) (1ull << (n))

/* Guest RAM: each queue's rings in a 16 KiB block, and 2 MiB of buffer
 * slots per queue, one 32 KiB slot per descriptor index. */
#define RAM_SIZE    (16ull << 20)
#define QSIZE       64
#define MAX_QUEUES  5
#define RING_GPA(q)  (0x10000ull + 0x4000ull * (q))
#define DESC_GPA(q)  RING_GPA(q)
#define AVAIL_GPA(q) (RING_GPA(q) + 0x1000)
#define USED_GPA(q)  (RING_GPA(q) + 0x2000)
#define SLOT_SIZE    0x8000ull
#define SLOT_GPA(q, d) (0x100000ull + 0x200000ull * (q) + SLOT_SIZE * (d))
/* What a receive buffer holds before the device writes it. */
#define FILL_BYTE    0xaa

#define WAIT_MS      2000

#define FAKE_PAIRS       2
#define FAKE_FRAMES      16
#define FAKE_FRAME_MAX   8192

static const uint8_t own_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t new_mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
static const uint8_t peer_mac[6] = { 0x52, 0x54, 0x00, 0x99, 0x88, 0x77 };
static const uint8_t table_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mc_a[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

static void sleep_ms(unsigned ms)
{
	const struct timespec pause = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&pause, NULL);
}

static bool fd_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* ---- the fake backend ---- */

struct fake_frame {
	unsigned pair;
	size_t len;
	uint8_t bytes[FAKE_FRAME_MAX];
};

struct fake_backend {
	struct net_backend be;
	pthread_mutex_t lock;
	/* What transmit took, in order. */
	struct fake_frame tx[FAKE_FRAMES];
	unsigned nr_tx;
	unsigned transmit_calls;
	unsigned last_tx_iovcnt;
	unsigned eagain_left;        /* transmit says -EAGAIN this many times */
	/* Frames waiting for the guest, a ring per pair. */
	struct fake_frame rx[FAKE_PAIRS][FAKE_FRAMES];
	unsigned rx_head[FAKE_PAIRS], rx_tail[FAKE_PAIRS];
	unsigned receive_calls;
	size_t last_rx_room;         /* bytes the device offered last time */
	unsigned attach_calls, detach_calls, set_offloads_calls, set_active_calls;
	uint64_t offloads;
	unsigned active_pairs;
	struct event_loop *attached_loop;
};

static struct fake_backend *fake_of(struct net_backend *be)
{
	return (struct fake_backend *)((char *)be - offsetof(struct fake_backend, be));
}

static int fake_attach(struct net_backend *be, struct event_loop *loop)
{
	struct fake_backend *fb = fake_of(be);

	pthread_mutex_lock(&fb->lock);
	fb->attach_calls++;
	fb->attached_loop = loop;
	pthread_mutex_unlock(&fb->lock);
	return 0;
}

static void fake_detach(struct net_backend *be)
{
	struct fake_backend *fb = fake_of(be);

	pthread_mutex_lock(&fb->lock);
	fb->detach_calls++;
	fb->attached_loop = NULL;
	pthread_mutex_unlock(&fb->lock);
}

static int fake_transmit(struct net_backend *be, unsigned pair, const struct iovec *iov,
			 unsigned iovcnt)
{
	struct fake_backend *fb = fake_of(be);
	struct fake_frame *f;

	pthread_mutex_lock(&fb->lock);
	fb->transmit_calls++;
	if (fb->eagain_left) {
		fb->eagain_left--;
		pthread_mutex_unlock(&fb->lock);
		return -EAGAIN;
	}
	if (fb->nr_tx < FAKE_FRAMES) {
		f = &fb->tx[fb->nr_tx++];
		f->pair = pair;
		f->len = 0;
		for (unsigned i = 0; i < iovcnt; i++) {
			size_t n = iov[i].iov_len;

			if (n > FAKE_FRAME_MAX - f->len)
				n = FAKE_FRAME_MAX - f->len;
			memcpy(f->bytes + f->len, iov[i].iov_base, n);
			f->len += n;
		}
		fb->last_tx_iovcnt = iovcnt;
	}
	pthread_mutex_unlock(&fb->lock);
	return 0;
}

static ssize_t fake_receive(struct net_backend *be, unsigned pair, const struct iovec *iov,
			    unsigned iovcnt)
{
	struct fake_backend *fb = fake_of(be);
	const struct fake_frame *f;
	size_t room = 0, done = 0;

	for (unsigned i = 0; i < iovcnt; i++)
		room += iov[i].iov_len;
	pthread_mutex_lock(&fb->lock);
	fb->receive_calls++;
	fb->last_rx_room = room;
	if (pair >= FAKE_PAIRS || fb->rx_head[pair] == fb->rx_tail[pair]) {
		pthread_mutex_unlock(&fb->lock);
		return -EAGAIN;
	}
	f = &fb->rx[pair][fb->rx_head[pair]++ % FAKE_FRAMES];
	/* A frame longer than the room is cut, as a TAP's readv would. */
	for (unsigned i = 0; i < iovcnt && done < f->len; i++) {
		size_t n = f->len - done < iov[i].iov_len ? f->len - done : iov[i].iov_len;

		memcpy(iov[i].iov_base, f->bytes + done, n);
		done += n;
	}
	pthread_mutex_unlock(&fb->lock);
	return (ssize_t)done;
}

static int fake_set_offloads(struct net_backend *be, uint64_t guest_features)
{
	struct fake_backend *fb = fake_of(be);

	pthread_mutex_lock(&fb->lock);
	fb->set_offloads_calls++;
	fb->offloads = guest_features;
	pthread_mutex_unlock(&fb->lock);
	return 0;
}

static int fake_set_active_pairs(struct net_backend *be, unsigned nr)
{
	struct fake_backend *fb = fake_of(be);

	pthread_mutex_lock(&fb->lock);
	fb->set_active_calls++;
	fb->active_pairs = nr;
	pthread_mutex_unlock(&fb->lock);
	return 0;
}

static const struct net_backend_ops fake_ops = {
	.attach = fake_attach,
	.detach = fake_detach,
	.transmit = fake_transmit,
	.receive = fake_receive,
	.set_offloads = fake_set_offloads,
	.set_active_pairs = fake_set_active_pairs,
};

/* Reads one counter of the fake under its lock. */
static unsigned fake_read(struct fake_backend *fb, const unsigned *field)
{
	unsigned v;

	pthread_mutex_lock(&fb->lock);
	v = *field;
	pthread_mutex_unlock(&fb->lock);
	return v;
}

static size_t fake_last_room(struct fake_backend *fb)
{
	size_t v;

	pthread_mutex_lock(&fb->lock);
	v = fb->last_rx_room;
	pthread_mutex_unlock(&fb->lock);
	return v;
}

/* ---- interrupts ---- */

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

/* ---- the guest driver ---- */

struct rig {
	struct bus pio, mmio;
	struct pci_bus pb;
	struct guest_memory mem;
	struct fake_irq irq;
	struct fake_backend fb;
	struct virtio_net net;
	bool net_created;
	uint16_t bdf;
	uint64_t bar;
	uint32_t common, notify, isr, device;
	uint16_t avail_idx[MAX_QUEUES];
	uint16_t next_desc[MAX_QUEUES];
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

static uint8_t isr_of(struct rig *r)
{
	return (uint8_t)mmio_read(r, r->isr, 1);
}

/* The device raises the interrupt just after it publishes the used entry:
 * wait for it. Reading the ISR acknowledges it. */
static uint8_t wait_isr(struct rig *r)
{
	uint8_t isr = 0;

	for (unsigned i = 0; i < WAIT_MS && !(isr = isr_of(r)); i++)
		sleep_ms(1);
	return isr;
}

static void config_mac(struct rig *r, uint8_t mac[6])
{
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)mmio_read(r, r->device + i, 1);
}

static uint64_t device_features(struct rig *r)
{
	uint64_t lo, hi;

	common_write(r, DFSELECT, 0, 4);
	lo = mmio_read(r, r->common + DF, 4);
	common_write(r, DFSELECT, 1, 4);
	hi = mmio_read(r, r->common + DF, 4);
	return hi << 32 | lo;
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

/* Resets the device, negotiates VERSION_1 | features, sets up queues
 * 0 .. nr_queues-1 and sets DRIVER_OK. Returns whether the device took it. */
static bool driver_start(struct rig *r, uint64_t features, unsigned nr_queues)
{
	static const uint8_t zero[MAX_QUEUES * 0x4000];

	features |= BIT(VIRTIO_F_VERSION_1);
	common_write(r, STATUS, 0, 1);
	CHECK_EQ(guest_memory_write(&r->mem, RING_GPA(0), zero, sizeof(zero)), 0);
	memset(r->avail_idx, 0, sizeof(r->avail_idx));
	memset(r->next_desc, 0, sizeof(r->next_desc));
	set_status(r, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_write(r, GFSELECT, 0, 4);
	common_write(r, GF, (uint32_t)features, 4);
	common_write(r, GFSELECT, 1, 4);
	common_write(r, GF, (uint32_t)(features >> 32), 4);
	set_status(r, VIRTIO_STATUS_FEATURES_OK);
	if (!(status_of(r) & VIRTIO_STATUS_FEATURES_OK))
		return false;
	for (unsigned q = 0; q < nr_queues; q++) {
		common_write(r, Q_SELECT, q, 2);
		common_write(r, Q_SIZE, QSIZE, 2);
		common_write(r, Q_DESC, DESC_GPA(q), 8);
		common_write(r, Q_DRIVER, AVAIL_GPA(q), 8);
		common_write(r, Q_DEVICE, USED_GPA(q), 8);
		common_write(r, Q_ENABLE, 1, 2);
	}
	set_status(r, VIRTIO_STATUS_DRIVER_OK);
	return (status_of(r) & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK;
}

/* nr_pairs queue pairs; tx_eventfd gives the backend a tx_fd (for -EAGAIN);
 * mtu is the backend's link MTU (0: none offered). */
static struct rig *rig_new_mtu(unsigned nr_pairs, uint64_t offloads, bool tx_eventfd,
			       unsigned mtu)
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
	pthread_mutex_init(&r->fb.lock, NULL);
	r->fb.be = (struct net_backend){
		.ops = &fake_ops, .kind = "fake", .nr_pairs = nr_pairs,
		.offload_features = offloads, .rx_fd_is_eventfd = true, .mtu = mtu,
	};
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++)
		r->fb.be.rx_fd[i] = r->fb.be.tx_fd[i] = -1;
	for (unsigned i = 0; i < nr_pairs; i++) {
		r->fb.be.rx_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		CHECK(r->fb.be.rx_fd[i] >= 0);
		if (tx_eventfd) {
			r->fb.be.tx_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			CHECK(r->fb.be.tx_fd[i] >= 0);
		}
	}
	intx = (struct irq_line){ .set_level = fake_set_level, .ctx = &r->irq };
	bus_init(&r->pio, "pio");
	bus_init(&r->mmio, "mmio");
	CHECK_EQ(guest_memory_create(&r->mem, RAM_SIZE, false, err, sizeof(err)), 0);
	CHECK_EQ(pci_bus_init(&r->pb, &r->pio, &r->mmio, 0xe0000000, 1 << 20, &win, &intx), 0);
	env = (struct virtio_pci_env){
		.mem = &r->mem, .vm_fd = -1,
		.router = { .bind = no_bind, .update = no_update },
	};
	CHECK_EQ(virtio_net_create(&r->net, &r->fb.be, own_mac, &env), 0);
	r->net_created = true;
	CHECK_EQ(pci_bus_add_device(&r->pb, &r->net.transport.pci), 0);
	r->bdf = (uint16_t)(r->net.transport.pci.slot << 3);
	r->bar = (cfg_read(r, PCI_BAR0, 4) & ~0xfull) | (uint64_t)cfg_read(r, PCI_BAR0 + 4, 4) << 32;
	find_caps(r);
	return r;
}

static struct rig *rig_new(unsigned nr_pairs, uint64_t offloads, bool tx_eventfd)
{
	return rig_new_mtu(nr_pairs, offloads, tx_eventfd, 0);
}

static void rig_free(struct rig *r)
{
	if (r->net_created)
		virtio_net_destroy(&r->net);
	pci_bus_destroy(&r->pb);
	guest_memory_destroy(&r->mem);
	bus_destroy(&r->mmio);
	bus_destroy(&r->pio);
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++) {
		if (r->fb.be.rx_fd[i] >= 0)
			close(r->fb.be.rx_fd[i]);
		if (r->fb.be.tx_fd[i] >= 0)
			close(r->fb.be.tx_fd[i]);
	}
	pthread_mutex_destroy(&r->fb.lock);
	free(r);
}

static void put(struct rig *r, uint64_t gpa, const void *v, size_t len)
{
	CHECK_EQ(guest_memory_write(&r->mem, gpa, v, len), 0);
}

static void get(struct rig *r, uint64_t gpa, void *v, size_t len)
{
	CHECK_EQ(guest_memory_read(&r->mem, gpa, v, len), 0);
}

static void desc(struct rig *r, unsigned q, uint16_t idx, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = {
		htole64(addr), htole32(len), htole16(flags), htole16(next) };

	put(r, DESC_GPA(q) + 16ull * idx, &d, sizeof(d));
}

/* Makes head visible in the avail ring (no notification). */
static void publish(struct rig *r, unsigned q, uint16_t head)
{
	uint16_t v = htole16(head);

	put(r, AVAIL_GPA(q) + 4 + 2ull * (r->avail_idx[q] % QSIZE), &v, 2);
	r->avail_idx[q]++;
	/* Release, as a driver's write barrier: the entry before the index. */
	__atomic_store_n((uint16_t *)guest_memory_ptr(&r->mem, AVAIL_GPA(q) + 2, 2),
			 htole16(r->avail_idx[q]), __ATOMIC_RELEASE);
}

static void kick(struct rig *r, unsigned q)
{
	mmio_write(r, r->notify + 4 * q, q, 2);
}

/* The thread that serves queue q: its pair's, pair 0's for control. */
static unsigned thread_of(struct rig *r, unsigned q)
{
	return q == r->net.ctrl_queue ? 0 : q / 2;
}

static void noop(void *arg)
{
	(void)arg;
}

/* Waits until the device has taken fd's count and its thread has finished
 * whatever that woke: after this, a negative check means something. */
static bool settle_fd(struct rig *r, unsigned pair, int fd)
{
	for (unsigned i = 0; i < WAIT_MS && fd_readable(fd); i++)
		sleep_ms(1);
	if (fd_readable(fd))
		return false;
	return io_thread_call(&r->net.pairs[pair].io, noop, NULL) == 0;
}

static bool kick_and_settle(struct rig *r, unsigned q)
{
	kick(r, q);
	return settle_fd(r, thread_of(r, q), virtio_pci_kick_fd(&r->net.transport, q));
}

/* One segment of a chain: len bytes of data (NULL: FILL_BYTE), readable
 * or device-writable. It lands in the slot of its descriptor index. */
struct seg {
	const void *data;
	uint32_t len;
	bool writable;
};

static uint16_t add_chain(struct rig *r, unsigned q, const struct seg *segs, unsigned n)
{
	static uint8_t fill[SLOT_SIZE];
	uint16_t head = r->next_desc[q];

	memset(fill, FILL_BYTE, sizeof(fill));
	for (unsigned i = 0; i < n; i++) {
		uint16_t d = r->next_desc[q];
		uint16_t next = (uint16_t)((d + 1) % QSIZE);

		CHECK(segs[i].len <= SLOT_SIZE);
		put(r, SLOT_GPA(q, d), segs[i].data ? segs[i].data : fill, segs[i].len);
		desc(r, q, d, SLOT_GPA(q, d), segs[i].len,
		     (uint16_t)((segs[i].writable ? DESC_F_WRITE : 0) | (i + 1 < n ? DESC_F_NEXT : 0)),
		     i + 1 < n ? next : 0);
		r->next_desc[q] = next;
	}
	publish(r, q, head);
	return head;
}

/* count one-descriptor receive buffers of len bytes; returns the first head. */
static uint16_t post_rx(struct rig *r, unsigned q, unsigned count, uint32_t len)
{
	const struct seg s = { .len = len, .writable = true };
	uint16_t first = r->next_desc[q];

	for (unsigned i = 0; i < count; i++)
		add_chain(r, q, &s, 1);
	return first;
}

/* Acquire, as a driver's read barrier: the index before the elements. */
static uint16_t used_idx(struct rig *r, unsigned q)
{
	return le16toh(__atomic_load_n((uint16_t *)guest_memory_ptr(&r->mem, USED_GPA(q) + 2, 2),
				       __ATOMIC_ACQUIRE));
}

static void used_elem(struct rig *r, unsigned q, uint16_t slot, uint32_t *id, uint32_t *len)
{
	uint32_t e[2] = { 0, 0 };

	get(r, USED_GPA(q) + 4 + 8ull * (slot % QSIZE), e, 8);
	*id = le32toh(e[0]);
	*len = le32toh(e[1]);
}

static bool wait_used(struct rig *r, unsigned q, uint16_t idx)
{
	for (unsigned i = 0; i < WAIT_MS; i++) {
		if (used_idx(r, q) == idx)
			return true;
		sleep_ms(1);
	}
	return used_idx(r, q) == idx;
}

static bool wait_status(struct rig *r, uint8_t bits)
{
	for (unsigned i = 0; i < WAIT_MS; i++) {
		if ((status_of(r) & bits) == bits)
			return true;
		sleep_ms(1);
	}
	return false;
}

static bool wait_count(struct fake_backend *fb, const unsigned *field, unsigned n)
{
	for (unsigned i = 0; i < WAIT_MS; i++) {
		if (fake_read(fb, field) >= n)
			return true;
		sleep_ms(1);
	}
	return false;
}

/* A frame as the backend hands it over: header (with a flag set and a
 * num_buffers the device must overwrite), Ethernet header, payload whose
 * first byte is tag. Returns header + eth_len. */
static size_t make_frame(uint8_t *buf, const uint8_t dst[6], size_t eth_len, uint8_t tag)
{
	memset(buf, 0, NET_VNET_HDR_LEN);
	buf[0] = VIRTIO_NET_HDR_F_DATA_VALID;
	buf[10] = buf[11] = 0xee;
	memcpy(buf + NET_VNET_HDR_LEN, dst, 6);
	memcpy(buf + NET_VNET_HDR_LEN + 6, peer_mac, 6);
	buf[NET_VNET_HDR_LEN + 12] = 0x08;
	buf[NET_VNET_HDR_LEN + 13] = 0x00;
	for (size_t i = 14; i < eth_len; i++)
		buf[NET_VNET_HDR_LEN + i] = (uint8_t)(i * 7 + tag);
	buf[NET_VNET_HDR_LEN + 14] = tag;
	return NET_VNET_HDR_LEN + eth_len;
}

/* Queues a frame for the guest and says so on rx_fd, as libslirp would. */
static void backend_offer(struct rig *r, unsigned pair, const uint8_t *bytes, size_t len)
{
	struct fake_backend *fb = &r->fb;
	struct fake_frame *f;
	uint64_t one = 1;

	pthread_mutex_lock(&fb->lock);
	CHECK(fb->rx_tail[pair] - fb->rx_head[pair] < FAKE_FRAMES);
	CHECK(len <= FAKE_FRAME_MAX);
	f = &fb->rx[pair][fb->rx_tail[pair]++ % FAKE_FRAMES];
	f->pair = pair;
	f->len = len;
	memcpy(f->bytes, bytes, len);
	pthread_mutex_unlock(&fb->lock);
	CHECK_EQ(write(fb->be.rx_fd[pair], &one, sizeof(one)), sizeof(one));
}

static unsigned backend_waiting(struct rig *r, unsigned pair)
{
	unsigned n;

	pthread_mutex_lock(&r->fb.lock);
	n = r->fb.rx_tail[pair] - r->fb.rx_head[pair];
	pthread_mutex_unlock(&r->fb.lock);
	return n;
}

/* Waits until the device took every frame the backend holds for pair and
 * finished with them. */
static bool backend_drained(struct rig *r, unsigned pair)
{
	for (unsigned i = 0; i < WAIT_MS && backend_waiting(r, pair); i++)
		sleep_ms(1);
	if (backend_waiting(r, pair))
		return false;
	return io_thread_call(&r->net.pairs[pair].io, noop, NULL) == 0;
}

/* A transmit request: the frame in one descriptor, or with the header cut
 * at split into two and the frame in a third. */
static uint16_t post_tx(struct rig *r, unsigned q, const uint8_t *bytes, size_t len, unsigned split)
{
	if (!split) {
		const struct seg s = { bytes, (uint32_t)len, false };

		return add_chain(r, q, &s, 1);
	}
	const struct seg s[3] = {
		{ bytes, split, false },
		{ bytes + split, NET_VNET_HDR_LEN - split, false },
		{ bytes + NET_VNET_HDR_LEN, (uint32_t)(len - NET_VNET_HDR_LEN), false },
	};
	return add_chain(r, q, s, 3);
}

/* One control command: class and command in one descriptor, data in
 * another, the ack byte device-writable. Returns the ack, or 0xff when
 * the device did not answer. */
static uint8_t ctrl(struct rig *r, unsigned q, uint8_t cls, uint8_t cmd, const void *data,
		    uint32_t len)
{
	const uint8_t head[2] = { cls, cmd }, unset = 0x77;
	struct seg s[3] = { { head, 2, false } };
	unsigned n = 1;
	uint16_t chain, before = used_idx(r, q);
	uint32_t id, used_len;
	uint8_t ack;

	if (len)
		s[n++] = (struct seg){ data, len, false };
	s[n++] = (struct seg){ &unset, 1, true };
	chain = add_chain(r, q, s, n);
	kick(r, q);
	if (!wait_used(r, q, (uint16_t)(before + 1)))
		return 0xff;
	used_elem(r, q, before, &id, &used_len);
	CHECK_EQ(id, chain);
	CHECK_EQ(used_len, 1);
	get(r, SLOT_GPA(q, (chain + n - 1) % QSIZE), &ack, 1);
	return ack;
}

/* MAC_TABLE_SET data: le32 count and addresses, unicast then multicast. */
static size_t mac_tables(uint8_t *buf, const uint8_t (*uc)[6], uint32_t nr_uc,
			 const uint8_t (*mc)[6], uint32_t nr_mc)
{
	size_t at = 0;

	for (unsigned t = 0; t < 2; t++) {
		const uint8_t (*table)[6] = t ? mc : uc;
		uint32_t n = htole32(t ? nr_mc : nr_uc);

		memcpy(buf + at, &n, 4);
		at += 4;
		for (uint32_t i = 0; i < le32toh(n); i++, at += 6)
			memcpy(buf + at, table[i], 6);
	}
	return at;
}

/* The backend offers one small frame to each address in dsts (tagged with
 * its index); returns a mask of the ones that reached the guest's
 * receive queue 0, and checks they came in order, one buffer each. */
static unsigned rx_round(struct rig *r, const uint8_t (*dsts)[6], unsigned n)
{
	uint8_t frame[128];
	uint16_t before = used_idx(r, 0), after;
	unsigned mask = 0, last = 0;

	for (unsigned i = 0; i < n; i++)
		backend_offer(r, 0, frame, make_frame(frame, dsts[i], 64, (uint8_t)i));
	CHECK(backend_drained(r, 0));
	after = used_idx(r, 0);
	for (uint16_t u = before; u != after; u++) {
		uint32_t id, len;
		uint8_t got[NET_VNET_HDR_LEN + 15];

		used_elem(r, 0, u, &id, &len);
		CHECK_EQ(len, NET_VNET_HDR_LEN + 64);
		get(r, SLOT_GPA(0, id), got, sizeof(got));
		CHECK(got[NET_VNET_HDR_LEN + 14] < n);
		CHECK(mask == 0 || got[NET_VNET_HDR_LEN + 14] > last);
		last = got[NET_VNET_HDR_LEN + 14];
		CHECK(memcmp(got + NET_VNET_HDR_LEN, dsts[last % n], 6) == 0);
		mask |= 1u << last;
	}
	return mask;
}

/* ---- tests ---- */

static void features_and_config(void)
{
	const uint64_t offloads = BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
				  BIT(VIRTIO_NET_F_HOST_TSO4);
	const uint64_t always = BIT(F_MAC) | BIT(F_STATUS) | BIT(F_MRG_RXBUF) | BIT(F_CTRL_VQ) |
				BIT(F_CTRL_RX) | BIT(F_CTRL_MAC_ADDR);
	struct rig *r = rig_new(1, offloads, false);
	uint64_t f = device_features(r);
	uint8_t mac[6];
	uint64_t negotiated = BIT(F_MAC) | BIT(F_STATUS) | BIT(VIRTIO_NET_F_CSUM) |
			      BIT(VIRTIO_NET_F_GUEST_CSUM);

	CHECK_EQ(cfg_read(r, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_NET);
	CHECK_EQ(cfg_read(r, 0x08, 4) >> 8, 0x020000);   /* class: Ethernet */
	CHECK_EQ(f & always, always);
	CHECK(f & BIT(VIRTIO_F_VERSION_1));
	CHECK(!(f & BIT(F_MQ)));
	CHECK_EQ(f & offloads, offloads);
	CHECK(!(f & (BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
		     BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_GUEST_UFO) |
		     BIT(VIRTIO_NET_F_HOST_UFO))));
	config_mac(r, mac);
	CHECK(memcmp(mac, own_mac, 6) == 0);
	CHECK_EQ(mmio_read(r, r->device + 6, 2), 1);     /* VIRTIO_NET_S_LINK_UP */
	CHECK_EQ(mmio_read(r, r->device + 8, 2), 1);     /* max_virtqueue_pairs */
	CHECK_EQ(mmio_read(r, r->device, 4), 0x12005452);

	CHECK(driver_start(r, negotiated, 2));
	/* The backend hears the final features and joins pair 0's loop. */
	pthread_mutex_lock(&r->fb.lock);
	CHECK_EQ(r->fb.set_offloads_calls, 1);
	CHECK_EQ(r->fb.offloads, negotiated | BIT(VIRTIO_F_VERSION_1));
	CHECK_EQ(r->fb.attach_calls, 1);
	CHECK_EQ(r->fb.detach_calls, 0);
	CHECK(r->fb.attached_loop == &r->net.pairs[0].io.loop);
	CHECK_EQ(r->fb.active_pairs, 1);
	pthread_mutex_unlock(&r->fb.lock);
	rig_free(r);

	r = rig_new(2, 0, false);
	f = device_features(r);
	CHECK_EQ(f & always, always);
	CHECK(f & BIT(F_MQ));
	CHECK(!(f & (BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
		     BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO4))));
	CHECK_EQ(mmio_read(r, r->device + 8, 2), 2);
	CHECK_EQ(cfg_read(r, 0x08, 4) >> 8, 0x020000);
	/* A driver may not take what is not offered. */
	common_write(r, STATUS, 0, 1);
	set_status(r, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_write(r, GFSELECT, 0, 4);
	common_write(r, GF, (uint32_t)BIT(VIRTIO_NET_F_HOST_TSO4), 4);
	common_write(r, GFSELECT, 1, 4);
	common_write(r, GF, 1, 4);
	set_status(r, VIRTIO_STATUS_FEATURES_OK);
	CHECK(!(status_of(r) & VIRTIO_STATUS_FEATURES_OK));
	rig_free(r);
}

static void transmit_reaches_backend(void)
{
	struct rig *r = rig_new(1, 0, false);
	uint8_t a[200], b[1514 + NET_VNET_HDR_LEN];
	size_t a_len = make_frame(a, peer_mac, 60, 1), b_len = make_frame(b, peer_mac, 1514, 2);
	uint16_t head;
	uint32_t id, len;

	CHECK(driver_start(r, BIT(F_MAC), 2));
	CHECK_EQ(isr_of(r), 0);
	head = post_tx(r, 1, a, a_len, 0);
	kick(r, 1);
	CHECK(wait_used(r, 1, 1));
	used_elem(r, 1, 0, &id, &len);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	pthread_mutex_lock(&r->fb.lock);
	CHECK_EQ(r->fb.nr_tx, 1);
	CHECK_EQ(r->fb.tx[0].len, a_len);
	CHECK(memcmp(r->fb.tx[0].bytes, a, a_len) == 0);
	CHECK_EQ(r->fb.tx[0].pair, 0);
	CHECK_EQ(r->fb.last_tx_iovcnt, 1);
	pthread_mutex_unlock(&r->fb.lock);
	CHECK_EQ(wait_isr(r), 1);
	CHECK(atomic_load(&r->irq.rises) >= 1);
	CHECK(!atomic_load(&r->irq.level));   /* reading the ISR lowered it */

	/* The header split over two descriptors. */
	head = post_tx(r, 1, b, b_len, 5);
	kick(r, 1);
	CHECK(wait_used(r, 1, 2));
	used_elem(r, 1, 1, &id, &len);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	pthread_mutex_lock(&r->fb.lock);
	CHECK_EQ(r->fb.nr_tx, 2);
	CHECK_EQ(r->fb.tx[1].len, b_len);
	CHECK(memcmp(r->fb.tx[1].bytes, b, b_len) == 0);
	CHECK_EQ(r->fb.last_tx_iovcnt, 3);
	pthread_mutex_unlock(&r->fb.lock);
	CHECK_EQ(wait_isr(r), 1);

	/* Several at once, one kick. */
	post_tx(r, 1, a, a_len, 0);
	post_tx(r, 1, b, b_len, 0);
	post_tx(r, 1, a, a_len, 7);
	kick(r, 1);
	CHECK(wait_used(r, 1, 5));
	pthread_mutex_lock(&r->fb.lock);
	CHECK_EQ(r->fb.nr_tx, 5);
	CHECK(r->fb.tx[3].len == b_len && memcmp(r->fb.tx[3].bytes, b, b_len) == 0);
	CHECK(r->fb.tx[4].len == a_len && memcmp(r->fb.tx[4].bytes, a, a_len) == 0);
	pthread_mutex_unlock(&r->fb.lock);

	/* A writable tail is no part of the frame, and nothing is written. */
	{
		const struct seg s[2] = { { a, (uint32_t)a_len, false }, { NULL, 16, true } };
		uint8_t tail[16], fill[16];

		memset(fill, FILL_BYTE, sizeof(fill));
		head = add_chain(r, 1, s, 2);
		kick(r, 1);
		CHECK(wait_used(r, 1, 6));
		used_elem(r, 1, 5, &id, &len);
		CHECK_EQ(id, head);
		CHECK_EQ(len, 0);
		get(r, SLOT_GPA(1, (head + 1) % QSIZE), tail, sizeof(tail));
		CHECK(memcmp(tail, fill, sizeof(tail)) == 0);
		pthread_mutex_lock(&r->fb.lock);
		CHECK_EQ(r->fb.nr_tx, 6);
		CHECK(r->fb.tx[5].len == a_len && memcmp(r->fb.tx[5].bytes, a, a_len) == 0);
		CHECK_EQ(r->fb.last_tx_iovcnt, 1);
		pthread_mutex_unlock(&r->fb.lock);
	}
	rig_free(r);
}

/* Requests the guest queued before DRIVER_OK go out when the device starts. */
static void transmit_queued_before_driver_ok(void)
{
	struct rig *r = rig_new(1, 0, false);
	uint8_t a[100];
	size_t a_len = make_frame(a, peer_mac, 60, 9);
	uint64_t features = BIT(F_MAC) | BIT(VIRTIO_F_VERSION_1);

	/* driver_start by hand, with a request in the ring before DRIVER_OK. */
	CHECK(driver_start(r, BIT(F_MAC), 2));
	common_write(r, STATUS, 0, 1);
	memset(r->avail_idx, 0, sizeof(r->avail_idx));
	memset(r->next_desc, 0, sizeof(r->next_desc));
	set_status(r, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_write(r, GFSELECT, 0, 4);
	common_write(r, GF, (uint32_t)features, 4);
	common_write(r, GFSELECT, 1, 4);
	common_write(r, GF, (uint32_t)(features >> 32), 4);
	set_status(r, VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 2; q++) {
		common_write(r, Q_SELECT, q, 2);
		common_write(r, Q_SIZE, QSIZE, 2);
		common_write(r, Q_DESC, DESC_GPA(q), 8);
		common_write(r, Q_DRIVER, AVAIL_GPA(q), 8);
		common_write(r, Q_DEVICE, USED_GPA(q), 8);
		common_write(r, Q_ENABLE, 1, 2);
	}
	/* The avail index from the first run is still in RAM: start over. */
	{
		const uint16_t zero = 0;

		put(r, AVAIL_GPA(1) + 2, &zero, 2);
	}
	/* No kick: the device looks at its rings when it starts. */
	post_tx(r, 1, a, a_len, 0);
	set_status(r, VIRTIO_STATUS_DRIVER_OK);
	CHECK(wait_used(r, 1, 1));
	CHECK_EQ(fake_read(&r->fb, &r->fb.nr_tx), 1);
	rig_free(r);
}

static void transmit_retries_after_eagain(void)
{
	struct rig *r = rig_new(1, 0, true);
	int tx_fd = r->fb.be.tx_fd[0];
	/* An eventfd at its largest count is not writable: the backend is full. */
	const uint64_t full = 0xfffffffffffffffeull;
	uint8_t a[100], b[100], c[100];
	size_t a_len = make_frame(a, peer_mac, 60, 1), b_len = make_frame(b, peer_mac, 70, 2);
	size_t c_len = make_frame(c, peer_mac, 80, 3);
	uint16_t head_a, head_b;
	uint32_t id, len;
	uint64_t count;

	CHECK(driver_start(r, BIT(F_MAC), 2));
	CHECK_EQ(write(tx_fd, &full, sizeof(full)), sizeof(full));
	pthread_mutex_lock(&r->fb.lock);
	r->fb.eagain_left = 1;
	pthread_mutex_unlock(&r->fb.lock);

	head_a = post_tx(r, 1, a, a_len, 0);
	CHECK(kick_and_settle(r, 1));
	CHECK(wait_count(&r->fb, &r->fb.transmit_calls, 1));
	CHECK_EQ(fake_read(&r->fb, &r->fb.transmit_calls), 1);
	CHECK_EQ(used_idx(r, 1), 0);
	/* More frames queue behind it; nothing is retried while the backend
	 * stays full, however often the guest kicks. */
	head_b = post_tx(r, 1, b, b_len, 0);
	CHECK(kick_and_settle(r, 1));
	CHECK(kick_and_settle(r, 1));
	sleep_ms(20);
	CHECK_EQ(fake_read(&r->fb, &r->fb.transmit_calls), 1);
	CHECK_EQ(fake_read(&r->fb, &r->fb.nr_tx), 0);
	CHECK_EQ(used_idx(r, 1), 0);

	/* Room again: both go, in order, once each. */
	CHECK_EQ(read(tx_fd, &count, sizeof(count)), sizeof(count));
	CHECK(wait_used(r, 1, 2));
	pthread_mutex_lock(&r->fb.lock);
	CHECK_EQ(r->fb.nr_tx, 2);
	CHECK_EQ(r->fb.transmit_calls, 3);
	CHECK(r->fb.tx[0].len == a_len && memcmp(r->fb.tx[0].bytes, a, a_len) == 0);
	CHECK(r->fb.tx[1].len == b_len && memcmp(r->fb.tx[1].bytes, b, b_len) == 0);
	pthread_mutex_unlock(&r->fb.lock);
	used_elem(r, 1, 0, &id, &len);
	CHECK_EQ(id, head_a);
	used_elem(r, 1, 1, &id, &len);
	CHECK_EQ(id, head_b);
	CHECK_EQ(wait_isr(r), 1);

	/* And the queue goes on as before. */
	post_tx(r, 1, c, c_len, 0);
	kick(r, 1);
	CHECK(wait_used(r, 1, 3));
	pthread_mutex_lock(&r->fb.lock);
	CHECK_EQ(r->fb.nr_tx, 3);
	CHECK(r->fb.tx[2].len == c_len && memcmp(r->fb.tx[2].bytes, c, c_len) == 0);
	pthread_mutex_unlock(&r->fb.lock);
	rig_free(r);
}

static void receive_into_one_chain(void)
{
	struct rig *r = rig_new(1, 0, false);
	uint8_t frame[200], got[256], expect[200];
	size_t frame_len = make_frame(frame, own_mac, 100, 4);
	uint16_t first;
	uint32_t id, len;

	CHECK(driver_start(r, BIT(F_MAC), 2));
	first = post_rx(r, 0, 4, 2048);
	CHECK(kick_and_settle(r, 0));
	CHECK_EQ(used_idx(r, 0), 0);
	backend_offer(r, 0, frame, frame_len);
	CHECK(wait_used(r, 0, 1));
	used_elem(r, 0, 0, &id, &len);
	CHECK_EQ(id, first);
	CHECK_EQ(len, frame_len);
	get(r, SLOT_GPA(0, first), got, sizeof(got));
	memcpy(expect, frame, frame_len);
	expect[10] = 1;           /* num_buffers */
	expect[11] = 0;
	CHECK(memcmp(got, expect, frame_len) == 0);
	CHECK_EQ(got[frame_len], FILL_BYTE);
	CHECK_EQ(fake_last_room(&r->fb), 2048);
	CHECK_EQ(wait_isr(r), 1);

	/* The next frame takes the next buffer. */
	frame_len = make_frame(frame, broadcast, 150, 5);
	backend_offer(r, 0, frame, frame_len);
	CHECK(wait_used(r, 0, 2));
	used_elem(r, 0, 1, &id, &len);
	CHECK_EQ(id, (uint16_t)(first + 1));
	CHECK_EQ(len, frame_len);
	get(r, SLOT_GPA(0, id), got, sizeof(got));
	CHECK_EQ(got[10], 1);
	CHECK_EQ(got[11], 0);
	CHECK(memcmp(got + NET_VNET_HDR_LEN, frame + NET_VNET_HDR_LEN,
		     frame_len - NET_VNET_HDR_LEN) == 0);
	rig_free(r);
}

static void receive_merges_buffers(void)
{
	const uint64_t tso = BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4);
	struct rig *r = rig_new(1, tso, false);
	static uint8_t frame[6000], got[3 * 2048];
	size_t frame_len = make_frame(frame, own_mac, 5000, 6);
	uint32_t id, len, lens[3];
	bool partial = false;
	uint16_t seen;

	CHECK(driver_start(r, BIT(F_MAC) | BIT(F_MRG_RXBUF) | tso, 2));
	/* 40 buffers: 33 of 2048 bytes hold a 64 KiB GSO frame. */
	CHECK_EQ(post_rx(r, 0, 40, 2048), 0);
	CHECK(kick_and_settle(r, 0));
	backend_offer(r, 0, frame, frame_len);
	/* The guest must never see part of a frame. */
	for (unsigned i = 0; i < WAIT_MS * 100; i++) {
		seen = used_idx(r, 0);
		if (seen != 0 && seen != 3)
			partial = true;
		if (seen == 3)
			break;
		if (i % 100 == 99)
			sleep_ms(1);
	}
	CHECK(!partial);
	CHECK_EQ(used_idx(r, 0), 3);
	CHECK(fake_last_room(&r->fb) >= NET_MAX_FRAME);
	for (uint16_t u = 0; u < 3; u++) {
		used_elem(r, 0, u, &id, &len);
		CHECK_EQ(id, u);
		lens[u] = len;
		get(r, SLOT_GPA(0, u), got + 2048 * u, 2048);
	}
	CHECK_EQ(lens[0], 2048);
	CHECK_EQ(lens[1], 2048);
	CHECK_EQ(lens[2], frame_len - 4096);
	CHECK_EQ(got[10], 3);     /* num_buffers */
	CHECK_EQ(got[11], 0);
	CHECK_EQ(got[0], VIRTIO_NET_HDR_F_DATA_VALID);
	CHECK(memcmp(got + NET_VNET_HDR_LEN, frame + NET_VNET_HDR_LEN,
		     frame_len - NET_VNET_HDR_LEN) == 0);
	CHECK_EQ(got[frame_len], FILL_BYTE);
	CHECK_EQ(wait_isr(r), 1);

	/* The 30 buffers it gathered and did not need are the next frame's:
	 * that one starts in the 4th. */
	frame_len = make_frame(frame, own_mac, 500, 7);
	backend_offer(r, 0, frame, frame_len);
	CHECK(wait_used(r, 0, 4));
	used_elem(r, 0, 3, &id, &len);
	CHECK_EQ(id, 3);
	CHECK_EQ(len, frame_len);
	get(r, SLOT_GPA(0, 3), got, frame_len);
	CHECK_EQ(got[10], 1);
	CHECK(memcmp(got + NET_VNET_HDR_LEN, frame + NET_VNET_HDR_LEN,
		     frame_len - NET_VNET_HDR_LEN) == 0);

	/* Without GUEST_TSO a frame needs 1530 bytes of room: two 1024-byte
	 * buffers are gathered, and a 1000-byte frame fills only the first. */
	CHECK(driver_start(r, BIT(F_MAC) | BIT(F_MRG_RXBUF), 2));
	CHECK_EQ(post_rx(r, 0, 4, 1024), 0);
	CHECK(kick_and_settle(r, 0));
	frame_len = make_frame(frame, own_mac, 1000, 8);
	backend_offer(r, 0, frame, frame_len);
	CHECK(wait_used(r, 0, 1));
	CHECK_EQ(fake_last_room(&r->fb), 2048);
	used_elem(r, 0, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, frame_len);
	get(r, SLOT_GPA(0, 0), got, frame_len + 1);
	CHECK_EQ(got[10], 1);
	CHECK_EQ(got[frame_len], FILL_BYTE);
	/* The next one spills from the second buffer into the third. */
	frame_len = make_frame(frame, own_mac, 1200, 9);
	backend_offer(r, 0, frame, frame_len);
	CHECK(wait_used(r, 0, 3));
	used_elem(r, 0, 1, &id, &len);
	CHECK_EQ(id, 1);
	CHECK_EQ(len, 1024);
	used_elem(r, 0, 2, &id, &len);
	CHECK_EQ(id, 2);
	CHECK_EQ(len, frame_len - 1024);
	get(r, SLOT_GPA(0, 1), got, 1024);
	get(r, SLOT_GPA(0, 2), got + 1024, frame_len - 1024);
	CHECK_EQ(got[10], 2);
	CHECK(memcmp(got + NET_VNET_HDR_LEN, frame + NET_VNET_HDR_LEN,
		     frame_len - NET_VNET_HDR_LEN) == 0);
	rig_free(r);
}

/* A backend with a link MTU offers it (VIRTIO_NET_F_MTU, config offset
 * 10); a driver that takes it gets frames of that MTU spread over its
 * mergeable buffers, one that does not gets room for 1500-byte frames. */
static void mtu_offered_and_frames_follow_it(void)
{
	static uint8_t frame[6000 + NET_VNET_HDR_LEN], got[6000 + NET_VNET_HDR_LEN];
	struct rig *r = rig_new(1, 0, false);
	size_t frame_len;
	uint32_t id, len;

	CHECK(!(device_features(r) & BIT(F_MTU)));
	rig_free(r);

	r = rig_new_mtu(1, 0, false, 6000);
	CHECK(device_features(r) & BIT(F_MTU));
	CHECK_EQ(mmio_read(r, r->device + 10, 2), 6000);
	CHECK(driver_start(r, BIT(F_MAC) | BIT(F_MRG_RXBUF) | BIT(F_MTU), 2));
	CHECK_EQ(post_rx(r, 0, 4, 4096), 0);
	CHECK(kick_and_settle(r, 0));
	/* Header, an Ethernet header with a VLAN tag and 6000 bytes: two
	 * 4096-byte buffers are gathered, a 6000-byte frame uses both. */
	frame_len = make_frame(frame, own_mac, 6000, 3);
	backend_offer(r, 0, frame, frame_len);
	CHECK(wait_used(r, 0, 2));
	CHECK_EQ(fake_last_room(&r->fb), 2 * 4096);
	for (unsigned i = 0; i < 2; i++) {
		used_elem(r, 0, i, &id, &len);
		CHECK_EQ(id, i);
		CHECK_EQ(len, i == 0 ? 4096 : frame_len - 4096);
		get(r, SLOT_GPA(0, i), got + 4096 * i, len);
	}
	CHECK_EQ(got[10], 2);                            /* num_buffers */
	CHECK(memcmp(got + NET_VNET_HDR_LEN, frame + NET_VNET_HDR_LEN,
		     frame_len - NET_VNET_HDR_LEN) == 0);

	/* Without F_MTU the guest's link is 1500 bytes: two buffers. */
	CHECK(driver_start(r, BIT(F_MAC) | BIT(F_MRG_RXBUF), 2));
	CHECK_EQ(post_rx(r, 0, 4, 1024), 0);
	CHECK(kick_and_settle(r, 0));
	frame_len = make_frame(frame, own_mac, 1000, 4);
	backend_offer(r, 0, frame, frame_len);
	CHECK(wait_used(r, 0, 1));
	CHECK_EQ(fake_last_room(&r->fb), 2048);
	rig_free(r);
}

static void receive_waits_for_buffers(void)
{
	const uint64_t tso = BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4);
	struct rig *r = rig_new(1, tso, false);
	uint8_t frame[200], got[200];
	size_t frame_len = make_frame(frame, own_mac, 100, 10);
	uint32_t id, len;

	/* Mergeable with TSO: two buffers are not room for a frame. */
	CHECK(driver_start(r, BIT(F_MAC) | BIT(F_MRG_RXBUF) | tso, 2));
	post_rx(r, 0, 2, 2048);
	CHECK(kick_and_settle(r, 0));
	backend_offer(r, 0, frame, frame_len);
	/* The device no longer watches rx_fd: nothing to wait for but time. */
	sleep_ms(20);
	CHECK_EQ(io_thread_call(&r->net.pairs[0].io, noop, NULL), 0);
	CHECK_EQ(used_idx(r, 0), 0);
	CHECK_EQ(backend_waiting(r, 0), 1);
	CHECK_EQ(fake_read(&r->fb, &r->fb.receive_calls), 0);
	/* More buffers and a kick: the waiting frame arrives, in the first. */
	post_rx(r, 0, 40, 2048);
	kick(r, 0);
	CHECK(wait_used(r, 0, 1));
	used_elem(r, 0, 0, &id, &len);
	CHECK_EQ(id, 0);
	CHECK_EQ(len, frame_len);
	get(r, SLOT_GPA(0, 0), got, frame_len);
	CHECK_EQ(got[10], 1);
	CHECK(memcmp(got + NET_VNET_HDR_LEN, frame + NET_VNET_HDR_LEN,
		     frame_len - NET_VNET_HDR_LEN) == 0);
	CHECK_EQ(backend_waiting(r, 0), 0);

	/* One buffer per frame, none posted at all. */
	CHECK(driver_start(r, BIT(F_MAC), 2));
	backend_offer(r, 0, frame, frame_len);
	backend_offer(r, 0, frame, frame_len);
	sleep_ms(20);
	CHECK_EQ(io_thread_call(&r->net.pairs[0].io, noop, NULL), 0);
	CHECK_EQ(used_idx(r, 0), 0);
	CHECK_EQ(backend_waiting(r, 0), 2);
	post_rx(r, 0, 1, 2048);
	kick(r, 0);
	CHECK(wait_used(r, 0, 1));
	CHECK(kick_and_settle(r, 0));
	CHECK_EQ(backend_waiting(r, 0), 1);
	post_rx(r, 0, 1, 2048);
	kick(r, 0);
	CHECK(wait_used(r, 0, 2));
	CHECK_EQ(backend_waiting(r, 0), 0);
	rig_free(r);
}

static void control_queue_filters(void)
{
	struct rig *r = rig_new(1, 0, false);
	/* Well past what the filter keeps, and past 128 addresses in all. */
	static uint8_t many[200][6];
	static uint8_t tables[8 + 6 * 200];
	uint8_t mac[6], on = 1, off = 0;
	const uint8_t two[2] = { 0, 0 };
	size_t len;
	const unsigned ctrl_q = 2;

	for (unsigned i = 0; i < 200; i++) {
		const uint8_t m[6] = { 0x33, 0x33, 0xff, 0x00, (uint8_t)(i >> 8), (uint8_t)i };

		memcpy(many[i], m, 6);
	}
	CHECK(driver_start(r, BIT(F_MAC) | BIT(F_CTRL_VQ) | BIT(F_CTRL_RX) |
			   BIT(F_CTRL_MAC_ADDR), 3));
	post_rx(r, 0, 48, 2048);
	CHECK(kick_and_settle(r, 0));

	/* Promiscuous until the driver says otherwise. */
	{
		const uint8_t dsts[2][6] = {
			{ 0x52, 0x54, 0x00, 0x99, 0x88, 0x77 }, { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 } };

		CHECK_EQ(rx_round(r, dsts, 2), 0x3);
	}

	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1),
		 VIRTIO_NET_OK);
	len = mac_tables(tables, &table_mac, 1, NULL, 0);
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tables,
		      (uint32_t)len), VIRTIO_NET_OK);
	{
		const uint8_t dsts[5][6] = {
			{ 0x52, 0x54, 0x00, 0x99, 0x88, 0x77 },   /* another station */
			{ 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },   /* ours */
			{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
			{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },   /* in the table */
			{ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 },   /* multicast */
		};
		uint16_t before = used_idx(r, 0);

		CHECK_EQ(rx_round(r, dsts, 5), 0xe);
		/* The dropped ones took no buffer. */
		CHECK_EQ((uint16_t)(used_idx(r, 0) - before), 3);
	}

	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1),
		 VIRTIO_NET_OK);
	{
		const uint8_t dsts[3][6] = {
			{ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 }, { 0x33, 0x33, 0x00, 0x00, 0x00, 0x02 },
			{ 0x52, 0x54, 0x00, 0x99, 0x88, 0x77 } };

		CHECK_EQ(rx_round(r, dsts, 3), 0x3);
	}

	/* Malformed commands are refused and change nothing. */
	len = mac_tables(tables, &table_mac, 1, NULL, 0);
	tables[0] = 2;            /* two addresses, one given */
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tables,
		      (uint32_t)len), VIRTIO_NET_ERR);
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tables, 3),
		 VIRTIO_NET_ERR);
	CHECK_EQ(ctrl(r, ctrl_q, 9, 0, two, 2), VIRTIO_NET_ERR);
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, two, 2),
		 VIRTIO_NET_ERR);
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, NULL, 0),
		 VIRTIO_NET_ERR);
	/* Only a class byte. */
	{
		const struct seg s[2] = { { two, 1, false }, { NULL, 1, true } };
		uint16_t before = used_idx(r, ctrl_q), chain = add_chain(r, ctrl_q, s, 2);
		uint8_t ack = 0x77;

		kick(r, ctrl_q);
		CHECK(wait_used(r, ctrl_q, (uint16_t)(before + 1)));
		get(r, SLOT_GPA(ctrl_q, (chain + 1) % QSIZE), &ack, 1);
		CHECK_EQ(ack, VIRTIO_NET_ERR);
	}
	/* No ack byte to write: the command is still answered (used). */
	{
		const struct seg s[2] = { { (const uint8_t[]){ VIRTIO_NET_CTRL_RX,
					VIRTIO_NET_CTRL_RX_PROMISC }, 2, false }, { &on, 1, false } };
		uint16_t before = used_idx(r, ctrl_q);
		uint32_t id, used_len;

		add_chain(r, ctrl_q, s, 2);
		kick(r, ctrl_q);
		CHECK(wait_used(r, ctrl_q, (uint16_t)(before + 1)));
		used_elem(r, ctrl_q, before, &id, &used_len);
		CHECK_EQ(used_len, 0);
		/* It was carried out all the same: promiscuous again. */
		CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1),
			 VIRTIO_NET_OK);
	}
	CHECK(!(status_of(r) & VIRTIO_STATUS_NEEDS_RESET));
	{
		const uint8_t dsts[2][6] = {
			{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 }, { 0x52, 0x54, 0x00, 0x99, 0x88, 0x77 } };

		CHECK_EQ(rx_round(r, dsts, 2), 0x1);
	}

	/* More multicast addresses than the filter keeps: every multicast
	 * frame passes rather than the guest losing groups it joined. */
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &off, 1),
		 VIRTIO_NET_OK);
	len = mac_tables(tables, NULL, 0, (const uint8_t (*)[6])many, 200);
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tables,
		      (uint32_t)len), VIRTIO_NET_OK);
	{
		const uint8_t dsts[3][6] = {
			{ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 }, { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
			{ 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } };

		CHECK_EQ(rx_round(r, dsts, 3), 0x5);
	}

	/* A new address: config space shows it and the filter follows. */
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, new_mac, 6),
		 VIRTIO_NET_OK);
	config_mac(r, mac);
	CHECK(memcmp(mac, new_mac, 6) == 0);
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mc_a, 6),
		 VIRTIO_NET_ERR);
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, new_mac, 5),
		 VIRTIO_NET_ERR);
	config_mac(r, mac);
	CHECK(memcmp(mac, new_mac, 6) == 0);
	{
		const uint8_t dsts[2][6] = {
			{ 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee }, { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } };

		CHECK_EQ(rx_round(r, dsts, 2), 0x1);
	}

	/* A reset forgets all of it. */
	common_write(r, STATUS, 0, 1);
	config_mac(r, mac);
	CHECK(memcmp(mac, own_mac, 6) == 0);
	CHECK(driver_start(r, BIT(F_MAC) | BIT(F_CTRL_VQ), 3));
	post_rx(r, 0, 8, 2048);
	CHECK(kick_and_settle(r, 0));
	{
		const uint8_t dsts[2][6] = {
			{ 0x52, 0x54, 0x00, 0x99, 0x88, 0x77 }, { 0x33, 0x33, 0x00, 0x00, 0x00, 0x02 } };

		CHECK_EQ(rx_round(r, dsts, 2), 0x3);
	}
	/* Commands for features the driver did not take are refused. */
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1),
		 VIRTIO_NET_ERR);
	len = mac_tables(tables, NULL, 0, NULL, 0);
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tables,
		      (uint32_t)len), VIRTIO_NET_ERR);
	CHECK_EQ(ctrl(r, ctrl_q, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, new_mac, 6),
		 VIRTIO_NET_ERR);
	config_mac(r, mac);
	CHECK(memcmp(mac, own_mac, 6) == 0);
	{
		const uint8_t dsts[1][6] = { { 0x52, 0x54, 0x00, 0x99, 0x88, 0x77 } };

		CHECK_EQ(rx_round(r, dsts, 1), 0x1);
	}
	CHECK(!(status_of(r) & VIRTIO_STATUS_NEEDS_RESET));
	rig_free(r);
}

static void multiqueue_pairs(void)
{
	struct rig *r = rig_new(2, 0, false);
	const uint8_t two[2] = { 2, 0 }, zero[2] = { 0, 0 }, three[2] = { 3, 0 }, one[2] = { 1, 0 };
	uint8_t frame[200], on = 1;
	size_t frame_len = make_frame(frame, peer_mac, 80, 11);
	uint32_t id, len;

	CHECK(driver_start(r, BIT(F_MAC) | BIT(F_CTRL_VQ) | BIT(F_MQ), 5));
	CHECK_EQ(r->net.ctrl_queue, 4);
	CHECK_EQ(fake_read(&r->fb, &r->fb.active_pairs), 1);
	CHECK_EQ(ctrl(r, 4, CTRL_MQ, CTRL_MQ_VQ_PAIRS_SET, two, 2), VIRTIO_NET_OK);
	CHECK_EQ(fake_read(&r->fb, &r->fb.active_pairs), 2);
	CHECK_EQ(ctrl(r, 4, CTRL_MQ, CTRL_MQ_VQ_PAIRS_SET, zero, 2), VIRTIO_NET_ERR);
	CHECK_EQ(ctrl(r, 4, CTRL_MQ, CTRL_MQ_VQ_PAIRS_SET, three, 2), VIRTIO_NET_ERR);
	CHECK_EQ(ctrl(r, 4, CTRL_MQ, CTRL_MQ_VQ_PAIRS_SET, two, 1), VIRTIO_NET_ERR);
	CHECK_EQ(ctrl(r, 4, CTRL_MQ, 1, two, 2), VIRTIO_NET_ERR);
	CHECK_EQ(fake_read(&r->fb, &r->fb.active_pairs), 2);

	/* The second pair is served: transmitq 3, receiveq 2. */
	post_tx(r, 3, frame, frame_len, 0);
	kick(r, 3);
	CHECK(wait_used(r, 3, 1));
	pthread_mutex_lock(&r->fb.lock);
	CHECK_EQ(r->fb.nr_tx, 1);
	CHECK_EQ(r->fb.tx[0].pair, 1);
	CHECK(r->fb.tx[0].len == frame_len && memcmp(r->fb.tx[0].bytes, frame, frame_len) == 0);
	pthread_mutex_unlock(&r->fb.lock);
	post_rx(r, 2, 2, 2048);
	CHECK(kick_and_settle(r, 2));
	frame_len = make_frame(frame, own_mac, 80, 12);
	backend_offer(r, 1, frame, frame_len);
	CHECK(wait_used(r, 2, 1));
	used_elem(r, 2, 0, &id, &len);
	CHECK_EQ(len, frame_len);
	CHECK_EQ(used_idx(r, 0), 0);
	/* And the first. */
	post_tx(r, 1, frame, frame_len, 0);
	kick(r, 1);
	CHECK(wait_used(r, 1, 1));
	pthread_mutex_lock(&r->fb.lock);
	CHECK_EQ(r->fb.tx[1].pair, 0);
	pthread_mutex_unlock(&r->fb.lock);

	/* Without MQ the control queue follows the first pair. */
	CHECK(driver_start(r, BIT(F_MAC) | BIT(F_CTRL_VQ) | BIT(F_CTRL_RX), 3));
	CHECK_EQ(r->net.ctrl_queue, 2);
	CHECK_EQ(ctrl(r, 2, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1), VIRTIO_NET_OK);
	CHECK_EQ(ctrl(r, 2, CTRL_MQ, CTRL_MQ_VQ_PAIRS_SET, one, 2), VIRTIO_NET_ERR);
	CHECK_EQ(fake_read(&r->fb, &r->fb.active_pairs), 1);
	post_tx(r, 1, frame, frame_len, 0);
	kick(r, 1);
	CHECK(wait_used(r, 1, 1));
	CHECK_EQ(fake_read(&r->fb, &r->fb.nr_tx), 3);
	CHECK(!(status_of(r) & VIRTIO_STATUS_NEEDS_RESET));
	rig_free(r);
}

static void hostile_rings_need_reset(void)
{
	struct rig *r = rig_new(1, 0, false);
	uint8_t frame[200], got[64], fill[64];
	size_t frame_len = make_frame(frame, own_mac, 60, 13);
	uint16_t v;

	memset(fill, FILL_BYTE, sizeof(fill));

	/* A transmit buffer outside guest RAM. */
	CHECK(driver_start(r, BIT(F_MAC), 2));
	desc(r, 1, 0, 1ull << 40, 64, 0, 0);
	publish(r, 1, 0);
	kick(r, 1);
	CHECK(wait_status(r, VIRTIO_STATUS_NEEDS_RESET));
	CHECK_EQ(fake_read(&r->fb, &r->fb.transmit_calls), 0);
	CHECK_EQ(wait_isr(r) & 2, 2);          /* the config change says so */
	/* Further kicks on the dead queue are harmless. */
	CHECK(kick_and_settle(r, 1));
	CHECK_EQ(used_idx(r, 1), 0);

	/* The avail index running ahead by more than the queue holds. */
	CHECK(driver_start(r, BIT(F_MAC), 2));
	CHECK(!(status_of(r) & VIRTIO_STATUS_NEEDS_RESET));
	v = htole16(QSIZE + 5);
	put(r, AVAIL_GPA(1) + 2, &v, 2);
	kick(r, 1);
	CHECK(wait_status(r, VIRTIO_STATUS_NEEDS_RESET));
	CHECK_EQ(fake_read(&r->fb, &r->fb.transmit_calls), 0);

	/* A receive buffer the device may only read: never written. */
	CHECK(driver_start(r, BIT(F_MAC), 2));
	{
		const struct seg s = { NULL, 2048, false };

		add_chain(r, 0, &s, 1);
	}
	kick(r, 0);
	backend_offer(r, 0, frame, frame_len);
	CHECK(wait_status(r, VIRTIO_STATUS_NEEDS_RESET));
	CHECK_EQ(io_thread_call(&r->net.pairs[0].io, noop, NULL), 0);
	get(r, SLOT_GPA(0, 0), got, sizeof(got));
	CHECK(memcmp(got, fill, sizeof(got)) == 0);
	CHECK_EQ(used_idx(r, 0), 0);

	/* The same with mergeable buffers, where the device gathers several. */
	CHECK(driver_start(r, BIT(F_MAC) | BIT(F_MRG_RXBUF), 2));
	{
		const struct seg s = { NULL, 2048, false };

		add_chain(r, 0, &s, 1);
	}
	post_rx(r, 0, 4, 2048);
	kick(r, 0);
	backend_offer(r, 0, frame, frame_len);
	CHECK(wait_status(r, VIRTIO_STATUS_NEEDS_RESET));
	get(r, SLOT_GPA(0, 0), got, sizeof(got));
	CHECK(memcmp(got, fill, sizeof(got)) == 0);
	CHECK_EQ(used_idx(r, 0), 0);

	/* A receive buffer outside guest RAM, and a broken control queue. */
	CHECK(driver_start(r, BIT(F_MAC), 2));
	desc(r, 0, 0, RAM_SIZE - 16, 2048, DESC_F_WRITE, 0);
	publish(r, 0, 0);
	kick(r, 0);
	CHECK(wait_status(r, VIRTIO_STATUS_NEEDS_RESET));
	CHECK(driver_start(r, BIT(F_MAC) | BIT(F_CTRL_VQ), 3));
	desc(r, 2, 0, 0x10, 2, DESC_F_NEXT, 0);     /* loops on itself */
	publish(r, 2, 0);
	kick(r, 2);
	CHECK(wait_status(r, VIRTIO_STATUS_NEEDS_RESET));

	/* After all that, a reset brings back a working device. */
	CHECK(driver_start(r, BIT(F_MAC), 2));
	post_tx(r, 1, frame, frame_len, 0);
	kick(r, 1);
	CHECK(wait_used(r, 1, 1));
	/* Frames the failed device left with the backend now come in. */
	post_rx(r, 0, 4, 2048);
	kick(r, 0);
	backend_offer(r, 0, frame, frame_len);
	CHECK(backend_drained(r, 0));
	CHECK(used_idx(r, 0) >= 1);
	CHECK(!(status_of(r) & VIRTIO_STATUS_NEEDS_RESET));
	rig_free(r);
}

/* With EVENT_IDX the driver kicks only when the device's avail_event asks
 * for it (virtio 1.2, 2.7.10); a device that leaves it behind stalls. */
static uint16_t avail_event(struct rig *r, unsigned q)
{
	uint16_t v;

	get(r, USED_GPA(q) + 4 + 8ull * QSIZE, &v, 2);
	return le16toh(v);
}

/* Kicks as a driver with EVENT_IDX would after publishing entries
 * old .. avail_idx-1: only when they cross avail_event. */
static bool kick_if_asked(struct rig *r, unsigned q, uint16_t old)
{
	uint16_t event, now = r->avail_idx[q];

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = avail_event(r, q);
	if ((uint16_t)(now - event - 1) < (uint16_t)(now - old)) {
		kick(r, q);
		return true;
	}
	return false;
}

static void event_idx_keeps_kicks_coming(void)
{
	const uint64_t tso = BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4);
	struct rig *r = rig_new(1, tso, false);
	uint8_t frame[200];
	size_t frame_len = make_frame(frame, own_mac, 100, 15);
	uint16_t old;

	CHECK(driver_start(r, BIT(F_MAC) | BIT(F_MRG_RXBUF) | BIT(VIRTIO_RING_F_EVENT_IDX) | tso,
			   2));
	/* Transmit: each request after the device went idle asks for a kick. */
	for (uint16_t i = 0; i < 3; i++) {
		old = r->avail_idx[1];
		post_tx(r, 1, frame, frame_len, 0);
		CHECK(kick_if_asked(r, 1, old));
		CHECK(wait_used(r, 1, (uint16_t)(i + 1)));
		CHECK(io_thread_call(&r->net.pairs[0].io, noop, NULL) == 0);
	}
	/* Receive: too little room for a frame; the device gives the buffers
	 * back but must still ask to hear about the next ones. */
	old = r->avail_idx[0];
	post_rx(r, 0, 2, 2048);
	CHECK(kick_if_asked(r, 0, old));
	CHECK(settle_fd(r, 0, virtio_pci_kick_fd(&r->net.transport, 0)));
	backend_offer(r, 0, frame, frame_len);
	sleep_ms(20);
	CHECK_EQ(io_thread_call(&r->net.pairs[0].io, noop, NULL), 0);
	CHECK_EQ(used_idx(r, 0), 0);
	old = r->avail_idx[0];
	post_rx(r, 0, 40, 2048);
	CHECK(kick_if_asked(r, 0, old));
	CHECK(wait_used(r, 0, 1));
	CHECK(!(status_of(r) & VIRTIO_STATUS_NEEDS_RESET));
	rig_free(r);
}

static void reset_and_restart(void)
{
	struct rig *r = rig_new(1, 0, true);
	uint8_t frame[200];
	size_t frame_len = make_frame(frame, own_mac, 60, 14);
	const uint64_t full = 0xfffffffffffffffeull;
	uint64_t count;

	CHECK(driver_start(r, BIT(F_MAC), 2));
	CHECK_EQ(fake_read(&r->fb, &r->fb.attach_calls), 1);
	CHECK_EQ(fake_read(&r->fb, &r->fb.detach_calls), 0);
	post_tx(r, 1, frame, frame_len, 0);
	kick(r, 1);
	CHECK(wait_used(r, 1, 1));
	post_rx(r, 0, 2, 2048);
	kick(r, 0);
	backend_offer(r, 0, frame, frame_len);
	CHECK(wait_used(r, 0, 1));

	/* Reset while the backend is full and a frame waits to go out. */
	CHECK_EQ(write(r->fb.be.tx_fd[0], &full, sizeof(full)), sizeof(full));
	pthread_mutex_lock(&r->fb.lock);
	r->fb.eagain_left = 1;
	pthread_mutex_unlock(&r->fb.lock);
	post_tx(r, 1, frame, frame_len, 0);
	CHECK(kick_and_settle(r, 1));
	CHECK_EQ(fake_read(&r->fb, &r->fb.transmit_calls), 2);
	common_write(r, STATUS, 0, 1);
	CHECK_EQ(status_of(r), 0);
	CHECK_EQ(fake_read(&r->fb, &r->fb.detach_calls), 1);
	CHECK_EQ(fake_read(&r->fb, &r->fb.attach_calls), 1);
	/* Nothing is served while reset: neither the freed backend nor a
	 * frame offered now reaches guest memory. */
	CHECK_EQ(read(r->fb.be.tx_fd[0], &count, sizeof(count)), sizeof(count));
	backend_offer(r, 0, frame, frame_len);
	sleep_ms(20);
	CHECK_EQ(fake_read(&r->fb, &r->fb.transmit_calls), 2);
	CHECK_EQ(backend_waiting(r, 0), 1);

	CHECK(driver_start(r, BIT(F_MAC), 2));
	CHECK_EQ(fake_read(&r->fb, &r->fb.attach_calls), 2);
	CHECK_EQ(fake_read(&r->fb, &r->fb.detach_calls), 1);
	CHECK(r->fb.attached_loop == &r->net.pairs[0].io.loop);
	post_tx(r, 1, frame, frame_len, 0);
	kick(r, 1);
	CHECK(wait_used(r, 1, 1));
	CHECK_EQ(fake_read(&r->fb, &r->fb.nr_tx), 2);
	post_rx(r, 0, 4, 2048);
	kick(r, 0);
	/* The frame that waited through the reset, then a new one. */
	CHECK(wait_used(r, 0, 1));
	backend_offer(r, 0, frame, frame_len);
	CHECK(wait_used(r, 0, 2));
	CHECK(!(status_of(r) & VIRTIO_STATUS_NEEDS_RESET));
	rig_free(r);
	/* destroy detached the backend once more. */
}

TEST_MAIN("virtio_net",
	  TEST_CASE(features_and_config),
	  TEST_CASE(mtu_offered_and_frames_follow_it),
	  TEST_CASE(transmit_reaches_backend),
	  TEST_CASE(transmit_queued_before_driver_ok),
	  TEST_CASE(transmit_retries_after_eagain),
	  TEST_CASE(receive_into_one_chain),
	  TEST_CASE(receive_merges_buffers),
	  TEST_CASE(receive_waits_for_buffers),
	  TEST_CASE(control_queue_filters),
	  TEST_CASE(multiqueue_pairs),
	  TEST_CASE(hostile_rings_need_reset),
	  TEST_CASE(event_idx_keeps_kicks_coming),
	  TEST_CASE(reset_and_restart))
