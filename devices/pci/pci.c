#include "pci.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/log.h"
#include "../../vmm/shared_irq_line.h"

/* Configuration mechanism #1: a 32-bit address latch at 0xcf8 and a
 * 4-byte data window at 0xcfc. */
#define CONF1_PORT            0xcf8
#define CONF1_PORTS           8
#define CONF1_DATA_OFFSET     4
#define CONF1_ENABLE          0x80000000u
/* Bits 30:24 are reserved and 1:0 hardwired to zero; they read back 0. */
#define CONF1_LATCH_MASK      0x80fffffcu

#define ECAM_BUS_SHIFT        20
#define ECAM_MIN_SIZE         (1ull << ECAM_BUS_SHIFT)  /* one bus */
#define ECAM_MAX_SIZE         (256ull << ECAM_BUS_SHIFT)

#define PCI_IO_SPACE_END      0x10000ull
#define PCI_4GIB              0x100000000ull

/* Config space beyond what pci.h names. */
#define PCI_COMMAND_PARITY    0x0040
#define PCI_COMMAND_SERR      0x0100
#define PCI_COMMAND_WRITABLE  (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | \
			       PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | \
			       PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
/* Error bits of the status register: master data parity error, signalled
 * and received target abort, received master abort, signalled system
 * error, detected parity error. All write-1-to-clear. */
#define PCI_STATUS_ERRORS     0xf900
#define PCI_CACHE_LINE_SIZE   0x0c
#define PCI_STD_HEADER_END    0x40   /* capabilities start here */
#define PCI_STD_CONFIG_END    0x100  /* and must end before this */

#define PCI_BAR_IO_SPACE      0x1
#define PCI_BAR_MEM_TYPE_64   0x4
#define PCI_BAR_MEM_PREFETCH  0x8
#define PCI_BAR_IO_ADDR_MASK  0xfffffffcull
#define PCI_BAR_MEM_ADDR_MASK 0xfffffff0ull
#define PCI_BAR_IO_MAX_SIZE   256            /* PCI 3.0, 6.2.5.1 */
#define PCI_BAR_MEM_MIN_SIZE  4096           /* so each BAR owns its pages */
#define PCI_BAR_MEM32_MAX_SIZE (1ull << 31)
#define PCI_BAR_MEM64_MAX_SIZE (1ull << 63)
#define PCI_ROM_MAX_SIZE      (1ull << 31)   /* address bits 31:11 */

#define PCI_INTX_PIN_A        1
#define PCI_INTX_FIRST_GSI    16   /* IOAPIC pins 16-23 carry PCI INTx */
#define PCI_INTX_NR_GSIS      8

#define HOST_BRIDGE_VENDOR    0x8086  /* Intel */
#define HOST_BRIDGE_DEVICE    0x29c0  /* 82G33 DRAM controller, a Q35-era MCH */
#define HOST_BRIDGE_CLASS     0x060000

#define BAR_NAME_MAX          32
/* The expansion ROM's entry in the bridge's per-BAR tables, after the BARs. */
#define ROM_ENTRY             PCI_NUM_BARS
#define BAR_ENTRIES           (PCI_NUM_BARS + 1)

/* The bridge is slot 0's function and owns what the guest cannot see:
 * the windows BARs may live in, the names of the ranges it put on the
 * buses (bus_register keeps the pointer), and which refusals it already
 * reported. dev.opaque points back here. */
struct pci_host_bridge {
	struct pci_device dev;
	struct pci_windows win;
	uint64_t ecam_base, ecam_size;
	/* Orders the INTx changes of all functions: a device thread raising
	 * INTA# and a vCPU setting INTX_DISABLE must not leave a function's
	 * contribution in the state of whichever ran last. Taken before the
	 * lines' own locks. */
	pthread_mutex_t intx_lock;
	/* GSIs 16-23, each wired to every eighth slot and driven with the
	 * OR of those functions' INTA#s, so that one of them lowering its
	 * INTA# cannot drop another's pending interrupt (a guest without
	 * MSI-X and with more than eight functions relies on that). */
	struct shared_irq_line intx_lines[PCI_INTX_NR_GSIS];
	char bar_names[PCI_MAX_SLOTS][BAR_ENTRIES][BAR_NAME_MAX];
	bool bar_refusal_logged[PCI_MAX_SLOTS][BAR_ENTRIES];
	bool odd_access_logged;
};

static struct pci_host_bridge *bridge_of(const struct pci_bus *pb)
{
	return pb->slots[0] ? pb->slots[0]->opaque : NULL;
}

/* ---- config space bytes ----
 *
 * Every byte is loaded and stored with relaxed atomics: the status
 * register's interrupt bit changes from device threads (INTx) and MSI-X
 * reads its message control from them, both without pb->lock, while the
 * guest's accesses run under it. */

static uint8_t cfg_get8(const struct pci_device *dev, uint32_t offset)
{
	return __atomic_load_n(&dev->config[offset], __ATOMIC_RELAXED);
}

static void cfg_put8(struct pci_device *dev, uint32_t offset, uint8_t value)
{
	__atomic_store_n(&dev->config[offset], value, __ATOMIC_RELAXED);
}

static bool config_range_ok(uint32_t offset, unsigned len)
{
	return len >= 1 && len <= 4 && offset < PCI_CONFIG_SIZE &&
	       len <= PCI_CONFIG_SIZE - offset;
}

uint32_t pci_config_read(const struct pci_device *dev, uint32_t offset, unsigned len)
{
	uint32_t value = 0;

	if (!config_range_ok(offset, len))
		return 0xffffffffu;
	for (unsigned i = 0; i < len; i++)
		value |= (uint32_t)cfg_get8(dev, offset + i) << (8 * i);
	return value;
}

void pci_config_write_raw(struct pci_device *dev, uint32_t offset, uint32_t value, unsigned len)
{
	if (!config_range_ok(offset, len))
		return;
	for (unsigned i = 0; i < len; i++)
		cfg_put8(dev, offset + i, (uint8_t)(value >> (8 * i)));
}

static void wmask_put(uint8_t *mask, uint32_t offset, uint32_t value, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		mask[offset + i] = (uint8_t)(value >> (8 * i));
}

static uint16_t command_of(const struct pci_device *dev)
{
	return (uint16_t)pci_config_read(dev, PCI_COMMAND, 2);
}

/* ---- builders ---- */

void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor,
		     uint16_t device, uint32_t class_code, uint8_t revision,
		     uint16_t subsystem_vendor, uint16_t subsystem_id)
{
	memset(dev, 0, sizeof(*dev));
	dev->name = name ? name : "pci";
	pci_config_write_raw(dev, PCI_VENDOR_ID, vendor, 2);
	pci_config_write_raw(dev, PCI_DEVICE_ID, device, 2);
	pci_config_write_raw(dev, PCI_REVISION_ID, revision, 1);
	pci_config_write_raw(dev, PCI_CLASS_PROG, class_code & 0xffffff, 3);
	pci_config_write_raw(dev, PCI_HEADER_TYPE, 0, 1);  /* type 0, one function */
	pci_config_write_raw(dev, PCI_SUBSYSTEM_VENDOR_ID, subsystem_vendor, 2);
	pci_config_write_raw(dev, PCI_SUBSYSTEM_ID, subsystem_id, 2);

	wmask_put(dev->wmask, PCI_COMMAND, PCI_COMMAND_WRITABLE, 2);
	wmask_put(dev->w1cmask, PCI_STATUS, PCI_STATUS_ERRORS, 2);
	/* Linux programs the cache line size; it has no effect here. */
	dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	/* A scratch register for the OS: the IRQ it routed INTA# to. */
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

static bool is_power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* BAR index is taken: used itself, or the upper half of a 64-bit BAR. */
static bool bar_slot_taken(const struct pci_device *dev, unsigned index)
{
	return dev->bars[index].kind != PCI_BAR_UNUSED ||
	       (index > 0 && dev->bars[index - 1].kind == PCI_BAR_MEM64);
}

static uint32_t bar_type_bits(const struct pci_bar *bar)
{
	switch (bar->kind) {
	case PCI_BAR_IO:
		return PCI_BAR_IO_SPACE;
	case PCI_BAR_MEM64:
		return PCI_BAR_MEM_TYPE_64 | (bar->prefetchable ? PCI_BAR_MEM_PREFETCH : 0);
	case PCI_BAR_MEM32:
		return bar->prefetchable ? PCI_BAR_MEM_PREFETCH : 0;
	default:
		return 0;
	}
}

int pci_device_add_bar(struct pci_device *dev, unsigned index, enum pci_bar_kind kind,
		       bool prefetchable, uint64_t size, bus_access_fn access, void *opaque)
{
	uint32_t reg = PCI_BAR0 + 4 * index;
	uint64_t addr_mask;
	struct pci_bar *bar;

	if (index >= PCI_NUM_BARS || !access || !is_power_of_two(size) ||
	    bar_slot_taken(dev, index))
		return -EINVAL;
	switch (kind) {
	case PCI_BAR_IO:
		if (size < 4 || size > PCI_BAR_IO_MAX_SIZE || prefetchable)
			return -EINVAL;
		addr_mask = PCI_BAR_IO_ADDR_MASK;
		break;
	case PCI_BAR_MEM32:
		if (size < PCI_BAR_MEM_MIN_SIZE || size > PCI_BAR_MEM32_MAX_SIZE)
			return -EINVAL;
		addr_mask = PCI_BAR_MEM_ADDR_MASK;
		break;
	case PCI_BAR_MEM64:
		if (index + 1 >= PCI_NUM_BARS || bar_slot_taken(dev, index + 1) ||
		    size < PCI_BAR_MEM_MIN_SIZE || size > PCI_BAR_MEM64_MAX_SIZE)
			return -EINVAL;
		addr_mask = ~0ull & ~0xfull;
		break;
	default:
		return -EINVAL;
	}

	bar = &dev->bars[index];
	*bar = (struct pci_bar){
		.kind = kind, .prefetchable = prefetchable, .size = size,
		.access = access, .opaque = opaque,
	};
	/* The size lives in which address bits are writable: writing all
	 * ones reads back ~(size - 1) with the type bits (the sizing
	 * protocol). */
	wmask_put(dev->wmask, reg, (uint32_t)(~(size - 1) & addr_mask), 4);
	pci_config_write_raw(dev, reg, bar_type_bits(bar), 4);
	if (kind == PCI_BAR_MEM64) {
		wmask_put(dev->wmask, reg + 4, (uint32_t)(~(size - 1) >> 32), 4);
		pci_config_write_raw(dev, reg + 4, 0, 4);
	}
	return 0;
}

int pci_device_add_rom(struct pci_device *dev, uint64_t size, bus_access_fn access,
		       void *opaque)
{
	if (!access || !is_power_of_two(size) || size < PCI_BAR_MEM_MIN_SIZE ||
	    size > PCI_ROM_MAX_SIZE || dev->rom.kind != PCI_BAR_UNUSED)
		return -EINVAL;
	dev->rom = (struct pci_bar){
		.kind = PCI_BAR_MEM32, .size = size, .access = access, .opaque = opaque,
	};
	/* Sizing as for BARs; the enable bit is the guest's too. */
	wmask_put(dev->wmask, PCI_ROM_ADDRESS,
		  (uint32_t)(~(size - 1) & PCI_ROM_ADDRESS_MASK) | PCI_ROM_ADDRESS_ENABLE, 4);
	pci_config_write_raw(dev, PCI_ROM_ADDRESS, 0, 4);
	return 0;
}

uint16_t pci_device_add_capability(struct pci_device *dev, uint8_t cap_id,
				   const void *body, uint16_t body_len,
				   const void *wmask_body)
{
	uint32_t start = dev->cap_end ? dev->cap_end : PCI_STD_HEADER_END;
	uint32_t offset = (start + 3) & ~3u;
	uint16_t status;

	if (offset >= PCI_STD_CONFIG_END || body_len > PCI_STD_CONFIG_END - offset - 2 ||
	    (body_len && !body))
		return 0;
	pci_config_write_raw(dev, offset, cap_id, 1);
	pci_config_write_raw(dev, offset + 1, 0, 1);  /* end of the list, for now */
	for (uint16_t i = 0; i < body_len; i++) {
		pci_config_write_raw(dev, offset + 2 + i, ((const uint8_t *)body)[i], 1);
		dev->wmask[offset + 2 + i] = wmask_body ? ((const uint8_t *)wmask_body)[i] : 0;
	}
	if (dev->last_cap)
		pci_config_write_raw(dev, dev->last_cap + 1, offset, 1);
	else
		pci_config_write_raw(dev, PCI_CAPABILITY_LIST, offset, 1);
	status = (uint16_t)pci_config_read(dev, PCI_STATUS, 2);
	pci_config_write_raw(dev, PCI_STATUS, status | PCI_STATUS_CAP_LIST, 2);
	dev->last_cap = (uint16_t)offset;
	dev->cap_end = (uint16_t)(offset + 2 + body_len);
	return (uint16_t)offset;
}

/* ---- BAR mapping ---- */

static uint64_t bar_config_addr(const struct pci_device *dev, unsigned index)
{
	const struct pci_bar *bar = &dev->bars[index];
	uint32_t reg = PCI_BAR0 + 4 * index;
	uint64_t lo = pci_config_read(dev, reg, 4);

	if (bar->kind == PCI_BAR_IO)
		return lo & PCI_BAR_IO_ADDR_MASK;
	if (bar->kind == PCI_BAR_MEM64)
		return (lo & PCI_BAR_MEM_ADDR_MASK) |
		       (uint64_t)pci_config_read(dev, reg + 4, 4) << 32;
	return lo & PCI_BAR_MEM_ADDR_MASK;
}

static bool range_within(uint64_t addr, uint64_t size, uint64_t start, uint64_t end)
{
	return addr >= start && addr < end && size <= end - addr;
}

/* A BAR is only ever placed inside the windows the DSDT gives the host
 * bridge: they hold no RAM and no fixed device, so a guest cannot lay a
 * BAR over either (the in-kernel IOAPIC and LAPICs are not on our bus,
 * so bus_register alone could not refuse those). This also rules out
 * address 0 and a BAR still holding the all-ones sizing pattern. */
static bool bar_addr_valid(const struct pci_host_bridge *hb, const struct pci_bar *bar,
			   uint64_t addr)
{
	const struct pci_windows *w = &hb->win;

	if (addr == 0)
		return false;
	if (bar->kind == PCI_BAR_IO)
		return range_within(addr, bar->size, w->io_start, w->io_end);
	return range_within(addr, bar->size, w->mem32_start, w->mem32_end) ||
	       range_within(addr, bar->size, w->mem64_start, w->mem64_end);
}

static bool bar_decode_enabled(const struct pci_device *dev, const struct pci_bar *bar)
{
	uint16_t cmd = command_of(dev);

	return bar->kind == PCI_BAR_IO ? cmd & PCI_COMMAND_IO : cmd & PCI_COMMAND_MEMORY;
}

/* Makes the bus mapping of a BAR or the ROM (entry in the bridge's
 * tables) follow the address its registers hold and whether it decodes.
 * Returns whether the mapping changed. Called with pb->lock held. */
static bool decoder_follow(struct pci_bus *pb, struct pci_device *dev, struct pci_bar *bar,
			   unsigned entry, uint64_t addr, bool decoding)
{
	struct pci_host_bridge *hb = bridge_of(pb);
	struct bus *bus = bar->kind == PCI_BAR_IO ? pb->pio : pb->mmio;
	bool changed = false, want = decoding && bar_addr_valid(hb, bar, addr);
	const char *name;
	int ret;

	if (bar->mapped && (!want || bar->addr != addr)) {
		bus_unregister(bus, bar->addr);
		bar->mapped = false;
		changed = true;
	}
	bar->addr = addr;
	if (want && !bar->mapped) {
		name = hb->bar_names[dev->slot][entry];
		ret = bus_register(bus, addr, bar->size, name, bar->access, bar->opaque);
		if (ret == 0) {
			bar->mapped = true;
			changed = true;
		} else if (!hb->bar_refusal_logged[dev->slot][entry]) {
			hb->bar_refusal_logged[dev->slot][entry] = true;
			log_warn("pci: %s at 0x%" PRIx64 " (0x%" PRIx64 " bytes) cannot go on the "
				 "%s bus (%s); left unmapped", name, addr, bar->size, bus->name,
				 ret == -EEXIST ? "another range is there" : strerror(-ret));
		}
	}
	return changed;
}

/* BAR index follows its config registers and the command register. */
static void bar_update_mapping(struct pci_bus *pb, struct pci_device *dev, unsigned index)
{
	struct pci_bar *bar = &dev->bars[index];

	if (bar->kind == PCI_BAR_UNUSED)
		return;
	if (decoder_follow(pb, dev, bar, index, bar_config_addr(dev, index),
			   bar_decode_enabled(dev, bar)) &&
	    dev->ops && dev->ops->bar_changed)
		dev->ops->bar_changed(dev, index);
}

/* The ROM decodes only while both its own enable bit and memory decode
 * are on. */
static void rom_update_mapping(struct pci_bus *pb, struct pci_device *dev)
{
	uint32_t reg = pci_config_read(dev, PCI_ROM_ADDRESS, 4);

	if (dev->rom.kind == PCI_BAR_UNUSED)
		return;
	decoder_follow(pb, dev, &dev->rom, ROM_ENTRY, reg & PCI_ROM_ADDRESS_MASK,
		       (reg & PCI_ROM_ADDRESS_ENABLE) && (command_of(dev) & PCI_COMMAND_MEMORY));
}

static void bars_update_mapping(struct pci_bus *pb, struct pci_device *dev)
{
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		bar_update_mapping(pb, dev, i);
	rom_update_mapping(pb, dev);
}

/* ---- INTx ---- */

/* Drives INTA# from the status register's interrupt bit and the command
 * register's disable bit; with hb->intx_lock held. The function's level
 * goes into its GSI's shared line, keyed by slot. */
static void intx_drive(struct pci_host_bridge *hb, struct pci_device *dev)
{
	bool pending = cfg_get8(dev, PCI_STATUS) & PCI_STATUS_INTERRUPT;
	bool disabled = command_of(dev) & PCI_COMMAND_INTX_DISABLE;

	/* The host bridge has no INTx pin (intx_gsi 0), yet the guest may
	 * toggle its INTx disable bit like any function's. */
	if (dev->intx_gsi < PCI_INTX_FIRST_GSI ||
	    dev->intx_gsi >= PCI_INTX_FIRST_GSI + PCI_INTX_NR_GSIS)
		return;
	shared_irq_line_set(&hb->intx_lines[dev->intx_gsi - PCI_INTX_FIRST_GSI], dev->slot,
			    pending && !disabled);
}

void pci_device_set_intx(struct pci_device *dev, bool level)
{
	struct pci_host_bridge *hb;
	uint8_t status;

	if (!dev->bus || !(hb = bridge_of(dev->bus)))
		return;
	pthread_mutex_lock(&hb->intx_lock);
	status = cfg_get8(dev, PCI_STATUS);
	if (!!(status & PCI_STATUS_INTERRUPT) != level) {
		status = level ? status | PCI_STATUS_INTERRUPT
			       : status & (uint8_t)~PCI_STATUS_INTERRUPT;
		cfg_put8(dev, PCI_STATUS, status);
		intx_drive(hb, dev);
	}
	pthread_mutex_unlock(&hb->intx_lock);
}

/* ---- guest config access ---- */

static struct pci_device *device_at(const struct pci_bus *pb, uint16_t bdf)
{
	unsigned bus = bdf >> 8, slot = (bdf >> 3) & 0x1f, fn = bdf & 7;

	if (bus != 0 || fn != 0)
		return NULL;
	return pb->slots[slot];
}

static bool guest_access_ok(uint32_t offset, unsigned len)
{
	return (len == 1 || len == 2 || len == 4) && offset % len == 0 &&
	       offset < PCI_CONFIG_SIZE;
}

static uint32_t all_ones(unsigned len)
{
	return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
}

static void note_odd_access(struct pci_bus *pb, const char *what, uint32_t offset,
			    unsigned len)
{
	struct pci_host_bridge *hb = bridge_of(pb);

	if (hb && !hb->odd_access_logged) {
		hb->odd_access_logged = true;
		log_warn("pci: ignoring %u-byte %s at config offset 0x%x (logged once)",
			 len, what, offset);
	}
}

static uint32_t config_read_locked(struct pci_bus *pb, uint16_t bdf, uint32_t offset,
				   unsigned len)
{
	struct pci_device *dev = device_at(pb, bdf);

	if (!guest_access_ok(offset, len)) {
		note_odd_access(pb, "read", offset, len);
		return 0xffffffffu;
	}
	if (!dev)
		return all_ones(len);
	if (dev->ops && dev->ops->config_read_through)
		return dev->ops->config_read_through(dev, offset, len,
						     pci_config_read(dev, offset, len));
	return pci_config_read(dev, offset, len);
}

static bool ranges_overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
	return a < b + blen && b < a + alen;
}

static void config_write_locked(struct pci_bus *pb, uint16_t bdf, uint32_t offset,
				uint32_t value, unsigned len)
{
	struct pci_device *dev = device_at(pb, bdf);
	struct pci_host_bridge *hb = bridge_of(pb);
	uint16_t old_cmd, new_cmd;

	if (!guest_access_ok(offset, len)) {
		note_odd_access(pb, "write", offset, len);
		return;
	}
	if (!dev)
		return;
	if (dev->ops && dev->ops->config_write_through)
		dev->ops->config_write_through(dev, offset, value, len);

	old_cmd = command_of(dev);
	for (unsigned i = 0; i < len; i++) {
		uint32_t off = offset + i;
		uint8_t byte = (uint8_t)(value >> (8 * i));
		uint8_t wm = dev->wmask[off], w1c = dev->w1cmask[off];
		uint8_t now;

		if (!wm && !w1c)
			continue;
		now = cfg_get8(dev, off);
		now = (uint8_t)((now & ~wm) | (byte & wm));
		now &= (uint8_t)~(byte & w1c);
		cfg_put8(dev, off, now);
	}
	new_cmd = command_of(dev);

	if ((old_cmd ^ new_cmd) & PCI_COMMAND_INTX_DISABLE) {
		pthread_mutex_lock(&hb->intx_lock);
		intx_drive(hb, dev);
		pthread_mutex_unlock(&hb->intx_lock);
	}
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		const struct pci_bar *bar = &dev->bars[i];
		uint32_t regs = bar->kind == PCI_BAR_MEM64 ? 8 : 4;

		if (bar->kind == PCI_BAR_UNUSED)
			continue;
		if (((old_cmd ^ new_cmd) & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)) ||
		    ranges_overlap(offset, len, PCI_BAR0 + 4 * i, regs))
			bar_update_mapping(pb, dev, i);
	}
	if (((old_cmd ^ new_cmd) & PCI_COMMAND_MEMORY) ||
	    ranges_overlap(offset, len, PCI_ROM_ADDRESS, 4))
		rom_update_mapping(pb, dev);
	if (dev->ops && dev->ops->config_write)
		dev->ops->config_write(dev, offset, len);
}

uint32_t pci_bus_config_read(struct pci_bus *pb, uint16_t bdf, uint32_t offset, unsigned len)
{
	uint32_t value;

	pthread_mutex_lock(&pb->lock);
	value = config_read_locked(pb, bdf, offset, len);
	pthread_mutex_unlock(&pb->lock);
	return value;
}

void pci_bus_config_write(struct pci_bus *pb, uint16_t bdf, uint32_t offset,
			  uint32_t value, unsigned len)
{
	pthread_mutex_lock(&pb->lock);
	config_write_locked(pb, bdf, offset, value, len);
	pthread_mutex_unlock(&pb->lock);
}

static uint32_t data_get(const uint8_t *data, uint32_t len)
{
	uint32_t value = 0;

	for (uint32_t i = 0; i < len && i < 4; i++)
		value |= (uint32_t)data[i] << (8 * i);
	return value;
}

static void data_put(uint8_t *data, uint32_t len, uint32_t value)
{
	for (uint32_t i = 0; i < len; i++)
		data[i] = i < 4 ? (uint8_t)(value >> (8 * i)) : 0xff;
}

/* 0xcf8-0xcff. Only a dword at 0xcf8 is the latch; the data window takes
 * bytes, words and dwords that stay inside the dword the latch selects. */
static void conf1_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			 bool is_write)
{
	struct pci_bus *pb = opaque;
	uint32_t latch, reg;
	uint16_t bdf;

	pthread_mutex_lock(&pb->lock);
	if (offset < CONF1_DATA_OFFSET) {
		if (offset == 0 && len == 4) {
			if (is_write)
				pb->config_address = data_get(data, 4) & CONF1_LATCH_MASK;
			else
				data_put(data, 4, pb->config_address);
		} else if (!is_write) {
			data_put(data, len, 0xffffffffu);
		}
		goto out;
	}
	latch = pb->config_address;
	reg = (latch & 0xfc) + (uint32_t)(offset - CONF1_DATA_OFFSET);
	bdf = (uint16_t)((latch >> 8) & 0xffff);
	if (!(latch & CONF1_ENABLE) || len > 4 ||
	    offset - CONF1_DATA_OFFSET + len > 4) {
		if (!is_write)
			data_put(data, len, 0xffffffffu);
		goto out;
	}
	if (is_write)
		config_write_locked(pb, bdf, reg, data_get(data, len), len);
	else
		data_put(data, len, config_read_locked(pb, bdf, reg, len));
out:
	pthread_mutex_unlock(&pb->lock);
}

/* ECAM: bus << 20 | device << 15 | function << 12 | register. */
static void ecam_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			bool is_write)
{
	struct pci_bus *pb = opaque;
	uint16_t bdf = (uint16_t)(offset >> 12);
	uint32_t reg = (uint32_t)(offset & 0xfff);

	if (len > 4) {
		pthread_mutex_lock(&pb->lock);
		note_odd_access(pb, is_write ? "ECAM write" : "ECAM read", reg, len);
		pthread_mutex_unlock(&pb->lock);
		if (!is_write)
			data_put(data, len, 0xffffffffu);
		return;
	}
	if (is_write)
		pci_bus_config_write(pb, bdf, reg, data_get(data, len), len);
	else
		data_put(data, len, pci_bus_config_read(pb, bdf, reg, len));
}

/* ---- the bus ---- */

unsigned pci_slot_intx_gsi(unsigned slot)
{
	/* Slots share the eight pins round robin; the DSDT's _PRT extends
	 * the same rule to pins B-D: GSI 16 + (slot + pin) % 8. */
	return PCI_INTX_FIRST_GSI + slot % PCI_INTX_NR_GSIS;
}

static bool windows_valid(const struct pci_windows *w)
{
	return w->io_start <= w->io_end && w->io_end <= PCI_IO_SPACE_END &&
	       w->mem32_start <= w->mem32_end && w->mem32_end <= PCI_4GIB &&
	       w->mem64_start <= w->mem64_end;
}

int pci_bus_init(struct pci_bus *pb, struct bus *pio, struct bus *mmio,
		 uint64_t ecam_base, uint64_t ecam_size, const struct pci_windows *win,
		 const struct irq_line *intx_template)
{
	struct pci_host_bridge *hb;
	int ret;

	memset(pb, 0, sizeof(*pb));
	if (!pio || !mmio || !win || !windows_valid(win) ||
	    ecam_size < ECAM_MIN_SIZE || ecam_size > ECAM_MAX_SIZE ||
	    ecam_size % ECAM_MIN_SIZE || ecam_base % ECAM_MIN_SIZE ||
	    ecam_base + ecam_size < ecam_base)
		return -EINVAL;
	hb = calloc(1, sizeof(*hb));
	if (!hb)
		return -ENOMEM;

	pb->pio = pio;
	pb->mmio = mmio;
	pb->next_io = win->io_start;
	pb->io_end = win->io_end;
	pb->next_mem32 = win->mem32_start;
	pb->mem32_end = win->mem32_end;
	pb->next_mem64 = win->mem64_start;
	pb->mem64_end = win->mem64_end;
	if (intx_template)
		pb->intx_template = *intx_template;
	hb->win = *win;
	hb->ecam_base = ecam_base;
	hb->ecam_size = ecam_size;
	pthread_mutex_init(&pb->lock, NULL);
	pthread_mutex_init(&hb->intx_lock, NULL);
	for (unsigned i = 0; i < PCI_INTX_NR_GSIS; i++) {
		struct irq_line line = pb->intx_template;

		line.gsi = PCI_INTX_FIRST_GSI + i;
		shared_irq_line_init(&hb->intx_lines[i], &line);
	}

	pci_device_init(&hb->dev, "host-bridge", HOST_BRIDGE_VENDOR, HOST_BRIDGE_DEVICE,
			HOST_BRIDGE_CLASS, 0, 0, 0);
	hb->dev.bus = pb;
	hb->dev.slot = 0;
	hb->dev.opaque = hb;
	pb->slots[0] = &hb->dev;

	ret = bus_register(pio, CONF1_PORT, CONF1_PORTS, "pci-conf1", conf1_access, pb);
	if (ret < 0)
		goto fail;
	ret = bus_register(mmio, ecam_base, ecam_size, "pci-ecam", ecam_access, pb);
	if (ret < 0) {
		bus_unregister(pio, CONF1_PORT);
		goto fail;
	}
	return 0;

fail:
	for (unsigned i = 0; i < PCI_INTX_NR_GSIS; i++)
		shared_irq_line_destroy(&hb->intx_lines[i]);
	pthread_mutex_destroy(&hb->intx_lock);
	pthread_mutex_destroy(&pb->lock);
	free(hb);
	memset(pb, 0, sizeof(*pb));
	return ret;
}

void pci_bus_destroy(struct pci_bus *pb)
{
	struct pci_host_bridge *hb = bridge_of(pb);

	if (!hb)
		return;
	/* The devices may be gone already: take their ranges off the buses
	 * without calling back into them. */
	pthread_mutex_lock(&pb->lock);
	for (unsigned slot = 1; slot < PCI_MAX_SLOTS; slot++) {
		struct pci_device *dev = pb->slots[slot];

		if (!dev)
			continue;
		for (unsigned i = 0; i < BAR_ENTRIES; i++) {
			struct pci_bar *bar = i == ROM_ENTRY ? &dev->rom : &dev->bars[i];

			if (!bar->mapped)
				continue;
			bus_unregister(bar->kind == PCI_BAR_IO ? pb->pio : pb->mmio, bar->addr);
			bar->mapped = false;
		}
		dev->bus = NULL;
		pb->slots[slot] = NULL;
	}
	pthread_mutex_unlock(&pb->lock);
	bus_unregister(pb->pio, CONF1_PORT);
	bus_unregister(pb->mmio, hb->ecam_base);
	for (unsigned i = 0; i < PCI_INTX_NR_GSIS; i++)
		shared_irq_line_destroy(&hb->intx_lines[i]);
	pthread_mutex_destroy(&hb->intx_lock);
	pthread_mutex_destroy(&pb->lock);
	free(hb);
	memset(pb, 0, sizeof(*pb));
}

static uint64_t align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

/* Bump allocation of a naturally aligned range from [*next, end). */
static bool window_take(uint64_t *next, uint64_t end, uint64_t size, uint64_t *addr)
{
	uint64_t at = align_up(*next, size);

	if (at < *next || at >= end || size > end - at)
		return false;
	*addr = at;
	*next = at + size;
	return true;
}

/* Places every BAR as firmware would, largest first so that natural
 * alignment wastes as little of the windows as it can. Nothing changes
 * unless all of them fit. */
static int place_bars(struct pci_bus *pb, const struct pci_device *dev,
		      uint64_t addrs[PCI_NUM_BARS])
{
	const struct pci_windows *win = &bridge_of(pb)->win;
	bool have_mem64 = win->mem64_end > win->mem64_start;
	uint64_t next_io = pb->next_io, next_mem32 = pb->next_mem32;
	uint64_t next_mem64 = pb->next_mem64;
	bool placed[PCI_NUM_BARS] = { false };

	for (;;) {
		const struct pci_bar *bar;
		int pick = -1;
		bool ok;

		for (unsigned i = 0; i < PCI_NUM_BARS; i++)
			if (dev->bars[i].kind != PCI_BAR_UNUSED && !placed[i] &&
			    (pick < 0 || dev->bars[i].size > dev->bars[pick].size))
				pick = (int)i;
		if (pick < 0)
			break;
		bar = &dev->bars[pick];
		if (bar->kind == PCI_BAR_IO)
			ok = window_take(&next_io, pb->io_end, bar->size, &addrs[pick]);
		else if (bar->kind == PCI_BAR_MEM64 && have_mem64)
			ok = window_take(&next_mem64, pb->mem64_end, bar->size, &addrs[pick]);
		else
			ok = window_take(&next_mem32, pb->mem32_end, bar->size, &addrs[pick]);
		if (!ok) {
			log_error("pci: no room for %s BAR %d (0x%" PRIx64 " bytes) in the PCI windows",
				  dev->name, pick, bar->size);
			return -ENOSPC;
		}
		placed[pick] = true;
	}
	pb->next_io = next_io;
	pb->next_mem32 = next_mem32;
	pb->next_mem64 = next_mem64;
	return 0;
}

/* The ROM goes in the 32-bit window after the BARs, disabled: the guest
 * turns it on when it wants to read it. */
static void place_rom(struct pci_bus *pb, struct pci_device *dev)
{
	uint64_t addr;

	if (dev->rom.kind == PCI_BAR_UNUSED)
		return;
	if (!window_take(&pb->next_mem32, pb->mem32_end, dev->rom.size, &addr)) {
		log_warn("pci: no room for %s's expansion ROM (0x%" PRIx64 " bytes) in the 32-bit "
			 "window; it is left for the guest to place", dev->name, dev->rom.size);
		return;
	}
	pci_config_write_raw(dev, PCI_ROM_ADDRESS, (uint32_t)addr, 4);
}

int pci_bus_add_device(struct pci_bus *pb, struct pci_device *dev)
{
	struct pci_host_bridge *hb = bridge_of(pb);
	uint64_t addrs[PCI_NUM_BARS] = { 0 };
	uint16_t cmd = 0;
	unsigned slot;
	int ret;

	if (!hb || !dev || dev->bus)
		return -EINVAL;
	pthread_mutex_lock(&pb->lock);
	for (slot = 1; slot < PCI_MAX_SLOTS && pb->slots[slot]; slot++)
		;
	if (slot == PCI_MAX_SLOTS) {
		ret = -ENOSPC;
		goto out;
	}
	ret = place_bars(pb, dev, addrs);
	if (ret < 0)
		goto out;

	dev->intx_gsi = pci_slot_intx_gsi(slot);
	dev->bus = pb;
	dev->slot = slot;
	pb->slots[slot] = dev;
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *bar = &dev->bars[i];
		uint32_t reg = PCI_BAR0 + 4 * i;

		if (bar->kind == PCI_BAR_UNUSED)
			continue;
		snprintf(hb->bar_names[slot][i], BAR_NAME_MAX, "%s.bar%u", dev->name, i);
		hb->bar_refusal_logged[slot][i] = false;
		pci_config_write_raw(dev, reg, (uint32_t)addrs[i] | bar_type_bits(bar), 4);
		if (bar->kind == PCI_BAR_MEM64)
			pci_config_write_raw(dev, reg + 4, (uint32_t)(addrs[i] >> 32), 4);
		cmd |= bar->kind == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
	}
	snprintf(hb->bar_names[slot][ROM_ENTRY], BAR_NAME_MAX, "%s.rom", dev->name);
	hb->bar_refusal_logged[slot][ROM_ENTRY] = false;
	place_rom(pb, dev);
	/* Decoding from the start, as firmware leaves it: Linux keeps BARs
	 * that were assigned and enabled when they fit the _CRS windows. */
	pci_config_write_raw(dev, PCI_COMMAND, command_of(dev) | cmd, 2);
	pci_config_write_raw(dev, PCI_INTERRUPT_PIN, PCI_INTX_PIN_A, 1);
	pci_config_write_raw(dev, PCI_INTERRUPT_LINE, dev->intx_gsi, 1);
	bars_update_mapping(pb, dev);
out:
	pthread_mutex_unlock(&pb->lock);
	return ret;
}
