/* Pipe resources that contexts' command streams made and no blob has
 * claimed yet, with what each was charged. A blob that claims one takes
 * over its charge; the rest gvmm must free itself when their context
 * goes, since the renderer keeps them past their context. */
#ifndef GVMM_DEVICES_GPU_STREAM_RESOURCES_H
#define GVMM_DEVICES_GPU_STREAM_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stream_resource {
	uint32_t ctx_id, blob_id;
	uint64_t charged;
};

struct stream_resources {
	struct stream_resource *made;   /* in the order the streams made them */
	size_t nr, room;
};

/* Room for `more` without allocating in stream_resources_add. */
bool stream_resources_reserve(struct stream_resources *s, size_t more);
/* After stream_resources_reserve. */
void stream_resources_add(struct stream_resources *s, struct stream_resource r);
/* The first one ctx_id made with blob_id, as the renderer finds them;
 * -1 if none. */
long stream_resources_find(const struct stream_resources *s, uint32_t ctx_id, uint32_t blob_id);
struct stream_resource stream_resources_remove(struct stream_resources *s, size_t index);
/* Takes every one ctx_id made out of the list, in one pass, calling fn
 * for each in the order they were made. */
void stream_resources_drop_context(struct stream_resources *s, uint32_t ctx_id,
				   void (*fn)(void *opaque, const struct stream_resource *r),
				   void *opaque);
void stream_resources_free(struct stream_resources *s);

#endif
