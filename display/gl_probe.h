/* What `gvmm check` asks of a gl_host: whether virglrenderer can start
 * on its contexts (the same callbacks the virgl device gives it, brought
 * up and torn down again), and whether frames can leave as dmabufs. */
#ifndef GVMM_GL_PROBE_H
#define GVMM_GL_PROBE_H

#include <stddef.h>

#include "gl_host.h"

/* Initialises virglrenderer on gl and cleans it up. Returns 0, or -1 with
 * one line in err. Nothing is current on this thread afterwards. Not
 * while virglrenderer runs elsewhere in the process (it is one global). */
int gl_probe_virgl(struct gl_host *gl, char *err, size_t errlen);

/* Whether a frame buffer for local viewers (display/gl_dmabuf.h) can be
 * made and imported on gl, in a context of the probe's own. Returns 0, or
 * -1 with one line in err. Nothing is current on this thread afterwards. */
int gl_probe_dmabuf(struct gl_host *gl, char *err, size_t errlen);

#endif
