/* What the host offers for passthrough, read from sysfs and /dev: whether
 * a device exists, which driver holds it, its IOMMU group and the other
 * members of that group, and whether the locked-memory limit lets VFIO
 * pin guest RAM. Every check ends in one line a user can act on.
 *
 * The roots of sysfs and /dev are parameters, so that tests build fake
 * trees in a temporary directory. */
#ifndef GVMM_VFIO_HOST_H
#define GVMM_VFIO_HOST_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vfio_option.h"

#define VFIO_HOST_DRIVER "vfio-pci"

struct vfio_host_paths {
	const char *sysfs;   /* "/sys" */
	const char *dev;     /* "/dev" */
};

extern const struct vfio_host_paths vfio_host_default_paths;

struct vfio_host_device {
	char path[PATH_MAX];     /* its sysfs directory */
	char name[64];           /* what VFIO_GROUP_GET_DEVICE_FD wants: the
				  * PCI address, or the mediated device's UUID */
	bool mdev;               /* a mediated device */
	int group;               /* its IOMMU group */
	char group_path[PATH_MAX];  /* /dev/vfio/GROUP */
	bool hide_rom;           /* the option's rom=off, carried to the device */
	bool trap_bars;          /* the option's mmap=off, likewise */
};

/* Finds the device opt names and checks, in this order, that it exists,
 * has an IOMMU group, is bound to vfio-pci (mediated devices are exempt),
 * shares its group only with devices VFIO accepts, and that /dev/vfio/vfio
 * and /dev/vfio/GROUP exist. Returns 0, or -1 with one line in err. */
int vfio_host_find_device(const struct vfio_host_paths *paths, const struct vfio_option *opt,
			  struct vfio_host_device *dev, char *err, size_t errlen);

/* Whether a memory lock limit of limit bytes (RLIM_INFINITY: none) lets
 * VFIO pin ram_size bytes of guest RAM; a process with CAP_IPC_LOCK is
 * not limited. Returns 0, or -1 with one line naming the ulimit -l value
 * needed. */
int vfio_host_check_memlock(uint64_t limit, bool cap_ipc_lock, uint64_t ram_size,
			    char *err, size_t errlen);

/* The same for this process: its RLIMIT_MEMLOCK and capabilities. */
int vfio_host_check_own_memlock(uint64_t ram_size, char *err, size_t errlen);

/* For `gvmm check`: the IOMMU groups and their devices, which driver
 * holds each, and whether /dev/vfio is there, in lines of the form
 * "  LABEL (30 columns) TEXT". */
void vfio_host_describe(const struct vfio_host_paths *paths, FILE *out);

#endif
