/* MSI-X for a PCI device: the capability, the vector table and the pending
 * bit array, which live in one of the device's memory BARs.
 *
 * Each vector has an eventfd. An unmasked vector's eventfd is bound to a
 * KVM irqfd whose GSI routes to the vector's MSI message, so a device
 * thread raising the interrupt never goes through a vCPU. While the vector
 * or the whole function is masked, notifications set the pending bit
 * instead; unmasking delivers a pending interrupt. The routes are kept up
 * to date when the guest rewrites an entry. */
#ifndef GVMM_PCI_MSIX_H
#define GVMM_PCI_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci.h"

#define PCI_MSIX_MAX_VECTORS   64
#define PCI_MSIX_ENTRY_SIZE    16
#define PCI_MSIX_NO_VECTOR     0xffff   /* virtio's "no vector" */

/* How MSI-X reaches the interrupt controller; the VM gives KVM's GSI
 * routing and irqfds, tests give fakes. Each returns 0 or -errno. */
struct msi_router {
	/* Allocates a GSI for the message and binds fd to it. */
	int (*bind)(void *ctx, uint64_t address, uint32_t data, int fd, unsigned *gsi);
	/* Points gsi at a new message. */
	int (*update)(void *ctx, unsigned gsi, uint64_t address, uint32_t data);
	void *ctx;
};

struct pci_msix_vector {
	uint32_t addr_lo, addr_hi, data, control;
	int eventfd;
	bool bound;         /* has a GSI and an irqfd */
	unsigned gsi;
	bool pending;
};

struct pci_msix {
	struct pci_device *dev;
	pthread_mutex_t lock;
	unsigned nr_vectors;
	uint16_t cap_offset;
	unsigned bar;
	uint64_t table_offset;   /* within the BAR */
	uint64_t pba_offset;
	struct msi_router router;
	struct pci_msix_vector vectors[PCI_MSIX_MAX_VECTORS];
};

/* Adds the capability to dev (before pci_bus_add_device) with its table
 * and PBA at the given offsets of BAR bar, which the device registers
 * itself and forwards to pci_msix_bar_access() for that range. */
int pci_msix_init(struct pci_msix *m, struct pci_device *dev, unsigned nr_vectors,
		  unsigned bar, uint64_t table_offset, uint64_t pba_offset,
		  const struct msi_router *router);
void pci_msix_destroy(struct pci_msix *m);

/* Size in bytes the table and PBA need in the BAR. */
uint64_t pci_msix_table_size(unsigned nr_vectors);
uint64_t pci_msix_pba_size(unsigned nr_vectors);

/* The device's BAR handler forwards table/PBA accesses here; offset is
 * relative to the BAR start. Returns false when offset is not MSI-X's. */
bool pci_msix_bar_access(struct pci_msix *m, uint64_t offset, uint8_t *data,
			 uint32_t len, bool is_write);
/* The device's config_write hook forwards here (enable / function mask). */
void pci_msix_config_write(struct pci_msix *m, uint32_t offset, uint32_t len);

bool pci_msix_enabled(struct pci_msix *m);
/* Signals vector; thread-safe; a vector out of range is ignored. */
void pci_msix_notify(struct pci_msix *m, unsigned vector);

#endif
