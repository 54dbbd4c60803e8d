/* A GBM buffer GL writes and a local viewer maps (display/gl_dmabuf.h).
 *
 * The buffer is allocated linear because SPICE's GL scanout message has
 * no modifier: the viewer imports the dmabuf with the stride alone. GL
 * sees it through an EGLImage made from its own dmabuf, the way the
 * viewer will, so a driver that could not import it fails here, at
 * create, and the caller falls back to reading frames back. */
#include "gl_dmabuf.h"
#include "../vmm/error_text.h"
#include "../vmm/log.h"

#include <drm_fourcc.h>
#include <epoxy/egl.h>
#include <epoxy/gl.h>
#include <gbm.h>
#include <stdlib.h>
#include <unistd.h>

_Static_assert(GL_DMABUF_FOURCC == DRM_FORMAT_XRGB8888, "the buffer's format");
_Static_assert(GL_DMABUF_FOURCC == GBM_FORMAT_XRGB8888, "GBM names formats as DRM does");

/* How long a waiting gl_dmabuf_copy_done blocks per GL call, in ns. */
#define WAIT_SLICE_NS 100000000ull

struct gl_dmabuf {
	struct gl_host *gl;
	EGLDisplay display;
	struct gbm_bo *bo;
	uint32_t width, height;
	EGLImageKHR image;
	GLuint texture;
	GLuint read_framebuffer, draw_framebuffer;
	GLsync fence;                /* the copy in flight; NULL when none */
};

static void drain_gl_errors(void)
{
	while (glGetError() != GL_NO_ERROR)
		;
}

/* The buffer as an EGLImage, imported from its own dmabuf. */
static EGLImageKHR import_image(struct gl_dmabuf *b, char *err, size_t errlen)
{
	bool modifiers = epoxy_has_egl_extension(b->display,
						 "EGL_EXT_image_dma_buf_import_modifiers");
	uint32_t stride;
	int fd = gl_dmabuf_export(b, &stride);
	EGLImageKHR image;
	EGLint attribs[] = {
		EGL_WIDTH, (EGLint)b->width,
		EGL_HEIGHT, (EGLint)b->height,
		EGL_LINUX_DRM_FOURCC_EXT, (EGLint)GL_DMABUF_FOURCC,
		EGL_DMA_BUF_PLANE0_FD_EXT, fd,
		EGL_DMA_BUF_PLANE0_OFFSET_EXT, 0,
		EGL_DMA_BUF_PLANE0_PITCH_EXT, (EGLint)stride,
		/* The buffer is linear; without the modifiers extension the
		 * list ends here and EGL assumes what GBM made. */
		modifiers ? EGL_DMA_BUF_PLANE0_MODIFIER_LO_EXT : EGL_NONE,
		(EGLint)(DRM_FORMAT_MOD_LINEAR & 0xffffffffu),
		EGL_DMA_BUF_PLANE0_MODIFIER_HI_EXT, (EGLint)(DRM_FORMAT_MOD_LINEAR >> 32),
		EGL_NONE,
	};

	if (fd < 0) {
		write_error(err, errlen, "GBM cannot export the buffer as a dmabuf");
		return EGL_NO_IMAGE_KHR;
	}
	/* EGL dups what it keeps of the fd. */
	image = eglCreateImageKHR(b->display, EGL_NO_CONTEXT, EGL_LINUX_DMA_BUF_EXT, NULL, attribs);
	close(fd);
	if (image == EGL_NO_IMAGE_KHR)
		write_error(err, errlen, "EGL cannot import the buffer's dmabuf (error 0x%x)",
			    (unsigned)eglGetError());
	return image;
}

struct gl_dmabuf *gl_dmabuf_create(struct gl_host *gl, uint32_t width, uint32_t height,
				   char *err, size_t errlen)
{
	struct gl_dmabuf *b;

	if (!width || !height || width > GL_READBACK_MAX_SIDE || height > GL_READBACK_MAX_SIDE) {
		write_error(err, errlen, "a %ux%u buffer is beyond what GL may be asked for",
			    width, height);
		return NULL;
	}
	if (!gl_host_gbm(gl)) {
		write_error(err, errlen, "no render node (EGL is surfaceless)");
		return NULL;
	}
	if (eglGetCurrentContext() == EGL_NO_CONTEXT) {
		write_error(err, errlen, "no GL context is current");
		return NULL;
	}
	if (!epoxy_has_egl_extension(gl_host_egl_display(gl), "EGL_EXT_image_dma_buf_import") ||
	    !epoxy_has_gl_extension("GL_OES_EGL_image")) {
		write_error(err, errlen, "EGL or GL cannot import dmabufs "
			    "(EGL_EXT_image_dma_buf_import, GL_OES_EGL_image)");
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		write_error(err, errlen, "out of memory");
		return NULL;
	}
	b->gl = gl;
	b->display = gl_host_egl_display(gl);
	b->width = width;
	b->height = height;
	b->image = EGL_NO_IMAGE_KHR;
	b->bo = gbm_bo_create(gl_host_gbm(gl), width, height, GBM_FORMAT_XRGB8888,
			      GBM_BO_USE_RENDERING | GBM_BO_USE_LINEAR);
	if (!b->bo) {
		write_error(err, errlen, "GBM cannot allocate a linear %ux%u XRGB8888 buffer",
			    width, height);
		goto fail;
	}
	b->image = import_image(b, err, errlen);
	if (b->image == EGL_NO_IMAGE_KHR)
		goto fail;
	drain_gl_errors();
	glGenTextures(1, &b->texture);
	glBindTexture(GL_TEXTURE_2D, b->texture);
	glEGLImageTargetTexture2DOES(GL_TEXTURE_2D, (GLeglImageOES)b->image);
	glBindTexture(GL_TEXTURE_2D, 0);
	glGenFramebuffers(1, &b->read_framebuffer);
	glGenFramebuffers(1, &b->draw_framebuffer);
	glBindFramebuffer(GL_DRAW_FRAMEBUFFER, b->draw_framebuffer);
	glFramebufferTexture2D(GL_DRAW_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D,
			       b->texture, 0);
	if (glCheckFramebufferStatus(GL_DRAW_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE ||
	    glGetError() != GL_NO_ERROR) {
		glBindFramebuffer(GL_DRAW_FRAMEBUFFER, 0);
		write_error(err, errlen, "GL cannot render into the imported buffer");
		goto fail;
	}
	/* Black until the first frame: the viewer may look before it. */
	glClearColor(0, 0, 0, 1);
	glClear(GL_COLOR_BUFFER_BIT);
	glBindFramebuffer(GL_DRAW_FRAMEBUFFER, 0);
	glFinish();
	return b;
fail:
	gl_dmabuf_destroy(b);
	return NULL;
}

int gl_dmabuf_try(struct gl_host *gl, char *err, size_t errlen)
{
	/* What fails fails for any size. */
	struct gl_dmabuf *b = gl_dmabuf_create(gl, 16, 16, err, errlen);

	gl_dmabuf_destroy(b);
	return b ? 0 : -1;
}

void gl_dmabuf_destroy(struct gl_dmabuf *b)
{
	if (!b)
		return;
	if (eglGetCurrentContext() != EGL_NO_CONTEXT) {
		if (b->fence)
			glDeleteSync(b->fence);
		glDeleteFramebuffers(1, &b->read_framebuffer);
		glDeleteFramebuffers(1, &b->draw_framebuffer);
		glDeleteTextures(1, &b->texture);
	}
	if (b->image != EGL_NO_IMAGE_KHR)
		eglDestroyImageKHR(b->display, b->image);
	if (b->bo)
		gbm_bo_destroy(b->bo);
	free(b);
}

uint32_t gl_dmabuf_width(const struct gl_dmabuf *b)
{
	return b->width;
}

uint32_t gl_dmabuf_height(const struct gl_dmabuf *b)
{
	return b->height;
}

int gl_dmabuf_export(struct gl_dmabuf *b, uint32_t *stride)
{
	*stride = gbm_bo_get_stride(b->bo);
	return gbm_bo_get_fd(b->bo);
}

static bool fits(uint32_t width, uint32_t height, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	return w && h && x < width && y < height && w <= width - x && h <= height - y;
}

int gl_dmabuf_copy_start(struct gl_dmabuf *b, uint32_t tex, uint32_t tex_width,
			 uint32_t tex_height, bool y_inverted, uint32_t x, uint32_t y,
			 uint32_t w, uint32_t h, uint32_t dst_x, uint32_t dst_y)
{
	GLint src_y0, src_y1, dst_y0, dst_y1;

	if (tex_width > GL_READBACK_MAX_SIDE || tex_height > GL_READBACK_MAX_SIDE ||
	    !fits(tex_width, tex_height, x, y, w, h) || !fits(b->width, b->height, dst_x, dst_y, w, h))
		return -1;
	drain_gl_errors();
	glBindFramebuffer(GL_READ_FRAMEBUFFER, b->read_framebuffer);
	glFramebufferTexture2D(GL_READ_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, tex, 0);
	if (glCheckFramebufferStatus(GL_READ_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE) {
		log_error("GL dmabuf: texture %u cannot be read", tex);
		glBindFramebuffer(GL_READ_FRAMEBUFFER, 0);
		return -1;
	}
	/* The buffer's memory holds the image top row first, which is GL's
	 * row 0 of its texture. A texture that is not y_inverted holds it so
	 * too; a y_inverted one holds image row y at GL row
	 * tex_height - 1 - y, and the blit turns it over. */
	dst_y0 = (GLint)dst_y;
	dst_y1 = (GLint)(dst_y + h);
	if (y_inverted) {
		src_y0 = (GLint)(tex_height - y - h);
		src_y1 = (GLint)(tex_height - y);
		GLint swap = dst_y0;
		dst_y0 = dst_y1;
		dst_y1 = swap;
	} else {
		src_y0 = (GLint)y;
		src_y1 = (GLint)(y + h);
	}
	glBindFramebuffer(GL_DRAW_FRAMEBUFFER, b->draw_framebuffer);
	glDisable(GL_SCISSOR_TEST);
	glBlitFramebuffer((GLint)x, src_y0, (GLint)(x + w), src_y1,
			  (GLint)dst_x, dst_y0, (GLint)(dst_x + w), dst_y1,
			  GL_COLOR_BUFFER_BIT, GL_NEAREST);
	glBindFramebuffer(GL_READ_FRAMEBUFFER, 0);
	glBindFramebuffer(GL_DRAW_FRAMEBUFFER, 0);
	if (glGetError() != GL_NO_ERROR) {
		log_error("GL dmabuf: copying texture %u failed", tex);
		return -1;
	}
	if (b->fence)
		glDeleteSync(b->fence);
	b->fence = glFenceSync(GL_SYNC_GPU_COMMANDS_COMPLETE, 0);
	/* The copy should start now, not when something else flushes. */
	glFlush();
	return b->fence ? 0 : -1;
}

bool gl_dmabuf_copy_done(struct gl_dmabuf *b, bool wait)
{
	GLenum result;

	if (!b->fence)
		return true;
	do {
		result = glClientWaitSync(b->fence, GL_SYNC_FLUSH_COMMANDS_BIT,
					  wait ? WAIT_SLICE_NS : 0);
	} while (wait && result == GL_TIMEOUT_EXPIRED);
	if (result == GL_TIMEOUT_EXPIRED)
		return false;
	/* A failed wait leaves nothing better to do than go on. */
	glDeleteSync(b->fence);
	b->fence = NULL;
	return true;
}
