/* The ACPI PM block: the S5 and reset requests, the write-1-to-clear
 * status register, the SCI level and the absent PM timer, accessed with
 * the widths ACPICA and Linux use. */
#include "check.h"

#include <time.h>

#include "../../devices/pc/acpi_pm.h"

enum { STS = 0x0, EN = 0x2, CNT = 0x4, TMR = 0x8, RESET = 0xc };

#define TMR_EN   0x0001
#define PWRBTN   0x0100
#define SLP_EN   0x2000
#define SLP_TYP(t) ((t) << 10)

struct fake_vm {
	int poweroffs;
	int resets;
	bool sci;
	int sci_calls;
};

static void fake_request(void *ctx, enum vm_request what)
{
	struct fake_vm *vm = ctx;

	if (what == VM_REQUEST_POWEROFF)
		vm->poweroffs++;
	else
		vm->resets++;
}

static void fake_set_level(void *ctx, unsigned gsi, bool level)
{
	struct fake_vm *vm = ctx;

	(void)gsi;
	vm->sci = level;
	vm->sci_calls++;
}

static void setup(struct acpi_pm *pm, struct fake_vm *vm)
{
	struct irq_line sci = { fake_set_level, vm, 9 };
	struct vm_requester requester = { fake_request, vm };

	memset(vm, 0, sizeof(*vm));
	acpi_pm_init(pm, &sci, &requester);
}

static uint32_t rd(struct acpi_pm *pm, unsigned offset, uint32_t len)
{
	uint8_t data[4] = { 0 };
	uint32_t v = 0;

	acpi_pm_access(pm, offset, data, len, false);
	for (uint32_t i = 0; i < len; i++)
		v |= (uint32_t)data[i] << (8 * i);
	return v;
}

static void wr(struct acpi_pm *pm, unsigned offset, uint32_t len, uint32_t v)
{
	uint8_t data[4];

	for (uint32_t i = 0; i < 4; i++)
		data[i] = (uint8_t)(v >> (8 * i));
	acpi_pm_access(pm, offset, data, len, true);
}

static void test_layout_constants(void)
{
	/* The values the FADT and \_S5 are built with. */
	CHECK_EQ(ACPI_PM_PORTS, 16);
	CHECK_EQ(ACPI_PM_PM1_STS, 0x0);
	CHECK_EQ(ACPI_PM_PM1_EN, 0x2);
	CHECK_EQ(ACPI_PM_PM1_CNT, 0x4);
	CHECK_EQ(ACPI_PM_RESET_REG, 0xc);
	CHECK_EQ(ACPI_PM_SLP_TYP_S5, 5);
	CHECK_EQ(ACPI_PM_RESET_VALUE, 1);
}

static void test_s5_poweroff(void)
{
	struct acpi_pm pm;
	struct fake_vm vm;

	setup(&pm, &vm);
	/* ACPICA writes SLP_TYP alone first, then with SLP_EN. */
	wr(&pm, CNT, 2, SLP_TYP(5) | 1);
	CHECK_EQ(vm.poweroffs, 0);
	CHECK_EQ(rd(&pm, CNT, 2), SLP_TYP(5) | 1);
	wr(&pm, CNT, 2, SLP_TYP(5) | SLP_EN | 1);
	CHECK_EQ(vm.poweroffs, 1);
	CHECK_EQ(vm.resets, 0);
	/* SLP_EN is write-only. */
	CHECK_EQ(rd(&pm, CNT, 2) & SLP_EN, 0);

	/* Other sleep types with SLP_EN are not acted on. */
	wr(&pm, CNT, 2, SLP_TYP(0) | SLP_EN);
	wr(&pm, CNT, 2, SLP_TYP(3) | SLP_EN);
	wr(&pm, CNT, 2, SLP_TYP(1) | SLP_EN);
	CHECK_EQ(vm.poweroffs, 1);

	/* A byte write to the high half carries both fields. */
	wr(&pm, CNT + 1, 1, (SLP_TYP(5) | SLP_EN) >> 8);
	CHECK_EQ(vm.poweroffs, 2);
	/* So does a 32-bit write covering the register. */
	wr(&pm, CNT, 4, SLP_TYP(5) | SLP_EN);
	CHECK_EQ(vm.poweroffs, 3);
	/* A low-byte write never carries SLP_EN. */
	wr(&pm, CNT, 1, 0xff);
	CHECK_EQ(vm.poweroffs, 3);
	acpi_pm_destroy(&pm);
}

static void test_sci_en_reads_one(void)
{
	struct acpi_pm pm;
	struct fake_vm vm;

	setup(&pm, &vm);
	CHECK_EQ(rd(&pm, CNT, 2) & 1, 1);
	wr(&pm, CNT, 2, 0);
	CHECK_EQ(rd(&pm, CNT, 2), 1);
	CHECK_EQ(rd(&pm, CNT, 1), 1);
	CHECK_EQ(rd(&pm, CNT + 1, 1), 0);
	acpi_pm_destroy(&pm);
}

static void test_reset_register(void)
{
	struct acpi_pm pm;
	struct fake_vm vm;

	setup(&pm, &vm);
	wr(&pm, RESET, 1, 0);
	wr(&pm, RESET, 1, 2);
	wr(&pm, RESET, 1, 0xff);
	CHECK_EQ(vm.resets, 0);
	wr(&pm, RESET, 1, ACPI_PM_RESET_VALUE);
	CHECK_EQ(vm.resets, 1);
	CHECK_EQ(vm.poweroffs, 0);
	CHECK_EQ(rd(&pm, RESET, 1), 0);
	acpi_pm_destroy(&pm);
}

static void test_status_write_one_to_clear(void)
{
	struct acpi_pm pm;
	struct fake_vm vm;

	setup(&pm, &vm);
	CHECK_EQ(rd(&pm, STS, 2), 0);
	acpi_pm_press_power_button(&pm);
	CHECK_EQ(rd(&pm, STS, 2), PWRBTN);
	wr(&pm, STS, 2, 0);                  /* zeros change nothing */
	CHECK_EQ(rd(&pm, STS, 2), PWRBTN);
	wr(&pm, STS, 2, 0x0001 | 0x8000);    /* other bits leave it alone */
	CHECK_EQ(rd(&pm, STS, 2), PWRBTN);
	wr(&pm, STS, 2, PWRBTN);
	CHECK_EQ(rd(&pm, STS, 2), 0);

	acpi_pm_press_power_button(&pm);
	wr(&pm, STS, 1, 0xff);               /* the low byte cannot clear bit 8 */
	CHECK_EQ(rd(&pm, STS + 1, 1), 0x01);
	wr(&pm, STS + 1, 1, 0x01);
	CHECK_EQ(rd(&pm, STS, 2), 0);

	/* ACPICA clears every status bit at once with a 16-bit write. */
	acpi_pm_press_power_button(&pm);
	wr(&pm, STS, 2, 0xffff);
	CHECK_EQ(rd(&pm, STS, 2), 0);

	/* PM1_EN is plain read/write for the defined bits (TMR_EN is not
	 * one: there is no timer). */
	wr(&pm, EN, 2, 0xffff);
	CHECK_EQ(rd(&pm, EN, 2), 0x4720);
	wr(&pm, EN + 1, 1, 0x00);
	CHECK_EQ(rd(&pm, EN, 2), 0x0020);
	/* A 32-bit access spans STS and EN. */
	CHECK_EQ(rd(&pm, STS, 4), 0x00200000);
	acpi_pm_destroy(&pm);
}

static void test_sci_follows_power_button(void)
{
	struct acpi_pm pm;
	struct fake_vm vm;

	setup(&pm, &vm);
	/* Pressed before the OS enabled the event: no SCI yet. */
	acpi_pm_press_power_button(&pm);
	CHECK(!vm.sci);
	wr(&pm, EN, 2, PWRBTN);
	CHECK(vm.sci);
	wr(&pm, STS, 2, PWRBTN);
	CHECK(!vm.sci);

	acpi_pm_press_power_button(&pm);
	CHECK(vm.sci);
	/* Disabling the event drops the line while the status stays. */
	wr(&pm, EN, 2, 0);
	CHECK(!vm.sci);
	CHECK_EQ(rd(&pm, STS, 2), PWRBTN);
	wr(&pm, EN, 2, PWRBTN);
	CHECK(vm.sci);
	wr(&pm, STS + 1, 1, PWRBTN >> 8);
	CHECK(!vm.sci);
	CHECK_EQ(vm.poweroffs, 0);
	acpi_pm_destroy(&pm);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* The FADT offers no PM timer, so its ports are reserved: they read 0
 * however long apart, ignore writes, and the timer's event cannot be
 * enabled. */
static void test_no_pm_timer(void)
{
	struct acpi_pm pm;
	struct fake_vm vm;

	setup(&pm, &vm);
	CHECK_EQ(rd(&pm, TMR, 4), 0);
	sleep_ms(5);
	CHECK_EQ(rd(&pm, TMR, 4), 0);
	CHECK_EQ(rd(&pm, TMR + 2, 2), 0);
	CHECK_EQ(rd(&pm, TMR + 3, 1), 0);
	wr(&pm, TMR, 4, 0x12345678);
	CHECK_EQ(rd(&pm, TMR, 4), 0);

	wr(&pm, EN, 2, TMR_EN | PWRBTN);
	CHECK_EQ(rd(&pm, EN, 2), PWRBTN);
	CHECK_EQ(vm.poweroffs + vm.resets, 0);
	acpi_pm_destroy(&pm);
}

static void test_reserved_and_stray_accesses(void)
{
	struct acpi_pm pm;
	struct fake_vm vm;
	uint8_t data[8];

	setup(&pm, &vm);
	CHECK_EQ(rd(&pm, 0x6, 2), 0);
	CHECK_EQ(rd(&pm, 0xd, 2), 0);
	memset(data, 0, sizeof(data));
	acpi_pm_access(&pm, 0xe, data, 4, false);  /* runs past the block */
	CHECK_EQ(data[0], 0);
	CHECK_EQ(data[1], 0);
	CHECK_EQ(data[2], 0xff);
	CHECK_EQ(data[3], 0xff);
	memset(data, 0xff, sizeof(data));
	acpi_pm_access(&pm, 0xa, data, 8, true);   /* reserved, reset 0xff */
	acpi_pm_access(&pm, 0x40, data, 4, true);
	acpi_pm_access(&pm, 0x0, data, 0, true);
	CHECK_EQ(vm.poweroffs + vm.resets, 0);
	acpi_pm_destroy(&pm);

	/* No SCI line and no requester: nothing crashes. */
	acpi_pm_init(&pm, NULL, NULL);
	acpi_pm_press_power_button(&pm);
	wr(&pm, EN, 2, PWRBTN);
	wr(&pm, CNT, 2, SLP_TYP(5) | SLP_EN);
	wr(&pm, RESET, 1, ACPI_PM_RESET_VALUE);
	acpi_pm_destroy(&pm);
}

TEST_MAIN("acpi_pm",
	  TEST_CASE(test_layout_constants),
	  TEST_CASE(test_s5_poweroff),
	  TEST_CASE(test_sci_en_reads_one),
	  TEST_CASE(test_reset_register),
	  TEST_CASE(test_status_write_one_to_clear),
	  TEST_CASE(test_sci_follows_power_button),
	  TEST_CASE(test_no_pm_timer),
	  TEST_CASE(test_reserved_and_stray_accesses))
