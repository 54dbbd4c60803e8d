/* Config space of a passed-through function against a fake config
 * region: what is emulated and what reaches the device, BAR sizing,
 * the expansion ROM BAR (with a fake ROM region behind it), the command
 * register, the MSI and MSI-X capabilities (MSI's per-vector mask and
 * pending registers with the interrupt code and a fake KVM behind them),
 * and hostile accesses. */
#include "check.h"

#include <errno.h>
#include <linux/vfio.h>

#include "fake_vfio_irq.h"

#include "../../devices/vfio/vfio_bar.h"
#include "../../devices/vfio/vfio_config.h"
#include "../../devices/vfio/vfio_irq.h"
#include "../../devices/vfio/vfio_rom.h"

#define MSI_CAP    0x40
#define PM_CAP     0x58
#define MSIX_CAP   0x60
#define BAR0_SIZE  0x10000ull
#define ROM_SIZE   0x8000ull

struct fake_device {
	uint8_t config[256];
	int writes;
	uint32_t last_write_offset;
};

static int fake_read(void *ctx, uint32_t offset, void *buf, unsigned len)
{
	struct fake_device *f = ctx;

	if (offset > sizeof(f->config) || len > sizeof(f->config) - offset) {
		memset(buf, 0xff, len);   /* beyond the region, as the kernel pads */
		return 0;
	}
	memcpy(buf, f->config + offset, len);
	return 0;
}

static int fake_write(void *ctx, uint32_t offset, const void *buf, unsigned len)
{
	struct fake_device *f = ctx;

	f->writes++;
	f->last_write_offset = offset;
	if (offset > sizeof(f->config) || len > sizeof(f->config) - offset)
		return -EINVAL;
	memcpy(f->config + offset, buf, len);
	return 0;
}

static void put(uint8_t *c, uint32_t off, uint32_t v, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		c[off + i] = (uint8_t)(v >> (8 * i));
}

static void make_edu_like(struct fake_device *f)
{
	memset(f, 0, sizeof(*f));
	put(f->config, PCI_VENDOR_ID, 0x1234, 2);
	put(f->config, PCI_DEVICE_ID, 0x11e8, 2);
	put(f->config, PCI_COMMAND, 0x0010, 2);        /* a bit gvmm does not forward */
	put(f->config, PCI_STATUS, PCI_STATUS_CAP_LIST, 2);
	put(f->config, PCI_REVISION_ID, 0x10, 1);
	put(f->config, PCI_CLASS_PROG, 0x00ff00, 3);
	put(f->config, PCI_BAR0, 0x00000000, 4);       /* 32-bit memory */
	put(f->config, PCI_CAPABILITY_LIST, MSI_CAP, 1);
	put(f->config, PCI_INTERRUPT_PIN, 1, 1);
	/* MSI: 64-bit, 4 vectors capable, per-vector masking. */
	put(f->config, MSI_CAP, PCI_CAP_ID_MSI | PM_CAP << 8, 2);
	put(f->config, MSI_CAP + 2, 0x0080 | 0x0100 | (2 << 1), 2);
	/* Power management: passed through. */
	put(f->config, PM_CAP, 0x01 | MSIX_CAP << 8, 2);
	put(f->config, PM_CAP + 2, 0x0003, 2);
	/* MSI-X: 8 vectors, table in BAR 0 at 0x2800, PBA at 0x8000. */
	put(f->config, MSIX_CAP, PCI_CAP_ID_MSIX, 2);
	put(f->config, MSIX_CAP + 2, 7, 2);
	put(f->config, MSIX_CAP + 4, 0x2800 | 0, 4);
	put(f->config, MSIX_CAP + 8, 0x8000 | 0, 4);
}

struct rig {
	struct fake_device fake;
	uint8_t rom_region[ROM_SIZE];
	struct vfio_rom rom;
	struct vfio_config vc;
	struct pci_device dev;
	struct bus pio, mmio;
	struct pci_bus pb;
	unsigned changed;
	/* MSI as vfio_pci follows it, when follow_msi is set. */
	bool follow_msi;
	struct vfio_msi msi;
	struct fake_irq irq;
	struct vfio_irq_router router;
	struct vfio_irq_device irq_device;
};

static struct rig *rig_of(struct pci_device *dev)
{
	return dev->opaque;
}

static uint32_t read_through(struct pci_device *dev, uint32_t offset, unsigned len, uint32_t value)
{
	return vfio_config_read(&rig_of(dev)->vc, offset, len, value);
}

static void write_through(struct pci_device *dev, uint32_t offset, uint32_t value, unsigned len)
{
	vfio_config_write(&rig_of(dev)->vc, offset, value, len);
}

static void written(struct pci_device *dev, uint32_t offset, uint32_t len)
{
	struct rig *r = rig_of(dev);
	unsigned changed = vfio_config_written(&r->vc, offset, len);

	r->changed |= changed;
	if (r->follow_msi && (changed & VFIO_CONFIG_CHANGED_MSI))
		CHECK_EQ(vfio_msi_update(&r->msi, &r->router, &r->irq_device,
					 vfio_config_msi_enabled(&r->vc), vfio_config_msi_vectors(&r->vc),
					 vfio_config_msi_address(&r->vc), vfio_config_msi_data(&r->vc),
					 vfio_config_msi_mask(&r->vc)), 0);
}

static uint32_t msi_pending(void *ctx)
{
	return vfio_msi_pending(&((struct rig *)ctx)->msi);
}

static const struct pci_device_ops ops = {
	.config_write = written,
	.config_read_through = read_through,
	.config_write_through = write_through,
};

static void bar_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)offset, (void)is_write;
	memset(data, 0, len);
}

static int rom_region_read(void *ctx, uint64_t offset, void *buf, uint32_t len)
{
	struct rig *r = ctx;

	if (offset > ROM_SIZE || len > ROM_SIZE - offset)
		return -EINVAL;
	memcpy(buf, r->rom_region + offset, len);
	return 0;
}

/* Starts the rig with the device r->fake holds. rom_size: the device's
 * ROM region (0: none); hide_rom: rom=off. As vfio_pci does: config,
 * BARs, then the ROM. */
static int rig_boot(struct rig *r, uint64_t rom_size, bool hide_rom)
{
	const struct vfio_rom_io rom_io = { rom_region_read, r };

	const struct pci_windows win = {
		.io_start = 0xc000, .io_end = 0x10000,
		.mem32_start = 0xc0000000ull, .mem32_end = 0xe0000000ull,
	};
	const struct vfio_config_io io = { fake_read, fake_write, &r->fake };
	const struct vfio_range all = { 0, BAR0_SIZE };
	struct vfio_bar_layout bar;
	char err[256];

	bus_init(&r->pio, "pio");
	bus_init(&r->mmio, "mmio");
	if (pci_bus_init(&r->pb, &r->pio, &r->mmio, 0xe0000000ull, 0x10000000ull, &win, NULL) ||
	    vfio_config_init(&r->vc, &r->dev, "edu", &io, err, sizeof(err)) ||
	    vfio_bar_layout(&bar, r->vc.bar_registers[0], BAR0_SIZE, &all, 1, NULL, 0, 4096,
			    err, sizeof(err)) ||
	    pci_device_add_bar(&r->dev, 0, bar.kind, bar.prefetchable, bar.size, bar_access, NULL))
		return -1;
	if (vfio_rom_init(&r->rom, "edu", rom_size, true, hide_rom, &rom_io) &&
	    pci_device_add_rom(&r->dev, r->rom.bar_size, vfio_rom_access, &r->rom))
		return -1;
	r->dev.ops = &ops;
	r->dev.opaque = r;
	return pci_bus_add_device(&r->pb, &r->dev);
}

static int rig_start_with_rom(struct rig *r, uint64_t rom_size, bool hide_rom)
{
	make_edu_like(&r->fake);
	return rig_boot(r, rom_size, hide_rom);
}

static int rig_start(struct rig *r)
{
	return rig_start_with_rom(r, 0, false);
}

/* The rig with MSI followed into a fake KVM. */
static int rig_boot_following_msi(struct rig *r)
{
	int ret = rig_boot(r, 0, false);

	fake_irq_init(&r->irq);
	r->router = fake_irq_router(&r->irq);
	r->irq_device = fake_irq_device(&r->irq);
	vfio_msi_init(&r->msi);
	r->vc.msi_pending = (struct vfio_msi_pending_source){ msi_pending, r };
	r->follow_msi = true;
	return ret;
}

static void rig_stop(struct rig *r)
{
	if (r->follow_msi)
		vfio_msi_destroy(&r->msi, &r->router);
	r->follow_msi = false;
	pci_bus_destroy(&r->pb);
	bus_destroy(&r->pio);
	bus_destroy(&r->mmio);
}

static uint16_t bdf_of(const struct rig *r)
{
	return (uint16_t)(r->dev.slot << 3);
}

static uint32_t guest_read(struct rig *r, uint32_t offset, unsigned len)
{
	return pci_bus_config_read(&r->pb, bdf_of(r), offset, len);
}

static void guest_write(struct rig *r, uint32_t offset, uint32_t value, unsigned len)
{
	pci_bus_config_write(&r->pb, bdf_of(r), offset, value, len);
}

static struct rig rig;

static void test_identity_and_passthrough(void)
{
	CHECK_EQ(rig_start(&rig), 0);
	CHECK_EQ(guest_read(&rig, PCI_VENDOR_ID, 4), 0x11e81234);
	CHECK_EQ(guest_read(&rig, PCI_REVISION_ID, 4), 0x00ff0010);
	/* The status register is the device's. */
	put(rig.fake.config, PCI_STATUS, PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT, 2);
	CHECK_EQ(guest_read(&rig, PCI_STATUS, 2), PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT);
	/* Other capabilities are read and written through. */
	CHECK_EQ(guest_read(&rig, PM_CAP, 4), 0x00030000 | MSIX_CAP << 8 | 0x01);
	guest_write(&rig, PM_CAP + 4, 0x3, 2);
	CHECK_EQ(rig.fake.config[PM_CAP + 4], 3);
	/* Extended config space is hidden. */
	CHECK_EQ(guest_read(&rig, 0x100, 4), 0);
	/* Without a ROM region, the ROM BAR reads as zero. */
	guest_write(&rig, 0x30, 0xffffffff, 4);
	CHECK_EQ(guest_read(&rig, 0x30, 4), 0);
	rig_stop(&rig);
}

static void test_bar_sizing_stays_emulated(void)
{
	int writes;

	CHECK_EQ(rig_start(&rig), 0);
	writes = rig.fake.writes;
	guest_write(&rig, PCI_BAR0, 0xffffffff, 4);
	CHECK_EQ(guest_read(&rig, PCI_BAR0, 4), (uint32_t)~(BAR0_SIZE - 1));
	guest_write(&rig, PCI_BAR0, 0xc1000000, 4);
	CHECK_EQ(guest_read(&rig, PCI_BAR0, 4), 0xc1000000);
	/* Unused BARs read zero and take nothing. */
	guest_write(&rig, PCI_BAR0 + 4, 0xffffffff, 4);
	CHECK_EQ(guest_read(&rig, PCI_BAR0 + 4, 4), 0);
	/* The device's own BAR registers were never written. */
	CHECK_EQ(rig.fake.writes, writes);
	CHECK_EQ(rig.fake.config[PCI_BAR0 + 3], 0);
	rig_stop(&rig);
}

/* A guest read of len bytes at guest-physical addr; false if nothing
 * answers there. */
static bool mmio_read(struct rig *r, uint64_t addr, unsigned len, uint32_t *value)
{
	uint8_t data[4] = { 0 };
	bool claimed = bus_dispatch(&r->mmio, addr, data, len, false);

	*value = 0;
	for (unsigned i = 0; i < len; i++)
		*value |= (uint32_t)data[i] << (8 * i);
	return claimed;
}

static void test_rom_bar(void)
{
	uint32_t addr, value;
	int writes;
	uint8_t poke[4] = { 0 };

	memset(rig.rom_region, 0, sizeof(rig.rom_region));
	rig.rom_region[0] = 0x55;
	rig.rom_region[1] = 0xaa;
	rig.rom_region[ROM_SIZE - 1] = 0x42;
	CHECK_EQ(rig_start_with_rom(&rig, ROM_SIZE, false), 0);
	writes = rig.fake.writes;
	/* Placed by gvmm as firmware, disabled. */
	addr = guest_read(&rig, PCI_ROM_ADDRESS, 4);
	CHECK(addr >= 0xc0000000u && addr < 0xe0000000u);
	CHECK_EQ(addr % ROM_SIZE, 0);
	CHECK(!mmio_read(&rig, addr, 2, &value));

	/* Sizing: all ones but the enable bit reads back the size. */
	guest_write(&rig, PCI_ROM_ADDRESS, ~PCI_ROM_ADDRESS_ENABLE, 4);
	CHECK_EQ(guest_read(&rig, PCI_ROM_ADDRESS, 4), (uint32_t)~(ROM_SIZE - 1));

	/* Enabled, with memory decode on: the ROM region answers there. */
	guest_write(&rig, PCI_ROM_ADDRESS, addr | PCI_ROM_ADDRESS_ENABLE, 4);
	CHECK_EQ(guest_read(&rig, PCI_ROM_ADDRESS, 4), addr | PCI_ROM_ADDRESS_ENABLE);
	CHECK(mmio_read(&rig, addr, 2, &value));
	CHECK_EQ(value, 0xaa55);
	CHECK(mmio_read(&rig, addr + ROM_SIZE - 4, 4, &value));
	CHECK_EQ(value, 0x42000000);
	/* Writes do not change it. */
	bus_dispatch(&rig.mmio, addr, poke, 4, true);
	CHECK(mmio_read(&rig, addr, 2, &value));
	CHECK_EQ(value, 0xaa55);

	/* Memory decode off hides it; the enable bit is kept. */
	guest_write(&rig, PCI_COMMAND, 0, 2);
	CHECK(!mmio_read(&rig, addr, 2, &value));
	CHECK_EQ(guest_read(&rig, PCI_ROM_ADDRESS, 4), addr | PCI_ROM_ADDRESS_ENABLE);
	guest_write(&rig, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	CHECK(mmio_read(&rig, addr, 2, &value));
	/* Its own enable bit off hides it too. */
	guest_write(&rig, PCI_ROM_ADDRESS, addr, 4);
	CHECK(!mmio_read(&rig, addr, 2, &value));

	/* The device's own ROM BAR never saw any of it. */
	CHECK_EQ(rig.fake.config[PCI_ROM_ADDRESS], 0);
	CHECK_EQ(rig.fake.writes, writes + 2);   /* the two command writes */
	rig_stop(&rig);
}

static void test_rom_bar_absent(void)
{
	/* No ROM, a hidden one, and one refused for its size: the ROM BAR
	 * reads as zero and takes nothing. */
	const struct { uint64_t size; bool hide; } cases[] = {
		{ 0, false }, { ROM_SIZE, true }, { 0x6000, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(rig_start_with_rom(&rig, cases[i].size, cases[i].hide), 0);
		CHECK_EQ(guest_read(&rig, PCI_ROM_ADDRESS, 4), 0);
		guest_write(&rig, PCI_ROM_ADDRESS, 0xffffffff, 4);
		CHECK_EQ(guest_read(&rig, PCI_ROM_ADDRESS, 4), 0);
		CHECK(rig.dev.rom.kind == PCI_BAR_UNUSED);
		rig_stop(&rig);
	}
}

static void test_command_forwarded_keeping_device_bits(void)
{
	CHECK_EQ(rig_start(&rig), 0);
	guest_write(&rig, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	CHECK_EQ(guest_read(&rig, PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	CHECK_EQ(rig.fake.config[PCI_COMMAND], 0x10 | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	guest_write(&rig, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
	CHECK_EQ(rig.fake.config[PCI_COMMAND], 0x10);
	CHECK_EQ(rig.fake.config[PCI_COMMAND + 1], PCI_COMMAND_INTX_DISABLE >> 8);
	rig_stop(&rig);
}

static void test_msix_capability_masking(void)
{
	CHECK_EQ(rig_start(&rig), 0);
	CHECK_EQ(rig.vc.msix.offset, MSIX_CAP);
	CHECK_EQ(rig.vc.msix.nr_vectors, 8);
	CHECK_EQ(rig.vc.msix.table_bar, 0);
	CHECK_EQ(rig.vc.msix.table_offset, 0x2800);
	CHECK_EQ(rig.vc.msix.pba_offset, 0x8000);
	CHECK_EQ(guest_read(&rig, MSIX_CAP + 2, 2), 7);
	/* Enable and function mask are the guest's; the table size is not. */
	rig.changed = 0;
	guest_write(&rig, MSIX_CAP + 2, 0xffff, 2);
	CHECK_EQ(guest_read(&rig, MSIX_CAP + 2, 2), 0xc007);
	CHECK(rig.changed & VFIO_CONFIG_CHANGED_MSIX);
	CHECK(vfio_config_msix_enabled(&rig.vc));
	CHECK(vfio_config_msix_masked(&rig.vc));
	/* The device's own capability is untouched (VFIO programs it). */
	CHECK_EQ(rig.fake.config[MSIX_CAP + 3], 0);
	/* Table and PBA offsets are read-only. */
	guest_write(&rig, MSIX_CAP + 4, 0, 4);
	CHECK_EQ(guest_read(&rig, MSIX_CAP + 4, 4), 0x2800);
	guest_write(&rig, MSIX_CAP + 2, 0x8000, 2);
	CHECK(!vfio_config_msix_masked(&rig.vc));
	rig_stop(&rig);
}

static void test_msi_capability(void)
{
	CHECK_EQ(rig_start(&rig), 0);
	CHECK_EQ(rig.vc.msi.offset, MSI_CAP);
	CHECK(rig.vc.msi.addr64);
	CHECK_EQ(rig.vc.msi.max_vectors, 4);
	CHECK(rig.vc.msi.maskable);
	/* 64-bit, 4 vectors and per-vector masking are shown. */
	CHECK_EQ(guest_read(&rig, MSI_CAP + 2, 2), 0x0180 | (2 << 1));
	rig.changed = 0;
	guest_write(&rig, MSI_CAP + 4, 0xfee01004, 4);
	guest_write(&rig, MSI_CAP + 8, 0x1, 4);
	guest_write(&rig, MSI_CAP + 12, 0x4041, 2);
	guest_write(&rig, MSI_CAP + 2, 0x0001 | (5 << 4), 2);   /* asks for 32 */
	CHECK(rig.changed & VFIO_CONFIG_CHANGED_MSI);
	CHECK(vfio_config_msi_enabled(&rig.vc));
	CHECK_EQ(vfio_config_msi_vectors(&rig.vc), 4);
	CHECK_EQ(vfio_config_msi_address(&rig.vc), 0x1fee01004ull & ~3ull);
	CHECK_EQ(vfio_config_msi_data(&rig.vc), 0x4041);
	/* The mask register is the guest's, for the 4 vectors there are;
	 * the device's own is never written (VFIO owns it). */
	rig.changed = 0;
	guest_write(&rig, MSI_CAP + 16, 0xffffffff, 4);
	CHECK(rig.changed & VFIO_CONFIG_CHANGED_MSI);
	CHECK_EQ(guest_read(&rig, MSI_CAP + 16, 4), 0xf);
	CHECK_EQ(vfio_config_msi_mask(&rig.vc), 0xf);
	CHECK_EQ(rig.fake.config[MSI_CAP + 16], 0);
	guest_write(&rig, MSI_CAP + 16, 0x5, 1);
	CHECK_EQ(vfio_config_msi_mask(&rig.vc), 0x5);
	/* Pending is read-only, and 0 with nothing behind it. */
	guest_write(&rig, MSI_CAP + 20, 0xffffffff, 4);
	CHECK_EQ(guest_read(&rig, MSI_CAP + 20, 4), 0);
	CHECK_EQ(rig.fake.config[MSI_CAP + 20], 0);
	/* The masking bit itself is read-only. */
	guest_write(&rig, MSI_CAP + 2, 0x0001, 2);
	CHECK_EQ(guest_read(&rig, MSI_CAP + 2, 2), 0x0181 | (2 << 1));
	rig_stop(&rig);
}

/* The guest masks an MSI vector: it is held back, the pending register
 * says so, and unmasking delivers it. */
static void test_msi_per_vector_masking(void)
{
	const uint64_t addr = 0xfee01000;
	uint32_t pending;

	make_edu_like(&rig.fake);
	CHECK_EQ(rig_boot_following_msi(&rig), 0);
	guest_write(&rig, MSI_CAP + 4, (uint32_t)addr, 4);
	guest_write(&rig, MSI_CAP + 12, 0x4040, 2);
	guest_write(&rig, MSI_CAP + 16, 1u << 2, 4);
	guest_write(&rig, MSI_CAP + 2, 0x0001 | (2 << 4), 2);   /* 4 vectors */
	CHECK_EQ(rig.irq.nr_vectors[VFIO_PCI_MSI_IRQ_INDEX], 4);
	CHECK(fake_irq_bound(&rig.irq, VFIO_PCI_MSI_IRQ_INDEX, 1));
	CHECK(!fake_irq_bound(&rig.irq, VFIO_PCI_MSI_IRQ_INDEX, 2));

	CHECK(fake_irq_signal(&rig.irq, VFIO_PCI_MSI_IRQ_INDEX, 2));
	CHECK(fake_irq_signal(&rig.irq, VFIO_PCI_MSI_IRQ_INDEX, 1));
	CHECK_EQ(fake_irq_delivered(&rig.irq, addr, 0x4042), 0);
	CHECK_EQ(fake_irq_delivered(&rig.irq, addr, 0x4041), 1);
	CHECK_EQ(guest_read(&rig, MSI_CAP + 20, 4), 1u << 2);
	/* Byte and word reads see the same bits. */
	CHECK_EQ(guest_read(&rig, MSI_CAP + 20, 1), 1u << 2);
	pending = guest_read(&rig, MSI_CAP + 20, 2);
	CHECK_EQ(pending, 1u << 2);
	CHECK_EQ(guest_read(&rig, MSI_CAP + 22, 2), 0);

	guest_write(&rig, MSI_CAP + 16, 0, 4);
	CHECK(fake_irq_bound(&rig.irq, VFIO_PCI_MSI_IRQ_INDEX, 2));
	CHECK_EQ(fake_irq_delivered(&rig.irq, addr, 0x4042), 1);
	CHECK_EQ(guest_read(&rig, MSI_CAP + 20, 4), 0);
	rig_stop(&rig);
}

/* 32-bit MSI with masking: the registers sit 4 bytes lower. */
static void test_msi_per_vector_masking_32bit(void)
{
	make_edu_like(&rig.fake);
	put(rig.fake.config, MSI_CAP + 2, 0x0100 | (1 << 1), 2);   /* 2 vectors */
	CHECK_EQ(rig_boot_following_msi(&rig), 0);
	CHECK(!rig.vc.msi.addr64 && rig.vc.msi.maskable);
	guest_write(&rig, MSI_CAP + 4, 0xfee00000, 4);
	guest_write(&rig, MSI_CAP + 8, 0x4050, 2);
	guest_write(&rig, MSI_CAP + 12, 0xffffffff, 4);
	CHECK_EQ(guest_read(&rig, MSI_CAP + 12, 4), 0x3);
	guest_write(&rig, MSI_CAP + 2, 0x0001 | (1 << 4), 2);
	CHECK(fake_irq_signal(&rig.irq, VFIO_PCI_MSI_IRQ_INDEX, 1));
	CHECK_EQ(guest_read(&rig, MSI_CAP + 16, 4), 1u << 1);
	/* The pending register is past the mask: the PM capability after it
	 * is still the device's. */
	CHECK_EQ(guest_read(&rig, PM_CAP, 2), 0x01 | MSIX_CAP << 8);
	guest_write(&rig, MSI_CAP + 12, 0x1, 4);
	CHECK_EQ(fake_irq_delivered(&rig.irq, 0xfee00000, 0x4051), 1);
	CHECK_EQ(guest_read(&rig, MSI_CAP + 16, 4), 0);
	rig_stop(&rig);
}

/* A device without per-vector masking has no mask or pending register:
 * the bytes after its capability are the device's, and what the guest
 * writes there masks nothing. */
static void test_msi_without_masking(void)
{
	make_edu_like(&rig.fake);
	put(rig.fake.config, MSI_CAP + 2, 0x0080, 2);   /* 64-bit, 1 vector: edu */
	put(rig.fake.config, MSI_CAP + 16, 0x12345678, 4);
	CHECK_EQ(rig_boot_following_msi(&rig), 0);
	CHECK(!rig.vc.msi.maskable);
	CHECK_EQ(guest_read(&rig, MSI_CAP + 2, 2), 0x0080);
	CHECK_EQ(guest_read(&rig, MSI_CAP + 16, 4), 0x12345678);
	guest_write(&rig, MSI_CAP + 4, 0xfee00000, 4);
	guest_write(&rig, MSI_CAP + 12, 0x4060, 2);
	guest_write(&rig, MSI_CAP + 16, 0xffffffff, 4);
	guest_write(&rig, MSI_CAP + 2, 0x0001, 2);
	CHECK_EQ(vfio_config_msi_mask(&rig.vc), 0);
	CHECK(fake_irq_bound(&rig.irq, VFIO_PCI_MSI_IRQ_INDEX, 0));
	CHECK(fake_irq_signal(&rig.irq, VFIO_PCI_MSI_IRQ_INDEX, 0));
	CHECK_EQ(fake_irq_delivered(&rig.irq, 0xfee00000, 0x4060), 1);
	/* The masking bit cannot be turned on either. */
	guest_write(&rig, MSI_CAP + 2, 0x0101, 2);
	CHECK_EQ(guest_read(&rig, MSI_CAP + 2, 2), 0x0081);
	rig_stop(&rig);
}

static void test_hostile_accesses(void)
{
	CHECK_EQ(rig_start(&rig), 0);
	CHECK_EQ(vfio_config_read(&rig.vc, 4095, 4, 0), 0xffffffffu);
	CHECK_EQ(vfio_config_read(&rig.vc, 0, 0, 0), 0xffffffffu);
	CHECK_EQ(vfio_config_read(&rig.vc, UINT32_MAX, 2, 0), 0xffffffffu);
	vfio_config_write(&rig.vc, 4094, 0xffffffff, 4);
	vfio_config_write(&rig.vc, UINT32_MAX - 1, 0xffffffff, 4);
	vfio_config_write(&rig.vc, 0x44, 0xffffffff, 9);
	/* Unaligned and odd-sized guest accesses are refused by the bus. */
	guest_write(&rig, PCI_BAR0 + 1, 0xffffffff, 4);
	guest_write(&rig, 0xffd, 0xffffffff, 4);
	CHECK_EQ(guest_read(&rig, 0xfff, 4), 0xffffffffu);
	/* A write that spans emulated and passed-through bytes reaches the
	 * device only for its own bytes. */
	guest_write(&rig, PM_CAP - 4, 0xaabbccdd, 4);   /* MSI pending register: emulated */
	CHECK_EQ(rig.fake.config[PM_CAP - 4], 0);
	rig_stop(&rig);
}

static void test_broken_capability_lists(void)
{
	struct fake_device f;
	struct vfio_config vc;
	struct pci_device dev;
	const struct vfio_config_io io = { fake_read, fake_write, &f };
	char err[256];

	/* A loop. */
	make_edu_like(&f);
	put(f.config, MSIX_CAP + 1, MSI_CAP, 1);
	CHECK_EQ(vfio_config_init(&vc, &dev, "edu", &io, err, sizeof(err)), -1);
	CHECK(strstr(err, "capability list is broken") != NULL);
	/* A pointer into the header. */
	make_edu_like(&f);
	put(f.config, PCI_CAPABILITY_LIST, 0x10, 1);
	CHECK_EQ(vfio_config_init(&vc, &dev, "edu", &io, err, sizeof(err)), -1);
	/* MSI-X in a BAR that cannot exist. */
	make_edu_like(&f);
	put(f.config, MSIX_CAP + 4, 0x2800 | 7, 4);
	CHECK_EQ(vfio_config_init(&vc, &dev, "edu", &io, err, sizeof(err)), -1);
	CHECK(strstr(err, "BAR 7") != NULL);
	/* MSI running past config space. */
	make_edu_like(&f);
	put(f.config, PCI_CAPABILITY_LIST, 0xf0, 1);
	put(f.config, 0xf0, PCI_CAP_ID_MSI, 2);
	put(f.config, 0xf2, 0x0180, 2);
	CHECK_EQ(vfio_config_init(&vc, &dev, "edu", &io, err, sizeof(err)), -1);
	/* No capabilities at all is fine. */
	make_edu_like(&f);
	put(f.config, PCI_STATUS, 0, 2);
	CHECK_EQ(vfio_config_init(&vc, &dev, "edu", &io, err, sizeof(err)), 0);
	CHECK_EQ(vc.msi.offset, 0);
	CHECK_EQ(vc.msix.offset, 0);
	CHECK(vc.has_intx);
}

TEST_MAIN("vfio_config",
	  TEST_CASE(test_identity_and_passthrough),
	  TEST_CASE(test_bar_sizing_stays_emulated),
	  TEST_CASE(test_rom_bar),
	  TEST_CASE(test_rom_bar_absent),
	  TEST_CASE(test_command_forwarded_keeping_device_bits),
	  TEST_CASE(test_msix_capability_masking),
	  TEST_CASE(test_msi_capability),
	  TEST_CASE(test_msi_per_vector_masking),
	  TEST_CASE(test_msi_per_vector_masking_32bit),
	  TEST_CASE(test_msi_without_masking),
	  TEST_CASE(test_hostile_accesses),
	  TEST_CASE(test_broken_capability_lists))
