#include "guest_memory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../firmware/guest_layout.h"

#define HUGEPAGE_SIZE (2ULL << 20)

/* Maps len bytes of anonymous memory at a 2 MiB aligned address: the
 * kernel only backs aligned 2 MiB stretches with huge pages, and KVM only
 * maps a huge page into the guest where guest and host addresses agree in
 * their low 21 bits. */
static void *map_anonymous_aligned(uint64_t len)
{
	uint64_t span = len + HUGEPAGE_SIZE;
	uint8_t *raw, *aligned;

	raw = mmap(NULL, span, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return MAP_FAILED;
	aligned = (uint8_t *)(((uintptr_t)raw + HUGEPAGE_SIZE - 1) & ~(uintptr_t)(HUGEPAGE_SIZE - 1));
	if (aligned > raw)
		munmap(raw, (size_t)(aligned - raw));
	if (raw + span > aligned + len)
		munmap(aligned + len, (size_t)(raw + span - (aligned + len)));
	return aligned;
}

static void *map_memfd(struct guest_memory *mem, uint64_t ram_size, bool hugetlb,
		       char *err, size_t errlen)
{
	void *base;

	mem->memfd = memfd_create("gvmm-ram", MFD_CLOEXEC | (hugetlb ? MFD_HUGETLB : 0));
	if (mem->memfd < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot create guest RAM (memfd%s): %s",
			 hugetlb ? " with hugepages" : "", strerror(e));
		errno = e;
		return MAP_FAILED;
	}
	if (ftruncate(mem->memfd, (off_t)ram_size) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot size guest RAM to %llu bytes: %s",
			 (unsigned long long)ram_size, strerror(e));
		errno = e;
		return MAP_FAILED;
	}
	base = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_NORESERVE, mem->memfd, 0);
	if (base == MAP_FAILED) {
		int e = errno;

		snprintf(err, errlen, "cannot map %llu bytes of guest RAM: %s%s",
			 (unsigned long long)ram_size, strerror(e),
			 hugetlb && e == ENOMEM ?
			 " (are enough hugepages reserved in /proc/sys/vm/nr_hugepages?)" : "");
		errno = e;
	}
	return base;
}

int guest_memory_create(struct guest_memory *mem, uint64_t ram_size,
			enum guest_ram_backing backing, char *err, size_t errlen)
{
	uint64_t low;
	void *base;

	memset(mem, 0, sizeof(*mem));
	mem->memfd = -1;
	if (backing == GUEST_RAM_HUGETLB && ram_size % HUGEPAGE_SIZE) {
		snprintf(err, errlen, "--hugepages needs memory in whole 2 MiB pages");
		return -EINVAL;
	}
	if (backing == GUEST_RAM_ANONYMOUS) {
		base = map_anonymous_aligned(ram_size);
		if (base == MAP_FAILED) {
			int e = errno;

			snprintf(err, errlen, "cannot map %llu bytes of guest RAM: %s",
				 (unsigned long long)ram_size, strerror(e));
			errno = e;
		} else {
			/* Advice, not a demand: where THP is off it changes nothing. */
			madvise(base, ram_size, MADV_HUGEPAGE);
		}
	} else {
		base = map_memfd(mem, ram_size, backing == GUEST_RAM_HUGETLB, err, errlen);
	}
	if (base == MAP_FAILED) {
		int e = errno;

		if (mem->memfd >= 0)
			close(mem->memfd);
		mem->memfd = -1;
		return -e;
	}
	/* Guest RAM is not worth a core dump's space and may hold secrets. */
	madvise(base, ram_size, MADV_DONTDUMP);

	mem->host_base = base;
	mem->ram_size = ram_size;
	mem->backing = backing;
	low = ram_size < GUEST_PCI_HOLE_START ? ram_size : GUEST_PCI_HOLE_START;
	mem->regions[mem->nr_regions++] = (struct guest_region){
		.gpa = 0, .size = low, .file_offset = 0 };
	if (ram_size > low)
		mem->regions[mem->nr_regions++] = (struct guest_region){
			.gpa = GUEST_HIGH_RAM_START, .size = ram_size - low,
			.file_offset = low };
	return 0;
}

void guest_memory_destroy(struct guest_memory *mem)
{
	if (mem->host_base)
		munmap(mem->host_base, mem->ram_size);
	if (mem->memfd >= 0)
		close(mem->memfd);
	mem->host_base = NULL;
	mem->memfd = -1;
}

void *guest_memory_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];

		/* Written so that no sum can overflow: gpa - r->gpa only
		 * after gpa >= r->gpa, and len compared against what is left. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    len <= r->size - (gpa - r->gpa))
			return mem->host_base + r->file_offset + (gpa - r->gpa);
	}
	return NULL;
}

int guest_memory_write(const struct guest_memory *mem, uint64_t gpa,
		       const void *src, uint64_t len)
{
	void *dst = guest_memory_ptr(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int guest_memory_read(const struct guest_memory *mem, uint64_t gpa,
		      void *dst, uint64_t len)
{
	const void *src = guest_memory_ptr(mem, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

uint64_t guest_memory_low_end(const struct guest_memory *mem)
{
	return mem->nr_regions ? mem->regions[0].size : 0;
}
