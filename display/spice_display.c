/* The embedded SPICE server (display/spice_display.h): server setup, the
 * display backend ops, and the pacing that turns the guest's flushes into
 * at most refresh_hz sends a second.
 *
 * Threads. The GPU calls the backend ops on its own thread; they change
 * an output (display/spice_qxl.c) and poke an eventfd. The loop thread
 * answers the eventfd: it applies size changes, passes client mode
 * requests to the GPU, and sends what changed, at once if the output's
 * last send is a refresh period old, else when a one-shot timer for the
 * rest of the period fires. Nothing runs while nothing changes: no
 * periodic timer. spice-server's worker threads (one per output) pull the
 * queued commands and poke the same eventfd when a held-back send may go.
 *
 * Who gets in. A unix socket is ours (vmm/unix_listener.h: mode 0600, only
 * a stale socket replaced) and we hand its clients to spice-server. A TCP
 * listener wants the settled ticket (display/spice_ticket.h), which the
 * connection file (display/spice_connect_file.h) tells the owner. With
 * TLS every channel must use it unless the user said plaintext=on.
 */
#include "spice_display.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <spice.h>

#include "../vmm/log.h"
#include "../vmm/monotonic_clock.h"
#include "../vmm/unix_listener.h"
#include "display_backend.h"
#include "spice_agent.h"
#include "spice_connect_file.h"
#include "spice_core.h"
#include "spice_input.h"
#include "spice_qxl.h"

/* Pending unix-socket clients taken per wake-up. */
#define ACCEPTS_PER_EVENT 8
/* How long after a send freed frame memory goes back to the system. */
#define TRIM_DELAY_NS     1000000000ull

struct spice_display;

/* When an output last sent, and the timer for its next send. */
struct output_pacing {
	struct spice_display *sd;
	unsigned index;
	int timer_fd;
	bool timer_armed;
	uint64_t last_send_ns;
};

struct spice_display {
	struct display *display;
	struct event_loop *loop;
	SpiceServer *server;
	bool core_open;
	struct spice_inputs *inputs;
	struct spice_agent *agent;
	unsigned nr_outputs;
	struct spice_output *outputs[DISPLAY_MAX_OUTPUTS];
	struct output_pacing pacing[DISPLAY_MAX_OUTPUTS];
	int trim_fd;                  /* one-shot: give freed frames back */
	bool trim_armed;
	uint64_t period_ns;
	enum display_dmabuf_mode dmabuf_mode;   /* gl=, and whether clients are local */
	int wake_fd;
	char uri[400];
	struct unix_listener listener;   /* unix: only; fd -1 otherwise */
	bool listener_watched;
	struct spice_connect_file connect_file;   /* path empty: none */
};

/* ---- giving freed frames back (loop thread) ---- */

static void trim_soon(struct spice_display *sd)
{
	struct itimerspec when = {
		.it_value = { .tv_sec = (time_t)(TRIM_DELAY_NS / 1000000000u),
			      .tv_nsec = (long)(TRIM_DELAY_NS % 1000000000u) },
	};

	if (sd->trim_armed || sd->trim_fd < 0)
		return;
	if (timerfd_settime(sd->trim_fd, 0, &when, NULL) == 0)
		sd->trim_armed = true;
}

/* Each send mallocs its changed pixels, up to a frame, and spice-server
 * frees them once it has drawn them. glibc raises its mmap threshold to
 * the largest block freed, so after the first frame-sized free those
 * blocks come from its heaps, and what is freed there stays in the
 * process: about two frames per output once the guest stops drawing.
 * So a second after a send (at most once a second while sends go on,
 * never while nothing is sent) malloc_trim hands free pages back.
 *
 * Each output's copy of the pixels is needed only until its changes are
 * sent (display/spice_qxl.c), so the same timer gives the copies' pages
 * back, about a frame each. An output still drawing faults back in only
 * the pages it writes, once a second at most: little beside the copying
 * it does anyway. */
static void trim_timer_fired(void *opaque, uint32_t events)
{
	struct spice_display *sd = opaque;
	uint64_t expirations;

	(void)events;
	if (read(sd->trim_fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	sd->trim_armed = false;
	malloc_trim(0);
	for (unsigned i = 0; i < sd->nr_outputs; i++)
		spice_output_release_copy(sd->outputs[i]);
}

/* ---- pacing (loop thread) ---- */

static void output_send(struct output_pacing *p, uint64_t now)
{
	spice_output_send(p->sd->outputs[p->index]);
	p->last_send_ns = now;
	trim_soon(p->sd);
}

static void pacing_timer_fired(void *opaque, uint32_t events)
{
	struct output_pacing *p = opaque;
	uint64_t expirations;

	(void)events;
	if (read(p->timer_fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	p->timer_armed = false;
	output_send(p, monotonic_ns());
}

/* Sends what changed now, or arms the timer for when a period has passed
 * since the last send (already armed: that send will take it along). */
static void output_pace(struct output_pacing *p, uint64_t now)
{
	uint64_t since = now - p->last_send_ns;
	struct itimerspec when = { 0 };

	if (p->timer_armed || !spice_output_has_dirty(p->sd->outputs[p->index]))
		return;
	if (since >= p->sd->period_ns) {
		output_send(p, now);
		return;
	}
	when.it_value.tv_sec = (time_t)((p->sd->period_ns - since) / 1000000000u);
	when.it_value.tv_nsec = (long)((p->sd->period_ns - since) % 1000000000u);
	if (timerfd_settime(p->timer_fd, 0, &when, NULL) == 0)
		p->timer_armed = true;
	else
		output_send(p, now);
}

static void on_wake(void *opaque, uint32_t events)
{
	struct spice_display *sd = opaque;
	uint64_t count, now;

	(void)events;
	if (read(sd->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	now = monotonic_ns();
	spice_agent_service(sd->agent);
	for (unsigned i = 0; i < sd->nr_outputs; i++) {
		struct spice_output *o = sd->outputs[i];
		uint32_t width, height;

		spice_output_service(o);
		/* No output lock is held here: the GPU's request_mode may
		 * resize or update this output right away. */
		if (spice_output_take_mode_request(o, &width, &height))
			display_request_mode(sd->display, i, width, height);
		if (spice_output_take_client_arrival(o))
			display_viewer_arrived(sd->display);
		output_pace(&sd->pacing[i], now);
	}
}

/* Any thread: the eventfd counts, so no poke is lost. */
static void wake_loop(void *opaque)
{
	struct spice_display *sd = opaque;
	uint64_t one = 1;

	if (write(sd->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the loop will look anyway. */
	}
}

/* ---- display backend ops (the GPU's thread) ---- */

static int backend_output_resize(void *impl, unsigned output, uint32_t width, uint32_t height)
{
	struct spice_display *sd = impl;

	if (output >= sd->nr_outputs)
		return -1;
	return spice_output_resize(sd->outputs[output], width, height);
}

static uint64_t backend_output_bytes(void *impl, uint32_t width, uint32_t height)
{
	(void)impl;
	return spice_output_bytes(width, height);
}

static void backend_output_update(void *impl, unsigned output, const struct display_rect *rect,
				  const void *pixels, uint32_t stride, enum display_format format)
{
	struct spice_display *sd = impl;

	if (output < sd->nr_outputs)
		spice_output_update(sd->outputs[output], rect, pixels, stride, format);
}

static void backend_cursor_define(void *impl, unsigned output, uint32_t width, uint32_t height,
				  uint32_t hot_x, uint32_t hot_y, const void *pixels,
				  uint32_t stride, enum display_format format)
{
	struct spice_display *sd = impl;

	if (output < sd->nr_outputs)
		spice_output_cursor_define(sd->outputs[output], width, height, hot_x, hot_y,
					   pixels, stride, format);
}

static void backend_cursor_move(void *impl, unsigned output, int32_t x, int32_t y, bool visible)
{
	struct spice_display *sd = impl;

	if (output < sd->nr_outputs)
		spice_output_cursor_move(sd->outputs[output], x, y, visible);
}

static bool backend_has_viewers(void *impl)
{
	struct spice_display *sd = impl;

	for (unsigned i = 0; i < sd->nr_outputs; i++)
		if (spice_output_has_client(sd->outputs[i]))
			return true;
	return false;
}

static uint64_t backend_output_sent(void *impl, unsigned output)
{
	struct spice_display *sd = impl;

	return output < sd->nr_outputs ? spice_output_draws_pulled(sd->outputs[output]) : 0;
}

static enum display_dmabuf_mode backend_dmabuf_mode(void *impl)
{
	struct spice_display *sd = impl;

	return sd->dmabuf_mode;
}

static int backend_output_dmabuf(void *impl, unsigned output, int fd, uint32_t width,
				 uint32_t height, uint32_t stride, uint32_t fourcc)
{
	struct spice_display *sd = impl;

	if (output >= sd->nr_outputs) {
		close(fd);
		return -1;
	}
	return spice_output_gl_scanout(sd->outputs[output], fd, width, height, stride, fourcc);
}

static int backend_output_dmabuf_draw(void *impl, unsigned output,
				      const struct display_rect *rect)
{
	struct spice_display *sd = impl;

	return output < sd->nr_outputs ? spice_output_gl_draw(sd->outputs[output], rect) : -1;
}

static enum display_dmabuf_state backend_output_dmabuf_state(void *impl, unsigned output)
{
	struct spice_display *sd = impl;

	return output < sd->nr_outputs ? spice_output_gl_state(sd->outputs[output])
				       : DISPLAY_DMABUF_READY;
}

static uint64_t backend_output_dmabuf_acks(void *impl, unsigned output)
{
	struct spice_display *sd = impl;

	return output < sd->nr_outputs ? spice_output_gl_acks(sd->outputs[output]) : 0;
}

static const struct display_backend_ops spice_backend_ops = {
	.output_resize = backend_output_resize,
	.output_bytes = backend_output_bytes,
	.output_update = backend_output_update,
	.cursor_define = backend_cursor_define,
	.cursor_move = backend_cursor_move,
	.has_viewers = backend_has_viewers,
	.output_sent = backend_output_sent,
	.dmabuf_mode = backend_dmabuf_mode,
	.output_dmabuf = backend_output_dmabuf,
	.output_dmabuf_draw = backend_output_dmabuf_draw,
	.output_dmabuf_state = backend_output_dmabuf_state,
	.output_dmabuf_acks = backend_output_dmabuf_acks,
};

/* ---- the unix socket (loop thread) ---- */

/* spice-server takes each client as if it had accepted it itself. It
 * never binds the path: its own bind would first unlink whatever is
 * there, and leave the socket with the umask's permissions. */
static void on_unix_client(void *opaque, uint32_t events)
{
	struct spice_display *sd = opaque;

	(void)events;
	for (unsigned i = 0; i < ACCEPTS_PER_EVENT; i++) {
		int fd = accept4(sd->listener.fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			/* The pending client would wake the loop at once, again
			 * and again: stop listening rather than spin. */
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("SPICE: out of file descriptors; no longer accepting viewers "
					 "on unix:%s", sd->listener.path);
				event_loop_remove(sd->loop, sd->listener.fd);
				sd->listener_watched = false;
			}
			return;
		}
		if (spice_server_add_client(sd->server, fd, 0) < 0)
			close(fd);
	}
}

/* ---- server setup ---- */

static int configure_tls(SpiceServer *server, const struct spice_options *opt, char *err,
			 size_t errlen)
{
	static const char *const names[] = { "ca-cert.pem", "server-cert.pem", "server-key.pem" };
	char paths[3][sizeof(opt->x509_dir) + 20];

	for (unsigned i = 0; i < 3; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", opt->x509_dir, names[i]);
		if (access(paths[i], R_OK) < 0) {
			snprintf(err, errlen, "cannot read %s: %s", paths[i], strerror(errno));
			return -1;
		}
	}
	if (spice_server_set_tls(server, opt->tls_port, paths[0], paths[1], paths[2], NULL, NULL,
				 NULL)) {
		snprintf(err, errlen, "spice-server refused TLS on port %u", opt->tls_port);
		return -1;
	}
	/* spice-server lets every channel in over either port by default, so
	 * the plain port would bypass TLS: a client linking there is told to
	 * come back secured, unless the user allowed plaintext. */
	if (!opt->plaintext &&
	    spice_server_set_channel_security(server, NULL, SPICE_CHANNEL_SECURITY_SSL)) {
		snprintf(err, errlen, "spice-server refused to require TLS on every channel");
		return -1;
	}
	return 0;
}

static int configure(struct spice_display *sd, const struct spice_options *opt, char *err,
		     size_t errlen)
{
	static const int streaming[] = {
		[SPICE_STREAMING_FILTER] = SPICE_STREAM_VIDEO_FILTER,
		[SPICE_STREAMING_OFF] = SPICE_STREAM_VIDEO_OFF,
		[SPICE_STREAMING_ALL] = SPICE_STREAM_VIDEO_ALL,
	};
	SpiceServer *s = sd->server;

	/* unix: the listener is ours (on_unix_client); spice-server binds
	 * nothing. TCP: without a plain port (TLS only) it binds just the
	 * TLS one. */
	if (!opt->unix_path[0]) {
		spice_server_set_addr(s, opt->addr, 0);
		if (opt->port && spice_server_set_port(s, opt->port)) {
			snprintf(err, errlen, "spice-server refused port %u", opt->port);
			return -1;
		}
	}
	switch (opt->ticket) {
	case SPICE_TICKET_CHOSEN:
	case SPICE_TICKET_GENERATED:
		if (spice_server_set_ticket(s, opt->password, 0, 0, 0)) {
			snprintf(err, errlen, "spice-server refused the password");
			return -1;
		}
		break;
	case SPICE_TICKET_NONE:
		/* Without a ticket spice-server would refuse everyone; none is
		 * needed on a unix socket (its mode guards it) or wanted with
		 * disable-ticketing. */
		spice_server_set_noauth(s);
		break;
	default:
		snprintf(err, errlen, "the SPICE ticket was never settled");
		return -1;
	}
	if (opt->tls_port && configure_tls(s, opt, err, errlen) < 0)
		return -1;
	if (opt->video_codecs[0] && spice_server_set_video_codecs(s, opt->video_codecs)) {
		snprintf(err, errlen, "video-codec '%s': spice-server knows none of these",
			 opt->video_codecs);
		return -1;
	}
	spice_server_set_streaming_video(s, streaming[opt->streaming]);
	spice_server_set_name(s, "gvmm");
	return 0;
}

/* unix:PATH, ADDR:PORT, [ADDR]:PORT, or with TLS only the address alone. */
static void describe_listener(const struct spice_options *opt, char *text, size_t size)
{
	bool v6 = strchr(opt->addr, ':') != NULL;

	if (opt->unix_path[0])
		snprintf(text, size, "unix:%s", opt->unix_path);
	else if (!opt->port)
		snprintf(text, size, v6 ? "[%s]" : "%s", opt->addr);
	else if (v6)
		snprintf(text, size, "[%s]:%u", opt->addr, opt->port);
	else
		snprintf(text, size, "%s:%u", opt->addr, opt->port);
}

static void make_uri(struct spice_display *sd, const struct spice_options *opt)
{
	char where[300], cwd[256];

	if (opt->unix_path[0]) {
		/* The URI's path must be absolute ("spice+unix://rel" names a host). */
		if (opt->unix_path[0] != '/' && getcwd(cwd, sizeof(cwd)))
			snprintf(sd->uri, sizeof(sd->uri), "spice+unix://%s/%s", cwd, opt->unix_path);
		else
			snprintf(sd->uri, sizeof(sd->uri), "spice+unix://%s", opt->unix_path);
		return;
	}
	describe_listener(opt, where, sizeof(where));
	if (opt->tls_port)
		snprintf(sd->uri, sizeof(sd->uri), "spice://%s?tls-port=%u", where, opt->tls_port);
	else
		snprintf(sd->uri, sizeof(sd->uri), "spice://%s", where);
}

static int add_pacing(struct spice_display *sd, unsigned i)
{
	struct output_pacing *p = &sd->pacing[i];

	p->sd = sd;
	p->index = i;
	p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (p->timer_fd < 0)
		return -1;
	if (event_loop_add(sd->loop, p->timer_fd, EPOLLIN, pacing_timer_fired, p) < 0) {
		close(p->timer_fd);
		p->timer_fd = -1;
		return -1;
	}
	return 0;
}

/* Undoes whatever of create got done; also the normal teardown. */
static void teardown(struct spice_display *sd)
{
	for (unsigned i = 0; i < DISPLAY_MAX_OUTPUTS; i++) {
		if (sd->pacing[i].timer_fd >= 0) {
			event_loop_remove(sd->loop, sd->pacing[i].timer_fd);
			close(sd->pacing[i].timer_fd);
		}
	}
	if (sd->trim_fd >= 0) {
		event_loop_remove(sd->loop, sd->trim_fd);
		close(sd->trim_fd);
	}
	if (sd->wake_fd >= 0)
		event_loop_remove(sd->loop, sd->wake_fd);
	if (sd->listener_watched)
		event_loop_remove(sd->loop, sd->listener.fd);
	/* Joins the worker threads, which may still poke wake_fd until then. */
	if (sd->server)
		spice_server_destroy(sd->server);
	if (sd->core_open)
		spice_core_close();
	if (sd->wake_fd >= 0)
		close(sd->wake_fd);
	for (unsigned i = 0; i < sd->nr_outputs; i++)
		spice_output_free(sd->outputs[i]);
	spice_inputs_free(sd->inputs);
	spice_agent_free(sd->agent);
	unix_listener_close(&sd->listener);
	spice_connect_file_remove(&sd->connect_file);
	display_free(sd->display);
	free(sd);
}

int spice_display_create(struct display **out, const struct spice_options *opt,
			 struct event_loop *loop, unsigned nr_outputs,
			 uint32_t width, uint32_t height, char *err, size_t errlen)
{
	struct spice_display *sd;
	SpiceCoreInterface *core;
	char where[300];

	if (nr_outputs == 0 || nr_outputs > DISPLAY_MAX_OUTPUTS) {
		snprintf(err, errlen, "%u outputs: 1 to %u are possible", nr_outputs,
			 DISPLAY_MAX_OUTPUTS);
		return -1;
	}
	if (width > DISPLAY_MAX_WIDTH || height > DISPLAY_MAX_HEIGHT || !width != !height) {
		snprintf(err, errlen, "%ux%u is not a size an output can have", width, height);
		return -1;
	}
	sd = calloc(1, sizeof(*sd));
	if (!sd) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sd->loop = loop;
	sd->wake_fd = -1;
	sd->trim_fd = -1;
	sd->listener.fd = -1;
	for (unsigned i = 0; i < DISPLAY_MAX_OUTPUTS; i++)
		sd->pacing[i].timer_fd = -1;
	sd->period_ns = 1000000000u / (opt->refresh_hz ? opt->refresh_hz : 60);
	/* GL scanouts reach clients on a unix socket only (the parser
	 * refuses gl=on elsewhere). */
	if (!opt->unix_path[0] || opt->gl == SPICE_GL_OFF)
		sd->dmabuf_mode = DISPLAY_DMABUF_OFF;
	else
		sd->dmabuf_mode = opt->gl == SPICE_GL_ON ? DISPLAY_DMABUF_ON : DISPLAY_DMABUF_AUTO;
	make_uri(sd, opt);
	describe_listener(opt, where, sizeof(where));

	sd->display = display_new(&spice_backend_ops, sd);
	sd->inputs = sd->display ? spice_inputs_new(sd->display) : NULL;
	sd->agent = spice_agent_new(wake_loop, sd);
	if (!sd->inputs || !sd->agent)
		goto no_memory;
	for (unsigned i = 0; i < nr_outputs; i++) {
		sd->outputs[i] = spice_output_new(i, width, height, wake_loop, sd);
		if (!sd->outputs[i])
			goto no_memory;
		sd->nr_outputs = i + 1;
	}
	sd->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sd->wake_fd < 0 || event_loop_add(loop, sd->wake_fd, EPOLLIN, on_wake, sd) < 0) {
		snprintf(err, errlen, "cannot set up the display's wake-up: %s", strerror(errno));
		goto fail;
	}
	for (unsigned i = 0; i < nr_outputs; i++) {
		if (add_pacing(sd, i) < 0) {
			snprintf(err, errlen, "cannot make a timer: %s", strerror(errno));
			goto fail;
		}
	}
	sd->trim_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sd->trim_fd < 0 || event_loop_add(loop, sd->trim_fd, EPOLLIN, trim_timer_fired, sd) < 0) {
		snprintf(err, errlen, "cannot make a timer: %s", strerror(errno));
		if (sd->trim_fd >= 0)
			close(sd->trim_fd);
		sd->trim_fd = -1;
		goto fail;
	}

	if (opt->unix_path[0] &&
	    unix_listener_open(&sd->listener, opt->unix_path, SOMAXCONN, err, errlen) < 0)
		goto fail;

	core = spice_core_open(loop);
	if (!core) {
		snprintf(err, errlen, "a SPICE server is running already");
		goto fail;
	}
	sd->core_open = true;
	sd->server = spice_server_new();
	if (!sd->server)
		goto no_memory;
	if (configure(sd, opt, err, errlen) < 0)
		goto fail;
	if (spice_server_init(sd->server, core)) {
		if (opt->unix_path[0])
			snprintf(err, errlen, "spice-server did not start on %s", where);
		else if (opt->tls_port)
			snprintf(err, errlen, "cannot listen on %s (TLS port %u): address in use, or "
				 "a bad certificate?", where, opt->tls_port);
		else
			snprintf(err, errlen, "cannot listen on %s: address in use?", where);
		goto fail;
	}
	if (opt->unix_path[0]) {
		if (event_loop_add(loop, sd->listener.fd, EPOLLIN, on_unix_client, sd) < 0) {
			snprintf(err, errlen, "cannot watch %s: %s", where, strerror(errno));
			goto fail;
		}
		sd->listener_watched = true;
	} else if ((opt->ticket == SPICE_TICKET_GENERATED ||
		    (opt->ticket == SPICE_TICKET_CHOSEN && opt->connect_file[0])) &&
		   spice_connect_file_write(&sd->connect_file, opt, "/tmp", err, errlen) < 0) {
		/* A password gvmm made is known only through the file; one the
		 * user chose needs a file only where they asked for one (a
		 * launcher that writes its own, for a client on another
		 * machine, is not told of a file it cannot reach). */
		goto fail;
	}
	for (unsigned i = 0; i < nr_outputs; i++) {
		if (spice_output_attach(sd->outputs[i], sd->server) < 0) {
			snprintf(err, errlen, "spice-server refused display output %u", i);
			goto fail;
		}
	}
	if (spice_inputs_attach(sd->inputs, sd->server) < 0) {
		snprintf(err, errlen, "spice-server refused the keyboard, tablet or mouse");
		goto fail;
	}
	if (spice_agent_attach(sd->agent, sd->server) < 0) {
		snprintf(err, errlen, "spice-server refused the monitors-config agent");
		goto fail;
	}
	/* The worker threads pull commands only while the "VM" runs. */
	spice_server_vm_start(sd->server);
	*out = sd->display;
	return 0;

no_memory:
	snprintf(err, errlen, "out of memory");
fail:
	teardown(sd);
	return -1;
}

int spice_display_available(char *version, size_t versionlen, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	snprintf(version, versionlen, "%u.%u.%u", (SPICE_SERVER_VERSION >> 16) & 0xff,
		 (SPICE_SERVER_VERSION >> 8) & 0xff, SPICE_SERVER_VERSION & 0xff);
	return 0;
}

const char *spice_display_uri(const struct display *d)
{
	const struct spice_display *sd = display_impl(d);

	return sd->uri;
}

const char *spice_display_connect_file(const struct display *d)
{
	const struct spice_display *sd = display_impl(d);

	return sd->connect_file.path[0] ? sd->connect_file.path : NULL;
}

void spice_display_destroy(struct display *d)
{
	if (d)
		teardown(display_impl(d));
}
