/* gvmm's side of the disk-boot module (firmware/boot_disk_module.h):
 * loading gvmm-boot-disk.so on the first disk boot, and boot_disk.h's
 * functions as the rest of gvmm calls them, each a call into the module's
 * table. Only gvmm itself links this file; unit tests link the module's
 * sources instead. */
#include "boot_disk_module.h"

static struct module_slot slot = MODULE_SLOT_INIT(BOOT_DISK_MODULE_FILE, BOOT_DISK_MODULE_SYMBOL,
						  struct boot_disk_module, "the disk-boot module");

int boot_disk_find(const char *path, unsigned disk_number, struct boot_disk_choice *out,
		   char *err, size_t errlen)
{
	const struct boot_disk_module *m = module_get(&slot, err, errlen);

	return m ? m->boot_disk_find(path, disk_number, out, err, errlen) : -1;
}

/* Called for every boot, also one from --kernel: a module not loaded yet
 * found nothing, so there is nothing to free, and it is not loaded for
 * that. (Only the main thread loads it or calls this.) */
void boot_disk_choice_free(struct boot_disk_choice *choice)
{
	const struct boot_disk_module *m = slot.table;

	if (m)
		m->boot_disk_choice_free(choice);
}

int boot_disk_cmdline(const char *configured, const char *console, const char *extra,
		      char *out, size_t size)
{
	const struct boot_disk_module *m = module_get(&slot, NULL, 0);

	return m ? m->boot_disk_cmdline(configured, console, extra, out, size) : -1;
}

int boot_disk_available(char *version, size_t versionlen, char *err, size_t errlen)
{
	const struct boot_disk_module *m = module_get(&slot, err, errlen);

	return m ? m->boot_disk_available(version, versionlen, err, errlen) : -1;
}
