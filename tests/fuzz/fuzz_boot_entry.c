// fuzz-sources: firmware/boot_entry.c vmm/error_text.c
/* libFuzzer target for the BLS entry and grub.cfg parsers. The first
 * byte picks the parser; any input must give an answer inside the output's
 * bounds: NUL-terminated strings, at most BOOT_ENTRY_MAX_INITRDS initrds,
 * a kernel path on success, a one-line error on failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../firmware/boot_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const char *s, size_t size)
{
	if (!memchr(s, 0, size))
		abort();
}

static void check_entry(const struct boot_entry *e)
{
	check_string(e->title, sizeof(e->title));
	check_string(e->id, sizeof(e->id));
	check_string(e->version, sizeof(e->version));
	check_string(e->sort_key, sizeof(e->sort_key));
	check_string(e->linux_path, sizeof(e->linux_path));
	check_string(e->options, sizeof(e->options));
	check_string(e->root_uuid, sizeof(e->root_uuid));
	check_string(e->chosen_by, sizeof(e->chosen_by));
	if (e->nr_initrds > BOOT_ENTRY_MAX_INITRDS)
		abort();
	for (unsigned i = 0; i < e->nr_initrds; i++)
		check_string(e->initrd_paths[i], BOOT_ENTRY_PATH_MAX);
	if (!e->linux_path[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct boot_entry entry, other;
	char err[256];
	const char *text = (const char *)data + 1;
	int ret;

	if (size == 0)
		return 0;
	memset(err, 0, sizeof(err));
	if (data[0] & 1) {
		ret = bls_entry_parse(text, size - 1, "fuzz.conf", &entry, err, sizeof(err));
		if (ret == 0) {
			/* An order both ways round that disagrees is a broken sort. */
			if (bls_entry_parse("version 1\nlinux /v\n", 19, "b.conf", &other, err,
					    sizeof(err)) < 0)
				abort();
			if ((bls_entry_order(&entry, &other) < 0) == (bls_entry_order(&other, &entry) < 0) &&
			    bls_entry_order(&entry, &other) != 0)
				abort();
		}
	} else {
		ret = grub_cfg_default_entry(text, size - 1, &entry, err, sizeof(err));
	}
	if (ret == 0) {
		check_entry(&entry);
	} else {
		if (!err[0] || strchr(err, '\n'))
			abort();
	}
	return 0;
}
