/* The boot entries a distribution configures: Boot Loader Specification
 * entry files (/boot/loader/entries/NAME.conf) and the default menu entry of
 * a GRUB configuration (grub.cfg as grub-mkconfig writes it). Both parsers
 * are pure functions over a byte buffer that may hold anything (they are
 * fuzzed); reading the files off a disk is firmware/boot_disk.c's part. */
#ifndef GVMM_BOOT_ENTRY_H
#define GVMM_BOOT_ENTRY_H

#include <stddef.h>

#define BOOT_ENTRY_MAX_INITRDS  4
#define BOOT_ENTRY_PATH_MAX     512
#define BOOT_ENTRY_TEXT_MAX     256    /* titles, ids, versions, UUIDs */
#define BOOT_ENTRY_OPTIONS_MAX  4096   /* the command line as configured */

/* One bootable entry. Paths are as the configuration writes them, relative
 * to the root of the file system they are on, with no device prefix. */
struct boot_entry {
	char title[BOOT_ENTRY_TEXT_MAX];
	char id[BOOT_ENTRY_TEXT_MAX];        /* grub: --id; BLS: the file name */
	char version[BOOT_ENTRY_TEXT_MAX];   /* BLS only */
	char sort_key[BOOT_ENTRY_TEXT_MAX];  /* BLS only */
	char linux_path[BOOT_ENTRY_PATH_MAX];
	char initrd_paths[BOOT_ENTRY_MAX_INITRDS][BOOT_ENTRY_PATH_MAX];
	unsigned nr_initrds;
	char options[BOOT_ENTRY_OPTIONS_MAX];
	/* grub: the file system 'search --fs-uuid --set=root' names, "" when
	 * the entry's files are on the one holding grub.cfg. */
	char root_uuid[BOOT_ENTRY_TEXT_MAX];
	/* grub: how the entry was chosen ("default=1", "first entry"). */
	char chosen_by[BOOT_ENTRY_TEXT_MAX + 64];
};

/* Parses one BLS type #1 entry file ("key value" lines). Keys read:
 * title, version, sort-key, linux, initrd (repeatable), options
 * (repeatable, joined with spaces); others are ignored. Returns 0, or -1
 * with one line in err (no linux line, a value too long, a NUL byte). */
int bls_entry_parse(const char *buf, size_t len, const char *file_name,
		    struct boot_entry *out, char *err, size_t errlen);

/* Which of two BLS entries a boot menu lists first, and so boots by
 * default: entries with a sort-key before those without, sort-keys in
 * ascending order, then the newer version, then the greater file name
 * (versions and names compared as version strings). Negative when a
 * comes first. */
int bls_entry_order(const struct boot_entry *a, const struct boot_entry *b);

/* Finds the entry grub.cfg boots by default: the last 'set default=' at
 * top level whose value is literal (one naming a variable, such as
 * ${saved_entry} from grubenv, is not read), as a number, a title or an
 * id, or a path of them through submenus joined by '>'; else (or when it
 * names no entry) the first menuentry. Words naming a variable are left
 * out of the linux line's arguments. Returns 0, or -1 with one line in
 * err (no menuentry, the entry has no linux line, unbalanced braces). */
int grub_cfg_default_entry(const char *buf, size_t len, struct boot_entry *out,
			   char *err, size_t errlen);

#endif
