/* The GL module: gvmm's host-GL half (virglrenderer, EGL, GBM and the GL
 * code on top of them: devices/gpu/virtio_gpu_virgl.c, display/gl_*.c)
 * is a shared object of its own, gvmm-gl.so, that gvmm loads only when a
 * GPU renders with GL (--gpu virgl) or `gvmm check` asks about GL.
 *
 * Why: those libraries and what they pull in (Vulkan's loader, libva,
 * X11's client libraries, EGL's dispatch) are a dozen shared objects
 * whose relocations and start-up cost memory and time in every gvmm,
 * also one with a 2D GPU or none (about 2 MiB of resident pages).
 *
 * The rest of gvmm calls the module through the functions its headers
 * declare (gl_host.h, gl_probe.h, virtio_gpu_virgl.h, gpu3d_gl_host.h):
 * in gvmm itself, gl_module.c defines them as calls into the table
 * below, which the module exports; unit tests and fuzzers link the
 * module's sources directly instead. The module calls back into gvmm
 * (the display, the log, guest memory) through the symbols gvmm exports
 * for it: exactly those its modules leave undefined (the Makefile lists
 * them when it links gvmm). vmm/module_loader.h says where gvmm looks
 * for it. */
#ifndef GVMM_GL_MODULE_H
#define GVMM_GL_MODULE_H

#include <stddef.h>

#include "../../vmm/module_loader.h"
#include "../../display/gl_host.h"
#include "../../display/gl_probe.h"
#include "gpu3d_gl_host.h"
#include "virtio_gpu_virgl.h"

#define GL_MODULE_FILE   "gvmm-gl.so"
#define GL_MODULE_SYMBOL "gvmm_gl_module"

/* One entry per function the rest of gvmm calls, of that function's type. */
#define GL_MODULE_ENTRY(fn) __typeof__(fn) *fn

struct gl_module {
	struct module_header header;

	GL_MODULE_ENTRY(gl_host_open);
	GL_MODULE_ENTRY(gl_host_close);
	GL_MODULE_ENTRY(gl_host_info);
	GL_MODULE_ENTRY(gl_host_is_software);
	GL_MODULE_ENTRY(gl_probe_virgl);
	GL_MODULE_ENTRY(gl_probe_dmabuf);
	GL_MODULE_ENTRY(gpu3d_gl_host_ops);
	GL_MODULE_ENTRY(gpu3d_create);
	GL_MODULE_ENTRY(gpu3d_destroy);
	GL_MODULE_ENTRY(gpu3d_reset);
	GL_MODULE_ENTRY(gpu3d_num_capsets);
	GL_MODULE_ENTRY(gpu3d_offers_blob);
	GL_MODULE_ENTRY(gpu3d_set_features);
	GL_MODULE_ENTRY(gpu3d_handle);
	GL_MODULE_ENTRY(gpu3d_poll_fd);
	GL_MODULE_ENTRY(gpu3d_poll);
	GL_MODULE_ENTRY(gpu3d_pending);
	GL_MODULE_ENTRY(gpu3d_show_again);
	GL_MODULE_ENTRY(gpu3d_set_preferred_mode);
};

#endif
