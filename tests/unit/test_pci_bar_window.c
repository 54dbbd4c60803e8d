/* Host pages behind a BAR: placed at the BAR's address plus their offset
 * through a fake mapper, checked against the window, and following the
 * BAR when the guest switches decoding off, moves it, and switches it
 * back on. */
#include "check.h"

#include <errno.h>
#include <stdlib.h>

#include "../../devices/pci/pci_bar_window.h"
#include "fake_mapper.h"

#define PAGE     PCI_BAR_WINDOW_PAGE
#define WINDOW   (64 * PAGE)
#define BASE     0x800000000ull
#define MOVED    0x900000000ull

struct bench {
	struct fake_mapper mapper;
	struct pci_bar_window w;
	uint8_t *pages;               /* 8 host pages */
};

static struct bench *bench_new(void)
{
	struct bench *b = calloc(1, sizeof(*b));
	struct host_page_mapper ops;

	if (!b || posix_memalign((void **)&b->pages, PAGE, 8 * PAGE))
		abort();
	fake_mapper_init(&b->mapper);
	ops = fake_mapper_ops(&b->mapper);
	CHECK_EQ(pci_bar_window_init(&b->w, WINDOW, &ops), 0);
	return b;
}

static void bench_free(struct bench *b)
{
	pci_bar_window_destroy(&b->w);
	CHECK_EQ(fake_mapper_count(&b->mapper), 0);
	fake_mapper_destroy(&b->mapper);
	free(b->pages);
	free(b);
}

static void test_init_refuses_odd_sizes(void)
{
	struct fake_mapper m;
	struct host_page_mapper ops;
	struct pci_bar_window w;

	fake_mapper_init(&m);
	ops = fake_mapper_ops(&m);
	CHECK_EQ(pci_bar_window_init(&w, 0, &ops), -EINVAL);
	CHECK_EQ(pci_bar_window_init(&w, 3 * PAGE, &ops), -EINVAL);
	CHECK_EQ(pci_bar_window_init(&w, PAGE / 2, &ops), -EINVAL);
	CHECK_EQ(pci_bar_window_init(&w, PAGE, NULL), -EINVAL);
	ops.map = NULL;
	CHECK_EQ(pci_bar_window_init(&w, PAGE, &ops), -EINVAL);
	pci_bar_window_destroy(&w);   /* of a window that never was: nothing */
	fake_mapper_destroy(&m);
}

/* Whatever the guest's offsets and sizes wrap to, nothing outside the
 * window, unaligned or overlapping reaches the mapper. */
static void test_hostile_ranges(void)
{
	struct bench *b = bench_new();

	pci_bar_window_place(&b->w, true, BASE);
	CHECK_EQ(pci_bar_window_map(&b->w, 0, b->pages, 0), -EINVAL);
	CHECK_EQ(pci_bar_window_map(&b->w, 1, b->pages, PAGE), -EINVAL);
	CHECK_EQ(pci_bar_window_map(&b->w, 0, b->pages, PAGE + 1), -EINVAL);
	CHECK_EQ(pci_bar_window_map(&b->w, 0, b->pages + 1, PAGE), -EINVAL);
	CHECK_EQ(pci_bar_window_map(&b->w, WINDOW, b->pages, PAGE), -EINVAL);
	CHECK_EQ(pci_bar_window_map(&b->w, WINDOW - PAGE, b->pages, 2 * PAGE), -EINVAL);
	CHECK_EQ(pci_bar_window_map(&b->w, PAGE, b->pages, UINT64_MAX - PAGE + 1), -EINVAL);
	CHECK_EQ(pci_bar_window_map(&b->w, UINT64_MAX - PAGE + 1, b->pages, PAGE), -EINVAL);
	CHECK_EQ(b->mapper.maps, 0);
	CHECK_EQ(pci_bar_window_map(&b->w, WINDOW - PAGE, b->pages, PAGE), 0);
	CHECK_EQ(pci_bar_window_map(&b->w, WINDOW - 2 * PAGE, b->pages, 2 * PAGE), -EBUSY);
	CHECK(!pci_bar_window_unmap(&b->w, WINDOW - PAGE, 2 * PAGE));   /* not that one */
	CHECK(!pci_bar_window_unmap(&b->w, 0, PAGE));
	CHECK(fake_mapper_has(&b->mapper, BASE + WINDOW - PAGE, b->pages, PAGE));
	bench_free(b);
}

static void test_maps_at_bar_plus_offset(void)
{
	struct bench *b = bench_new();

	/* Before the BAR decodes: recorded, not in the guest. */
	CHECK_EQ(pci_bar_window_map(&b->w, 4 * PAGE, b->pages, 2 * PAGE), 0);
	CHECK_EQ(fake_mapper_count(&b->mapper), 0);
	pci_bar_window_place(&b->w, true, BASE);
	CHECK(fake_mapper_has(&b->mapper, BASE + 4 * PAGE, b->pages, 2 * PAGE));
	CHECK_EQ(pci_bar_window_map(&b->w, 0, b->pages + 2 * PAGE, PAGE), 0);
	CHECK(fake_mapper_has(&b->mapper, BASE, b->pages + 2 * PAGE, PAGE));
	CHECK_EQ(fake_mapper_count(&b->mapper), 2);
	CHECK(pci_bar_window_unmap(&b->w, 4 * PAGE, 2 * PAGE));
	CHECK_EQ(fake_mapper_count(&b->mapper), 1);
	CHECK(fake_mapper_has(&b->mapper, BASE, b->pages + 2 * PAGE, PAGE));
	bench_free(b);
}

/* Decoding off takes every mapping out of the guest; the BAR moving
 * while off and decoding coming back puts them at the new address. */
static void test_follows_the_bar(void)
{
	struct bench *b = bench_new();

	pci_bar_window_place(&b->w, true, BASE);
	CHECK_EQ(pci_bar_window_map(&b->w, 0, b->pages, PAGE), 0);
	CHECK_EQ(pci_bar_window_map(&b->w, 8 * PAGE, b->pages + PAGE, 4 * PAGE), 0);
	pci_bar_window_place(&b->w, false, 0);
	CHECK_EQ(fake_mapper_count(&b->mapper), 0);
	/* Mapped and unmapped while off: only the record changes. */
	CHECK_EQ(pci_bar_window_map(&b->w, 16 * PAGE, b->pages + 5 * PAGE, PAGE), 0);
	CHECK(pci_bar_window_unmap(&b->w, 0, PAGE));
	CHECK_EQ(fake_mapper_count(&b->mapper), 0);
	pci_bar_window_place(&b->w, true, MOVED);
	CHECK_EQ(fake_mapper_count(&b->mapper), 2);
	CHECK(fake_mapper_has(&b->mapper, MOVED + 8 * PAGE, b->pages + PAGE, 4 * PAGE));
	CHECK(fake_mapper_has(&b->mapper, MOVED + 16 * PAGE, b->pages + 5 * PAGE, PAGE));
	/* Moved while decoding: out of the old place, into the new. */
	pci_bar_window_place(&b->w, true, BASE);
	CHECK_EQ(fake_mapper_count(&b->mapper), 2);
	CHECK(fake_mapper_has(&b->mapper, BASE + 8 * PAGE, b->pages + PAGE, 4 * PAGE));
	CHECK(fake_mapper_has(&b->mapper, BASE + 16 * PAGE, b->pages + 5 * PAGE, PAGE));
	bench_free(b);
}

/* The mapper refusing (no slot left, a place KVM will not take): a map
 * says so and is not recorded; a mapping that cannot follow the BAR is
 * kept and tried again at the next move. */
static void test_mapper_refusals(void)
{
	struct bench *b = bench_new();

	pci_bar_window_place(&b->w, true, BASE);
	b->mapper.fail_with = -ENOSPC;
	CHECK_EQ(pci_bar_window_map(&b->w, 0, b->pages, PAGE), -ENOSPC);
	CHECK_EQ(b->w.nr_mappings, 0);
	b->mapper.fail_with = 0;
	CHECK_EQ(pci_bar_window_map(&b->w, 0, b->pages, PAGE), 0);
	b->mapper.fail_with = -EEXIST;
	pci_bar_window_place(&b->w, true, MOVED);
	CHECK_EQ(fake_mapper_count(&b->mapper), 0);
	CHECK_EQ(b->w.nr_mappings, 1);
	CHECK(pci_bar_window_unmap(&b->w, 0, PAGE));   /* nothing for the mapper */
	CHECK_EQ(pci_bar_window_map(&b->w, 0, b->pages, PAGE), -EEXIST);
	b->mapper.fail_with = 0;
	CHECK_EQ(pci_bar_window_map(&b->w, 0, b->pages, PAGE), 0);
	CHECK(fake_mapper_has(&b->mapper, MOVED, b->pages, PAGE));
	bench_free(b);
}

/* No more than PCI_BAR_WINDOW_MAX_MAPPINGS, each a KVM slot. */
static void test_bounded(void)
{
	struct fake_mapper m;
	struct host_page_mapper ops;
	struct pci_bar_window w;
	uint8_t *page;

	if (posix_memalign((void **)&page, PAGE, PAGE))
		abort();
	fake_mapper_init(&m);
	ops = fake_mapper_ops(&m);
	CHECK_EQ(pci_bar_window_init(&w, 512 * PAGE, &ops), 0);
	for (unsigned i = 0; i < PCI_BAR_WINDOW_MAX_MAPPINGS; i++)
		CHECK_EQ(pci_bar_window_map(&w, i * PAGE, page, PAGE), 0);
	CHECK_EQ(pci_bar_window_map(&w, 300 * PAGE, page, PAGE), -ENOSPC);
	pci_bar_window_destroy(&w);
	fake_mapper_destroy(&m);
	free(page);
}

TEST_MAIN("pci_bar_window",
	  TEST_CASE(test_init_refuses_odd_sizes),
	  TEST_CASE(test_hostile_ranges),
	  TEST_CASE(test_maps_at_bar_plus_offset),
	  TEST_CASE(test_follows_the_bar),
	  TEST_CASE(test_mapper_refusals),
	  TEST_CASE(test_bounded))
