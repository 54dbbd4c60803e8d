#include "console_output.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static void init_common(struct console_output *o)
{
	pthread_condattr_t attr;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->wake_fd = -1;
	o->restore_flags = -1;
	pthread_mutex_init(&o->lock, NULL);
	/* put_byte's deadline must not move with the wall clock. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&o->room, &attr);
	pthread_condattr_destroy(&attr);
}

void console_output_open_none(struct console_output *o)
{
	init_common(o);
}

static bool never_waits(mode_t mode)
{
	return S_ISREG(mode) || S_ISBLK(mode);
}

/* What is left of opening once fd is chosen: the buffer, for an fd that
 * can make us wait. */
static int finish_open(struct console_output *o)
{
	if (o->direct)
		return 0;
	o->buf = malloc(CONSOLE_OUTPUT_BUFFER);
	o->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!o->buf || o->wake_fd < 0) {
		int e = o->buf ? errno : ENOMEM;

		free(o->buf);
		o->buf = NULL;
		if (o->wake_fd >= 0)
			close(o->wake_fd);
		o->wake_fd = -1;
		return -e;
	}
	return 0;
}

int console_output_open_fd(struct console_output *o, int fd, uint64_t max_size)
{
	struct stat st;
	int flags, ret;

	init_common(o);
	if (fstat(fd, &st) < 0)
		return -errno;
	o->fd = fd;
	o->own_fd = true;
	o->direct = never_waits(st.st_mode);
	/* Only a file grows: a FIFO or a device holds nothing. */
	if (S_ISREG(st.st_mode))
		o->max_size = max_size;
	if (!o->direct) {
		flags = fcntl(fd, F_GETFL);
		if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
			return -errno;
	}
	ret = finish_open(o);
	if (ret < 0)
		o->own_fd = false;  /* the caller still owns fd on failure */
	return ret;
}

int console_output_open_stdout(struct console_output *o)
{
	struct stat st;
	int fd, flags;

	init_common(o);
	if (fstat(STDOUT_FILENO, &st) < 0) {
		/* stdout is closed: nothing to write to. */
		return 0;
	}
	if (never_waits(st.st_mode)) {
		o->fd = STDOUT_FILENO;
		o->direct = true;
		return 0;
	}
	if (S_ISSOCK(st.st_mode)) {
		o->fd = STDOUT_FILENO;
		o->use_send = true;
		return finish_open(o);
	}
	/* A new open file description of the same terminal or pipe: its
	 * O_NONBLOCK is ours alone. */
	fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		o->fd = fd;
		o->own_fd = true;
		return finish_open(o);
	}
	flags = fcntl(STDOUT_FILENO, F_GETFL);
	if (flags < 0 || fcntl(STDOUT_FILENO, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	log_debug("console: stdout could not be reopened; it is non-blocking until gvmm exits");
	o->fd = STDOUT_FILENO;
	o->restore_flags = flags;
	return finish_open(o);
}

/* One write without waiting; -errno on failure (-EAGAIN: full). */
static ssize_t raw_write(struct console_output *o, const uint8_t *bytes, size_t len)
{
	for (;;) {
		ssize_t n = o->use_send ? send(o->fd, bytes, len, MSG_DONTWAIT | MSG_NOSIGNAL)
					: write(o->fd, bytes, len);

		if (n >= 0)
			return n;
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

/* A regular file: written at once, up to its max_size. An error drops the
 * output: the guest must not wait on a full disk. */
static void direct_write(struct console_output *o, const uint8_t *bytes, size_t len)
{
	if (o->max_size && len > o->max_size - o->written) {
		len = (size_t)(o->max_size - o->written);
		if (!o->max_size_logged) {
			o->max_size_logged = true;
			log_warn("the serial file reached its max-size (%" PRIu64 " bytes): "
				 "further guest output is dropped", o->max_size);
		}
	}
	while (len) {
		ssize_t n = raw_write(o, bytes, len);

		if (n <= 0)
			return;
		o->written += (uint64_t)n;
		bytes += n;
		len -= (size_t)n;
	}
}

static size_t room_of(const struct console_output *o)
{
	return CONSOLE_OUTPUT_BUFFER - o->len;
}

static void ring_put(struct console_output *o, const uint8_t *bytes, size_t len)
{
	size_t tail = (o->head + o->len) % CONSOLE_OUTPUT_BUFFER;
	size_t first = CONSOLE_OUTPUT_BUFFER - tail < len ? CONSOLE_OUTPUT_BUFFER - tail : len;

	memcpy(o->buf + tail, bytes, first);
	memcpy(o->buf, bytes + first, len - first);
	o->len += len;
}

/* Asks the loop thread to watch fd: the only thread that changes the loop. */
static void wake_loop_locked(struct console_output *o)
{
	uint64_t one = 1;

	if (o->watching || o->wake_pending || o->wake_fd < 0)
		return;
	o->wake_pending = true;
	if (write(o->wake_fd, &one, sizeof(one)) < 0) {
		/* Counter full: a wake-up is queued already. */
	}
}

/* The reader is gone for good (EPIPE, a hung-up terminal, EIO): what is
 * buffered can never be delivered. */
static void drop_buffer_locked(struct console_output *o)
{
	o->head = o->len = 0;
}

/* Writes from the buffer until the fd is full or the buffer empty. */
static void flush_locked(struct console_output *o)
{
	while (o->len) {
		size_t first = CONSOLE_OUTPUT_BUFFER - o->head < o->len ?
			       CONSOLE_OUTPUT_BUFFER - o->head : o->len;
		ssize_t n = raw_write(o, o->buf + o->head, first);

		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			drop_buffer_locked(o);
			return;
		}
		o->head = (o->head + (size_t)n) % CONSOLE_OUTPUT_BUFFER;
		o->len -= (size_t)n;
	}
	o->head = 0;
}

size_t console_output_write(struct console_output *o, const uint8_t *bytes, size_t len)
{
	size_t taken = 0, fit;

	if (o->fd < 0 || !len)
		return len;
	if (o->direct) {
		pthread_mutex_lock(&o->lock);
		direct_write(o, bytes, len);
		pthread_mutex_unlock(&o->lock);
		return len;
	}
	pthread_mutex_lock(&o->lock);
	/* Straight to the fd while nothing waits before these bytes. */
	if (!o->len) {
		ssize_t n = raw_write(o, bytes, len);

		if (n >= 0)
			taken = (size_t)n;
		else if (n != -EAGAIN)
			taken = len;   /* the reader is gone: dropped, as it always was */
	}
	fit = room_of(o) < len - taken ? room_of(o) : len - taken;
	ring_put(o, bytes + taken, fit);
	taken += fit;
	if (taken < len)
		o->owe_space = true;
	if (o->len)
		wake_loop_locked(o);
	pthread_mutex_unlock(&o->lock);
	return taken;
}

static void deadline_after_ms(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void console_output_put_byte(struct console_output *o, uint8_t byte)
{
	struct timespec deadline;
	bool waited = false;

	if (o->fd < 0 || o->direct) {
		console_output_write(o, &byte, 1);
		return;
	}
	pthread_mutex_lock(&o->lock);
	for (;;) {
		if (!o->len) {
			ssize_t n = raw_write(o, &byte, 1);

			if (n != -EAGAIN)
				break;   /* written, or the reader is gone */
		}
		if (room_of(o)) {
			ring_put(o, &byte, 1);
			wake_loop_locked(o);
			break;
		}
		if (o->dropping || waited) {
			o->dropping = true;
			o->dropped++;
			break;
		}
		/* Full: hold the vCPU a moment, as a slow serial line would. */
		deadline_after_ms(&deadline, CONSOLE_OUTPUT_STALL_MS);
		while (!room_of(o) && !o->dropping &&
		       pthread_cond_timedwait(&o->room, &o->lock, &deadline) != ETIMEDOUT)
			;
		waited = true;
	}
	pthread_mutex_unlock(&o->lock);
}

size_t console_output_buffered(struct console_output *o)
{
	size_t len;

	pthread_mutex_lock(&o->lock);
	len = o->len;
	pthread_mutex_unlock(&o->lock);
	return len;
}

void console_output_set_space(struct console_output *o, void (*space)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&o->lock);
	o->space = space;
	o->space_ctx = ctx;
	pthread_mutex_unlock(&o->lock);
}

static void on_writable(void *opaque, uint32_t events);

/* Loop thread: watches fd while bytes wait, and only then: a pipe whose
 * reader left reports EPOLLERR whatever we ask for, and would spin the
 * loop if fd stayed in it. */
static void watch_locked(struct console_output *o, bool on)
{
	if (on == o->watching)
		return;
	if (on) {
		if (event_loop_add(o->loop, o->fd, EPOLLOUT, on_writable, o) < 0) {
			/* Cannot be watched after all: what waits is lost. */
			drop_buffer_locked(o);
			return;
		}
	} else {
		event_loop_remove(o->loop, o->fd);
	}
	o->watching = on;
}

/* Loop thread: writes out what it can, then settles who waits for room. */
static void drain(struct console_output *o)
{
	void (*space)(void *ctx) = NULL;
	void *space_ctx = NULL;
	uint64_t dropped = 0;

	pthread_mutex_lock(&o->lock);
	flush_locked(o);
	watch_locked(o, o->len > 0);
	if (room_of(o) >= CONSOLE_OUTPUT_BUFFER / 2) {
		if (o->owe_space && o->space) {
			space = o->space;
			space_ctx = o->space_ctx;
		}
		o->owe_space = false;
		if (o->dropping) {
			/* Output moves again: say what the stall cost, now that
			 * saying it cannot stall too. */
			o->dropping = false;
			dropped = o->dropped;
			o->dropped = 0;
		}
	}
	if (room_of(o))
		pthread_cond_broadcast(&o->room);
	pthread_mutex_unlock(&o->lock);
	if (dropped)
		log_warn("console output was stalled: %" PRIu64 " bytes of guest output dropped",
			 dropped);
	if (space)
		space(space_ctx);
}

static void on_writable(void *opaque, uint32_t events)
{
	(void)events;
	drain(opaque);
}

static void on_wake(void *opaque, uint32_t events)
{
	struct console_output *o = opaque;
	uint64_t count;

	(void)events;
	if (read(o->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&o->lock);
	o->wake_pending = false;
	pthread_mutex_unlock(&o->lock);
	drain(o);
}

int console_output_start(struct console_output *o, struct event_loop *loop)
{
	int ret;

	if (o->wake_fd < 0)
		return 0;   /* nothing is ever buffered */
	pthread_mutex_lock(&o->lock);
	o->loop = loop;
	pthread_mutex_unlock(&o->lock);
	ret = event_loop_add(loop, o->wake_fd, EPOLLIN, on_wake, o);
	if (ret < 0)
		return ret;
	/* Bytes written before the loop was there. */
	pthread_mutex_lock(&o->lock);
	if (o->len) {
		o->wake_pending = false;
		wake_loop_locked(o);
	}
	pthread_mutex_unlock(&o->lock);
	return 0;
}

void console_output_close(struct console_output *o)
{
	struct timespec start, now;
	long waited_ms = 0;

	/* A reader that is merely slow gets the tail of the output (often the
	 * guest's last words); a stalled one cannot hold up the exit. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	pthread_mutex_lock(&o->lock);
	while (o->fd >= 0 && o->len && waited_ms < CONSOLE_OUTPUT_CLOSE_MS) {
		struct pollfd p = { .fd = o->fd, .events = POLLOUT };

		flush_locked(o);
		if (!o->len || poll(&p, 1, (int)(CONSOLE_OUTPUT_CLOSE_MS - waited_ms)) <= 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited_ms = (now.tv_sec - start.tv_sec) * 1000L +
			    (now.tv_nsec - start.tv_nsec) / 1000000L;
	}
	if (o->dropped)
		log_warn("console output was stalled: %" PRIu64 " bytes of guest output dropped",
			 o->dropped);
	pthread_mutex_unlock(&o->lock);
	if (o->restore_flags >= 0)
		fcntl(o->fd, F_SETFL, o->restore_flags);
	if (o->own_fd && o->fd >= 0)
		close(o->fd);
	if (o->wake_fd >= 0)
		close(o->wake_fd);
	free(o->buf);
	pthread_cond_destroy(&o->room);
	pthread_mutex_destroy(&o->lock);
	o->fd = o->wake_fd = -1;
	o->buf = NULL;
	o->len = 0;
}
