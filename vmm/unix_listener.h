/* A listening unix socket at a path, for this user only: the file is
 * created with mode 0600 whatever the umask, so no other local user can
 * connect at any moment. Only a stale socket (one nobody accepts on any
 * more, left by a process that died) is replaced; a live socket, or
 * anything that is not a socket, at the path is refused and left alone. */
#ifndef GVMM_UNIX_LISTENER_H
#define GVMM_UNIX_LISTENER_H

#include <stddef.h>
#include <sys/types.h>

struct unix_listener {
	int fd;                 /* non-blocking, close-on-exec; -1: closed */
	char path[108];         /* sun_path; empty once removed */
	dev_t dev;              /* the socket file we made, to remove only it */
	ino_t ino;
};

/* Binds and listens. Returns 0, or -1 with one line in err naming path
 * (the caller adds what the socket is for). */
int unix_listener_open(struct unix_listener *l, const char *path, int backlog, char *err,
		       size_t errlen);
/* Closes the socket and removes its file, if the file is still the one
 * we made. Idempotent. */
void unix_listener_close(struct unix_listener *l);

#endif
