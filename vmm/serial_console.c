#include "serial_console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_parse.h"
#include "log.h"
#include "terminal.h"

#define CTRL_A 0x01

int serial_config_parse(const char *arg, struct serial_config *cfg)
{
	static const char max_size_key[] = "max-size=";
	const char *path, *end, *comma;
	uint64_t max_size = SERIAL_FILE_DEFAULT_MAX_SIZE;

	if (strcmp(arg, "stdio") == 0) {
		*cfg = (struct serial_config){ .mode = SERIAL_STDIO };
		return 0;
	}
	if (strcmp(arg, "none") == 0) {
		*cfg = (struct serial_config){ .mode = SERIAL_NONE };
		return 0;
	}
	if (strncmp(arg, "file:", 5) != 0)
		return -1;
	path = arg + 5;
	end = path + strlen(path);
	comma = strrchr(path, ',');
	if (comma && strncmp(comma + 1, max_size_key, sizeof(max_size_key) - 1) == 0) {
		const char *value = comma + sizeof(max_size_key);

		if (strcmp(value, "0") == 0)
			max_size = 0;
		else if (parse_size(value, &max_size) < 0)
			return -1;
		end = comma;
	}
	if (end == path || (size_t)(end - path) >= sizeof(cfg->path))
		return -1;
	*cfg = (struct serial_config){ .mode = SERIAL_FILE, .max_size = max_size };
	memcpy(cfg->path, path, (size_t)(end - path));
	cfg->path[end - path] = 0;
	return 0;
}

/* The serial file. Never through a symbolic link: a link planted where
 * the file goes (say, in /tmp) would point guest output, and O_TRUNC, at
 * whatever the link names. 0600 for a new file: the console carries what
 * the guest's users type and see. O_NOCTTY: a terminal device given as
 * the file must not become our controlling terminal. */
static int open_serial_file(const struct serial_config *cfg, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(cfg->path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NOCTTY |
			       O_CLOEXEC, 0600);

	if (fd >= 0)
		return fd;
	if (errno == ELOOP && lstat(cfg->path, &st) == 0 && S_ISLNK(st.st_mode))
		snprintf(err, errlen, "--serial file:%s: is a symbolic link, which gvmm does "
			 "not follow; give the file itself", cfg->path);
	else
		snprintf(err, errlen, "--serial file:%s: %s", cfg->path, strerror(errno));
	return -1;
}

int serial_console_open(struct serial_console *con, const struct serial_config *cfg,
			char *err, size_t errlen)
{
	int fd, ret = 0;

	memset(con, 0, sizeof(*con));
	con->mode = cfg->mode;
	con->in_fd = -1;
	con->rx_space_fd = -1;
	switch (cfg->mode) {
	case SERIAL_STDIO:
		con->in_fd = STDIN_FILENO;
		con->in_is_tty = isatty(STDIN_FILENO);
		ret = console_output_open_stdout(&con->out);
		if (ret < 0)
			snprintf(err, errlen, "--serial stdio: %s", strerror(-ret));
		break;
	case SERIAL_FILE:
		fd = open_serial_file(cfg, err, errlen);
		if (fd < 0) {
			console_output_open_none(&con->out);
			return -1;
		}
		ret = console_output_open_fd(&con->out, fd, cfg->max_size);
		if (ret < 0) {
			snprintf(err, errlen, "--serial file:%s: %s", cfg->path, strerror(-ret));
			close(fd);
		}
		break;
	case SERIAL_NONE:
		console_output_open_none(&con->out);
		break;
	}
	if (ret < 0)
		return -1;
	con->rx_space_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (con->rx_space_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Hands buffered input to the UART; pauses reading when it is full. */
static void serial_console_offer(struct serial_console *con)
{
	size_t taken;

	if (!con->receive || con->pending_start == con->pending_end)
		goto resume;
	taken = con->receive(con->device, con->pending + con->pending_start,
			     con->pending_end - con->pending_start);
	con->pending_start += taken;
	if (con->pending_start < con->pending_end) {
		if (!con->input_paused && con->in_fd >= 0) {
			event_loop_modify(con->loop, con->in_fd, 0);
			con->input_paused = true;
		}
		return;
	}
resume:
	con->pending_start = con->pending_end = 0;
	if (con->input_paused) {
		event_loop_modify(con->loop, con->in_fd, EPOLLIN);
		con->input_paused = false;
	}
}

/* Applies the Ctrl-A escapes of a terminal; returns how many bytes remain
 * for the guest in buf. */
static size_t serial_console_filter_escapes(struct serial_console *con,
					    uint8_t *buf, size_t len)
{
	size_t out = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];

		if (con->escape_pending) {
			con->escape_pending = false;
			if (c == 'x' || c == 'X') {
				if (con->on_quit)
					con->on_quit(con->quit_ctx);
				return out;
			}
			if (c == CTRL_A)
				buf[out++] = c;
			continue;  /* an unknown escape is dropped */
		}
		if (c == CTRL_A)
			con->escape_pending = true;
		else
			buf[out++] = c;
	}
	return out;
}

static void serial_console_on_input(void *opaque, uint32_t events)
{
	struct serial_console *con = opaque;
	ssize_t n;

	(void)events;
	n = read(con->in_fd, con->pending, sizeof(con->pending));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* End of input (or a hung-up terminal): the guest keeps running. */
		event_loop_remove(con->loop, con->in_fd);
		con->in_fd = -1;
		return;
	}
	con->pending_start = 0;
	con->pending_end = con->in_is_tty ?
		serial_console_filter_escapes(con, con->pending, (size_t)n) : (size_t)n;
	serial_console_offer(con);
}

static void serial_console_on_rx_space(void *opaque, uint32_t events)
{
	struct serial_console *con = opaque;
	uint64_t count;

	(void)events;
	if (read(con->rx_space_fd, &count, sizeof(count)) < 0)
		return;
	serial_console_offer(con);
}

/* The output has room again: the device may send more. */
static void serial_console_on_tx_space(void *opaque)
{
	struct serial_console *con = opaque;

	if (con->tx_space)
		con->tx_space(con->device);
}

int serial_console_start(struct serial_console *con, struct event_loop *loop,
			 void (*on_quit)(void *ctx), void *quit_ctx)
{
	int ret;

	con->loop = loop;
	con->on_quit = on_quit;
	con->quit_ctx = quit_ctx;
	console_output_set_space(&con->out, serial_console_on_tx_space, con);
	ret = console_output_start(&con->out, loop);
	if (ret < 0)
		return ret;
	ret = event_loop_add(loop, con->rx_space_fd, EPOLLIN, serial_console_on_rx_space, con);
	if (ret < 0)
		return ret;
	if (con->in_fd < 0)
		return 0;
	if (con->in_is_tty && (ret = terminal_make_raw(con->in_fd)) < 0)
		log_warn("cannot put the terminal in raw mode: %s", strerror(-ret));
	ret = event_loop_add(loop, con->in_fd, EPOLLIN, serial_console_on_input, con);
	if (ret == -EPERM) {
		/* A regular file cannot be polled; it is not an interactive console. */
		log_info("stdin is a plain file: it is not used as serial input");
		con->in_fd = -1;
		return 0;
	}
	return ret;
}

void serial_console_attach(struct serial_console *con, console_receive_fn receive,
			   console_tx_space_fn tx_space, void *device)
{
	con->receive = receive;
	con->tx_space = receive ? tx_space : NULL;
	con->device = device;
}

void serial_console_close(struct serial_console *con)
{
	/* The last output first, still in raw mode, as it was sent. */
	console_output_close(&con->out);
	terminal_restore();
	if (con->rx_space_fd >= 0)
		close(con->rx_space_fd);
	con->rx_space_fd = -1;
}

size_t serial_console_transmit_bytes(void *opaque, const uint8_t *bytes, size_t len)
{
	struct serial_console *con = opaque;

	return console_output_write(&con->out, bytes, len);
}

void serial_console_transmit(void *opaque, uint8_t byte)
{
	struct serial_console *con = opaque;

	console_output_put_byte(&con->out, byte);
}

void serial_console_rx_space(void *opaque)
{
	struct serial_console *con = opaque;
	uint64_t one = 1;

	if (write(con->rx_space_fd, &one, sizeof(one)) < 0) {
		/* Counter full: the loop has a wake-up queued already. */
	}
}
