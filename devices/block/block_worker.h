/* A disk's own thread for the operations that have no AIO form: discard
 * and write-zeroes (fallocate, the discard ioctl, or writing zeros where
 * the host can do neither). One request may cover gigabytes; run on the
 * I/O thread, it would stall every device that thread serves, and the
 * VMM's shutdown behind them.
 *
 * The backend hands operations over on its I/O thread; the worker runs
 * them one at a time, in the order handed, through the backend's run
 * function, then puts them on a done list and signals event_fd, as an AIO
 * completion does. The I/O thread takes that list and finishes them
 * there, so done callbacks never run on the worker.
 *
 * Cancelling marks every operation handed over (or to be handed over)
 * before it; run functions ask block_worker_cancelled between pieces of
 * their work, so a cancel takes effect within one piece. */
#ifndef GVMM_BLOCK_WORKER_H
#define GVMM_BLOCK_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct block_io;

/* Runs one operation on the worker; returns 0 or -errno. */
typedef int (*block_worker_run_fn)(struct block_io *io, void *ctx);

struct block_worker {
	pthread_t thread;
	bool started;
	block_worker_run_fn run;
	void *ctx;
	int event_fd;                   /* the owner's; signalled per done */
	/* Operations handed over with another generation are cancelled. */
	atomic_uint generation;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* Under lock: lists through block_io.next_job, oldest first. */
	bool stop;
	struct block_io *todo, *last_todo;
	struct block_io *done, *last_done;
};

/* Starts the thread (named name, at most 15 bytes). Returns 0 or -errno. */
int block_worker_start(struct block_worker *w, const char *name, block_worker_run_fn run,
		       void *ctx, int event_fd);
/* Lets the thread finish what it was handed, then joins it. Harmless on a
 * worker never started (zeroed). */
void block_worker_stop(struct block_worker *w);

/* The generation an operation taken now belongs to: set io->generation
 * to it when taking the operation, whenever it is handed over. */
unsigned block_worker_generation(struct block_worker *w);
void block_worker_hand(struct block_worker *w, struct block_io *io);
/* Cancels every operation of the current generation; they end -ECANCELED
 * (the one running, at its next piece). */
void block_worker_cancel(struct block_worker *w);
bool block_worker_cancelled(struct block_worker *w, const struct block_io *io);
/* The operations done since the last call, oldest first, linked through
 * next_job; each carries its result. */
struct block_io *block_worker_take_done(struct block_worker *w);

#endif
