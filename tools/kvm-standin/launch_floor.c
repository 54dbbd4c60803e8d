/* The launch floor of tools/bench-startup: a program that does nothing
 * but say how long after its exec its main() began, given the exec's time
 * the way gvmm is given it (GVMM_TRACE_STARTUP=exec:T, vmm/vcpu.h), so the
 * bench launches and times it exactly as it does gvmm. What it measures is what every program pays on this
 * machine before main(): the exec itself, mapping libc, the stand-in
 * preloaded beside it. gvmm's exec to first KVM_RUN less this is gvmm's
 * own part, which is what the start-up target is about. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(void)
{
	const char *v = getenv("GVMM_TRACE_STARTUP");
	struct timespec wall;
	long long exec_us, now_us;

	clock_gettime(CLOCK_REALTIME, &wall);
	if (!v || strncmp(v, "exec:", 5) != 0) {
		fprintf(stderr, "launch_floor: GVMM_TRACE_STARTUP=exec:MICROSECONDS is needed\n");
		return 2;
	}
	exec_us = strtoll(v + 5, NULL, 10);
	now_us = wall.tv_sec * 1000000LL + wall.tv_nsec / 1000;
	fprintf(stderr, "launch_floor: main() %lld us after exec\n",
		now_us - exec_us);
	return 0;
}
