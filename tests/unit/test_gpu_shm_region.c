/* The host-visible region's bookkeeping: the guest's offsets and sizes
 * are checked, mappings never overlap, a resource maps once. */
#include "check.h"

#include <errno.h>

#include "../../devices/gpu/gpu_shm_region.h"

#define PAGE   GPU_SHM_PAGE
#define REGION (64 * PAGE)

/* Ranges outside the region, unaligned or empty are refused, whatever
 * their sum would wrap to. */
static void test_bad_ranges(void)
{
	struct gpu_shm_region r;

	gpu_shm_region_init(&r, REGION);
	CHECK_EQ(gpu_shm_region_claim(&r, 0, 0, 1), -EINVAL);
	CHECK_EQ(gpu_shm_region_claim(&r, 1, PAGE, 1), -EINVAL);
	CHECK_EQ(gpu_shm_region_claim(&r, 0, PAGE + 1, 1), -EINVAL);
	CHECK_EQ(gpu_shm_region_claim(&r, REGION, PAGE, 1), -EINVAL);
	CHECK_EQ(gpu_shm_region_claim(&r, REGION - PAGE, 2 * PAGE, 1), -EINVAL);
	CHECK_EQ(gpu_shm_region_claim(&r, PAGE, UINT64_MAX - PAGE + 1, 1), -EINVAL);
	CHECK_EQ(gpu_shm_region_claim(&r, UINT64_MAX - PAGE + 1, PAGE, 1), -EINVAL);
	CHECK_EQ(r.nr_mappings, 0);
	CHECK_EQ(gpu_shm_region_claim(&r, REGION - PAGE, PAGE, 1), 0);   /* the last page */
	CHECK_EQ(gpu_shm_region_claim(&r, 0, REGION, 2), -EBUSY);

	gpu_shm_region_init(&r, 0);   /* no region: nothing fits */
	CHECK_EQ(gpu_shm_region_claim(&r, 0, PAGE, 1), -EINVAL);
	gpu_shm_region_init(&r, PAGE + 100);   /* a partial page is not offered */
	CHECK_EQ(r.size, PAGE);
}

/* Overlaps on either side and inside are refused; touching ranges are
 * fine; a resource maps once, and its range frees with it. */
static void test_overlaps(void)
{
	struct gpu_shm_region r;
	const struct gpu_shm_mapping *m;

	gpu_shm_region_init(&r, REGION);
	CHECK_EQ(gpu_shm_region_claim(&r, 8 * PAGE, 4 * PAGE, 1), 0);
	CHECK_EQ(gpu_shm_region_claim(&r, 6 * PAGE, 3 * PAGE, 2), -EBUSY);
	CHECK_EQ(gpu_shm_region_claim(&r, 11 * PAGE, PAGE, 2), -EBUSY);
	CHECK_EQ(gpu_shm_region_claim(&r, 9 * PAGE, PAGE, 2), -EBUSY);
	CHECK_EQ(gpu_shm_region_claim(&r, 0, 32 * PAGE, 2), -EBUSY);
	CHECK_EQ(gpu_shm_region_claim(&r, 4 * PAGE, 4 * PAGE, 2), 0);
	CHECK_EQ(gpu_shm_region_claim(&r, 12 * PAGE, PAGE, 3), 0);
	CHECK_EQ(gpu_shm_region_claim(&r, 20 * PAGE, PAGE, 3), -EBUSY);   /* mapped already */
	m = gpu_shm_region_find(&r, 2);
	CHECK(m && m->offset == 4 * PAGE && m->size == 4 * PAGE);
	CHECK(r.mappings[0].offset < r.mappings[1].offset &&
	      r.mappings[1].offset < r.mappings[2].offset);

	CHECK(gpu_shm_region_release(&r, 1));
	CHECK(!gpu_shm_region_release(&r, 1));
	CHECK(!gpu_shm_region_release(&r, 77));
	CHECK(gpu_shm_region_find(&r, 1) == NULL);
	CHECK_EQ(gpu_shm_region_claim(&r, 8 * PAGE, 4 * PAGE, 4), 0);
	CHECK_EQ(r.nr_mappings, 3);
}

/* Mappings are bounded (each is a KVM memory slot). */
static void test_mapping_limit(void)
{
	static struct gpu_shm_region r;

	gpu_shm_region_init(&r, (GPU_SHM_MAX_MAPPINGS + 1) * PAGE);
	for (uint32_t i = 0; i < GPU_SHM_MAX_MAPPINGS; i++)
		CHECK_EQ(gpu_shm_region_claim(&r, (uint64_t)i * PAGE, PAGE, i + 1), 0);
	CHECK_EQ(gpu_shm_region_claim(&r, GPU_SHM_MAX_MAPPINGS * PAGE, PAGE, 9999), -ENOSPC);
	CHECK(gpu_shm_region_release(&r, 5));
	CHECK_EQ(gpu_shm_region_claim(&r, GPU_SHM_MAX_MAPPINGS * PAGE, PAGE, 9999), 0);
}

TEST_MAIN("gpu_shm_region",
	TEST_CASE(test_bad_ranges),
	TEST_CASE(test_overlaps),
	TEST_CASE(test_mapping_limit))
