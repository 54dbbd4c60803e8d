/* A memory BAR whose contents are host pages: a device puts a host
 * range at an offset of the BAR, and it shows in the guest at the BAR's
 * address plus that offset, through the VM's host_page_mapper (a KVM
 * memory slot each, so guest accesses never leave the kernel). Where
 * nothing is put, the BAR's MMIO handler answers (reads of zero).
 *
 * The mappings follow the BAR: while the guest has memory decoding off,
 * or the BAR somewhere it may not be, none is in the guest; when the
 * guest moves the BAR, every mapping is taken out and put back at the
 * new address. The device's own record of what is mapped stays, so a
 * guest that switches decoding back on sees the same pages.
 *
 * Offsets and sizes come from the guest (through the device): each is
 * checked to be whole pages inside the window and clear of every other
 * mapping. Thread-safe: the device maps from its own thread while a vCPU
 * moves the BAR (pci.c's bar_changed, under the bus lock, which is taken
 * before the window's). */
#ifndef GVMM_PCI_BAR_WINDOW_H
#define GVMM_PCI_BAR_WINDOW_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/host_page_mapper.h"

#define PCI_BAR_WINDOW_PAGE          4096ull
#define PCI_BAR_WINDOW_MAX_MAPPINGS  256

struct pci_bar_window_mapping {
	uint64_t offset, size;       /* in the BAR */
	void *host;
	int handle;                  /* the mapper's while in the guest, else -1 */
};

struct pci_bar_window {
	pthread_mutex_t lock;
	uint64_t size;               /* the BAR's size */
	struct host_page_mapper mapper;
	bool placed;                 /* the BAR decodes at base */
	uint64_t base;
	bool failure_logged;         /* a mapping could not follow the BAR */
	struct pci_bar_window_mapping mappings[PCI_BAR_WINDOW_MAX_MAPPINGS];
	unsigned nr_mappings;
};

/* size: the BAR's, a power of two of at least a page. The BAR is not
 * placed until pci_bar_window_place says so. Returns 0 or -EINVAL. */
int pci_bar_window_init(struct pci_bar_window *w, uint64_t size,
			const struct host_page_mapper *mapper);
/* Takes every mapping out of the guest. */
void pci_bar_window_destroy(struct pci_bar_window *w);

/* Puts host at offset. Returns 0; -EINVAL for a range that is not whole
 * pages inside the window or a host pointer not page aligned; -EBUSY
 * where it overlaps a mapping; -ENOSPC when every mapping is taken; or
 * the mapper's error while the BAR is placed. */
int pci_bar_window_map(struct pci_bar_window *w, uint64_t offset, void *host, uint64_t size);
/* Takes out the mapping at exactly [offset, offset + size); false if
 * there is none. */
bool pci_bar_window_unmap(struct pci_bar_window *w, uint64_t offset, uint64_t size);

/* The BAR now decodes at base (decoding true) or not at all. */
void pci_bar_window_place(struct pci_bar_window *w, bool decoding, uint64_t base);

#endif
