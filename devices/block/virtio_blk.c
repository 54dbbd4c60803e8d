#include "virtio_blk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../../vmm/log.h"

#define VIRTIO_BLK_PCI_CLASS   0x018000   /* mass storage, other */
/* Data buffers per request: the queue size less the header and the
 * status, as a driver without indirect descriptors would need. */
#define VIRTIO_BLK_SEG_MAX     (VIRTIO_BLK_QUEUE_SIZE - 2)
#define VIRTIO_BLK_SEGMENT_MAX_BYTES (1u << 20)
/* Discard and write-zeroes run on the backend's worker thread, not the
 * I/O thread; these bound the work one segment asks for (writing zeros by
 * hand is the slow case, when the host can neither punch nor zero). */
#define VIRTIO_BLK_MAX_DISCARD_SECTORS      (1u << 21)   /* 1 GiB */
#define VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS (1u << 18)   /* 128 MiB */

/* Device configuration layout (virtio 1.2, 5.2.4). */
enum {
	CFG_CAPACITY                 = 0,
	CFG_SIZE_MAX                 = 8,
	CFG_SEG_MAX                  = 12,
	CFG_BLK_SIZE                 = 20,
	CFG_NUM_QUEUES               = 34,
	CFG_MAX_DISCARD_SECTORS      = 36,
	CFG_MAX_DISCARD_SEG          = 40,
	CFG_DISCARD_SECTOR_ALIGNMENT = 44,
	CFG_MAX_WRITE_ZEROES_SECTORS = 48,
	CFG_MAX_WRITE_ZEROES_SEG     = 52,
	CFG_WRITE_ZEROES_MAY_UNMAP   = 56,
};

/* One request in flight: the AIO operation, where its answer goes, and
 * its data buffers (copied out of the queue's scratch chain). */
struct blk_slot {
	struct block_io io;
	struct virtio_blk_queue *q;
	uint16_t head;
	struct block_request req;
	struct blk_slot *next_free;
	struct iovec iov[VIRTIO_BLK_SEG_MAX];
};

struct virtio_blk_queue {
	struct virtio_blk *blk;
	unsigned index;
	struct virtq *vq;          /* NULL while not served: completions then
				    * leave guest memory alone */
	int kick_fd;
	bool watching;
	bool broken;               /* failed the device; ignore until reset */
	bool stalled;              /* chains wait in the ring for a free slot */
	bool polling;              /* the driver need not notify: see virtio_blk.h */
	bool need_notify;
	/* Free slots: the released ones, then the never used ones from
	 * slots[fresh] on, so the pages of slots a light load never needs
	 * are never touched. */
	struct blk_slot *free;
	unsigned fresh;
	struct virtq_chain chain;  /* where the next request is popped */
	struct blk_slot slots[VIRTIO_BLK_QUEUE_DEPTH];
};

/* ---- option parsing ---- */

static int option_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int option_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static int parse_key(const char *opt, size_t len, struct virtio_blk_config *cfg,
		     char *err, size_t errlen)
{
	const char *eq = memchr(opt, '=', len);
	size_t klen = eq ? (size_t)(eq - opt) : len;
	const char *val = eq ? eq + 1 : NULL;
	size_t vlen = eq ? len - klen - 1 : 0;

	if (len == 0)
		return option_error(err, errlen, "disk: empty option (two commas in a row?)");
	if (!eq && klen == 2 && !memcmp(opt, "ro", 2)) {
		cfg->read_only = true;
		return 0;
	}
	if (eq && klen == 6 && !memcmp(opt, "serial", 6)) {
		if (vlen > VIRTIO_BLK_ID_BYTES)
			return option_error(err, errlen, "disk: serial is longer than %d bytes",
					    VIRTIO_BLK_ID_BYTES);
		if (!printable(val, vlen))
			return option_error(err, errlen, "disk: serial must be printable ASCII");
		memcpy(cfg->serial, val, vlen);
		cfg->serial[vlen] = 0;
		return 0;
	}
	if (eq && klen == 5 && !memcmp(opt, "cache", 5)) {
		if (vlen == 4 && !memcmp(val, "none", 4))
			cfg->direct = true;
		else if (vlen == 9 && !memcmp(val, "writeback", 9))
			cfg->direct = false;
		else
			return option_error(err, errlen, "disk: cache=%.*s: expected none or writeback",
					    (int)(vlen > 64 ? 64 : vlen), val);
		return 0;
	}
	return option_error(err, errlen, "disk: unknown option '%.*s' (expected ro, serial=, cache=)",
			    (int)(len > 64 ? 64 : len), opt);
}

int virtio_blk_parse_option(const char *arg, struct virtio_blk_config *cfg,
			    char *err, size_t errlen)
{
	const char *comma = strchr(arg, ',');
	size_t plen = comma ? (size_t)(comma - arg) : strlen(arg);

	memset(cfg, 0, sizeof(*cfg));
	if (plen == 0)
		return option_error(err, errlen, "disk: empty image path");
	if (plen >= sizeof(cfg->path))
		return option_error(err, errlen, "disk: image path is too long");
	memcpy(cfg->path, arg, plen);
	while (comma) {
		const char *opt = comma + 1;
		size_t len;
		int r;

		comma = strchr(opt, ',');
		len = comma ? (size_t)(comma - opt) : strlen(opt);
		r = parse_key(opt, len, cfg, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

/* ---- completing requests (I/O thread) ---- */

static struct blk_slot *slot_of(struct block_io *io)
{
	return (struct blk_slot *)((char *)io - offsetof(struct blk_slot, io));
}

static void release_slot(struct virtio_blk_queue *q, struct blk_slot *s)
{
	s->next_free = q->free;
	q->free = s;
}

static bool slot_available(const struct virtio_blk_queue *q)
{
	return q->free || q->fresh < VIRTIO_BLK_QUEUE_DEPTH;
}

static struct blk_slot *take_slot(struct virtio_blk_queue *q)
{
	struct blk_slot *s = q->free;

	if (s) {
		q->free = s->next_free;
	} else {
		s = &q->slots[q->fresh++];
		s->q = q;
	}
	return s;
}

static void queue_broken(struct virtio_blk_queue *q, const char *why)
{
	char msg[256];

	q->broken = true;
	snprintf(msg, sizeof(msg), "queue %u: %s", q->index, why);
	virtio_pci_fail(&q->blk->transport, msg);
}

static void complete(struct blk_slot *s, uint8_t status)
{
	struct virtio_blk_queue *q = s->q;

	if (q->vq && !q->broken) {
		*s->req.status = status;
		/* push_used publishes with a release store: the data and the
		 * status byte are visible to the guest before the entry is. */
		if (virtq_push_used(q->vq, s->head, block_request_written(&s->req, status)) < 0)
			queue_broken(q, "the used ring is not in guest RAM");
		else
			q->need_notify = true;
	}
	release_slot(q, s);
}

static void note_io_error(struct virtio_blk *blk, const char *what, int err)
{
	if (blk->io_error_logged)
		return;
	blk->io_error_logged = true;
	log_error("%s: %s failed: %s (the guest sees an I/O error; further errors are "
		  "not logged)", blk->backend.path, what, strerror(-err));
}

static const char *op_name(enum block_io_op op)
{
	switch (op) {
	case BLOCK_IO_READ:
		return "read";
	case BLOCK_IO_WRITE:
		return "write";
	case BLOCK_IO_FLUSH:
		return "flush";
	case BLOCK_IO_DISCARD:
		return "discard";
	default:
		return "write zeroes";
	}
}

static void on_io_done(struct block_io *io, int result)
{
	struct blk_slot *s = slot_of(io);

	/* Cancelled only by a reset: nobody is told, nothing went wrong. */
	if (result < 0 && result != -ECANCELED)
		note_io_error(s->q->blk, op_name(io->op), result);
	complete(s, result < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

static void notify_if_needed(struct virtio_blk_queue *q)
{
	if (!q->need_notify || !q->vq)
		return;
	q->need_notify = false;
	virtio_pci_notify_queue(&q->blk->transport, q->index);
}

/* ---- starting requests (I/O thread) ---- */

static void scatter(const struct iovec *iov, unsigned n, const uint8_t *src, size_t len)
{
	for (unsigned i = 0; i < n && len; i++) {
		size_t chunk = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(iov[i].iov_base, src, chunk);
		src += chunk;
		len -= chunk;
	}
}

static void start_io(struct virtio_blk *blk, struct blk_slot *s, enum block_io_op op)
{
	s->io = (struct block_io){
		.op = op,
		.offset = s->req.offset,
		.iov = s->req.iov,
		.iovcnt = s->req.iovcnt,
		.len = s->req.len,
		.ranges = s->req.ranges,
		.nr_ranges = s->req.nr_ranges,
		.done = on_io_done,
	};
	block_backend_queue(&blk->backend, &s->io);
}

static void start_request(struct virtio_blk_queue *q, struct blk_slot *s)
{
	struct virtio_blk *blk = q->blk;
	uint8_t status = block_request_parse(&s->req, &q->chain, &blk->limits);

	s->head = q->chain.head;
	if (!s->req.status) {
		release_slot(q, s);
		queue_broken(q, s->req.error);
		return;
	}
	if (status != VIRTIO_BLK_S_OK) {
		if (!blk->refusal_logged) {
			blk->refusal_logged = true;
			log_warn("%s: refused a guest request: %s (further refusals are not logged)",
				 blk->backend.path, s->req.error);
		}
		complete(s, status);
		return;
	}
	/* The parser bounded iovcnt by seg_max, the size of s->iov. */
	if (s->req.iovcnt)
		memcpy(s->iov, s->req.iov, s->req.iovcnt * sizeof(s->iov[0]));
	s->req.iov = s->iov;

	switch (s->req.type) {
	case VIRTIO_BLK_T_IN:
		start_io(blk, s, BLOCK_IO_READ);
		return;
	case VIRTIO_BLK_T_OUT:
		start_io(blk, s, BLOCK_IO_WRITE);
		return;
	case VIRTIO_BLK_T_FLUSH:
		start_io(blk, s, BLOCK_IO_FLUSH);
		return;
	case VIRTIO_BLK_T_GET_ID:
		scatter(s->req.iov, s->req.iovcnt, (const uint8_t *)blk->serial,
			block_request_id_len(&s->req));
		complete(s, VIRTIO_BLK_S_OK);
		return;
	case VIRTIO_BLK_T_DISCARD:
		start_io(blk, s, BLOCK_IO_DISCARD);
		return;
	default:   /* the parser lets nothing else through */
		start_io(blk, s, BLOCK_IO_WRITE_ZEROES);
		return;
	}
}

static void poll_timer_arm(struct virtio_blk *blk)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = VIRTIO_BLK_POLL_TICK_NS / 1000000000ull,
			      .tv_nsec = VIRTIO_BLK_POLL_TICK_NS % 1000000000ull },
	};

	if (blk->poll_timer_armed)
		return;
	if (timerfd_settime(blk->poll_timer_fd, 0, &its, NULL) < 0) {
		/* Not expected with a valid fd and time; the queues then go back
		 * to notifications at their next look (see process_queue). */
		log_debug("%s: arming the poll timer: %s", blk->backend.path, strerror(errno));
		return;
	}
	blk->poll_timer_armed = true;
}

/* Takes chains while slots are free. With none free the queue stalls with
 * notifications off; the next completion picks it up again. With enough
 * in flight it polls: notifications stay off, and the next completion or
 * tick of the poll timer looks again. Otherwise notifications are
 * re-armed, and the ring checked once more for what came meanwhile. */
static void process_queue(struct virtio_blk_queue *q)
{
	struct virtio_blk *blk = q->blk;
	char why[160];

	if (!q->vq || q->broken)
		return;
	for (;;) {
		virtq_disable_notify(q->vq);
		while (slot_available(q)) {
			enum virtq_pop_result r = virtq_pop_chain(q->vq, &q->chain, why, sizeof(why));

			if (r == VIRTQ_POP_EMPTY)
				break;
			if (r == VIRTQ_POP_BROKEN) {
				queue_broken(q, why);
				break;
			}
			start_request(q, take_slot(q));
			if (q->broken)
				break;
		}
		if (q->broken)
			break;
		if (!slot_available(q)) {
			q->stalled = true;
			break;
		}
		/* Submitted first, so in_flight counts what will complete: each
		 * completion wakes on_aio, which looks at the ring again. */
		block_backend_submit(&blk->backend);
		if (blk->backend.in_flight >= VIRTIO_BLK_POLL_MIN_IN_FLIGHT) {
			poll_timer_arm(blk);
			if (blk->poll_timer_armed) {
				q->polling = true;
				break;
			}
		}
		q->polling = false;
		if (!virtq_enable_notify(q->vq))
			break;
	}
	block_backend_submit(&blk->backend);
	notify_if_needed(q);
}

/* Looks at the rings of the queues that poll; they poll on (and re-arm
 * the timer) while enough is still in flight. */
static void on_poll_tick(void *opaque, uint32_t events)
{
	struct virtio_blk *blk = opaque;
	uint64_t expirations;

	(void)events;
	if (read(blk->poll_timer_fd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: disarmed after it fired; look anyway. */
	}
	blk->poll_timer_armed = false;
	for (unsigned i = 0; i < blk->nr_queues; i++)
		if (blk->queues[i].polling)
			process_queue(&blk->queues[i]);
}

static void on_kick(void *opaque, uint32_t events)
{
	struct virtio_blk_queue *q = opaque;
	uint64_t count;

	(void)events;
	if (read(q->kick_fd, &count, sizeof(count)) < 0) {
		/* EAGAIN: a spurious wake-up; look at the ring anyway. */
	}
	process_queue(q);
}

static void on_aio(void *opaque, uint32_t events)
{
	struct virtio_blk *blk = opaque;

	(void)events;
	block_backend_complete(&blk->backend);
	for (unsigned i = 0; i < blk->nr_queues; i++) {
		struct virtio_blk_queue *q = &blk->queues[i];

		if ((q->stalled && slot_available(q)) || q->polling) {
			q->stalled = false;
			process_queue(q);
		}
		notify_if_needed(q);
	}
}

/* ---- activate and reset ---- */

static void queue_init(struct virtio_blk *blk, struct virtio_blk_queue *q, unsigned index)
{
	q->blk = blk;
	q->index = index;
	q->vq = NULL;
	q->kick_fd = -1;
	q->watching = q->broken = q->stalled = q->polling = q->need_notify = false;
	q->free = NULL;
	q->fresh = 0;
}

/* On the I/O thread: stop watching, let what is in flight finish without
 * touching the rings, and forget the queues. */
static void reset_on_thread(void *arg)
{
	struct virtio_blk *blk = arg;

	if (!blk->active)
		return;
	for (unsigned i = 0; i < blk->nr_queues; i++) {
		struct virtio_blk_queue *q = &blk->queues[i];

		if (q->watching)
			event_loop_remove(&blk->io->loop, q->kick_fd);
		q->watching = false;
		q->vq = NULL;
	}
	event_loop_remove(&blk->io->loop, blk->backend.event_fd);
	event_loop_remove(&blk->io->loop, blk->poll_timer_fd);
	timerfd_settime(blk->poll_timer_fd, 0, &(struct itimerspec){ 0 }, NULL);
	blk->poll_timer_armed = false;
	/* A discard or write-zeroes may have gigabytes to go; the driver
	 * that reset (or the VMM shutting down) waits for one piece only. */
	block_backend_cancel(&blk->backend);
	block_backend_drain(&blk->backend);
	for (unsigned i = 0; i < blk->nr_queues; i++)
		queue_init(blk, &blk->queues[i], i);
	blk->active = false;
}

struct activation {
	struct virtio_blk *blk;
	struct block_request_limits limits;
	bool write_through;
	struct virtq *vqs[VIRTIO_BLK_MAX_QUEUES];
	int kick_fds[VIRTIO_BLK_MAX_QUEUES];
	int result;
};

static void activate_on_thread(void *arg)
{
	struct activation *a = arg;
	struct virtio_blk *blk = a->blk;
	struct event_loop *loop = &blk->io->loop;
	const uint64_t one = 1;
	int r;

	reset_on_thread(blk);
	blk->limits = a->limits;
	blk->backend.write_through = a->write_through;
	r = event_loop_add(loop, blk->backend.event_fd, EPOLLIN, on_aio, blk);
	if (r < 0) {
		log_error("%s: cannot watch AIO completions: %s", blk->backend.path, strerror(-r));
		a->result = -1;
		return;
	}
	r = event_loop_add(loop, blk->poll_timer_fd, EPOLLIN, on_poll_tick, blk);
	if (r < 0) {
		log_error("%s: cannot watch the poll timer: %s", blk->backend.path, strerror(-r));
		event_loop_remove(loop, blk->backend.event_fd);
		a->result = -1;
		return;
	}
	blk->active = true;
	for (unsigned i = 0; i < blk->nr_queues; i++) {
		struct virtio_blk_queue *q = &blk->queues[i];

		if (!a->vqs[i])
			continue;
		q->vq = a->vqs[i];
		q->vq->manual_rearm = true;   /* process_queue decides */
		q->kick_fd = a->kick_fds[i];
		r = event_loop_add(loop, q->kick_fd, EPOLLIN, on_kick, q);
		if (r < 0) {
			log_error("%s: cannot watch queue %u: %s", blk->backend.path, i, strerror(-r));
			q->vq = NULL;
			reset_on_thread(blk);
			a->result = -1;
			return;
		}
		q->watching = true;
		/* Serve anything the driver queued before it said DRIVER_OK. */
		if (write(q->kick_fd, &one, sizeof(one)) < 0) {
			/* EAGAIN: a kick is pending already. */
		}
	}
	a->result = 0;
}

static int blk_activate(void *dev, struct virtio_pci *t)
{
	struct virtio_blk *blk = dev;
	struct activation a = { .blk = blk, .limits = blk->limits, .result = -1 };

	/* Asked here, not on the I/O thread: these take the transport's lock. */
	a.limits.discard = virtio_pci_has_feature(t, VIRTIO_BLK_F_DISCARD);
	a.limits.write_zeroes = virtio_pci_has_feature(t, VIRTIO_BLK_F_WRITE_ZEROES);
	/* A driver that cannot flush gets writes that are stable when done. */
	a.write_through = !virtio_pci_has_feature(t, VIRTIO_BLK_F_FLUSH);
	for (unsigned i = 0; i < blk->nr_queues; i++) {
		a.vqs[i] = virtio_pci_queue(t, i);
		a.kick_fds[i] = virtio_pci_kick_fd(t, i);
	}
	if (io_thread_call(blk->io, activate_on_thread, &a) < 0)
		return -1;
	return a.result;
}

static void blk_reset(void *dev)
{
	struct virtio_blk *blk = dev;

	io_thread_call(blk->io, reset_on_thread, blk);
}

/* ---- device configuration ---- */

static void put_le(uint8_t *p, unsigned len, uint64_t v)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void blk_config_read(void *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct virtio_blk *blk = dev;

	/* The transport checked offset + len against config_size. */
	memcpy(data, blk->config + offset, len);
}

static void blk_config_write(void *dev, uint32_t offset, const uint8_t *data, uint32_t len)
{
	/* Only writeback is writable, and only with CONFIG_WCE, not offered. */
	(void)dev;
	(void)offset;
	(void)data;
	(void)len;
}

static void fill_config(struct virtio_blk *blk)
{
	const struct block_backend *be = &blk->backend;
	uint8_t *c = blk->config;

	memset(c, 0, sizeof(blk->config));
	put_le(c + CFG_CAPACITY, 8, be->size >> VIRTIO_BLK_SECTOR_SHIFT);
	put_le(c + CFG_SIZE_MAX, 4, VIRTIO_BLK_SEGMENT_MAX_BYTES);
	put_le(c + CFG_SEG_MAX, 4, VIRTIO_BLK_SEG_MAX);
	put_le(c + CFG_BLK_SIZE, 4, be->block_size);
	put_le(c + CFG_NUM_QUEUES, 2, blk->nr_queues);
	put_le(c + CFG_MAX_DISCARD_SECTORS, 4, VIRTIO_BLK_MAX_DISCARD_SECTORS);
	put_le(c + CFG_MAX_DISCARD_SEG, 4, BLOCK_REQUEST_MAX_RANGES);
	put_le(c + CFG_DISCARD_SECTOR_ALIGNMENT, 4,
	       be->discard_granularity >> VIRTIO_BLK_SECTOR_SHIFT);
	put_le(c + CFG_MAX_WRITE_ZEROES_SECTORS, 4, VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS);
	put_le(c + CFG_MAX_WRITE_ZEROES_SEG, 4, BLOCK_REQUEST_MAX_RANGES);
	/* With unmap set, write-zeroes punches a hole when the host can. */
	c[CFG_WRITE_ZEROES_MAY_UNMAP] = 1;

	blk->limits = (struct block_request_limits){
		.capacity = be->size >> VIRTIO_BLK_SECTOR_SHIFT,
		.read_only = blk->read_only,
		.seg_max = VIRTIO_BLK_SEG_MAX,
		.max_discard_sectors = VIRTIO_BLK_MAX_DISCARD_SECTORS,
		.max_discard_seg = BLOCK_REQUEST_MAX_RANGES,
		.max_write_zeroes_sectors = VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS,
		.max_write_zeroes_seg = BLOCK_REQUEST_MAX_RANGES,
	};
}

static uint64_t offered_features(bool read_only)
{
	uint64_t f = 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
		     1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH |
		     1ull << VIRTIO_BLK_F_MQ;

	/* A read-only disk can neither discard nor zero. */
	if (read_only)
		return f | 1ull << VIRTIO_BLK_F_RO;
	return f | 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
}

/* ---- lifetime ---- */

static void close_poll_timer(struct virtio_blk *blk)
{
	if (blk->poll_timer_fd >= 0)
		close(blk->poll_timer_fd);
	blk->poll_timer_fd = -1;
}

int virtio_blk_create(struct virtio_blk *blk, const struct virtio_blk_config *cfg,
		      unsigned nr_queues, struct io_thread *io,
		      const struct virtio_pci_env *env, char *err, size_t errlen)
{
	struct block_backend_options opt;
	int r;

	memset(blk, 0, sizeof(*blk));
	blk->backend.fd = blk->backend.event_fd = -1;
	blk->poll_timer_fd = -1;
	if (!io || !env) {
		snprintf(err, errlen, "%s: virtio-blk needs an I/O thread and a VM", cfg->path);
		return -EINVAL;
	}
	if (nr_queues < 1)
		nr_queues = 1;
	if (nr_queues > VIRTIO_BLK_MAX_QUEUES)
		nr_queues = VIRTIO_BLK_MAX_QUEUES;
	blk->io = io;
	blk->nr_queues = nr_queues;
	blk->read_only = cfg->read_only;
	/* NUL-padded; a 20-byte serial has no terminator, as GET_ID wants. */
	memcpy(blk->serial, cfg->serial, strnlen(cfg->serial, sizeof(blk->serial)));
	blk->queues = calloc(nr_queues, sizeof(*blk->queues));
	if (!blk->queues) {
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < nr_queues; i++)
		queue_init(blk, &blk->queues[i], i);

	opt = (struct block_backend_options){
		.path = cfg->path,
		.read_only = cfg->read_only,
		.direct = cfg->direct,
		.max_in_flight = nr_queues * VIRTIO_BLK_QUEUE_DEPTH,
	};
	r = block_backend_open(&blk->backend, &opt, err, errlen);
	if (r < 0)
		goto fail;
	blk->poll_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (blk->poll_timer_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: timerfd: %s", cfg->path, strerror(-r));
		goto fail;
	}
	fill_config(blk);

	blk->ops = (struct virtio_device_ops){
		.name = "virtio-blk",
		.device_id = VIRTIO_ID_BLOCK,
		.pci_class = VIRTIO_BLK_PCI_CLASS,
		.features = offered_features(cfg->read_only),
		.nr_queues = nr_queues,
		.queue_size = VIRTIO_BLK_QUEUE_SIZE,
		.config_size = VIRTIO_BLK_CONFIG_SIZE,
		.config_read = blk_config_read,
		.config_write = blk_config_write,
		.activate = blk_activate,
		.reset = blk_reset,
	};
	r = virtio_pci_init(&blk->transport, &blk->ops, blk, env);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot build the virtio-blk PCI function: %s",
			 cfg->path, strerror(-r));
		goto fail;
	}
	return 0;

fail:
	block_backend_close(&blk->backend);
	close_poll_timer(blk);
	free(blk->queues);
	blk->queues = NULL;
	return r;
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
	/* The transport resets the device first: the I/O stops here. */
	virtio_pci_destroy(&blk->transport);
	block_backend_close(&blk->backend);
	close_poll_timer(blk);
	free(blk->queues);
	blk->queues = NULL;
}
