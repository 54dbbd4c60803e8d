/* KVM memory slot numbers for devices: never guest RAM's, never one
 * handed out twice, bounded by what KVM offers. */
#include "check.h"

#include <errno.h>

#include "../../vmm/guest_memory.h"
#include "../../vmm/memory_slots.h"

static void test_skips_ram_slots(void)
{
	struct memory_slots s;

	memory_slots_init(&s, GUEST_MEMORY_MAX_REGIONS, 509);
	CHECK_EQ(memory_slots_take(&s), GUEST_MEMORY_MAX_REGIONS);
	CHECK_EQ(memory_slots_take(&s), GUEST_MEMORY_MAX_REGIONS + 1);
	memory_slots_give_back(&s, GUEST_MEMORY_MAX_REGIONS);
	CHECK_EQ(memory_slots_take(&s), GUEST_MEMORY_MAX_REGIONS);
	/* RAM's and unknown numbers given back change nothing. */
	memory_slots_give_back(&s, 0);
	memory_slots_give_back(&s, 100000);
	CHECK_EQ(memory_slots_take(&s), GUEST_MEMORY_MAX_REGIONS + 2);
	memory_slots_destroy(&s);
}

static void test_bounded_by_kvm(void)
{
	struct memory_slots s;

	memory_slots_init(&s, 4, 7);
	CHECK_EQ(memory_slots_take(&s), 4);
	CHECK_EQ(memory_slots_take(&s), 5);
	CHECK_EQ(memory_slots_take(&s), 6);
	CHECK_EQ(memory_slots_take(&s), -ENOSPC);
	memory_slots_give_back(&s, 5);
	CHECK_EQ(memory_slots_take(&s), 5);
	memory_slots_destroy(&s);

	/* A KVM offering fewer slots than RAM takes leaves none; a huge
	 * offer is capped. */
	memory_slots_init(&s, 4, 2);
	CHECK_EQ(memory_slots_take(&s), -ENOSPC);
	memory_slots_destroy(&s);
	memory_slots_init(&s, 4, 32764);
	for (unsigned i = 4; i < MEMORY_SLOTS_MAX; i++)
		CHECK_EQ(memory_slots_take(&s), (int)i);
	CHECK_EQ(memory_slots_take(&s), -ENOSPC);
	memory_slots_destroy(&s);
}

TEST_MAIN("memory_slots",
	  TEST_CASE(test_skips_ram_slots),
	  TEST_CASE(test_bounded_by_kvm))
