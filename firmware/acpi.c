#include "acpi.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "aml.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define OEM_ID             "GVMM  "    /* 6 bytes */
#define OEM_TABLE_ID       "GVMMTBL "  /* 8 bytes */
#define OEM_REVISION       1
#define CREATOR_ID         "GVMM"
#define CREATOR_REVISION   1

#define HEADER_LEN         36  /* every table but the RSDP and the FACS */
#define HEADER_CHECKSUM    9
#define RSDP_LEN           36
#define RSDP_V1_LEN        20  /* the part the first checksum covers */
#define RSDP_REVISION      2   /* ACPI 2.0+: has the XSDT address */

/* Generic Address Structure: where a register lives. */
#define GAS_LEN            12
#define GAS_SYSTEM_IO      1
#define GAS_ACCESS_BYTE    1
#define GAS_ACCESS_WORD    2

/* FADT of ACPI 6.4 (revision 6, minor 4): 276 bytes. */
#define FADT_REVISION      6
#define FADT_MINOR         4
#define FADT_LEN           276
#define FADT_FIRMWARE_CTRL 36
#define FADT_DSDT          40
#define FADT_PM_PROFILE    45
#define FADT_SCI_INT       46
#define FADT_SMI_CMD       48
#define FADT_PM1A_EVT_BLK  56
#define FADT_PM1A_CNT_BLK  64
#define FADT_PM1_EVT_LEN   88
#define FADT_PM1_CNT_LEN   89
#define FADT_P_LVL2_LAT    96
#define FADT_P_LVL3_LAT    98
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS         112
#define FADT_RESET_REG     116
#define FADT_RESET_VALUE   128
#define FADT_MINOR_VERSION 131
#define FADT_X_FIRMWARE_CTRL 132
#define FADT_X_DSDT        140
#define FADT_X_PM1A_EVT_BLK 148
#define FADT_X_PM1A_CNT_BLK 172

/* Latencies above these limits tell the OS C2 and C3 do not exist. */
#define FADT_NO_C2_LATENCY 101
#define FADT_NO_C3_LATENCY 1001

#define BOOT_ARCH_LEGACY_DEVICES (1u << 0)  /* COM1 and the RTC sit on "ISA" */

#define FADT_WBINVD        (1u << 0)
#define FADT_PROC_C1       (1u << 2)
#define FADT_SLP_BUTTON    (1u << 5)   /* no fixed-feature sleep button */
#define FADT_FIX_RTC       (1u << 6)   /* no RTC_STS/RTC_EN in the PM1 block */
#define FADT_RESET_REG_SUP (1u << 10)

#define FACS_LEN           64
#define FACS_VERSION       2

/* MADT of ACPI 6.4. The Processor Local APIC entry holds 8-bit APIC ids,
 * hence at most 255 vCPUs (0xff means "all"); beyond that needs x2APIC
 * entries, which can come when gvmm supports that many. */
#define MADT_REVISION      5
#define MADT_PCAT_COMPAT   (1u << 0)   /* dual 8259s are present too */
#define MADT_LOCAL_APIC    0
#define MADT_IO_APIC       1
#define MADT_SOURCE_OVERRIDE 2
#define MADT_LOCAL_APIC_NMI 4
#define MADT_LOCAL_APIC_LEN 8
#define MADT_IO_APIC_LEN   12
#define MADT_OVERRIDE_LEN  10
#define MADT_NMI_LEN       6
#define MADT_CPU_ENABLED   1
#define MADT_ALL_CPUS      0xff
#define MAX_CPUS           255
/* MPS INTI flags: polarity in bits 0-1, trigger mode in bits 2-3. */
#define INTI_CONFORMS      0x0000
#define INTI_LEVEL_HIGH    0x000d
#define ISA_BUS            0
#define PIT_IRQ            0
#define PIT_GSI            2           /* the IOAPIC has the PIT on pin 2 */
#define NMI_LINT           1

/* DSDT revision 2 makes AML integers 64 bits wide. */
#define DSDT_REVISION      2

/* MCFG (PCI Firmware Specification 3.0, 4.1.2): one allocation entry per
 * PCI segment's ECAM range. */
#define MCFG_REVISION      1
#define MCFG_RESERVED_LEN  8
#define MCFG_ALLOCATION_LEN 16
#define ECAM_BUS_SIZE      0x100000ULL  /* 1 MiB of config space per bus */
#define ECAM_MAX_BUSES     256

/* PCI interrupt routing: slots 1-31 (0 is the host bridge), pins A-D,
 * onto the eight IOAPIC pins from GSI 16 (see pci_slot_intx_gsi()). */
#define PCI_FIRST_SLOT     1
#define PCI_NR_SLOTS       32
#define PCI_NR_PINS        4
#define PCI_INTX_GSI_BASE  16
#define PCI_INTX_NR_GSIS   8
#define PCI_CONF1_PORT     0xcf8
#define PCI_CONF1_PORTS    8
#define IO_SPACE_END       0x10000ULL

#define GIB4               0x100000000ULL

struct acpi_build;

/* One table in the layout. Adding a table means adding its size and fill
 * functions and one line to table_kinds[]. */
struct table_kind {
	const char *signature;
	uint8_t revision;
	bool has_header;        /* the FACS has its own layout, no checksum */
	bool in_xsdt;           /* the FACS and DSDT hang off the FADT instead */
	size_t align;
	size_t (*size)(const struct acpi_build *ab);
	void (*fill)(const struct acpi_build *ab, uint8_t *table);
	/* Whether this configuration has the table; NULL: always. */
	bool (*wanted)(const struct acpi_config *cfg);
};

struct table_slot {
	const struct table_kind *kind;
	size_t offset;          /* in the caller's buffer */
	size_t len;
};

#define MAX_TABLES 8

struct acpi_build {
	const struct acpi_config *cfg;
	uint64_t base_gpa;
	const struct aml_builder *dsdt_aml;
	unsigned nr_slots;
	struct table_slot slots[MAX_TABLES];
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_gas_io(uint8_t *p, uint16_t port, unsigned len,
		       uint8_t access_size)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = (uint8_t)(8 * len);  /* register width in bits */
	p[2] = 0;                   /* bit offset */
	p[3] = access_size;
	put64(p + 4, port);
}

static uint8_t sum_bytes(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return sum;
}

static uint64_t table_gpa(const struct acpi_build *ab, const char *signature)
{
	for (unsigned i = 0; i < ab->nr_slots; i++)
		if (!strcmp(ab->slots[i].kind->signature, signature))
			return ab->base_gpa + ab->slots[i].offset;
	return 0;
}

static size_t xsdt_size(const struct acpi_build *ab)
{
	size_t entries = 0;

	for (unsigned i = 0; i < ab->nr_slots; i++)
		entries += ab->slots[i].kind->in_xsdt;
	return HEADER_LEN + 8 * entries;
}

static void xsdt_fill(const struct acpi_build *ab, uint8_t *t)
{
	uint8_t *entry = t + HEADER_LEN;

	for (unsigned i = 0; i < ab->nr_slots; i++) {
		if (!ab->slots[i].kind->in_xsdt)
			continue;
		put64(entry, ab->base_gpa + ab->slots[i].offset);
		entry += 8;
	}
}

static size_t fadt_size(const struct acpi_build *ab)
{
	(void)ab;
	return FADT_LEN;
}

static void fadt_fill(const struct acpi_build *ab, uint8_t *t)
{
	const struct acpi_config *cfg = ab->cfg;
	uint16_t pm1_evt = cfg->pm_base + ACPI_PM1_EVT_OFFSET;
	uint16_t pm1_cnt = cfg->pm_base + ACPI_PM1_CNT_OFFSET;
	uint64_t facs = table_gpa(ab, "FACS");
	uint64_t dsdt = table_gpa(ab, "DSDT");

	/* Both address forms, equal: older OSes read the 32-bit ones and
	 * ACPICA warns when the two disagree. */
	put32(t + FADT_FIRMWARE_CTRL, (uint32_t)facs);
	put32(t + FADT_DSDT, (uint32_t)dsdt);
	put64(t + FADT_X_FIRMWARE_CTRL, facs);
	put64(t + FADT_X_DSDT, dsdt);

	t[FADT_PM_PROFILE] = 0;  /* unspecified */
	put16(t + FADT_SCI_INT, cfg->sci_irq);
	/* No SMI command port: the OS finds the machine in ACPI mode and
	 * never tries to switch. */
	put32(t + FADT_SMI_CMD, 0);

	put32(t + FADT_PM1A_EVT_BLK, pm1_evt);
	put32(t + FADT_PM1A_CNT_BLK, pm1_cnt);
	t[FADT_PM1_EVT_LEN] = ACPI_PM1_EVT_LEN;
	t[FADT_PM1_CNT_LEN] = ACPI_PM1_CNT_LEN;
	/* PM1 status and enable are separate 16-bit registers. */
	put_gas_io(t + FADT_X_PM1A_EVT_BLK, pm1_evt, ACPI_PM1_EVT_LEN,
		   GAS_ACCESS_WORD);
	put_gas_io(t + FADT_X_PM1A_CNT_BLK, pm1_cnt, ACPI_PM1_CNT_LEN,
		   GAS_ACCESS_WORD);
	/* No PM timer (PM_TMR_BLK and X_PM_TMR_BLK zero, optional since
	 * ACPI 5.0A). The guest keeps time with kvm-clock and the TSC,
	 * whose rate kvm-clock tells it; given a PM timer, Linux still reads
	 * it at every boot to check that it counts up, busy-waiting 4.5 ms
	 * between the reads, and never uses it. */

	put16(t + FADT_P_LVL2_LAT, FADT_NO_C2_LATENCY);
	put16(t + FADT_P_LVL3_LAT, FADT_NO_C3_LATENCY);

	/* No 8042 and no VGA-not-present claims; MSI must stay allowed. */
	put16(t + FADT_IAPC_BOOT_ARCH, BOOT_ARCH_LEGACY_DEVICES);
	put32(t + FADT_FLAGS, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON |
	      FADT_FIX_RTC | FADT_RESET_REG_SUP);

	put_gas_io(t + FADT_RESET_REG, cfg->pm_base + ACPI_RESET_REG_OFFSET, 1,
		   GAS_ACCESS_BYTE);
	t[FADT_RESET_VALUE] = ACPI_RESET_VALUE;
	t[FADT_MINOR_VERSION] = FADT_MINOR;
}

static size_t facs_size(const struct acpi_build *ab)
{
	(void)ab;
	return FACS_LEN;
}

static void facs_fill(const struct acpi_build *ab, uint8_t *t)
{
	(void)ab;
	memcpy(t, "FACS", 4);
	put32(t + 4, FACS_LEN);
	t[32] = FACS_VERSION;
}

/* The legacy ISA interrupts the MADT remaps: the PIT and the SCI. */
#define MADT_NR_OVERRIDES  2

static size_t madt_size(const struct acpi_build *ab)
{
	return HEADER_LEN + 8 + ab->cfg->nr_cpus * MADT_LOCAL_APIC_LEN +
	       MADT_IO_APIC_LEN + MADT_NR_OVERRIDES * MADT_OVERRIDE_LEN +
	       MADT_NMI_LEN;
}

static uint8_t *madt_put_override(uint8_t *p, uint8_t irq, uint32_t gsi,
				  uint16_t flags)
{
	p[0] = MADT_SOURCE_OVERRIDE;
	p[1] = MADT_OVERRIDE_LEN;
	p[2] = ISA_BUS;
	p[3] = irq;
	put32(p + 4, gsi);
	put16(p + 8, flags);
	return p + MADT_OVERRIDE_LEN;
}

static void madt_fill(const struct acpi_build *ab, uint8_t *t)
{
	const struct acpi_config *cfg = ab->cfg;
	uint8_t *p = t + HEADER_LEN + 8;

	put32(t + HEADER_LEN, (uint32_t)cfg->lapic_addr);
	put32(t + HEADER_LEN + 4, MADT_PCAT_COMPAT);

	for (unsigned cpu = 0; cpu < cfg->nr_cpus; cpu++) {
		p[0] = MADT_LOCAL_APIC;
		p[1] = MADT_LOCAL_APIC_LEN;
		p[2] = (uint8_t)cpu;  /* ACPI processor UID */
		p[3] = (uint8_t)cpu;  /* APIC id */
		put32(p + 4, MADT_CPU_ENABLED);
		p += MADT_LOCAL_APIC_LEN;
	}

	p[0] = MADT_IO_APIC;
	p[1] = MADT_IO_APIC_LEN;
	p[2] = cfg->ioapic_id;
	p[3] = 0;
	put32(p + 4, (uint32_t)cfg->ioapic_addr);
	put32(p + 8, 0);  /* GSI base: ISA IRQs are GSIs 0-15 */
	p += MADT_IO_APIC_LEN;

	p = madt_put_override(p, PIT_IRQ, PIT_GSI, INTI_CONFORMS);
	p = madt_put_override(p, cfg->sci_irq, cfg->sci_irq, INTI_LEVEL_HIGH);

	p[0] = MADT_LOCAL_APIC_NMI;
	p[1] = MADT_NMI_LEN;
	p[2] = MADT_ALL_CPUS;
	put16(p + 3, INTI_CONFORMS);
	p[5] = NMI_LINT;
}

static bool has_pci(const struct acpi_config *cfg)
{
	return cfg->ecam_size != 0;
}

static unsigned pci_last_bus(const struct acpi_config *cfg)
{
	return (unsigned)(cfg->ecam_size / ECAM_BUS_SIZE) - 1;
}

static size_t mcfg_size(const struct acpi_build *ab)
{
	(void)ab;
	return HEADER_LEN + MCFG_RESERVED_LEN + MCFG_ALLOCATION_LEN;
}

static void mcfg_fill(const struct acpi_build *ab, uint8_t *t)
{
	uint8_t *alloc = t + HEADER_LEN + MCFG_RESERVED_LEN;

	put64(alloc, ab->cfg->ecam_base);
	put16(alloc + 8, 0);    /* PCI segment group */
	alloc[10] = 0;          /* first bus */
	alloc[11] = (uint8_t)pci_last_bus(ab->cfg);
}

static size_t dsdt_size(const struct acpi_build *ab)
{
	return HEADER_LEN + ab->dsdt_aml->len;
}

static void dsdt_fill(const struct acpi_build *ab, uint8_t *t)
{
	memcpy(t + HEADER_LEN, ab->dsdt_aml->bytes, ab->dsdt_aml->len);
}

/* In buffer order; the RSDP precedes them all. */
static const struct table_kind table_kinds[] = {
	{ "XSDT", 1, true, false, 16, xsdt_size, xsdt_fill },
	{ "FACP", FADT_REVISION, true, true, 16, fadt_size, fadt_fill },
	{ "FACS", 0, false, false, 64, facs_size, facs_fill },
	{ "APIC", MADT_REVISION, true, true, 16, madt_size, madt_fill },
	{ "DSDT", DSDT_REVISION, true, false, 16, dsdt_size, dsdt_fill },
	{ "MCFG", MCFG_REVISION, true, true, 16, mcfg_size, mcfg_fill, has_pci },
};

_Static_assert(ARRAY_SIZE(table_kinds) <= MAX_TABLES, "raise MAX_TABLES");

static void dsdt_add_com1(struct aml_builder *b, const struct acpi_config *cfg)
{
	aml_begin_device(b, "COM1");
	aml_name_eisaid(b, "_HID", "PNP0501");  /* 16550A-compatible UART */
	aml_name_integer(b, "_UID", 1);
	aml_name(b, "_CRS");
	aml_begin_resource_template(b);
	aml_io(b, cfg->com1_port, cfg->com1_port, 1, 8);
	aml_irq_noflags(b, cfg->com1_irq);
	aml_end(b);
	aml_end(b);
}

static void dsdt_add_rtc(struct aml_builder *b, const struct acpi_config *cfg)
{
	aml_begin_device(b, "RTC");
	aml_name_eisaid(b, "_HID", "PNP0B00");  /* AT real-time clock */
	aml_name(b, "_CRS");
	aml_begin_resource_template(b);
	aml_io(b, cfg->rtc_port, cfg->rtc_port, 1, 2);
	aml_irq_noflags(b, cfg->rtc_irq);
	aml_end(b);
	aml_end(b);
}

/* _PRT: every slot's pins A-D straight to IOAPIC inputs (no link
 * devices), rotated by slot so neighbours spread over the eight pins.
 * Pin A of slot N is GSI 16 + N % 8, which is what pci_slot_intx_gsi()
 * wires INTA# to.
 *
 * The OS programs a _PRT GSI as level-triggered, active-low, and no MADT
 * override can say otherwise for GSIs above the ISA range. That suits
 * KVM: its IOAPIC ignores the programmed polarity
 * (KVM_CAP_X86_IOAPIC_POLARITY_IGNORED), so KVM_IRQ_LINE level 1 is
 * "asserted" either way. */
static void dsdt_add_pci_routing(struct aml_builder *b)
{
	aml_name(b, "_PRT");
	aml_begin_package(b);
	for (unsigned slot = PCI_FIRST_SLOT; slot < PCI_NR_SLOTS; slot++) {
		for (unsigned pin = 0; pin < PCI_NR_PINS; pin++) {
			aml_begin_package(b);
			aml_integer(b, (uint64_t)slot << 16 | 0xffff);  /* any function */
			aml_integer(b, pin);
			aml_integer(b, 0);  /* no link device: the next is a GSI */
			aml_integer(b, PCI_INTX_GSI_BASE + (slot + pin) % PCI_INTX_NR_GSIS);
			aml_end(b);
		}
	}
	aml_end(b);
}

/* The host bridge's windows. Neither memory window is marked
 * prefetchable: Linux refuses a non-prefetchable BAR inside a
 * prefetchable root window, and the 64-bit window holds both kinds. */
static void dsdt_add_pci_host_bridge(struct aml_builder *b, const struct acpi_config *cfg)
{
	aml_begin_device(b, "PCI0");
	aml_name_eisaid(b, "_HID", "PNP0A08");  /* PCI Express root bridge */
	aml_name_eisaid(b, "_CID", "PNP0A03");  /* PCI root bridge */
	aml_name_integer(b, "_SEG", 0);
	aml_name_integer(b, "_BBN", 0);
	aml_name_integer(b, "_UID", 0);
	aml_name(b, "_CRS");
	aml_begin_resource_template(b);
	aml_word_bus_number(b, 0, (uint16_t)pci_last_bus(cfg));
	/* Consumed, not a window: the OS knows to leave it out. */
	aml_io(b, PCI_CONF1_PORT, PCI_CONF1_PORT, 1, PCI_CONF1_PORTS);
	if (cfg->pci_io_end > cfg->pci_io_start)
		aml_word_io(b, (uint16_t)cfg->pci_io_start, (uint16_t)(cfg->pci_io_end - 1));
	if (cfg->pci_mem32_end > cfg->pci_mem32_start)
		aml_dword_memory(b, AML_MEM_NON_CACHEABLE, (uint32_t)cfg->pci_mem32_start,
				 (uint32_t)(cfg->pci_mem32_end - 1));
	if (cfg->pci_mem64_end > cfg->pci_mem64_start)
		aml_qword_memory(b, AML_MEM_NON_CACHEABLE, cfg->pci_mem64_start,
				 cfg->pci_mem64_end - 1);
	aml_end(b);
	dsdt_add_pci_routing(b);
	aml_end(b);
}

/* The ECAM range claimed as a motherboard resource: Linux uses MMCONFIG
 * only when the MCFG's range is reserved this way. */
static void dsdt_add_ecam_reservation(struct aml_builder *b, const struct acpi_config *cfg)
{
	aml_begin_device(b, "MB00");
	aml_name_eisaid(b, "_HID", "PNP0C02");  /* motherboard resources */
	aml_name_integer(b, "_UID", 0);
	aml_name(b, "_CRS");
	aml_begin_resource_template(b);
	aml_memory32_fixed(b, (uint32_t)cfg->ecam_base, (uint32_t)cfg->ecam_size, true);
	aml_end(b);
	aml_end(b);
}

static void dsdt_add_sleep_states(struct aml_builder *b)
{
	/* Only S5: {SLP_TYPa, SLP_TYPb, reserved, reserved}. */
	aml_name(b, "\\_S5");
	aml_begin_package(b);
	aml_integer(b, ACPI_SLP_TYP_S5);
	aml_integer(b, ACPI_SLP_TYP_S5);
	aml_integer(b, 0);
	aml_integer(b, 0);
	aml_end(b);
}

static void build_dsdt_aml(struct aml_builder *b, const struct acpi_config *cfg)
{
	aml_begin_scope(b, "\\_SB");
	dsdt_add_com1(b, cfg);
	dsdt_add_rtc(b, cfg);
	if (has_pci(cfg)) {
		dsdt_add_pci_host_bridge(b, cfg);
		dsdt_add_ecam_reservation(b, cfg);
	}
	aml_end(b);
	dsdt_add_sleep_states(b);
}

static void put_header(uint8_t *t, const struct table_kind *kind, size_t len)
{
	memcpy(t, kind->signature, 4);
	put32(t + 4, (uint32_t)len);
	t[8] = kind->revision;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put32(t + 24, OEM_REVISION);
	memcpy(t + 28, CREATOR_ID, 4);
	put32(t + 32, CREATOR_REVISION);
}

static void rsdp_fill(uint8_t *r, uint64_t xsdt_gpa)
{
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, OEM_ID, 6);
	r[15] = RSDP_REVISION;
	put32(r + 16, 0);  /* no RSDT: every table is reachable by the XSDT */
	put32(r + 20, RSDP_LEN);
	put64(r + 24, xsdt_gpa);
	r[8] = (uint8_t)-sum_bytes(r, RSDP_V1_LEN);
	r[32] = (uint8_t)-sum_bytes(r, RSDP_LEN);
}

static size_t align_up(size_t v, size_t align)
{
	return (v + align - 1) / align * align;
}

static int check_pci_config(const struct acpi_config *cfg, char *err, size_t errlen)
{
	/* Memory32Fixed reserves the ECAM range, so it stays below 4 GiB. */
	if (cfg->ecam_base % ECAM_BUS_SIZE || cfg->ecam_size % ECAM_BUS_SIZE ||
	    cfg->ecam_size > ECAM_MAX_BUSES * ECAM_BUS_SIZE ||
	    cfg->ecam_base >= GIB4 || cfg->ecam_size > GIB4 - cfg->ecam_base) {
		snprintf(err, errlen, "ACPI tables need the PCI ECAM range 1 MiB-aligned, "
			 "1 to 256 buses and below 4 GiB");
		return -1;
	}
	if (cfg->pci_io_start > cfg->pci_io_end || cfg->pci_io_end > IO_SPACE_END ||
	    cfg->pci_mem32_start > cfg->pci_mem32_end || cfg->pci_mem32_end > GIB4 ||
	    cfg->pci_mem64_start > cfg->pci_mem64_end) {
		snprintf(err, errlen, "ACPI tables need PCI windows with start <= end, "
			 "I/O below 0x10000 and the 32-bit one below 4 GiB");
		return -1;
	}
	return 0;
}

static int check_config(const struct acpi_config *cfg, uint64_t base_gpa,
			char *err, size_t errlen)
{
	if (cfg->nr_cpus == 0 || cfg->nr_cpus > MAX_CPUS) {
		snprintf(err, errlen, "ACPI tables support 1 to %d CPUs, not %u",
			 MAX_CPUS, cfg->nr_cpus);
		return -1;
	}
	if (cfg->lapic_addr >= GIB4 || cfg->ioapic_addr >= GIB4) {
		snprintf(err, errlen, "ACPI tables need the LAPIC and IOAPIC below 4 GiB");
		return -1;
	}
	/* IRQ 0 and 2 are the PIT's and the cascade's; the MADT remaps
	 * IRQ 0 to GSI 2, so the SCI cannot share either. */
	if (cfg->sci_irq == PIT_IRQ || cfg->sci_irq == PIT_GSI || cfg->sci_irq > 15 ||
	    cfg->com1_irq > 15 || cfg->rtc_irq > 15) {
		snprintf(err, errlen, "ACPI tables need ISA IRQs 1 and 3-15 for SCI, COM1 and RTC");
		return -1;
	}
	if (base_gpa % 16) {
		snprintf(err, errlen, "ACPI tables must start 16-byte aligned, not at 0x%llx",
			 (unsigned long long)base_gpa);
		return -1;
	}
	return has_pci(cfg) ? check_pci_config(cfg, err, errlen) : 0;
}

int acpi_build_tables(const struct acpi_config *cfg, uint64_t base_gpa,
		      uint8_t *buf, size_t buflen, size_t *used,
		      uint64_t *rsdp_gpa, char *err, size_t errlen)
{
	struct aml_builder dsdt_aml;
	struct acpi_build ab = {
		.cfg = cfg,
		.base_gpa = base_gpa,
		.dsdt_aml = &dsdt_aml,
	};
	size_t end = RSDP_LEN;

	if (check_config(cfg, base_gpa, err, errlen))
		return -1;

	aml_init(&dsdt_aml);
	build_dsdt_aml(&dsdt_aml, cfg);
	if (aml_finish(&dsdt_aml, err, errlen))
		goto fail;

	/* Kinds first, since the XSDT's size depends on the others. */
	for (size_t i = 0; i < ARRAY_SIZE(table_kinds); i++)
		if (!table_kinds[i].wanted || table_kinds[i].wanted(cfg))
			ab.slots[ab.nr_slots++].kind = &table_kinds[i];
	for (unsigned i = 0; i < ab.nr_slots; i++) {
		struct table_slot *slot = &ab.slots[i];

		slot->offset = align_up(end, slot->kind->align);
		slot->len = slot->kind->size(&ab);
		end = slot->offset + slot->len;
	}
	if (end > buflen) {
		snprintf(err, errlen, "ACPI tables need %zu bytes, only %zu are available",
			 end, buflen);
		goto fail;
	}
	/* The FADT's 32-bit FACS and DSDT pointers must reach every table. */
	if (base_gpa > GIB4 - end) {
		snprintf(err, errlen, "ACPI tables must lie below 4 GiB, not at 0x%llx",
			 (unsigned long long)base_gpa);
		goto fail;
	}

	memset(buf, 0, end);
	for (unsigned i = 0; i < ab.nr_slots; i++) {
		const struct table_slot *slot = &ab.slots[i];
		uint8_t *t = buf + slot->offset;

		if (slot->kind->has_header)
			put_header(t, slot->kind, slot->len);
		slot->kind->fill(&ab, t);
		if (slot->kind->has_header)
			t[HEADER_CHECKSUM] = (uint8_t)-sum_bytes(t, slot->len);
	}
	rsdp_fill(buf, table_gpa(&ab, "XSDT"));

	aml_free(&dsdt_aml);
	*used = end;
	*rsdp_gpa = base_gpa;
	return 0;

fail:
	aml_free(&dsdt_aml);
	return -1;
}
