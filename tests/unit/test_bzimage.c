#include "check.h"

#include <glob.h>
#include <stdint.h>
#include <unistd.h>

#include "../../firmware/boot.h"
#include "../../firmware/e820.h"
#include "../../firmware/guest_layout.h"
#include "memfd_file.h"

#define MiB (1ULL << 20)

/* Offsets from the boot protocol documents, spelled out here rather than
 * taken from the loader so that a wrong offset there shows up. */
#define ZP_ACPI_RSDP_ADDR     0x070
#define ZP_EXT_RAMDISK_IMAGE  0x0c0
#define ZP_EXT_RAMDISK_SIZE   0x0c4
#define ZP_EXT_CMD_LINE_PTR   0x0c8
#define ZP_E820_ENTRIES       0x1e8
#define ZP_SETUP_SECTS        0x1f1
#define ZP_BOOT_FLAG          0x1fe
#define ZP_JUMP               0x200
#define ZP_HEADER             0x202
#define ZP_VERSION            0x206
#define ZP_TYPE_OF_LOADER     0x210
#define ZP_LOADFLAGS          0x211
#define ZP_RAMDISK_IMAGE      0x218
#define ZP_RAMDISK_SIZE       0x21c
#define ZP_HEAP_END_PTR       0x224
#define ZP_CMD_LINE_PTR       0x228
#define ZP_INITRD_ADDR_MAX    0x22c
#define ZP_KERNEL_ALIGNMENT   0x230
#define ZP_RELOCATABLE        0x234
#define ZP_XLOADFLAGS         0x236
#define ZP_CMDLINE_SIZE       0x238
#define ZP_SETUP_DATA         0x250
#define ZP_PREF_ADDRESS       0x258
#define ZP_INIT_SIZE          0x260
#define ZP_E820_TABLE         0x2d0

/* The fake kernel: four setup sectors after the boot sector, then a
 * protected-mode part whose bytes are a pattern the test can recognise. */
#define FAKE_SETUP_SECTS      4
#define FAKE_PM_OFFSET        ((FAKE_SETUP_SECTS + 1) * 512)
#define FAKE_PM_SIZE          0x3000
#define FAKE_LEN              (FAKE_PM_OFFSET + FAKE_PM_SIZE)
#define FAKE_HDR_END          0x26c
#define FAKE_INIT_SIZE        (8 * MiB)
#define FAKE_PREF_ADDRESS     (16 * MiB)

static uint8_t fake[FAKE_LEN];

static void put16(uint8_t *b, size_t off, uint16_t v) { memcpy(b + off, &v, 2); }
static void put32(uint8_t *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void put64(uint8_t *b, size_t off, uint64_t v) { memcpy(b + off, &v, 8); }
static uint16_t get16(const uint8_t *b, size_t off) { uint16_t v; memcpy(&v, b + off, 2); return v; }
static uint32_t get32(const uint8_t *b, size_t off) { uint32_t v; memcpy(&v, b + off, 4); return v; }
static uint64_t get64(const uint8_t *b, size_t off) { uint64_t v; memcpy(&v, b + off, 8); return v; }

static void build_fake(void)
{
	memset(fake, 0, sizeof(fake));
	fake[ZP_SETUP_SECTS] = FAKE_SETUP_SECTS;
	put16(fake, ZP_BOOT_FLAG, 0xaa55);
	fake[ZP_JUMP] = 0xeb;
	fake[ZP_JUMP + 1] = FAKE_HDR_END - ZP_HEADER;
	memcpy(fake + ZP_HEADER, "HdrS", 4);
	put16(fake, ZP_VERSION, 0x020f);
	fake[ZP_LOADFLAGS] = 0x01;                  /* LOADED_HIGH */
	put32(fake, ZP_INITRD_ADDR_MAX, 0x7fffffff);
	put32(fake, ZP_KERNEL_ALIGNMENT, 0x200000);
	fake[ZP_RELOCATABLE] = 1;
	put16(fake, ZP_XLOADFLAGS, 0x7f);           /* XLF_KERNEL_64 and friends */
	put32(fake, ZP_CMDLINE_SIZE, 2047);
	put64(fake, ZP_SETUP_DATA, 0x1234000);      /* must not reach the guest */
	put32(fake, ZP_RAMDISK_IMAGE, 0xdead000);   /* nor must this */
	put64(fake, ZP_PREF_ADDRESS, FAKE_PREF_ADDRESS);
	put32(fake, ZP_INIT_SIZE, FAKE_INIT_SIZE);
	for (size_t i = FAKE_PM_OFFSET; i < FAKE_LEN; i++)
		fake[i] = (uint8_t)(i * 7 + 3);
}

static struct guest_memory mem;
static char err[512];

static bool make_ram(uint64_t size)
{
	return guest_memory_create(&mem, size, false, err, sizeof(err)) == 0;
}

/* NULL, or the open files the next load reads its large ranges from. */
static const struct boot_file_fds *load_fds;

static int load(const uint8_t *kernel, size_t len, const uint8_t *initrd,
		size_t initrd_len, const char *cmdline, struct boot_setup *out)
{
	struct kernel_load_args args = {
		.kernel = kernel, .kernel_len = len,
		.initrd = initrd, .initrd_len = initrd_len,
		.cmdline = cmdline, .rsdp_gpa = GUEST_ACPI_START,
		.fds = load_fds,
	};

	err[0] = '\0';
	return bzimage_load(&mem, &args, out, err, sizeof(err));
}

/* Loads the fake as patched by the caller and expects an error that
 * mentions want. */
static void expect_failure(const char *cmdline, const char *want)
{
	struct boot_setup out;

	CHECK(load(fake, sizeof(fake), NULL, 0, cmdline, &out) < 0);
	CHECK(err[0] != '\0');
	CHECK(strchr(err, '\n') == NULL);
	if (want && !strstr(err, want)) {
		fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", err, want);
		CHECK(strstr(err, want));
	}
}

static void test_detect(void)
{
	build_fake();
	CHECK(bzimage_detect(fake, sizeof(fake)));
	CHECK(!bzimage_detect(fake, ZP_HEADER + 3));
	CHECK(!bzimage_detect(NULL, 0));
	fake[ZP_HEADER] = 'h';
	CHECK(!bzimage_detect(fake, sizeof(fake)));
	build_fake();
	put16(fake, ZP_BOOT_FLAG, 0x55aa);
	CHECK(!bzimage_detect(fake, sizeof(fake)));
}

static void test_valid_load(void)
{
	static const char cmdline[] = "console=ttyS0 root=/dev/vda";
	size_t initrd_len = 1 * MiB + 123;
	uint8_t *initrd = malloc(initrd_len);
	struct e820_entry expected[E820_BUILD_MAX_ENTRIES];
	struct boot_setup out = { 0 };
	uint8_t *zp, *at;
	uint32_t initrd_addr;
	size_t n;

	CHECK(initrd);
	if (!initrd)
		return;
	for (size_t i = 0; i < initrd_len; i++)
		initrd[i] = (uint8_t)(i ^ (i >> 8));
	build_fake();
	if (!make_ram(512 * MiB)) {
		free(initrd);
		SKIP_TEST("cannot create guest memory");
	}
	CHECK_EQ(load(fake, sizeof(fake), initrd, initrd_len, cmdline, &out), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ(out.mode, BOOT_MODE_LINUX64);
	CHECK_EQ(out.entry, GUEST_KERNEL_ADDR + 0x200);
	CHECK_EQ(out.boot_info_gpa, GUEST_BOOT_INFO_ADDR);

	at = guest_memory_ptr(&mem, GUEST_KERNEL_ADDR, FAKE_PM_SIZE);
	CHECK(at && memcmp(at, fake + FAKE_PM_OFFSET, FAKE_PM_SIZE) == 0);

	zp = guest_memory_ptr(&mem, GUEST_BOOT_INFO_ADDR, 4096);
	CHECK(zp);
	if (!zp)
		goto out;
	CHECK_EQ(zp[ZP_SETUP_SECTS], FAKE_SETUP_SECTS);
	CHECK_EQ(get16(zp, ZP_BOOT_FLAG), 0xaa55);
	CHECK(memcmp(zp + ZP_HEADER, "HdrS", 4) == 0);
	CHECK_EQ(get16(zp, ZP_VERSION), 0x020f);
	CHECK_EQ(get32(zp, ZP_INIT_SIZE), FAKE_INIT_SIZE);
	CHECK_EQ(zp[ZP_TYPE_OF_LOADER], 0xff);
	CHECK_EQ(zp[ZP_LOADFLAGS], 0x81);
	CHECK_EQ(get16(zp, ZP_HEAP_END_PTR), 0xfe00);
	CHECK_EQ(get32(zp, ZP_CMD_LINE_PTR), GUEST_CMDLINE_ADDR);
	CHECK_EQ(get32(zp, ZP_EXT_CMD_LINE_PTR), 0);
	CHECK_EQ(get64(zp, ZP_SETUP_DATA), 0);
	CHECK_EQ(get64(zp, ZP_ACPI_RSDP_ADDR), GUEST_ACPI_START);
	/* The loader writes nothing past the header it was given. */
	for (size_t i = FAKE_HDR_END; i < ZP_E820_TABLE; i++)
		CHECK_EQ(zp[i], 0);

	at = guest_memory_ptr(&mem, GUEST_CMDLINE_ADDR, sizeof(cmdline));
	CHECK(at && memcmp(at, cmdline, sizeof(cmdline)) == 0);

	initrd_addr = get32(zp, ZP_RAMDISK_IMAGE);
	CHECK_EQ(get32(zp, ZP_RAMDISK_SIZE), initrd_len);
	CHECK_EQ(get32(zp, ZP_EXT_RAMDISK_IMAGE), 0);
	CHECK_EQ(get32(zp, ZP_EXT_RAMDISK_SIZE), 0);
	CHECK_EQ(initrd_addr % 4096, 0);
	/* As high as it goes: the next page down would leave a page free. */
	CHECK(initrd_addr + initrd_len <= 512 * MiB);
	CHECK(initrd_addr + initrd_len + 4096 > 512 * MiB);
	CHECK(initrd_addr >= FAKE_PREF_ADDRESS + FAKE_INIT_SIZE);
	at = guest_memory_ptr(&mem, initrd_addr, initrd_len);
	CHECK(at && memcmp(at, initrd, initrd_len) == 0);

	n = e820_build(&mem, expected, E820_BUILD_MAX_ENTRIES);
	CHECK(n > 0);
	CHECK_EQ(zp[ZP_E820_ENTRIES], n);
	CHECK(memcmp(zp + ZP_E820_TABLE, expected, n * 20) == 0);
	CHECK_EQ(get64(zp, ZP_E820_TABLE + 3 * 20), GUEST_KERNEL_ADDR);
	CHECK_EQ(get32(zp, ZP_E820_TABLE + 3 * 20 + 16), E820_TYPE_RAM);
out:
	guest_memory_destroy(&mem);
	free(initrd);
}

/* With the files open, the payload and the initrd come from the files:
 * the buffers hold zeros there, only the header is the same. A file that
 * shrank since it was checked fails the load. */
static void test_load_from_files(void)
{
	size_t initrd_len = 1 * MiB + 123;
	uint8_t *initrd = malloc(initrd_len), *zeros = calloc(1, initrd_len);
	uint8_t header_only[FAKE_LEN];
	struct boot_file_fds fds = { -1, -1 };
	struct boot_setup out;
	uint8_t *at, *zp;

	CHECK(initrd && zeros);
	if (!initrd || !zeros)
		goto out;
	for (size_t i = 0; i < initrd_len; i++)
		initrd[i] = (uint8_t)(i * 5 + 1);
	build_fake();
	memcpy(header_only, fake, sizeof(fake));
	memset(header_only + FAKE_PM_OFFSET, 0, FAKE_LEN - FAKE_PM_OFFSET);
	fds = boot_files_of(fake, sizeof(fake), initrd, initrd_len);
	CHECK(fds.kernel >= 0);
	if (fds.kernel < 0)
		goto out;
	if (!make_ram(512 * MiB)) {
		test_state.skip_reason = "cannot create guest memory";
		goto out;
	}
	load_fds = &fds;
	CHECK_EQ(load(header_only, sizeof(header_only), zeros, initrd_len, "", &out), 0);
	at = guest_memory_ptr(&mem, GUEST_KERNEL_ADDR, FAKE_PM_SIZE);
	CHECK(at && memcmp(at, fake + FAKE_PM_OFFSET, FAKE_PM_SIZE) == 0);
	zp = guest_memory_ptr(&mem, GUEST_BOOT_INFO_ADDR, 4096);
	at = zp ? guest_memory_ptr(&mem, get32(zp, ZP_RAMDISK_IMAGE), initrd_len) : NULL;
	CHECK(at && memcmp(at, initrd, initrd_len) == 0);

	CHECK_EQ(ftruncate(fds.initrd, (off_t)(initrd_len / 2)), 0);
	CHECK(load(header_only, sizeof(header_only), zeros, initrd_len, "", &out) < 0);
	CHECK(strstr(err, "shrink") != NULL);
	guest_memory_destroy(&mem);
out:
	load_fds = NULL;
	boot_files_close(&fds);
	free(initrd);
	free(zeros);
}

static void test_no_initrd_and_setup_sects_zero(void)
{
	struct boot_setup out;
	uint8_t *zp;

	build_fake();
	if (!make_ram(128 * MiB))
		SKIP_TEST("cannot create guest memory");
	/* 0 means 4, which is what the fake has. */
	fake[ZP_SETUP_SECTS] = 0;
	CHECK_EQ(load(fake, sizeof(fake), NULL, 0, "", &out), 0);
	zp = guest_memory_ptr(&mem, GUEST_BOOT_INFO_ADDR, 4096);
	CHECK(zp);
	if (zp) {
		CHECK_EQ(get32(zp, ZP_RAMDISK_IMAGE), 0);
		CHECK_EQ(get32(zp, ZP_RAMDISK_SIZE), 0);
	}
	CHECK(memcmp(guest_memory_ptr(&mem, GUEST_KERNEL_ADDR, FAKE_PM_SIZE),
		     fake + FAKE_PM_OFFSET, FAKE_PM_SIZE) == 0);
	CHECK_EQ(*(uint8_t *)guest_memory_ptr(&mem, GUEST_CMDLINE_ADDR, 1), 0);
	guest_memory_destroy(&mem);
}

static void test_initrd_addr_max_respected(void)
{
	static uint8_t initrd[3 * 4096 + 5];
	struct boot_setup out;
	uint8_t *zp;

	build_fake();
	put32(fake, ZP_INITRD_ADDR_MAX, 0x1ffffff);  /* last byte below 32 MiB */
	if (!make_ram(256 * MiB))
		SKIP_TEST("cannot create guest memory");
	CHECK_EQ(load(fake, sizeof(fake), initrd, sizeof(initrd), "", &out), 0);
	zp = guest_memory_ptr(&mem, GUEST_BOOT_INFO_ADDR, 4096);
	if (zp) {
		uint32_t addr = get32(zp, ZP_RAMDISK_IMAGE);

		CHECK(addr + sizeof(initrd) <= 32 * MiB);
		CHECK(addr + sizeof(initrd) + 4096 > 32 * MiB);
		CHECK_EQ(addr % 4096, 0);
	}
	guest_memory_destroy(&mem);
}

/* Every prefix of the file shorter than the 64-bit entry fails, cleanly:
 * each copy is exactly as long as claimed, so ASan sees any over-read. */
static void test_truncated(void)
{
	struct boot_setup out;
	size_t shortest_good = FAKE_PM_OFFSET + 0x201;

	build_fake();
	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	for (size_t len = 0; len <= shortest_good + 64; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		struct kernel_load_args args = {
			.kernel = copy, .kernel_len = len, .cmdline = "",
		};
		int rc;

		if (!copy)
			break;
		memcpy(copy, fake, len);
		err[0] = '\0';
		rc = bzimage_load(&mem, &args, &out, err, sizeof(err));
		if (len < shortest_good) {
			CHECK(rc < 0);
			CHECK(err[0] != '\0');
		} else {
			CHECK_EQ(rc, 0);
		}
		err[0] = '\0';
		rc = kernel_load(&mem, &args, &out, err, sizeof(err));
		CHECK(len < shortest_good ? rc < 0 : rc == 0);
		free(copy);
	}
	guest_memory_destroy(&mem);
}

static void test_wrong_magic(void)
{
	struct boot_setup out;
	struct kernel_load_args args = {
		.kernel = fake, .kernel_len = sizeof(fake), .cmdline = "",
	};

	build_fake();
	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	memcpy(fake + ZP_HEADER, "HdrX", 4);
	expect_failure("", "not a bzImage");
	CHECK(kernel_load(&mem, &args, &out, err, sizeof(err)) < 0);
	CHECK(strstr(err, "not a Linux kernel"));
	build_fake();
	put16(fake, ZP_BOOT_FLAG, 0);
	expect_failure("", "not a bzImage");
	guest_memory_destroy(&mem);
}

static void test_old_protocol(void)
{
	build_fake();
	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	put16(fake, ZP_VERSION, 0x0209);
	expect_failure("", "2.09");
	put16(fake, ZP_VERSION, 0x0100);
	expect_failure("", "1.00");
	/* Too old to say whether it has a 64-bit entry point. */
	put16(fake, ZP_VERSION, 0x020b);
	expect_failure("", "64-bit");
	guest_memory_destroy(&mem);
}

static void test_no_64bit_entry(void)
{
	build_fake();
	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	put16(fake, ZP_XLOADFLAGS, 0x7e);
	expect_failure("", "64-bit");
	build_fake();
	fake[ZP_LOADFLAGS] = 0;
	expect_failure("", "LOADED_HIGH");
	guest_memory_destroy(&mem);
}

static void test_bad_header_end(void)
{
	build_fake();
	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	fake[ZP_JUMP + 1] = 0xff;   /* would spill over the e820 table */
	expect_failure("", "setup header");
	fake[ZP_JUMP + 1] = 0x10;   /* too short to hold init_size */
	expect_failure("", "setup header");
	guest_memory_destroy(&mem);
}

static void test_cmdline_too_long(void)
{
	char *cmdline = malloc(GUEST_CMDLINE_MAX + 1);
	struct boot_setup out;

	CHECK(cmdline);
	if (!cmdline)
		return;
	build_fake();
	if (!make_ram(64 * MiB)) {
		free(cmdline);
		SKIP_TEST("cannot create guest memory");
	}
	memset(cmdline, 'x', 2047);
	cmdline[2047] = '\0';
	CHECK_EQ(load(fake, sizeof(fake), NULL, 0, cmdline, &out), 0);
	cmdline[2047] = 'x';
	cmdline[2048] = '\0';
	expect_failure(cmdline, "2048");
	CHECK(strstr(err, "2047"));

	/* A kernel that claims more than gvmm's area holds meets gvmm's limit. */
	put32(fake, ZP_CMDLINE_SIZE, 0xffffffff);
	memset(cmdline, 'x', GUEST_CMDLINE_MAX);
	cmdline[GUEST_CMDLINE_MAX] = '\0';
	expect_failure(cmdline, "65536");
	CHECK(strstr(err, "65535"));
	cmdline[GUEST_CMDLINE_MAX - 1] = '\0';
	CHECK_EQ(load(fake, sizeof(fake), NULL, 0, cmdline, &out), 0);
	guest_memory_destroy(&mem);
	free(cmdline);
}

static void test_initrd_too_big(void)
{
	/* 64 MiB of RAM; the kernel runs in [16 MiB, 24 MiB). */
	size_t room = 40 * MiB;
	uint8_t *initrd = calloc(1, room + 1);
	struct boot_setup out;

	CHECK(initrd);
	if (!initrd)
		return;
	build_fake();
	if (!make_ram(64 * MiB)) {
		free(initrd);
		SKIP_TEST("cannot create guest memory");
	}
	CHECK(load(fake, sizeof(fake), initrd, room + 1, "", &out) < 0);
	CHECK(strstr(err, "initrd too big"));
	CHECK(strstr(err, "41943041"));
	CHECK_EQ(load(fake, sizeof(fake), initrd, room, "", &out), 0);

	/* The header's limit counts as much as the end of RAM. */
	put32(fake, ZP_INITRD_ADDR_MAX, 32 * MiB - 1);
	CHECK(load(fake, sizeof(fake), initrd, 8 * MiB + 1, "", &out) < 0);
	CHECK(strstr(err, "initrd too big"));
	CHECK_EQ(load(fake, sizeof(fake), initrd, 8 * MiB, "", &out), 0);
	put32(fake, ZP_INITRD_ADDR_MAX, 0);
	CHECK(load(fake, sizeof(fake), initrd, 1, "", &out) < 0);
	guest_memory_destroy(&mem);
	free(initrd);
}

static void test_ram_too_small(void)
{
	struct boot_setup out;

	build_fake();
	if (!make_ram(20 * MiB))
		SKIP_TEST("cannot create guest memory");
	expect_failure("", "init_size");
	guest_memory_destroy(&mem);

	if (!make_ram(24 * MiB))
		SKIP_TEST("cannot create guest memory");
	CHECK_EQ(load(fake, sizeof(fake), NULL, 0, "", &out), 0);
	put32(fake, ZP_INIT_SIZE, 0xffffffff);
	expect_failure("", "init_size");
	build_fake();
	put64(fake, ZP_PREF_ADDRESS, 0xfffffffffffff000ULL);
	expect_failure("", "too small");
	guest_memory_destroy(&mem);

	/* Not even room for the zero page and command line. */
	build_fake();
	if (!make_ram(64 * 1024))
		SKIP_TEST("cannot create guest memory");
	expect_failure("", "too small");
	guest_memory_destroy(&mem);
}

/* Random corruption of the header and setup area must never crash. */
static void test_fuzzed_headers(void)
{
	uint32_t seed = 12345;
	struct boot_setup out;

	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	for (int round = 0; round < 20000; round++) {
		build_fake();
		for (int flips = 1 + round % 8; flips > 0; flips--) {
			seed = seed * 1103515245 + 12345;
			size_t off = 0x1f1 + (seed >> 8) % (FAKE_PM_OFFSET + 0x300 - 0x1f1);

			seed = seed * 1103515245 + 12345;
			fake[off] = (uint8_t)(seed >> 16);
		}
		(void)load(fake, sizeof(fake), NULL, 0, "x", &out);
	}
	guest_memory_destroy(&mem);
}

static uint8_t *read_whole_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size)) &&
	    fread(buf, 1, (size_t)size, f) == (size_t)size) {
		*len = (size_t)size;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void test_real_debian_kernel(void)
{
	uint8_t *kernel = NULL;
	size_t len = 0;
	glob_t found;
	struct boot_setup out;
	uint8_t *zp;

	if (glob("/boot/vmlinuz-*", 0, NULL, &found) != 0)
		SKIP_TEST("no /boot/vmlinuz-* on this machine");
	for (size_t i = 0; i < found.gl_pathc && !kernel; i++)
		kernel = read_whole_file(found.gl_pathv[i], &len);
	globfree(&found);
	if (!kernel)
		SKIP_TEST("no readable /boot/vmlinuz-*");
	if (!make_ram(512 * MiB)) {
		free(kernel);
		SKIP_TEST("cannot create guest memory");
	}
	CHECK(bzimage_detect(kernel, len));
	CHECK(!pvh_detect(kernel, len));
	CHECK_EQ(load(kernel, len, NULL, 0, "console=ttyS0", &out), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ(out.mode, BOOT_MODE_LINUX64);
	CHECK_EQ(out.entry, GUEST_KERNEL_ADDR + 0x200);
	zp = guest_memory_ptr(&mem, GUEST_BOOT_INFO_ADDR, 4096);
	if (zp) {
		uint16_t version = get16(zp, ZP_VERSION);

		CHECK(version >= 0x020c && version < 0x0300);
		CHECK(get32(zp, ZP_INIT_SIZE) > len);
		CHECK(get16(zp, ZP_XLOADFLAGS) & 1);
	}
	CHECK_EQ(kernel_load(&mem, &(struct kernel_load_args){
		.kernel = kernel, .kernel_len = len, .cmdline = "" },
		&out, err, sizeof(err)), 0);
	guest_memory_destroy(&mem);
	free(kernel);
}

TEST_MAIN("bzimage",
	TEST_CASE(test_detect),
	TEST_CASE(test_valid_load),
	TEST_CASE(test_load_from_files),
	TEST_CASE(test_no_initrd_and_setup_sects_zero),
	TEST_CASE(test_initrd_addr_max_respected),
	TEST_CASE(test_truncated),
	TEST_CASE(test_wrong_magic),
	TEST_CASE(test_old_protocol),
	TEST_CASE(test_no_64bit_entry),
	TEST_CASE(test_bad_header_end),
	TEST_CASE(test_cmdline_too_long),
	TEST_CASE(test_initrd_too_big),
	TEST_CASE(test_ram_too_small),
	TEST_CASE(test_fuzzed_headers),
	TEST_CASE(test_real_debian_kernel),
)
