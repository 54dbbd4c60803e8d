#include "virtio_gpu_fence.h"

#include <errno.h>
#include <stdlib.h>

int gpu_fences_init(struct gpu_fences *f, size_t capacity)
{
	f->held = calloc(capacity, sizeof(*f->held));
	f->nr_held = 0;
	f->capacity = f->held ? capacity : 0;
	return f->held ? 0 : -ENOMEM;
}

void gpu_fences_destroy(struct gpu_fences *f)
{
	free(f->held);
	f->held = NULL;
	f->nr_held = f->capacity = 0;
}

bool gpu_fences_hold(struct gpu_fences *f, uint32_t ctx_id, uint32_t ring,
		     uint64_t fence_id, uint64_t token)
{
	if (f->nr_held >= f->capacity)
		return false;
	if (ring == GPU_FENCE_GLOBAL_RING)
		ctx_id = 0;
	f->held[f->nr_held++] = (struct gpu_fence_held){
		.token = token, .fence_id = fence_id, .ctx_id = ctx_id, .ring = ring,
	};
	return true;
}

/* The renderer's global fences are 32-bit and may wrap: an id is passed
 * when it is at most 2^31 behind the signalled one. */
static bool passed(const struct gpu_fence_held *h, uint64_t signalled)
{
	if (h->ring == GPU_FENCE_GLOBAL_RING)
		return (int32_t)((uint32_t)signalled - (uint32_t)h->fence_id) >= 0;
	return h->fence_id <= signalled;
}

/* Completes the held requests `which` picks, oldest first, and closes
 * the gaps they leave. */
static void complete_where(struct gpu_fences *f, bool (*which)(const struct gpu_fence_held *,
							       const void *),
			   const void *arg, gpu_fence_complete_fn complete, void *opaque)
{
	size_t kept = 0;

	for (size_t i = 0; i < f->nr_held; i++) {
		struct gpu_fence_held h = f->held[i];

		if (which(&h, arg))
			complete(opaque, h.token);
		else
			f->held[kept++] = h;
	}
	f->nr_held = kept;
}

struct signal_arg {
	uint32_t ctx_id, ring;
	uint64_t fence_id;
};

static bool signalled_by(const struct gpu_fence_held *h, const void *arg)
{
	const struct signal_arg *s = arg;

	return h->ring == s->ring && h->ctx_id == s->ctx_id && passed(h, s->fence_id);
}

void gpu_fences_signal(struct gpu_fences *f, uint32_t ctx_id, uint32_t ring,
		       uint64_t fence_id, gpu_fence_complete_fn complete, void *opaque)
{
	struct signal_arg s = {
		.ctx_id = ring == GPU_FENCE_GLOBAL_RING ? 0 : ctx_id, .ring = ring,
		.fence_id = fence_id,
	};

	complete_where(f, signalled_by, &s, complete, opaque);
}

static bool of_context(const struct gpu_fence_held *h, const void *arg)
{
	return h->ring != GPU_FENCE_GLOBAL_RING && h->ctx_id == *(const uint32_t *)arg;
}

void gpu_fences_complete_context(struct gpu_fences *f, uint32_t ctx_id,
				 gpu_fence_complete_fn complete, void *opaque)
{
	complete_where(f, of_context, &ctx_id, complete, opaque);
}

void gpu_fences_drop_all(struct gpu_fences *f)
{
	f->nr_held = 0;
}
