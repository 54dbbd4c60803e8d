/* The modern virtio-pci transport (virtio 1.2, section 4.1): one PCI
 * function whose BAR 0 holds the common, ISR, device-config and notify
 * structures plus the MSI-X table, found by the guest through vendor
 * capabilities. The transport owns feature negotiation, the device status
 * machine, queue setup and interrupts; the device model (blk, rng, ...)
 * sees only the virtio_device_ops below.
 *
 * Queue notifications arrive on a per-queue eventfd: KVM signals it
 * directly (ioeventfd) when the guest writes the notify address, so a
 * kick never wakes gvmm's vCPU thread. The device watches those fds on its
 * own I/O thread once activated. */
#ifndef GVMM_VIRTIO_PCI_H
#define GVMM_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/log_limit.h"
#include "../../vmm/host_page_mapper.h"
#include "../pci/pci.h"
#include "../pci/pci_bar_window.h"
#include "../pci/pci_msix.h"
#include "virtqueue.h"

#define VIRTIO_PCI_MAX_QUEUES  64

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE   1
#define VIRTIO_STATUS_DRIVER        2
#define VIRTIO_STATUS_DRIVER_OK     4
#define VIRTIO_STATUS_FEATURES_OK   8
#define VIRTIO_STATUS_NEEDS_RESET   64
#define VIRTIO_STATUS_FAILED        128

#define VIRTIO_F_VERSION_1          32

/* Virtio device types. */
#define VIRTIO_ID_NET      1
#define VIRTIO_ID_BLOCK    2
#define VIRTIO_ID_CONSOLE  3
#define VIRTIO_ID_RNG      4
#define VIRTIO_ID_GPU      16
#define VIRTIO_ID_INPUT    18

struct virtio_pci;

struct virtio_device_ops {
	const char *name;
	uint16_t device_id;          /* VIRTIO_ID_* */
	uint32_t pci_class;          /* class code for the PCI function */
	uint64_t features;           /* device-specific features offered; the
				      * transport adds VERSION_1, EVENT_IDX and
				      * INDIRECT_DESC */
	unsigned nr_queues;
	uint16_t queue_size;         /* max size of each queue, power of two */
	uint32_t config_size;        /* bytes of device config */
	/* Device config access; offset + len <= config_size is checked. */
	void (*config_read)(void *dev, uint32_t offset, uint8_t *data, uint32_t len);
	void (*config_write)(void *dev, uint32_t offset, const uint8_t *data, uint32_t len);
	/* DRIVER_OK: features are final and ready queues set up. The device
	 * starts serving its queues. Returns 0, or -1 to fail the device. */
	int (*activate)(void *dev, struct virtio_pci *t);
	/* The driver reset the device (or the VM is going away): stop using the
	 * queues and forget negotiated state; when this returns no device
	 * thread may touch guest memory through them any more. */
	void (*reset)(void *dev);
};

struct virtio_pci_queue {
	struct virtq vq;
	uint16_t size;               /* as the driver set it */
	uint16_t msix_vector;
	bool enabled;
	uint64_t desc_gpa, driver_gpa, device_gpa;
	int kick_fd;                 /* eventfd the guest's notifications land on */
	bool ioeventfd_registered;
	uint64_t ioeventfd_addr;
};

/* What the transport needs from the VM. */
struct virtio_pci_env {
	const struct guest_memory *mem;
	int vm_fd;                   /* for KVM_IOEVENTFD; -1 in tests (then the
				      * notify region's MMIO handler signals the fd) */
	struct msi_router router;
	/* Host pages into the guest, for shared memory regions; a NULL map
	 * where the VM cannot (a device then offers no such region). */
	struct host_page_mapper mapper;
};

struct virtio_pci {
	struct pci_device pci;
	struct pci_msix msix;
	const struct virtio_device_ops *ops;
	void *dev;
	struct virtio_pci_env env;
	pthread_mutex_t lock;        /* transport registers and status */
	uint64_t device_features;
	uint64_t driver_features;
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint16_t msix_config_vector;
	uint16_t queue_select;
	uint8_t status;
	uint8_t isr;
	uint8_t config_generation;
	struct log_limit failure_log;  /* for the device's lifetime, not per reset */
	struct pci_bar_window *shm;  /* the shared memory region's pages, or NULL */
	struct virtio_pci_queue queues[VIRTIO_PCI_MAX_QUEUES];
};

/* Builds the PCI function (call pci_bus_add_device(&t->pci) after). */
int virtio_pci_init(struct virtio_pci *t, const struct virtio_device_ops *ops,
		    void *dev, const struct virtio_pci_env *env);
void virtio_pci_destroy(struct virtio_pci *t);
/* A shared memory region (virtio 1.2, 4.1.4.7): window's pages in a
 * 64-bit prefetchable BAR of their own (VIRTIO_PCI_SHM_BAR, window->size
 * bytes), which a VIRTIO_PCI_CAP_SHARED_MEMORY_CFG capability names with
 * shmid. The window follows the BAR wherever the guest puts it. After
 * virtio_pci_init, before pci_bus_add_device; one region per device; the
 * window outlives the transport. Returns 0, -EBUSY for a second region,
 * -EINVAL or -ENOSPC (no room for the BAR or the capability). */
#define VIRTIO_PCI_SHM_BAR  2
int virtio_pci_add_shm(struct virtio_pci *t, uint8_t shmid, struct pci_bar_window *window);

/* For the device model, after activate(): */
struct virtq *virtio_pci_queue(struct virtio_pci *t, unsigned q);  /* NULL if not enabled */
int virtio_pci_kick_fd(struct virtio_pci *t, unsigned q);
bool virtio_pci_has_feature(struct virtio_pci *t, unsigned bit);
/* Interrupts the guest for queue q if the ring says it wants one. */
void virtio_pci_notify_queue(struct virtio_pci *t, unsigned q);
/* The guest broke the protocol: NEEDS_RESET and a config interrupt (once
 * until the next reset), and a log line: the first failure's, then at
 * most one a minute over the device's lifetime, whatever the guest does. */
void virtio_pci_fail(struct virtio_pci *t, const char *why);
/* Device config changed (bumps the generation, config interrupt). */
void virtio_pci_config_changed(struct virtio_pci *t);

#endif
