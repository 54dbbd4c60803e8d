/* The VMM's one event-loop thread: an epoll over device fds, the console,
 * signals and timers. Callbacks run on the loop thread only. Another thread
 * stops the loop with event_loop_stop(). */
#ifndef GVMM_EVENT_LOOP_H
#define GVMM_EVENT_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef void (*event_fn)(void *opaque, uint32_t events);

struct event_source;

struct event_loop {
	int epoll_fd;
	int wake_fd;                 /* eventfd: wakes the loop to look at stop */
	atomic_bool stop;
	struct event_source *sources; /* singly linked; freed at destroy */
};

int event_loop_init(struct event_loop *loop);
void event_loop_destroy(struct event_loop *loop);

/* Watches fd for events (EPOLLIN, ...); fn runs on the loop thread. */
int event_loop_add(struct event_loop *loop, int fd, uint32_t events,
		   event_fn fn, void *opaque);
int event_loop_modify(struct event_loop *loop, int fd, uint32_t events);
/* Stops watching fd; safe from inside a callback. */
void event_loop_remove(struct event_loop *loop, int fd);

/* A periodic or one-shot timer on a timerfd; returns the fd (for
 * event_loop_remove and close) or -errno. period_ns 0 means one-shot. */
int event_loop_add_timer(struct event_loop *loop, uint64_t first_ns,
			 uint64_t period_ns, event_fn fn, void *opaque);

/* Runs until event_loop_stop(), which it then forgets, so the loop can run
 * again. Returns 0, or -errno when epoll fails. */
int event_loop_run(struct event_loop *loop);
/* Thread-safe and async-signal-safe. */
void event_loop_stop(struct event_loop *loop);

#endif
