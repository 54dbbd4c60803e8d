#include "virtio_gpu_virgl.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_gpu.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define VIRGL_RENDERER_UNSTABLE_APIS
#include <virgl/virglrenderer.h>

#include "../../display/gl_dmabuf.h"
#include "../../display/gl_host.h"
#include "../../vmm/log.h"
#include "../../vmm/log_limit.h"
#include "gpu_shm_region.h"
#include "stream_resources.h"
#include "virgl_stream.h"
#include "virtio_gpu_fence.h"

_Static_assert(GPU3D_MAX_REQUEST == sizeof(struct virtio_gpu_cmd_submit) + GPU3D_MAX_SUBMIT,
	       "the largest request is SUBMIT_3D with the largest stream");

/* virglrenderer.h only declares it; this is its layout in virglrenderer
 * (and the same as virtio_gpu_box on the wire). */
struct virgl_box {
	uint32_t x, y, z;
	uint32_t w, h, d;
};

/* From <linux/virtio_gpu.h>'s capset ids. */
#define NR_KNOWN_CAPSETS     2
/* Gallium's texture targets, PIPE_BUFFER .. PIPE_TEXTURE_CUBE_ARRAY. */
#define PIPE_BUFFER          0
#define PIPE_TEXTURE_2D      2
#define MAX_TARGET           8
/* virgl_formats run below this (virglrenderer checks the exact set). */
#define MAX_FORMAT           512
#define MAX_TEXTURE_SIDE     16384
#define MAX_TEXTURE_DEPTH    2048
#define MAX_LAYERS           2048
#define MAX_LEVELS           15
#define MAX_SAMPLES          16
/* What a resource and a context cost beyond their pixels: GL objects,
 * the renderer's bookkeeping. Estimates. */
#define RESOURCE_OVERHEAD    4096ull
#define CONTEXT_COST         (256ull << 10)
#define TEXEL_BYTES          4ull
#define CURSOR_BYTES         4u
/* virglrenderer's resource info flag (virgl_hw.h): stored flipped. */
#define VIRGL_RESOURCE_Y_0_TOP  (1u << 0)
/* Fence syncs and pixel-buffer objects: GL 3.2 core or GLES 3.0. */
/* A guest can send bad commands in a loop: one line per this at most. */
#define REFUSAL_LOG_INTERVAL_NS (10ull * 1000000000ull)

#define READBACK_GL_MAJOR    3
#define READBACK_GL_MINOR    2
#define READBACK_GLES_MINOR  0
/* What gl_readback holds per output at most: two pixel buffers and the
 * host copy, each a whole frame of 4-byte pixels; a dmabuf output holds
 * its buffer besides. */
#define READBACK_FRAMES      3ull
#define DMABUF_FRAMES        1ull
#define READBACK_PIXEL_BYTES 4ull

/* virglrenderer's state is process-wide. */
static atomic_bool renderer_taken;

struct gpu3d_resource {
	uint32_t id;
	uint32_t width, height;          /* as created, for scanouts and cursors */
	uint64_t charged;                /* the estimate and the backing table */
	bool readable;                   /* a one-sample 2D texture of a display
					  * format: frames can be read back */
	struct iovec *backing;           /* lent to virglrenderer while attached */
	uint32_t nr_backing;
	bool blob;                       /* made by RESOURCE_CREATE_BLOB */
	uint32_t blob_mem, blob_flags;
	bool mapped;                     /* into the host window (gpu3d.shm) */
	struct gpu3d_resource *prev, *next;
};

struct gpu3d_scanout {
	uint32_t resource_id;            /* 0: off */
	struct display_rect rect;        /* of the resource, clipped to it */
	uint32_t shown_width, shown_height;
	uint64_t charged;                /* the display's and the readback's bytes */
	struct gl_readback *readback;    /* NULL: frames are not read back */
	bool reading;                    /* a readback of `dirty` is in flight */
	struct display_rect dirty;       /* of the resource, within rect */
	bool send_whole;                 /* the next flush reads the whole rect:
					  * no viewer saw the last ones, or the
					  * scanout changed */
	bool cursor_visible;

	/* Frames as dmabufs (gpu3d.dmabuf, dmabuf_state SHOWN): the buffer the
	 * display shows, into which each flushed rectangle is copied. */
	struct gl_dmabuf *dmabuf;        /* NULL: none made for this size yet */
	bool dmabuf_named;               /* the display has it */
	bool copying;                    /* a copy of `copied` is in flight */
	struct display_rect copied;      /* of the buffer (output coordinates) */
	bool changed;                    /* `changes` waits for the output */
	struct display_rect changes;     /* of the resource, within rect */
	enum { DMABUF_SHOWN, DMABUF_VIEWER_STALLED, DMABUF_BROKEN } dmabuf_state;
					 /* not SHOWN: read back instead, until
					  * the viewer acknowledges again
					  * (STALLED) or a viewer comes */
	bool warned_stall;               /* since the last viewer came */
};

struct gpu3d_capset {
	uint32_t id, max_version, max_size;
};

struct gpu3d {
	struct gpu3d_config cfg;
	struct gpu2d modes;              /* display info, EDID, preferred modes */
	struct gpu_fences fences;
	bool context_init;
	bool blob;                       /* VIRTIO_GPU_F_RESOURCE_BLOB negotiated */
	struct gpu_shm_region shm;       /* what is mapped in the host window */
	uint64_t host_memory;
	bool warned_memory;
	bool warned_unaligned;           /* a blob could not be mapped: said so */
	struct log_limit refusals;       /* commands answered with an error */

	struct gpu3d_resource *resources;   /* a list; virglrenderer finds them by id */
	struct stream_resources unclaimed;  /* made by streams, charged, no blob yet */
	bool context_live[GPU3D_MAX_CONTEXTS + 1];
	struct gpu3d_scanout scanouts[GPU2D_MAX_OUTPUTS];
	gl_host_context readback_context;   /* NULL: frames are not read back */
	bool dmabuf;                        /* frames go to the display as dmabufs */
	struct gpu3d_capset capsets[NR_KNOWN_CAPSETS];
	uint32_t nr_capsets;
	uint8_t response[GPU3D_MAX_RESPONSE];   /* built here, then copied out */
};

/* ---- the renderer's callbacks ---- */

static void on_complete(void *opaque, uint64_t token)
{
	struct gpu3d *g = opaque;

	g->cfg.complete(g->cfg.complete_opaque, token);
}

static void write_fence(void *cookie, uint32_t fence)
{
	struct gpu3d *g = cookie;

	gpu_fences_signal(&g->fences, 0, GPU_FENCE_GLOBAL_RING, fence, on_complete, g);
}

static void write_context_fence(void *cookie, uint32_t ctx_id, uint32_t ring_idx,
				uint64_t fence_id)
{
	struct gpu3d *g = cookie;

	gpu_fences_signal(&g->fences, ctx_id, ring_idx, fence_id, on_complete, g);
}

static virgl_renderer_gl_context create_gl_context(void *cookie, int scanout,
						   struct virgl_renderer_gl_ctx_param *param)
{
	struct gpu3d *g = cookie;

	(void)scanout;
	return g->cfg.gl->context_create(g->cfg.gl_opaque, param->shared, param->major_ver,
					 param->minor_ver);
}

static void destroy_gl_context(void *cookie, virgl_renderer_gl_context ctx)
{
	struct gpu3d *g = cookie;

	g->cfg.gl->context_destroy(g->cfg.gl_opaque, ctx);
}

static int make_current(void *cookie, int scanout, virgl_renderer_gl_context ctx)
{
	struct gpu3d *g = cookie;

	(void)scanout;
	return g->cfg.gl->make_current(g->cfg.gl_opaque, ctx);
}

static struct virgl_renderer_callbacks renderer_callbacks = {
	.version = 3,   /* write_context_fence; no render server or EGL display */
	.write_fence = write_fence,
	.create_gl_context = create_gl_context,
	.destroy_gl_context = destroy_gl_context,
	.make_current = make_current,
	.write_context_fence = write_context_fence,
};

/* ---- memory ---- */

static bool can_charge(const struct gpu3d *g, uint64_t bytes)
{
	return bytes <= g->cfg.max_host_memory - g->host_memory;
}

static uint32_t out_of_memory(struct gpu3d *g)
{
	if (!g->warned_memory)
		log_warn("virtio-gpu: the guest wants more host memory than max-memory (%llu MiB); "
			 "it gets out-of-memory errors",
			 (unsigned long long)(g->cfg.max_host_memory >> 20));
	g->warned_memory = true;
	return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
}

/* ---- resources ---- */

static struct gpu3d_resource *find_resource(uint32_t id)
{
	return id ? virgl_renderer_resource_get_priv(id) : NULL;
}

static void drop_backing(struct gpu3d *g, struct gpu3d_resource *r)
{
	uint64_t bytes = (uint64_t)r->nr_backing * sizeof(*r->backing);
	struct iovec *lent = NULL;
	int nr_lent = 0;

	if (!r->backing)
		return;
	virgl_renderer_resource_detach_iov((int)r->id, &lent, &nr_lent);
	free(r->backing);
	r->backing = NULL;
	r->nr_backing = 0;
	r->charged -= bytes;
	g->host_memory -= bytes;
}

/* A readback in flight from the resource is dropped unfetched: its
 * glReadPixels was queued when it started, into the slot's own buffer, so
 * the renderer may free the texture now. */
static void scanouts_forget(struct gpu3d *g, uint32_t resource_id)
{
	for (unsigned i = 0; i < g->cfg.nr_outputs; i++)
		if (g->scanouts[i].resource_id == resource_id) {
			g->scanouts[i].resource_id = 0;
			g->scanouts[i].reading = false;
		}
}

static void unmap_blob(struct gpu3d *g, struct gpu3d_resource *r)
{
	const struct gpu_shm_mapping *m = gpu_shm_region_find(&g->shm, r->id);

	/* Out of the guest before the renderer may free what it shows. */
	if (m)
		g->cfg.window->unmap(g->cfg.window->opaque, m->offset, m->size);
	gpu_shm_region_release(&g->shm, r->id);
	virgl_renderer_resource_unmap(r->id);
	r->mapped = false;
}

static void free_resource(struct gpu3d *g, struct gpu3d_resource *r)
{
	if (r->mapped)
		unmap_blob(g, r);
	drop_backing(g, r);
	scanouts_forget(g, r->id);
	virgl_renderer_resource_set_priv(r->id, NULL);
	virgl_renderer_resource_unref(r->id);
	if (r->prev)
		r->prev->next = r->next;
	else
		g->resources = r->next;
	if (r->next)
		r->next->prev = r->prev;
	g->host_memory -= r->charged;
	free(r);
}

/* An estimate of what the renderer will hold for it. Arguments checked. */
static uint64_t resource_bytes(const struct virgl_renderer_resource_create_args *a)
{
	uint64_t texels = (uint64_t)a->width * a->height * a->depth * a->array_size;
	/* A buffer's width is its bytes. */
	uint64_t bytes = a->target == PIPE_BUFFER ? texels : texels * TEXEL_BYTES;

	if (a->last_level)
		bytes *= 2;    /* a full mip chain is at most 4/3 */
	if (a->nr_samples > 1)
		bytes *= a->nr_samples;
	return bytes + RESOURCE_OVERHEAD + sizeof(struct gpu3d_resource);
}

/* The renderer made it: charged, listed, found by id. */
static void add_resource(struct gpu3d *g, struct gpu3d_resource *r)
{
	g->host_memory += r->charged;
	r->next = g->resources;
	if (r->next)
		r->next->prev = r;
	g->resources = r;
	virgl_renderer_resource_set_priv(r->id, r);
}

static uint32_t create_resource(struct gpu3d *g, struct virgl_renderer_resource_create_args *a)
{
	struct gpu3d_resource *r;
	enum display_format format;
	uint64_t bytes;

	if (!a->handle || find_resource(a->handle))
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	bytes = resource_bytes(a);
	if (!can_charge(g, bytes))
		return out_of_memory(g);
	r = calloc(1, sizeof(*r));
	if (!r)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	if (virgl_renderer_resource_create(a, NULL, 0) != 0) {
		free(r);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	r->id = a->handle;
	r->width = a->width;
	r->height = a->height;
	r->charged = bytes;
	/* Anything else would only make the readback fail, and log. */
	r->readable = a->target == PIPE_TEXTURE_2D && a->nr_samples <= 1 &&
		      gpu2d_format(a->format, &format);
	add_resource(g, r);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t resource_create_2d(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_create_2d cmd;
	struct virgl_renderer_resource_create_args a = { 0 };
	enum display_format unused;

	READ_COMMAND(cmd, req, len);
	/* The virtio formats are virgl's numbers for the same layouts. */
	a.format = le32toh(cmd.format);
	a.width = le32toh(cmd.width);
	a.height = le32toh(cmd.height);
	if (!gpu2d_format(a.format, &unused) || !a.width || !a.height ||
	    a.width > GPU2D_MAX_SIDE || a.height > GPU2D_MAX_SIDE)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	a.handle = le32toh(cmd.resource_id);
	a.target = PIPE_TEXTURE_2D;
	a.bind = VIRGL_RES_BIND_RENDER_TARGET;
	a.depth = 1;
	a.array_size = 1;
	a.flags = VIRTIO_GPU_RESOURCE_FLAG_Y_0_TOP;
	return create_resource(g, &a);
}

static bool create_3d_args_sane(const struct virgl_renderer_resource_create_args *a)
{
	if (a->target > MAX_TARGET || !a->format || a->format >= MAX_FORMAT ||
	    !a->width || !a->height || !a->depth ||
	    !a->array_size || a->last_level >= MAX_LEVELS || a->nr_samples > MAX_SAMPLES)
		return false;
	if (a->target == PIPE_BUFFER)
		/* A buffer's width is its bytes; the cap bounds it further. */
		return a->height == 1 && a->depth == 1 && a->array_size == 1 && !a->last_level;
	return a->width <= MAX_TEXTURE_SIDE && a->height <= MAX_TEXTURE_SIDE &&
	       a->depth <= MAX_TEXTURE_DEPTH && a->array_size <= MAX_LAYERS;
}

static uint32_t resource_create_3d(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_create_3d cmd;
	struct virgl_renderer_resource_create_args a;

	READ_COMMAND(cmd, req, len);
	a = (struct virgl_renderer_resource_create_args){
		.handle = le32toh(cmd.resource_id), .target = le32toh(cmd.target),
		.format = le32toh(cmd.format), .bind = le32toh(cmd.bind),
		.width = le32toh(cmd.width), .height = le32toh(cmd.height),
		.depth = le32toh(cmd.depth), .array_size = le32toh(cmd.array_size),
		.last_level = le32toh(cmd.last_level), .nr_samples = le32toh(cmd.nr_samples),
		.flags = le32toh(cmd.flags) & VIRTIO_GPU_RESOURCE_FLAG_Y_0_TOP,
	};
	if (!create_3d_args_sane(&a))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	return create_resource(g, &a);
}

static uint32_t resource_unref(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_unref cmd;
	struct gpu3d_resource *r;

	READ_COMMAND(cmd, req, len);
	r = find_resource(le32toh(cmd.resource_id));
	if (!r)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	free_resource(g, r);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* The guest's n backing entries (the request holds them), each checked
 * to lie in guest RAM, as host iovecs; *total: their bytes. */
static uint32_t read_backing(struct gpu3d *g, const uint8_t *entries, uint32_t n,
			     struct iovec **out, uint64_t *total)
{
	struct iovec *iov = calloc(n, sizeof(*iov));

	if (!iov)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	*total = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct virtio_gpu_mem_entry e;

		memcpy(&e, entries + (size_t)i * sizeof(e), sizeof(e));
		iov[i].iov_len = le32toh(e.length);
		iov[i].iov_base = guest_memory_ptr(g->cfg.mem, le64toh(e.addr), iov[i].iov_len);
		if (!iov[i].iov_len || !iov[i].iov_base) {
			free(iov);
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		}
		*total += iov[i].iov_len;
	}
	*out = iov;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* As many entries as the command says, and the request holds them. */
static bool entries_fit(uint32_t n, size_t len, size_t cmd_len)
{
	return n && n <= GPU2D_MAX_BACKING_ENTRIES &&
	       (len - cmd_len) / sizeof(struct virtio_gpu_mem_entry) >= n;
}

static uint32_t attach_backing(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_attach_backing cmd;
	const uint8_t *entries = req + sizeof(cmd);
	struct gpu3d_resource *r;
	struct iovec *iov;
	uint32_t n, ret;
	uint64_t bytes, total;

	READ_COMMAND(cmd, req, len);
	r = find_resource(le32toh(cmd.resource_id));
	if (!r)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	n = le32toh(cmd.nr_entries);
	if (!entries_fit(n, len, sizeof(cmd)))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (r->backing)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	bytes = (uint64_t)n * sizeof(*iov);
	if (!can_charge(g, bytes))
		return out_of_memory(g);
	ret = read_backing(g, entries, n, &iov, &total);
	if (ret != VIRTIO_GPU_RESP_OK_NODATA)
		return ret;
	if (virgl_renderer_resource_attach_iov((int)r->id, iov, (int)n) != 0) {
		free(iov);
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	r->backing = iov;
	r->nr_backing = n;
	r->charged += bytes;
	g->host_memory += bytes;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t detach_backing(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_detach_backing cmd;
	struct gpu3d_resource *r;

	READ_COMMAND(cmd, req, len);
	r = find_resource(le32toh(cmd.resource_id));
	if (!r)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!r->backing)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	drop_backing(g, r);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- transfers ---- */

static uint32_t transfer_to_host_2d(const uint8_t *req, size_t len)
{
	struct virtio_gpu_transfer_to_host_2d cmd;
	struct gpu3d_resource *r;
	struct virgl_box box;

	READ_COMMAND(cmd, req, len);
	r = find_resource(le32toh(cmd.resource_id));
	if (!r)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	box = (struct virgl_box){
		.x = le32toh(cmd.r.x), .y = le32toh(cmd.r.y),
		.w = le32toh(cmd.r.width), .h = le32toh(cmd.r.height), .d = 1,
	};
	if (!r->backing || !box.w || !box.h || box.x > r->width || box.w > r->width - box.x ||
	    box.y > r->height || box.h > r->height - box.y)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	/* virglrenderer checks the offset and the box against the backing. */
	if (virgl_renderer_transfer_write_iov(r->id, 0, 0, 0, 0, &box, le64toh(cmd.offset),
					      NULL, 0) != 0)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t transfer_3d(const uint8_t *req, size_t len, bool to_host)
{
	struct virtio_gpu_transfer_host_3d cmd;
	struct gpu3d_resource *r;
	struct virgl_box box;
	uint32_t ctx_id, level, stride, layer_stride;
	int ret;

	READ_COMMAND(cmd, req, len);
	r = find_resource(le32toh(cmd.resource_id));
	if (!r)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	box = (struct virgl_box){
		.x = le32toh(cmd.box.x), .y = le32toh(cmd.box.y), .z = le32toh(cmd.box.z),
		.w = le32toh(cmd.box.w), .h = le32toh(cmd.box.h), .d = le32toh(cmd.box.d),
	};
	ctx_id = le32toh(cmd.hdr.ctx_id);
	level = le32toh(cmd.level);
	stride = le32toh(cmd.stride);
	layer_stride = le32toh(cmd.layer_stride);
	if (!r->backing || level >= MAX_LEVELS)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	/* virglrenderer checks the box against the resource's level and the
	 * offset and strides against the backing. */
	if (to_host)
		ret = virgl_renderer_transfer_write_iov(r->id, ctx_id, (int)level, stride,
							layer_stride, &box, le64toh(cmd.offset),
							NULL, 0);
	else
		ret = virgl_renderer_transfer_read_iov(r->id, ctx_id, level, stride, layer_stride,
						       &box, le64toh(cmd.offset), NULL, 0);
	return ret ? VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER : VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- contexts ---- */

static bool context_known(const struct gpu3d *g, uint32_t ctx_id)
{
	return ctx_id && ctx_id <= GPU3D_MAX_CONTEXTS && g->context_live[ctx_id];
}

static bool capset_offered(const struct gpu3d *g, uint32_t id)
{
	for (uint32_t i = 0; i < g->nr_capsets; i++)
		if (g->capsets[i].id == id)
			return true;
	return false;
}

static uint32_t ctx_create(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_ctx_create cmd;
	uint32_t ctx_id, nlen, capset;
	int ret;

	READ_COMMAND(cmd, req, len);
	ctx_id = le32toh(cmd.hdr.ctx_id);
	nlen = le32toh(cmd.nlen);
	if (nlen > sizeof(cmd.debug_name))
		nlen = sizeof(cmd.debug_name);
	capset = g->context_init ? le32toh(cmd.context_init) & VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK : 0;
	if (!ctx_id || ctx_id > GPU3D_MAX_CONTEXTS || g->context_live[ctx_id])
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	if (capset && !capset_offered(g, capset))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (!can_charge(g, CONTEXT_COST))
		return out_of_memory(g);
	if (capset)
		ret = virgl_renderer_context_create_with_flags(ctx_id, capset, nlen, cmd.debug_name);
	else
		ret = virgl_renderer_context_create(ctx_id, nlen, cmd.debug_name);
	/* Making the new context's GL state, the renderer made its GL context
	 * current but still believes the context it ran last is: that one's
	 * next commands would go to the new GL context, where its framebuffer
	 * and the rest of its own state do not exist. Put it back in step,
	 * after a failed start too (it may have got as far). */
	virgl_renderer_force_ctx_0();
	if (ret)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	g->context_live[ctx_id] = true;
	g->host_memory += CONTEXT_COST;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* The renderer frees a context's unclaimed pipe resources with neither
 * the context nor a reset; a guest that made them in a loop of contexts
 * would take the host's memory. So gvmm claims each with a blob of an
 * id nobody uses, and lets that go. One the renderer never made (its
 * stream failed first) is not found: only its charge comes back. */
static void free_unclaimed_one(void *opaque, const struct stream_resource *made)
{
	struct gpu3d *g = opaque;
	struct virgl_renderer_resource_create_blob_args a = {
		.res_handle = UINT32_MAX, .ctx_id = made->ctx_id,
		.blob_mem = VIRTIO_GPU_BLOB_MEM_HOST3D, .blob_id = made->blob_id,
		.size = GPU_SHM_PAGE,
	};

	while (find_resource(a.res_handle))
		a.res_handle--;
	if (virgl_renderer_resource_create_blob(&a) == 0)
		virgl_renderer_resource_unref(a.res_handle);
	g->host_memory -= made->charged;
}

static void free_unclaimed(struct gpu3d *g, uint32_t ctx_id)
{
	stream_resources_drop_context(&g->unclaimed, ctx_id, free_unclaimed_one, g);
}

static void destroy_context(struct gpu3d *g, uint32_t ctx_id)
{
	/* Its fences will never signal now. */
	gpu_fences_complete_context(&g->fences, ctx_id, on_complete, g);
	free_unclaimed(g, ctx_id);
	virgl_renderer_context_destroy(ctx_id);
	g->context_live[ctx_id] = false;
	g->host_memory -= CONTEXT_COST;
}

static uint32_t ctx_destroy(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_ctx_destroy cmd;
	uint32_t ctx_id;

	READ_COMMAND(cmd, req, len);
	ctx_id = le32toh(cmd.hdr.ctx_id);
	if (!context_known(g, ctx_id))
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	destroy_context(g, ctx_id);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t ctx_resource(struct gpu3d *g, const uint8_t *req, size_t len, bool attach)
{
	struct virtio_gpu_ctx_resource cmd;
	uint32_t ctx_id, resource_id;

	READ_COMMAND(cmd, req, len);
	ctx_id = le32toh(cmd.hdr.ctx_id);
	resource_id = le32toh(cmd.resource_id);
	if (!context_known(g, ctx_id))
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	if (!find_resource(resource_id))
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (attach)
		virgl_renderer_ctx_attach_resource((int)ctx_id, (int)resource_id);
	else
		virgl_renderer_ctx_detach_resource((int)ctx_id, (int)resource_id);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* What a stream's pipe resources will cost, before it runs. */
struct stream_cost {
	const struct gpu3d *g;
	uint64_t bytes;
	size_t count;
	bool insane, too_much;
};

static bool add_stream_cost(void *opaque, const struct virgl_stream_pipe_resource *p)
{
	struct stream_cost *c = opaque;
	uint64_t bytes, cap = c->g->cfg.max_host_memory;

	if (!create_3d_args_sane(&p->args)) {
		c->insane = true;
		return false;
	}
	bytes = resource_bytes(&p->args);
	if (bytes > cap || c->bytes > cap - bytes) {
		c->too_much = true;
		return false;
	}
	c->bytes += bytes;
	c->count++;
	return true;
}

struct stream_made {
	struct gpu3d *g;
	uint32_t ctx_id;
};

static bool add_stream_resource(void *opaque, const struct virgl_stream_pipe_resource *p)
{
	struct stream_made *m = opaque;
	struct stream_resource r = {
		.ctx_id = m->ctx_id, .blob_id = p->blob_id, .charged = resource_bytes(&p->args),
	};

	stream_resources_add(&m->g->unclaimed, r);
	m->g->host_memory += r.charged;
	return true;
}

static uint32_t submit_3d(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_cmd_submit cmd;
	struct stream_cost cost = { .g = g };
	const uint32_t *stream;
	uint32_t ctx_id, size;
	int ret;

	READ_COMMAND(cmd, req, len);
	ctx_id = le32toh(cmd.hdr.ctx_id);
	size = le32toh(cmd.size);
	if (!context_known(g, ctx_id))
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	if (size > GPU3D_MAX_SUBMIT || size > len - sizeof(cmd) || size % 4)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (!size)
		return VIRTIO_GPU_RESP_OK_NODATA;
	/* The stream is read in place: the caller's buffer is dword aligned
	 * (malloc), and the header 32 bytes. It is gvmm's copy: what was
	 * charged is what runs. */
	stream = (const uint32_t *)(const void *)(req + sizeof(cmd));
	virgl_stream_each_pipe_resource(stream, size / 4, add_stream_cost, &cost);
	if (cost.insane)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (cost.too_much || !can_charge(g, cost.bytes))
		return out_of_memory(g);
	if (!stream_resources_reserve(&g->unclaimed, cost.count))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	/* A bad stream puts the context in error inside the renderer; the
	 * others go on. Its pipe resources are listed even so: the renderer
	 * may have made some before the error. */
	ret = virgl_renderer_submit_cmd((void *)stream, (int)ctx_id, (int)(size / 4));
	virgl_stream_each_pipe_resource(stream, size / 4, add_stream_resource,
					&(struct stream_made){ .g = g, .ctx_id = ctx_id });
	return ret ? VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER : VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- blobs ---- */

#define BLOB_FLAGS (VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE | VIRTIO_GPU_BLOB_FLAG_USE_SHAREABLE | \
		    VIRTIO_GPU_BLOB_FLAG_USE_CROSS_DEVICE)

static bool blob_has_guest_pages(uint32_t blob_mem)
{
	return blob_mem == VIRTIO_GPU_BLOB_MEM_GUEST || blob_mem == VIRTIO_GPU_BLOB_MEM_HOST3D_GUEST;
}

/* Guest pages come with entries, host memory without; the size is
 * bounded by the cap before anything else looks at it. */
static bool blob_args_sane(const struct gpu3d *g,
			   const struct virgl_renderer_resource_create_blob_args *a, uint32_t n,
			   size_t len, size_t cmd_len)
{
	if (a->blob_mem != VIRTIO_GPU_BLOB_MEM_GUEST && a->blob_mem != VIRTIO_GPU_BLOB_MEM_HOST3D &&
	    a->blob_mem != VIRTIO_GPU_BLOB_MEM_HOST3D_GUEST)
		return false;
	if (a->blob_flags & ~BLOB_FLAGS || !a->size || a->size > g->cfg.max_host_memory)
		return false;
	return blob_has_guest_pages(a->blob_mem) ? entries_fit(n, len, cmd_len) : n == 0;
}

/* What the renderer holds for it: the blob's memory when it is the
 * host's, and the backing table. */
static uint64_t blob_bytes(const struct virgl_renderer_resource_create_blob_args *a, uint32_t n)
{
	uint64_t bytes = (uint64_t)n * sizeof(struct iovec) + RESOURCE_OVERHEAD +
			 sizeof(struct gpu3d_resource);

	return blob_has_guest_pages(a->blob_mem) ? bytes : bytes + a->size;
}

/* A blob with a texture (a host3d blob of a 2D pipe resource) can be
 * shown: its size and whether frames can be read back come from it. */
static void learn_texture(struct gpu3d_resource *r)
{
	struct virgl_renderer_resource_info info;
	enum display_format format;

	if (virgl_renderer_resource_get_info((int)r->id, &info) || !info.tex_id)
		return;
	r->width = info.width;
	r->height = info.height;
	r->readable = info.depth <= 1 && gpu2d_format(info.virgl_format, &format);
}

static uint32_t resource_create_blob(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_create_blob cmd;
	struct virgl_renderer_resource_create_blob_args a;
	struct gpu3d_resource *r;
	struct iovec *iov = NULL;
	uint64_t bytes, total = 0, made = 0;
	long claims = -1;
	uint32_t n, ret;

	READ_COMMAND(cmd, req, len);
	if (!g->blob)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	n = le32toh(cmd.nr_entries);
	a = (struct virgl_renderer_resource_create_blob_args){
		.res_handle = le32toh(cmd.resource_id), .ctx_id = le32toh(cmd.hdr.ctx_id),
		.blob_mem = le32toh(cmd.blob_mem), .blob_flags = le32toh(cmd.blob_flags),
		.blob_id = le64toh(cmd.blob_id), .size = le64toh(cmd.size),
	};
	if (!a.res_handle || find_resource(a.res_handle))
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!blob_args_sane(g, &a, n, len, sizeof(cmd)))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	/* Host memory is a context's (its stream made the pipe resource). */
	if (a.blob_mem != VIRTIO_GPU_BLOB_MEM_GUEST && !context_known(g, a.ctx_id))
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	/* The pipe resource it claims was charged when its stream made it;
	 * the blob is charged no less. */
	if (a.blob_mem != VIRTIO_GPU_BLOB_MEM_GUEST)
		/* (The renderer reads blob ids as 32 bits.) */
		claims = stream_resources_find(&g->unclaimed, a.ctx_id, (uint32_t)a.blob_id);
	if (claims >= 0)
		made = g->unclaimed.made[claims].charged;
	bytes = blob_bytes(&a, n);
	if (bytes < made)
		bytes = made;
	if (!can_charge(g, bytes - made))
		return out_of_memory(g);
	if (n) {
		ret = read_backing(g, req + sizeof(cmd), n, &iov, &total);
		if (ret != VIRTIO_GPU_RESP_OK_NODATA)
			return ret;
		if (total < a.size) {
			free(iov);
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		free(iov);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	a.iovecs = iov;
	a.num_iovs = n;
	if (virgl_renderer_resource_create_blob(&a) != 0) {
		free(iov);
		free(r);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	if (claims >= 0) {
		stream_resources_remove(&g->unclaimed, (size_t)claims);
		g->host_memory -= made;
	}
	*r = (struct gpu3d_resource){
		.id = a.res_handle, .charged = bytes, .backing = iov, .nr_backing = n,
		.blob = true, .blob_mem = a.blob_mem, .blob_flags = a.blob_flags,
	};
	learn_texture(r);
	add_resource(g, r);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static bool whole_pages(const void *host, uint64_t size)
{
	return (uintptr_t)host % GPU_SHM_PAGE == 0 && size && size % GPU_SHM_PAGE == 0;
}

/* Into the host window at the guest's offset: only whole host pages, so
 * the guest sees the blob and nothing of the host around it. */
static uint32_t map_into_window(struct gpu3d *g, struct gpu3d_resource *r, uint64_t offset)
{
	void *host = NULL;
	uint64_t size = 0;
	int ret;

	if (virgl_renderer_resource_map(r->id, &host, &size) != 0)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (!whole_pages(host, size)) {
		if (!g->warned_unaligned)
			log_warn("virtio-gpu: a blob the renderer maps at %p, %llu bytes, is not "
				 "whole host pages: not mapped into the guest", host,
				 (unsigned long long)size);
		g->warned_unaligned = true;
		ret = -EINVAL;
	} else {
		ret = gpu_shm_region_claim(&g->shm, offset, size, r->id);
	}
	if (ret == 0) {
		ret = g->cfg.window->map(g->cfg.window->opaque, offset, host, size);
		if (ret < 0)
			gpu_shm_region_release(&g->shm, r->id);
	}
	if (ret < 0) {
		virgl_renderer_resource_unmap(r->id);
		return ret == -ENOSPC || ret == -ENOMEM ? VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY :
		       VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	r->mapped = true;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t resource_map_blob(struct gpu3d *g, const uint8_t *req, size_t len,
				  uint8_t *body, size_t *body_len)
{
	struct virtio_gpu_resource_map_blob cmd;
	struct virtio_gpu_resp_map_info info = { 0 };
	const size_t hdr = sizeof(struct virtio_gpu_ctrl_hdr);
	struct gpu3d_resource *r;
	uint32_t map_info = VIRTIO_GPU_MAP_CACHE_NONE, ret;

	READ_COMMAND(cmd, req, len);
	if (!g->blob)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	r = find_resource(le32toh(cmd.resource_id));
	if (!r)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!r->blob || r->blob_mem == VIRTIO_GPU_BLOB_MEM_GUEST ||
	    !(r->blob_flags & VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (r->mapped)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	ret = map_into_window(g, r, le64toh(cmd.offset));
	if (ret != VIRTIO_GPU_RESP_OK_NODATA)
		return ret;
	virgl_renderer_resource_get_map_info(r->id, &map_info);
	info.map_info = htole32(map_info & VIRGL_RENDERER_MAP_CACHE_MASK);
	memcpy(body, (uint8_t *)&info + hdr, sizeof(info) - hdr);
	*body_len = sizeof(info) - hdr;
	return VIRTIO_GPU_RESP_OK_MAP_INFO;
}

static uint32_t resource_unmap_blob(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_unmap_blob cmd;
	struct gpu3d_resource *r;

	READ_COMMAND(cmd, req, len);
	if (!g->blob)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	r = find_resource(le32toh(cmd.resource_id));
	if (!r)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!r->mapped)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	unmap_blob(g, r);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- capsets ---- */

static uint32_t get_capset_info(struct gpu3d *g, const uint8_t *req, size_t len, uint8_t *body,
				size_t *body_len)
{
	struct virtio_gpu_get_capset_info cmd;
	struct virtio_gpu_resp_capset_info info = { 0 };
	const size_t hdr = sizeof(struct virtio_gpu_ctrl_hdr);
	uint32_t index;

	READ_COMMAND(cmd, req, len);
	index = le32toh(cmd.capset_index);
	if (index >= g->nr_capsets)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	info.capset_id = htole32(g->capsets[index].id);
	info.capset_max_version = htole32(g->capsets[index].max_version);
	info.capset_max_size = htole32(g->capsets[index].max_size);
	memcpy(body, (uint8_t *)&info + hdr, sizeof(info) - hdr);
	*body_len = sizeof(info) - hdr;
	return VIRTIO_GPU_RESP_OK_CAPSET_INFO;
}

static uint32_t get_capset(struct gpu3d *g, const uint8_t *req, size_t len, uint8_t *body,
			   size_t *body_len)
{
	struct virtio_gpu_get_capset cmd;
	const struct gpu3d_capset *c = NULL;
	uint32_t id, version;

	READ_COMMAND(cmd, req, len);
	id = le32toh(cmd.capset_id);
	version = le32toh(cmd.capset_version);
	for (uint32_t i = 0; i < g->nr_capsets; i++)
		if (g->capsets[i].id == id)
			c = &g->capsets[i];
	if (!c || version > c->max_version)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	memset(body, 0, c->max_size);
	virgl_renderer_fill_caps(id, version, body);
	*body_len = c->max_size;
	return VIRTIO_GPU_RESP_OK_CAPSET;
}

/* ---- reading frames back ----
 *
 * Frames are read in the engine's own context (gl_readback's objects live
 * there). Leaving the renderer's context for it flushes the renderer's
 * rendering, which the readback needs. virglrenderer remembers which of
 * its contexts it made current and makes none current again while it
 * believes that one still is, so every visit to the readback context
 * ends with virgl_renderer_force_ctx_0: the renderer forgets what it
 * believed and makes its context 0 current again. */

static bool enter_readback(struct gpu3d *g)
{
	if (gl_host_make_current(g->cfg.readback_gl, g->readback_context) == 0)
		return true;
	virgl_renderer_force_ctx_0();
	return false;
}

static void leave_readback(void)
{
	virgl_renderer_force_ctx_0();
}

/* Whether frames can go to the display as dmabufs: it takes them, and a
 * small buffer can be made and imported here (the readback context is
 * current). -1, with err, where the user asked for them and they cannot. */
static int choose_dmabuf(struct gpu3d *g, char *err, size_t errlen)
{
	enum display_dmabuf_mode mode = display_dmabuf_mode(g->cfg.display);
	char why[160];

	if (mode == DISPLAY_DMABUF_OFF)
		return 0;
	/* A viewer shows a dmabuf through its own GL, which must import it;
	 * on a host whose GL is software, the viewer's is too, and Mesa's
	 * software EGL on X11 or Wayland imports none: the viewer would show
	 * black. So software GL gets them only when asked for. */
	if (mode == DISPLAY_DMABUF_AUTO && gl_host_is_software(gl_host_info(g->cfg.readback_gl))) {
		log_info("virtio-gpu: GL frames are read back for SPICE clients: the host's GL is "
			 "software (%s), whose clients cannot show dmabufs; --spice gl=on forces them",
			 gl_host_info(g->cfg.readback_gl)->renderer);
		return 0;
	}
	if (gl_dmabuf_try(g->cfg.readback_gl, why, sizeof(why)) < 0) {
		if (mode == DISPLAY_DMABUF_ON) {
			snprintf(err, errlen, "--spice gl=on: GL frames cannot go to clients as "
				 "dmabufs on %s: %s", gl_host_info(g->cfg.readback_gl)->device, why);
			return -1;
		}
		log_info("virtio-gpu: GL frames are read back for SPICE clients (no dmabufs on %s: %s)",
			 gl_host_info(g->cfg.readback_gl)->device, why);
		return 0;
	}
	g->dmabuf = true;
	log_info("virtio-gpu: GL frames go to local SPICE clients as dmabufs (%s)",
		 gl_host_info(g->cfg.readback_gl)->device);
	return 0;
}

/* The readback context and a slot per output. Without them the engine
 * runs and flushes show nothing: worth a warning, not refusing 3D, unless
 * the user asked for dmabufs (-1, with err). */
static int make_readback(struct gpu3d *g, char *err, size_t errlen)
{
	bool gles = gl_host_info(g->cfg.readback_gl)->gles;
	int ret;

	g->readback_context = gl_host_context_create(g->cfg.readback_gl, NULL, READBACK_GL_MAJOR,
						     gles ? READBACK_GLES_MINOR : READBACK_GL_MINOR);
	if (!g->readback_context || !enter_readback(g)) {
		gl_host_context_destroy(g->cfg.readback_gl, g->readback_context);
		g->readback_context = NULL;
		if (display_dmabuf_mode(g->cfg.display) == DISPLAY_DMABUF_ON) {
			snprintf(err, errlen, "--spice gl=on: no GL context to show frames in");
			return -1;
		}
		log_warn("virtio-gpu: no GL context to read frames back in; viewers see no 3D frames");
		return 0;
	}
	for (unsigned i = 0; i < g->cfg.nr_outputs; i++) {
		g->scanouts[i].readback = gl_readback_create(g->cfg.readback_gl);
		g->scanouts[i].send_whole = true;
	}
	ret = choose_dmabuf(g, err, errlen);
	leave_readback();
	return ret;
}

static void drop_readback(struct gpu3d *g)
{
	if (!g->readback_context)
		return;
	/* The slots' objects are deleted in their context; where it cannot
	 * be made current here, gl_readback_destroy tries itself. */
	gl_host_make_current(g->cfg.readback_gl, g->readback_context);
	for (unsigned i = 0; i < g->cfg.nr_outputs; i++) {
		gl_readback_destroy(g->scanouts[i].readback);
		g->scanouts[i].readback = NULL;
		g->scanouts[i].reading = false;
		gl_dmabuf_destroy(g->scanouts[i].dmabuf);
		g->scanouts[i].dmabuf = NULL;
	}
	gl_host_context_destroy(g->cfg.readback_gl, g->readback_context);
	g->readback_context = NULL;
	leave_readback();
}

/* Output i changed size: its slot is made anew, so buffers sized for the
 * old frame go and what it holds stays within what size_output charged. */
static void renew_readback(struct gpu3d *g, unsigned i)
{
	struct gpu3d_scanout *s = &g->scanouts[i];

	s->reading = false;
	s->send_whole = true;
	s->copying = false;
	s->changed = false;
	s->dmabuf_named = false;
	if (!g->readback_context || !enter_readback(g))
		return;
	gl_readback_destroy(s->readback);
	s->readback = gl_readback_create(g->cfg.readback_gl);
	/* The display lets go of the old buffer when it gets the new one. */
	gl_dmabuf_destroy(s->dmabuf);
	s->dmabuf = NULL;
	leave_readback();
}

static uint64_t readback_bytes(const struct gpu3d *g, uint32_t width, uint32_t height)
{
	if (!g->readback_context)
		return 0;
	return (uint64_t)width * height * READBACK_PIXEL_BYTES *
	       (READBACK_FRAMES + (g->dmabuf ? DMABUF_FRAMES : 0));
}

static bool intersect(const struct display_rect *a, const struct display_rect *b,
		      struct display_rect *out)
{
	uint64_t x0 = a->x > b->x ? a->x : b->x;
	uint64_t y0 = a->y > b->y ? a->y : b->y;
	uint64_t ax1 = (uint64_t)a->x + a->width, bx1 = (uint64_t)b->x + b->width;
	uint64_t ay1 = (uint64_t)a->y + a->height, by1 = (uint64_t)b->y + b->height;
	uint64_t x1 = ax1 < bx1 ? ax1 : bx1, y1 = ay1 < by1 ? ay1 : by1;

	if (x1 <= x0 || y1 <= y0)
		return false;
	*out = (struct display_rect){
		.x = (uint32_t)x0, .y = (uint32_t)y0,
		.width = (uint32_t)(x1 - x0), .height = (uint32_t)(y1 - y0),
	};
	return true;
}

/* The smallest rectangle holding both; both lie within one resource, so
 * the sums fit. */
static struct display_rect bounding(const struct display_rect *a, const struct display_rect *b)
{
	uint32_t x0 = a->x < b->x ? a->x : b->x;
	uint32_t y0 = a->y < b->y ? a->y : b->y;
	uint32_t ax1 = a->x + a->width, bx1 = b->x + b->width;
	uint32_t ay1 = a->y + a->height, by1 = b->y + b->height;

	return (struct display_rect){
		.x = x0, .y = y0,
		.width = (ax1 > bx1 ? ax1 : bx1) - x0, .height = (ay1 > by1 ? ay1 : by1) - y0,
	};
}

/* Starts reading `part` (of the resource, within the scanout) back. One
 * still in flight is replaced by a readback of both rectangles, so
 * coalescing loses nothing. */
static void start_readback(struct gpu3d *g, unsigned i, struct display_rect part)
{
	struct gpu3d_scanout *s = &g->scanouts[i];
	struct virgl_renderer_resource_info info;
	struct display_rect texture;
	int ret;

	if (!s->readback || virgl_renderer_resource_get_info((int)s->resource_id, &info))
		return;
	if (s->reading)
		part = bounding(&part, &s->dirty);
	/* The scanout was clipped to the size the guest created; the
	 * texture's own is what GL will check. */
	texture = (struct display_rect){ .width = info.width, .height = info.height };
	if (!intersect(&part, &texture, &part) || !enter_readback(g))
		return;
	/* The guest lays out every buffer it scans out top row first (KMS's
	 * way): its GL renders a frame into the texture so, and transfers
	 * copy rows as they are. Only a Y_0_TOP resource (2D, a dumb buffer)
	 * is stored flipped: virglrenderer turns the rows written into it
	 * upside down, so that one is read back flipped. */
	ret = gl_readback_start(s->readback, info.tex_id, info.width, info.height,
				(info.flags & VIRGL_RESOURCE_Y_0_TOP) != 0,
				part.x, part.y, part.width, part.height);
	leave_readback();
	/* A failed start dropped the one in flight too (gl_readback logged). */
	s->reading = ret == 0;
	s->dirty = part;
}

static size_t readbacks_in_flight(const struct gpu3d *g)
{
	size_t n = 0;

	for (unsigned i = 0; i < g->cfg.nr_outputs; i++)
		n += g->scanouts[i].reading;
	return n;
}

/* Hands finished readbacks to the display, after the renderer has its
 * context back; one whose fetch failed is dropped (gl_readback logged). */
static void finish_readbacks(struct gpu3d *g)
{
	const uint8_t *pixels[GPU2D_MAX_OUTPUTS] = { 0 };
	uint32_t strides[GPU2D_MAX_OUTPUTS];

	if (!readbacks_in_flight(g) || !enter_readback(g))
		return;
	for (unsigned i = 0; i < g->cfg.nr_outputs; i++) {
		struct gpu3d_scanout *s = &g->scanouts[i];

		if (!s->reading)
			continue;
		if (gl_readback_done(s->readback, false, &pixels[i], &strides[i]))
			s->reading = false;
		else if (!gl_readback_in_flight(s->readback))
			s->reading = false;
	}
	leave_readback();
	for (unsigned i = 0; i < g->cfg.nr_outputs; i++) {
		const struct gpu3d_scanout *s = &g->scanouts[i];
		/* dirty lies within rect: a scanout that moves cancels. */
		struct display_rect at = {
			.x = s->dirty.x - s->rect.x, .y = s->dirty.y - s->rect.y,
			.width = s->dirty.width, .height = s->dirty.height,
		};

		if (pixels[i])
			display_output_update(g->cfg.display, i, &at, pixels[i], strides[i],
					      DISPLAY_BGRA);
	}
}

/* ---- frames as dmabufs ----
 *
 * Where the display takes dmabufs (a local SPICE client), each output
 * has a buffer of its size (display/gl_dmabuf.h) that the display shows.
 * A flushed rectangle is copied into it on the GPU, in the readback
 * context, and drawn once the copy's fence says it is done. The viewer
 * reads the buffer until it acknowledges the draw, so rectangles flushed
 * meanwhile gather in `changes` and go as one copy when the output is
 * ready again: the guest never waits for the viewer. A viewer that does
 * not acknowledge within the display's timeout sends the output back to
 * reading frames back (VIEWER_STALLED) until a flush finds it caught up;
 * a buffer that cannot be made or shown does so (BROKEN) until a viewer
 * comes again. */

static bool shows_dmabuf(const struct gpu3d *g, const struct gpu3d_scanout *s)
{
	return g->dmabuf && s->dmabuf_state == DMABUF_SHOWN;
}

/* Gives up on dmabufs for output i for now (state: why): its whole
 * picture is read back instead. */
static void stall_dmabuf(struct gpu3d *g, unsigned i, int state, const char *why)
{
	struct gpu3d_scanout *s = &g->scanouts[i];

	if (!s->warned_stall)
		log_warn("virtio-gpu: output %u: %s; its frames are read back %s", i, why,
			 state == DMABUF_BROKEN ? "until a viewer comes again"
						: "until the viewer acknowledges again");
	s->warned_stall = true;
	s->dmabuf_state = state;
	s->changed = false;
	if (s->resource_id)
		start_readback(g, i, s->rect);
}

/* The output's buffer, made and named to the display if it is not yet.
 * In the readback context. */
static bool dmabuf_ready(struct gpu3d *g, unsigned i)
{
	struct gpu3d_scanout *s = &g->scanouts[i];
	char why[160];
	uint32_t stride;
	int fd;

	if (!s->dmabuf) {
		s->dmabuf = gl_dmabuf_create(g->cfg.readback_gl, s->shown_width, s->shown_height,
					     why, sizeof(why));
		if (!s->dmabuf) {
			log_error("virtio-gpu: output %u: no dmabuf: %s", i, why);
			return false;
		}
	}
	if (s->dmabuf_named)
		return true;
	fd = gl_dmabuf_export(s->dmabuf, &stride);
	if (fd < 0 || display_output_dmabuf(g->cfg.display, i, fd, s->shown_width,
					    s->shown_height, stride, GL_DMABUF_FOURCC) < 0) {
		log_error("virtio-gpu: output %u: the display does not take its dmabuf", i);
		return false;
	}
	s->dmabuf_named = true;
	return true;
}

/* Starts copying the gathered changes into the buffer. */
static void start_copy(struct gpu3d *g, unsigned i)
{
	struct gpu3d_scanout *s = &g->scanouts[i];
	struct virgl_renderer_resource_info info;
	struct display_rect part = s->changes, texture;
	bool ok;

	s->changed = false;
	if (!s->resource_id || virgl_renderer_resource_get_info((int)s->resource_id, &info))
		return;
	texture = (struct display_rect){ .width = info.width, .height = info.height };
	if (!intersect(&part, &texture, &part) || !enter_readback(g))
		return;
	ok = dmabuf_ready(g, i);
	/* part lies within rect, which fits the buffer (its size). */
	if (ok)
		ok = gl_dmabuf_copy_start(s->dmabuf, info.tex_id, info.width, info.height,
					  (info.flags & VIRGL_RESOURCE_Y_0_TOP) != 0,
					  part.x, part.y, part.width, part.height,
					  part.x - s->rect.x, part.y - s->rect.y) == 0;
	leave_readback();
	if (!ok) {
		stall_dmabuf(g, i, DMABUF_BROKEN, "GL frames cannot go to the display as a dmabuf");
		return;
	}
	s->copying = true;
	s->copied = (struct display_rect){
		.x = part.x - s->rect.x, .y = part.y - s->rect.y,
		.width = part.width, .height = part.height,
	};
}

/* Moves output i on: a finished copy is drawn; gathered changes are
 * copied once the viewer acknowledged the last draw. Never waits. */
static void pump_dmabuf(struct gpu3d *g, unsigned i)
{
	struct gpu3d_scanout *s = &g->scanouts[i];
	enum display_dmabuf_state state;
	bool done;

	if (!shows_dmabuf(g, s))
		return;
	if (s->copying) {
		if (!enter_readback(g))
			return;
		done = gl_dmabuf_copy_done(s->dmabuf, false);
		leave_readback();
		if (!done)
			return;
		s->copying = false;
		if (display_output_dmabuf_draw(g->cfg.display, i, &s->copied) < 0)
			stall_dmabuf(g, i, DMABUF_BROKEN, "the display refused a draw of its dmabuf");
		return;
	}
	if (!s->changed)
		return;
	state = display_output_dmabuf_state(g->cfg.display, i);
	if (state == DISPLAY_DMABUF_STALLED)
		stall_dmabuf(g, i, DMABUF_VIEWER_STALLED,
			     "the viewer has not acknowledged a GL frame in time");
	else if (state == DISPLAY_DMABUF_READY)
		start_copy(g, i);
}

static size_t dmabufs_in_flight(const struct gpu3d *g)
{
	size_t n = 0;

	for (unsigned i = 0; i < g->cfg.nr_outputs; i++)
		n += shows_dmabuf(g, &g->scanouts[i]) &&
		     (g->scanouts[i].copying || g->scanouts[i].changed);
	return n;
}

/* `part` of the resource (within the scanout) changed: read back, or
 * gathered for the output's buffer. */
static void show_part(struct gpu3d *g, unsigned i, struct display_rect part)
{
	struct gpu3d_scanout *s = &g->scanouts[i];

	/* A viewer that caught up gets dmabufs again, starting with the
	 * whole picture: what was read back meanwhile is not in the buffer. */
	if (g->dmabuf && s->dmabuf_state == DMABUF_VIEWER_STALLED &&
	    display_output_dmabuf_state(g->cfg.display, i) == DISPLAY_DMABUF_READY) {
		s->dmabuf_state = DMABUF_SHOWN;
		part = s->rect;
	}
	if (!shows_dmabuf(g, s)) {
		start_readback(g, i, part);
		return;
	}
	s->changes = s->changed ? bounding(&s->changes, &part) : part;
	s->changed = true;
	pump_dmabuf(g, i);
}

/* ---- scanouts ---- */

/* The scanout's rectangle of its resource: what the guest asked, clipped
 * to the resource. False if nothing is left. */
static bool clip_to_resource(uint32_t width, uint32_t height, struct display_rect *rect)
{
	if (rect->x >= width || rect->y >= height)
		return false;
	if (rect->width > width - rect->x)
		rect->width = width - rect->x;
	if (rect->height > height - rect->y)
		rect->height = height - rect->y;
	return rect->width && rect->height;
}

/* Output i shows width x height now (0 x 0: off): the display's bytes
 * and the readback's are charged before they are taken. */
static uint32_t size_output(struct gpu3d *g, unsigned i, uint32_t width, uint32_t height)
{
	struct gpu3d_scanout *s = &g->scanouts[i];
	uint64_t bytes = display_output_bytes(g->cfg.display, width, height) +
			 readback_bytes(g, width, height);

	if (width == s->shown_width && height == s->shown_height && s->charged)
		return VIRTIO_GPU_RESP_OK_NODATA;
	if (bytes > s->charged && !can_charge(g, bytes - s->charged))
		return out_of_memory(g);
	if (g->cfg.display && display_output_resize(g->cfg.display, i, width, height) < 0 &&
	    width)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	renew_readback(g, i);
	g->host_memory = g->host_memory - s->charged + bytes;
	s->charged = bytes;
	s->shown_width = width;
	s->shown_height = height;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static bool same_rect(const struct display_rect *a, const struct display_rect *b)
{
	return a->x == b->x && a->y == b->y && a->width == b->width && a->height == b->height;
}

/* A readback in flight showed what the output showed before: dropped,
 * and the next flush reads the whole new picture. */
static void scanout_show(struct gpu3d *g, unsigned i, uint32_t resource_id,
			 const struct display_rect *rect)
{
	struct gpu3d_scanout *s = &g->scanouts[i];

	if (s->resource_id != resource_id || !same_rect(&s->rect, rect)) {
		s->reading = false;
		s->send_whole = true;
	}
	s->resource_id = resource_id;
	s->rect = *rect;
}

static uint32_t scanout_off(struct gpu3d *g, uint32_t output)
{
	uint32_t ret = size_output(g, output, 0, 0);

	if (ret == VIRTIO_GPU_RESP_OK_NODATA)
		scanout_show(g, output, 0, &(struct display_rect){ 0 });
	return ret;
}

/* Output shows rect of the resource, clipped to width x height of it. */
static uint32_t scanout_on(struct gpu3d *g, uint32_t output, uint32_t resource_id,
			   struct display_rect rect, uint32_t width, uint32_t height)
{
	uint32_t ret;

	if (!clip_to_resource(width, height, &rect) || rect.width > DISPLAY_MAX_WIDTH ||
	    rect.height > DISPLAY_MAX_HEIGHT)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	ret = size_output(g, output, rect.width, rect.height);
	if (ret != VIRTIO_GPU_RESP_OK_NODATA)
		return ret;
	scanout_show(g, output, resource_id, &rect);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static struct display_rect rect_of(const struct virtio_gpu_rect *r)
{
	return (struct display_rect){
		.x = le32toh(r->x), .y = le32toh(r->y),
		.width = le32toh(r->width), .height = le32toh(r->height),
	};
}

/* Both SET_SCANOUT commands start so: the output is checked, resource 0
 * switches it off. *r: the resource to show, or NULL when the answer is
 * already the one returned. */
static uint32_t scanout_resource(struct gpu3d *g, uint32_t output, uint32_t resource_id,
				 struct gpu3d_resource **r)
{
	*r = NULL;
	if (output >= g->cfg.nr_outputs)
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	if (!resource_id)
		return scanout_off(g, output);
	*r = find_resource(resource_id);
	return *r ? VIRTIO_GPU_RESP_OK_NODATA : VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
}

static uint32_t set_scanout(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_set_scanout cmd;
	struct gpu3d_resource *r;
	uint32_t ret;

	READ_COMMAND(cmd, req, len);
	ret = scanout_resource(g, le32toh(cmd.scanout_id), le32toh(cmd.resource_id), &r);
	if (!r)
		return ret;
	return scanout_on(g, le32toh(cmd.scanout_id), r->id, rect_of(&cmd.r), r->width, r->height);
}

/* A blob with a texture, shown as the guest describes it: one plane at
 * its start, the size and format the texture has room for. */
static uint32_t set_scanout_blob(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_set_scanout_blob cmd;
	struct gpu3d_resource *r;
	enum display_format format;
	uint32_t ret, width, height;

	READ_COMMAND(cmd, req, len);
	if (!g->blob)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	ret = scanout_resource(g, le32toh(cmd.scanout_id), le32toh(cmd.resource_id), &r);
	if (!r)
		return ret;
	width = le32toh(cmd.width);
	height = le32toh(cmd.height);
	if (!r->blob || !r->readable || !gpu2d_format(le32toh(cmd.format), &format) ||
	    width > r->width || height > r->height || le32toh(cmd.offsets[0]) ||
	    le32toh(cmd.strides[0]) / 4 < width)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	return scanout_on(g, le32toh(cmd.scanout_id), r->id, rect_of(&cmd.r), width, height);
}

static uint32_t resource_flush(struct gpu3d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_flush cmd;
	struct gpu3d_resource *r;
	struct display_rect flushed;
	uint32_t resource_id;

	READ_COMMAND(cmd, req, len);
	resource_id = le32toh(cmd.resource_id);
	r = find_resource(resource_id);
	if (!r)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	flushed = (struct display_rect){
		.x = le32toh(cmd.r.x), .y = le32toh(cmd.r.y),
		.width = le32toh(cmd.r.width), .height = le32toh(cmd.r.height),
	};
	if (!g->readback_context || !r->readable)
		return VIRTIO_GPU_RESP_OK_NODATA;
	/* Nobody watching: nothing read back, and whoever comes next gets
	 * whole scanouts first. */
	if (!display_has_viewers(g->cfg.display)) {
		for (unsigned i = 0; i < g->cfg.nr_outputs; i++)
			g->scanouts[i].send_whole = true;
		return VIRTIO_GPU_RESP_OK_NODATA;
	}
	for (unsigned i = 0; i < g->cfg.nr_outputs; i++) {
		struct gpu3d_scanout *s = &g->scanouts[i];
		struct display_rect part = s->rect;

		if (s->resource_id != resource_id ||
		    (!s->send_whole && !intersect(&flushed, &s->rect, &part)))
			continue;
		s->send_whole = false;
		show_part(g, i, part);
	}
	return VIRTIO_GPU_RESP_OK_NODATA;
}

void gpu3d_show_again(struct gpu3d *g)
{
	if (!g || !g->readback_context || !display_has_viewers(g->cfg.display))
		return;
	for (unsigned i = 0; i < g->cfg.nr_outputs; i++) {
		struct gpu3d_scanout *s = &g->scanouts[i];
		struct gpu3d_resource *r;

		if (!s->resource_id)
			continue;
		r = find_resource(s->resource_id);
		if (!r || !r->readable)
			continue;
		s->send_whole = false;
		/* The newcomer may take dmabufs where the last one did not. */
		s->dmabuf_state = DMABUF_SHOWN;
		s->warned_stall = false;
		show_part(g, i, s->rect);
	}
}

/* ---- the cursor ---- */

static uint32_t update_cursor(struct gpu3d *g, const uint8_t *req, size_t len, bool move_only)
{
	struct virtio_gpu_update_cursor cmd;
	uint32_t output, resource_id, hot_x, hot_y, w = 0, h = 0;
	struct gpu3d_resource *r;
	void *pixels;

	READ_COMMAND(cmd, req, len);
	output = le32toh(cmd.pos.scanout_id);
	if (output >= g->cfg.nr_outputs)
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	resource_id = le32toh(cmd.resource_id);
	hot_x = le32toh(cmd.hot_x);
	hot_y = le32toh(cmd.hot_y);
	if (!move_only && resource_id) {
		r = find_resource(resource_id);
		if (!r)
			return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
		/* Checked before the renderer allocates a copy of it. */
		if (r->width > DISPLAY_CURSOR_MAX || r->height > DISPLAY_CURSOR_MAX ||
		    hot_x >= r->width || hot_y >= r->height)
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		pixels = virgl_renderer_get_cursor_data(resource_id, &w, &h);
		if (!pixels)
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		if (w == r->width && h == r->height && g->cfg.display)
			display_cursor_define(g->cfg.display, output, w, h, hot_x, hot_y, pixels,
					      w * CURSOR_BYTES, DISPLAY_BGRA);
		free(pixels);
	}
	if (!move_only)
		g->scanouts[output].cursor_visible = resource_id != 0;
	if (g->cfg.display)
		display_cursor_move(g->cfg.display, output, (int32_t)le32toh(cmd.pos.x),
				    (int32_t)le32toh(cmd.pos.y), g->scanouts[output].cursor_visible);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- dispatch ---- */

static uint32_t run_command(struct gpu3d *g, enum gpu2d_queue queue, uint32_t type,
			    const uint8_t *req, size_t len, uint8_t *body, size_t *body_len)
{
	if (queue == GPU2D_CURSORQ) {
		if (type == VIRTIO_GPU_CMD_UPDATE_CURSOR)
			return update_cursor(g, req, len, false);
		if (type == VIRTIO_GPU_CMD_MOVE_CURSOR)
			return update_cursor(g, req, len, true);
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	switch (type) {
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:    return resource_create_2d(g, req, len);
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_3D:    return resource_create_3d(g, req, len);
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:        return resource_unref(g, req, len);
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: return attach_backing(g, req, len);
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: return detach_backing(g, req, len);
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:   return transfer_to_host_2d(req, len);
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:   return transfer_3d(req, len, true);
	case VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D: return transfer_3d(req, len, false);
	case VIRTIO_GPU_CMD_CTX_CREATE:            return ctx_create(g, req, len);
	case VIRTIO_GPU_CMD_CTX_DESTROY:           return ctx_destroy(g, req, len);
	case VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:   return ctx_resource(g, req, len, true);
	case VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:   return ctx_resource(g, req, len, false);
	case VIRTIO_GPU_CMD_SUBMIT_3D:             return submit_3d(g, req, len);
	case VIRTIO_GPU_CMD_GET_CAPSET_INFO:       return get_capset_info(g, req, len, body, body_len);
	case VIRTIO_GPU_CMD_GET_CAPSET:            return get_capset(g, req, len, body, body_len);
	case VIRTIO_GPU_CMD_SET_SCANOUT:           return set_scanout(g, req, len);
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:        return resource_flush(g, req, len);
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB:  return resource_create_blob(g, req, len);
	case VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB:     return resource_map_blob(g, req, len, body, body_len);
	case VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB:   return resource_unmap_blob(g, req, len);
	case VIRTIO_GPU_CMD_SET_SCANOUT_BLOB:      return set_scanout_blob(g, req, len);
	}
	/* UUIDs: not offered. */
	return VIRTIO_GPU_RESP_ERR_UNSPEC;
}

/* The display's side of the protocol is the 2D engine's, which holds no
 * resources in this mode. */
static size_t modes_answer(struct gpu3d *g, const uint8_t *req, size_t req_len, uint8_t *resp,
			   size_t resp_cap)
{
	return gpu2d_handle(&g->modes, GPU2D_CONTROLQ, req, req_len, resp, resp_cap);
}

/* A fence on the ring the request names, created after its command ran.
 * False: none could be made, or none held; answer without it. */
static bool fence_request(struct gpu3d *g, const struct virtio_gpu_ctrl_hdr *in,
			  uint64_t token, struct virtio_gpu_ctrl_hdr *out)
{
	uint32_t flags = le32toh(in->flags), ctx_id = le32toh(in->ctx_id);
	uint64_t fence_id = le64toh(in->fence_id);
	uint32_t ring = GPU_FENCE_GLOBAL_RING;

	if (g->fences.nr_held >= g->fences.capacity)
		return false;
	if (g->context_init && (flags & VIRTIO_GPU_FLAG_INFO_RING_IDX)) {
		if (!context_known(g, ctx_id) || in->ring_idx >= GPU_FENCE_MAX_RINGS)
			return false;
		ring = in->ring_idx;
		if (virgl_renderer_context_create_fence(ctx_id, VIRGL_RENDERER_FENCE_FLAG_MERGEABLE,
							ring, fence_id))
			return false;
	} else if (virgl_renderer_create_fence((int)(uint32_t)fence_id, 0)) {
		return false;
	}
	gpu_fences_hold(&g->fences, ctx_id, ring, fence_id, token);
	out->flags = htole32(VIRTIO_GPU_FLAG_FENCE |
			     (ring == GPU_FENCE_GLOBAL_RING ? 0 : VIRTIO_GPU_FLAG_INFO_RING_IDX));
	out->fence_id = in->fence_id;
	out->ctx_id = in->ctx_id;
	out->ring_idx = ring == GPU_FENCE_GLOBAL_RING ? 0 : (uint8_t)ring;
	return true;
}

static bool is_error(uint32_t type)
{
	return type >= VIRTIO_GPU_RESP_ERR_UNSPEC;
}

/* The guest's mistake, not gvmm's: said, so that whoever runs the guest
 * can tell a broken driver from a broken host, but rate-limited. */
static void log_refusal(struct gpu3d *g, uint32_t cmd, uint32_t ctx_id, uint32_t type)
{
	uint64_t unlogged;

	if (!log_limit_allow(&g->refusals, log_limit_now_ns(), &unlogged))
		return;
	if (unlogged)
		log_warn("virtio-gpu: refused the guest's command 0x%04x (context %u) with 0x%04x "
			 "(%llu more refused since the last line; one line per %llu s at most)",
			 cmd, ctx_id, type, (unsigned long long)unlogged,
			 REFUSAL_LOG_INTERVAL_NS / 1000000000ull);
	else
		log_warn("virtio-gpu: refused the guest's command 0x%04x (context %u) with 0x%04x",
			 cmd, ctx_id, type);
}

size_t gpu3d_handle(struct gpu3d *g, enum gpu2d_queue queue, const uint8_t *req,
		    size_t req_len, uint8_t *resp, size_t resp_cap, uint64_t token,
		    bool *held)
{
	uint8_t *out = g->response;
	struct virtio_gpu_ctrl_hdr in, hdr;
	size_t body_len = 0, out_len;
	uint32_t type, cmd;

	*held = false;
	memset(&hdr, 0, sizeof(hdr));
	if (req_len < sizeof(in)) {
		type = VIRTIO_GPU_RESP_ERR_UNSPEC;
	} else {
		memcpy(&in, req, sizeof(in));
		cmd = le32toh(in.type);
		if (queue == GPU2D_CONTROLQ &&
		    (cmd == VIRTIO_GPU_CMD_GET_DISPLAY_INFO || cmd == VIRTIO_GPU_CMD_GET_EDID)) {
			out_len = modes_answer(g, req, req_len, out, sizeof(g->response));
			memcpy(&hdr, out, sizeof(hdr));
			type = le32toh(hdr.type);
			body_len = out_len - sizeof(hdr);
			memset(&hdr, 0, sizeof(hdr));
		} else {
			type = run_command(g, queue, cmd, req, req_len, out + sizeof(hdr),
					   &body_len);
		}
		if (!is_error(type) && (le32toh(in.flags) & VIRTIO_GPU_FLAG_FENCE))
			*held = fence_request(g, &in, token, &hdr);
		if (is_error(type))
			log_refusal(g, cmd, le32toh(in.ctx_id), type);
	}
	if (is_error(type))
		body_len = 0;
	hdr.type = htole32(type);
	memcpy(out, &hdr, sizeof(hdr));
	out_len = sizeof(hdr) + body_len;
	if (out_len > resp_cap)
		out_len = resp_cap;
	/* No room may come as no buffer at all. */
	if (out_len)
		memcpy(resp, out, out_len);
	return out_len;
}

/* ---- life cycle ---- */

static void find_capsets(struct gpu3d *g)
{
	static const uint32_t ids[NR_KNOWN_CAPSETS] = {
		VIRTIO_GPU_CAPSET_VIRGL, VIRTIO_GPU_CAPSET_VIRGL2,
	};

	for (unsigned i = 0; i < NR_KNOWN_CAPSETS; i++) {
		uint32_t version = 0, size = 0;

		virgl_renderer_get_cap_set(ids[i], &version, &size);
		/* A capset beyond what a response can carry is not offered. */
		if (!size || size > GPU3D_MAX_CAPSET_SIZE)
			continue;
		g->capsets[g->nr_capsets++] = (struct gpu3d_capset){
			.id = ids[i], .max_version = version, .max_size = size,
		};
	}
}

int gpu3d_create(struct gpu3d **out, const struct gpu3d_config *cfg, char *err, size_t errlen)
{
	struct gpu3d *g;
	bool expected = false;
	int ret;

	if (!cfg->nr_outputs || cfg->nr_outputs > GPU2D_MAX_OUTPUTS) {
		snprintf(err, errlen, "%u outputs: expected 1..%d", cfg->nr_outputs,
			 GPU2D_MAX_OUTPUTS);
		return -1;
	}
	if (!atomic_compare_exchange_strong(&renderer_taken, &expected, true)) {
		snprintf(err, errlen, "virgl: only one virgl GPU per gvmm process "
			 "(virglrenderer's state is process-wide)");
		return -1;
	}
	g = calloc(1, sizeof(*g));
	if (!g || gpu_fences_init(&g->fences, cfg->max_held ? cfg->max_held : 1) < 0) {
		free(g);
		atomic_store(&renderer_taken, false);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	g->cfg = *cfg;
	log_limit_init(&g->refusals, REFUSAL_LOG_INTERVAL_NS);
	if (gpu2d_init(&g->modes, cfg->mem, cfg->display, cfg->nr_outputs, cfg->width,
		       cfg->height, cfg->max_host_memory) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Not THREAD_SYNC: with it, virglrenderer 0.10's fence thread never
	 * made its poll fd readable on gl_host's surfaceless llvmpipe (fences
	 * were seen only by polling), so the caller polls on a timer while
	 * fences wait, and the renderer runs on this thread alone. */
	ret = virgl_renderer_init(g, cfg->gles ? VIRGL_RENDERER_USE_GLES : 0, &renderer_callbacks);
	if (ret) {
		snprintf(err, errlen, "virglrenderer failed to initialise (%d) on the host GL", ret);
		gpu2d_destroy(&g->modes);
		goto fail;
	}
	find_capsets(g);
	gpu_shm_region_init(&g->shm, cfg->window ? cfg->window->size : 0);
	/* Headless, nothing would look at frames. */
	if (cfg->readback_gl && cfg->display && make_readback(g, err, errlen) < 0) {
		drop_readback(g);
		virgl_renderer_cleanup(g);
		gpu2d_destroy(&g->modes);
		goto fail;
	}
	*out = g;
	return 0;
fail:
	gpu_fences_destroy(&g->fences);
	free(g);
	atomic_store(&renderer_taken, false);
	return -1;
}

static void drop_everything(struct gpu3d *g)
{
	gpu_fences_drop_all(&g->fences);
	while (g->resources)
		free_resource(g, g->resources);
	for (uint32_t id = 1; id <= GPU3D_MAX_CONTEXTS; id++)
		if (g->context_live[id])
			destroy_context(g, id);
	for (unsigned i = 0; i < g->cfg.nr_outputs; i++) {
		g->scanouts[i].resource_id = 0;
		g->scanouts[i].reading = false;
		g->scanouts[i].send_whole = true;
		g->scanouts[i].cursor_visible = false;
		g->scanouts[i].changed = false;
	}
}

void gpu3d_reset(struct gpu3d *g)
{
	drop_everything(g);
	virgl_renderer_reset();
	g->context_init = false;
	g->blob = false;
}

void gpu3d_destroy(struct gpu3d *g)
{
	if (!g)
		return;
	drop_everything(g);
	/* Outputs back to the configured mode, which the display held before
	 * any guest (as the 2D engine leaves them). */
	for (unsigned i = 0; i < g->cfg.nr_outputs; i++) {
		struct gpu3d_scanout *s = &g->scanouts[i];

		if (g->cfg.display && s->charged &&
		    (s->shown_width != g->cfg.width || s->shown_height != g->cfg.height))
			display_output_resize(g->cfg.display, i, g->cfg.width, g->cfg.height);
	}
	drop_readback(g);
	virgl_renderer_cleanup(g);
	gpu2d_destroy(&g->modes);
	gpu_fences_destroy(&g->fences);
	stream_resources_free(&g->unclaimed);
	free(g);
	atomic_store(&renderer_taken, false);
}

uint32_t gpu3d_num_capsets(const struct gpu3d *g)
{
	return g->nr_capsets;
}

bool gpu3d_offers_blob(const struct gpu3d *g)
{
	return g->cfg.window && g->shm.size;
}

void gpu3d_set_features(struct gpu3d *g, bool edid, bool context_init, bool blob)
{
	g->modes.edid = edid;
	g->context_init = context_init;
	g->blob = blob && gpu3d_offers_blob(g);
}

int gpu3d_poll_fd(const struct gpu3d *g)
{
	(void)g;
	return virgl_renderer_get_poll_fd();
}

void gpu3d_poll(struct gpu3d *g)
{
	virgl_renderer_poll();
	finish_readbacks(g);
	for (unsigned i = 0; i < g->cfg.nr_outputs; i++)
		pump_dmabuf(g, i);
}

uint64_t gpu3d_host_memory(const struct gpu3d *g)
{
	return g->host_memory;
}

size_t gpu3d_pending(const struct gpu3d *g)
{
	return gpu_fences_pending(&g->fences) + readbacks_in_flight(g) + dmabufs_in_flight(g);
}

bool gpu3d_set_preferred_mode(struct gpu3d *g, unsigned output, uint32_t width,
			      uint32_t height)
{
	return gpu2d_set_preferred_mode(&g->modes, output, width, height);
}
