/* The MSI-X table and PBA of a passed-through function, emulated: the
 * guest's table lives here (VFIO owns the device's real one), and the
 * guest's masking decides which vectors' irqfds are bound. Vectors are
 * handed to VFIO lazily, up to the highest one the guest unmasked, so a
 * 2048-entry table costs eventfds only for what the driver uses.
 *
 * Not thread-safe: the device serialises calls with its own lock. */
#ifndef GVMM_VFIO_MSIX_H
#define GVMM_VFIO_MSIX_H

#include <stdbool.h>
#include <stdint.h>

#include "vfio_irq.h"

#define VFIO_MSIX_ENTRY_SIZE  16

struct vfio_msix_entry {
	uint32_t addr_lo, addr_hi, data, control;
};

struct vfio_msix {
	unsigned nr_vectors;
	struct vfio_msix_entry *table;
	struct vfio_vector *vectors;
	unsigned nr_programmed;       /* vectors VFIO has eventfds for */
	bool enabled, masked;         /* the capability's bits */
	struct vfio_irq_router router;
	struct vfio_irq_device device;
};

/* nr_vectors from 1 to VFIO_MSIX_MAX_VECTORS; every entry starts masked.
 * Returns 0 or -errno. */
int vfio_msix_init(struct vfio_msix *m, unsigned nr_vectors, const struct vfio_irq_router *r,
		   const struct vfio_irq_device *d);
void vfio_msix_destroy(struct vfio_msix *m);

uint64_t vfio_msix_table_size(const struct vfio_msix *m);
uint64_t vfio_msix_pba_size(const struct vfio_msix *m);

/* Guest accesses; offset is relative to the table (or PBA) start. Out of
 * range accesses read as ones and are dropped. */
void vfio_msix_table_access(struct vfio_msix *m, uint64_t offset, uint8_t *data, uint32_t len,
			    bool is_write);
void vfio_msix_pba_access(struct vfio_msix *m, uint64_t offset, uint8_t *data, uint32_t len,
			  bool is_write);

/* The guest changed the capability's enable or function mask bit. */
int vfio_msix_set_control(struct vfio_msix *m, bool enabled, bool masked);

#endif
