/* The bookkeeping of virtio-gpu's host-visible shared-memory region
 * (virtio 1.2, 5.7.5, VIRTIO_GPU_SHM_ID_HOST_VISIBLE): which ranges of it
 * hold a mapped blob, and of which resource. The guest picks the offset
 * of each mapping (RESOURCE_MAP_BLOB), so everything is checked: a range
 * must be page aligned, lie inside the region, overlap no other, and a
 * resource is mapped at most once. The number of mappings is bounded,
 * since each costs a KVM memory slot.
 *
 * Plain data, one thread (the GPU's). */
#ifndef GVMM_GPU_SHM_REGION_H
#define GVMM_GPU_SHM_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GPU_SHM_PAGE          4096ull
/* KVM offers a few hundred memory slots; guest RAM takes up to four. */
#define GPU_SHM_MAX_MAPPINGS  256

struct gpu_shm_mapping {
	uint64_t offset, size;       /* in the region; page multiples */
	uint32_t resource_id;
};

struct gpu_shm_region {
	uint64_t size;               /* a page multiple; 0: no region */
	struct gpu_shm_mapping mappings[GPU_SHM_MAX_MAPPINGS];   /* by offset */
	unsigned nr_mappings;
};

void gpu_shm_region_init(struct gpu_shm_region *r, uint64_t size);

/* Records resource_id mapped at [offset, offset + size). Returns 0;
 * -EINVAL for an empty, unaligned or outside range; -EBUSY where it
 * overlaps a mapping or the resource is mapped already; -ENOSPC when
 * every mapping is taken. */
int gpu_shm_region_claim(struct gpu_shm_region *r, uint64_t offset, uint64_t size,
			 uint32_t resource_id);
/* The resource's mapping, or NULL. */
const struct gpu_shm_mapping *gpu_shm_region_find(const struct gpu_shm_region *r,
						  uint32_t resource_id);
/* Forgets the resource's mapping; false if it had none. */
bool gpu_shm_region_release(struct gpu_shm_region *r, uint32_t resource_id);

#endif
