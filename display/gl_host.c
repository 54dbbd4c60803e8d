/* Host OpenGL (display/gl_host.h): choosing the EGL display (a render node
 * through GBM, or surfaceless), the one context configuration every
 * context uses, and the first (root) context the others share with.
 *
 * EGL binds the client API per thread, and eglMakeCurrent(EGL_NO_CONTEXT)
 * releases only the context of the API bound on the calling thread, so
 * every call that creates or switches contexts binds the host's API first:
 * contexts are created on the GPU thread, not where the host was opened. */
#include "gl_host.h"
#include "../vmm/error_text.h"

#include <dlfcn.h>
#include <epoxy/egl.h>
#include <epoxy/gl.h>
#include <errno.h>
#include <fcntl.h>
#include <gbm.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xf86drm.h>

/* DRM render nodes are minors 128 to 255 (renderD128 is the first GPU). */
#define RENDER_NODE_FIRST_MINOR 128
#define RENDER_NODE_LAST_MINOR  255

/* The root context asks for the first core version EGL defines a profile
 * for; Mesa hands back the newest version it supports, which is what
 * gl_host_info shows. */
#define ROOT_GL_MAJOR   3
#define ROOT_GL_MINOR   2
#define ROOT_GLES_MAJOR 3
#define ROOT_GLES_MINOR 0

struct gl_host {
	char node_path[64];        /* the render node; empty when surfaceless */
	int drm_fd;                /* -1 when surfaceless */
	struct gbm_device *gbm;
	EGLDisplay display;
	bool display_initialised;
	EGLConfig config;          /* EGL_NO_CONFIG_KHR where that is allowed */
	EGLenum api;               /* EGL_OPENGL_API, or EGL_OPENGL_ES_API */
	EGLContext root;
	struct gl_host_info info;
};

static const char *egl_error_name(EGLint code)
{
	switch (code) {
	case EGL_SUCCESS:             return "no error";
	case EGL_NOT_INITIALIZED:     return "EGL_NOT_INITIALIZED";
	case EGL_BAD_ACCESS:          return "EGL_BAD_ACCESS";
	case EGL_BAD_ALLOC:           return "EGL_BAD_ALLOC";
	case EGL_BAD_ATTRIBUTE:       return "EGL_BAD_ATTRIBUTE";
	case EGL_BAD_CONFIG:          return "EGL_BAD_CONFIG";
	case EGL_BAD_CONTEXT:         return "EGL_BAD_CONTEXT";
	case EGL_BAD_DISPLAY:         return "EGL_BAD_DISPLAY";
	case EGL_BAD_MATCH:           return "EGL_BAD_MATCH";
	case EGL_BAD_PARAMETER:       return "EGL_BAD_PARAMETER";
	default:                      return "EGL error";
	}
}

static int egl_failure(char *err, size_t errlen, const char *where, const char *what)
{
	EGLint code = eglGetError();

	return write_error(err, errlen, "%s: %s failed (%s, 0x%x)", where, what,
			   egl_error_name(code), (unsigned)code);
}

static void copy_string(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "(none)");
}

/* Undoes whatever open_surfaceless or open_render_node got to, so auto
 * mode can try the next device with a clean host. */
static void release_device(struct gl_host *gl)
{
	if (gl->root != EGL_NO_CONTEXT) {
		eglBindAPI(gl->api);
		eglMakeCurrent(gl->display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
		eglDestroyContext(gl->display, gl->root);
		gl->root = EGL_NO_CONTEXT;
	}
	if (gl->display_initialised)
		eglTerminate(gl->display);
	gl->display_initialised = false;
	gl->display = EGL_NO_DISPLAY;
	if (gl->gbm)
		gbm_device_destroy(gl->gbm);
	gl->gbm = NULL;
	if (gl->drm_fd >= 0)
		close(gl->drm_fd);
	gl->drm_fd = -1;
	gl->node_path[0] = 0;
}

static EGLContext create_context(struct gl_host *gl, EGLContext share, int major, int minor)
{
	EGLint desktop_attribs[] = {
		EGL_CONTEXT_MAJOR_VERSION, major,
		EGL_CONTEXT_MINOR_VERSION, minor,
		EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
		EGL_NONE,
	};
	EGLint gles_attribs[] = {
		EGL_CONTEXT_MAJOR_VERSION, major,
		EGL_CONTEXT_MINOR_VERSION, minor,
		EGL_NONE,
	};

	if (!eglBindAPI(gl->api))
		return EGL_NO_CONTEXT;
	return eglCreateContext(gl->display, gl->config, share,
				gl->api == EGL_OPENGL_API ? desktop_attribs : gles_attribs);
}

/* The config every context uses: none where EGL allows contexts without
 * one (no surfaces are ever made), else any that renders the API. */
static int choose_config(struct gl_host *gl, EGLenum api, const char *where, char *err,
			 size_t errlen)
{
	EGLint attribs[] = {
		EGL_SURFACE_TYPE, EGL_DONT_CARE,
		EGL_RENDERABLE_TYPE, api == EGL_OPENGL_API ? EGL_OPENGL_BIT : EGL_OPENGL_ES3_BIT,
		EGL_NONE,
	};
	EGLint count = 0;

	if (epoxy_has_egl_extension(gl->display, "EGL_KHR_no_config_context")) {
		gl->config = EGL_NO_CONFIG_KHR;
		return 0;
	}
	if (!eglChooseConfig(gl->display, attribs, &gl->config, 1, &count))
		return egl_failure(err, errlen, where, "eglChooseConfig");
	if (count < 1)
		return write_error(err, errlen, "%s: no EGL config renders %s", where,
				   api == EGL_OPENGL_API ? "desktop GL" : "GLES 3");
	return 0;
}

/* Desktop GL core profile when the display offers it, else GLES 3. */
static int create_root_context(struct gl_host *gl, const char *where, char *err, size_t errlen)
{
	static const struct { EGLenum api; int major, minor; } choices[] = {
		{ EGL_OPENGL_API, ROOT_GL_MAJOR, ROOT_GL_MINOR },
		{ EGL_OPENGL_ES_API, ROOT_GLES_MAJOR, ROOT_GLES_MINOR },
	};

	for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
		if (choose_config(gl, choices[i].api, where, err, errlen) < 0)
			continue;
		gl->api = choices[i].api;
		gl->root = create_context(gl, EGL_NO_CONTEXT, choices[i].major, choices[i].minor);
		if (gl->root != EGL_NO_CONTEXT)
			return 0;
		egl_failure(err, errlen, where, choices[i].api == EGL_OPENGL_API ?
			    "creating a desktop GL core context" : "creating a GLES 3 context");
	}
	return -1;
}

/* Fills gl->info from the root context, made current here just long
 * enough to ask GL, then released so the GPU thread can take it. */
static int read_info(struct gl_host *gl, const char *where, char *err, size_t errlen)
{
	struct gl_host_info *info = &gl->info;

	if (gl_host_make_current(gl, gl->root) < 0)
		return egl_failure(err, errlen, where, "eglMakeCurrent");
	copy_string(info->renderer, sizeof(info->renderer), (const char *)glGetString(GL_RENDERER));
	copy_string(info->version, sizeof(info->version), (const char *)glGetString(GL_VERSION));
	gl_host_make_current(gl, NULL);
	info->gles = gl->api == EGL_OPENGL_ES_API;
	copy_string(info->device, sizeof(info->device), gl->node_path[0] ? gl->node_path : "surfaceless");
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int pin_if_dri_driver(struct dl_phdr_info *info, size_t size, void *unused)
{
	(void)size;
	(void)unused;
	/* Taking a reference with RTLD_NODELETE keeps it for good; the
	 * handle itself is not needed. */
	if (info->dlpi_name && strstr(info->dlpi_name, "/dri/") &&
	    ends_with(info->dlpi_name, "_dri.so"))
		(void)dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
	return 0;
}

/* Keeps the Mesa DRI driver eglInitialize loaded in memory until gvmm
 * exits. eglTerminate unloads it, and each unload leaves behind what its
 * once-only set-up allocated (Debian 12's Mesa 22.3.6-1+deb12u2: 128
 * bytes per load, reported as leaks under ASan); a driver loaded once
 * also spares every later open (the `gvmm check` probe, a guest reboot)
 * the time to load it again. */
static void pin_gl_driver(void)
{
	dl_iterate_phdr(pin_if_dri_driver, NULL);
}

/* From an EGLDisplay got for the device: initialised, able to make
 * contexts current without surfaces, with a root context and the info. */
static int set_up_display(struct gl_host *gl, const char *where, char *err, size_t errlen)
{
	EGLint major, minor;

	if (gl->display == EGL_NO_DISPLAY)
		return egl_failure(err, errlen, where, "eglGetPlatformDisplayEXT");
	if (!eglInitialize(gl->display, &major, &minor))
		return egl_failure(err, errlen, where, "eglInitialize");
	gl->display_initialised = true;
	pin_gl_driver();
	if (!epoxy_has_egl_extension(gl->display, "EGL_KHR_surfaceless_context"))
		return write_error(err, errlen, "%s: EGL lacks EGL_KHR_surfaceless_context", where);
	if (major * 10 + minor < 15 && !epoxy_has_egl_extension(gl->display, "EGL_KHR_create_context"))
		return write_error(err, errlen, "%s: EGL %d.%d lacks EGL_KHR_create_context",
				   where, major, minor);
	if (create_root_context(gl, where, err, errlen) < 0)
		return -1;
	return read_info(gl, where, err, errlen);
}

static int open_surfaceless(struct gl_host *gl, char *err, size_t errlen)
{
	if (!epoxy_has_egl_extension(EGL_NO_DISPLAY, "EGL_MESA_platform_surfaceless"))
		return write_error(err, errlen, "surfaceless: EGL has no surfaceless platform "
				   "(EGL_MESA_platform_surfaceless)");
	gl->display = eglGetPlatformDisplayEXT(EGL_PLATFORM_SURFACELESS_MESA,
					       EGL_DEFAULT_DISPLAY, NULL);
	return set_up_display(gl, "surfaceless", err, errlen);
}

static int open_render_node(struct gl_host *gl, const char *path, char *err, size_t errlen)
{
	drmVersionPtr version;

	if (strlen(path) >= sizeof(gl->node_path))
		return write_error(err, errlen, "%s: path too long for a render node", path);
	gl->drm_fd = open(path, O_RDWR | O_CLOEXEC);
	if (gl->drm_fd < 0)
		return write_error(err, errlen, "%s: %s", path, strerror(errno));
	strcpy(gl->node_path, path);
	/* GBM and EGL would take any file and fall back to software. */
	version = drmGetVersion(gl->drm_fd);
	if (!version)
		return write_error(err, errlen, "%s: not a DRM device", path);
	drmFreeVersion(version);
	gl->gbm = gbm_create_device(gl->drm_fd);
	if (!gl->gbm)
		return write_error(err, errlen, "%s: GBM cannot drive it (not a GPU render node?)", path);
	if (!epoxy_has_egl_extension(EGL_NO_DISPLAY, "EGL_KHR_platform_gbm") &&
	    !epoxy_has_egl_extension(EGL_NO_DISPLAY, "EGL_MESA_platform_gbm"))
		return write_error(err, errlen, "%s: EGL has no GBM platform", path);
	gl->display = eglGetPlatformDisplayEXT(EGL_PLATFORM_GBM_KHR, gl->gbm, NULL);
	return set_up_display(gl, path, err, errlen);
}

/* The first render node that works, else surfaceless. A node that exists
 * but fails is remembered in fallback_reason: on a host with a GPU,
 * landing on llvmpipe is worth explaining. */
static int open_first_working(struct gl_host *gl, char *err, size_t errlen)
{
	char path[64], why[sizeof(gl->info.fallback_reason)] = "";
	char node_err[160];
	bool saw_node = false;

	for (int minor = RENDER_NODE_FIRST_MINOR; minor <= RENDER_NODE_LAST_MINOR; minor++) {
		snprintf(path, sizeof(path), "/dev/dri/renderD%d", minor);
		if (access(path, F_OK) < 0)
			continue;
		if (open_render_node(gl, path, node_err, sizeof(node_err)) == 0)
			return 0;
		release_device(gl);
		if (!saw_node)
			snprintf(why, sizeof(why), "%s", node_err);
		saw_node = true;
	}
	if (!saw_node)
		snprintf(why, sizeof(why), "no render node in /dev/dri");
	if (open_surfaceless(gl, node_err, sizeof(node_err)) < 0) {
		release_device(gl);
		return write_error(err, errlen, "%s%s%s; %s", saw_node ? "no render node worked (" : "",
				   why, saw_node ? ")" : "", node_err);
	}
	snprintf(gl->info.fallback_reason, sizeof(gl->info.fallback_reason), "%s", why);
	return 0;
}

int gl_host_open(struct gl_host **out, const char *render_node, char *err, size_t errlen)
{
	struct gl_host *gl = calloc(1, sizeof(*gl));
	int ret;

	*out = NULL;
	if (!gl)
		return write_error(err, errlen, "out of memory for the GL host");
	gl->drm_fd = -1;
	gl->display = EGL_NO_DISPLAY;
	gl->root = EGL_NO_CONTEXT;
	if (render_node)
		ret = open_render_node(gl, render_node, err, errlen);
	else
		ret = open_first_working(gl, err, errlen);
	if (ret < 0) {
		release_device(gl);
		free(gl);
		return -1;
	}
	*out = gl;
	return 0;
}

void gl_host_close(struct gl_host *gl)
{
	if (!gl)
		return;
	release_device(gl);
	eglReleaseThread();
	free(gl);
}

const struct gl_host_info *gl_host_info(const struct gl_host *gl)
{
	return &gl->info;
}

int gl_host_drm_fd(struct gl_host *gl)
{
	if (!gl->node_path[0])
		return -1;
	return open(gl->node_path, O_RDWR | O_CLOEXEC);
}

void *gl_host_egl_display(struct gl_host *gl)
{
	return gl->display;
}

bool gl_host_is_software(const struct gl_host_info *info)
{
	static const char *const software[] = { "llvmpipe", "softpipe", "swrast" };

	for (size_t i = 0; i < sizeof(software) / sizeof(software[0]); i++)
		if (strcasestr(info->renderer, software[i]))
			return true;
	return false;
}

struct gbm_device *gl_host_gbm(struct gl_host *gl)
{
	return gl->gbm;
}

gl_host_context gl_host_context_create(struct gl_host *gl, gl_host_context shared,
				       int major, int minor)
{
	EGLContext ctx = create_context(gl, shared ? shared : gl->root, major, minor);

	return ctx == EGL_NO_CONTEXT ? NULL : ctx;
}

void gl_host_context_destroy(struct gl_host *gl, gl_host_context ctx)
{
	if (!ctx)
		return;
	/* EGL defers destroying a context current on some thread until it
	 * is released; release it here if it is this thread's. */
	if (eglGetCurrentContext() == ctx)
		gl_host_make_current(gl, NULL);
	eglDestroyContext(gl->display, ctx);
}

int gl_host_make_current(struct gl_host *gl, gl_host_context ctx)
{
	if (!eglBindAPI(gl->api))
		return -1;
	if (!eglMakeCurrent(gl->display, EGL_NO_SURFACE, EGL_NO_SURFACE,
			    ctx ? ctx : EGL_NO_CONTEXT))
		return -1;
	return 0;
}
