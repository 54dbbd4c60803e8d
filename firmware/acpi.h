/* The ACPI tables gvmm hands the guest: RSDP, XSDT, FADT, FACS, MADT, MCFG
 * and a DSDT describing the legacy devices and the PCI host bridge. Building them is a pure function of
 * the configuration and the guest address they will live at, so unit
 * tests check the bytes without KVM and the caller copies them into guest
 * memory (GUEST_ACPI_START) and passes the RSDP address to the kernel. */
#ifndef GVMM_ACPI_H
#define GVMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* Register block at acpi_config.pm_base, as the FADT describes it (the
 * legacy fixed-hardware model). */
#define ACPI_PM1_EVT_OFFSET   0x0  /* PM1a status (2 bytes) + enable (2 bytes) */
#define ACPI_PM1_EVT_LEN      4
#define ACPI_PM1_CNT_OFFSET   0x4
#define ACPI_PM1_CNT_LEN      2
/* 0x8-0xb: no PM timer (see fadt_fill in acpi.c). */
#define ACPI_RESET_REG_OFFSET 0xc  /* writing ACPI_RESET_VALUE resets */
#define ACPI_RESET_VALUE      1
#define ACPI_PM_BLOCK_LEN     0x10

/* SLP_TYP the OS writes to PM1_CNT for S5 (soft off), from \_S5. */
#define ACPI_SLP_TYP_S5       5

struct acpi_config {
	unsigned nr_cpus;        /* LAPIC ids and processor UIDs 0..nr_cpus-1 */
	uint64_t lapic_addr;     /* GUEST_LAPIC_ADDR */
	uint64_t ioapic_addr;    /* GUEST_IOAPIC_ADDR */
	uint8_t ioapic_id;       /* any id no LAPIC uses, e.g. nr_cpus */
	uint16_t pm_base;        /* PORT_ACPI_PM_BASE */
	uint8_t sci_irq;         /* IRQ_ACPI_SCI: ISA IRQ, level, active high */
	uint16_t com1_port;      /* PORT_COM1 */
	uint8_t com1_irq;        /* IRQ_COM1 */
	uint16_t rtc_port;       /* PORT_CMOS */
	uint8_t rtc_irq;         /* IRQ_RTC */
	/* The PCI host bridge, segment 0 from bus 0. ecam_size 0 means no
	 * PCI: no MCFG and no \_SB.PCI0. Window ends are exclusive; an
	 * empty window (start == end) is left out of _CRS. */
	uint64_t ecam_base;      /* GUEST_ECAM_START, below 4 GiB */
	uint64_t ecam_size;      /* GUEST_ECAM_SIZE: 1 MiB per bus */
	uint64_t pci_io_start, pci_io_end;
	uint64_t pci_mem32_start, pci_mem32_end;
	uint64_t pci_mem64_start, pci_mem64_end;
};

/* Room that is always enough for acpi_build_tables() with 255 CPUs. */
#define ACPI_TABLES_MAX_SIZE  0x2000

/* Lays out the tables in buf, which the caller copies to guest physical
 * base_gpa (16-byte aligned, below 4 GiB): the RSDP comes first, so
 * *rsdp_gpa is base_gpa. *used is the number of bytes written. Returns 0,
 * or -1 with one line in err (buffer too small, bad configuration). */
int acpi_build_tables(const struct acpi_config *cfg, uint64_t base_gpa,
		      uint8_t *buf, size_t buflen, size_t *used,
		      uint64_t *rsdp_gpa, char *err, size_t errlen);

#endif
