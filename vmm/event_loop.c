#include "event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct event_source {
	int fd;
	bool removed;
	bool is_timer;    /* a timerfd the loop made: drained before fn, closed at destroy */
	event_fn fn;
	void *opaque;
	struct event_source *next;
};

static void event_loop_on_wake(void *opaque, uint32_t events)
{
	struct event_loop *loop = opaque;
	uint64_t count;

	(void)events;
	if (read(loop->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
}

int event_loop_init(struct event_loop *loop)
{
	memset(loop, 0, sizeof(*loop));
	atomic_init(&loop->stop, false);
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0)
		return -errno;
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		int e = errno;

		close(loop->epoll_fd);
		return -e;
	}
	return event_loop_add(loop, loop->wake_fd, EPOLLIN, event_loop_on_wake, loop);
}

void event_loop_destroy(struct event_loop *loop)
{
	struct event_source *s = loop->sources;

	while (s) {
		struct event_source *next = s->next;

		if (s->is_timer)
			close(s->fd);
		free(s);
		s = next;
	}
	close(loop->wake_fd);
	close(loop->epoll_fd);
	loop->sources = NULL;
}

static struct event_source *event_loop_find(struct event_loop *loop, int fd)
{
	for (struct event_source *s = loop->sources; s; s = s->next)
		if (s->fd == fd && !s->removed)
			return s;
	return NULL;
}

int event_loop_add(struct event_loop *loop, int fd, uint32_t events,
		   event_fn fn, void *opaque)
{
	struct event_source *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = events };

	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->fn = fn;
	s->opaque = opaque;
	ev.data.ptr = s;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;

		free(s);
		return -e;
	}
	s->next = loop->sources;
	loop->sources = s;
	return 0;
}

int event_loop_modify(struct event_loop *loop, int fd, uint32_t events)
{
	struct event_source *s = event_loop_find(loop, fd);
	struct epoll_event ev = { .events = events };

	if (!s)
		return -ENOENT;
	ev.data.ptr = s;
	return epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void event_loop_remove(struct event_loop *loop, int fd)
{
	struct event_source *s = event_loop_find(loop, fd);

	if (!s)
		return;
	epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
	/* Freed after the current batch: an epoll event being dispatched may
	 * still point at it. */
	s->removed = true;
}

int event_loop_add_timer(struct event_loop *loop, uint64_t first_ns,
			 uint64_t period_ns, event_fn fn, void *opaque)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = first_ns / 1000000000ull,
			      .tv_nsec = first_ns % 1000000000ull },
		.it_interval = { .tv_sec = period_ns / 1000000000ull,
				 .tv_nsec = period_ns % 1000000000ull },
	};
	int fd, ret;

	if (first_ns == 0)
		its.it_value.tv_nsec = 1;  /* zero would disarm it */
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = event_loop_add(loop, fd, EPOLLIN, fn, opaque);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	loop->sources->is_timer = true;
	return fd;
}

/* Sources removed during a batch are freed once the batch is done, when
 * no epoll event can still point at them. */
static void event_loop_free_removed(struct event_loop *loop)
{
	struct event_source **link = &loop->sources;

	while (*link) {
		struct event_source *s = *link;

		if (!s->removed) {
			link = &s->next;
			continue;
		}
		*link = s->next;
		if (s->is_timer)
			close(s->fd);
		free(s);
	}
}

int event_loop_run(struct event_loop *loop)
{
	struct epoll_event events[32];

	while (!atomic_load(&loop->stop)) {
		int n = epoll_wait(loop->epoll_fd, events, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !atomic_load(&loop->stop); i++) {
			struct event_source *s = events[i].data.ptr;

			uint64_t expirations;

			if (s->removed)
				continue;
			if (s->is_timer &&
			    read(s->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
				continue;
			s->fn(s->opaque, events[i].events);
		}
		event_loop_free_removed(loop);
	}
	/* Ready for the next VM after a guest reboot. */
	atomic_store(&loop->stop, false);
	return 0;
}

void event_loop_stop(struct event_loop *loop)
{
	uint64_t one = 1;

	atomic_store(&loop->stop, true);
	if (write(loop->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is full: the loop is already awake. */
	}
}
