/* The disk image backend against real temporary files: opening, sizing
 * and locking, then reads and writes through Linux AIO (buffered and
 * O_DIRECT, aligned and through the bounce buffer), requests that overlap
 * while in flight, flush, and discard and write-zeroes on the backend's
 * worker thread. The files go in $TMPDIR, else /var/tmp; tests that need a
 * file-system feature (O_DIRECT, hole punching) skip when it is missing. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../devices/block/block_backend.h"

#define MIB (1u << 20)

struct image {
	char dir[256];
	char path[300];
};

static bool image_create(struct image *img, uint64_t size)
{
	const char *base = getenv("TMPDIR");
	int fd;

	snprintf(img->dir, sizeof(img->dir), "%s/gvmm-blk-XXXXXX", base && *base ? base : "/var/tmp");
	if (!mkdtemp(img->dir))
		return false;
	snprintf(img->path, sizeof(img->path), "%s/disk.img", img->dir);
	fd = open(img->path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0)
		return false;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

static void image_remove(struct image *img)
{
	unlink(img->path);
	rmdir(img->dir);
}

/* Writes a pattern over the whole file, so every block is allocated. */
static void image_fill(const struct image *img, uint64_t size, uint8_t seed)
{
	uint8_t buf[4096];
	int fd = open(img->path, O_WRONLY);

	CHECK(fd >= 0);
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(seed + (off + i) / 512 + i);
		CHECK_EQ(pwrite(fd, buf, sizeof(buf), (off_t)off), sizeof(buf));
	}
	fsync(fd);
	close(fd);
}

static int open_image(struct block_backend *be, const char *path, bool ro, bool direct,
		      char *err, size_t errlen)
{
	struct block_backend_options opt = {
		.path = path, .read_only = ro, .direct = direct, .max_in_flight = 16,
	};

	return block_backend_open(be, &opt, err, errlen);
}

/* An operation and how it ended. */
struct op {
	struct block_io io;
	struct iovec iov[4];
	bool done;
	int result;
	unsigned *counter;
};

static void op_done(struct block_io *io, int result)
{
	struct op *op = (struct op *)((char *)io - offsetof(struct op, io));

	op->done = true;
	op->result = result;
	if (op->counter)
		(*op->counter)++;
}

static void op_init(struct op *op, enum block_io_op kind, uint64_t offset, unsigned *counter)
{
	memset(op, 0, sizeof(*op));
	op->io.op = kind;
	op->io.offset = offset;
	op->io.iov = op->iov;
	op->io.done = op_done;
	op->result = 1;
	op->counter = counter;
}

static void op_add(struct op *op, void *base, size_t len)
{
	op->iov[op->io.iovcnt++] = (struct iovec){ .iov_base = base, .iov_len = len };
	op->io.len += len;
}

/* Runs the backend as its I/O thread would until *counter reaches want. */
static void wait_for(struct block_backend *be, unsigned *counter, unsigned want)
{
	for (int spins = 0; *counter < want && spins < 1000; spins++) {
		struct pollfd p = { .fd = be->event_fd, .events = POLLIN };

		if (poll(&p, 1, 5000) <= 0)
			break;
		block_backend_complete(be);
	}
	CHECK_EQ(*counter, want);
}

/* Queues, submits and waits for one operation; returns its result. */
static int run_op(struct block_backend *be, struct op *op)
{
	unsigned count = 0;

	op->counter = &count;
	block_backend_queue(be, &op->io);
	block_backend_submit(be);
	wait_for(be, &count, 1);
	return op->done ? op->result : -ETIMEDOUT;
}

/* A discard or write-zeroes of one range, queued and completed as on the
 * I/O thread; returns its result. */
static int run_range_op(struct block_backend *be, enum block_io_op kind, uint64_t offset,
			uint64_t len, bool unmap)
{
	struct block_range range = { .offset = offset, .len = len, .unmap = unmap };
	struct op op;

	op_init(&op, kind, 0, NULL);
	op.io.ranges = &range;
	op.io.nr_ranges = 1;
	return run_op(be, &op);
}

static int discard(struct block_backend *be, uint64_t offset, uint64_t len)
{
	return run_range_op(be, BLOCK_IO_DISCARD, offset, len, false);
}

static int write_zeroes(struct block_backend *be, uint64_t offset, uint64_t len, bool unmap)
{
	return run_range_op(be, BLOCK_IO_WRITE_ZEROES, offset, len, unmap);
}

static void op_ranges(struct op *op, enum block_io_op kind, const struct block_range *ranges,
		      unsigned n, unsigned *counter)
{
	op_init(op, kind, 0, counter);
	op->io.ranges = ranges;
	op->io.nr_ranges = n;
}

static void pattern(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + i / 509);
}

static bool file_bytes_equal(const char *path, uint64_t off, const uint8_t *want, size_t len)
{
	uint8_t *got = malloc(len);
	int fd = open(path, O_RDONLY);
	bool same;

	same = got && fd >= 0 && pread(fd, got, len, (off_t)off) == (ssize_t)len &&
	       memcmp(got, want, len) == 0;
	if (fd >= 0)
		close(fd);
	free(got);
	return same;
}

static bool file_is_zero(const char *path, uint64_t off, size_t len)
{
	uint8_t *zero = calloc(1, len);
	bool same = zero && file_bytes_equal(path, off, zero, len);

	free(zero);
	return same;
}

static void test_open_and_size(void)
{
	struct block_backend be;
	struct image img;
	char err[512] = "";

	if (!image_create(&img, 3 * MIB))
		SKIP_TEST("cannot create a temporary image");
	CHECK_EQ(open_image(&be, img.path, false, false, err, sizeof(err)), 0);
	CHECK_EQ(be.size, 3 * MIB);
	CHECK_EQ(be.block_size, 512);
	CHECK_EQ(be.align, 1);
	CHECK(!be.read_only);
	CHECK(!be.is_block_device);
	CHECK(be.event_fd >= 0);
	CHECK(be.discard_granularity >= 512 && be.discard_granularity % 512 == 0);
	block_backend_close(&be);
	CHECK_EQ(be.fd, -1);
	image_remove(&img);
}

static void test_bad_sizes_refused(void)
{
	struct block_backend be;
	struct image img;
	char err[512] = "";

	if (!image_create(&img, MIB + 100))
		SKIP_TEST("cannot create a temporary image");
	CHECK(open_image(&be, img.path, false, false, err, sizeof(err)) < 0);
	CHECK(strstr(err, "not a multiple of 512") != NULL);
	CHECK(strstr(err, img.path) != NULL);
	CHECK_EQ(truncate(img.path, 0), 0);
	err[0] = 0;
	CHECK(open_image(&be, img.path, false, false, err, sizeof(err)) < 0);
	CHECK(strstr(err, "empty") != NULL);
	image_remove(&img);

	err[0] = 0;
	CHECK_EQ(open_image(&be, "/nonexistent/gvmm/disk.img", false, false, err, sizeof(err)),
		 -ENOENT);
	CHECK(strstr(err, "/nonexistent/gvmm/disk.img") != NULL);
	err[0] = 0;
	CHECK(open_image(&be, "/dev/null", false, false, err, sizeof(err)) < 0);
	CHECK(strstr(err, "not a regular file or a block device") != NULL);
}

/* OFD locks conflict between open file descriptions, in one process too. */
static void test_lock_excludes_second_writer(void)
{
	struct block_backend a, b;
	struct image img;
	char err[512] = "";
	pid_t child;
	int status = 0;

	if (!image_create(&img, MIB))
		SKIP_TEST("cannot create a temporary image");
	CHECK_EQ(open_image(&a, img.path, false, false, err, sizeof(err)), 0);

	CHECK_EQ(open_image(&b, img.path, false, false, err, sizeof(err)), -EBUSY);
	CHECK(strstr(err, "is in use by another process (locked)") != NULL);
	CHECK(strstr(err, img.path) != NULL);
	/* A reader cannot share with a writer either. */
	CHECK_EQ(open_image(&b, img.path, true, false, err, sizeof(err)), -EBUSY);

	/* Another process is refused the same way. */
	child = fork();
	if (child == 0) {
		struct block_backend c;
		char cerr[512];

		_exit(open_image(&c, img.path, false, false, cerr, sizeof(cerr)) == -EBUSY ? 0 : 1);
	}
	CHECK(child > 0);
	CHECK_EQ(waitpid(child, &status, 0), child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	block_backend_close(&a);
	CHECK_EQ(open_image(&b, img.path, false, false, err, sizeof(err)), 0);
	block_backend_close(&b);
	image_remove(&img);
}

static void test_readers_share(void)
{
	struct block_backend a, b, w;
	struct image img;
	char err[512] = "";

	if (!image_create(&img, MIB))
		SKIP_TEST("cannot create a temporary image");
	CHECK_EQ(open_image(&a, img.path, true, false, err, sizeof(err)), 0);
	CHECK_EQ(open_image(&b, img.path, true, false, err, sizeof(err)), 0);
	CHECK(a.read_only && b.read_only);
	CHECK_EQ(open_image(&w, img.path, false, false, err, sizeof(err)), -EBUSY);
	block_backend_close(&a);
	block_backend_close(&b);
	image_remove(&img);
}

static void test_read_only_refuses_writes(void)
{
	struct block_backend be;
	struct image img;
	char err[512] = "";
	uint8_t buf[512];
	struct op op;

	if (!image_create(&img, MIB))
		SKIP_TEST("cannot create a temporary image");
	image_fill(&img, MIB, 3);
	CHECK_EQ(open_image(&be, img.path, true, false, err, sizeof(err)), 0);

	op_init(&op, BLOCK_IO_READ, 4096, NULL);
	op_add(&op, buf, sizeof(buf));
	CHECK_EQ(run_op(&be, &op), 0);
	CHECK(file_bytes_equal(img.path, 4096, buf, sizeof(buf)));

	op_init(&op, BLOCK_IO_WRITE, 0, NULL);
	op_add(&op, buf, sizeof(buf));
	block_backend_queue(&be, &op.io);
	CHECK(op.done);
	CHECK_EQ(op.result, -EROFS);
	CHECK_EQ(discard(&be, 0, 4096), -EROFS);
	CHECK_EQ(write_zeroes(&be, 0, 4096, false), -EROFS);
	block_backend_close(&be);
	image_remove(&img);
}

/* Writes from scattered buffers, reads back into differently cut ones. */
static void round_trip(struct block_backend *be, const char *path, uint8_t *wbuf,
		       uint8_t *rbuf, size_t len, uint64_t offset, size_t cut)
{
	struct op op;

	pattern(wbuf, len, (uint8_t)offset);
	op_init(&op, BLOCK_IO_WRITE, offset, NULL);
	op_add(&op, wbuf, cut);
	op_add(&op, wbuf + cut, len - cut);
	CHECK_EQ(run_op(be, &op), 0);
	CHECK(file_bytes_equal(path, offset, wbuf, len));

	memset(rbuf, 0xaa, len);
	op_init(&op, BLOCK_IO_READ, offset, NULL);
	op_add(&op, rbuf, len - cut);
	op_add(&op, rbuf + len - cut, cut);
	CHECK_EQ(run_op(be, &op), 0);
	CHECK(memcmp(rbuf, wbuf, len) == 0);
}

static void test_aio_round_trip_buffered(void)
{
	struct block_backend be;
	struct image img;
	char err[512] = "";
	uint8_t *w = malloc(64 * 1024 + 1), *r = malloc(64 * 1024 + 1);

	if (!w || !r || !image_create(&img, 4 * MIB)) {
		free(w);
		free(r);
		SKIP_TEST("cannot create a temporary image");
	}
	CHECK_EQ(open_image(&be, img.path, false, false, err, sizeof(err)), 0);
	/* Buffered I/O takes any buffer as it is. */
	round_trip(&be, img.path, w + 1, r + 1, 64 * 1024, 512, 1536);
	round_trip(&be, img.path, w, r, 512, 4 * MIB - 512, 100);
	block_backend_close(&be);
	image_remove(&img);
	free(w);
	free(r);
}

static int open_direct(struct block_backend *be, const struct image *img, char *err,
		       size_t errlen)
{
	int r = open_image(be, img->path, false, true, err, errlen);

	if (r == -EINVAL && strstr(err, "O_DIRECT"))
		return 1;
	return r;
}

static void test_aio_round_trip_direct(void)
{
	struct block_backend be;
	struct image img;
	char err[512] = "";
	void *w = NULL, *r = NULL;
	struct op op;
	int ret;

	if (!image_create(&img, 4 * MIB))
		SKIP_TEST("cannot create a temporary image");
	ret = open_direct(&be, &img, err, sizeof(err));
	if (ret == 1) {
		image_remove(&img);
		SKIP_TEST("the temporary directory's file system has no O_DIRECT");
	}
	CHECK_EQ(ret, 0);
	CHECK(be.direct);
	CHECK(be.align >= 512 && be.align <= 65536);
	CHECK_EQ(be.block_size, be.align);
	CHECK_EQ(posix_memalign(&w, 4096, MIB), 0);
	CHECK_EQ(posix_memalign(&r, 4096, MIB), 0);

	/* Aligned buffers go straight to the kernel, no bounce buffer. */
	pattern(w, 64 * 1024, 9);
	op_init(&op, BLOCK_IO_WRITE, 8 * be.align, NULL);
	op_add(&op, w, 4 * be.align);
	op_add(&op, (uint8_t *)w + 4 * be.align, 4 * be.align);
	block_backend_queue(&be, &op.io);
	CHECK(op.io.bounce == NULL);
	op.counter = NULL;
	block_backend_submit(&be);
	block_backend_drain(&be);
	CHECK(op.done);
	CHECK_EQ(op.result, 0);
	CHECK(file_bytes_equal(img.path, 8 * be.align, w, 8 * be.align));

	round_trip(&be, img.path, w, r, 256 * 1024, 0, 4096);
	block_backend_close(&be);
	image_remove(&img);
	free(w);
	free(r);
}

/* Buffers, lengths and offsets O_DIRECT cannot take go through the bounce
 * buffer: misaligned memory, a request bigger than one bounce chunk, and
 * (when the file system's block is bigger than a sector) a partial block
 * that must be read, patched and written back. */
static void test_direct_unaligned_bounces(void)
{
	const size_t big = 3 * MIB + 4096;
	struct block_backend be;
	struct image img;
	char err[512] = "";
	uint8_t *w = malloc(big + 1), *r = malloc(big + 1), *before = malloc(8192);
	struct op op;
	int ret;

	if (!w || !r || !before || !image_create(&img, 8 * MIB)) {
		free(w);
		free(r);
		free(before);
		SKIP_TEST("cannot create a temporary image");
	}
	image_fill(&img, 8 * MIB, 5);
	ret = open_direct(&be, &img, err, sizeof(err));
	if (ret == 1) {
		image_remove(&img);
		free(w);
		free(r);
		free(before);
		SKIP_TEST("the temporary directory's file system has no O_DIRECT");
	}
	CHECK_EQ(ret, 0);

	/* Misaligned memory, larger than BLOCK_BOUNCE_MAX. */
	pattern(w + 1, big, 77);
	op_init(&op, BLOCK_IO_WRITE, 4096, NULL);
	op_add(&op, w + 1, 1000 * 512);
	op_add(&op, w + 1 + 1000 * 512, big - 1000 * 512);
	block_backend_queue(&be, &op.io);
	CHECK(op.io.bounce != NULL);
	block_backend_submit(&be);
	block_backend_drain(&be);
	CHECK(op.done);
	CHECK_EQ(op.result, 0);
	CHECK(file_bytes_equal(img.path, 4096, w + 1, big));

	memset(r, 0, big + 1);
	op_init(&op, BLOCK_IO_READ, 4096, NULL);
	op_add(&op, r + 1, big);
	CHECK_EQ(run_op(&be, &op), 0);
	CHECK(memcmp(r + 1, w + 1, big) == 0);

	/* One sector in the middle of a block: its neighbours survive. The
	 * block is made 4 KiB where the file system's is smaller, so the
	 * read-modify-write path runs on any disk. */
	if (be.align < 4096)
		be.align = 4096;
	{
		int fd = open(img.path, O_RDONLY);

		CHECK(fd >= 0);
		CHECK_EQ(pread(fd, before, 8192, 6 * MIB), 8192);
		close(fd);
	}
	pattern(w, 512, 13);
	memcpy(before + 1536, w, 512);
	op_init(&op, BLOCK_IO_WRITE, 6 * MIB + 1536, NULL);
	op_add(&op, w, 512);
	CHECK_EQ(run_op(&be, &op), 0);
	CHECK(file_bytes_equal(img.path, 6 * MIB, before, 8192));
	memset(r, 0, 512);
	op_init(&op, BLOCK_IO_READ, 6 * MIB + 1536, NULL);
	op_add(&op, r, 512);
	CHECK_EQ(run_op(&be, &op), 0);
	CHECK(memcmp(r, w, 512) == 0);

	block_backend_close(&be);
	image_remove(&img);
	free(w);
	free(r);
	free(before);
}

/* ---- requests that overlap while in flight ---- */

#define RMW_BLOCK   4096u
#define RMW_DISK    (64u * 1024)
#define RMW_OPS     48

/* The disk as the requests taken so far leave it, applied in the order
 * they were queued: what the file must hold once they are all done. */
struct disk_model {
	uint8_t bytes[RMW_DISK];
};

/* Opens img with O_DIRECT and a 4 KiB block whatever the file system's,
 * so every request shorter than a block is a read-modify-write. Returns 1
 * where the file system has no O_DIRECT. */
static int open_direct_4k(struct block_backend *be, const struct image *img, unsigned depth)
{
	struct block_backend_options opt = {
		.path = img->path, .direct = true, .max_in_flight = depth, .min_align = RMW_BLOCK,
	};
	char err[512] = "";
	int r = block_backend_open(be, &opt, err, sizeof(err));

	if (r == -EINVAL && strstr(err, "O_DIRECT"))
		return 1;
	return r;
}

static void model_load(struct disk_model *m, const char *path)
{
	int fd = open(path, O_RDONLY);

	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, m->bytes, sizeof(m->bytes), 0), sizeof(m->bytes));
	close(fd);
}

/* One request of a batch: the op, its buffer (from buf + skew, so some
 * are misaligned in memory too), and for a read what it must return. */
struct batch_op {
	struct op op;
	uint8_t buf[3 * RMW_BLOCK + 1];
	uint8_t *data;                /* buf + skew (the iovecs are consumed) */
	uint8_t want[3 * RMW_BLOCK];
};

static void batch_write(struct batch_op *b, struct disk_model *m, uint64_t offset,
			size_t len, unsigned skew, uint8_t seed, unsigned *counter)
{
	pattern(b->buf + skew, len, seed);
	op_init(&b->op, BLOCK_IO_WRITE, offset, counter);
	op_add(&b->op, b->buf + skew, len);
	memcpy(m->bytes + offset, b->buf + skew, len);
}

static void batch_read(struct batch_op *b, const struct disk_model *m, uint64_t offset,
		       size_t len, unsigned skew, unsigned *counter)
{
	memset(b->buf, 0xee, sizeof(b->buf));
	b->data = b->buf + skew;
	op_init(&b->op, BLOCK_IO_READ, offset, counter);
	op_add(&b->op, b->data, len);
	memcpy(b->want, m->bytes + offset, len);
}

/* The read returned what the requests queued before it had written. */
static bool batch_read_ok(const struct batch_op *b)
{
	return b->op.result == 0 && memcmp(b->data, b->want, b->op.io.len) == 0;
}

/* Two sectors of one 4 KiB block written by requests queued together:
 * each reads the block to patch its sector in, and the second must not
 * read it before the first has written it back, or the first sector
 * silently goes back to its old data although its write reported OK.
 * Then a script mixing reads, flushes, aligned writes and writes across
 * a block boundary, and random batches of sub-block requests, each
 * checked byte for byte against the same requests run one by one. */
static void test_direct_overlapping_sub_block_writes(void)
{
	static struct batch_op ops[RMW_OPS];
	static struct disk_model model;
	static uint8_t aligned_buf[2][RMW_BLOCK] __attribute__((aligned(RMW_BLOCK)));
	struct block_backend be;
	struct image img;
	unsigned count = 0, n = 0;
	uint32_t rng = 0x2545f491;
	int ret;

	if (!image_create(&img, RMW_DISK))
		SKIP_TEST("cannot create a temporary image");
	image_fill(&img, RMW_DISK, 7);
	ret = open_direct_4k(&be, &img, RMW_OPS);
	if (ret == 1) {
		image_remove(&img);
		SKIP_TEST("the temporary directory's file system has no O_DIRECT");
	}
	CHECK_EQ(ret, 0);
	CHECK_EQ(be.align, RMW_BLOCK);
	CHECK_EQ(be.block_size, RMW_BLOCK);
	model_load(&model, img.path);

	/* Sectors 0 and 1, queued together. */
	batch_write(&ops[0], &model, 0, 512, 0, 1, &count);
	batch_write(&ops[1], &model, 512, 512, 0, 2, &count);
	block_backend_queue(&be, &ops[0].op.io);
	block_backend_queue(&be, &ops[1].op.io);
	block_backend_submit(&be);
	wait_for(&be, &count, 2);
	CHECK_EQ(ops[0].op.result, 0);
	CHECK_EQ(ops[1].op.result, 0);
	CHECK(file_bytes_equal(img.path, 0, model.bytes, RMW_DISK));

	/* A script, all queued before one submit. */
	count = 0;
	batch_write(&ops[n++], &model, 2 * 512, 512, 1, 3, &count);
	batch_read(&ops[n++], &model, 0, 3 * 512, 0, &count);
	/* An aligned write straight from guest memory, then a sector of the
	 * same block patched on top of it. */
	pattern(aligned_buf[0], RMW_BLOCK, 4);
	op_init(&ops[n].op, BLOCK_IO_WRITE, RMW_BLOCK, &count);
	op_add(&ops[n++].op, aligned_buf[0], RMW_BLOCK);
	memcpy(model.bytes + RMW_BLOCK, aligned_buf[0], RMW_BLOCK);
	batch_write(&ops[n++], &model, RMW_BLOCK + 1024, 512, 0, 5, &count);
	op_init(&ops[n++].op, BLOCK_IO_FLUSH, 0, &count);
	/* Across the boundary of blocks 0 and 1: both ends patched. */
	batch_write(&ops[n++], &model, RMW_BLOCK - 512, 1024, 1, 6, &count);
	batch_read(&ops[n++], &model, RMW_BLOCK - 1024, 2048, 0, &count);
	/* A sector of block 2, then the whole block over it: the whole
	 * block's write was queued last, so it is what stays. */
	batch_write(&ops[n++], &model, 2 * RMW_BLOCK + 512, 512, 0, 7, &count);
	pattern(aligned_buf[1], RMW_BLOCK, 8);
	op_init(&ops[n].op, BLOCK_IO_WRITE, 2 * RMW_BLOCK, &count);
	op_add(&ops[n++].op, aligned_buf[1], RMW_BLOCK);
	memcpy(model.bytes + 2 * RMW_BLOCK, aligned_buf[1], RMW_BLOCK);
	batch_write(&ops[n++], &model, 3 * RMW_BLOCK + 1024, 3 * 512, 1, 9, &count);
	op_init(&ops[n++].op, BLOCK_IO_FLUSH, 0, &count);
	/* A read waits for the serialising writes before it, and what they
	 * waited for: it sees them all. (Not block 2: the read and the whole
	 * block's write are in flight together, in no promised order.) */
	batch_read(&ops[n++], &model, 3 * RMW_BLOCK, RMW_BLOCK, 1, &count);
	for (unsigned i = 0; i < n; i++)
		block_backend_queue(&be, &ops[i].op.io);
	block_backend_submit(&be);
	wait_for(&be, &count, n);
	for (unsigned i = 0; i < n; i++) {
		CHECK_EQ(ops[i].op.result, 0);
		if (ops[i].op.io.op == BLOCK_IO_READ)
			CHECK(batch_read_ok(&ops[i]));
	}
	CHECK(file_bytes_equal(img.path, 0, model.bytes, RMW_DISK));

	/* Random batches: sub-block writes and reads of one to three sectors
	 * anywhere in the first eight blocks, and flushes between them. */
	for (unsigned round = 0; round < 8; round++) {
		count = 0;
		for (n = 0; n < RMW_OPS; n++) {
			uint64_t sector, offset;
			unsigned kind, sectors, skew;

			rng = rng * 1103515245 + 12345;
			kind = (rng >> 8) % 10;
			sectors = 1 + (rng >> 12) % 3;
			skew = (rng >> 16) % 2;
			sector = (rng >> 18) % (8 * RMW_BLOCK / 512 - sectors);
			offset = sector * 512;
			if (kind < 6)
				batch_write(&ops[n], &model, offset, sectors * 512, skew,
					    (uint8_t)(round * RMW_OPS + n), &count);
			else if (kind < 9)
				batch_read(&ops[n], &model, offset, sectors * 512, skew, &count);
			else
				op_init(&ops[n].op, BLOCK_IO_FLUSH, 0, &count);
			block_backend_queue(&be, &ops[n].op.io);
		}
		block_backend_submit(&be);
		wait_for(&be, &count, RMW_OPS);
		for (unsigned i = 0; i < RMW_OPS; i++) {
			CHECK_EQ(ops[i].op.result, 0);
			if (ops[i].op.io.op == BLOCK_IO_READ)
				CHECK(batch_read_ok(&ops[i]));
		}
		CHECK(file_bytes_equal(img.path, 0, model.bytes, RMW_DISK));
	}
	block_backend_close(&be);
	image_remove(&img);
}

static void test_flush(void)
{
	struct block_backend be;
	struct image img;
	char err[512] = "";
	uint8_t buf[4096];
	struct op op;

	if (!image_create(&img, MIB))
		SKIP_TEST("cannot create a temporary image");
	CHECK_EQ(open_image(&be, img.path, false, false, err, sizeof(err)), 0);
	pattern(buf, sizeof(buf), 1);
	op_init(&op, BLOCK_IO_WRITE, 0, NULL);
	op_add(&op, buf, sizeof(buf));
	CHECK_EQ(run_op(&be, &op), 0);
	op_init(&op, BLOCK_IO_FLUSH, 0, NULL);
	CHECK_EQ(run_op(&be, &op), 0);
	/* Where the kernel cannot fsync through AIO, flush runs at once. */
	be.sync_flush = true;
	op_init(&op, BLOCK_IO_FLUSH, 0, NULL);
	block_backend_queue(&be, &op.io);
	CHECK(op.done);
	CHECK_EQ(op.result, 0);
	/* Flushing also works on a read-only image. */
	block_backend_close(&be);
	CHECK_EQ(open_image(&be, img.path, true, false, err, sizeof(err)), 0);
	op_init(&op, BLOCK_IO_FLUSH, 0, NULL);
	CHECK_EQ(run_op(&be, &op), 0);
	block_backend_close(&be);
	image_remove(&img);
}

/* Many operations at once, then the depth limit, then drain. */
static void test_queue_depth_and_drain(void)
{
	struct block_backend be;
	struct image img;
	char err[512] = "";
	static uint8_t bufs[16][4096];
	struct op ops[17];
	unsigned count = 0;

	if (!image_create(&img, MIB))
		SKIP_TEST("cannot create a temporary image");
	CHECK_EQ(open_image(&be, img.path, false, false, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 16; i++) {
		pattern(bufs[i], sizeof(bufs[i]), (uint8_t)i);
		op_init(&ops[i], BLOCK_IO_WRITE, i * 4096ull, &count);
		op_add(&ops[i], bufs[i], sizeof(bufs[i]));
		block_backend_queue(&be, &ops[i].io);
	}
	/* max_in_flight is 16: the 17th is turned away at once. */
	op_init(&ops[16], BLOCK_IO_FLUSH, 0, NULL);
	block_backend_queue(&be, &ops[16].io);
	CHECK(ops[16].done);
	CHECK_EQ(ops[16].result, -EAGAIN);
	block_backend_submit(&be);
	block_backend_drain(&be);
	CHECK_EQ(count, 16);
	CHECK_EQ(be.in_flight, 0);
	for (unsigned i = 0; i < 16; i++) {
		CHECK_EQ(ops[i].result, 0);
		CHECK(file_bytes_equal(img.path, i * 4096ull, bufs[i], sizeof(bufs[i])));
	}
	block_backend_close(&be);
	image_remove(&img);
}

static void test_zero_length_and_out_of_range(void)
{
	struct block_backend be;
	struct image img;
	char err[512] = "";
	uint8_t buf[1024];
	struct op op;

	if (!image_create(&img, MIB))
		SKIP_TEST("cannot create a temporary image");
	CHECK_EQ(open_image(&be, img.path, false, false, err, sizeof(err)), 0);
	op_init(&op, BLOCK_IO_READ, 0, NULL);
	block_backend_queue(&be, &op.io);
	CHECK(op.done);
	CHECK_EQ(op.result, 0);
	op_init(&op, BLOCK_IO_READ, MIB - 512, NULL);
	op_add(&op, buf, sizeof(buf));
	block_backend_queue(&be, &op.io);
	CHECK(op.done);
	CHECK_EQ(op.result, -EINVAL);
	CHECK_EQ(discard(&be, MIB - 512, 1024), -EINVAL);
	CHECK_EQ(write_zeroes(&be, UINT64_MAX - 511, 1024, true), -EINVAL);
	CHECK_EQ(be.nr_taken, 0);
	block_backend_close(&be);
	image_remove(&img);
}

static uint64_t allocated_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

/* Whether the file system under path can punch holes. */
static bool can_punch_holes(const char *path)
{
	int fd = open(path, O_RDWR);
	bool ok;

	if (fd < 0)
		return false;
	ok = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
	close(fd);
	return ok;
}

static void test_discard_deallocates(void)
{
	struct block_backend be;
	struct image img;
	char err[512] = "";
	uint64_t before, after;

	if (!image_create(&img, 2 * MIB))
		SKIP_TEST("cannot create a temporary image");
	image_fill(&img, 2 * MIB, 1);
	if (!can_punch_holes(img.path)) {
		image_remove(&img);
		SKIP_TEST("the temporary directory's file system cannot punch holes");
	}
	image_fill(&img, 2 * MIB, 1);
	before = allocated_bytes(img.path);
	CHECK(before >= 2 * MIB);
	CHECK_EQ(open_image(&be, img.path, false, false, err, sizeof(err)), 0);
	CHECK_EQ(discard(&be, 0, MIB), 0);
	after = allocated_bytes(img.path);
	CHECK(after + MIB / 2 <= before);
	CHECK_EQ(discard(&be, MIB, 0), 0);
	block_backend_close(&be);
	image_remove(&img);
}

static void test_write_zeroes(void)
{
	struct block_backend be;
	struct image img;
	char err[512] = "";
	uint64_t before;

	if (!image_create(&img, 2 * MIB))
		SKIP_TEST("cannot create a temporary image");
	image_fill(&img, 2 * MIB, 2);
	CHECK_EQ(open_image(&be, img.path, false, false, err, sizeof(err)), 0);

	/* Without unmap: zeros, the space kept. */
	before = allocated_bytes(img.path);
	CHECK_EQ(write_zeroes(&be, 4096, 64 * 1024, false), 0);
	CHECK(file_is_zero(img.path, 4096, 64 * 1024));
	CHECK(!file_is_zero(img.path, 0, 4096));
	CHECK(!file_is_zero(img.path, 4096 + 64 * 1024, 4096));
	CHECK(allocated_bytes(img.path) + 64 * 1024 > before);

	/* With unmap: zeros, and the space may go. */
	CHECK_EQ(write_zeroes(&be, MIB, 512 * 1024 + 512, true), 0);
	CHECK(file_is_zero(img.path, MIB, 512 * 1024 + 512));
	CHECK(!file_is_zero(img.path, MIB + 512 * 1024 + 512, 512));
	if (can_punch_holes(img.path))
		CHECK(allocated_bytes(img.path) + 256 * 1024 < before);
	block_backend_close(&be);
	image_remove(&img);
}

/* Discard and write-zeroes do not run on the thread that queues them (the
 * I/O thread, which serves every other device too): queue and submit
 * return with them not done, and they end later through event_fd, as AIO
 * completions do. A read queued after them, elsewhere on the disk, goes
 * to the kernel at once. */
static void test_ranges_run_off_the_calling_thread(void)
{
	const struct block_range zero_ranges[] = {
		{ .offset = 0, .len = MIB },
		{ .offset = 3 * MIB, .len = 512 * 1024 + 512, .unmap = true },
	};
	const struct block_range discard_range = { .offset = 6 * MIB, .len = MIB };
	static uint8_t before[8 * MIB], rbuf[4096];
	struct block_backend be;
	struct image img;
	char err[512] = "";
	struct op zop, dop, rop;
	struct pollfd p;
	unsigned count = 0;
	bool holes;

	if (!image_create(&img, 8 * MIB))
		SKIP_TEST("cannot create a temporary image");
	image_fill(&img, 8 * MIB, 4);
	holes = can_punch_holes(img.path);
	image_fill(&img, 8 * MIB, 4);
	{
		int fd = open(img.path, O_RDONLY);

		CHECK(fd >= 0);
		CHECK_EQ(pread(fd, before, sizeof(before), 0), sizeof(before));
		close(fd);
	}
	CHECK_EQ(open_image(&be, img.path, false, false, err, sizeof(err)), 0);

	op_ranges(&zop, BLOCK_IO_WRITE_ZEROES, zero_ranges, 2, &count);
	op_ranges(&dop, BLOCK_IO_DISCARD, &discard_range, 1, &count);
	op_init(&rop, BLOCK_IO_READ, 5 * MIB, &count);
	op_add(&rop, rbuf, sizeof(rbuf));
	block_backend_queue(&be, &zop.io);
	block_backend_queue(&be, &dop.io);
	block_backend_queue(&be, &rop.io);
	block_backend_submit(&be);
	/* Done callbacks run only in block_backend_complete, on this thread:
	 * had the work run in queue or submit, they would have run there. */
	CHECK(!zop.done);
	CHECK(!dop.done);
	CHECK_EQ(be.nr_taken, 3);
	CHECK_EQ(be.in_flight, 1);   /* the read: with the kernel, not held */
	/* The worker says it is done through event_fd. */
	p = (struct pollfd){ .fd = be.event_fd, .events = POLLIN };
	CHECK_EQ(poll(&p, 1, 5000), 1);
	wait_for(&be, &count, 3);
	CHECK_EQ(zop.result, 0);
	CHECK_EQ(dop.result, 0);
	CHECK_EQ(rop.result, 0);
	CHECK_EQ(be.nr_taken, 0);
	CHECK(memcmp(rbuf, before + 5 * MIB, sizeof(rbuf)) == 0);

	CHECK(file_is_zero(img.path, 0, MIB));
	CHECK(file_bytes_equal(img.path, MIB, before + MIB, 2 * MIB));
	CHECK(file_is_zero(img.path, 3 * MIB, 512 * 1024 + 512));
	CHECK(file_bytes_equal(img.path, 3 * MIB + 512 * 1024 + 512,
			       before + 3 * MIB + 512 * 1024 + 512, 3 * MIB - 512 * 1024 - 512));
	/* A discarded range reads as zeros where the host punched it; it is
	 * left as it was where it could not. */
	if (holes)
		CHECK(file_is_zero(img.path, 6 * MIB, MIB));
	CHECK(file_bytes_equal(img.path, 7 * MIB, before + 7 * MIB, MIB));
	block_backend_close(&be);
	image_remove(&img);
}

/* Discards and write-zeroes queued among writes to the same blocks take
 * effect in the order queued: a write before a write-zeroes is zeroed,
 * one after it stays, and a read after it sees the zeros. (Not the write
 * queued just before the read: both are in flight together, in no
 * promised order.) Buffered, and with O_DIRECT on 4 KiB blocks, which the
 * write-zeroes cuts through. */
static void test_ranges_ordered_with_writes(void)
{
	static uint8_t w1[64 * 1024], w2[8 * 1024], w3[4096], want[64 * 1024], rbuf[32 * 1024];
	const struct block_range zeroes = { .offset = 16 * 1024 + 512, .len = 32 * 1024 };
	const struct block_range trim = { .offset = 128 * 1024, .len = 64 * 1024 };
	struct image img;

	if (!image_create(&img, MIB))
		SKIP_TEST("cannot create a temporary image");
	for (int direct = 0; direct < 2; direct++) {
		struct block_backend be;
		struct op ops[6];
		unsigned count = 0;
		char err[512] = "";
		int ret;

		image_fill(&img, MIB, (uint8_t)(9 + direct));
		if (direct) {
			ret = open_direct_4k(&be, &img, 16);
			if (ret == 1)
				break;   /* no O_DIRECT here: the buffered pass did it */
		} else {
			ret = open_image(&be, img.path, false, false, err, sizeof(err));
		}
		CHECK_EQ(ret, 0);
		pattern(w1, sizeof(w1), (uint8_t)(1 + direct));
		pattern(w2, sizeof(w2), (uint8_t)(2 + direct));
		pattern(w3, sizeof(w3), (uint8_t)(3 + direct));
		memcpy(want, w1, sizeof(want));
		memset(want + zeroes.offset, 0, zeroes.len);
		memcpy(want + 32 * 1024, w2, sizeof(w2));

		op_init(&ops[0], BLOCK_IO_WRITE, 0, &count);
		op_add(&ops[0], w1, sizeof(w1));
		op_ranges(&ops[1], BLOCK_IO_WRITE_ZEROES, &zeroes, 1, &count);
		op_init(&ops[2], BLOCK_IO_WRITE, 32 * 1024, &count);
		op_add(&ops[2], w2, sizeof(w2));
		op_init(&ops[3], BLOCK_IO_READ, 0, &count);
		op_add(&ops[3], rbuf, sizeof(rbuf));   /* up to w2 */
		op_ranges(&ops[4], BLOCK_IO_DISCARD, &trim, 1, &count);
		op_init(&ops[5], BLOCK_IO_WRITE, 160 * 1024, &count);
		op_add(&ops[5], w3, sizeof(w3));
		for (unsigned i = 0; i < 6; i++)
			block_backend_queue(&be, &ops[i].io);
		block_backend_submit(&be);
		wait_for(&be, &count, 6);
		for (unsigned i = 0; i < 6; i++)
			CHECK_EQ(ops[i].result, 0);
		CHECK(memcmp(rbuf, want, sizeof(rbuf)) == 0);
		CHECK(file_bytes_equal(img.path, 0, want, sizeof(want)));
		CHECK(file_bytes_equal(img.path, 160 * 1024, w3, sizeof(w3)));
		block_backend_close(&be);
	}
	image_remove(&img);
}

/* A cancel (a reset, a close) ends the discards and write-zeroes taken
 * before it with -ECANCELED, the running one within a piece; what waited
 * behind them goes on, drain returns, and later ones run as usual. */
static void test_cancel_ranges(void)
{
	const struct block_range whole = { .offset = 0, .len = 4 * MIB };
	static uint8_t w[4096];
	struct block_backend be;
	struct image img;
	char err[512] = "";
	struct op first, second, write;
	unsigned count = 0;

	if (!image_create(&img, 4 * MIB))
		SKIP_TEST("cannot create a temporary image");
	image_fill(&img, 4 * MIB, 6);
	CHECK_EQ(open_image(&be, img.path, false, false, err, sizeof(err)), 0);
	pattern(w, sizeof(w), 11);
	/* The second waits for the first, the write for the second: when
	 * the cancel comes, the second has not started, whatever the worker
	 * has done with the first (its end is only seen in complete). */
	op_ranges(&first, BLOCK_IO_WRITE_ZEROES, &whole, 1, &count);
	op_ranges(&second, BLOCK_IO_WRITE_ZEROES, &whole, 1, &count);
	op_init(&write, BLOCK_IO_WRITE, 8192, &count);
	op_add(&write, w, sizeof(w));
	block_backend_queue(&be, &first.io);
	block_backend_queue(&be, &second.io);
	block_backend_queue(&be, &write.io);
	block_backend_submit(&be);
	block_backend_cancel(&be);
	block_backend_drain(&be);
	CHECK_EQ(count, 3);
	CHECK(first.result == 0 || first.result == -ECANCELED);
	CHECK_EQ(second.result, -ECANCELED);
	CHECK_EQ(write.result, 0);
	CHECK(file_bytes_equal(img.path, 8192, w, sizeof(w)));
	CHECK_EQ(be.nr_taken, 0);

	/* Taken after the cancel: runs. */
	CHECK_EQ(write_zeroes(&be, 0, 4 * MIB, false), 0);
	CHECK(file_is_zero(img.path, 0, 4 * MIB));
	block_backend_close(&be);
	image_remove(&img);
}

TEST_MAIN("block_backend",
	TEST_CASE(test_open_and_size),
	TEST_CASE(test_bad_sizes_refused),
	TEST_CASE(test_lock_excludes_second_writer),
	TEST_CASE(test_readers_share),
	TEST_CASE(test_read_only_refuses_writes),
	TEST_CASE(test_aio_round_trip_buffered),
	TEST_CASE(test_aio_round_trip_direct),
	TEST_CASE(test_direct_unaligned_bounces),
	TEST_CASE(test_direct_overlapping_sub_block_writes),
	TEST_CASE(test_flush),
	TEST_CASE(test_queue_depth_and_drain),
	TEST_CASE(test_zero_length_and_out_of_range),
	TEST_CASE(test_discard_deallocates),
	TEST_CASE(test_write_zeroes),
	TEST_CASE(test_ranges_run_off_the_calling_thread),
	TEST_CASE(test_ranges_ordered_with_writes),
	TEST_CASE(test_cancel_ranges))
