/* The --vfio option: which host device is passed through to the guest.
 *
 *   --vfio DDDD:BB:DD.F        a PCI device by address (the domain may be
 *   --vfio BB:DD.F             left out: 0000)
 *   --vfio sysfsdev=PATH       a device by its sysfs directory: a PCI
 *                              device, or a mediated device
 *                              (/sys/bus/mdev/devices/UUID)
 *
 * followed by options, each after a comma:
 *
 *   rom=on|off                 offer the device's expansion ROM to the
 *                              guest (the default) or hide it
 *   mmap=on|off                map the BARs' mmap-able parts straight into
 *                              the guest (the default), or map none and
 *                              trap every BAR access: for measuring the
 *                              trapped path, and for a device whose direct
 *                              mapping misbehaves
 *
 * A pure parser: nothing is opened or looked up here (vfio_host.h does
 * that). */
#ifndef GVMM_VFIO_OPTION_H
#define GVMM_VFIO_OPTION_H

#include <stdbool.h>
#include <stddef.h>

#define VFIO_MAX_DEVICES      8
#define VFIO_OPTION_PATH_MAX  256
#define VFIO_BDF_LEN          12   /* "0000:01:00.0" */

struct vfio_option {
	/* Exactly one of the two is set. */
	char bdf[VFIO_BDF_LEN + 1];              /* normalised, lower-case hex */
	char sysfs_path[VFIO_OPTION_PATH_MAX];   /* as given */
	bool hide_rom;                           /* rom=off */
	bool trap_bars;                          /* mmap=off */
};

/* Parses one --vfio value. Returns 0, or -1 with one line in err (without
 * the option's name: the caller says "--vfio 'VALUE': ERR"). */
int vfio_option_parse(const char *arg, struct vfio_option *out, char *err, size_t errlen);

/* Whether two options name the same device as written (the same address,
 * or the same path). */
bool vfio_option_same(const struct vfio_option *a, const struct vfio_option *b);

#endif
