/* The disk-boot module (gvmm-boot-disk.so): firmware/boot_disk.c and the
 * libraries it reads a disk image with (libblkid, libext2fs, libcom_err),
 * loaded only by a gvmm that boots a disk without --kernel. Linked into
 * gvmm, those three libraries cost every start-up about a millisecond of
 * mapping and relocating before main() (vmm/module_loader.h says more). */
#ifndef GVMM_BOOT_DISK_MODULE_H
#define GVMM_BOOT_DISK_MODULE_H

#include "../vmm/module_loader.h"
#include "boot_disk.h"

#define BOOT_DISK_MODULE_FILE   "gvmm-boot-disk.so"
#define BOOT_DISK_MODULE_SYMBOL "gvmm_boot_disk_module"

#define BOOT_DISK_MODULE_ENTRY(fn) __typeof__(fn) *fn

/* The module's table: boot_disk.h's functions. */
struct boot_disk_module {
	struct module_header header;

	BOOT_DISK_MODULE_ENTRY(boot_disk_find);
	BOOT_DISK_MODULE_ENTRY(boot_disk_choice_free);
	BOOT_DISK_MODULE_ENTRY(boot_disk_cmdline);
	BOOT_DISK_MODULE_ENTRY(boot_disk_available);
};

#endif
