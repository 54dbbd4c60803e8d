/* A disk image for a block device model: a raw file or a host block
 * device, locked against other writers, read and written with Linux AIO.
 *
 * Reads, writes and flushes are asynchronous: block_backend_queue() takes
 * an operation, block_backend_submit() hands the queued ones to the kernel
 * in one io_submit, and completions are signalled on event_fd; the owner
 * watches it (on its I/O thread) and calls block_backend_complete(), which
 * runs each finished operation's done callback. The data moves straight
 * between the file and the caller's iovecs (guest memory) except when
 * O_DIRECT cannot take them as they are (a buffer, length or offset not
 * aligned to the device's block): those go through a bounce buffer, in
 * chunks of at most BLOCK_BOUNCE_MAX bytes. A write whose offset or length
 * cuts through a block reads, patches and rewrites that block, so it is
 * serialised against the requests that overlap its blocks: it starts once
 * the earlier ones have ended, and the later ones wait for it (in the
 * order they were queued). Others run in any order, as the guest allows.
 *
 * Discard and write-zeroes have no AIO form (fallocate, ioctls): they
 * run on the backend's worker thread (block_worker.h) and complete the
 * same way, on event_fd. Each is serialising over its ranges' blocks, so
 * it neither races the writes taken before it nor those taken after.
 *
 * Not thread-safe: one thread (the device's I/O thread) drives it. */
#ifndef GVMM_BLOCK_BACKEND_H
#define GVMM_BLOCK_BACKEND_H

#include <libaio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "aio_ring.h"
#include "block_range.h"
#include "block_worker.h"

#define BLOCK_BOUNCE_MAX  (1u << 20)
/* The most bytes a discard or write-zeroes works on between two looks at
 * whether it was cancelled: how long a reset or a close may wait for one. */
#define BLOCK_WORKER_PIECE  (16u << 20)

struct block_backend_options {
	const char *path;
	bool read_only;          /* O_RDONLY and a shared lock */
	bool direct;             /* O_DIRECT (cache=none) */
	unsigned max_in_flight;  /* operations queued or in flight at once */
	/* With direct: treat the O_DIRECT block as at least this many bytes
	 * (a power of two; 0: what the disk says). Tests use it to run the
	 * read-modify-write path of a 4 KiB block on any file system. */
	uint32_t min_align;
};

struct block_backend {
	int fd;
	char *path;
	bool read_only;
	bool direct;
	bool is_block_device;
	uint64_t size;                /* bytes, a multiple of 512 */
	uint32_t align;               /* O_DIRECT alignment of buffers, lengths
				       * and offsets; 1 without O_DIRECT */
	uint32_t block_size;          /* logical block size to tell the guest */
	uint32_t discard_granularity; /* bytes */
	bool write_through;           /* writes complete once stable (RWF_DSYNC) */

	io_context_t aio;
	struct aio_ring *ring;         /* aio's completions, read without a call;
				       * NULL: through io_getevents */
	int event_fd;                 /* signalled as operations complete */
	unsigned max_in_flight;
	unsigned in_flight;           /* submitted to the kernel */
	unsigned nr_queued;           /* waiting for block_backend_submit */
	struct iocb **queued;
	struct io_event *events;
	bool sync_flush;              /* the kernel refused IOCB_CMD_FDSYNC */
	struct block_worker worker;   /* discards and write-zeroes; not when read-only */
	void *zeroes;                 /* aligned zeros, the worker's */

	/* Every operation taken and not yet done, in the order taken: queued,
	 * held back by an overlapping one, or in flight (block_backend.c,
	 * "overlapping requests"). */
	struct block_io *first_taken, *last_taken;
	unsigned nr_taken;            /* at most max_in_flight */
	unsigned nr_serialising;      /* of those, the serialising ones */
	struct block_io *released, *last_released;  /* held ones to look at again */
	bool releasing;
};

enum block_io_op {
	BLOCK_IO_READ,
	BLOCK_IO_WRITE,
	BLOCK_IO_FLUSH,
	/* A hint: 0 also when the host cannot deallocate. */
	BLOCK_IO_DISCARD,
	/* The ranges read as zeros after; with unmap they may be deallocated. */
	BLOCK_IO_WRITE_ZEROES,
};

/* One operation. The caller fills the first block and keeps the struct
 * (and the iovecs or ranges) alive until done runs; the rest is the
 * backend's. */
struct block_io {
	enum block_io_op op;
	uint64_t offset;              /* bytes into the disk (READ, WRITE) */
	struct iovec *iov;            /* consumed in place as data moves */
	unsigned iovcnt;
	uint64_t len;                 /* bytes in iov */
	const struct block_range *ranges;  /* DISCARD, WRITE_ZEROES */
	unsigned nr_ranges;
	/* result: 0, or -errno (-EIO for a transfer that made no progress,
	 * -ECANCELED for a discard or write-zeroes block_backend_cancel
	 * stopped) */
	void (*done)(struct block_io *io, int result);

	struct iocb iocb;
	uint64_t pos;                 /* bytes transferred so far */
	unsigned iov_first;           /* first iovec with bytes left */
	uint8_t *bounce;              /* NULL: the iovecs go to the kernel */
	uint64_t chunk_offset;        /* where the bounce chunk lies on disk */
	uint64_t chunk_len;
	bool taken;                   /* on the backend's list until done runs */
	bool serialising;             /* overlapping operations wait for it */
	struct block_io *prev_taken, *next_taken;
	struct block_io *first_held, *last_held;  /* those waiting for this one */
	struct block_io *next_held;
	struct block_io *next_job;    /* the worker's lists */
	unsigned generation;          /* the worker's, when taken */
	int result;                   /* the worker's answer */
};

/* Opens, locks and sizes the image and sets up AIO. Every failure is
 * reported in err as one line naming the path. Returns 0 or -errno. */
int block_backend_open(struct block_backend *be, const struct block_backend_options *opt,
		       char *err, size_t errlen);
void block_backend_close(struct block_backend *be);

/* Takes an operation. Those that end at once (zero length, an allocation
 * failure) run done before this returns. At most max_in_flight may be
 * taken and not done (queued, held back or in flight). */
void block_backend_queue(struct block_backend *be, struct block_io *io);
/* Submits what was queued; operations the kernel refuses run done. */
void block_backend_submit(struct block_backend *be);
/* event_fd fired: finishes completed operations (resubmitting the rest
 * of partial transfers) and runs their done callbacks. Never blocks. */
void block_backend_complete(struct block_backend *be);
/* Waits until nothing is taken (queued, held or in flight), running done
 * callbacks. */
void block_backend_drain(struct block_backend *be);
/* Stops the discards and write-zeroes taken so far: those not started end
 * -ECANCELED at once, the running one after its current piece (at most
 * BLOCK_WORKER_PIECE bytes), leaving its ranges partly done. Reads, writes
 * and flushes go on. For a reset or a close, before drain, which then
 * waits a bounded time. */
void block_backend_cancel(struct block_backend *be);

#endif
