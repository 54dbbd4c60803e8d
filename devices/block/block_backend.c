#include "block_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../vmm/log.h"

#define SECTOR_SIZE       512
#define ZERO_CHUNK        (256u << 10)
#define BUFFER_ALIGN      4096
/* Linux allows 16 bytes with the NUL. */
#define WORKER_NAME       "gvmm-io-discard"

static int open_failed(struct block_backend *be, char *err, size_t errlen, int e,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int open_failed(struct block_backend *be, char *err, size_t errlen, int e,
		       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	block_backend_close(be);
	return -e;
}

static uint64_t round_down(uint64_t v, uint64_t align) { return v - v % align; }
static uint64_t round_up(uint64_t v, uint64_t align) { return round_down(v + align - 1, align); }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* What O_DIRECT needs of offsets, lengths and buffers on a file: the file
 * system says (statx), or the classic sector size. */
static uint32_t file_dio_align(int fd)
{
	uint32_t align = SECTOR_SIZE;
#ifdef STATX_DIOALIGN
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		align = stx.stx_dio_offset_align;
		if (stx.stx_dio_mem_align > align)
			align = stx.stx_dio_mem_align;
	}
#else
	(void)fd;
#endif
	return align;
}

static bool power_of_two(uint64_t v) { return v && !(v & (v - 1)); }

/* Probes the size and block geometry of an open image. */
static int measure(struct block_backend *be, const struct stat *st, uint32_t min_align,
		   char *err, size_t errlen)
{
	uint32_t lbs = SECTOR_SIZE;

	if (be->is_block_device) {
		int v;

		if (ioctl(be->fd, BLKGETSIZE64, &be->size) < 0)
			return open_failed(be, err, errlen, errno, "%s: cannot read the device size: %s",
					   be->path, strerror(errno));
		if (ioctl(be->fd, BLKSSZGET, &v) == 0 && v >= SECTOR_SIZE && power_of_two((uint64_t)v))
			lbs = (uint32_t)v;
		be->discard_granularity = lbs;
	} else {
		be->size = (uint64_t)st->st_size;
		be->discard_granularity = st->st_blksize >= SECTOR_SIZE &&
			power_of_two((uint64_t)st->st_blksize) ? (uint32_t)st->st_blksize : SECTOR_SIZE;
	}
	if (be->size == 0)
		return open_failed(be, err, errlen, EINVAL, "%s: the disk image is empty", be->path);
	if (be->size % SECTOR_SIZE)
		return open_failed(be, err, errlen, EINVAL,
				   "%s: size %llu is not a multiple of 512 bytes", be->path,
				   (unsigned long long)be->size);
	be->align = 1;
	be->block_size = lbs;
	if (be->direct) {
		uint32_t a = be->is_block_device ? lbs : file_dio_align(be->fd);

		if (min_align > a)
			a = min_align;
		if (!power_of_two(a) || a > BLOCK_BOUNCE_MAX)
			return open_failed(be, err, errlen, EINVAL,
					   "%s: unusable O_DIRECT alignment %u (cache=none)", be->path, a);
		be->align = a < SECTOR_SIZE ? SECTOR_SIZE : a;
		be->block_size = be->align;
		if (be->size % be->align)
			return open_failed(be, err, errlen, EINVAL,
					   "%s: size %llu is not a multiple of the %u-byte block "
					   "O_DIRECT needs (cache=none)", be->path,
					   (unsigned long long)be->size, be->align);
	}
	return 0;
}

/* An OFD lock belongs to this open file description: two gvmm processes
 * (or two opens in one) cannot both write the image. Readers share. */
static int lock_image(struct block_backend *be, char *err, size_t errlen)
{
	struct flock fl = {
		.l_type = be->read_only ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};

	if (fcntl(be->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return open_failed(be, err, errlen, EBUSY,
				   "%s is in use by another process (locked)", be->path);
	return open_failed(be, err, errlen, errno, "%s: cannot lock: %s", be->path,
			   strerror(errno));
}

static int start_aio(struct block_backend *be, char *err, size_t errlen)
{
	int r;

	be->queued = calloc(be->max_in_flight, sizeof(*be->queued));
	be->events = calloc(be->max_in_flight, sizeof(*be->events));
	if (!be->queued || !be->events)
		return open_failed(be, err, errlen, ENOMEM, "%s: out of memory", be->path);
	be->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (be->event_fd < 0)
		return open_failed(be, err, errlen, errno, "%s: eventfd: %s", be->path,
				   strerror(errno));
	r = io_setup((int)be->max_in_flight, &be->aio);
	if (r < 0) {
		be->aio = 0;
		return open_failed(be, err, errlen, -r,
				   "%s: cannot set up Linux AIO for %u requests: %s%s", be->path,
				   be->max_in_flight, strerror(-r),
				   r == -EAGAIN ? " (fs.aio-max-nr is too low)" : "");
	}
	be->ring = aio_ring_of(be->aio);
	return 0;
}

static int run_ranges(struct block_io *io, void *ctx);

int block_backend_open(struct block_backend *be, const struct block_backend_options *opt,
		       char *err, size_t errlen)
{
	int flags = (opt->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	int r;

	memset(be, 0, sizeof(*be));
	be->fd = -1;
	be->event_fd = -1;
	if (!opt->path || !*opt->path)
		return open_failed(be, err, errlen, EINVAL, "no disk image path");
	if (!opt->max_in_flight || opt->max_in_flight > INT_MAX / 2)
		return open_failed(be, err, errlen, EINVAL, "%s: bad request depth %u", opt->path,
				   opt->max_in_flight);
	be->path = strdup(opt->path);
	if (!be->path)
		return open_failed(be, err, errlen, ENOMEM, "%s: out of memory", opt->path);
	be->read_only = opt->read_only;
	be->direct = opt->direct;
	be->max_in_flight = opt->max_in_flight;
	if (opt->direct)
		flags |= O_DIRECT;

	be->fd = open(be->path, flags);
	if (be->fd < 0) {
		int e = errno;

		if (e == EINVAL && opt->direct)
			return open_failed(be, err, errlen, e, "%s: the file system does not support "
					   "O_DIRECT (cache=none); use cache=writeback", be->path);
		if (!opt->read_only && (e == EROFS || e == EACCES || e == EPERM))
			return open_failed(be, err, errlen, e, "%s: cannot open for writing: %s "
					   "(add ,ro for a read-only disk)", be->path, strerror(e));
		return open_failed(be, err, errlen, e, "%s: %s", be->path, strerror(e));
	}
	if (fstat(be->fd, &st) < 0)
		return open_failed(be, err, errlen, errno, "%s: %s", be->path, strerror(errno));
	if (S_ISBLK(st.st_mode))
		be->is_block_device = true;
	else if (!S_ISREG(st.st_mode))
		return open_failed(be, err, errlen, EINVAL,
				   "%s: not a regular file or a block device", be->path);
	r = lock_image(be, err, errlen);
	if (r)
		return r;
	r = measure(be, &st, opt->min_align, err, errlen);
	if (r)
		return r;
	r = start_aio(be, err, errlen);
	if (r)
		return r;
	/* A read-only disk neither discards nor zeroes. */
	if (!be->read_only) {
		r = block_worker_start(&be->worker, WORKER_NAME, run_ranges, be, be->event_fd);
		if (r < 0)
			return open_failed(be, err, errlen, -r, "%s: cannot start the %s thread: %s",
					   be->path, WORKER_NAME, strerror(-r));
	}
	return 0;
}

void block_backend_close(struct block_backend *be)
{
	if (be->aio) {
		block_backend_cancel(be);
		block_backend_drain(be);
		io_destroy(be->aio);
		be->aio = 0;
		be->ring = NULL;
	}
	block_worker_stop(&be->worker);
	if (be->event_fd >= 0)
		close(be->event_fd);
	if (be->fd >= 0)
		close(be->fd);   /* drops the OFD lock */
	be->event_fd = be->fd = -1;
	free(be->queued);
	free(be->events);
	free(be->zeroes);
	free(be->path);
	be->queued = NULL;
	be->events = NULL;
	be->zeroes = NULL;
	be->path = NULL;
}

/* The iovecs as a cursor: iov[iov_first] onwards holds what is left. */

static void cursor_advance(struct block_io *io, uint64_t n)
{
	io->pos += n;
	while (n && io->iov_first < io->iovcnt) {
		struct iovec *v = &io->iov[io->iov_first];
		uint64_t chunk = min_u64(n, v->iov_len);

		v->iov_base = (uint8_t *)v->iov_base + chunk;
		v->iov_len -= chunk;
		n -= chunk;
		if (v->iov_len == 0)
			io->iov_first++;
	}
}

/* Copies n bytes between buf and the iovecs at the cursor; does not move it. */
static void cursor_copy(struct block_io *io, uint8_t *buf, uint64_t n, bool into_iovecs)
{
	for (unsigned i = io->iov_first; i < io->iovcnt && n; i++) {
		uint64_t chunk = min_u64(n, io->iov[i].iov_len);

		if (into_iovecs)
			memcpy(io->iov[i].iov_base, buf, chunk);
		else
			memcpy(buf, io->iov[i].iov_base, chunk);
		buf += chunk;
		n -= chunk;
	}
}

static bool needs_bounce(const struct block_backend *be, const struct block_io *io)
{
	uint64_t mask = be->align - 1;

	if (!mask)
		return false;
	if ((io->offset | io->len) & mask)
		return true;
	for (unsigned i = 0; i < io->iovcnt; i++)
		if (((uintptr_t)io->iov[i].iov_base | io->iov[i].iov_len) & mask)
			return true;
	return false;
}

/* ---- overlapping requests ----
 *
 * Operations in flight together land in any order: the guest is promised
 * none. One kind would make that lose data: a write O_DIRECT cannot take
 * as it is (its offset or its length cuts through a block) reads the
 * blocks at its ends, copies the guest's bytes in, and writes the blocks
 * back whole, bytes it was not given included. Were another write to
 * those blocks to land between that read and that write, it would be
 * undone, after being reported done. So such a write is serialising: it
 * does not start while an earlier operation touching its blocks has not
 * ended, and later ones touching them wait for it in turn. Earlier means
 * taken earlier by block_backend_queue, so operations that overlap run one
 * after the other in that order; all others go straight on. The other
 * bounced operations need no such care: a read copies out only what it
 * was asked for, and a write at aligned offset and length writes only the
 * guest's bytes.
 *
 * Discards and write-zeroes are serialising too: they run on the worker,
 * beside the AIO, and a write taken after one must not land before it and
 * be deallocated or zeroed, nor one taken before it land after.
 *
 * Every operation taken is on one list, in the order taken, until done
 * runs; at most max_in_flight, so nothing is allocated. One that must
 * wait is held by the latest earlier operation it conflicts with, and is
 * looked at again when that one ends (there may be another in its way). */

static bool is_ranges_op(const struct block_io *io)
{
	return io->op == BLOCK_IO_DISCARD || io->op == BLOCK_IO_WRITE_ZEROES;
}

static unsigned nr_extents(const struct block_io *io)
{
	if (is_ranges_op(io))
		return io->nr_ranges;
	return io->op == BLOCK_IO_READ || io->op == BLOCK_IO_WRITE ? 1 : 0;
}

/* The i-th stretch of the disk io touches, widened to whole blocks. */
static void extent(const struct block_backend *be, const struct block_io *io, unsigned i,
		   uint64_t *start, uint64_t *end)
{
	uint64_t offset = io->offset, len = io->len;

	if (is_ranges_op(io)) {
		offset = io->ranges[i].offset;
		len = io->ranges[i].len;
	}
	*start = round_down(offset, be->align);
	*end = round_up(offset + len, be->align);
}

static bool overlap(const struct block_backend *be, const struct block_io *a,
		    const struct block_io *b)
{
	for (unsigned i = 0; i < nr_extents(a); i++) {
		uint64_t as, ae;

		extent(be, a, i, &as, &ae);
		for (unsigned j = 0; j < nr_extents(b); j++) {
			uint64_t bs, bend;

			extent(be, b, j, &bs, &bend);
			if (as < bend && bs < ae)
				return true;
		}
	}
	return false;
}

/* The latest operation taken before io that io must wait for, or NULL. */
static struct block_io *blocker_of(const struct block_backend *be, const struct block_io *io)
{
	if (!io->serialising && !be->nr_serialising)
		return NULL;
	for (struct block_io *e = io->prev_taken; e; e = e->prev_taken)
		if ((io->serialising || e->serialising) && overlap(be, e, io))
			return e;
	return NULL;
}

static void take(struct block_backend *be, struct block_io *io)
{
	io->taken = true;
	io->next_taken = NULL;
	io->prev_taken = be->last_taken;
	io->first_held = io->last_held = io->next_held = NULL;
	if (be->last_taken)
		be->last_taken->next_taken = io;
	else
		be->first_taken = io;
	be->last_taken = io;
	be->nr_taken++;
	if (io->serialising)
		be->nr_serialising++;
}

static void hold(struct block_io *blocker, struct block_io *io)
{
	io->next_held = NULL;
	if (blocker->last_held)
		blocker->last_held->next_held = io;
	else
		blocker->first_held = io;
	blocker->last_held = io;
}

/* Off the list; the operations it held are to be looked at again. */
static void drop(struct block_backend *be, struct block_io *io)
{
	if (io->prev_taken)
		io->prev_taken->next_taken = io->next_taken;
	else
		be->first_taken = io->next_taken;
	if (io->next_taken)
		io->next_taken->prev_taken = io->prev_taken;
	else
		be->last_taken = io->prev_taken;
	be->nr_taken--;
	if (io->serialising)
		be->nr_serialising--;
	io->taken = false;
	if (io->first_held) {
		if (be->last_released)
			be->last_released->next_held = io->first_held;
		else
			be->released = io->first_held;
		be->last_released = io->last_held;
		io->first_held = io->last_held = NULL;
	}
}

static void start(struct block_backend *be, struct block_io *io);

/* Starts the released operations nothing holds back any more. Not
 * reentrant: an operation that ends while starting releases its own into
 * the same loop rather than recursing. */
static void start_released(struct block_backend *be)
{
	if (be->releasing)
		return;
	be->releasing = true;
	while (be->released) {
		struct block_io *io = be->released, *blocker;

		be->released = io->next_held;
		if (!be->released)
			be->last_released = NULL;
		io->next_held = NULL;
		blocker = blocker_of(be, io);
		if (blocker)
			hold(blocker, io);
		else
			start(be, io);
	}
	be->releasing = false;
}

static void finish(struct block_backend *be, struct block_io *io, int result)
{
	free(io->bounce);
	io->bounce = NULL;
	if (io->taken)
		drop(be, io);
	io->done(io, result);
	start_released(be);
}

static int sync_flush(struct block_backend *be)
{
	return fdatasync(be->fd) < 0 ? -errno : 0;
}

static int read_block(struct block_backend *be, uint8_t *dst, uint64_t offset)
{
	ssize_t n = pread(be->fd, dst, be->align, (off_t)offset);

	if (n < 0)
		return -errno;
	return (uint64_t)n == be->align ? 0 : -EIO;
}

/* Sets up the next bounce chunk: the aligned span around what is left,
 * at most BLOCK_BOUNCE_MAX. A write whose ends cut through a block reads
 * those blocks first (synchronously: only a guest ignoring blk_size gets
 * here) so the write puts the rest of them back unchanged; being
 * serialising, it runs only once every earlier write to them has landed. */
static int prepare_bounce(struct block_backend *be, struct block_io *io)
{
	uint64_t start = io->offset + io->pos, end = io->offset + io->len;
	uint64_t cs = round_down(start, be->align);
	uint64_t ce = min_u64(round_up(end, be->align), cs + BLOCK_BOUNCE_MAX);
	uint64_t data_end = min_u64(end, ce);
	int r;

	io->chunk_offset = cs;
	io->chunk_len = ce - cs;
	if (io->op == BLOCK_IO_READ) {
		io_prep_pread(&io->iocb, be->fd, io->bounce, io->chunk_len, (long long)cs);
		return 0;
	}
	if (start > cs && (r = read_block(be, io->bounce, cs)))
		return r;
	if (data_end < ce && !(ce - be->align == cs && start > cs) &&
	    (r = read_block(be, io->bounce + io->chunk_len - be->align, ce - be->align)))
		return r;
	cursor_copy(io, io->bounce + (start - cs), data_end - start, false);
	io_prep_pwrite(&io->iocb, be->fd, io->bounce, io->chunk_len, (long long)cs);
	if (be->write_through)
		io->iocb.aio_rw_flags = RWF_DSYNC;
	return 0;
}

/* Puts io's next step on the submission list. */
static void enqueue(struct block_backend *be, struct block_io *io)
{
	if (io->op == BLOCK_IO_FLUSH) {
		io_prep_fdsync(&io->iocb, be->fd);
	} else if (io->bounce) {
		int r = prepare_bounce(be, io);

		if (r) {
			finish(be, io, r);
			return;
		}
	} else {
		struct iovec *v = io->iov + io->iov_first;
		unsigned cnt = io->iovcnt - io->iov_first;
		long long off = (long long)(io->offset + io->pos);

		if (cnt > IOV_MAX)
			cnt = IOV_MAX;     /* the rest follows as a partial transfer */
		if (io->op == BLOCK_IO_READ)
			io_prep_preadv(&io->iocb, be->fd, v, (int)cnt, off);
		else
			io_prep_pwritev2(&io->iocb, be->fd, v, (int)cnt, off,
					 be->write_through ? RWF_DSYNC : 0);
	}
	io->iocb.data = io;
	io_set_eventfd(&io->iocb, be->event_fd);
	be->queued[be->nr_queued++] = &io->iocb;
}

/* An operation nothing holds back any more goes on its way. */
static void start(struct block_backend *be, struct block_io *io)
{
	if (!is_ranges_op(io))
		enqueue(be, io);
	else if (block_worker_cancelled(&be->worker, io))
		finish(be, io, -ECANCELED);
	else
		block_worker_hand(&be->worker, io);
}

static bool range_ok(const struct block_backend *be, uint64_t offset, uint64_t len)
{
	return offset <= be->size && len <= be->size - offset;
}

/* Checks a discard or write-zeroes: 0 to carry out, 1 when it has
 * nothing to do, or -errno. */
static int check_ranges(const struct block_backend *be, const struct block_io *io)
{
	bool empty = true;

	if (be->read_only)
		return -EROFS;
	for (unsigned i = 0; i < io->nr_ranges; i++) {
		if (!range_ok(be, io->ranges[i].offset, io->ranges[i].len))
			return -EINVAL;
		if (io->ranges[i].len)
			empty = false;
	}
	return empty ? 1 : 0;
}

/* Onto the list; waits there if an earlier operation is in its way. */
static void take_and_start(struct block_backend *be, struct block_io *io)
{
	struct block_io *blocker;

	take(be, io);
	blocker = blocker_of(be, io);
	if (blocker)
		hold(blocker, io);
	else
		start(be, io);
}

void block_backend_queue(struct block_backend *be, struct block_io *io)
{
	io->pos = 0;
	io->iov_first = 0;
	io->bounce = NULL;
	io->taken = io->serialising = false;
	if (be->nr_taken >= be->max_in_flight) {
		finish(be, io, -EAGAIN);
		return;
	}
	if (io->op == BLOCK_IO_FLUSH) {
		if (be->sync_flush) {
			finish(be, io, sync_flush(be));
		} else {
			take(be, io);   /* overlaps nothing: only counted */
			enqueue(be, io);
		}
		return;
	}
	if (is_ranges_op(io)) {
		int r = check_ranges(be, io);

		if (r) {
			finish(be, io, r < 0 ? r : 0);
			return;
		}
		io->serialising = true;
		io->generation = block_worker_generation(&be->worker);
		take_and_start(be, io);
		return;
	}
	if (io->op == BLOCK_IO_WRITE && be->read_only) {
		finish(be, io, -EROFS);
		return;
	}
	if (io->offset > be->size || io->len > be->size - io->offset) {
		finish(be, io, -EINVAL);
		return;
	}
	if (io->len == 0) {
		finish(be, io, 0);
		return;
	}
	while (io->iov_first < io->iovcnt && io->iov[io->iov_first].iov_len == 0)
		io->iov_first++;
	if (needs_bounce(be, io)) {
		uint64_t span = round_up(io->offset + io->len, be->align) -
				round_down(io->offset, be->align);
		void *p;

		if (posix_memalign(&p, be->align < BUFFER_ALIGN ? BUFFER_ALIGN : be->align,
				   min_u64(span, BLOCK_BOUNCE_MAX))) {
			finish(be, io, -ENOMEM);
			return;
		}
		io->bounce = p;
		/* A read-modify-write: see "overlapping requests". */
		io->serialising = io->op == BLOCK_IO_WRITE &&
				  ((io->offset | io->len) & (be->align - 1));
	}
	take_and_start(be, io);
}

void block_backend_submit(struct block_backend *be)
{
	unsigned next = 0;

	/* A done callback may queue more; the list only grows at its end. */
	while (next < be->nr_queued) {
		int r = io_submit(be->aio, (long)(be->nr_queued - next), be->queued + next);
		struct block_io *io;

		if (r > 0) {
			be->in_flight += (unsigned)r;
			next += (unsigned)r;
			continue;
		}
		io = be->queued[next++]->data;
		if (io->op == BLOCK_IO_FLUSH && r == -EINVAL) {
			/* This kernel or file cannot fsync through AIO: flush on
			 * this thread from now on. */
			log_debug("%s: no AIO fsync, flushing synchronously", be->path);
			be->sync_flush = true;
			finish(be, io, sync_flush(be));
			continue;
		}
		finish(be, io, r < 0 ? r : -EIO);
	}
	be->nr_queued = 0;
}

/* Bytes of the request a bounce chunk transfer of res bytes covered. */
static uint64_t bounce_progress(struct block_io *io, uint64_t res)
{
	uint64_t start = io->offset + io->pos - io->chunk_offset;
	uint64_t end = min_u64(io->offset + io->len - io->chunk_offset, io->chunk_len);
	uint64_t got;

	if (res <= start)
		return 0;
	got = min_u64(res, end) - start;
	if (io->op == BLOCK_IO_READ)
		cursor_copy(io, io->bounce + start, got, true);
	return got;
}

static void on_event(struct block_backend *be, struct block_io *io, long res)
{
	uint64_t got;

	if (res < 0) {
		finish(be, io, (int)res);
		return;
	}
	if (io->op == BLOCK_IO_FLUSH) {
		finish(be, io, 0);
		return;
	}
	if (io->bounce)
		got = bounce_progress(io, (uint64_t)res);
	else
		got = min_u64((uint64_t)res, io->len - io->pos);
	if (got == 0) {
		finish(be, io, -EIO);
		return;
	}
	cursor_advance(io, got);
	if (io->pos >= io->len)
		finish(be, io, 0);
	else
		enqueue(be, io);   /* a short transfer: go on from where it stopped */
}

/* Finishes the operations the kernel has completed; returns how many. */
static int reap(struct block_backend *be)
{
	struct timespec zero = { 0, 0 };
	int n;

	if (be->ring)
		n = (int)aio_ring_take(be->ring, be->events, be->max_in_flight);
	else
		n = io_getevents(be->aio, 0, (long)be->max_in_flight, be->events, &zero);
	for (int i = 0; i < n; i++) {
		be->in_flight--;
		on_event(be, be->events[i].data, (long)be->events[i].res);
	}
	return n;
}

void block_backend_complete(struct block_backend *be)
{
	struct block_io *io, *next;
	uint64_t count;

	/* Read first: whatever is signalled after this is seen next time. */
	if (read(be->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_debug("%s: reading the AIO eventfd: %s", be->path, strerror(errno));
	/* Also those that complete while these are finished. */
	while (be->in_flight && reap(be) > 0)
		;
	for (io = block_worker_take_done(&be->worker); io; io = next) {
		next = io->next_job;   /* done may reuse io */
		finish(be, io, io->result);
	}
	block_backend_submit(be);
}

void block_backend_drain(struct block_backend *be)
{
	block_backend_submit(be);
	/* Whatever is taken and not in flight waits behind something that
	 * is, so every wake-up of event_fd brings this closer to the end. */
	while (be->nr_taken) {
		struct pollfd p = { .fd = be->event_fd, .events = POLLIN };

		if (poll(&p, 1, -1) < 0 && errno != EINTR) {
			log_error("%s: waiting for disk I/O: %s", be->path, strerror(errno));
			return;
		}
		block_backend_complete(be);
	}
}

void block_backend_cancel(struct block_backend *be)
{
	block_worker_cancel(&be->worker);
}

/* ---- discard and write-zeroes, on the worker ---- */

static bool cancelled(struct block_backend *be, const struct block_io *io)
{
	return block_worker_cancelled(&be->worker, io);
}

static int discard_range(struct block_backend *be, const struct block_io *io,
			 uint64_t offset, uint64_t len)
{
	while (len) {
		uint64_t n = min_u64(len, BLOCK_WORKER_PIECE);
		int r;

		if (cancelled(be, io))
			return -ECANCELED;
		if (be->is_block_device) {
			uint64_t range[2] = { offset, n };

			r = ioctl(be->fd, BLKDISCARD, range);
		} else {
			r = fallocate(be->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      (off_t)offset, (off_t)n);
		}
		/* The host cannot deallocate this (or not at this
		 * granularity): discard only ever promised it might. */
		if (r < 0)
			return errno == EOPNOTSUPP || errno == ENOTTY || errno == EINVAL ? 0 : -errno;
		offset += n;
		len -= n;
	}
	return 0;
}

static int write_zero_bytes(struct block_backend *be, const struct block_io *io,
			    uint64_t offset, uint64_t len)
{
	/* Whole O_DIRECT blocks, so an aligned range stays aligned. */
	uint64_t align = be->align < BUFFER_ALIGN ? BUFFER_ALIGN : be->align;
	uint64_t chunk = round_up(ZERO_CHUNK, align);

	if (!be->zeroes) {
		void *p;

		if (posix_memalign(&p, align, chunk))
			return -ENOMEM;
		memset(p, 0, chunk);
		be->zeroes = p;
	}
	while (len) {
		ssize_t n;

		if (cancelled(be, io))
			return -ECANCELED;
		n = pwrite(be->fd, be->zeroes, min_u64(len, chunk), (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int zero_range(struct block_backend *be, const struct block_io *io,
		      const struct block_range *range)
{
	uint64_t offset = range->offset, len = range->len;

	while (len) {
		uint64_t n = min_u64(len, BLOCK_WORKER_PIECE);
		int r = 0;

		if (cancelled(be, io))
			return -ECANCELED;
		/* A hole reads as zeros and gives the space back, which is
		 * what unmap allows; otherwise zero in place, keeping the
		 * allocation; else write zeros. */
		if (!(range->unmap && fallocate(be->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						(off_t)offset, (off_t)n) == 0) &&
		    fallocate(be->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
			      (off_t)offset, (off_t)n) < 0)
			r = write_zero_bytes(be, io, offset, n);
		if (r)
			return r;
		offset += n;
		len -= n;
	}
	return 0;
}

/* The worker's run function: a discard or a write-zeroes, range by range,
 * piece by piece, so a cancel is seen within one piece. */
static int run_ranges(struct block_io *io, void *ctx)
{
	struct block_backend *be = ctx;
	int r = 0;

	for (unsigned i = 0; i < io->nr_ranges && !r; i++) {
		const struct block_range *range = &io->ranges[i];

		r = io->op == BLOCK_IO_DISCARD ? discard_range(be, io, range->offset, range->len) :
		    zero_range(be, io, range);
	}
	if (r == 0 && be->write_through)
		r = sync_flush(be);
	return r;
}
