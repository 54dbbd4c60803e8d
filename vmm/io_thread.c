#include "io_thread.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "thread_stack.h"

/* How io_thread_call reaches the thread: a real-time signal aimed at that
 * one thread, carrying the address of the call. The thread keeps the
 * signal blocked from birth and reads it from a signalfd in its own loop,
 * so the call runs between two callbacks, never inside one. Real-time
 * signals queue, so calls from several threads at once all arrive, and
 * the thread needs no shared state beyond its loop. */
#define IO_THREAD_CALL_SIGNAL (SIGRTMIN + 1)

/* Linux allows 16 bytes with the NUL. */
#define IO_THREAD_NAME_MAX    16
#define IO_THREAD_NAME_PREFIX "gvmm-io"

/* One io_thread_call, on the caller's stack until done is set. */
struct io_call {
	void (*fn)(void *arg);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	/* Queueing the signal already orders the caller's setup before the
	 * thread's reads; this flag says so in a form thread sanitizers see. */
	atomic_bool posted;
};

/* What the thread needs from io_thread_start; it frees this. */
struct io_thread_boot {
	struct io_thread *io;
	int call_fd;           /* the signalfd, owned by the thread */
};

static void io_call_run(struct io_call *call)
{
	if (!atomic_load_explicit(&call->posted, memory_order_acquire))
		return;   /* cannot happen: the caller posts before signalling */
	call->fn(call->arg);
	pthread_mutex_lock(&call->lock);
	call->done = true;
	pthread_cond_signal(&call->cond);
	pthread_mutex_unlock(&call->lock);
}

/* Only our own queued signals carry a call; anything else that lands on
 * the signalfd (someone outside signalling the process) is dropped. */
static void io_thread_take_calls(int call_fd)
{
	struct signalfd_siginfo si;

	while (read(call_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_code != SI_QUEUE || si.ssi_pid != (uint32_t)getpid() || !si.ssi_ptr)
			continue;
		io_call_run((struct io_call *)(uintptr_t)si.ssi_ptr);
	}
}

static void io_thread_on_call(void *opaque, uint32_t events)
{
	(void)events;
	io_thread_take_calls((int)(intptr_t)opaque);
}

static void *io_thread_main(void *opaque)
{
	struct io_thread_boot boot = *(struct io_thread_boot *)opaque;
	int ret;

	free(opaque);
	thread_stack_no_huge_pages();
	ret = event_loop_run(&boot.io->loop);
	if (ret < 0)
		log_error("%s: event loop failed: %s", boot.io->name, strerror(-ret));
	/* Calls that arrived while the loop was stopping still get run, so
	 * no caller waits for ever. */
	io_thread_take_calls(boot.call_fd);
	event_loop_remove(&boot.io->loop, boot.call_fd);
	close(boot.call_fd);
	return NULL;
}

int io_thread_start(struct io_thread *io, const char *name)
{
	static const int fault_signals[] = {
		SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS,
	};
	char thread_name[IO_THREAD_NAME_MAX];
	struct io_thread_boot *boot;
	sigset_t all, saved, call_set;
	int call_fd, ret;

	memset(io, 0, sizeof(*io));
	io->name = name ? name : "io";
	ret = event_loop_init(&io->loop);
	if (ret < 0)
		return ret;
	sigemptyset(&call_set);
	sigaddset(&call_set, IO_THREAD_CALL_SIGNAL);
	call_fd = signalfd(-1, &call_set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (call_fd < 0) {
		ret = -errno;
		goto fail_loop;
	}
	boot = malloc(sizeof(*boot));
	if (!boot) {
		ret = -ENOMEM;
		goto fail_fd;
	}
	*boot = (struct io_thread_boot){ .io = io, .call_fd = call_fd };
	ret = event_loop_add(&io->loop, call_fd, EPOLLIN, io_thread_on_call,
			     (void *)(intptr_t)call_fd);
	if (ret < 0)
		goto fail_boot;

	/* The thread is born with every asynchronous signal blocked: the call
	 * signal must never reach a handler (its default action ends the
	 * process), and the VMM's signals belong to the threads that wait for
	 * them. Faults stay deliverable so their handlers (the terminal's
	 * restore, sanitizers) still run. */
	sigfillset(&all);
	for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
		sigdelset(&all, fault_signals[i]);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	ret = -pthread_create(&io->thread, NULL, io_thread_main, boot);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (ret < 0)
		goto fail_boot;
	snprintf(thread_name, sizeof(thread_name),
		 strncmp(io->name, IO_THREAD_NAME_PREFIX, strlen(IO_THREAD_NAME_PREFIX)) ?
		 IO_THREAD_NAME_PREFIX "-%s" : "%s", io->name);
	pthread_setname_np(io->thread, thread_name);
	io->started = true;
	return 0;

fail_boot:
	free(boot);
fail_fd:
	close(call_fd);
fail_loop:
	event_loop_destroy(&io->loop);
	return ret;
}

void io_thread_stop(struct io_thread *io)
{
	if (!io->started)
		return;
	event_loop_stop(&io->loop);
	pthread_join(io->thread, NULL);
	io->started = false;
	event_loop_destroy(&io->loop);
}

int io_thread_call(struct io_thread *io, void (*fn)(void *arg), void *arg)
{
	struct io_call call = { .fn = fn, .arg = arg };
	int ret;

	/* Nothing else runs the loop's callbacks then, so running here is
	 * just as ordered. */
	if (!io->started || pthread_equal(pthread_self(), io->thread)) {
		fn(arg);
		return 0;
	}
	pthread_mutex_init(&call.lock, NULL);
	pthread_cond_init(&call.cond, NULL);
	atomic_store_explicit(&call.posted, true, memory_order_release);
	ret = -pthread_sigqueue(io->thread, IO_THREAD_CALL_SIGNAL,
				(union sigval){ .sival_ptr = &call });
	if (ret == 0) {
		pthread_mutex_lock(&call.lock);
		while (!call.done)
			pthread_cond_wait(&call.cond, &call.lock);
		pthread_mutex_unlock(&call.lock);
	} else {
		log_error("%s: cannot reach the I/O thread: %s", io->name, strerror(-ret));
	}
	pthread_cond_destroy(&call.cond);
	pthread_mutex_destroy(&call.lock);
	return ret;
}
