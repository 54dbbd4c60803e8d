/* A private listening unix socket: mode 0600 whatever the umask, only a
 * stale socket replaced, everything else at the path refused and left as
 * it was, and only our own file removed at the end. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../vmm/unix_listener.h"

static char dir[64], path[100], err[256];

static bool setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/gvmm-unix-test-XXXXXX");
	if (!mkdtemp(dir))
		return false;
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	return true;
}

static void cleanup(void)
{
	unlink(path);
	CHECK_EQ(rmdir(dir), 0);
}

/* A socket bound at path by someone else; listening or not (stale). */
static int other_socket(bool listening)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (listening && listen(fd, 1) < 0)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static bool can_connect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void test_private_whatever_the_umask(void)
{
	struct unix_listener l;
	struct stat st;
	mode_t old;

	if (!setup()) {
		CHECK(!"a temporary directory");
		return;
	}
	old = umask(0);
	CHECK_EQ(unix_listener_open(&l, path, 4, err, sizeof(err)), 0);
	umask(old);
	CHECK_EQ(lstat(path, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK(can_connect());
	unix_listener_close(&l);
	CHECK(lstat(path, &st) < 0 && errno == ENOENT);
	unix_listener_close(&l);   /* idempotent */
	cleanup();
}

static void test_only_a_stale_socket_is_replaced(void)
{
	struct unix_listener l;
	char want[200];
	struct stat st;
	int fd;

	if (!setup()) {
		CHECK(!"a temporary directory");
		return;
	}
	/* A regular file: refused, left as it was. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "keep", 4), 4);
	close(fd);
	CHECK_EQ(unix_listener_open(&l, path, 4, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s exists and is not a socket", path);
	CHECK(!strcmp(err, want));
	CHECK_EQ(l.fd, -1);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4);
	CHECK_EQ(unlink(path), 0);

	/* A symlink (to a socket or not): refused, left. */
	CHECK_EQ(symlink("/nonexistent", path), 0);
	CHECK_EQ(unix_listener_open(&l, path, 4, err, sizeof(err)), -1);
	CHECK(!strcmp(err, want));
	CHECK(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK_EQ(unlink(path), 0);

	/* A live socket: someone else's, refused. */
	fd = other_socket(true);
	CHECK(fd >= 0);
	CHECK_EQ(unix_listener_open(&l, path, 4, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "another program is listening on %s", path);
	CHECK(!strcmp(err, want));
	CHECK(can_connect());
	close(fd);

	/* Now stale (its owner gone): replaced. */
	CHECK(!can_connect());
	CHECK_EQ(unix_listener_open(&l, path, 4, err, sizeof(err)), 0);
	CHECK(can_connect());
	unix_listener_close(&l);
	cleanup();
}

/* The file was replaced while we listened: closing leaves the new one. */
static void test_close_removes_only_ours(void)
{
	struct unix_listener l;
	struct stat st;
	int fd;

	if (!setup()) {
		CHECK(!"a temporary directory");
		return;
	}
	CHECK_EQ(unix_listener_open(&l, path, 4, err, sizeof(err)), 0);
	CHECK_EQ(unlink(path), 0);
	fd = other_socket(true);
	CHECK(fd >= 0);
	unix_listener_close(&l);
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	if (fd >= 0)
		close(fd);
	cleanup();
}

static void test_bad_paths(void)
{
	struct unix_listener l;
	char longpath[200];

	CHECK_EQ(unix_listener_open(&l, "", 4, err, sizeof(err)), -1);
	CHECK(strstr(err, "empty") != NULL);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	CHECK_EQ(unix_listener_open(&l, longpath, 4, err, sizeof(err)), -1);
	CHECK(strstr(err, "path too long (at most 107 bytes)") != NULL);
	CHECK_EQ(unix_listener_open(&l, "/nonexistent-dir/s", 4, err, sizeof(err)), -1);
	CHECK(strstr(err, "No such file or directory") != NULL);
	CHECK_EQ(l.fd, -1);
}

TEST_MAIN("unix_listener",
	TEST_CASE(test_private_whatever_the_umask),
	TEST_CASE(test_only_a_stale_socket_is_replaced),
	TEST_CASE(test_close_removes_only_ours),
	TEST_CASE(test_bad_paths))
