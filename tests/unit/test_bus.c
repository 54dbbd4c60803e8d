#include "check.h"
#include "../../vmm/bus.h"

#include <errno.h>

struct recorder {
	int calls;
	uint64_t last_offset;
	bool last_write;
	uint32_t last_len;
};

static void record_access(void *opaque, uint64_t offset, uint8_t *data,
			  uint32_t len, bool is_write)
{
	struct recorder *r = opaque;

	r->calls++;
	r->last_offset = offset;
	r->last_write = is_write;
	r->last_len = len;
	if (!is_write)
		memset(data, 0x5a, len);
}

static void dispatch_finds_the_right_range(void)
{
	struct bus bus;
	struct recorder a = { 0 }, b = { 0 }, c = { 0 };
	uint8_t data[4];

	bus_init(&bus, "test");
	/* Registered out of order, on purpose. */
	CHECK_EQ(bus_register(&bus, 0x3f8, 8, "b", record_access, &b), 0);
	CHECK_EQ(bus_register(&bus, 0x60, 1, "a", record_access, &a), 0);
	CHECK_EQ(bus_register(&bus, 0xcf8, 8, "c", record_access, &c), 0);

	CHECK(bus_dispatch(&bus, 0x3fd, data, 1, false));
	CHECK_EQ(b.calls, 1);
	CHECK_EQ(b.last_offset, 5);
	CHECK_EQ(data[0], 0x5a);
	CHECK(bus_dispatch(&bus, 0x60, data, 1, true));
	CHECK_EQ(a.calls, 1);
	CHECK(a.last_write);
	CHECK(bus_dispatch(&bus, 0xcff, data, 1, false));
	CHECK_EQ(c.calls, 1);
	CHECK_EQ(c.last_offset, 7);
	bus_destroy(&bus);
}

static void unclaimed_reads_all_ones(void)
{
	struct bus bus;
	struct recorder a = { 0 };
	uint8_t data[4] = { 0 };

	bus_init(&bus, "test");
	CHECK_EQ(bus_register(&bus, 0x100, 0x10, "a", record_access, &a), 0);
	CHECK(!bus_dispatch(&bus, 0xff, data, 4, false));
	CHECK_EQ(data[0], 0xff);
	CHECK_EQ(data[3], 0xff);
	CHECK(!bus_dispatch(&bus, 0x110, data, 1, false));
	CHECK(!bus_dispatch(&bus, 0x110, data, 1, true));  /* logged once, no crash */
	CHECK_EQ(a.calls, 0);
	bus_destroy(&bus);
}

static void overlaps_and_bad_ranges_are_refused(void)
{
	struct bus bus;
	struct recorder a = { 0 };

	bus_init(&bus, "test");
	CHECK_EQ(bus_register(&bus, 0x100, 0x10, "a", record_access, &a), 0);
	CHECK_EQ(bus_register(&bus, 0x10f, 1, "tail", record_access, &a), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0xf0, 0x11, "head", record_access, &a), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0x0, 0x1000, "cover", record_access, &a), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0x110, 1, "next", record_access, &a), 0);
	CHECK_EQ(bus_register(&bus, 0xff, 1, "prev", record_access, &a), 0);
	CHECK_EQ(bus_register(&bus, 0x200, 0, "empty", record_access, &a), -EINVAL);
	CHECK_EQ(bus_register(&bus, UINT64_MAX - 1, 4, "wraps", record_access, &a), -EINVAL);
	CHECK_EQ(bus_register(&bus, UINT64_MAX, 1, "last", record_access, &a), 0);
	CHECK_EQ(bus.nr_ranges, 4);
	bus_destroy(&bus);
}

static void unregister_frees_the_range(void)
{
	struct bus bus;
	struct recorder a = { 0 };
	uint8_t data[1];

	bus_init(&bus, "test");
	CHECK_EQ(bus_register(&bus, 0x1000, 0x100, "bar", record_access, &a), 0);
	CHECK_EQ(bus_unregister(&bus, 0x1000), 0);
	CHECK_EQ(bus_unregister(&bus, 0x1000), -ENOENT);
	CHECK(!bus_dispatch(&bus, 0x1000, data, 1, false));
	/* A moved BAR lands at its new place. */
	CHECK_EQ(bus_register(&bus, 0x2000, 0x100, "bar", record_access, &a), 0);
	CHECK(bus_dispatch(&bus, 0x20ff, data, 1, false));
	CHECK_EQ(a.last_offset, 0xff);
	bus_destroy(&bus);
}

static void many_ranges_stay_sorted(void)
{
	struct bus bus;
	struct recorder r[64] = { 0 };
	uint8_t data[1];

	bus_init(&bus, "test");
	for (unsigned i = 0; i < 64; i++) {
		unsigned slot = (i * 37) % 64;  /* a permutation of 0..63 */

		CHECK_EQ(bus_register(&bus, slot * 0x10, 0x8, "r", record_access, &r[slot]), 0);
	}
	for (unsigned i = 1; i < bus.nr_ranges; i++)
		CHECK(bus.ranges[i - 1].base < bus.ranges[i].base);
	for (unsigned slot = 0; slot < 64; slot++) {
		CHECK(bus_dispatch(&bus, slot * 0x10 + 7, data, 1, false));
		CHECK(!bus_dispatch(&bus, slot * 0x10 + 8, data, 1, false));
		CHECK_EQ(r[slot].calls, 1);
	}
	bus_destroy(&bus);
}

TEST_MAIN("bus",
	TEST_CASE(dispatch_finds_the_right_range),
	TEST_CASE(unclaimed_reads_all_ones),
	TEST_CASE(overlaps_and_bad_ranges_are_refused),
	TEST_CASE(unregister_frees_the_range),
	TEST_CASE(many_ranges_stay_sorted))
