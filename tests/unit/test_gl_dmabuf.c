/* The dmabuf frame buffer (display/gl_dmabuf.h) on a render node: a copy
 * of a texture rectangle lands in the buffer exactly, top row first for
 * both row orders, as a process that maps the exported dmabuf reads it;
 * rectangles outside either side are refused; the surfaceless platform
 * says why it cannot. Needs /dev/dri/renderD* (a GPU) or, named by
 * GVMM_TEST_DRM_NODE, vgem's card node (the GL end-to-end test loads vgem
 * in the nested host and runs this there); skipped without either. */
#include "check.h"

#include <epoxy/egl.h>
#include <epoxy/gl.h>
#include <glob.h>
#include <linux/dma-buf.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../display/gl_dmabuf.h"
#include "../../display/gl_host.h"
#include "gl_pattern.h"

#define TEX_WIDTH  37    /* odd sizes: no row happens to line up */
#define TEX_HEIGHT 23
#define BUF_WIDTH  41
#define BUF_HEIGHT 29

static char err[256];

struct fixture {
	struct gl_host *gl;
	gl_host_context ctx;
	GLuint tex;
	struct gl_dmabuf *buf;
};

/* GVMM_TEST_DRM_NODE, else the first render node, or NULL with err saying
 * there is none. Mesa's software driver on vgem (the nested host) can
 * allocate buffers only through vgem's primary node, /dev/dri/card0:
 * render nodes may not make dumb buffers. */
static const char *render_node(void)
{
	static char path[64];
	const char *named = getenv("GVMM_TEST_DRM_NODE");
	glob_t found;

	if (named && named[0])
		return named;
	if (glob("/dev/dri/renderD*", 0, NULL, &found) != 0) {
		snprintf(err, sizeof(err), "no /dev/dri/renderD* here (tests/e2e/guest_gl_dmabuf.sh "
			 "runs these on vgem in the nested host)");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s", found.gl_pathv[0]);
	globfree(&found);
	return path;
}

/* false: skip, err says why. */
static bool set_up(struct fixture *f)
{
	const char *node = render_node();

	memset(f, 0, sizeof(*f));
	if (!node || gl_host_open(&f->gl, node, err, sizeof(err)) < 0)
		return false;
	f->ctx = gl_host_context_create(f->gl, NULL, 3, gl_host_info(f->gl)->gles ? 0 : 2);
	CHECK(f->ctx != NULL);
	if (!f->ctx || gl_host_make_current(f->gl, f->ctx) < 0)
		return true;
	fprintf(stderr, "  %s: %s\n", node, gl_host_info(f->gl)->renderer);
	f->tex = gl_pattern_texture(TEX_WIDTH, TEX_HEIGHT);
	f->buf = gl_dmabuf_create(f->gl, BUF_WIDTH, BUF_HEIGHT, err, sizeof(err));
	if (!f->buf)
		fprintf(stderr, "  gl_dmabuf_create: %s\n", err);
	CHECK(f->buf != NULL);
	return true;
}

static void tear_down(struct fixture *f)
{
	if (f->ctx) {
		gl_dmabuf_destroy(f->buf);
		glDeleteTextures(1, &f->tex);
		gl_host_make_current(f->gl, NULL);
		gl_host_context_destroy(f->gl, f->ctx);
	}
	if (f->gl)
		gl_host_close(f->gl);
}

/* The buffer as another process sees it: mapped from an exported fd. */
struct mapping {
	int fd;
	uint8_t *bytes;
	size_t size;
	uint32_t stride;
};

static bool map_export(struct gl_dmabuf *buf, struct mapping *m)
{
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ };

	m->fd = gl_dmabuf_export(buf, &m->stride);
	CHECK(m->fd >= 0);
	CHECK(m->stride >= BUF_WIDTH * 4u);
	if (m->fd < 0)
		return false;
	m->size = (size_t)m->stride * BUF_HEIGHT;
	m->bytes = mmap(NULL, m->size, PROT_READ, MAP_SHARED, m->fd, 0);
	CHECK(m->bytes != MAP_FAILED);
	if (m->bytes == MAP_FAILED) {
		perror("  mmap of the dmabuf");
		close(m->fd);
		return false;
	}
	ioctl(m->fd, DMA_BUF_IOCTL_SYNC, &sync);
	return true;
}

static void unmap_export(struct mapping *m)
{
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ };

	ioctl(m->fd, DMA_BUF_IOCTL_SYNC, &sync);
	munmap(m->bytes, m->size);
	close(m->fd);
}

/* (x, y, w, h) of the image (top row first) at (dst_x, dst_y) of the
 * mapped buffer: colour bytes exact, the fourth byte ignored (XRGB). */
static bool copy_matches(const struct mapping *m, bool y_inverted, uint32_t x, uint32_t y,
			 uint32_t w, uint32_t h, uint32_t dst_x, uint32_t dst_y)
{
	for (uint32_t row = 0; row < h; row++) {
		uint32_t image_row = y + row;
		uint32_t gl_row = y_inverted ? TEX_HEIGHT - 1 - image_row : image_row;
		const uint8_t *line = m->bytes + (size_t)(dst_y + row) * m->stride;

		for (uint32_t col = 0; col < w; col++)
			for (unsigned c = 0; c < 3; c++) {
				uint8_t got = line[(dst_x + col) * 4 + c];
				uint8_t want = gl_pattern_byte(x + col, gl_row, c);

				if (got != want) {
					fprintf(stderr, "  (%u, %u) byte %u: got %u, want %u\n",
						col, row, c, got, want);
					return false;
				}
			}
	}
	return true;
}

static void copies_land_exactly_in_both_row_orders(void)
{
	struct fixture f;
	struct mapping m;

	if (!set_up(&f))
		SKIP_TEST(err);
	if (!f.buf)
		goto out;
	CHECK_EQ(gl_dmabuf_width(f.buf), BUF_WIDTH);
	CHECK_EQ(gl_dmabuf_height(f.buf), BUF_HEIGHT);
	CHECK_EQ(gl_dmabuf_copy_start(f.buf, f.tex, TEX_WIDTH, TEX_HEIGHT, false,
				      0, 0, TEX_WIDTH, TEX_HEIGHT, 0, 0), 0);
	CHECK(gl_dmabuf_copy_done(f.buf, true));
	if (map_export(f.buf, &m)) {
		CHECK(copy_matches(&m, false, 0, 0, TEX_WIDTH, TEX_HEIGHT, 0, 0));
		unmap_export(&m);
	}
	/* A sub-rectangle of a bottom-up texture, moved within the buffer. */
	CHECK_EQ(gl_dmabuf_copy_start(f.buf, f.tex, TEX_WIDTH, TEX_HEIGHT, true,
				      5, 3, 11, 7, 29, 21), 0);
	CHECK(gl_dmabuf_copy_done(f.buf, true));
	if (map_export(f.buf, &m)) {
		CHECK(copy_matches(&m, true, 5, 3, 11, 7, 29, 21));
		/* What the first copy left above the second (rows 0 to 20) stays. */
		CHECK(copy_matches(&m, false, 0, 0, TEX_WIDTH, 21, 0, 0));
		unmap_export(&m);
	}
	CHECK(gl_dmabuf_copy_done(f.buf, false));   /* none in flight */
out:
	tear_down(&f);
}

static void rectangles_outside_are_refused(void)
{
	struct fixture f;

	if (!set_up(&f))
		SKIP_TEST(err);
	if (!f.buf)
		goto out;
	/* beyond the texture, beyond the buffer, empty, wrapping around */
	CHECK_EQ(gl_dmabuf_copy_start(f.buf, f.tex, TEX_WIDTH, TEX_HEIGHT, false,
				      30, 0, 8, 1, 0, 0), -1);
	CHECK_EQ(gl_dmabuf_copy_start(f.buf, f.tex, TEX_WIDTH, TEX_HEIGHT, false,
				      0, 0, 10, 10, 35, 0), -1);
	CHECK_EQ(gl_dmabuf_copy_start(f.buf, f.tex, TEX_WIDTH, TEX_HEIGHT, false,
				      0, 0, 0, 5, 0, 0), -1);
	CHECK_EQ(gl_dmabuf_copy_start(f.buf, f.tex, TEX_WIDTH, TEX_HEIGHT, false,
				      0, 0xfffffff0u, 1, 0x20, 0, 0), -1);
	CHECK_EQ(gl_dmabuf_copy_start(f.buf, f.tex, TEX_WIDTH, TEX_HEIGHT, false,
				      0, 0, 1, 1, 0xffffffffu, 0), -1);
	CHECK(gl_dmabuf_create(f.gl, 0, 5, err, sizeof(err)) == NULL);
	CHECK(gl_dmabuf_create(f.gl, 5, GL_READBACK_MAX_SIDE + 1, err, sizeof(err)) == NULL);
out:
	tear_down(&f);
}

static void surfaceless_says_why_not(void)
{
	struct gl_host *gl = NULL;
	gl_host_context ctx;

	if (gl_host_open(&gl, NULL, err, sizeof(err)) < 0)
		SKIP_TEST(err);
	if (gl_host_gbm(gl)) {
		gl_host_close(gl);
		SKIP_TEST("this host has a render node, so EGL is not surfaceless");
	}
	ctx = gl_host_context_create(gl, NULL, 3, gl_host_info(gl)->gles ? 0 : 2);
	CHECK(ctx != NULL);
	if (ctx && gl_host_make_current(gl, ctx) == 0) {
		err[0] = 0;
		CHECK(gl_dmabuf_create(gl, 64, 64, err, sizeof(err)) == NULL);
		CHECK(strstr(err, "render node") != NULL);
		gl_host_make_current(gl, NULL);
	}
	gl_host_context_destroy(gl, ctx);
	gl_host_close(gl);
}

TEST_MAIN("gl_dmabuf",
	  TEST_CASE(copies_land_exactly_in_both_row_orders),
	  TEST_CASE(rectangles_outside_are_refused),
	  TEST_CASE(surfaceless_says_why_not))
