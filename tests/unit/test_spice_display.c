/* The embedded SPICE server against real SPICE clients, on this host (no
 * KVM). Pixels painted from a "GPU" thread must reach a client that
 * connects afterwards (spicy-screenshot writes what it was shown as a
 * PPM) and one that watches while they change (tests/unit/spice_client.py,
 * SpiceClientGLib through GObject introspection, dumps its copy on
 * request); a wrong password must be refused; a client's keys, pointer and
 * window size must reach the attached devices. Who gets in: on TCP only
 * a client with the ticket (made up by default, and handed over in a
 * connection file only the owner can read); on a unix socket only its
 * owner; with TLS nobody in plain text. Every wait is bounded; a missing
 * client tool skips. */
#include "check.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input-event-codes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../display/display_backend.h"
#include "../../display/spice_core.h"
#include "../../display/spice_display.h"
#include "../../display/spice_ticket.h"
#include "../../vmm/event_loop.h"

#define SCREENSHOT_TOOL  "/usr/bin/spicy-screenshot"
#define GI_PYTHON        "/usr/bin/python3"
#define CLIENT_SCRIPT    "tests/unit/spice_client.py"
#define OPENSSL_TOOL     "/usr/bin/openssl"
#define WIDTH            320
#define HEIGHT           200

/* ---- the fake devices: what the display hands on ---- */

#define MAX_EVENTS 64

struct recorded {
	pthread_mutex_t lock;
	unsigned nr_keys;
	uint16_t key_codes[MAX_EVENTS];
	bool key_pressed[MAX_EVENTS];
	unsigned nr_absolute;
	uint32_t abs_x, abs_y;
	int32_t rel_x, rel_y;       /* summed */
	unsigned nr_buttons;
	uint32_t button_masks[MAX_EVENTS];
	int32_t wheel_total;
	unsigned nr_modes;
	unsigned nr_arrivals;
	uint32_t mode_width[DISPLAY_MAX_OUTPUTS], mode_height[DISPLAY_MAX_OUTPUTS];
};

static struct recorded rec = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void rec_key(void *opaque, uint16_t code, bool pressed)
{
	(void)opaque;
	pthread_mutex_lock(&rec.lock);
	if (rec.nr_keys < MAX_EVENTS) {
		rec.key_codes[rec.nr_keys] = code;
		rec.key_pressed[rec.nr_keys] = pressed;
		rec.nr_keys++;
	}
	pthread_mutex_unlock(&rec.lock);
}

static void rec_absolute(void *opaque, uint32_t x, uint32_t y)
{
	(void)opaque;
	pthread_mutex_lock(&rec.lock);
	rec.nr_absolute++;
	rec.abs_x = x;
	rec.abs_y = y;
	pthread_mutex_unlock(&rec.lock);
}

static void rec_relative(void *opaque, int32_t dx, int32_t dy)
{
	(void)opaque;
	pthread_mutex_lock(&rec.lock);
	rec.rel_x += dx;
	rec.rel_y += dy;
	pthread_mutex_unlock(&rec.lock);
}

static void rec_buttons(void *opaque, uint32_t mask)
{
	(void)opaque;
	pthread_mutex_lock(&rec.lock);
	if (rec.nr_buttons < MAX_EVENTS)
		rec.button_masks[rec.nr_buttons++] = mask;
	pthread_mutex_unlock(&rec.lock);
}

static void rec_wheel(void *opaque, int32_t clicks)
{
	(void)opaque;
	pthread_mutex_lock(&rec.lock);
	rec.wheel_total += clicks;
	pthread_mutex_unlock(&rec.lock);
}

static void rec_mode(void *opaque, unsigned output, uint32_t width, uint32_t height)
{
	(void)opaque;
	pthread_mutex_lock(&rec.lock);
	rec.nr_modes++;
	if (output < DISPLAY_MAX_OUTPUTS) {
		rec.mode_width[output] = width;
		rec.mode_height[output] = height;
	}
	pthread_mutex_unlock(&rec.lock);
}

static const struct display_input_ops rec_input_ops = {
	.key = rec_key, .pointer_absolute = rec_absolute, .pointer_relative = rec_relative,
	.buttons = rec_buttons, .wheel = rec_wheel,
};
static void rec_arrival(void *opaque)
{
	(void)opaque;
	pthread_mutex_lock(&rec.lock);
	rec.nr_arrivals++;
	pthread_mutex_unlock(&rec.lock);
}

static const struct display_gpu_ops rec_gpu_ops = {
	.request_mode = rec_mode, .viewer_arrived = rec_arrival,
};

static void rec_reset(void)
{
	pthread_mutex_lock(&rec.lock);
	rec.nr_keys = rec.nr_absolute = rec.nr_buttons = rec.nr_modes = rec.nr_arrivals = 0;
	rec.wheel_total = rec.rel_x = rec.rel_y = 0;
	memset(rec.mode_width, 0, sizeof(rec.mode_width));
	memset(rec.mode_height, 0, sizeof(rec.mode_height));
	pthread_mutex_unlock(&rec.lock);
}

/* ---- a server on a loop thread ---- */

/* The server lives on its loop's thread, as in gvmm: created there, run,
 * destroyed there once the loop stops. The test's own thread plays the
 * GPU. */
struct server {
	struct event_loop loop;
	pthread_t thread;
	sem_t ready;
	struct spice_options opt;
	unsigned nr_outputs;
	bool created;
	char err[256];
	struct display *display;
	int port;
	char socket_path[108];
	char uri[160];
	char connect_file[1100];             /* empty: none */
	char password[SPICE_PASSWORD_MAX + 1];   /* the connection file's */
};

/* The tests' $XDG_RUNTIME_DIR, where connection files go by default: a
 * private directory of their own, gone at exit. */
static char runtime_dir[64];

static void remove_runtime_dir(void)
{
	rmdir(runtime_dir);
}

static bool have_runtime_dir(void)
{
	if (runtime_dir[0])
		return true;
	snprintf(runtime_dir, sizeof(runtime_dir), "/tmp/gvmm-spice-runtime-XXXXXX");
	if (!mkdtemp(runtime_dir)) {
		runtime_dir[0] = 0;
		return false;
	}
	atexit(remove_runtime_dir);
	return setenv("XDG_RUNTIME_DIR", runtime_dir, 1) == 0;
}

/* The value of KEY= in a connection file, into out; false if none. */
static bool connect_file_value(const char *path, const char *key, char *out, size_t size)
{
	char line[512];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == '=') {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, size, "%s", line + klen + 1);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* What a test's client gives as the password: the connection file's. */
static const char *ticket(const struct server *s)
{
	return s->password[0] ? s->password : NULL;
}

static void *run_loop(void *opaque)
{
	struct server *s = opaque;

	s->created = spice_display_create(&s->display, &s->opt, &s->loop, s->nr_outputs, 640, 480,
					  s->err, sizeof(s->err)) == 0;
	sem_post(&s->ready);
	if (!s->created)
		return NULL;
	event_loop_run(&s->loop);
	spice_display_destroy(s->display);
	return NULL;
}

/* A port nobody listens on now (another process could take it before
 * the server does; unlikely enough for a test), and not the one this
 * returned last, which a test may be about to use too. */
static int free_port(void)
{
	static int last;
	int port = -1;

	for (int attempt = 0; attempt < 10 && (port < 0 || port == last); attempt++) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(a);
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
			port = ntohs(a.sin_port);
		if (fd >= 0)
			close(fd);
	}
	last = port;
	return port;
}

/* Starts a server with nr_outputs outputs of 640x480 for --spice arg, as
 * gvmm does (the ticket settled without GVMM_SPICE_PASSWORD). */
static bool server_start_arg(struct server *s, unsigned nr_outputs, const char *arg)
{
	s->nr_outputs = nr_outputs;
	/* As in gvmm: spice-server writes to client sockets with write(), and
	 * a client that just left must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	if (!have_runtime_dir()) {
		fprintf(stderr, "  no runtime directory: %s\n", strerror(errno));
		return false;
	}
	if (spice_options_parse(arg, &s->opt, s->err, sizeof(s->err)) < 0 ||
	    spice_ticket_settle(&s->opt, NULL, s->err, sizeof(s->err)) < 0) {
		fprintf(stderr, "  --spice %s: %s\n", arg, s->err);
		return false;
	}
	if (event_loop_init(&s->loop) < 0)
		return false;
	sem_init(&s->ready, 0, 0);
	if (pthread_create(&s->thread, NULL, run_loop, s)) {
		event_loop_destroy(&s->loop);
		return false;
	}
	sem_wait(&s->ready);
	if (!s->created) {
		fprintf(stderr, "  spice_display_create: %s\n", s->err);
		pthread_join(s->thread, NULL);
		event_loop_destroy(&s->loop);
		return false;
	}
	snprintf(s->uri, sizeof(s->uri), "%s", spice_display_uri(s->display));
	if (spice_display_connect_file(s->display)) {
		snprintf(s->connect_file, sizeof(s->connect_file), "%s",
			 spice_display_connect_file(s->display));
		connect_file_value(s->connect_file, "password", s->password, sizeof(s->password));
	}
	rec_reset();
	display_attach_input(s->display, &rec_input_ops, NULL);
	display_attach_gpu(s->display, &rec_gpu_ops, NULL);
	return true;
}

/* server_start_arg on a unix socket of the test's own or on a free
 * loopback port, with `extra` settings after the address. */
static bool server_start(struct server *s, unsigned nr_outputs, bool on_unix, const char *extra)
{
	char arg[300];

	memset(s, 0, sizeof(*s));
	if (on_unix) {
		snprintf(s->socket_path, sizeof(s->socket_path), "/tmp/gvmm-spice-test-%d.sock",
			 (int)getpid());
		snprintf(arg, sizeof(arg), "unix:%s%s", s->socket_path, extra);
	} else {
		s->port = free_port();
		snprintf(arg, sizeof(arg), "127.0.0.1:%d%s", s->port, extra);
	}
	return server_start_arg(s, nr_outputs, arg);
}

static void server_stop(struct server *s)
{
	display_attach_input(s->display, NULL, NULL);
	display_attach_gpu(s->display, NULL, NULL);
	event_loop_stop(&s->loop);
	pthread_join(s->thread, NULL);
	event_loop_destroy(&s->loop);
	sem_destroy(&s->ready);
}

/* ---- running client tools, bounded ---- */

/* Runs argv with a deadline; returns its exit status, or -1 when it could
 * not run or had to be killed. Its output goes to stderr (the test log),
 * or nowhere when quiet. */
static int run_bounded(char *const argv[], int timeout_s, bool quiet)
{
	struct timespec start, now;
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(quiet ? null : STDERR_FILENO, STDOUT_FILENO);
		if (quiet)
			dup2(null, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t done = waitpid(pid, &status, WNOHANG);

		if (done == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= timeout_s) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "  %s killed after %d s\n", argv[0], timeout_s);
			return -1;
		}
		usleep(20 * 1000);
	}
}

/* A client of tests/unit/spice_client.py kept connected (--hold): it
 * prints lines, and takes commands on its stdin. */
struct held_client {
	pid_t pid;
	int to_client;
	int from_client;
	char buf[4096];
	size_t have;
};

static int elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int)((now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000);
}

/* Reads lines until one starts with `prefix` (copied into line, if given)
 * or timeout_ms pass; other lines go to the test log. */
static bool held_expect(struct held_client *c, const char *prefix, int timeout_ms, char *line,
			size_t size)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		char *nl;

		while ((nl = memchr(c->buf, '\n', c->have))) {
			size_t len = (size_t)(nl - c->buf);
			bool match = !strncmp(c->buf, prefix, strlen(prefix));

			*nl = 0;
			if (match && line) {
				size_t n = len < size - 1 ? len : size - 1;

				memcpy(line, c->buf, n);
				line[n] = 0;
			} else if (!match) {
				fprintf(stderr, "  client: %s\n", c->buf);
			}
			memmove(c->buf, nl + 1, c->have - len - 1);
			c->have -= len + 1;
			if (match)
				return true;
		}
		int left = timeout_ms - elapsed_ms(&start);
		struct pollfd p = { .fd = c->from_client, .events = POLLIN };

		if (left <= 0 || c->have == sizeof(c->buf) || poll(&p, 1, left) <= 0) {
			fprintf(stderr, "  no \"%s\" from the client\n", prefix);
			return false;
		}
		ssize_t n = read(c->from_client, c->buf + c->have, sizeof(c->buf) - c->have);

		if (n <= 0) {
			fprintf(stderr, "  the client left before \"%s\"\n", prefix);
			return false;
		}
		c->have += (size_t)n;
	}
}

static void held_say(struct held_client *c, const char *text)
{
	if (write(c->to_client, text, strlen(text)) < 0)
		fprintf(stderr, "  cannot talk to the client: %s\n", strerror(errno));
}

/* Waits for the client to exit (closing its stdin asks it to); returns
 * its exit status, -1 if it had to be killed. */
static int held_end(struct held_client *c, int timeout_ms)
{
	struct timespec start;
	int status = -1;

	close(c->to_client);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (waitpid(c->pid, &status, WNOHANG) == 0) {
		if (elapsed_ms(&start) > timeout_ms) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &status, 0);
			status = -1;
			break;
		}
		usleep(20 * 1000);
	}
	close(c->from_client);
	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Connects a held client watching display channel `display` to s; true
 * once it says it is ready. */
static bool held_start(struct held_client *c, const struct server *s, unsigned display)
{
	char display_arg[16];
	int to[2], from[2];

	memset(c, 0, sizeof(*c));
	snprintf(display_arg, sizeof(display_arg), "--display=%u", display);
	if (pipe2(to, O_CLOEXEC) < 0)
		return false;
	if (pipe2(from, O_CLOEXEC) < 0) {
		close(to[0]);
		close(to[1]);
		return false;
	}
	c->pid = fork();
	if (c->pid == 0) {
		dup2(to[0], STDIN_FILENO);
		dup2(from[1], STDOUT_FILENO);
		char pw[300];

		snprintf(pw, sizeof(pw), "--password=%s", ticket(s) ? ticket(s) : "");
		execl(GI_PYTHON, GI_PYTHON, CLIENT_SCRIPT, "--uri", s->uri, display_arg, "--hold",
		      "--timeout", "15", ticket(s) ? pw : NULL, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	c->to_client = to[1];
	c->from_client = from[0];
	if (c->pid < 0) {
		close(c->to_client);
		close(c->from_client);
		return false;
	}
	if (!held_expect(c, "ready", 10000, NULL, 0)) {
		held_end(c, 1000);
		return false;
	}
	return true;
}

/* ---- pictures ---- */

struct ppm {
	int width, height;
	uint8_t *rgb;
};

static bool ppm_read(const char *path, struct ppm *out)
{
	FILE *f = fopen(path, "rb");
	int maxval = 0;
	size_t size;

	out->rgb = NULL;
	if (!f)
		return false;
	if (fscanf(f, "P6 %d %d %d", &out->width, &out->height, &maxval) != 3 || maxval != 255 ||
	    out->width <= 0 || out->height <= 0 || out->width > 8192 || out->height > 8192 ||
	    fgetc(f) == EOF) {
		fclose(f);
		return false;
	}
	size = (size_t)out->width * out->height * 3;
	out->rgb = malloc(size);
	if (!out->rgb || fread(out->rgb, 1, size, f) != size) {
		free(out->rgb);
		out->rgb = NULL;
		fclose(f);
		return false;
	}
	fclose(f);
	return true;
}

/* The test pattern's colour at (x, y), generation `gen`: every pixel and
 * every generation differ from their neighbours. */
static void pattern_rgb(int x, int y, int gen, uint8_t rgb[3])
{
	rgb[0] = (uint8_t)(x * 7 + gen * 50);
	rgb[1] = (uint8_t)(y * 5 ^ gen * 0x55);
	rgb[2] = (uint8_t)((x ^ y) + gen * 40);
}

/* Paints a rectangle of generation gen in `format` through the display,
 * as a GPU flush would. */
static void paint(struct display *d, struct display_rect r, int gen, enum display_format format)
{
	uint32_t stride = r.width * 4 + 12;   /* a padded stride, as guests have */
	uint8_t *buf = calloc(r.height, stride);

	for (uint32_t y = 0; y < r.height; y++) {
		for (uint32_t x = 0; x < r.width; x++) {
			uint8_t rgb[3], *p = buf + y * stride + x * 4;

			pattern_rgb((int)(r.x + x), (int)(r.y + y), gen, rgb);
			if (format == DISPLAY_BGRX) {
				p[0] = rgb[2]; p[1] = rgb[1]; p[2] = rgb[0]; p[3] = 0x77;
			} else {   /* DISPLAY_RGBA */
				p[0] = rgb[0]; p[1] = rgb[1]; p[2] = rgb[2]; p[3] = 0x33;
			}
		}
	}
	display_output_update(d, 0, &r, buf, stride, format);
	free(buf);
}

/* What a client should show: `base` generation everywhere, `top` inside
 * `changed`. */
struct expected {
	int width, height;
	int base;
	struct display_rect changed;
	int top;
};

static unsigned mismatches(const struct ppm *shot, const struct expected *e, bool report)
{
	unsigned bad = 0;

	if (shot->width != e->width || shot->height != e->height) {
		if (report)
			fprintf(stderr, "  the client shows %dx%d, wanted %dx%d\n", shot->width,
				shot->height, e->width, e->height);
		return (unsigned)(e->width * e->height);
	}
	for (int y = 0; y < e->height; y++) {
		for (int x = 0; x < e->width; x++) {
			const struct display_rect *c = &e->changed;
			bool top = x >= (int)c->x && x < (int)(c->x + c->width) &&
				   y >= (int)c->y && y < (int)(c->y + c->height);
			const uint8_t *got = shot->rgb + ((size_t)y * e->width + x) * 3;
			uint8_t want[3];

			pattern_rgb(x, y, top ? e->top : e->base, want);
			if (memcmp(got, want, 3)) {
				if (!bad && report)
					fprintf(stderr, "  first wrong pixel (%d,%d): %02x%02x%02x, "
						"wanted %02x%02x%02x\n", x, y, got[0], got[1], got[2],
						want[0], want[1], want[2]);
				bad++;
			}
		}
	}
	return bad;
}

/* ---- what a client sees ---- */

/* spicy-screenshot: a new client, shown the picture as it stands. */
static bool screenshot(const struct server *s, const char *password, struct ppm *shot)
{
	char port[16], out[64], uri[200], pw[300];
	char *argv[12];
	int argc = 0, status;

	snprintf(out, sizeof(out), "/tmp/gvmm-spice-shot-%d.ppm", (int)getpid());
	unlink(out);
	argv[argc++] = SCREENSHOT_TOOL;
	if (s->socket_path[0]) {
		snprintf(uri, sizeof(uri), "--uri=%s", s->uri);
		argv[argc++] = uri;
	} else {
		snprintf(port, sizeof(port), "%d", s->port);
		argv[argc++] = "-h";
		argv[argc++] = "127.0.0.1";
		argv[argc++] = "-p";
		argv[argc++] = port;
	}
	if (password) {
		snprintf(pw, sizeof(pw), "--password=%s", password);
		argv[argc++] = pw;
	}
	argv[argc++] = "-o";
	argv[argc++] = out;
	argv[argc] = NULL;
	status = run_bounded(argv, 8, false);
	if (status != 0 || !ppm_read(out, shot)) {
		fprintf(stderr, "  spicy-screenshot: status %d, %s\n", status,
			status ? "no picture" : "no readable PPM");
		unlink(out);
		return false;
	}
	unlink(out);
	return true;
}

/* Pixels a new client shows wrong; one more try if the first came before
 * spice-server had drawn the last commands. */
static unsigned screenshot_mismatches(const struct server *s, const struct expected *e)
{
	unsigned bad = (unsigned)(e->width * e->height);

	for (int attempt = 0; attempt < 2 && bad; attempt++) {
		struct ppm shot;

		if (attempt)
			usleep(300 * 1000);
		if (!screenshot(s, ticket(s), &shot))
			continue;
		bad = mismatches(&shot, e, attempt == 1);
		free(shot.rgb);
	}
	return bad;
}

/* Pixels the connected client shows wrong, once updates had up to 3 s to
 * arrive. */
static unsigned held_mismatches(struct held_client *c, const struct expected *e)
{
	char path[64];
	unsigned bad = (unsigned)(e->width * e->height);
	struct timespec start;

	snprintf(path, sizeof(path), "/tmp/gvmm-spice-live-%d.ppm", (int)getpid());
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (bool last = false; bad && !last;) {
		char command[100], reply[100];
		struct ppm shot;

		last = elapsed_ms(&start) > 3000;
		snprintf(command, sizeof(command), "dump %s\n", path);
		held_say(c, command);
		if (!held_expect(c, "dumped", 3000, reply, sizeof(reply)))
			break;
		/* "dumped nothing": the client is between two surfaces. */
		if (!strcmp(reply, "dumped") && ppm_read(path, &shot)) {
			bad = mismatches(&shot, e, last);
			free(shot.rgb);
		}
		if (bad && !last)
			usleep(50 * 1000);
	}
	unlink(path);
	return bad;
}

/* Runs tests/unit/spice_client.py against s until it is done; returns its
 * exit status (0: it did all it was asked). */
static int run_client(const struct server *s, const char *password, const char *const *options)
{
	char *argv[16];
	char pw[300];
	int argc = 0;

	argv[argc++] = GI_PYTHON;
	argv[argc++] = CLIENT_SCRIPT;
	argv[argc++] = "--uri";
	argv[argc++] = (char *)s->uri;
	if (password) {
		snprintf(pw, sizeof(pw), "--password=%s", password);
		argv[argc++] = pw;
	}
	while (*options && argc < 15)
		argv[argc++] = (char *)*options++;
	argv[argc] = NULL;
	return run_bounded(argv, 10, false);
}

/* The same, connecting as remote-viewer would with the connection file
 * `path` (host, ports, password, CA), and nothing else. */
static int run_client_with_file(const char *path, const char *const *options)
{
	char *argv[16];
	int argc = 0;

	argv[argc++] = GI_PYTHON;
	argv[argc++] = CLIENT_SCRIPT;
	argv[argc++] = "--connect-file";
	argv[argc++] = (char *)path;
	while (*options && argc < 15)
		argv[argc++] = (char *)*options++;
	argv[argc] = NULL;
	return run_bounded(argv, 10, false);
}

/* The TCP ports this process listens on, into ports (at most max); how
 * many. */
static unsigned listening_tcp_ports(int *ports, unsigned max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	while (d && (e = readdir(d)) && n < max) {
		struct sockaddr_storage a;
		socklen_t alen = sizeof(a), ilen = sizeof(int);
		int fd = atoi(e->d_name), listening = 0;

		if (e->d_name[0] == '.' || fd == dirfd(d) ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) < 0 || !listening ||
		    getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
			continue;
		if (a.ss_family == AF_INET)
			ports[n++] = ntohs(((struct sockaddr_in *)&a)->sin_port);
		else if (a.ss_family == AF_INET6)
			ports[n++] = ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
	}
	if (d)
		closedir(d);
	return n;
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static bool file_gone(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 && errno == ENOENT;
}

static unsigned keys_recorded(void)
{
	unsigned n;

	pthread_mutex_lock(&rec.lock);
	n = rec.nr_keys;
	pthread_mutex_unlock(&rec.lock);
	return n;
}

/* Why the GObject-introspection client cannot run here, or NULL. */
static const char *client_missing(void)
{
	if (access(GI_PYTHON, X_OK) < 0)
		return "no " GI_PYTHON;
	if (access(CLIENT_SCRIPT, R_OK) < 0)
		return "no " CLIENT_SCRIPT " (run from the source tree)";
	if (run_bounded((char *const[]){ GI_PYTHON, "-c",
			"import gi; gi.require_version('SpiceClientGLib', '2.0'); "
			"from gi.repository import SpiceClientGLib", NULL }, 10, true))
		return "no SpiceClientGLib for " GI_PYTHON " (python3-gi, gir1.2-spiceclientglib-2.0)";
	return NULL;
}

/* ---- the tests ---- */

static void test_pixels_reach_a_new_client(void)
{
	struct server s;
	struct expected e = { WIDTH, HEIGHT, 1, { 0, 0, 0, 0 }, 1 };

	if (access(SCREENSHOT_TOOL, X_OK) < 0)
		SKIP_TEST("no " SCREENSHOT_TOOL " (package spice-client-gtk)");
	if (!server_start(&s, 1, false, ",streaming-video=off")) {
		CHECK(!"the server starts");
		return;
	}
	/* This thread is the GPU; the loop runs on its own. */
	CHECK_EQ(display_output_resize(s.display, 0, WIDTH, HEIGHT), 0);
	paint(s.display, (struct display_rect){ 0, 0, WIDTH, HEIGHT }, 1, DISPLAY_BGRX);
	CHECK_EQ(screenshot_mismatches(&s, &e), 0);
	/* The GPU heard of the client (a 3D one then reads its picture back);
	 * the loop thread tells it, so allow it a moment. */
	for (int i = 0; i < 200; i++) {
		unsigned arrivals;

		pthread_mutex_lock(&rec.lock);
		arrivals = rec.nr_arrivals;
		pthread_mutex_unlock(&rec.lock);
		if (arrivals)
			break;
		usleep(10 * 1000);
	}
	pthread_mutex_lock(&rec.lock);
	CHECK(rec.nr_arrivals >= 1);
	pthread_mutex_unlock(&rec.lock);

	e.changed = (struct display_rect){ 37, 21, 101, 77 };
	e.top = 2;
	paint(s.display, e.changed, 2, DISPLAY_RGBA);
	CHECK_EQ(screenshot_mismatches(&s, &e), 0);
	server_stop(&s);
}

static void test_updates_reach_a_connected_client(void)
{
	const char *missing = client_missing();
	struct expected e = { WIDTH, HEIGHT, 1, { 0, 0, 0, 0 }, 1 };
	static const uint8_t arrow[8 * 8 * 4] = { 0x11, 0x22, 0x33, 0x44 };
	struct held_client c;
	struct server s;
	char line[200];

	if (missing)
		SKIP_TEST(missing);
	if (!server_start(&s, 1, false, ",streaming-video=off")) {
		CHECK(!"the server starts");
		return;
	}
	CHECK_EQ(display_output_resize(s.display, 0, WIDTH, HEIGHT), 0);
	if (!held_start(&c, &s, 0)) {
		CHECK(!"a client connects");
		server_stop(&s);
		return;
	}
	CHECK_EQ(spice_core_display_clients(), 1);
	paint(s.display, (struct display_rect){ 0, 0, WIDTH, HEIGHT }, 1, DISPLAY_BGRX);
	CHECK_EQ(held_mismatches(&c, &e), 0);
	e.changed = (struct display_rect){ 300, 190, 20, 10 };   /* the corner, to the edge */
	e.top = 2;
	paint(s.display, e.changed, 2, DISPLAY_RGBA);
	CHECK_EQ(held_mismatches(&c, &e), 0);

	/* A burst of small flushes, faster than any refresh rate, then a
	 * trickle slower than it: all of it arrives, coalesced. */
	for (uint32_t ty = 0; ty < HEIGHT; ty += 16)
		for (uint32_t tx = 0; tx < WIDTH; tx += 16)
			paint(s.display, (struct display_rect){ tx, ty, 16, 16 }, 3, DISPLAY_BGRX);
	for (int i = 0; i < 40; i++) {
		paint(s.display, (struct display_rect){ (uint32_t)i * 7, (uint32_t)i * 4, 9, 9 },
		      4 + i % 2, DISPLAY_BGRX);
		paint(s.display, (struct display_rect){ (uint32_t)i * 7, (uint32_t)i * 4, 9, 9 },
		      3, DISPLAY_RGBA);
		usleep(5 * 1000);
	}
	e.base = e.top = 3;
	CHECK_EQ(held_mismatches(&c, &e), 0);

	/* A new size while the client watches. */
	CHECK_EQ(display_output_resize(s.display, 0, 200, 120), 0);
	paint(s.display, (struct display_rect){ 0, 0, 200, 120 }, 5, DISPLAY_BGRX);
	e = (struct expected){ 200, 120, 5, { 0, 0, 0, 0 }, 5 };
	CHECK_EQ(held_mismatches(&c, &e), 0);

	/* The cursor: its shape reaches the client; hiding it too. */
	display_cursor_define(s.display, 0, 8, 8, 2, 3, arrow, 8 * 4, DISPLAY_BGRA);
	display_cursor_move(s.display, 0, 50, 60, true);
	CHECK(held_expect(&c, "cursor-set", 3000, line, sizeof(line)));
	/* spice-gtk hands the shape over as RGBA: B 11, G 22, R 33, A 44. */
	CHECK(!strcmp(line, "cursor-set 8 8 2 3 33221144"));
	display_cursor_move(s.display, 0, 50, 60, false);
	CHECK(held_expect(&c, "cursor-hide", 3000, NULL, 0));

	/* The server goes while a client is connected. */
	server_stop(&s);
	CHECK(held_expect(&c, "disconnected", 5000, NULL, 0));
	CHECK_EQ(held_end(&c, 3000), 0);
}

/* A unix socket needs no ticket: it is its owner's alone (mode 0600,
 * whatever the umask), and no connection file is made. */
static void test_unix_socket(void)
{
	struct expected e = { WIDTH, HEIGHT, 1, { 0, 0, 0, 0 }, 1 };
	struct server s;
	mode_t old_umask;

	if (access(SCREENSHOT_TOOL, X_OK) < 0)
		SKIP_TEST("no " SCREENSHOT_TOOL " (package spice-client-gtk)");
	old_umask = umask(0);
	if (!server_start(&s, 1, true, "")) {
		umask(old_umask);
		CHECK(!"the server starts");
		return;
	}
	umask(old_umask);
	CHECK(!strncmp(s.uri, "spice+unix:///tmp/", 18));
	CHECK_EQ(file_mode(s.socket_path), 0600);
	CHECK(spice_display_connect_file(s.display) == NULL);
	CHECK_EQ(display_output_resize(s.display, 0, WIDTH, HEIGHT), 0);
	paint(s.display, (struct display_rect){ 0, 0, WIDTH, HEIGHT }, 1, DISPLAY_BGRX);
	CHECK_EQ(screenshot_mismatches(&s, &e), 0);
	server_stop(&s);
	/* The socket file goes with the server. */
	CHECK(file_gone(s.socket_path));
}

/* spice_display_create for opt fails; a server it started anyway is
 * stopped, so that the next tests can have theirs. */
static bool create_refused(const struct spice_options *opt, struct event_loop *loop, char *err,
			   size_t errlen)
{
	struct display *d;

	if (spice_display_create(&d, opt, loop, 1, 640, 480, err, errlen) < 0)
		return true;
	spice_display_destroy(d);
	return false;
}

/* Whatever is at unix:PATH that is not a stale socket is refused, one
 * line, and left as it was: a file of the user's, a live socket of
 * another program's. */
static void test_unix_path_taken(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char path[64], arg[80], want[160], data[8] = "";
	struct spice_options opt;
	struct event_loop loop;
	char err[256];
	int fd;

	snprintf(path, sizeof(path), "/tmp/gvmm-spice-taken-%d", (int)getpid());
	snprintf(arg, sizeof(arg), "unix:%s", path);
	CHECK_EQ(spice_options_parse(arg, &opt, err, sizeof(err)), 0);
	CHECK_EQ(spice_ticket_settle(&opt, NULL, err, sizeof(err)), 0);
	CHECK_EQ(event_loop_init(&loop), 0);

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "keep", 4), 4);
	close(fd);
	CHECK(create_refused(&opt, &loop, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s exists and is not a socket", path);
	CHECK(!strcmp(err, want));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_EQ(read(fd, data, sizeof(data)), 4);
		CHECK(!memcmp(data, "keep", 4));
		close(fd);
	}
	CHECK_EQ(unlink(path), 0);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 1) == 0);
	CHECK(create_refused(&opt, &loop, err, sizeof(err)));
	snprintf(want, sizeof(want), "another program is listening on %s", path);
	CHECK(!strcmp(err, want));
	CHECK(!file_gone(path));
	if (fd >= 0)
		close(fd);
	unlink(path);
	event_loop_destroy(&loop);
}

/* A self-signed certificate for 127.0.0.1 that is its own CA, in the
 * files spice-server wants, in a new directory dir. */
static bool make_certificates(char *dir)
{
	char key[128], cert[128], ca[128];
	FILE *in, *out;
	int ch, status;

	if (!mkdtemp(dir))
		return false;
	snprintf(key, sizeof(key), "%s/server-key.pem", dir);
	snprintf(cert, sizeof(cert), "%s/server-cert.pem", dir);
	snprintf(ca, sizeof(ca), "%s/ca-cert.pem", dir);
	status = run_bounded((char *const[]){ OPENSSL_TOOL, "req", "-x509", "-newkey",
		"rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj",
		"/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", NULL }, 20, true);
	if (status)
		return false;
	in = fopen(cert, "r");
	out = fopen(ca, "w");
	while (in && out && (ch = fgetc(in)) != EOF)
		fputc(ch, out);
	if (in)
		fclose(in);
	return out && !fclose(out);
}

static void remove_certificates(const char *dir)
{
	static const char *const names[] = { "server-key.pem", "server-cert.pem", "ca-cert.pem" };
	char path[128];

	for (unsigned i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void test_tls(void)
{
	const char *missing = client_missing();
	char dir[] = "/tmp/gvmm-spice-tls-XXXXXX";
	char extra[128], uri[64], ca[128], want[200];
	struct spice_options opt;
	struct event_loop loop;
	struct display *d;
	struct server s;
	char err[256];
	int tls_port;

	if (missing)
		SKIP_TEST(missing);
	if (access(OPENSSL_TOOL, X_OK) < 0)
		SKIP_TEST("no " OPENSSL_TOOL " to make a certificate");
	if (!make_certificates(dir)) {
		CHECK(!"openssl makes a certificate");
		return;
	}
	tls_port = free_port();
	snprintf(extra, sizeof(extra), ",tls-port=%d,x509-dir=%s", tls_port, dir);
	if (server_start(&s, 1, false, extra)) {
		int ports[8];

		CHECK(strstr(s.uri, "?tls-port=") != NULL);
		CHECK_EQ(listening_tcp_ports(ports, 8), 2);
		/* The plain port does not bypass TLS: a client that cannot
		 * switch to it is refused, ticket or not. */
		CHECK(run_client(&s, ticket(&s), (const char *const[]){ "--keys", "0x1e", NULL }) != 0);
		CHECK_EQ(keys_recorded(), 0);
		/* Only the TLS port: the connection is TLS or nothing. */
		snprintf(uri, sizeof(uri), "spice://127.0.0.1?tls-port=%d", tls_port);
		snprintf(ca, sizeof(ca), "--ca-file=%s/ca-cert.pem", dir);
		snprintf(s.uri, sizeof(s.uri), "%s", uri);
		CHECK_EQ(run_client(&s, ticket(&s), (const char *const[]){ ca, "--keys", "0x1e", NULL }),
			 0);
		usleep(100 * 1000);
		pthread_mutex_lock(&rec.lock);
		CHECK_EQ(rec.nr_keys, 2);
		CHECK_EQ(rec.key_codes[0], KEY_A);
		pthread_mutex_unlock(&rec.lock);
		/* As remote-viewer does with the connection file (both ports,
		 * the CA): told to secure on the plain port, it does. */
		rec_reset();
		CHECK_EQ(run_client_with_file(s.connect_file, (const char *const[]){
			"--keys", "0x1e", NULL }), 0);
		usleep(100 * 1000);
		CHECK_EQ(keys_recorded(), 2);
		server_stop(&s);
	} else {
		CHECK(!"the server starts with TLS");
	}

	/* plaintext=on: the user lets channels skip TLS. */
	snprintf(extra, sizeof(extra), ",tls-port=%d,x509-dir=%s,plaintext=on", tls_port, dir);
	if (server_start(&s, 1, false, extra)) {
		CHECK_EQ(run_client(&s, ticket(&s), (const char *const[]){ "--keys", "0x1e", NULL }), 0);
		server_stop(&s);
	} else {
		CHECK(!"the server starts with TLS and plaintext=on");
	}

	/* TLS only: nothing listens in plain. */
	snprintf(extra, sizeof(extra), "127.0.0.1,tls-port=%d,x509-dir=%s", tls_port, dir);
	memset(&s, 0, sizeof(s));
	if (server_start_arg(&s, 1, extra)) {
		int ports[8];

		CHECK_EQ(listening_tcp_ports(ports, 8), 1);
		CHECK_EQ(ports[0], tls_port);
		snprintf(want, sizeof(want), "spice://127.0.0.1?tls-port=%d", tls_port);
		CHECK(!strcmp(s.uri, want));
		CHECK(s.connect_file[0] != 0);
		CHECK_EQ(run_client_with_file(s.connect_file, (const char *const[]){
			"--keys", "0x1e", NULL }), 0);
		usleep(100 * 1000);
		CHECK_EQ(keys_recorded(), 2);
		server_stop(&s);
	} else {
		CHECK(!"the server starts with TLS only");
	}

	/* A certificate missing from the directory is named. */
	remove_certificates(dir);
	snprintf(extra, sizeof(extra), "127.0.0.1:%d,tls-port=%d,x509-dir=%s", free_port(),
		 tls_port, dir);
	CHECK_EQ(spice_options_parse(extra, &opt, err, sizeof(err)), 0);
	CHECK_EQ(spice_ticket_settle(&opt, NULL, err, sizeof(err)), 0);
	CHECK_EQ(event_loop_init(&loop), 0);
	CHECK_EQ(spice_display_create(&d, &opt, &loop, 1, 640, 480, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "cannot read %s/ca-cert.pem: No such file or directory", dir);
	CHECK(!strcmp(err, want));
	event_loop_destroy(&loop);
}

static void test_password(void)
{
	struct server s;
	struct ppm shot;

	if (access(SCREENSHOT_TOOL, X_OK) < 0)
		SKIP_TEST("no " SCREENSHOT_TOOL " (package spice-client-gtk)");
	if (!server_start(&s, 1, false, ",password=open-sesame")) {
		CHECK(!"the server starts");
		return;
	}
	CHECK(!screenshot(&s, "open-sesamE", &shot));
	CHECK(!screenshot(&s, NULL, &shot));
	if (!client_missing())
		CHECK_EQ(run_client(&s, "wrong", (const char *const[]){ "--keys", "0x1e", NULL }), 3);
	CHECK(screenshot(&s, "open-sesame", &shot));
	free(shot.rgb);
	pthread_mutex_lock(&rec.lock);
	CHECK_EQ(rec.nr_keys, 0);   /* nothing got through the refused connection */
	pthread_mutex_unlock(&rec.lock);
	/* The user knows the password they chose: no file unless asked for. */
	CHECK(spice_display_connect_file(s.display) == NULL);
	server_stop(&s);
}

/* A chosen password goes into a connection file only where connect-file=
 * names one (a launcher on another machine writes its own). */
static void test_chosen_password_with_connect_file(void)
{
	char path[64], extra[160];
	struct server s;

	snprintf(path, sizeof(path), "/tmp/gvmm-spice-chosen-%d.vv", (int)getpid());
	unlink(path);
	snprintf(extra, sizeof(extra), ",password=open-sesame,connect-file=%s", path);
	if (!server_start(&s, 1, false, extra)) {
		CHECK(!"the server starts");
		return;
	}
	CHECK(!strcmp(s.connect_file, path));
	CHECK_EQ(file_mode(path), 0600);
	CHECK(!strcmp(s.password, "open-sesame"));
	server_stop(&s);
	CHECK(file_gone(path));
}

/* Loopback is no boundary: a guest reaching the host's 127.0.0.1, any
 * other local user. So a TCP listener without a password gets a made-up
 * ticket, and only whoever reads the owner's connection file (mode 0600,
 * in $XDG_RUNTIME_DIR) gets in; the file goes with the server. */
static void test_a_ticket_by_default(void)
{
	const char *missing = client_missing();
	char want[128], value[64];
	struct server s;
	struct ppm shot;

	if (access(SCREENSHOT_TOOL, X_OK) < 0)
		SKIP_TEST("no " SCREENSHOT_TOOL " (package spice-client-gtk)");
	if (!server_start(&s, 1, false, "")) {
		CHECK(!"the server starts");
		return;
	}
	snprintf(want, sizeof(want), "%s/gvmm-%d.vv", runtime_dir, (int)getpid());
	CHECK(!strcmp(s.connect_file, want));
	CHECK_EQ(file_mode(s.connect_file), 0600);
	CHECK_EQ(strlen(s.password), SPICE_TICKET_GENERATED_LEN);
	snprintf(want, sizeof(want), "%d", s.port);
	CHECK(connect_file_value(s.connect_file, "port", value, sizeof(value)) &&
	      !strcmp(value, want));
	CHECK(connect_file_value(s.connect_file, "host", value, sizeof(value)) &&
	      !strcmp(value, "127.0.0.1"));
	CHECK(connect_file_value(s.connect_file, "type", value, sizeof(value)) &&
	      !strcmp(value, "spice"));

	/* Without the ticket: refused. */
	CHECK(!screenshot(&s, NULL, &shot));
	if (!missing)
		CHECK_EQ(run_client(&s, NULL, (const char *const[]){ "--keys", "0x1e", NULL }), 3);
	CHECK_EQ(keys_recorded(), 0);
	/* With what the file says: in. */
	CHECK(screenshot(&s, s.password, &shot));
	free(shot.rgb);
	if (!missing) {
		CHECK_EQ(run_client_with_file(s.connect_file, (const char *const[]){
			"--keys", "0x1e", NULL }), 0);
		usleep(100 * 1000);
		CHECK_EQ(keys_recorded(), 2);
	}
	server_stop(&s);
	CHECK(file_gone(s.connect_file));
}

/* connect-file=PATH puts it there, new: a symlink planted at PATH is
 * refused, not followed, and the server does not start. */
static void test_connect_file_option(void)
{
	char path[64], target[64], extra[160], want[200];
	struct server s;

	snprintf(path, sizeof(path), "/tmp/gvmm-spice-vv-%d.vv", (int)getpid());
	snprintf(target, sizeof(target), "/tmp/gvmm-spice-vv-%d.target", (int)getpid());
	unlink(path);
	unlink(target);
	snprintf(extra, sizeof(extra), ",connect-file=%s", path);
	if (server_start(&s, 1, false, extra)) {
		CHECK(!strcmp(s.connect_file, path));
		CHECK_EQ(file_mode(path), 0600);
		CHECK_EQ(strlen(s.password), SPICE_TICKET_GENERATED_LEN);
		server_stop(&s);
		CHECK(file_gone(path));
	} else {
		CHECK(!"the server starts with connect-file");
	}

	CHECK_EQ(symlink(target, path), 0);
	CHECK(!server_start(&s, 1, false, extra));
	snprintf(want, sizeof(want), "connect-file %s exists (as a file or a symlink): remove it "
		 "or name a new one", path);
	CHECK(!strcmp(s.err, want));
	CHECK(file_gone(target));
	CHECK_EQ(unlink(path), 0);
}

/* disable-ticketing: knowingly open to anyone who reaches the port, so
 * no file, and the spice:// address is what to connect to. */
static void test_disable_ticketing(void)
{
	struct server s;
	struct ppm shot;

	if (access(SCREENSHOT_TOOL, X_OK) < 0)
		SKIP_TEST("no " SCREENSHOT_TOOL " (package spice-client-gtk)");
	if (!server_start(&s, 1, false, ",disable-ticketing")) {
		CHECK(!"the server starts");
		return;
	}
	CHECK(spice_display_connect_file(s.display) == NULL);
	CHECK(screenshot(&s, NULL, &shot));
	free(shot.rgb);
	server_stop(&s);
}

static void test_input_reaches_the_devices(void)
{
	const char *missing = client_missing();
	struct server s;

	if (missing)
		SKIP_TEST(missing);
	if (!server_start(&s, 1, false, "")) {
		CHECK(!"the server starts");
		return;
	}
	CHECK_EQ(display_output_resize(s.display, 0, WIDTH, HEIGHT), 0);
	CHECK_EQ(run_client(&s, ticket(&s), (const char *const[]){
		"--keys", "0x1e,0x11d", "--position", "160,100", "--click", "--wheel-up", NULL }), 0);
	/* Handled on the loop thread before the client's goodbye was. */
	usleep(100 * 1000);
	pthread_mutex_lock(&rec.lock);
	CHECK(rec.nr_keys >= 4);
	if (rec.nr_keys >= 4) {
		CHECK_EQ(rec.key_codes[0], KEY_A);
		CHECK(rec.key_pressed[0]);
		CHECK_EQ(rec.key_codes[1], KEY_A);
		CHECK(!rec.key_pressed[1]);
		CHECK_EQ(rec.key_codes[2], KEY_RIGHTCTRL);
		CHECK(rec.key_pressed[2]);
		CHECK_EQ(rec.key_codes[3], KEY_RIGHTCTRL);
		CHECK(!rec.key_pressed[3]);
	}
	CHECK(rec.nr_absolute >= 1);
	/* 160 of 0..319 and 100 of 0..199, on 0..32767, rounded. */
	CHECK_EQ(rec.abs_x, (160 * 32767 + 159) / 319);
	CHECK_EQ(rec.abs_y, (100 * 32767 + 99) / 199);
	CHECK(rec.nr_buttons >= 2);
	if (rec.nr_buttons >= 2) {
		CHECK_EQ(rec.button_masks[0], DISPLAY_BUTTON_LEFT);
		CHECK_EQ(rec.button_masks[1], 0);
	}
	CHECK_EQ(rec.wheel_total, 1);   /* away from the user */
	pthread_mutex_unlock(&rec.lock);
	server_stop(&s);
}

static void test_window_size_becomes_a_mode_request(void)
{
	const char *missing = client_missing();
	struct server s;
	bool got = false;

	if (missing)
		SKIP_TEST(missing);
	if (!server_start(&s, 1, false, "")) {
		CHECK(!"the server starts");
		return;
	}
	CHECK_EQ(run_client(&s, ticket(&s), (const char *const[]){ "--monitor", "1024x768", NULL }),
		 0);
	for (int i = 0; i < 100 && !got; i++) {
		pthread_mutex_lock(&rec.lock);
		got = rec.nr_modes > 0;
		pthread_mutex_unlock(&rec.lock);
		if (!got)
			usleep(20 * 1000);
	}
	pthread_mutex_lock(&rec.lock);
	CHECK_EQ(rec.nr_modes, 1);
	CHECK_EQ(rec.mode_width[0], 1024);
	CHECK_EQ(rec.mode_height[0], 768);
	pthread_mutex_unlock(&rec.lock);
	server_stop(&s);
}

/* Each output is a display channel of its own, with its own size and
 * pictures; a client's window for each becomes that output's mode. The
 * tablet spans one output, so spice-server keeps clients with two in
 * server-mouse mode: the pointer moves relatively. */
static void test_two_outputs(void)
{
	const char *missing = client_missing();
	struct expected e = { 200, 120, 6, { 0, 0, 0, 0 }, 6 };
	struct held_client c;
	struct server s;
	bool got = false;

	if (missing)
		SKIP_TEST(missing);
	if (!server_start(&s, 2, false, ",streaming-video=off")) {
		CHECK(!"the server starts");
		return;
	}
	CHECK_EQ(display_output_resize(s.display, 0, WIDTH, HEIGHT), 0);
	CHECK_EQ(display_output_resize(s.display, 1, 200, 120), 0);
	CHECK_EQ(display_output_resize(s.display, 2, 200, 120), -1);   /* no third output */
	paint(s.display, (struct display_rect){ 0, 0, WIDTH, HEIGHT }, 1, DISPLAY_BGRX);
	if (held_start(&c, &s, 1)) {
		/* paint() draws on output 0; output 1 gets its own picture. */
		uint8_t *buf = malloc(200 * 120 * 4);

		for (int y = 0; y < 120; y++)
			for (int x = 0; x < 200; x++) {
				uint8_t *p = buf + (y * 200 + x) * 4;

				pattern_rgb(x, y, 6, p);   /* R, G, B, then X */
			}
		display_output_update(s.display, 1, &(struct display_rect){ 0, 0, 200, 120 }, buf,
				      200 * 4, DISPLAY_RGBX);
		free(buf);
		CHECK_EQ(held_mismatches(&c, &e), 0);
		held_say(&c, "quit\n");
		CHECK_EQ(held_end(&c, 3000), 0);
	} else {
		CHECK(!"a client watches output 1");
	}

	CHECK_EQ(run_client(&s, ticket(&s), (const char *const[]){ "--monitor", "640x480,800x600",
							     "--motion=-7,5", NULL }), 0);
	for (int i = 0; i < 100 && !got; i++) {
		pthread_mutex_lock(&rec.lock);
		got = rec.nr_modes >= 2;
		pthread_mutex_unlock(&rec.lock);
		if (!got)
			usleep(20 * 1000);
	}
	pthread_mutex_lock(&rec.lock);
	CHECK_EQ(rec.nr_modes, 2);
	CHECK_EQ(rec.mode_width[0], 640);
	CHECK_EQ(rec.mode_height[0], 480);
	CHECK_EQ(rec.mode_width[1], 800);
	CHECK_EQ(rec.mode_height[1], 600);
	CHECK_EQ((uint32_t)rec.rel_x, (uint32_t)-7);
	CHECK_EQ(rec.rel_y, 5);
	pthread_mutex_unlock(&rec.lock);
	server_stop(&s);
}

static void test_refusals_are_one_line(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int taken = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct event_loop loop;
	struct spice_options opt;
	struct display *d = NULL;
	char arg[64], err[256], want[128];
	struct server s;

	CHECK(taken >= 0);
	CHECK_EQ(bind(taken, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(listen(taken, 1), 0);
	CHECK_EQ(getsockname(taken, (struct sockaddr *)&a, &len), 0);
	snprintf(arg, sizeof(arg), "127.0.0.1:%d", ntohs(a.sin_port));
	CHECK_EQ(spice_options_parse(arg, &opt, err, sizeof(err)), 0);
	CHECK_EQ(spice_ticket_settle(&opt, NULL, err, sizeof(err)), 0);
	CHECK_EQ(event_loop_init(&loop), 0);

	CHECK_EQ(spice_display_create(&d, &opt, &loop, 1, 640, 480, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "cannot listen on %s: address in use?", arg);
	CHECK(!strcmp(err, want));
	close(taken);

	CHECK_EQ(spice_display_create(&d, &opt, &loop, 0, 640, 480, err, sizeof(err)), -1);
	CHECK(strstr(err, "1 to 16") != NULL);
	CHECK_EQ(spice_display_create(&d, &opt, &loop, 1, 640, 0, err, sizeof(err)), -1);
	CHECK(strstr(err, "640x0") != NULL);

	/* One SPICE server per process: spice-server's callbacks carry no
	 * context to tell two apart. */
	if (server_start(&s, 1, false, "")) {
		snprintf(arg, sizeof(arg), "127.0.0.1:%d", free_port());
		CHECK_EQ(spice_options_parse(arg, &opt, err, sizeof(err)), 0);
		CHECK_EQ(spice_ticket_settle(&opt, NULL, err, sizeof(err)), 0);
		CHECK_EQ(spice_display_create(&d, &opt, &loop, 1, 640, 480, err, sizeof(err)), -1);
		CHECK(!strcmp(err, "a SPICE server is running already"));
		server_stop(&s);
	} else {
		CHECK(!"the server starts");
	}
	event_loop_destroy(&loop);
}

TEST_MAIN("spice_display",
	TEST_CASE(test_pixels_reach_a_new_client),
	TEST_CASE(test_updates_reach_a_connected_client),
	TEST_CASE(test_unix_socket),
	TEST_CASE(test_unix_path_taken),
	TEST_CASE(test_password),
	TEST_CASE(test_a_ticket_by_default),
	TEST_CASE(test_connect_file_option),
	TEST_CASE(test_disable_ticketing),
	TEST_CASE(test_tls),
	TEST_CASE(test_chosen_password_with_connect_file),
	TEST_CASE(test_input_reaches_the_devices),
	TEST_CASE(test_window_size_becomes_a_mode_request),
	TEST_CASE(test_two_outputs),
	TEST_CASE(test_refusals_are_one_line))
