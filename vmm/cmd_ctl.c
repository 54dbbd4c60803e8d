/* `gvmm ctl PATH COMMAND`: sends one request to the gvmm listening on
 * --api-socket PATH and prints the result. Exit status 0 when gvmm did it,
 * 1 when gvmm answered with an error, 2 on bad usage or when no answer
 * came (no socket, nobody listening, a garbled or missing response). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
		"  vcpus      where each vCPU is, for a guest that stopped making progress:\n"
		"             its state (running or halted), rip and where the guest's page\n"
		"             tables map it (rip_gpa), rsp, rflags, whether interrupts are\n"
		"             on, its privilege level (cpl), cr3, and the vectors its local\n"
		"             APIC has requested (irr) and in service (isr), highest first;\n"
		"             the vCPUs are paused for a moment while they are read\n"
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

/* Sends one request on fd and reads its answer into response (which the
 * parts of *r point into). Returns 0, 1 when gvmm refused it (the reason
 * printed), or EXIT_USAGE when no usable answer came (said so). */
static int ctl_request(int fd, const char *path, const char *command, long from,
		       char *response, size_t cap, struct ctl_response *r)
{
	char request[JSON_REQUEST_MAX_LEN + 1], err[256];
	struct json_writer w;
	const char *text;
	ssize_t len;

	json_writer_init(&w, request, sizeof(request) - 1);
	json_write_object_begin(&w);
	json_write_key(&w, "command");
	json_write_string(&w, command);
	if (from >= 0) {
		json_write_key(&w, "from");
		json_write_uint(&w, (uint64_t)from);
	}
	json_write_object_end(&w);
	text = json_writer_finish(&w);
	if (!text)
		return usage_error("command '%s' is too long", command);
	len = strlen(text);
	request[len++] = '\n';

	if (ctl_send_all(fd, request, len) < 0)
		return usage_error("cannot send to %s: %s", path, strerror(errno));
	len = ctl_read_line(fd, response, cap);
	if (len < 0) {
		if (errno == 0)
			return usage_error("%s closed the connection without answering", path);
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return usage_error("no answer from %s within %d seconds", path,
					 CTL_TIMEOUT_S);
		return usage_error("reading from %s: %s", path, strerror(errno));
	}
	*r = (struct ctl_response){ .ok = -1 };
	if (json_object_scan(response, len, ctl_response_member, r, err, sizeof(err)) < 0)
		return usage_error("garbled response from %s: %s", path, err);
	if (r->ok < 0)
		return usage_error("garbled response from %s: no \"ok\"", path);
	if (!r->ok) {
		ctl_print_error(r->error[0] ? r->error : "gvmm refused the command");
		return 1;
	}
	return 0;
}

struct vcpus_page {
	struct json_value list;  /* the "vcpus" array */
	bool have_list;
	uint32_t total, next;
	bool have_total, have_next;
};

static int vcpus_page_member(void *ctx, const char *key, const struct json_value *value,
			     char *err, size_t errlen)
{
	struct vcpus_page *page = ctx;
	bool ok = true;

	if (strcmp(key, "vcpus") == 0) {
		ok = page->have_list = value->type == JSON_ARRAY;
		page->list = *value;
	} else if (strcmp(key, "total") == 0) {
		ok = page->have_total = json_uint_decode(value, &page->total) == 0;
	} else if (strcmp(key, "next") == 0) {
		ok = page->have_next = json_uint_decode(value, &page->next) == 0;
	}
	if (!ok)
		snprintf(err, errlen, "\"%s\" is not what gvmm sends", key);
	return ok ? 0 : -1;
}

/* gvmm answers vcpus a page at a time; this asks for every page on one
 * connection and prints them as one result, {"total":N,"vcpus":[...]}. */
static int ctl_vcpus(int fd, const char *path, char *response, size_t cap)
{
	struct ctl_response r;
	struct vcpus_page page;
	uint32_t from = 0, total = 0;
	size_t out_len = 0, out_cap = 4096;
	char *out = malloc(out_cap), err[256];
	int status = 0;

	if (!out)
		return usage_error("out of memory");
	for (;;) {
		status = ctl_request(fd, path, "vcpus", (long)from, response, cap, &r);
		if (status)
			break;
		page = (struct vcpus_page){ 0 };
		if (!r.have_result ||
		    json_object_scan(r.result.text, r.result.len, vcpus_page_member, &page,
				     err, sizeof(err)) < 0 ||
		    !page.have_list || !page.have_total) {
			status = usage_error("garbled vcpus answer from %s", path);
			break;
		}
		total = page.total;
		/* The array without its brackets, and a comma between pages. */
		const char *items = page.list.text + 1;
		size_t items_len = page.list.len - 2;

		while (items_len && (*items == ' ' || *items == '\n'))
			items++, items_len--;
		if (out_len + items_len + 2 > out_cap) {
			char *bigger;

			out_cap = (out_len + items_len + 2) * 2;
			bigger = realloc(out, out_cap);
			if (!bigger) {
				status = usage_error("out of memory");
				break;
			}
			out = bigger;
		}
		if (out_len && items_len)
			out[out_len++] = ',';
		memcpy(out + out_len, items, items_len);
		out_len += items_len;
		/* A "next" that does not move on would ask forever. */
		if (!page.have_next)
			break;
		if (page.next <= from || page.next >= total) {
			status = usage_error("garbled vcpus answer from %s: next %" PRIu32 " after %" PRIu32,
					     path, page.next, from);
			break;
		}
		from = page.next;
	}
	if (status == 0)
		printf("{\"total\":%" PRIu32 ",\"vcpus\":[%.*s]}\n", total, (int)out_len, out);
	free(out);
	return status;
}

int cmd_ctl(int argc, char **argv)
{
	static char response[CTL_RESPONSE_MAX];
	struct ctl_response r;
	const char *path;
	int fd, status;

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
	if (strlen(argv[2]) > JSON_COMMAND_MAX)
		return usage_error("command '%s' is too long", argv[2]);

	fd = ctl_connect(path);
	if (fd < 0)
		return usage_error("cannot connect to %s: %s", path, strerror(errno));
	if (strcmp(argv[2], "vcpus") == 0) {
		status = ctl_vcpus(fd, path, response, sizeof(response));
		close(fd);
		return status;
	}
	status = ctl_request(fd, path, argv[2], -1, response, sizeof(response), &r);
	close(fd);
	if (status)
		return status;
	if (r.have_result)
		printf("%.*s\n", (int)r.result.len, r.result.text);
	else
		printf("{}\n");
	return 0;
}
