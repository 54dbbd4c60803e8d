/* Requests held until their fence signals (virtio 1.2, 5.7.6.10 and the
 * context-init rings of VIRTIO_GPU_F_CONTEXT_INIT): a fenced 3D request
 * is answered only when the renderer says the work before the fence is
 * done. Each held request is named by an opaque token (the device's
 * chain); they complete out of the order they came in, but in fence
 * order on each ring, as the guest expects: a signalled fence completes
 * every earlier fence of its ring too.
 *
 * Rings: the device's global timeline (fence ids compared as the
 * renderer's 32-bit serial numbers), and, per context, up to
 * GPU_FENCE_MAX_RINGS rings with 64-bit ids.
 *
 * The table has a fixed capacity (the queue sizes bound how many chains
 * the guest can have in flight); holding beyond it fails and the caller
 * answers at once. One thread. */
#ifndef GVMM_VIRTIO_GPU_FENCE_H
#define GVMM_VIRTIO_GPU_FENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* <linux/virtio_gpu.h>'s ring_idx is a byte; Linux uses up to 64. */
#define GPU_FENCE_MAX_RINGS    64
/* The ring of fences without VIRTIO_GPU_FLAG_INFO_RING_IDX. */
#define GPU_FENCE_GLOBAL_RING  UINT32_MAX

struct gpu_fence_held {
	uint64_t token;
	uint64_t fence_id;
	uint32_t ctx_id;      /* 0 on the global ring */
	uint32_t ring;        /* < GPU_FENCE_MAX_RINGS, or GPU_FENCE_GLOBAL_RING */
};

struct gpu_fences {
	struct gpu_fence_held *held;   /* in the order they were held */
	size_t nr_held, capacity;
};

typedef void (*gpu_fence_complete_fn)(void *opaque, uint64_t token);

/* 0 or -ENOMEM. */
int gpu_fences_init(struct gpu_fences *f, size_t capacity);
void gpu_fences_destroy(struct gpu_fences *f);

/* False when the table is full. */
bool gpu_fences_hold(struct gpu_fences *f, uint32_t ctx_id, uint32_t ring,
		     uint64_t fence_id, uint64_t token);
/* The renderer signalled fence_id on a ring: every held request of that
 * ring with a fence up to it completes, oldest first. */
void gpu_fences_signal(struct gpu_fences *f, uint32_t ctx_id, uint32_t ring,
		       uint64_t fence_id, gpu_fence_complete_fn complete, void *opaque);
/* The context is gone, and its fences will never signal: its held
 * requests complete now, so the guest gets its descriptors back. */
void gpu_fences_complete_context(struct gpu_fences *f, uint32_t ctx_id,
				 gpu_fence_complete_fn complete, void *opaque);
/* A device reset: the rings are gone, nothing is completed. */
void gpu_fences_drop_all(struct gpu_fences *f);

static inline size_t gpu_fences_pending(const struct gpu_fences *f)
{
	return f->nr_held;
}

#endif
