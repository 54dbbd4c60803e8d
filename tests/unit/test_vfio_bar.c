/* BAR layout of passed-through devices: the guest's size and type, the
 * pieces mapped into the guest around the MSI-X table and PBA, and where
 * the PCI bus places large 64-bit BARs. */
#include "check.h"

#include "../../devices/vfio/vfio_bar.h"

#define PAGE       4096ull
#define MEM64_BAR  0x0000000cu   /* 64-bit, prefetchable */
#define MEM32_BAR  0x00000000u
#define IO_BAR     0x00000001u

static struct vfio_bar_layout bar;
static char err[256];

static int layout(uint32_t reg, uint64_t size, const struct vfio_range *areas, unsigned nr_areas,
		  const struct vfio_range *traps, unsigned nr_traps)
{
	err[0] = '\0';
	return vfio_bar_layout(&bar, reg, size, areas, nr_areas, traps, nr_traps, PAGE,
			       err, sizeof(err));
}

static bool piece(unsigned i, uint64_t offset, uint64_t size)
{
	if (i >= bar.nr_pieces || bar.pieces[i].offset != offset || bar.pieces[i].size != size) {
		fprintf(stderr, "  piece %u: wanted 0x%llx+0x%llx\n", i, (unsigned long long)offset,
			(unsigned long long)size);
		return false;
	}
	return true;
}

static void test_kinds_and_sizes(void)
{
	const struct vfio_range all = { 0, 1ull << 20 };

	CHECK_EQ(layout(MEM32_BAR, 1ull << 20, &all, 1, NULL, 0), 0);
	CHECK_EQ(bar.kind, PCI_BAR_MEM32);
	CHECK(!bar.prefetchable);
	CHECK_EQ(bar.size, 1ull << 20);
	CHECK_EQ(bar.nr_pieces, 1);
	CHECK(piece(0, 0, 1ull << 20));

	/* A 256-byte register BAR grows to a page and is not mapped (less
	 * than a page of it exists). */
	CHECK_EQ(layout(MEM32_BAR, 256, &all, 1, NULL, 0), 0);
	CHECK_EQ(bar.size, PAGE);
	CHECK_EQ(bar.nr_pieces, 0);

	/* Odd sizes round up to a power of two; only whole pages are mapped. */
	{
		const struct vfio_range odd = { 0, 3 * PAGE + 100 };

		CHECK_EQ(layout(MEM32_BAR, 3 * PAGE + 100, &odd, 1, NULL, 0), 0);
		CHECK_EQ(bar.size, 4 * PAGE);
		CHECK(piece(0, 0, 3 * PAGE));
	}

	/* I/O BARs are always trapped. */
	CHECK_EQ(layout(IO_BAR, 32, &all, 1, NULL, 0), 0);
	CHECK_EQ(bar.kind, PCI_BAR_IO);
	CHECK_EQ(bar.size, 32);
	CHECK_EQ(bar.nr_pieces, 0);

	/* No region: no BAR. */
	CHECK_EQ(layout(MEM32_BAR, 0, NULL, 0, NULL, 0), 0);
	CHECK_EQ(bar.kind, PCI_BAR_UNUSED);
}

static void test_large_64bit_prefetchable(void)
{
	const struct vfio_range all = { 0, 16ull << 30 };

	CHECK_EQ(layout(MEM64_BAR, 16ull << 30, &all, 1, NULL, 0), 0);
	CHECK_EQ(bar.kind, PCI_BAR_MEM64);
	CHECK(bar.prefetchable);
	CHECK_EQ(bar.size, 16ull << 30);
	CHECK(piece(0, 0, 16ull << 30));
	/* Too large for a 32-bit BAR or an I/O BAR: refused in one line. */
	CHECK_EQ(layout(MEM32_BAR, 4ull << 30, &all, 1, NULL, 0), -1);
	CHECK(strstr(err, "larger than its type allows") != NULL);
	CHECK_EQ(layout(IO_BAR, 512, NULL, 0, NULL, 0), -1);
}

static void test_msix_table_split_around_its_page(void)
{
	/* A 64 KiB BAR: registers, then the table at 0x2800 (sharing page 2
	 * with registers), the PBA at 0x8000. */
	const struct vfio_range all = { 0, 0x10000 };
	const struct vfio_range traps[] = { { 0x2800, 0x100 }, { 0x8000, 8 } };

	CHECK_EQ(layout(MEM32_BAR, 0x10000, &all, 1, traps, 2), 0);
	CHECK_EQ(bar.nr_pieces, 3);
	CHECK(piece(0, 0, 0x2000));
	CHECK(piece(1, 0x3000, 0x5000));
	CHECK(piece(2, 0x9000, 0x7000));
	/* Every trapped byte is outside every piece. */
	for (unsigned i = 0; i < bar.nr_pieces; i++) {
		CHECK(!vfio_range_contains(&bar.pieces[i], 0x2800, 1));
		CHECK(!vfio_range_contains(&bar.pieces[i], 0x8000, 1));
	}
}

static void test_traps_in_any_order_and_overlapping(void)
{
	const struct vfio_range all = { 0, 0x10000 };
	const struct vfio_range traps[] = { { 0x8000, 8 }, { 0x7ff0, 0x20 } };

	CHECK_EQ(layout(MEM32_BAR, 0x10000, &all, 1, traps, 2), 0);
	CHECK_EQ(bar.nr_pieces, 2);
	CHECK(piece(0, 0, 0x7000));
	CHECK(piece(1, 0x9000, 0x7000));
	/* Table and PBA in the same page, at the end. */
	{
		const struct vfio_range end_traps[] = { { 0xf000, 0x100 }, { 0xf800, 8 } };

		CHECK_EQ(layout(MEM32_BAR, 0x10000, &all, 1, end_traps, 2), 0);
		CHECK_EQ(bar.nr_pieces, 1);
		CHECK(piece(0, 0, 0xf000));
	}
}

static void test_sparse_areas_are_clipped(void)
{
	/* Sparse mmap areas as VFIO reports them, one half outside the
	 * region, one not page aligned. */
	const struct vfio_range areas[] = {
		{ 0x100, 0x2000 }, { 0x8000, 0x100000 }, { 0x200000, 0x1000 },
	};

	CHECK_EQ(layout(MEM32_BAR, 0x10000, areas, 3, NULL, 0), 0);
	CHECK_EQ(bar.nr_pieces, 2);
	CHECK(piece(0, 0x1000, 0x1000));
	CHECK(piece(1, 0x8000, 0x8000));
}

/* What --vfio ...,mmap=off hands over: each region as if VFIO offered no
 * mmap areas. The BAR keeps its type and size for the guest, with no
 * piece to map, so every access is trapped; MSI-X traps change nothing. */
static void test_no_mmap_areas_map_nothing(void)
{
	const struct vfio_range traps[] = { { 0x2000, 0x800 }, { 0x3000, 8 } };

	CHECK_EQ(layout(MEM64_BAR, 16ull << 20, NULL, 0, traps, 2), 0);
	CHECK_EQ(bar.kind, PCI_BAR_MEM64);
	CHECK(bar.prefetchable);
	CHECK_EQ(bar.size, 16ull << 20);
	CHECK_EQ(bar.nr_pieces, 0);
	CHECK_EQ(layout(MEM32_BAR, 0x10000, NULL, 0, NULL, 0), 0);
	CHECK_EQ(bar.kind, PCI_BAR_MEM32);
	CHECK_EQ(bar.size, 0x10000);
	CHECK_EQ(bar.nr_pieces, 0);
}

static void test_hostile_ranges_do_not_overflow(void)
{
	const struct vfio_range areas[] = { { UINT64_MAX - 10, 100 }, { 0, UINT64_MAX } };
	const struct vfio_range traps[] = { { UINT64_MAX - 5, UINT64_MAX } };

	CHECK_EQ(layout(MEM64_BAR, 0x10000, areas, 2, traps, 1), 0);
	CHECK_EQ(bar.nr_pieces, 1);
	CHECK(piece(0, 0, 0x10000));
	{
		struct vfio_range r = { 0x1000, 0x1000 };

		CHECK(vfio_range_contains(&r, 0x1000, 0x1000));
		CHECK(!vfio_range_contains(&r, 0x1000, 0x1001));
		CHECK(!vfio_range_contains(&r, 0x1fff, UINT64_MAX));
		CHECK(!vfio_range_contains(&r, 0xfff, 1));
	}
}

static void test_many_traps_cap_pieces(void)
{
	struct vfio_range traps[VFIO_BAR_MAX_TRAPS * 8];
	const struct vfio_range all = { 0, 0x100000 };

	for (unsigned i = 0; i < sizeof(traps) / sizeof(traps[0]); i++)
		traps[i] = (struct vfio_range){ (2 * i + 1) * PAGE, 8 };
	CHECK_EQ(layout(MEM32_BAR, 0x100000, &all, 1, traps, sizeof(traps) / sizeof(traps[0])), 0);
	CHECK_EQ(bar.nr_pieces, VFIO_BAR_MAX_PIECES);
}

static void bar_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)offset, (void)is_write;
	memset(data, 0, len);
}

/* The PCI bus, acting as firmware, puts 64-bit BARs in its 64-bit window,
 * naturally aligned, and small 32-bit ones below 4 GiB. */
static void test_placement_in_64bit_window(void)
{
	const struct pci_windows win = {
		.io_start = 0xc000, .io_end = 0x10000,
		.mem32_start = 0xc0000000ull, .mem32_end = 0xe0000000ull,
		.mem64_start = 0x100000000ull + (1ull << 30), .mem64_end = 0x100000000ull + (64ull << 30),
	};
	struct bus pio, mmio;
	struct pci_bus pb;
	struct pci_device dev;
	const struct vfio_range all = { 0, 16ull << 30 };

	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	CHECK_EQ(pci_bus_init(&pb, &pio, &mmio, 0xe0000000ull, 0x10000000ull, &win, NULL), 0);
	pci_device_init(&dev, "gpu", 0x10de, 0x1234, 0x030000, 1, 0, 0);
	CHECK_EQ(layout(MEM64_BAR, 16ull << 30, &all, 1, NULL, 0), 0);
	CHECK_EQ(pci_device_add_bar(&dev, 0, bar.kind, bar.prefetchable, bar.size, bar_access, NULL), 0);
	CHECK_EQ(layout(MEM32_BAR, 16ull << 20, &all, 1, NULL, 0), 0);
	CHECK_EQ(pci_device_add_bar(&dev, 2, bar.kind, bar.prefetchable, bar.size, bar_access, NULL), 0);
	CHECK_EQ(pci_bus_add_device(&pb, &dev), 0);
	CHECK(dev.bars[0].addr >= win.mem64_start);
	CHECK_EQ(dev.bars[0].addr % (16ull << 30), 0);
	CHECK(dev.bars[0].addr + dev.bars[0].size <= win.mem64_end);
	CHECK(dev.bars[2].addr >= win.mem32_start && dev.bars[2].addr < win.mem32_end);
	pci_bus_destroy(&pb);
	bus_destroy(&pio);
	bus_destroy(&mmio);
}

TEST_MAIN("vfio_bar",
	  TEST_CASE(test_kinds_and_sizes),
	  TEST_CASE(test_large_64bit_prefetchable),
	  TEST_CASE(test_msix_table_split_around_its_page),
	  TEST_CASE(test_traps_in_any_order_and_overlapping),
	  TEST_CASE(test_sparse_areas_are_clipped),
	  TEST_CASE(test_no_mmap_areas_map_nothing),
	  TEST_CASE(test_hostile_ranges_do_not_overflow),
	  TEST_CASE(test_many_traps_cap_pieces),
	  TEST_CASE(test_placement_in_64bit_window))
