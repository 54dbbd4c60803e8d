/* ACPI tables and the AML builder. The tables are checked twice: by walking
 * them here from the RSDP, and by ACPICA's iasl, which must disassemble
 * every table without complaint and compile the disassembly back (the AML
 * of the DSDT is only right if iasl understands it). */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "../../devices/pci/pci.h"
#include "../../firmware/acpi.h"
#include "../../firmware/aml.h"
#include "../../firmware/guest_layout.h"

#define TABLES_ROOM (128 * 1024)  /* GUEST_ACPI_START to GUEST_ACPI_END */

struct built {
	uint8_t buf[TABLES_ROOM];
	size_t used;
	uint64_t rsdp_gpa;
};

/* Pointers into struct built, found by following the guest addresses. */
struct table_set {
	const uint8_t *rsdp, *xsdt, *fadt, *facs, *madt, *dsdt, *mcfg;
	unsigned nr_xsdt_entries;
};

/* The PCI windows vm.c gives the host bridge. */
#define PCI_IO_START      0xc000ULL
#define PCI_IO_END        0x10000ULL
#define PCI_MEM64_START   0x1000000000ULL
#define PCI_MEM64_END     0x2000000000ULL

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t sum_bytes(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return sum;
}

static struct acpi_config config_for(unsigned nr_cpus)
{
	return (struct acpi_config){
		.nr_cpus = nr_cpus,
		.lapic_addr = GUEST_LAPIC_ADDR,
		.ioapic_addr = GUEST_IOAPIC_ADDR,
		.ioapic_id = (uint8_t)nr_cpus,
		.pm_base = PORT_ACPI_PM_BASE,
		.sci_irq = IRQ_ACPI_SCI,
		.com1_port = PORT_COM1,
		.com1_irq = IRQ_COM1,
		.rtc_port = PORT_CMOS,
		.rtc_irq = IRQ_RTC,
		.ecam_base = GUEST_ECAM_START,
		.ecam_size = GUEST_ECAM_SIZE,
		.pci_io_start = PCI_IO_START,
		.pci_io_end = PCI_IO_END,
		.pci_mem32_start = GUEST_MMIO32_START,
		.pci_mem32_end = GUEST_MMIO32_END,
		.pci_mem64_start = PCI_MEM64_START,
		.pci_mem64_end = PCI_MEM64_END,
	};
}

static struct built *build_config(const struct acpi_config *cfg, uint8_t filler)
{
	struct built *t = calloc(1, sizeof(*t));
	char err[256] = "";

	if (!t)
		return NULL;
	memset(t->buf, filler, sizeof(t->buf));
	if (acpi_build_tables(cfg, GUEST_ACPI_START, t->buf, sizeof(t->buf),
			      &t->used, &t->rsdp_gpa, err, sizeof(err))) {
		fprintf(stderr, "  acpi_build_tables: %s\n", err);
		free(t);
		return NULL;
	}
	return t;
}

static struct built *build_over(unsigned nr_cpus, uint8_t filler)
{
	struct acpi_config cfg = config_for(nr_cpus);

	return build_config(&cfg, filler);
}

/* A machine without PCI, as gvmm was before it had a host bridge. */
static struct built *build_without_pci(unsigned nr_cpus)
{
	struct acpi_config cfg = config_for(nr_cpus);

	cfg.ecam_size = 0;
	return build_config(&cfg, 0);
}

static struct built *build(unsigned nr_cpus)
{
	return build_over(nr_cpus, 0);
}

/* The table at a guest address, if its whole length (at least min_len)
 * lies inside the tables. */
static const uint8_t *table_at(const struct built *t, uint64_t gpa,
			       size_t min_len)
{
	uint64_t off = gpa - GUEST_ACPI_START;
	uint32_t len;

	if (gpa < GUEST_ACPI_START || off + min_len > t->used || off + 8 > t->used)
		return NULL;
	len = get32(t->buf + off + 4);
	if (len < min_len || off + len > t->used)
		return NULL;
	return t->buf + off;
}

static bool walk_tables(const struct built *t, struct table_set *ts)
{
	memset(ts, 0, sizeof(*ts));
	CHECK_EQ(t->rsdp_gpa, GUEST_ACPI_START);
	ts->rsdp = t->buf;
	if (memcmp(ts->rsdp, "RSD PTR ", 8)) {
		CHECK(!"RSDP signature");
		return false;
	}
	ts->xsdt = table_at(t, get64(ts->rsdp + 24), 36);
	CHECK(ts->xsdt != NULL);
	if (!ts->xsdt)
		return false;
	CHECK(!memcmp(ts->xsdt, "XSDT", 4));
	CHECK_EQ((get32(ts->xsdt + 4) - 36) % 8, 0);
	ts->nr_xsdt_entries = (get32(ts->xsdt + 4) - 36) / 8;
	for (unsigned i = 0; i < ts->nr_xsdt_entries; i++) {
		const uint8_t *table = table_at(t, get64(ts->xsdt + 36 + 8 * i), 36);

		CHECK(table != NULL);
		if (!table)
			return false;
		if (!memcmp(table, "FACP", 4))
			ts->fadt = table;
		else if (!memcmp(table, "APIC", 4))
			ts->madt = table;
		else if (!memcmp(table, "MCFG", 4))
			ts->mcfg = table;
		else
			CHECK(!"unexpected table in the XSDT");
	}
	CHECK(ts->fadt && ts->madt);
	if (!ts->fadt || !ts->madt)
		return false;
	ts->dsdt = table_at(t, get64(ts->fadt + 140), 36);
	ts->facs = table_at(t, get64(ts->fadt + 132), 64);
	CHECK(ts->dsdt && ts->facs);
	if (!ts->dsdt || !ts->facs)
		return false;
	CHECK(!memcmp(ts->dsdt, "DSDT", 4));
	CHECK(!memcmp(ts->facs, "FACS", 4));
	return true;
}

static void check_header(const uint8_t *table, const char *signature)
{
	CHECK(!memcmp(table, signature, 4));
	CHECK_EQ(sum_bytes(table, get32(table + 4)), 0);
	CHECK(!memcmp(table + 10, "GVMM  ", 6));
	CHECK(!memcmp(table + 16, "GVMMTBL ", 8));
	CHECK(!memcmp(table + 28, "GVMM", 4));
}

static void check_tables(unsigned nr_cpus)
{
	struct built *t = build_over(nr_cpus, 0xa5);
	struct built *again = build_over(nr_cpus, 0x5a);
	struct table_set ts;

	/* Built over different fillers, the tables come out the same: no
	 * byte up to used was left unwritten. */
	CHECK(t && again);
	if (t && again) {
		CHECK_EQ(t->used, again->used);
		CHECK(!memcmp(t->buf, again->buf, t->used));
	}
	free(again);
	if (!t || !walk_tables(t, &ts)) {
		free(t);
		return;
	}
	/* RSDP: revision 2, both checksums, XSDT only. */
	CHECK_EQ(ts.rsdp[15], 2);
	CHECK_EQ(get32(ts.rsdp + 20), 36);
	CHECK_EQ(sum_bytes(ts.rsdp, 20), 0);
	CHECK_EQ(sum_bytes(ts.rsdp, 36), 0);
	CHECK(!memcmp(ts.rsdp + 9, "GVMM  ", 6));

	check_header(ts.xsdt, "XSDT");
	check_header(ts.fadt, "FACP");
	check_header(ts.madt, "APIC");
	check_header(ts.dsdt, "DSDT");
	CHECK(ts.mcfg != NULL);
	if (ts.mcfg)
		check_header(ts.mcfg, "MCFG");
	CHECK_EQ(ts.nr_xsdt_entries, 3);
	CHECK_EQ(ts.dsdt[8], 2);  /* 64-bit AML integers */

	CHECK_EQ(get32(ts.facs + 4), 64);
	CHECK_EQ((ts.facs - t->buf) % 64, 0);
	CHECK(t->used <= ACPI_TABLES_MAX_SIZE);
	free(t);
}

static void test_tables_1_cpu(void)
{
	check_tables(1);
}

static void test_tables_8_cpus(void)
{
	check_tables(8);
}

static void test_tables_255_cpus(void)
{
	check_tables(255);
}

static void check_madt(unsigned nr_cpus)
{
	struct built *t = build(nr_cpus);
	struct table_set ts;
	unsigned lapics = 0, ioapics = 0, overrides = 0, nmis = 0;
	bool seen_pit = false, seen_sci = false;
	const uint8_t *p, *end;

	CHECK(t != NULL);
	if (!t || !walk_tables(t, &ts)) {
		free(t);
		return;
	}
	CHECK_EQ(ts.madt[8], 5);
	CHECK_EQ(get32(ts.madt + 36), GUEST_LAPIC_ADDR);
	CHECK_EQ(get32(ts.madt + 40), 1);  /* PCAT_COMPAT */
	p = ts.madt + 44;
	end = ts.madt + get32(ts.madt + 4);
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		switch (p[0]) {
		case 0:
			CHECK_EQ(p[1], 8);
			CHECK_EQ(p[2], lapics);  /* processor UID */
			CHECK_EQ(p[3], lapics);  /* APIC id */
			CHECK_EQ(get32(p + 4), 1);
			lapics++;
			break;
		case 1:
			CHECK_EQ(p[1], 12);
			CHECK_EQ(p[2], nr_cpus);
			CHECK_EQ(get32(p + 4), GUEST_IOAPIC_ADDR);
			CHECK_EQ(get32(p + 8), 0);
			ioapics++;
			break;
		case 2:
			CHECK_EQ(p[1], 10);
			CHECK_EQ(p[2], 0);
			if (p[3] == 0) {
				CHECK_EQ(get32(p + 4), 2);
				CHECK_EQ(get16(p + 8), 0);
				seen_pit = true;
			} else if (p[3] == IRQ_ACPI_SCI) {
				CHECK_EQ(get32(p + 4), IRQ_ACPI_SCI);
				CHECK_EQ(get16(p + 8), 0x000d);
				seen_sci = true;
			} else {
				CHECK(!"unexpected interrupt source override");
			}
			overrides++;
			break;
		case 4:
			CHECK_EQ(p[1], 6);
			CHECK_EQ(p[2], 0xff);
			CHECK_EQ(p[5], 1);  /* LINT1 */
			nmis++;
			break;
		default:
			CHECK(!"unexpected MADT entry");
		}
		p += p[1];
	}
	CHECK(p == end);
	CHECK_EQ(lapics, nr_cpus);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(overrides, 2);
	CHECK(seen_pit && seen_sci);
	CHECK_EQ(nmis, 1);
	free(t);
}

static void test_madt_1_cpu(void)
{
	check_madt(1);
}

static void test_madt_8_cpus(void)
{
	check_madt(8);
}

static void check_gas_io(const uint8_t *gas, uint64_t port, unsigned bits,
			 unsigned access_size)
{
	CHECK_EQ(gas[0], 1);  /* SystemIO */
	CHECK_EQ(gas[1], bits);
	CHECK_EQ(gas[2], 0);
	CHECK_EQ(gas[3], access_size);
	CHECK_EQ(get64(gas + 4), port);
}

static void test_fadt(void)
{
	struct built *t = build(2);
	struct table_set ts;
	const uint8_t *f;
	uint32_t flags;
	uint16_t boot_arch;

	CHECK(t != NULL);
	if (!t || !walk_tables(t, &ts)) {
		free(t);
		return;
	}
	f = ts.fadt;
	CHECK_EQ(get32(f + 4), 276);
	CHECK_EQ(f[8], 6);
	CHECK_EQ(get32(f + 36), GUEST_ACPI_START + (ts.facs - t->buf));
	CHECK_EQ(get32(f + 40), GUEST_ACPI_START + (ts.dsdt - t->buf));
	CHECK_EQ(get64(f + 132), get32(f + 36));
	CHECK_EQ(get64(f + 140), get32(f + 40));
	CHECK_EQ(get16(f + 46), IRQ_ACPI_SCI);
	CHECK_EQ(get32(f + 48), 0);  /* SMI_CMD: always in ACPI mode */
	CHECK_EQ(get32(f + 56), PORT_ACPI_PM_BASE + ACPI_PM1_EVT_OFFSET);
	CHECK_EQ(get32(f + 60), 0);
	CHECK_EQ(get32(f + 64), PORT_ACPI_PM_BASE + ACPI_PM1_CNT_OFFSET);
	CHECK_EQ(get32(f + 76), 0);  /* no PM timer: Linux would spin 4.5 ms on it */
	CHECK_EQ(get32(f + 80), 0);  /* no GPE block */
	CHECK_EQ(f[88], 4);
	CHECK_EQ(f[89], 2);
	CHECK_EQ(f[91], 0);  /* PM_TMR_LEN */
	check_gas_io(f + 148, PORT_ACPI_PM_BASE + ACPI_PM1_EVT_OFFSET, 32, 2);
	check_gas_io(f + 172, PORT_ACPI_PM_BASE + ACPI_PM1_CNT_OFFSET, 16, 2);
	for (unsigned i = 0; i < 12; i++)
		CHECK_EQ(f[208 + i], 0);  /* X_PM_TMR_BLK */
	check_gas_io(f + 116, PORT_ACPI_PM_BASE + ACPI_RESET_REG_OFFSET, 8, 1);
	CHECK_EQ(f[128], ACPI_RESET_VALUE);

	boot_arch = get16(f + 109);
	CHECK_EQ(boot_arch & (1u << 1), 0);  /* 8042 */
	CHECK_EQ(boot_arch & (1u << 2), 0);  /* VGA not present */
	CHECK_EQ(boot_arch & (1u << 3), 0);  /* MSI not supported */
	CHECK_EQ(boot_arch & (1u << 5), 0);  /* CMOS RTC not present */

	flags = get32(f + 112);
	CHECK(flags & (1u << 0));          /* WBINVD */
	CHECK(flags & (1u << 2));          /* PROC_C1 */
	CHECK(flags & (1u << 5));          /* SLP_BUTTON: none */
	CHECK_EQ(flags & (1u << 8), 0);    /* TMR_VAL_EXT: no timer */
	CHECK(flags & (1u << 10));         /* RESET_REG_SUP */
	CHECK_EQ(flags & (1u << 20), 0);   /* not HW_REDUCED_ACPI */
	free(t);
}

static bool contains(const uint8_t *hay, size_t len, const void *needle, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(hay + i, needle, n))
			return true;
	return false;
}

static void test_dsdt_bytes(void)
{
	struct built *t = build(1);
	struct table_set ts;
	/* Name(\_S5_, Package(){5, 5, 0, 0}) */
	static const uint8_t s5[] = {
		0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
		0x0a, ACPI_SLP_TYP_S5, 0x0a, ACPI_SLP_TYP_S5, 0x00, 0x00,
	};
	/* Name(_HID, EisaId("PNP0501")) */
	static const uint8_t com1_hid[] = {
		0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01,
	};
	/* IO(Decode16, 0x3f8, 0x3f8, 1, 8), IRQNoFlags(){4} */
	static const uint8_t com1_crs[] = {
		0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00,
	};

	CHECK(t != NULL);
	if (!t || !walk_tables(t, &ts)) {
		free(t);
		return;
	}
	CHECK(contains(ts.dsdt, get32(ts.dsdt + 4), s5, sizeof(s5)));
	CHECK(contains(ts.dsdt, get32(ts.dsdt + 4), com1_hid, sizeof(com1_hid)));
	CHECK(contains(ts.dsdt, get32(ts.dsdt + 4), com1_crs, sizeof(com1_crs)));
	CHECK(contains(ts.dsdt, get32(ts.dsdt + 4), "RTC_", 4));
	free(t);
}

static void test_mcfg(void)
{
	struct built *t = build(1);
	struct table_set ts;
	const uint8_t *m;

	CHECK(t != NULL);
	if (!t || !walk_tables(t, &ts) || !ts.mcfg) {
		CHECK(t == NULL || ts.mcfg != NULL);
		free(t);
		return;
	}
	m = ts.mcfg;
	CHECK_EQ(get32(m + 4), 36 + 8 + 16);
	CHECK_EQ(m[8], 1);
	CHECK_EQ(get64(m + 36), 0);            /* reserved */
	CHECK_EQ(get64(m + 44), GUEST_ECAM_START);
	CHECK_EQ(get16(m + 52), 0);            /* segment */
	CHECK_EQ(m[54], 0);                    /* first bus */
	CHECK_EQ(m[55], 0);                    /* last bus: bus 0 only */
	CHECK_EQ(get32(m + 56), 0);
	free(t);
}

/* Reads one AML integer as the builder writes them. */
static bool aml_read_integer(const uint8_t **p, const uint8_t *end, uint64_t *value)
{
	const uint8_t *q = *p;
	unsigned n;

	if (q >= end)
		return false;
	switch (*q++) {
	case 0x00: *value = 0; *p = q; return true;
	case 0x01: *value = 1; *p = q; return true;
	case 0x0a: n = 1; break;
	case 0x0b: n = 2; break;
	case 0x0c: n = 4; break;
	case 0x0e: n = 8; break;
	default: return false;
	}
	if (q + n > end)
		return false;
	*value = 0;
	for (unsigned i = 0; i < n; i++)
		*value |= (uint64_t)q[i] << (8 * i);
	*p = q + n;
	return true;
}

/* Every _PRT entry Package(){ slot << 16 | 0xffff, pin, 0, gsi }: one per
 * slot 1-31 and pin, on the pin the PCI layer wires. */
static void test_dsdt_pci_routing(void)
{
	struct built *t = build(1);
	struct table_set ts;
	unsigned seen[32][4] = { { 0 } };
	unsigned entries = 0;
	const uint8_t *d, *end;

	CHECK(t != NULL);
	if (!t || !walk_tables(t, &ts)) {
		free(t);
		return;
	}
	d = ts.dsdt;
	end = d + get32(d + 4);
	CHECK(contains(d, end - d, "_PRT", 4));
	for (const uint8_t *p = d + 36; p + 8 <= end; p++) {
		const uint8_t *q = p + 3;
		uint64_t addr, pin, source, gsi;

		/* PackageOp, a one-byte PkgLength, four elements. */
		if (p[0] != 0x12 || p[2] != 0x04 || p[3] != 0x0c || p[4] != 0xff || p[5] != 0xff)
			continue;
		if (!aml_read_integer(&q, end, &addr) || !aml_read_integer(&q, end, &pin) ||
		    !aml_read_integer(&q, end, &source) || !aml_read_integer(&q, end, &gsi)) {
			CHECK(!"malformed _PRT entry");
			break;
		}
		CHECK_EQ(q - p, 1 + p[1]);   /* the PkgLength covers exactly this */
		CHECK_EQ(addr & 0xffff, 0xffff);
		CHECK((addr >> 16) >= 1 && (addr >> 16) < 32);
		CHECK(pin < 4);
		CHECK_EQ(source, 0);
		if ((addr >> 16) < 32 && pin < 4) {
			unsigned slot = (unsigned)(addr >> 16);

			seen[slot][pin]++;
			CHECK_EQ(gsi, 16 + (slot + pin) % 8);
			if (pin == 0)
				CHECK_EQ(gsi, pci_slot_intx_gsi(slot));
		}
		entries++;
	}
	CHECK_EQ(entries, 31 * 4);
	for (unsigned slot = 1; slot < 32; slot++)
		for (unsigned pin = 0; pin < 4; pin++)
			CHECK_EQ(seen[slot][pin], 1);
	free(t);
}

static void test_dsdt_pci_bytes(void)
{
	struct built *t = build(1);
	struct table_set ts;
	/* Name(_HID, EisaId("PNP0A08")), Name(_CID, EisaId("PNP0A03")) */
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	static const uint8_t cid[] = { 0x08, '_', 'C', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	static const uint8_t mb_hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x02 };
	/* WordBusNumber 0-0 */
	static const uint8_t buses[] = {
		0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x01, 0x00,
	};
	/* IO(Decode16, 0xcf8, 0xcf8, 1, 8) */
	static const uint8_t conf1[] = { 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08 };
	/* WordIO 0xc000-0xffff */
	static const uint8_t io[] = {
		0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff,
		0x00, 0x00, 0x00, 0x40,
	};
	/* DWordMemory 0xc0000000-0xdfffffff, non-cacheable, read-write */
	static const uint8_t mem32[] = {
		0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xdf,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20,
	};
	/* QWordMemory 64 GiB-128 GiB */
	static const uint8_t mem64[] = {
		0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x01,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0x10, 0, 0, 0,
		0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0x10, 0, 0, 0,
	};
	/* Memory32Fixed(ReadWrite, 0xe0000000, 0x100000) */
	static const uint8_t ecam[] = {
		0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe0, 0x00, 0x00, 0x10, 0x00,
	};
	size_t len;

	CHECK(t != NULL);
	if (!t || !walk_tables(t, &ts)) {
		free(t);
		return;
	}
	len = get32(ts.dsdt + 4);
	CHECK(contains(ts.dsdt, len, "PCI0", 4));
	CHECK(contains(ts.dsdt, len, "MB00", 4));
	CHECK(contains(ts.dsdt, len, hid, sizeof(hid)));
	CHECK(contains(ts.dsdt, len, cid, sizeof(cid)));
	CHECK(contains(ts.dsdt, len, mb_hid, sizeof(mb_hid)));
	CHECK(contains(ts.dsdt, len, "_SEG", 4));
	CHECK(contains(ts.dsdt, len, "_BBN", 4));
	CHECK(contains(ts.dsdt, len, buses, sizeof(buses)));
	CHECK(contains(ts.dsdt, len, conf1, sizeof(conf1)));
	CHECK(contains(ts.dsdt, len, io, sizeof(io)));
	CHECK(contains(ts.dsdt, len, mem32, sizeof(mem32)));
	CHECK(contains(ts.dsdt, len, mem64, sizeof(mem64)));
	CHECK(contains(ts.dsdt, len, ecam, sizeof(ecam)));
	free(t);
}

/* An empty 64-bit window is left out; fewer buses shrink MCFG and _CRS. */
static void test_pci_variants(void)
{
	struct acpi_config cfg = config_for(2);
	/* QWordMemory: its tag, length, memory space, producer, fixed min/max */
	static const uint8_t qword_memory[] = { 0x8a, 0x2b, 0x00, 0x00, 0x0c };
	/* WordBusNumber 0-15 */
	static const uint8_t buses[] = {
		0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x00,
		0x00, 0x00, 0x10, 0x00,
	};
	struct table_set ts;
	struct built *t;

	cfg.pci_mem64_start = cfg.pci_mem64_end = 0;
	cfg.ecam_size = 16 * 0x100000;
	t = build_config(&cfg, 0);
	CHECK(t != NULL);
	if (t && walk_tables(t, &ts) && ts.mcfg) {
		CHECK_EQ(ts.mcfg[55], 15);
		CHECK(!contains(ts.dsdt, get32(ts.dsdt + 4), qword_memory, sizeof(qword_memory)));
		CHECK(contains(ts.dsdt, get32(ts.dsdt + 4), buses, sizeof(buses)));
	}
	free(t);

	/* No PCI at all: no MCFG, no host bridge. */
	t = build_without_pci(2);
	CHECK(t != NULL);
	if (t && walk_tables(t, &ts)) {
		CHECK_EQ(ts.nr_xsdt_entries, 2);
		CHECK(ts.mcfg == NULL);
		CHECK(!contains(ts.dsdt, get32(ts.dsdt + 4), "PCI0", 4));
		CHECK(!contains(ts.dsdt, get32(ts.dsdt + 4), "_PRT", 4));
		CHECK(!contains(ts.dsdt, get32(ts.dsdt + 4), "MB00", 4));
		CHECK(contains(ts.dsdt, get32(ts.dsdt + 4), "COM1", 4));
	}
	free(t);
}

static bool one_line(const char *s)
{
	return s[0] && !strchr(s, '\n');
}

static void test_errors(void)
{
	struct acpi_config cfg = config_for(4);
	static uint8_t buf[TABLES_ROOM];
	size_t used = 0, need;
	uint64_t rsdp = 0;
	char err[256];

	CHECK_EQ(acpi_build_tables(&cfg, GUEST_ACPI_START, buf, sizeof(buf),
				   &need, &rsdp, err, sizeof(err)), 0);

	err[0] = 0;
	CHECK_EQ(acpi_build_tables(&cfg, GUEST_ACPI_START, buf, need - 1,
				   &used, &rsdp, err, sizeof(err)), -1);
	CHECK(one_line(err));
	CHECK(strstr(err, "bytes") != NULL);
	err[0] = 0;
	CHECK_EQ(acpi_build_tables(&cfg, GUEST_ACPI_START, buf, 16,
				   &used, &rsdp, err, sizeof(err)), -1);
	CHECK(one_line(err));
	CHECK_EQ(acpi_build_tables(&cfg, GUEST_ACPI_START, buf, need,
				   &used, &rsdp, err, sizeof(err)), 0);
	CHECK_EQ(used, need);

	cfg.nr_cpus = 0;
	err[0] = 0;
	CHECK_EQ(acpi_build_tables(&cfg, GUEST_ACPI_START, buf, sizeof(buf),
				   &used, &rsdp, err, sizeof(err)), -1);
	CHECK(one_line(err));
	CHECK(strstr(err, "CPUs") != NULL);
	cfg.nr_cpus = 256;
	err[0] = 0;
	CHECK_EQ(acpi_build_tables(&cfg, GUEST_ACPI_START, buf, sizeof(buf),
				   &used, &rsdp, err, sizeof(err)), -1);
	CHECK(one_line(err));

	cfg = config_for(1);
	err[0] = 0;
	CHECK_EQ(acpi_build_tables(&cfg, GUEST_ACPI_START + 8, buf, sizeof(buf),
				   &used, &rsdp, err, sizeof(err)), -1);
	CHECK(one_line(err));
	err[0] = 0;
	CHECK_EQ(acpi_build_tables(&cfg, 0xffffff00ULL, buf, sizeof(buf),
				   &used, &rsdp, err, sizeof(err)), -1);
	CHECK(one_line(err));
	cfg.sci_irq = 0;
	err[0] = 0;
	CHECK_EQ(acpi_build_tables(&cfg, GUEST_ACPI_START, buf, sizeof(buf),
				   &used, &rsdp, err, sizeof(err)), -1);
	CHECK(one_line(err));

	/* PCI configurations the tables cannot describe. */
	for (int i = 0; i < 9; i++) {
		cfg = config_for(1);
		switch (i) {
		case 0: cfg.ecam_base += 0x1000; break;
		case 1: cfg.ecam_size = 0x180000; break;
		case 2: cfg.ecam_size = 0x20000000; break;
		case 3: cfg.ecam_base = 0x100000000ULL; break;
		case 4: cfg.pci_io_end = 0x10001; break;
		case 5: cfg.pci_io_start = 0xe000; cfg.pci_io_end = 0xd000; break;
		case 6: cfg.pci_mem32_end = 0x100001000ULL; break;
		case 7: cfg.pci_mem64_end = cfg.pci_mem64_start - 1; break;
		case 8: cfg.pci_io_start = 0; break;  /* 64 KiB: too long for WordIO */
		}
		err[0] = 0;
		CHECK_EQ(acpi_build_tables(&cfg, GUEST_ACPI_START, buf, sizeof(buf),
					   &used, &rsdp, err, sizeof(err)), -1);
		CHECK(one_line(err));
	}
}

/* ---- iasl ---- */

static bool iasl_available(void)
{
	const char *path = getenv("PATH");
	char dir[4096];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n && n < sizeof(dir) - 6) {
			memcpy(dir, path, n);
			strcpy(dir + n, "/iasl");
			if (access(dir, X_OK) == 0)
				return true;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

/* Runs iasl with args in dir, its output going to dir/log. Returns the exit
 * status, or -1 when it did not exit normally. */
static int run_iasl(const char *dir, const char *arg1, const char *arg2)
{
	char *argv[] = { "iasl", (char *)arg1, (char *)arg2, NULL };
	int status;
	pid_t pid;

	if (!arg2)
		argv[2] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd;

		if (chdir(dir))
			_exit(126);
		fd = open("log", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
		execvp("iasl", argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static char *read_text(const char *dir, const char *name, size_t *len_out)
{
	char path[512];
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	for (;;) {
		char *more = realloc(text, len + 4096 + 1);

		if (!more) {
			free(text);
			fclose(f);
			return NULL;
		}
		text = more;
		size_t got = fread(text + len, 1, 4096, f);

		len += got;
		if (got < 4096)
			break;
	}
	fclose(f);
	text[len] = 0;
	if (len_out)
		*len_out = len;
	return text;
}

static bool write_bytes(const char *dir, const char *name, const void *data,
			size_t len)
{
	char path[512];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return false;
	ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

static unsigned count_text(const char *text, const char *needle)
{
	unsigned n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

/* What iasl says when it dislikes a table; its summary lines ("0 Errors")
 * are matched separately. */
static void check_iasl_log_clean(const char *dir, const char *what)
{
	char *log = read_text(dir, "log", NULL);

	CHECK(log != NULL);
	if (!log)
		return;
	if (strstr(log, "Warning") || strstr(log, "Remark") ||
	    strstr(log, "Error") || strstr(log, "Invalid") ||
	    strstr(log, "ncorrect")) {
		fprintf(stderr, "  iasl on %s said:\n%s\n", what, log);
		CHECK(!"iasl complained");
	}
	free(log);
}

static void check_iasl_compiled_clean(const char *dir, const char *what)
{
	char *log = read_text(dir, "log", NULL);

	CHECK(log != NULL);
	if (!log)
		return;
	if (!strstr(log, "Compilation successful. 0 Errors, 0 Warnings, 0 Remarks")) {
		fprintf(stderr, "  iasl compiling %s said:\n%s\n", what, log);
		CHECK(!"iasl did not compile cleanly");
	}
	free(log);
}

/* Disassembles name.dat to name.dsl, checks iasl's verdict and returns the
 * disassembly (to be freed), or NULL. */
static char *iasl_disassemble(const char *dir, const char *name,
			      const uint8_t *table, size_t len)
{
	char dat[16], dsl[16];
	char *text;

	snprintf(dat, sizeof(dat), "%s.dat", name);
	snprintf(dsl, sizeof(dsl), "%s.dsl", name);
	CHECK(write_bytes(dir, dat, table, len));
	CHECK_EQ(run_iasl(dir, "-d", dat), 0);
	check_iasl_log_clean(dir, dat);
	text = read_text(dir, dsl, NULL);
	CHECK(text != NULL);
	if (text && (strstr(text, "ncorrect") || strstr(text, "Invalid") ||
		     strstr(text, "**** "))) {
		fprintf(stderr, "  %s flags a problem:\n%s\n", dsl, text);
		CHECK(!"disassembly flags a problem");
	}
	return text;
}

/* Compiles name.dsl back to name.aml and returns its bytes (to be freed). */
static uint8_t *iasl_compile(const char *dir, const char *name, size_t *len)
{
	char dsl[16], aml[16];

	snprintf(dsl, sizeof(dsl), "%s.dsl", name);
	snprintf(aml, sizeof(aml), "%s.aml", name);
	CHECK_EQ(run_iasl(dir, dsl, NULL), 0);
	check_iasl_compiled_clean(dir, dsl);
	return (uint8_t *)read_text(dir, aml, len);
}

/* A data table compiled back from its disassembly must come out the same,
 * except for the checksum and the compiler id iasl puts in. */
static void check_data_table_roundtrip(const char *dir, const char *name,
				       const uint8_t *table, size_t len,
				       bool has_header)
{
	size_t aml_len = 0;
	uint8_t *aml = iasl_compile(dir, name, &aml_len);

	CHECK(aml != NULL);
	if (!aml)
		return;
	CHECK_EQ(aml_len, len);
	for (size_t i = 0; aml_len == len && i < len; i++) {
		if (has_header && (i == 9 || (i >= 28 && i < 36)))
			continue;
		if (aml[i] != table[i]) {
			fprintf(stderr, "  %s differs at byte %zu\n", name, i);
			CHECK(!"recompiled table differs");
			break;
		}
	}
	free(aml);
}

static bool make_temp_dir(char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, len, "%s/gvmm-acpi-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(dir) != NULL;
}

static void finish_temp_dir(const char *dir)
{
	if (test_state.failures)
		fprintf(stderr, "  iasl files kept in %s\n", dir);
	else
		remove_dir(dir);
}

static void check_with_iasl(unsigned nr_cpus)
{
	struct built *t;
	struct table_set ts;
	char dir[4096];
	char *text;
	size_t aml_len = 0;
	uint8_t *aml;

	if (!iasl_available())
		SKIP_TEST("iasl not found in PATH (install acpica-tools)");
	t = build(nr_cpus);
	CHECK(t != NULL);
	if (!t || !walk_tables(t, &ts)) {
		free(t);
		return;
	}
	CHECK(make_temp_dir(dir, sizeof(dir)));
	if (test_state.failures) {
		free(t);
		return;
	}

	text = iasl_disassemble(dir, "XSDT", ts.xsdt, get32(ts.xsdt + 4));
	CHECK(text && strstr(text, "ACPI Table Address   0"));
	free(text);
	check_data_table_roundtrip(dir, "XSDT", ts.xsdt, get32(ts.xsdt + 4), true);

	text = iasl_disassemble(dir, "FACP", ts.fadt, get32(ts.fadt + 4));
	CHECK(text && strstr(text, "PM1A Event Block Address : 00000600"));
	CHECK(text && strstr(text, "SCI Interrupt : 0009"));
	CHECK(text && strstr(text, "PM Timer Block Address : 00000000"));
	CHECK(text && strstr(text, "32-bit PM Timer (V1) : 0"));
	CHECK(text && strstr(text, "Reset Register Supported (V2) : 1"));
	CHECK(text && strstr(text, "Hardware Reduced (V5) : 0"));
	free(text);
	check_data_table_roundtrip(dir, "FACP", ts.fadt, get32(ts.fadt + 4), true);

	text = iasl_disassemble(dir, "FACS", ts.facs, 64);
	free(text);
	check_data_table_roundtrip(dir, "FACS", ts.facs, 64, false);

	text = iasl_disassemble(dir, "APIC", ts.madt, get32(ts.madt + 4));
	CHECK(text != NULL);
	if (text) {
		CHECK_EQ(count_text(text, "[Processor Local APIC]"), nr_cpus);
		CHECK_EQ(count_text(text, "Processor Enabled : 1"), nr_cpus);
		CHECK_EQ(count_text(text, "[I/O APIC]"), 1);
		CHECK_EQ(count_text(text, "[Interrupt Source Override]"), 2);
		CHECK_EQ(count_text(text, "[Local APIC NMI]"), 1);
	}
	free(text);
	check_data_table_roundtrip(dir, "APIC", ts.madt, get32(ts.madt + 4), true);

	CHECK(ts.mcfg != NULL);
	if (ts.mcfg) {
		text = iasl_disassemble(dir, "MCFG", ts.mcfg, get32(ts.mcfg + 4));
		CHECK(text && strstr(text, "Base Address : 00000000E0000000"));
		CHECK(text && strstr(text, "Segment Group Number : 0000"));
		CHECK(text && strstr(text, "Start Bus Number : 00"));
		CHECK(text && strstr(text, "End Bus Number : 00"));
		free(text);
		check_data_table_roundtrip(dir, "MCFG", ts.mcfg, get32(ts.mcfg + 4), true);
	}

	text = iasl_disassemble(dir, "DSDT", ts.dsdt, get32(ts.dsdt + 4));
	CHECK(text != NULL);
	if (text) {
		CHECK(strstr(text, "Scope (\\_SB)") != NULL);
		CHECK(strstr(text, "Device (COM1)") != NULL);
		CHECK(strstr(text, "EisaId (\"PNP0501\")") != NULL);
		CHECK(strstr(text, "Device (RTC)") != NULL);
		CHECK(strstr(text, "EisaId (\"PNP0B00\")") != NULL);
		CHECK(strstr(text, "_S5_") != NULL);
		CHECK(strstr(text, "IRQNoFlags ()\n                    {4}") != NULL);
		CHECK(strstr(text, "IRQNoFlags ()\n                    {8}") != NULL);
		CHECK(strstr(text, "0x03F8,             // Range Minimum") != NULL);
		CHECK(strstr(text, "Device (PCI0)") != NULL);
		CHECK(strstr(text, "Name (_HID, EisaId (\"PNP0A08\")") != NULL);
		CHECK(strstr(text, "Name (_CID, EisaId (\"PNP0A03\")") != NULL);
		CHECK(strstr(text, "Name (_SEG, Zero)") != NULL);
		CHECK(strstr(text, "Name (_BBN, Zero)") != NULL);
		CHECK(strstr(text, "WordBusNumber (ResourceProducer,") != NULL);
		CHECK(strstr(text, "0x0000,             // Range Maximum\n"
				   "                    0x0000,             // Translation Offset\n"
				   "                    0x0001,             // Length") != NULL);
		CHECK(strstr(text, "0x0CF8,             // Range Minimum") != NULL);
		CHECK(strstr(text, "WordIO (ResourceProducer,") != NULL);
		CHECK(strstr(text, "0xC000,             // Range Minimum") != NULL);
		CHECK(strstr(text, "DWordMemory (ResourceProducer,") != NULL);
		CHECK(strstr(text, "0xDFFFFFFF,         // Range Maximum") != NULL);
		CHECK(strstr(text, "QWordMemory (ResourceProducer,") != NULL);
		CHECK(strstr(text, "0x0000001FFFFFFFFF, // Range Maximum") != NULL);
		CHECK(strstr(text, "Name (_PRT, Package (0x7C)") != NULL);
		CHECK_EQ(count_text(text, "0x0001FFFF,"), 4);
		CHECK_EQ(count_text(text, "0x001FFFFF,"), 4);
		CHECK(strstr(text, "Device (MB00)") != NULL);
		CHECK(strstr(text, "EisaId (\"PNP0C02\")") != NULL);
		CHECK(strstr(text, "Memory32Fixed (ReadWrite,\n"
				   "                    0xE0000000,         // Address Base\n"
				   "                    0x00100000,         // Address Length") != NULL);
	}
	free(text);
	/* DSDT.aml differs in harmless ways (iasl drops redundant root
	 * prefixes and writes zero resource checksums); that it compiles
	 * cleanly is the point. */
	aml = iasl_compile(dir, "DSDT", &aml_len);
	CHECK(aml != NULL);
	free(aml);

	finish_temp_dir(dir);
	free(t);
}

static void test_iasl_1_cpu(void)
{
	check_with_iasl(1);
}

static void test_iasl_8_cpus(void)
{
	check_with_iasl(8);
}

/* ---- AML builder ---- */

static bool bytes_are(const struct aml_builder *b, const uint8_t *want, size_t len)
{
	if (b->len != len || memcmp(b->bytes, want, len)) {
		fprintf(stderr, "  got %zu bytes:", b->len);
		for (size_t i = 0; i < b->len; i++)
			fprintf(stderr, " %02x", b->bytes[i]);
		fprintf(stderr, "\n");
		return false;
	}
	return true;
}

static void test_aml_pkg_length(void)
{
	uint8_t out[4];

	CHECK_EQ(aml_encode_pkg_length(out, 0), 1);
	CHECK_EQ(out[0], 1);
	/* One byte holds totals up to 63. */
	CHECK_EQ(aml_encode_pkg_length(out, 62), 1);
	CHECK_EQ(out[0], 63);
	CHECK_EQ(aml_encode_pkg_length(out, 63), 2);  /* total 65 */
	CHECK_EQ(out[0], 0x41);
	CHECK_EQ(out[1], 0x04);
	/* Two bytes hold 12 bits: totals up to 4095. */
	CHECK_EQ(aml_encode_pkg_length(out, 4093), 2);
	CHECK_EQ(out[0], 0x4f);
	CHECK_EQ(out[1], 0xff);
	CHECK_EQ(aml_encode_pkg_length(out, 4094), 3);  /* total 4097 */
	CHECK_EQ(out[0], 0x81);
	CHECK_EQ(out[1], 0x00);
	CHECK_EQ(out[2], 0x01);
	/* Three bytes hold 20 bits, four bytes 28. */
	CHECK_EQ(aml_encode_pkg_length(out, 0xfffff - 3), 3);
	CHECK_EQ(out[0], 0x8f);
	CHECK_EQ(out[1], 0xff);
	CHECK_EQ(out[2], 0xff);
	CHECK_EQ(aml_encode_pkg_length(out, 0xfffff - 2), 4);
	CHECK_EQ(out[0], 0xc1);
	CHECK_EQ(out[1], 0x00);
	CHECK_EQ(out[2], 0x00);
	CHECK_EQ(out[3], 0x01);
	CHECK_EQ(aml_encode_pkg_length(out, 0xfffffff - 4), 4);
	CHECK_EQ(aml_encode_pkg_length(out, 0xfffffff - 3), 0);
}

/* Scope(\XYZ_){ n raw bytes }: the builder must insert the right PkgLength
 * ahead of a body it has already written. */
static void check_scope_with_body(size_t body_extra, const uint8_t *want_len,
				  size_t want_len_bytes)
{
	struct aml_builder b;
	uint8_t *filler = calloc(1, body_extra);
	char err[128];

	aml_init(&b);
	CHECK(filler != NULL);
	if (!filler)
		return;
	memset(filler, 0xee, body_extra);
	aml_begin_scope(&b, "XYZ");
	aml_bytes(&b, filler, body_extra);
	aml_end(&b);
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), 0);
	CHECK_EQ(b.len, 1 + want_len_bytes + 4 + body_extra);
	CHECK_EQ(b.bytes[0], 0x10);
	CHECK(!memcmp(b.bytes + 1, want_len, want_len_bytes));
	CHECK(!memcmp(b.bytes + 1 + want_len_bytes, "XYZ_", 4));
	CHECK_EQ(b.bytes[b.len - 1], 0xee);
	aml_free(&b);
	free(filler);
}

static void test_aml_pkg_length_fixup(void)
{
	/* The body counts the 4-byte name. */
	check_scope_with_body(58, (const uint8_t[]){ 63 }, 1);
	check_scope_with_body(59, (const uint8_t[]){ 0x41, 0x04 }, 2);
	check_scope_with_body(4089, (const uint8_t[]){ 0x4f, 0xff }, 2);
	check_scope_with_body(4090, (const uint8_t[]){ 0x81, 0x00, 0x01 }, 3);
}

static void test_aml_integers(void)
{
	static const uint8_t want[] = {
		0x00,
		0x01,
		0x0a, 0x02,
		0x0a, 0xff,
		0x0b, 0x00, 0x01,
		0x0b, 0xff, 0xff,
		0x0c, 0x00, 0x00, 0x01, 0x00,
		0x0c, 0xff, 0xff, 0xff, 0xff,
		0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x0c, 0x05, 0x00, 0x00, 0x00,
		0x0d, 'a', 'b', 0x00,
	};
	struct aml_builder b;
	char err[128];

	aml_init(&b);
	aml_integer(&b, 0);
	aml_integer(&b, 1);
	aml_integer(&b, 2);
	aml_integer(&b, 0xff);
	aml_integer(&b, 0x100);
	aml_integer(&b, 0xffff);
	aml_integer(&b, 0x10000);
	aml_integer(&b, 0xffffffff);
	aml_integer(&b, 0x100000000ULL);
	aml_integer(&b, UINT64_MAX);
	aml_dword(&b, 5);
	aml_string(&b, "ab");
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), 0);
	CHECK(bytes_are(&b, want, sizeof(want)));
	aml_free(&b);
}

static void test_aml_names(void)
{
	static const uint8_t want[] = {
		'_', 'S', 'B', '_',
		0x5c, 'A', '_', '_', '_',
		0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',
		0x2f, 0x03, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S', '0', '8', '_',
		0x5e, 0x5e, 'C', 'O', 'M', '1',
		0x5c, 0x00,
		0x00,
	};
	struct aml_builder b;
	char err[128];

	aml_init(&b);
	aml_name_ref(&b, "_SB");
	aml_name_ref(&b, "\\A");
	aml_name_ref(&b, "\\_SB.PCI0");
	aml_name_ref(&b, "_SB.PCI0.S08");
	aml_name_ref(&b, "^^COM1");
	aml_name_ref(&b, "\\");
	aml_name_ref(&b, "");
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), 0);
	CHECK(bytes_are(&b, want, sizeof(want)));
	aml_free(&b);

	static const char *const bad[] = {
		"abcd", "TOOLONG", "1ABC", "A..B", "A.", ".A", "A-B", "\\^A",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&b);
		aml_name_ref(&b, bad[i]);
		CHECK_EQ(aml_finish(&b, err, sizeof(err)), -1);
		CHECK(strstr(err, "name") != NULL);
		aml_free(&b);
	}
}

static void test_aml_eisaid(void)
{
	uint32_t v = 0;

	CHECK(aml_eisaid("PNP0501", &v));
	CHECK_EQ(v, 0x0105d041);
	CHECK(aml_eisaid("PNP0A03", &v));
	CHECK_EQ(v, 0x030ad041);
	CHECK(aml_eisaid("PNP0B00", &v));
	CHECK_EQ(v, 0x000bd041);
	CHECK(!aml_eisaid("PNP050", &v));
	CHECK(!aml_eisaid("pnp0501", &v));
	CHECK(!aml_eisaid("PNP05G1", &v));
	CHECK(!aml_eisaid("PNP05011", &v));
}

static void test_aml_device_and_package(void)
{
	/* Device(DEV0){ Name(_HID, EisaId("PNP0C0C")) Name(_UID, 2)
	 *   Method(_STA){ Return(0x0f) } Name(PKG, Package(){ 1, Package(){ "x" }, \_SB }) } */
	static const uint8_t want[] = {
		0x5b, 0x82, 0x34, 'D', 'E', 'V', '0',
		0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x0c,
		0x08, '_', 'U', 'I', 'D', 0x0a, 0x02,
		0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f,
		0x08, 'P', 'K', 'G', '_', 0x12, 0x0e, 0x03,
		0x01,
		0x12, 0x05, 0x01, 0x0d, 'x', 0x00,
		0x5c, '_', 'S', 'B', '_',
	};
	struct aml_builder b;
	char err[128];

	aml_init(&b);
	aml_begin_device(&b, "DEV0");
	aml_name_eisaid(&b, "_HID", "PNP0C0C");
	aml_name_integer(&b, "_UID", 2);
	aml_method_return_integer(&b, "_STA", 0x0f);
	aml_name(&b, "PKG");
	aml_begin_package(&b);
	aml_integer(&b, 1);
	aml_begin_package(&b);
	aml_string(&b, "x");
	aml_end(&b);
	aml_name_ref(&b, "\\_SB");
	aml_end(&b);
	aml_end(&b);
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), 0);
	CHECK(bytes_are(&b, want, sizeof(want)));
	aml_free(&b);
}

static void test_aml_method_flags(void)
{
	static const uint8_t want[] = {
		0x14, 0x0a, '_', 'P', 'R', 'T', 0x0b, 0xa4, 0x12, 0x02, 0x00,
	};
	struct aml_builder b;
	char err[128];

	aml_init(&b);
	aml_begin_method(&b, "_PRT", 3, true);
	aml_return(&b);
	aml_begin_package(&b);
	aml_end(&b);
	aml_end(&b);
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), 0);
	CHECK(bytes_are(&b, want, sizeof(want)));
	aml_free(&b);
}

static void test_aml_resources(void)
{
	static const uint8_t descriptors[] = {
		0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02,   /* IO */
		0x22, 0x00, 0x01,                                 /* IRQNoFlags(){8} */
		0x23, 0x20, 0x00, 0x18,                           /* IRQ(Level, ActiveLow, Shared){5} */
		0x89, 0x06, 0x00, 0x03, 0x01, 0x18, 0x00, 0x00, 0x00, /* Interrupt(Consumer, Edge, High){24} */
		0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0xc0, 0xfe, 0x00, 0x10, 0x00, 0x00,
		0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00,               /* WordBusNumber 0-0xff */
		0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03,               /* WordIO 0xd00-0xffff */
		0x00, 0x00, 0x00, 0x0d, 0xff, 0xff, 0x00, 0x00, 0x00, 0xf3,
		0x87, 0x17, 0x00, 0x00, 0x0c, 0x03,               /* DWordMemory, cacheable */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xdf,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20,
		0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x07,               /* QWordMemory, prefetchable */
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0x01, 0, 0, 0,
		0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0x01, 0, 0, 0,
	};
	struct aml_builder b;
	size_t data_len = sizeof(descriptors) + 2;  /* and the end tag */
	size_t pkg_len = 2 + 2 + data_len;          /* PkgLength, BufferSize */
	size_t head = 1 + 2 + 2;
	char err[128];

	aml_init(&b);
	aml_begin_resource_template(&b);
	aml_io(&b, 0x70, 0x70, 1, 2);
	aml_irq_noflags(&b, 8);
	aml_irq(&b, 5, AML_IRQ_ACTIVE_LOW | AML_IRQ_SHARED);
	aml_interrupt(&b, 24, AML_INTR_CONSUMER | AML_INTR_EDGE);
	aml_memory32_fixed(&b, 0xfec00000, 0x1000, true);
	aml_word_bus_number(&b, 0, 0xff);
	aml_word_io(&b, 0x0d00, 0xffff);
	aml_dword_memory(&b, AML_MEM_CACHEABLE, 0xc0000000, 0xdfffffff);
	aml_qword_memory(&b, AML_MEM_PREFETCHABLE, 0x100000000ULL, 0x1ffffffffULL);
	aml_end(&b);
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), 0);

	/* Buffer: BufferOp, PkgLength (2 bytes here), BufferSize as a byte. */
	CHECK(data_len > 63 && data_len <= 0xff);
	CHECK_EQ(b.len, head + data_len);
	CHECK_EQ(b.bytes[0], 0x11);
	CHECK_EQ(b.bytes[1], 0x40 | (pkg_len & 0x0f));
	CHECK_EQ(b.bytes[2], pkg_len >> 4);
	CHECK_EQ(b.bytes[3], 0x0a);
	CHECK_EQ(b.bytes[4], data_len);
	CHECK(b.len > head && !memcmp(b.bytes + head, descriptors, sizeof(descriptors)));
	CHECK_EQ(b.bytes[b.len - 2], 0x79);
	/* The end tag's checksum makes the whole template sum to zero. */
	CHECK_EQ(sum_bytes(b.bytes + head, b.len - head), 0);
	aml_free(&b);
}

static void test_aml_errors(void)
{
	struct aml_builder b;
	char err[128];

	aml_init(&b);
	aml_end(&b);
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), -1);
	CHECK(one_line(err));
	aml_free(&b);

	aml_init(&b);
	aml_begin_device(&b, "DEV0");
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), -1);
	CHECK(strstr(err, "closed") != NULL);
	aml_free(&b);

	aml_init(&b);
	aml_begin_device(&b, "DEV0");
	aml_io(&b, 0x70, 0x70, 1, 2);
	aml_end(&b);
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), -1);
	CHECK(strstr(err, "ResourceTemplate") != NULL);
	aml_free(&b);

	aml_init(&b);
	aml_begin_resource_template(&b);
	aml_irq_noflags(&b, 16);
	aml_end(&b);
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), -1);
	aml_free(&b);

	aml_init(&b);
	aml_begin_resource_template(&b);
	aml_word_io(&b, 0, 0xffff);  /* length 0x10000 does not fit */
	aml_end(&b);
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), -1);
	aml_free(&b);

	aml_init(&b);
	aml_begin_package(&b);
	for (int i = 0; i < 256; i++)
		aml_integer(&b, (uint64_t)i);
	aml_end(&b);
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), -1);
	CHECK(strstr(err, "255") != NULL);
	aml_free(&b);

	/* The first error sticks; later calls change nothing. */
	aml_init(&b);
	aml_name_eisaid(&b, "_HID", "bogus");
	aml_integer(&b, 7);
	CHECK_EQ(b.len, 0);
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), -1);
	CHECK(strstr(err, "EISA") != NULL);
	aml_free(&b);

	aml_init(&b);
	for (int i = 0; i < AML_MAX_DEPTH + 1; i++)
		aml_begin_scope(&b, "S");
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), -1);
	CHECK(strstr(err, "deep") != NULL);
	aml_free(&b);
}

/* The pieces a PCI host bridge and a GED will need, wrapped in a DSDT and
 * put through iasl: every encoding must disassemble and compile again. */
static void test_aml_iasl_roundtrip(void)
{
	struct aml_builder b;
	char err[128], dir[4096];
	uint8_t *table;
	char *text;
	size_t aml_len = 0;
	uint8_t *aml;

	if (!iasl_available())
		SKIP_TEST("iasl not found in PATH (install acpica-tools)");
	aml_init(&b);
	aml_begin_scope(&b, "\\_SB");
	aml_begin_device(&b, "PCI0");
	aml_name_eisaid(&b, "_HID", "PNP0A08");
	aml_name_eisaid(&b, "_CID", "PNP0A03");
	aml_name_integer(&b, "_SEG", 0);
	aml_name_integer(&b, "_UID", 0);
	aml_name_integer(&b, "_BBN", 0);
	aml_name(&b, "_CRS");
	aml_begin_resource_template(&b);
	aml_word_bus_number(&b, 0, 0xff);
	aml_io(&b, 0xcf8, 0xcf8, 1, 8);
	aml_word_io(&b, 0x0000, 0x0cf7);
	aml_word_io(&b, 0x0d00, 0xffff);
	aml_dword_memory(&b, AML_MEM_NON_CACHEABLE, 0xc0000000, 0xdfffffff);
	aml_qword_memory(&b, AML_MEM_PREFETCHABLE, 0x8000000000ULL, 0xffffffffffULL);
	aml_end(&b);
	aml_name(&b, "_PRT");
	aml_begin_package(&b);
	for (unsigned slot = 0; slot < 4; slot++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			aml_begin_package(&b);
			aml_integer(&b, (uint64_t)slot << 16 | 0xffff);
			aml_integer(&b, pin);
			aml_integer(&b, 0);
			aml_integer(&b, 16 + (slot + pin) % 4);
			aml_end(&b);
		}
	}
	aml_end(&b);
	aml_end(&b);

	aml_begin_device(&b, "GED0");
	aml_name_string(&b, "_HID", "ACPI0013");
	aml_name(&b, "_CRS");
	aml_begin_resource_template(&b);
	aml_interrupt(&b, 23, AML_INTR_CONSUMER | AML_INTR_EDGE);
	aml_end(&b);
	aml_end(&b);

	aml_begin_device(&b, "PWRB");
	aml_name_eisaid(&b, "_HID", "PNP0C0C");
	aml_method_return_integer(&b, "_STA", 0x0b);
	aml_end(&b);

	aml_begin_device(&b, "HPET");
	aml_name_eisaid(&b, "_HID", "PNP0103");
	aml_begin_method(&b, "_CRS", 0, true);
	aml_return(&b);
	aml_begin_resource_template(&b);
	aml_memory32_fixed(&b, 0xfed00000, 0x400, false);
	aml_irq(&b, 2, AML_IRQ_EDGE);
	aml_end(&b);
	aml_end(&b);
	aml_end(&b);
	aml_end(&b);
	CHECK_EQ(aml_finish(&b, err, sizeof(err)), 0);
	if (test_state.failures) {
		aml_free(&b);
		return;
	}

	table = calloc(1, 36 + b.len);
	CHECK(table != NULL);
	CHECK(make_temp_dir(dir, sizeof(dir)));
	if (test_state.failures) {
		free(table);
		aml_free(&b);
		return;
	}
	memcpy(table, "DSDT", 4);
	table[4] = (uint8_t)(36 + b.len);
	table[5] = (uint8_t)((36 + b.len) >> 8);
	table[8] = 2;
	memcpy(table + 10, "GVMM  GVMMTEST", 14);
	memcpy(table + 28, "GVMM", 4);
	memcpy(table + 36, b.bytes, b.len);
	table[9] = (uint8_t)-sum_bytes(table, 36 + b.len);

	text = iasl_disassemble(dir, "DSDT", table, 36 + b.len);
	CHECK(text != NULL);
	if (text) {
		CHECK(strstr(text, "WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,") != NULL);
		CHECK(strstr(text, "WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,") != NULL);
		CHECK(strstr(text, "DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,") != NULL);
		CHECK(strstr(text, "QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Prefetchable, ReadWrite,") != NULL);
		CHECK(strstr(text, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )") != NULL);
		CHECK(strstr(text, "Memory32Fixed (ReadOnly,") != NULL);
		CHECK(strstr(text, "IRQ (Edge, ActiveHigh, Exclusive, )") != NULL);
		CHECK(strstr(text, "EisaId (\"PNP0A08\")") != NULL);
		CHECK(strstr(text, "Name (_HID, \"ACPI0013\"") != NULL);
		CHECK(strstr(text, "Method (_STA, 0, NotSerialized)") != NULL);
		CHECK(strstr(text, "Method (_CRS, 0, Serialized)") != NULL);
		CHECK_EQ(count_text(text, "0x0003FFFF,"), 4);
	}
	free(text);
	aml = iasl_compile(dir, "DSDT", &aml_len);
	CHECK(aml != NULL);
	free(aml);

	finish_temp_dir(dir);
	free(table);
	aml_free(&b);
}

TEST_MAIN("acpi",
	TEST_CASE(test_tables_1_cpu),
	TEST_CASE(test_tables_8_cpus),
	TEST_CASE(test_tables_255_cpus),
	TEST_CASE(test_madt_1_cpu),
	TEST_CASE(test_madt_8_cpus),
	TEST_CASE(test_fadt),
	TEST_CASE(test_dsdt_bytes),
	TEST_CASE(test_mcfg),
	TEST_CASE(test_dsdt_pci_routing),
	TEST_CASE(test_dsdt_pci_bytes),
	TEST_CASE(test_pci_variants),
	TEST_CASE(test_errors),
	TEST_CASE(test_iasl_1_cpu),
	TEST_CASE(test_iasl_8_cpus),
	TEST_CASE(test_aml_pkg_length),
	TEST_CASE(test_aml_pkg_length_fixup),
	TEST_CASE(test_aml_integers),
	TEST_CASE(test_aml_names),
	TEST_CASE(test_aml_eisaid),
	TEST_CASE(test_aml_device_and_package),
	TEST_CASE(test_aml_method_flags),
	TEST_CASE(test_aml_resources),
	TEST_CASE(test_aml_errors),
	TEST_CASE(test_aml_iasl_roundtrip),
)
