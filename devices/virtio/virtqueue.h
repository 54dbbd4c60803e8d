/* Split virtqueues (virtio 1.2, section 2.7), as the device side sees them.
 * Every ring field comes from guest memory that the guest may change at
 * any time; the walker trusts none of it. A chain that loops, leaves guest
 * RAM, overflows a length, is longer than the queue, nests indirect
 * tables, or puts a device-readable descriptor after a device-writable one
 * is refused with a reason; the transport then marks the device
 * NEEDS_RESET. Pure over struct guest_memory: fuzzers call it without KVM. */
#ifndef GVMM_VIRTQUEUE_H
#define GVMM_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../../vmm/guest_memory.h"

#define VIRTQ_MAX_SIZE       1024     /* largest queue gvmm offers */
#define VIRTQ_MAX_CHAIN_IOV  VIRTQ_MAX_SIZE

#define VIRTQ_DESC_F_NEXT       1
#define VIRTQ_DESC_F_WRITE      2
#define VIRTQ_DESC_F_INDIRECT   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY  1

#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29

struct virtq {
	const struct guest_memory *mem;
	uint16_t size;                  /* power of two, <= VIRTQ_MAX_SIZE */
	bool ready;
	bool event_idx;                 /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;                  /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail_idx;        /* next avail entry the device takes */
	uint16_t used_idx;              /* next used entry the device writes */
	uint16_t signalled_used;        /* used_idx at the last interrupt */
	bool signalled_used_valid;
	/* The device re-arms notifications itself, with virtq_enable_notify
	 * once it stops looking at the ring on its own; virtq_pop_chain then
	 * leaves them as they are when the ring is empty. */
	bool manual_rearm;
};

/* One request: device-readable buffers first (out), then device-writable
 * ones (in), each a host pointer straight into guest RAM. */
struct virtq_chain {
	uint16_t head;
	unsigned nr_out;
	unsigned nr_in;
	uint64_t out_len;               /* bytes in the out buffers */
	uint64_t in_len;                /* bytes the device may write */
	struct iovec iov[VIRTQ_MAX_CHAIN_IOV];  /* out then in */
};

enum virtq_pop_result {
	VIRTQ_POP_EMPTY,                /* nothing new in the avail ring */
	VIRTQ_POP_CHAIN,                /* *chain holds a request */
	VIRTQ_POP_BROKEN,               /* the guest broke the ring; why says how */
};

/* Checks the rings lie in guest RAM (call when the driver sets queue ready).
 * Returns 0 or -1 with why. */
int virtq_init(struct virtq *vq, const struct guest_memory *mem, uint16_t size,
	       uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
	       bool event_idx, bool indirect, char *why, size_t whylen);
void virtq_reset(struct virtq *vq);

enum virtq_pop_result virtq_pop_chain(struct virtq *vq, struct virtq_chain *chain,
				      char *why, size_t whylen);
/* Returns a chain to the guest with written bytes; -1 when the ring is gone. */
int virtq_push_used(struct virtq *vq, uint16_t head, uint32_t written);
/* Returns n chains at once: the driver sees all of them or none of them
 * (a network frame spread over several mergeable buffers). */
int virtq_push_used_n(struct virtq *vq, const uint16_t *heads, const uint32_t *written,
		      unsigned n);
/* Gives back the last n chains popped and not pushed, in order: they will
 * be popped again (a device that took buffers and then had nothing to put
 * in them, or could not pass a request on yet). */
void virtq_unpop(struct virtq *vq, unsigned n);
/* Whether the guest wants an interrupt for what was pushed since the last
 * one (EVENT_IDX's used_event, or the NO_INTERRUPT flag); records it. */
bool virtq_should_interrupt(struct virtq *vq);
/* Device-side notification suppression while a device thread drains the
 * queue: disable, drain, enable; enable returns true when more arrived. */
void virtq_disable_notify(struct virtq *vq);
bool virtq_enable_notify(struct virtq *vq);

/* Copies from/to a chain's buffers, for small headers and status bytes. */
size_t virtq_chain_copy_from_out(const struct virtq_chain *chain, uint64_t offset,
				 void *dst, size_t len);
size_t virtq_chain_copy_to_in(const struct virtq_chain *chain, uint64_t offset,
			      const void *src, size_t len);

#endif
