#include "api_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error_text.h"
#include "log.h"

/* Room for one response line: the largest status (every device name and
 * address escaped at six bytes a byte) is under 10 KiB. */
#define API_RESPONSE_MAX   12288
/* Reads per wakeup, so one chatty client cannot hold the loop. */
#define API_READS_PER_EVENT 8

struct api_client {
	struct api_socket *server;
	int fd;
	unsigned slot;
	uint32_t events;  /* what the loop watches now */
	bool reading;     /* false after EOF, an oversized request or quit */
	bool closing;     /* close once the output is flushed */
	bool dead;        /* close before the callback returns */
	size_t in_len;
	char in[JSON_REQUEST_MAX_LEN + 1];  /* one request and its newline */
	size_t out_start, out_end;
	char out[API_CLIENT_OUT_MAX];
};

int api_socket_open(struct api_socket *s, const char *path, char *err, size_t errlen)
{
	char why[256];

	memset(s, 0, sizeof(*s));
	s->listener.fd = -1;
	s->spare_fd = -1;
	if (unix_listener_open(&s->listener, path, API_SOCKET_MAX_CLIENTS, why, sizeof(why)) < 0)
		return write_error(err, errlen, "--api-socket: %s", why);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

/* Best effort, for a client never taken on: one error line, then close. */
static void api_refuse(int fd, const char *message)
{
	char line[256];
	struct json_writer w;
	const char *text;

	json_writer_init(&w, line, sizeof(line) - 1);
	json_write_object_begin(&w);
	json_write_key(&w, "ok");
	json_write_bool(&w, false);
	json_write_key(&w, "error");
	json_write_string(&w, message);
	json_write_object_end(&w);
	text = json_writer_finish(&w);
	if (text) {
		size_t len = strlen(text);

		line[len] = '\n';
		if (send(fd, line, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* The client is gone or not reading: nothing to tell it. */
		}
	}
	close(fd);
}

static void api_client_update_events(struct api_client *c)
{
	uint32_t want = (c->reading ? EPOLLIN : 0) |
			(c->out_start < c->out_end ? EPOLLOUT : 0);

	if (want == c->events)
		return;
	if (event_loop_modify(c->server->loop, c->fd, want) < 0) {
		c->dead = true;
		return;
	}
	c->events = want;
}

static void api_client_destroy(struct api_client *c)
{
	struct api_socket *s = c->server;

	event_loop_remove(s->loop, c->fd);
	close(c->fd);
	s->clients[c->slot] = NULL;
	free(c);
}

/* Decides, at the end of every callback, whether the client stays. */
static void api_client_settle(struct api_client *c)
{
	if (!c->dead && c->closing && c->out_start == c->out_end)
		c->dead = true;
	if (!c->dead)
		api_client_update_events(c);
	if (c->dead)
		api_client_destroy(c);
}

static void api_client_flush(struct api_client *c)
{
	while (!c->dead && c->out_start < c->out_end) {
		ssize_t n = send(c->fd, c->out + c->out_start, c->out_end - c->out_start,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			return;
		}
		c->out_start += n;
	}
	c->out_start = c->out_end = 0;
}

static void api_client_send_line(struct api_client *c, const char *text)
{
	size_t len = strlen(text);
	size_t pending = c->out_end - c->out_start;

	if (c->dead)
		return;
	if (len + 1 > sizeof(c->out) - pending) {
		log_debug("api socket: dropped a client that does not read its responses");
		c->dead = true;
		return;
	}
	if (len + 1 > sizeof(c->out) - c->out_end) {
		memmove(c->out, c->out + c->out_start, pending);
		c->out_start = 0;
		c->out_end = pending;
	}
	memcpy(c->out + c->out_end, text, len);
	c->out[c->out_end + len] = '\n';
	c->out_end += len + 1;
	api_client_flush(c);
}

static void api_response_begin(struct json_writer *w, char *buf, size_t cap, bool ok)
{
	json_writer_init(w, buf, cap);
	json_write_object_begin(w);
	json_write_key(w, "ok");
	json_write_bool(w, ok);
}

static void api_reply_error(struct api_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void api_reply_error(struct api_client *c, const char *fmt, ...)
{
	char message[256], line[512];
	struct json_writer w;
	const char *text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	api_response_begin(&w, line, sizeof(line), false);
	json_write_key(&w, "error");
	json_write_string(&w, message);
	json_write_object_end(&w);
	text = json_writer_finish(&w);
	api_client_send_line(c, text ? text : "{\"ok\":false,\"error\":\"internal error\"}");
}

static void api_reply_done(struct api_client *c)
{
	api_client_send_line(c, "{\"ok\":true,\"result\":{}}");
}

/* "display": {"viewers": B, "outputs": [{"width": W, "height": H,
 * "updates": N, "sent": N, "dmabuf_draws": N, "dmabuf_acks": N}, ...]} */
static void api_write_display(struct json_writer *w, const struct api_status *st)
{
	size_t nr = st->nr_outputs < API_STATUS_MAX_OUTPUTS ? st->nr_outputs : API_STATUS_MAX_OUTPUTS;

	json_write_key(w, "display");
	json_write_object_begin(w);
	json_write_key(w, "viewers");
	json_write_bool(w, st->viewers);
	json_write_key(w, "outputs");
	json_write_array_begin(w);
	for (size_t i = 0; i < nr; i++) {
		const struct api_output *o = &st->outputs[i];

		json_write_object_begin(w);
		json_write_key(w, "width");
		json_write_uint(w, o->width);
		json_write_key(w, "height");
		json_write_uint(w, o->height);
		json_write_key(w, "updates");
		json_write_uint(w, o->updates);
		json_write_key(w, "sent");
		json_write_uint(w, o->sent);
		json_write_key(w, "dmabuf_draws");
		json_write_uint(w, o->dmabuf_draws);
		json_write_key(w, "dmabuf_acks");
		json_write_uint(w, o->dmabuf_acks);
		json_write_object_end(w);
	}
	json_write_array_end(w);
	json_write_object_end(w);
}

static void api_do_status(struct api_client *c)
{
	const struct api_ops *ops = &c->server->ops;
	struct api_status st;
	struct json_writer w;
	char line[API_RESPONSE_MAX];
	const char *text;
	size_t nr;

	if (!ops->status) {
		api_reply_error(c, "status is not supported");
		return;
	}
	memset(&st, 0, sizeof(st));
	ops->status(ops->ctx, &st);
	nr = st.nr_devices < API_STATUS_MAX_DEVICES ? st.nr_devices : API_STATUS_MAX_DEVICES;

	api_response_begin(&w, line, sizeof(line), true);
	json_write_key(&w, "result");
	json_write_object_begin(&w);
	json_write_key(&w, "state");
	json_write_string(&w, st.state == API_VM_PAUSED ? "paused" : "running");
	json_write_key(&w, "vcpus");
	json_write_uint(&w, st.vcpus);
	json_write_key(&w, "memory_bytes");
	json_write_uint(&w, st.memory_bytes);
	json_write_key(&w, "devices");
	json_write_array_begin(&w);
	for (size_t i = 0; i < nr; i++) {
		const struct api_device *d = &st.devices[i];

		json_write_object_begin(&w);
		json_write_key(&w, "name");
		json_write_string_len(&w, d->name, strnlen(d->name, sizeof(d->name)));
		json_write_key(&w, "pci");
		json_write_string_len(&w, d->pci, strnlen(d->pci, sizeof(d->pci)));
		json_write_object_end(&w);
	}
	json_write_array_end(&w);
	if (st.display)
		api_write_display(&w, &st);
	json_write_object_end(&w);
	json_write_object_end(&w);
	text = json_writer_finish(&w);
	if (!text) {
		api_reply_error(c, "status does not fit in a response");
		return;
	}
	api_client_send_line(c, text);
}

static void api_write_hex(struct json_writer *w, const char *key, uint64_t value)
{
	char text[24];

	snprintf(text, sizeof(text), "0x%" PRIx64, value);
	json_write_key(w, key);
	json_write_string(w, text);
}

/* The vectors listed, highest first, and their count when some were left
 * out. */
static void api_write_vectors(struct json_writer *w, const char *key, const uint8_t *vectors,
			      unsigned total)
{
	unsigned listed = total < VCPU_SNAPSHOT_VECTORS ? total : VCPU_SNAPSHOT_VECTORS;
	char total_key[24];

	json_write_key(w, key);
	json_write_array_begin(w);
	for (unsigned i = 0; i < listed; i++)
		json_write_uint(w, vectors[i]);
	json_write_array_end(w);
	if (listed < total) {
		snprintf(total_key, sizeof(total_key), "%s_total", key);
		json_write_key(w, total_key);
		json_write_uint(w, total);
	}
}

static void api_write_vcpu(struct json_writer *w, const struct vcpu_snapshot *v)
{
	json_write_object_begin(w);
	json_write_key(w, "index");
	json_write_uint(w, v->index);
	json_write_key(w, "state");
	json_write_string(w, vcpu_mp_state_name(v->mp_state));
	api_write_hex(w, "rip", v->rip);
	if (v->rip_mapped) {
		api_write_hex(w, "rip_gpa", v->rip_gpa);
	} else {
		json_write_key(w, "rip_gpa");
		json_write_string(w, "not mapped");
	}
	api_write_hex(w, "rsp", v->rsp);
	api_write_hex(w, "rflags", v->rflags);
	json_write_key(w, "interrupts");
	json_write_string(w, v->rflags & RFLAGS_IF ? "on" : "off");
	json_write_key(w, "cpl");
	json_write_uint(w, v->cpl);
	api_write_hex(w, "cr3", v->cr3);
	json_write_key(w, "tpr");
	json_write_uint(w, v->tpr);
	api_write_vectors(w, "irr", v->irr, v->nr_irr);
	api_write_vectors(w, "isr", v->isr, v->nr_isr);
	json_write_key(w, "nmi_pending");
	json_write_bool(w, v->nmi_pending);
	if (v->interrupt_injected) {
		json_write_key(w, "injecting");
		json_write_uint(w, v->interrupt_vector);
	}
	if (v->exception_pending) {
		json_write_key(w, "exception");
		json_write_uint(w, v->exception_vector);
	}
	json_write_object_end(w);
}

static void api_do_vcpus(struct api_client *c, uint32_t from)
{
	const struct api_ops *ops = &c->server->ops;
	struct api_vcpus page;
	struct json_writer w;
	char line[API_RESPONSE_MAX];
	const char *text;
	int ret;

	if (!ops->vcpus) {
		api_reply_error(c, "vcpus is not supported");
		return;
	}
	memset(&page, 0, sizeof(page));
	ret = ops->vcpus(ops->ctx, from, &page);
	if (ret < 0) {
		api_reply_error(c, "vcpus failed: %s", strerror(-ret));
		return;
	}
	if (page.nr > API_VCPUS_PER_RESPONSE)
		page.nr = API_VCPUS_PER_RESPONSE;
	api_response_begin(&w, line, sizeof(line), true);
	json_write_key(&w, "result");
	json_write_object_begin(&w);
	json_write_key(&w, "total");
	json_write_uint(&w, page.total);
	json_write_key(&w, "vcpus");
	json_write_array_begin(&w);
	for (unsigned i = 0; i < page.nr; i++)
		api_write_vcpu(&w, &page.vcpus[i]);
	json_write_array_end(&w);
	if ((uint64_t)from + page.nr < page.total) {
		json_write_key(&w, "next");
		json_write_uint(&w, from + page.nr);
	}
	json_write_object_end(&w);
	json_write_object_end(&w);
	text = json_writer_finish(&w);
	if (!text) {
		api_reply_error(c, "vcpus do not fit in a response");
		return;
	}
	api_client_send_line(c, text);
}

static void api_do_action(struct api_client *c, const char *name, int (*action)(void *ctx))
{
	int ret;

	if (!action) {
		api_reply_error(c, "%s is not supported", name);
		return;
	}
	ret = action(c->server->ops.ctx);
	if (ret < 0) {
		api_reply_error(c, "%s failed: %s", name, strerror(-ret));
		return;
	}
	api_reply_done(c);
}

static bool api_line_is_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	return true;
}

static void api_handle_request(struct api_client *c, const char *line, size_t len)
{
	struct api_socket *s = c->server;
	struct json_request req;
	char err[160];

	if (api_line_is_blank(line, len))
		return;
	if (s->quitting) {
		api_reply_error(c, "gvmm is quitting");
		return;
	}
	if (json_request_parse(line, len, &req, err, sizeof(err)) < 0) {
		api_reply_error(c, "%s", err);
		return;
	}
	if (strcmp(req.command, "status") == 0) {
		api_do_status(c);
	} else if (strcmp(req.command, "pause") == 0) {
		api_do_action(c, req.command, s->ops.pause);
	} else if (strcmp(req.command, "resume") == 0) {
		api_do_action(c, req.command, s->ops.resume);
	} else if (strcmp(req.command, "powerdown") == 0) {
		api_do_action(c, req.command, s->ops.powerdown);
	} else if (strcmp(req.command, "vcpus") == 0) {
		api_do_vcpus(c, req.from);
	} else if (strcmp(req.command, "quit") == 0) {
		api_do_action(c, req.command, s->ops.quit);
		if (s->ops.quit) {
			/* The VM is being torn down: later requests would reach
			 * a VM that is no longer there. */
			s->quitting = true;
			c->reading = false;
		}
	} else {
		api_reply_error(c, "unknown command '%s' (commands: status, pause, resume, "
				"powerdown, quit, vcpus)", req.command);
	}
}

/* Answers every complete line in the input buffer and keeps the rest. */
static void api_client_take_lines(struct api_client *c)
{
	size_t start = 0;

	while (c->reading && !c->dead) {
		char *line = c->in + start;
		char *nl = memchr(line, '\n', c->in_len - start);

		if (!nl)
			break;
		api_handle_request(c, line, nl - line);
		start += nl - line + 1;
	}
	if (!c->reading || c->dead) {
		c->in_len = 0;
		return;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len == sizeof(c->in)) {
		api_reply_error(c, "request longer than %d bytes", JSON_REQUEST_MAX_LEN);
		c->in_len = 0;
		c->reading = false;
		c->closing = true;
	}
}

static void api_client_read(struct api_client *c)
{
	for (int i = 0; i < API_READS_PER_EVENT && c->reading && !c->dead; i++) {
		ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			return;
		}
		if (n == 0) {
			/* The client is done writing but may still read: a last
			 * request without its newline counts, as from printf. */
			if (c->in_len)
				api_handle_request(c, c->in, c->in_len);
			c->in_len = 0;
			c->reading = false;
			c->closing = true;
			return;
		}
		c->in_len += n;
		api_client_take_lines(c);
	}
}

static void api_on_client(void *opaque, uint32_t events)
{
	struct api_client *c = opaque;

	if (events & EPOLLOUT)
		api_client_flush(c);
	if (c->reading && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		api_client_read(c);
	else if (events & (EPOLLHUP | EPOLLERR))
		c->dead = true;
	api_client_settle(c);
}

/* Out of file descriptors, the pending connection would keep the listening
 * socket readable forever. The spare descriptor makes room to take it and
 * say why it is turned away. */
static void api_refuse_at_fd_limit(struct api_socket *s)
{
	int fd;

	if (s->spare_fd >= 0) {
		close(s->spare_fd);
		fd = accept4(s->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			api_refuse(fd, "gvmm is out of file descriptors");
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (s->spare_fd >= 0)
			return;
	}
	log_warn("api socket: out of file descriptors; no longer accepting clients");
	event_loop_remove(s->loop, s->listener.fd);
}

static void api_accept_one(struct api_socket *s, int fd)
{
	struct api_client *c;
	unsigned slot;

	for (slot = 0; slot < API_SOCKET_MAX_CLIENTS; slot++)
		if (!s->clients[slot])
			break;
	if (slot == API_SOCKET_MAX_CLIENTS) {
		api_refuse(fd, "too many clients");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		api_refuse(fd, "out of memory");
		return;
	}
	c->server = s;
	c->fd = fd;
	c->slot = slot;
	c->reading = true;
	c->events = EPOLLIN;
	if (event_loop_add(s->loop, fd, EPOLLIN, api_on_client, c) < 0) {
		free(c);
		api_refuse(fd, "cannot watch the connection");
		return;
	}
	s->clients[slot] = c;
}

static void api_on_listen(void *opaque, uint32_t events)
{
	struct api_socket *s = opaque;

	(void)events;
	for (int i = 0; i < API_SOCKET_MAX_CLIENTS; i++) {
		int fd = accept4(s->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			api_accept_one(s, fd);
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
			continue;
		case EMFILE:
		case ENFILE:
			api_refuse_at_fd_limit(s);
			return;
		default:  /* EAGAIN, or nothing this loop could fix */
			return;
		}
	}
}

int api_socket_start(struct api_socket *s, struct event_loop *loop,
		     const struct api_ops *ops)
{
	int ret;

	if (s->listener.fd < 0)
		return -EBADF;
	s->ops = *ops;
	s->quitting = false;
	ret = event_loop_add(loop, s->listener.fd, EPOLLIN, api_on_listen, s);
	if (ret < 0)
		return ret;
	s->loop = loop;
	return 0;
}

void api_socket_close(struct api_socket *s)
{
	for (unsigned i = 0; i < API_SOCKET_MAX_CLIENTS; i++)
		if (s->clients[i])
			api_client_destroy(s->clients[i]);
	if (s->listener.fd >= 0 && s->loop)
		event_loop_remove(s->loop, s->listener.fd);
	/* Removes only the file this gvmm made: another may have replaced it. */
	unix_listener_close(&s->listener);
	if (s->spare_fd >= 0) {
		close(s->spare_fd);
		s->spare_fd = -1;
	}
	s->loop = NULL;
}
