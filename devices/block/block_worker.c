#include "block_worker.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "block_backend.h"

static void append(struct block_io **first, struct block_io **last, struct block_io *io)
{
	io->next_job = NULL;
	if (*last)
		(*last)->next_job = io;
	else
		*first = io;
	*last = io;
}

static void *worker_main(void *opaque)
{
	struct block_worker *w = opaque;
	const uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct block_io *io;
		int result;

		while (!w->todo && !w->stop)
			pthread_cond_wait(&w->wake, &w->lock);
		io = w->todo;
		if (!io)
			break;
		w->todo = io->next_job;
		if (!w->todo)
			w->last_todo = NULL;
		pthread_mutex_unlock(&w->lock);

		result = block_worker_cancelled(w, io) ? -ECANCELED : w->run(io, w->ctx);

		pthread_mutex_lock(&w->lock);
		io->result = result;
		append(&w->done, &w->last_done, io);
		if (write(w->event_fd, &one, sizeof(one)) < 0) {
			/* EAGAIN: the counter is at its maximum, so the
			 * owner has been told already. */
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int block_worker_start(struct block_worker *w, const char *name, block_worker_run_fn run,
		       void *ctx, int event_fd)
{
	static const int fault_signals[] = {
		SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS,
	};
	sigset_t all, saved;
	int ret;

	memset(w, 0, sizeof(*w));
	w->run = run;
	w->ctx = ctx;
	w->event_fd = event_fd;
	atomic_init(&w->generation, 0);
	ret = -pthread_mutex_init(&w->lock, NULL);
	if (ret < 0)
		return ret;
	ret = -pthread_cond_init(&w->wake, NULL);
	if (ret < 0) {
		pthread_mutex_destroy(&w->lock);
		return ret;
	}
	/* Born with the asynchronous signals blocked, as the I/O threads are:
	 * the VMM's signals belong to the threads that wait for them. Faults
	 * stay deliverable for their handlers. */
	sigfillset(&all);
	for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
		sigdelset(&all, fault_signals[i]);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	ret = -pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (ret < 0) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		return ret;
	}
	pthread_setname_np(w->thread, name);
	w->started = true;
	return 0;
}

void block_worker_stop(struct block_worker *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	w->started = false;
}

unsigned block_worker_generation(struct block_worker *w)
{
	return atomic_load_explicit(&w->generation, memory_order_relaxed);
}

void block_worker_hand(struct block_worker *w, struct block_io *io)
{
	pthread_mutex_lock(&w->lock);
	append(&w->todo, &w->last_todo, io);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void block_worker_cancel(struct block_worker *w)
{
	atomic_fetch_add_explicit(&w->generation, 1, memory_order_relaxed);
}

bool block_worker_cancelled(struct block_worker *w, const struct block_io *io)
{
	return io->generation != atomic_load_explicit(&w->generation, memory_order_relaxed);
}

struct block_io *block_worker_take_done(struct block_worker *w)
{
	struct block_io *done;

	if (!w->started)
		return NULL;
	pthread_mutex_lock(&w->lock);
	done = w->done;
	w->done = w->last_done = NULL;
	pthread_mutex_unlock(&w->lock);
	return done;
}
