#include "net_slirp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <libslirp.h>

#include "../virtio/iov.h"
#include "../../vmm/log.h"
#include "../../vmm/monotonic_clock.h"

#define ETH_HEADER_LEN       14

/* The guest's network, as net_slirp.h promises it. */
#define NAT_NETWORK        "10.0.2.0"
#define NAT_NETMASK        "255.255.255.0"
#define NAT_HOST           "10.0.2.2"
#define NAT_DHCP_START     "10.0.2.15"
#define NAT_NAMESERVER     "10.0.2.3"

/* Frames waiting for the guest. A guest that posts no receive buffers
 * must not make us hold the host's traffic without limit: past either
 * bound a frame is dropped, and TCP inside slirp retransmits later. */
#define RX_MAX_FRAMES        512
#define RX_MAX_BYTES         (4u << 20)

/* A timer that keeps re-arming itself in the past gets this many runs per
 * wake-up; the rest wait for the next one, so the loop's other fds run. */
#define TIMER_RUNS_PER_WAKE  64

#define NSEC_PER_MSEC        1000000ll

/* libslirp keeps some state in globals shared by every instance (its clock
 * in ms, the host's DNS address cache), and two user NICs run on two I/O
 * threads: entries into slirp take turns. Callbacks run inside and never
 * call slirp back, so the lock is never taken twice. */
static pthread_mutex_t slirp_global_lock = PTHREAD_MUTEX_INITIALIZER;

struct rx_frame {
	size_t len;
	uint8_t data[];
};

/* One of slirp's timers. It hands out either a callback (timer_new) or an
 * id for slirp_handle_timer (timer_new_opaque). */
struct nat_timer {
	SlirpTimerCb cb;          /* NULL: an id timer */
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms;        /* on clock_get_ns's clock; -1: not armed */
	struct nat_timer *next;
};

/* What the last slirp_pollfds_fill asked for, in slirp's index order. */
struct poll_request {
	int fd;
	uint32_t events;          /* EPOLL* */
};

/* What we know about one fd number in the inner epoll. */
struct fd_slot {
	uint32_t watched;         /* events the inner epoll holds; 0: not there */
	uint32_t wanted;          /* scratch while reconciling */
	uint32_t revents;         /* from the epoll_wait before slirp_pollfds_poll */
	unsigned watched_pos;     /* where the fd sits in watched_fds */
};

struct net_slirp {
	struct net_backend be;    /* first: ops get &be */
	Slirp *slirp;
	struct event_loop *loop;  /* NULL while detached */

	int sockets_fd;           /* inner epoll over slirp's sockets */
	int timer_fd;             /* slirp's next timeout */
	int64_t timer_deadline;   /* what timer_fd is armed for; 0: nothing */
	int refresh_fd;           /* eventfd: refill after the current batch */
	bool refresh_pending;

	struct poll_request *polls;
	unsigned nr_polls, polls_cap;
	struct fd_slot *slots;    /* indexed by fd number */
	unsigned nr_slots;
	int *watched_fds;         /* the fds the inner epoll holds, unordered */
	unsigned nr_watched, watched_cap;
	struct epoll_event *ready;
	unsigned ready_cap;
	int nr_ready;             /* entries of ready with revents set in slots */

	struct nat_timer *timers;

	struct rx_frame *rx[RX_MAX_FRAMES];
	unsigned rx_head, rx_count;
	size_t rx_bytes;
	uint64_t rx_dropped;

	uint8_t *tx_frame;        /* NET_MAX_FRAME bytes: header and frame */
	bool guest_error_logged;
};

static struct net_slirp *to_nat(struct net_backend *be)
{
	return (struct net_slirp *)be;
}

static void eventfd_signal(int fd)
{
	if (write(fd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0) {
		/* Counter saturated: it is readable anyway. */
	}
}

static void fd_drain(int fd)
{
	uint64_t count;

	if (read(fd, &count, sizeof(count)) < 0) {
		/* EAGAIN: nothing was pending. */
	}
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Returns array with room for need elements (moved, maybe), or NULL with
 * array left as it was. */
static void *reserve(void *array, unsigned *cap, unsigned need, size_t elem)
{
	unsigned new_cap = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return array;
	while (new_cap < need)
		new_cap *= 2;
	p = realloc(array, (size_t)new_cap * elem);
	if (p)
		*cap = new_cap;
	return p;
}

/* ---- frames for the guest: queued by send_packet, taken by receive ---- */

static struct rx_frame *rx_pop(struct net_slirp *ns)
{
	struct rx_frame *f;

	if (!ns->rx_count)
		return NULL;
	f = ns->rx[ns->rx_head];
	ns->rx[ns->rx_head] = NULL;
	ns->rx_head = (ns->rx_head + 1) % RX_MAX_FRAMES;
	ns->rx_count--;
	ns->rx_bytes -= f->len;
	return f;
}

static void rx_flush(struct net_slirp *ns)
{
	struct rx_frame *f;

	while ((f = rx_pop(ns)))
		free(f);
	fd_drain(ns->be.rx_fd[0]);
}

static void rx_drop(struct net_slirp *ns, const char *why)
{
	if (!ns->rx_dropped++)
		log_debug("net user: dropping frames for the guest (%s)", why);
}

/* Called inside any slirp call, transmit's slirp_input included: it only
 * touches the queue, never the transmit buffer or the poll state. */
static ssize_t nat_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *ns = opaque;
	struct rx_frame *f;

	/* No guest is running: what we queued now would greet the next one. */
	if (!ns->loop) {
		rx_drop(ns, "detached");
		return (ssize_t)len;
	}
	if (len > NET_MAX_FRAME - NET_VNET_HDR_LEN) {
		rx_drop(ns, "frame too large");
		return (ssize_t)len;
	}
	if (ns->rx_count == RX_MAX_FRAMES || ns->rx_bytes + len > RX_MAX_BYTES) {
		rx_drop(ns, "queue full");
		return (ssize_t)len;
	}
	f = malloc(sizeof(*f) + len);
	if (!f) {
		rx_drop(ns, "out of memory");
		return (ssize_t)len;
	}
	f->len = len;
	memcpy(f->data, buf, len);
	ns->rx[(ns->rx_head + ns->rx_count) % RX_MAX_FRAMES] = f;
	ns->rx_count++;
	ns->rx_bytes += len;
	/* The device drains rx_fd and then takes frames until -EAGAIN, and
	 * receive() signals again for what is left: one signal per empty to
	 * non-empty step is enough. */
	if (ns->rx_count == 1)
		eventfd_signal(ns->be.rx_fd[0]);
	return (ssize_t)len;
}

static size_t iov_capacity(const struct iovec *iov, unsigned iovcnt, size_t enough)
{
	size_t total = 0;

	for (unsigned i = 0; i < iovcnt && total < enough; i++)
		total += iov[i].iov_len < enough ? iov[i].iov_len : enough;
	return total;
}

static ssize_t nat_receive(struct net_backend *be, unsigned pair,
			   const struct iovec *iov, unsigned iovcnt)
{
	struct net_slirp *ns = to_nat(be);
	static const uint8_t no_offload[NET_VNET_HDR_LEN];
	struct rx_frame *f;
	size_t total;
	ssize_t ret;

	if (pair != 0)
		return -EINVAL;
	f = rx_pop(ns);
	if (!f)
		return -EAGAIN;
	/* Flags 0 rather than DATA_VALID: whether the guest took GUEST_CSUM
	 * is not ours to know, and slirp's checksums are complete anyway. */
	total = NET_VNET_HDR_LEN + f->len;
	if (iov_capacity(iov, iovcnt, total) < total) {
		ret = -EMSGSIZE;
	} else {
		iov_from_buf(iov, iovcnt, 0, no_offload, NET_VNET_HDR_LEN);
		iov_from_buf(iov, iovcnt, NET_VNET_HDR_LEN, f->data, f->len);
		ret = (ssize_t)total;
	}
	free(f);
	if (ns->rx_count)
		eventfd_signal(be->rx_fd[0]);
	return ret;
}

/* ---- the inner epoll: slirp's sockets as the last fill described them ---- */

static uint32_t slirp_to_epoll(int events)
{
	return (events & SLIRP_POLL_IN ? EPOLLIN : 0) |
	       (events & SLIRP_POLL_OUT ? EPOLLOUT : 0) |
	       (events & SLIRP_POLL_PRI ? EPOLLPRI : 0) |
	       (events & SLIRP_POLL_ERR ? EPOLLERR : 0) |
	       (events & SLIRP_POLL_HUP ? EPOLLHUP : 0);
}

static int epoll_to_slirp(uint32_t events)
{
	return (events & EPOLLIN ? SLIRP_POLL_IN : 0) |
	       (events & EPOLLOUT ? SLIRP_POLL_OUT : 0) |
	       (events & EPOLLPRI ? SLIRP_POLL_PRI : 0) |
	       (events & EPOLLERR ? SLIRP_POLL_ERR : 0) |
	       (events & EPOLLHUP ? SLIRP_POLL_HUP : 0);
}

static struct fd_slot *slot_of(struct net_slirp *ns, int fd)
{
	return fd >= 0 && (unsigned)fd < ns->nr_slots ? &ns->slots[fd] : NULL;
}

static struct fd_slot *slot_make(struct net_slirp *ns, int fd)
{
	unsigned old = ns->nr_slots;

	if (fd < 0)
		return NULL;
	if ((unsigned)fd >= old) {
		struct fd_slot *slots = reserve(ns->slots, &ns->nr_slots, (unsigned)fd + 1,
						sizeof(*slots));

		if (!slots)
			return NULL;
		ns->slots = slots;
		memset(&ns->slots[old], 0, (ns->nr_slots - old) * sizeof(*ns->slots));
	}
	return &ns->slots[fd];
}

/* The fd leaves the inner epoll. DEL may fail with ENOENT or EBADF when
 * the fd was closed already: closing took it out of the set, which is
 * what we want anyway. */
static void unwatch(struct net_slirp *ns, int fd)
{
	struct fd_slot *slot = slot_of(ns, fd);
	int last;

	if (!slot || !slot->watched)
		return;
	epoll_ctl(ns->sockets_fd, EPOLL_CTL_DEL, fd, NULL);
	last = ns->watched_fds[--ns->nr_watched];
	ns->watched_fds[slot->watched_pos] = last;
	ns->slots[last].watched_pos = slot->watched_pos;
	slot->watched = 0;
}

/* Room for one more watched fd, and for its event in collect_revents. */
static bool reserve_watch_entry(struct net_slirp *ns)
{
	int *fds = reserve(ns->watched_fds, &ns->watched_cap, ns->nr_watched + 1,
			   sizeof(*fds));
	struct epoll_event *ready;

	if (!fds)
		return false;
	ns->watched_fds = fds;
	ready = reserve(ns->ready, &ns->ready_cap, ns->nr_watched + 1, sizeof(*ready));
	if (!ready)
		return false;
	ns->ready = ready;
	return true;
}

/* Puts fd in the inner epoll with events. Our table can be wrong about the
 * kernel's set when a number was closed and handed out again behind our
 * back: an fd we think absent may be there (EEXIST: modify it) and one we
 * think present may be gone (ENOENT: add it). */
static void watch(struct net_slirp *ns, int fd, struct fd_slot *slot, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	int op = slot->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	int ret;

	if (!slot->watched && !reserve_watch_entry(ns)) {
		log_debug("net user: out of memory watching fd %d", fd);
		return;
	}
	ret = epoll_ctl(ns->sockets_fd, op, fd, &ev);
	if (ret < 0 && op == EPOLL_CTL_MOD && errno == ENOENT)
		ret = epoll_ctl(ns->sockets_fd, EPOLL_CTL_ADD, fd, &ev);
	else if (ret < 0 && op == EPOLL_CTL_ADD && errno == EEXIST)
		ret = epoll_ctl(ns->sockets_fd, EPOLL_CTL_MOD, fd, &ev);
	if (ret < 0) {
		log_debug("net user: cannot watch fd %d: %s", fd, strerror(errno));
		unwatch(ns, fd);
		return;
	}
	if (!slot->watched) {
		slot->watched_pos = ns->nr_watched;
		ns->watched_fds[ns->nr_watched++] = fd;
	}
	slot->watched = events;
}

/* Makes the inner epoll hold exactly what the last fill asked for. */
static void reconcile(struct net_slirp *ns)
{
	struct fd_slot *slot;

	/* One fd may be asked for twice: its wishes add up. */
	for (unsigned i = 0; i < ns->nr_polls; i++) {
		slot = slot_make(ns, ns->polls[i].fd);
		if (slot)
			slot->wanted |= ns->polls[i].events;
	}
	for (unsigned i = 0; i < ns->nr_polls; i++) {
		slot = slot_of(ns, ns->polls[i].fd);
		if (slot && slot->wanted && slot->watched != slot->wanted)
			watch(ns, ns->polls[i].fd, slot, slot->wanted);
	}
	/* Backwards: unwatch moves the last entry into the hole. */
	for (unsigned i = ns->nr_watched; i-- > 0;) {
		int fd = ns->watched_fds[i];

		if (!ns->slots[fd].wanted)
			unwatch(ns, fd);
	}
	for (unsigned i = 0; i < ns->nr_polls; i++) {
		slot = slot_of(ns, ns->polls[i].fd);
		if (slot)
			slot->wanted = 0;
	}
}

static int nat_add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *ns = opaque;
	struct poll_request *polls = reserve(ns->polls, &ns->polls_cap, ns->nr_polls + 1,
					     sizeof(*polls));

	if (!polls)
		return -1;   /* slirp skips a socket with no index */
	ns->polls = polls;
	ns->polls[ns->nr_polls] = (struct poll_request){
		.fd = fd, .events = slirp_to_epoll(events),
	};
	return (int)ns->nr_polls++;
}

/* Indices are the last fill's. A socket slirp opened since then has no
 * index and is never asked about; one it closed is no longer in its lists. */
static int nat_get_revents(int idx, void *opaque)
{
	struct net_slirp *ns = opaque;
	struct fd_slot *slot;

	if (idx < 0 || (unsigned)idx >= ns->nr_polls)
		return 0;
	slot = slot_of(ns, ns->polls[idx].fd);
	return slot ? epoll_to_slirp(slot->revents) : 0;
}

/* slirp's sockets come and go inside its own calls, and fd numbers are
 * reused at once: within one slirp_pollfds_poll it may close a socket and
 * accept another that gets the same number. A closed fd leaves the inner
 * epoll silently, so a table that still lists the number would take the
 * new socket for watched and never add it. slirp tells us about both ends
 * of a socket's life; we forget the number at either. */
static void nat_register_poll_fd(int fd, void *opaque)
{
	unwatch(opaque, fd);
}

static void nat_unregister_poll_fd(int fd, void *opaque)
{
	unwatch(opaque, fd);
}

/* ---- timers ---- */

static int64_t nat_clock_get_ns(void *opaque)
{
	(void)opaque;
	return (int64_t)monotonic_ns();
}

static void nat_request_refresh(struct net_slirp *ns)
{
	if (ns->refresh_pending)
		return;
	ns->refresh_pending = true;
	eventfd_signal(ns->refresh_fd);
}

static struct nat_timer *timer_add(struct net_slirp *ns, SlirpTimerCb cb,
				     SlirpTimerId id, void *cb_opaque)
{
	struct nat_timer *t = calloc(1, sizeof(*t));

	/* slirp has no way to hear of a failure: it would crash on NULL. */
	if (!t) {
		log_error("net user: out of memory for a timer");
		abort();
	}
	t->cb = cb;
	t->id = id;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = ns->timers;
	ns->timers = t;
	return t;
}

static void *nat_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	return timer_add(opaque, cb, 0, cb_opaque);
}

static void *nat_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	return timer_add(opaque, NULL, id, cb_opaque);
}

static void nat_timer_free(void *timer, void *opaque)
{
	struct net_slirp *ns = opaque;

	for (struct nat_timer **link = &ns->timers; *link; link = &(*link)->next) {
		if (*link == timer) {
			*link = ((struct nat_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

static void nat_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	/* -1 is ours for "not armed"; any time past is simply due. */
	((struct nat_timer *)timer)->expire_ms = expire_ms < 0 ? 0 : expire_ms;
	nat_request_refresh(opaque);
}

static void run_expired_timers(struct net_slirp *ns)
{
	int64_t now_ms = (int64_t)monotonic_ns() / NSEC_PER_MSEC;

	/* From the head each time: a handler may free or re-arm any timer. */
	for (unsigned runs = 0; runs < TIMER_RUNS_PER_WAKE; runs++) {
		struct nat_timer *t = ns->timers;

		while (t && (t->expire_ms < 0 || t->expire_ms > now_ms))
			t = t->next;
		if (!t)
			return;
		t->expire_ms = -1;
		if (t->cb)
			t->cb(t->cb_opaque);
		else
			slirp_handle_timer(ns->slirp, t->id, t->cb_opaque);
	}
}

/* Arms timer_fd for the earlier of slirp's poll timeout and its timers.
 *
 * slirp runs its TCP timers only inside slirp_pollfds_poll, and its
 * timeout says "within this long from now" without saying what is due.
 * A refresh after transmit polls nothing, so a deadline pushed back at
 * every refresh would never come while the guest keeps sending: a
 * deadline already set stays until it fires, unless slirp wants one
 * sooner. */
static void arm_timer(struct net_slirp *ns, uint32_t timeout_ms)
{
	struct itimerspec its = { 0 };
	int64_t now = (int64_t)monotonic_ns();
	int64_t deadline = INT64_MAX;

	if (timeout_ms != UINT32_MAX)
		deadline = now + (int64_t)timeout_ms * NSEC_PER_MSEC;
	for (struct nat_timer *t = ns->timers; t; t = t->next)
		if (t->expire_ms >= 0 && t->expire_ms < INT64_MAX / NSEC_PER_MSEC &&
		    t->expire_ms * NSEC_PER_MSEC < deadline)
			deadline = t->expire_ms * NSEC_PER_MSEC;
	if (ns->timer_deadline > now && ns->timer_deadline <= deadline)
		return;
	if (deadline == INT64_MAX) {
		ns->timer_deadline = 0;
	} else {
		/* A deadline already past fires at once; zero would disarm. */
		if (deadline < 1)
			deadline = 1;
		ns->timer_deadline = deadline;
		its.it_value.tv_sec = deadline / 1000000000ll;
		its.it_value.tv_nsec = deadline % 1000000000ll;
	}
	timerfd_settime(ns->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- running slirp on the loop ---- */

/* After every entry into slirp: what it wants watched and when it wants
 * to run next may both have changed. */
static void nat_refresh(struct net_slirp *ns)
{
	uint32_t timeout_ms = UINT32_MAX;

	ns->refresh_pending = false;
	ns->nr_polls = 0;
	pthread_mutex_lock(&slirp_global_lock);
	slirp_pollfds_fill(ns->slirp, &timeout_ms, nat_add_poll, ns);
	pthread_mutex_unlock(&slirp_global_lock);
	reconcile(ns);
	arm_timer(ns, timeout_ms);
}

static void collect_revents(struct net_slirp *ns)
{
	int n = 0;

	if (ns->nr_watched)
		n = epoll_wait(ns->sockets_fd, ns->ready, (int)ns->nr_watched, 0);
	ns->nr_ready = n > 0 ? n : 0;
	for (int i = 0; i < ns->nr_ready; i++) {
		struct fd_slot *slot = slot_of(ns, ns->ready[i].data.fd);

		if (slot)
			slot->revents = ns->ready[i].events;
	}
}

static void forget_revents(struct net_slirp *ns)
{
	for (int i = 0; i < ns->nr_ready; i++) {
		struct fd_slot *slot = slot_of(ns, ns->ready[i].data.fd);

		if (slot)
			slot->revents = 0;
	}
	ns->nr_ready = 0;
}

/* One turn of slirp: its due timers, its ready sockets (the timer's turn
 * finds none ready, and still lets slirp run its TCP timers and flush
 * queued output), then a fresh fill. */
static void nat_service(struct net_slirp *ns)
{
	collect_revents(ns);
	pthread_mutex_lock(&slirp_global_lock);
	run_expired_timers(ns);
	slirp_pollfds_poll(ns->slirp, 0, nat_get_revents, ns);
	pthread_mutex_unlock(&slirp_global_lock);
	forget_revents(ns);
	nat_refresh(ns);
}

static void nat_on_sockets(void *opaque, uint32_t events)
{
	(void)events;
	nat_service(opaque);
}

static void nat_on_timer(void *opaque, uint32_t events)
{
	struct net_slirp *ns = opaque;

	(void)events;
	fd_drain(ns->timer_fd);
	ns->timer_deadline = 0;
	nat_service(ns);
}

/* Runs after the batch that asked for it, so a burst of transmitted
 * frames costs one fill, not one each. */
static void nat_on_refresh(void *opaque, uint32_t events)
{
	struct net_slirp *ns = opaque;

	(void)events;
	fd_drain(ns->refresh_fd);
	if (ns->refresh_pending)
		nat_refresh(ns);
}

/* slirp may call this inside any of its calls, fill and poll included:
 * refilling from here would reenter it. */
static void nat_notify(void *opaque)
{
	nat_request_refresh(opaque);
}

static void nat_guest_error(const char *msg, void *opaque)
{
	struct net_slirp *ns = opaque;

	/* The guest decides how often this happens. */
	if (ns->guest_error_logged)
		return;
	ns->guest_error_logged = true;
	log_warn("net user: guest error: %s (further ones not reported)", msg);
}

static void nat_init_completed(Slirp *slirp, void *opaque)
{
	/* Timers made inside slirp_new may need the handle before it returns. */
	((struct net_slirp *)opaque)->slirp = slirp;
}

static const SlirpCb nat_callbacks = {
	.send_packet = nat_send_packet,
	.guest_error = nat_guest_error,
	.clock_get_ns = nat_clock_get_ns,
	.timer_new = nat_timer_new,
	.timer_free = nat_timer_free,
	.timer_mod = nat_timer_mod,
	.register_poll_fd = nat_register_poll_fd,
	.unregister_poll_fd = nat_unregister_poll_fd,
	.notify = nat_notify,
	.init_completed = nat_init_completed,
	.timer_new_opaque = nat_timer_new_opaque,
};

/* ---- frames from the guest ---- */

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint16_t internet_checksum(const uint8_t *p, size_t len)
{
	uint64_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* NEEDS_CSUM without CSUM offered is the guest's mistake, but finishing
 * the checksum costs little. Like a NIC, we sum from csum_start to the
 * end (the field holds the pseudo-header's sum) and store it in place. */
static bool complete_checksum(uint8_t *frame, size_t len, uint16_t start, uint16_t offset)
{
	uint16_t csum;

	if (start > len || len - start < 2 || offset > len - start - 2)
		return false;
	csum = internet_checksum(frame + start, len - start);
	frame[start + offset] = (uint8_t)(csum >> 8);
	frame[start + offset + 1] = (uint8_t)csum;
	return true;
}

/* Whether the frame may go to slirp, given its header. No offload was
 * offered, so a GSO frame is one slirp could not take. */
static bool tx_header_acceptable(const uint8_t *hdr, uint8_t *frame, size_t len)
{
	if (hdr[1] != VIRTIO_NET_HDR_GSO_NONE)
		return false;
	if (hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return complete_checksum(frame, len, get_le16(hdr + 6), get_le16(hdr + 8));
	return true;
}

static int nat_transmit(struct net_backend *be, unsigned pair,
			const struct iovec *iov, unsigned iovcnt)
{
	struct net_slirp *ns = to_nat(be);
	uint8_t *frame = ns->tx_frame + NET_VNET_HDR_LEN;
	size_t len;

	if (pair != 0)
		return 0;
	/* Counted only up to one byte past the limit: the guest picks the
	 * lengths, and their true sum may not fit a size_t. */
	len = iov_capacity(iov, iovcnt, NET_MAX_FRAME + 1);
	if (len > NET_MAX_FRAME || len < NET_VNET_HDR_LEN + ETH_HEADER_LEN)
		return 0;
	if (iov_to_buf(iov, iovcnt, 0, ns->tx_frame, len) != len)
		return 0;
	len -= NET_VNET_HDR_LEN;
	if (!tx_header_acceptable(ns->tx_frame, frame, len))
		return 0;
	pthread_mutex_lock(&slirp_global_lock);
	slirp_input(ns->slirp, frame, (int)len);
	pthread_mutex_unlock(&slirp_global_lock);
	nat_request_refresh(ns);
	return 0;
}

/* ---- life cycle ---- */

static int nat_attach(struct net_backend *be, struct event_loop *loop)
{
	struct net_slirp *ns = to_nat(be);
	int ret;

	if (ns->loop)
		return -EBUSY;
	ret = event_loop_add(loop, ns->sockets_fd, EPOLLIN, nat_on_sockets, ns);
	if (ret < 0)
		return ret;
	ret = event_loop_add(loop, ns->timer_fd, EPOLLIN, nat_on_timer, ns);
	if (ret < 0)
		goto fail_sockets;
	ret = event_loop_add(loop, ns->refresh_fd, EPOLLIN, nat_on_refresh, ns);
	if (ret < 0)
		goto fail_timer;
	ns->loop = loop;
	/* Nothing polled slirp while detached: catch up now. */
	fd_drain(ns->refresh_fd);
	nat_refresh(ns);
	return 0;

fail_timer:
	event_loop_remove(loop, ns->timer_fd);
fail_sockets:
	event_loop_remove(loop, ns->sockets_fd);
	return ret;
}

static void nat_detach(struct net_backend *be)
{
	struct net_slirp *ns = to_nat(be);
	struct itimerspec disarm = { 0 };

	if (!ns->loop)
		return;
	event_loop_remove(ns->loop, ns->refresh_fd);
	event_loop_remove(ns->loop, ns->timer_fd);
	event_loop_remove(ns->loop, ns->sockets_fd);
	ns->loop = NULL;
	timerfd_settime(ns->timer_fd, 0, &disarm, NULL);
	ns->timer_deadline = 0;
	fd_drain(ns->timer_fd);
	fd_drain(ns->refresh_fd);
	ns->refresh_pending = false;
	rx_flush(ns);
}

static void nat_destroy(struct net_backend *be)
{
	struct net_slirp *ns = to_nat(be);

	nat_detach(be);
	/* Closes slirp's sockets; our callbacks still run while it does. */
	if (ns->slirp) {
		pthread_mutex_lock(&slirp_global_lock);
		slirp_cleanup(ns->slirp);
		pthread_mutex_unlock(&slirp_global_lock);
	}
	while (ns->timers)
		nat_timer_free(ns->timers, ns);
	rx_flush(ns);
	if (ns->rx_dropped)
		log_debug("net user: %llu frames for the guest dropped",
			  (unsigned long long)ns->rx_dropped);
	free(ns->polls);
	free(ns->slots);
	free(ns->watched_fds);
	free(ns->ready);
	free(ns->tx_frame);
	close_fd(ns->sockets_fd);
	close_fd(ns->timer_fd);
	close_fd(ns->refresh_fd);
	close_fd(ns->be.rx_fd[0]);
	free(ns);
}

static const struct net_backend_ops nat_ops = {
	.attach = nat_attach,
	.detach = nat_detach,
	.transmit = nat_transmit,
	.receive = nat_receive,
	.destroy = nat_destroy,
};

static int open_fds(struct net_slirp *ns)
{
	ns->sockets_fd = epoll_create1(EPOLL_CLOEXEC);
	ns->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ns->refresh_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ns->be.rx_fd[0] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ns->sockets_fd < 0 || ns->timer_fd < 0 || ns->refresh_fd < 0 ||
	    ns->be.rx_fd[0] < 0)
		return -1;
	return 0;
}

static Slirp *new_slirp(struct net_slirp *ns, const struct net_config *nc)
{
	SlirpConfig cfg = {
		.version = 4,
		.restricted = 0,
		.in_enabled = true,
		.in6_enabled = false,
		/* The guest's MTU both ways (net_option.h says why it is large). */
		.if_mtu = ns->be.mtu,
		.if_mru = ns->be.mtu,
		/* Off, libslirp maps 10.0.2.2 (and every other address of the
		 * NAT's network but the DNS server) to nothing: the guest's
		 * connections there fail. On, to the host's 127.0.0.1, where
		 * services listen that trust any local caller (an unticketed
		 * SPICE display, a developer's database), so only when asked. */
		.disable_host_loopback = !nc->host_loopback,
	};

	inet_pton(AF_INET, NAT_NETWORK, &cfg.vnetwork);
	inet_pton(AF_INET, NAT_NETMASK, &cfg.vnetmask);
	inet_pton(AF_INET, NAT_HOST, &cfg.vhost);
	inet_pton(AF_INET, NAT_DHCP_START, &cfg.vdhcp_start);
	inet_pton(AF_INET, NAT_NAMESERVER, &cfg.vnameserver);
	return slirp_new(&cfg, &nat_callbacks, ns);
}

static int add_hostfwd(struct net_slirp *ns, const struct net_hostfwd *fwd,
		       char *err, size_t errlen)
{
	struct in_addr guest = fwd->guest_addr;
	char host[INET_ADDRSTRLEN];

	if (!guest.s_addr)
		inet_pton(AF_INET, NAT_DHCP_START, &guest);
	errno = 0;
	if (slirp_add_hostfwd(ns->slirp, fwd->udp, fwd->host_addr, fwd->host_port,
			      guest, fwd->guest_port) == 0)
		return 0;
	inet_ntop(AF_INET, &fwd->host_addr, host, sizeof(host));
	snprintf(err, errlen, "hostfwd %s %s:%u: cannot %s (%s)",
		 fwd->udp ? "udp" : "tcp", host, fwd->host_port,
		 fwd->udp ? "bind" : "listen",
		 errno ? strerror(errno) : "address in use?");
	return -1;
}

/* The NAT and its host forwards, bound now so that a busy port fails the
 * start rather than a later guest boot. */
static int start_slirp(struct net_slirp *ns, const struct net_config *cfg,
		       char *err, size_t errlen)
{
	ns->slirp = new_slirp(ns, cfg);
	if (!ns->slirp) {
		snprintf(err, errlen, "cannot start libslirp");
		return -1;
	}
	for (unsigned i = 0; i < cfg->nr_hostfwds && i < NET_MAX_HOSTFWDS; i++)
		if (add_hostfwd(ns, &cfg->hostfwds[i], err, errlen) < 0)
			return -1;
	return 0;
}

int net_slirp_create(struct net_backend **out, const struct net_config *cfg,
		     char *err, size_t errlen)
{
	struct net_slirp *ns = calloc(1, sizeof(*ns));
	int ret;

	*out = NULL;
	if (!ns) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ns->be.ops = &nat_ops;
	ns->be.kind = "user";
	ns->be.nr_pairs = 1;
	ns->be.offload_features = 0;
	ns->be.mtu = cfg->mtu ? cfg->mtu : NET_USER_MTU_DEFAULT;
	ns->be.rx_fd_is_eventfd = true;
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++)
		ns->be.rx_fd[i] = ns->be.tx_fd[i] = -1;
	ns->sockets_fd = ns->timer_fd = ns->refresh_fd = -1;
	ns->tx_frame = malloc(NET_MAX_FRAME);
	if (!ns->tx_frame || open_fds(ns) < 0) {
		snprintf(err, errlen, "cannot set up user networking: %s", strerror(errno));
		goto fail;
	}
	pthread_mutex_lock(&slirp_global_lock);
	ret = start_slirp(ns, cfg, err, errlen);
	pthread_mutex_unlock(&slirp_global_lock);
	if (ret < 0)
		goto fail;
	*out = &ns->be;
	return 0;

fail:
	nat_destroy(&ns->be);
	return -1;
}

int net_slirp_available(char *version, size_t versionlen, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	snprintf(version, versionlen, "%s", slirp_version_string());
	return 0;
}
