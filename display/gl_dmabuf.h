/* A frame buffer that a local viewer maps itself, so rendered frames reach
 * it with no copy through host memory: a linear XRGB8888 buffer allocated
 * on the render node (GBM), which GL writes through an EGLImage and which
 * leaves gvmm as a dmabuf file descriptor (SPICE's GL scanout).
 *
 * The GPU thread copies each flushed rectangle of the guest's texture into
 * it on the GPU (a framebuffer blit, which also turns bottom-up textures
 * top-down, so the buffer is always top row first), and tells the viewer
 * once a fence says the copy is done. The viewer reads the buffer until it
 * acknowledges; the caller starts no copy before that.
 *
 * Needs a render node (gl_host_gbm), EGL_EXT_image_dma_buf_import and
 * GL_OES_EGL_image. Like gl_readback, every call but export needs the
 * context current at create current on the calling thread. */
#ifndef GVMM_GL_DMABUF_H
#define GVMM_GL_DMABUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gl_host.h"

/* DRM_FORMAT_XRGB8888: bytes B, G, R, unused (drm_fourcc.h). */
#define GL_DMABUF_FOURCC 0x34325258u

struct gl_dmabuf;

/* A width x height buffer (1 .. GL_READBACK_MAX_SIDE a side). NULL, with
 * one line in err, where the host cannot make or import one (no render
 * node, a missing extension, out of memory). */
struct gl_dmabuf *gl_dmabuf_create(struct gl_host *gl, uint32_t width, uint32_t height,
				   char *err, size_t errlen);
void gl_dmabuf_destroy(struct gl_dmabuf *b);
/* Whether buffers can be made and imported on gl at all (a small one,
 * made and destroyed, in the current context): 0, or -1 with one line in
 * err. */
int gl_dmabuf_try(struct gl_host *gl, char *err, size_t errlen);
uint32_t gl_dmabuf_width(const struct gl_dmabuf *b);
uint32_t gl_dmabuf_height(const struct gl_dmabuf *b);

/* A new dmabuf file descriptor for the buffer, which the caller owns, and
 * the bytes per row (the format is GL_DMABUF_FOURCC, top row first). -1 on
 * failure. Any thread. */
int gl_dmabuf_export(struct gl_dmabuf *b, uint32_t *stride);

/* Starts copying [x, x+w) x [y, y+h) of texture `tex` (GL_TEXTURE_2D,
 * tex_width x tex_height; y_inverted as gl_readback_start) to
 * (dst_x, dst_y) of the buffer. Refuses (-1) rectangles outside either.
 * A start while one is in flight replaces its fence (both copies land). */
int gl_dmabuf_copy_start(struct gl_dmabuf *b, uint32_t tex, uint32_t tex_width,
			 uint32_t tex_height, bool y_inverted, uint32_t x, uint32_t y,
			 uint32_t w, uint32_t h, uint32_t dst_x, uint32_t dst_y);
/* Whether the last copy has finished (wait: block until it has); true
 * when none is in flight. */
bool gl_dmabuf_copy_done(struct gl_dmabuf *b, bool wait);

#endif
