/* The MC146818 real-time clock and its CMOS RAM, behind the index port
 * (0x70; bit 7, the NMI mask, is ignored) and the data port (0x71). One
 * two-port range: offset 0 is the index, offset 1 the data.
 *
 * The time registers are not stored: each read converts the host's time of
 * day (UTC) plus an offset, in BCD or binary and 12- or 24-hour form as
 * register B asks (the default, 0x02, is 24-hour BCD as Linux expects).
 * Guest writes to them move the offset, so `hwclock -w` sticks for the
 * life of the VM. While register B's SET bit is held, time is frozen and
 * writes edit that frozen time; clearing SET starts it again.
 *
 * Register A never shows an update in progress; register D reports a good
 * battery. The clock raises no interrupts: register C always reads 0 and
 * the interrupt enables in register B are only stored. Every other byte is
 * plain RAM.
 *
 * Locking: one mutex per RTC. */
#ifndef GVMM_CMOS_RTC_H
#define GVMM_CMOS_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CMOS_RTC_NR_PORTS 2
#define CMOS_RTC_RAM_SIZE 128

/* Where the RTC gets the time; tests supply their own. */
struct cmos_rtc_clock {
	int64_t (*now_ns)(void *ctx);  /* nanoseconds since the Unix epoch, UTC */
	void *ctx;
};

struct cmos_rtc {
	pthread_mutex_t lock;
	struct cmos_rtc_clock clock;
	/* RTC time minus host time, as whole seconds plus 0..999999999 ns:
	 * a guest may set any year up to 9999, beyond what fits in one
	 * 64-bit count of nanoseconds. */
	int64_t offset_sec;
	int64_t offset_nsec;
	uint8_t index;
	uint8_t ram[CMOS_RTC_RAM_SIZE];  /* the bytes not derived from the clock */
	struct tm frozen;                /* the time while register B's SET bit is held */
};

/* clock is copied; NULL means the host's CLOCK_REALTIME. */
void cmos_rtc_init(struct cmos_rtc *rtc, const struct cmos_rtc_clock *clock);
void cmos_rtc_destroy(struct cmos_rtc *rtc);

/* bus_access_fn for the CMOS_RTC_NR_PORTS ports; a wider access is split
 * into bytes, so a 16-bit write sets the index and then the data. */
void cmos_rtc_access(void *rtc, uint64_t offset, uint8_t *data, uint32_t len,
		     bool is_write);

#endif
