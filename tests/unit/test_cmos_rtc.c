/* The MC146818 RTC and CMOS RAM, against an injected clock: encodings per
 * register B, the status registers Linux checks, and setting the time the
 * way Linux's mc146818_set_time does. */
#include "check.h"

#include "../../devices/pc/cmos_rtc.h"

#define NS 1000000000LL

/* 2024-02-29 13:45:07 UTC, a Thursday. */
#define LEAP_DAY_AFTERNOON 1709214307LL
/* 2023-01-31 23:59:59 UTC. */
#define END_OF_JANUARY     1675209599LL

enum { SEC = 0x00, SEC_ALARM = 0x01, MIN = 0x02, HOUR = 0x04, WDAY = 0x06,
       MDAY = 0x07, MON = 0x08, YEAR = 0x09, REG_A = 0x0a, REG_B = 0x0b,
       REG_C = 0x0c, REG_D = 0x0d, CENTURY = 0x32 };

struct fake_clock {
	int64_t ns;
	int reads;
};

static int64_t fake_now(void *ctx)
{
	struct fake_clock *clock = ctx;

	clock->reads++;
	return clock->ns;
}

static void setup(struct cmos_rtc *rtc, struct fake_clock *clock, int64_t ns)
{
	struct cmos_rtc_clock source = { fake_now, clock };

	clock->ns = ns;
	clock->reads = 0;
	cmos_rtc_init(rtc, &source);
}

static uint8_t rd(struct cmos_rtc *rtc, uint8_t reg)
{
	uint8_t v = 0x5a;

	cmos_rtc_access(rtc, 0, &reg, 1, true);
	cmos_rtc_access(rtc, 1, &v, 1, false);
	return v;
}

static void wr(struct cmos_rtc *rtc, uint8_t reg, uint8_t v)
{
	cmos_rtc_access(rtc, 0, &reg, 1, true);
	cmos_rtc_access(rtc, 1, &v, 1, true);
}

static void test_default_is_24_hour_bcd(void)
{
	struct cmos_rtc rtc;
	struct fake_clock clock;

	setup(&rtc, &clock, LEAP_DAY_AFTERNOON * NS + 250000000);
	CHECK_EQ(rd(&rtc, REG_B), 0x02);
	CHECK_EQ(rd(&rtc, SEC), 0x07);
	CHECK_EQ(rd(&rtc, MIN), 0x45);
	CHECK_EQ(rd(&rtc, HOUR), 0x13);
	CHECK_EQ(rd(&rtc, WDAY), 0x05);     /* Sunday is 1 */
	CHECK_EQ(rd(&rtc, MDAY), 0x29);
	CHECK_EQ(rd(&rtc, MON), 0x02);
	CHECK_EQ(rd(&rtc, YEAR), 0x24);
	CHECK_EQ(rd(&rtc, CENTURY), 0x20);
	CHECK(clock.reads > 0);
	cmos_rtc_destroy(&rtc);
}

static void test_binary_and_12_hour_modes(void)
{
	struct cmos_rtc rtc;
	struct fake_clock clock;

	setup(&rtc, &clock, LEAP_DAY_AFTERNOON * NS);
	wr(&rtc, REG_B, 0x06);              /* binary, 24-hour */
	CHECK_EQ(rd(&rtc, SEC), 7);
	CHECK_EQ(rd(&rtc, MIN), 45);
	CHECK_EQ(rd(&rtc, HOUR), 13);
	CHECK_EQ(rd(&rtc, WDAY), 5);
	CHECK_EQ(rd(&rtc, MDAY), 29);
	CHECK_EQ(rd(&rtc, MON), 2);
	CHECK_EQ(rd(&rtc, YEAR), 24);
	CHECK_EQ(rd(&rtc, CENTURY), 20);

	wr(&rtc, REG_B, 0x04);              /* binary, 12-hour: 1 PM */
	CHECK_EQ(rd(&rtc, HOUR), 0x81);
	wr(&rtc, REG_B, 0x00);              /* BCD, 12-hour */
	CHECK_EQ(rd(&rtc, HOUR), 0x81);

	clock.ns = (LEAP_DAY_AFTERNOON - 13 * 3600 - 45 * 60) * NS;  /* 00:00:07 */
	CHECK_EQ(rd(&rtc, HOUR), 0x12);     /* 12 AM */
	clock.ns += 12 * 3600 * NS;         /* 12:00:07 */
	CHECK_EQ(rd(&rtc, HOUR), 0x92);     /* 12 PM */
	clock.ns += 11 * 3600 * NS;         /* 23:00:07 */
	CHECK_EQ(rd(&rtc, HOUR), 0x91);
	wr(&rtc, REG_B, 0x04);
	CHECK_EQ(rd(&rtc, HOUR), 0x8b);     /* binary 11 PM */
	wr(&rtc, REG_B, 0x02);
	CHECK_EQ(rd(&rtc, HOUR), 0x23);
	cmos_rtc_destroy(&rtc);
}

static void test_status_registers(void)
{
	struct cmos_rtc rtc;
	struct fake_clock clock;

	setup(&rtc, &clock, LEAP_DAY_AFTERNOON * NS);
	/* UIP clear, 32.768 kHz divider, 1024 Hz rate. */
	CHECK_EQ(rd(&rtc, REG_A), 0x26);
	CHECK_EQ(rd(&rtc, REG_A) & 0x80, 0);
	wr(&rtc, REG_A, 0xa6);              /* UIP is read-only */
	CHECK_EQ(rd(&rtc, REG_A), 0x26);
	wr(&rtc, REG_A, 0x2f);
	CHECK_EQ(rd(&rtc, REG_A), 0x2f);

	/* Valid RAM and time; bit 6 must be clear or Linux calls the RTC
	 * inaccessible. */
	CHECK_EQ(rd(&rtc, REG_D), 0x80);
	wr(&rtc, REG_D, 0x00);
	CHECK_EQ(rd(&rtc, REG_D), 0x80);
	CHECK_EQ(rd(&rtc, REG_C), 0x00);
	wr(&rtc, REG_C, 0xff);
	CHECK_EQ(rd(&rtc, REG_C), 0x00);

	/* Setting SET clears UIE. */
	wr(&rtc, REG_B, 0x92);
	CHECK_EQ(rd(&rtc, REG_B), 0x82);
	wr(&rtc, REG_B, 0x12);
	CHECK_EQ(rd(&rtc, REG_B), 0x12);

	/* Bit 7 of the index is the NMI mask, not part of the index. */
	wr(&rtc, 0x80 | REG_A, 0x26);
	CHECK_EQ(rd(&rtc, 0x80 | REG_D), 0x80);
	CHECK_EQ(rd(&rtc, 0x80 | REG_A), 0x26);
	cmos_rtc_destroy(&rtc);
}

static void test_time_follows_the_clock(void)
{
	struct cmos_rtc rtc;
	struct fake_clock clock;

	setup(&rtc, &clock, LEAP_DAY_AFTERNOON * NS);
	clock.ns += NS;
	CHECK_EQ(rd(&rtc, SEC), 0x08);
	clock.ns += 52 * NS;
	CHECK_EQ(rd(&rtc, SEC), 0x00);
	CHECK_EQ(rd(&rtc, MIN), 0x46);
	clock.ns += 11 * 3600 * NS;         /* past midnight into March */
	CHECK_EQ(rd(&rtc, HOUR), 0x00);
	CHECK_EQ(rd(&rtc, MDAY), 0x01);
	CHECK_EQ(rd(&rtc, MON), 0x03);
	CHECK_EQ(rd(&rtc, WDAY), 0x06);
	cmos_rtc_destroy(&rtc);
}

/* mc146818_set_time's order: SET, divider reset, year, month, day, hour,
 * minute, second, SET cleared, divider back. */
static void test_linux_set_time(void)
{
	struct cmos_rtc rtc;
	struct fake_clock clock;

	setup(&rtc, &clock, END_OF_JANUARY * NS);
	wr(&rtc, REG_B, rd(&rtc, REG_B) | 0x80);
	wr(&rtc, REG_A, 0x76);
	wr(&rtc, YEAR, 0x24);
	wr(&rtc, MON, 0x02);                /* February 31 for a moment */
	clock.ns += 3 * NS;                 /* held: the clock does not run */
	CHECK_EQ(rd(&rtc, SEC), 0x59);
	wr(&rtc, MDAY, 0x15);
	wr(&rtc, HOUR, 0x10);
	wr(&rtc, MIN, 0x20);
	wr(&rtc, SEC, 0x30);
	CHECK_EQ(rd(&rtc, WDAY), 0x05);
	wr(&rtc, REG_B, rd(&rtc, REG_B) & ~0x80);
	wr(&rtc, REG_A, 0x26);

	CHECK_EQ(rd(&rtc, YEAR), 0x24);
	CHECK_EQ(rd(&rtc, CENTURY), 0x20);
	CHECK_EQ(rd(&rtc, MON), 0x02);
	CHECK_EQ(rd(&rtc, MDAY), 0x15);
	CHECK_EQ(rd(&rtc, WDAY), 0x05);
	CHECK_EQ(rd(&rtc, HOUR), 0x10);
	CHECK_EQ(rd(&rtc, MIN), 0x20);
	CHECK_EQ(rd(&rtc, SEC), 0x30);
	/* The first second after setting lasts half a second. */
	clock.ns += 400000000;
	CHECK_EQ(rd(&rtc, SEC), 0x30);
	clock.ns += 200000000;
	CHECK_EQ(rd(&rtc, SEC), 0x31);
	clock.ns += 3600 * NS;
	CHECK_EQ(rd(&rtc, HOUR), 0x11);
	CHECK_EQ(rd(&rtc, SEC), 0x31);

	/* A new RTC instance starts from host time again. */
	cmos_rtc_destroy(&rtc);
	setup(&rtc, &clock, END_OF_JANUARY * NS);
	CHECK_EQ(rd(&rtc, YEAR), 0x23);
	cmos_rtc_destroy(&rtc);
}

static void test_single_write_shifts_offset(void)
{
	struct cmos_rtc rtc;
	struct fake_clock clock;

	setup(&rtc, &clock, LEAP_DAY_AFTERNOON * NS + 900000000);
	wr(&rtc, MIN, 0x10);
	CHECK_EQ(rd(&rtc, MIN), 0x10);
	CHECK_EQ(rd(&rtc, HOUR), 0x13);
	CHECK_EQ(rd(&rtc, SEC), 0x07);
	/* The phase within the second is kept. */
	clock.ns += 100000000;
	CHECK_EQ(rd(&rtc, SEC), 0x08);
	CHECK_EQ(rd(&rtc, MIN), 0x10);

	/* Day of week follows from the date; writing it changes nothing. */
	wr(&rtc, WDAY, 0x01);
	CHECK_EQ(rd(&rtc, WDAY), 0x05);
	CHECK_EQ(rd(&rtc, MDAY), 0x29);

	/* Binary and 12-hour writes are decoded in the current mode. */
	wr(&rtc, REG_B, 0x04);
	wr(&rtc, HOUR, 0x80 | 12);          /* 12 PM */
	wr(&rtc, REG_B, 0x02);
	CHECK_EQ(rd(&rtc, HOUR), 0x12);
	wr(&rtc, REG_B, 0x00);
	wr(&rtc, HOUR, 0x12);               /* 12 AM */
	wr(&rtc, REG_B, 0x02);
	CHECK_EQ(rd(&rtc, HOUR), 0x00);
	CHECK_EQ(rd(&rtc, MDAY), 0x29);
	cmos_rtc_destroy(&rtc);
}

static void test_century_and_far_years(void)
{
	struct cmos_rtc rtc;
	struct fake_clock clock;

	setup(&rtc, &clock, LEAP_DAY_AFTERNOON * NS);
	wr(&rtc, CENTURY, 0x21);
	CHECK_EQ(rd(&rtc, CENTURY), 0x21);
	CHECK_EQ(rd(&rtc, YEAR), 0x24);
	wr(&rtc, YEAR, 0x05);
	CHECK_EQ(rd(&rtc, YEAR), 0x05);
	CHECK_EQ(rd(&rtc, CENTURY), 0x21);

	/* The largest BCD year, and an absurd binary one: no overflow. */
	wr(&rtc, CENTURY, 0x99);
	wr(&rtc, YEAR, 0x99);
	CHECK_EQ(rd(&rtc, CENTURY), 0x99);
	CHECK_EQ(rd(&rtc, YEAR), 0x99);
	wr(&rtc, MON, 0x02);
	wr(&rtc, MDAY, 0x28);
	clock.ns += 86400 * NS;
	CHECK_EQ(rd(&rtc, MDAY), 0x01);     /* 9999 is no leap year */
	CHECK_EQ(rd(&rtc, MON), 0x03);
	CHECK_EQ(rd(&rtc, YEAR), 0x99);
	wr(&rtc, REG_B, 0x86);
	wr(&rtc, CENTURY, 0xff);
	wr(&rtc, MON, 0xff);
	wr(&rtc, REG_B, 0x06);
	(void)rd(&rtc, YEAR);
	(void)rd(&rtc, CENTURY);
	wr(&rtc, CENTURY, 0x00);
	wr(&rtc, YEAR, 0x00);
	CHECK_EQ(rd(&rtc, YEAR), 0);
	CHECK_EQ(rd(&rtc, CENTURY), 0);
	wr(&rtc, MON, 0x00);                /* back into the year before 0 */
	wr(&rtc, MDAY, 0x00);
	CHECK_EQ(rd(&rtc, CENTURY), 0);
	(void)rd(&rtc, YEAR);
	(void)rd(&rtc, WDAY);
	cmos_rtc_destroy(&rtc);
}

static void test_scratch_ram(void)
{
	struct cmos_rtc rtc;
	struct fake_clock clock;
	uint8_t pair[2] = { 0x40, 0x99 };
	uint8_t four[4];

	setup(&rtc, &clock, LEAP_DAY_AFTERNOON * NS);
	CHECK_EQ(rd(&rtc, 0x34), 0);        /* no extended memory claimed */
	CHECK_EQ(rd(&rtc, 0x35), 0);
	wr(&rtc, 0x40, 0xab);
	CHECK_EQ(rd(&rtc, 0x40), 0xab);
	wr(&rtc, 0x7f, 0x12);
	CHECK_EQ(rd(&rtc, 0x7f), 0x12);
	wr(&rtc, 0x0e, 0x00);
	CHECK_EQ(rd(&rtc, 0x0e), 0x00);
	/* Alarm registers are plain storage. */
	wr(&rtc, SEC_ALARM, 0x33);
	CHECK_EQ(rd(&rtc, SEC_ALARM), 0x33);
	CHECK_EQ(rd(&rtc, SEC), 0x07);

	/* A 16-bit write sets the index, then the data. */
	cmos_rtc_access(&rtc, 0, pair, 2, true);
	CHECK_EQ(rd(&rtc, 0x40), 0x99);
	memset(four, 0, sizeof(four));
	cmos_rtc_access(&rtc, 0, four, 4, false);
	CHECK_EQ(four[0], 0x40);            /* the index reads back */
	CHECK_EQ(four[1], 0x99);
	CHECK_EQ(four[2], 0xff);
	CHECK_EQ(four[3], 0xff);
	cmos_rtc_access(&rtc, 1, four, 4, true);
	cmos_rtc_access(&rtc, 5, four, 1, false);
	CHECK_EQ(four[0], 0xff);
	cmos_rtc_destroy(&rtc);
}

static int bcd_ok(uint8_t v)
{
	return (v >> 4) <= 9 && (v & 0x0f) <= 9;
}

static void test_host_clock(void)
{
	struct cmos_rtc rtc;
	uint8_t mon;

	cmos_rtc_init(&rtc, NULL);
	CHECK(rd(&rtc, CENTURY) >= 0x20);
	CHECK(bcd_ok(rd(&rtc, YEAR)));
	mon = rd(&rtc, MON);
	CHECK(bcd_ok(mon) && mon >= 0x01 && mon <= 0x12);
	CHECK(rd(&rtc, SEC) <= 0x59);
	CHECK(rd(&rtc, HOUR) <= 0x23);
	cmos_rtc_destroy(&rtc);
}

TEST_MAIN("cmos_rtc",
	  TEST_CASE(test_default_is_24_hour_bcd),
	  TEST_CASE(test_binary_and_12_hour_modes),
	  TEST_CASE(test_status_registers),
	  TEST_CASE(test_time_follows_the_clock),
	  TEST_CASE(test_linux_set_time),
	  TEST_CASE(test_single_write_shifts_offset),
	  TEST_CASE(test_century_and_far_years),
	  TEST_CASE(test_scratch_ram),
	  TEST_CASE(test_host_clock))
