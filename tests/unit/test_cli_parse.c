#include "check.h"
#include "../../vmm/cli_parse.h"

static void sizes_with_units(void)
{
	uint64_t v = 0;

	CHECK_EQ(parse_size("512M", &v), 0);
	CHECK_EQ(v, 512ull << 20);
	CHECK_EQ(parse_size("4G", &v), 0);
	CHECK_EQ(v, 4ull << 30);
	CHECK_EQ(parse_size("4g", &v), 0);
	CHECK_EQ(v, 4ull << 30);
	CHECK_EQ(parse_size("64k", &v), 0);
	CHECK_EQ(v, 64ull << 10);
	CHECK_EQ(parse_size("2T", &v), 0);
	CHECK_EQ(v, 2ull << 40);
	CHECK_EQ(parse_size("1048576", &v), 0);
	CHECK_EQ(v, 1048576);
	CHECK_EQ(parse_size("1GiB", &v), 0);
	CHECK_EQ(v, 1ull << 30);
	CHECK_EQ(parse_size("1MB", &v), 0);
	CHECK_EQ(v, 1ull << 20);
}

static void bad_sizes_are_refused(void)
{
	static const char *const bad[] = {
		"", "M", "-1G", "+1G", " 1G", "1G ", "1.5G", "1X", "1GG", "0", "0M",
		"lots", "99999999999999999999", "16777216T", "1Gib2",
	};
	uint64_t v = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_size(bad[i], &v) == 0)
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
		CHECK(parse_size(bad[i], &v) < 0);
	}
	CHECK(parse_size(NULL, &v) < 0);
	CHECK_EQ(v, 7);  /* untouched on failure */
}

static void counts_in_range(void)
{
	unsigned v = 0;

	CHECK_EQ(parse_count("1", 1, 255, &v), 0);
	CHECK_EQ(v, 1);
	CHECK_EQ(parse_count("255", 1, 255, &v), 0);
	CHECK_EQ(v, 255);
	CHECK(parse_count("0", 1, 255, &v) < 0);
	CHECK(parse_count("256", 1, 255, &v) < 0);
	CHECK(parse_count("-1", 1, 255, &v) < 0);
	CHECK(parse_count("2x", 1, 255, &v) < 0);
	CHECK(parse_count("", 1, 255, &v) < 0);
	CHECK(parse_count("99999999999999999999999", 1, 255, &v) < 0);
}

static void memory_option(void)
{
	uint64_t v = 0;
	bool shared = false;

	CHECK_EQ(parse_memory_option("512M", &v, &shared), 0);
	CHECK_EQ(v, 512ull << 20);
	CHECK(!shared);
	CHECK_EQ(parse_memory_option("1G,shared=on", &v, &shared), 0);
	CHECK_EQ(v, 1ull << 30);
	CHECK(shared);
	CHECK_EQ(parse_memory_option("1G,shared=off", &v, &shared), 0);
	CHECK(!shared);
	CHECK(parse_memory_option("1G,shared", &v, &shared) < 0);
	CHECK(parse_memory_option("1G,shared=yes", &v, &shared) < 0);
	CHECK(parse_memory_option(",shared=on", &v, &shared) < 0);
	CHECK(parse_memory_option("1G,", &v, &shared) < 0);
	CHECK(parse_memory_option("123456789012345678901234567890123G,shared=on", &v, &shared) < 0);
}

TEST_MAIN("cli_parse",
	TEST_CASE(sizes_with_units),
	TEST_CASE(memory_option),
	TEST_CASE(bad_sizes_are_refused),
	TEST_CASE(counts_in_range))
