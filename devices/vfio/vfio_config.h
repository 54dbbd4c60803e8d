/* Config space of a passed-through PCI function. gvmm's PCI bus keeps the
 * guest's view in dev->config; this module decides, byte by byte, whether
 * the guest sees that copy (emulated) or the device's own register
 * (passed through the VFIO config region).
 *
 * Emulated: the header (identity, command, BARs, expansion ROM, interrupt
 * line and pin), the MSI and MSI-X capabilities, and all of extended
 * config space (hidden: it reads as zero). The command register is
 * emulated and its writable bits are also forwarded to the device, so
 * memory decode and bus mastering reach the hardware. The status
 * register and every other capability are passed through. The expansion
 * ROM BAR is emulated by the PCI bus (pci_device_add_rom, which
 * vfio_rom.h's ROM uses; it reads as zero without one), never the
 * device's own.
 *
 * MSI's per-vector masking is offered when the device has it: the mask
 * register is the guest's (only the bits of vectors the device offers),
 * and is never written to the device (VFIO owns its MSI capability): a
 * masked vector is held back by the interrupt code (vfio_irq.h). The
 * pending register is read-only and comes from that code too, through
 * vfio_msi_pending_source. Without the capability bit neither register
 * exists: the bytes after the capability are the device's.
 *
 * The device's config region is reached through vfio_config_io, which
 * tests replace with a byte array. */
#ifndef GVMM_VFIO_CONFIG_H
#define GVMM_VFIO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../pci/pci.h"

#define PCI_CAP_ID_MSI        0x05
#define VFIO_MSI_MAX_VECTORS  32
#define VFIO_MSIX_MAX_VECTORS 2048

/* Each returns 0 or -errno; a short transfer is an error. */
struct vfio_config_io {
	int (*read)(void *ctx, uint32_t offset, void *buf, unsigned len);
	int (*write)(void *ctx, uint32_t offset, const void *buf, unsigned len);
	void *ctx;
};

struct vfio_msi_cap {
	uint16_t offset;          /* 0: none */
	bool addr64;
	bool maskable;            /* per-vector masking: mask and pending registers */
	unsigned max_vectors;     /* what the device offers, 1 to 32 */
};

/* The MSI pending bits, bit i for vector i; read at each guest read of
 * the pending register. */
struct vfio_msi_pending_source {
	uint32_t (*read)(void *ctx);
	void *ctx;
};

struct vfio_msix_cap {
	uint16_t offset;          /* 0: none */
	unsigned nr_vectors;      /* 1 to 2048 */
	unsigned table_bar, pba_bar;
	uint32_t table_offset, pba_offset;
};

struct vfio_config {
	struct vfio_config_io io;
	struct pci_device *dev;
	uint8_t emulated[PCI_CONFIG_SIZE];     /* 1: the guest sees dev->config */
	uint32_t bar_registers[PCI_NUM_BARS];  /* the device's own, for their type */
	bool has_intx;
	struct vfio_msi_cap msi;
	struct vfio_msix_cap msix;
	struct vfio_msi_pending_source msi_pending;   /* set after init; none: 0 */
};

/* What a guest config write changed, for the interrupt code to follow. */
#define VFIO_CONFIG_CHANGED_MSI   0x1
#define VFIO_CONFIG_CHANGED_MSIX  0x2

/* Reads the device's standard config space and fills dev (pci_device_init
 * and the capabilities; the caller adds the BARs with pci_device_add_bar
 * afterwards). name must outlive dev. Returns 0, or -1 with one line in
 * err (the config region unreadable, a capability list that runs out of
 * config space). */
int vfio_config_init(struct vfio_config *vc, struct pci_device *dev, const char *name,
		     const struct vfio_config_io *io, char *err, size_t errlen);

/* A guest read: value holds the emulated bytes; passed-through bytes are
 * replaced with the device's (all ones when it cannot be read). */
uint32_t vfio_config_read(struct vfio_config *vc, uint32_t offset, unsigned len,
			  uint32_t value);
/* A guest write, before the PCI bus applies it to dev->config: forwards
 * the passed-through bytes to the device. */
void vfio_config_write(struct vfio_config *vc, uint32_t offset, uint32_t value, unsigned len);
/* After the PCI bus applied a guest write: forwards the command register
 * and says which interrupt capabilities changed (VFIO_CONFIG_CHANGED_*). */
unsigned vfio_config_written(struct vfio_config *vc, uint32_t offset, unsigned len);

/* The guest's MSI settings, from the emulated capability. */
bool vfio_config_msi_enabled(const struct vfio_config *vc);
unsigned vfio_config_msi_vectors(const struct vfio_config *vc);  /* enabled by the guest */
uint64_t vfio_config_msi_address(const struct vfio_config *vc);
uint16_t vfio_config_msi_data(const struct vfio_config *vc);
/* The guest's per-vector mask bits; 0 without per-vector masking. */
uint32_t vfio_config_msi_mask(const struct vfio_config *vc);
/* The guest's MSI-X enable and function mask bits. */
bool vfio_config_msix_enabled(const struct vfio_config *vc);
bool vfio_config_msix_masked(const struct vfio_config *vc);

#endif
