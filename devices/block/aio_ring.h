/* Linux AIO completions read straight from the kernel's ring.
 *
 * io_setup maps the context's completion ring into this process and
 * returns its address as the context. Events can be taken from it with
 * plain loads and a store of the head, as io_getevents would take them,
 * but without a system call: none per batch of completions on the disk's
 * hot path, where io_getevents took one, and one more to find the ring
 * empty. A kernel whose ring has a layout this code does
 * not know (another magic, or incompatible features) is left to
 * io_getevents. */
#ifndef GVMM_AIO_RING_H
#define GVMM_AIO_RING_H

#include <libaio.h>

struct aio_ring;

/* The ring of ctx, or NULL when it must be read through io_getevents. */
struct aio_ring *aio_ring_of(io_context_t ctx);

/* Copies up to max completed events into events, oldest first, and gives
 * their slots back to the kernel. Returns how many. Only one thread may
 * take events from a context, by this or by io_getevents. */
unsigned aio_ring_take(struct aio_ring *ring, struct io_event *events, unsigned max);

#endif
