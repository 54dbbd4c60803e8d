/* Booting a disk's own distribution: images built here at run time (a
 * directory tree made into ext4 by mkfs.ext4 -d, placed at a partition's
 * offset in a GPT or MBR table written by sfdisk), then read back by
 * boot_disk_find. The kernels are fake: a bzImage header and a tag. */
#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../firmware/boot_disk.h"

#define ROOT_UUID  "0a1b2c3d-0000-4000-8000-000000000001"
#define BOOT_UUID  "0a1b2c3d-0000-4000-8000-000000000002"
#define OTHER_UUID "0a1b2c3d-0000-4000-8000-00000000ffff"
#define TAG_OFFSET 0x300
#define SECTOR     512

static char work[64];           /* this run's temporary directory */
static char tree[128];          /* the tree being filled */
static char image[128];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "PATH=\"$PATH:/usr/sbin:/sbin\"; ");
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A fresh work directory, or false when the tools are missing. */
static bool setup(void)
{
	if (sh("command -v mkfs.ext4 >/dev/null 2>&1 && command -v sfdisk >/dev/null 2>&1") != 0)
		return false;
	if (!work[0]) {
		snprintf(work, sizeof(work), "/tmp/gvmm-boot-disk-XXXXXX");
		if (!mkdtemp(work))
			abort();
	}
	snprintf(image, sizeof(image), "%s/disk.img", work);
	unlink(image);
	return true;
}

static void new_tree(const char *name)
{
	snprintf(tree, sizeof(tree), "%s/%s", work, name);
	sh("rm -rf '%s' && mkdir -p '%s'", tree, tree);
}

static void put_file(const char *rel, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	sh("mkdir -p \"$(dirname '%s/%s')\"", tree, rel);
	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len)
		abort();
	fclose(f);
}

static void put_text(const char *rel, const char *text)
{
	put_file(rel, text, strlen(text));
}

static void put_dir(const char *rel)
{
	sh("mkdir -p '%s/%s'", tree, rel);
}

static void put_link(const char *rel, const char *target)
{
	sh("mkdir -p \"$(dirname '%s/%s')\" && ln -s '%s' '%s/%s'", tree, rel, target, tree, rel);
}

/* Just enough of a bzImage for the format check, and a tag to tell it by. */
static void put_kernel(const char *rel, const char *tag)
{
	uint8_t k[1024] = { 0 };

	k[0x1fe] = 0x55;
	k[0x1ff] = 0xaa;
	memcpy(k + 0x202, "HdrS", 4);
	memcpy(k + TAG_OFFSET, tag, strlen(tag));
	put_file(rel, k, sizeof(k));
}

static bool kernel_is(const struct boot_disk_choice *c, const char *tag)
{
	return c->kernel && c->kernel_len == 1024 &&
	       memcmp(c->kernel + TAG_OFFSET, tag, strlen(tag) + 1) == 0;
}

/* Partition tables: p1 at 1 MiB (8 MiB), p2 at 9 MiB (12 MiB). */
static void make_table(const char *label, const char *type1, const char *type2)
{
	sh("truncate -s 24M '%s' && printf 'label: %s\\nstart=2048, size=16384, type=%s\\n"
	   "start=18432, size=24576, type=%s\\n' | sfdisk -q --no-reread --no-tell-kernel '%s'",
	   image, label, type1, type2, image);
}

static void make_gpt(void)
{
	make_table("gpt", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
		   "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
}

static void make_mbr(void)
{
	make_table("dos", "83", "83");
}

/* The current tree as ext4 in partition 1 or 2 (0: the whole disk). */
static void make_ext4(unsigned partition, const char *uuid)
{
	unsigned long long offset = partition == 1 ? 2048ull * SECTOR :
				    partition == 2 ? 18432ull * SECTOR : 0;
	const char *size = partition == 1 ? "8M" : partition == 2 ? "12M" : "16M";

	if (sh("mkfs.ext4 -q -F -d '%s' -U %s -E offset=%llu '%s' %s", tree, uuid, offset,
	       image, size) != 0)
		abort();
}

static int find(struct boot_disk_choice *c, char *err, size_t errlen)
{
	int ret = boot_disk_find(image, 0, c, err, errlen);

	if (ret < 0)
		fprintf(stderr, "  boot_disk_find: %s\n", err);
	else
		fprintf(stderr, "  booting %s\n", c->summary);
	return ret;
}

#define NEED_TOOLS() do { \
	if (!setup()) \
		SKIP_TEST("needs mkfs.ext4 (e2fsprogs) and sfdisk (fdisk)"); \
} while (0)

static const char debian_grub_cfg[] =
	"if [ -s $prefix/grubenv ]; then\n"
	"  load_env\n"
	"fi\n"
	"if [ \"${next_entry}\" ] ; then\n"
	"   set default=\"${next_entry}\"\n"
	"else\n"
	"   set default=\"1\"\n"
	"fi\n"
	"function load_video {\n"
	"  insmod all_video\n"
	"}\n"
	"menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple' {\n"
	"\tload_video\n"
	"\tsearch --no-floppy --fs-uuid --set=root " ROOT_UUID "\n"
	"\tlinux\t/boot/vmlinuz-6.1.0-new root=UUID=" ROOT_UUID " ro quiet\n"
	"\tinitrd\t/boot/initrd.img-6.1.0-new\n"
	"}\n"
	"submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced' {\n"
	"\tmenuentry 'Debian GNU/Linux, with Linux 6.1.0-old' $menuentry_id_option 'old' {\n"
	"\t\tlinux\t/boot/vmlinuz-6.1.0-old root=UUID=" ROOT_UUID " ro single\n"
	"\t\tinitrd\t/boot/initrd.img-6.1.0-old\n"
	"\t}\n"
	"}\n";

/* GPT, an (unformatted) ESP and the root; default=1 is the submenu,
 * whose first entry boots. */
static void test_gpt_grub_default_index(void)
{
	struct boot_disk_choice c;
	char err[1024];

	NEED_TOOLS();
	new_tree("root");
	put_dir("etc");
	put_text("boot/grub/grub.cfg", debian_grub_cfg);
	put_kernel("boot/vmlinuz-6.1.0-new", "new");
	put_kernel("boot/vmlinuz-6.1.0-old", "old");
	put_text("boot/initrd.img-6.1.0-new", "initrd-new");
	put_text("boot/initrd.img-6.1.0-old", "initrd-old");
	make_gpt();
	make_ext4(2, ROOT_UUID);
	CHECK(find(&c, err, sizeof(err)) == 0);
	CHECK(kernel_is(&c, "old"));
	CHECK(c.initrd_len == 10 && memcmp(c.initrd, "initrd-old", 10) == 0);
	CHECK(strcmp(c.cmdline, "root=UUID=" ROOT_UUID " ro single") == 0);
	CHECK(strstr(c.summary, "/boot/vmlinuz-6.1.0-old with initrd /boot/initrd.img-6.1.0-old "
			 "from disk 0 partition 2 (grub.cfg entry 'Debian GNU/Linux, with Linux "
			 "6.1.0-old', default=1)") != NULL);
	boot_disk_choice_free(&c);
}

/* MBR with /boot a partition of its own: grub.cfg at its top, paths
 * relative to it, the default named by title through the submenu. */
static void test_mbr_separate_boot_grub_title(void)
{
	struct boot_disk_choice c;
	char err[1024];

	NEED_TOOLS();
	new_tree("boot");
	put_text("grub/grub.cfg",
		 "set default='Advanced options for Debian GNU/Linux>Debian GNU/Linux, 6.1.0-2'\n"
		 "menuentry 'Debian GNU/Linux' {\n"
		 "  linux /vmlinuz-1 root=/dev/vda2\n"
		 "}\n"
		 "submenu 'Advanced options for Debian GNU/Linux' {\n"
		 "  menuentry 'Debian GNU/Linux, 6.1.0-1' { linux /vmlinuz-1 ; }\n"
		 "  menuentry \"Debian GNU/Linux, 6.1.0-2\" {\n"
		 "    search --no-floppy --fs-uuid --set=root --hint-bios=hd0,msdos1 " BOOT_UUID "\n"
		 "    linux ($root)/vmlinuz-2 root=UUID=" ROOT_UUID " ro $vt_handoff quiet\n"
		 "    initrd /initrd.img-2 /extra.img\n"
		 "  }\n"
		 "}\n");
	put_kernel("vmlinuz-1", "one");
	put_kernel("vmlinuz-2", "two");
	put_text("initrd.img-2", "abcde");
	put_text("extra.img", "XY");
	make_mbr();
	make_ext4(1, BOOT_UUID);
	new_tree("root");
	put_dir("boot");
	put_dir("etc");
	make_ext4(2, ROOT_UUID);
	CHECK(find(&c, err, sizeof(err)) == 0);
	CHECK(kernel_is(&c, "two"));
	/* Two initrds, the second at a 4-byte boundary. */
	CHECK(c.initrd_len == 10 && memcmp(c.initrd, "abcde\0\0\0XY", 10) == 0);
	CHECK(strcmp(c.cmdline, "root=UUID=" ROOT_UUID " ro quiet") == 0);
	CHECK(strstr(c.summary, "/vmlinuz-2 with initrd /initrd.img-2 and more from disk 0 "
			 "partition 1 (grub.cfg entry 'Debian GNU/Linux, 6.1.0-2'") != NULL);
	boot_disk_choice_free(&c);
}

/* A file system on the whole disk; BLS entries win over grub.cfg, the
 * newest version first, its path relative to /boot. */
static void test_whole_disk_bls(void)
{
	struct boot_disk_choice c;
	char err[1024];

	NEED_TOOLS();
	new_tree("root");
	put_text("boot/loader/entries/aaa-6.1.conf",
		 "title Fedora (6.1)\nversion 6.1.9\nlinux /vmlinuz-6.1\noptions root=UUID=x ro\n");
	put_text("boot/loader/entries/aaa-6.10.conf",
		 "# newest\ntitle  Fedora (6.10)  \nversion 6.10.2\nlinux /vmlinuz-6.10\n"
		 "initrd /initramfs-6.10.img\noptions root=UUID=x ro\noptions rhgb\n");
	put_text("boot/loader/entries/broken.conf", "title no kernel here\n");
	put_text("boot/grub/grub.cfg", "menuentry 'x' { linux /boot/vmlinuz-6.1 }\n");
	put_kernel("boot/vmlinuz-6.1", "6.1");
	put_kernel("boot/vmlinuz-6.10", "6.10");
	put_text("boot/initramfs-6.10.img", "cpio");
	if (sh("truncate -s 16M '%s'", image) != 0)
		abort();
	make_ext4(0, ROOT_UUID);
	CHECK(find(&c, err, sizeof(err)) == 0);
	CHECK(kernel_is(&c, "6.10"));
	CHECK(c.initrd_len == 4);
	CHECK(strcmp(c.cmdline, "root=UUID=x ro rhgb") == 0);
	CHECK(strstr(c.summary, "/boot/vmlinuz-6.10 with initrd /boot/initramfs-6.10.img from "
			 "disk 0 (BLS entry 'Fedora (6.10)')") != NULL);
	boot_disk_choice_free(&c);
}

/* A default from grubenv (a variable) is not read: the first entry boots. */
static void test_grub_first_entry(void)
{
	struct boot_disk_choice c;
	char err[1024];

	NEED_TOOLS();
	new_tree("root");
	put_text("boot/grub/grub.cfg",
		 "set default=\"${saved_entry}\"\n"
		 "menuentry 'First' { linux /boot/vmlinuz-a root=LABEL=r }\n"
		 "menuentry 'Second' { linux /boot/vmlinuz-b }\n");
	put_kernel("boot/vmlinuz-a", "a");
	put_kernel("boot/vmlinuz-b", "b");
	make_gpt();
	make_ext4(2, ROOT_UUID);
	CHECK(find(&c, err, sizeof(err)) == 0);
	CHECK(kernel_is(&c, "a"));
	CHECK(c.initrd == NULL && c.initrd_len == 0);
	CHECK(strcmp(c.cmdline, "root=LABEL=r") == 0);
	CHECK(strstr(c.summary, "(grub.cfg entry 'First', first entry)") != NULL);
	boot_disk_choice_free(&c);
}

/* Debian's links, one relative and one absolute, resolved in the image. */
static void test_links_root_uuid(void)
{
	struct boot_disk_choice c;
	char err[1024];

	NEED_TOOLS();
	new_tree("root");
	put_kernel("boot/vmlinuz-6.1.0-18-amd64", "deb");
	put_text("boot/initrd.img-6.1.0-18-amd64", "initramfs");
	put_link("vmlinuz", "boot/vmlinuz-6.1.0-18-amd64");
	put_link("initrd.img", "/boot/../boot/./initrd.img-6.1.0-18-amd64");
	if (sh("truncate -s 16M '%s'", image) != 0)
		abort();
	make_ext4(0, ROOT_UUID);
	CHECK(find(&c, err, sizeof(err)) == 0);
	CHECK(kernel_is(&c, "deb"));
	CHECK(c.initrd_len == 9 && memcmp(c.initrd, "initramfs", 9) == 0);
	CHECK(strcmp(c.cmdline, "root=UUID=" ROOT_UUID " ro") == 0);
	CHECK(strstr(c.summary, "/boot/vmlinuz-6.1.0-18-amd64 with initrd "
			 "/boot/initrd.img-6.1.0-18-amd64 from disk 0 (the /vmlinuz link)") != NULL);
	boot_disk_choice_free(&c);
}

/* The root's /vmlinuz points into /boot, which is another partition. */
static void test_links_into_boot_partition(void)
{
	struct boot_disk_choice c;
	char err[1024];

	NEED_TOOLS();
	make_mbr();
	new_tree("boot");
	put_kernel("vmlinuz-6.1", "sep");
	put_text("initrd.img-6.1", "rd");
	make_ext4(1, BOOT_UUID);
	new_tree("root");
	put_dir("boot");
	put_link("vmlinuz", "boot/vmlinuz-6.1");
	put_link("initrd.img", "/boot/initrd.img-6.1");
	make_ext4(2, ROOT_UUID);
	CHECK(find(&c, err, sizeof(err)) == 0);
	CHECK(kernel_is(&c, "sep"));
	CHECK(c.initrd_len == 2);
	CHECK(strcmp(c.cmdline, "root=UUID=" ROOT_UUID " ro") == 0);
	CHECK(strstr(c.summary, "from disk 0 partition 1 (the /vmlinuz link)") != NULL);
	boot_disk_choice_free(&c);
}

static void test_cmdline_appends(void)
{
	char out[64];

	CHECK(boot_disk_cmdline("root=UUID=u ro quiet", "console=ttyS0", "init=/bin/sh",
				out, sizeof(out)) == 0);
	CHECK(strcmp(out, "root=UUID=u ro quiet console=ttyS0 init=/bin/sh") == 0);
	CHECK(boot_disk_cmdline("", "console=hvc0", NULL, out, sizeof(out)) == 0);
	CHECK(strcmp(out, "console=hvc0") == 0);
	CHECK(boot_disk_cmdline("root=/dev/vda", "console=hvc0", "", out, sizeof(out)) == 0);
	CHECK(strcmp(out, "root=/dev/vda console=hvc0") == 0);
	CHECK(boot_disk_cmdline("a", "console=ttyS0", "0123456789012345678901234567890123456789"
				"0123456789012345678901234567890123456789", out, sizeof(out)) < 0);
}

static void expect_error(const char *part)
{
	struct boot_disk_choice c;
	char err[1024];

	CHECK(find(&c, err, sizeof(err)) < 0);
	CHECK(strstr(err, part) != NULL);
	CHECK(!strchr(err, '\n'));
	CHECK(c.kernel == NULL && c.initrd == NULL);
}

static void test_no_table_no_fs(void)
{
	NEED_TOOLS();
	if (sh("truncate -s 4M '%s'", image) != 0)
		abort();
	expect_error("disk 0 has no partition table and no file system gvmm can read: boot it "
		     "with --kernel");
}

static void test_no_kernel_found(void)
{
	NEED_TOOLS();
	new_tree("root");
	put_dir("boot");
	put_dir("etc");
	make_gpt();
	make_ext4(2, ROOT_UUID);
	expect_error("no kernel found on disk 0 partition 2 (at /): looked for "
		     "/boot/loader/entries/*.conf, /boot/grub/grub.cfg, /vmlinuz and "
		     "/boot/vmlinuz: boot it with --kernel");
}

static void test_not_a_kernel(void)
{
	NEED_TOOLS();
	new_tree("root");
	put_text("boot/grub/grub.cfg", "menuentry 'x' { linux /boot/vmlinuz-x }\n");
	put_text("boot/vmlinuz-x", "#!/bin/sh\necho this is no kernel\n");
	make_gpt();
	make_ext4(2, ROOT_UUID);
	expect_error("disk 0 partition 2: '/boot/vmlinuz-x' (grub.cfg entry 'x', first entry) "
		     "is not a kernel gvmm boots: no bzImage header and no PVH ELF note");
}

static void test_missing_kernel_file(void)
{
	NEED_TOOLS();
	new_tree("root");
	put_text("boot/grub/grub.cfg", "menuentry 'gone' { linux /boot/vmlinuz-gone }\n");
	make_gpt();
	make_ext4(2, ROOT_UUID);
	expect_error("disk 0 partition 2: '/boot/vmlinuz-gone' (grub.cfg entry 'gone', first "
		     "entry): No such file or directory");
}

static void test_link_loop(void)
{
	NEED_TOOLS();
	new_tree("root");
	put_dir("boot/grub");
	put_link("vmlinuz", "vmlinuz.old");
	put_link("vmlinuz.old", "/vmlinuz");
	put_kernel("boot/vmlinuz-1", "1");
	make_gpt();
	make_ext4(2, ROOT_UUID);
	expect_error("'/vmlinuz' (the /vmlinuz link): Too many levels of symbolic links");
}

static void test_grub_files_elsewhere(void)
{
	NEED_TOOLS();
	new_tree("root");
	put_text("boot/grub/grub.cfg",
		 "menuentry 'x' {\n search --fs-uuid --set=root " OTHER_UUID "\n linux /vmlinuz\n}\n");
	make_gpt();
	make_ext4(2, ROOT_UUID);
	expect_error("grub.cfg entry 'x' has its files on file system " OTHER_UUID
		     ", which is not on this disk");
}

/* A LUKS header (what blkid looks for: magic and version) as partition 2. */
static void test_encrypted_root(void)
{
	NEED_TOOLS();
	make_gpt();
	if (sh("printf 'LUKS\\272\\276\\000\\001' | dd of='%s' bs=512 seek=18432 conv=notrunc "
	       "status=none", image) != 0)
		abort();
	expect_error("disk 0: no ext2/3/4 file system holds /boot (disk 0 partition 2: encrypted "
		     "(crypto_LUKS)): boot it with --kernel");
}

static void test_unreadable_image(void)
{
	struct boot_disk_choice c;
	char err[256];

	CHECK(boot_disk_find("/nonexistent/disk.img", 3, &c, err, sizeof(err)) < 0);
	CHECK(strcmp(err, "cannot read disk 3 '/nonexistent/disk.img': No such file or "
		      "directory") == 0);
}

static void test_cleanup(void)
{
	if (work[0])
		sh("rm -rf '%s'", work);
}

TEST_MAIN("boot_disk",
	TEST_CASE(test_gpt_grub_default_index),
	TEST_CASE(test_mbr_separate_boot_grub_title),
	TEST_CASE(test_whole_disk_bls),
	TEST_CASE(test_grub_first_entry),
	TEST_CASE(test_links_root_uuid),
	TEST_CASE(test_links_into_boot_partition),
	TEST_CASE(test_cmdline_appends),
	TEST_CASE(test_no_table_no_fs),
	TEST_CASE(test_no_kernel_found),
	TEST_CASE(test_not_a_kernel),
	TEST_CASE(test_missing_kernel_file),
	TEST_CASE(test_link_loop),
	TEST_CASE(test_grub_files_elsewhere),
	TEST_CASE(test_encrypted_root),
	TEST_CASE(test_unreadable_image),
	TEST_CASE(test_cleanup))
