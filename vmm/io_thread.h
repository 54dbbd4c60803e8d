/* A device I/O thread: its own event loop, on its own thread, for device
 * work that must never run on a vCPU (queue kicks, AIO completions, host
 * sockets). Devices add fds to io->loop; the callbacks run on the thread. */
#ifndef GVMM_IO_THREAD_H
#define GVMM_IO_THREAD_H

#include <pthread.h>
#include <stdbool.h>

#include "event_loop.h"

struct io_thread {
	struct event_loop loop;
	pthread_t thread;
	bool started;
	const char *name;
};

int io_thread_start(struct io_thread *io, const char *name);
/* Stops the loop and joins the thread. */
void io_thread_stop(struct io_thread *io);

/* Runs fn(arg) on the I/O thread and waits for it to finish: how other
 * threads change what the loop watches without racing its callbacks. */
int io_thread_call(struct io_thread *io, void (*fn)(void *arg), void *arg);

#endif
