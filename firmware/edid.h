/* EDID 1.4 (VESA E-EDID, release A rev. 2): the 128-byte base block a
 * monitor hands its host, here describing one virtual output: its
 * preferred mode as the first detailed timing (CVT reduced blanking,
 * 60 Hz where the 16-bit pixel clock field allows), a range-limits
 * descriptor that admits it, and the monitor name "gvmm". Pure. */
#ifndef GVMM_EDID_H
#define GVMM_EDID_H

#include <stdint.h>

#define EDID_BLOCK_SIZE   128
/* A detailed timing holds 12-bit sizes: larger modes are scaled down,
 * keeping their aspect ratio, to fit. */
#define EDID_MAX_SIDE     4095

struct edid_timing {
	uint32_t pixel_clock_10khz;
	uint32_t refresh_hz;
	uint32_t h_active, h_blank, h_front, h_sync;
	uint32_t v_active, v_blank, v_front, v_sync;
};

/* The timing edid_build puts first for a width x height output (each
 * side at least 1). */
void edid_preferred_timing(uint32_t width, uint32_t height, struct edid_timing *t);

/* Fills out with the block for output number `serial`. */
void edid_build(uint8_t out[EDID_BLOCK_SIZE], uint32_t width, uint32_t height,
		uint32_t serial);

#endif
