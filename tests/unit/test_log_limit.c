/* The log rate limiter: the first occurrence, then one line per interval
 * telling how many it did not show. */
#include "check.h"
#include "../../vmm/log_limit.h"

#define SEC 1000000000ull

static void first_then_one_per_interval(void)
{
	struct log_limit l;
	uint64_t unlogged = 77;

	log_limit_init(&l, 60 * SEC);
	/* The first is logged whatever the clock says. */
	CHECK(log_limit_allow(&l, 5, &unlogged));
	CHECK_EQ(unlogged, 0);
	for (int i = 0; i < 1000; i++)
		CHECK(!log_limit_allow(&l, 5 + (uint64_t)i * SEC / 20, &unlogged));
	CHECK_EQ(l.unlogged, 1000);
	/* A minute after the last line: logged, with the count. */
	CHECK(!log_limit_allow(&l, 5 + 60 * SEC - 1, &unlogged));
	CHECK(log_limit_allow(&l, 5 + 60 * SEC, &unlogged));
	CHECK_EQ(unlogged, 1001);
	CHECK_EQ(l.unlogged, 0);
	CHECK_EQ(l.count, 1003);
	/* The window runs from the last line, not from the first. */
	CHECK(!log_limit_allow(&l, 5 + 119 * SEC, &unlogged));
	CHECK(log_limit_allow(&l, 5 + 120 * SEC, &unlogged));
	CHECK_EQ(unlogged, 1);
	/* Quiet for long: the next one goes out at once, with nothing held. */
	CHECK(log_limit_allow(&l, 5 + 3600 * SEC, &unlogged));
	CHECK_EQ(unlogged, 0);
}

static void clock_is_monotonic(void)
{
	uint64_t a = log_limit_now_ns(), b = log_limit_now_ns();

	CHECK(a > 0);
	CHECK(b >= a);
}

TEST_MAIN("log_limit",
	TEST_CASE(first_then_one_per_interval),
	TEST_CASE(clock_is_monotonic),
)
