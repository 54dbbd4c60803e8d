/* A test guest driver for virtio-pci devices: the unit tests play the
 * guest (PCI config space, BAR 0 MMIO, split rings in guest RAM laid out
 * from virtio 1.2, 2.7) against a device served on a real I/O thread.
 * This is the driver side those tests share; each test keeps only what
 * is particular to its device. */
#ifndef GVMM_TESTS_VIRTIO_DRIVER_H
#define GVMM_TESTS_VIRTIO_DRIVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../devices/pci/pci.h"
#include "../../devices/virtio/virtio_pci.h"
#include "../../vmm/bus.h"
#include "../../vmm/guest_memory.h"

/* Common configuration registers, offsets in the common cap (virtio 1.2,
 * 4.1.4.3). */
enum {
	VDRV_DFSELECT = 0x00, VDRV_DF = 0x04, VDRV_GFSELECT = 0x08, VDRV_GF = 0x0c,
	VDRV_MSIX_CONFIG = 0x10, VDRV_NUM_QUEUES = 0x12, VDRV_STATUS = 0x14,
	VDRV_GENERATION = 0x15, VDRV_Q_SELECT = 0x16, VDRV_Q_SIZE = 0x18,
	VDRV_Q_MSIX = 0x1a, VDRV_Q_ENABLE = 0x1c, VDRV_Q_NOTIFY_OFF = 0x1e,
	VDRV_Q_DESC = 0x20, VDRV_Q_DRIVER = 0x28, VDRV_Q_DEVICE = 0x30,
};

/* virtio_pci_cap.cfg_type values (virtio 1.2, 4.1.4). */
enum { VDRV_CAP_COMMON = 1, VDRV_CAP_NOTIFY = 2, VDRV_CAP_ISR = 3, VDRV_CAP_DEVICE = 4 };

#define VDRV_F_VERSION_1   32
#define VDRV_DESC_F_NEXT   1
#define VDRV_DESC_F_WRITE  2
#define VDRV_MAX_QUEUES    8
/* How long a test waits for the device thread before calling it stuck. */
#define VDRV_WAIT_MS       5000

/* INTx as the device drives it: the current level and how many times it
 * rose, so a test can tell "an interrupt came" from "the line stayed up". */
struct vdrv_irq {
	atomic_int rises;
	atomic_bool level;
};

/* Where one split ring lives in guest RAM and the driver's own avail
 * index (the device never tells us ours). */
struct vdrv_queue {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t size;
	uint16_t avail_idx;
};

struct vdrv {
	/* The platform: buses, guest RAM and a PCI host whose INTx is irq. */
	struct bus pio, mmio;
	struct pci_bus pb;
	struct guest_memory mem;
	struct vdrv_irq irq;
	/* The device as the driver found it. */
	uint16_t bdf;
	uint64_t bar;                              /* BAR 0 guest address */
	uint32_t common, notify, isr, device;      /* cap offsets in BAR 0 */
	struct vdrv_queue vq[VDRV_MAX_QUEUES];
};

/* Platform. The MSI router in vdrv_env() refuses every vector: these
 * tests use INTx (or the kick eventfd). */
void vdrv_platform_init(struct vdrv *d, uint64_t ram_size);
void vdrv_platform_destroy(struct vdrv *d);
struct virtio_pci_env vdrv_env(struct vdrv *d);
void vdrv_irq_set_level(void *ctx, unsigned gsi, bool level);
int vdrv_no_msi_bind(void *ctx, uint64_t address, uint32_t data, int fd, unsigned *gsi);
int vdrv_no_msi_update(void *ctx, unsigned gsi, uint64_t address, uint32_t data);

/* Plugs dev into the bus and finds BAR 0 and the virtio capabilities. */
void vdrv_attach(struct vdrv *d, struct pci_device *dev);
void vdrv_find_caps(struct vdrv *d);

/* Config space and BAR 0 (off is relative to BAR 0). */
uint32_t vdrv_cfg_read(struct vdrv *d, uint32_t off, unsigned len);
void vdrv_cfg_write(struct vdrv *d, uint32_t off, uint32_t v, unsigned len);
uint64_t vdrv_mmio_read(struct vdrv *d, uint64_t off, unsigned len);
void vdrv_mmio_write(struct vdrv *d, uint64_t off, uint64_t v, unsigned len);

/* Common configuration. */
uint64_t vdrv_common_read(struct vdrv *d, unsigned field, unsigned len);
void vdrv_common_write(struct vdrv *d, unsigned field, uint64_t v, unsigned len);
uint8_t vdrv_status(struct vdrv *d);
void vdrv_set_status(struct vdrv *d, uint8_t bits);          /* ORs bits in */
bool vdrv_status_has(struct vdrv *d, uint8_t bits);
uint64_t vdrv_device_features(struct vdrv *d);
/* Reset, ACKNOWLEDGE | DRIVER, offer features, FEATURES_OK: true if the
 * device kept FEATURES_OK. */
bool vdrv_negotiate(struct vdrv *d, uint64_t features);
/* Records queue q's layout (avail index back to 0) and programs and
 * enables it in the common config. */
void vdrv_queue_setup(struct vdrv *d, unsigned q, uint16_t size, uint64_t desc_gpa,
		      uint64_t avail_gpa, uint64_t used_gpa);
/* DRIVER_OK: true if the device took it. */
bool vdrv_driver_ok(struct vdrv *d);

/* Guest RAM. */
void vdrv_put(struct vdrv *d, uint64_t gpa, const void *v, size_t len);
void vdrv_get(struct vdrv *d, uint64_t gpa, void *v, size_t len);
void vdrv_zero(struct vdrv *d, uint64_t gpa, size_t len);

/* The split ring, driver side. */
void vdrv_desc(struct vdrv *d, unsigned q, uint16_t idx, uint64_t addr, uint32_t len,
	       uint16_t flags, uint16_t next);
void vdrv_offer(struct vdrv *d, unsigned q, uint16_t head);  /* no notification */
void vdrv_kick(struct vdrv *d, unsigned q);
void vdrv_offer_and_kick(struct vdrv *d, unsigned q, uint16_t head);
uint16_t vdrv_used_idx(struct vdrv *d, unsigned q);
void vdrv_used_elem(struct vdrv *d, unsigned q, uint16_t slot, uint32_t *id, uint32_t *len);

/* The device answers on its own thread: polls cond every millisecond, for
 * up to VDRV_WAIT_MS; false if it never held. */
bool vdrv_wait(bool (*cond)(void *ctx, unsigned arg), void *ctx, unsigned arg);
bool vdrv_wait_used(struct vdrv *d, unsigned q, uint16_t idx);
bool vdrv_wait_status(struct vdrv *d, uint8_t bits);     /* all of bits set */

#endif
