/* One field of /proc/self/status, for tests that watch their own
 * memory. */
#ifndef GVMM_TEST_PROC_STATUS_H
#define GVMM_TEST_PROC_STATUS_H

#include <stdint.h>

/* The value of the line "NAME: N kB" (VmRSS, RssAnon, ...) in KiB; 0 when
 * the file or the line is missing. */
uint64_t proc_status_kib(const char *name);

#endif
