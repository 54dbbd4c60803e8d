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
	if (b->pixels)
		munmap((void *)b->pixels, b->size);
	close(b->fd);
	*b = (struct vfio_dmabuf){ 0 };
}

/* Sizes and maps the dma-buf fd into b, or sets b's error. */
static void map_dmabuf(struct vfio_dmabuf *b)
{
	/* A dma-buf's size is the end its llseek reports. */
	off_t size = lseek(b->fd, 0, SEEK_END);
	void *map;

	if (size <= 0) {
		b->error = size < 0 ? -errno : -EINVAL;
		return;
	}
	b->size = (uint64_t)size;
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, b->fd, 0);
	if (map == MAP_FAILED) {
		b->error = -errno;
		return;
	}
	b->pixels = map;
}

/* Gets dma-buf id into b, mapped or with its error. 0, or -errno when the
 * device gave no dma-buf (b is left unused). */
static int open_dmabuf(struct vfio_dmabuf *b, const struct vfio_gfx_ops *ops, void *ctx,
		       uint32_t id)
{
	int fd = ops->get_dmabuf(ctx, id);

	if (fd < 0)
		return fd;
	*b = (struct vfio_dmabuf){ .used = true, .id = id, .fd = fd };
	map_dmabuf(b);
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
