/* The disk-boot module's side of firmware/boot_disk_module.h: the one
 * symbol it exports. Everything else in the module is compiled hidden, so
 * its calls between its own functions never reach gvmm's forwarding
 * functions of the same names. */
#include "boot_disk_module.h"

__attribute__((visibility("default")))
const struct boot_disk_module gvmm_boot_disk_module = {
	.header = MODULE_HEADER_INIT(struct boot_disk_module),
	.boot_disk_find = boot_disk_find,
	.boot_disk_choice_free = boot_disk_choice_free,
	.boot_disk_cmdline = boot_disk_cmdline,
	.boot_disk_available = boot_disk_available,
};
