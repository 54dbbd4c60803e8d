/* The .vv connection file: its text, the private directory it goes to by
 * default (and each way that directory is refused), and the file itself:
 * mode 0600 whatever the umask, never through a planted symlink, removed
 * only while it is still the one gvmm wrote. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../display/spice_connect_file.h"
#include "../../display/spice_ticket.h"

static char err[512];

/* A fresh directory of the test's, with mode 0700. */
static bool temp_dir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/gvmm-vv-test-XXXXXX");
	return mkdtemp(dir) != NULL;
}

static bool settled(struct spice_options *o, const char *arg, const char *env)
{
	if (spice_options_parse(arg, o, err, sizeof(err)) < 0 ||
	    spice_ticket_settle(o, env, err, sizeof(err)) < 0) {
		fprintf(stderr, "  --spice %s: %s\n", arg, err);
		return false;
	}
	return true;
}

static char *read_all(const char *path)
{
	static char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	buf[0] = 0;
	if (fd < 0)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	close(fd);
	return buf;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static bool gone(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 && errno == ENOENT;
}

/* ---- the text ---- */

static void test_format(void)
{
	struct spice_options o;
	char text[2048];
	int len;

	CHECK(settled(&o, "127.0.0.1:5900,password=pw", NULL));
	len = spice_connect_file_format(&o, NULL, text, sizeof(text));
	CHECK(!strcmp(text, "[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport=5900\n"
		      "password=pw\ndelete-this-file=0\ntitle=gvmm\n"));
	CHECK_EQ(len, strlen(text));

	/* TLS: its port and the CA, newlines escaped as GLib reads them. */
	CHECK(settled(&o, "[::1]:5900,tls-port=5901,x509-dir=/d", "env"));
	spice_connect_file_format(&o, "-----BEGIN\nabc\n-----END\n", text, sizeof(text));
	CHECK(!strcmp(text, "[virt-viewer]\ntype=spice\nhost=::1\nport=5900\ntls-port=5901\n"
		      "ca=-----BEGIN\\nabc\\n-----END\\n\npassword=env\ndelete-this-file=0\n"
		      "title=gvmm\n"));

	/* TLS only: no plain port; a wildcard address is reached at loopback. */
	CHECK(settled(&o, "0.0.0.0,tls-port=5901,x509-dir=/d", "env"));
	spice_connect_file_format(&o, NULL, text, sizeof(text));
	CHECK(!strcmp(text, "[virt-viewer]\ntype=spice\nhost=127.0.0.1\ntls-port=5901\n"
		      "password=env\ndelete-this-file=0\ntitle=gvmm\n"));
	CHECK(settled(&o, "[::]:5900", " \\lead\tand\nmore"));
	spice_connect_file_format(&o, NULL, text, sizeof(text));
	CHECK(strstr(text, "\nhost=::1\n") != NULL);
	CHECK(strstr(text, "\npassword=\\s\\\\lead\\tand\\nmore\n") != NULL);

	/* A made-up ticket is URL-safe: written as it is. */
	CHECK(settled(&o, ":5900", NULL));
	spice_connect_file_format(&o, NULL, text, sizeof(text));
	CHECK(strstr(text, o.password) != NULL);
	CHECK_EQ(spice_connect_file_format(&o, NULL, text, 40), -1);
}

/* ---- the default directory ---- */

static void test_dir_xdg_runtime(void)
{
	char xdg[64], base[64], dir[1024], want[128];
	int fd;

	CHECK(temp_dir(xdg, sizeof(xdg)));
	CHECK(temp_dir(base, sizeof(base)));
	fd = spice_connect_dir_open(xdg, base, dir, sizeof(dir), err, sizeof(err));
	CHECK(fd >= 0);
	CHECK(!strcmp(dir, xdg));
	if (fd >= 0)
		close(fd);

	/* Not private, relative, or a symlink: passed over for base/gvmm-UID. */
	snprintf(want, sizeof(want), "%s/gvmm-%u", base, (unsigned)geteuid());
	CHECK_EQ(chmod(xdg, 0755), 0);
	fd = spice_connect_dir_open(xdg, base, dir, sizeof(dir), err, sizeof(err));
	CHECK(fd >= 0);
	CHECK(!strcmp(dir, want));
	CHECK_EQ(mode_of(want), 0700);
	if (fd >= 0)
		close(fd);
	CHECK_EQ(chmod(xdg, 0700), 0);
	fd = spice_connect_dir_open("tmp/relative", base, dir, sizeof(dir), err, sizeof(err));
	CHECK(!strcmp(dir, want));
	if (fd >= 0)
		close(fd);
	snprintf(want, sizeof(want), "%s/link", base);
	CHECK_EQ(symlink(xdg, want), 0);
	fd = spice_connect_dir_open(want, base, dir, sizeof(dir), err, sizeof(err));
	CHECK(strcmp(dir, want) != 0 && strcmp(dir, xdg) != 0);
	if (fd >= 0)
		close(fd);
	unlink(want);
	snprintf(want, sizeof(want), "%s/gvmm-%u", base, (unsigned)geteuid());
	CHECK_EQ(rmdir(want), 0);
	CHECK_EQ(rmdir(base), 0);
	CHECK_EQ(rmdir(xdg), 0);
}

/* /tmp/gvmm-UID is anyone's to make first: only a directory of ours
 * with mode 0700 is used. */
static void test_dir_in_tmp_refused(void)
{
	char base[64], target[64], path[128], dir[1024];
	mode_t old_umask;
	int fd;

	CHECK(temp_dir(base, sizeof(base)));
	CHECK(temp_dir(target, sizeof(target)));
	snprintf(path, sizeof(path), "%s/gvmm-%u", base, (unsigned)geteuid());

	/* Made with mode 0700 even under a umask that takes the owner's bits. */
	old_umask = umask(0277);
	fd = spice_connect_dir_open(NULL, base, dir, sizeof(dir), err, sizeof(err));
	umask(old_umask);
	CHECK(fd >= 0);
	CHECK_EQ(mode_of(path), 0700);
	if (fd >= 0)
		close(fd);

	CHECK_EQ(chmod(path, 0755), 0);
	CHECK_EQ(spice_connect_dir_open(NULL, base, dir, sizeof(dir), err, sizeof(err)), -1);
	CHECK(strstr(err, "its mode is 0755, not 0700") != NULL);
	CHECK(!strchr(err, '\n'));
	CHECK_EQ(chmod(path, 0700), 0);

	/* Someone else's (a test as root can make one). */
	if (geteuid() == 0) {
		CHECK_EQ(chown(path, 12345, 12345), 0);
		CHECK_EQ(spice_connect_dir_open(NULL, base, dir, sizeof(dir), err, sizeof(err)), -1);
		CHECK(strstr(err, "belongs to uid 12345, not to you") != NULL);
	}
	CHECK_EQ(rmdir(path), 0);

	/* A symlink to a private directory of ours is still refused: it may
	 * point elsewhere by the time the file is made. */
	CHECK_EQ(symlink(target, path), 0);
	CHECK_EQ(spice_connect_dir_open(NULL, base, dir, sizeof(dir), err, sizeof(err)), -1);
	CHECK(strstr(err, "not a directory (a symlink?)") != NULL);
	CHECK_EQ(unlink(path), 0);
	/* A file. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_EQ(spice_connect_dir_open(NULL, base, dir, sizeof(dir), err, sizeof(err)), -1);
	CHECK(strstr(err, "refusing") != NULL);
	CHECK_EQ(unlink(path), 0);
	CHECK_EQ(rmdir(target), 0);
	CHECK_EQ(rmdir(base), 0);
}

/* ---- the file ---- */

static void test_write_and_remove(void)
{
	struct spice_connect_file f;
	struct spice_options o;
	char base[64], path[128], arg[200];
	mode_t old_umask;

	CHECK(temp_dir(base, sizeof(base)));
	snprintf(path, sizeof(path), "%s/vm.vv", base);
	snprintf(arg, sizeof(arg), ":5900,connect-file=%s", path);
	CHECK(settled(&o, arg, NULL));
	/* 0600 whatever the umask: 0 would otherwise leave it 0666. */
	old_umask = umask(0);
	CHECK_EQ(spice_connect_file_write(&f, &o, base, err, sizeof(err)), 0);
	umask(old_umask);
	CHECK(!strcmp(f.path, path));
	CHECK_EQ(mode_of(path), 0600);
	CHECK(strstr(read_all(path), "\nport=5900\n") != NULL);
	CHECK(strstr(read_all(path), o.password) != NULL);
	spice_connect_file_remove(&f);
	CHECK(gone(path));
	spice_connect_file_remove(&f);   /* idempotent */

	/* Replaced meanwhile (by the user, say): not ours to remove. The
	 * new file exists before the old goes, so it is another inode. */
	CHECK_EQ(spice_connect_file_write(&f, &o, base, err, sizeof(err)), 0);
	snprintf(arg, sizeof(arg), "%s.new", path);
	CHECK(fclose(fopen(arg, "w")) == 0);
	CHECK_EQ(rename(arg, path), 0);
	spice_connect_file_remove(&f);
	CHECK(!gone(path));
	CHECK_EQ(unlink(path), 0);
	CHECK_EQ(rmdir(base), 0);
}

/* Without connect-file: gvmm-PID.vv in $XDG_RUNTIME_DIR, where a file an
 * earlier gvmm with our pid left is replaced. */
static void test_default_place(void)
{
	struct spice_connect_file f;
	struct spice_options o;
	char xdg[64], base[64], path[128];
	const char *old = getenv("XDG_RUNTIME_DIR");
	char *saved = old ? strdup(old) : NULL;
	FILE *stale;

	CHECK(temp_dir(xdg, sizeof(xdg)));
	CHECK(temp_dir(base, sizeof(base)));
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	snprintf(path, sizeof(path), "%s/gvmm-%d.vv", xdg, (int)getpid());
	stale = fopen(path, "w");
	CHECK(stale != NULL);
	if (stale)
		fclose(stale);
	CHECK(settled(&o, ":5900", NULL));
	CHECK_EQ(spice_connect_file_write(&f, &o, base, err, sizeof(err)), 0);
	CHECK(!strcmp(f.path, path));
	CHECK_EQ(mode_of(path), 0600);
	CHECK(strstr(read_all(path), o.password) != NULL);
	spice_connect_file_remove(&f);
	CHECK(gone(path));
	if (saved)
		setenv("XDG_RUNTIME_DIR", saved, 1);
	else
		unsetenv("XDG_RUNTIME_DIR");
	free(saved);
	CHECK_EQ(rmdir(xdg), 0);
	CHECK_EQ(rmdir(base), 0);
}

/* A symlink planted at connect-file is refused, not followed: its target
 * is neither made nor written. So is a file already there. */
static void test_planted_symlink_refused(void)
{
	struct spice_connect_file f;
	struct spice_options o;
	char base[64], path[128], target[128], arg[200];

	CHECK(temp_dir(base, sizeof(base)));
	snprintf(path, sizeof(path), "%s/vm.vv", base);
	snprintf(target, sizeof(target), "%s/target", base);
	CHECK_EQ(symlink(target, path), 0);
	snprintf(arg, sizeof(arg), ":5900,connect-file=%s", path);
	CHECK(settled(&o, arg, NULL));
	CHECK_EQ(spice_connect_file_write(&f, &o, base, err, sizeof(err)), -1);
	CHECK(strstr(err, "exists (as a file or a symlink)") != NULL);
	CHECK(!strchr(err, '\n'));
	CHECK(gone(target));
	CHECK_EQ(f.path[0], 0);
	spice_connect_file_remove(&f);
	CHECK(!gone(path));   /* the symlink stays: not ours either */
	CHECK_EQ(unlink(path), 0);

	/* A symlink to an existing file: the file keeps its text. */
	CHECK(fclose(fopen(target, "w")) == 0);
	CHECK_EQ(symlink(target, path), 0);
	CHECK_EQ(spice_connect_file_write(&f, &o, base, err, sizeof(err)), -1);
	CHECK(!strcmp(read_all(target), ""));
	CHECK_EQ(unlink(path), 0);
	/* A regular file. */
	CHECK_EQ(rename(target, path), 0);
	CHECK_EQ(spice_connect_file_write(&f, &o, base, err, sizeof(err)), -1);
	CHECK(!strcmp(read_all(path), ""));
	CHECK_EQ(unlink(path), 0);
	CHECK_EQ(rmdir(base), 0);
}

TEST_MAIN("spice_connect_file",
	TEST_CASE(test_format),
	TEST_CASE(test_dir_xdg_runtime),
	TEST_CASE(test_dir_in_tmp_refused),
	TEST_CASE(test_write_and_remove),
	TEST_CASE(test_default_place),
	TEST_CASE(test_planted_symlink_refused))
