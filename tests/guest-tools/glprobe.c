/* Renders frames with OpenGL ES through the guest's virtio-gpu (Mesa's
 * virgl driver) and shows them on the display, for the GL test
 * (tests/guest/gl.sh, host side tests/e2e/guest_gl.sh).
 *
 *   glprobe FRAMES HOLD_SECONDS STOPFILE
 *
 * It opens /dev/dri/card0, takes the first connected connector at its
 * preferred mode, and renders through GBM + EGL + GLES2. Frame 1 is white;
 * every later one is the test picture: the left half red (255,0,0), the
 * right half blue (0,0,255) drawn by a shader, and a green (0,255,0) strip
 * over the top eighth, so that a picture shown upside down or mirrored
 * shows. The frames between the first and the last show that picture
 * with every colour XORed with a mask that changes each frame: frame k
 * (from 2) with mask 1 + (k - 2) % 7, where mask j flips bit 7 of red
 * (j & 1), green (j & 2) and blue (j & 4); the last frame has none. So a
 * viewer can tell consecutive frames apart, and a frame it got whole
 * (every part of it under one mask) from one it got in pieces
 * (tests/e2e/spice_client.py count-frames). Frame 1 is set on the CRTC,
 * each later one page-flipped (each flip waits for the rendering's
 * fence). Lines on stdout:
 *
 *   GLPROBE renderer=<GL_RENDERER> version=<GL_VERSION>
 *   GLPROBE size=WxH
 *   GLPROBE readback left=RRGGBB right=RRGGBB top=RRGGBB   (glReadPixels
 *           of the last frame: must be ff0000 0000ff 00ff00)
 *   GLPROBE frames=N seconds=S
 *   GLPROBE shown                 (the last frame is on the CRTC)
 *   GLPROBE hold=stopfile|timeout
 *
 * It then keeps that frame on the display until STOPFILE exists or
 * HOLD_SECONDS pass. Exit status 0 when all of it worked, 1 on any
 * failure (said on stderr as "glprobe: ..."), 2 for bad usage.
 * Linked dynamically against the host's libEGL, libGLESv2, libgbm and
 * libdrm by tools/mkguest --gl. */
#define _GNU_SOURCE
#define EGL_NO_X11
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <errno.h>
#include <fcntl.h>
#include <gbm.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "gles_program.h"

#define CARD "/dev/dri/card0"
#define FLIP_TIMEOUT_MS 30000

static int drm_fd = -1;

static void fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("glprobe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- DRM: connector, mode, CRTC --- */

struct output {
	uint32_t connector, crtc;
	drmModeModeInfo mode;
};

static uint32_t crtc_for(drmModeRes *res, drmModeConnector *conn)
{
	for (int i = 0; i < conn->count_encoders; i++) {
		drmModeEncoder *enc = drmModeGetEncoder(drm_fd, conn->encoders[i]);
		uint32_t crtc = 0;

		if (!enc)
			continue;
		if (enc->encoder_id == conn->encoder_id && enc->crtc_id)
			crtc = enc->crtc_id;
		for (int c = 0; !crtc && c < res->count_crtcs; c++)
			if (enc->possible_crtcs & (1u << c))
				crtc = res->crtcs[c];
		drmModeFreeEncoder(enc);
		if (crtc)
			return crtc;
	}
	return 0;
}

static struct output find_output(void)
{
	drmModeRes *res = drmModeGetResources(drm_fd);
	struct output out = { 0 };

	if (!res)
		fail("%s has no KMS resources: %s", CARD, strerror(errno));
	for (int i = 0; i < res->count_connectors && !out.connector; i++) {
		drmModeConnector *conn = drmModeGetConnector(drm_fd, res->connectors[i]);

		if (!conn)
			continue;
		if (conn->connection == DRM_MODE_CONNECTED && conn->count_modes > 0) {
			out.crtc = crtc_for(res, conn);
			if (out.crtc) {
				out.connector = conn->connector_id;
				out.mode = conn->modes[0];
				for (int m = 0; m < conn->count_modes; m++)
					if (conn->modes[m].type & DRM_MODE_TYPE_PREFERRED) {
						out.mode = conn->modes[m];
						break;
					}
			}
		}
		drmModeFreeConnector(conn);
	}
	drmModeFreeResources(res);
	if (!out.connector)
		fail("no connected connector with a mode and a CRTC on %s", CARD);
	return out;
}

/* The framebuffer of a GBM buffer, made on first use and removed with it. */
static void drop_fb(struct gbm_bo *bo, void *data)
{
	uint32_t *fb = data;

	(void)bo;
	drmModeRmFB(drm_fd, *fb);
	free(fb);
}

static uint32_t fb_of(struct gbm_bo *bo)
{
	uint32_t *fb = gbm_bo_get_user_data(bo);

	if (fb)
		return *fb;
	fb = malloc(sizeof(*fb));
	if (!fb)
		fail("out of memory");
	if (drmModeAddFB(drm_fd, gbm_bo_get_width(bo), gbm_bo_get_height(bo), 24, 32,
			 gbm_bo_get_stride(bo), gbm_bo_get_handle(bo).u32, fb))
		fail("drmModeAddFB: %s", strerror(errno));
	gbm_bo_set_user_data(bo, fb, drop_fb);
	return *fb;
}

static void flip_done(int fd, unsigned int seq, unsigned int sec, unsigned int usec, void *data)
{
	(void)fd, (void)seq, (void)sec, (void)usec;
	*(bool *)data = true;
}

/* Page-flips to fb and waits for the flip's event. */
static void flip(uint32_t crtc, uint32_t fb)
{
	drmEventContext ev = { .version = 2, .page_flip_handler = flip_done };
	bool done = false;

	if (drmModePageFlip(drm_fd, crtc, fb, DRM_MODE_PAGE_FLIP_EVENT, &done))
		fail("drmModePageFlip: %s", strerror(errno));
	while (!done) {
		struct pollfd p = { .fd = drm_fd, .events = POLLIN };
		int n = poll(&p, 1, FLIP_TIMEOUT_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("poll on %s: %s", CARD, strerror(errno));
		if (n == 0)
			fail("no page-flip event within %d s (the flip's fence never signalled?)",
			     FLIP_TIMEOUT_MS / 1000);
		if (drmHandleEvent(drm_fd, &ev))
			fail("drmHandleEvent: %s", strerror(errno));
	}
}

/* --- EGL and GLES --- */

static const char *egl_error(void)
{
	static char text[32];

	snprintf(text, sizeof(text), "EGL error 0x%04x", eglGetError());
	return text;
}

static GLuint program(void)
{
	static const char vs[] =
		"attribute vec2 pos;\n"
		"void main() { gl_Position = vec4(pos, 0.0, 1.0); }\n";
	static const char fs[] =
		"precision mediump float;\n"
		"uniform vec4 colour;\n"
		"void main() { gl_FragColor = colour; }\n";
	char err[1200];
	GLuint p = gles_program(vs, fs, "pos", err, sizeof(err));

	if (!p)
		fail("%s", err);
	return p;
}

/* One channel (0 or 255) of the test picture under frame mask MASK
 * (bit BIT of it flips the channel's bit 7), as GL wants it. */
static GLfloat channel(int value, unsigned mask, unsigned bit)
{
	return (GLfloat)(value ^ (mask & bit ? 0x80 : 0)) / 255.0f;
}

/* Frame 1: white. Later frames: red, a blue right half drawn by the
 * shader (one triangle over the whole view, scissored), a green strip at
 * the top (GL's y runs upwards: the top rows are the highest y), every
 * colour under MASK (see the header). */
static void draw(GLuint prog, GLint colour, int w, int h, bool first, unsigned mask)
{
	static const GLfloat cover[] = { -1, -1, 3, -1, -1, 3 };

	glDisable(GL_SCISSOR_TEST);
	if (first) {
		glClearColor(1, 1, 1, 1);
		glClear(GL_COLOR_BUFFER_BIT);
		return;
	}
	glClearColor(channel(255, mask, 1), channel(0, mask, 2), channel(0, mask, 4), 1);
	glClear(GL_COLOR_BUFFER_BIT);

	glEnable(GL_SCISSOR_TEST);
	glScissor(w / 2, 0, w - w / 2, h);
	glUseProgram(prog);
	glUniform4f(colour, channel(0, mask, 1), channel(0, mask, 2), channel(255, mask, 4), 1);
	glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 0, cover);
	glEnableVertexAttribArray(0);
	glDrawArrays(GL_TRIANGLES, 0, 3);

	glScissor(0, h - h / 8, w, h / 8);
	glClearColor(channel(0, mask, 1), channel(255, mask, 2), channel(0, mask, 4), 1);
	glClear(GL_COLOR_BUFFER_BIT);
	glDisable(GL_SCISSOR_TEST);
}

/* One pixel of the back buffer as RRGGBB (x, y from the top left). */
static unsigned read_pixel(int x, int y, int h)
{
	GLubyte p[4] = { 0 };

	glReadPixels(x, h - 1 - y, 1, 1, GL_RGBA, GL_UNSIGNED_BYTE, p);
	return (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
}

int main(int argc, char **argv)
{
	PFNEGLGETPLATFORMDISPLAYEXTPROC get_display;
	PFNEGLCREATEPLATFORMWINDOWSURFACEEXTPROC create_surface;
	static const EGLint config_attrs[] = {
		EGL_SURFACE_TYPE, EGL_WINDOW_BIT, EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8,
		EGL_BLUE_SIZE, 8, EGL_RENDERABLE_TYPE, EGL_OPENGL_ES2_BIT, EGL_NONE,
	};
	static const EGLint context_attrs[] = { EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE };
	EGLConfig configs[64], config = NULL;
	EGLint nconfigs = 0, major, minor;
	const char *exts;
	int frames, hold, w, h;
	struct gbm_bo *shown = NULL;
	double start, deadline;
	GLint colour;
	GLuint prog;
	char *end;

	if (argc != 4)
		goto usage;
	frames = (int)strtol(argv[1], &end, 10);
	if (*end || frames < 1 || frames > 100000)
		goto usage;
	hold = (int)strtol(argv[2], &end, 10);
	if (*end || hold < 0)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);

	drm_fd = open(CARD, O_RDWR | O_CLOEXEC);
	if (drm_fd < 0)
		fail("cannot open %s: %s", CARD, strerror(errno));
	struct output out = find_output();
	w = out.mode.hdisplay;
	h = out.mode.vdisplay;

	struct gbm_device *gbm = gbm_create_device(drm_fd);
	if (!gbm)
		fail("gbm_create_device on %s failed", CARD);
	struct gbm_surface *gs = gbm_surface_create(gbm, w, h, GBM_FORMAT_XRGB8888,
						    GBM_BO_USE_SCANOUT | GBM_BO_USE_RENDERING);
	if (!gs)
		fail("gbm_surface_create %dx%d XRGB8888 failed", w, h);

	exts = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
	if (!exts || !strstr(exts, "EGL_EXT_platform_base") ||
	    (!strstr(exts, "EGL_KHR_platform_gbm") && !strstr(exts, "EGL_MESA_platform_gbm")))
		fail("EGL has no GBM platform (client extensions: %s)", exts ? exts : "none");
	get_display = (PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
	create_surface = (PFNEGLCREATEPLATFORMWINDOWSURFACEEXTPROC)
		eglGetProcAddress("eglCreatePlatformWindowSurfaceEXT");
	if (!get_display || !create_surface)
		fail("EGL lacks eglGetPlatformDisplayEXT or eglCreatePlatformWindowSurfaceEXT");
	EGLDisplay dpy = get_display(EGL_PLATFORM_GBM_KHR, gbm, NULL);
	if (dpy == EGL_NO_DISPLAY || !eglInitialize(dpy, &major, &minor))
		fail("no EGL display on GBM: %s", egl_error());
	if (!eglBindAPI(EGL_OPENGL_ES_API))
		fail("eglBindAPI(GLES): %s", egl_error());
	if (!eglChooseConfig(dpy, config_attrs, configs, 64, &nconfigs))
		fail("eglChooseConfig: %s", egl_error());
	for (EGLint i = 0; i < nconfigs && !config; i++) {
		EGLint id = 0;

		if (eglGetConfigAttrib(dpy, configs[i], EGL_NATIVE_VISUAL_ID, &id) &&
		    id == GBM_FORMAT_XRGB8888)
			config = configs[i];
	}
	if (!config)
		fail("no EGL config for XRGB8888 among %d", nconfigs);
	EGLContext ctx = eglCreateContext(dpy, config, EGL_NO_CONTEXT, context_attrs);
	if (ctx == EGL_NO_CONTEXT)
		fail("eglCreateContext(GLES2): %s", egl_error());
	EGLSurface surf = create_surface(dpy, config, gs, NULL);
	if (surf == EGL_NO_SURFACE)
		fail("eglCreatePlatformWindowSurfaceEXT: %s", egl_error());
	if (!eglMakeCurrent(dpy, surf, surf, ctx))
		fail("eglMakeCurrent: %s", egl_error());

	printf("GLPROBE renderer=%s version=%s\n", (const char *)glGetString(GL_RENDERER),
	       (const char *)glGetString(GL_VERSION));
	printf("GLPROBE egl=%d.%d size=%dx%d\n", major, minor, w, h);
	prog = program();
	colour = glGetUniformLocation(prog, "colour");
	glViewport(0, 0, w, h);

	start = now_s();
	for (int k = 0; k < frames; k++) {
		bool last = k == frames - 1;
		struct gbm_bo *bo;

		draw(prog, colour, w, h, k == 0 && !last, last || k == 0 ? 0 : 1 + (unsigned)(k - 1) % 7);
		if (last) {
			unsigned left = read_pixel(w / 4, h / 2, h);
			unsigned right = read_pixel(3 * w / 4, h / 2, h);
			unsigned top = read_pixel(w / 4, h / 16, h);
			GLenum err = glGetError();

			glFinish();
			printf("GLPROBE readback left=%06x right=%06x top=%06x\n", left, right, top);
			if (err != GL_NO_ERROR)
				fail("GL error 0x%04x while drawing", err);
			if (left != 0xff0000 || right != 0x0000ff || top != 0x00ff00)
				fail("glReadPixels: want left=ff0000 right=0000ff top=00ff00");
		}
		if (!eglSwapBuffers(dpy, surf))
			fail("eglSwapBuffers (frame %d): %s", k + 1, egl_error());
		bo = gbm_surface_lock_front_buffer(gs);
		if (!bo)
			fail("gbm_surface_lock_front_buffer (frame %d) failed", k + 1);
		if (!shown) {
			if (drmModeSetCrtc(drm_fd, out.crtc, fb_of(bo), 0, 0, &out.connector, 1,
					   &out.mode))
				fail("drmModeSetCrtc %dx%d: %s", w, h, strerror(errno));
		} else {
			flip(out.crtc, fb_of(bo));
			gbm_surface_release_buffer(gs, shown);
		}
		shown = bo;
	}
	printf("GLPROBE frames=%d seconds=%.2f\n", frames, now_s() - start);
	printf("GLPROBE shown\n");

	deadline = now_s() + hold;
	while (access(argv[3], F_OK) != 0 && now_s() < deadline)
		usleep(100 * 1000);
	printf("GLPROBE hold=%s\n", access(argv[3], F_OK) == 0 ? "stopfile" : "timeout");

	eglMakeCurrent(dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
	eglDestroySurface(dpy, surf);
	eglDestroyContext(dpy, ctx);
	eglTerminate(dpy);
	return 0;

usage:
	fprintf(stderr, "usage: glprobe FRAMES HOLD_SECONDS STOPFILE\n");
	return 2;
}
