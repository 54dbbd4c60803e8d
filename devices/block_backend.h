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
 * Discard and write-zeroes are synchronous calls (fallocate and ioctls
 * have no AIO form); they run on the caller's thread.
 *
 * Not thread-safe: one thread (the device's I/O thread) drives it. */
#ifndef GVMM_BLOCK_BACKEND_H
#define GVMM_BLOCK_BACKEND_H

#include <libaio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define BLOCK_BOUNCE_MAX  (1u << 20)

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
	int event_fd;                 /* signalled as operations complete */
	unsigned max_in_flight;
	unsigned in_flight;           /* submitted to the kernel */
	unsigned nr_queued;           /* waiting for block_backend_submit */
	struct iocb **queued;
	struct io_event *events;
	bool sync_flush;              /* the kernel refused IOCB_CMD_FDSYNC */
	void *zeroes;                 /* aligned zeros, for write-zeroes */

	/* Every operation taken and not yet done, in the order taken: queued,
	 * held back by an overlapping one, or in flight (block_backend.c,
	 * "overlapping requests"). */
	struct block_io *first_taken, *last_taken;
	unsigned nr_taken;            /* at most max_in_flight */
	unsigned nr_serialising;      /* of those, the serialising ones */
	struct block_io *released, *last_released;  /* held ones to look at again */
	bool releasing;
};

enum block_io_op { BLOCK_IO_READ, BLOCK_IO_WRITE, BLOCK_IO_FLUSH };

/* One operation. The caller fills the first block and keeps the struct
 * (and the iovecs) alive until done runs; the rest is the backend's. */
struct block_io {
	enum block_io_op op;
	uint64_t offset;              /* bytes into the disk */
	struct iovec *iov;            /* consumed in place as data moves */
	unsigned iovcnt;
	uint64_t len;                 /* bytes in iov */
	/* result: 0, or -errno (-EIO for a transfer that made no progress) */
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
/* Waits until nothing is queued or in flight, running done callbacks. */
void block_backend_drain(struct block_backend *be);

/* Synchronous. Discard is a hint: 0 also when the host cannot deallocate.
 * Write-zeroes leaves the range reading as zeros; with unmap it may
 * deallocate it. Return 0 or -errno. */
int block_backend_discard(struct block_backend *be, uint64_t offset, uint64_t len);
int block_backend_write_zeroes(struct block_backend *be, uint64_t offset, uint64_t len,
			       bool unmap);

#endif
