/* Linux AIO completions read straight from the kernel's ring (aio_ring.h). */
#include "aio_ring.h"

#include <stdint.h>

/* The kernel's ring header (fs/aio.c), a user-visible layout: the kernel
 * writes events at tail and moves tail; the reader takes them at head and
 * moves head. Both stay below nr. */
struct aio_ring {
	uint32_t id;
	uint32_t nr;                  /* events the ring holds */
	uint32_t head;
	uint32_t tail;
	uint32_t magic;
	uint32_t compat_features;
	uint32_t incompat_features;
	uint32_t header_length;       /* of this header */
	struct io_event events[];
};

#define AIO_RING_MAGIC 0xa10a10a1u

struct aio_ring *aio_ring_of(io_context_t ctx)
{
	struct aio_ring *ring = (struct aio_ring *)ctx;

	if (!ring || ring->magic != AIO_RING_MAGIC || ring->incompat_features != 0 ||
	    ring->header_length != sizeof(*ring) || ring->nr == 0)
		return NULL;
	return ring;
}

unsigned aio_ring_take(struct aio_ring *ring, struct io_event *events, unsigned max)
{
	uint32_t nr = ring->nr;
	uint32_t head = ring->head;
	/* Acquire: the events before tail are written before tail is. */
	uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	unsigned n = 0;

	/* The kernel keeps both below nr; anything else is not a ring to read. */
	if (head >= nr || tail >= nr)
		return 0;
	while (head != tail && n < max) {
		events[n++] = ring->events[head];
		head = head + 1 == nr ? 0 : head + 1;
	}
	/* Release: the events are copied out before the kernel may reuse
	 * their slots. */
	if (n)
		__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
	return n;
}
