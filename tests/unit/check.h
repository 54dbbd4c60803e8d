/* The unit-test harness. A test file defines test functions, lists them
 * in TEST_MAIN, and prints one line per test: "PASS name", "FAIL name:
 * why" or "SKIP name: why". tests/run counts those lines. CHECK records a
 * failure with its location and lets the test go on, so one run shows
 * every broken expectation. */
#ifndef GVMM_CHECK_H
#define GVMM_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_state {
	int failures;
	const char *skip_reason;
	char first_failure[512];
};

extern struct test_state test_state;

#define CHECK(cond) do { \
	if (!(cond)) { \
		if (!test_state.failures++) \
			snprintf(test_state.first_failure, sizeof(test_state.first_failure), \
				 "%s:%d: %s", __FILE__, __LINE__, #cond); \
		fprintf(stderr, "  check failed %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	unsigned long long check_a_ = (unsigned long long)(a); \
	unsigned long long check_b_ = (unsigned long long)(b); \
	if (check_a_ != check_b_) { \
		if (!test_state.failures++) \
			snprintf(test_state.first_failure, sizeof(test_state.first_failure), \
				 "%s:%d: %s == %s (0x%llx != 0x%llx)", __FILE__, __LINE__, \
				 #a, #b, check_a_, check_b_); \
		fprintf(stderr, "  check failed %s:%d: %s == %s (0x%llx != 0x%llx)\n", \
			__FILE__, __LINE__, #a, #b, check_a_, check_b_); \
	} \
} while (0)

/* Ends the current test as skipped; the reason is printed. */
#define SKIP_TEST(reason) do { test_state.skip_reason = (reason); return; } while (0)

typedef void (*test_fn)(void);
struct test_case { const char *name; test_fn fn; };
#define TEST_CASE(fn) { #fn, fn }

int test_run_all(const char *suite, const struct test_case *cases, size_t n);

#define TEST_MAIN(suite, ...) \
	struct test_state test_state; \
	int main(void) { \
		static const struct test_case cases[] = { __VA_ARGS__ }; \
		return test_run_all(suite, cases, sizeof(cases) / sizeof(cases[0])); \
	}

#endif
