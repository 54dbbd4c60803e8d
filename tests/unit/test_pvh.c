#include "check.h"

#include <stdint.h>
#include <unistd.h>

#include "../../firmware/boot.h"
#include "../../firmware/e820.h"
#include "../../firmware/guest_layout.h"
#include "memfd_file.h"

#define MiB (1ULL << 20)

/* The fake vmlinux, laid out as in the ELF and Xen PVH specifications:
 *   0x000 ELF header, then program headers: text, data+bss, notes
 *   0x100 notes: a Xen note of another type, a GNU note, PHYS32_ENTRY
 *   0x200 text (paddr 16 MiB), 0x1200 data (paddr 16 MiB + 8 KiB) */
#define PT_NULL        0
#define PT_LOAD        1
#define PT_NOTE        4
#define NOTES_OFF      0x100
#define TEXT_OFF       0x200
#define TEXT_SIZE      0x1000
#define TEXT_PADDR     (16 * MiB)
#define DATA_OFF       (TEXT_OFF + TEXT_SIZE)
#define DATA_FILESZ    0x100
#define DATA_MEMSZ     0x3000
#define DATA_PADDR     (TEXT_PADDR + 0x2000)
#define FAKE_LEN       (DATA_OFF + DATA_FILESZ)
#define FAKE_ENTRY     (TEXT_PADDR + 0x40)
#define IMAGE_END      (DATA_PADDR + DATA_MEMSZ)

enum { PH_TEXT, PH_DATA, PH_NOTE, NR_PH };

/* Where the fields are in each class's program header. */
struct phdr_layout {
	size_t size, type, offset, paddr, filesz, memsz, align, width;
};
static const struct phdr_layout ph64 = { 56, 0, 8, 24, 32, 40, 48, 8 };
static const struct phdr_layout ph32 = { 32, 0, 4, 12, 16, 20, 28, 4 };

static uint8_t fake[FAKE_LEN];
static bool fake_is64;
static size_t entry_note_desc;  /* offset of the PHYS32_ENTRY value */

static void put16(uint8_t *b, size_t off, uint16_t v) { memcpy(b + off, &v, 2); }
static void put32(uint8_t *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void put64(uint8_t *b, size_t off, uint64_t v) { memcpy(b + off, &v, 8); }
static uint32_t get32(const uint8_t *b, size_t off) { uint32_t v; memcpy(&v, b + off, 4); return v; }
static uint64_t get64(const uint8_t *b, size_t off) { uint64_t v; memcpy(&v, b + off, 8); return v; }

static const struct phdr_layout *layout(void)
{
	return fake_is64 ? &ph64 : &ph32;
}

static size_t phoff(void)
{
	return fake_is64 ? 64 : 52;
}

static void put_word(size_t off, uint64_t v)
{
	if (fake_is64)
		put64(fake, off, v);
	else
		put32(fake, off, (uint32_t)v);
}

/* Sets one field of program header index; field is an offset from layout(). */
static void set_ph(unsigned index, size_t field, uint64_t v)
{
	size_t at = phoff() + index * layout()->size + field;

	if (field == layout()->type)
		put32(fake, at, (uint32_t)v);
	else
		put_word(at, v);
}

static size_t add_note(size_t at, const char *name, uint32_t type,
		       const void *desc, uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;

	put32(fake, at, namesz);
	put32(fake, at + 4, descsz);
	put32(fake, at + 8, type);
	memcpy(fake + at + 12, name, namesz);
	at += 12 + ((namesz + 3) & ~3u);
	memcpy(fake + at, desc, descsz);
	return at + ((descsz + 3) & ~3u);
}

static void build_fake(bool is64)
{
	const struct phdr_layout *l;
	uint64_t entry = FAKE_ENTRY;
	size_t at;

	memset(fake, 0, sizeof(fake));
	fake_is64 = is64;
	l = layout();
	memcpy(fake, "\177ELF", 4);
	fake[4] = is64 ? 2 : 1;
	fake[5] = 1;
	fake[6] = 1;
	put16(fake, 16, 2);                     /* ET_EXEC */
	put16(fake, 18, is64 ? 62 : 3);
	put32(fake, 20, 1);
	if (is64) {
		put64(fake, 24, 0x1000000);
		put64(fake, 32, phoff());
		put16(fake, 52, 64);
		put16(fake, 54, (uint16_t)l->size);
		put16(fake, 56, NR_PH);
	} else {
		put32(fake, 24, 0x1000000);
		put32(fake, 28, (uint32_t)phoff());
		put16(fake, 40, 52);
		put16(fake, 42, (uint16_t)l->size);
		put16(fake, 44, NR_PH);
	}

	at = add_note(NOTES_OFF, "Xen", 6, "linux", 6);
	at = add_note(at, "GNU", 3, "0123456789abcdefghij", 20);
	entry_note_desc = at + 12 + 4;
	at = add_note(at, "Xen", 18, &entry, is64 ? 8 : 4);

	set_ph(PH_TEXT, l->type, PT_LOAD);
	set_ph(PH_TEXT, l->offset, TEXT_OFF);
	set_ph(PH_TEXT, l->paddr, TEXT_PADDR);
	set_ph(PH_TEXT, l->filesz, TEXT_SIZE);
	set_ph(PH_TEXT, l->memsz, TEXT_SIZE);
	set_ph(PH_TEXT, l->align, 0x200000);
	set_ph(PH_DATA, l->type, PT_LOAD);
	set_ph(PH_DATA, l->offset, DATA_OFF);
	set_ph(PH_DATA, l->paddr, DATA_PADDR);
	set_ph(PH_DATA, l->filesz, DATA_FILESZ);
	set_ph(PH_DATA, l->memsz, DATA_MEMSZ);
	set_ph(PH_DATA, l->align, 0x200000);
	set_ph(PH_NOTE, l->type, PT_NOTE);
	set_ph(PH_NOTE, l->offset, NOTES_OFF);
	set_ph(PH_NOTE, l->paddr, 0x2000000);
	set_ph(PH_NOTE, l->filesz, at - NOTES_OFF);
	set_ph(PH_NOTE, l->memsz, at - NOTES_OFF);
	set_ph(PH_NOTE, l->align, 4);

	for (size_t i = TEXT_OFF; i < FAKE_LEN; i++)
		fake[i] = (uint8_t)(i * 13 + 1);
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
	return pvh_load(&mem, &args, out, err, sizeof(err));
}

static void expect_failure(const char *want)
{
	struct boot_setup out;

	CHECK(load(fake, sizeof(fake), NULL, 0, "", &out) < 0);
	CHECK(err[0] != '\0');
	CHECK(strchr(err, '\n') == NULL);
	if (want && !strstr(err, want)) {
		fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", err, want);
		CHECK(strstr(err, want));
	}
}

static void test_detect(void)
{
	build_fake(true);
	CHECK(pvh_detect(fake, sizeof(fake)));
	CHECK(!pvh_detect(fake, 63));
	CHECK(!pvh_detect(NULL, 0));
	build_fake(false);
	CHECK(pvh_detect(fake, sizeof(fake)));
	CHECK(!bzimage_detect(fake, sizeof(fake)));
	fake[0] = 0;
	CHECK(!pvh_detect(fake, sizeof(fake)));
}

static void check_valid_load(bool is64)
{
	static const char cmdline[] = "console=hvc0 earlyprintk=ttyS0";
	size_t initrd_len = 3 * 4096 + 77;
	uint8_t *initrd = malloc(initrd_len);
	struct e820_entry e820[E820_BUILD_MAX_ENTRIES];
	struct boot_setup out = { 0 };
	uint8_t *info, *memmap, *at;
	uint64_t modlist, initrd_addr;
	size_t n;

	CHECK(initrd);
	if (!initrd)
		return;
	for (size_t i = 0; i < initrd_len; i++)
		initrd[i] = (uint8_t)(i * 3);
	build_fake(is64);
	if (!make_ram(512 * MiB)) {
		free(initrd);
		SKIP_TEST("cannot create guest memory");
	}
	/* The bss must come out zero whatever was there. */
	memset(guest_memory_ptr(&mem, DATA_PADDR, DATA_MEMSZ), 0xcc, DATA_MEMSZ);

	CHECK_EQ(load(fake, sizeof(fake), initrd, initrd_len, cmdline, &out), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ(out.mode, BOOT_MODE_PVH32);
	CHECK_EQ(out.entry, FAKE_ENTRY);
	CHECK_EQ(out.boot_info_gpa, GUEST_BOOT_INFO_ADDR);

	at = guest_memory_ptr(&mem, TEXT_PADDR, TEXT_SIZE);
	CHECK(at && memcmp(at, fake + TEXT_OFF, TEXT_SIZE) == 0);
	at = guest_memory_ptr(&mem, DATA_PADDR, DATA_MEMSZ);
	CHECK(at && memcmp(at, fake + DATA_OFF, DATA_FILESZ) == 0);
	for (size_t i = DATA_FILESZ; at && i < DATA_MEMSZ; i++)
		if (at[i]) {
			CHECK_EQ(at[i], 0);
			break;
		}

	at = guest_memory_ptr(&mem, GUEST_CMDLINE_ADDR, sizeof(cmdline));
	CHECK(at && memcmp(at, cmdline, sizeof(cmdline)) == 0);

	info = guest_memory_ptr(&mem, GUEST_BOOT_INFO_ADDR, 56);
	memmap = guest_memory_ptr(&mem, GUEST_PVH_MEMMAP_ADDR, GUEST_PVH_MEMMAP_SIZE);
	CHECK(info && memmap);
	if (!info || !memmap)
		goto out;
	CHECK_EQ(get32(info, 0), 0x336ec578);
	CHECK_EQ(get32(info, 4), 1);
	CHECK_EQ(get32(info, 8), 0);
	CHECK_EQ(get32(info, 12), 1);
	CHECK_EQ(get64(info, 24), GUEST_CMDLINE_ADDR);
	CHECK_EQ(get64(info, 32), GUEST_ACPI_START);
	CHECK_EQ(get64(info, 40), GUEST_PVH_MEMMAP_ADDR);

	n = e820_build(&mem, e820, E820_BUILD_MAX_ENTRIES);
	CHECK_EQ(get32(info, 48), n);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(get64(memmap, i * 24), e820[i].addr);
		CHECK_EQ(get64(memmap, i * 24 + 8), e820[i].size);
		CHECK_EQ(get32(memmap, i * 24 + 16), e820[i].type);
		CHECK_EQ(get32(memmap, i * 24 + 20), 0);
	}

	modlist = get64(info, 16);
	CHECK(modlist >= GUEST_PVH_MEMMAP_ADDR + n * 24);
	CHECK(modlist + 32 <= GUEST_PVH_MEMMAP_ADDR + GUEST_PVH_MEMMAP_SIZE);
	CHECK_EQ(modlist % 8, 0);
	if (modlist >= GUEST_PVH_MEMMAP_ADDR &&
	    modlist + 32 <= GUEST_PVH_MEMMAP_ADDR + GUEST_PVH_MEMMAP_SIZE) {
		const uint8_t *module = memmap + (modlist - GUEST_PVH_MEMMAP_ADDR);

		initrd_addr = get64(module, 0);
		CHECK_EQ(get64(module, 8), initrd_len);
		CHECK_EQ(get64(module, 16), 0);
		CHECK_EQ(initrd_addr % 4096, 0);
		CHECK(initrd_addr >= IMAGE_END);
		CHECK(initrd_addr + initrd_len <= 512 * MiB);
		CHECK(initrd_addr + initrd_len + 4096 > 512 * MiB);
		at = guest_memory_ptr(&mem, initrd_addr, initrd_len);
		CHECK(at && memcmp(at, initrd, initrd_len) == 0);
	}
out:
	guest_memory_destroy(&mem);
	free(initrd);
}

static void test_valid_load_elf64(void)
{
	check_valid_load(true);
}

static void test_valid_load_elf32(void)
{
	check_valid_load(false);
}

/* With the files open, the segments and the initrd come from the files:
 * the buffers hold zeros there, only the headers and notes are the same.
 * A kernel file that shrank since it was checked fails the load. */
static void test_load_from_files(void)
{
	uint8_t initrd[5000], zeros[sizeof(initrd)] = { 0 }, headers_only[FAKE_LEN];
	struct boot_file_fds fds = { -1, -1 };
	struct boot_setup out;
	uint64_t modlist;
	uint8_t *at, *info, *memmap;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 11 + 2);
	build_fake(true);
	memcpy(headers_only, fake, sizeof(fake));
	memset(headers_only + TEXT_OFF, 0, TEXT_SIZE);
	memset(headers_only + DATA_OFF, 0, DATA_FILESZ);
	fds = boot_files_of(fake, sizeof(fake), initrd, sizeof(initrd));
	CHECK(fds.kernel >= 0);
	if (fds.kernel < 0)
		goto out;
	if (!make_ram(512 * MiB)) {
		test_state.skip_reason = "cannot create guest memory";
		goto out;
	}
	load_fds = &fds;
	CHECK_EQ(load(headers_only, sizeof(headers_only), zeros, sizeof(zeros), "", &out), 0);
	at = guest_memory_ptr(&mem, TEXT_PADDR, TEXT_SIZE);
	CHECK(at && memcmp(at, fake + TEXT_OFF, TEXT_SIZE) == 0);
	at = guest_memory_ptr(&mem, DATA_PADDR, DATA_FILESZ);
	CHECK(at && memcmp(at, fake + DATA_OFF, DATA_FILESZ) == 0);
	info = guest_memory_ptr(&mem, GUEST_BOOT_INFO_ADDR, 56);
	memmap = guest_memory_ptr(&mem, GUEST_PVH_MEMMAP_ADDR, GUEST_PVH_MEMMAP_SIZE);
	modlist = info ? get64(info, 16) : 0;
	at = NULL;
	if (memmap && modlist >= GUEST_PVH_MEMMAP_ADDR &&
	    modlist + 32 <= GUEST_PVH_MEMMAP_ADDR + GUEST_PVH_MEMMAP_SIZE)
		at = guest_memory_ptr(&mem, get64(memmap + (modlist - GUEST_PVH_MEMMAP_ADDR), 0),
				      sizeof(initrd));
	CHECK(at && memcmp(at, initrd, sizeof(initrd)) == 0);

	CHECK_EQ(ftruncate(fds.kernel, DATA_OFF), 0);
	CHECK(load(headers_only, sizeof(headers_only), zeros, sizeof(zeros), "", &out) < 0);
	CHECK(strstr(err, "shrink") != NULL);
	guest_memory_destroy(&mem);
out:
	load_fds = NULL;
	boot_files_close(&fds);
}

static void test_no_initrd_and_dispatch(void)
{
	struct kernel_load_args args = {
		.kernel = fake, .kernel_len = sizeof(fake), .cmdline = "quiet",
	};
	struct boot_setup out;
	uint8_t *info;

	build_fake(true);
	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	CHECK_EQ(kernel_load(&mem, &args, &out, err, sizeof(err)), 0);
	CHECK_EQ(out.mode, BOOT_MODE_PVH32);
	CHECK_EQ(out.entry, FAKE_ENTRY);
	info = guest_memory_ptr(&mem, GUEST_BOOT_INFO_ADDR, 56);
	if (info) {
		CHECK_EQ(get32(info, 12), 0);
		CHECK_EQ(get64(info, 16), 0);
	}
	guest_memory_destroy(&mem);
}

static void test_missing_note(void)
{
	struct kernel_load_args args = {
		.kernel = fake, .kernel_len = sizeof(fake), .cmdline = "",
	};
	struct boot_setup out;

	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	build_fake(true);
	set_ph(PH_NOTE, layout()->type, PT_NULL);
	CHECK(!pvh_detect(fake, sizeof(fake)));
	expect_failure("PVH");
	CHECK(kernel_load(&mem, &args, &out, err, sizeof(err)) < 0);
	CHECK(strstr(err, "not a Linux kernel"));

	/* The right type under another owner's name is not the note. */
	build_fake(true);
	memcpy(fake + entry_note_desc - 4, "Xem", 4);
	CHECK(!pvh_detect(fake, sizeof(fake)));
	expect_failure("PVH");
	guest_memory_destroy(&mem);
}

static void test_bad_notes(void)
{
	size_t first = NOTES_OFF;

	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	/* Sizes that would run far past the segment, or wrap. */
	build_fake(true);
	put32(fake, first, 0xffffffff);
	CHECK(!pvh_detect(fake, sizeof(fake)));
	expect_failure("note");
	build_fake(true);
	put32(fake, first + 4, 0xfffffffd);
	CHECK(!pvh_detect(fake, sizeof(fake)));
	expect_failure("note");
	/* An entry value of the wrong size. */
	build_fake(true);
	put32(fake, entry_note_desc - 4 - 12 + 4, 3);
	expect_failure("not 4 or 8");
	/* Entry above 4 GiB, and entry outside the loaded code. */
	build_fake(true);
	put64(fake, entry_note_desc, 0x100000000ULL);
	expect_failure("4 GiB");
	build_fake(true);
	put64(fake, entry_note_desc, DATA_PADDR + DATA_FILESZ + 4);
	expect_failure("entry point");
	/* The note segment itself outside the file. */
	build_fake(true);
	set_ph(PH_NOTE, layout()->offset, FAKE_LEN - 8);
	expect_failure("outside");
	build_fake(true);
	set_ph(PH_NOTE, layout()->offset, UINT64_MAX - 8);
	expect_failure("outside");
	guest_memory_destroy(&mem);
}

static void test_segment_outside_file(void)
{
	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	build_fake(true);
	set_ph(PH_DATA, layout()->offset, FAKE_LEN - DATA_FILESZ + 1);
	expect_failure("outside the");
	build_fake(true);
	set_ph(PH_TEXT, layout()->filesz, TEXT_SIZE + 1);
	set_ph(PH_TEXT, layout()->memsz, TEXT_SIZE * 4);
	set_ph(PH_TEXT, layout()->offset, FAKE_LEN - TEXT_SIZE);
	expect_failure("outside the");
	guest_memory_destroy(&mem);
}

static void test_overflowing_offset(void)
{
	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	build_fake(true);
	set_ph(PH_DATA, layout()->offset, UINT64_MAX - 0x10);
	expect_failure("outside the");
	build_fake(true);
	set_ph(PH_DATA, layout()->filesz, UINT64_MAX);
	set_ph(PH_DATA, layout()->memsz, UINT64_MAX);
	expect_failure(NULL);
	/* Program header table placed so that its end wraps. */
	build_fake(true);
	put64(fake, 32, UINT64_MAX - 16);
	expect_failure("program headers");
	build_fake(true);
	put16(fake, 56, 0xfffe);
	expect_failure("program headers");
	build_fake(true);
	put16(fake, 54, 8);
	expect_failure("program header");
	guest_memory_destroy(&mem);
}

static void test_segment_outside_ram(void)
{
	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	build_fake(true);
	set_ph(PH_DATA, layout()->paddr, 64 * MiB - 0x1000);
	expect_failure("guest RAM too small");
	CHECK(strstr(err, "65 MiB") && strstr(err, "64 MiB"));
	build_fake(true);
	set_ph(PH_DATA, layout()->paddr, UINT64_MAX - 0x1000);
	expect_failure("outside guest RAM");
	/* Over the boot structures and the firmware area below 1 MiB. */
	build_fake(true);
	set_ph(PH_DATA, layout()->paddr, GUEST_BOOT_INFO_ADDR);
	expect_failure("outside guest RAM");
	build_fake(true);
	set_ph(PH_DATA, layout()->paddr, GUEST_KERNEL_ADDR - 0x1000);
	expect_failure("outside guest RAM");
	/* Into the PCI hole and above 4 GiB. */
	build_fake(true);
	set_ph(PH_DATA, layout()->paddr, GUEST_HIGH_RAM_START);
	expect_failure("outside guest RAM");
	guest_memory_destroy(&mem);
}

static void test_filesz_above_memsz(void)
{
	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	build_fake(true);
	set_ph(PH_DATA, layout()->memsz, DATA_FILESZ - 1);
	expect_failure("more file bytes");
	guest_memory_destroy(&mem);
}

static void test_cmdline_and_initrd_limits(void)
{
	char *cmdline = malloc(GUEST_CMDLINE_MAX + 1);
	size_t room = 64 * MiB - IMAGE_END;
	uint8_t *initrd = calloc(1, room + 1);
	struct boot_setup out;

	CHECK(cmdline && initrd);
	if (!cmdline || !initrd)
		goto out;
	if (!make_ram(64 * MiB))
		goto out;
	build_fake(true);
	memset(cmdline, 'y', GUEST_CMDLINE_MAX);
	cmdline[GUEST_CMDLINE_MAX] = '\0';
	CHECK(load(fake, sizeof(fake), NULL, 0, cmdline, &out) < 0);
	CHECK(strstr(err, "65536") && strstr(err, "65535"));
	cmdline[GUEST_CMDLINE_MAX - 1] = '\0';
	CHECK_EQ(load(fake, sizeof(fake), NULL, 0, cmdline, &out), 0);

	CHECK(load(fake, sizeof(fake), initrd, room + 1, "", &out) < 0);
	CHECK(strstr(err, "initrd too big"));
	CHECK_EQ(load(fake, sizeof(fake), initrd, room, "", &out), 0);
	guest_memory_destroy(&mem);
out:
	free(cmdline);
	free(initrd);
}

/* Every prefix of the file fails cleanly; exact-size copies let ASan see
 * any read past the end. */
static void test_truncated(void)
{
	struct boot_setup out;

	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	for (int is64 = 0; is64 < 2; is64++) {
		build_fake(is64);
		for (size_t len = 0; len <= FAKE_LEN; len++) {
			uint8_t *copy = malloc(len ? len : 1);
			struct kernel_load_args args = {
				.kernel = copy, .kernel_len = len, .cmdline = "",
			};
			int rc;

			if (!copy)
				break;
			memcpy(copy, fake, len);
			(void)pvh_detect(copy, len);
			err[0] = '\0';
			rc = pvh_load(&mem, &args, &out, err, sizeof(err));
			if (len < FAKE_LEN) {
				CHECK(rc < 0);
				CHECK(err[0] != '\0');
			} else {
				CHECK_EQ(rc, 0);
			}
			rc = kernel_load(&mem, &args, &out, err, sizeof(err));
			CHECK(len < FAKE_LEN ? rc < 0 : rc == 0);
			free(copy);
		}
	}
	guest_memory_destroy(&mem);
}

static void test_fuzzed_headers(void)
{
	uint32_t seed = 777;
	struct boot_setup out;

	if (!make_ram(64 * MiB))
		SKIP_TEST("cannot create guest memory");
	for (int round = 0; round < 20000; round++) {
		build_fake(round & 1);
		for (int flips = 1 + round % 6; flips > 0; flips--) {
			seed = seed * 1103515245 + 12345;
			size_t off = (seed >> 8) % TEXT_OFF;

			seed = seed * 1103515245 + 12345;
			fake[off] = (uint8_t)(seed >> 16);
		}
		(void)pvh_detect(fake, sizeof(fake));
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

/* The guest kernel's vmlinux, as extracted from its bzImage by the build;
 * GVMM_TEST_VMLINUX names another. */
static void test_real_vmlinux(void)
{
	const char *path = getenv("GVMM_TEST_VMLINUX");
	struct boot_setup out;
	uint8_t *kernel;
	size_t len = 0;

	if (!path)
		path = "build/guest/vmlinux";
	kernel = read_whole_file(path, &len);
	if (!kernel)
		SKIP_TEST("no build/guest/vmlinux (make guest extracts it)");
	if (!make_ram(512 * MiB)) {
		free(kernel);
		SKIP_TEST("cannot create guest memory");
	}
	CHECK(pvh_detect(kernel, len));
	CHECK(!bzimage_detect(kernel, len));
	CHECK_EQ(load(kernel, len, NULL, 0, "console=ttyS0", &out), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ(out.mode, BOOT_MODE_PVH32);
	CHECK(out.entry >= GUEST_KERNEL_ADDR && out.entry < (1ULL << 32));
	guest_memory_destroy(&mem);
	free(kernel);
}

TEST_MAIN("pvh",
	TEST_CASE(test_detect),
	TEST_CASE(test_valid_load_elf64),
	TEST_CASE(test_valid_load_elf32),
	TEST_CASE(test_load_from_files),
	TEST_CASE(test_no_initrd_and_dispatch),
	TEST_CASE(test_missing_note),
	TEST_CASE(test_bad_notes),
	TEST_CASE(test_segment_outside_file),
	TEST_CASE(test_overflowing_offset),
	TEST_CASE(test_segment_outside_ram),
	TEST_CASE(test_filesz_above_memsz),
	TEST_CASE(test_cmdline_and_initrd_limits),
	TEST_CASE(test_truncated),
	TEST_CASE(test_fuzzed_headers),
	TEST_CASE(test_real_vmlinux),
)
