#include "thread_stack.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* Left alone below the caller's frame: what it calls next may use it
 * before the pages could come back anyway. */
#define STACK_KEEP (64u << 10)

void thread_stack_no_huge_pages(void)
{
	uintptr_t low, keep, page = (uintptr_t)sysconf(_SC_PAGESIZE);
	pthread_attr_t attr;
	size_t size;
	void *addr;

	if (pthread_getattr_np(pthread_self(), &attr))
		return;
	if (!pthread_attr_getstack(&attr, &addr, &size)) {
		low = (uintptr_t)addr;
		keep = ((uintptr_t)__builtin_frame_address(0) - STACK_KEEP) & ~(page - 1);
		/* Advice only: where the kernel has no THP, both do nothing. */
		madvise(addr, size, MADV_NOHUGEPAGE);
		if (keep > low && keep - low < size)
			madvise(addr, keep - low, MADV_DONTNEED);
	}
	pthread_attr_destroy(&attr);
}
