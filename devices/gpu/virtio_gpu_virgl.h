/* The virtio-gpu 3D command engine (virtio 1.2, 5.7.6, with
 * VIRTIO_GPU_F_VIRGL and VIRTIO_GPU_F_CONTEXT_INIT) over virglrenderer:
 * one request in, one response out, over a byte buffer and guest RAM,
 * with no queues, so unit tests and a fuzzer drive it as the device does.
 *
 * Every resource is virglrenderer's (2D ones too: the guest driver's dumb
 * buffers); gvmm keeps what it must check and charge: each resource's
 * size estimate and its guest-RAM backing, the contexts, the scanouts.
 * GET_DISPLAY_INFO, GET_EDID and the preferred modes are the 2D engine's
 * (virtio_gpu_cmd.h), which holds no resources here.
 *
 * The cap (max-memory) covers what the guest makes gvmm and the renderer
 * hold: an estimate of each resource's host bytes (width x height x depth
 * x layers x 4 bytes, doubled for mipmaps, times the samples, and a fixed
 * overhead), its backing table, a fixed estimate per context, and for
 * every shown output what the display holds and what reading its frames
 * back takes (gl_readback's two pixel buffers and its host copy, each the
 * size of the output), and its dmabuf where it has one.
 *
 * Blobs (VIRTIO_GPU_F_RESOURCE_BLOB, where the config has a host
 * window): RESOURCE_CREATE_BLOB of guest pages (BLOB_MEM_GUEST) or of a
 * pipe resource a context's command stream made (BLOB_MEM_HOST3D, by its
 * blob_id); RESOURCE_MAP_BLOB puts a mappable host3d blob's host pointer
 * into the device's host-visible region at the guest's offset, through
 * the window (a KVM memory slot in gvmm), UNMAP_BLOB takes it out, and
 * unreferencing, resetting or destroying unmaps too. A mapping must be
 * whole host pages: a renderer pointer or size that is not (llvmpipe's
 * buffers are malloc'd) is refused rather than exposing the host memory
 * around it. SET_SCANOUT_BLOB shows blobs that have a texture (host3d
 * ones); a guest blob's pixels have none to read back, and are refused.
 * A blob is charged its size when the renderer holds it (host3d), its
 * backing table when guest pages hold it.
 *
 * Errors are the 2D engine's, and:
 *   context id 0, beyond GPU3D_MAX_CONTEXTS, unknown or taken
 *                                          ERR_INVALID_CONTEXT_ID
 *   a 3D command stream the renderer refused, a bad capset, a blob's
 *   bad blob_mem, flags, size or entries, a map outside the region or
 *   over another mapping, a blob that cannot be mapped or shown
 *                                          ERR_INVALID_PARAMETER
 *   a map of a mapped blob, an unmap of an unmapped one, blobs when not
 *   negotiated                             ERR_UNSPEC
 * A bad command stream is its context's error: gvmm and the other
 * contexts go on.
 *
 * Fences: a fenced request that succeeded is answered at once into the
 * response buffer, but reported as held: the caller keeps the request
 * (its token) until the complete callback names it, when the renderer
 * signalled its fence (gpu3d_poll). A failed one is answered at once,
 * without the fence.
 *
 * Frames: while the display has viewers, RESOURCE_FLUSH of a shown
 * resource starts reading the flushed rectangle back (display/gl_host.h's
 * gl_readback, in a GL context of the engine's own that shares the
 * renderer's textures) and returns; gpu3d_poll hands finished ones to the
 * display. A flush while one is in flight for that output replaces it with
 * the union of both rectangles. The first flush after a time without
 * viewers, or after the scanout changed, sends the whole scanout.
 * Where the display takes dmabufs (display.h) and the host can make
 * them, each output is instead a buffer on the render node that the
 * viewer maps: flushed rectangles are copied into it on the GPU and
 * drawn, gathered while the viewer has not acknowledged the last draw;
 * a viewer that stops acknowledging gets read-back frames meanwhile.
 *
 * Threads: everything on one thread, which owns the GL contexts the
 * renderer runs on (the gl ops are called on it alone: no fence thread,
 * so gpu3d_poll_fd is -1 and the caller polls on a timer).
 * virglrenderer is process-wide: one engine per process. */
#ifndef GVMM_VIRTIO_GPU_VIRGL_H
#define GVMM_VIRTIO_GPU_VIRGL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../display/display.h"
#include "../../vmm/guest_memory.h"
#include "virtio_gpu_cmd.h"

#define GPU3D_MAX_CONTEXTS        1024   /* ids 1..this */
/* Mesa's virgl driver flushes its command buffer at 256 KiB (64 Ki
 * dwords); four times that leaves room for other drivers while a request
 * the guest can make us copy stays small. */
#define GPU3D_MAX_SUBMIT          (1u << 20)
/* The request and response buffers the caller gives gpu3d_handle. */
#define GPU3D_MAX_REQUEST         (32 + GPU3D_MAX_SUBMIT)
/* virglrenderer 0.10's largest capset (virgl2) is 1376 bytes. */
#define GPU3D_MAX_CAPSET_SIZE     16384
#define GPU3D_MAX_RESPONSE        (24 + GPU3D_MAX_CAPSET_SIZE)

_Static_assert(GPU3D_MAX_REQUEST >= GPU2D_MAX_REQUEST, "3D requests include 2D ones");

/* The host GL contexts virglrenderer renders with (display/gl_host.h in
 * gvmm, a stand-in in tests). */
struct gl_host;
struct gpu3d_gl_ops {
	void *(*context_create)(void *opaque, bool shared, int major, int minor);
	void (*context_destroy)(void *opaque, void *ctx);
	int (*make_current)(void *opaque, void *ctx);
};

/* The device's host-visible shared-memory region as the engine sees it:
 * host pages put at an offset of it show in the guest at that offset of
 * the region's BAR. */
struct gpu3d_host_window {
	uint64_t size;                    /* bytes, page multiple */
	/* Returns 0 or -errno. host and size are page aligned. */
	int (*map)(void *opaque, uint64_t offset, void *host, uint64_t size);
	void (*unmap)(void *opaque, uint64_t offset, uint64_t size);
	void *opaque;
};

struct gpu3d_config {
	const struct guest_memory *mem;
	struct display *display;          /* NULL: headless */
	unsigned nr_outputs;
	uint32_t width, height;           /* every output's preferred mode */
	uint64_t max_host_memory;
	const struct gpu3d_gl_ops *gl;
	void *gl_opaque;
	bool gles;                        /* the contexts are GLES, not desktop GL */
	/* Frames are read back through it, in a context made with
	 * gl_host_context_create: the gl ops' contexts must be this host's,
	 * so the two share textures. NULL: flushes show nothing. */
	struct gl_host *readback_gl;
	/* A held request's fence signalled (or its context went): answer it. */
	void (*complete)(void *opaque, uint64_t token);
	void *complete_opaque;
	size_t max_held;                  /* requests held at once, at most */
	/* NULL: no blobs (the device does not offer them). */
	const struct gpu3d_host_window *window;
};

struct gpu3d;

/* Starts virglrenderer on this thread. Returns 0, or -1 with one line in
 * err (a second engine in the process, or the renderer failing). */
int gpu3d_create(struct gpu3d **out, const struct gpu3d_config *cfg, char *err, size_t errlen);
/* Drops held requests without completing them. */
void gpu3d_destroy(struct gpu3d *g);
/* A device reset: held requests dropped, every context and resource
 * gone, scanouts off (the display keeps its picture). */
void gpu3d_reset(struct gpu3d *g);

/* What the device offers: the config's num_capsets. */
uint32_t gpu3d_num_capsets(const struct gpu3d *g);
/* Whether the engine can serve VIRTIO_GPU_F_RESOURCE_BLOB: it has a
 * host window. */
bool gpu3d_offers_blob(const struct gpu3d *g);
/* Features the driver accepted. */
void gpu3d_set_features(struct gpu3d *g, bool edid, bool context_init, bool blob);

/* Answers one request; returns the response's length (at most resp_cap).
 * *held: the request waits for its fence; token names it then. */
size_t gpu3d_handle(struct gpu3d *g, enum gpu2d_queue queue, const uint8_t *req,
		    size_t req_len, uint8_t *resp, size_t resp_cap, uint64_t token,
		    bool *held);

/* A file descriptor that becomes readable when a fence may have
 * signalled, or -1. Either way call gpu3d_poll every few milliseconds
 * while gpu3d_pending is not 0: frames being read back have no fd. */
int gpu3d_poll_fd(const struct gpu3d *g);
/* Lets the renderer report signalled fences (complete is called), and
 * hands frames whose readback finished to the display. Never waits. */
void gpu3d_poll(struct gpu3d *g);
/* Host bytes charged against max-memory now: resources, contexts and
 * shown outputs. */
uint64_t gpu3d_host_memory(const struct gpu3d *g);
/* Fences waiting and frames being read back. */
size_t gpu3d_pending(const struct gpu3d *g);
/* A viewer came: every output showing a resource starts reading its
 * whole scanout back (gpu3d_pending counts it), so the newcomer need not
 * wait for a guest's next flush that may never come. */
void gpu3d_show_again(struct gpu3d *g);

/* A viewer's preferred mode, as gpu2d_set_preferred_mode. Thread-safe. */
bool gpu3d_set_preferred_mode(struct gpu3d *g, unsigned output, uint32_t width,
			      uint32_t height);

#endif
