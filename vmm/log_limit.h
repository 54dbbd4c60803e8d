/* Rate limiting for log lines a guest can trigger at will (say, a driver
 * that resets its device and breaks the ring again, in a loop): the first
 * occurrence is logged, then at most one line per interval, and that line
 * says how many occurrences went unlogged before it. The limit lasts as
 * long as its owner (a device), so no guest action can reset it.
 *
 * Not thread-safe: the owner serialises calls with its own lock. Time is
 * passed in, so tests need no clock. */
#ifndef GVMM_LOG_LIMIT_H
#define GVMM_LOG_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct log_limit {
	uint64_t interval_ns;
	uint64_t last_ns;       /* when the last line was allowed */
	uint64_t count;         /* occurrences so far */
	uint64_t unlogged;      /* occurrences since the last line */
};

void log_limit_init(struct log_limit *l, uint64_t interval_ns);

/* Counts an occurrence at now_ns. Returns whether to log it; if so,
 * *unlogged gets how many occurrences since the previous line were not
 * logged (for a "(N more)" note), and the count starts over. */
bool log_limit_allow(struct log_limit *l, uint64_t now_ns, uint64_t *unlogged);

/* CLOCK_MONOTONIC in nanoseconds, for now_ns. */
uint64_t log_limit_now_ns(void);

#endif
