/* gvmm's loadable modules: parts of gvmm built as shared objects of their
 * own (gvmm-gl.so: host GL and virglrenderer, devices/gpu/gl_module.h;
 * gvmm-spice.so: the SPICE server, display/spice_module.h;
 * gvmm-boot-disk.so: reading a disk image's /boot with libblkid and
 * libext2fs, firmware/boot_disk_module.h), loaded only by a gvmm that
 * uses them.
 *
 * Why: each brings a dozen or two shared libraries. Linked into gvmm they
 * would be mapped, relocated and initialised by every gvmm before main(),
 * also one that never draws: milliseconds of start-up and megabytes of
 * resident pages (docs/BENCHMARKS.md has the numbers).
 *
 * A module exports one table of function pointers, which starts with a
 * struct module_header. gvmm looks for a module beside its own executable
 * (a build tree), then in ../lib/gvmm/ from it (an installed gvmm); never
 * through the environment or the working directory. */
#ifndef GVMM_MODULE_LOADER_H
#define GVMM_MODULE_LOADER_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* The first member of every module's table. A module from another gvmm
 * build is refused: both must agree on the table and on every structure
 * its calls pass. */
struct module_header {
	char version[32];
	size_t table_size;
};

#define MODULE_HEADER_INIT(table_type) \
	{ .version = GVMM_VERSION, .table_size = sizeof(table_type) }

/* Room for a message that names gvmm's folder twice. */
#define MODULE_ERROR_MAX (2 * PATH_MAX + 256)

/* One module of gvmm, loaded on first use. */
struct module_slot {
	const char *file;      /* "gvmm-gl.so" */
	const char *symbol;    /* its table's name */
	size_t table_size;
	const char *what;      /* for messages: "the GL module" */
	pthread_mutex_t lock;
	bool tried;
	const void *table;     /* once loaded */
	char error[MODULE_ERROR_MAX];   /* why it did not load */
};

#define MODULE_SLOT_INIT(file_, symbol_, table_type, what_) {                  \
	.file = (file_), .symbol = (symbol_), .table_size = sizeof(table_type), \
	.what = (what_), .lock = PTHREAD_MUTEX_INITIALIZER }

/* The module's table, loading it on the first call from any thread; NULL
 * with one line in err (when err is not NULL) when it is missing, cannot
 * be loaded or is not of this build, every time after too. Never
 * unloaded: the libraries it brings keep threads and state for the life
 * of the process. */
const void *module_get(struct module_slot *slot, char *err, size_t errlen);

#endif
