/* PCI: one host bridge, bus 0, conventional functions with 4 KiB extended
 * config space (reachable through ports 0xcf8/0xcfc and through ECAM).
 *
 * A device fills in its identity, BARs and capabilities with the
 * pci_device_* builders, then pci_bus_add_device() gives it a slot and
 * places its BARs (gvmm acts as the firmware: BARs are assigned before the
 * guest boots, and the guest may move them). The bus maps a BAR on the VM's
 * pio/mmio bus only while the command register enables that decode, and
 * follows the guest when it reprograms a BAR. An expansion ROM BAR is
 * placed the same way but left disabled, as firmware leaves it: the bus
 * maps it only while the guest sets its enable bit and memory decode.
 *
 * Config space writes pass through a per-byte write mask (read-only bits
 * stay put) and a write-1-to-clear mask (status bits); the device sees
 * writes that hit its own registers through ops->config_write. */
#ifndef GVMM_PCI_H
#define GVMM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/bus.h"
#include "../../vmm/irq_line.h"

#define PCI_MAX_SLOTS     32
#define PCI_CONFIG_SIZE   4096
#define PCI_NUM_BARS      6

/* Standard config space offsets and bits gvmm uses. */
#define PCI_VENDOR_ID         0x00
#define PCI_DEVICE_ID         0x02
#define PCI_COMMAND           0x04
#define  PCI_COMMAND_IO          0x0001
#define  PCI_COMMAND_MEMORY      0x0002
#define  PCI_COMMAND_MASTER      0x0004
#define  PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS            0x06
#define  PCI_STATUS_INTERRUPT    0x0008
#define  PCI_STATUS_CAP_LIST     0x0010
#define PCI_REVISION_ID       0x08
#define PCI_CLASS_PROG        0x09
#define PCI_HEADER_TYPE       0x0e
#define PCI_BAR0              0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID      0x2e
#define PCI_ROM_ADDRESS       0x30
#define  PCI_ROM_ADDRESS_ENABLE  0x00000001u
#define  PCI_ROM_ADDRESS_MASK    0xfffff800u
#define PCI_CAPABILITY_LIST   0x34
#define PCI_INTERRUPT_LINE    0x3c
#define PCI_INTERRUPT_PIN     0x3d

#define PCI_CAP_ID_VNDR       0x09
#define PCI_CAP_ID_MSIX       0x11

enum pci_bar_kind {
	PCI_BAR_UNUSED,
	PCI_BAR_IO,
	PCI_BAR_MEM32,
	PCI_BAR_MEM64,   /* takes this BAR index and the next */
};

struct pci_device;

struct pci_bar {
	enum pci_bar_kind kind;
	bool prefetchable;
	uint64_t size;          /* a power of two; I/O >= 4, memory >= 4096 */
	uint64_t addr;          /* where the guest put it */
	bool mapped;            /* registered on the pio/mmio bus now */
	bus_access_fn access;   /* offset is relative to the BAR start */
	void *opaque;
};

struct pci_device_ops {
	/* After the generic config write: offset/len of what the guest wrote
	 * (already masked into dev->config). May be NULL. */
	void (*config_write)(struct pci_device *dev, uint32_t offset, uint32_t len);
	/* A BAR was mapped, unmapped or moved (ioeventfds follow it). May be
	 * NULL. Not called for the expansion ROM, which no device maps
	 * straight into the guest. */
	void (*bar_changed)(struct pci_device *dev, unsigned bar);
	/* For a function whose registers live in a real device (passthrough):
	 * config_read_through may replace bytes of value, what dev->config
	 * holds for a guest read; config_write_through sees the guest's write
	 * as written, before the masks apply. Both may be NULL; offset and
	 * len are those of a valid guest access. */
	uint32_t (*config_read_through)(struct pci_device *dev, uint32_t offset, unsigned len,
					uint32_t value);
	void (*config_write_through)(struct pci_device *dev, uint32_t offset, uint32_t value,
				     unsigned len);
};

struct pci_device {
	struct pci_bus *bus;
	unsigned slot;
	const char *name;                   /* for messages and bus ranges */
	uint8_t config[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE];     /* bits the guest may change */
	uint8_t w1cmask[PCI_CONFIG_SIZE];   /* bits a written 1 clears */
	uint16_t last_cap;                  /* 0 until the first capability */
	uint16_t cap_end;                   /* next free byte for capabilities */
	struct pci_bar bars[PCI_NUM_BARS];
	struct pci_bar rom;                 /* the expansion ROM; PCI_BAR_UNUSED:
					     * none, and its BAR reads as zero */
	unsigned intx_gsi;                  /* INTA#'s GSI, set by pci_bus_add_device;
					     * shared with other slots, so driven
					     * only through pci_device_set_intx */
	const struct pci_device_ops *ops;
	void *opaque;                       /* the device model behind it */
};

struct pci_bus {
	struct bus *pio;
	struct bus *mmio;
	pthread_mutex_t lock;               /* config space and BAR mapping */
	uint32_t config_address;            /* the 0xcf8 latch */
	struct pci_device *slots[PCI_MAX_SLOTS];
	uint64_t next_io, io_end;           /* BAR allocation windows */
	uint64_t next_mem32, mem32_end;
	uint64_t next_mem64, mem64_end;
	struct irq_line intx_template;      /* set_level/ctx for GSIs 16-23 */
};

/* The windows BARs are allocated from (what the DSDT's _CRS describes). */
struct pci_windows {
	uint64_t io_start, io_end;          /* end exclusive */
	uint64_t mem32_start, mem32_end;
	uint64_t mem64_start, mem64_end;
};

/* Registers the bridge on 0xcf8-0xcff and the ECAM range. intx_template
 * gives the irq callback; slot N's INTA# is GSI pci_slot_intx_gsi(N),
 * which the bridge drives with the OR of the INTA#s of every function
 * wired to it. */
int pci_bus_init(struct pci_bus *pb, struct bus *pio, struct bus *mmio,
		 uint64_t ecam_base, uint64_t ecam_size, const struct pci_windows *win,
		 const struct irq_line *intx_template);
void pci_bus_destroy(struct pci_bus *pb);

/* The IOAPIC pin (GSI 16-23) slot's INTA# is wired to; the DSDT's _PRT says the same. */
unsigned pci_slot_intx_gsi(unsigned slot);

/* Builders, before pci_bus_add_device(). */
void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor,
		     uint16_t device, uint32_t class_code, uint8_t revision,
		     uint16_t subsystem_vendor, uint16_t subsystem_id);
/* Returns 0 or -EINVAL (bad index, size not a power of two, 64-bit at BAR 5). */
int pci_device_add_bar(struct pci_device *dev, unsigned index, enum pci_bar_kind kind,
		       bool prefetchable, uint64_t size, bus_access_fn access, void *opaque);
/* An expansion ROM of size bytes (a power of two from 4 KiB to 2 GiB)
 * behind the ROM BAR at 0x30; access serves the guest's reads of it.
 * Returns 0 or -EINVAL. */
int pci_device_add_rom(struct pci_device *dev, uint64_t size, bus_access_fn access,
		       void *opaque);
/* Appends a capability whose body (after the id and next bytes) is body;
 * wmask_body marks guest-writable bits (NULL: none). Returns its config
 * offset, or 0 when config space is full. */
uint16_t pci_device_add_capability(struct pci_device *dev, uint8_t cap_id,
				   const void *body, uint16_t body_len,
				   const void *wmask_body);
/* Picks a free slot, places the BARs, wires INTA#. Returns 0 or -errno.
 * An expansion ROM that finds no room in the 32-bit window is left at
 * address 0 (the guest may place it) rather than refusing the device. */
int pci_bus_add_device(struct pci_bus *pb, struct pci_device *dev);

/* Config accessors for device code (take no lock; call under pb->lock or
 * before the guest runs). */
uint32_t pci_config_read(const struct pci_device *dev, uint32_t offset, unsigned len);
void pci_config_write_raw(struct pci_device *dev, uint32_t offset, uint32_t value, unsigned len);

/* Raises or lowers INTA# (honours the command register's INTx disable and
 * keeps the status register's interrupt bit). The GSI stays high while
 * any function sharing it holds its INTA# high. Thread-safe. */
void pci_device_set_intx(struct pci_device *dev, bool level);

/* Guest config access through the bus (the CF8/CFC and ECAM handlers use
 * them; unit tests call them directly). bdf = bus << 8 | slot << 3 | fn. */
uint32_t pci_bus_config_read(struct pci_bus *pb, uint16_t bdf, uint32_t offset, unsigned len);
void pci_bus_config_write(struct pci_bus *pb, uint16_t bdf, uint32_t offset,
			  uint32_t value, unsigned len);

#endif
