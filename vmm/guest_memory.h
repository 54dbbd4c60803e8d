/* Guest RAM: one mapping in gvmm, split into regions around the PCI hole.
 * By default it is anonymous memory that the kernel may back with
 * transparent huge pages: KVM then maps the guest with 2 MiB pages, and a
 * guest on small pages pays for a TLB and page-walk miss at every turn.
 * A memfd (shared=on) is there for consumers that need the pages by fd
 * (vhost-user back ends, udmabuf); hugetlbfs pages when reserved. Every
 * access to guest memory by address goes through the checked helpers
 * below: a guest-supplied address and length either lie wholly inside one
 * RAM region or the access fails. */
#ifndef GVMM_GUEST_MEMORY_H
#define GVMM_GUEST_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEMORY_MAX_REGIONS 4

enum guest_ram_backing {
	GUEST_RAM_ANONYMOUS,  /* private, transparent huge pages advised */
	GUEST_RAM_MEMFD,      /* a memfd mapped shared: other processes may map it */
	GUEST_RAM_HUGETLB,    /* a memfd of reserved 2 MiB hugetlbfs pages */
};

struct guest_region {
	uint64_t gpa;         /* guest physical start */
	uint64_t size;
	uint64_t file_offset; /* offset in host_base (and in the memfd, if any) */
};

struct guest_memory {
	int memfd;            /* -1 for anonymous RAM */
	uint8_t *host_base;   /* all of RAM, 2 MiB aligned */
	uint64_t ram_size;    /* bytes of RAM in all regions */
	enum guest_ram_backing backing;
	unsigned nr_regions;
	struct guest_region regions[GUEST_MEMORY_MAX_REGIONS];
};

/* Creates RAM of ram_size bytes laid out around the PCI hole. Returns 0, or
 * -errno with a message in err. */
int guest_memory_create(struct guest_memory *mem, uint64_t ram_size,
			enum guest_ram_backing backing, char *err, size_t errlen);
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
