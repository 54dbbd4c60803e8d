/* A host PCI function passed through VFIO (vfio-pci, or a mediated device
 * that presents itself as PCI). Config space follows vfio_config.h; BARs
 * follow vfio_bar.h: their mmap-able pages become KVM memory slots while
 * the guest has the BAR mapped (no exits; none with mmap=off), the rest is
 * trapped and forwarded to the device's region with pread/pwrite, and the
 * MSI-X table and PBA are emulated (vfio_msix.h). The expansion ROM, when
 * there is one, is offered behind the guest's ROM BAR (vfio_rom.h).
 * Interrupts follow vfio_irq.h. The device is reset when it is created
 * and when it is destroyed, so a guest reboot (a new VM) gets it fresh. */
#ifndef GVMM_VFIO_PCI_H
#define GVMM_VFIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfio_bar.h"
#include "vfio_config.h"
#include "vfio_irq.h"
#include "vfio_msix.h"
#include "vfio_rom.h"

/* How the user asked for the device (the --vfio options, vfio_option.h). */
struct vfio_pci_options {
	bool hide_rom;    /* rom=off: keep its expansion ROM from the guest */
	bool trap_bars;   /* mmap=off: map no BAR into the guest; every BAR
			   * access is trapped and forwarded */
};

/* What the device needs from the VM. */
struct vfio_pci_env {
	struct vfio_irq_router router;
	/* A KVM memory slot mapping [gpa, gpa+size) to host. */
	int (*memslot_add)(void *ctx, uint64_t gpa, uint64_t size, void *host, unsigned *slot);
	void (*memslot_remove)(void *ctx, unsigned slot);
	void *memslot_ctx;
};

struct vfio_pci_region {
	uint64_t offset;      /* in the device fd */
	uint64_t size;
	uint32_t flags;
};

struct vfio_pci_piece {
	void *host;           /* its mmap(), or NULL: left trapped */
	bool in_guest;        /* a memory slot now */
	unsigned slot;
};

struct vfio_pci_bar_ctx {
	struct vfio_pci *dev;
	unsigned index;
};

enum vfio_irq_mode { VFIO_IRQ_NONE, VFIO_IRQ_INTX, VFIO_IRQ_MSI, VFIO_IRQ_MSIX };

struct vfio_pci {
	struct pci_device pci;     /* pci_bus_add_device(&dev->pci), then vfio_pci_start */
	char name[64];
	int fd;
	bool can_reset;
	struct vfio_pci_env env;
	struct vfio_irq_device irq_device;
	pthread_mutex_t lock;      /* interrupts and the MSI-X table */
	struct vfio_pci_region regions[PCI_NUM_BARS + 2];   /* BARs, ROM, config */
	struct vfio_config cfg;
	struct vfio_bar_layout bars[PCI_NUM_BARS];
	struct vfio_pci_piece pieces[PCI_NUM_BARS][VFIO_BAR_MAX_PIECES];
	struct vfio_pci_bar_ctx bar_ctx[PCI_NUM_BARS];
	struct vfio_rom rom;
	bool has_msix;
	struct vfio_msix msix;
	struct vfio_msi msi;
	struct vfio_intx intx;
	enum vfio_irq_mode irq_mode;
};

/* Takes device_fd (closed by vfio_pci_destroy, even on failure), resets
 * the device and builds its PCI function as opts asks. Returns 0, or -1
 * with one line in err. */
int vfio_pci_create(struct vfio_pci *dev, int device_fd, const char *name,
		    const struct vfio_pci_options *opts, const struct vfio_pci_env *env,
		    char *err, size_t errlen);
/* After pci_bus_add_device: wires INTx to the slot's GSI. */
int vfio_pci_start(struct vfio_pci *dev, char *err, size_t errlen);
/* Stops interrupts, takes the BARs out of the guest, resets the device
 * and closes it. The PCI bus must have let go of it. */
void vfio_pci_destroy(struct vfio_pci *dev);

#endif
