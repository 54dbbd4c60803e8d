/* The VFIO container and its DMA mappings (vfio_container.h). */
#include "vfio_container.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../../vmm/error_text.h"

int vfio_container_open(struct vfio_container *c, const char *dev_root, char *err,
			size_t errlen)
{
	char path[256];

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "%s/vfio/vfio", dev_root);
	c->fd = open(path, O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return write_error(err, errlen, "cannot open %s: %s", path, strerror(errno));
	if (ioctl(c->fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return write_error(err, errlen, "%s speaks another VFIO API version", path);
	if (ioctl(c->fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0 &&
	    ioctl(c->fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) <= 0)
		return write_error(err, errlen, "this host's VFIO has no type1 IOMMU "
				   "(modprobe vfio_iommu_type1)");
	return 0;
}

int vfio_container_set_iommu(struct vfio_container *c, char *err, size_t errlen)
{
	unsigned long type = ioctl(c->fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ?
			     VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU;

	if (c->iommu_set)
		return 0;
	if (ioctl(c->fd, VFIO_SET_IOMMU, type) < 0)
		return write_error(err, errlen, "VFIO_SET_IOMMU: %s", strerror(errno));
	c->iommu_set = true;
	return 0;
}

int vfio_container_map_region(struct vfio_container *c, uint64_t iova, uint64_t size,
			      void *host)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uint64_t)(uintptr_t)host,
		.iova = iova,
		.size = size,
	};

	if (c->nr_maps == VFIO_CONTAINER_MAX_MAPS)
		return -ENOSPC;
	if (ioctl(c->fd, VFIO_IOMMU_MAP_DMA, &map) < 0)
		return -errno;
	c->maps[c->nr_maps].iova = iova;
	c->maps[c->nr_maps].size = size;
	c->nr_maps++;
	return 0;
}

int vfio_container_unmap_region(struct vfio_container *c, uint64_t iova)
{
	for (unsigned i = 0; i < c->nr_maps; i++) {
		struct vfio_iommu_type1_dma_unmap unmap = {
			.argsz = sizeof(unmap), .iova = iova, .size = c->maps[i].size,
		};

		if (c->maps[i].iova != iova)
			continue;
		if (ioctl(c->fd, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0)
			return -errno;
		c->maps[i] = c->maps[--c->nr_maps];
		return 0;
	}
	return -ENOENT;
}

int vfio_container_map_ram(struct vfio_container *c, const struct guest_memory *mem,
			   char *err, size_t errlen)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];
		int ret = vfio_container_map_region(c, r->gpa, r->size,
						    mem->host_base + r->file_offset);

		if (ret == -ENOMEM)
			return write_error(err, errlen,
					   "cannot pin guest RAM for device DMA (VFIO_IOMMU_MAP_DMA: "
					   "out of memory; is 'ulimit -l' at least %" PRIu64 " KiB?)",
					   mem->ram_size / 1024);
		if (ret < 0)
			return write_error(err, errlen, "VFIO_IOMMU_MAP_DMA at 0x%" PRIx64 ": %s",
					   r->gpa, strerror(-ret));
	}
	return 0;
}

void vfio_container_close(struct vfio_container *c)
{
	if (c->fd < 0)
		return;
	while (c->nr_maps && vfio_container_unmap_region(c, c->maps[0].iova) == 0)
		;
	close(c->fd);
	c->fd = -1;
}
