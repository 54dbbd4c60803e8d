/* The mapped dma-bufs of a mediated display: one VFIO_DEVICE_GET_GFX_DMABUF
 * per id while it is held, at most VFIO_DMABUF_CACHE_SIZE held (the least
 * recently used goes), nothing left open after a clear; a buffer the
 * device refuses is an error, not an entry, and one it gives that cannot
 * be sized or mapped is held with its error, not asked for again. */
#include "check.h"

#include <errno.h>
#include <unistd.h>

#include "../../devices/vfio/vfio_dmabuf_cache.h"
#include "fake_gfx_device.h"
#include "open_fds.h"

#define PAGE 4096u

static struct fake_gfx_device dev;
static struct vfio_dmabuf_cache cache;

static const struct vfio_dmabuf *get(uint32_t id, int *error)
{
	*error = 0;
	return vfio_dmabuf_cache_get(&cache, &fake_gfx_device_ops, &dev, id, error);
}

static void set_up(void)
{
	fake_gfx_device_init(&dev);
	vfio_dmabuf_cache_init(&cache);
	for (uint32_t id = 0; id < FAKE_GFX_BUFFERS; id++)
		fake_gfx_device_add_buffer(&dev, id, (id + 1) * PAGE);
}

static void tear_down(void)
{
	vfio_dmabuf_cache_clear(&cache);
	fake_gfx_device_destroy(&dev);
}

static void test_mapped_once_per_id(void)
{
	const struct vfio_dmabuf *b;
	int error;

	set_up();
	dev.buffers[2][100] = 0x5a;
	b = get(2, &error);
	CHECK(b != NULL);
	if (b) {
		CHECK_EQ(b->id, 2);
		CHECK_EQ(b->size, 3 * PAGE);
		CHECK_EQ(b->pixels[100], 0x5a);
	}
	/* The same buffer, not asked for again; and what the guest writes
	 * later shows through the mapping. */
	dev.buffers[2][101] = 0xa5;
	CHECK(get(2, &error) == b);
	CHECK_EQ(dev.gets[2], 1);
	if (b)
		CHECK_EQ(b->pixels[101], 0xa5);
	CHECK_EQ(vfio_dmabuf_cache_count(&cache), 1);
	tear_down();
}

static void test_bounded_least_recently_used_goes(void)
{
	int error;

	set_up();
	for (uint32_t id = 0; id < VFIO_DMABUF_CACHE_SIZE; id++)
		CHECK(get(id, &error) != NULL);
	CHECK_EQ(vfio_dmabuf_cache_count(&cache), VFIO_DMABUF_CACHE_SIZE);
	/* 0 is used again: 1 is now the oldest, and goes for a new one. */
	CHECK(get(0, &error) != NULL);
	CHECK(get(VFIO_DMABUF_CACHE_SIZE, &error) != NULL);
	CHECK_EQ(vfio_dmabuf_cache_count(&cache), VFIO_DMABUF_CACHE_SIZE);
	CHECK(get(0, &error) != NULL);
	CHECK_EQ(dev.gets[0], 1);
	CHECK(get(1, &error) != NULL);
	CHECK_EQ(dev.gets[1], 2);   /* it had been closed */
	tear_down();
}

static void test_clear_closes_everything(void)
{
	unsigned before;
	int error;

	set_up();
	before = open_fds();
	for (uint32_t id = 0; id < FAKE_GFX_BUFFERS; id++)
		get(id, &error);
	CHECK_EQ(open_fds(), before + VFIO_DMABUF_CACHE_SIZE);
	vfio_dmabuf_cache_clear(&cache);
	CHECK_EQ(vfio_dmabuf_cache_count(&cache), 0);
	CHECK_EQ(open_fds(), before);
	/* After a clear, an id is asked for afresh. */
	CHECK(get(0, &error) != NULL);
	CHECK_EQ(dev.gets[0], 2);
	tear_down();
}

static void test_errors(void)
{
	unsigned before;
	int error;

	set_up();
	before = open_fds();
	/* The device refuses. */
	dev.get_error = -ENOENT;
	CHECK(get(1, &error) == NULL);
	CHECK_EQ(error, -ENOENT);
	dev.get_error = 0;
	CHECK_EQ(vfio_dmabuf_cache_count(&cache), 0);
	/* A refusal leaves nothing open. */
	CHECK_EQ(open_fds(), before);
	tear_down();
}

static void test_unusable_buffers_are_held_not_asked_again(void)
{
	const struct vfio_dmabuf *b;
	unsigned before;
	int error;

	set_up();
	before = open_fds();
	/* A dma-buf of no size cannot hold a plane. */
	CHECK_EQ(ftruncate(dev.buffer_fds[3], 0), 0);
	for (int poll = 0; poll < 3; poll++) {
		b = get(3, &error);
		CHECK(b != NULL && !b->pixels && b->error == -EINVAL);
	}
	CHECK_EQ(dev.gets[3], 1);
	/* One the device gives but that cannot be mapped. */
	dev.unmappable = true;
	for (int poll = 0; poll < 3; poll++) {
		b = get(4, &error);
		CHECK(b != NULL && !b->pixels && b->error == -EACCES);
		if (b)
			CHECK_EQ(b->size, 5 * PAGE);
	}
	CHECK_EQ(dev.gets[4], 1);
	CHECK_EQ(vfio_dmabuf_cache_count(&cache), 2);
	CHECK_EQ(open_fds(), before + 2);
	vfio_dmabuf_cache_clear(&cache);
	CHECK_EQ(open_fds(), before);
	tear_down();
}

TEST_MAIN("vfio_dmabuf_cache",
	  TEST_CASE(test_mapped_once_per_id),
	  TEST_CASE(test_bounded_least_recently_used_goes),
	  TEST_CASE(test_clear_closes_everything),
	  TEST_CASE(test_errors),
	  TEST_CASE(test_unusable_buffers_are_held_not_asked_again))
