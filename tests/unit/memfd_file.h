/* Files holding given bytes, for code that reads from a descriptor. */
#ifndef GVMM_TEST_MEMFD_FILE_H
#define GVMM_TEST_MEMFD_FILE_H

#include <stddef.h>

#include "../../firmware/boot.h"

/* An anonymous file (memfd) holding LEN bytes of BYTES: its descriptor,
 * or -1. */
int memfd_file(const void *bytes, size_t len);

/* A kernel and an initrd file for the loaders' fds: both -1 when either
 * could not be made. */
struct boot_file_fds boot_files_of(const void *kernel, size_t kernel_len,
				   const void *initrd, size_t initrd_len);
void boot_files_close(struct boot_file_fds *fds);

#endif
