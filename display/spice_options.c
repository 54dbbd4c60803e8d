/* The --spice option (display/spice_options.h): where to listen, then
 * comma-separated KEY=VALUE settings, then the checks that need them all
 * (TLS needs its certificates, one password source at most, ...). The
 * ticket itself, and the rule that a listener other machines can reach
 * needs a password the user chose, wait for spice_ticket_settle: the
 * password may come from a file or the environment. */
#include "spice_options.h"
#include "../vmm/error_text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SPICE_DEFAULT_REFRESH_HZ 60
#define SPICE_MAX_REFRESH_HZ     240

/* A decimal number in [min, max], the whole of text. */
static bool parse_number(const char *text, unsigned long min, unsigned long max,
			 unsigned long *out)
{
	char *end;
	unsigned long v;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int parse_port(const char *text, const char *what, uint16_t *out, char *err,
		      size_t errlen)
{
	unsigned long v;

	if (!*text) {
		snprintf(err, errlen, "missing %s: use ADDR:PORT, :PORT or unix:PATH", what);
		return -1;
	}
	if (!parse_number(text, 1, 65535, &v)) {
		snprintf(err, errlen, "%s '%s' is not a number from 1 to 65535", what, text);
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

/* The listening part: unix:PATH, :PORT, ADDR:PORT or [IPV6]:PORT, or
 * ADDR / [IPV6] alone (port 0), which only TLS-only may be: checked once
 * the settings are known. */
static int parse_listen(const char *text, struct spice_options *out, char *err,
			size_t errlen)
{
	const char *colon;
	size_t addr_len;

	if (!strncmp(text, "unix:", 5)) {
		const char *path = text + 5;

		if (!*path)
			return write_error(err, errlen, "unix: needs a socket path, e.g. unix:/run/gvmm.spice");
		/* spice-server would make '@' an abstract socket: no file, so
		 * no permissions, and any local user could drive the guest. */
		if (path[0] == '@')
			return write_error(err, errlen, "unix:@NAME would be an abstract socket, which any "
				    "local user can reach: give a file path");
		if (strlen(path) >= sizeof(out->unix_path))
			return write_error(err, errlen, "the socket path is longer than the %zu bytes a unix socket allows",
				    sizeof(out->unix_path) - 1);
		strcpy(out->unix_path, path);
		return 0;
	}
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close)
			return write_error(err, errlen, "'%s' has no closing ']' for its IPv6 address", text);
		if (close[1] != ':' && close[1])
			return write_error(err, errlen, "missing port after '%.*s': use [ADDR]:PORT",
				    (int)(close - text + 1), text);
		addr_len = (size_t)(close - text - 1);
		if (addr_len == 0)
			return write_error(err, errlen, "empty address in []: use [ADDR]:PORT or :PORT");
		if (addr_len >= sizeof(out->addr))
			return write_error(err, errlen, "the address is too long");
		memcpy(out->addr, text + 1, addr_len);
		out->addr[addr_len] = 0;
		if (!close[1])
			return 0;
		return parse_port(close + 2, "port", &out->port, err, errlen);
	}
	colon = strrchr(text, ':');
	if (!colon) {
		if (strlen(text) >= sizeof(out->addr))
			return write_error(err, errlen, "the address is too long");
		strcpy(out->addr, text);
		return 0;
	}
	addr_len = (size_t)(colon - text);
	if (memchr(text, ':', addr_len))
		return write_error(err, errlen, "write an IPv6 address in brackets: [ADDR]:PORT");
	if (addr_len >= sizeof(out->addr))
		return write_error(err, errlen, "the address is too long");
	if (addr_len == 0) {
		strcpy(out->addr, "127.0.0.1");
	} else {
		memcpy(out->addr, text, addr_len);
		out->addr[addr_len] = 0;
	}
	return parse_port(colon + 1, "port", &out->port, err, errlen);
}

/* Copies a string value that must fit and not be empty. */
static int copy_value(char *dst, size_t size, const char *key, const char *value,
		      char *err, size_t errlen)
{
	if (!*value) {
		snprintf(err, errlen, "%s= needs a value", key);
		return -1;
	}
	if (strlen(value) >= size) {
		snprintf(err, errlen, "the %s value is longer than %zu bytes", key, size - 1);
		return -1;
	}
	strcpy(dst, value);
	return 0;
}

/* Which keys were given, to refuse one given twice. */
enum {
	SEEN_PASSWORD = 1 << 0, SEEN_NOTICKET = 1 << 1, SEEN_TLS_PORT = 1 << 2,
	SEEN_X509 = 1 << 3, SEEN_CODEC = 1 << 4, SEEN_STREAMING = 1 << 5,
	SEEN_REFRESH = 1 << 6, SEEN_PASSWORD_FILE = 1 << 7, SEEN_CONNECT_FILE = 1 << 8,
	SEEN_PLAINTEXT = 1 << 9, SEEN_GL = 1 << 10,
};

/* on or off. */
static int parse_switch(const char *key, const char *value, bool *out, char *err,
			size_t errlen)
{
	if (!strcmp(value, "on"))
		*out = true;
	else if (!strcmp(value, "off"))
		*out = false;
	else
		return write_error(err, errlen, "%s '%s': use on or off", key, value);
	return 0;
}

static int parse_setting(char *key, struct spice_options *out, unsigned *seen, char *err,
			 size_t errlen)
{
	char *value = strchr(key, '=');
	unsigned bit;
	unsigned long n;

	if (value)
		*value++ = 0;
	if (!strcmp(key, "password"))
		bit = SEEN_PASSWORD;
	else if (!strcmp(key, "password-file"))
		bit = SEEN_PASSWORD_FILE;
	else if (!strcmp(key, "connect-file"))
		bit = SEEN_CONNECT_FILE;
	else if (!strcmp(key, "plaintext"))
		bit = SEEN_PLAINTEXT;
	else if (!strcmp(key, "disable-ticketing"))
		bit = SEEN_NOTICKET;
	else if (!strcmp(key, "tls-port"))
		bit = SEEN_TLS_PORT;
	else if (!strcmp(key, "x509-dir"))
		bit = SEEN_X509;
	else if (!strcmp(key, "video-codec"))
		bit = SEEN_CODEC;
	else if (!strcmp(key, "streaming-video"))
		bit = SEEN_STREAMING;
	else if (!strcmp(key, "refresh-rate"))
		bit = SEEN_REFRESH;
	else if (!strcmp(key, "gl"))
		bit = SEEN_GL;
	else
		return write_error(err, errlen, "unknown option '%s': known are password-file, password, "
			    "disable-ticketing, connect-file, tls-port, x509-dir, plaintext, video-codec, "
			    "streaming-video, refresh-rate, gl", key);
	if (*seen & bit)
		return write_error(err, errlen, "%s is given twice", key);
	*seen |= bit;

	if (bit == SEEN_NOTICKET) {
		if (value)
			return write_error(err, errlen, "%s takes no value", key);
		out->disable_ticketing = true;
		return 0;
	}
	if (!value)
		return write_error(err, errlen, "%s needs a value: KEY=VALUE", key);
	switch (bit) {
	case SEEN_PASSWORD:
		if (strlen(value) > SPICE_PASSWORD_MAX)
			return write_error(err, errlen, "the password is longer than the %d bytes SPICE "
				    "allows", SPICE_PASSWORD_MAX);
		return copy_value(out->password, sizeof(out->password), key, value, err, errlen);
	case SEEN_PASSWORD_FILE:
		return copy_value(out->password_file, sizeof(out->password_file), key, value, err,
				  errlen);
	case SEEN_CONNECT_FILE:
		return copy_value(out->connect_file, sizeof(out->connect_file), key, value, err,
				  errlen);
	case SEEN_PLAINTEXT:
		return parse_switch(key, value, &out->plaintext, err, errlen);
	case SEEN_TLS_PORT:
		return parse_port(value, "tls-port", &out->tls_port, err, errlen);
	case SEEN_X509:
		return copy_value(out->x509_dir, sizeof(out->x509_dir), key, value, err, errlen);
	case SEEN_CODEC:
		return copy_value(out->video_codecs, sizeof(out->video_codecs), key, value, err,
				  errlen);
	case SEEN_GL: {
		bool on = false;

		if (parse_switch(key, value, &on, err, errlen) < 0)
			return -1;
		out->gl = on ? SPICE_GL_ON : SPICE_GL_OFF;
		return 0;
	}
	case SEEN_STREAMING:
		if (!strcmp(value, "filter"))
			out->streaming = SPICE_STREAMING_FILTER;
		else if (!strcmp(value, "off"))
			out->streaming = SPICE_STREAMING_OFF;
		else if (!strcmp(value, "all"))
			out->streaming = SPICE_STREAMING_ALL;
		else
			return write_error(err, errlen, "streaming-video '%s' is not off, all or filter", value);
		return 0;
	default: /* SEEN_REFRESH */
		if (!parse_number(value, 1, SPICE_MAX_REFRESH_HZ, &n))
			return write_error(err, errlen, "refresh-rate '%s' is not a number of updates a second "
				    "from 1 to 240", value);
		out->refresh_hz = (unsigned)n;
		return 0;
	}
}

/* The rules that tie settings together. */
static int check_combination(const struct spice_options *o, unsigned seen, char *err,
			     size_t errlen)
{
	bool is_unix = o->unix_path[0] != 0;

	if (!is_unix && !o->port && !o->tls_port)
		return write_error(err, errlen, "missing port in '%s': use ADDR:PORT, :PORT or unix:PATH "
			    "(ADDR alone is for TLS only, with tls-port=PORT)", o->addr);
	if (o->password[0] && o->password_file[0])
		return write_error(err, errlen, "password= and password-file= are two passwords: give one");
	if ((o->password[0] || o->password_file[0]) && o->disable_ticketing)
		return write_error(err, errlen, "%s and disable-ticketing contradict each other: "
			    "give one", o->password[0] ? "password=" : "password-file=");
	if (o->connect_file[0] && is_unix)
		return write_error(err, errlen, "connect-file is for TCP: a unix socket needs no ticket, "
			    "its file mode guards it");
	if (o->connect_file[0] && o->disable_ticketing)
		return write_error(err, errlen, "connect-file carries the password, and "
			    "disable-ticketing has none: connect to the spice:// address");
	if (o->tls_port && !o->x509_dir[0])
		return write_error(err, errlen, "tls-port needs x509-dir=DIR holding ca-cert.pem, "
			    "server-cert.pem and server-key.pem");
	if (o->x509_dir[0] && !o->tls_port)
		return write_error(err, errlen, "x509-dir is only used with tls-port=PORT");
	if (is_unix && o->tls_port)
		return write_error(err, errlen, "tls-port needs a TCP address, not unix:");
	if (!is_unix && o->tls_port == o->port)
		return write_error(err, errlen, "tls-port must differ from the plain port");
	/* spice-server sends GL scanouts to clients on a unix socket only,
	 * and drops any other client while one is shown. */
	if (o->gl == SPICE_GL_ON && !is_unix)
		return write_error(err, errlen, "gl=on needs a unix:PATH socket: SPICE hands GL "
			    "frames (dmabufs) only to clients on this host");
	if ((seen & SEEN_PLAINTEXT) && !o->tls_port)
		return write_error(err, errlen, "plaintext= is only used with tls-port=PORT");
	if (o->plaintext && !o->port)
		return write_error(err, errlen, "plaintext=on needs a plain port too: ADDR:PORT,"
			    "tls-port=PORT");
	return 0;
}

int spice_options_parse(const char *arg, struct spice_options *out, char *err, size_t errlen)
{
	char *copy, *item, *save = NULL;
	unsigned seen = 0;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	out->streaming = SPICE_STREAMING_FILTER;
	out->refresh_hz = SPICE_DEFAULT_REFRESH_HZ;
	if (!arg || !*arg)
		return write_error(err, errlen, "empty: use ADDR:PORT, :PORT or unix:PATH");
	copy = strdup(arg);
	if (!copy)
		return write_error(err, errlen, "out of memory");

	item = strtok_r(copy, ",", &save);
	if (!item || arg[0] == ',') {
		write_error(err, errlen, "missing address: use ADDR:PORT, :PORT or unix:PATH");
		goto out;
	}
	if (parse_listen(item, out, err, errlen) < 0)
		goto out;
	while ((item = strtok_r(NULL, ",", &save)))
		if (parse_setting(item, out, &seen, err, errlen) < 0)
			goto out;
	ret = check_combination(out, seen, err, errlen);
out:
	free(copy);
	return ret;
}

bool spice_addr_is_loopback(const char *addr)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (!strcasecmp(addr, "localhost") || !strcasecmp(addr, "localhost."))
		return true;
	if (inet_pton(AF_INET, addr, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &v6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&v6))
			return true;
		/* ::ffff:127.x.y.z reaches the IPv4 loopback. */
		return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
	}
	return false;
}
