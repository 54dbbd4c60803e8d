/* Host GL on EGL's surfaceless platform (Mesa's llvmpipe where there is no
 * GPU): opening, a named render node that is not there, contexts that
 * share textures, reading a texture back exactly (both row orders, a
 * sub-rectangle, polling, bad rectangles), and virglrenderer starting on
 * the host's contexts. Skipped where EGL cannot open at all. */
#include "check.h"

#include <epoxy/egl.h>
#include <epoxy/gl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../../display/gl_host.h"
#include "../../display/gl_probe.h"
#include "gl_pattern.h"

#define TEX_WIDTH  37    /* odd sizes: no row happens to line up */
#define TEX_HEIGHT 23
#define POLL_LIMIT_NS 5000000000ll

static char err[256];

/* The surfaceless host, or NULL with err saying why. */
static struct gl_host *open_surfaceless(void)
{
	struct gl_host *gl = NULL;

	err[0] = 0;
	if (gl_host_open(&gl, NULL, err, sizeof(err)) < 0)
		return NULL;
	if (strcmp(gl_host_info(gl)->device, "surfaceless") != 0) {
		/* A host with a working GPU: still a host to test on. */
		fprintf(stderr, "  testing on %s\n", gl_host_info(gl)->device);
	}
	return gl;
}

static void opens_surfaceless_with_info(void)
{
	struct gl_host *gl = open_surfaceless();
	const struct gl_host_info *info;

	if (!gl)
		SKIP_TEST(err);
	info = gl_host_info(gl);
	CHECK(info->device[0]);
	CHECK(info->renderer[0]);
	CHECK(info->version[0]);
	CHECK(gl_host_egl_display(gl) != NULL);
	if (!strcmp(info->device, "surfaceless")) {
		CHECK(info->fallback_reason[0]);
		CHECK_EQ(gl_host_drm_fd(gl), -1);
	}
	fprintf(stderr, "  %s: %s, %s\n", info->device, info->renderer, info->version);
	gl_host_close(gl);
}

static void software_renderers_are_told_apart(void)
{
	static const struct { const char *renderer; bool software; } cases[] = {
		{ "llvmpipe (LLVM 15.0.6, 256 bits)", true },
		{ "softpipe", true },
		{ "Software Rasterizer (swrast)", true },
		{ "virgl (LLVMPIPE (LLVM 15.0.6, 128 bits))", true },
		{ "Mesa Intel(R) UHD Graphics 620 (KBL GT2)", false },
		{ "AMD Radeon RX 6600 (navi23, LLVM 15.0.6, DRM 3.49, 6.1.0-13-amd64)", false },
		{ "NVIDIA H100 80GB HBM3/PCIe/SSE2", false },
		{ "", false },
	};
	struct gl_host_info info;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&info, 0, sizeof(info));
		snprintf(info.renderer, sizeof(info.renderer), "%s", cases[i].renderer);
		if (gl_host_is_software(&info) != cases[i].software)
			fprintf(stderr, "  '%s'\n", cases[i].renderer);
		CHECK_EQ(gl_host_is_software(&info), cases[i].software);
	}
}

static void missing_render_node_is_named(void)
{
	struct gl_host *gl = (struct gl_host *)&err;   /* must be cleared */

	CHECK_EQ(gl_host_open(&gl, "/dev/dri/renderD-gvmm-missing", err, sizeof(err)), -1);
	CHECK(gl == NULL);
	CHECK(strstr(err, "/dev/dri/renderD-gvmm-missing") != NULL);
	CHECK(strchr(err, '\n') == NULL);
}

static void not_a_render_node_fails(void)
{
	struct gl_host *gl = NULL;

	CHECK_EQ(gl_host_open(&gl, "/dev/null", err, sizeof(err)), -1);
	CHECK(gl == NULL);
	CHECK(strstr(err, "/dev/null") != NULL);
}

static void contexts_share_textures(void)
{
	struct gl_host *gl = open_surfaceless();
	gl_host_context a, b;
	GLuint tex;
	GLint width = 0;

	if (!gl)
		SKIP_TEST(err);
	a = gl_host_context_create(gl, NULL, 3, 3);
	b = gl_host_context_create(gl, a, 3, 1);
	CHECK(a != NULL);
	CHECK(b != NULL);
	if (!a || !b)
		goto out;
	CHECK_EQ(gl_host_make_current(gl, a), 0);
	CHECK(glGetString(GL_VERSION) != NULL);
	tex = gl_pattern_texture(TEX_WIDTH, TEX_HEIGHT);
	CHECK_EQ(gl_host_make_current(gl, b), 0);
	CHECK(glIsTexture(tex));
	if (!gl_host_info(gl)->gles) {
		glBindTexture(GL_TEXTURE_2D, tex);
		glGetTexLevelParameteriv(GL_TEXTURE_2D, 0, GL_TEXTURE_WIDTH, &width);
		CHECK_EQ(width, TEX_WIDTH);
		glBindTexture(GL_TEXTURE_2D, 0);
	}
	glDeleteTextures(1, &tex);
	CHECK_EQ(gl_host_make_current(gl, NULL), 0);
out:
	gl_host_context_destroy(gl, b);
	gl_host_context_destroy(gl, a);
	gl_host_close(gl);
}

static void unreachable_version_fails(void)
{
	struct gl_host *gl = open_surfaceless();

	if (!gl)
		SKIP_TEST(err);
	CHECK(gl_host_context_create(gl, NULL, 99, 0) == NULL);
	gl_host_close(gl);
}

/* The bytes the readback of (x, y, w, h) must give, top row first. */
static bool pixels_match(const uint8_t *pixels, uint32_t stride, bool y_inverted,
			 uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	for (uint32_t row = 0; row < h; row++) {
		uint32_t image_row = y + row;
		uint32_t gl_row = y_inverted ? TEX_HEIGHT - 1 - image_row : image_row;

		for (uint32_t col = 0; col < w; col++)
			for (unsigned c = 0; c < 4; c++) {
				uint8_t got = pixels[row * stride + col * 4 + c];
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

struct readback_fixture {
	struct gl_host *gl;
	gl_host_context ctx;
	struct gl_readback *rb;
	GLuint tex;
};

static bool set_up_readback(struct readback_fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->gl = open_surfaceless();
	if (!f->gl)
		return false;
	f->ctx = gl_host_context_create(f->gl, NULL, 3, 2);
	CHECK(f->ctx != NULL);
	CHECK_EQ(gl_host_make_current(f->gl, f->ctx), 0);
	f->tex = gl_pattern_texture(TEX_WIDTH, TEX_HEIGHT);
	f->rb = gl_readback_create(f->gl);
	CHECK(f->rb != NULL);
	return f->rb != NULL;
}

static void tear_down_readback(struct readback_fixture *f)
{
	gl_readback_destroy(f->rb);
	if (f->tex)
		glDeleteTextures(1, &f->tex);
	gl_host_context_destroy(f->gl, f->ctx);
	gl_host_close(f->gl);
}

static void check_readback(struct readback_fixture *f, bool y_inverted, uint32_t x,
			   uint32_t y, uint32_t w, uint32_t h)
{
	const uint8_t *pixels = NULL;
	uint32_t stride = 0;

	CHECK_EQ(gl_readback_start(f->rb, f->tex, TEX_WIDTH, TEX_HEIGHT, y_inverted, x, y, w, h), 0);
	CHECK(gl_readback_done(f->rb, true, &pixels, &stride));
	if (!pixels)
		return;
	CHECK_EQ(stride, w * 4);
	CHECK(pixels_match(pixels, stride, y_inverted, x, y, w, h));
}

static void reads_back_whole_texture(void)
{
	struct readback_fixture f;

	if (!set_up_readback(&f)) {
		tear_down_readback(&f);
		SKIP_TEST(err[0] ? err : "no readback");
	}
	check_readback(&f, false, 0, 0, TEX_WIDTH, TEX_HEIGHT);
	check_readback(&f, true, 0, 0, TEX_WIDTH, TEX_HEIGHT);
	tear_down_readback(&f);
}

static void reads_back_sub_rectangle(void)
{
	struct readback_fixture f;

	if (!set_up_readback(&f)) {
		tear_down_readback(&f);
		SKIP_TEST(err[0] ? err : "no readback");
	}
	check_readback(&f, false, 5, 3, 11, 7);
	check_readback(&f, true, 5, 3, 11, 7);
	check_readback(&f, true, TEX_WIDTH - 1, TEX_HEIGHT - 1, 1, 1);
	tear_down_readback(&f);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void polling_finishes_and_repeats(void)
{
	struct readback_fixture f;
	const uint8_t *pixels = NULL, *again = NULL;
	uint32_t stride = 0;
	long long deadline;
	bool done = false;

	if (!set_up_readback(&f)) {
		tear_down_readback(&f);
		SKIP_TEST(err[0] ? err : "no readback");
	}
	CHECK(!gl_readback_done(f.rb, false, &pixels, &stride));   /* nothing started */
	/* A start replacing one in flight: the second one counts. */
	CHECK_EQ(gl_readback_start(f.rb, f.tex, TEX_WIDTH, TEX_HEIGHT, false, 0, 0, 4, 4), 0);
	CHECK_EQ(gl_readback_start(f.rb, f.tex, TEX_WIDTH, TEX_HEIGHT, true, 2, 1, 9, 6), 0);
	deadline = now_ns() + POLL_LIMIT_NS;
	while (!(done = gl_readback_done(f.rb, false, &pixels, &stride)) && now_ns() < deadline)
		;
	CHECK(done);
	if (done) {
		CHECK(pixels_match(pixels, stride, true, 2, 1, 9, 6));
		CHECK(gl_readback_done(f.rb, false, &again, &stride));
		CHECK(again == pixels);
	}
	tear_down_readback(&f);
}

static void bad_rectangles_are_refused(void)
{
	struct readback_fixture f;
	const uint8_t *pixels = NULL;
	uint32_t stride = 0;

	if (!set_up_readback(&f)) {
		tear_down_readback(&f);
		SKIP_TEST(err[0] ? err : "no readback");
	}
	CHECK_EQ(gl_readback_start(f.rb, f.tex, TEX_WIDTH, TEX_HEIGHT, false, 0, 0, 0, 1), -1);
	CHECK_EQ(gl_readback_start(f.rb, f.tex, TEX_WIDTH, TEX_HEIGHT, false, 0, 0, TEX_WIDTH + 1, 1), -1);
	CHECK_EQ(gl_readback_start(f.rb, f.tex, TEX_WIDTH, TEX_HEIGHT, false, 1, 0, TEX_WIDTH, 1), -1);
	CHECK_EQ(gl_readback_start(f.rb, f.tex, TEX_WIDTH, TEX_HEIGHT, true, 0, TEX_HEIGHT, 1, 1), -1);
	CHECK_EQ(gl_readback_start(f.rb, f.tex, TEX_WIDTH, TEX_HEIGHT, true, 0, 1, 1, UINT32_MAX), -1);
	CHECK_EQ(gl_readback_start(f.rb, f.tex, UINT32_MAX, UINT32_MAX, false, 0, 0, 65536, 65536), -1);
	CHECK_EQ(gl_readback_start(f.rb, f.tex, 16384, 16384, false, 0, 0, 16384, 16384), -1);
	CHECK_EQ(gl_readback_start(f.rb, 0, TEX_WIDTH, TEX_HEIGHT, false, 0, 0, 1, 1), -1);
	CHECK(!gl_readback_done(f.rb, true, &pixels, &stride));
	/* Outside the readback context nothing happens. */
	CHECK_EQ(gl_host_make_current(f.gl, NULL), 0);
	CHECK_EQ(gl_readback_start(f.rb, f.tex, TEX_WIDTH, TEX_HEIGHT, false, 0, 0, 1, 1), -1);
	tear_down_readback(&f);
}

/* The GPU thread's life: contexts made, used and released on a thread
 * other than the one that opened the host. */
static void *gpu_thread(void *arg)
{
	struct readback_fixture *f = arg;
	const uint8_t *pixels = NULL;
	uint32_t stride = 0;
	bool ok;

	f->ctx = gl_host_context_create(f->gl, NULL, 3, 2);
	if (!f->ctx || gl_host_make_current(f->gl, f->ctx) < 0)
		return "no context on the GPU thread";
	f->tex = gl_pattern_texture(TEX_WIDTH, TEX_HEIGHT);
	f->rb = gl_readback_create(f->gl);
	ok = f->rb && gl_readback_start(f->rb, f->tex, TEX_WIDTH, TEX_HEIGHT, true, 1, 2, 30, 20) == 0 &&
	     gl_readback_done(f->rb, true, &pixels, &stride) &&
	     pixels_match(pixels, stride, true, 1, 2, 30, 20);
	gl_readback_destroy(f->rb);
	glDeleteTextures(1, &f->tex);
	if (gl_host_make_current(f->gl, NULL) < 0)
		return "cannot release the context";
	gl_host_context_destroy(f->gl, f->ctx);
	return ok ? NULL : "readback on the GPU thread gave other bytes";
}

static void works_from_another_thread(void)
{
	struct readback_fixture f = { 0 };
	pthread_t thread;
	void *failure = "thread not started";

	f.gl = open_surfaceless();
	if (!f.gl)
		SKIP_TEST(err);
	CHECK(eglGetCurrentContext() == EGL_NO_CONTEXT);
	if (pthread_create(&thread, NULL, gpu_thread, &f) == 0)
		pthread_join(thread, &failure);
	if (failure)
		fprintf(stderr, "  %s\n", (const char *)failure);
	CHECK(failure == NULL);
	gl_host_close(f.gl);
}

static void virglrenderer_starts_on_host_contexts(void)
{
	struct gl_host *gl = open_surfaceless();

	if (!gl)
		SKIP_TEST(err);
	CHECK_EQ(gl_probe_virgl(gl, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	/* A second time: cleanup left nothing behind that stops it. */
	CHECK_EQ(gl_probe_virgl(gl, err, sizeof(err)), 0);
	gl_host_close(gl);
}

TEST_MAIN("gl_host",
	TEST_CASE(opens_surfaceless_with_info),
	TEST_CASE(software_renderers_are_told_apart),
	TEST_CASE(missing_render_node_is_named),
	TEST_CASE(not_a_render_node_fails),
	TEST_CASE(contexts_share_textures),
	TEST_CASE(unreachable_version_fails),
	TEST_CASE(reads_back_whole_texture),
	TEST_CASE(reads_back_sub_rectangle),
	TEST_CASE(polling_finishes_and_repeats),
	TEST_CASE(bad_rectangles_are_refused),
	TEST_CASE(works_from_another_thread),
	TEST_CASE(virglrenderer_starts_on_host_contexts))
