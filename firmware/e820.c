#include "e820.h"

#include "guest_layout.h"

static void add_entry(struct e820_entry *table, size_t *count,
		      uint64_t addr, uint64_t size, uint32_t type)
{
	if (size == 0)
		return;
	table[(*count)++] = (struct e820_entry){
		.addr = addr, .size = size, .type = type };
}

/* RAM of one region, less the EBDA-to-1-MiB range, which the legacy hole
 * and firmware areas own whatever RAM lies beneath them. */
static void add_region_ram(struct e820_entry *table, size_t *count,
			   const struct guest_region *region)
{
	uint64_t start = region->gpa;
	uint64_t end = region->gpa + region->size;

	if (region->size == 0 || end < start)
		return;
	if (start < GUEST_EBDA_START)
		add_entry(table, count, start,
			  (end < GUEST_EBDA_START ? end : GUEST_EBDA_START) - start,
			  E820_TYPE_RAM);
	if (end > GUEST_KERNEL_ADDR) {
		uint64_t from = start > GUEST_KERNEL_ADDR ? start : GUEST_KERNEL_ADDR;

		add_entry(table, count, from, end - from, E820_TYPE_RAM);
	}
}

size_t e820_build(const struct guest_memory *mem, struct e820_entry *out,
		  size_t max)
{
	struct e820_entry table[E820_BUILD_MAX_ENTRIES];
	size_t count = 0;
	unsigned nr_regions = mem->nr_regions < GUEST_MEMORY_MAX_REGIONS ?
			      mem->nr_regions : GUEST_MEMORY_MAX_REGIONS;

	add_entry(table, &count, GUEST_EBDA_START,
		  GUEST_LEGACY_HOLE_START - GUEST_EBDA_START, E820_TYPE_RESERVED);
	/* Reserved, not ACPI-reclaimable: the RSDP must stay findable. */
	add_entry(table, &count, GUEST_ACPI_START,
		  GUEST_ACPI_END - GUEST_ACPI_START, E820_TYPE_RESERVED);
	/* Without this the guest kernel rejects MMCONFIG as not reserved. */
	add_entry(table, &count, GUEST_ECAM_START, GUEST_ECAM_SIZE,
		  E820_TYPE_RESERVED);
	for (unsigned i = 0; i < nr_regions; i++)
		add_region_ram(table, &count, &mem->regions[i]);

	for (size_t i = 1; i < count; i++) {
		struct e820_entry moving = table[i];
		size_t j = i;

		for (; j > 0 && table[j - 1].addr > moving.addr; j--)
			table[j] = table[j - 1];
		table[j] = moving;
	}

	if (count > max)
		return 0;
	for (size_t i = 0; i < count; i++)
		out[i] = table[i];
	return count;
}

uint32_t e820_type_to_pvh(uint32_t e820_type)
{
	switch (e820_type) {
	case E820_TYPE_RAM:
	case E820_TYPE_RESERVED:
	case E820_TYPE_ACPI:
	case E820_TYPE_NVS:
	case E820_TYPE_UNUSABLE:
		/* The PVH ABI chose the e820 numbering on purpose. */
		return e820_type;
	default:
		return E820_TYPE_RESERVED;
	}
}
