/* Whether virglrenderer can start on a gl_host's contexts, for `gvmm
 * check`: the same callbacks the virgl device gives it, brought up and
 * torn down again. */
#ifndef GVMM_GL_PROBE_H
#define GVMM_GL_PROBE_H

#include <stddef.h>

#include "gl_host.h"

/* Initialises virglrenderer on gl and cleans it up. Returns 0, or -1 with
 * one line in err. Nothing is current on this thread afterwards. Not
 * while virglrenderer runs elsewhere in the process (it is one global). */
int gl_probe_virgl(struct gl_host *gl, char *err, size_t errlen);

#endif
