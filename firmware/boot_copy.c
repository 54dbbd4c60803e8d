/* Copying a range of the kernel or initrd file into guest memory. Where
 * the caller still has the file open, the range is read with pread: the
 * host kernel copies it from its page cache straight into guest RAM.
 * Copying it out of the file's mapping instead faults the page cache in
 * 4 KiB pages, a few at a time, and leaves those page tables to be torn
 * down after; for the bench's 8 MiB kernel and 9 MiB initramfs that was
 * most of gvmm's start-up (docs/BENCHMARKS.md). The initrd's copy runs
 * beside the kernel's on a thread of its own: each is mostly the host
 * kernel clearing the huge pages of guest RAM the bytes land in, work
 * two CPUs do in about half the time of one. */
#include "boot.h"

#include <errno.h>
#include <pthread.h>
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

/* Below this, a thread costs more than the copy it would take aside. */
#define THREADED_COPY_MIN (1u << 20)

static void *copy_thread(void *arg)
{
	struct boot_copy_job *job = arg;

	pthread_setname_np(pthread_self(), "gvmm-load");
	job->result = boot_copy(job->mem, job->gpa, job->buf, job->fd, job->offset, job->len);
	return NULL;
}

void boot_copy_begin(struct boot_copy_job *job, struct guest_memory *mem, uint64_t gpa,
		     const uint8_t *buf, int fd, uint64_t offset, size_t len)
{
	*job = (struct boot_copy_job){
		.mem = mem, .gpa = gpa, .buf = buf, .fd = fd, .offset = offset, .len = len,
	};
	if (len == 0)
		return;  /* nothing to copy: result 0 */
	if (fd >= 0 && len >= THREADED_COPY_MIN &&
	    pthread_create(&job->thread, NULL, copy_thread, job) == 0) {
		job->threaded = true;
		return;
	}
	job->result = boot_copy(mem, gpa, buf, fd, offset, len);
}

int boot_copy_end(struct boot_copy_job *job)
{
	if (job->threaded) {
		pthread_join(job->thread, NULL);
		job->threaded = false;
	}
	return job->result;
}
