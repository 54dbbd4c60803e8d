/* Host-side checks for passthrough (vfio_host.h). */
#include "vfio_host.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../vmm/error_text.h"

#define CAP_IPC_LOCK_BIT   14   /* linux/capability.h's CAP_IPC_LOCK */
#define DRIVER_NAME_MAX    64
#define OFFENDERS_MAX      512

const struct vfio_host_paths vfio_host_default_paths = { "/sys", "/dev" };

/* Drivers that may hold another member of a passed-through device's
 * group: VFIO's own, the PCI stub, and the port driver of bridges, which
 * does no DMA of its own. Unbound devices are fine too. */
static const char *const group_drivers_allowed[] = { VFIO_HOST_DRIVER, "pci-stub", "pcieport" };

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* The last component of the symbolic link dir/name, or false when there
 * is no such link (or it does not fit). */
static bool link_target_name(const char *dir, const char *name, char *out, size_t outlen)
{
	char link[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	if ((size_t)snprintf(link, sizeof(link), "%s/%s", dir, name) >= sizeof(link))
		return false;
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (!*base || strlen(base) >= outlen)
		return false;
	snprintf(out, outlen, "%s", base);
	return true;
}

/* "1234" from the file dir/name holding "0x1234\n"; "?" when unreadable. */
static void read_pci_id(const char *dir, const char *name, char out[8])
{
	char path[PATH_MAX], text[16] = "";
	FILE *f;

	snprintf(out, 8, "?");
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return;
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(text, sizeof(text), f)) {
		text[strcspn(text, "\n")] = '\0';
		const char *id = strncmp(text, "0x", 2) ? text : text + 2;

		if (strlen(id) < 8)
			memcpy(out, id, strlen(id) + 1);
	}
	fclose(f);
}

static bool driver_allowed_in_group(const char *driver)
{
	for (size_t i = 0; i < sizeof(group_drivers_allowed) / sizeof(group_drivers_allowed[0]); i++)
		if (!strcmp(driver, group_drivers_allowed[i]))
			return true;
	return false;
}

static int find_path(const struct vfio_host_paths *paths, const struct vfio_option *opt,
		     struct vfio_host_device *dev, char *err, size_t errlen)
{
	const char *base;

	if (opt->bdf[0]) {
		snprintf(dev->path, sizeof(dev->path), "%s/bus/pci/devices/%s", paths->sysfs, opt->bdf);
		if (!is_dir(dev->path))
			return write_error(err, errlen,
					   "no such device: %s (there is no %s; 'lspci -D' lists "
					   "the host's PCI addresses)", opt->bdf, dev->path);
		snprintf(dev->name, sizeof(dev->name), "%s", opt->bdf);
		return 0;
	}
	if (!realpath(opt->sysfs_path, dev->path) || !is_dir(dev->path))
		return write_error(err, errlen, "no such device: %s does not exist",
				   opt->sysfs_path);
	base = strrchr(dev->path, '/');
	base = base ? base + 1 : dev->path;
	if (!*base || strlen(base) >= sizeof(dev->name))
		return write_error(err, errlen, "%s does not look like a device's sysfs directory",
				   opt->sysfs_path);
	snprintf(dev->name, sizeof(dev->name), "%s", base);
	return 0;
}

static int check_driver(const struct vfio_host_paths *paths, const struct vfio_host_device *dev,
			char *err, size_t errlen)
{
	char driver[DRIVER_NAME_MAX];

	if (dev->mdev)
		return 0;
	if (!link_target_name(dev->path, "driver", driver, sizeof(driver)))
		return write_error(err, errlen,
				   "%s is bound to no driver, not %s; to bind it, as root: "
				   "modprobe vfio-pci; echo vfio-pci > %s/driver_override; "
				   "echo %s > %s/bus/pci/drivers_probe",
				   dev->name, VFIO_HOST_DRIVER, dev->path, dev->name, paths->sysfs);
	if (strcmp(driver, VFIO_HOST_DRIVER))
		return write_error(err, errlen,
				   "%s is bound to %s, not %s; to bind it, as root: "
				   "modprobe vfio-pci; echo vfio-pci > %s/driver_override; "
				   "echo %s > %s/driver/unbind; echo %s > %s/bus/pci/drivers_probe",
				   dev->name, driver, VFIO_HOST_DRIVER, dev->path, dev->name,
				   dev->path, dev->name, paths->sysfs);
	return 0;
}

/* Every other member of the group must be unbound or held by a driver
 * VFIO accepts, or the kernel refuses the whole group. */
static int check_group_viable(const struct vfio_host_paths *paths,
			      const struct vfio_host_device *dev, char *err, size_t errlen)
{
	char dir[PATH_MAX], member[PATH_MAX], driver[DRIVER_NAME_MAX];
	char offenders[OFFENDERS_MAX] = "";
	size_t used = 0;
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/kernel/iommu_groups/%d/devices", paths->sysfs, dev->group);
	d = opendir(dir);
	if (!d)
		return 0;   /* nothing to list: the kernel will say more at open */
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, dev->name))
			continue;
		if ((size_t)snprintf(member, sizeof(member), "%s/%s", dir, e->d_name) >= sizeof(member))
			continue;
		if (!link_target_name(member, "driver", driver, sizeof(driver)) ||
		    driver_allowed_in_group(driver))
			continue;
		if (used < sizeof(offenders))
			used += (size_t)snprintf(offenders + used, sizeof(offenders) - used,
						 "%s%s (bound to %s)", used ? ", " : "",
						 e->d_name, driver);
	}
	closedir(d);
	if (!used)
		return 0;
	return write_error(err, errlen,
			   "IOMMU group %d of %s is not viable: it also holds %s; bind every "
			   "device of the group to vfio-pci (or unbind it from its driver)",
			   dev->group, dev->name, offenders);
}

int vfio_host_find_device(const struct vfio_host_paths *paths, const struct vfio_option *opt,
			  struct vfio_host_device *dev, char *err, size_t errlen)
{
	char group[16], control[PATH_MAX], type_link[PATH_MAX];
	char *end;
	long id;

	memset(dev, 0, sizeof(*dev));
	dev->group = -1;
	dev->hide_rom = opt->hide_rom;
	dev->trap_bars = opt->trap_bars;
	if (find_path(paths, opt, dev, err, errlen) < 0)
		return -1;
	dev->mdev = (size_t)snprintf(type_link, sizeof(type_link), "%s/mdev_type", dev->path) <
		    sizeof(type_link) && exists(type_link);
	if (!link_target_name(dev->path, "iommu_group", group, sizeof(group)))
		return write_error(err, errlen,
				   "%s has no IOMMU group: the host has no IOMMU enabled (turn on "
				   "VT-d or AMD-Vi in the firmware and boot the host with "
				   "intel_iommu=on or amd_iommu=on)", dev->name);
	errno = 0;
	id = strtol(group, &end, 10);
	if (errno || *end || id < 0 || id > INT_MAX)
		return write_error(err, errlen, "%s: its IOMMU group '%s' is not a number",
				   dev->name, group);
	dev->group = (int)id;
	if (check_driver(paths, dev, err, errlen) < 0 ||
	    check_group_viable(paths, dev, err, errlen) < 0)
		return -1;
	snprintf(control, sizeof(control), "%s/vfio/vfio", paths->dev);
	if (!exists(control))
		return write_error(err, errlen,
				   "there is no %s: VFIO is not loaded (as root: modprobe vfio-pci)",
				   control);
	snprintf(dev->group_path, sizeof(dev->group_path), "%s/vfio/%d", paths->dev, dev->group);
	if (!exists(dev->group_path))
		return write_error(err, errlen,
				   "there is no %s for IOMMU group %d of %s: bind the device to "
				   "vfio-pci first", dev->group_path, dev->group, dev->name);
	return 0;
}

int vfio_host_check_memlock(uint64_t limit, bool cap_ipc_lock, uint64_t ram_size,
			    char *err, size_t errlen)
{
	uint64_t need_kib = (ram_size + 1023) / 1024;

	if (cap_ipc_lock || limit == (uint64_t)RLIM_INFINITY || limit >= ram_size)
		return 0;
	return write_error(err, errlen,
			   "the locked-memory limit is %" PRIu64 " KiB, but --vfio pins all of "
			   "guest RAM (%" PRIu64 " KiB) for device DMA: raise it with "
			   "'ulimit -l %" PRIu64 "' (or unlimited) before starting gvmm",
			   limit / 1024, need_kib, need_kib);
}

/* CAP_IPC_LOCK in the effective set, from /proc/self/status. */
static bool have_cap_ipc_lock(void)
{
	char line[256];
	bool have = false;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long caps;

		if (sscanf(line, "CapEff: %llx", &caps) == 1) {
			have = caps & (1ull << CAP_IPC_LOCK_BIT);
			break;
		}
	}
	fclose(f);
	return have;
}

int vfio_host_check_own_memlock(uint64_t ram_size, char *err, size_t errlen)
{
	struct rlimit lim;

	if (getrlimit(RLIMIT_MEMLOCK, &lim) < 0)
		return 0;   /* let the kernel decide at map time */
	return vfio_host_check_memlock(lim.rlim_cur, have_cap_ipc_lock(), ram_size, err, errlen);
}

/* ---- gvmm check ---- */

static void describe_member(const char *group_dir, const char *name, const char *label,
			    FILE *out)
{
	char dir[PATH_MAX], driver[DRIVER_NAME_MAX], vendor[8], device[8];
	const char *state;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", group_dir, name) >= sizeof(dir))
		return;
	read_pci_id(dir, "vendor", vendor);
	read_pci_id(dir, "device", device);
	if (!link_target_name(dir, "driver", driver, sizeof(driver)))
		state = "bound to no driver";
	else if (!strcmp(driver, VFIO_HOST_DRIVER))
		state = "bound to vfio-pci: ready for --vfio";
	else
		state = NULL;
	if (state)
		fprintf(out, "  %-30s %s [%s:%s] %s\n", label, name, vendor, device, state);
	else
		fprintf(out, "  %-30s %s [%s:%s] bound to %s\n", label, name, vendor, device, driver);
}

static int only_numbers(const struct dirent *e)
{
	return e->d_name[0] >= '0' && e->d_name[0] <= '9';
}

static int only_visible(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

void vfio_host_describe(const struct vfio_host_paths *paths, FILE *out)
{
	char groups_dir[PATH_MAX], members_dir[PATH_MAX], control[PATH_MAX], label[40];
	struct dirent **groups = NULL;
	int nr_groups;

	snprintf(groups_dir, sizeof(groups_dir), "%s/kernel/iommu_groups", paths->sysfs);
	nr_groups = scandir(groups_dir, &groups, only_numbers, versionsort);
	if (nr_groups <= 0) {
		fprintf(out, "  %-30s none: no IOMMU is enabled, so --vfio cannot work here "
			"(boot the host with intel_iommu=on or amd_iommu=on)\n", "IOMMU groups");
		free(groups);
		return;
	}
	fprintf(out, "  %-30s %d (in %s)\n", "IOMMU groups", nr_groups, groups_dir);
	for (int g = 0; g < nr_groups; g++) {
		struct dirent **members = NULL;
		int nr_members;

		if ((size_t)snprintf(members_dir, sizeof(members_dir), "%s/%s/devices", groups_dir,
				     groups[g]->d_name) >= sizeof(members_dir) ||
		    (size_t)snprintf(label, sizeof(label), "IOMMU group %s",
				     groups[g]->d_name) >= sizeof(label))
			nr_members = 0;
		else
			nr_members = scandir(members_dir, &members, only_visible, versionsort);
		if (nr_members <= 0)
			fprintf(out, "  %-30s no devices\n", label);
		for (int m = 0; m < nr_members; m++) {
			describe_member(members_dir, members[m]->d_name, m ? "" : label, out);
			free(members[m]);
		}
		free(members);
		free(groups[g]);
	}
	free(groups);
	snprintf(control, sizeof(control), "%s/vfio/vfio", paths->dev);
	fprintf(out, "  %-30s %s\n", "VFIO",
		exists(control) ? "the VFIO control device is there"
				: "not loaded: no /dev/vfio/vfio (modprobe vfio-pci)");
}
