/* The expansion ROM of a passed-through function: VFIO's ROM region
 * (VFIO_PCI_ROM_REGION_INDEX) behind the guest's ROM BAR (pci.h places
 * and maps that BAR). Whether it is offered is decided once, when the
 * device is opened: a region of size 0 means the device has no ROM; a
 * ROM the user hid (--vfio ...,rom=off), one VFIO does not let us read,
 * or one whose size is not a power of two or above VFIO_ROM_MAX_SIZE is
 * not offered, and the guest's ROM BAR then reads as zero.
 *
 * An offered ROM is read from the region at each guest access, never
 * copied: the guest reads it rarely (a driver's probe, sysfs), and then
 * sees the device's own contents. It is read-only: writes are dropped
 * (and logged once).
 *
 * The region is reached through vfio_rom_io, which tests replace with a
 * byte array. */
#ifndef GVMM_VFIO_ROM_H
#define GVMM_VFIO_ROM_H

#include <stdbool.h>
#include <stdint.h>

/* Real option ROMs are 64 KiB to a few MiB; a larger region is a device
 * (or a mediated device's driver) reporting something else. */
#define VFIO_ROM_MAX_SIZE  (16ull << 20)

struct vfio_rom_io {
	/* len bytes at offset of the ROM region; 0 or -errno. */
	int (*read)(void *ctx, uint64_t offset, void *buf, uint32_t len);
	void *ctx;
};

struct vfio_rom {
	const char *name;          /* the device's, for messages */
	uint64_t region_size;      /* the device's ROM; 0: not offered */
	uint64_t bar_size;         /* the guest's ROM BAR: at least a page */
	struct vfio_rom_io io;
	bool write_logged;
};

/* Decides whether a ROM region of region_size bytes is offered (see
 * above); readable is VFIO's read flag for the region, hidden the user's
 * rom=off. A ROM refused for its size gets one warning naming the
 * device. Returns whether it is offered; then rom->bar_size is the size
 * for pci_device_add_rom, with vfio_rom_access and rom as its handler.
 * name must outlive rom. */
bool vfio_rom_init(struct vfio_rom *rom, const char *name, uint64_t region_size, bool readable,
		   bool hidden, const struct vfio_rom_io *io);

/* The ROM window's bus_access_fn (opaque: the vfio_rom). Reads beyond the
 * region, or that the region refuses, read as all ones. */
void vfio_rom_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
