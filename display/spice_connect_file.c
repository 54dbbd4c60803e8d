/* The .vv connection file (display/spice_connect_file.h). */
#include "spice_connect_file.h"
#include "../vmm/error_text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Far more than a CA certificate (or a short chain) takes. */
#define CA_MAX (64 * 1024)
/* The file without its CA: a few short keys and values. */
#define TEXT_BASE 2048

#define OPEN_NEW (O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)

/* ---- the text ---- */

struct text {
	char *p;
	size_t size, len;
	bool overflow;
};

static void put_char(struct text *t, char c)
{
	if (t->len + 1 < t->size)
		t->p[t->len++] = c;
	else
		t->overflow = true;
}

static void put_text(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put_text(struct text *t, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		t->overflow = true;
		return;
	}
	for (int i = 0; i < n; i++)
		put_char(t, line[i]);
}

/* key=value, the value escaped as GLib's key files read it back (what
 * virt-viewer parses): a backslash, newline, tab or carriage return as
 * \\ \n \t \r, and a leading space as \s (it would be stripped). */
static void put_value(struct text *t, const char *key, const char *value)
{
	put_text(t, "%s=", key);
	for (const char *c = value; *c; c++) {
		switch (*c) {
		case '\\': put_char(t, '\\'); put_char(t, '\\'); break;
		case '\n': put_char(t, '\\'); put_char(t, 'n'); break;
		case '\t': put_char(t, '\\'); put_char(t, 't'); break;
		case '\r': put_char(t, '\\'); put_char(t, 'r'); break;
		case ' ':
			if (c == value) {
				put_char(t, '\\');
				put_char(t, 's');
			} else {
				put_char(t, ' ');
			}
			break;
		default: put_char(t, *c); break;
		}
	}
	put_char(t, '\n');
}

/* Where the viewer connects: the listening address, except that a
 * wildcard one is reached at loopback (the file is for this machine). */
static const char *viewer_host(const char *addr)
{
	if (!*addr || !strcmp(addr, "0.0.0.0"))
		return "127.0.0.1";
	if (!strcmp(addr, "::"))
		return "::1";
	return addr;
}

int spice_connect_file_format(const struct spice_options *o, const char *ca_pem, char *out,
			      size_t size)
{
	struct text t = { out, size, 0, false };

	if (!size)
		return -1;
	put_text(&t, "[virt-viewer]\ntype=spice\n");
	put_value(&t, "host", viewer_host(o->addr));
	if (o->port)
		put_text(&t, "port=%u\n", o->port);
	if (o->tls_port) {
		put_text(&t, "tls-port=%u\n", o->tls_port);
		if (ca_pem)
			put_value(&t, "ca", ca_pem);
	}
	put_value(&t, "password", o->password);
	/* remote-viewer would delete it after reading: a reconnect, or a
	 * second viewer, needs it again. gvmm removes it at the end. */
	put_text(&t, "delete-this-file=0\ntitle=gvmm\n");
	out[t.len] = 0;
	return t.overflow ? -1 : (int)t.len;
}

/* ---- the directory ---- */

static bool private_dir(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	       (st.st_mode & 0777) == 0700;
}

int spice_connect_dir_open(const char *xdg_runtime_dir, const char *tmp_base, char *dir,
			   size_t size, char *err, size_t errlen)
{
	struct stat st;
	bool made;
	int fd;

	/* The XDG runtime directory is the user's own (the spec says 0700);
	 * one that is not is passed over, not trusted. */
	if (xdg_runtime_dir && xdg_runtime_dir[0] == '/' && strlen(xdg_runtime_dir) < size) {
		fd = open(xdg_runtime_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && private_dir(fd)) {
			strcpy(dir, xdg_runtime_dir);
			return fd;
		}
		if (fd >= 0)
			close(fd);
	}
	if ((size_t)snprintf(dir, size, "%s/gvmm-%u", tmp_base, (unsigned)geteuid()) >= size)
		return write_error(err, errlen, "%s/gvmm-%u: the path is too long", tmp_base,
			    (unsigned)geteuid());
	made = mkdir(dir, 0700) == 0;
	if (!made && errno != EEXIST)
		return write_error(err, errlen, "cannot make %s for the SPICE connection file: %s", dir,
			    strerror(errno));
	/* Anyone can make /tmp/gvmm-UID first, as a symlink to a directory
	 * of theirs, say: only one that is ours and private will do. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return write_error(err, errlen, "refusing %s for the SPICE connection file: it is "
				    "not a directory (a symlink?); remove it or give connect-file=PATH",
				    dir);
		return write_error(err, errlen, "%s: %s", dir, strerror(errno));
	}
	if (made && fchmod(fd, 0700) < 0) {   /* the umask may have taken bits away */
		write_error(err, errlen, "%s: fchmod: %s", dir, strerror(errno));
		close(fd);
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
		write_error(err, errlen, "refusing %s for the SPICE connection file: it belongs to "
			    "uid %u, not to you; remove it or give connect-file=PATH", dir,
			    (unsigned)st.st_uid);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 0777) != 0700) {
		write_error(err, errlen, "refusing %s for the SPICE connection file: its mode is %04o, "
			    "not 0700; chmod 700 it or give connect-file=PATH", dir,
			    (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- writing ---- */

/* The CA certificate from x509_dir, for the viewer to check the server's
 * with; malloc'd, NULL with err set. */
static char *read_ca(const struct spice_options *o, char *err, size_t errlen)
{
	char path[sizeof(o->x509_dir) + 16];
	char *pem = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/ca-cert.pem", o->x509_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		write_error(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	pem = malloc(CA_MAX + 1);
	if (!pem) {
		write_error(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	while (len <= CA_MAX && (n = read(fd, pem + len, CA_MAX + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || len + (size_t)n > CA_MAX) {
			write_error(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) :
				    "larger than 64 KiB, not a CA certificate");
			free(pem);
			close(fd);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	pem[len] = 0;
	return pem;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Creates the file, new and 0600: at connect-file=PATH, else in the
 * default directory. Its path into f->path; the fd, or -1 with err. */
static int create_file(struct spice_connect_file *f, const struct spice_options *o,
		       const char *tmp_base, char *err, size_t errlen)
{
	char dir[1024], name[32];
	int dfd, fd;

	if (o->connect_file[0]) {
		snprintf(f->path, sizeof(f->path), "%s", o->connect_file);
		fd = open(o->connect_file, OPEN_NEW, 0600);
		if (fd < 0 && errno == EEXIST)
			return write_error(err, errlen, "connect-file %s exists (as a file or a symlink): "
				    "remove it or name a new one", o->connect_file);
		if (fd < 0)
			return write_error(err, errlen, "connect-file %s: %s", o->connect_file,
				    strerror(errno));
		return fd;
	}
	dfd = spice_connect_dir_open(getenv("XDG_RUNTIME_DIR"), tmp_base, dir, sizeof(dir), err,
				     errlen);
	if (dfd < 0)
		return -1;
	snprintf(name, sizeof(name), "gvmm-%d.vv", (int)getpid());
	snprintf(f->path, sizeof(f->path), "%s/%s", dir, name);
	fd = openat(dfd, name, OPEN_NEW, 0600);
	if (fd < 0 && errno == EEXIST) {
		/* Left by an earlier gvmm that had our pid and died; the
		 * directory is ours alone, so nobody else put it there. */
		unlinkat(dfd, name, 0);
		fd = openat(dfd, name, OPEN_NEW, 0600);
	}
	if (fd < 0)
		write_error(err, errlen, "cannot create %s: %s", f->path, strerror(errno));
	close(dfd);
	return fd;
}

int spice_connect_file_write(struct spice_connect_file *f, const struct spice_options *o,
			     const char *tmp_base, char *err, size_t errlen)
{
	char *ca = NULL, *text = NULL;
	size_t text_size;
	struct stat st;
	int fd = -1, len;

	memset(f, 0, sizeof(*f));
	if (o->tls_port && !(ca = read_ca(o, err, errlen)))
		return -1;
	text_size = TEXT_BASE + (ca ? 2 * strlen(ca) : 0);
	text = malloc(text_size);
	if (!text) {
		write_error(err, errlen, "out of memory");
		goto fail;
	}
	len = spice_connect_file_format(o, ca, text, text_size);
	if (len < 0) {
		write_error(err, errlen, "the SPICE connection file does not fit %zu bytes", text_size);
		goto fail;
	}
	fd = create_file(f, o, tmp_base, err, errlen);
	if (fd < 0) {
		f->path[0] = 0;
		goto fail;
	}
	/* Mode 0600 exactly: the umask may have taken the owner's bits. */
	if (fchmod(fd, 0600) < 0 || write_all(fd, text, (size_t)len) < 0 || fstat(fd, &st) < 0) {
		write_error(err, errlen, "cannot write %s: %s", f->path, strerror(errno));
		unlink(f->path);
		f->path[0] = 0;
		goto fail;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	close(fd);
	explicit_bzero(text, text_size);
	free(text);
	free(ca);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (text)
		explicit_bzero(text, text_size);
	free(text);
	free(ca);
	return -1;
}

void spice_connect_file_remove(struct spice_connect_file *f)
{
	struct stat st;

	if (f->path[0] && lstat(f->path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino)
		unlink(f->path);
	f->path[0] = 0;
}
