/* The --vfio option (syntax in vfio_option.h). */
#include "vfio_option.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../../vmm/error_text.h"

#define SYSFSDEV_KEY "sysfsdev="

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

int vfio_option_parse(const char *arg, struct vfio_option *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
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
		if (strchr(path, ','))
			return write_error(err, errlen, "sysfsdev= takes one path and no other options");
		snprintf(out->sysfs_path, sizeof(out->sysfs_path), "%s", path);
		return 0;
	}
	if (!parse_bdf(arg, out->bdf))
		return write_error(err, errlen,
				   "expected a PCI address like 0000:01:00.0 (or 01:00.0), "
				   "or sysfsdev=PATH");
	return 0;
}

bool vfio_option_same(const struct vfio_option *a, const struct vfio_option *b)
{
	return !strcmp(a->bdf, b->bdf) && !strcmp(a->sysfs_path, b->sysfs_path);
}
