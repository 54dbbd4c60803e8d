/* Leaves the guest as often as the CPU lets it: CPUID is intercepted by
 * every x86 hypervisor, so each one is an exit to KVM, which emulates it
 * and steps over it. A guest running this puts a VMM's substrate (the
 * world switch, the instruction skip) under a load that does not depend
 * on the VMM's devices: the same rate of exits under any VMM. Built
 * static by tools/mkguest; used by tests/guest/ttyload.sh.
 *
 *   cpuidstorm SECONDS
 *
 * Prints "CPUIDSTORM exits=N seconds=S" at the end. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 0, start = now(), end;
	uint64_t n = 0;

	if (argc != 2 || seconds <= 0) {
		fprintf(stderr, "usage: cpuidstorm SECONDS\n");
		return 2;
	}
	end = start + seconds;
	do {
		/* Checking the clock only now and then keeps the loop exits. */
		for (int i = 0; i < 1000; i++) {
			uint32_t a = 0, b, c = 0, d;

			__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
			n++;
		}
	} while (now() < end);
	printf("CPUIDSTORM exits=%llu seconds=%.1f\n", (unsigned long long)n, now() - start);
	return 0;
}
