/* The connection file for a ticketed TCP SPICE listener: virt-viewer's
 * ".vv" format, which `remote-viewer FILE` opens:
 *
 *   [virt-viewer]
 *   type=spice
 *   host=127.0.0.1
 *   port=5900            (absent with TLS only)
 *   tls-port=5901        (with TLS, and ca= the CA certificate)
 *   password=TICKET
 *   delete-this-file=0   (gvmm removes it when it ends; the viewer may
 *                         reconnect meanwhile)
 *   title=gvmm
 *
 * It holds the ticket, so it is created with mode 0600, new (O_EXCL),
 * never through a symlink someone planted (O_NOFOLLOW), in a directory
 * only its owner can write to:
 *   connect-file=PATH       exactly there; an existing PATH is refused
 *   $XDG_RUNTIME_DIR        when set to a directory of ours with mode 0700,
 *                           as gvmm-PID.vv
 *   /tmp/gvmm-UID/          otherwise, made with mode 0700; refused when it
 *                           exists and is not a directory of ours with mode
 *                           0700 (a symlink, say), as gvmm-PID.vv */
#ifndef GVMM_SPICE_CONNECT_FILE_H
#define GVMM_SPICE_CONNECT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spice_options.h"

struct spice_connect_file {
	char path[1100];       /* empty: none made, or removed */
	dev_t dev;             /* the file we made, to remove only it */
	ino_t ino;
};

/* Writes the file for o (settled, TCP, with a ticket). The default
 * directory comes from $XDG_RUNTIME_DIR, else tmp_base/gvmm-UID
 * (tmp_base: "/tmp"). Returns 0, or -1 with one line in err. */
int spice_connect_file_write(struct spice_connect_file *f, const struct spice_options *o,
			     const char *tmp_base, char *err, size_t errlen);
/* Removes the file, if it is still the one written. Idempotent. */
void spice_connect_file_remove(struct spice_connect_file *f);

/* ---- parts, for tests ---- */

/* The default directory, as described above, opened (O_DIRECTORY |
 * O_NOFOLLOW) and checked; its path into dir. Returns the fd, or -1 with
 * one line in err. */
int spice_connect_dir_open(const char *xdg_runtime_dir, const char *tmp_base, char *dir,
			   size_t size, char *err, size_t errlen);

/* The file's text for o, with ca_pem (NULL: none) as the CA certificate.
 * Returns its length, or -1 when it does not fit size. Pure. */
int spice_connect_file_format(const struct spice_options *o, const char *ca_pem, char *out,
			      size_t size);

#endif
