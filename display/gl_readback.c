/* Reading texture rectangles back to memory without stalling GL
 * (display/gl_host.h): glReadPixels into a pixel-buffer object returns
 * once the copy is queued; a fence tells when it is done, and only then is
 * the buffer mapped and its rows copied out (flipped where the texture is
 * bottom-up) into memory the slot owns, so the caller's pixels outlive the
 * mapping.
 *
 * The buffers go round a ring: a start that replaces one still in flight
 * writes into the next buffer instead of one the GPU may still be filling,
 * which would make the driver wait. */
#include "gl_host.h"
#include "../vmm/log.h"

#include <epoxy/egl.h>
#include <epoxy/gl.h>
#include <stdlib.h>
#include <string.h>

#define READBACK_BUFFERS    2
#define BYTES_PER_PIXEL     4
/* How long a waiting gl_readback_done blocks at a time, in nanoseconds;
 * it waits again after each, so this only bounds one GL call. */
#define WAIT_SLICE_NS       100000000ull

struct gl_readback {
	struct gl_host *gl;
	EGLContext context;          /* the context the slot's GL objects live in */
	GLuint framebuffer;
	GLuint buffers[READBACK_BUFFERS];
	size_t buffer_sizes[READBACK_BUFFERS];
	unsigned next_buffer;
	bool read_rgba;              /* GLES without BGRA reads: swap R and B */

	/* the copy in flight */
	GLsync fence;                /* NULL when none */
	unsigned busy_buffer;
	uint32_t width, height;
	bool y_inverted;

	/* the pixels last fetched */
	uint8_t *pixels;
	size_t pixels_capacity;
	bool pixels_ready;
};

static bool in_own_context(const struct gl_readback *rb)
{
	return eglGetCurrentContext() == rb->context;
}

static void drain_gl_errors(void)
{
	while (glGetError() != GL_NO_ERROR)
		;
}

struct gl_readback *gl_readback_create(struct gl_host *gl)
{
	struct gl_readback *rb;
	EGLContext current = eglGetCurrentContext();

	if (current == EGL_NO_CONTEXT) {
		log_error("GL readback: no context is current");
		return NULL;
	}
	rb = calloc(1, sizeof(*rb));
	if (!rb)
		return NULL;
	rb->gl = gl;
	rb->context = current;
	rb->read_rgba = gl_host_info(gl)->gles && !epoxy_has_gl_extension("GL_EXT_read_format_bgra");
	drain_gl_errors();
	glGenFramebuffers(1, &rb->framebuffer);
	glGenBuffers(READBACK_BUFFERS, rb->buffers);
	if (glGetError() != GL_NO_ERROR) {
		log_error("GL readback: cannot make its framebuffer and buffers");
		gl_readback_destroy(rb);
		return NULL;
	}
	return rb;
}

static void drop_in_flight(struct gl_readback *rb)
{
	if (rb->fence)
		glDeleteSync(rb->fence);
	rb->fence = NULL;
}

void gl_readback_destroy(struct gl_readback *rb)
{
	EGLContext previous;

	if (!rb)
		return;
	previous = eglGetCurrentContext();
	/* Without its own context current, deleting would name another
	 * context's objects; if that context is busy on another thread, its
	 * objects go when it is destroyed. */
	if (previous == rb->context || gl_host_make_current(rb->gl, rb->context) == 0) {
		drop_in_flight(rb);
		glDeleteBuffers(READBACK_BUFFERS, rb->buffers);
		glDeleteFramebuffers(1, &rb->framebuffer);
		if (previous != rb->context)
			gl_host_make_current(rb->gl, previous);
	}
	free(rb->pixels);
	free(rb);
}

static bool rectangle_fits(uint32_t tex_width, uint32_t tex_height, uint32_t x, uint32_t y,
			   uint32_t w, uint32_t h)
{
	if (!tex_width || !tex_height || tex_width > GL_READBACK_MAX_SIDE ||
	    tex_height > GL_READBACK_MAX_SIDE)
		return false;
	if (!w || !h || x >= tex_width || y >= tex_height)
		return false;
	if (w > tex_width - x || h > tex_height - y)
		return false;
	return (uint64_t)w * h <= GL_READBACK_MAX_PIXELS;
}

/* Makes the host copy and the ring's next buffer hold `size` bytes. */
static int reserve_space(struct gl_readback *rb, size_t size)
{
	unsigned buffer = rb->next_buffer;

	if (rb->pixels_capacity < size) {
		uint8_t *pixels = realloc(rb->pixels, size);

		if (!pixels)
			return -1;
		rb->pixels = pixels;
		rb->pixels_capacity = size;
	}
	glBindBuffer(GL_PIXEL_PACK_BUFFER, rb->buffers[buffer]);
	if (rb->buffer_sizes[buffer] < size) {
		glBufferData(GL_PIXEL_PACK_BUFFER, (GLsizeiptr)size, NULL, GL_STREAM_READ);
		rb->buffer_sizes[buffer] = size;
	}
	return 0;
}

int gl_readback_start(struct gl_readback *rb, uint32_t tex, uint32_t tex_width,
		      uint32_t tex_height, bool y_inverted,
		      uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	size_t size = (size_t)w * h * BYTES_PER_PIXEL;
	uint32_t gl_y;
	GLenum status;

	if (!in_own_context(rb) || !rectangle_fits(tex_width, tex_height, x, y, w, h))
		return -1;
	drop_in_flight(rb);
	rb->pixels_ready = false;
	drain_gl_errors();
	if (reserve_space(rb, size) < 0)
		return -1;
	glBindFramebuffer(GL_READ_FRAMEBUFFER, rb->framebuffer);
	glFramebufferTexture2D(GL_READ_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, tex, 0);
	status = glCheckFramebufferStatus(GL_READ_FRAMEBUFFER);
	if (status != GL_FRAMEBUFFER_COMPLETE) {
		log_error("GL readback: texture %u cannot be read (framebuffer status 0x%x)",
			  tex, status);
		glBindBuffer(GL_PIXEL_PACK_BUFFER, 0);
		return -1;
	}
	/* A bottom-up texture holds the image's top row y at GL row
	 * tex_height - 1 - y, so the rectangle's rows start lower down. */
	gl_y = y_inverted ? tex_height - y - h : y;
	glPixelStorei(GL_PACK_ALIGNMENT, BYTES_PER_PIXEL);
	glPixelStorei(GL_PACK_ROW_LENGTH, 0);
	glReadPixels((GLint)x, (GLint)gl_y, (GLsizei)w, (GLsizei)h,
		     rb->read_rgba ? GL_RGBA : GL_BGRA, GL_UNSIGNED_BYTE, NULL);
	glBindBuffer(GL_PIXEL_PACK_BUFFER, 0);
	if (glGetError() != GL_NO_ERROR) {
		log_error("GL readback: glReadPixels of texture %u failed", tex);
		/* The buffer's storage may be what failed: size it afresh. */
		rb->buffer_sizes[rb->next_buffer] = 0;
		return -1;
	}
	rb->fence = glFenceSync(GL_SYNC_GPU_COMMANDS_COMPLETE, 0);
	if (!rb->fence)
		return -1;
	/* The copy should start now, not when something else flushes. */
	glFlush();
	rb->busy_buffer = rb->next_buffer;
	rb->next_buffer = (rb->next_buffer + 1) % READBACK_BUFFERS;
	rb->width = w;
	rb->height = h;
	rb->y_inverted = y_inverted;
	return 0;
}

/* GL_ALREADY_SIGNALED or GL_CONDITION_SATISFIED once the copy is done,
 * GL_TIMEOUT_EXPIRED while it is not and the caller would not wait. */
static GLenum wait_for_copy(struct gl_readback *rb, bool wait)
{
	GLenum result;

	do {
		result = glClientWaitSync(rb->fence, GL_SYNC_FLUSH_COMMANDS_BIT,
					  wait ? WAIT_SLICE_NS : 0);
	} while (wait && result == GL_TIMEOUT_EXPIRED);
	return result;
}

static void copy_row(uint8_t *dst, const uint8_t *src, uint32_t width, bool swap_red_blue)
{
	if (!swap_red_blue) {
		memcpy(dst, src, (size_t)width * BYTES_PER_PIXEL);
		return;
	}
	for (uint32_t i = 0; i < width; i++, dst += BYTES_PER_PIXEL, src += BYTES_PER_PIXEL) {
		dst[0] = src[2];
		dst[1] = src[1];
		dst[2] = src[0];
		dst[3] = src[3];
	}
}

/* Copies the finished buffer out, top row first. */
static int fetch_pixels(struct gl_readback *rb)
{
	size_t stride = (size_t)rb->width * BYTES_PER_PIXEL;
	size_t size = stride * rb->height;
	const uint8_t *mapped;

	glBindBuffer(GL_PIXEL_PACK_BUFFER, rb->buffers[rb->busy_buffer]);
	mapped = glMapBufferRange(GL_PIXEL_PACK_BUFFER, 0, (GLsizeiptr)size, GL_MAP_READ_BIT);
	if (!mapped) {
		glBindBuffer(GL_PIXEL_PACK_BUFFER, 0);
		return -1;
	}
	/* glReadPixels wrote GL's rows bottom-up: for a bottom-up texture
	 * that is the image's last row first. */
	for (uint32_t row = 0; row < rb->height; row++) {
		uint32_t src_row = rb->y_inverted ? rb->height - 1 - row : row;

		copy_row(rb->pixels + row * stride, mapped + src_row * stride, rb->width,
			 rb->read_rgba);
	}
	glUnmapBuffer(GL_PIXEL_PACK_BUFFER);
	glBindBuffer(GL_PIXEL_PACK_BUFFER, 0);
	return 0;
}

bool gl_readback_done(struct gl_readback *rb, bool wait, const uint8_t **pixels,
		      uint32_t *stride)
{
	if (rb->fence) {
		GLenum result;

		if (!in_own_context(rb))
			return false;
		result = wait_for_copy(rb, wait);
		if (result == GL_TIMEOUT_EXPIRED)
			return false;
		drop_in_flight(rb);
		if (result == GL_WAIT_FAILED) {
			log_error("GL readback: waiting for the copy failed");
			return false;
		}
		if (fetch_pixels(rb) < 0) {
			log_error("GL readback: cannot map the pixel buffer");
			return false;
		}
		rb->pixels_ready = true;
	}
	if (!rb->pixels_ready)
		return false;
	*pixels = rb->pixels;
	*stride = rb->width * BYTES_PER_PIXEL;
	return true;
}

bool gl_readback_in_flight(const struct gl_readback *rb)
{
	return rb->fence != NULL;
}
