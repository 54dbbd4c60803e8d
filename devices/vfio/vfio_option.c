/* The --vfio option (syntax in vfio_option.h). */
#include "vfio_option.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../../vmm/error_text.h"

#define SYSFSDEV_KEY "sysfsdev="
#define ROM_KEY      "rom="
#define MMAP_KEY     "mmap="
#define DEVICE_MAX   (sizeof(SYSFSDEV_KEY) + VFIO_OPTION_PATH_MAX)

/* Reads exactly digits hex digits from *text, advancing it; fails on
 * fewer (or on more, when a hex digit follows). */
static bool take_hex(const char **text, unsigned digits, unsigned max, unsigned *value)
{
	unsigned v = 0;

	for (unsigned i = 0; i < digits; i++) {
		char c = (*text)[i];

		if (!isxdigit((unsigned char)c))
			return false;
		v = v * 16 + (unsigned)(isdigit((unsigned char)c) ? c - '0' : tolower(c) - 'a' + 10);
	}
	if (isxdigit((unsigned char)(*text)[digits]) || v > max)
		return false;
	*text += digits;
	*value = v;
	return true;
}

static bool take_char(const char **text, char c)
{
	if (**text != c)
		return false;
	(*text)++;
	return true;
}

/* "DDDD:BB:DD.F" or "BB:DD.F" into the normalised long form. */
static bool parse_bdf(const char *text, char out[VFIO_BDF_LEN + 1])
{
	unsigned domain = 0, bus, slot, fn;
	const char *p = text;

	/* A domain is there when the text has two colons. */
	if (strchr(text, ':') != strrchr(text, ':') &&
	    !(take_hex(&p, 4, 0xffff, &domain) && take_char(&p, ':')))
		return false;
	if (!take_hex(&p, 2, 0xff, &bus) || !take_char(&p, ':') ||
	    !take_hex(&p, 2, 0x1f, &slot) || !take_char(&p, '.') ||
	    !take_hex(&p, 1, 7, &fn) || *p)
		return false;
	snprintf(out, VFIO_BDF_LEN + 1, "%04x:%02x:%02x.%x", domain, bus, slot, fn);
	return true;
}

/* Whether the len bytes at text are exactly word. */
static bool is_word(const char *text, size_t len, const char *word)
{
	return len == strlen(word) && !strncmp(text, word, len);
}

/* Whether the len bytes at text start with key (an option's "name="). */
static bool has_key(const char *text, size_t len, const char *key)
{
	return len >= strlen(key) && !strncmp(text, key, strlen(key));
}

/* The options after the device's comma: rom=on|off and mmap=on|off,
 * comma separated. */
static int parse_options(const char *text, struct vfio_option *out, char *err, size_t errlen)
{
	for (;;) {
		size_t len = strcspn(text, ",");

		if (is_word(text, len, ROM_KEY "on"))
			out->hide_rom = false;
		else if (is_word(text, len, ROM_KEY "off"))
			out->hide_rom = true;
		else if (has_key(text, len, ROM_KEY))
			return write_error(err, errlen, "rom= takes on or off, not '%.*s'",
					   (int)(len - strlen(ROM_KEY)), text + strlen(ROM_KEY));
		else if (is_word(text, len, MMAP_KEY "on"))
			out->trap_bars = false;
		else if (is_word(text, len, MMAP_KEY "off"))
			out->trap_bars = true;
		else if (has_key(text, len, MMAP_KEY))
			return write_error(err, errlen, "mmap= takes on or off, not '%.*s'",
					   (int)(len - strlen(MMAP_KEY)), text + strlen(MMAP_KEY));
		else if (!len)
			return write_error(err, errlen, "an empty option (a stray comma)");
		else
			return write_error(err, errlen, "unknown option '%.*s' (the ones there are: "
					   "rom=on|off, mmap=on|off)", (int)len, text);
		if (!text[len])
			return 0;
		text += len + 1;
	}
}

/* The device part: a PCI address or sysfsdev=PATH. */
static int parse_device(const char *arg, struct vfio_option *out, char *err, size_t errlen)
{
	if (!strncmp(arg, SYSFSDEV_KEY, strlen(SYSFSDEV_KEY))) {
		const char *path = arg + strlen(SYSFSDEV_KEY);

		if (path[0] != '/')
			return write_error(err, errlen,
					   "sysfsdev= needs an absolute path, like "
					   "/sys/bus/pci/devices/0000:01:00.0 or "
					   "/sys/bus/mdev/devices/UUID");
		if (strlen(path) >= sizeof(out->sysfs_path))
			return write_error(err, errlen, "the sysfsdev= path is longer than %zu bytes",
					   sizeof(out->sysfs_path) - 1);
		memcpy(out->sysfs_path, path, strlen(path) + 1);
		return 0;
	}
	if (!parse_bdf(arg, out->bdf))
		return write_error(err, errlen,
				   "expected a PCI address like 0000:01:00.0 (or 01:00.0), "
				   "or sysfsdev=PATH");
	return 0;
}

int vfio_option_parse(const char *arg, struct vfio_option *out, char *err, size_t errlen)
{
	/* The device ends at the first comma: sysfs paths have none. One too
	 * long to copy whole is still too long for parse_device once cut. */
	size_t device_len = strcspn(arg, ",");
	size_t copied = device_len < DEVICE_MAX ? device_len : DEVICE_MAX - 1;
	char device[DEVICE_MAX];

	memset(out, 0, sizeof(*out));
	memcpy(device, arg, copied);
	device[copied] = '\0';
	if (parse_device(device, out, err, errlen) < 0)
		return -1;
	if (arg[device_len] && parse_options(arg + device_len + 1, out, err, errlen) < 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

bool vfio_option_same(const struct vfio_option *a, const struct vfio_option *b)
{
	return !strcmp(a->bdf, b->bdf) && !strcmp(a->sysfs_path, b->sysfs_path);
}
