/* The x86 guest physical memory map: every fixed guest address gvmm uses
 * is defined here and nowhere else. docs/memory-map.md draws the same map.
 *
 *   0x0000_0000 - 0x0000_04ff  real-mode IVT and BIOS data area (left zero)
 *   0x0000_0500 - 0x0000_05ff  GDT for the boot CPU
 *   0x0000_0600 - 0x0000_06ff  empty IDT
 *   0x0000_7000 - 0x0000_7fff  zero page (bzImage) or hvm_start_info (PVH)
 *   0x0000_8000 - 0x0000_8fff  PVH memory map and module list
 *   0x0000_9000 - 0x0000_efff  boot page tables: PML4, PDPT, 4 PDs (4 GiB of 2 MiB pages)
 *   0x0002_0000 - 0x0002_ffff  kernel command line
 *   0x0009_fc00 - 0x0009_ffff  EBDA (reserved in e820)
 *   0x000a_0000 - 0x000d_ffff  legacy VGA/ROM hole (not RAM)
 *   0x000e_0000 - 0x000f_ffff  ACPI tables, RSDP first (reserved in e820)
 *   0x0010_0000 - ...          kernel (bzImage protected-mode part, or PVH ELF segments)
 *   ...        - LOW_RAM_END   initrd, placed as high as the kernel allows
 *   0xc000_0000 - 0xffff_ffff  PCI hole: 32-bit MMIO, ECAM, IOAPIC, LAPIC, TSS
 *   0x1_0000_0000 - ...        RAM above 4 GiB, when there is more than fits below the hole
 *   next 4 GiB boundary        64-bit PCI MMIO window, GUEST_MMIO64_SIZE
 */
#ifndef GVMM_GUEST_LAYOUT_H
#define GVMM_GUEST_LAYOUT_H

#define GUEST_GDT_ADDR          0x500ULL
#define GUEST_IDT_ADDR          0x600ULL
#define GUEST_BOOT_INFO_ADDR    0x7000ULL  /* zero page or hvm_start_info */
#define GUEST_PVH_MEMMAP_ADDR   0x8000ULL
#define GUEST_PVH_MEMMAP_SIZE   0x1000ULL
#define GUEST_PML4_ADDR         0x9000ULL
#define GUEST_PDPT_ADDR         0xa000ULL
#define GUEST_PD_ADDR           0xb000ULL  /* four pages: 0xb000 - 0xefff */
#define GUEST_CMDLINE_ADDR      0x20000ULL
#define GUEST_CMDLINE_MAX       0x10000ULL /* including the NUL */
#define GUEST_EBDA_START        0x9fc00ULL
#define GUEST_LEGACY_HOLE_START 0xa0000ULL
#define GUEST_ACPI_START        0xe0000ULL
#define GUEST_ACPI_END          0x100000ULL
#define GUEST_KERNEL_ADDR       0x100000ULL

#define GUEST_PCI_HOLE_START    0xc0000000ULL
#define GUEST_MMIO32_START      0xc0000000ULL
#define GUEST_MMIO32_END        0xe0000000ULL
#define GUEST_ECAM_START        0xe0000000ULL
/* Bus 0 only: every device sits there. MCFG's last bus also tells Linux
 * how far to look for buses the firmware did not name (its "peer bridge"
 * fixup reads the vendor ID of every slot of every bus up to it, two port
 * exits each): 255 buses made that 16,000 exits of every boot. */
#define GUEST_ECAM_SIZE         0x100000ULL
#define GUEST_IOAPIC_ADDR       0xfec00000ULL
#define GUEST_LAPIC_ADDR        0xfee00000ULL
#define GUEST_IDENTITY_MAP_ADDR 0xfeffc000ULL  /* KVM_SET_IDENTITY_MAP_ADDR: one page */
#define GUEST_TSS_ADDR          0xfeffd000ULL  /* KVM_SET_TSS_ADDR: three pages */
#define GUEST_HIGH_RAM_START    0x100000000ULL

/* PCI BAR windows (the DSDT's PCI0 _CRS). The 64-bit window starts at the
 * first 4 GiB boundary above RAM, so it never overlaps high RAM. */
#define GUEST_PCI_IO_START      0xc000ULL
#define GUEST_PCI_IO_END        0x10000ULL
#define GUEST_MMIO64_SIZE       (32ULL << 30)

static inline unsigned long long guest_mmio64_start(unsigned long long ram_size)
{
	unsigned long long ram_end = ram_size <= GUEST_PCI_HOLE_START ? GUEST_HIGH_RAM_START :
		GUEST_HIGH_RAM_START + (ram_size - GUEST_PCI_HOLE_START);

	return (ram_end + (4ULL << 30) - 1) & ~((4ULL << 30) - 1);
}

/* I/O ports of the legacy devices gvmm emulates. */
#define PORT_COM1               0x3f8
#define PORT_I8042_DATA         0x60
#define PORT_I8042_CMD          0x64
#define PORT_CMOS               0x70
#define PORT_ACPI_PM_BASE       0x600  /* see devices/pc/acpi_pm.h */

/* ISA interrupt lines (GSIs on the in-kernel PIC/IOAPIC). */
#define IRQ_COM1                4
#define IRQ_RTC                 8
#define IRQ_ACPI_SCI            9

#endif
