/* The PCI host bridge and config space: masks, BAR sizing and placement,
 * decode-driven mapping on real buses, the expansion ROM BAR, the two
 * config mechanisms, the capability list and INTx. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "../../devices/pci/pci.h"

#define IO_START     0xc000ull
#define IO_END       0x10000ull
#define MEM32_START  0xc0000000ull
#define MEM32_END    0xe0000000ull
#define MEM64_START  0x1000000000ull   /* 64 GiB */
#define MEM64_END    0x2000000000ull
#define ECAM_BASE    0xe0000000ull
#define ECAM_SIZE    0x10000000ull

#define PROBE_BYTE   0x5a

struct bar_probe {
	int calls;
	uint64_t last_offset;
	bool last_write;
};

struct irq_probe {
	int changes;
	unsigned gsi;
	bool level;
};

struct rig {
	struct bus pio, mmio;
	struct pci_bus pb;
	struct irq_probe irq;
	struct pci_device dev;
	struct bar_probe probes[PCI_NUM_BARS];
	int bar_changes[PCI_NUM_BARS];
	int config_writes;
	uint32_t last_write_offset, last_write_len;
};

static void probe_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			 bool is_write)
{
	struct bar_probe *p = opaque;

	p->calls++;
	p->last_offset = offset;
	p->last_write = is_write;
	if (!is_write)
		memset(data, PROBE_BYTE, len);
}

static void irq_probe_set(void *ctx, unsigned gsi, bool level)
{
	struct irq_probe *irq = ctx;

	irq->changes++;
	irq->gsi = gsi;
	irq->level = level;
}

static void rig_bar_changed(struct pci_device *dev, unsigned bar)
{
	struct rig *r = dev->opaque;

	if (bar < PCI_NUM_BARS)
		r->bar_changes[bar]++;
}

static void rig_config_write(struct pci_device *dev, uint32_t offset, uint32_t len)
{
	struct rig *r = dev->opaque;

	r->config_writes++;
	r->last_write_offset = offset;
	r->last_write_len = len;
}

static const struct pci_device_ops rig_ops = {
	.config_write = rig_config_write,
	.bar_changed = rig_bar_changed,
};

static const struct pci_windows default_windows = {
	.io_start = IO_START, .io_end = IO_END,
	.mem32_start = MEM32_START, .mem32_end = MEM32_END,
	.mem64_start = MEM64_START, .mem64_end = MEM64_END,
};

/* A bus and one device: BAR0 4 KiB MEM32, BAR1 32 bytes of I/O, BAR2
 * 16 KiB prefetchable MEM64 (BAR2 and BAR3). */
static struct rig *rig_new_with(const struct pci_windows *win, bool add)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct irq_line intx;

	if (!r)
		return NULL;
	intx = (struct irq_line){ irq_probe_set, &r->irq, 0 };
	bus_init(&r->pio, "pio");
	bus_init(&r->mmio, "mmio");
	CHECK_EQ(pci_bus_init(&r->pb, &r->pio, &r->mmio, ECAM_BASE, ECAM_SIZE, win, &intx), 0);
	pci_device_init(&r->dev, "testdev", 0x1af4, 0x1042, 0x018000, 1, 0x1af4, 0x0002);
	r->dev.ops = &rig_ops;
	r->dev.opaque = r;
	CHECK_EQ(pci_device_add_bar(&r->dev, 0, PCI_BAR_MEM32, false, 0x1000,
				    probe_access, &r->probes[0]), 0);
	CHECK_EQ(pci_device_add_bar(&r->dev, 1, PCI_BAR_IO, false, 32,
				    probe_access, &r->probes[1]), 0);
	CHECK_EQ(pci_device_add_bar(&r->dev, 2, PCI_BAR_MEM64, true, 0x4000,
				    probe_access, &r->probes[2]), 0);
	if (add)
		CHECK_EQ(pci_bus_add_device(&r->pb, &r->dev), 0);
	return r;
}

static struct rig *rig_new(void)
{
	return rig_new_with(&default_windows, true);
}

static void rig_free(struct rig *r)
{
	if (!r)
		return;
	pci_bus_destroy(&r->pb);
	bus_destroy(&r->pio);
	bus_destroy(&r->mmio);
	free(r);
}

static uint16_t bdf_of(unsigned slot)
{
	return (uint16_t)(slot << 3);
}

static uint32_t cfg_read(struct rig *r, uint32_t offset, unsigned len)
{
	return pci_bus_config_read(&r->pb, bdf_of(r->dev.slot), offset, len);
}

static void cfg_write(struct rig *r, uint32_t offset, uint32_t value, unsigned len)
{
	pci_bus_config_write(&r->pb, bdf_of(r->dev.slot), offset, value, len);
}

/* Whether an access at addr reaches the BAR's handler. */
static bool reaches(struct bus *bus, struct bar_probe *p, uint64_t addr)
{
	uint8_t data[4] = { 0 };
	int before = p->calls;

	bus_dispatch(bus, addr, data, 4, false);
	return p->calls == before + 1 && data[0] == PROBE_BYTE;
}

static void test_host_bridge(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	CHECK_EQ(pci_bus_config_read(&r->pb, 0, PCI_VENDOR_ID, 2), 0x8086);
	CHECK_EQ(pci_bus_config_read(&r->pb, 0, PCI_REVISION_ID, 4) >> 8, 0x060000);
	CHECK_EQ(pci_bus_config_read(&r->pb, 0, PCI_HEADER_TYPE, 1), 0);
	CHECK_EQ(pci_bus_config_read(&r->pb, 0, PCI_INTERRUPT_PIN, 1), 0);
	CHECK_EQ(r->dev.slot, 1);
	CHECK(r->pb.slots[1] == &r->dev);
	CHECK(r->dev.bus == &r->pb);
	/* Linux toggles INTx disable on every function, the host bridge
	 * (no INTx pin) included: that must drive no line at all. */
	pci_bus_config_write(&r->pb, 0, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
	pci_bus_config_write(&r->pb, 0, PCI_COMMAND, 0, 2);
	CHECK_EQ(pci_bus_config_read(&r->pb, 0, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE, 0);
	rig_free(r);
}

static void test_config_masks(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	/* Identity is read-only. */
	cfg_write(r, PCI_VENDOR_ID, 0x12345678, 4);
	CHECK_EQ(cfg_read(r, PCI_VENDOR_ID, 2), 0x1af4);
	CHECK_EQ(cfg_read(r, PCI_DEVICE_ID, 2), 0x1042);
	cfg_write(r, PCI_REVISION_ID, 0xffffffff, 4);
	CHECK_EQ(cfg_read(r, PCI_REVISION_ID, 4), 0x01800001);
	cfg_write(r, PCI_SUBSYSTEM_VENDOR_ID, 0, 4);
	CHECK_EQ(cfg_read(r, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x00021af4);
	cfg_write(r, PCI_INTERRUPT_PIN, 4, 1);
	CHECK_EQ(cfg_read(r, PCI_INTERRUPT_PIN, 1), 1);
	cfg_write(r, PCI_HEADER_TYPE, 0x80, 1);
	CHECK_EQ(cfg_read(r, PCI_HEADER_TYPE, 1), 0);
	cfg_write(r, 0x30, 0xffffffff, 4);  /* no expansion ROM */
	CHECK_EQ(cfg_read(r, 0x30, 4), 0);

	/* Only the implemented command bits stick. */
	cfg_write(r, PCI_COMMAND, 0xffff, 2);
	CHECK_EQ(cfg_read(r, PCI_COMMAND, 2), 0x0547);
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 2);
	CHECK_EQ(cfg_read(r, PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_IO);

	/* Status error bits clear when written with 1, nothing else changes. */
	pci_config_write_raw(&r->dev, PCI_STATUS, 0x8000 | 0x2000, 2);
	cfg_write(r, PCI_STATUS, 0x0000, 2);
	CHECK_EQ(cfg_read(r, PCI_STATUS, 2), 0xa000);
	cfg_write(r, PCI_STATUS, 0x8000 | 0x0018, 2);
	CHECK_EQ(cfg_read(r, PCI_STATUS, 2), 0x2000);
	/* A dword write to command/status: command takes, status w1c. */
	cfg_write(r, PCI_COMMAND, 0x20000003, 4);
	CHECK_EQ(cfg_read(r, PCI_STATUS, 2), 0);
	CHECK_EQ(cfg_read(r, PCI_COMMAND, 2), 3);

	/* The interrupt line is the OS's scratch byte. */
	cfg_write(r, PCI_INTERRUPT_LINE, 0x0b, 1);
	CHECK_EQ(cfg_read(r, PCI_INTERRUPT_LINE, 1), 0x0b);
	CHECK_EQ(cfg_read(r, PCI_INTERRUPT_PIN, 1), 1);

	/* The device hears about every write, after the masking. */
	r->config_writes = 0;
	cfg_write(r, 0x40, 0xabcd, 2);
	CHECK_EQ(r->config_writes, 1);
	CHECK_EQ(r->last_write_offset, 0x40);
	CHECK_EQ(r->last_write_len, 2);
	CHECK_EQ(cfg_read(r, 0x40, 2), 0);
	rig_free(r);
}

static void test_firmware_placement(void)
{
	struct rig *r = rig_new();
	struct pci_windows no64 = default_windows;
	struct rig *r2;

	if (!r)
		return;
	CHECK_EQ(r->dev.bars[0].addr % 0x1000, 0);
	CHECK(r->dev.bars[0].addr >= MEM32_START && r->dev.bars[0].addr < MEM32_END);
	CHECK(r->dev.bars[1].addr >= IO_START && r->dev.bars[1].addr < IO_END);
	CHECK_EQ(r->dev.bars[1].addr % 32, 0);
	CHECK(r->dev.bars[2].addr >= MEM64_START && r->dev.bars[2].addr < MEM64_END);
	CHECK_EQ(r->dev.bars[2].addr % 0x4000, 0);
	CHECK(r->dev.bars[0].mapped && r->dev.bars[1].mapped && r->dev.bars[2].mapped);

	CHECK_EQ(cfg_read(r, PCI_BAR0, 4), r->dev.bars[0].addr);
	CHECK_EQ(cfg_read(r, PCI_BAR0 + 4, 4), r->dev.bars[1].addr | 1);
	CHECK_EQ(cfg_read(r, PCI_BAR0 + 8, 4), (uint32_t)r->dev.bars[2].addr | 0xc);
	CHECK_EQ(cfg_read(r, PCI_BAR0 + 12, 4), r->dev.bars[2].addr >> 32);
	CHECK_EQ(cfg_read(r, PCI_COMMAND, 2), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	CHECK_EQ(cfg_read(r, PCI_INTERRUPT_PIN, 1), 1);
	CHECK_EQ(cfg_read(r, PCI_INTERRUPT_LINE, 1), 17);
	CHECK_EQ(r->dev.intx_gsi, 17);
	CHECK(reaches(&r->mmio, &r->probes[0], r->dev.bars[0].addr + 0x10));
	CHECK_EQ(r->probes[0].last_offset, 0x10);
	CHECK(reaches(&r->pio, &r->probes[1], r->dev.bars[1].addr + 3));
	CHECK(reaches(&r->mmio, &r->probes[2], r->dev.bars[2].addr + 0x3ffc));

	/* Without a 64-bit window, 64-bit BARs go below 4 GiB. */
	no64.mem64_start = no64.mem64_end = 0;
	r2 = rig_new_with(&no64, true);
	if (r2) {
		CHECK(r2->dev.bars[2].addr >= MEM32_START && r2->dev.bars[2].addr < MEM32_END);
		CHECK_EQ(r2->dev.bars[2].addr % 0x4000, 0);
		CHECK(r2->dev.bars[2].addr != r2->dev.bars[0].addr);
		CHECK(r2->dev.bars[2].mapped);
		CHECK_EQ(pci_bus_config_read(&r2->pb, bdf_of(1), PCI_BAR0 + 12, 4), 0);
	}
	rig_free(r2);
	rig_free(r);
}

static void test_slot_swizzle(void)
{
	for (unsigned slot = 0; slot < PCI_MAX_SLOTS; slot++)
		CHECK_EQ(pci_slot_intx_gsi(slot), 16 + slot % 8);
}

static void test_bar_sizing(void)
{
	struct rig *r = rig_new();
	uint32_t saved[4];

	if (!r)
		return;
	/* The OS turns decode off while it sizes. */
	cfg_write(r, PCI_COMMAND, 0, 2);
	for (unsigned i = 0; i < 4; i++)
		saved[i] = cfg_read(r, PCI_BAR0 + 4 * i, 4);
	for (unsigned i = 0; i < 6; i++)
		cfg_write(r, PCI_BAR0 + 4 * i, 0xffffffff, 4);
	CHECK_EQ(cfg_read(r, PCI_BAR0, 4), 0xfffff000);       /* 4 KiB, mem32 */
	CHECK_EQ(cfg_read(r, PCI_BAR0 + 4, 4), 0xffffffe1);   /* 32 bytes, I/O */
	CHECK_EQ(cfg_read(r, PCI_BAR0 + 8, 4), 0xffffc00c);   /* 16 KiB, 64-bit, prefetchable */
	CHECK_EQ(cfg_read(r, PCI_BAR0 + 12, 4), 0xffffffff);
	CHECK_EQ(cfg_read(r, PCI_BAR0 + 16, 4), 0);           /* unused */
	CHECK_EQ(cfg_read(r, PCI_BAR0 + 20, 4), 0);
	CHECK(!r->dev.bars[0].mapped && !r->dev.bars[1].mapped && !r->dev.bars[2].mapped);
	/* Sizing with decode on must not map the all-ones address either. */
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
	CHECK(!r->dev.bars[0].mapped && !r->dev.bars[1].mapped && !r->dev.bars[2].mapped);
	cfg_write(r, PCI_COMMAND, 0, 2);
	/* Low type bits stay whatever is written. */
	cfg_write(r, PCI_BAR0, 0, 4);
	CHECK_EQ(cfg_read(r, PCI_BAR0, 4), 0);
	cfg_write(r, PCI_BAR0 + 4, 0, 4);
	CHECK_EQ(cfg_read(r, PCI_BAR0 + 4, 4), 1);
	for (unsigned i = 0; i < 4; i++)
		cfg_write(r, PCI_BAR0 + 4 * i, saved[i], 4);
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
	CHECK(r->dev.bars[0].mapped && r->dev.bars[1].mapped && r->dev.bars[2].mapped);
	rig_free(r);
}

static void test_bar_sizing_over_4g(void)
{
	struct rig *r = rig_new_with(&default_windows, false);
	struct bar_probe big = { 0 };
	uint16_t bdf;

	if (!r)
		return;
	CHECK_EQ(pci_device_add_bar(&r->dev, 4, PCI_BAR_MEM64, false, 8ull << 30,
				    probe_access, &big), 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, &r->dev), 0);
	bdf = bdf_of(r->dev.slot);
	CHECK_EQ(r->dev.bars[4].addr % (8ull << 30), 0);
	CHECK(r->dev.bars[4].addr >= MEM64_START);
	CHECK(r->dev.bars[4].mapped);
	pci_bus_config_write(&r->pb, bdf, PCI_COMMAND, 0, 2);
	pci_bus_config_write(&r->pb, bdf, PCI_BAR0 + 16, 0xffffffff, 4);
	pci_bus_config_write(&r->pb, bdf, PCI_BAR0 + 20, 0xffffffff, 4);
	CHECK_EQ(pci_bus_config_read(&r->pb, bdf, PCI_BAR0 + 16, 4), 0x00000004);
	CHECK_EQ(pci_bus_config_read(&r->pb, bdf, PCI_BAR0 + 20, 4), 0xfffffffe);
	rig_free(r);
}

static void test_decode_maps_and_unmaps(void)
{
	struct rig *r = rig_new();
	uint64_t mem, io, mem64, moved;

	if (!r)
		return;
	mem = r->dev.bars[0].addr;
	io = r->dev.bars[1].addr;
	mem64 = r->dev.bars[2].addr;
	memset(r->bar_changes, 0, sizeof(r->bar_changes));

	/* Memory decode off: the memory BARs go away, I/O stays. */
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_IO, 2);
	CHECK(!reaches(&r->mmio, &r->probes[0], mem));
	CHECK(!reaches(&r->mmio, &r->probes[2], mem64));
	CHECK(reaches(&r->pio, &r->probes[1], io));
	CHECK(!r->dev.bars[0].mapped);
	CHECK_EQ(r->bar_changes[0], 1);
	CHECK_EQ(r->bar_changes[1], 0);
	CHECK_EQ(r->bar_changes[2], 1);

	/* Moved while off: nothing answers until decode is back, and then
	 * only the new address. */
	moved = MEM32_START + 0x100000;
	cfg_write(r, PCI_BAR0, (uint32_t)moved, 4);
	CHECK_EQ(r->dev.bars[0].addr, moved);
	CHECK(!reaches(&r->mmio, &r->probes[0], moved));
	CHECK_EQ(r->bar_changes[0], 1);
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
	CHECK(reaches(&r->mmio, &r->probes[0], moved + 4));
	CHECK_EQ(r->probes[0].last_offset, 4);
	CHECK(!reaches(&r->mmio, &r->probes[0], mem));
	CHECK(reaches(&r->mmio, &r->probes[2], mem64));
	CHECK_EQ(r->bar_changes[0], 2);

	/* Moved while on: follows at once. */
	cfg_write(r, PCI_BAR0, (uint32_t)(moved + 0x1000), 4);
	CHECK(reaches(&r->mmio, &r->probes[0], moved + 0x1000));
	CHECK(!reaches(&r->mmio, &r->probes[0], moved));
	CHECK_EQ(r->bar_changes[0], 3);

	/* A 64-bit BAR moves with its high dword. */
	cfg_write(r, PCI_BAR0 + 12, (uint32_t)((MEM64_START + 0x100000000ull) >> 32), 4);
	CHECK(!reaches(&r->mmio, &r->probes[2], mem64));
	CHECK(reaches(&r->mmio, &r->probes[2], mem64 + 0x100000000ull));
	/* ... and can live in the 32-bit window too. */
	cfg_write(r, PCI_BAR0 + 8, (uint32_t)(MEM32_START + 0x200000) | 0xc, 4);
	cfg_write(r, PCI_BAR0 + 12, 0, 4);
	CHECK(reaches(&r->mmio, &r->probes[2], MEM32_START + 0x200000));
	CHECK_EQ(r->dev.bars[2].addr, MEM32_START + 0x200000);

	/* I/O decode off and on, and an I/O BAR move. */
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	CHECK(!reaches(&r->pio, &r->probes[1], io));
	cfg_write(r, PCI_BAR0 + 4, 0xd000, 4);
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
	CHECK(reaches(&r->pio, &r->probes[1], 0xd01f));
	CHECK(!reaches(&r->pio, &r->probes[1], io));

	/* A BAR outside the windows (over RAM, at 0, straddling the end)
	 * stays unmapped. */
	cfg_write(r, PCI_BAR0, 0x100000, 4);
	CHECK(!r->dev.bars[0].mapped);
	CHECK(!reaches(&r->mmio, &r->probes[0], 0x100000));
	cfg_write(r, PCI_BAR0, 0, 4);
	CHECK(!r->dev.bars[0].mapped);
	cfg_write(r, PCI_BAR0, (uint32_t)(MEM32_END - 0x1000), 4);
	CHECK(r->dev.bars[0].mapped);
	cfg_write(r, PCI_BAR0 + 4, 0x100, 4);
	CHECK(!r->dev.bars[1].mapped);
	cfg_write(r, PCI_BAR0 + 4, (uint32_t)(IO_END - 32), 4);
	CHECK(r->dev.bars[1].mapped);
	CHECK(reaches(&r->pio, &r->probes[1], IO_END - 1));
	rig_free(r);
}

static void test_bar_overlap_refused(void)
{
	struct rig *r = rig_new();
	struct bar_probe other = { 0 };
	uint64_t squatted = MEM32_START + 0x800000;
	int changes;

	if (!r)
		return;
	CHECK_EQ(bus_register(&r->mmio, squatted, 0x2000, "squatter", probe_access, &other), 0);
	changes = r->bar_changes[0];
	cfg_write(r, PCI_BAR0, (uint32_t)squatted + 0x1000, 4);
	CHECK(!r->dev.bars[0].mapped);
	CHECK_EQ(r->bar_changes[0], changes + 1);  /* unmapped from the old place */
	CHECK(reaches(&r->mmio, &other, squatted + 0x1000));
	CHECK(!reaches(&r->mmio, &r->probes[0], squatted + 0x1000));
	/* Refused again (quietly), then a free address maps. */
	cfg_write(r, PCI_BAR0, (uint32_t)squatted, 4);
	CHECK(!r->dev.bars[0].mapped);
	cfg_write(r, PCI_BAR0, (uint32_t)squatted + 0x2000, 4);
	CHECK(r->dev.bars[0].mapped);
	CHECK(reaches(&r->mmio, &r->probes[0], squatted + 0x2000));
	/* Two BARs of the bus cannot overlap either. */
	cfg_write(r, PCI_BAR0 + 8, ((uint32_t)squatted + 0x2000) | 0xc, 4);
	cfg_write(r, PCI_BAR0 + 12, 0, 4);
	CHECK(!r->dev.bars[2].mapped);
	CHECK(reaches(&r->mmio, &r->probes[0], squatted + 0x2000));
	rig_free(r);
}

/* ---- the expansion ROM BAR ---- */

#define ROM_SIZE  0x10000ull

static void test_rom_bar(void)
{
	struct rig *r = rig_new_with(&default_windows, false);
	struct bar_probe rom = { 0 };
	uint64_t addr, moved = MEM32_START + 0x400000;
	int bar_changes;

	if (!r)
		return;
	/* Without a ROM the register reads zero and takes nothing. */
	CHECK_EQ(pci_config_read(&r->dev, PCI_ROM_ADDRESS, 4), 0);
	CHECK_EQ(pci_device_add_rom(&r->dev, ROM_SIZE, probe_access, &rom), 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, &r->dev), 0);

	/* Placed by firmware in the 32-bit window, aligned, disabled. */
	addr = cfg_read(r, PCI_ROM_ADDRESS, 4);
	CHECK(addr >= MEM32_START && addr < MEM32_END);
	CHECK_EQ(addr % ROM_SIZE, 0);
	CHECK(addr != r->dev.bars[0].addr);
	CHECK(!r->dev.rom.mapped);
	CHECK(!reaches(&r->mmio, &rom, addr));

	/* Enabled (memory decode is on): the guest reads it. */
	cfg_write(r, PCI_ROM_ADDRESS, (uint32_t)addr | PCI_ROM_ADDRESS_ENABLE, 4);
	CHECK_EQ(cfg_read(r, PCI_ROM_ADDRESS, 4), addr | PCI_ROM_ADDRESS_ENABLE);
	CHECK(r->dev.rom.mapped);
	CHECK(reaches(&r->mmio, &rom, addr + 0x10));
	CHECK_EQ(rom.last_offset, 0x10);

	/* Memory decode off takes it away; on brings it back. */
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_IO, 2);
	CHECK(!reaches(&r->mmio, &rom, addr));
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
	CHECK(reaches(&r->mmio, &rom, addr));
	bar_changes = r->bar_changes[0] + r->bar_changes[1] + r->bar_changes[2];

	/* Moved while enabled: follows at once. */
	cfg_write(r, PCI_ROM_ADDRESS, (uint32_t)moved | PCI_ROM_ADDRESS_ENABLE, 4);
	CHECK(reaches(&r->mmio, &rom, moved + ROM_SIZE - 4));
	CHECK(!reaches(&r->mmio, &rom, addr));

	/* Its own enable bit off: gone, while the BARs stay. */
	cfg_write(r, PCI_ROM_ADDRESS, (uint32_t)moved, 4);
	CHECK(!r->dev.rom.mapped);
	CHECK(!reaches(&r->mmio, &rom, moved));
	CHECK(reaches(&r->mmio, &r->probes[0], r->dev.bars[0].addr));

	/* Sizing: the address bits below the size stay zero; the enable bit
	 * is kept. The all-ones address is outside the windows: not mapped. */
	cfg_write(r, PCI_ROM_ADDRESS, ~PCI_ROM_ADDRESS_ENABLE, 4);
	CHECK_EQ(cfg_read(r, PCI_ROM_ADDRESS, 4), (uint32_t)~(ROM_SIZE - 1));
	cfg_write(r, PCI_ROM_ADDRESS, 0xffffffff, 4);
	CHECK_EQ(cfg_read(r, PCI_ROM_ADDRESS, 4), (uint32_t)~(ROM_SIZE - 1) | PCI_ROM_ADDRESS_ENABLE);
	CHECK(!r->dev.rom.mapped);
	/* Enabled at 0 or over RAM: not mapped either. */
	cfg_write(r, PCI_ROM_ADDRESS, PCI_ROM_ADDRESS_ENABLE, 4);
	CHECK(!r->dev.rom.mapped);
	cfg_write(r, PCI_ROM_ADDRESS, 0x100000 | PCI_ROM_ADDRESS_ENABLE, 4);
	CHECK(!r->dev.rom.mapped);

	/* Nothing of that was a bar_changed: the ROM is never one. */
	CHECK_EQ(r->bar_changes[0] + r->bar_changes[1] + r->bar_changes[2], bar_changes);

	/* Destroying the bus takes it off. */
	cfg_write(r, PCI_ROM_ADDRESS, (uint32_t)addr | PCI_ROM_ADDRESS_ENABLE, 4);
	CHECK(r->dev.rom.mapped);
	pci_bus_destroy(&r->pb);
	CHECK(!r->dev.rom.mapped);
	CHECK_EQ(r->mmio.nr_ranges, 0);
	bus_destroy(&r->pio);
	bus_destroy(&r->mmio);
	free(r);
}

static void test_rom_errors_and_no_room(void)
{
	struct pci_windows tiny = default_windows;
	struct bar_probe p = { 0 };
	struct pci_device dev;
	struct rig *r;

	pci_device_init(&dev, "x", 1, 2, 0, 0, 0, 0);
	CHECK_EQ(pci_device_add_rom(&dev, 0x3000, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_rom(&dev, 0x800, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_rom(&dev, 0, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_rom(&dev, 1ull << 32, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_rom(&dev, 0x1000, NULL, &p), -EINVAL);
	CHECK_EQ(pci_device_add_rom(&dev, 0x1000, probe_access, &p), 0);
	CHECK_EQ(pci_device_add_rom(&dev, 0x1000, probe_access, &p), -EINVAL);

	/* A ROM that does not fit after the BARs is left for the guest to
	 * place; the device is still added. */
	tiny.mem32_end = tiny.mem32_start + 0x8000;
	tiny.mem64_start = tiny.mem64_end = 0;
	r = rig_new_with(&tiny, false);
	if (!r)
		return;
	CHECK_EQ(pci_device_add_rom(&r->dev, ROM_SIZE, probe_access, &p), 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, &r->dev), 0);
	CHECK_EQ(cfg_read(r, PCI_ROM_ADDRESS, 4), 0);
	CHECK(r->dev.bars[0].mapped && r->dev.bars[2].mapped);
	rig_free(r);
}

/* ---- config mechanism #1 ---- */

static void pio_write(struct rig *r, uint16_t port, uint32_t value, unsigned len)
{
	uint8_t data[4];

	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(value >> (8 * i));
	CHECK(bus_dispatch(&r->pio, port, data, len, true));
}

static uint32_t pio_read(struct rig *r, uint16_t port, unsigned len)
{
	uint8_t data[4] = { 0 };
	uint32_t value = 0;

	CHECK(bus_dispatch(&r->pio, port, data, len, false));
	for (unsigned i = 0; i < len; i++)
		value |= (uint32_t)data[i] << (8 * i);
	return value;
}

static uint32_t conf1_address(unsigned bus, unsigned slot, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | slot << 11 | fn << 8 | reg;
}

static void test_conf1(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	/* The latch reads back (the type-1 probe every OS does). */
	pio_write(r, 0xcf8, 0x80000000, 4);
	CHECK_EQ(pio_read(r, 0xcf8, 4), 0x80000000);
	pio_write(r, 0xcf8, 0xffffffff, 4);
	CHECK_EQ(pio_read(r, 0xcf8, 4), 0x80fffffc);
	/* Only a dword at 0xcf8 touches the latch. */
	pio_write(r, 0xcf8, conf1_address(0, 1, 0, 0), 4);
	pio_write(r, 0xcfb, 0x01, 1);
	pio_write(r, 0xcf8, 0, 2);
	CHECK_EQ(pio_read(r, 0xcf8, 4), conf1_address(0, 1, 0, 0));
	CHECK_EQ(pio_read(r, 0xcf9, 1), 0xff);

	CHECK_EQ(pio_read(r, 0xcfc, 4), 0x10421af4);
	CHECK_EQ(pio_read(r, 0xcfc, 2), 0x1af4);
	CHECK_EQ(pio_read(r, 0xcfe, 2), 0x1042);
	CHECK_EQ(pio_read(r, 0xcfc, 1), 0xf4);
	CHECK_EQ(pio_read(r, 0xcfd, 1), 0x1a);
	CHECK_EQ(pio_read(r, 0xcfe, 1), 0x42);
	CHECK_EQ(pio_read(r, 0xcff, 1), 0x10);
	/* Unaligned in the window: not a config access. */
	CHECK_EQ(pio_read(r, 0xcfd, 2), 0xffff);
	CHECK_EQ(pio_read(r, 0xcfe, 4), 0xffffffff);

	/* Register bits 7:2 pick the dword; the port the byte. */
	pio_write(r, 0xcf8, conf1_address(0, 1, 0, PCI_CLASS_PROG & ~3u), 4);
	CHECK_EQ(pio_read(r, 0xcfd, 1), 0x00);
	CHECK_EQ(pio_read(r, 0xcff, 1), 0x01);
	/* Writes through the window, byte and word. */
	pio_write(r, 0xcf8, conf1_address(0, 1, 0, PCI_INTERRUPT_LINE), 4);
	pio_write(r, 0xcfc, 0x0a, 1);
	CHECK_EQ(pio_read(r, 0xcfc, 4) & 0xffff, 0x010a);
	pio_write(r, 0xcf8, conf1_address(0, 1, 0, PCI_COMMAND), 4);
	pio_write(r, 0xcfc, 0, 2);
	CHECK(!r->dev.bars[0].mapped);
	pio_write(r, 0xcfc, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 4);
	CHECK(r->dev.bars[0].mapped);

	/* Without the enable bit: nothing. */
	pio_write(r, 0xcf8, conf1_address(0, 1, 0, 0) & ~0x80000000u, 4);
	CHECK_EQ(pio_read(r, 0xcfc, 4), 0xffffffff);
	pio_write(r, 0xcfc, 0, 2);
	CHECK_EQ(pci_bus_config_read(&r->pb, bdf_of(1), PCI_VENDOR_ID, 2), 0x1af4);
	/* Functions and buses that do not exist. */
	pio_write(r, 0xcf8, conf1_address(0, 1, 1, 0), 4);
	CHECK_EQ(pio_read(r, 0xcfc, 4), 0xffffffff);
	pio_write(r, 0xcf8, conf1_address(1, 1, 0, 0), 4);
	CHECK_EQ(pio_read(r, 0xcfc, 2), 0xffff);
	pio_write(r, 0xcf8, conf1_address(0, 5, 0, 0), 4);
	CHECK_EQ(pio_read(r, 0xcfc, 1), 0xff);
	/* The host bridge. */
	pio_write(r, 0xcf8, conf1_address(0, 0, 0, 0), 4);
	CHECK_EQ(pio_read(r, 0xcfc, 2), 0x8086);
	rig_free(r);
}

/* ---- ECAM ---- */

static uint64_t ecam_addr(unsigned bus, unsigned slot, unsigned fn, unsigned reg)
{
	return ECAM_BASE + ((uint64_t)bus << 20 | slot << 15 | fn << 12 | reg);
}

static uint64_t mmio_read(struct rig *r, uint64_t addr, unsigned len)
{
	uint8_t data[8] = { 0 };
	uint64_t value = 0;

	CHECK(bus_dispatch(&r->mmio, addr, data, len, false));
	for (unsigned i = 0; i < len; i++)
		value |= (uint64_t)data[i] << (8 * i);
	return value;
}

static void mmio_write(struct rig *r, uint64_t addr, uint64_t value, unsigned len)
{
	uint8_t data[8];

	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(value >> (8 * i));
	CHECK(bus_dispatch(&r->mmio, addr, data, len, true));
}

static void test_ecam(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	CHECK_EQ(mmio_read(r, ecam_addr(0, 0, 0, 0), 2), 0x8086);
	CHECK_EQ(mmio_read(r, ecam_addr(0, 1, 0, 0), 4), 0x10421af4);
	CHECK_EQ(mmio_read(r, ecam_addr(0, 1, 0, 2), 2), 0x1042);
	CHECK_EQ(mmio_read(r, ecam_addr(0, 1, 0, 0xb), 1), 0x01);
	/* Extended config space exists, empty. */
	CHECK_EQ(mmio_read(r, ecam_addr(0, 1, 0, 0x100), 4), 0);
	CHECK_EQ(mmio_read(r, ecam_addr(0, 1, 0, 0xffc), 4), 0);
	/* Nobody there. */
	CHECK_EQ(mmio_read(r, ecam_addr(0, 2, 0, 0), 4), 0xffffffff);
	CHECK_EQ(mmio_read(r, ecam_addr(0, 1, 3, 0), 4), 0xffffffff);
	CHECK_EQ(mmio_read(r, ecam_addr(7, 1, 0, 0), 2), 0xffff);
	CHECK_EQ(mmio_read(r, ecam_addr(255, 31, 7, 0xffc), 4), 0xffffffff);
	/* Odd sizes and alignments read all ones and write nothing. */
	CHECK_EQ(mmio_read(r, ecam_addr(0, 1, 0, 1), 2), 0xffff);
	CHECK_EQ(mmio_read(r, ecam_addr(0, 1, 0, 2), 4), 0xffffffff);
	CHECK_EQ(mmio_read(r, ecam_addr(0, 1, 0, 0), 8), 0xffffffffffffffffull);
	mmio_write(r, ecam_addr(0, 1, 0, PCI_COMMAND), 0, 8);
	mmio_write(r, ecam_addr(0, 1, 0, PCI_COMMAND + 1), 0, 2);
	CHECK(r->dev.bars[0].mapped);
	/* Writes. */
	mmio_write(r, ecam_addr(0, 1, 0, PCI_COMMAND), PCI_COMMAND_IO, 2);
	CHECK(!r->dev.bars[0].mapped);
	CHECK(r->dev.bars[1].mapped);
	mmio_write(r, ecam_addr(0, 1, 0, PCI_INTERRUPT_LINE), 0x33, 1);
	CHECK_EQ(cfg_read(r, PCI_INTERRUPT_LINE, 1), 0x33);
	mmio_write(r, ecam_addr(0, 2, 0, PCI_COMMAND), 0xffff, 2);  /* empty slot */
	rig_free(r);
}

static void test_nonexistent_functions(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	for (unsigned slot = 2; slot < PCI_MAX_SLOTS; slot++) {
		CHECK_EQ(pci_bus_config_read(&r->pb, bdf_of(slot), 0, 4), 0xffffffff);
		pci_bus_config_write(&r->pb, bdf_of(slot), PCI_COMMAND, 0xffff, 2);
	}
	for (unsigned fn = 1; fn < 8; fn++)
		CHECK_EQ(pci_bus_config_read(&r->pb, (uint16_t)(bdf_of(1) | fn), 0, 2), 0xffff);
	CHECK_EQ(pci_bus_config_read(&r->pb, 0x100 | bdf_of(1), 0, 1), 0xff);
	/* Out-of-range offsets and sizes. */
	CHECK_EQ(pci_bus_config_read(&r->pb, bdf_of(1), PCI_CONFIG_SIZE, 4), 0xffffffff);
	CHECK_EQ(pci_bus_config_read(&r->pb, bdf_of(1), 0, 3), 0xffffffff);
	CHECK_EQ(pci_bus_config_read(&r->pb, bdf_of(1), 0xffe, 4), 0xffffffff);
	pci_bus_config_write(&r->pb, bdf_of(1), PCI_CONFIG_SIZE - 2, 0, 4);
	pci_bus_config_write(&r->pb, bdf_of(1), 0xffffffff, 0, 1);
	CHECK_EQ(pci_config_read(&r->dev, PCI_CONFIG_SIZE - 2, 4), 0xffffffff);
	pci_config_write_raw(&r->dev, PCI_CONFIG_SIZE - 1, 0xffff, 2);
	rig_free(r);
}

/* ---- capabilities ---- */

static void test_capability_list(void)
{
	struct rig *r = rig_new_with(&default_windows, false);
	static const uint8_t body_a[] = { 1, 2, 3 };
	static const uint8_t body_b[] = { 4, 5, 6, 7, 8, 9, 10 };
	static const uint8_t wmask_b[] = { 0, 0xff, 0x0f, 0, 0, 0, 0 };
	uint8_t big[200] = { 0 };
	uint16_t a, b, c;
	unsigned seen = 0;
	uint8_t ids[3] = { 0 };
	uint32_t ptr;

	if (!r)
		return;
	CHECK_EQ(pci_config_read(&r->dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	a = pci_device_add_capability(&r->dev, PCI_CAP_ID_VNDR, body_a, sizeof(body_a), NULL);
	b = pci_device_add_capability(&r->dev, PCI_CAP_ID_MSIX, body_b, sizeof(body_b), wmask_b);
	c = pci_device_add_capability(&r->dev, PCI_CAP_ID_VNDR, NULL, 0, NULL);
	CHECK_EQ(a, 0x40);
	CHECK_EQ(b, 0x48);  /* 0x40 + 5, rounded up */
	CHECK_EQ(c, 0x54);
	CHECK_EQ(pci_device_add_capability(&r->dev, PCI_CAP_ID_VNDR, big, sizeof(big), NULL), 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, &r->dev), 0);

	CHECK(cfg_read(r, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	ptr = cfg_read(r, PCI_CAPABILITY_LIST, 1);
	while (ptr && seen < 3) {
		CHECK_EQ(ptr % 4, 0);
		CHECK(ptr >= 0x40 && ptr < 0x100);
		ids[seen++] = (uint8_t)cfg_read(r, ptr, 1);
		ptr = cfg_read(r, ptr + 1, 1);
	}
	CHECK_EQ(seen, 3);
	CHECK_EQ(ptr, 0);
	CHECK_EQ(ids[0], PCI_CAP_ID_VNDR);
	CHECK_EQ(ids[1], PCI_CAP_ID_MSIX);
	CHECK_EQ(ids[2], PCI_CAP_ID_VNDR);
	CHECK_EQ(pci_config_read(&r->dev, a + 2, 4) & 0xffffff, 0x030201);

	/* Only the bits the capability's wmask allows take a write. */
	cfg_write(r, b + 2, 0xffff, 2);
	cfg_write(r, b + 4, 0xffff, 2);
	CHECK_EQ(pci_config_read(&r->dev, b + 2, 4), 0x070fff04);
	cfg_write(r, b + 2, 0, 2);
	cfg_write(r, b + 4, 0, 2);
	CHECK_EQ(pci_config_read(&r->dev, b + 2, 4), 0x07000004);
	cfg_write(r, b, 0, 2);
	CHECK_EQ(cfg_read(r, b, 2), (uint32_t)c << 8 | PCI_CAP_ID_MSIX);
	cfg_write(r, PCI_CAPABILITY_LIST, 0, 1);
	CHECK_EQ(cfg_read(r, PCI_CAPABILITY_LIST, 1), 0x40);
	rig_free(r);
}

/* ---- INTx ---- */

static void test_intx(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	pci_device_set_intx(&r->dev, true);
	CHECK_EQ(r->irq.changes, 1);
	CHECK_EQ(r->irq.gsi, 17);
	CHECK(r->irq.level);
	CHECK(cfg_read(r, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* Asserting again changes nothing. */
	pci_device_set_intx(&r->dev, true);
	CHECK_EQ(r->irq.changes, 1);
	/* The guest cannot write the interrupt status bit. */
	cfg_write(r, PCI_STATUS, 0xffff, 2);
	CHECK(cfg_read(r, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);

	/* INTX_DISABLE drops the line, the status bit stays. */
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
		  PCI_COMMAND_INTX_DISABLE, 2);
	CHECK(!r->irq.level);
	CHECK(cfg_read(r, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
	CHECK(r->irq.level);

	pci_device_set_intx(&r->dev, false);
	CHECK(!r->irq.level);
	CHECK_EQ(cfg_read(r, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);

	/* Disabled: the status bit records it, the line stays low... */
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
	r->irq.changes = 0;
	pci_device_set_intx(&r->dev, true);
	CHECK(!r->irq.level);
	CHECK(cfg_read(r, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* ... until the guest enables INTx again. */
	cfg_write(r, PCI_COMMAND, 0, 2);
	CHECK(r->irq.level);
	/* Command writes that leave INTX_DISABLE alone do not touch the line. */
	r->irq.changes = 0;
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
	CHECK_EQ(r->irq.changes, 0);
	pci_device_set_intx(&r->dev, false);
	CHECK(!r->irq.level);

	/* A device not on a bus has no line. */
	{
		struct pci_device lone;

		pci_device_init(&lone, "lone", 1, 2, 0, 0, 0, 0);
		pci_device_set_intx(&lone, true);
	}
	rig_free(r);
}

#define RACE_ROUNDS 20000

static void *intx_toggler(void *arg)
{
	struct rig *r = arg;

	for (int i = 0; i < RACE_ROUNDS; i++)
		pci_device_set_intx(&r->dev, i % 2 == 0);
	pci_device_set_intx(&r->dev, true);
	return NULL;
}

/* A device thread driving INTA# while the guest flips INTX_DISABLE: the
 * line ends up as the final state says, whoever ran last. */
static void test_intx_races_disable(void)
{
	struct rig *r = rig_new();
	pthread_t thread;

	if (!r)
		return;
	CHECK_EQ(pthread_create(&thread, NULL, intx_toggler, r), 0);
	for (int i = 0; i < RACE_ROUNDS / 4; i++)
		cfg_write(r, PCI_COMMAND, i % 2 ? PCI_COMMAND_INTX_DISABLE : 0, 2);
	pthread_join(thread, NULL);
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
	CHECK(!r->irq.level);
	cfg_write(r, PCI_COMMAND, 0, 2);
	CHECK(r->irq.level);
	CHECK(cfg_read(r, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	rig_free(r);
}

/* Slots N and N+8 share a GSI: the line is the OR of their INTA#s, so
 * one function lowering its INTA# must not drop the other's interrupt. */
static void test_intx_shared_gsi(void)
{
	struct rig *r = rig_new();
	struct pci_device fillers[7], b;
	struct bar_probe p = { 0 };

	if (!r)
		return;
	for (unsigned i = 0; i < 7; i++) {
		pci_device_init(&fillers[i], "filler", 1, 2, 0, 0, 0, 0);
		CHECK_EQ(pci_bus_add_device(&r->pb, &fillers[i]), 0);
	}
	pci_device_init(&b, "b", 1, 3, 0, 0, 0, 0);
	CHECK_EQ(pci_device_add_bar(&b, 0, PCI_BAR_MEM32, false, 0x1000, probe_access, &p), 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, &b), 0);
	CHECK_EQ(r->dev.slot, 1);
	CHECK_EQ(b.slot, 9);
	CHECK_EQ(pci_slot_intx_gsi(b.slot), pci_slot_intx_gsi(r->dev.slot));

	/* A raises, B raises then lowers: the line stays high for A. */
	pci_device_set_intx(&r->dev, true);
	CHECK(r->irq.level);
	CHECK_EQ(r->irq.gsi, 17);
	pci_device_set_intx(&b, true);
	CHECK(r->irq.level);
	pci_device_set_intx(&b, false);
	CHECK(r->irq.level);
	CHECK_EQ(r->irq.changes, 1);
	/* Until A lowers too. */
	pci_device_set_intx(&r->dev, false);
	CHECK(!r->irq.level);
	CHECK_EQ(r->irq.changes, 2);

	/* The guest disabling INTx on one function leaves the other's. */
	pci_device_set_intx(&r->dev, true);
	pci_device_set_intx(&b, true);
	pci_bus_config_write(&r->pb, bdf_of(b.slot), PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
	CHECK(r->irq.level);
	cfg_write(r, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
	CHECK(!r->irq.level);
	pci_bus_config_write(&r->pb, bdf_of(b.slot), PCI_COMMAND, 0, 2);
	CHECK(r->irq.level);
	pci_device_set_intx(&b, false);
	CHECK(!r->irq.level);

	/* A function on another GSI does not touch this one. */
	pci_device_set_intx(&b, true);
	pci_device_set_intx(&fillers[0], true);
	CHECK_EQ(r->irq.gsi, 18);
	CHECK(r->irq.level);
	pci_device_set_intx(&fillers[0], false);
	CHECK_EQ(r->irq.gsi, 18);
	CHECK(!r->irq.level);
	rig_free(r);
}

struct shared_toggler {
	struct pci_device *dev;
	int rounds;
};

static void *shared_intx_toggler(void *arg)
{
	struct shared_toggler *t = arg;

	for (int i = 0; i < t->rounds; i++)
		pci_device_set_intx(t->dev, i % 2 == 0);
	pci_device_set_intx(t->dev, false);
	return NULL;
}

/* Two device threads toggling INTA# on one GSI while a third function
 * holds it high: the line never ends low while someone holds it. */
static void test_intx_shared_gsi_races(void)
{
	struct rig *r = rig_new();
	struct pci_device fillers[14], b, holder;
	struct shared_toggler ta, tb;
	pthread_t thread_a, thread_b;

	if (!r)
		return;
	/* Slots 1 (the rig's), 9 (b) and 17 (holder) share GSI 17. */
	for (unsigned i = 0; i < 14; i++) {
		pci_device_init(&fillers[i], "filler", 1, 2, 0, 0, 0, 0);
		CHECK_EQ(pci_bus_add_device(&r->pb, &fillers[i]), 0);
		if (i == 6) {
			pci_device_init(&b, "b", 1, 3, 0, 0, 0, 0);
			CHECK_EQ(pci_bus_add_device(&r->pb, &b), 0);
		}
	}
	pci_device_init(&holder, "holder", 1, 4, 0, 0, 0, 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, &holder), 0);
	CHECK_EQ(b.slot, 9);
	CHECK_EQ(holder.slot, 17);
	pci_device_set_intx(&holder, true);
	ta = (struct shared_toggler){ &r->dev, RACE_ROUNDS };
	tb = (struct shared_toggler){ &b, RACE_ROUNDS };
	CHECK_EQ(pthread_create(&thread_a, NULL, shared_intx_toggler, &ta), 0);
	CHECK_EQ(pthread_create(&thread_b, NULL, shared_intx_toggler, &tb), 0);
	pthread_join(thread_a, NULL);
	pthread_join(thread_b, NULL);
	CHECK(r->irq.level);
	pci_device_set_intx(&holder, false);
	CHECK(!r->irq.level);
	rig_free(r);
}

/* ---- builders and bus errors ---- */

static void test_add_bar_errors(void)
{
	struct pci_device dev;
	struct bar_probe p = { 0 };

	pci_device_init(&dev, "x", 1, 2, 0, 0, 0, 0);
	CHECK_EQ(pci_device_add_bar(&dev, 6, PCI_BAR_MEM32, false, 0x1000, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_MEM32, false, 0x3000, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_MEM32, false, 0x800, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_MEM32, false, 0, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_IO, false, 2, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_IO, false, 512, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_bar(&dev, 5, PCI_BAR_MEM64, false, 0x1000, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_UNUSED, false, 0x1000, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_MEM32, false, 0x1000, NULL, &p), -EINVAL);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_MEM32, false, 1ull << 32, probe_access, &p), -EINVAL);

	CHECK_EQ(pci_device_add_bar(&dev, 1, PCI_BAR_MEM64, false, 0x1000, probe_access, &p), 0);
	CHECK_EQ(pci_device_add_bar(&dev, 1, PCI_BAR_MEM32, false, 0x1000, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_bar(&dev, 2, PCI_BAR_MEM32, false, 0x1000, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_MEM64, false, 0x1000, probe_access, &p), -EINVAL);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_IO, false, 4, probe_access, &p), 0);
	CHECK_EQ(pci_device_add_bar(&dev, 3, PCI_BAR_MEM32, true, 0x1000, probe_access, &p), 0);
	CHECK_EQ(pci_config_read(&dev, PCI_BAR0 + 12, 4), 0x8);
}

static void test_bus_full(void)
{
	struct rig *r = rig_new_with(&default_windows, false);
	struct pci_device *devs;
	struct pci_device extra;
	struct bar_probe p = { 0 };

	if (!r)
		return;
	devs = calloc(PCI_MAX_SLOTS - 1, sizeof(*devs));
	CHECK(devs != NULL);
	if (!devs) {
		rig_free(r);
		return;
	}
	for (unsigned i = 0; i < PCI_MAX_SLOTS - 1; i++) {
		pci_device_init(&devs[i], "filler", 1, 2, 0, 0, 0, 0);
		CHECK_EQ(pci_device_add_bar(&devs[i], 0, PCI_BAR_MEM32, false, 0x1000,
					    probe_access, &p), 0);
		CHECK_EQ(pci_bus_add_device(&r->pb, &devs[i]), 0);
		CHECK_EQ(devs[i].slot, i + 1);
		CHECK_EQ(devs[i].intx_gsi, 16 + (i + 1) % 8);
	}
	pci_device_init(&extra, "extra", 1, 2, 0, 0, 0, 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, &extra), -ENOSPC);
	CHECK_EQ(pci_bus_add_device(&r->pb, &devs[0]), -EINVAL);  /* already added */
	/* Every BAR got its own page. */
	for (unsigned i = 1; i < PCI_MAX_SLOTS - 1; i++)
		CHECK(devs[i].bars[0].addr != devs[i - 1].bars[0].addr);
	rig_free(r);
	free(devs);
}

static void test_windows_exhausted(void)
{
	struct pci_windows tiny = default_windows;
	struct rig *r;
	struct pci_device dev;
	struct bar_probe p = { 0 };
	uint64_t next_mem32;

	tiny.mem32_end = tiny.mem32_start + 0x2000;
	tiny.mem64_start = tiny.mem64_end = 0;
	r = rig_new_with(&tiny, false);
	if (!r)
		return;
	/* 4 KiB + 16 KiB do not fit in 8 KiB: the device is not added and
	 * the window is not consumed. */
	CHECK_EQ(pci_bus_add_device(&r->pb, &r->dev), -ENOSPC);
	CHECK(r->dev.bus == NULL);
	CHECK(r->pb.slots[1] == NULL);
	next_mem32 = r->pb.next_mem32;
	CHECK_EQ(next_mem32, MEM32_START);
	pci_device_init(&dev, "small", 1, 2, 0, 0, 0, 0);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_MEM32, false, 0x2000, probe_access, &p), 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, &dev), 0);
	CHECK_EQ(dev.bars[0].addr, MEM32_START);
	rig_free(r);
}

static void test_init_errors(void)
{
	struct bus pio, mmio;
	struct pci_bus pb;
	struct pci_windows bad = default_windows;
	struct bar_probe p = { 0 };

	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	CHECK_EQ(pci_bus_init(&pb, &pio, &mmio, ECAM_BASE, 0, &default_windows, NULL), -EINVAL);
	CHECK_EQ(pci_bus_init(&pb, &pio, &mmio, ECAM_BASE + 0x1000, ECAM_SIZE,
			      &default_windows, NULL), -EINVAL);
	CHECK_EQ(pci_bus_init(&pb, &pio, &mmio, ECAM_BASE, ECAM_SIZE * 2,
			      &default_windows, NULL), -EINVAL);
	bad.io_end = 0x20000;
	CHECK_EQ(pci_bus_init(&pb, &pio, &mmio, ECAM_BASE, ECAM_SIZE, &bad, NULL), -EINVAL);
	bad = default_windows;
	bad.mem32_end = 0x100001000ull;
	CHECK_EQ(pci_bus_init(&pb, &pio, &mmio, ECAM_BASE, ECAM_SIZE, &bad, NULL), -EINVAL);

	/* Something already on 0xcf8 or the ECAM range: refused, and the
	 * buses are left as they were. */
	CHECK_EQ(bus_register(&pio, 0xcfc, 1, "in-the-way", probe_access, &p), 0);
	CHECK_EQ(pci_bus_init(&pb, &pio, &mmio, ECAM_BASE, ECAM_SIZE, &default_windows, NULL),
		 -EEXIST);
	CHECK_EQ(pio.nr_ranges, 1);
	CHECK_EQ(mmio.nr_ranges, 0);
	CHECK_EQ(bus_unregister(&pio, 0xcfc), 0);
	CHECK_EQ(bus_register(&mmio, ECAM_BASE + ECAM_SIZE - 1, 1, "in-the-way", probe_access, &p), 0);
	CHECK_EQ(pci_bus_init(&pb, &pio, &mmio, ECAM_BASE, ECAM_SIZE, &default_windows, NULL),
		 -EEXIST);
	CHECK_EQ(pio.nr_ranges, 0);
	CHECK_EQ(mmio.nr_ranges, 1);
	pci_bus_destroy(&pb);  /* harmless after a failed init */
	CHECK_EQ(bus_unregister(&mmio, ECAM_BASE + ECAM_SIZE - 1), 0);

	/* A clean init and destroy leave nothing behind. */
	CHECK_EQ(pci_bus_init(&pb, &pio, &mmio, ECAM_BASE, ECAM_SIZE, &default_windows, NULL), 0);
	CHECK_EQ(pio.nr_ranges, 1);
	CHECK_EQ(mmio.nr_ranges, 1);
	pci_bus_destroy(&pb);
	CHECK_EQ(pio.nr_ranges, 0);
	CHECK_EQ(mmio.nr_ranges, 0);
	bus_destroy(&pio);
	bus_destroy(&mmio);
}

static void test_destroy_unmaps_bars(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	CHECK_EQ(r->pio.nr_ranges, 2);   /* conf1, BAR1 */
	CHECK_EQ(r->mmio.nr_ranges, 3);  /* ECAM, BAR0, BAR2 */
	pci_bus_destroy(&r->pb);
	CHECK_EQ(r->pio.nr_ranges, 0);
	CHECK_EQ(r->mmio.nr_ranges, 0);
	CHECK(!r->dev.bars[0].mapped);
	CHECK(r->dev.bus == NULL);
	bus_destroy(&r->pio);
	bus_destroy(&r->mmio);
	free(r);
}

TEST_MAIN("pci",
	TEST_CASE(test_host_bridge),
	TEST_CASE(test_config_masks),
	TEST_CASE(test_firmware_placement),
	TEST_CASE(test_slot_swizzle),
	TEST_CASE(test_bar_sizing),
	TEST_CASE(test_bar_sizing_over_4g),
	TEST_CASE(test_decode_maps_and_unmaps),
	TEST_CASE(test_bar_overlap_refused),
	TEST_CASE(test_rom_bar),
	TEST_CASE(test_rom_errors_and_no_room),
	TEST_CASE(test_conf1),
	TEST_CASE(test_ecam),
	TEST_CASE(test_nonexistent_functions),
	TEST_CASE(test_capability_list),
	TEST_CASE(test_intx),
	TEST_CASE(test_intx_races_disable),
	TEST_CASE(test_intx_shared_gsi),
	TEST_CASE(test_intx_shared_gsi_races),
	TEST_CASE(test_add_bar_errors),
	TEST_CASE(test_bus_full),
	TEST_CASE(test_windows_exhausted),
	TEST_CASE(test_init_errors),
	TEST_CASE(test_destroy_unmaps_bars),
)
