/* Host checks for --vfio against fake sysfs and /dev trees built in a
 * temporary directory: each error a user can meet before the guest
 * starts, as one line that says what to do, and the listing of `gvmm
 * check`. */
#include "check.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../devices/vfio/vfio_host.h"

#define EDU     "0000:00:04.0"
#define AUDIO   "0000:00:04.1"

static char root[PATH_MAX], sysfs[PATH_MAX + 8], devdir[PATH_MAX + 8];
static struct vfio_host_paths paths;
static struct vfio_host_device dev;
static char err[1024];

static void run(const char *fmt, ...)
{
	char cmd[2 * PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fprintf(stderr, "  setup command failed: %s\n", cmd);
}

/* A PCI device in the fake sysfs; driver NULL: unbound; group < 0: none. */
static void add_device(const char *bdf, const char *vendor, const char *device,
		       const char *driver, int group)
{
	run("mkdir -p %s/devices/pci0000:00/%s %s/bus/pci/devices %s/bus/pci/drivers", sysfs,
	    bdf, sysfs, sysfs);
	run("ln -sfn ../../../devices/pci0000:00/%s %s/bus/pci/devices/%s", bdf, sysfs, bdf);
	run("echo %s > %s/devices/pci0000:00/%s/vendor", vendor, sysfs, bdf);
	run("echo %s > %s/devices/pci0000:00/%s/device", device, sysfs, bdf);
	if (driver)
		run("mkdir -p %s/bus/pci/drivers/%s && ln -sfn ../../../bus/pci/drivers/%s "
		    "%s/devices/pci0000:00/%s/driver", sysfs, driver, driver, sysfs, bdf);
	if (group >= 0)
		run("mkdir -p %s/kernel/iommu_groups/%d/devices && "
		    "ln -sfn ../../../kernel/iommu_groups/%d %s/devices/pci0000:00/%s/iommu_group && "
		    "ln -sfn ../../../../devices/pci0000:00/%s %s/kernel/iommu_groups/%d/devices/%s",
		    sysfs, group, group, sysfs, bdf, bdf, sysfs, group, bdf);
}

static void fresh_tree(void)
{
	if (root[0])
		run("rm -rf %s", root);
	snprintf(root, sizeof(root), "%s/gvmm-vfio-host.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root))
		fprintf(stderr, "  mkdtemp failed\n");
	snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
	snprintf(devdir, sizeof(devdir), "%s/dev", root);
	run("mkdir -p %s/vfio %s/kernel", devdir, sysfs);
	paths = (struct vfio_host_paths){ sysfs, devdir };
}

static int find(const char *arg)
{
	struct vfio_option opt;

	err[0] = '\0';
	if (vfio_option_parse(arg, &opt, err, sizeof(err)) < 0)
		return -2;
	return vfio_host_find_device(&paths, &opt, &dev, err, sizeof(err));
}

static bool said(const char *text)
{
	if (!strstr(err, text) || strchr(err, '\n')) {
		fprintf(stderr, "  got \"%s\", wanted it to mention \"%s\"\n", err, text);
		return false;
	}
	return true;
}

static void test_ready_device(void)
{
	fresh_tree();
	add_device(EDU, "0x1234", "0x11e8", "vfio-pci", 7);
	run("touch %s/vfio/vfio %s/vfio/7", devdir, devdir);
	CHECK_EQ(find(EDU), 0);
	CHECK(!strcmp(dev.name, EDU));
	CHECK_EQ(dev.group, 7);
	CHECK(!dev.mdev);
	CHECK(strstr(dev.group_path, "/dev/vfio/7") != NULL);
	CHECK(!dev.hide_rom);
	CHECK(!dev.trap_bars);
	/* The options travel to the device, each on its own. */
	CHECK_EQ(find(EDU ",mmap=off"), 0);
	CHECK(!dev.hide_rom);
	CHECK(dev.trap_bars);
	CHECK_EQ(find(EDU ",rom=off,mmap=off"), 0);
	CHECK(dev.hide_rom);
	CHECK(dev.trap_bars);
	/* The short form and sysfsdev= find the same device. */
	CHECK_EQ(find("00:04.0"), 0);
	{
		char arg[2 * PATH_MAX];

		snprintf(arg, sizeof(arg), "sysfsdev=%s/bus/pci/devices/%s", sysfs, EDU);
		CHECK_EQ(find(arg), 0);
		CHECK(!strcmp(dev.name, EDU));
	}
}

static void test_no_such_device(void)
{
	char arg[2 * PATH_MAX];

	fresh_tree();
	CHECK_EQ(find("0000:09:00.0"), -1);
	CHECK(said("no such device: 0000:09:00.0"));
	CHECK(said("lspci -D"));
	snprintf(arg, sizeof(arg), "sysfsdev=%s/bus/mdev/devices/nothing", sysfs);
	CHECK_EQ(find(arg), -1);
	CHECK(said("no such device"));
}

static void test_no_iommu(void)
{
	fresh_tree();
	add_device(EDU, "0x1234", "0x11e8", "vfio-pci", -1);
	CHECK_EQ(find(EDU), -1);
	CHECK(said("has no IOMMU group"));
	CHECK(said("intel_iommu=on"));
}

static void test_not_bound_says_how_to_bind(void)
{
	char expect[3 * PATH_MAX];

	fresh_tree();
	add_device(EDU, "0x1234", "0x11e8", "edu-driver", 7);
	CHECK_EQ(find(EDU), -1);
	CHECK(said(EDU " is bound to edu-driver, not vfio-pci"));
	snprintf(expect, sizeof(expect), "echo vfio-pci > %s/bus/pci/devices/%s/driver_override",
		 sysfs, EDU);
	CHECK(said(expect));
	snprintf(expect, sizeof(expect), "echo %s > %s/bus/pci/devices/%s/driver/unbind", EDU,
		 sysfs, EDU);
	CHECK(said(expect));
	snprintf(expect, sizeof(expect), "echo %s > %s/bus/pci/drivers_probe", EDU, sysfs);
	CHECK(said(expect));

	fresh_tree();
	add_device(EDU, "0x1234", "0x11e8", NULL, 7);
	CHECK_EQ(find(EDU), -1);
	CHECK(said("is bound to no driver, not vfio-pci"));
	CHECK(said("driver_override"));
	CHECK(said("drivers_probe"));
	CHECK(!strstr(err, "unbind"));
}

static void test_group_not_viable_names_the_others(void)
{
	fresh_tree();
	add_device(EDU, "0x1234", "0x11e8", "vfio-pci", 7);
	add_device(AUDIO, "0x8086", "0x2668", "snd_hda_intel", 7);
	add_device("0000:00:04.2", "0x8086", "0x1234", NULL, 7);          /* unbound: fine */
	add_device("0000:00:04.3", "0x8086", "0x1235", "pci-stub", 7);    /* fine */
	run("touch %s/vfio/vfio %s/vfio/7", devdir, devdir);
	CHECK_EQ(find(EDU), -1);
	CHECK(said("IOMMU group 7 of " EDU " is not viable"));
	CHECK(said(AUDIO " (bound to snd_hda_intel)"));
	CHECK(!strstr(err, "0000:00:04.2"));
	CHECK(!strstr(err, "0000:00:04.3"));
}

static void test_no_dev_vfio(void)
{
	fresh_tree();
	add_device(EDU, "0x1234", "0x11e8", "vfio-pci", 7);
	CHECK_EQ(find(EDU), -1);
	CHECK(said("/dev/vfio/vfio: VFIO is not loaded"));
	CHECK(said("modprobe vfio-pci"));
	run("touch %s/vfio/vfio", devdir);
	CHECK_EQ(find(EDU), -1);
	CHECK(said("/dev/vfio/7 for IOMMU group 7"));
}

static void test_mediated_device_needs_no_vfio_pci(void)
{
	char arg[2 * PATH_MAX];

	fresh_tree();
	run("mkdir -p %s/devices/virtual/mbochs/mbochs/c0ffee00-0000-0000-0000-000000000001 "
	    "%s/bus/mdev/devices", sysfs, sysfs);
	run("cd %s/devices/virtual/mbochs/mbochs/c0ffee00-0000-0000-0000-000000000001 && "
	    "ln -s . mdev_type && mkdir -p %s/kernel/iommu_groups/12/devices && "
	    "ln -s %s/kernel/iommu_groups/12 iommu_group", sysfs, sysfs, sysfs);
	run("ln -s %s/devices/virtual/mbochs/mbochs/c0ffee00-0000-0000-0000-000000000001 "
	    "%s/bus/mdev/devices/", sysfs, sysfs);
	run("touch %s/vfio/vfio %s/vfio/12", devdir, devdir);
	snprintf(arg, sizeof(arg), "sysfsdev=%s/bus/mdev/devices/c0ffee00-0000-0000-0000-000000000001",
		 sysfs);
	CHECK_EQ(find(arg), 0);
	CHECK(dev.mdev);
	CHECK(!strcmp(dev.name, "c0ffee00-0000-0000-0000-000000000001"));
	CHECK_EQ(dev.group, 12);
}

static void test_memlock(void)
{
	const uint64_t ram = 512ull << 20;

	err[0] = '\0';
	CHECK_EQ(vfio_host_check_memlock(8ull << 20, false, ram, err, sizeof(err)), -1);
	CHECK(said("locked-memory limit is 8192 KiB"));
	CHECK(said("ulimit -l 524288"));
	CHECK_EQ(vfio_host_check_memlock(8ull << 20, true, ram, err, sizeof(err)), 0);
	CHECK_EQ(vfio_host_check_memlock(ram, false, ram, err, sizeof(err)), 0);
	CHECK_EQ(vfio_host_check_memlock((uint64_t)RLIM_INFINITY, false, ram, err, sizeof(err)), 0);
}

static void test_describe_lists_groups(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	fresh_tree();
	out = open_memstream(&text, &len);
	vfio_host_describe(&paths, out);
	fclose(out);
	CHECK(strstr(text, "none: no IOMMU is enabled") != NULL);
	free(text);

	add_device(EDU, "0x1234", "0x11e8", "vfio-pci", 3);
	add_device("0000:00:05.0", "0x1234", "0x1111", "bochs-drm", 10);
	add_device("0000:00:06.0", "0x8086", "0x100e", NULL, 4);
	text = NULL;
	out = open_memstream(&text, &len);
	vfio_host_describe(&paths, out);
	fclose(out);
	CHECK(strstr(text, "IOMMU groups                   3") != NULL);
	CHECK(strstr(text, "IOMMU group 3                  " EDU " [1234:11e8] bound to vfio-pci: ready for --vfio") != NULL);
	CHECK(strstr(text, "IOMMU group 10                 0000:00:05.0 [1234:1111] bound to bochs-drm") != NULL);
	CHECK(strstr(text, "0000:00:06.0 [8086:100e] bound to no driver") != NULL);
	/* Numeric order: 3, 4, 10. */
	CHECK(strstr(text, "group 3 ") < strstr(text, "group 4 "));
	CHECK(strstr(text, "group 4 ") < strstr(text, "group 10 "));
	CHECK(strstr(text, "not loaded") != NULL);
	free(text);
	run("rm -rf %s", root);
	root[0] = '\0';
}

TEST_MAIN("vfio_host",
	  TEST_CASE(test_ready_device),
	  TEST_CASE(test_no_such_device),
	  TEST_CASE(test_no_iommu),
	  TEST_CASE(test_not_bound_says_how_to_bind),
	  TEST_CASE(test_group_not_viable_names_the_others),
	  TEST_CASE(test_no_dev_vfio),
	  TEST_CASE(test_mediated_device_needs_no_vfio_pci),
	  TEST_CASE(test_memlock),
	  TEST_CASE(test_describe_lists_groups))
