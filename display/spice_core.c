/* SpiceCoreInterface on a struct event_loop (display/spice_core.h).
 *
 * Each SpiceTimer owns a timerfd registered with the loop for its whole
 * life, so timer_start/timer_cancel only re-arm it. A SpiceWatch is
 * registered only while its mask is non-zero: epoll reports hang-ups even
 * on an empty mask, and spice-server parks sockets at mask 0 exactly when
 * it does not want to hear from them.
 *
 * spice-server may remove a timer or watch from inside any callback,
 * including its own: event_loop_remove skips events already fetched for a
 * removed source, so nothing touches a freed timer or watch, and a
 * callback never touches its object after calling into spice-server. */
#include "spice_core.h"

#include <netdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../vmm/log.h"

struct SpiceTimer {
	int fd;
	SpiceTimerFunc func;
	void *opaque;
};

struct SpiceWatch {
	int fd;
	int mask;          /* SPICE_WATCH_EVENT_* wanted now */
	bool registered;   /* with the loop: exactly while mask != 0 */
	SpiceWatchFunc func;
	void *opaque;
};

/* Display channels open now, by client connection and channel id (a
 * channel refused before it opened also reports its end). */
#define DISPLAY_CHANNELS_TRACKED 64

struct display_channel {
	int connection_id, id;
};

static struct {
	struct event_loop *loop;   /* NULL while closed */
	struct display_channel display_channels[DISPLAY_CHANNELS_TRACKED];  /* loop thread */
	unsigned nr_display_channels;
	atomic_uint display_clients;   /* the same number, for any thread */
} core;

/* ---- timers ---- */

static void timer_expired(void *opaque, uint32_t events)
{
	struct SpiceTimer *timer = opaque;
	uint64_t expirations;

	(void)events;
	/* Nothing to read: the timer was cancelled or re-armed after epoll
	 * saw it expire, so this expiry no longer counts. */
	if (read(timer->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	timer->func(timer->opaque);
}

static SpiceTimer *core_timer_add(SpiceTimerFunc func, void *opaque)
{
	struct SpiceTimer *timer = calloc(1, sizeof(*timer));

	if (!timer)
		return NULL;
	timer->func = func;
	timer->opaque = opaque;
	timer->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (timer->fd < 0) {
		free(timer);
		return NULL;
	}
	if (event_loop_add(core.loop, timer->fd, EPOLLIN, timer_expired, timer) < 0) {
		close(timer->fd);
		free(timer);
		return NULL;
	}
	return timer;
}

static void timer_arm(struct SpiceTimer *timer, uint64_t ns)
{
	struct itimerspec when = {
		.it_value = { .tv_sec = (time_t)(ns / 1000000000u),
			      .tv_nsec = (long)(ns % 1000000000u) },
	};

	timerfd_settime(timer->fd, 0, &when, NULL);
}

static void core_timer_start(SpiceTimer *timer, uint32_t ms)
{
	/* 0 would disarm; "now" is the next loop iteration. */
	timer_arm(timer, ms ? (uint64_t)ms * 1000000u : 1);
}

static void core_timer_cancel(SpiceTimer *timer)
{
	timer_arm(timer, 0);
}

static void core_timer_remove(SpiceTimer *timer)
{
	if (!timer)
		return;
	event_loop_remove(core.loop, timer->fd);
	close(timer->fd);
	free(timer);
}

/* ---- fd watches ---- */

static void watch_ready(void *opaque, uint32_t events)
{
	struct SpiceWatch *watch = opaque;
	int ready = 0;

	/* A hang-up or error is news for whichever direction is wanted: the
	 * read or write that follows is what discovers it. */
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		ready |= watch->mask & SPICE_WATCH_EVENT_READ;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		ready |= watch->mask & SPICE_WATCH_EVENT_WRITE;
	if (ready)
		watch->func(watch->fd, ready, watch->opaque);
}

static uint32_t epoll_events(int mask)
{
	return (mask & SPICE_WATCH_EVENT_READ ? EPOLLIN : 0) |
	       (mask & SPICE_WATCH_EVENT_WRITE ? EPOLLOUT : 0);
}

static int watch_apply_mask(struct SpiceWatch *watch, int mask)
{
	int ret = 0;

	mask &= SPICE_WATCH_EVENT_READ | SPICE_WATCH_EVENT_WRITE;
	if (mask && !watch->registered)
		ret = event_loop_add(core.loop, watch->fd, epoll_events(mask), watch_ready, watch);
	else if (mask && watch->registered)
		ret = event_loop_modify(core.loop, watch->fd, epoll_events(mask));
	else if (!mask && watch->registered)
		event_loop_remove(core.loop, watch->fd);
	if (ret < 0) {
		log_warn("spice: cannot watch fd %d: error %d", watch->fd, -ret);
		return ret;
	}
	watch->registered = mask != 0;
	watch->mask = mask;
	return 0;
}

static SpiceWatch *core_watch_add(int fd, int event_mask, SpiceWatchFunc func, void *opaque)
{
	struct SpiceWatch *watch = calloc(1, sizeof(*watch));

	if (!watch)
		return NULL;
	watch->fd = fd;
	watch->func = func;
	watch->opaque = opaque;
	if (watch_apply_mask(watch, event_mask) < 0) {
		free(watch);
		return NULL;
	}
	return watch;
}

static void core_watch_update_mask(SpiceWatch *watch, int event_mask)
{
	if (watch)
		watch_apply_mask(watch, event_mask);
}

static void core_watch_remove(SpiceWatch *watch)
{
	if (!watch)
		return;
	if (watch->registered)
		event_loop_remove(core.loop, watch->fd);
	free(watch);
}

/* ---- client connections ---- */

static const char *channel_name(int type)
{
	switch (type) {
	case SPICE_CHANNEL_MAIN: return "main";
	case SPICE_CHANNEL_DISPLAY: return "display";
	case SPICE_CHANNEL_INPUTS: return "inputs";
	case SPICE_CHANNEL_CURSOR: return "cursor";
	case SPICE_CHANNEL_PLAYBACK: return "playback";
	case SPICE_CHANNEL_RECORD: return "record";
	case SPICE_CHANNEL_USBREDIR: return "usbredir";
	case SPICE_CHANNEL_PORT: return "port";
	default: return "another";
	}
}

static void peer_text(const SpiceChannelEventInfo *info, char *text, size_t size)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (!(info->flags & SPICE_CHANNEL_EVENT_FLAG_ADDR_EXT) || info->plen_ext == 0 ||
	    getnameinfo((const struct sockaddr *)&info->paddr_ext, info->plen_ext, host,
			sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(text, size, "a local socket");
		return;
	}
	snprintf(text, size, "%s port %s", host, port);
}

static void display_channel_opened(const SpiceChannelEventInfo *info)
{
	if (core.nr_display_channels < DISPLAY_CHANNELS_TRACKED)
		core.display_channels[core.nr_display_channels++] =
			(struct display_channel){ info->connection_id, info->id };
	atomic_store(&core.display_clients, core.nr_display_channels);
}

static void display_channel_closed(const SpiceChannelEventInfo *info)
{
	struct display_channel *open = core.display_channels;

	for (unsigned i = 0; i < core.nr_display_channels; i++) {
		if (open[i].connection_id == info->connection_id && open[i].id == info->id) {
			open[i] = open[--core.nr_display_channels];
			break;
		}
	}
	atomic_store(&core.display_clients, core.nr_display_channels);
}

static void core_channel_event(int event, SpiceChannelEventInfo *info)
{
	char peer[NI_MAXHOST + NI_MAXSERV + 8];

	if (!info)
		return;
	if (info->type == SPICE_CHANNEL_DISPLAY && event == SPICE_CHANNEL_EVENT_INITIALIZED)
		display_channel_opened(info);
	if (info->type == SPICE_CHANNEL_DISPLAY && event == SPICE_CHANNEL_EVENT_DISCONNECTED)
		display_channel_closed(info);
	if (!log_debug_enabled())
		return;
	peer_text(info, peer, sizeof(peer));
	switch (event) {
	case SPICE_CHANNEL_EVENT_CONNECTED:
		/* Before the client said which channel this is. */
		log_debug("spice: a client at %s connected%s", peer,
			  info->flags & SPICE_CHANNEL_EVENT_FLAG_TLS ? " over TLS" : "");
		break;
	case SPICE_CHANNEL_EVENT_INITIALIZED:
		log_debug("spice: the client at %s opened %s channel %d (display clients: %u)",
			  peer, channel_name(info->type), info->id, core.nr_display_channels);
		break;
	case SPICE_CHANNEL_EVENT_DISCONNECTED:
		log_debug("spice: the client at %s left %s channel %d (display clients: %u)",
			  peer, channel_name(info->type), info->id, core.nr_display_channels);
		break;
	}
}

/* ---- the interface ---- */

static SpiceCoreInterface core_interface = {
	.base = {
		.type = SPICE_INTERFACE_CORE,
		.description = "gvmm event loop",
		.major_version = SPICE_INTERFACE_CORE_MAJOR,
		.minor_version = SPICE_INTERFACE_CORE_MINOR,
	},
	.timer_add = core_timer_add,
	.timer_start = core_timer_start,
	.timer_cancel = core_timer_cancel,
	.timer_remove = core_timer_remove,
	.watch_add = core_watch_add,
	.watch_update_mask = core_watch_update_mask,
	.watch_remove = core_watch_remove,
	.channel_event = core_channel_event,
};

SpiceCoreInterface *spice_core_open(struct event_loop *loop)
{
	if (core.loop)
		return NULL;
	core.loop = loop;
	core.nr_display_channels = 0;
	atomic_store(&core.display_clients, 0);
	return &core_interface;
}

void spice_core_close(void)
{
	core.loop = NULL;
}

unsigned spice_core_display_clients(void)
{
	return atomic_load(&core.display_clients);
}
