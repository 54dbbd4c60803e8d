#include "gpu3d_gl_host.h"

#include "../../display/gl_host.h"

static void *gl_context_create(void *opaque, bool shared, int major, int minor)
{
	/* gl_host puts every context in one share group, the root's: what
	 * virglrenderer asks of a shared context, and harmless for its
	 * first, unshared one. */
	(void)shared;
	return gl_host_context_create(opaque, NULL, major, minor);
}

static void gl_context_destroy(void *opaque, void *ctx)
{
	gl_host_context_destroy(opaque, ctx);
}

/* Also called on virglrenderer's fence thread, for its own context that
 * no other thread has current: EGL allows that. */
static int gl_make_current(void *opaque, void *ctx)
{
	return gl_host_make_current(opaque, ctx);
}

const struct gpu3d_gl_ops *gpu3d_gl_host_ops(void)
{
	static const struct gpu3d_gl_ops ops = {
		.context_create = gl_context_create,
		.context_destroy = gl_context_destroy,
		.make_current = gl_make_current,
	};

	return &ops;
}
