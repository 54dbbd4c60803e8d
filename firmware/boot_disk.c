/* Finding what a disk image's distribution boots. The disk is a list of
 * volumes (its partitions, or the whole disk); the installed system is
 * seen as its root file system at "/" with, when /boot is a partition of
 * its own, that one at "/boot", so that paths and symbolic links resolve
 * as they would in the running system. Nothing is mounted and nothing on
 * the host is followed. */
#include "boot_disk.h"

#include <blkid/blkid.h>
#include <errno.h>
#include <et/com_err.h>
#include <ext2fs/ext2_err.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "boot.h"
#include "../vmm/error_text.h"
#include "../vmm/log.h"

#define MAX_VOLUMES     128
#define SECTOR_SIZE     512
#define READ_CHUNK      (64u << 20)

struct volume {
	int partno;              /* 0: the whole disk */
	uint64_t offset, size;
	char type[32];           /* blkid's TYPE: ext4, vfat, crypto_LUKS, ... */
	char uuid[64];
	ext2_filsys fs;          /* open when type is ext2/3/4 and readable */
	char open_error[128];    /* why an ext2/3/4 one could not be opened */
};

struct disk {
	unsigned number;
	int fd;
	struct volume volumes[MAX_VOLUMES];
	unsigned nr_volumes;
};

/* A file system seen at a directory of the installed system. */
struct mount {
	const char *dir;         /* "/" or "/boot" */
	struct volume *volume;
};

struct view {
	struct mount mounts[2];
	unsigned nr_mounts;
};

/* A path resolved in a view. */
struct found {
	struct volume *volume;
	ext2_ino_t ino;
	struct ext2_inode inode;
	char path[PATH_MAX];     /* with no link, "." or ".." left in it */
};

static void describe_volume(const struct disk *disk, const struct volume *v, char *buf,
			    size_t size)
{
	if (v->partno)
		snprintf(buf, size, "disk %u partition %d", disk->number, v->partno);
	else
		snprintf(buf, size, "disk %u", disk->number);
}

/* ---- The disk's volumes ---- */

static bool is_ext(const char *type)
{
	return strcmp(type, "ext2") == 0 || strcmp(type, "ext3") == 0 ||
	       strcmp(type, "ext4") == 0;
}

static void probe_volume(struct disk *disk, struct volume *v)
{
	blkid_probe pr = blkid_new_probe();
	const char *value;

	if (!pr)
		return;
	if (blkid_probe_set_device(pr, disk->fd, (blkid_loff_t)v->offset,
				   (blkid_loff_t)v->size) == 0 &&
	    blkid_probe_enable_partitions(pr, 0) == 0 &&
	    blkid_probe_enable_superblocks(pr, 1) == 0 &&
	    blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID) == 0 &&
	    blkid_do_safeprobe(pr) == 0) {
		if (blkid_probe_lookup_value(pr, "TYPE", &value, NULL) == 0)
			snprintf(v->type, sizeof(v->type), "%s", value);
		if (blkid_probe_lookup_value(pr, "UUID", &value, NULL) == 0)
			snprintf(v->uuid, sizeof(v->uuid), "%s", value);
	}
	blkid_free_probe(pr);
}

static void open_ext(struct disk *disk, struct volume *v)
{
	char fd_name[16], options[64];
	int fd = fcntl(disk->fd, F_DUPFD_CLOEXEC, 0);  /* closing the fs closes it */
	errcode_t rc;

	if (fd < 0) {
		snprintf(v->open_error, sizeof(v->open_error), "%s", strerror(errno));
		return;
	}
	snprintf(fd_name, sizeof(fd_name), "%d", fd);
	snprintf(options, sizeof(options), "offset=%llu", (unsigned long long)v->offset);
	rc = ext2fs_open2(fd_name, options, EXT2_FLAG_64BITS, 0, 0, unixfd_io_manager, &v->fs);
	if (rc) {
		v->fs = NULL;
		close(fd);
		snprintf(v->open_error, sizeof(v->open_error), "%s", error_message(rc));
	}
}

/* Partitions through libblkid; a disk without a table is one volume. */
static int list_volumes(struct disk *disk, char *err, size_t errlen)
{
	blkid_probe pr = blkid_new_probe();
	blkid_partlist list = NULL;
	int n = 0;

	if (!pr || blkid_probe_set_device(pr, disk->fd, 0, 0) < 0) {
		snprintf(err, errlen, "libblkid cannot probe it");
		if (pr)
			blkid_free_probe(pr);
		return -1;
	}
	blkid_probe_enable_superblocks(pr, 0);
	blkid_probe_enable_partitions(pr, 1);
	list = blkid_probe_get_partitions(pr);
	if (list)
		n = blkid_partlist_numof_partitions(list);
	for (int i = 0; i < n && disk->nr_volumes < MAX_VOLUMES; i++) {
		blkid_partition part = blkid_partlist_get_partition(list, i);
		struct volume *v;

		if (!part || blkid_partition_is_extended(part))
			continue;
		v = &disk->volumes[disk->nr_volumes++];
		v->partno = blkid_partition_get_partno(part);
		v->offset = (uint64_t)blkid_partition_get_start(part) * SECTOR_SIZE;
		v->size = (uint64_t)blkid_partition_get_size(part) * SECTOR_SIZE;
	}
	blkid_free_probe(pr);
	if (disk->nr_volumes == 0)
		disk->nr_volumes = 1;   /* volumes[0]: the whole disk, zeroed */
	for (unsigned i = 0; i < disk->nr_volumes; i++) {
		struct volume *v = &disk->volumes[i];

		probe_volume(disk, v);
		if (is_ext(v->type))
			open_ext(disk, v);
	}
	return 0;
}

static void disk_close(struct disk *disk)
{
	for (unsigned i = 0; i < disk->nr_volumes; i++)
		if (disk->volumes[i].fs)
			ext2fs_close_free(&disk->volumes[i].fs);
	if (disk->fd >= 0)
		close(disk->fd);
}

static struct volume *volume_by_uuid(struct disk *disk, const char *uuid)
{
	for (unsigned i = 0; i < disk->nr_volumes; i++)
		if (disk->volumes[i].uuid[0] && strcasecmp(disk->volumes[i].uuid, uuid) == 0)
			return &disk->volumes[i];
	return NULL;
}

/* ---- Paths inside the image ---- */

static struct volume *mounted_at(const struct view *view, const char *dir)
{
	for (unsigned i = 0; i < view->nr_mounts; i++)
		if (strcmp(view->mounts[i].dir, dir) == 0)
			return view->mounts[i].volume;
	return NULL;
}

/* The inode of a path with no link, "." or ".." in it ("" is the root). */
static int walk_plain_path(const struct view *view, const char *path,
			   struct volume **volume, ext2_ino_t *ino)
{
	char walked[PATH_MAX] = "";
	size_t walked_len = 0;
	const char *p = path;

	*volume = mounted_at(view, "/");
	*ino = EXT2_ROOT_INO;
	while (*p) {
		size_t n;
		struct volume *mounted;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (!n)
			break;
		if (walked_len + 1 + n >= sizeof(walked))
			return -ENAMETOOLONG;
		walked[walked_len++] = '/';
		memcpy(walked + walked_len, p, n);
		walked_len += n;
		walked[walked_len] = 0;
		mounted = mounted_at(view, walked);
		if (mounted) {
			*volume = mounted;
			*ino = EXT2_ROOT_INO;
		} else if (!*volume || ext2fs_lookup((*volume)->fs, *ino, p, (int)n, NULL, ino)) {
			return -ENOENT;
		}
		p += n;
	}
	return *volume ? 0 : -ENOENT;
}

static int read_link(struct volume *v, ext2_ino_t ino, struct ext2_inode *inode,
		     char *buf, size_t size)
{
	uint64_t len = EXT2_I_SIZE(inode);
	ext2_file_t file;
	unsigned got = 0;

	if (len == 0 || len >= size)
		return -ENAMETOOLONG;
	if (!(inode->i_flags & EXT4_INLINE_DATA_FL) && ext2fs_is_fast_symlink(inode)) {
		memcpy(buf, inode->i_block, len);
	} else {
		if (ext2fs_file_open(v->fs, ino, 0, &file))
			return -EIO;
		if (ext2fs_file_read(file, buf, (unsigned)len, &got) || got != len) {
			ext2fs_file_close(file);
			return -EIO;
		}
		ext2fs_file_close(file);
	}
	buf[len] = 0;
	return memchr(buf, 0, len) ? -EIO : 0;
}

/* Resolves an absolute path as the installed system would: links in any
 * component, relative or absolute (from the view's root), at most
 * BOOT_DISK_MAX_LINKS of them. Returns 0 or a negative errno. */
static int resolve(const struct view *view, const char *path, struct found *out)
{
	char done[PATH_MAX] = "";      /* resolved so far: "" or "/a/b" */
	char rest[PATH_MAX], link[PATH_MAX], next[PATH_MAX];
	const char *p = rest;
	unsigned links = 0;
	int ret;

	if ((size_t)snprintf(rest, sizeof(rest), "%s", path) >= sizeof(rest))
		return -ENAMETOOLONG;
	for (;;) {
		struct volume *volume;
		ext2_ino_t dir, child;
		struct ext2_inode inode;
		size_t n, done_len = strlen(done);

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (!n)
			break;
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			*strrchr(done, '/') = 0;   /* done has one unless it is "" */
			p += n;
			continue;
		}
		if (done_len + 1 + n >= sizeof(done))
			return -ENAMETOOLONG;
		ret = walk_plain_path(view, done, &volume, &dir);
		if (ret < 0)
			return ret;
		snprintf(next, sizeof(next), "%s/%.*s", done, (int)n, p);
		if (mounted_at(view, next)) {
			memcpy(done, next, strlen(next) + 1);
			p += n;
			continue;
		}
		if (ext2fs_lookup(volume->fs, dir, p, (int)n, NULL, &child) ||
		    ext2fs_read_inode(volume->fs, child, &inode))
			return -ENOENT;
		if (!LINUX_S_ISLNK(inode.i_mode)) {
			memcpy(done, next, strlen(next) + 1);
			p += n;
			continue;
		}
		if (++links > BOOT_DISK_MAX_LINKS)
			return -ELOOP;
		ret = read_link(volume, child, &inode, link, sizeof(link));
		if (ret < 0)
			return ret;
		if ((size_t)snprintf(next, sizeof(next), "%s/%s", link, p + n) >= sizeof(next))
			return -ENAMETOOLONG;
		if (link[0] == '/')
			done[0] = 0;
		memcpy(rest, next, strlen(next) + 1);
		p = rest;
	}
	ret = walk_plain_path(view, done, &out->volume, &out->ino);
	if (ret < 0)
		return ret;
	if (ext2fs_read_inode(out->volume->fs, out->ino, &out->inode))
		return -EIO;
	snprintf(out->path, sizeof(out->path), "%s", done[0] ? done : "/");
	return 0;
}

static void view_of(struct view *view, struct volume *volume)
{
	view->mounts[0] = (struct mount){ "/", volume };
	view->nr_mounts = 1;
}

/* Reads a regular file of at most max bytes into a new buffer. */
static int read_file(const struct found *f, uint64_t max, uint8_t **data, size_t *len,
		     char *err, size_t errlen)
{
	uint64_t size = EXT2_I_SIZE(&f->inode);
	ext2_file_t file;
	uint8_t *buf;
	size_t got = 0;

	if (!LINUX_S_ISREG(f->inode.i_mode)) {
		snprintf(err, errlen, "'%.200s' is not a regular file", f->path);
		return -1;
	}
	if (size == 0 || size > max) {
		snprintf(err, errlen, "'%.200s' is %llu bytes: gvmm reads 1 to %llu", f->path,
			 (unsigned long long)size, (unsigned long long)max);
		return -1;
	}
	buf = malloc(size + 1);  /* + 1: text files get a NUL after them */
	if (!buf || ext2fs_file_open(f->volume->fs, f->ino, 0, &file)) {
		free(buf);
		snprintf(err, errlen, "cannot read '%.200s'", f->path);
		return -1;
	}
	while (got < size) {
		unsigned chunk = size - got > READ_CHUNK ? READ_CHUNK : (unsigned)(size - got);
		unsigned n = 0;

		if (ext2fs_file_read(file, buf + got, chunk, &n) || n == 0)
			break;
		got += n;
	}
	ext2fs_file_close(file);
	if (got != size) {
		free(buf);
		snprintf(err, errlen, "cannot read '%.200s': it ends early", f->path);
		return -1;
	}
	buf[size] = 0;
	*data = buf;
	*len = size;
	return 0;
}

/* ---- Directories ---- */

struct dir_names {
	char (*names)[256];
	unsigned nr, max;
	const char *prefix, *suffix;   /* only names starting and ending so */
};

static int collect_name(struct ext2_dir_entry *dirent, int offset, int blocksize,
			char *buf, void *priv)
{
	struct dir_names *d = priv;
	size_t len = (size_t)ext2fs_dirent_name_len(dirent);
	size_t prefix_len = strlen(d->prefix), suffix_len = strlen(d->suffix);

	(void)offset;
	(void)blocksize;
	(void)buf;
	if (len == 0 || dirent->name[0] == '.' || len < prefix_len + suffix_len ||
	    memcmp(dirent->name, d->prefix, prefix_len) != 0 ||
	    memcmp(dirent->name + len - suffix_len, d->suffix, suffix_len) != 0)
		return 0;
	if (d->nr == d->max)
		return DIRENT_ABORT;
	memcpy(d->names[d->nr], dirent->name, len);
	d->names[d->nr][len] = 0;
	d->nr++;
	return 0;
}

static void list_dir(const struct found *dir, struct dir_names *d)
{
	d->nr = 0;
	if (LINUX_S_ISDIR(dir->inode.i_mode))
		ext2fs_dir_iterate(dir->volume->fs, dir->ino, 0, NULL, collect_name, d);
}

static bool is_dir(const struct view *view, const char *path)
{
	struct found f;

	return resolve(view, path, &f) == 0 && LINUX_S_ISDIR(f.inode.i_mode);
}

/* A directory with grub/, loader/ or a vmlinuz* in it holds boot files. */
static bool holds_boot_files(const struct view *view, const char *dir)
{
	char path[64], name[1][256];
	struct dir_names d = { name, 0, 1, "vmlinuz", "" };
	struct found f;

	snprintf(path, sizeof(path), "%s/grub", dir);
	if (is_dir(view, path))
		return true;
	snprintf(path, sizeof(path), "%s/loader", dir);
	if (is_dir(view, path))
		return true;
	if (resolve(view, dir[0] ? dir : "/", &f) < 0)
		return false;
	list_dir(&f, &d);
	return d.nr > 0;
}

/* ---- The installed system ---- */

struct search {
	struct disk *disk;
	struct volume *root;     /* has a /boot directory; NULL when none does */
	struct volume *boot;     /* holds the boot files: root, or its own partition */
	struct view system;
	char *err;
	size_t errlen;
};

/* Why a volume holds nothing gvmm can boot from, or NULL for an ext2/3/4
 * one it read (or one that is nothing at all). */
static void note_unread(const struct volume *v, char *buf, size_t size)
{
	if (v->fs || !v->type[0] || strcmp(v->type, "swap") == 0)
		buf[0] = 0;
	else if (is_ext(v->type))
		snprintf(buf, size, "%s that libext2fs cannot open: %s", v->type, v->open_error);
	else if (strcmp(v->type, "crypto_LUKS") == 0)
		snprintf(buf, size, "encrypted (crypto_LUKS)");
	else if (strcmp(v->type, "vfat") == 0)
		snprintf(buf, size, "vfat (an EFI system partition?), not read yet");
	else if (strcmp(v->type, "LVM2_member") == 0)
		snprintf(buf, size, "LVM, not read yet");
	else
		snprintf(buf, size, "%s, not read (gvmm reads ext2/3/4)", v->type);
}

static int fail_no_boot(struct search *s)
{
	const struct disk *disk = s->disk;
	char notes[1024] = "", note[192], where[64];
	size_t used = 0;

	if (disk->nr_volumes == 1 && disk->volumes[0].partno == 0 && !disk->volumes[0].type[0])
		return write_error(s->err, s->errlen, "disk %u has no partition table and no file system gvmm "
				   "can read: boot it with --kernel", disk->number);
	for (unsigned i = 0; i < disk->nr_volumes && used < sizeof(notes); i++) {
		note_unread(&disk->volumes[i], note, sizeof(note));
		if (!note[0])
			continue;
		describe_volume(disk, &disk->volumes[i], where, sizeof(where));
		used += (size_t)snprintf(notes + used, sizeof(notes) - used, "%s%s: %s",
					 used ? "; " : " (", where, note);
	}
	if (used && used + 1 < sizeof(notes))
		strcat(notes, ")");
	return write_error(s->err, s->errlen, "disk %u: no ext2/3/4 file system holds /boot%s: boot it with "
			   "--kernel (and --initrd, --cmdline)", disk->number, notes);
}

/* The root is the first file system with a /boot directory; /boot's files
 * are in it, or else in the first other one whose top holds them. */
static int find_layout(struct search *s)
{
	struct disk *disk = s->disk;
	struct view one;

	for (unsigned i = 0; i < disk->nr_volumes && !s->root; i++) {
		if (!disk->volumes[i].fs)
			continue;
		view_of(&one, &disk->volumes[i]);
		if (is_dir(&one, "/boot"))
			s->root = &disk->volumes[i];
	}
	if (s->root) {
		view_of(&one, s->root);
		if (holds_boot_files(&one, "/boot"))
			s->boot = s->root;
	}
	for (unsigned i = 0; i < disk->nr_volumes && !s->boot; i++) {
		if (!disk->volumes[i].fs || &disk->volumes[i] == s->root)
			continue;
		view_of(&one, &disk->volumes[i]);
		if (holds_boot_files(&one, ""))
			s->boot = &disk->volumes[i];
	}
	if (!s->boot && !s->root)
		return fail_no_boot(s);
	s->system.nr_mounts = 0;
	if (s->root)
		s->system.mounts[s->system.nr_mounts++] = (struct mount){ "/", s->root };
	if (s->boot && s->boot != s->root)
		s->system.mounts[s->system.nr_mounts++] = (struct mount){ "/boot", s->boot };
	return 0;
}

/* ---- Reading what an entry names ---- */

struct boot_files {
	const char *kernel;
	const char *initrds[BOOT_ENTRY_MAX_INITRDS];
	unsigned nr_initrds;
	bool also_under_boot;    /* a BLS path may be relative to / or to /boot */
	const char *source;      /* for the summary */
};

static int find_file(struct search *s, const struct view *view, const char *path,
		     const struct boot_files *files, struct found *f)
{
	char where[64], under_boot[PATH_MAX];
	int ret = resolve(view, path, f);

	if (ret < 0 && files->also_under_boot &&
	    (size_t)snprintf(under_boot, sizeof(under_boot), "/boot/%s", path) < sizeof(under_boot))
		ret = resolve(view, under_boot, f);
	if (ret == 0)
		return 0;
	describe_volume(s->disk, view->mounts[0].volume, where, sizeof(where));
	return write_error(s->err, s->errlen, "%s: '%.200s' (%.300s): %s", where, path, files->source,
			   strerror(-ret));
}

static int read_initrds(struct search *s, const struct view *view, const struct boot_files *files,
			struct boot_disk_choice *out, char *first_path, size_t first_size)
{
	char why[256];

	for (unsigned i = 0; i < files->nr_initrds; i++) {
		struct found f;
		uint8_t *data, *grown;
		size_t len, at = (out->initrd_len + 3) & ~(size_t)3;   /* cpio wants 4-byte alignment */

		if (find_file(s, view, files->initrds[i], files, &f) < 0)
			return -1;
		if (i == 0)
			snprintf(first_path, first_size, "%s", f.path);
		if (read_file(&f, BOOT_DISK_INITRD_MAX - at, &data, &len, why, sizeof(why)) < 0)
			return write_error(s->err, s->errlen, "initrd: %s", why);
		grown = realloc(out->initrd, at + len);
		if (!grown) {
			free(data);
			return write_error(s->err, s->errlen, "out of memory for the initrd");
		}
		memset(grown + out->initrd_len, 0, at - out->initrd_len);
		memcpy(grown + at, data, len);
		free(data);
		out->initrd = grown;
		out->initrd_len = at + len;
	}
	return 0;
}

static int read_boot_files(struct search *s, const struct view *view,
			   const struct boot_files *files, struct boot_disk_choice *out)
{
	char why[256], where[64], initrd_path[PATH_MAX] = "";
	struct found f;

	if (find_file(s, view, files->kernel, files, &f) < 0)
		return -1;
	describe_volume(s->disk, f.volume, where, sizeof(where));
	if (read_file(&f, BOOT_DISK_KERNEL_MAX, &out->kernel, &out->kernel_len, why,
		      sizeof(why)) < 0)
		return write_error(s->err, s->errlen, "%s: kernel %s", where, why);
	if (!bzimage_detect(out->kernel, out->kernel_len) &&
	    !pvh_detect(out->kernel, out->kernel_len))
		return write_error(s->err, s->errlen, "%s: '%s' (%s) is not a kernel gvmm boots: no bzImage "
				   "header and no PVH ELF note", where, f.path, files->source);
	if (read_initrds(s, view, files, out, initrd_path, sizeof(initrd_path)) < 0)
		return -1;
	snprintf(out->summary, sizeof(out->summary), "%.600s%s%.600s%s from %s (%.600s)", f.path,
		 initrd_path[0] ? " with initrd " : "", initrd_path,
		 files->nr_initrds > 1 ? " and more" : "", where, files->source);
	return 0;
}

static void files_of_entry(struct boot_files *files, const struct boot_entry *e)
{
	files->kernel = e->linux_path;
	files->nr_initrds = e->nr_initrds;
	for (unsigned i = 0; i < e->nr_initrds; i++)
		files->initrds[i] = e->initrd_paths[i];
}

/* ---- The three ways a distribution says what to boot ---- */

/* Each returns 1 when it found and read what to boot, 0 when the disk
 * has no such configuration, -1 on an error (in s->err). */

static int read_bls_entry(struct search *s, const char *dir, const char *name,
			  struct boot_entry *e)
{
	char path[PATH_MAX], why[256];
	struct found f;
	uint8_t *text;
	size_t len;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (resolve(&s->system, path, &f) < 0 ||
	    read_file(&f, BOOT_DISK_CONFIG_MAX, &text, &len, why, sizeof(why)) < 0)
		return -1;
	ret = bls_entry_parse((const char *)text, len, name, e, why, sizeof(why));
	free(text);
	if (ret < 0)
		log_warn("disk %u: BLS entry %s: %s; skipped", s->disk->number, path, why);
	return ret;
}

static int boot_from_bls(struct search *s, struct boot_disk_choice *out)
{
	static const char dir_path[] = "/boot/loader/entries";
	char source[BOOT_ENTRY_TEXT_MAX + 32];
	struct dir_names names = { NULL, 0, BOOT_DISK_MAX_ENTRIES, "", ".conf" };
	struct boot_entry *best = malloc(sizeof(*best)), *next = malloc(sizeof(*next));
	struct boot_files files = { .also_under_boot = true, .source = source };
	struct found dir;
	struct view view;
	bool have_best = false;
	int ret = 0;

	names.names = calloc(BOOT_DISK_MAX_ENTRIES, sizeof(*names.names));
	if (!best || !next || !names.names) {
		ret = write_error(s->err, s->errlen, "out of memory");
		goto out;
	}
	if (resolve(&s->system, dir_path, &dir) < 0)
		goto out;
	list_dir(&dir, &names);
	for (unsigned i = 0; i < names.nr; i++) {
		if (read_bls_entry(s, dir_path, names.names[i], next) < 0)
			continue;
		if (!have_best || bls_entry_order(next, best) < 0) {
			struct boot_entry *t = best;

			best = next;
			next = t;
			have_best = true;
		}
	}
	if (!have_best)
		goto out;
	/* Paths are relative to the file system the entries are on. */
	view_of(&view, dir.volume);
	files.also_under_boot = dir.volume == s->root;
	snprintf(source, sizeof(source), "BLS entry '%s'", best->title[0] ? best->title : best->id);
	files_of_entry(&files, best);
	snprintf(out->cmdline, sizeof(out->cmdline), "%s", best->options);
	ret = read_boot_files(s, &view, &files, out) < 0 ? -1 : 1;
out:
	free(names.names);
	free(best);
	free(next);
	return ret;
}

static int boot_from_grub_cfg(struct search *s, struct boot_disk_choice *out)
{
	char source[2 * BOOT_ENTRY_TEXT_MAX + 128], where[64], why[256];
	struct boot_entry *e = malloc(sizeof(*e));
	struct boot_files files = { .source = source };
	struct volume *files_on;
	struct found cfg;
	struct view view;
	uint8_t *text = NULL;
	size_t len;
	int ret = 0;

	if (!e)
		return write_error(s->err, s->errlen, "out of memory");
	if (resolve(&s->system, "/boot/grub/grub.cfg", &cfg) < 0)
		goto out;
	describe_volume(s->disk, cfg.volume, where, sizeof(where));
	if (read_file(&cfg, BOOT_DISK_CONFIG_MAX, &text, &len, why, sizeof(why)) < 0) {
		ret = write_error(s->err, s->errlen, "%s: grub.cfg: %s", where, why);
		goto out;
	}
	if (grub_cfg_default_entry((const char *)text, len, e, why, sizeof(why)) < 0) {
		ret = write_error(s->err, s->errlen, "%s: %s: %s", where, cfg.path, why);
		goto out;
	}
	files_on = cfg.volume;
	if (e->root_uuid[0]) {
		files_on = volume_by_uuid(s->disk, e->root_uuid);
		if (!files_on || !files_on->fs) {
			ret = write_error(s->err, s->errlen, "%s: grub.cfg entry '%s' has its files on file system "
					  "%s, %s: boot it with --kernel", where, e->title,
					  e->root_uuid, files_on ? "which gvmm cannot read"
								 : "which is not on this disk");
			goto out;
		}
	}
	view_of(&view, files_on);
	snprintf(source, sizeof(source), "grub.cfg entry '%s', %s", e->title, e->chosen_by);
	files_of_entry(&files, e);
	snprintf(out->cmdline, sizeof(out->cmdline), "%s", e->options);
	ret = read_boot_files(s, &view, &files, out) < 0 ? -1 : 1;
out:
	free(text);
	free(e);
	return ret;
}

/* Debian's linux-base keeps /vmlinuz and /initrd.img (or the same in
 * /boot) pointing at the newest kernel; the root is then the file system
 * they are on. */
static int boot_from_links(struct search *s, struct boot_disk_choice *out)
{
	static const char *const pairs[][2] = {
		{ "/vmlinuz", "/initrd.img" },
		{ "/boot/vmlinuz", "/boot/initrd.img" },
	};
	char source[128];

	if (!s->root)
		return 0;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct boot_files files = { .kernel = pairs[i][0], .source = source };
		struct found f;

		/* A link that is there but leads nowhere is an error, said below. */
		if (resolve(&s->system, pairs[i][0], &f) == -ENOENT)
			continue;
		if (resolve(&s->system, pairs[i][1], &f) == 0)
			files.initrds[files.nr_initrds++] = pairs[i][1];
		snprintf(source, sizeof(source), "the %s link", pairs[i][0]);
		snprintf(out->cmdline, sizeof(out->cmdline), "root=UUID=%s ro", s->root->uuid);
		return read_boot_files(s, &s->system, &files, out) < 0 ? -1 : 1;
	}
	return 0;
}

static int fail_nothing_found(struct search *s)
{
	char where[160] = "", one[64];

	for (unsigned i = 0; i < s->system.nr_mounts; i++) {
		describe_volume(s->disk, s->system.mounts[i].volume, one, sizeof(one));
		snprintf(where + strlen(where), sizeof(where) - strlen(where), "%s%s (at %s)",
			 i ? ", " : "", one, s->system.mounts[i].dir);
	}
	return write_error(s->err, s->errlen, "no kernel found on %s: looked for /boot/loader/entries/*.conf, "
			   "/boot/grub/grub.cfg, /vmlinuz and /boot/vmlinuz%s: boot it with --kernel",
			   where, s->root ? "" : " (those two need the root file system, not found)");
}

int boot_disk_find(const char *path, unsigned disk_number, struct boot_disk_choice *out,
		   char *err, size_t errlen)
{
	struct disk *disk = calloc(1, sizeof(*disk));
	struct search s = { .disk = disk, .err = err, .errlen = errlen };
	int ret = -1;

	memset(out, 0, sizeof(*out));
	err[0] = 0;
	if (!disk) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	initialize_ext2_error_table();
	disk->number = disk_number;
	disk->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (disk->fd < 0) {
		snprintf(err, errlen, "cannot read disk %u '%s': %s", disk_number, path,
			 strerror(errno));
		goto out;
	}
	if (list_volumes(disk, err, errlen) < 0 || find_layout(&s) < 0)
		goto out;
	ret = boot_from_bls(&s, out);
	if (ret == 0)
		ret = boot_from_grub_cfg(&s, out);
	if (ret == 0)
		ret = boot_from_links(&s, out);
	if (ret == 0)
		ret = fail_nothing_found(&s);
	ret = ret < 0 ? -1 : 0;
out:
	/* Paths in the image may hold any byte; the log takes one line. */
	for (char *c = ret < 0 ? err : out->summary; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	disk_close(disk);
	free(disk);
	if (ret < 0)
		boot_disk_choice_free(out);
	return ret;
}

int boot_disk_available(char *version, size_t versionlen, char *err, size_t errlen)
{
	const char *lib_version = NULL;

	(void)err;
	(void)errlen;
	ext2fs_get_library_version(&lib_version, NULL);
	snprintf(version, versionlen, "%s", lib_version ? lib_version : "(unknown)");
	return 0;
}

void boot_disk_choice_free(struct boot_disk_choice *choice)
{
	free(choice->kernel);
	free(choice->initrd);
	choice->kernel = choice->initrd = NULL;
	choice->kernel_len = choice->initrd_len = 0;
}

int boot_disk_cmdline(const char *configured, const char *console, const char *extra,
		      char *out, size_t size)
{
	const char *parts[] = { configured, console, extra };
	size_t used = 0;

	if (size == 0)
		return -1;
	out[0] = 0;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		int n;

		if (!parts[i] || !parts[i][0])
			continue;
		n = snprintf(out + used, size - used, "%s%s", used ? " " : "", parts[i]);
		if (n < 0 || (size_t)n >= size - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}
