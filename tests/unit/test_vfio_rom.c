/* The expansion ROM of a passed-through function against a fake ROM
 * region: which ROMs are offered (none, hidden, unreadable, odd or huge
 * sizes refused with one warning), the guest BAR's size, reads served
 * from the region, and writes dropped with one warning. */
#include "check.h"

#include <errno.h>

#include "../../devices/vfio/vfio_rom.h"
#include "../../vmm/log.h"

#define ROM_SIZE  0x8000u   /* bochs-display's vgabios rounds up to this */

struct fake_region {
	uint8_t bytes[ROM_SIZE];
	int reads;
	bool fail;
};

static int fake_read(void *ctx, uint64_t offset, void *buf, uint32_t len)
{
	struct fake_region *f = ctx;

	f->reads++;
	if (f->fail)
		return -EIO;
	if (offset > sizeof(f->bytes) || len > sizeof(f->bytes) - offset)
		return -EINVAL;
	memcpy(buf, f->bytes + offset, len);
	return 0;
}

/* What was logged, by level, and the last warning. */
struct log_capture {
	int warnings, others;
	char last[256];
};

static void capture(void *ctx, enum log_level level, const char *line)
{
	struct log_capture *c = ctx;

	if (level != LOG_WARN) {
		c->others++;
		return;
	}
	c->warnings++;
	snprintf(c->last, sizeof(c->last), "%s", line);
}

static struct fake_region region;
static struct log_capture logged;
static struct vfio_rom rom;

/* vfio_rom_init with the fake region, capturing what it logs. */
static bool init(uint64_t size, bool readable, bool hidden)
{
	const struct vfio_rom_io io = { fake_read, &region };
	bool offered;

	memset(&logged, 0, sizeof(logged));
	log_set_sink(capture, &logged);
	offered = vfio_rom_init(&rom, "0000:00:03.0", size, readable, hidden, &io);
	log_set_sink(NULL, NULL);
	return offered;
}

static uint32_t guest_read(uint64_t offset, uint32_t len)
{
	uint8_t data[4] = { 0 };
	uint32_t value = 0;

	vfio_rom_access(&rom, offset, data, len, false);
	for (uint32_t i = 0; i < len; i++)
		value |= (uint32_t)data[i] << (8 * i);
	return value;
}

static void test_which_roms_are_offered(void)
{
	/* No ROM: quietly nothing. */
	CHECK(!init(0, true, false));
	CHECK_EQ(rom.region_size, 0);
	CHECK_EQ(logged.warnings, 0);

	CHECK(init(ROM_SIZE, true, false));
	CHECK_EQ(rom.region_size, ROM_SIZE);
	CHECK_EQ(rom.bar_size, ROM_SIZE);
	CHECK_EQ(logged.warnings, 0);
	CHECK(init(VFIO_ROM_MAX_SIZE, true, false));
	CHECK_EQ(rom.bar_size, VFIO_ROM_MAX_SIZE);

	/* A ROM smaller than a page still takes a whole page of BAR. */
	CHECK(init(0x800, true, false));
	CHECK_EQ(rom.region_size, 0x800);
	CHECK_EQ(rom.bar_size, 0x1000);

	/* Hidden by the user: not offered, and no warning for it. */
	CHECK(!init(ROM_SIZE, true, true));
	CHECK_EQ(rom.region_size, 0);
	CHECK_EQ(logged.warnings, 0);
}

static void test_bad_roms_refused_in_one_line(void)
{
	CHECK(!init(0x6000, true, false));
	CHECK_EQ(rom.region_size, 0);
	CHECK_EQ(logged.warnings, 1);
	CHECK(strstr(logged.last, "0000:00:03.0") != NULL);
	CHECK(strstr(logged.last, "0x6000") != NULL);
	CHECK(strstr(logged.last, "not a power of two") != NULL);
	CHECK(strchr(logged.last, '\n') == NULL);

	CHECK(!init(2 * VFIO_ROM_MAX_SIZE, true, false));
	CHECK_EQ(logged.warnings, 1);
	CHECK(strstr(logged.last, "larger than 16 MiB") != NULL);
	CHECK(!init(1ull << 40, true, false));
	CHECK_EQ(logged.warnings, 1);

	CHECK(!init(ROM_SIZE, false, false));
	CHECK_EQ(logged.warnings, 1);
	CHECK(strstr(logged.last, "does not let it be read") != NULL);
}

/* The fake ROM's bytes: a signature, then a pattern. */
static uint8_t rom_byte(uint64_t offset)
{
	return offset == 0 ? 0x55 : offset == 1 ? 0xaa : (uint8_t)(offset * 7);
}

static uint32_t rom_value(uint64_t offset, uint32_t len)
{
	uint32_t value = 0;

	for (uint32_t i = 0; i < len; i++)
		value |= (uint32_t)rom_byte(offset + i) << (8 * i);
	return value;
}

static void test_reads_come_from_the_region(void)
{
	for (unsigned i = 0; i < ROM_SIZE; i++)
		region.bytes[i] = rom_byte(i);
	region.fail = false;
	CHECK(init(ROM_SIZE, true, false));
	CHECK_EQ(guest_read(0, 2), 0xaa55);
	CHECK_EQ(guest_read(0, 1), 0x55);
	CHECK_EQ(guest_read(0x1234, 4), rom_value(0x1234, 4));
	CHECK_EQ(guest_read(ROM_SIZE - 4, 4), rom_value(ROM_SIZE - 4, 4));

	/* Past the region (a small ROM in its page), or straddling its
	 * end: all ones, and the region is not asked. */
	CHECK(init(0x800, true, false));
	region.reads = 0;
	CHECK_EQ(guest_read(0x7fe, 2), rom_value(0x7fe, 2));
	CHECK_EQ(guest_read(0x800, 4), 0xffffffffu);
	CHECK_EQ(guest_read(0xffc, 4), 0xffffffffu);
	CHECK_EQ(guest_read(0x7fe, 4), 0xffffffffu);
	CHECK_EQ(region.reads, 1);

	/* A region that fails to read: all ones. */
	CHECK(init(ROM_SIZE, true, false));
	region.fail = true;
	CHECK_EQ(guest_read(0, 4), 0xffffffffu);
	region.fail = false;

	/* Not offered: nothing is read. */
	CHECK(!init(0x6000, true, false));
	region.reads = 0;
	CHECK_EQ(guest_read(0, 4), 0xffffffffu);
	CHECK_EQ(region.reads, 0);
}

static void test_writes_dropped_and_logged_once(void)
{
	uint8_t data[4] = { 1, 2, 3, 4 };

	memset(region.bytes, 0, sizeof(region.bytes));
	CHECK(init(ROM_SIZE, true, false));
	memset(&logged, 0, sizeof(logged));
	log_set_sink(capture, &logged);
	vfio_rom_access(&rom, 0x10, data, 4, true);
	vfio_rom_access(&rom, 0x20, data, 4, true);
	vfio_rom_access(&rom, ROM_SIZE * 2, data, 4, true);
	log_set_sink(NULL, NULL);
	CHECK_EQ(logged.warnings, 1);
	CHECK(strstr(logged.last, "read-only") != NULL);
	CHECK(strstr(logged.last, "+0x10") != NULL);
	for (unsigned i = 0; i < ROM_SIZE; i++)
		if (region.bytes[i]) {
			CHECK_EQ(region.bytes[i], 0);
			break;
		}
	/* The data of a write is left as the guest gave it. */
	CHECK_EQ(data[0], 1);
}

TEST_MAIN("vfio_rom",
	  TEST_CASE(test_which_roms_are_offered),
	  TEST_CASE(test_bad_roms_refused_in_one_line),
	  TEST_CASE(test_reads_come_from_the_region),
	  TEST_CASE(test_writes_dropped_and_logged_once))
