/* Guest RAM: one memfd, mapped once into gvmm, split into regions around
 * the PCI hole. The memfd lets later consumers (SPICE, VFIO DMA, a GPU
 * thread) map the same pages. Every access to guest memory by address goes
 * through the checked helpers below: a guest-supplied address and length
 * either lie wholly inside one RAM region or the access fails. */
#ifndef GVMM_GUEST_MEMORY_H
#define GVMM_GUEST_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEMORY_MAX_REGIONS 4

struct guest_region {
	uint64_t gpa;         /* guest physical start */
	uint64_t size;
	uint64_t file_offset; /* offset in the memfd and in host_base */
};

struct guest_memory {
	int memfd;
	uint8_t *host_base;   /* the whole memfd, mapped shared */
	uint64_t ram_size;    /* bytes of RAM in all regions */
	bool hugepages;
	unsigned nr_regions;
	struct guest_region regions[GUEST_MEMORY_MAX_REGIONS];
};

/* Creates RAM of ram_size bytes laid out around the PCI hole. Returns 0, or
 * -errno with a message in err. */
int guest_memory_create(struct guest_memory *mem, uint64_t ram_size,
			bool hugepages, char *err, size_t errlen);
void guest_memory_destroy(struct guest_memory *mem);

/* Host pointer for [gpa, gpa+len) when the range is RAM in one region,
 * else NULL. len 0 is treated as 1 byte for the check. */
void *guest_memory_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len);

/* Copies; return 0 or -EFAULT when the range is not RAM. */
int guest_memory_write(const struct guest_memory *mem, uint64_t gpa,
		       const void *src, uint64_t len);
int guest_memory_read(const struct guest_memory *mem, uint64_t gpa,
		      void *dst, uint64_t len);

/* End of RAM below the PCI hole (exclusive). */
uint64_t guest_memory_low_end(const struct guest_memory *mem);

#endif
