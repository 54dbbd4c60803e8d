/* The EDID block: its fixed fields, its checksum, and a preferred timing
 * that decodes back to the output's size, checked against the CVT
 * reduced-blanking modes VESA publishes. */
#include "check.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "../../firmware/edid.h"

#define DTD 54

struct decoded {
	uint32_t clock_10khz;
	uint32_t h_active, h_blank, v_active, v_blank;
	uint32_t h_front, h_sync, v_front, v_sync;
	uint32_t w_mm, h_mm;
};

/* Decoded from the bit layout of an 18-byte detailed timing, independent
 * of how edid.c writes it. */
static struct decoded decode_dtd(const uint8_t *d)
{
	return (struct decoded){
		.clock_10khz = d[0] | (uint32_t)d[1] << 8,
		.h_active = d[2] | (uint32_t)(d[4] >> 4) << 8,
		.h_blank = d[3] | (uint32_t)(d[4] & 0xf) << 8,
		.v_active = d[5] | (uint32_t)(d[7] >> 4) << 8,
		.v_blank = d[6] | (uint32_t)(d[7] & 0xf) << 8,
		.h_front = d[8] | (uint32_t)(d[11] >> 6) << 8,
		.h_sync = d[9] | (uint32_t)(d[11] >> 4 & 3) << 8,
		.v_front = (uint32_t)(d[10] >> 4) | (uint32_t)(d[11] >> 2 & 3) << 4,
		.v_sync = (uint32_t)(d[10] & 0xf) | (uint32_t)(d[11] & 3) << 4,
		.w_mm = d[12] | (uint32_t)(d[14] >> 4) << 8,
		.h_mm = d[13] | (uint32_t)(d[14] & 0xf) << 8,
	};
}

static uint8_t sum_of(const uint8_t *b)
{
	uint8_t sum = 0;

	for (unsigned i = 0; i < EDID_BLOCK_SIZE; i++)
		sum = (uint8_t)(sum + b[i]);
	return sum;
}

/* Refresh rate in mHz from a decoded timing. */
static uint64_t refresh_mhz(const struct decoded *t)
{
	uint64_t total = (uint64_t)(t->h_active + t->h_blank) * (t->v_active + t->v_blank);

	return (uint64_t)t->clock_10khz * 10000 * 1000 / total;
}

/* Finds the display descriptor with tag, or NULL. */
static const uint8_t *descriptor(const uint8_t *b, uint8_t tag)
{
	for (unsigned i = 0; i < 4; i++) {
		const uint8_t *d = b + DTD + 18 * i;

		if (!d[0] && !d[1] && !d[2] && d[3] == tag)
			return d;
	}
	return NULL;
}

static void fixed_fields(void)
{
	static const uint8_t header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
	uint8_t b[EDID_BLOCK_SIZE];
	const uint8_t *name;

	edid_build(b, 1280, 800, 3);
	CHECK(!memcmp(b, header, 8));
	CHECK_EQ(sum_of(b), 0);
	/* "GVM": 5-bit letters, big-endian. */
	CHECK_EQ((b[8] >> 2) & 0x1f, 'G' - '@');
	CHECK_EQ(((b[8] & 3) << 3) | b[9] >> 5, 'V' - '@');
	CHECK_EQ(b[9] & 0x1f, 'M' - '@');
	CHECK_EQ(b[12] | b[13] << 8 | b[14] << 16 | (uint32_t)b[15] << 24, 3);
	CHECK_EQ(b[18], 1);
	CHECK_EQ(b[19], 4);
	CHECK(b[20] & 0x80);            /* digital */
	CHECK_EQ(b[126], 0);            /* no extensions */
	/* The first descriptor is a timing (non-zero clock). */
	CHECK(b[DTD] | b[DTD + 1]);
	name = descriptor(b, 0xfc);
	CHECK(name != NULL);
	if (name)
		CHECK(!memcmp(name + 5, "gvmm\n", 5));
	CHECK(descriptor(b, 0xfd) != NULL);
	/* Another output, another serial, same validity. */
	edid_build(b, 1280, 800, 15);
	CHECK_EQ(b[12], 15);
	CHECK_EQ(sum_of(b), 0);
}

struct published {
	uint32_t w, h;
	uint32_t clock_10khz, v_blank;   /* 0: not published, not checked */
};

static void preferred_mode_decodes_back(void)
{
	/* CVT 1.2 reduced-blanking figures from VESA's tables. */
	static const struct published modes[] = {
		{ 1280, 800, 7100, 23 },
		{ 1920, 1080, 13850, 31 },
		{ 3840, 2160, 53325, 62 },
		{ 640, 480, 0, 0 },
		{ 1024, 768, 0, 0 },
		{ 2560, 1600, 26850, 46 },
		{ 64, 64, 0, 0 },
		{ 4095, 4095, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		const struct published *m = &modes[i];
		uint8_t b[EDID_BLOCK_SIZE];
		struct decoded t;
		const uint8_t *range;
		uint64_t mhz;

		edid_build(b, m->w, m->h, 0);
		CHECK_EQ(sum_of(b), 0);
		t = decode_dtd(b + DTD);
		CHECK_EQ(t.h_active, m->w);
		CHECK_EQ(t.v_active, m->h);
		CHECK_EQ(t.h_blank, 160);
		CHECK(t.h_front + t.h_sync < t.h_blank);
		CHECK(t.v_front + t.v_sync < t.v_blank);
		if (m->clock_10khz) {
			CHECK_EQ(t.clock_10khz, m->clock_10khz);
			CHECK_EQ(t.v_blank, m->v_blank);
		}
		mhz = refresh_mhz(&t);
		if (m->w >= 640 && m->w <= 3840)
			CHECK(mhz > 59000 && mhz <= 60000);
		else if (m->w < 640)    /* the 0.25 MHz grid is coarse here */
			CHECK(mhz > 45000 && mhz <= 60000);
		else
			CHECK(mhz > 1000 && mhz <= 60000);   /* lowered to fit the clock */
		/* About 96 DPI. */
		CHECK(t.w_mm >= m->w / 4 && t.w_mm <= m->w / 3);
		/* The range limits admit it. */
		range = descriptor(b, 0xfd);
		CHECK(range != NULL);
		if (range) {
			uint32_t h_khz = t.clock_10khz * 10 / (t.h_active + t.h_blank);

			CHECK(range[5] <= mhz / 1000 && mhz / 1000 <= range[6]);
			CHECK(range[7] <= h_khz && h_khz <= range[8]);
			CHECK((uint32_t)range[9] * 1000 >= t.clock_10khz);
		}
	}
}

static void large_modes_are_clamped(void)
{
	uint8_t b[EDID_BLOCK_SIZE];
	struct decoded t;

	/* The 16-bit clock cannot say 4096x4096 at 60 Hz: the rate drops. */
	edid_build(b, 4000, 4000, 0);
	t = decode_dtd(b + DTD);
	CHECK_EQ(t.h_active, 4000);
	CHECK_EQ(t.v_active, 4000);
	CHECK(t.clock_10khz <= 0xffff && t.clock_10khz > 60000);
	CHECK(refresh_mhz(&t) < 60000);
	CHECK_EQ(sum_of(b), 0);
	/* Beyond 12 bits: scaled down, aspect kept. */
	edid_build(b, 8192, 4608, 0);
	t = decode_dtd(b + DTD);
	CHECK_EQ(t.h_active, 4095);
	CHECK_EQ(t.v_active, 2303);
	CHECK(t.clock_10khz <= 0xffff);
	CHECK_EQ(sum_of(b), 0);
	edid_build(b, 8192, 8192, 0);
	t = decode_dtd(b + DTD);
	CHECK_EQ(t.h_active, 4095);
	CHECK_EQ(t.v_active, 4095);
	/* Degenerate sizes still give a valid block. */
	edid_build(b, 0, 0, 0);
	t = decode_dtd(b + DTD);
	CHECK_EQ(t.h_active, 1);
	CHECK_EQ(sum_of(b), 0);
}

/* When edid-decode is installed, it gets the last word on conformance;
 * it is not a dependency. */
static void edid_decode_agrees(void)
{
	char path[] = "/tmp/gvmm-edid-XXXXXX", cmd[128];
	uint8_t b[EDID_BLOCK_SIZE];
	int fd, status;

	if (system("command -v edid-decode >/dev/null 2>&1") != 0)
		SKIP_TEST("edid-decode is not installed");
	edid_build(b, 1920, 1080, 0);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(write(fd, b, sizeof(b)), sizeof(b));
	close(fd);
	snprintf(cmd, sizeof(cmd), "edid-decode --check %s >/dev/null 2>&1", path);
	status = system(cmd);
	unlink(path);
	CHECK_EQ(status, 0);
}

TEST_MAIN("edid",
	  TEST_CASE(fixed_fields),
	  TEST_CASE(preferred_mode_decodes_back),
	  TEST_CASE(large_modes_are_clamped),
	  TEST_CASE(edid_decode_agrees))
