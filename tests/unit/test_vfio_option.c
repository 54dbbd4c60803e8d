/* The --vfio parser: PCI addresses in both forms, sysfsdev=PATH, the
 * rom= and mmap= options, and the one-line message each bad value earns. */
#include "check.h"

#include "../../devices/vfio/vfio_option.h"

static struct vfio_option opt;
static char err[256];

/* Parses arg into opt (poisoned first, so stale fields show) and err. */
static int parse(const char *arg)
{
	memset(&opt, 0xa5, sizeof(opt));
	err[0] = '\0';
	return vfio_option_parse(arg, &opt, err, sizeof(err));
}

/* arg is refused with one line that holds text. */
static bool refused_mentioning(const char *arg, const char *text)
{
	bool ok = parse(arg) == -1 && strstr(err, text) && !strchr(err, '\n');

	if (!ok)
		fprintf(stderr, "  '%s': got \"%s\" (accepted unless -1 was returned), "
			"wanted a refusal mentioning \"%s\"\n", arg, err, text);
	return ok;
}

static void test_full_address(void)
{
	CHECK_EQ(parse("0000:01:00.0"), 0);
	CHECK(!strcmp(opt.bdf, "0000:01:00.0"));
	CHECK_EQ(opt.sysfs_path[0], 0);
	CHECK_EQ(parse("ABCD:fF:1f.7"), 0);
	CHECK(!strcmp(opt.bdf, "abcd:ff:1f.7"));
}

static void test_short_address_gets_domain_zero(void)
{
	CHECK_EQ(parse("00:04.0"), 0);
	CHECK(!strcmp(opt.bdf, "0000:00:04.0"));
}

static void test_sysfsdev(void)
{
	CHECK_EQ(parse("sysfsdev=/sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"), 0);
	CHECK(!strcmp(opt.sysfs_path, "/sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"));
	CHECK_EQ(opt.bdf[0], 0);
}

static void test_bad_values(void)
{
	const char *bad[] = {
		"", "0000:01:00", "01:00", "0000:01:00.8", "0000:01:20.0", "00000:01:00.0",
		"0000:001:00.0", "g000:01:00.0", "0000:01:00.0 ", "1:0.0",
		"0000:01:00.00", ",rom=off", "0000:01:00,rom=off",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(refused_mentioning(bad[i], "expected a PCI address like 0000:01:00.0"));
	CHECK(refused_mentioning("sysfsdev=relative/path", "absolute path"));
	CHECK(refused_mentioning("sysfsdev=", "absolute path"));
	CHECK(refused_mentioning("sysfsdev=,rom=off", "absolute path"));
}

static void test_rom_option(void)
{
	CHECK_EQ(parse("0000:01:00.0"), 0);
	CHECK(!opt.hide_rom);
	CHECK_EQ(parse("0000:01:00.0,rom=off"), 0);
	CHECK(!strcmp(opt.bdf, "0000:01:00.0"));
	CHECK(opt.hide_rom);
	CHECK_EQ(parse("01:00.0,rom=on"), 0);
	CHECK(!opt.hide_rom);
	/* The last one given wins. */
	CHECK_EQ(parse("01:00.0,rom=on,rom=off"), 0);
	CHECK(opt.hide_rom);
	CHECK_EQ(parse("sysfsdev=/sys/bus/pci/devices/0000:01:00.0,rom=off"), 0);
	CHECK(!strcmp(opt.sysfs_path, "/sys/bus/pci/devices/0000:01:00.0"));
	CHECK(opt.hide_rom);

	CHECK(refused_mentioning("0000:01:00.0,x", "unknown option 'x'"));
	/* The refusal lists the options there are. */
	CHECK(refused_mentioning("0000:01:00.0,x", "rom=on|off, mmap=on|off"));
	CHECK(refused_mentioning("sysfsdev=/sys/x,ro", "unknown option 'ro'"));
	CHECK(refused_mentioning("0000:01:00.0,rom=maybe", "rom= takes on or off, not 'maybe'"));
	CHECK(refused_mentioning("0000:01:00.0,rom=", "rom= takes on or off, not ''"));
	CHECK(refused_mentioning("0000:01:00.0,rom=offf", "not 'offf'"));
	CHECK(refused_mentioning("0000:01:00.0,", "empty option"));
	CHECK(refused_mentioning("0000:01:00.0,rom=off,", "empty option"));
	CHECK(refused_mentioning("0000:01:00.0,,rom=off", "empty option"));
	/* A bad device is named before bad options. */
	CHECK(refused_mentioning("0000:01:00,x", "expected a PCI address"));
}

static void test_mmap_option(void)
{
	/* On (BARs mapped into the guest) unless mmap=off says otherwise. */
	CHECK_EQ(parse("0000:01:00.0"), 0);
	CHECK(!opt.trap_bars);
	CHECK_EQ(parse("0000:01:00.0,mmap=on"), 0);
	CHECK(!opt.trap_bars);
	CHECK(!opt.hide_rom);
	CHECK_EQ(parse("0000:01:00.0,mmap=off"), 0);
	CHECK(!strcmp(opt.bdf, "0000:01:00.0"));
	CHECK(opt.trap_bars);
	CHECK(!opt.hide_rom);
	CHECK_EQ(parse("01:00.0,mmap=off,mmap=on"), 0);
	CHECK(!opt.trap_bars);
	CHECK_EQ(parse("sysfsdev=/sys/bus/mdev/devices/83b8f4f2,mmap=off"), 0);
	CHECK(!strcmp(opt.sysfs_path, "/sys/bus/mdev/devices/83b8f4f2"));
	CHECK(opt.trap_bars);

	/* With rom=, in either order, each option keeps to its own field. */
	CHECK_EQ(parse("0000:01:00.0,rom=off,mmap=off"), 0);
	CHECK(opt.hide_rom);
	CHECK(opt.trap_bars);
	CHECK_EQ(parse("0000:01:00.0,mmap=off,rom=off"), 0);
	CHECK(opt.hide_rom);
	CHECK(opt.trap_bars);
	CHECK_EQ(parse("0000:01:00.0,rom=off,mmap=on"), 0);
	CHECK(opt.hide_rom);
	CHECK(!opt.trap_bars);
	CHECK_EQ(parse("0000:01:00.0,mmap=off,rom=on"), 0);
	CHECK(!opt.hide_rom);
	CHECK(opt.trap_bars);

	CHECK(refused_mentioning("0000:01:00.0,mmap=bad", "mmap= takes on or off, not 'bad'"));
	CHECK(refused_mentioning("0000:01:00.0,mmap=", "mmap= takes on or off, not ''"));
	CHECK(refused_mentioning("0000:01:00.0,rom=off,mmap=bad", "not 'bad'"));
	CHECK(refused_mentioning("0000:01:00.0,mmap=off,rom=bad", "rom= takes on or off"));
	CHECK(refused_mentioning("0000:01:00.0,mmap", "unknown option 'mmap'"));
	CHECK(refused_mentioning("0000:01:00.0,mmap=off,", "empty option"));
	/* A refusal leaves nothing half set. */
	CHECK_EQ(parse("0000:01:00.0,mmap=off,mmap=bad"), -1);
	CHECK(!opt.trap_bars);
}

static void test_long_path_refused(void)
{
	char arg[VFIO_OPTION_PATH_MAX + 32];

	snprintf(arg, sizeof(arg), "sysfsdev=/%0*d", VFIO_OPTION_PATH_MAX, 0);
	CHECK(refused_mentioning(arg, "longer than"));
	/* Just short enough, with an option after it. */
	snprintf(arg, sizeof(arg), "sysfsdev=/%0*d,rom=off", VFIO_OPTION_PATH_MAX - 2, 0);
	CHECK_EQ(parse(arg), 0);
	CHECK_EQ(strlen(opt.sysfs_path), VFIO_OPTION_PATH_MAX - 1);
	CHECK(opt.hide_rom);
}

static void test_same(void)
{
	struct vfio_option a, b;

	vfio_option_parse("01:00.0", &a, err, sizeof(err));
	vfio_option_parse("0000:01:00.0", &b, err, sizeof(err));
	CHECK(vfio_option_same(&a, &b));
	vfio_option_parse("0000:01:00.1", &b, err, sizeof(err));
	CHECK(!vfio_option_same(&a, &b));
	/* Options do not make another device. */
	vfio_option_parse("01:00.0,rom=off", &b, err, sizeof(err));
	CHECK(vfio_option_same(&a, &b));
	vfio_option_parse("01:00.0,mmap=off", &b, err, sizeof(err));
	CHECK(vfio_option_same(&a, &b));
}

TEST_MAIN("vfio_option",
	  TEST_CASE(test_full_address),
	  TEST_CASE(test_short_address_gets_domain_zero),
	  TEST_CASE(test_sysfsdev),
	  TEST_CASE(test_bad_values),
	  TEST_CASE(test_rom_option),
	  TEST_CASE(test_mmap_option),
	  TEST_CASE(test_long_path_refused),
	  TEST_CASE(test_same))
