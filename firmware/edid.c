#include "edid.h"

#include <string.h>

/* CVT 1.2 reduced blanking (v1): fixed horizontal blanking, at least
 * 460 us of vertical blanking, a 0.25 MHz clock grid. */
#define CVT_RB_H_BLANK        160
#define CVT_RB_H_SYNC         32
#define CVT_RB_H_FRONT        48
#define CVT_RB_V_FRONT        3
#define CVT_RB_MIN_V_BACK     6
#define CVT_RB_MIN_VBLANK_NS  460000ull
#define CVT_CLOCK_STEP_10KHZ  25

#define PREFERRED_REFRESH_HZ  60
#define MAX_PIXEL_CLOCK_10KHZ 0xffff   /* the detailed timing's 16-bit field */
#define ASSUMED_DPI           96       /* for the physical size a guest may show */

/* "GVM", three 5-bit letters, 'A' = 1. */
#define MANUFACTURER_ID  (('G' - '@') << 10 | ('V' - '@') << 5 | ('M' - '@'))
#define PRODUCT_CODE     0x0001
#define MODEL_YEAR       2024
#define MONITOR_NAME     "gvmm"

/* Byte offsets in the base block. */
enum {
	EDID_HEADER = 0, EDID_VENDOR = 8, EDID_PRODUCT = 10, EDID_SERIAL = 12,
	EDID_WEEK = 16, EDID_YEAR = 17, EDID_VERSION = 18, EDID_REVISION = 19,
	EDID_INPUT = 20, EDID_WIDTH_CM = 21, EDID_HEIGHT_CM = 22, EDID_GAMMA = 23,
	EDID_FEATURES = 24, EDID_CHROMA = 25, EDID_ESTABLISHED = 35,
	EDID_STANDARD = 38, EDID_DESCRIPTORS = 54, EDID_EXTENSIONS = 126,
	EDID_CHECKSUM = 127,
};
#define DESCRIPTOR_SIZE 18

/* Digital input, 8 bits per colour, interface not named. */
#define INPUT_DIGITAL_8BPC        0xa0
/* sRGB is the default colour space; the preferred timing is the native
 * mode (always set in 1.4). */
#define FEATURE_SRGB              0x04
#define FEATURE_PREFERRED_NATIVE  0x02
/* Gamma 2.2, stored as 100 * gamma - 100. */
#define GAMMA_2_2                 120
/* Digital separate sync; CVT-RB sync polarities: horizontal +, vertical -. */
#define DTD_FLAGS_CVT_RB          0x1a

/* Display descriptor tags. */
#define TAG_RANGE_LIMITS  0xfd
#define TAG_MONITOR_NAME  0xfc
#define TAG_DUMMY         0x10
#define RANGE_LIMITS_ONLY 0x01   /* no GTF or CVT formula offered */

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

static void put_le16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* CVT's vertical sync width says the aspect ratio. */
static uint32_t cvt_v_sync(uint32_t w, uint32_t h)
{
	uint64_t w64 = w, h64 = h;

	if (w64 * 3 == h64 * 4)
		return 4;
	if (w64 * 9 == h64 * 16)
		return 5;
	if (w64 * 10 == h64 * 16)
		return 6;
	if (w64 * 4 == h64 * 5 || w64 * 9 == h64 * 15)
		return 7;
	return 10;
}

static void cvt_rb(uint32_t w, uint32_t h, uint32_t refresh, struct edid_timing *t)
{
	uint64_t frame_ns_times_refresh = 1000000000ull;
	uint64_t lines, h_total, v_total, clock;
	uint32_t v_sync = cvt_v_sync(w, h);
	uint32_t min_blank = CVT_RB_V_FRONT + v_sync + CVT_RB_MIN_V_BACK;

	/* Lines in the minimum blanking time, at the line period the active
	 * lines leave: 460 us / ((1 s / refresh - 460 us) / h), plus one. */
	lines = CVT_RB_MIN_VBLANK_NS * h * refresh /
		(frame_ns_times_refresh - CVT_RB_MIN_VBLANK_NS * refresh) + 1;
	t->v_active = h;
	t->v_blank = (uint32_t)(lines > min_blank ? lines : min_blank);
	t->v_front = CVT_RB_V_FRONT;
	t->v_sync = v_sync;
	t->h_active = w;
	t->h_blank = CVT_RB_H_BLANK;
	t->h_front = CVT_RB_H_FRONT;
	t->h_sync = CVT_RB_H_SYNC;
	h_total = (uint64_t)w + CVT_RB_H_BLANK;
	v_total = (uint64_t)h + t->v_blank;
	clock = refresh * h_total * v_total / 10000;
	clock -= clock % CVT_CLOCK_STEP_10KHZ;
	if (clock < CVT_CLOCK_STEP_10KHZ)
		clock = CVT_CLOCK_STEP_10KHZ;
	t->pixel_clock_10khz = clock > UINT32_MAX ? UINT32_MAX : (uint32_t)clock;
	t->refresh_hz = refresh;
}

void edid_preferred_timing(uint32_t width, uint32_t height, struct edid_timing *t)
{
	uint32_t w = max_u32(width, 1), h = max_u32(height, 1);
	uint32_t longest = max_u32(w, h);

	if (longest > EDID_MAX_SIDE) {
		w = max_u32((uint32_t)((uint64_t)w * EDID_MAX_SIDE / longest), 1);
		h = max_u32((uint32_t)((uint64_t)h * EDID_MAX_SIDE / longest), 1);
	}
	/* Big modes do not fit the clock field at 60 Hz: the highest
	 * refresh rate that fits. */
	for (uint32_t refresh = PREFERRED_REFRESH_HZ; ; refresh--) {
		cvt_rb(w, h, refresh, t);
		if (t->pixel_clock_10khz <= MAX_PIXEL_CLOCK_10KHZ || refresh == 1)
			break;
	}
}

static uint32_t side_mm(uint32_t pixels)
{
	return (uint32_t)((uint64_t)pixels * 254 / (ASSUMED_DPI * 10));
}

static void put_detailed_timing(uint8_t *d, const struct edid_timing *t)
{
	uint32_t w_mm = side_mm(t->h_active), h_mm = side_mm(t->v_active);

	put_le16(&d[0], min_u32(t->pixel_clock_10khz, MAX_PIXEL_CLOCK_10KHZ));
	d[2] = (uint8_t)t->h_active;
	d[3] = (uint8_t)t->h_blank;
	d[4] = (uint8_t)((t->h_active >> 8 & 0xf) << 4 | (t->h_blank >> 8 & 0xf));
	d[5] = (uint8_t)t->v_active;
	d[6] = (uint8_t)t->v_blank;
	d[7] = (uint8_t)((t->v_active >> 8 & 0xf) << 4 | (t->v_blank >> 8 & 0xf));
	d[8] = (uint8_t)t->h_front;
	d[9] = (uint8_t)t->h_sync;
	d[10] = (uint8_t)((t->v_front & 0xf) << 4 | (t->v_sync & 0xf));
	d[11] = (uint8_t)((t->h_front >> 8 & 3) << 6 | (t->h_sync >> 8 & 3) << 4 |
			  (t->v_front >> 4 & 3) << 2 | (t->v_sync >> 4 & 3));
	d[12] = (uint8_t)w_mm;
	d[13] = (uint8_t)h_mm;
	d[14] = (uint8_t)((w_mm >> 8 & 0xf) << 4 | (h_mm >> 8 & 0xf));
	d[15] = d[16] = 0;    /* no border */
	d[17] = DTD_FLAGS_CVT_RB;
}

/* A display descriptor: three zero bytes, the tag, a zero byte, 13 bytes
 * of data. */
static uint8_t *start_descriptor(uint8_t *d, uint8_t tag)
{
	memset(d, 0, DESCRIPTOR_SIZE);
	d[3] = tag;
	return d + 5;
}

/* Limits that admit the preferred timing with room around it. */
static void put_range_limits(uint8_t *d, const struct edid_timing *t)
{
	uint8_t *data = start_descriptor(d, TAG_RANGE_LIMITS);
	uint64_t h_total = (uint64_t)t->h_active + t->h_blank;
	uint64_t v_total = (uint64_t)t->v_active + t->v_blank;
	uint32_t h_khz = (uint32_t)((uint64_t)t->pixel_clock_10khz * 10 / h_total);
	/* The rate the rounded clock really gives, a little below refresh_hz. */
	uint32_t v_hz = (uint32_t)((uint64_t)t->pixel_clock_10khz * 10000 / (h_total * v_total));

	data[0] = (uint8_t)max_u32(min_u32(v_hz, 50), 1);                 /* min vertical Hz */
	data[1] = (uint8_t)min_u32(max_u32(v_hz + 1, 75), 255);           /* max vertical Hz */
	data[2] = (uint8_t)max_u32(min_u32(h_khz, 30), 1);                /* min horizontal kHz */
	data[3] = (uint8_t)min_u32(max_u32(h_khz + 1, 160), 255);          /* max horizontal kHz */
	data[4] = (uint8_t)min_u32((t->pixel_clock_10khz + 999) / 1000, 255); /* 10 MHz units */
	data[5] = RANGE_LIMITS_ONLY;
	data[6] = 0x0a;       /* the rest is padding: a newline, then spaces */
	memset(&data[7], ' ', 6);
}

static void put_text(uint8_t *d, uint8_t tag, const char *text)
{
	uint8_t *data = start_descriptor(d, tag);
	size_t len = strlen(text);

	/* 13 characters; a shorter text ends in a newline, then spaces. */
	memset(data, ' ', 13);
	memcpy(data, text, len < 13 ? len : 13);
	if (len < 13)
		data[len] = 0x0a;
}

/* sRGB primaries and D65 white as CIE xy, in 1/1024 units. */
static void put_chromaticity(uint8_t *c)
{
	static const uint16_t xy[8] = {
		655, 338,   /* red   0.640, 0.330 */
		307, 614,   /* green 0.300, 0.600 */
		154, 61,    /* blue  0.150, 0.060 */
		320, 337,   /* white 0.3127, 0.3290 */
	};

	/* Two bytes of the two low bits of each value, then the high eight. */
	c[0] = (uint8_t)((xy[0] & 3) << 6 | (xy[1] & 3) << 4 | (xy[2] & 3) << 2 | (xy[3] & 3));
	c[1] = (uint8_t)((xy[4] & 3) << 6 | (xy[5] & 3) << 4 | (xy[6] & 3) << 2 | (xy[7] & 3));
	for (unsigned i = 0; i < 8; i++)
		c[2 + i] = (uint8_t)(xy[i] >> 2);
}

void edid_build(uint8_t out[EDID_BLOCK_SIZE], uint32_t width, uint32_t height,
		uint32_t serial)
{
	static const uint8_t header[8] = { 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00 };
	struct edid_timing t;
	uint8_t sum = 0;

	edid_preferred_timing(width, height, &t);
	memset(out, 0, EDID_BLOCK_SIZE);
	memcpy(&out[EDID_HEADER], header, sizeof(header));
	/* The vendor id is big-endian; product and serial little-endian. */
	out[EDID_VENDOR] = (uint8_t)(MANUFACTURER_ID >> 8);
	out[EDID_VENDOR + 1] = (uint8_t)MANUFACTURER_ID;
	put_le16(&out[EDID_PRODUCT], PRODUCT_CODE);
	put_le16(&out[EDID_SERIAL], serial);
	put_le16(&out[EDID_SERIAL + 2], serial >> 16);
	out[EDID_WEEK] = 0;   /* week unknown */
	out[EDID_YEAR] = MODEL_YEAR - 1990;
	out[EDID_VERSION] = 1;
	out[EDID_REVISION] = 4;
	out[EDID_INPUT] = INPUT_DIGITAL_8BPC;
	out[EDID_WIDTH_CM] = (uint8_t)max_u32(side_mm(t.h_active) / 10, 1);
	out[EDID_HEIGHT_CM] = (uint8_t)max_u32(side_mm(t.v_active) / 10, 1);
	out[EDID_GAMMA] = GAMMA_2_2;
	out[EDID_FEATURES] = FEATURE_SRGB | FEATURE_PREFERRED_NATIVE;
	put_chromaticity(&out[EDID_CHROMA]);
	/* No established timings (bytes 35-37 stay 0); the eight standard
	 * timing slots are unused (0x01 0x01). */
	memset(&out[EDID_STANDARD], 0x01, 16);
	put_detailed_timing(&out[EDID_DESCRIPTORS], &t);
	put_range_limits(&out[EDID_DESCRIPTORS + DESCRIPTOR_SIZE], &t);
	put_text(&out[EDID_DESCRIPTORS + 2 * DESCRIPTOR_SIZE], TAG_MONITOR_NAME, MONITOR_NAME);
	start_descriptor(&out[EDID_DESCRIPTORS + 3 * DESCRIPTOR_SIZE], TAG_DUMMY);
	out[EDID_EXTENSIONS] = 0;
	for (unsigned i = 0; i < EDID_CHECKSUM; i++)
		sum = (uint8_t)(sum + out[i]);
	out[EDID_CHECKSUM] = (uint8_t)(0x100 - sum);
}
