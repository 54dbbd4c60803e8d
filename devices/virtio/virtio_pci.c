#include "virtio_pci.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "../../vmm/log.h"

#define VIRTIO_PCI_VENDOR         0x1af4
#define VIRTIO_PCI_DEVICE_BASE    0x1040   /* + the virtio device id */
#define VIRTIO_PCI_REVISION       1        /* a modern-only device */
#define VIRTIO_PCI_SUBSYSTEM_ID   0x1100

/* BAR 0: one 4 KiB page per structure, so each can be mapped or trapped
 * on its own, and the MSI-X table and PBA on pages of their own too. */
#define VIRTIO_PCI_BAR            0
#define VIRTIO_PCI_BAR_SIZE       0x8000
#define VIRTIO_PCI_REGION_SIZE    0x1000
#define VIRTIO_PCI_COMMON_AT      0x0000
#define VIRTIO_PCI_ISR_AT         0x1000
#define VIRTIO_PCI_DEVICE_AT      0x2000
#define VIRTIO_PCI_NOTIFY_AT      0x3000
#define VIRTIO_PCI_MSIX_TABLE_AT  0x4000
#define VIRTIO_PCI_MSIX_PBA_AT    0x5000
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4
/* At most one "needs a reset" line per device per this long. */
#define FAILURE_LOG_INTERVAL_S    60

/* Vendor capability types (virtio 1.2, 4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_SHARED_MEMORY_CFG 8
/* struct virtio_pci_cap after its id and next bytes: cap_len, cfg_type,
 * bar, id, two bytes of padding, then le32 offset and le32 length. */
#define VIRTIO_CAP_BODY_LEN       14
#define VIRTIO_NOTIFY_CAP_BODY_LEN (VIRTIO_CAP_BODY_LEN + 4)
/* struct virtio_pci_cap64: the same, then le32 offset_hi and length_hi. */
#define VIRTIO_CAP64_BODY_LEN     (VIRTIO_CAP_BODY_LEN + 8)

/* The common configuration structure (virtio 1.2, 4.1.4.3). */
#define COMMON_DFSELECT       0x00
#define COMMON_DF             0x04
#define COMMON_GFSELECT       0x08
#define COMMON_GF             0x0c
#define COMMON_MSIX_CONFIG    0x10
#define COMMON_NUM_QUEUES     0x12
#define COMMON_STATUS         0x14
#define COMMON_CFG_GENERATION 0x15
#define COMMON_Q_SELECT       0x16
#define COMMON_Q_SIZE         0x18
#define COMMON_Q_MSIX         0x1a
#define COMMON_Q_ENABLE       0x1c
#define COMMON_Q_NOFF         0x1e
#define COMMON_Q_DESC         0x20
#define COMMON_Q_DRIVER       0x28
#define COMMON_Q_DEVICE       0x30
#define COMMON_Q_NOTIFY_DATA  0x38   /* only with NOTIF_CONFIG_DATA: reads 0 */
#define COMMON_Q_RESET        0x3a   /* only with RING_RESET: reads 0 */
#define COMMON_CFG_LEN        0x3c

#define ISR_QUEUE             0x1
#define ISR_CONFIG            0x2

/* What a driver's status write may set; NEEDS_RESET is the device's. */
#define STATUS_DRIVER_BITS (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
			    VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK | \
			    VIRTIO_STATUS_FAILED)
/* A bit the spec leaves reserved in device_status, kept in t->status
 * while a reset or an activation runs the device's ops with t->lock
 * dropped; the guest never sees it. The ops may wait for device threads,
 * which take t->lock to interrupt, so the lock cannot be held across them;
 * this bit keeps the guest's other register accesses out meanwhile. */
#define STATUS_IN_TRANSITION 0x20

#define TRANSITION_POLL_NS 50000

static uint64_t transport_features(void)
{
	return 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX |
	       1ull << VIRTIO_RING_F_INDIRECT_DESC;
}

static struct virtio_pci *transport_of(struct pci_device *dev)
{
	return (struct virtio_pci *)((char *)dev - offsetof(struct virtio_pci, pci));
}

static uint64_t get_le(const uint8_t *data, uint32_t len)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < len && i < 8; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static void put_le(uint8_t *data, uint32_t len, uint64_t v)
{
	for (uint32_t i = 0; i < len && i < 8; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le(p, 4, v);
}

static unsigned nr_msix_vectors(const struct virtio_device_ops *ops)
{
	return ops->nr_queues + 1;
}

/* ---- interrupts (t->lock held) ---- */

static void interrupt_locked(struct virtio_pci *t, uint8_t isr_bit, uint16_t vector)
{
	/* The config bit is kept under MSI-X too (4.1.4.5.1); the queue bit
	 * and INTx only serve a driver without it. */
	if (isr_bit == ISR_CONFIG)
		t->isr |= ISR_CONFIG;
	if (pci_msix_enabled(&t->msix)) {
		if (vector != PCI_MSIX_NO_VECTOR)
			pci_msix_notify(&t->msix, vector);
		return;
	}
	t->isr |= isr_bit;
	pci_device_set_intx(&t->pci, true);
}

static void config_interrupt_locked(struct virtio_pci *t)
{
	interrupt_locked(t, ISR_CONFIG, t->msix_config_vector);
}

/* A guest can break a ring, reset the device and break it again, in a
 * loop, as fast as it likes. So the log is limited over the device's
 * lifetime, never per reset (that gave the guest one host log line per
 * loop): the first failure is logged, then at most one line a minute,
 * counting what it did not show. Failing again before the reset is the
 * same breakage, and counts for nothing. */
static void fail_locked(struct virtio_pci *t, const char *why)
{
	uint64_t unlogged;

	if (t->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	if (log_limit_allow(&t->failure_log, log_limit_now_ns(), &unlogged)) {
		if (unlogged)
			log_warn("%s: %s; the device needs a reset (%" PRIu64 " more failures "
				 "since the last report)", t->ops->name, why, unlogged);
		else
			log_warn("%s: %s; the device needs a reset", t->ops->name, why);
	}
	t->status |= VIRTIO_STATUS_NEEDS_RESET;
	config_interrupt_locked(t);
}

/* ---- reset ---- */

static void drain_eventfd(int fd)
{
	uint64_t count;

	if (fd >= 0 && read(fd, &count, sizeof(count)) < 0) {
		/* EAGAIN: nothing was pending. */
	}
}

/* Everything the driver set goes back to its reset value. live: the
 * function is on a bus, so the INTx line may need lowering. */
static void reset_registers_locked(struct virtio_pci *t, bool live)
{
	for (unsigned q = 0; q < VIRTIO_PCI_MAX_QUEUES; q++) {
		struct virtio_pci_queue *vq = &t->queues[q];

		virtq_reset(&vq->vq);
		vq->size = q < t->ops->nr_queues ? t->ops->queue_size : 0;
		vq->msix_vector = PCI_MSIX_NO_VECTOR;
		vq->enabled = false;
		vq->desc_gpa = vq->driver_gpa = vq->device_gpa = 0;
		/* A kick from before the reset must not look like a new one. */
		drain_eventfd(vq->kick_fd);
	}
	t->driver_features = 0;
	t->device_feature_select = 0;
	t->driver_feature_select = 0;
	t->msix_config_vector = PCI_MSIX_NO_VECTOR;
	t->queue_select = 0;
	t->isr = 0;
	if (live)
		pci_device_set_intx(&t->pci, false);
	t->status = 0;
}

/* Called with t->lock held; returns with it held. Every other transition
 * and register access waits until this one is done. */
static void reset_locked(struct virtio_pci *t)
{
	t->status |= STATUS_IN_TRANSITION;
	pthread_mutex_unlock(&t->lock);
	t->ops->reset(t->dev);
	pthread_mutex_lock(&t->lock);
	reset_registers_locked(t, true);
}

/* ---- status ---- */

static bool features_acceptable(const struct virtio_pci *t)
{
	return !(t->driver_features & ~t->device_features) &&
	       (t->driver_features & 1ull << VIRTIO_F_VERSION_1);
}

/* Validates every enabled queue against guest RAM. Returns 0, or -1 with
 * the device failed. */
static int setup_queues_locked(struct virtio_pci *t)
{
	bool event_idx = t->driver_features & 1ull << VIRTIO_RING_F_EVENT_IDX;
	bool indirect = t->driver_features & 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	char why[160], msg[200];

	for (unsigned q = 0; q < t->ops->nr_queues; q++) {
		struct virtio_pci_queue *vq = &t->queues[q];

		if (!vq->enabled)
			continue;
		why[0] = 0;
		if (virtq_init(&vq->vq, t->env.mem, vq->size, vq->desc_gpa, vq->driver_gpa,
			       vq->device_gpa, event_idx, indirect, why, sizeof(why)) < 0) {
			snprintf(msg, sizeof(msg), "queue %u: %s", q, why);
			fail_locked(t, msg);
			return -1;
		}
	}
	return 0;
}

static void activate_locked(struct virtio_pci *t)
{
	int ret;

	if (setup_queues_locked(t) < 0)
		return;
	t->status |= STATUS_IN_TRANSITION;
	pthread_mutex_unlock(&t->lock);
	ret = t->ops->activate ? t->ops->activate(t->dev, t) : 0;
	pthread_mutex_lock(&t->lock);
	t->status &= (uint8_t)~STATUS_IN_TRANSITION;
	if (ret < 0)
		fail_locked(t, "the device could not start");
}

static void write_status_locked(struct virtio_pci *t, uint8_t value)
{
	uint8_t old = t->status, set;

	if (value == 0) {
		reset_locked(t);
		return;
	}
	/* Bits stay set until a reset; only new ones mean anything. */
	set = value & STATUS_DRIVER_BITS & (uint8_t)~old;
	if ((set & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(t)) {
		log_debug("%s: driver features 0x%" PRIx64 " refused", t->ops->name,
			  t->driver_features);
		set &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((set & VIRTIO_STATUS_DRIVER_OK) &&
	    (!((old | set) & VIRTIO_STATUS_FEATURES_OK) ||
	     (old & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)))) {
		log_debug("%s: DRIVER_OK before FEATURES_OK or after a failure, ignored",
			  t->ops->name);
		set &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	}
	t->status = old | set;
	if (set & VIRTIO_STATUS_DRIVER_OK)
		activate_locked(t);
}

/* ---- common configuration ---- */

static struct virtio_pci_queue *selected_queue(struct virtio_pci *t)
{
	return t->queue_select < t->ops->nr_queues ? &t->queues[t->queue_select] : NULL;
}

/* The natural width of the field at offset, or 0 when none starts there.
 * The 64-bit queue addresses may also be accessed as two dwords. */
static unsigned common_field_width(uint64_t offset)
{
	switch (offset) {
	case COMMON_DFSELECT: case COMMON_DF: case COMMON_GFSELECT: case COMMON_GF:
		return 4;
	case COMMON_MSIX_CONFIG: case COMMON_NUM_QUEUES: case COMMON_Q_SELECT:
	case COMMON_Q_SIZE: case COMMON_Q_MSIX: case COMMON_Q_ENABLE: case COMMON_Q_NOFF:
	case COMMON_Q_NOTIFY_DATA: case COMMON_Q_RESET:
		return 2;
	case COMMON_STATUS: case COMMON_CFG_GENERATION:
		return 1;
	case COMMON_Q_DESC: case COMMON_Q_DRIVER: case COMMON_Q_DEVICE:
		return 8;
	}
	return 0;
}

static bool common_access_ok(uint64_t offset, uint32_t len)
{
	unsigned width = common_field_width(offset);

	if (width == len)
		return true;
	/* Either dword of a queue address. */
	if (len == 4 && offset >= COMMON_Q_DESC && offset < COMMON_Q_NOTIFY_DATA)
		return offset % 4 == 0;
	return false;
}

static uint64_t *queue_addr_field(struct virtio_pci_queue *vq, uint64_t offset)
{
	if (offset < COMMON_Q_DRIVER)
		return &vq->desc_gpa;
	if (offset < COMMON_Q_DEVICE)
		return &vq->driver_gpa;
	return &vq->device_gpa;
}

static uint64_t common_read_locked(struct virtio_pci *t, uint64_t offset, uint32_t len)
{
	struct virtio_pci_queue *vq = selected_queue(t);
	uint64_t addr;

	switch (offset) {
	case COMMON_DFSELECT:
		return t->device_feature_select;
	case COMMON_DF:
		return t->device_feature_select < 2 ?
		       (uint32_t)(t->device_features >> (32 * t->device_feature_select)) : 0;
	case COMMON_GFSELECT:
		return t->driver_feature_select;
	case COMMON_GF:
		return t->driver_feature_select < 2 ?
		       (uint32_t)(t->driver_features >> (32 * t->driver_feature_select)) : 0;
	case COMMON_MSIX_CONFIG:
		return t->msix_config_vector;
	case COMMON_NUM_QUEUES:
		return t->ops->nr_queues;
	case COMMON_STATUS:
		return t->status & (uint8_t)~STATUS_IN_TRANSITION;
	case COMMON_CFG_GENERATION:
		return t->config_generation;
	case COMMON_Q_SELECT:
		return t->queue_select;
	case COMMON_Q_SIZE:
		return vq ? vq->size : 0;     /* 0: no such queue */
	case COMMON_Q_MSIX:
		return vq ? vq->msix_vector : PCI_MSIX_NO_VECTOR;
	case COMMON_Q_ENABLE:
		return vq ? vq->enabled : 0;
	case COMMON_Q_NOFF:
		return vq ? t->queue_select : 0;
	case COMMON_Q_NOTIFY_DATA:
	case COMMON_Q_RESET:
		return 0;
	}
	if (!vq)
		return 0;
	addr = *queue_addr_field(vq, offset);
	if (len == 8)
		return addr;
	return offset % 8 ? addr >> 32 : (uint32_t)addr;
}

static uint16_t checked_vector(const struct virtio_pci *t, uint64_t value)
{
	return value < nr_msix_vectors(t->ops) ? (uint16_t)value : PCI_MSIX_NO_VECTOR;
}

static void write_queue_locked(struct virtio_pci *t, uint64_t offset, uint32_t len,
			       uint64_t value)
{
	struct virtio_pci_queue *vq = selected_queue(t);
	uint64_t *addr;

	if (!vq) {
		log_debug("%s: queue register write with queue %u selected, ignored",
			  t->ops->name, t->queue_select);
		return;
	}
	if (t->status & VIRTIO_STATUS_DRIVER_OK) {
		log_debug("%s: queue %u register 0x%" PRIx64 " written after DRIVER_OK, ignored",
			  t->ops->name, t->queue_select, offset);
		return;
	}
	switch (offset) {
	case COMMON_Q_SIZE:
		/* The driver may shrink a queue, to another power of two. */
		if (value && !(value & (value - 1)) && value <= t->ops->queue_size)
			vq->size = (uint16_t)value;
		else
			log_debug("%s: queue %u size %" PRIu64 " refused", t->ops->name,
				  t->queue_select, value);
		return;
	case COMMON_Q_MSIX:
		vq->msix_vector = checked_vector(t, value);
		return;
	case COMMON_Q_ENABLE:
		/* Only 1 means anything; a queue is disabled by a reset. */
		if (value == 1)
			vq->enabled = true;
		return;
	case COMMON_Q_NOFF:
	case COMMON_Q_NOTIFY_DATA:
	case COMMON_Q_RESET:
		return;
	}
	addr = queue_addr_field(vq, offset);
	if (len == 8)
		*addr = value;
	else if (offset % 8)
		*addr = (*addr & 0xffffffffull) | value << 32;
	else
		*addr = (*addr & ~0xffffffffull) | (uint32_t)value;
}

static void common_write_locked(struct virtio_pci *t, uint64_t offset, uint32_t len,
				uint64_t value)
{
	uint32_t half;

	switch (offset) {
	case COMMON_DFSELECT:
		t->device_feature_select = (uint32_t)value;
		return;
	case COMMON_GFSELECT:
		t->driver_feature_select = (uint32_t)value;
		return;
	case COMMON_GF:
		/* Final once FEATURES_OK stuck; other selectors name no bits. */
		if ((t->status & VIRTIO_STATUS_FEATURES_OK) || t->driver_feature_select >= 2)
			return;
		half = 32 * t->driver_feature_select;
		t->driver_features = (t->driver_features & ~(0xffffffffull << half)) |
				     (value & 0xffffffffull) << half;
		return;
	case COMMON_MSIX_CONFIG:
		t->msix_config_vector = checked_vector(t, value);
		return;
	case COMMON_STATUS:
		write_status_locked(t, (uint8_t)value);
		return;
	case COMMON_Q_SELECT:
		t->queue_select = (uint16_t)value;
		return;
	case COMMON_DF:
	case COMMON_NUM_QUEUES:
	case COMMON_CFG_GENERATION:
		return;   /* read-only */
	}
	write_queue_locked(t, offset, len, value);
}

/* The guest's accesses wait out a reset or an activation in progress: to
 * them it is one step, as on hardware. */
static void wait_transition_locked(struct virtio_pci *t)
{
	const struct timespec pause = { .tv_nsec = TRANSITION_POLL_NS };

	while (t->status & STATUS_IN_TRANSITION) {
		pthread_mutex_unlock(&t->lock);
		nanosleep(&pause, NULL);
		pthread_mutex_lock(&t->lock);
	}
}

static void common_access(struct virtio_pci *t, uint64_t offset, uint8_t *data,
			  uint32_t len, bool is_write)
{
	if (!common_access_ok(offset, len)) {
		log_debug("%s: %u-byte %s at common config 0x%" PRIx64 " ignored",
			  t->ops->name, len, is_write ? "write" : "read", offset);
		return;
	}
	pthread_mutex_lock(&t->lock);
	wait_transition_locked(t);
	if (is_write)
		common_write_locked(t, offset, len, get_le(data, len));
	else
		put_le(data, len, common_read_locked(t, offset, len));
	pthread_mutex_unlock(&t->lock);
}

/* ---- ISR, device config, notify ---- */

static void isr_access(struct virtio_pci *t, uint64_t offset, uint8_t *data, bool is_write)
{
	/* Reading the status byte acknowledges it and lowers INTx. */
	if (is_write || offset != 0)
		return;
	pthread_mutex_lock(&t->lock);
	data[0] = t->isr;
	if (t->isr) {
		t->isr = 0;
		pci_device_set_intx(&t->pci, false);
	}
	pthread_mutex_unlock(&t->lock);
}

/* Not under t->lock: a device's config ops may take its own locks, which
 * its threads hold while they interrupt through t->lock. */
static void device_config_access(struct virtio_pci *t, uint64_t offset, uint8_t *data,
				 uint32_t len, bool is_write)
{
	if (offset >= t->ops->config_size || len > t->ops->config_size - offset) {
		log_debug("%s: %u-byte %s at device config 0x%" PRIx64 " is out of bounds",
			  t->ops->name, len, is_write ? "write" : "read", offset);
		return;
	}
	if (is_write && t->ops->config_write)
		t->ops->config_write(t->dev, (uint32_t)offset, data, len);
	else if (!is_write && t->ops->config_read)
		t->ops->config_read(t->dev, (uint32_t)offset, data, len);
}

/* Reached only when no ioeventfd catches the write (no KVM, as in tests,
 * or the registration failed): signal the queue's eventfd ourselves. */
static void notify_access(struct virtio_pci *t, uint64_t offset, bool is_write)
{
	uint64_t q = offset / VIRTIO_PCI_NOTIFY_MULTIPLIER, one = 1;

	if (!is_write || offset % VIRTIO_PCI_NOTIFY_MULTIPLIER || q >= t->ops->nr_queues)
		return;
	if (write(t->queues[q].kick_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, a kick is pending anyway. */
	}
}

static void bar_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		       bool is_write)
{
	struct virtio_pci *t = opaque;
	uint64_t region, in_region;

	if (!is_write)
		memset(data, 0, len);
	/* Each access stays inside one structure; anything else is ignored. */
	if (len == 0 || len > 8 || offset >= VIRTIO_PCI_BAR_SIZE ||
	    len > VIRTIO_PCI_BAR_SIZE - offset ||
	    offset / VIRTIO_PCI_REGION_SIZE != (offset + len - 1) / VIRTIO_PCI_REGION_SIZE)
		return;
	region = offset - offset % VIRTIO_PCI_REGION_SIZE;
	in_region = offset - region;
	switch (region) {
	case VIRTIO_PCI_COMMON_AT:
		common_access(t, in_region, data, len, is_write);
		return;
	case VIRTIO_PCI_ISR_AT:
		isr_access(t, in_region, data, is_write);
		return;
	case VIRTIO_PCI_DEVICE_AT:
		device_config_access(t, in_region, data, len, is_write);
		return;
	case VIRTIO_PCI_NOTIFY_AT:
		notify_access(t, in_region, is_write);
		return;
	case VIRTIO_PCI_MSIX_TABLE_AT:
	case VIRTIO_PCI_MSIX_PBA_AT:
		pci_msix_bar_access(&t->msix, offset, data, len, is_write);
		return;
	}
}

/* ---- ioeventfds ---- */

static uint32_t ioeventfd_len(int vm_fd)
{
	/* Length 0 matches a notification of any width; KVM that lacks it
	 * gets the 16-bit write Linux drivers make. */
#ifdef KVM_CAP_IOEVENTFD_ANY_LENGTH
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0)
		return 0;
#endif
	return 2;
}

static int ioeventfd_set(int vm_fd, uint64_t addr, int fd, bool assign)
{
	struct kvm_ioeventfd ioe = {
		.addr = addr,
		.len = ioeventfd_len(vm_fd),
		.fd = fd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	return ioctl(vm_fd, KVM_IOEVENTFD, &ioe) < 0 ? -errno : 0;
}

/* The ioeventfd fields belong to the BAR mapping path: pci.c calls
 * bar_changed with pb->lock held, and destroy runs once the guest is
 * gone, so they need no lock of their own. */
static void ioeventfds_unregister(struct virtio_pci *t)
{
	for (unsigned q = 0; q < t->ops->nr_queues; q++) {
		struct virtio_pci_queue *vq = &t->queues[q];
		int ret;

		if (!vq->ioeventfd_registered)
			continue;
		ret = ioeventfd_set(t->env.vm_fd, vq->ioeventfd_addr, vq->kick_fd, false);
		if (ret < 0)
			log_warn("%s: removing the notify ioeventfd of queue %u: %s",
				 t->ops->name, q, strerror(-ret));
		vq->ioeventfd_registered = false;
	}
}

static void ioeventfds_register(struct virtio_pci *t, uint64_t bar_addr)
{
	for (unsigned q = 0; q < t->ops->nr_queues; q++) {
		struct virtio_pci_queue *vq = &t->queues[q];
		uint64_t addr = bar_addr + VIRTIO_PCI_NOTIFY_AT +
				(uint64_t)q * VIRTIO_PCI_NOTIFY_MULTIPLIER;
		int ret = ioeventfd_set(t->env.vm_fd, addr, vq->kick_fd, true);

		/* Without one, the notify region's MMIO handler still works. */
		if (ret < 0) {
			log_warn("%s: notify ioeventfd of queue %u at 0x%" PRIx64 ": %s; "
				 "kicks take the slow path", t->ops->name, q, addr,
				 strerror(-ret));
			continue;
		}
		vq->ioeventfd_registered = true;
		vq->ioeventfd_addr = addr;
	}
}

/* Called with pb->lock held, when a BAR was mapped, unmapped or moved:
 * the notify ioeventfds follow BAR 0, the shared memory's host pages
 * their BAR. */
static void virtio_pci_bar_changed(struct pci_device *dev, unsigned bar)
{
	struct virtio_pci *t = transport_of(dev);
	const struct pci_bar *b = &dev->bars[bar];

	if (bar == VIRTIO_PCI_SHM_BAR && t->shm) {
		pci_bar_window_place(t->shm, b->mapped, b->addr);
		return;
	}
	if (bar != VIRTIO_PCI_BAR || t->env.vm_fd < 0)
		return;
	ioeventfds_unregister(t);
	if (b->mapped)
		ioeventfds_register(t, b->addr);
}

static void virtio_pci_config_write(struct pci_device *dev, uint32_t offset, uint32_t len)
{
	pci_msix_config_write(&transport_of(dev)->msix, offset, len);
}

static const struct pci_device_ops virtio_pci_device_ops = {
	.config_write = virtio_pci_config_write,
	.bar_changed = virtio_pci_bar_changed,
};

/* ---- building the function ---- */

static uint16_t add_virtio_cap(struct virtio_pci *t, uint8_t cfg_type, uint32_t offset,
			       uint32_t length, const uint32_t *notify_multiplier)
{
	uint8_t body[VIRTIO_NOTIFY_CAP_BODY_LEN] = { 0 };
	uint16_t body_len = notify_multiplier ? VIRTIO_NOTIFY_CAP_BODY_LEN : VIRTIO_CAP_BODY_LEN;

	body[0] = (uint8_t)(body_len + 2);    /* cap_len counts id and next */
	body[1] = cfg_type;
	body[2] = VIRTIO_PCI_BAR;
	put_le32(&body[6], offset);
	put_le32(&body[10], length);
	if (notify_multiplier)
		put_le32(&body[14], *notify_multiplier);
	return pci_device_add_capability(&t->pci, PCI_CAP_ID_VNDR, body, body_len, NULL);
}

/* Where no host pages are mapped, the shared memory BAR reads as zeros
 * and takes writes to nowhere. */
static void shm_bar_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			   bool is_write)
{
	(void)opaque;
	(void)offset;
	if (!is_write)
		memset(data, 0, len);
}

int virtio_pci_add_shm(struct virtio_pci *t, uint8_t shmid, struct pci_bar_window *window)
{
	uint8_t body[VIRTIO_CAP64_BODY_LEN] = { 0 };
	int ret;

	if (!t->ops || !window || !window->size)
		return -EINVAL;
	if (t->shm)
		return -EBUSY;
	ret = pci_device_add_bar(&t->pci, VIRTIO_PCI_SHM_BAR, PCI_BAR_MEM64, true, window->size,
				 shm_bar_access, t);
	if (ret < 0)
		return ret;
	body[0] = VIRTIO_CAP64_BODY_LEN + 2;
	body[1] = VIRTIO_PCI_CAP_SHARED_MEMORY_CFG;
	body[2] = VIRTIO_PCI_SHM_BAR;
	body[3] = shmid;
	put_le32(&body[6], 0);                                  /* offset */
	put_le32(&body[10], (uint32_t)window->size);            /* length */
	put_le32(&body[14], 0);                                 /* offset_hi */
	put_le32(&body[18], (uint32_t)(window->size >> 32));    /* length_hi */
	if (!pci_device_add_capability(&t->pci, PCI_CAP_ID_VNDR, body, sizeof(body), NULL))
		return -ENOSPC;
	t->shm = window;
	return 0;
}

static int add_caps(struct virtio_pci *t)
{
	const uint32_t multiplier = VIRTIO_PCI_NOTIFY_MULTIPLIER;

	if (!add_virtio_cap(t, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_AT,
			    COMMON_CFG_LEN, NULL) ||
	    !add_virtio_cap(t, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_AT,
			    t->ops->nr_queues * VIRTIO_PCI_NOTIFY_MULTIPLIER, &multiplier) ||
	    !add_virtio_cap(t, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_AT, 1, NULL))
		return -ENOSPC;
	if (t->ops->config_size &&
	    !add_virtio_cap(t, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_AT,
			    t->ops->config_size, NULL))
		return -ENOSPC;
	return 0;
}

static bool ops_valid(const struct virtio_device_ops *ops)
{
	uint16_t qs = ops ? ops->queue_size : 0;

	return ops && ops->name && ops->reset && ops->nr_queues >= 1 &&
	       ops->nr_queues <= VIRTIO_PCI_MAX_QUEUES &&
	       nr_msix_vectors(ops) <= PCI_MSIX_MAX_VECTORS &&
	       qs && !(qs & (qs - 1)) && qs <= VIRTQ_MAX_SIZE &&
	       ops->config_size <= VIRTIO_PCI_REGION_SIZE;
}

static void close_kick_fds(struct virtio_pci *t)
{
	for (unsigned q = 0; q < VIRTIO_PCI_MAX_QUEUES; q++) {
		if (t->queues[q].kick_fd >= 0)
			close(t->queues[q].kick_fd);
		t->queues[q].kick_fd = -1;
	}
}

int virtio_pci_init(struct virtio_pci *t, const struct virtio_device_ops *ops,
		    void *dev, const struct virtio_pci_env *env)
{
	int ret;

	memset(t, 0, sizeof(*t));
	for (unsigned q = 0; q < VIRTIO_PCI_MAX_QUEUES; q++)
		t->queues[q].kick_fd = -1;
	if (!ops_valid(ops) || !env || !env->mem)
		return -EINVAL;
	t->ops = ops;
	t->dev = dev;
	t->env = *env;
	t->device_features = ops->features | transport_features();
	log_limit_init(&t->failure_log, FAILURE_LOG_INTERVAL_S * 1000000000ull);

	pci_device_init(&t->pci, ops->name, VIRTIO_PCI_VENDOR,
			(uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id), ops->pci_class,
			VIRTIO_PCI_REVISION, VIRTIO_PCI_VENDOR, VIRTIO_PCI_SUBSYSTEM_ID);
	t->pci.ops = &virtio_pci_device_ops;
	t->pci.opaque = t;
	ret = pci_device_add_bar(&t->pci, VIRTIO_PCI_BAR, PCI_BAR_MEM64, false,
				 VIRTIO_PCI_BAR_SIZE, bar_access, t);
	if (ret == 0)
		ret = add_caps(t);
	if (ret < 0)
		goto fail;
	ret = pci_msix_init(&t->msix, &t->pci, nr_msix_vectors(ops), VIRTIO_PCI_BAR,
			    VIRTIO_PCI_MSIX_TABLE_AT, VIRTIO_PCI_MSIX_PBA_AT, &env->router);
	if (ret < 0)
		goto fail;
	for (unsigned q = 0; q < ops->nr_queues; q++) {
		t->queues[q].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->queues[q].kick_fd < 0) {
			ret = -errno;
			goto fail_msix;
		}
	}
	for (unsigned q = 0; q < VIRTIO_PCI_MAX_QUEUES; q++)
		t->queues[q].vq.mem = env->mem;
	reset_registers_locked(t, false);
	pthread_mutex_init(&t->lock, NULL);
	return 0;

fail_msix:
	close_kick_fds(t);
	pci_msix_destroy(&t->msix);
fail:
	t->ops = NULL;   /* destroy has nothing to undo */
	return ret;
}

void virtio_pci_destroy(struct virtio_pci *t)
{
	if (!t->ops)
		return;
	/* The VM is going away: the device stops touching guest memory. */
	t->ops->reset(t->dev);
	if (t->failure_log.unlogged)
		log_warn("%s: %" PRIu64 " more failures needing a reset were not logged "
			 "(one line a minute at most)", t->ops->name, t->failure_log.unlogged);
	if (t->env.vm_fd >= 0)
		ioeventfds_unregister(t);
	close_kick_fds(t);
	pci_msix_destroy(&t->msix);
	pthread_mutex_destroy(&t->lock);
	t->ops = NULL;
}

/* ---- for the device model ---- */

struct virtq *virtio_pci_queue(struct virtio_pci *t, unsigned q)
{
	struct virtq *vq = NULL;

	if (q >= t->ops->nr_queues)
		return NULL;
	pthread_mutex_lock(&t->lock);
	if ((t->status & VIRTIO_STATUS_DRIVER_OK) && t->queues[q].enabled &&
	    t->queues[q].vq.ready)
		vq = &t->queues[q].vq;
	pthread_mutex_unlock(&t->lock);
	return vq;
}

int virtio_pci_kick_fd(struct virtio_pci *t, unsigned q)
{
	return q < t->ops->nr_queues ? t->queues[q].kick_fd : -1;
}

bool virtio_pci_has_feature(struct virtio_pci *t, unsigned bit)
{
	bool has;

	if (bit >= 64)
		return false;
	pthread_mutex_lock(&t->lock);
	has = t->driver_features & 1ull << bit;
	pthread_mutex_unlock(&t->lock);
	return has;
}

/* The ring is the device thread's between activate and reset, so asking
 * it needs no lock; the interrupt state does. */
void virtio_pci_notify_queue(struct virtio_pci *t, unsigned q)
{
	if (q >= t->ops->nr_queues || !virtq_should_interrupt(&t->queues[q].vq))
		return;
	pthread_mutex_lock(&t->lock);
	interrupt_locked(t, ISR_QUEUE, t->queues[q].msix_vector);
	pthread_mutex_unlock(&t->lock);
}

void virtio_pci_fail(struct virtio_pci *t, const char *why)
{
	pthread_mutex_lock(&t->lock);
	fail_locked(t, why);
	pthread_mutex_unlock(&t->lock);
}

void virtio_pci_config_changed(struct virtio_pci *t)
{
	pthread_mutex_lock(&t->lock);
	t->config_generation++;
	config_interrupt_locked(t);
	pthread_mutex_unlock(&t->lock);
}
