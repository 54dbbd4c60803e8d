/* Finding and loading one of gvmm's modules (vmm/module_loader.h). */
#include "module_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Where the module is: 0, or -1 with one line in err. */
static int module_path(const char *file, const char *what, char *path, size_t size,
		       char *err, size_t errlen)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0) {
		snprintf(err, errlen, "cannot tell where gvmm is (/proc/self/exe: %s)",
			 n < 0 ? strerror(errno) : "empty");
		return -1;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash) {
		snprintf(err, errlen, "cannot tell where gvmm is (/proc/self/exe is '%s')", exe);
		return -1;
	}
	*slash = '\0';
	/* A build tree has the module beside gvmm; `make install` puts it
	 * in PREFIX/lib/gvmm for PREFIX/bin/gvmm. */
	if ((size_t)snprintf(path, size, "%s/%s", exe, file) < size && access(path, F_OK) == 0)
		return 0;
	if ((size_t)snprintf(path, size, "%s/../lib/gvmm/%s", exe, file) < size &&
	    access(path, F_OK) == 0)
		return 0;
	snprintf(err, errlen, "%s %s is neither in %s nor in %s/../lib/gvmm "
		 "(it is built and installed with gvmm)", what, file, exe, exe);
	return -1;
}

static const void *module_load(const char *file, const char *symbol, size_t table_size,
			       const char *what, char *err, size_t errlen)
{
	char path[PATH_MAX + 64];
	const struct module_header *header;
	void *handle;

	if (module_path(file, what, path, sizeof(path), err, errlen) < 0)
		return NULL;
	/* RTLD_NOW: a module that cannot resolve a symbol fails here, with
	 * a message, not later in the middle of a guest's request. */
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		snprintf(err, errlen, "cannot load %s: %s", what, dlerror());
		return NULL;
	}
	header = dlsym(handle, symbol);
	if (!header) {
		snprintf(err, errlen, "%s is not gvmm's %s (no %s)", path,
			 strncmp(what, "the ", 4) == 0 ? what + 4 : what, symbol);
		dlclose(handle);
		return NULL;
	}
	if (header->table_size != table_size ||
	    strncmp(header->version, GVMM_VERSION, sizeof(header->version)) != 0) {
		snprintf(err, errlen, "%s is from another gvmm build (version %.32s); "
			 "reinstall gvmm", path, header->version);
		dlclose(handle);
		return NULL;
	}
	return header;
}

const void *module_get(struct module_slot *slot, char *err, size_t errlen)
{
	const void *table;

	pthread_mutex_lock(&slot->lock);
	if (!slot->tried) {
		slot->table = module_load(slot->file, slot->symbol, slot->table_size, slot->what,
					  slot->error, sizeof(slot->error));
		slot->tried = true;
	}
	table = slot->table;
	if (!table && err && errlen)
		snprintf(err, errlen, "%s", slot->error);
	pthread_mutex_unlock(&slot->lock);
	return table;
}
