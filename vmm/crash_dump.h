/* A guest's RAM written to a file when the guest dies (a triple fault, a
 * KVM internal error): the one witness left of what its page tables,
 * stacks and rings held, since KVM resets the vCPU on a shutdown. */
#ifndef GVMM_CRASH_DUMP_H
#define GVMM_CRASH_DUMP_H

#include <stddef.h>

#include "guest_memory.h"

/* Writes all of guest RAM to a new file at path (mode 0600; an existing
 * file or symbolic link there is removed first, a link never followed),
 * region after region in guest-physical order: byte N of the file is byte N of RAM, so RAM below
 * the PCI hole is at its guest address and RAM above 4 GiB follows it.
 * Pages of zeros are left as holes. Returns 0, or -errno with err set. */
int crash_dump_write(const struct guest_memory *mem, const char *path,
		     char *err, size_t errlen);

#endif
