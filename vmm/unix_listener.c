/* A private listening unix socket (vmm/unix_listener.h). */
#include "unix_listener.h"
#include "error_text.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void fill_addr(struct sockaddr_un *addr, const char *path)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, path, strlen(path) + 1);
}

/* bind() found a file at path. A socket nobody listens on (connect is
 * refused) is removed; anything else stays and is refused. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr;
	struct stat st;
	int probe, ret, e;

	if (lstat(path, &st) < 0)
		return 0;  /* gone already: bind again */
	if (!S_ISSOCK(st.st_mode))
		return write_error(err, errlen, "%s exists and is not a socket", path);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return write_error(err, errlen, "%s: socket: %s", path, strerror(errno));
	fill_addr(&addr, path);
	ret = connect(probe, (struct sockaddr *)&addr, sizeof(addr));
	e = errno;
	close(probe);
	/* EAGAIN: a listener whose backlog is full, so alive. */
	if (ret == 0 || e == EAGAIN || e == EINPROGRESS)
		return write_error(err, errlen, "another program is listening on %s", path);
	if (e != ECONNREFUSED)
		return write_error(err, errlen, "%s: cannot tell whether it is in use: %s", path,
			    strerror(e));
	if (unlink(path) < 0 && errno != ENOENT)
		return write_error(err, errlen, "%s: cannot remove the stale socket: %s", path,
			    strerror(errno));
	return 0;
}

int unix_listener_open(struct unix_listener *l, const char *path, int backlog, char *err,
		       size_t errlen)
{
	struct sockaddr_un addr;
	struct stat st;
	int ret;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (!path || !*path)
		return write_error(err, errlen, "the socket path is empty");
	if (strlen(path) >= sizeof(addr.sun_path))
		return write_error(err, errlen, "%s: path too long (at most %zu bytes)", path,
			    sizeof(addr.sun_path) - 1);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return write_error(err, errlen, "%s: socket: %s", path, strerror(errno));
	/* Linux gives the file bind() creates the socket inode's mode, less
	 * the umask: set here, the file never exists with wider permissions,
	 * and the process umask, shared with other threads, stays untouched. */
	if (fchmod(l->fd, 0600) < 0) {
		write_error(err, errlen, "%s: fchmod: %s", path, strerror(errno));
		goto fail;
	}
	fill_addr(&addr, path);
	ret = bind(l->fd, (struct sockaddr *)&addr, sizeof(addr));
	if (ret < 0 && errno == EADDRINUSE) {
		if (clear_stale(path, err, errlen) < 0)
			goto fail;
		ret = bind(l->fd, (struct sockaddr *)&addr, sizeof(addr));
	}
	if (ret < 0) {
		write_error(err, errlen, "%s: %s", path, errno == EADDRINUSE ?
			    "another program is using it" : strerror(errno));
		goto fail;
	}
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || (st.st_mode & 077)) {
		/* A kernel that ignored the fchmod: refuse rather than serve a
		 * socket others can reach. */
		unlink(path);
		write_error(err, errlen, "%s: cannot create it with mode 0600", path);
		goto fail;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	memcpy(l->path, path, strlen(path) + 1);
	if (listen(l->fd, backlog) < 0) {
		write_error(err, errlen, "%s: listen: %s", path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	unix_listener_close(l);
	return -1;
}

void unix_listener_close(struct unix_listener *l)
{
	struct stat st;

	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	/* Another process may have replaced the file meanwhile (after
	 * finding ours stale, say): leave theirs alone. */
	if (l->path[0] && lstat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(l->path);
	l->path[0] = 0;
}
