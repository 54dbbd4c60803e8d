/* Host OpenGL for the GPU thread: one EGL display, on a DRM render node
 * through GBM when the host has one (/dev/dri/renderD*, or the one the
 * user named), else on EGL's surfaceless platform (Mesa's llvmpipe on a
 * host without a GPU). Through libepoxy, so no GL symbol is linked
 * directly.
 *
 * virglrenderer runs on contexts made here (its create/destroy/make_current
 * callbacks), and the GPU thread reads rendered frames back through a
 * context of its own, shared with them, so it can see their textures.
 *
 * Threads: gl_host_open and gl_host_close may run anywhere; every other
 * call on the one thread that owns the GPU (a context is current on one
 * thread at a time). */
#ifndef GVMM_GL_HOST_H
#define GVMM_GL_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gl_host;
typedef void *gl_host_context;

/* What gl_host_open found; for `gvmm check` and the start-up log. */
struct gl_host_info {
	char device[128];    /* "/dev/dri/renderD128" or "surfaceless" */
	char renderer[128];  /* GL_RENDERER, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" */
	char version[128];   /* GL_VERSION */
	bool gles;           /* contexts are GLES 3, not desktop GL: virglrenderer
			      * then needs VIRGL_RENDERER_USE_GLES */
	char fallback_reason[160]; /* why auto mode fell to surfaceless, e.g.
				    * "no render node in /dev/dri"; else empty */
};

/* render_node NULL picks the first /dev/dri/renderD* that initialises,
 * else surfaceless; a named node must work or this fails (no silent
 * fall-back from what the user asked for). Returns 0, or -1 with one line
 * in err saying what was tried. No context is current on the calling
 * thread afterwards. EGL has one display per device in a process, so
 * open one host at a time (closing terminates the display). */
int gl_host_open(struct gl_host **out, const char *render_node, char *err, size_t errlen);
/* Once every context is destroyed (and released on whichever thread had
 * it current). */
void gl_host_close(struct gl_host *gl);
const struct gl_host_info *gl_host_info(const struct gl_host *gl);

/* Whether the renderer is software (Mesa's llvmpipe, softpipe, swrast):
 * a desktop without a GPU, whose viewers' own GL seldom takes dmabufs.
 * Pure. */
bool gl_host_is_software(const struct gl_host_info *info);

/* A drm fd for the render node (a new one each call, owned by the caller),
 * or -1 on the surfaceless platform. */
int gl_host_drm_fd(struct gl_host *gl);
/* The EGLDisplay, for code that must name it (dmabuf export). */
void *gl_host_egl_display(struct gl_host *gl);
/* The render node's GBM device, which allocates buffers other processes
 * can map (display/gl_dmabuf.h); NULL on the surfaceless platform. */
struct gbm_device;
struct gbm_device *gl_host_gbm(struct gl_host *gl);

/* Contexts, desktop GL core profile of at least major.minor (or GLES where
 * that is all there is: info.gles, and major.minor are then GLES
 * versions), sharing objects with `shared` (NULL: with the host's own
 * first context; every context ends up in that one share group either
 * way). NULL on failure. Does not change which context is current.
 * Destroying the calling thread's current context releases it first. */
gl_host_context gl_host_context_create(struct gl_host *gl, gl_host_context shared,
				       int major, int minor);
void gl_host_context_destroy(struct gl_host *gl, gl_host_context ctx);
/* Makes ctx current on this thread with no surface (NULL: none). 0 or -1. */
int gl_host_make_current(struct gl_host *gl, gl_host_context ctx);

/* ---- reading frames back for viewers that get pixels ----
 *
 * A rectangle of a GL texture (what virglrenderer renders a 3D resource
 * into) is copied into a pixel-buffer object with glReadPixels, which
 * returns at once; the bytes are fetched later, when a fence says the GPU
 * finished, so the GL pipeline never stalls on the copy. One readback is
 * in flight per slot; the caller keeps one slot per output. */
struct gl_readback;

/* Every gl_readback call needs the slot's readback context current on
 * the calling thread: the one current at create (a context made with
 * gl_host_context_create, so it sees the textures of virglrenderer's
 * contexts). Its framebuffer object is not shared, so the slot works in
 * that context only; destroy makes it current for the moment where it is
 * not, if it can. NULL on failure. */
struct gl_readback *gl_readback_create(struct gl_host *gl);
void gl_readback_destroy(struct gl_readback *rb);
/* Starts copying [x, x+w) x [y, y+h) of texture `tex` (GL_TEXTURE_2D,
 * tex_width x tex_height) into the slot. The rectangle is in the image's
 * own coordinates, row 0 on top. y_inverted: the texture's rows run
 * bottom-up (GL's convention; virglrenderer says per resource), and the
 * copy is flipped to top-down. The texture's rendering must be flushed
 * (switching contexts on a thread does that). A start while one is in
 * flight replaces it. Refuses (-1) an empty rectangle, one outside the
 * texture, textures over GL_READBACK_MAX_SIDE a side and rectangles over
 * GL_READBACK_MAX_PIXELS. Returns 0 or -1. */
#define GL_READBACK_MAX_SIDE   16384u
#define GL_READBACK_MAX_PIXELS (16384u * 4096u)
int gl_readback_start(struct gl_readback *rb, uint32_t tex, uint32_t tex_width,
		      uint32_t tex_height, bool y_inverted,
		      uint32_t x, uint32_t y, uint32_t w, uint32_t h);
/* Whether the copy has finished; wait: block until it has. When it has,
 * *pixels points at w x h pixels, top row first, 4 bytes each in memory
 * order B, G, R, A (display.h's DISPLAY_BGRA), *stride bytes a row, valid
 * until the next start or destroy; asking again before the next start
 * gives the same pixels. False with nothing started, or when fetching
 * failed (logged; the next start begins afresh). */
bool gl_readback_done(struct gl_readback *rb, bool wait, const uint8_t **pixels,
		      uint32_t *stride);
/* Whether a started copy has not been fetched yet: gl_readback_done
 * false while this is true means "not yet", false after it "failed". */
bool gl_readback_in_flight(const struct gl_readback *rb);

#endif
