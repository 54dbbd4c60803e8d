/* PVH boot: an uncompressed ELF kernel (vmlinux) that names a 32-bit
 * entry point in a Xen ELF note is loaded segment by segment and entered
 * in protected mode with an hvm_start_info describing memory, command
 * line, initrd and ACPI (the Xen PVH ABI, as KVM guests also use it).
 * The ELF file may be anything: every offset and size it gives is checked
 * before use. */
#include "boot.h"
#include "../vmm/error_text.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "e820.h"
#include "guest_layout.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "ELF fields and boot structures are read in host byte order");

#define PAGE_SIZE               4096ULL

#define ELF_CLASS_32            1
#define ELF_CLASS_64            2
#define ELF_DATA_LSB            1
#define ELF_VERSION_CURRENT     1
#define ELF_TYPE_EXEC           2
#define ELF_MACHINE_386         3
#define ELF_MACHINE_X86_64      62
#define ELF_PT_LOAD             1
#define ELF_PT_NOTE             4
#define ELF_PN_XNUM             0xffff  /* real count elsewhere: never a kernel */

#define XEN_NOTE_NAME           "Xen"   /* with its NUL, namesz is 4 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

#define HVM_START_MAGIC         0x336ec578
#define HVM_START_VERSION       1       /* the first with a memory map */

struct elf_ident {
	uint8_t magic[4];
	uint8_t class;
	uint8_t data;
	uint8_t version;
	uint8_t pad[9];
};

struct elf32_header {
	struct elf_ident ident;
	uint16_t type;
	uint16_t machine;
	uint32_t version;
	uint32_t entry;
	uint32_t phoff;
	uint32_t shoff;
	uint32_t flags;
	uint16_t ehsize;
	uint16_t phentsize;
	uint16_t phnum;
	uint16_t shentsize;
	uint16_t shnum;
	uint16_t shstrndx;
};

struct elf64_header {
	struct elf_ident ident;
	uint16_t type;
	uint16_t machine;
	uint32_t version;
	uint64_t entry;
	uint64_t phoff;
	uint64_t shoff;
	uint32_t flags;
	uint16_t ehsize;
	uint16_t phentsize;
	uint16_t phnum;
	uint16_t shentsize;
	uint16_t shnum;
	uint16_t shstrndx;
};

struct elf32_phdr {
	uint32_t type;
	uint32_t offset;
	uint32_t vaddr;
	uint32_t paddr;
	uint32_t filesz;
	uint32_t memsz;
	uint32_t flags;
	uint32_t align;
};

struct elf64_phdr {
	uint32_t type;
	uint32_t flags;
	uint64_t offset;
	uint64_t vaddr;
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
	uint64_t align;
};

/* Both ELF classes use 4-byte words in note headers. */
struct elf_note_header {
	uint32_t namesz;
	uint32_t descsz;
	uint32_t type;
};

_Static_assert(sizeof(struct elf_ident) == 16, "e_ident");
_Static_assert(sizeof(struct elf32_header) == 52, "Elf32_Ehdr");
_Static_assert(sizeof(struct elf64_header) == 64, "Elf64_Ehdr");
_Static_assert(offsetof(struct elf32_header, phoff) == 28, "Elf32 e_phoff");
_Static_assert(offsetof(struct elf32_header, phnum) == 44, "Elf32 e_phnum");
_Static_assert(offsetof(struct elf64_header, phoff) == 32, "Elf64 e_phoff");
_Static_assert(offsetof(struct elf64_header, phnum) == 56, "Elf64 e_phnum");
_Static_assert(sizeof(struct elf32_phdr) == 32, "Elf32_Phdr");
_Static_assert(sizeof(struct elf64_phdr) == 56, "Elf64_Phdr");
_Static_assert(offsetof(struct elf64_phdr, paddr) == 24, "Elf64 p_paddr");
_Static_assert(sizeof(struct elf_note_header) == 12, "Elf_Nhdr");

/* The Xen PVH start of day structures (xen/include/public/arch-x86/hvm/start_info.h). */
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version 1 */
	uint32_t memmap_entries; /* version 1 */
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info");
_Static_assert(offsetof(struct hvm_start_info, modlist_paddr) == 16, "modlist_paddr");
_Static_assert(offsetof(struct hvm_start_info, cmdline_paddr) == 24, "cmdline_paddr");
_Static_assert(offsetof(struct hvm_start_info, rsdp_paddr) == 32, "rsdp_paddr");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr");
_Static_assert(offsetof(struct hvm_start_info, memmap_entries) == 48, "memmap_entries");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry");
/* The memory map and the one module entry share one page. */
_Static_assert(E820_BUILD_MAX_ENTRIES * sizeof(struct hvm_memmap_table_entry) +
	       sizeof(struct hvm_modlist_entry) <= GUEST_PVH_MEMMAP_SIZE,
	       "PVH memory map and module list fit their page");
_Static_assert(sizeof(struct hvm_start_info) <= GUEST_PVH_MEMMAP_ADDR - GUEST_BOOT_INFO_ADDR,
	       "hvm_start_info fits below the memory map");

/* The ELF file reduced to what the loader needs, the same for both classes. */
struct elf_file {
	const uint8_t *buf;
	size_t len;
	bool is64;
	uint64_t phoff;
	uint16_t phnum;
	uint16_t phentsize;
};

struct elf_segment {
	uint32_t type;
	uint64_t offset;
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
	uint64_t align;
};

static uint64_t align_up(uint64_t value, uint64_t align)
{
	return (value + align - 1) & ~(align - 1);
}

/* True when [offset, offset + size) lies inside [0, limit). */
static bool range_inside(uint64_t offset, uint64_t size, uint64_t limit)
{
	return offset <= limit && size <= limit - offset;
}

static int elf_open(const uint8_t *buf, size_t len, struct elf_file *elf,
		    char *err, size_t errlen)
{
	struct elf_ident ident;
	size_t phdr_size;
	uint16_t type, machine;
	uint32_t version;

	if (!buf || len < sizeof(ident))
		return write_error(err, errlen, "not an ELF file: %zu bytes", len);
	memcpy(&ident, buf, sizeof(ident));
	if (memcmp(ident.magic, "\177ELF", 4) != 0)
		return write_error(err, errlen, "not an ELF file: bad magic");
	if (ident.class != ELF_CLASS_32 && ident.class != ELF_CLASS_64)
		return write_error(err, errlen, "ELF class %u is neither 32- nor 64-bit", ident.class);
	if (ident.data != ELF_DATA_LSB || ident.version != ELF_VERSION_CURRENT)
		return write_error(err, errlen, "ELF file is not little-endian version 1");

	*elf = (struct elf_file){ .buf = buf, .len = len,
				  .is64 = ident.class == ELF_CLASS_64 };
	if (elf->is64) {
		struct elf64_header hdr;

		if (len < sizeof(hdr))
			return write_error(err, errlen, "ELF file truncated: %zu bytes, header is %zu",
				    len, sizeof(hdr));
		memcpy(&hdr, buf, sizeof(hdr));
		type = hdr.type;
		machine = hdr.machine;
		version = hdr.version;
		elf->phoff = hdr.phoff;
		elf->phnum = hdr.phnum;
		elf->phentsize = hdr.phentsize;
		phdr_size = sizeof(struct elf64_phdr);
	} else {
		struct elf32_header hdr;

		if (len < sizeof(hdr))
			return write_error(err, errlen, "ELF file truncated: %zu bytes, header is %zu",
				    len, sizeof(hdr));
		memcpy(&hdr, buf, sizeof(hdr));
		type = hdr.type;
		machine = hdr.machine;
		version = hdr.version;
		elf->phoff = hdr.phoff;
		elf->phnum = hdr.phnum;
		elf->phentsize = hdr.phentsize;
		phdr_size = sizeof(struct elf32_phdr);
	}

	if (type != ELF_TYPE_EXEC || version != ELF_VERSION_CURRENT)
		return write_error(err, errlen, "ELF file is not an executable (type %u)", type);
	if (machine != ELF_MACHINE_X86_64 && machine != ELF_MACHINE_386)
		return write_error(err, errlen, "ELF file is not for x86 (machine %u)", machine);
	if (elf->phnum == 0 || elf->phnum == ELF_PN_XNUM)
		return write_error(err, errlen, "ELF file has no program headers");
	if (elf->phentsize < phdr_size)
		return write_error(err, errlen, "ELF program header entries are %u bytes, less than %zu",
			    elf->phentsize, phdr_size);
	if (!range_inside(elf->phoff, (uint64_t)elf->phnum * elf->phentsize, len))
		return write_error(err, errlen, "ELF program headers (%u at 0x%llx) lie outside the %zu-byte file",
			    elf->phnum, (unsigned long long)elf->phoff, len);
	return 0;
}

/* elf_open() checked that every program header lies inside the file. */
static struct elf_segment elf_read_segment(const struct elf_file *elf, unsigned index)
{
	const uint8_t *at = elf->buf + elf->phoff + (uint64_t)index * elf->phentsize;

	if (elf->is64) {
		struct elf64_phdr ph;

		memcpy(&ph, at, sizeof(ph));
		return (struct elf_segment){ .type = ph.type, .offset = ph.offset,
			.paddr = ph.paddr, .filesz = ph.filesz, .memsz = ph.memsz,
			.align = ph.align };
	} else {
		struct elf32_phdr ph;

		memcpy(&ph, at, sizeof(ph));
		return (struct elf_segment){ .type = ph.type, .offset = ph.offset,
			.paddr = ph.paddr, .filesz = ph.filesz, .memsz = ph.memsz,
			.align = ph.align };
	}
}

/* Looks through one PT_NOTE segment for the PVH entry note. Returns 1 and
 * sets entry when found, 0 when absent, -1 when the segment is malformed. */
static int find_pvh_note(const struct elf_file *elf, const struct elf_segment *seg,
			 uint32_t *entry, char *err, size_t errlen)
{
	/* Notes pad to 4 bytes, or 8 in a segment that says it is 8-aligned. */
	uint64_t note_align = seg->align == 8 ? 8 : 4;
	const uint8_t *notes;
	uint64_t pos = 0;

	if (!range_inside(seg->offset, seg->filesz, elf->len))
		return write_error(err, errlen, "ELF note segment at 0x%llx (%llu bytes) lies outside the %zu-byte file",
			    (unsigned long long)seg->offset,
			    (unsigned long long)seg->filesz, elf->len);
	notes = elf->buf + seg->offset;

	while (seg->filesz - pos >= sizeof(struct elf_note_header)) {
		struct elf_note_header nh;
		uint64_t name_at, desc_at, next;

		memcpy(&nh, notes + pos, sizeof(nh));
		/* namesz and descsz are 32-bit: no sum below can overflow. */
		name_at = pos + sizeof(nh);
		desc_at = name_at + align_up(nh.namesz, note_align);
		next = desc_at + align_up(nh.descsz, note_align);
		if (!range_inside(name_at, nh.namesz, seg->filesz) ||
		    !range_inside(desc_at, nh.descsz, seg->filesz))
			return write_error(err, errlen, "ELF note at 0x%llx runs past its segment",
				    (unsigned long long)(seg->offset + pos));

		if (nh.type == XEN_ELFNOTE_PHYS32_ENTRY &&
		    nh.namesz == sizeof(XEN_NOTE_NAME) &&
		    memcmp(notes + name_at, XEN_NOTE_NAME, sizeof(XEN_NOTE_NAME)) == 0) {
			uint64_t value = 0;

			/* Linux stores a pointer-sized value; either way
			 * the entry is a 32-bit physical address. */
			if (nh.descsz != 4 && nh.descsz != 8)
				return write_error(err, errlen, "Xen PHYS32_ENTRY note has %u bytes, not 4 or 8",
					    nh.descsz);
			memcpy(&value, notes + desc_at, nh.descsz);
			if (value > UINT32_MAX)
				return write_error(err, errlen, "PVH entry point 0x%llx is above 4 GiB",
					    (unsigned long long)value);
			*entry = (uint32_t)value;
			return 1;
		}
		if (next >= seg->filesz)
			break;
		pos = next;
	}
	return 0;
}

/* Returns 1 with the entry, 0 when the file has no PVH note, -1 on a
 * malformed note segment. */
static int elf_pvh_entry(const struct elf_file *elf, uint32_t *entry,
			 char *err, size_t errlen)
{
	for (unsigned i = 0; i < elf->phnum; i++) {
		struct elf_segment seg = elf_read_segment(elf, i);
		int found;

		if (seg.type != ELF_PT_NOTE)
			continue;
		found = find_pvh_note(elf, &seg, entry, err, errlen);
		if (found)
			return found;
	}
	return 0;
}

bool pvh_detect(const uint8_t *buf, size_t len)
{
	struct elf_file elf;
	uint32_t entry;

	return elf_open(buf, len, &elf, NULL, 0) == 0 &&
	       elf_pvh_entry(&elf, &entry, NULL, 0) == 1;
}

/* Checks every PT_LOAD against the file and guest RAM, and finds the end
 * of the highest one and whether entry lies in loaded code. */
static int check_segments(const struct elf_file *elf, uint64_t low_end,
			  uint32_t entry, uint64_t *image_end,
			  char *err, size_t errlen)
{
	bool entry_loaded = false;
	unsigned loaded = 0;

	*image_end = GUEST_KERNEL_ADDR;
	for (unsigned i = 0; i < elf->phnum; i++) {
		struct elf_segment seg = elf_read_segment(elf, i);

		if (seg.type != ELF_PT_LOAD || seg.memsz == 0)
			continue;
		if (seg.filesz > seg.memsz)
			return write_error(err, errlen, "ELF segment %u has more file bytes (%llu) than memory bytes (%llu)",
				    i, (unsigned long long)seg.filesz,
				    (unsigned long long)seg.memsz);
		if (!range_inside(seg.offset, seg.filesz, elf->len))
			return write_error(err, errlen, "ELF segment %u (file 0x%llx, %llu bytes) lies outside the %zu-byte file",
				    i, (unsigned long long)seg.offset,
				    (unsigned long long)seg.filesz, elf->len);
		/* Below 1 MiB are gvmm's boot structures and the firmware
		 * areas; above low RAM a 32-bit entry cannot reach. */
		if (seg.paddr >= GUEST_KERNEL_ADDR &&
		    range_inside(seg.paddr, seg.memsz, GUEST_PCI_HOLE_START) &&
		    !range_inside(seg.paddr, seg.memsz, low_end))
			return write_error(err, errlen, "guest RAM too small: ELF segment %u needs RAM up to %llu MiB, but guest RAM below 4 GiB ends at %llu MiB",
				    i, (unsigned long long)((seg.paddr + seg.memsz + (1 << 20) - 1) >> 20),
				    (unsigned long long)(low_end >> 20));
		if (seg.paddr < GUEST_KERNEL_ADDR || !range_inside(seg.paddr, seg.memsz, low_end))
			return write_error(err, errlen, "ELF segment %u (0x%llx, %llu bytes) lies outside guest RAM from 1 MiB to %llu MiB",
				    i, (unsigned long long)seg.paddr,
				    (unsigned long long)seg.memsz,
				    (unsigned long long)(low_end >> 20));
		if (entry >= seg.paddr && entry - seg.paddr < seg.filesz)
			entry_loaded = true;
		if (seg.paddr + seg.memsz > *image_end)
			*image_end = seg.paddr + seg.memsz;
		loaded++;
	}
	if (!loaded)
		return write_error(err, errlen, "ELF file has nothing to load");
	if (!entry_loaded)
		return write_error(err, errlen, "PVH entry point 0x%x is not inside any loaded segment",
			    entry);
	return 0;
}

static int load_segments(struct guest_memory *mem, const struct elf_file *elf, int fd)
{
	for (unsigned i = 0; i < elf->phnum; i++) {
		struct elf_segment seg = elf_read_segment(elf, i);
		uint8_t *dst;

		if (seg.type != ELF_PT_LOAD || seg.memsz == 0)
			continue;
		dst = guest_memory_ptr(mem, seg.paddr, seg.memsz);
		if (!dst || (seg.filesz && boot_copy(mem, seg.paddr, elf->buf, fd, seg.offset,
						     seg.filesz) < 0))
			return -1;
		memset(dst + seg.filesz, 0, seg.memsz - seg.filesz);
	}
	return 0;
}

/* Writes the memory map, then the module list after it, into their page
 * and fills in the start info's pointers to them. */
static int write_memmap_and_modules(struct guest_memory *mem,
				    struct hvm_start_info *info,
				    uint64_t initrd_addr, uint64_t initrd_len)
{
	struct e820_entry e820[E820_BUILD_MAX_ENTRIES];
	struct hvm_memmap_table_entry memmap[E820_BUILD_MAX_ENTRIES];
	size_t count = e820_build(mem, e820, E820_BUILD_MAX_ENTRIES);
	uint64_t memmap_bytes = count * sizeof(memmap[0]);
	uint8_t *page = guest_memory_ptr(mem, GUEST_PVH_MEMMAP_ADDR, GUEST_PVH_MEMMAP_SIZE);

	if (!count || !page)
		return -1;
	memset(page, 0, GUEST_PVH_MEMMAP_SIZE);
	memset(memmap, 0, sizeof(memmap));
	for (size_t i = 0; i < count; i++) {
		memmap[i].addr = e820[i].addr;
		memmap[i].size = e820[i].size;
		memmap[i].type = e820_type_to_pvh(e820[i].type);
	}
	memcpy(page, memmap, memmap_bytes);
	info->memmap_paddr = GUEST_PVH_MEMMAP_ADDR;
	info->memmap_entries = (uint32_t)count;

	if (initrd_len) {
		struct hvm_modlist_entry module = {
			.paddr = initrd_addr, .size = initrd_len };

		memcpy(page + memmap_bytes, &module, sizeof(module));
		info->nr_modules = 1;
		info->modlist_paddr = GUEST_PVH_MEMMAP_ADDR + memmap_bytes;
	}
	return 0;
}

int pvh_load(struct guest_memory *mem, const struct kernel_load_args *args,
	     struct boot_setup *out, char *err, size_t errlen)
{
	struct hvm_start_info info = {
		.magic = HVM_START_MAGIC,
		.version = HVM_START_VERSION,
		.cmdline_paddr = GUEST_CMDLINE_ADDR,
		.rsdp_paddr = args->rsdp_gpa,
	};
	uint64_t low_end = guest_memory_low_end(mem);
	uint64_t image_end, initrd_addr = 0, initrd_len = 0;
	struct elf_file elf;
	size_t cmdline_len;
	uint32_t entry;
	int found, loaded;
	struct boot_copy_job initrd_copy;

	if (elf_open(args->kernel, args->kernel_len, &elf, err, errlen) < 0)
		return -1;
	found = elf_pvh_entry(&elf, &entry, err, errlen);
	if (found < 0)
		return -1;
	if (!found)
		return write_error(err, errlen, "ELF kernel has no PVH entry point (Xen PHYS32_ENTRY note): was it built with CONFIG_PVH?");
	if (check_segments(&elf, low_end, entry, &image_end, err, errlen) < 0)
		return -1;

	if (!guest_memory_ptr(mem, GUEST_BOOT_INFO_ADDR, sizeof(info)) ||
	    !guest_memory_ptr(mem, GUEST_PVH_MEMMAP_ADDR, GUEST_PVH_MEMMAP_SIZE) ||
	    !guest_memory_ptr(mem, GUEST_CMDLINE_ADDR, GUEST_CMDLINE_MAX))
		return write_error(err, errlen, "guest RAM too small to hold the boot information and command line");

	cmdline_len = strlen(args->cmdline);
	if (cmdline_len > GUEST_CMDLINE_MAX - 1)
		return write_error(err, errlen, "kernel command line is %zu bytes, longer than the %llu bytes gvmm's command line area holds",
			    cmdline_len, GUEST_CMDLINE_MAX - 1);

	if (args->initrd && args->initrd_len) {
		uint64_t floor = align_up(image_end, PAGE_SIZE);

		if (floor > low_end || args->initrd_len > low_end - floor)
			return write_error(err, errlen, "initrd too big: %zu bytes, but only %llu fit between the kernel's end at 0x%llx and the end of low RAM at 0x%llx",
				    args->initrd_len,
				    (unsigned long long)(floor < low_end ? low_end - floor : 0),
				    (unsigned long long)floor,
				    (unsigned long long)low_end);
		/* floor is page-aligned, so rounding down stays above it. */
		initrd_addr = (low_end - args->initrd_len) & ~(PAGE_SIZE - 1);
		initrd_len = args->initrd_len;
	}

	/* Every range below was checked above: a failure here is a bug, or
	 * a file that shrank since it was mapped. The initrd is copied while
	 * the kernel's segments are (boot_copy_begin). */
	boot_copy_begin(&initrd_copy, mem, initrd_addr, args->initrd,
			args->fds ? args->fds->initrd : -1, 0, initrd_len);
	loaded = load_segments(mem, &elf, args->fds ? args->fds->kernel : -1);
	if (boot_copy_end(&initrd_copy) < 0 || loaded < 0 ||
	    guest_memory_write(mem, GUEST_CMDLINE_ADDR, args->cmdline, cmdline_len + 1) < 0 ||
	    write_memmap_and_modules(mem, &info, initrd_addr, initrd_len) < 0 ||
	    guest_memory_write(mem, GUEST_BOOT_INFO_ADDR, &info, sizeof(info)) < 0)
		return write_error(err, errlen, "cannot write the kernel into guest RAM (did its file or the initrd's shrink meanwhile?)");

	*out = (struct boot_setup){
		.mode = BOOT_MODE_PVH32,
		.entry = entry,
		.boot_info_gpa = GUEST_BOOT_INFO_ADDR,
	};
	return 0;
}
