/* gvmm's side of the GL module (devices/gpu/gl_module.h): finding and
 * loading gvmm-gl.so once, and the functions the rest of gvmm calls,
 * each a call into the module's table. Only gvmm itself links this file;
 * unit tests and fuzzers link the module's sources instead. */
#include "gl_module.h"

#include "../../vmm/module_loader.h"

static struct module_slot slot = MODULE_SLOT_INIT(GL_MODULE_FILE, GL_MODULE_SYMBOL,
						  struct gl_module, "the GL module");

/* The module's table, for the functions that take what an open returned:
 * the module is loaded then, and its table never changes again. */
static const struct gl_module *opened(void)
{
	return slot.table;
}

/* ---- the module's functions, as the rest of gvmm calls them ----
 *
 * The ones that open something load the module and fail with its error;
 * every other one takes what an open returned, so the module is there. */

int gl_host_open(struct gl_host **out, const char *render_node, char *err, size_t errlen)
{
	const struct gl_module *m = module_get(&slot, err, errlen);

	*out = NULL;
	return m ? m->gl_host_open(out, render_node, err, errlen) : -1;
}

void gl_host_close(struct gl_host *gl)
{
	if (gl)
		opened()->gl_host_close(gl);
}

const struct gl_host_info *gl_host_info(const struct gl_host *gl)
{
	return opened()->gl_host_info(gl);
}

bool gl_host_is_software(const struct gl_host_info *info)
{
	return opened()->gl_host_is_software(info);
}

int gl_probe_virgl(struct gl_host *gl, char *err, size_t errlen)
{
	return opened()->gl_probe_virgl(gl, err, errlen);
}

int gl_probe_dmabuf(struct gl_host *gl, char *err, size_t errlen)
{
	return opened()->gl_probe_dmabuf(gl, err, errlen);
}

/* NULL without the module: the gl_host_open that follows says why. */
const struct gpu3d_gl_ops *gpu3d_gl_host_ops(void)
{
	const struct gl_module *m = module_get(&slot, NULL, 0);

	return m ? m->gpu3d_gl_host_ops() : NULL;
}

int gpu3d_create(struct gpu3d **out, const struct gpu3d_config *cfg, char *err, size_t errlen)
{
	const struct gl_module *m = module_get(&slot, err, errlen);

	*out = NULL;
	return m ? m->gpu3d_create(out, cfg, err, errlen) : -1;
}

void gpu3d_destroy(struct gpu3d *g)
{
	if (g)
		opened()->gpu3d_destroy(g);
}

void gpu3d_reset(struct gpu3d *g)
{
	opened()->gpu3d_reset(g);
}

uint32_t gpu3d_num_capsets(const struct gpu3d *g)
{
	return opened()->gpu3d_num_capsets(g);
}

bool gpu3d_offers_blob(const struct gpu3d *g)
{
	return opened()->gpu3d_offers_blob(g);
}

void gpu3d_set_features(struct gpu3d *g, bool edid, bool context_init, bool blob)
{
	opened()->gpu3d_set_features(g, edid, context_init, blob);
}

size_t gpu3d_handle(struct gpu3d *g, enum gpu2d_queue queue, const uint8_t *req,
		    size_t req_len, uint8_t *resp, size_t resp_cap, uint64_t token,
		    bool *held)
{
	return opened()->gpu3d_handle(g, queue, req, req_len, resp, resp_cap, token, held);
}

int gpu3d_poll_fd(const struct gpu3d *g)
{
	return opened()->gpu3d_poll_fd(g);
}

void gpu3d_poll(struct gpu3d *g)
{
	opened()->gpu3d_poll(g);
}

size_t gpu3d_pending(const struct gpu3d *g)
{
	return opened()->gpu3d_pending(g);
}

void gpu3d_show_again(struct gpu3d *g)
{
	opened()->gpu3d_show_again(g);
}

bool gpu3d_set_preferred_mode(struct gpu3d *g, unsigned output, uint32_t width,
			      uint32_t height)
{
	return opened()->gpu3d_set_preferred_mode(g, output, width, height);
}
