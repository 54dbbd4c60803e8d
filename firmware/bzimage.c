/* The Linux x86 boot protocol (Documentation/arch/x86/boot.rst) with the
 * 64-bit entry point: gvmm plays the boot loader's part and skips the
 * kernel's real-mode setup code entirely. Everything read from the file
 * is checked before it is used; the file may be anything. */
#include "boot.h"
#include "../vmm/error_text.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "e820.h"
#include "guest_layout.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the zero page is read and written in host byte order");

#define SECTOR_SIZE             512
#define PAGE_SIZE               4096ULL

#define BOOT_FLAG_MAGIC         0xaa55
#define HEADER_MAGIC            "HdrS"
#define PROTOCOL(major, minor)  (((major) << 8) | (minor))
#define PROTOCOL_MIN            PROTOCOL(2, 10)  /* init_size, pref_address */
#define PROTOCOL_XLOADFLAGS     PROTOCOL(2, 12)
#define PROTOCOL_ACPI_RSDP      PROTOCOL(2, 14)

#define SETUP_SECTS_DEFAULT     4  /* what setup_sects == 0 has always meant */
#define LOADER_TYPE_UNDEFINED   0xff
#define HEAP_END                0xfe00
#define ENTRY_64_OFFSET         0x200  /* startup_64 in the protected-mode part */

#define LOADFLAG_LOADED_HIGH    (1u << 0)
#define LOADFLAG_CAN_USE_HEAP   (1u << 7)
#define XLF_KERNEL_64           (1u << 0)

#define ZERO_PAGE_E820_MAX      128

/* The setup header: bytes 0x1f1 onwards of both the file and the zero
 * page. Fields past a kernel's own header end read as zero. */
struct setup_header {
	uint8_t  setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint8_t  jump_opcode;
	uint8_t  jump_offset;      /* the header ends at 0x202 + this */
	uint8_t  header[4];
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t  type_of_loader;
	uint8_t  loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t  ext_loader_ver;
	uint8_t  ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;  /* the highest byte address allowed */
	uint32_t kernel_alignment;
	uint8_t  relocatable_kernel;
	uint8_t  min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;     /* longest command line, NUL excluded */
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

/* The zero page (struct boot_params, Documentation/arch/x86/zero-page.rst):
 * only the fields a 64-bit boot needs are named. */
struct zero_page {
	uint8_t  unused_0[0x070];
	uint64_t acpi_rsdp_addr;
	uint8_t  unused_1[0x0c0 - 0x078];
	uint32_t ext_ramdisk_image;
	uint32_t ext_ramdisk_size;
	uint32_t ext_cmd_line_ptr;
	uint8_t  unused_2[0x1e8 - 0x0cc];
	uint8_t  e820_entries;
	uint8_t  unused_3[0x1f1 - 0x1e9];
	struct setup_header hdr;
	uint8_t  header_spare[0x290 - 0x26c];  /* the header may grow up to here */
	uint8_t  unused_4[0x2d0 - 0x290];
	struct e820_entry e820_table[ZERO_PAGE_E820_MAX];
	uint8_t  unused_5[0x1000 - 0xcd0];
} __attribute__((packed));

#define HDR_OFFSET(field)  (offsetof(struct zero_page, hdr) + \
			    offsetof(struct setup_header, field))
#define HDR_START          offsetof(struct zero_page, hdr)
#define HDR_AREA_END       offsetof(struct zero_page, unused_4)

_Static_assert(sizeof(struct zero_page) == 0x1000, "zero page is one page");
_Static_assert(offsetof(struct zero_page, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
_Static_assert(offsetof(struct zero_page, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
_Static_assert(offsetof(struct zero_page, ext_ramdisk_size) == 0x0c4, "ext_ramdisk_size");
_Static_assert(offsetof(struct zero_page, ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr");
_Static_assert(offsetof(struct zero_page, e820_entries) == 0x1e8, "e820_entries");
_Static_assert(HDR_START == 0x1f1, "setup header");
_Static_assert(HDR_OFFSET(boot_flag) == 0x1fe, "boot_flag");
_Static_assert(HDR_OFFSET(jump_offset) == 0x201, "jump");
_Static_assert(HDR_OFFSET(header) == 0x202, "header magic");
_Static_assert(HDR_OFFSET(version) == 0x206, "version");
_Static_assert(HDR_OFFSET(type_of_loader) == 0x210, "type_of_loader");
_Static_assert(HDR_OFFSET(loadflags) == 0x211, "loadflags");
_Static_assert(HDR_OFFSET(ramdisk_image) == 0x218, "ramdisk_image");
_Static_assert(HDR_OFFSET(ramdisk_size) == 0x21c, "ramdisk_size");
_Static_assert(HDR_OFFSET(heap_end_ptr) == 0x224, "heap_end_ptr");
_Static_assert(HDR_OFFSET(cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(HDR_OFFSET(initrd_addr_max) == 0x22c, "initrd_addr_max");
_Static_assert(HDR_OFFSET(kernel_alignment) == 0x230, "kernel_alignment");
_Static_assert(HDR_OFFSET(relocatable_kernel) == 0x234, "relocatable_kernel");
_Static_assert(HDR_OFFSET(xloadflags) == 0x236, "xloadflags");
_Static_assert(HDR_OFFSET(cmdline_size) == 0x238, "cmdline_size");
_Static_assert(HDR_OFFSET(pref_address) == 0x258, "pref_address");
_Static_assert(HDR_OFFSET(init_size) == 0x260, "init_size");
_Static_assert(HDR_OFFSET(kernel_info_offset) == 0x268, "kernel_info_offset");
_Static_assert(HDR_AREA_END == 0x290, "header area end");
_Static_assert(offsetof(struct zero_page, e820_table) == 0x2d0, "e820_table");

/* A protocol 2.10 header is the shortest accepted: it ends after init_size. */
#define HDR_MIN_END  (HDR_OFFSET(init_size) + sizeof(uint32_t))

static uint16_t file_le16(const uint8_t *buf, size_t off)
{
	return (uint16_t)(buf[off] | buf[off + 1] << 8);
}

static uint64_t align_up(uint64_t value, uint64_t align)
{
	return (value + align - 1) & ~(align - 1);
}

static uint64_t align_down(uint64_t value, uint64_t align)
{
	return value & ~(align - 1);
}

bool bzimage_detect(const uint8_t *buf, size_t len)
{
	if (!buf || len < HDR_OFFSET(header) + 4)
		return false;
	return file_le16(buf, HDR_OFFSET(boot_flag)) == BOOT_FLAG_MAGIC &&
	       memcmp(buf + HDR_OFFSET(header), HEADER_MAGIC, 4) == 0;
}

/* Copies the file's setup header into zp after checking that the file
 * holds it, that it is one gvmm can boot through the 64-bit entry, and
 * that it fits the zero page's header area. */
static int read_setup_header(const struct kernel_load_args *args,
			     struct zero_page *zp, char *err, size_t errlen)
{
	const uint8_t *buf = args->kernel;
	size_t len = args->kernel_len;
	size_t hdr_end;
	uint16_t version;

	if (!bzimage_detect(buf, len))
		return write_error(err, errlen, "not a bzImage: no 0xAA55 boot flag and \"HdrS\" setup header");
	if (len < HDR_OFFSET(version) + 2)
		return write_error(err, errlen, "bzImage truncated: %zu bytes, ends before the boot protocol version",
			    len);
	version = file_le16(buf, HDR_OFFSET(version));
	if (version < PROTOCOL_MIN)
		return write_error(err, errlen, "boot protocol %u.%02u is too old: gvmm needs 2.10 or newer",
			    version >> 8, version & 0xff);

	hdr_end = HDR_OFFSET(header) + buf[HDR_OFFSET(jump_offset)];
	if (hdr_end < HDR_MIN_END || hdr_end > HDR_AREA_END)
		return write_error(err, errlen, "bzImage setup header ends at 0x%zx, outside 0x%zx..0x%zx",
			    hdr_end, (size_t)HDR_MIN_END, (size_t)HDR_AREA_END);
	if (len < hdr_end)
		return write_error(err, errlen, "bzImage truncated: %zu bytes, setup header ends at 0x%zx",
			    len, hdr_end);
	memcpy((uint8_t *)zp + HDR_START, buf + HDR_START, hdr_end - HDR_START);

	/* 2.10 and 2.11 kernels cannot say whether they have startup_64,
	 * and entering a 32-bit one in long mode would be a silent crash. */
	if (version < PROTOCOL_XLOADFLAGS)
		return write_error(err, errlen, "kernel has no 64-bit entry point that gvmm can rely on: boot protocol %u.%02u predates xloadflags (2.12)",
			    version >> 8, version & 0xff);
	if (!(zp->hdr.xloadflags & XLF_KERNEL_64))
		return write_error(err, errlen, "kernel has no 64-bit entry point (XLF_KERNEL_64 is clear): is it a 32-bit kernel?");
	if (!(zp->hdr.loadflags & LOADFLAG_LOADED_HIGH))
		return write_error(err, errlen, "kernel is not loadable at 1 MiB (LOADED_HIGH is clear)");
	return 0;
}

/* Where the kernel decompresses and runs: a relocatable kernel rounds its
 * load address up to kernel_alignment but never goes below pref_address
 * (its link address); a fixed one always moves to pref_address. */
static uint64_t kernel_run_addr(const struct setup_header *hdr)
{
	uint64_t run = GUEST_KERNEL_ADDR;
	uint64_t align = hdr->kernel_alignment;

	if (hdr->relocatable_kernel && align && !(align & (align - 1)))
		run = align_up(run, align);
	if (run < hdr->pref_address)
		run = hdr->pref_address;
	return run;
}

int bzimage_load(struct guest_memory *mem, const struct kernel_load_args *args,
		 struct boot_setup *out, char *err, size_t errlen)
{
	struct zero_page zp;
	uint64_t low_end = guest_memory_low_end(mem);
	uint64_t pm_offset, pm_size, run_addr, kernel_end;
	uint64_t initrd_addr = 0;
	struct boot_copy_job initrd_copy;
	int copied;
	size_t cmdline_len, cmdline_max;
	size_t e820_count;
	unsigned setup_sects;

	memset(&zp, 0, sizeof(zp));
	if (read_setup_header(args, &zp, err, errlen) < 0)
		return -1;

	setup_sects = zp.hdr.setup_sects ? zp.hdr.setup_sects : SETUP_SECTS_DEFAULT;
	pm_offset = (uint64_t)(setup_sects + 1) * SECTOR_SIZE;
	if (args->kernel_len <= pm_offset ||
	    args->kernel_len - pm_offset <= ENTRY_64_OFFSET)
		return write_error(err, errlen, "bzImage truncated: %zu bytes, but its setup code alone is %llu and the 64-bit entry lies 0x%x beyond",
			    args->kernel_len, (unsigned long long)pm_offset,
			    ENTRY_64_OFFSET);
	pm_size = args->kernel_len - pm_offset;

	if (!guest_memory_ptr(mem, GUEST_BOOT_INFO_ADDR, sizeof(zp)) ||
	    !guest_memory_ptr(mem, GUEST_CMDLINE_ADDR, GUEST_CMDLINE_MAX))
		return write_error(err, errlen, "guest RAM too small to hold the zero page and command line");

	run_addr = kernel_run_addr(&zp.hdr);
	if (pm_size > low_end || GUEST_KERNEL_ADDR > low_end - pm_size)
		return write_error(err, errlen, "guest RAM too small: the %llu-byte kernel does not fit between 1 MiB and the end of guest RAM below 4 GiB at %llu MiB",
			    (unsigned long long)pm_size,
			    (unsigned long long)(low_end >> 20));
	if (__builtin_add_overflow(run_addr, zp.hdr.init_size, &kernel_end) ||
	    kernel_end > low_end)
		return write_error(err, errlen, "guest RAM too small: this kernel runs at 0x%llx and needs %u bytes there (init_size), but guest RAM below 4 GiB ends at %llu MiB",
			    (unsigned long long)run_addr, zp.hdr.init_size,
			    (unsigned long long)(low_end >> 20));
	if (kernel_end < GUEST_KERNEL_ADDR + pm_size)
		kernel_end = GUEST_KERNEL_ADDR + pm_size;
	kernel_end = align_up(kernel_end, PAGE_SIZE);

	cmdline_len = strlen(args->cmdline);
	cmdline_max = zp.hdr.cmdline_size;
	if (cmdline_max > GUEST_CMDLINE_MAX - 1)
		cmdline_max = GUEST_CMDLINE_MAX - 1;
	if (cmdline_len > cmdline_max)
		return write_error(err, errlen, "kernel command line is %zu bytes, longer than the %zu bytes %s",
			    cmdline_len, cmdline_max,
			    cmdline_max == zp.hdr.cmdline_size ?
			    "this kernel accepts" : "gvmm's command line area holds");

	if (args->initrd && args->initrd_len) {
		uint64_t limit = (uint64_t)zp.hdr.initrd_addr_max + 1;

		if (limit > low_end)
			limit = low_end;
		if (limit < kernel_end || args->initrd_len > limit - kernel_end)
			return write_error(err, errlen, "initrd too big: %zu bytes, but only %llu fit between the kernel's end at 0x%llx and 0x%llx",
				    args->initrd_len,
				    (unsigned long long)(limit > kernel_end ? limit - kernel_end : 0),
				    (unsigned long long)kernel_end,
				    (unsigned long long)limit);
		/* kernel_end is page-aligned, so rounding down stays above it. */
		initrd_addr = align_down(limit - args->initrd_len, PAGE_SIZE);
	}

	e820_count = e820_build(mem, zp.e820_table, ZERO_PAGE_E820_MAX);
	if (e820_count == 0)
		return write_error(err, errlen, "guest memory map does not fit the zero page");
	zp.e820_entries = (uint8_t)e820_count;

	/* The loader's fields: whatever the file holds there is not ours
	 * to pass on, setup_data least of all, a pointer the kernel follows. */
	zp.hdr.type_of_loader = LOADER_TYPE_UNDEFINED;
	zp.hdr.ext_loader_ver = 0;
	zp.hdr.ext_loader_type = 0;
	zp.hdr.hardware_subarch = 0;
	zp.hdr.hardware_subarch_data = 0;
	zp.hdr.setup_data = 0;
	zp.hdr.ramdisk_image = (uint32_t)initrd_addr;
	zp.hdr.ramdisk_size = initrd_addr ? (uint32_t)args->initrd_len : 0;
	zp.hdr.loadflags |= LOADFLAG_CAN_USE_HEAP;
	zp.hdr.heap_end_ptr = HEAP_END;
	zp.hdr.cmd_line_ptr = (uint32_t)GUEST_CMDLINE_ADDR;
	zp.ext_cmd_line_ptr = 0;
	zp.ext_ramdisk_image = 0;
	zp.ext_ramdisk_size = 0;
	if (zp.hdr.version >= PROTOCOL_ACPI_RSDP && args->rsdp_gpa)
		zp.acpi_rsdp_addr = args->rsdp_gpa;

	/* Every range below was checked above: a failure here is a bug, or
	 * a file that shrank since it was mapped. The initrd is copied while
	 * the kernel is (boot_copy_begin). */
	boot_copy_begin(&initrd_copy, mem, initrd_addr, args->initrd,
			args->fds ? args->fds->initrd : -1, 0, initrd_addr ? args->initrd_len : 0);
	copied = boot_copy(mem, GUEST_KERNEL_ADDR, args->kernel,
			   args->fds ? args->fds->kernel : -1, pm_offset, pm_size);
	if (boot_copy_end(&initrd_copy) < 0 || copied < 0 ||
	    guest_memory_write(mem, GUEST_CMDLINE_ADDR, args->cmdline, cmdline_len + 1) < 0 ||
	    guest_memory_write(mem, GUEST_BOOT_INFO_ADDR, &zp, sizeof(zp)) < 0)
		return write_error(err, errlen, "cannot write the kernel into guest RAM (did its file or the initrd's shrink meanwhile?)");

	*out = (struct boot_setup){
		.mode = BOOT_MODE_LINUX64,
		.entry = GUEST_KERNEL_ADDR + ENTRY_64_OFFSET,
		.boot_info_gpa = GUEST_BOOT_INFO_ADDR,
	};
	return 0;
}
