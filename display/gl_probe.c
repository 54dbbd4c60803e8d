/* virglrenderer brought up on gl_host's contexts and torn down again
 * (display/gl_probe.h). virglrenderer asks for contexts through callbacks
 * when it is given no window system of its own (flags without
 * VIRGL_RENDERER_USE_EGL), which is how gvmm runs it: on one EGL display
 * that the readback also uses. */
#include "gl_probe.h"
#include "gl_dmabuf.h"
#include "../vmm/error_text.h"

#include <stdio.h>
#include <string.h>
#include <virglrenderer.h>

/* virglrenderer's own messages during the probe: kept, not printed, so
 * `gvmm check` stays plain; the last one explains a failure. */
static char last_virgl_message[160];

static void keep_virgl_message(const char *fmt, va_list args)
{
	vsnprintf(last_virgl_message, sizeof(last_virgl_message), fmt, args);
	last_virgl_message[strcspn(last_virgl_message, "\n")] = 0;
}

/* Every gl_host context shares with the host's first one, so
 * virglrenderer's "shared" flag is met whatever it says. */
static virgl_renderer_gl_context probe_create_context(void *cookie, int scanout_idx,
						      struct virgl_renderer_gl_ctx_param *param)
{
	(void)scanout_idx;
	return gl_host_context_create(cookie, NULL, param->major_ver, param->minor_ver);
}

static void probe_destroy_context(void *cookie, virgl_renderer_gl_context ctx)
{
	gl_host_context_destroy(cookie, ctx);
}

static int probe_make_current(void *cookie, int scanout_idx, virgl_renderer_gl_context ctx)
{
	(void)scanout_idx;
	return gl_host_make_current(cookie, ctx);
}

static void probe_write_fence(void *cookie, uint32_t fence)
{
	(void)cookie;
	(void)fence;
}

int gl_probe_virgl(struct gl_host *gl, char *err, size_t errlen)
{
	struct virgl_renderer_callbacks callbacks = {
		.version = 1,
		.write_fence = probe_write_fence,
		.create_gl_context = probe_create_context,
		.destroy_gl_context = probe_destroy_context,
		.make_current = probe_make_current,
	};
	int flags = gl_host_info(gl)->gles ? VIRGL_RENDERER_USE_GLES : 0;
	virgl_debug_callback_type previous;
	int ret;

	last_virgl_message[0] = 0;
	previous = virgl_set_debug_callback(keep_virgl_message);
	ret = virgl_renderer_init(gl, flags, &callbacks);
	if (ret == 0)
		virgl_renderer_cleanup(gl);
	virgl_set_debug_callback(previous);
	gl_host_make_current(gl, NULL);
	if (ret != 0)
		return write_error(err, errlen, "virgl_renderer_init failed (%d) on %s%s%s", ret,
				   gl_host_info(gl)->renderer, last_virgl_message[0] ? ": " : "",
				   last_virgl_message);
	return 0;
}

int gl_probe_dmabuf(struct gl_host *gl, char *err, size_t errlen)
{
	bool gles = gl_host_info(gl)->gles;
	gl_host_context ctx = gl_host_context_create(gl, NULL, 3, gles ? 0 : 2);
	int ret = -1;

	if (!ctx)
		return write_error(err, errlen, "no GL context to try it in");
	if (gl_host_make_current(gl, ctx) == 0)
		ret = gl_dmabuf_try(gl, err, errlen);
	else
		write_error(err, errlen, "the probe's GL context cannot be made current");
	gl_host_make_current(gl, NULL);
	gl_host_context_destroy(gl, ctx);
	return ret;
}
