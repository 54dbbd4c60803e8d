/* The SPICE module's side of display/spice_module.h: the one symbol it
 * exports. Everything else in the module is compiled hidden, so its calls
 * between its own files never reach gvmm's forwarding functions of the
 * same names. */
#include "spice_module.h"

__attribute__((visibility("default")))
const struct spice_module gvmm_spice_module = {
	.header = MODULE_HEADER_INIT(struct spice_module),
	.spice_display_available = spice_display_available,
	.spice_display_create = spice_display_create,
	.spice_display_uri = spice_display_uri,
	.spice_display_connect_file = spice_display_connect_file,
	.spice_display_destroy = spice_display_destroy,
};
