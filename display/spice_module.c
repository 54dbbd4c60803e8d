/* gvmm's side of the SPICE module (display/spice_module.h): loading
 * gvmm-spice.so once, and spice_display.h's functions as calls into its
 * table. Only gvmm itself links this file; unit tests link the module's
 * sources instead. */
#include "spice_module.h"

static struct module_slot slot = MODULE_SLOT_INIT(SPICE_MODULE_FILE, SPICE_MODULE_SYMBOL,
						  struct spice_module, "the SPICE module");

/* The module's table, for the functions that take what an open returned:
 * the module is loaded then, and its table never changes again. */
static const struct spice_module *opened(void)
{
	return slot.table;
}

int spice_display_available(char *version, size_t versionlen, char *err, size_t errlen)
{
	const struct spice_module *m = module_get(&slot, err, errlen);

	return m ? m->spice_display_available(version, versionlen, err, errlen) : -1;
}

int spice_display_create(struct display **out, const struct spice_options *opt,
			 struct event_loop *loop, unsigned nr_outputs,
			 uint32_t width, uint32_t height, char *err, size_t errlen)
{
	const struct spice_module *m = module_get(&slot, err, errlen);

	*out = NULL;
	return m ? m->spice_display_create(out, opt, loop, nr_outputs, width, height, err,
					   errlen) : -1;
}

/* These take what a create returned, so the module is there. */
const char *spice_display_uri(const struct display *d)
{
	return opened()->spice_display_uri(d);
}

const char *spice_display_connect_file(const struct display *d)
{
	return opened()->spice_display_connect_file(d);
}

void spice_display_destroy(struct display *d)
{
	if (d)
		opened()->spice_display_destroy(d);
}
