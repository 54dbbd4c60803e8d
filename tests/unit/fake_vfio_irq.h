/* KVM's interrupt routing and VFIO's interrupt setup as unit tests of
 * passed-through interrupts see them (vfio_irq.h's two interfaces). The
 * router hands out GSIs for MSI messages and records which eventfd is
 * bound to which as an irqfd; "KVM" delivers like the kernel does: a
 * vector signalled while its eventfd is bound is delivered at once, one
 * signalled while unbound waits in the eventfd, and binding an eventfd
 * that holds a count delivers it. The device side records the eventfds
 * VFIO was given for each interrupt index. */
#ifndef GVMM_TESTS_FAKE_VFIO_IRQ_H
#define GVMM_TESTS_FAKE_VFIO_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#include "../../devices/vfio/vfio_irq.h"

#define FAKE_IRQ_GSIS       64
#define FAKE_IRQ_INDEXES    5    /* VFIO_PCI_NUM_IRQS */
#define FAKE_IRQ_VECTORS    64   /* eventfds recorded per index */

struct fake_irq {
	struct {
		bool used;
		uint64_t address;
		uint32_t data;
		int bound_fd;          /* the irqfd bound to it, or -1 */
		unsigned delivered;
	} gsis[FAKE_IRQ_GSIS];
	unsigned nr_vectors[FAKE_IRQ_INDEXES];          /* what VFIO has now */
	int fds[FAKE_IRQ_INDEXES][FAKE_IRQ_VECTORS];
	unsigned triggers;                              /* VFIO_DEVICE_SET_IRQS calls */
};

void fake_irq_init(struct fake_irq *f);
struct vfio_irq_router fake_irq_router(struct fake_irq *f);
struct vfio_irq_device fake_irq_device(struct fake_irq *f);

/* The device raises vector of VFIO interrupt index (VFIO signals its
 * eventfd). False when VFIO has no eventfd for it. */
bool fake_irq_signal(struct fake_irq *f, unsigned index, unsigned vector);
/* Interrupts delivered so far with this message (0 when none is routed). */
unsigned fake_irq_delivered(const struct fake_irq *f, uint64_t address, uint32_t data);
/* Whether vector of index has an irqfd bound now. */
bool fake_irq_bound(const struct fake_irq *f, unsigned index, unsigned vector);

#endif
