/* One CLOCK_MONOTONIC reading in nanoseconds, shared so each file need not keep its own copy. */
#ifndef GVMM_MONOTONIC_CLOCK_H
#define GVMM_MONOTONIC_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
