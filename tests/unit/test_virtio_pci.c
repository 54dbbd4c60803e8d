/* The modern virtio-pci transport, driven the way a guest driver drives
 * it: find the function's vendor capabilities by walking config space,
 * read BAR 0's address, then talk to the common configuration, ISR,
 * device config and notify structures with MMIO on the bus. Interrupts
 * land on a fake INTx line and a fake MSI router. Register offsets and
 * capability layouts are spelled out from the virtio 1.2 spec (4.1.4)
 * here, not taken from the transport's source. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "../../devices/pci/pci.h"
#include "../../devices/virtio/virtio_pci.h"
#include "../../vmm/bus.h"
#include "../../vmm/guest_memory.h"
#include "../../vmm/log.h"
#include "fake_mapper.h"

/* virtio 1.2, 4.1.4.3: the common configuration structure. */
enum {
	DFSELECT = 0x00, DF = 0x04, GFSELECT = 0x08, GF = 0x0c, MSIX_CONFIG = 0x10,
	NUM_QUEUES = 0x12, STATUS = 0x14, CFG_GENERATION = 0x15, Q_SELECT = 0x16,
	Q_SIZE = 0x18, Q_MSIX = 0x1a, Q_ENABLE = 0x1c, Q_NOFF = 0x1e,
	Q_DESC = 0x20, Q_DRIVER = 0x28, Q_DEVICE = 0x30,
};
/* 4.1.4: cfg_type of the vendor capabilities. */
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4, CAP_SHARED_MEMORY = 8 };

#define NO_VECTOR      0xffff
#define FAKE_QUEUES    2
#define FAKE_QSIZE     16
#define FAKE_CFG_SIZE  8
#define FAKE_DEVICE_ID 42
#define FAKE_FEATURES  (1ull << 0 | 1ull << 40)
#define F_INDIRECT     28
#define F_EVENT_IDX    29
#define F_VERSION_1    32

#define RAM_SIZE       (1ull << 20)
#define QUEUE_GPA(q)   (0x10000ull + 0x4000ull * (q))   /* desc; avail +0x1000; used +0x2000 */
#define DATA_GPA       0x40000ull

/* ---- the fake device model behind the transport ---- */

struct fake_dev {
	atomic_int activates, resets;
	int activate_result;
	uint8_t config[FAKE_CFG_SIZE];
	int config_writes;
	/* Optional device thread, started by activate and stopped by reset,
	 * that interrupts and fails as fast as it can. */
	bool spawn_thread;
	pthread_t thread;
	atomic_bool thread_stop;
	atomic_int thread_loops;
	bool thread_running;
	struct virtio_pci *t;
};

static void fake_config_read(void *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct fake_dev *d = dev;

	CHECK(offset + len <= FAKE_CFG_SIZE);
	memcpy(data, d->config + offset, len);
}

static void fake_config_write(void *dev, uint32_t offset, const uint8_t *data, uint32_t len)
{
	struct fake_dev *d = dev;

	CHECK(offset + len <= FAKE_CFG_SIZE);
	memcpy(d->config + offset, data, len);
	d->config_writes++;
}

static void *fake_device_thread(void *arg)
{
	struct fake_dev *d = arg;

	while (!atomic_load(&d->thread_stop)) {
		virtio_pci_notify_queue(d->t, 0);
		virtio_pci_config_changed(d->t);
		virtio_pci_fail(d->t, "stress");
		atomic_fetch_add(&d->thread_loops, 1);
	}
	return NULL;
}

static int fake_activate(void *dev, struct virtio_pci *t)
{
	struct fake_dev *d = dev;

	atomic_fetch_add(&d->activates, 1);
	d->t = t;
	if (d->spawn_thread && !d->thread_running) {
		atomic_store(&d->thread_stop, false);
		CHECK_EQ(pthread_create(&d->thread, NULL, fake_device_thread, d), 0);
		d->thread_running = true;
	}
	return d->activate_result;
}

static void fake_reset(void *dev)
{
	struct fake_dev *d = dev;

	atomic_fetch_add(&d->resets, 1);
	if (d->thread_running) {
		atomic_store(&d->thread_stop, true);
		pthread_join(d->thread, NULL);
		d->thread_running = false;
	}
}

static const struct virtio_device_ops fake_ops = {
	.name = "fake-virtio",
	.device_id = FAKE_DEVICE_ID,
	.pci_class = 0xff0000,
	.features = FAKE_FEATURES,
	.nr_queues = FAKE_QUEUES,
	.queue_size = FAKE_QSIZE,
	.config_size = FAKE_CFG_SIZE,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.activate = fake_activate,
	.reset = fake_reset,
};

/* ---- the fake platform ---- */

struct fake_irq {
	atomic_bool level;
	atomic_int rises;
};

static void fake_set_level(void *ctx, unsigned gsi, bool level)
{
	struct fake_irq *irq = ctx;

	(void)gsi;
	if (level && !atomic_load(&irq->level))
		atomic_fetch_add(&irq->rises, 1);
	atomic_store(&irq->level, level);
}

#define ROUTER_MAX 8

struct fake_router {
	pthread_mutex_t lock;
	unsigned nr;
	int fd[ROUTER_MAX];
	uint32_t data[ROUTER_MAX];
};

static int fake_bind(void *ctx, uint64_t address, uint32_t data, int fd, unsigned *gsi)
{
	struct fake_router *r = ctx;
	int ret = -ENOSPC;

	(void)address;
	pthread_mutex_lock(&r->lock);
	if (r->nr < ROUTER_MAX) {
		r->fd[r->nr] = fd;
		r->data[r->nr] = data;
		*gsi = 100 + r->nr++;
		ret = 0;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static int fake_update(void *ctx, unsigned gsi, uint64_t address, uint32_t data)
{
	struct fake_router *r = ctx;

	(void)address;
	pthread_mutex_lock(&r->lock);
	if (gsi >= 100 && gsi - 100 < r->nr)
		r->data[gsi - 100] = data;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* ---- the driver's view ---- */

struct fixture {
	struct bus pio, mmio;
	struct pci_bus pb;
	struct guest_memory mem;
	struct fake_irq irq;
	struct fake_router router;
	struct fake_dev dev;
	struct virtio_pci t;
	uint16_t bdf;
	uint64_t bar;
	uint32_t common, isr, device, notify, device_len, notify_mult;
	uint16_t msix_cap;
	bool found[5];
	/* The shared memory capability (struct virtio_pci_cap64), if any. */
	bool shm_found;
	uint8_t shm_bar, shm_id, shm_cap_len;
	uint64_t shm_offset, shm_length;
};

static uint32_t cfg_read(struct fixture *f, uint32_t off, unsigned len)
{
	return pci_bus_config_read(&f->pb, f->bdf, off, len);
}

static void cfg_write(struct fixture *f, uint32_t off, uint32_t v, unsigned len)
{
	pci_bus_config_write(&f->pb, f->bdf, off, v, len);
}

static uint64_t mmio_read(struct fixture *f, uint64_t off, unsigned len)
{
	uint8_t data[8] = { 0 };
	uint64_t v = 0;

	CHECK(bus_dispatch(&f->mmio, f->bar + off, data, len, false));
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static void mmio_write(struct fixture *f, uint64_t off, uint64_t v, unsigned len)
{
	uint8_t data[8];

	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
	CHECK(bus_dispatch(&f->mmio, f->bar + off, data, len, true));
}

static uint64_t common_read(struct fixture *f, unsigned field, unsigned len)
{
	return mmio_read(f, f->common + field, len);
}

static void common_write(struct fixture *f, unsigned field, uint64_t v, unsigned len)
{
	mmio_write(f, f->common + field, v, len);
}

static uint8_t status_of(struct fixture *f)
{
	return (uint8_t)common_read(f, STATUS, 1);
}

static void set_status(struct fixture *f, uint8_t bits)
{
	common_write(f, STATUS, status_of(f) | bits, 1);
}

/* Walks the capability list as a driver does (4.1.4). */
static void find_caps(struct fixture *f)
{
	unsigned guard = 0;

	for (uint8_t at = (uint8_t)cfg_read(f, PCI_CAPABILITY_LIST, 1); at && guard < 48;
	     at = (uint8_t)cfg_read(f, at + 1, 1), guard++) {
		uint8_t id = (uint8_t)cfg_read(f, at, 1);
		uint8_t type, bar;
		uint32_t offset, length;

		CHECK_EQ(at % 4, 0);
		if (id == PCI_CAP_ID_MSIX) {
			f->msix_cap = at;
			continue;
		}
		if (id != PCI_CAP_ID_VNDR)
			continue;
		type = (uint8_t)cfg_read(f, at + 3, 1);
		bar = (uint8_t)cfg_read(f, at + 4, 1);
		offset = cfg_read(f, at + 8, 4);
		length = cfg_read(f, at + 12, 4);
		if (type == CAP_SHARED_MEMORY) {
			f->shm_found = true;
			f->shm_cap_len = (uint8_t)cfg_read(f, at + 2, 1);
			f->shm_bar = bar;
			f->shm_id = (uint8_t)cfg_read(f, at + 5, 1);
			f->shm_offset = offset | (uint64_t)cfg_read(f, at + 16, 4) << 32;
			f->shm_length = length | (uint64_t)cfg_read(f, at + 20, 4) << 32;
			continue;
		}
		CHECK_EQ(bar, 0);
		CHECK(cfg_read(f, at + 2, 1) >= 16);
		switch (type) {
		case CAP_COMMON:
			f->common = offset;
			CHECK(length >= 0x38);
			break;
		case CAP_NOTIFY:
			f->notify = offset;
			CHECK_EQ(cfg_read(f, at + 2, 1), 20);
			f->notify_mult = cfg_read(f, at + 16, 4);
			CHECK(length >= f->notify_mult * (FAKE_QUEUES - 1) + 2);
			break;
		case CAP_ISR:
			f->isr = offset;
			CHECK(length >= 1);
			break;
		case CAP_DEVICE:
			f->device = offset;
			f->device_len = length;
			break;
		default:
			continue;
		}
		if (type < 5)
			f->found[type] = true;
	}
}

/* vm_fd for KVM_IOEVENTFD, or -1; shm: a shared memory region, or NULL. */
static struct fixture *fixture_new_with(int vm_fd, struct pci_bar_window *shm)
{
	const struct pci_windows win = {
		.io_start = 0xc000, .io_end = 0x10000,
		.mem32_start = 0xc0000000, .mem32_end = 0xe0000000,
		.mem64_start = 0x8000000000ull, .mem64_end = 0x10000000000ull,
	};
	struct fixture *f = calloc(1, sizeof(*f));
	struct irq_line intx;
	struct virtio_pci_env env;
	char err[128];

	if (!f)
		abort();
	intx = (struct irq_line){ .set_level = fake_set_level, .ctx = &f->irq };
	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	pthread_mutex_init(&f->router.lock, NULL);
	CHECK_EQ(guest_memory_create(&f->mem, RAM_SIZE, false, err, sizeof(err)), 0);
	CHECK_EQ(pci_bus_init(&f->pb, &f->pio, &f->mmio, 0xe0000000, 1 << 20, &win, &intx), 0);
	env = (struct virtio_pci_env){
		.mem = &f->mem, .vm_fd = vm_fd,
		.router = { .bind = fake_bind, .update = fake_update, .ctx = &f->router },
	};
	CHECK_EQ(virtio_pci_init(&f->t, &fake_ops, &f->dev, &env), 0);
	if (shm)
		CHECK_EQ(virtio_pci_add_shm(&f->t, 1, shm), 0);
	CHECK_EQ(pci_bus_add_device(&f->pb, &f->t.pci), 0);
	f->bdf = (uint16_t)(f->t.pci.slot << 3);
	f->bar = (cfg_read(f, PCI_BAR0, 4) & ~0xfull) | (uint64_t)cfg_read(f, PCI_BAR0 + 4, 4) << 32;
	cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	find_caps(f);
	return f;
}

static struct fixture *fixture_new_on(int vm_fd)
{
	return fixture_new_with(vm_fd, NULL);
}

static struct fixture *fixture_new(void)
{
	return fixture_new_with(-1, NULL);
}

static void fixture_free(struct fixture *f)
{
	virtio_pci_destroy(&f->t);
	pci_bus_destroy(&f->pb);
	guest_memory_destroy(&f->mem);
	bus_destroy(&f->mmio);
	bus_destroy(&f->pio);
	pthread_mutex_destroy(&f->router.lock);
	free(f);
}

/* Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether it stuck. */
static bool negotiate(struct fixture *f, uint64_t features)
{
	common_write(f, STATUS, 0, 1);
	CHECK_EQ(status_of(f), 0);
	set_status(f, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(f, VIRTIO_STATUS_DRIVER);
	common_write(f, GFSELECT, 0, 4);
	common_write(f, GF, (uint32_t)features, 4);
	common_write(f, GFSELECT, 1, 4);
	common_write(f, GF, (uint32_t)(features >> 32), 4);
	set_status(f, VIRTIO_STATUS_FEATURES_OK);
	return status_of(f) & VIRTIO_STATUS_FEATURES_OK;
}

static void setup_queue(struct fixture *f, unsigned q, uint16_t size, uint16_t vector)
{
	uint64_t desc = QUEUE_GPA(q);

	common_write(f, Q_SELECT, q, 2);
	common_write(f, Q_SIZE, size, 2);
	common_write(f, Q_MSIX, vector, 2);
	/* Addresses as Linux writes them: two dwords, low first. */
	common_write(f, Q_DESC, (uint32_t)desc, 4);
	common_write(f, Q_DESC + 4, desc >> 32, 4);
	common_write(f, Q_DRIVER, (uint32_t)(desc + 0x1000), 4);
	common_write(f, Q_DRIVER + 4, 0, 4);
	common_write(f, Q_DEVICE, (uint32_t)(desc + 0x2000), 4);
	common_write(f, Q_DEVICE + 4, 0, 4);
	common_write(f, Q_ENABLE, 1, 2);
}

static bool fd_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void drain(int fd)
{
	uint64_t v;

	while (fd_readable(fd) && read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

/* The device side completes one request on queue q, as a device thread would. */
static void device_uses_one(struct fixture *f, unsigned q)
{
	struct virtq *vq = virtio_pci_queue(&f->t, q);

	CHECK(vq != NULL);
	if (vq)
		CHECK_EQ(virtq_push_used(vq, 0, 0), 0);
}

static int router_fd_for(struct fixture *f, uint32_t data)
{
	for (unsigned i = 0; i < f->router.nr; i++)
		if (f->router.data[i] == data)
			return f->router.fd[i];
	return -1;
}

/* Programs and unmasks vector v with message data 0x40 + v, then enables MSI-X. */
static void enable_msix(struct fixture *f, unsigned nr_vectors)
{
	uint32_t table = cfg_read(f, f->msix_cap + 4, 4);
	uint64_t table_at = table & ~7u;

	CHECK_EQ(table & 7, 0);   /* in BAR 0 */
	for (unsigned v = 0; v < nr_vectors; v++) {
		mmio_write(f, table_at + 16 * v, 0xfee00000, 4);
		mmio_write(f, table_at + 16 * v + 4, 0, 4);
		mmio_write(f, table_at + 16 * v + 8, 0x40 + v, 4);
		mmio_write(f, table_at + 16 * v + 12, 0, 4);
	}
	cfg_write(f, f->msix_cap + 2, 0x8000, 2);
}

/* ---- tests ---- */

static void identity_bar_and_capabilities(void)
{
	struct fixture *f = fixture_new();

	CHECK_EQ(cfg_read(f, PCI_VENDOR_ID, 2), 0x1af4);
	CHECK_EQ(cfg_read(f, PCI_DEVICE_ID, 2), 0x1040 + FAKE_DEVICE_ID);
	CHECK_EQ(cfg_read(f, PCI_REVISION_ID, 1), 1);
	CHECK_EQ(cfg_read(f, PCI_REVISION_ID, 4) >> 8, 0xff0000);
	CHECK_EQ(cfg_read(f, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	CHECK(cfg_read(f, PCI_SUBSYSTEM_ID, 2) >= 0x40);
	CHECK(cfg_read(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	/* BAR 0: 64-bit non-prefetchable memory of 32 KiB. */
	CHECK_EQ(cfg_read(f, PCI_BAR0, 4) & 0xf, 0x4);
	CHECK(f->bar != 0);
	cfg_write(f, PCI_COMMAND, 0, 2);
	cfg_write(f, PCI_BAR0, 0xffffffff, 4);
	CHECK_EQ(cfg_read(f, PCI_BAR0, 4) & ~0xfu, ~(0x8000u - 1));
	cfg_write(f, PCI_BAR0, (uint32_t)f->bar, 4);
	cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);

	CHECK(f->found[CAP_COMMON] && f->found[CAP_NOTIFY] && f->found[CAP_ISR] &&
	      f->found[CAP_DEVICE]);
	CHECK_EQ(f->notify_mult, 4);
	CHECK_EQ(f->device_len, FAKE_CFG_SIZE);
	CHECK(f->msix_cap != 0);
	/* Table size N-1 in message control: a vector per queue plus config. */
	CHECK_EQ(cfg_read(f, f->msix_cap + 2, 2) & 0x7ff, FAKE_QUEUES);
	CHECK_EQ(common_read(f, NUM_QUEUES, 2), FAKE_QUEUES);
	CHECK_EQ(status_of(f), 0);
	fixture_free(f);
}

static void feature_negotiation(void)
{
	struct fixture *f = fixture_new();
	uint64_t offered;

	common_write(f, DFSELECT, 0, 4);
	offered = common_read(f, DF, 4);
	common_write(f, DFSELECT, 1, 4);
	offered |= common_read(f, DF, 4) << 32;
	common_write(f, DFSELECT, 7, 4);
	CHECK_EQ(common_read(f, DF, 4), 0);
	CHECK_EQ(offered, FAKE_FEATURES | 1ull << F_VERSION_1 | 1ull << F_EVENT_IDX |
		 1ull << F_INDIRECT);

	/* A legacy driver (no VERSION_1) and unknown features are refused. */
	CHECK(!negotiate(f, 1ull << 0));
	CHECK(!negotiate(f, 1ull << F_VERSION_1 | 1ull << 50));
	CHECK(!negotiate(f, 1ull << F_VERSION_1 | 1ull << 3));
	CHECK(negotiate(f, 1ull << F_VERSION_1 | 1ull << 40));
	CHECK(virtio_pci_has_feature(&f->t, F_VERSION_1));
	CHECK(virtio_pci_has_feature(&f->t, 40));
	CHECK(!virtio_pci_has_feature(&f->t, 0));
	CHECK(!virtio_pci_has_feature(&f->t, 200));
	/* Features are final once FEATURES_OK stuck. */
	common_write(f, GFSELECT, 0, 4);
	common_write(f, GF, 1, 4);
	CHECK_EQ(common_read(f, GF, 4), 0);
	CHECK(!virtio_pci_has_feature(&f->t, 0));
	fixture_free(f);
}

static void queue_setup_and_activation(void)
{
	struct fixture *f = fixture_new();

	CHECK(negotiate(f, 1ull << F_VERSION_1 | 1ull << F_EVENT_IDX));
	common_write(f, Q_SELECT, 0, 2);
	CHECK_EQ(common_read(f, Q_SIZE, 2), FAKE_QSIZE);
	CHECK_EQ(common_read(f, Q_MSIX, 2), NO_VECTOR);
	CHECK_EQ(common_read(f, Q_ENABLE, 2), 0);
	CHECK_EQ(common_read(f, Q_NOFF, 2), 0);
	common_write(f, Q_SELECT, 1, 2);
	CHECK_EQ(common_read(f, Q_NOFF, 2), 1);

	/* Sizes: only powers of two, only down. */
	common_write(f, Q_SELECT, 0, 2);
	common_write(f, Q_SIZE, 8, 2);
	CHECK_EQ(common_read(f, Q_SIZE, 2), 8);
	common_write(f, Q_SIZE, 12, 2);
	CHECK_EQ(common_read(f, Q_SIZE, 2), 8);
	common_write(f, Q_SIZE, 32, 2);
	CHECK_EQ(common_read(f, Q_SIZE, 2), 8);
	common_write(f, Q_SIZE, 0, 2);
	CHECK_EQ(common_read(f, Q_SIZE, 2), 8);
	/* A vector the function lacks reads back as NO_VECTOR. */
	common_write(f, Q_MSIX, FAKE_QUEUES + 1, 2);
	CHECK_EQ(common_read(f, Q_MSIX, 2), NO_VECTOR);
	common_write(f, MSIX_CONFIG, 77, 2);
	CHECK_EQ(common_read(f, MSIX_CONFIG, 2), NO_VECTOR);
	common_write(f, MSIX_CONFIG, 0, 2);
	CHECK_EQ(common_read(f, MSIX_CONFIG, 2), 0);

	setup_queue(f, 0, 8, 1);
	setup_queue(f, 1, 16, 2);
	common_write(f, Q_SELECT, 0, 2);
	CHECK_EQ(common_read(f, Q_MSIX, 2), 1);
	CHECK_EQ(common_read(f, Q_DESC, 4), QUEUE_GPA(0));
	CHECK_EQ(common_read(f, Q_DESC + 4, 4), 0);
	CHECK_EQ(common_read(f, Q_DRIVER, 8), QUEUE_GPA(0) + 0x1000);
	/* A single 64-bit write works as well as two halves. */
	common_write(f, Q_DEVICE, QUEUE_GPA(0) + 0x2000, 8);
	CHECK_EQ(common_read(f, Q_DEVICE, 8), QUEUE_GPA(0) + 0x2000);
	CHECK_EQ(common_read(f, Q_ENABLE, 2), 1);
	CHECK(virtio_pci_queue(&f->t, 0) == NULL);   /* not before DRIVER_OK */

	set_status(f, VIRTIO_STATUS_DRIVER_OK);
	CHECK_EQ(atomic_load(&f->dev.activates), 1);
	CHECK(status_of(f) & VIRTIO_STATUS_DRIVER_OK);
	CHECK(!(status_of(f) & VIRTIO_STATUS_NEEDS_RESET));
	CHECK(virtio_pci_queue(&f->t, 0) != NULL);
	if (virtio_pci_queue(&f->t, 0)) {
		CHECK_EQ(virtio_pci_queue(&f->t, 0)->size, 8);
		CHECK(virtio_pci_queue(&f->t, 0)->event_idx);
		CHECK(!virtio_pci_queue(&f->t, 0)->indirect);
	}
	CHECK(virtio_pci_queue(&f->t, 1) != NULL);
	CHECK(virtio_pci_queue(&f->t, 2) == NULL);
	CHECK(virtio_pci_queue(&f->t, 1000) == NULL);

	/* Queue registers are frozen from DRIVER_OK on. */
	common_write(f, Q_SELECT, 0, 2);
	common_write(f, Q_SIZE, 4, 2);
	common_write(f, Q_MSIX, 0, 2);
	common_write(f, Q_DESC, 0x9000, 4);
	CHECK_EQ(common_read(f, Q_SIZE, 2), 8);
	CHECK_EQ(common_read(f, Q_MSIX, 2), 1);
	CHECK_EQ(common_read(f, Q_DESC, 4), QUEUE_GPA(0));
	/* Setting DRIVER_OK again does not activate twice. */
	set_status(f, VIRTIO_STATUS_DRIVER_OK);
	CHECK_EQ(atomic_load(&f->dev.activates), 1);
	fixture_free(f);
}

static void notify_signals_the_kick_eventfd(void)
{
	struct fixture *f = fixture_new();
	int kick0 = virtio_pci_kick_fd(&f->t, 0), kick1 = virtio_pci_kick_fd(&f->t, 1);

	CHECK(kick0 >= 0 && kick1 >= 0 && kick0 != kick1);
	CHECK_EQ(virtio_pci_kick_fd(&f->t, 2), -1);
	CHECK(negotiate(f, 1ull << F_VERSION_1));
	setup_queue(f, 0, 16, NO_VECTOR);
	setup_queue(f, 1, 16, NO_VECTOR);
	set_status(f, VIRTIO_STATUS_DRIVER_OK);

	/* The driver writes the queue index, 16 bits, at notify_off * multiplier. */
	common_write(f, Q_SELECT, 1, 2);
	mmio_write(f, f->notify + common_read(f, Q_NOFF, 2) * f->notify_mult, 1, 2);
	CHECK(fd_readable(kick1));
	CHECK(!fd_readable(kick0));
	drain(kick1);
	mmio_write(f, f->notify, 0, 2);
	CHECK(fd_readable(kick0));
	drain(kick0);
	/* Between two queues' addresses, past the last queue: nothing. */
	mmio_write(f, f->notify + 2, 0, 2);
	mmio_write(f, f->notify + f->notify_mult * FAKE_QUEUES, 0, 2);
	mmio_write(f, f->notify + 0xffc, 0, 4);
	CHECK(!fd_readable(kick0) && !fd_readable(kick1));
	/* Reads of the notify region have no effect. */
	CHECK_EQ(mmio_read(f, f->notify, 2), 0);
	CHECK(!fd_readable(kick0));
	fixture_free(f);
}

static void msix_queue_and_config_interrupts(void)
{
	struct fixture *f = fixture_new();
	int vec1, vec0;

	CHECK(negotiate(f, 1ull << F_VERSION_1));
	enable_msix(f, FAKE_QUEUES + 1);
	common_write(f, MSIX_CONFIG, 0, 2);
	setup_queue(f, 0, 16, 1);
	setup_queue(f, 1, 16, NO_VECTOR);
	set_status(f, VIRTIO_STATUS_DRIVER_OK);
	vec0 = router_fd_for(f, 0x40);
	vec1 = router_fd_for(f, 0x41);
	CHECK(vec0 >= 0 && vec1 >= 0);
	if (vec0 < 0 || vec1 < 0)
		goto out;
	drain(vec0);
	drain(vec1);

	device_uses_one(f, 0);
	virtio_pci_notify_queue(&f->t, 0);
	CHECK(fd_readable(vec1));
	CHECK(!fd_readable(vec0));
	CHECK_EQ(atomic_load(&f->irq.rises), 0);
	CHECK_EQ(mmio_read(f, f->isr, 1), 0);
	drain(vec1);
	/* A queue without a vector interrupts nobody. */
	device_uses_one(f, 1);
	virtio_pci_notify_queue(&f->t, 1);
	CHECK(!fd_readable(vec0) && !fd_readable(vec1));
	CHECK_EQ(atomic_load(&f->irq.rises), 0);
	/* The config vector; the ISR's config bit is set all the same. */
	virtio_pci_config_changed(&f->t);
	CHECK(fd_readable(vec0));
	CHECK_EQ(common_read(f, CFG_GENERATION, 1), 1);
	CHECK_EQ(mmio_read(f, f->isr, 1), 2);
	CHECK_EQ(atomic_load(&f->irq.rises), 0);
	/* Out-of-range queue numbers are ignored. */
	virtio_pci_notify_queue(&f->t, FAKE_QUEUES);
	virtio_pci_notify_queue(&f->t, 9999);
out:
	fixture_free(f);
}

static void intx_interrupt_and_isr(void)
{
	struct fixture *f = fixture_new();

	CHECK(negotiate(f, 1ull << F_VERSION_1));
	setup_queue(f, 0, 16, NO_VECTOR);
	set_status(f, VIRTIO_STATUS_DRIVER_OK);
	CHECK(!atomic_load(&f->irq.level));

	device_uses_one(f, 0);
	virtio_pci_notify_queue(&f->t, 0);
	CHECK(atomic_load(&f->irq.level));
	CHECK(cfg_read(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* Reading the ISR acknowledges: it returns the cause once and lowers the line. */
	CHECK_EQ(mmio_read(f, f->isr, 1), 1);
	CHECK(!atomic_load(&f->irq.level));
	CHECK_EQ(mmio_read(f, f->isr, 1), 0);
	/* Writes to the ISR do nothing. */
	device_uses_one(f, 0);
	virtio_pci_notify_queue(&f->t, 0);
	mmio_write(f, f->isr, 0, 1);
	CHECK(atomic_load(&f->irq.level));
	/* A config change adds bit 1. */
	virtio_pci_config_changed(&f->t);
	CHECK_EQ(mmio_read(f, f->isr, 1), 3);
	CHECK(!atomic_load(&f->irq.level));
	/* The INTx disable bit keeps the line low. */
	cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE, 2);
	device_uses_one(f, 0);
	virtio_pci_notify_queue(&f->t, 0);
	CHECK(!atomic_load(&f->irq.level));
	CHECK_EQ(mmio_read(f, f->isr, 1), 1);
	fixture_free(f);
}

static void broken_ring_needs_reset(void)
{
	struct fixture *f = fixture_new();

	CHECK(negotiate(f, 1ull << F_VERSION_1));
	setup_queue(f, 0, 16, NO_VECTOR);
	/* The used ring outside guest RAM. */
	common_write(f, Q_SELECT, 0, 2);
	common_write(f, Q_DEVICE, 0x7ffffff0ull, 8);
	set_status(f, VIRTIO_STATUS_DRIVER_OK);
	CHECK_EQ(atomic_load(&f->dev.activates), 0);
	CHECK(status_of(f) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(atomic_load(&f->irq.level));
	CHECK_EQ(mmio_read(f, f->isr, 1), 2);
	CHECK(virtio_pci_queue(&f->t, 0) == NULL);
	/* Further failures are quiet: no new interrupt. */
	virtio_pci_fail(&f->t, "again");
	CHECK(!atomic_load(&f->irq.level));

	/* After a reset the device works again. */
	CHECK(negotiate(f, 1ull << F_VERSION_1));
	CHECK(!(status_of(f) & VIRTIO_STATUS_NEEDS_RESET));
	setup_queue(f, 0, 16, NO_VECTOR);
	set_status(f, VIRTIO_STATUS_DRIVER_OK);
	CHECK_EQ(atomic_load(&f->dev.activates), 1);
	CHECK(!(status_of(f) & VIRTIO_STATUS_NEEDS_RESET));

	/* A misaligned descriptor table is refused as well. */
	CHECK(negotiate(f, 1ull << F_VERSION_1));
	setup_queue(f, 0, 16, NO_VECTOR);
	common_write(f, Q_SELECT, 0, 2);
	common_write(f, Q_DESC, QUEUE_GPA(0) + 8, 8);
	set_status(f, VIRTIO_STATUS_DRIVER_OK);
	CHECK(status_of(f) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(atomic_load(&f->dev.activates), 1);

	/* A device that fails to start needs a reset too. */
	f->dev.activate_result = -1;
	CHECK(negotiate(f, 1ull << F_VERSION_1));
	setup_queue(f, 0, 16, NO_VECTOR);
	set_status(f, VIRTIO_STATUS_DRIVER_OK);
	CHECK(status_of(f) & VIRTIO_STATUS_NEEDS_RESET);
	fixture_free(f);
}

struct log_count {
	int warnings;
	char last[256];
};

static void count_warnings(void *ctx, enum log_level level, const char *line)
{
	struct log_count *c = ctx;

	if (level != LOG_WARN)
		return;
	c->warnings++;
	snprintf(c->last, sizeof(c->last), "%s", line);
}

/* A guest that resets the device and breaks its ring again, in a loop,
 * must not get one host log line per loop: the failure is logged once,
 * and what the limiter held back is told when the device goes away. */
static void broken_ring_loop_is_rate_limited(void)
{
	struct fixture *f = fixture_new();
	struct log_count logged = { 0 };

	log_set_sink(count_warnings, &logged);
	for (int i = 0; i < 1000; i++) {
		CHECK(negotiate(f, 1ull << F_VERSION_1));
		setup_queue(f, 0, 16, NO_VECTOR);
		common_write(f, Q_SELECT, 0, 2);
		common_write(f, Q_DEVICE, 0x7ffffff0ull, 8);
		set_status(f, VIRTIO_STATUS_DRIVER_OK);
		if (!(status_of(f) & VIRTIO_STATUS_NEEDS_RESET)) {
			CHECK(status_of(f) & VIRTIO_STATUS_NEEDS_RESET);
			break;
		}
	}
	CHECK_EQ(logged.warnings, 1);
	CHECK(strstr(logged.last, "fake-virtio: queue 0:") == logged.last);
	fixture_free(f);
	CHECK_EQ(logged.warnings, 2);
	CHECK(strstr(logged.last, "999") != NULL);
	log_set_sink(NULL, NULL);
}

static void reset_clears_state(void)
{
	struct fixture *f = fixture_new();
	int resets;

	CHECK(negotiate(f, 1ull << F_VERSION_1 | 1ull << F_INDIRECT));
	common_write(f, MSIX_CONFIG, 0, 2);
	setup_queue(f, 0, 8, 1);
	setup_queue(f, 1, 4, 2);
	set_status(f, VIRTIO_STATUS_DRIVER_OK);
	device_uses_one(f, 0);
	virtio_pci_notify_queue(&f->t, 0);
	CHECK(atomic_load(&f->irq.level));
	mmio_write(f, f->notify, 0, 2);

	resets = atomic_load(&f->dev.resets);
	common_write(f, STATUS, 0, 1);
	CHECK_EQ(atomic_load(&f->dev.resets), resets + 1);
	CHECK_EQ(status_of(f), 0);
	CHECK(!atomic_load(&f->irq.level));
	CHECK_EQ(mmio_read(f, f->isr, 1), 0);
	CHECK_EQ(common_read(f, MSIX_CONFIG, 2), NO_VECTOR);
	CHECK_EQ(common_read(f, Q_SELECT, 2), 0);
	common_write(f, GFSELECT, 0, 4);
	CHECK_EQ(common_read(f, GF, 4), 0);
	common_write(f, GFSELECT, 1, 4);
	CHECK_EQ(common_read(f, GF, 4), 0);
	CHECK(!virtio_pci_has_feature(&f->t, F_VERSION_1));
	for (unsigned q = 0; q < FAKE_QUEUES; q++) {
		common_write(f, Q_SELECT, q, 2);
		CHECK_EQ(common_read(f, Q_SIZE, 2), FAKE_QSIZE);
		CHECK_EQ(common_read(f, Q_MSIX, 2), NO_VECTOR);
		CHECK_EQ(common_read(f, Q_ENABLE, 2), 0);
		CHECK_EQ(common_read(f, Q_DESC, 8), 0);
		CHECK_EQ(common_read(f, Q_DRIVER, 8), 0);
		CHECK_EQ(common_read(f, Q_DEVICE, 8), 0);
		CHECK(virtio_pci_queue(&f->t, q) == NULL);
	}
	/* A kick from before the reset is forgotten. */
	CHECK(!fd_readable(virtio_pci_kick_fd(&f->t, 0)));
	/* Reset again, from reset: harmless. */
	common_write(f, STATUS, 0, 1);
	CHECK_EQ(status_of(f), 0);
	fixture_free(f);
}

static void device_config_forwarding(void)
{
	struct fixture *f = fixture_new();

	memcpy(f->dev.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	CHECK_EQ(mmio_read(f, f->device, 4), 0x04030201);
	CHECK_EQ(mmio_read(f, f->device + 6, 2), 0x0807);
	CHECK_EQ(mmio_read(f, f->device, 8), 0x0807060504030201ull);
	mmio_write(f, f->device + 4, 0xaabb, 2);
	CHECK_EQ(f->dev.config[4], 0xbb);
	CHECK_EQ(f->dev.config[5], 0xaa);
	CHECK_EQ(f->dev.config_writes, 1);
	/* Past the end: reads zero, writes go nowhere. */
	CHECK_EQ(mmio_read(f, f->device + 6, 4), 0);
	CHECK_EQ(mmio_read(f, f->device + 8, 1), 0);
	CHECK_EQ(mmio_read(f, f->device + 0xff8, 8), 0);
	mmio_write(f, f->device + 7, 0xffff, 2);
	mmio_write(f, f->device + 0x100, 0xff, 1);
	CHECK_EQ(f->dev.config_writes, 1);
	CHECK_EQ(f->dev.config[7], 0x08);
	/* The generation moves when the device says its config changed. */
	CHECK_EQ(common_read(f, CFG_GENERATION, 1), 0);
	virtio_pci_config_changed(&f->t);
	virtio_pci_config_changed(&f->t);
	CHECK_EQ(common_read(f, CFG_GENERATION, 1), 2);
	fixture_free(f);
}

static void hostile_register_accesses(void)
{
	struct fixture *f = fixture_new();
	static const unsigned lens[] = { 1, 2, 3, 4, 8 };

	/* Every size at every offset of the common config, ISR and the gaps
	 * in between: reads must not crash, and must not change anything. */
	for (unsigned off = 0; off < 0x48; off++)
		for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
			(void)mmio_read(f, f->common + off, lens[i]);
	CHECK_EQ(status_of(f), 0);
	/* Wrong widths are ignored: a byte of device_feature, a dword at status. */
	common_write(f, DFSELECT, 1, 4);
	CHECK_EQ(common_read(f, DF, 1), 0);
	CHECK_EQ(common_read(f, DF, 2), 0);
	common_write(f, STATUS, 0xff, 4);
	common_write(f, STATUS - 1, 0xffff, 2);
	CHECK_EQ(status_of(f), 0);
	common_write(f, Q_SELECT, 1, 1);
	common_write(f, Q_SELECT, 1, 4);
	CHECK_EQ(common_read(f, Q_SELECT, 2), 0);
	/* Read-only fields stay put. */
	common_write(f, NUM_QUEUES, 9, 2);
	common_write(f, DF, 0, 4);
	common_write(f, CFG_GENERATION, 9, 1);
	CHECK_EQ(common_read(f, NUM_QUEUES, 2), FAKE_QUEUES);
	CHECK_EQ(common_read(f, CFG_GENERATION, 1), 0);
	/* Queue select out of range: the queue does not exist. */
	common_write(f, Q_SELECT, FAKE_QUEUES, 2);
	CHECK_EQ(common_read(f, Q_SIZE, 2), 0);
	CHECK_EQ(common_read(f, Q_MSIX, 2), NO_VECTOR);
	CHECK_EQ(common_read(f, Q_ENABLE, 2), 0);
	common_write(f, Q_SIZE, 4, 2);
	common_write(f, Q_ENABLE, 1, 2);
	common_write(f, Q_DESC, 0x1000, 8);
	CHECK_EQ(common_read(f, Q_DESC, 8), 0);
	common_write(f, Q_SELECT, 0xffff, 2);
	CHECK_EQ(common_read(f, Q_SIZE, 2), 0);
	common_write(f, Q_ENABLE, 1, 2);
	/* Misaligned halves of the queue addresses. */
	common_write(f, Q_SELECT, 0, 2);
	common_write(f, Q_DESC + 2, 0xffffffff, 4);
	common_write(f, Q_DESC + 4, 0x12345678, 8);
	CHECK_EQ(common_read(f, Q_DESC, 8), 0);
	/* queue_enable takes only 1. */
	common_write(f, Q_ENABLE, 2, 2);
	CHECK_EQ(common_read(f, Q_ENABLE, 2), 0);
	/* The driver cannot set NEEDS_RESET or the reserved bits. */
	common_write(f, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_NEEDS_RESET | 0x30, 1);
	CHECK_EQ(status_of(f), VIRTIO_STATUS_ACKNOWLEDGE);
	/* DRIVER_OK without FEATURES_OK does not stick or activate. */
	set_status(f, VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
	CHECK(!(status_of(f) & VIRTIO_STATUS_DRIVER_OK));
	CHECK_EQ(atomic_load(&f->dev.activates), 0);
	/* Feature selectors past the two windows. */
	common_write(f, GFSELECT, 5, 4);
	common_write(f, GF, 0xffffffff, 4);
	CHECK_EQ(common_read(f, GF, 4), 0);
	CHECK(negotiate(f, 1ull << F_VERSION_1));
	/* Accesses that cross or leave the BAR's structures. */
	(void)mmio_read(f, 0xffe, 4);
	(void)mmio_read(f, 0x7ffc, 8);
	(void)mmio_read(f, 0x7fff, 1);
	(void)mmio_read(f, 0x6000, 8);
	mmio_write(f, 0x0ffc, ~0ull, 8);
	mmio_write(f, 0x6000, ~0ull, 8);
	mmio_write(f, 0x7ff8, ~0ull, 8);
	CHECK_EQ(mmio_read(f, f->isr + 1, 1), 0);
	CHECK_EQ(mmio_read(f, f->isr + 0x800, 4), 0);
	/* MSI-X table and PBA with odd sizes. */
	(void)mmio_read(f, 0x4001, 1);
	mmio_write(f, 0x4002, 0xffff, 2);
	(void)mmio_read(f, 0x5000, 2);
	(void)mmio_read(f, 0x4ff8, 8);
	CHECK(status_of(f) & VIRTIO_STATUS_FEATURES_OK);
	fixture_free(f);
}

/* A device thread interrupting and failing at full speed while the
 * driver resets and restarts the device: transitions must neither
 * deadlock with it nor lose the device. */
static void transitions_race_device_threads(void)
{
	struct fixture *f = fixture_new();

	f->dev.spawn_thread = true;
	for (int round = 0; round < 20; round++) {
		CHECK(negotiate(f, 1ull << F_VERSION_1));
		setup_queue(f, 0, 16, NO_VECTOR);
		set_status(f, VIRTIO_STATUS_DRIVER_OK);
		/* Let the thread get going before the next reset stops it. */
		for (int loops = atomic_load(&f->dev.thread_loops);
		     atomic_load(&f->dev.thread_loops) < loops + 20; ) {
			(void)mmio_read(f, f->isr, 1);
			(void)common_read(f, STATUS, 1);
		}
		CHECK(status_of(f) & VIRTIO_STATUS_NEEDS_RESET);
	}
	common_write(f, STATUS, 0, 1);
	CHECK_EQ(atomic_load(&f->dev.activates), 20);
	CHECK(!f->dev.thread_running);
	CHECK_EQ(status_of(f), 0);
	fixture_free(f);
}

/* Whether KVM already has an ioeventfd at addr: registering a second
 * one there collides. */
static bool ioeventfd_at(int vm_fd, uint64_t addr)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	struct kvm_ioeventfd ioe = { .addr = addr, .len = 2, .fd = fd };
	bool taken;

	if (ioctl(vm_fd, KVM_IOEVENTFD, &ioe) == 0) {
		ioe.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
		CHECK_EQ(ioctl(vm_fd, KVM_IOEVENTFD, &ioe), 0);
		taken = false;
	} else {
		CHECK_EQ(errno, EEXIST);
		taken = true;
	}
	close(fd);
	return taken;
}

static void ioeventfds_follow_the_bar(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;
	struct fixture *f;
	uint64_t old_bar, new_bar;

	if (kvm < 0)
		SKIP_TEST("no /dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		close(kvm);
		SKIP_TEST("KVM_CREATE_VM failed");
	}
	f = fixture_new_on(vm);
	old_bar = f->bar;
	/* Registered where the firmware placed the BAR, one per queue. */
	for (unsigned q = 0; q < FAKE_QUEUES; q++)
		CHECK(ioeventfd_at(vm, old_bar + f->notify + q * f->notify_mult));
	CHECK(!ioeventfd_at(vm, old_bar + f->notify + FAKE_QUEUES * f->notify_mult));

	/* The guest moves the BAR: they follow. */
	new_bar = old_bar + 0x100000;
	cfg_write(f, PCI_COMMAND, 0, 2);
	for (unsigned q = 0; q < FAKE_QUEUES; q++)
		CHECK(!ioeventfd_at(vm, old_bar + f->notify + q * f->notify_mult));
	cfg_write(f, PCI_BAR0, (uint32_t)new_bar | 0x4, 4);
	cfg_write(f, PCI_BAR0 + 4, (uint32_t)(new_bar >> 32), 4);
	cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	f->bar = new_bar;
	for (unsigned q = 0; q < FAKE_QUEUES; q++) {
		CHECK(ioeventfd_at(vm, new_bar + f->notify + q * f->notify_mult));
		CHECK(!ioeventfd_at(vm, old_bar + f->notify + q * f->notify_mult));
	}
	/* The transport still works at the new place. */
	CHECK(negotiate(f, 1ull << F_VERSION_1));

	/* Destroying the transport removes them. */
	virtio_pci_destroy(&f->t);
	for (unsigned q = 0; q < FAKE_QUEUES; q++)
		CHECK(!ioeventfd_at(vm, new_bar + f->notify + q * f->notify_mult));
	fixture_free(f);
	close(vm);
	close(kvm);
}

/* ---- shared memory ---- */

#define SHM_SIZE     (1ull << 32)   /* beyond 32 bits: the _hi fields count */
#define SHM_BAR_REG  (PCI_BAR0 + 4 * 2)
#define PAGE         4096ull

static uint64_t shm_bar_addr(struct fixture *f)
{
	return (cfg_read(f, SHM_BAR_REG, 4) & ~0xfull) |
	       (uint64_t)cfg_read(f, SHM_BAR_REG + 4, 4) << 32;
}

/* The region is a struct virtio_pci_cap64 naming BAR 2, a 64-bit
 * prefetchable BAR of the region's size; a device without one has
 * neither. A second region is refused. */
static void shared_memory_capability(void)
{
	struct fake_mapper m;
	struct host_page_mapper ops;
	struct pci_bar_window w;
	struct fixture *f;

	f = fixture_new();
	CHECK(!f->shm_found);
	CHECK_EQ(cfg_read(f, SHM_BAR_REG, 4), 0);
	fixture_free(f);

	fake_mapper_init(&m);
	ops = fake_mapper_ops(&m);
	CHECK_EQ(pci_bar_window_init(&w, SHM_SIZE, &ops), 0);
	f = fixture_new_with(-1, &w);
	CHECK(f->shm_found);
	CHECK_EQ(f->shm_cap_len, 24);
	CHECK_EQ(f->shm_bar, 2);
	CHECK_EQ(f->shm_id, 1);
	CHECK_EQ(f->shm_offset, 0);
	CHECK_EQ(f->shm_length, SHM_SIZE);
	/* Memory, 64-bit, prefetchable; placed in the 64-bit window, aligned. */
	CHECK_EQ(cfg_read(f, SHM_BAR_REG, 4) & 0xf, 0xc);
	CHECK(shm_bar_addr(f) >= 0x8000000000ull && shm_bar_addr(f) % SHM_SIZE == 0);
	/* Sizing reads back the size. */
	cfg_write(f, PCI_COMMAND, 0, 2);
	cfg_write(f, SHM_BAR_REG, 0xffffffff, 4);
	cfg_write(f, SHM_BAR_REG + 4, 0xffffffff, 4);
	CHECK_EQ(cfg_read(f, SHM_BAR_REG, 4), 0xc);
	CHECK_EQ(cfg_read(f, SHM_BAR_REG + 4, 4), (uint32_t)~((SHM_SIZE >> 32) - 1));
	CHECK_EQ(virtio_pci_add_shm(&f->t, 2, &w), -EBUSY);
	fixture_free(f);
	pci_bar_window_destroy(&w);
	fake_mapper_destroy(&m);
}

/* Host pages follow the BAR as the guest moves it and switches memory
 * decoding off and on; where nothing is mapped, the BAR reads zeros. */
static void shared_memory_follows_the_bar(void)
{
	struct fake_mapper m;
	struct host_page_mapper ops;
	struct pci_bar_window w;
	struct fixture *f;
	uint64_t bar, moved = 0x9000000000ull;
	uint8_t *pages, data[8];

	if (posix_memalign((void **)&pages, PAGE, 2 * PAGE))
		abort();
	fake_mapper_init(&m);
	ops = fake_mapper_ops(&m);
	CHECK_EQ(pci_bar_window_init(&w, SHM_SIZE, &ops), 0);
	f = fixture_new_with(-1, &w);
	bar = shm_bar_addr(f);
	CHECK_EQ(pci_bar_window_map(&w, 3 * PAGE, pages, 2 * PAGE), 0);
	CHECK(fake_mapper_has(&m, bar + 3 * PAGE, pages, 2 * PAGE));
	memset(data, 0xaa, sizeof(data));
	CHECK(bus_dispatch(&f->mmio, bar + 16 * PAGE, data, 8, false));
	CHECK_EQ(data[0] | data[7], 0);

	cfg_write(f, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
	CHECK_EQ(fake_mapper_count(&m), 0);
	cfg_write(f, SHM_BAR_REG, (uint32_t)moved | 0xc, 4);
	cfg_write(f, SHM_BAR_REG + 4, (uint32_t)(moved >> 32), 4);
	CHECK_EQ(fake_mapper_count(&m), 0);
	cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	CHECK_EQ(fake_mapper_count(&m), 1);
	CHECK(fake_mapper_has(&m, moved + 3 * PAGE, pages, 2 * PAGE));

	/* Outside every window (over RAM, at 0): not decoded, not mapped. */
	cfg_write(f, SHM_BAR_REG + 4, 0, 4);
	cfg_write(f, SHM_BAR_REG, 0xc, 4);
	CHECK_EQ(fake_mapper_count(&m), 0);
	cfg_write(f, SHM_BAR_REG + 4, (uint32_t)(bar >> 32), 4);
	cfg_write(f, SHM_BAR_REG, (uint32_t)bar | 0xc, 4);
	CHECK(fake_mapper_has(&m, bar + 3 * PAGE, pages, 2 * PAGE));
	CHECK(pci_bar_window_unmap(&w, 3 * PAGE, 2 * PAGE));
	CHECK_EQ(fake_mapper_count(&m), 0);
	fixture_free(f);
	pci_bar_window_destroy(&w);
	fake_mapper_destroy(&m);
	free(pages);
}

TEST_MAIN("virtio_pci",
	  TEST_CASE(identity_bar_and_capabilities),
	  TEST_CASE(feature_negotiation),
	  TEST_CASE(queue_setup_and_activation),
	  TEST_CASE(notify_signals_the_kick_eventfd),
	  TEST_CASE(msix_queue_and_config_interrupts),
	  TEST_CASE(intx_interrupt_and_isr),
	  TEST_CASE(broken_ring_needs_reset),
	  TEST_CASE(broken_ring_loop_is_rate_limited),
	  TEST_CASE(reset_clears_state),
	  TEST_CASE(device_config_forwarding),
	  TEST_CASE(hostile_register_accesses),
	  TEST_CASE(transitions_race_device_threads),
	  TEST_CASE(ioeventfds_follow_the_bar),
	  TEST_CASE(shared_memory_capability),
	  TEST_CASE(shared_memory_follows_the_bar))
