/* A VFIO container with the type1 IOMMU: one I/O address space for every
 * passed-through group, in which each guest RAM region is mapped for DMA
 * at its guest physical address (so the device's DMA addresses are the
 * guest's). map_region/unmap_region keep it in step with the memory map. */
#ifndef GVMM_VFIO_CONTAINER_H
#define GVMM_VFIO_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../vmm/guest_memory.h"

#define VFIO_CONTAINER_MAX_MAPS  GUEST_MEMORY_MAX_REGIONS

struct vfio_container {
	int fd;
	bool iommu_set;
	unsigned nr_maps;
	struct { uint64_t iova, size; } maps[VFIO_CONTAINER_MAX_MAPS];
};

/* Opens dev_root/vfio/vfio and checks the API and type1 support. Returns
 * 0, or -1 with one line in err. */
int vfio_container_open(struct vfio_container *c, const char *dev_root, char *err,
			size_t errlen);
/* Picks the type1 IOMMU; once, after the first group joined. */
int vfio_container_set_iommu(struct vfio_container *c, char *err, size_t errlen);
/* Maps every region of mem for DMA. */
int vfio_container_map_ram(struct vfio_container *c, const struct guest_memory *mem,
			   char *err, size_t errlen);
int vfio_container_map_region(struct vfio_container *c, uint64_t iova, uint64_t size,
			      void *host);
int vfio_container_unmap_region(struct vfio_container *c, uint64_t iova);
/* Unmaps everything and closes; safe on a container never opened (fd -1). */
void vfio_container_close(struct vfio_container *c);

#endif
