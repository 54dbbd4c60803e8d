#include "check.h"
#include "../../firmware/guest_layout.h"
#include "../../vmm/guest_memory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void small_ram_is_one_low_region(void)
{
	struct guest_memory mem;
	char err[128];

	CHECK_EQ(guest_memory_create(&mem, 256 << 20, GUEST_RAM_ANONYMOUS, err, sizeof(err)), 0);
	CHECK_EQ(mem.nr_regions, 1);
	CHECK_EQ(mem.regions[0].gpa, 0);
	CHECK_EQ(mem.regions[0].size, 256 << 20);
	CHECK_EQ(guest_memory_low_end(&mem), 256 << 20);
	CHECK_EQ(mem.memfd, -1);
	guest_memory_destroy(&mem);
}

static void big_ram_skips_the_pci_hole(void)
{
	struct guest_memory mem;
	char err[128];
	uint8_t *low_last, *high_first;

	/* MAP_NORESERVE: untouched pages cost nothing, so 5 GiB is fine here. */
	CHECK_EQ(guest_memory_create(&mem, 5ull << 30, GUEST_RAM_ANONYMOUS, err, sizeof(err)), 0);
	CHECK_EQ(mem.nr_regions, 2);
	CHECK_EQ(mem.regions[0].size, GUEST_PCI_HOLE_START);
	CHECK_EQ(mem.regions[1].gpa, GUEST_HIGH_RAM_START);
	CHECK_EQ(mem.regions[1].size, (5ull << 30) - GUEST_PCI_HOLE_START);
	CHECK_EQ(mem.regions[1].file_offset, GUEST_PCI_HOLE_START);
	CHECK(guest_memory_ptr(&mem, GUEST_PCI_HOLE_START, 1) == NULL);
	CHECK(guest_memory_ptr(&mem, GUEST_LAPIC_ADDR, 4) == NULL);
	low_last = guest_memory_ptr(&mem, GUEST_PCI_HOLE_START - 1, 1);
	high_first = guest_memory_ptr(&mem, GUEST_HIGH_RAM_START, 1);
	CHECK(low_last != NULL && high_first == low_last + 1);  /* one memfd, contiguous */
	/* A range may not straddle the hole even though host memory is contiguous. */
	CHECK(guest_memory_ptr(&mem, GUEST_PCI_HOLE_START - 1, 2) == NULL);
	guest_memory_destroy(&mem);
}

static void hostile_ranges_are_refused(void)
{
	struct guest_memory mem;
	char err[128];
	uint8_t byte = 0;

	CHECK_EQ(guest_memory_create(&mem, 16 << 20, GUEST_RAM_ANONYMOUS, err, sizeof(err)), 0);
	CHECK(guest_memory_ptr(&mem, 0, 16 << 20) != NULL);
	CHECK(guest_memory_ptr(&mem, 0, (16 << 20) + 1) == NULL);
	CHECK(guest_memory_ptr(&mem, (16 << 20) - 1, 1) != NULL);
	CHECK(guest_memory_ptr(&mem, (16 << 20) - 1, 2) == NULL);
	CHECK(guest_memory_ptr(&mem, 16 << 20, 0) == NULL);
	CHECK(guest_memory_ptr(&mem, UINT64_MAX, 1) == NULL);
	CHECK(guest_memory_ptr(&mem, 8, UINT64_MAX) == NULL);
	CHECK(guest_memory_ptr(&mem, UINT64_MAX - 3, 8) == NULL);
	CHECK_EQ(guest_memory_write(&mem, (16 << 20) - 1, "ab", 2), -EFAULT);
	CHECK_EQ(guest_memory_write(&mem, 0x1000, "a", 1), 0);
	CHECK_EQ(guest_memory_read(&mem, 0x1000, &byte, 1), 0);
	CHECK_EQ(byte, 'a');
	CHECK_EQ(guest_memory_read(&mem, 16 << 20, &byte, 1), -EFAULT);
	guest_memory_destroy(&mem);
}

/* Anonymous RAM starts on a 2 MiB boundary (KVM maps a huge page into the
 * guest only where host and guest addresses agree in their low 21 bits)
 * and, where the kernel gives transparent huge pages on advice, gets them. */
static void anonymous_ram_is_aligned_for_huge_pages(void)
{
	struct guest_memory mem;
	char err[128], line[256], mode[128] = "";
	unsigned long huge_kb = 0;
	bool in_ram = false;
	FILE *f;

	CHECK_EQ(guest_memory_create(&mem, 8 << 20, GUEST_RAM_ANONYMOUS, err, sizeof(err)), 0);
	CHECK_EQ((uintptr_t)mem.host_base % (2 << 20), 0);
	memset(mem.host_base, 1, 8 << 20);
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (!fgets(mode, sizeof(mode), f))
			mode[0] = '\0';
		fclose(f);
	}
	if (!strstr(mode, "[always]") && !strstr(mode, "[madvise]")) {
		guest_memory_destroy(&mem);
		SKIP_TEST("transparent huge pages are off on this host");
	}
	f = fopen("/proc/self/smaps", "r");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in_ram = start == (uintptr_t)mem.host_base;
		else if (in_ram && sscanf(line, "AnonHugePages: %lu kB", &huge_kb) == 1)
			break;
	}
	if (f)
		fclose(f);
	/* The kernel may be short of free 2 MiB blocks; one is enough to show
	 * the advice took. */
	CHECK(huge_kb >= 2048);
	guest_memory_destroy(&mem);
}

static void shared_ram_is_a_memfd(void)
{
	struct guest_memory mem;
	char err[128];

	CHECK_EQ(guest_memory_create(&mem, 4 << 20, GUEST_RAM_MEMFD, err, sizeof(err)), 0);
	CHECK(mem.memfd >= 0);
	CHECK_EQ(mem.backing, GUEST_RAM_MEMFD);
	CHECK_EQ(guest_memory_write(&mem, 4096, "x", 1), 0);
	guest_memory_destroy(&mem);
	CHECK_EQ(mem.memfd, -1);
}

static void hugepages(void)
{
	struct guest_memory mem;
	char err[256];
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	long free_pages = 0;

	CHECK(guest_memory_create(&mem, (2 << 20) + 4096, GUEST_RAM_HUGETLB, err, sizeof(err)) < 0);
	CHECK(strstr(err, "2 MiB") != NULL);
	if (f) {
		if (fscanf(f, "%ld", &free_pages) != 1)
			free_pages = 0;
		fclose(f);
	}
	if (free_pages < 8)
		SKIP_TEST("fewer than 8 free 2 MiB hugepages (see /proc/sys/vm/nr_hugepages)");
	CHECK_EQ(guest_memory_create(&mem, 16 << 20, GUEST_RAM_HUGETLB, err, sizeof(err)), 0);
	CHECK_EQ(mem.backing, GUEST_RAM_HUGETLB);
	CHECK(mem.memfd >= 0);
	guest_memory_destroy(&mem);
}

TEST_MAIN("guest_memory",
	TEST_CASE(small_ram_is_one_low_region),
	TEST_CASE(big_ram_skips_the_pci_hole),
	TEST_CASE(hostile_ranges_are_refused),
	TEST_CASE(anonymous_ram_is_aligned_for_huge_pages),
	TEST_CASE(shared_ram_is_a_memfd),
	TEST_CASE(hugepages))
