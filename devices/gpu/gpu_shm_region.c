#include "gpu_shm_region.h"

#include <errno.h>
#include <string.h>

void gpu_shm_region_init(struct gpu_shm_region *r, uint64_t size)
{
	memset(r, 0, sizeof(*r));
	r->size = size - size % GPU_SHM_PAGE;
}

const struct gpu_shm_mapping *gpu_shm_region_find(const struct gpu_shm_region *r,
						  uint32_t resource_id)
{
	for (unsigned i = 0; i < r->nr_mappings; i++)
		if (r->mappings[i].resource_id == resource_id)
			return &r->mappings[i];
	return NULL;
}

/* Where a mapping at offset goes to keep them sorted. */
static unsigned position_of(const struct gpu_shm_region *r, uint64_t offset)
{
	unsigned i = 0;

	while (i < r->nr_mappings && r->mappings[i].offset < offset)
		i++;
	return i;
}

int gpu_shm_region_claim(struct gpu_shm_region *r, uint64_t offset, uint64_t size,
			 uint32_t resource_id)
{
	unsigned at;

	/* offset <= r->size first, so the subtraction cannot wrap. */
	if (!size || offset % GPU_SHM_PAGE || size % GPU_SHM_PAGE || offset > r->size ||
	    size > r->size - offset)
		return -EINVAL;
	if (gpu_shm_region_find(r, resource_id))
		return -EBUSY;
	at = position_of(r, offset);
	/* Sorted and disjoint: only the neighbours can overlap. */
	if (at > 0 && r->mappings[at - 1].offset + r->mappings[at - 1].size > offset)
		return -EBUSY;
	if (at < r->nr_mappings && offset + size > r->mappings[at].offset)
		return -EBUSY;
	if (r->nr_mappings == GPU_SHM_MAX_MAPPINGS)
		return -ENOSPC;
	memmove(&r->mappings[at + 1], &r->mappings[at],
		(r->nr_mappings - at) * sizeof(r->mappings[0]));
	r->mappings[at] = (struct gpu_shm_mapping){
		.offset = offset, .size = size, .resource_id = resource_id,
	};
	r->nr_mappings++;
	return 0;
}

bool gpu_shm_region_release(struct gpu_shm_region *r, uint32_t resource_id)
{
	const struct gpu_shm_mapping *m = gpu_shm_region_find(r, resource_id);
	unsigned at;

	if (!m)
		return false;
	at = (unsigned)(m - r->mappings);
	memmove(&r->mappings[at], &r->mappings[at + 1],
		(r->nr_mappings - at - 1) * sizeof(r->mappings[0]));
	r->nr_mappings--;
	return true;
}
