/* The SPICE module: the embedded SPICE server (spice-server and gvmm's
 * display/spice_{display,qxl,input,agent,core,connect_file}.c, keymap.c)
 * is a shared object of its own, gvmm-spice.so, that gvmm loads only for
 * --spice and for `gvmm check`'s SPICE line (vmm/module_loader.h).
 *
 * Why: spice-server brings 23 shared libraries (GLib, GObject,
 * GStreamer, OpenSSL, Opus, libjpeg, LZ4, SASL, pixman, libstdc++, ...).
 * Linked into gvmm, every gvmm mapped and initialised them before main(),
 * also a headless one: about 10 ms of its start and 5.4 MiB of resident
 * pages where this was measured (docs/BENCHMARKS.md).
 *
 * The rest of gvmm calls the functions display/spice_display.h declares:
 * in gvmm, spice_module.c defines them as calls into the table below,
 * which the module exports; unit tests link the module's sources
 * instead. The module calls back into gvmm (the event loop, the display,
 * the log) through the symbols gvmm exports for its modules. */
#ifndef GVMM_SPICE_MODULE_H
#define GVMM_SPICE_MODULE_H

#include "../vmm/module_loader.h"
#include "spice_display.h"

#define SPICE_MODULE_FILE   "gvmm-spice.so"
#define SPICE_MODULE_SYMBOL "gvmm_spice_module"

#define SPICE_MODULE_ENTRY(fn) __typeof__(fn) *fn

struct spice_module {
	struct module_header header;

	SPICE_MODULE_ENTRY(spice_display_available);
	SPICE_MODULE_ENTRY(spice_display_create);
	SPICE_MODULE_ENTRY(spice_display_uri);
	SPICE_MODULE_ENTRY(spice_display_connect_file);
	SPICE_MODULE_ENTRY(spice_display_destroy);
};

#endif
