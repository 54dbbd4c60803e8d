/* The display the virtio-gpu fuzz targets draw into (display_backend.h):
 * it reads every pixel it is given, so the sanitizers see each byte the
 * engines hand over, and aborts on what a real display must never get:
 * an update outside the size the output was last given, a cursor larger
 * than DISPLAY_CURSOR_MAX or with its hot spot outside it. */
#ifndef GVMM_FUZZ_FAKE_DISPLAY_H
#define GVMM_FUZZ_FAKE_DISPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "../../display/display_backend.h"

struct fake_display {
	bool viewers;                 /* what has_viewers answers */
	/* What output_bytes charges per output beyond four frames of it. */
	uint64_t output_extra_bytes;
	uint32_t width[DISPLAY_MAX_OUTPUTS], height[DISPLAY_MAX_OUTPUTS];
	uint32_t checksum;            /* keeps the pixel reads from being dropped */
};

/* For display_new(fake_display_ops(), &fake). */
const struct display_backend_ops *fake_display_ops(void);

#endif
