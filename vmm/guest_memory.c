#include "guest_memory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../firmware/guest_layout.h"

#define HUGEPAGE_SIZE (2ULL << 20)

int guest_memory_create(struct guest_memory *mem, uint64_t ram_size,
			bool hugepages, char *err, size_t errlen)
{
	unsigned int flags = MFD_CLOEXEC | (hugepages ? MFD_HUGETLB : 0);
	uint64_t low;
	void *base;

	memset(mem, 0, sizeof(*mem));
	mem->memfd = -1;
	if (hugepages && ram_size % HUGEPAGE_SIZE) {
		snprintf(err, errlen, "--hugepages needs memory in whole 2 MiB pages");
		return -EINVAL;
	}
	mem->memfd = memfd_create("gvmm-ram", flags);
	if (mem->memfd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot create guest RAM (memfd%s): %s",
			 hugepages ? " with hugepages" : "", strerror(e));
		return -e;
	}
	if (ftruncate(mem->memfd, (off_t)ram_size) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot size guest RAM to %llu bytes: %s",
			 (unsigned long long)ram_size, strerror(e));
		close(mem->memfd);
		mem->memfd = -1;
		return -e;
	}
	base = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_NORESERVE, mem->memfd, 0);
	if (base == MAP_FAILED) {
		int e = errno;
		snprintf(err, errlen, "cannot map %llu bytes of guest RAM: %s%s",
			 (unsigned long long)ram_size, strerror(e),
			 hugepages && e == ENOMEM ?
			 " (are enough hugepages reserved in /proc/sys/vm/nr_hugepages?)" : "");
		close(mem->memfd);
		mem->memfd = -1;
		return -e;
	}
	/* Guest RAM is not worth a core dump's space and may hold secrets. */
	madvise(base, ram_size, MADV_DONTDUMP);

	mem->host_base = base;
	mem->ram_size = ram_size;
	mem->hugepages = hugepages;
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
