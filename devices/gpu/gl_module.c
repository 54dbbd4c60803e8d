/* gvmm's side of the GL module (devices/gpu/gl_module.h): finding and
 * loading gvmm-gl.so once, and the functions the rest of gvmm calls,
 * each a call into the module's table. Only gvmm itself links this file;
 * unit tests and fuzzers link the module's sources instead. */
#include "gl_module.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const struct gl_module *loaded;
/* Room for a message that names the executable's folder twice. */
#define LOAD_ERROR_MAX (2 * PATH_MAX + 256)
static char load_error[LOAD_ERROR_MAX];

/* Where the module is: 0, or -1 with one line in err. */
static int module_path(char *path, size_t size, char *err, size_t errlen)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0) {
		snprintf(err, errlen, "cannot tell where gvmm is (/proc/self/exe: %s)",
			 n < 0 ? strerror(errno) : "empty");
		return -1;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash) {
		snprintf(err, errlen, "cannot tell where gvmm is (/proc/self/exe is '%s')", exe);
		return -1;
	}
	*slash = '\0';
	/* A build tree has the module beside gvmm; `make install` puts it
	 * in PREFIX/lib/gvmm for PREFIX/bin/gvmm. */
	if ((size_t)snprintf(path, size, "%s/%s", exe, GL_MODULE_FILE) < size &&
	    access(path, F_OK) == 0)
		return 0;
	if ((size_t)snprintf(path, size, "%s/../lib/gvmm/%s", exe, GL_MODULE_FILE) < size &&
	    access(path, F_OK) == 0)
		return 0;
	snprintf(err, errlen, "the GL module %s is neither in %s nor in %s/../lib/gvmm "
		 "(it is built and installed with gvmm)", GL_MODULE_FILE, exe, exe);
	return -1;
}

static void load(void)
{
	char path[PATH_MAX + 64], why[LOAD_ERROR_MAX];
	const struct gl_module *table;
	void *handle;

	if (module_path(path, sizeof(path), why, sizeof(why)) < 0) {
		snprintf(load_error, sizeof(load_error), "%s", why);
		return;
	}
	/* RTLD_NOW: a module that cannot resolve a symbol fails here, with
	 * a message, not later in the middle of a guest's request. */
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		snprintf(load_error, sizeof(load_error), "cannot load the GL module: %s",
			 dlerror());
		return;
	}
	table = dlsym(handle, GL_MODULE_SYMBOL);
	if (!table) {
		snprintf(load_error, sizeof(load_error), "%s is not gvmm's GL module (no %s)",
			 path, GL_MODULE_SYMBOL);
		dlclose(handle);
		return;
	}
	if (table->table_size != sizeof(*table) ||
	    strncmp(table->version, GVMM_VERSION, sizeof(table->version)) != 0) {
		snprintf(load_error, sizeof(load_error),
			 "%s is from another gvmm build (version %.32s); reinstall gvmm", path,
			 table->version);
		dlclose(handle);
		return;
	}
	/* Never unloaded: virglrenderer and the GL driver keep threads and
	 * state for the life of the process. */
	loaded = table;
}

/* Loads the module on the first call (any thread) and returns its table,
 * or NULL with one line in err saying why it cannot be used. */
static const struct gl_module *module_get(char *err, size_t errlen)
{
	pthread_once(&load_once, load);
	if (!loaded && err && errlen)
		snprintf(err, errlen, "%s", load_error);
	return loaded;
}

/* ---- the module's functions, as the rest of gvmm calls them ----
 *
 * The ones that open something load the module and fail with its error;
 * every other one takes what an open returned, so the module is there. */

int gl_host_open(struct gl_host **out, const char *render_node, char *err, size_t errlen)
{
	const struct gl_module *m = module_get(err, errlen);

	*out = NULL;
	return m ? m->gl_host_open(out, render_node, err, errlen) : -1;
}

void gl_host_close(struct gl_host *gl)
{
	if (gl)
		loaded->gl_host_close(gl);
}

const struct gl_host_info *gl_host_info(const struct gl_host *gl)
{
	return loaded->gl_host_info(gl);
}

bool gl_host_is_software(const struct gl_host_info *info)
{
	return loaded->gl_host_is_software(info);
}

int gl_probe_virgl(struct gl_host *gl, char *err, size_t errlen)
{
	return loaded->gl_probe_virgl(gl, err, errlen);
}

int gl_probe_dmabuf(struct gl_host *gl, char *err, size_t errlen)
{
	return loaded->gl_probe_dmabuf(gl, err, errlen);
}

/* NULL without the module: the gl_host_open that follows says why. */
const struct gpu3d_gl_ops *gpu3d_gl_host_ops(void)
{
	const struct gl_module *m = module_get(NULL, 0);

	return m ? m->gpu3d_gl_host_ops() : NULL;
}

int gpu3d_create(struct gpu3d **out, const struct gpu3d_config *cfg, char *err, size_t errlen)
{
	const struct gl_module *m = module_get(err, errlen);

	*out = NULL;
	return m ? m->gpu3d_create(out, cfg, err, errlen) : -1;
}

void gpu3d_destroy(struct gpu3d *g)
{
	if (g)
		loaded->gpu3d_destroy(g);
}

void gpu3d_reset(struct gpu3d *g)
{
	loaded->gpu3d_reset(g);
}

uint32_t gpu3d_num_capsets(const struct gpu3d *g)
{
	return loaded->gpu3d_num_capsets(g);
}

bool gpu3d_offers_blob(const struct gpu3d *g)
{
	return loaded->gpu3d_offers_blob(g);
}

void gpu3d_set_features(struct gpu3d *g, bool edid, bool context_init, bool blob)
{
	loaded->gpu3d_set_features(g, edid, context_init, blob);
}

size_t gpu3d_handle(struct gpu3d *g, enum gpu2d_queue queue, const uint8_t *req,
		    size_t req_len, uint8_t *resp, size_t resp_cap, uint64_t token,
		    bool *held)
{
	return loaded->gpu3d_handle(g, queue, req, req_len, resp, resp_cap, token, held);
}

int gpu3d_poll_fd(const struct gpu3d *g)
{
	return loaded->gpu3d_poll_fd(g);
}

void gpu3d_poll(struct gpu3d *g)
{
	loaded->gpu3d_poll(g);
}

size_t gpu3d_pending(const struct gpu3d *g)
{
	return loaded->gpu3d_pending(g);
}

void gpu3d_show_again(struct gpu3d *g)
{
	loaded->gpu3d_show_again(g);
}

bool gpu3d_set_preferred_mode(struct gpu3d *g, unsigned output, uint32_t width,
			      uint32_t height)
{
	return loaded->gpu3d_set_preferred_mode(g, output, width, height);
}
