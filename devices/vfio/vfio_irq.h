/* Interrupts of a passed-through function. VFIO signals an eventfd for
 * each MSI or MSI-X vector; that eventfd is a KVM irqfd whose GSI routes
 * to the guest's message, so an interrupt reaches the guest without a
 * trip through gvmm. A masked vector keeps its eventfd at VFIO but loses
 * its irqfd: interrupts then accumulate in the eventfd's count (the
 * vector's pending bit), and KVM delivers one as soon as the irqfd is
 * assigned again (at unmask). MSI-X (vfio_msix.h) and MSI with
 * per-vector masking share this through vfio_vector_follow_mask.
 * INTx is an eventfd too, with a resample eventfd that KVM signals at the
 * guest's EOI so that VFIO unmasks the line.
 *
 * Both sides are interfaces: the VM routes (vfio_irq_router) and the
 * device triggers (vfio_irq_device), so tests can stand in for either. */
#ifndef GVMM_VFIO_IRQ_H
#define GVMM_VFIO_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#include "vfio_config.h"

struct vfio_irq_router {
	/* A new GSI routed to an MSI message. */
	int (*add_route)(void *ctx, uint64_t address, uint32_t data, unsigned *gsi);
	int (*update_route)(void *ctx, unsigned gsi, uint64_t address, uint32_t data);
	/* Binds (assign) or unbinds fd as an irqfd of gsi; resample_fd >= 0
	 * makes it level-triggered with that resample eventfd. */
	int (*irqfd)(void *ctx, int fd, unsigned gsi, int resample_fd, bool assign);
	void *ctx;
};

/* VFIO_DEVICE_SET_IRQS for one interrupt index (VFIO_PCI_*_IRQ_INDEX).
 * Each returns 0 or -errno. */
struct vfio_irq_device {
	/* count eventfds for vectors 0..count-1; count 0 disables the index. */
	int (*trigger)(void *ctx, unsigned index, unsigned count, const int *fds);
	/* INTx: fd is signalled to unmask the line. */
	int (*unmask_fd)(void *ctx, int fd);
	void *ctx;
};

struct vfio_vector {
	int eventfd;        /* -1 until opened */
	bool routed;        /* gsi holds a route */
	unsigned gsi;
	bool irqfd_on;
	uint64_t address;   /* what the route says */
	uint32_t data;
};

void vfio_vector_init(struct vfio_vector *v);
int vfio_vector_open(struct vfio_vector *v);
/* Routes the vector to the message and binds its irqfd (unmask). */
int vfio_vector_connect(struct vfio_vector *v, const struct vfio_irq_router *r,
			uint64_t address, uint32_t data);
/* Unbinds the irqfd; interrupts wait in the eventfd (mask). */
void vfio_vector_disconnect(struct vfio_vector *v, const struct vfio_irq_router *r);
/* The guest's mask bit for an open vector: connects it to the message
 * when unmasked, disconnects it when masked. Returns 0 or -errno. */
int vfio_vector_follow_mask(struct vfio_vector *v, const struct vfio_irq_router *r, bool masked,
			    uint64_t address, uint32_t data);
void vfio_vector_close(struct vfio_vector *v, const struct vfio_irq_router *r);
/* The pending bit: the vector is disconnected (masked) and an interrupt
 * waits in its eventfd. */
bool vfio_vector_pending(const struct vfio_vector *v);

struct vfio_msi {
	unsigned nr_enabled;  /* 0: off at VFIO */
	struct vfio_vector vectors[VFIO_MSI_MAX_VECTORS];
};

void vfio_msi_init(struct vfio_msi *m);
/* Follows the guest's MSI capability: enabled with nr vectors, each with
 * data's low bits replaced by its number; vector i is masked while bit i
 * of mask is set (always 0 for a device without per-vector masking).
 * Returns 0 or -errno. */
int vfio_msi_update(struct vfio_msi *m, const struct vfio_irq_router *r,
		    const struct vfio_irq_device *d, bool enabled, unsigned nr,
		    uint64_t address, uint32_t data, uint32_t mask);
/* The pending bits: bit i for a masked vector i that was signalled. */
uint32_t vfio_msi_pending(const struct vfio_msi *m);
void vfio_msi_destroy(struct vfio_msi *m, const struct vfio_irq_router *r);

struct vfio_intx {
	bool on;
	int trigger_fd, resample_fd;
	unsigned gsi;
};

void vfio_intx_init(struct vfio_intx *x);
int vfio_intx_enable(struct vfio_intx *x, const struct vfio_irq_router *r,
		     const struct vfio_irq_device *d, unsigned gsi);
void vfio_intx_disable(struct vfio_intx *x, const struct vfio_irq_router *r,
		       const struct vfio_irq_device *d);

#endif
