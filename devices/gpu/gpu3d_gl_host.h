/* The 3D engine's GL contexts (virtio_gpu_virgl.h's gpu3d_gl_ops) on a
 * display/gl_host.h host: the ops' opaque is the struct gl_host. Every
 * context is in the host's one share group, so frames read back through
 * the same host see the renderer's textures. */
#ifndef GVMM_GPU3D_GL_HOST_H
#define GVMM_GPU3D_GL_HOST_H

#include "virtio_gpu_virgl.h"

const struct gpu3d_gl_ops *gpu3d_gl_host_ops(void);

#endif
