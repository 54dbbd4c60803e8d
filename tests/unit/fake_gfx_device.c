/* The test's mediated display device: see fake_gfx_device.h. */
#include "fake_gfx_device.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int query_plane(void *ctx, struct vfio_device_gfx_plane_info *plane)
{
	struct fake_gfx_device *f = ctx;
	uint32_t type = plane->flags & ~VFIO_GFX_PLANE_TYPE_PROBE;

	if (plane->flags & VFIO_GFX_PLANE_TYPE_PROBE) {
		f->probes++;
		return type & f->plane_types ? 0 : -EINVAL;
	}
	f->queries++;
	if (f->query_error)
		return f->query_error;
	if (!(type & f->plane_types) || plane->argsz < sizeof(*plane))
		return -EINVAL;
	*plane = f->plane;
	plane->argsz = sizeof(*plane);
	plane->flags = type;
	return 0;
}

static int get_dmabuf(void *ctx, uint32_t id)
{
	struct fake_gfx_device *f = ctx;
	int fd;

	if (f->get_error)
		return f->get_error;
	if (id >= FAKE_GFX_BUFFERS || f->buffer_fds[id] < 0)
		return -ENOENT;
	f->gets[id]++;
	/* A new fd each time, as the ioctl gives. Write-only, it still
	 * tells its size but cannot be mapped for reading (as a device's
	 * dma-buf whose own mmap refuses the mapping). */
	if (f->unmappable) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", f->buffer_fds[id]);
		fd = open(path, O_WRONLY | O_CLOEXEC);
	} else {
		fd = dup(f->buffer_fds[id]);
	}
	return fd < 0 ? -errno : fd;
}

static int region(void *ctx, uint32_t index, struct vfio_gfx_region *out)
{
	struct fake_gfx_device *f = ctx;

	f->region_lookups++;
	if (f->region_error)
		return f->region_error;
	if (f->region.fd < 0 || index != f->region_index)
		return -EINVAL;
	*out = f->region;
	return 0;
}

const struct vfio_gfx_ops fake_gfx_device_ops = { query_plane, get_dmabuf, region };

void fake_gfx_device_init(struct fake_gfx_device *f)
{
	memset(f, 0, sizeof(*f));
	for (unsigned i = 0; i < FAKE_GFX_BUFFERS; i++)
		f->buffer_fds[i] = -1;
	f->region.fd = -1;
}

/* A memfd of size bytes, mapped writable at offset. */
static uint8_t *memfd_of(size_t size, uint64_t offset, int *fd)
{
	void *map;

	*fd = memfd_create("fake-gfx", MFD_CLOEXEC);
	if (*fd < 0 || ftruncate(*fd, (off_t)(offset + size)) < 0)
		abort();
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, (off_t)offset);
	if (map == MAP_FAILED)
		abort();
	return map;
}

uint8_t *fake_gfx_device_add_buffer(struct fake_gfx_device *f, uint32_t id, size_t size)
{
	f->buffers[id] = memfd_of(size, 0, &f->buffer_fds[id]);
	f->buffer_sizes[id] = size;
	return f->buffers[id];
}

uint8_t *fake_gfx_device_add_region(struct fake_gfx_device *f, uint32_t index, size_t size,
				    uint64_t offset, bool mappable)
{
	int fd;

	f->region_pixels = memfd_of(size, offset, &fd);
	f->region_index = index;
	f->region = (struct vfio_gfx_region){ fd, offset, size, mappable };
	return f->region_pixels;
}

void fake_gfx_device_destroy(struct fake_gfx_device *f)
{
	for (unsigned i = 0; i < FAKE_GFX_BUFFERS; i++) {
		if (f->buffer_fds[i] < 0)
			continue;
		munmap(f->buffers[i], f->buffer_sizes[i]);
		close(f->buffer_fds[i]);
	}
	if (f->region.fd >= 0) {
		munmap(f->region_pixels, f->region.size);
		close(f->region.fd);
	}
	fake_gfx_device_init(f);
}
