/* A mediated display's mapped dma-bufs (vfio_dmabuf_cache.h). */
#include "vfio_dmabuf_cache.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

void vfio_dmabuf_cache_init(struct vfio_dmabuf_cache *c)
{
	*c = (struct vfio_dmabuf_cache){ 0 };
}

static void drop(struct vfio_dmabuf *b)
{
	if (!b->used)
		return;
	/* The mapping holds the dma-buf too: it goes first, so that closing
	 * the fd lets the device free the buffer. */
	munmap((void *)b->pixels, b->size);
	close(b->fd);
	*b = (struct vfio_dmabuf){ 0 };
}

/* Gets, sizes and maps dma-buf id into b. 0 or -errno. */
static int open_dmabuf(struct vfio_dmabuf *b, const struct vfio_gfx_ops *ops, void *ctx,
		       uint32_t id)
{
	int fd = ops->get_dmabuf(ctx, id);
	off_t size;
	void *map;
	int ret;

	if (fd < 0)
		return fd;
	/* A dma-buf's size is the end its llseek reports. */
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0) {
		ret = size < 0 ? -errno : -EINVAL;
		close(fd);
		return ret;
	}
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*b = (struct vfio_dmabuf){ .used = true, .id = id, .fd = fd, .pixels = map,
				   .size = (uint64_t)size };
	return 0;
}

const struct vfio_dmabuf *vfio_dmabuf_cache_get(struct vfio_dmabuf_cache *c,
						const struct vfio_gfx_ops *ops, void *ctx,
						uint32_t id, int *error)
{
	struct vfio_dmabuf *slot = NULL;
	int ret;

	c->clock++;
	for (unsigned i = 0; i < VFIO_DMABUF_CACHE_SIZE; i++) {
		struct vfio_dmabuf *b = &c->entries[i];

		if (b->used && b->id == id) {
			b->last_used = c->clock;
			return b;
		}
		/* A free slot, else the one used longest ago. */
		if (!slot || (slot->used && (!b->used || b->last_used < slot->last_used)))
			slot = b;
	}
	drop(slot);
	ret = open_dmabuf(slot, ops, ctx, id);
	if (ret < 0) {
		*error = ret;
		return NULL;
	}
	slot->last_used = c->clock;
	return slot;
}

unsigned vfio_dmabuf_cache_count(const struct vfio_dmabuf_cache *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < VFIO_DMABUF_CACHE_SIZE; i++)
		n += c->entries[i].used;
	return n;
}

void vfio_dmabuf_cache_clear(struct vfio_dmabuf_cache *c)
{
	for (unsigned i = 0; i < VFIO_DMABUF_CACHE_SIZE; i++)
		drop(&c->entries[i]);
}
