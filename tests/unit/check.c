#include "check.h"

int test_run_all(const char *suite, const struct test_case *cases, size_t n)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		memset(&test_state, 0, sizeof(test_state));
		cases[i].fn();
		if (test_state.failures) {
			printf("FAIL %s.%s: %s\n", suite, cases[i].name,
			       test_state.first_failure);
			failed++;
		} else if (test_state.skip_reason) {
			printf("SKIP %s.%s: %s\n", suite, cases[i].name,
			       test_state.skip_reason);
		} else {
			printf("PASS %s.%s\n", suite, cases[i].name);
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}
