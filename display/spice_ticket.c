/* The SPICE ticket (display/spice_ticket.h): read from a private file,
 * taken from the environment, or made up from getrandom. */
#include "spice_ticket.h"
#include "../vmm/error_text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* 18 random bytes make 24 base64url characters: 144 bits. */
#define GENERATED_BYTES ((SPICE_TICKET_GENERATED_LEN / 4) * 3)

int spice_ticket_generate(char out[SPICE_TICKET_GENERATED_LEN + 1])
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t bytes[GENERATED_BYTES];
	size_t got = 0;

	while (got < sizeof(bytes)) {
		ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	for (unsigned i = 0, o = 0; i < sizeof(bytes); i += 3) {
		uint32_t v = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8 | bytes[i + 2];

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	out[SPICE_TICKET_GENERATED_LEN] = 0;
	explicit_bzero(bytes, sizeof(bytes));
	return 0;
}

/* The first line of path into out (size bytes). The file must be its
 * owner's alone: a password others can read guards nothing, and saying
 * so beats finding out later. A pipe (password-file=<(pass show spice))
 * is fine: its mode is 0600. */
static int read_password_file(const char *path, char *out, size_t size, char *err,
			      size_t errlen)
{
	char buf[SPICE_PASSWORD_MAX + 3];   /* the longest line, "\r\n", one more */
	size_t len = 0;
	struct stat st;
	char *nl = NULL;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return write_error(err, errlen, "password-file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		write_error(err, errlen, "password-file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		write_error(err, errlen, "password-file %s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		write_error(err, errlen, "password-file %s can be read by other users (mode %04o): "
			    "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (len < sizeof(buf) && !(nl = memchr(buf, '\n', len))) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			write_error(err, errlen, "password-file %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!nl)
		nl = memchr(buf, '\n', len);
	/* Without a newline in reach, len is the whole buffer: too long. */
	if (nl) {
		len = (size_t)(nl - buf);
		if (len && buf[len - 1] == '\r')
			len--;
	}
	if (!len) {
		write_error(err, errlen, "password-file %s: the first line is empty", path);
		goto out;
	}
	if (len > SPICE_PASSWORD_MAX || len >= size) {
		write_error(err, errlen, "password-file %s: the password is longer than the %d bytes "
			    "SPICE allows", path, SPICE_PASSWORD_MAX);
		goto out;
	}
	if (memchr(buf, 0, len)) {
		write_error(err, errlen, "password-file %s: the password holds a NUL byte", path);
		goto out;
	}
	memcpy(out, buf, len);
	out[len] = 0;
	ret = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return ret;
}

int spice_ticket_settle(struct spice_options *o, const char *env_password, char *err,
			size_t errlen)
{
	bool is_unix = o->unix_path[0] != 0;

	if (o->password_file[0]) {
		if (read_password_file(o->password_file, o->password, sizeof(o->password), err,
				       errlen) < 0)
			return -1;
		o->ticket = SPICE_TICKET_CHOSEN;
		return 0;
	}
	if (o->password[0]) {
		o->ticket = SPICE_TICKET_CHOSEN;
		return 0;
	}
	if (o->disable_ticketing) {
		o->ticket = SPICE_TICKET_NONE;
		return 0;
	}
	if (env_password && *env_password) {
		if (strlen(env_password) > SPICE_PASSWORD_MAX)
			return write_error(err, errlen, "GVMM_SPICE_PASSWORD is longer than the %d bytes "
				    "SPICE allows", SPICE_PASSWORD_MAX);
		strcpy(o->password, env_password);
		o->ticket = SPICE_TICKET_CHOSEN;
		return 0;
	}
	if (is_unix) {
		o->ticket = SPICE_TICKET_NONE;
		return 0;
	}
	/* A made-up ticket sits in a file on this machine; a viewer on
	 * another one needs a password the user chose and can hand over. */
	if (!spice_addr_is_loopback(o->addr))
		return write_error(err, errlen, "listening on %s lets other machines connect: choose "
			    "their password with password-file=PATH or GVMM_SPICE_PASSWORD (or "
			    "disable-ticketing if you mean it)", o->addr);
	if (spice_ticket_generate(o->password) < 0)
		return write_error(err, errlen, "cannot make a SPICE ticket: getrandom: %s",
			    strerror(errno));
	o->ticket = SPICE_TICKET_GENERATED;
	return 0;
}
