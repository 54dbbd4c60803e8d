/* Copying a range of the kernel or initrd file into guest memory. Where
 * the caller still has the file open, the range is read with pread: the
 * host kernel copies it from its page cache straight into guest RAM.
 * Copying it out of the file's mapping instead faults the page cache in
 * 4 KiB pages, a few at a time, and leaves those page tables to be torn
 * down after; for the bench's 8 MiB kernel and 9 MiB initramfs that was
 * most of gvmm's start-up (docs/BENCHMARKS.md). */
#include "boot.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int boot_copy(struct guest_memory *mem, uint64_t gpa, const uint8_t *buf, int fd,
	      uint64_t offset, size_t len)
{
	uint8_t *dst = guest_memory_ptr(mem, gpa, len);
	size_t done = 0;

	if (!dst)
		return -1;
	if (fd < 0) {
		memcpy(dst, buf + offset, len);
		return 0;
	}
	while (done < len) {
		ssize_t n = pread(fd, dst + done, len - done, (off_t)(offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		/* 0: the file is shorter now than when it was checked. */
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}
