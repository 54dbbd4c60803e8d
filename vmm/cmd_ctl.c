/* `gvmm ctl PATH COMMAND`: sends one request to the gvmm listening on
 * --api-socket PATH and prints the result. Exit status 0 when gvmm did it,
 * 1 when gvmm answered with an error, 2 on bad usage or when no answer
 * came (no socket, nobody listening, a garbled or missing response). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli_parse.h"
#include "commands.h"
#include "json_request.h"

#define CTL_TIMEOUT_S      30
#define CTL_RESPONSE_MAX   65536
#define CTL_ERROR_MAX      1024

static void print_ctl_usage(FILE *out)
{
	fprintf(out,
		"usage: gvmm ctl PATH COMMAND\n"
		"\n"
		"Sends COMMAND to the gvmm started with --api-socket PATH and prints the\n"
		"result as JSON.\n"
		"\n"
		"Commands:\n"
		"  status     running or paused, vCPUs, memory and devices; with --spice\n"
		"             also the display: whether a client watches, and per output\n"
		"             its size, the rectangles the GPU handed over (updates) and\n"
		"             the pictures passed on to be shown (sent)\n"
		"  pause      stop the vCPUs where they are\n"
		"  resume     let paused vCPUs run again\n"
		"  powerdown  press the ACPI power button: the guest shuts down cleanly\n"
		"  quit       stop the VM now; gvmm exits with status 0\n"
		"\n"
		"Exit status: 0 done, 1 gvmm refused the command (the reason is printed),\n"
		"2 bad usage, or no answer from PATH.\n");
}


static int ctl_connect(const char *path)
{
	struct timeval timeout = { .tv_sec = CTL_TIMEOUT_S };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A gvmm that stopped serving must not hang the caller forever. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) < 0 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int ctl_send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/* Reads up to the first newline. Returns the line's length, or -1 with
 * errno (0 when the connection closed before any newline). */
static ssize_t ctl_read_line(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		char *nl;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = 0;
			return -1;
		}
		nl = memchr(buf + len, '\n', n);
		len += n;
		if (nl)
			return nl - buf;
	}
	errno = EMSGSIZE;
	return -1;
}

struct ctl_response {
	int ok;  /* -1 until seen */
	struct json_value result;
	bool have_result;
	char error[CTL_ERROR_MAX];
};

static int ctl_response_member(void *ctx, const char *key, const struct json_value *value,
			       char *err, size_t errlen)
{
	struct ctl_response *r = ctx;

	if (strcmp(key, "ok") == 0) {
		if (value->type != JSON_TRUE && value->type != JSON_FALSE) {
			snprintf(err, errlen, "\"ok\" is not true or false");
			return -1;
		}
		r->ok = value->type == JSON_TRUE;
	} else if (strcmp(key, "result") == 0) {
		r->result = *value;
		r->have_result = true;
	} else if (strcmp(key, "error") == 0) {
		if (json_string_decode(value, r->error, sizeof(r->error)) < 0)
			snprintf(r->error, sizeof(r->error), "(an error gvmm could not put in words)");
	}
	return 0;
}

/* The message came over a socket: keep its control characters off the
 * terminal. */
static void ctl_print_error(const char *message)
{
	fputs("gvmm: error: ", stderr);
	for (const char *p = message; *p; p++)
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, stderr);
	fputc('\n', stderr);
}

int cmd_ctl(int argc, char **argv)
{
	static char response[CTL_RESPONSE_MAX];
	struct ctl_response r = { .ok = -1 };
	char request[JSON_REQUEST_MAX_LEN + 1], err[256];
	struct json_writer w;
	const char *path, *text;
	ssize_t len;
	int fd;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			print_ctl_usage(stdout);
			return 0;
		}
	}
	if (argc != 3) {
		print_ctl_usage(stderr);
		return EXIT_USAGE;
	}
	path = argv[1];

	json_writer_init(&w, request, sizeof(request) - 1);
	json_write_object_begin(&w);
	json_write_key(&w, "command");
	json_write_string(&w, argv[2]);
	json_write_object_end(&w);
	text = json_writer_finish(&w);
	if (!text)
		return usage_error("command '%s' is too long", argv[2]);
	len = strlen(text);
	request[len++] = '\n';

	fd = ctl_connect(path);
	if (fd < 0)
		return usage_error("cannot connect to %s: %s", path, strerror(errno));
	if (ctl_send_all(fd, request, len) < 0) {
		close(fd);
		return usage_error("cannot send to %s: %s", path, strerror(errno));
	}
	len = ctl_read_line(fd, response, sizeof(response));
	close(fd);
	if (len < 0) {
		if (errno == 0)
			return usage_error("%s closed the connection without answering", path);
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return usage_error("no answer from %s within %d seconds", path,
					 CTL_TIMEOUT_S);
		return usage_error("reading from %s: %s", path, strerror(errno));
	}
	if (json_object_scan(response, len, ctl_response_member, &r, err, sizeof(err)) < 0)
		return usage_error("garbled response from %s: %s", path, err);
	if (r.ok < 0)
		return usage_error("garbled response from %s: no \"ok\"", path);
	if (!r.ok) {
		ctl_print_error(r.error[0] ? r.error : "gvmm refused the command");
		return 1;
	}
	if (r.have_result)
		printf("%.*s\n", (int)r.result.len, r.result.text);
	else
		printf("{}\n");
	return 0;
}
