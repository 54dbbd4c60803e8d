/* The guest's physical memory map as the firmware reports it: the e820
 * table of the Linux boot protocol, and the same list for PVH, whose
 * memmap uses the same type numbers. Built from the RAM regions of
 * struct guest_memory and the fixed areas of firmware/guest_layout.h. */
#ifndef GVMM_E820_H
#define GVMM_E820_H

#include <stddef.h>
#include <stdint.h>

#include "../vmm/guest_memory.h"

enum e820_type {
	E820_TYPE_RAM      = 1,
	E820_TYPE_RESERVED = 2,
	E820_TYPE_ACPI     = 3,  /* ACPI tables the OS may reclaim */
	E820_TYPE_NVS      = 4,
	E820_TYPE_UNUSABLE = 5,
};

/* Laid out as the zero page's e820_table holds it. */
struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry is 20 bytes");

/* The most entries e820_build() ever produces: three fixed reserved
 * ranges, and each RAM region split at most in two around them. */
#define E820_BUILD_MAX_ENTRIES (3 + 2 * GUEST_MEMORY_MAX_REGIONS)

/* Fills out with the guest's map, sorted by address, with no overlaps.
 * Returns the number of entries, or 0 when max is below what the map
 * needs: a truncated map would hide RAM or, worse, the holes. */
size_t e820_build(const struct guest_memory *mem, struct e820_entry *out,
		  size_t max);

/* The PVH memmap type for an e820 type. */
uint32_t e820_type_to_pvh(uint32_t e820_type);

#endif
