/* The console's output: the guest's bytes on their way to the terminal, a
 * pipe or a file, without ever blocking the thread that produces them
 * (the I/O thread for the virtio console, which also serves the disks,
 * rng and input; a vCPU for the UART). A reader that stalls (a terminal
 * in flow control, a full pipe) must cost the guest its console output at
 * worst, never its disks or gvmm's shutdown.
 *
 * What the fd cannot take at once waits in a bounded buffer
 * (CONSOLE_OUTPUT_BUFFER bytes), which the event loop writes out when the
 * fd becomes writable. When the buffer is full:
 *   - console_output_write() takes what fits and says how much; the caller
 *     keeps the rest (the virtio console leaves the guest's chains in its
 *     ring) and is called back (space) once half the buffer is free;
 *   - console_output_put_byte() (the UART, which cannot hold a byte back:
 *     its transmitter is always empty) waits a little for room, as a real
 *     UART's slow line would hold the guest, then drops bytes until the
 *     buffer drains, and says so once in the log when output moves again.
 *
 * The fd is written in non-blocking mode on an open file description of
 * its own: stdout's is shared with the shell and with stderr, and setting
 * O_NONBLOCK there would leak to them (see console_output_open_stdout).
 * Regular files and block devices never wait for a reader: they are
 * written directly, and cannot be watched with epoll anyway.
 *
 * Threads: write and put_byte from any thread; start, and the callbacks
 * it installs, on the loop's thread; open and close before and after. */
#ifndef GVMM_CONSOLE_OUTPUT_H
#define GVMM_CONSOLE_OUTPUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_loop.h"

#define CONSOLE_OUTPUT_BUFFER   (64u << 10)
/* How long put_byte waits for room before it starts dropping. */
#define CONSOLE_OUTPUT_STALL_MS 50
/* How long close waits for a slow reader to take what is still buffered. */
#define CONSOLE_OUTPUT_CLOSE_MS 500

struct console_output {
	pthread_mutex_t lock;
	pthread_cond_t room;        /* the buffer drained some (put_byte waits) */
	int fd;                     /* -1: output is dropped */
	bool own_fd;                /* ours to close */
	bool direct;                /* a regular file: written at once, never buffered */
	bool use_send;              /* a socket: send(MSG_DONTWAIT), flags untouched */
	uint64_t max_size;          /* direct only: bytes the file may take; 0: no limit */
	uint64_t written;           /* direct only: bytes the file took */
	bool max_size_logged;
	int restore_flags;          /* >= 0: fd's file flags to put back at close */
	uint8_t *buf;               /* ring of CONSOLE_OUTPUT_BUFFER bytes */
	size_t head, len;
	bool owe_space;             /* write() turned bytes away: call space */
	bool dropping;              /* put_byte gave up waiting: drop until drained */
	uint64_t dropped;           /* bytes dropped and not yet reported */
	int wake_fd;                /* eventfd: bytes wait; the loop should watch fd */
	bool wake_pending;
	bool watching;              /* fd is in the loop for EPOLLOUT */
	struct event_loop *loop;
	void (*space)(void *ctx);
	void *space_ctx;
};

/* No output: everything written is dropped (--serial none). */
void console_output_open_none(struct console_output *o);
/* An fd gvmm opened itself (--serial file:PATH): made non-blocking unless
 * it is a regular file, and closed by console_output_close. A regular file
 * takes at most max_size bytes (0: no limit); beyond, output is dropped,
 * never waited on, and the log says so once. */
int console_output_open_fd(struct console_output *o, int fd, uint64_t max_size);
/* stdout, whose open file description gvmm shares: a terminal, a pipe or
 * a character device is reopened through /proc/self/fd so that O_NONBLOCK
 * stays ours; a socket is written with send(MSG_DONTWAIT); a regular file
 * is written directly. Without /proc, O_NONBLOCK is set on the shared
 * description and put back at close. */
int console_output_open_stdout(struct console_output *o);
/* Returns 0 or -errno. */
int console_output_start(struct console_output *o, struct event_loop *loop);
/* Flushes what it can within CONSOLE_OUTPUT_CLOSE_MS, then drops the rest.
 * After the loop has stopped for good. */
void console_output_close(struct console_output *o);

/* Who to call (on the loop thread) when there is room again after
 * console_output_write() took less than it was offered; NULL: nobody. */
void console_output_set_space(struct console_output *o, void (*space)(void *ctx),
			      void *ctx);

/* Takes what fits of bytes; returns how many (all of them when output is
 * dropped). Never blocks. */
size_t console_output_write(struct console_output *o, const uint8_t *bytes, size_t len);
/* One byte, for a device that cannot hold it back: waits at most
 * CONSOLE_OUTPUT_STALL_MS for room, then drops. */
void console_output_put_byte(struct console_output *o, uint8_t byte);

/* Bytes waiting in the buffer now (tests). */
size_t console_output_buffered(struct console_output *o);

#endif
