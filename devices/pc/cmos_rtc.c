#include "cmos_rtc.h"

#include <string.h>

#define NSEC_PER_SEC 1000000000LL

enum {
	REG_SECONDS      = 0x00,
	REG_MINUTES      = 0x02,
	REG_HOURS        = 0x04,
	REG_DAY_OF_WEEK  = 0x06,
	REG_DAY_OF_MONTH = 0x07,
	REG_MONTH        = 0x08,
	REG_YEAR         = 0x09,
	REG_A            = 0x0a,
	REG_B            = 0x0b,
	REG_C            = 0x0c,
	REG_D            = 0x0d,
	REG_CENTURY      = 0x32,
};

#define INDEX_MASK       0x7f  /* bit 7 of the index port masks NMIs */

#define A_UPDATE_IN_PROGRESS 0x80
#define A_DEFAULT        0x26  /* 32.768 kHz time base, 1024 Hz periodic rate */

#define B_SET            0x80  /* updates held while the time is written */
#define B_UPDATE_IRQ     0x10
#define B_BINARY         0x04  /* data mode: binary instead of BCD */
#define B_24_HOUR        0x02
#define B_DEFAULT        B_24_HOUR

#define D_VALID_RAM_TIME 0x80  /* the battery is good */

#define HOUR_PM          0x80  /* in 12-hour mode */

/* The MC146818 counts the first second after its time is set as half a
 * second, and Linux times its writes for that: the new time starts half a
 * second into its second. */
#define SET_PHASE_NS     (NSEC_PER_SEC / 2)

static int64_t host_now_ns(const struct cmos_rtc *rtc)
{
	struct timespec ts;

	if (rtc->clock.now_ns)
		return rtc->clock.now_ns(rtc->clock.ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b && (a < 0) != (b < 0))
		q--;
	return q;
}

/* The running RTC time at host time now: calendar fields, and the
 * nanoseconds into the current second. */
static void running_time(const struct cmos_rtc *rtc, int64_t now, struct tm *tm,
			 int64_t *subsec_ns)
{
	int64_t host_sec = floor_div(now, NSEC_PER_SEC);
	int64_t nsec = now - host_sec * NSEC_PER_SEC + rtc->offset_nsec;
	time_t sec = (time_t)(host_sec + rtc->offset_sec + nsec / NSEC_PER_SEC);

	if (!gmtime_r(&sec, tm))
		memset(tm, 0, sizeof(*tm));
	if (subsec_ns)
		*subsec_ns = nsec % NSEC_PER_SEC;
}

/* Makes the RTC read tm plus subsec_ns at host time now. */
static void set_running_time(struct cmos_rtc *rtc, int64_t now, const struct tm *tm,
			     int64_t subsec_ns)
{
	struct tm copy = *tm;
	int64_t host_sec = floor_div(now, NSEC_PER_SEC);
	int64_t host_nsec = now - host_sec * NSEC_PER_SEC;
	int64_t rtc_sec = (int64_t)timegm(&copy);

	rtc->offset_sec = rtc_sec - host_sec;
	rtc->offset_nsec = subsec_ns - host_nsec;
	if (rtc->offset_nsec < 0) {
		rtc->offset_nsec += NSEC_PER_SEC;
		rtc->offset_sec--;
	}
}

static bool binary_mode(const struct cmos_rtc *rtc)
{
	return rtc->ram[REG_B] & B_BINARY;
}

static uint8_t encode(const struct cmos_rtc *rtc, int value)
{
	/* Only a guest's odd dates (month 0 of year 0) reach below zero. */
	if (value < 0)
		value = 0;
	if (binary_mode(rtc))
		return (uint8_t)value;
	return (uint8_t)(((value / 10) % 10) << 4 | value % 10);
}

static int decode(const struct cmos_rtc *rtc, uint8_t value)
{
	if (binary_mode(rtc))
		return value;
	return (value >> 4) * 10 + (value & 0x0f);
}

static uint8_t encode_hour(const struct cmos_rtc *rtc, int hour)
{
	int hour12 = hour % 12 ? hour % 12 : 12;

	if (rtc->ram[REG_B] & B_24_HOUR)
		return encode(rtc, hour);
	return encode(rtc, hour12) | (hour >= 12 ? HOUR_PM : 0);
}

static int decode_hour(const struct cmos_rtc *rtc, uint8_t value)
{
	if (rtc->ram[REG_B] & B_24_HOUR)
		return decode(rtc, value);
	/* 12 AM is midnight, 12 PM noon. */
	return decode(rtc, value & ~HOUR_PM) % 12 + (value & HOUR_PM ? 12 : 0);
}

static bool is_time_register(uint8_t reg)
{
	return reg == REG_SECONDS || reg == REG_MINUTES || reg == REG_HOURS ||
	       (reg >= REG_DAY_OF_WEEK && reg <= REG_YEAR) || reg == REG_CENTURY;
}

static void current_time(const struct cmos_rtc *rtc, int64_t now, struct tm *tm,
			 int64_t *subsec_ns)
{
	if (rtc->ram[REG_B] & B_SET) {
		*tm = rtc->frozen;
		if (subsec_ns)
			*subsec_ns = 0;
	} else {
		running_time(rtc, now, tm, subsec_ns);
	}
}

static uint8_t read_time_register(const struct cmos_rtc *rtc, uint8_t reg, int64_t now)
{
	struct tm tm;
	int year;

	current_time(rtc, now, &tm, NULL);
	year = tm.tm_year + 1900;
	switch (reg) {
	case REG_SECONDS:
		return encode(rtc, tm.tm_sec);
	case REG_MINUTES:
		return encode(rtc, tm.tm_min);
	case REG_HOURS:
		return encode_hour(rtc, tm.tm_hour);
	case REG_DAY_OF_WEEK:
		return encode(rtc, tm.tm_wday + 1);  /* Sunday is 1 */
	case REG_DAY_OF_MONTH:
		return encode(rtc, tm.tm_mday);
	case REG_MONTH:
		return encode(rtc, tm.tm_mon + 1);
	case REG_YEAR:
		return encode(rtc, (year % 100 + 100) % 100);
	case REG_CENTURY:
		return encode(rtc, year / 100);
	}
	return 0;
}

static void write_time_register(struct cmos_rtc *rtc, uint8_t reg, uint8_t value,
				int64_t now)
{
	struct tm tm, normalized;
	int64_t subsec_ns;
	int year;

	current_time(rtc, now, &tm, &subsec_ns);
	year = tm.tm_year + 1900;
	switch (reg) {
	case REG_SECONDS:
		tm.tm_sec = decode(rtc, value);
		break;
	case REG_MINUTES:
		tm.tm_min = decode(rtc, value);
		break;
	case REG_HOURS:
		tm.tm_hour = decode_hour(rtc, value);
		break;
	case REG_DAY_OF_WEEK:
		/* Follows from the date. */
		return;
	case REG_DAY_OF_MONTH:
		tm.tm_mday = decode(rtc, value);
		break;
	case REG_MONTH:
		tm.tm_mon = decode(rtc, value) - 1;
		break;
	case REG_YEAR:
		tm.tm_year = year - (year % 100 + 100) % 100 + decode(rtc, value) - 1900;
		break;
	case REG_CENTURY:
		tm.tm_year = decode(rtc, value) * 100 + (year % 100 + 100) % 100 - 1900;
		break;
	}
	if (rtc->ram[REG_B] & B_SET) {
		/* Keep the fields as written: Linux writes one at a time, and
		 * a passing combination like February 31 must not be
		 * normalised before the day is written too. */
		normalized = tm;
		timegm(&normalized);
		tm.tm_wday = normalized.tm_wday;
		rtc->frozen = tm;
		return;
	}
	set_running_time(rtc, now, &tm, subsec_ns);
}

static void write_register_b(struct cmos_rtc *rtc, uint8_t value, int64_t now)
{
	uint8_t old = rtc->ram[REG_B];

	if (!(old & B_SET) && (value & B_SET)) {
		running_time(rtc, now, &rtc->frozen, NULL);
		/* Setting SET clears UIE on the MC146818. */
		value &= ~B_UPDATE_IRQ;
	} else if ((old & B_SET) && !(value & B_SET)) {
		set_running_time(rtc, now, &rtc->frozen, SET_PHASE_NS);
	}
	rtc->ram[REG_B] = value;
}

static uint8_t read_data(struct cmos_rtc *rtc)
{
	uint8_t reg = rtc->index;

	if (is_time_register(reg))
		return read_time_register(rtc, reg, host_now_ns(rtc));
	switch (reg) {
	case REG_A:
		/* An update is never in progress: the time is computed whole. */
		return rtc->ram[REG_A] & ~A_UPDATE_IN_PROGRESS;
	case REG_C:
		return 0;  /* no interrupt flags, ever */
	case REG_D:
		return D_VALID_RAM_TIME;
	}
	return rtc->ram[reg];
}

static void write_data(struct cmos_rtc *rtc, uint8_t value)
{
	uint8_t reg = rtc->index;

	if (is_time_register(reg)) {
		write_time_register(rtc, reg, value, host_now_ns(rtc));
		return;
	}
	switch (reg) {
	case REG_A:
		rtc->ram[REG_A] = value & ~A_UPDATE_IN_PROGRESS;
		return;
	case REG_B:
		write_register_b(rtc, value, host_now_ns(rtc));
		return;
	case REG_C:
	case REG_D:
		return;  /* read-only */
	}
	rtc->ram[reg] = value;
}

void cmos_rtc_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		     bool is_write)
{
	struct cmos_rtc *rtc = opaque;

	pthread_mutex_lock(&rtc->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t port = offset + i;

		if (port == 0 && is_write)
			rtc->index = data[i] & INDEX_MASK;
		else if (port == 0)
			data[i] = rtc->index;
		else if (port == 1 && is_write)
			write_data(rtc, data[i]);
		else if (port == 1)
			data[i] = read_data(rtc);
		else if (!is_write)
			data[i] = 0xff;
	}
	pthread_mutex_unlock(&rtc->lock);
}

void cmos_rtc_init(struct cmos_rtc *rtc, const struct cmos_rtc_clock *clock)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	if (clock)
		rtc->clock = *clock;
	rtc->ram[REG_A] = A_DEFAULT;
	rtc->ram[REG_B] = B_DEFAULT;
}

void cmos_rtc_destroy(struct cmos_rtc *rtc)
{
	pthread_mutex_destroy(&rtc->lock);
}
