/* Thread stacks without transparent huge pages: after the call, the
 * thread's stack mapping says NOHUGEPAGE ("nh" in smaps' VmFlags) and
 * holds no huge page, and the thread still runs on it. */
#include "check.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../vmm/thread_stack.h"

struct stack_seen {
	bool found, no_huge_flag;
	long anon_huge_kib;
	unsigned long used;   /* proof that the stack still works */
};

/* The smaps entry of the mapping holding address a. */
static void look_up(uintptr_t a, struct stack_seen *seen)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool inside = false;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			inside = lo <= a && a < hi;
			seen->found |= inside;
			continue;
		}
		if (!inside)
			continue;
		if (!strncmp(line, "AnonHugePages:", 14))
			sscanf(line + 14, "%ld", &seen->anon_huge_kib);
		if (!strncmp(line, "VmFlags:", 8))
			seen->no_huge_flag = strstr(line, " nh") != NULL;
	}
	fclose(f);
}

/* Uses 256 KiB of stack below the caller, then adds it up. */
static unsigned long deep(int n)
{
	volatile unsigned char buf[4096];

	buf[0] = (unsigned char)n;
	buf[4095] = (unsigned char)(n >> 1);
	return n ? buf[0] + buf[4095] + deep(n - 1) : 0;
}

static void *thread_main(void *opaque)
{
	struct stack_seen *seen = opaque;
	int here;

	thread_stack_no_huge_pages();
	look_up((uintptr_t)&here, seen);
	seen->used = deep(64);
	return NULL;
}

static void stack_marked_and_usable(void)
{
	struct stack_seen seen = { .anon_huge_kib = -1 };
	pthread_t t;
	FILE *thp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!thp)
		SKIP_TEST("this kernel has no transparent huge pages");
	fclose(thp);
	CHECK_EQ(pthread_create(&t, NULL, thread_main, &seen), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK(seen.found);
	CHECK(seen.no_huge_flag);
	CHECK_EQ(seen.anon_huge_kib, 0);
	CHECK(seen.used > 0);
}

TEST_MAIN("thread_stack",
	TEST_CASE(stack_marked_and_usable))
