/* The GL module's side of devices/gpu/gl_module.h: the one symbol it
 * exports. Everything else in the module is compiled hidden, so its
 * calls between its own files never reach gvmm's forwarding functions of
 * the same names. */
#include "gl_module.h"

__attribute__((visibility("default")))
const struct gl_module gvmm_gl_module = {
	.header = MODULE_HEADER_INIT(struct gl_module),
	.gl_host_open = gl_host_open,
	.gl_host_close = gl_host_close,
	.gl_host_info = gl_host_info,
	.gl_host_is_software = gl_host_is_software,
	.gl_probe_virgl = gl_probe_virgl,
	.gl_probe_dmabuf = gl_probe_dmabuf,
	.gpu3d_gl_host_ops = gpu3d_gl_host_ops,
	.gpu3d_create = gpu3d_create,
	.gpu3d_destroy = gpu3d_destroy,
	.gpu3d_reset = gpu3d_reset,
	.gpu3d_num_capsets = gpu3d_num_capsets,
	.gpu3d_offers_blob = gpu3d_offers_blob,
	.gpu3d_set_features = gpu3d_set_features,
	.gpu3d_handle = gpu3d_handle,
	.gpu3d_poll_fd = gpu3d_poll_fd,
	.gpu3d_poll = gpu3d_poll,
	.gpu3d_pending = gpu3d_pending,
	.gpu3d_show_again = gpu3d_show_again,
	.gpu3d_set_preferred_mode = gpu3d_set_preferred_mode,
};
