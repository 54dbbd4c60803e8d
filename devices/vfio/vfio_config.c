/* Config space emulation for passed-through functions (vfio_config.h). */
#include "vfio_config.h"

#include <errno.h>
#include <string.h>

#include "../../vmm/error_text.h"

#define STD_CONFIG_SIZE        0x100
#define CAP_LIST_START         0x40
#define CAP_CHAIN_MAX          48     /* (256 - 64) / 4: more is a loop */

#define HDR_CLASS_REVISION     0x08
#define HDR_LATENCY_TIMER      0x0d
#define HDR_MIN_GNT            0x3e
#define HDR_MAX_LAT            0x3f

/* The command bits the guest may change (pci.c's writable set); they are
 * forwarded to the device. */
#define COMMAND_FORWARDED      0x0547

/* MSI capability (PCI 3.0, 6.8.1), offsets from the capability start. */
#define MSI_CONTROL            2
#define  MSI_CONTROL_ENABLE      0x0001
#define  MSI_CONTROL_MMC_SHIFT   1       /* multiple message capable */
#define  MSI_CONTROL_MME_SHIFT   4       /* multiple message enable */
#define  MSI_CONTROL_MM_MASK     0x7
#define  MSI_CONTROL_64BIT       0x0080
#define  MSI_CONTROL_MASKABLE    0x0100
#define MSI_ADDR_LO            4
#define MSI_ADDR_HI            8
#define MSI_DATA_32            8
#define MSI_DATA_64            12
#define MSI_MASK_32            12      /* with per-vector masking */
#define MSI_MASK_64            16
#define MSI_PENDING_32         16
#define MSI_PENDING_64         20
#define MSI_LEN_32             10
#define MSI_LEN_64             14
#define MSI_LEN_MASKABLE_32    20
#define MSI_LEN_MASKABLE_64    24

/* MSI-X capability (PCI 3.0, 6.8.2). */
#define MSIX_CONTROL           2
#define  MSIX_CONTROL_SIZE       0x07ff
#define  MSIX_CONTROL_MASKALL    0x4000
#define  MSIX_CONTROL_ENABLE     0x8000
#define MSIX_TABLE             4
#define MSIX_PBA               8
#define MSIX_BIR_MASK          0x7
#define MSIX_LEN               12

static uint32_t get_le(const uint8_t *p, unsigned len)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static bool overlaps(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
	return a < b + blen && b < a + alen;
}

static void mark_emulated(struct vfio_config *vc, uint32_t start, uint32_t len, uint8_t how)
{
	for (uint32_t i = start; i < start + len && i < PCI_CONFIG_SIZE; i++)
		vc->emulated[i] = how;
}

static void set_wmask(struct pci_device *dev, uint32_t offset, uint32_t value, unsigned len)
{
	for (unsigned i = 0; i < len; i++) {
		dev->wmask[offset + i] = (uint8_t)(value >> (8 * i));
		dev->w1cmask[offset + i] = 0;
	}
}

/* Copies the device's bytes [offset, offset+len) into the guest's view. */
static void copy_bytes(struct pci_device *dev, const uint8_t *hw, uint32_t offset, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		pci_config_write_raw(dev, offset + i, hw[offset + i], 1);
}

/* The capability's length and its mask and pending registers' offsets. */
static unsigned msi_length(const struct vfio_msi_cap *msi)
{
	if (msi->maskable)
		return msi->addr64 ? MSI_LEN_MASKABLE_64 : MSI_LEN_MASKABLE_32;
	return msi->addr64 ? MSI_LEN_64 : MSI_LEN_32;
}

static uint32_t msi_mask_offset(const struct vfio_msi_cap *msi)
{
	return msi->offset + (msi->addr64 ? MSI_MASK_64 : MSI_MASK_32);
}

static uint32_t msi_pending_offset(const struct vfio_msi_cap *msi)
{
	return msi->offset + (msi->addr64 ? MSI_PENDING_64 : MSI_PENDING_32);
}

/* One bit per vector the device offers: the others' mask and pending
 * bits are reserved (read as zero). */
static uint32_t msi_vector_bits(const struct vfio_msi_cap *msi)
{
	return msi->max_vectors >= 32 ? 0xffffffffu : (1u << msi->max_vectors) - 1;
}

static int setup_msi(struct vfio_config *vc, const uint8_t *hw, uint16_t cap,
		     char *err, size_t errlen)
{
	struct pci_device *dev = vc->dev;
	uint16_t control = (uint16_t)get_le(hw + cap + MSI_CONTROL, 2);
	unsigned mmc = (control >> MSI_CONTROL_MMC_SHIFT) & MSI_CONTROL_MM_MASK;
	struct vfio_msi_cap msi = {
		.offset = cap, .addr64 = control & MSI_CONTROL_64BIT,
		.maskable = control & MSI_CONTROL_MASKABLE,
		.max_vectors = 1u << (mmc > 5 ? 5 : mmc),
	};

	if (cap + msi_length(&msi) > STD_CONFIG_SIZE)
		return write_error(err, errlen, "its MSI capability at 0x%x runs past config space",
				   cap);
	vc->msi = msi;
	/* All of it is the guest's; the mask starts clear and the pending
	 * register is filled in at each read. */
	mark_emulated(vc, cap, msi_length(&msi), 1);
	copy_bytes(dev, hw, cap, 2);
	pci_config_write_raw(dev, cap + MSI_CONTROL,
			     (control & ~(MSI_CONTROL_ENABLE |
					  (MSI_CONTROL_MM_MASK << MSI_CONTROL_MME_SHIFT))), 2);
	set_wmask(dev, cap + MSI_CONTROL,
		  MSI_CONTROL_ENABLE | (MSI_CONTROL_MM_MASK << MSI_CONTROL_MME_SHIFT), 2);
	set_wmask(dev, cap + MSI_ADDR_LO, 0xfffffffc, 4);
	if (msi.addr64)
		set_wmask(dev, cap + MSI_ADDR_HI, 0xffffffff, 4);
	set_wmask(dev, cap + (msi.addr64 ? MSI_DATA_64 : MSI_DATA_32), 0xffff, 2);
	if (msi.maskable)
		set_wmask(dev, msi_mask_offset(&msi), msi_vector_bits(&msi), 4);
	return 0;
}

static int setup_msix(struct vfio_config *vc, const uint8_t *hw, uint16_t cap,
		      char *err, size_t errlen)
{
	struct pci_device *dev = vc->dev;
	uint16_t control = (uint16_t)get_le(hw + cap + MSIX_CONTROL, 2);
	uint32_t table = get_le(hw + cap + MSIX_TABLE, 4), pba = get_le(hw + cap + MSIX_PBA, 4);

	if (cap + MSIX_LEN > STD_CONFIG_SIZE)
		return write_error(err, errlen, "its MSI-X capability at 0x%x runs past config space",
				   cap);
	if ((table & MSIX_BIR_MASK) >= PCI_NUM_BARS || (pba & MSIX_BIR_MASK) >= PCI_NUM_BARS)
		return write_error(err, errlen, "its MSI-X table or PBA is in BAR %u, which "
				   "does not exist", (table & MSIX_BIR_MASK) >= PCI_NUM_BARS ?
				   table & MSIX_BIR_MASK : pba & MSIX_BIR_MASK);
	vc->msix = (struct vfio_msix_cap){
		.offset = cap, .nr_vectors = (control & MSIX_CONTROL_SIZE) + 1u,
		.table_bar = table & MSIX_BIR_MASK, .table_offset = table & ~(uint32_t)MSIX_BIR_MASK,
		.pba_bar = pba & MSIX_BIR_MASK, .pba_offset = pba & ~(uint32_t)MSIX_BIR_MASK,
	};
	mark_emulated(vc, cap, MSIX_LEN, 1);
	copy_bytes(dev, hw, cap, MSIX_LEN);
	pci_config_write_raw(dev, cap + MSIX_CONTROL,
			     control & ~(MSIX_CONTROL_ENABLE | MSIX_CONTROL_MASKALL), 2);
	set_wmask(dev, cap + MSIX_CONTROL, MSIX_CONTROL_ENABLE | MSIX_CONTROL_MASKALL, 2);
	return 0;
}

/* Walks the device's capability list: MSI and MSI-X become emulated, the
 * rest stay passed through. */
static int setup_capabilities(struct vfio_config *vc, const uint8_t *hw, char *err, size_t errlen)
{
	uint16_t cap = hw[PCI_CAPABILITY_LIST] & 0xfc;

	if (!(get_le(hw + PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	pci_config_write_raw(vc->dev, PCI_CAPABILITY_LIST, cap, 1);
	for (unsigned steps = 0; cap; steps++) {
		if (cap < CAP_LIST_START || cap > STD_CONFIG_SIZE - 2 || steps == CAP_CHAIN_MAX)
			return write_error(err, errlen, "its capability list is broken at 0x%x", cap);
		if (hw[cap] == PCI_CAP_ID_MSI && !vc->msi.offset &&
		    setup_msi(vc, hw, cap, err, errlen) < 0)
			return -1;
		if (hw[cap] == PCI_CAP_ID_MSIX && !vc->msix.offset &&
		    setup_msix(vc, hw, cap, err, errlen) < 0)
			return -1;
		cap = hw[cap + 1] & 0xfc;
	}
	return 0;
}

int vfio_config_init(struct vfio_config *vc, struct pci_device *dev, const char *name,
		     const struct vfio_config_io *io, char *err, size_t errlen)
{
	uint8_t hw[STD_CONFIG_SIZE];
	int ret;

	memset(vc, 0, sizeof(*vc));
	vc->io = *io;
	vc->dev = dev;
	ret = io->read(io->ctx, 0, hw, sizeof(hw));
	if (ret < 0)
		return write_error(err, errlen, "cannot read its config space: %s", strerror(-ret));
	pci_device_init(dev, name, (uint16_t)get_le(hw + PCI_VENDOR_ID, 2),
			(uint16_t)get_le(hw + PCI_DEVICE_ID, 2),
			get_le(hw + PCI_CLASS_PROG, 3), hw[PCI_REVISION_ID],
			(uint16_t)get_le(hw + PCI_SUBSYSTEM_VENDOR_ID, 2),
			(uint16_t)get_le(hw + PCI_SUBSYSTEM_ID, 2));
	/* Everything is emulated but the status register and the
	 * capabilities that are not MSI's; extended config space stays the
	 * zeros pci_device_init left (no extended capabilities). */
	mark_emulated(vc, 0, PCI_CONFIG_SIZE, 1);
	mark_emulated(vc, PCI_STATUS, 2, 0);
	mark_emulated(vc, CAP_LIST_START, STD_CONFIG_SIZE - CAP_LIST_START, 0);
	copy_bytes(dev, hw, HDR_LATENCY_TIMER, 1);
	copy_bytes(dev, hw, HDR_MIN_GNT, 2);
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		vc->bar_registers[i] = get_le(hw + PCI_BAR0 + 4 * i, 4);
	vc->has_intx = hw[PCI_INTERRUPT_PIN] != 0;
	return setup_capabilities(vc, hw, err, errlen);
}

/* Puts the MSI pending bits into the bytes of a read that cover the
 * pending register. */
static uint32_t with_msi_pending(const struct vfio_config *vc, uint32_t offset, unsigned len,
				 uint32_t value)
{
	uint32_t at = msi_pending_offset(&vc->msi), pending = 0;

	if (!vc->msi.offset || !vc->msi.maskable || !overlaps(offset, len, at, 4))
		return value;
	if (vc->msi_pending.read)
		pending = vc->msi_pending.read(vc->msi_pending.ctx) & msi_vector_bits(&vc->msi);
	for (unsigned i = 0; i < len; i++) {
		if (offset + i < at || offset + i >= at + 4)
			continue;
		value &= ~(0xffu << (8 * i));
		value |= ((pending >> (8 * (offset + i - at))) & 0xff) << (8 * i);
	}
	return value;
}

uint32_t vfio_config_read(struct vfio_config *vc, uint32_t offset, unsigned len, uint32_t value)
{
	uint8_t hw[4];
	bool any = false;

	if (len < 1 || len > 4 || offset >= PCI_CONFIG_SIZE || len > PCI_CONFIG_SIZE - offset)
		return 0xffffffffu;
	value = with_msi_pending(vc, offset, len, value);
	for (unsigned i = 0; i < len; i++)
		any |= !vc->emulated[offset + i];
	if (!any)
		return value;
	if (vc->io.read(vc->io.ctx, offset, hw, len) < 0)
		memset(hw, 0xff, sizeof(hw));
	for (unsigned i = 0; i < len; i++) {
		if (vc->emulated[offset + i])
			continue;
		value &= ~(0xffu << (8 * i));
		value |= (uint32_t)hw[i] << (8 * i);
	}
	return value;
}

void vfio_config_write(struct vfio_config *vc, uint32_t offset, uint32_t value, unsigned len)
{
	if (len < 1 || len > 4 || offset >= PCI_CONFIG_SIZE || len > PCI_CONFIG_SIZE - offset)
		return;
	/* Byte by byte where emulated and passed-through bytes mix; whole
	 * otherwise (a device may care about the access size). */
	for (unsigned i = 0; i < len;) {
		unsigned run = 0;
		uint8_t bytes[4];

		while (i + run < len && !vc->emulated[offset + i + run]) {
			bytes[run] = (uint8_t)(value >> (8 * (i + run)));
			run++;
		}
		if (run)
			vc->io.write(vc->io.ctx, offset + i, bytes, run);
		i += run ? run : 1;
	}
}

static void forward_command(struct vfio_config *vc)
{
	uint16_t guest = (uint16_t)pci_config_read(vc->dev, PCI_COMMAND, 2);
	uint8_t hw[2];
	uint16_t cmd;

	if (vc->io.read(vc->io.ctx, PCI_COMMAND, hw, 2) < 0)
		return;
	cmd = (uint16_t)((get_le(hw, 2) & ~COMMAND_FORWARDED) | (guest & COMMAND_FORWARDED));
	hw[0] = (uint8_t)cmd;
	hw[1] = (uint8_t)(cmd >> 8);
	vc->io.write(vc->io.ctx, PCI_COMMAND, hw, 2);
}

unsigned vfio_config_written(struct vfio_config *vc, uint32_t offset, unsigned len)
{
	unsigned changed = 0;

	if (overlaps(offset, len, PCI_COMMAND, 2))
		forward_command(vc);
	if (vc->msi.offset && overlaps(offset, len, vc->msi.offset, msi_length(&vc->msi)))
		changed |= VFIO_CONFIG_CHANGED_MSI;
	if (vc->msix.offset && overlaps(offset, len, vc->msix.offset + MSIX_CONTROL, 2))
		changed |= VFIO_CONFIG_CHANGED_MSIX;
	return changed;
}

static uint16_t msi_control(const struct vfio_config *vc)
{
	return (uint16_t)pci_config_read(vc->dev, vc->msi.offset + MSI_CONTROL, 2);
}

bool vfio_config_msi_enabled(const struct vfio_config *vc)
{
	return vc->msi.offset && (msi_control(vc) & MSI_CONTROL_ENABLE);
}

unsigned vfio_config_msi_vectors(const struct vfio_config *vc)
{
	unsigned mme = (msi_control(vc) >> MSI_CONTROL_MME_SHIFT) & MSI_CONTROL_MM_MASK;
	unsigned n = 1u << (mme > 5 ? 5 : mme);

	/* A guest asking for more than the device offers gets what it offers. */
	return n > vc->msi.max_vectors ? vc->msi.max_vectors : n;
}

uint64_t vfio_config_msi_address(const struct vfio_config *vc)
{
	uint64_t addr = pci_config_read(vc->dev, vc->msi.offset + MSI_ADDR_LO, 4);

	if (vc->msi.addr64)
		addr |= (uint64_t)pci_config_read(vc->dev, vc->msi.offset + MSI_ADDR_HI, 4) << 32;
	return addr;
}

uint16_t vfio_config_msi_data(const struct vfio_config *vc)
{
	return (uint16_t)pci_config_read(vc->dev, vc->msi.offset +
					 (vc->msi.addr64 ? MSI_DATA_64 : MSI_DATA_32), 2);
}

uint32_t vfio_config_msi_mask(const struct vfio_config *vc)
{
	if (!vc->msi.offset || !vc->msi.maskable)
		return 0;
	return pci_config_read(vc->dev, msi_mask_offset(&vc->msi), 4);
}

static uint16_t msix_control(const struct vfio_config *vc)
{
	return (uint16_t)pci_config_read(vc->dev, vc->msix.offset + MSIX_CONTROL, 2);
}

bool vfio_config_msix_enabled(const struct vfio_config *vc)
{
	return vc->msix.offset && (msix_control(vc) & MSIX_CONTROL_ENABLE);
}

bool vfio_config_msix_masked(const struct vfio_config *vc)
{
	return vc->msix.offset && (msix_control(vc) & MSIX_CONTROL_MASKALL);
}
