/* One long GL job in the guest, for the GL test's question "does the
 * guest keep running while the host's GPU works?" (tests/guest/gl.sh,
 * host side tests/e2e/guest_gl.sh): while this program waits for a job
 * of several seconds, the host types lines on the serial console and the
 * guest must echo them before the job ends.
 *
 *   glbusy SECONDS
 *
 * It renders offscreen (a GBM device on the render node, a GLES2 context
 * with no surface, a 512x512 framebuffer object), so it needs no display.
 * A job is one draw of a full-screen quad whose fragment shader loops N
 * times: one draw, so that the whole job reaches the host at once, at the
 * flush, and not piecemeal while the guest still issues it. N is found by
 * timing jobs of N = 256, 1024, 4096, ... (each its own program, drawn
 * once small first so that the host compiles it outside the timing)
 * until one takes a quarter of SECONDS; the last two timings give the
 * cost of one more iteration apart from the job's fixed cost, and so the
 * N of SECONDS. That job is flushed to the host, "GLBUSY job-start" is
 * printed, and glFinish waits for the job's fence. Lines on stdout:
 *
 *   GLBUSY renderer=<GL_RENDERER>
 *   GLBUSY calibrated iterations=N seconds=S   (each timing)
 *   GLBUSY job-start iterations=N
 *   GLBUSY job-end seconds=S pixel=RRGGBB   (S: flush to glFinish's return)
 *
 * The pixel read back at the end must be the shader's colour (00ff00): the
 * job was drawn, not dropped. Exit status 0 when all of it worked, 1 on a
 * failure (said on stderr as "glbusy: ..."), 2 for bad usage. Linked
 * dynamically against the host's libEGL, libGLESv2 and libgbm by
 * tools/mkguest --gl. */
#define _GNU_SOURCE
#define EGL_NO_X11
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <errno.h>
#include <fcntl.h>
#include <gbm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gles_program.h"

#define RENDER_NODE "/dev/dri/renderD128"
#define SIZE 512
#define MIN_ITERATIONS 256
#define MAX_ITERATIONS (1l << 24) /* bounds the calibration and the job */

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("glbusy: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A fragment shader that costs: a loop of constant length (GLSL ES 1.00
 * allows no other, so each length is its own program) whose result is
 * thrown away only in a way the compiler cannot see, so every pixel ends
 * green. */
static GLuint program(long iterations)
{
	static const char vs[] =
		"attribute vec2 pos;\n"
		"varying vec2 uv;\n"
		"void main() { uv = pos; gl_Position = vec4(pos, 0.0, 1.0); }\n";
	char fs[512], err[1200];
	GLuint p;

	snprintf(fs, sizeof(fs),
		 "precision highp float;\n"
		 "varying vec2 uv;\n"
		 "void main() {\n"
		 "  float v = uv.x * 0.37 + uv.y * 0.11;\n"
		 "  for (int i = 0; i < %ld; i++) v = fract(v * 1.618 + 0.123);\n"
		 "  gl_FragColor = vec4(0.0, 1.0, step(2.0, v), 1.0);\n"
		 "}\n", iterations);
	p = gles_program(vs, fs, "pos", err, sizeof(err));
	if (!p)
		fail("%s", err);
	return p;
}

/* Makes the program of iterations current, drawn once on one pixel and
 * finished, so that the host has compiled it before it is timed. */
static void use_program(long iterations)
{
	static const GLfloat cover[] = { -1, -1, 3, -1, -1, 3 };

	glUseProgram(program(iterations));
	glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 0, cover);
	glEnableVertexAttribArray(0);
	glViewport(0, 0, 1, 1);
	glDrawArrays(GL_TRIANGLES, 0, 3);
	glFinish();
	glViewport(0, 0, SIZE, SIZE);
}

/* One job of the current program: drawn, flushed, waited for. */
static double time_job(void)
{
	double t = now_s();

	glDrawArrays(GL_TRIANGLES, 0, 3);
	glFinish();
	return now_s() - t;
}

int main(int argc, char **argv)
{
	static const EGLint config_attrs[] = {
		EGL_SURFACE_TYPE, 0, EGL_RENDERABLE_TYPE, EGL_OPENGL_ES2_BIT, EGL_NONE,
	};
	static const EGLint context_attrs[] = { EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE };
	PFNEGLGETPLATFORMDISPLAYEXTPROC get_display;
	EGLConfig config;
	EGLint nconfigs = 0, major, minor;
	double seconds, t, took = 0, took_before = 0;
	long n = MIN_ITERATIONS, n_before = 0;
	int fd;
	GLuint tex, fbo;
	GLubyte px[4] = { 0 };
	char *end;

	if (argc != 2)
		goto usage;
	seconds = strtod(argv[1], &end);
	if (*end || !(seconds >= 0.5 && seconds <= 600))
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);

	fd = open(RENDER_NODE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fail("cannot open %s: %s", RENDER_NODE, strerror(errno));
	struct gbm_device *gbm = gbm_create_device(fd);
	if (!gbm)
		fail("gbm_create_device on %s failed", RENDER_NODE);
	get_display = (PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
	if (!get_display)
		fail("EGL lacks eglGetPlatformDisplayEXT");
	EGLDisplay dpy = get_display(EGL_PLATFORM_GBM_KHR, gbm, NULL);
	if (dpy == EGL_NO_DISPLAY || !eglInitialize(dpy, &major, &minor))
		fail("no EGL display on GBM: 0x%04x", eglGetError());
	if (!eglBindAPI(EGL_OPENGL_ES_API) ||
	    !eglChooseConfig(dpy, config_attrs, &config, 1, &nconfigs) || nconfigs < 1)
		fail("no GLES2 EGL config: 0x%04x", eglGetError());
	EGLContext ctx = eglCreateContext(dpy, config, EGL_NO_CONTEXT, context_attrs);
	if (ctx == EGL_NO_CONTEXT)
		fail("eglCreateContext(GLES2): 0x%04x", eglGetError());
	/* No surface: EGL_KHR_surfaceless_context, which Mesa has. */
	if (!eglMakeCurrent(dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, ctx))
		fail("eglMakeCurrent without a surface: 0x%04x", eglGetError());
	printf("GLBUSY renderer=%s\n", (const char *)glGetString(GL_RENDERER));

	glGenTextures(1, &tex);
	glBindTexture(GL_TEXTURE_2D, tex);
	glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, SIZE, SIZE, 0, GL_RGBA, GL_UNSIGNED_BYTE, NULL);
	glGenFramebuffers(1, &fbo);
	glBindFramebuffer(GL_FRAMEBUFFER, fbo);
	glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, tex, 0);
	if (glCheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE)
		fail("the framebuffer object is not complete");

	/* Calibration: each timing is its own job, finished before the next.
	 * A job's time is a fixed part (the round trip to the host and back,
	 * long in a nested VM) and a part per iteration: the difference of
	 * two timings gives the latter. */
	for (;;) {
		use_program(n);
		took_before = took;
		took = time_job();
		printf("GLBUSY calibrated iterations=%ld seconds=%.3f\n", n, took);
		if (took >= seconds / 4 || n >= MAX_ITERATIONS)
			break;
		n_before = n;
		n *= 4;
	}
	if (took < seconds) {
		double per = n_before && took > took_before ? (took - took_before) / (double)(n - n_before)
							     : took / (double)n;
		double want = (double)n + (seconds - took) / per;

		n = want > (double)MAX_ITERATIONS ? MAX_ITERATIONS : (long)want;
	}

	/* The job: drawn, flushed to the host, then waited for. */
	use_program(n);
	glDrawArrays(GL_TRIANGLES, 0, 3);
	t = now_s();
	glFlush();
	printf("GLBUSY job-start iterations=%ld\n", n);
	glFinish();
	took = now_s() - t;
	glReadPixels(SIZE / 2, SIZE / 2, 1, 1, GL_RGBA, GL_UNSIGNED_BYTE, px);
	printf("GLBUSY job-end seconds=%.3f pixel=%02x%02x%02x\n", took, px[0], px[1], px[2]);
	if (glGetError() != GL_NO_ERROR)
		fail("a GL error while drawing");
	if (px[0] != 0 || px[1] != 0xff || px[2] != 0)
		fail("the job's pixel is %02x%02x%02x, not 00ff00", px[0], px[1], px[2]);

	eglMakeCurrent(dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
	eglDestroyContext(dpy, ctx);
	eglTerminate(dpy);
	gbm_device_destroy(gbm);
	close(fd);
	return 0;

usage:
	fprintf(stderr, "usage: glbusy SECONDS   (0.5 to 600)\n");
	return 2;
}
