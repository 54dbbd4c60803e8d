/* How a passed-through BAR looks to the guest and which parts of it are
 * mapped straight into the guest: pure arithmetic over what VFIO reports
 * for the region (size, whether it may be mmap()ed, sparse mmap areas)
 * and what must stay trapped (the MSI-X table and PBA).
 *
 * The guest's BAR keeps the device's type (I/O, 32-bit or 64-bit memory,
 * prefetchable), sized to a power of two of at least what pci.h allows;
 * 64-bit BARs are placed by the PCI bus in its 64-bit window. Mapped
 * pieces are whole host pages; a trapped range takes the pages it
 * touches with it, so an MSI-X table sharing a page with registers
 * splits the mapping around that page. */
#ifndef GVMM_VFIO_BAR_H
#define GVMM_VFIO_BAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../pci/pci.h"

#define VFIO_BAR_MAX_PIECES   8
#define VFIO_BAR_MAX_TRAPS    2   /* MSI-X table and PBA */

struct vfio_range {
	uint64_t offset;
	uint64_t size;
};

struct vfio_bar_layout {
	enum pci_bar_kind kind;      /* PCI_BAR_UNUSED: nothing to show */
	bool prefetchable;
	uint64_t region_size;        /* what the device has */
	uint64_t size;               /* what the guest sees */
	unsigned nr_pieces;          /* mapped straight into the guest */
	struct vfio_range pieces[VFIO_BAR_MAX_PIECES];
};

/* The BAR's type from the low dword of the device's BAR register. */
enum pci_bar_kind vfio_bar_kind(uint32_t bar_register, bool *prefetchable);

/* Lays out one BAR. mmap_areas lists the parts of the region that may be
 * mmap()ed (none when nr_mmap_areas is 0), traps the ranges that must be
 * trapped anyway; page_size is the host's. Areas outside the region and
 * pieces beyond VFIO_BAR_MAX_PIECES are left trapped. Returns 0, or -1
 * with one line in err when the BAR cannot be shown to the guest (too
 * large for its type). */
int vfio_bar_layout(struct vfio_bar_layout *out, uint32_t bar_register, uint64_t region_size,
		    const struct vfio_range *mmap_areas, unsigned nr_mmap_areas,
		    const struct vfio_range *traps, unsigned nr_traps, uint64_t page_size,
		    char *err, size_t errlen);

/* Whether [offset, offset+len) lies wholly inside one range of the list. */
bool vfio_range_contains(const struct vfio_range *r, uint64_t offset, uint64_t len);

#endif
