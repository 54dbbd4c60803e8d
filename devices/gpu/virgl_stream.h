/* Reading a virgl command stream (the body of SUBMIT_3D) as far as gvmm
 * must: the renderer runs the stream, but some of its records make host
 * memory that no virtio-gpu command ever names, and gvmm has to charge
 * and later free that memory itself. */
#ifndef GVMM_DEVICES_GPU_VIRGL_STREAM_H
#define GVMM_DEVICES_GPU_VIRGL_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virgl/virglrenderer.h>

/* VIRGL_CCMD_PIPE_RESOURCE_CREATE: a resource made inside a context for a
 * later RESOURCE_CREATE_BLOB (host3d) to claim by its blob id. */
struct virgl_stream_pipe_resource {
	struct virgl_renderer_resource_create_args args;   /* handle 0 */
	uint32_t blob_id;
};

typedef bool (*virgl_stream_pipe_resource_fn)(void *opaque,
					      const struct virgl_stream_pipe_resource *p);

/* Calls fn for every pipe-resource record of the stream (ndw little-endian
 * dwords), in order; stops early when fn returns false, and returns what
 * the last call returned (true when there was none). Records are walked
 * as the renderer walks them: a header whose length runs past the end
 * ends the stream. */
bool virgl_stream_each_pipe_resource(const uint32_t *stream, size_t ndw,
				     virgl_stream_pipe_resource_fn fn, void *opaque);

#endif
