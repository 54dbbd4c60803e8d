#include "check.h"

#include "../../firmware/e820.h"
#include "../../firmware/guest_layout.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* Sorted, non-empty, non-overlapping: what every kernel assumes. */
static void check_well_formed(const struct e820_entry *map, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		CHECK(map[i].size != 0);
		CHECK(map[i].addr + map[i].size > map[i].addr);
		if (i)
			CHECK(map[i - 1].addr + map[i - 1].size <= map[i].addr);
	}
}

static uint64_t ram_bytes(const struct e820_entry *map, size_t n)
{
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++)
		if (map[i].type == E820_TYPE_RAM)
			total += map[i].size;
	return total;
}

static void check_entry(const struct e820_entry *e, uint64_t addr, uint64_t size,
			uint32_t type)
{
	CHECK_EQ(e->addr, addr);
	CHECK_EQ(e->size, size);
	CHECK_EQ(e->type, type);
}

static void test_512mib_layout(void)
{
	struct guest_memory mem;
	struct e820_entry map[E820_BUILD_MAX_ENTRIES];
	char err[256];
	size_t n;

	if (guest_memory_create(&mem, 512 * MiB, false, err, sizeof(err)) < 0)
		SKIP_TEST("cannot create guest memory");
	n = e820_build(&mem, map, E820_BUILD_MAX_ENTRIES);
	CHECK_EQ(n, 5);
	if (n == 5) {
		check_entry(&map[0], 0, GUEST_EBDA_START, E820_TYPE_RAM);
		check_entry(&map[1], GUEST_EBDA_START,
			    GUEST_LEGACY_HOLE_START - GUEST_EBDA_START, E820_TYPE_RESERVED);
		check_entry(&map[2], GUEST_ACPI_START,
			    GUEST_ACPI_END - GUEST_ACPI_START, E820_TYPE_RESERVED);
		check_entry(&map[3], GUEST_KERNEL_ADDR, 512 * MiB - GUEST_KERNEL_ADDR,
			    E820_TYPE_RAM);
		check_entry(&map[4], GUEST_ECAM_START, GUEST_ECAM_SIZE,
			    E820_TYPE_RESERVED);
	}
	check_well_formed(map, n);
	CHECK_EQ(ram_bytes(map, n), 512 * MiB - (GUEST_KERNEL_ADDR - GUEST_EBDA_START));
	guest_memory_destroy(&mem);
}

static void test_6gib_layout(void)
{
	struct guest_memory mem;
	struct e820_entry map[E820_BUILD_MAX_ENTRIES];
	char err[256];
	size_t n;

	if (guest_memory_create(&mem, 6 * GiB, false, err, sizeof(err)) < 0)
		SKIP_TEST("cannot create 6 GiB of sparse guest memory");
	n = e820_build(&mem, map, E820_BUILD_MAX_ENTRIES);
	CHECK_EQ(n, 6);
	check_well_formed(map, n);
	if (n == 6) {
		check_entry(&map[3], GUEST_KERNEL_ADDR,
			    GUEST_PCI_HOLE_START - GUEST_KERNEL_ADDR, E820_TYPE_RAM);
		check_entry(&map[4], GUEST_ECAM_START, GUEST_ECAM_SIZE,
			    E820_TYPE_RESERVED);
		check_entry(&map[5], GUEST_HIGH_RAM_START,
			    6 * GiB - GUEST_PCI_HOLE_START, E820_TYPE_RAM);
	}
	CHECK_EQ(ram_bytes(map, n), 6 * GiB - (GUEST_KERNEL_ADDR - GUEST_EBDA_START));
	/* Nothing claims to be RAM inside the PCI hole. */
	for (size_t i = 0; i < n; i++)
		if (map[i].type == E820_TYPE_RAM)
			CHECK(map[i].addr + map[i].size <= GUEST_PCI_HOLE_START ||
			      map[i].addr >= GUEST_HIGH_RAM_START);
	guest_memory_destroy(&mem);
}

static void test_tiny_ram(void)
{
	struct guest_memory mem;
	struct e820_entry map[E820_BUILD_MAX_ENTRIES];
	char err[256];
	size_t n;

	if (guest_memory_create(&mem, 512 * 1024, false, err, sizeof(err)) < 0)
		SKIP_TEST("cannot create guest memory");
	n = e820_build(&mem, map, E820_BUILD_MAX_ENTRIES);
	check_well_formed(map, n);
	CHECK_EQ(ram_bytes(map, n), 512 * 1024);
	for (size_t i = 0; i < n; i++)
		if (map[i].type == E820_TYPE_RAM)
			CHECK(map[i].addr + map[i].size <= 512 * 1024);
	guest_memory_destroy(&mem);
}

static void test_table_too_small(void)
{
	struct guest_memory mem;
	struct e820_entry map[E820_BUILD_MAX_ENTRIES];
	char err[256];

	if (guest_memory_create(&mem, 6 * GiB, false, err, sizeof(err)) < 0)
		SKIP_TEST("cannot create 6 GiB of sparse guest memory");
	CHECK_EQ(e820_build(&mem, map, 5), 0);
	CHECK_EQ(e820_build(&mem, map, 0), 0);
	CHECK_EQ(e820_build(&mem, map, 6), 6);
	guest_memory_destroy(&mem);
}

static void test_pvh_types(void)
{
	CHECK_EQ(e820_type_to_pvh(E820_TYPE_RAM), 1);
	CHECK_EQ(e820_type_to_pvh(E820_TYPE_RESERVED), 2);
	CHECK_EQ(e820_type_to_pvh(E820_TYPE_ACPI), 3);
	CHECK_EQ(e820_type_to_pvh(E820_TYPE_NVS), 4);
	CHECK_EQ(e820_type_to_pvh(E820_TYPE_UNUSABLE), 5);
	CHECK_EQ(e820_type_to_pvh(0), 2);
	CHECK_EQ(e820_type_to_pvh(0xffffffff), 2);
}

TEST_MAIN("e820",
	TEST_CASE(test_512mib_layout),
	TEST_CASE(test_6gib_layout),
	TEST_CASE(test_tiny_ram),
	TEST_CASE(test_table_too_small),
	TEST_CASE(test_pvh_types),
)
