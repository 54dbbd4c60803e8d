/* Booting the distribution installed on a disk image, without --kernel:
 * the partition table (GPT or MBR, through libblkid; or a whole-disk file
 * system), the ext2/3/4 file system holding /boot (through libext2fs,
 * never mounted), and the kernel, initrd and command line the
 * distribution configured, in this order: a Boot Loader Specification
 * entry, the default entry of /boot/grub/grub.cfg, Debian's /vmlinuz and
 * /initrd.img links. Symbolic links are followed inside the image only. */
#ifndef GVMM_BOOT_DISK_H
#define GVMM_BOOT_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "boot_entry.h"

/* What is read into memory, at most. */
#define BOOT_DISK_KERNEL_MAX   (256u << 20)
#define BOOT_DISK_INITRD_MAX   (1024u << 20)  /* an entry's initrds together */
#define BOOT_DISK_CONFIG_MAX   (1u << 20)     /* grub.cfg, one BLS entry */
#define BOOT_DISK_MAX_ENTRIES  256            /* BLS entries looked at */
#define BOOT_DISK_MAX_LINKS    16             /* symbolic links on one path */

struct boot_disk_choice {
	uint8_t *kernel;
	size_t kernel_len;
	uint8_t *initrd;                         /* NULL when there is none */
	size_t initrd_len;
	char cmdline[BOOT_ENTRY_OPTIONS_MAX];    /* as the distribution set it */
	/* For the log: "/boot/vmlinuz-6.1.0-18-amd64 with initrd ... from
	 * disk 0 partition 2 (grub.cfg entry 'Debian GNU/Linux', default=0)" */
	char summary[2048];
};

/* Finds what the distribution on the disk image at path boots (disk_number
 * is only for messages). The kernel is checked to be a bzImage or a PVH
 * ELF. Returns 0, or -1 with one line in err saying what is wrong and
 * where gvmm looked. */
int boot_disk_find(const char *path, unsigned disk_number, struct boot_disk_choice *out,
		   char *err, size_t errlen);
void boot_disk_choice_free(struct boot_disk_choice *choice);

/* For `gvmm check`: the version of libext2fs that reads the images.
 * Returns 0; -1 with one line in err where disk boots cannot work (gvmm
 * without its disk-boot module: firmware/boot_disk_module.h). */
int boot_disk_available(char *version, size_t versionlen, char *err, size_t errlen);

/* The command line a disk boot gets: what was configured, then console
 * (e.g. "console=ttyS0"), then the user's extra arguments (--cmdline; may
 * be NULL), so later words win. Returns 0, or -1 when it does not fit. */
int boot_disk_cmdline(const char *configured, const char *console, const char *extra,
		      char *out, size_t size);

#endif
