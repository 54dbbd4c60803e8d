/* BAR layout arithmetic for passed-through devices (vfio_bar.h). */
#include "vfio_bar.h"

#include <inttypes.h>

#include "../../vmm/error_text.h"

#define BAR_IO_SPACE       0x1
#define BAR_MEM_TYPE_MASK  0x6
#define BAR_MEM_TYPE_64    0x4
#define BAR_MEM_PREFETCH   0x8

/* What pci.h accepts for each kind. */
#define IO_MIN_SIZE        4ull
#define IO_MAX_SIZE        256ull
#define MEM_MIN_SIZE       4096ull
#define MEM32_MAX_SIZE     (1ull << 31)
#define MEM64_MAX_SIZE     (1ull << 62)

enum pci_bar_kind vfio_bar_kind(uint32_t bar_register, bool *prefetchable)
{
	*prefetchable = false;
	if (bar_register & BAR_IO_SPACE)
		return PCI_BAR_IO;
	*prefetchable = bar_register & BAR_MEM_PREFETCH;
	return (bar_register & BAR_MEM_TYPE_MASK) == BAR_MEM_TYPE_64 ? PCI_BAR_MEM64
								      : PCI_BAR_MEM32;
}

static uint64_t round_up_pow2(uint64_t v)
{
	uint64_t p = 1;

	while (p < v && p < (1ull << 63))
		p <<= 1;
	return p;
}

bool vfio_range_contains(const struct vfio_range *r, uint64_t offset, uint64_t len)
{
	return offset >= r->offset && offset - r->offset < r->size &&
	       len <= r->size - (offset - r->offset);
}

/* Appends [start, end) when it is not empty and there is room. */
static void add_piece(struct vfio_bar_layout *out, uint64_t start, uint64_t end)
{
	if (start >= end || out->nr_pieces == VFIO_BAR_MAX_PIECES)
		return;
	out->pieces[out->nr_pieces++] = (struct vfio_range){ start, end - start };
}

/* The end of the last page [offset, offset+size) touches, saturating. */
static uint64_t page_end(uint64_t offset, uint64_t size, uint64_t page)
{
	uint64_t end = size > UINT64_MAX - offset ? UINT64_MAX : offset + size;

	return end > UINT64_MAX - page ? UINT64_MAX & ~(page - 1)
				       : (end + page - 1) & ~(page - 1);
}

/* Adds [start, end) minus every trap (widened to whole pages). */
static void add_area(struct vfio_bar_layout *out, uint64_t start, uint64_t end,
		     const struct vfio_range *traps, unsigned nr_traps, uint64_t page)
{
	for (unsigned i = 0; i < nr_traps && start < end; i++) {
		uint64_t t_start, t_end;

		if (!traps[i].size || traps[i].offset >= end)
			continue;
		t_start = traps[i].offset & ~(page - 1);
		t_end = page_end(traps[i].offset, traps[i].size, page);
		if (t_end <= start || t_start >= end)
			continue;
		/* The part below the trap is final; the part above may meet
		 * later traps. */
		if (t_start > start)
			add_area(out, start, t_start, traps + i + 1, nr_traps - i - 1, page);
		start = t_end;
	}
	add_piece(out, start, end);
}

int vfio_bar_layout(struct vfio_bar_layout *out, uint32_t bar_register, uint64_t region_size,
		    const struct vfio_range *mmap_areas, unsigned nr_mmap_areas,
		    const struct vfio_range *traps, unsigned nr_traps, uint64_t page_size,
		    char *err, size_t errlen)
{
	uint64_t min, max;

	*out = (struct vfio_bar_layout){ .region_size = region_size };
	if (!region_size)
		return 0;
	out->kind = vfio_bar_kind(bar_register, &out->prefetchable);
	switch (out->kind) {
	case PCI_BAR_IO:
		min = IO_MIN_SIZE, max = IO_MAX_SIZE;
		break;
	case PCI_BAR_MEM32:
		min = MEM_MIN_SIZE, max = MEM32_MAX_SIZE;
		break;
	default:
		min = MEM_MIN_SIZE, max = MEM64_MAX_SIZE;
		break;
	}
	if (region_size > max) {
		out->kind = PCI_BAR_UNUSED;
		return write_error(err, errlen, "a BAR of 0x%" PRIx64 " bytes is larger than its "
				   "type allows (0x%" PRIx64 ")", region_size, max);
	}
	out->size = round_up_pow2(region_size < min ? min : region_size);
	/* Port I/O always exits; and a page-size that is not a power of two
	 * would be a broken caller. */
	if (out->kind == PCI_BAR_IO || !page_size || (page_size & (page_size - 1)))
		return 0;
	for (unsigned i = 0; i < nr_mmap_areas; i++) {
		uint64_t start = mmap_areas[i].offset, end;

		if (start >= region_size)
			continue;
		end = mmap_areas[i].size > region_size - start ? region_size
							       : start + mmap_areas[i].size;
		/* Only whole pages can be a memory slot. */
		start = (start + page_size - 1) & ~(page_size - 1);
		end &= ~(page_size - 1);
		if (start < end)
			add_area(out, start, end, traps, nr_traps, page_size);
	}
	return 0;
}
