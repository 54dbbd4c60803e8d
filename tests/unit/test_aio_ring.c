/* Reading Linux AIO completions from the kernel's ring: a real context
 * (its ring is recognised, and reads submitted to it come back through the
 * ring, once each, with io_getevents then finding nothing left), and made-
 * up rings in memory for what a real one rarely shows: a wrap-around, a
 * limit on how many are taken, and header values that are not to be
 * trusted. */
#include "check.h"

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../devices/block/aio_ring.h"

/* The kernel's ring header, as the kernel lays it out (fs/aio.c). */
struct fake_ring {
	uint32_t id, nr, head, tail, magic, compat_features, incompat_features, header_length;
	struct io_event events[8];
};

static void fake_init(struct fake_ring *r, uint32_t nr, uint32_t head, uint32_t tail)
{
	memset(r, 0, sizeof(*r));
	r->nr = nr;
	r->head = head;
	r->tail = tail;
	r->magic = 0xa10a10a1u;
	r->header_length = 32;
	for (unsigned i = 0; i < 8; i++)
		r->events[i].res = 100 + i;
}

static struct aio_ring *as_ring(struct fake_ring *r)
{
	return aio_ring_of((io_context_t)(void *)r);
}

static void test_real_context_read_through_the_ring(void)
{
	enum { READS = 5 };
	io_context_t ctx = 0;
	struct aio_ring *ring;
	struct iocb cbs[READS], *list[READS];
	struct io_event events[READS * 2];
	struct timespec zero = { 0, 0 };
	char bufs[READS][64];
	char path[] = "/tmp/gvmm-aio-ring-XXXXXX";
	int fd = mkstemp(path), efd = eventfd(0, EFD_CLOEXEC);
	unsigned got = 0;
	bool seen[READS] = { false };

	CHECK(fd >= 0 && efd >= 0);
	unlink(path);
	CHECK_EQ(write(fd, "0123456789", 10), 10);
	if (io_setup(16, &ctx) < 0) {
		close(fd);
		close(efd);
		SKIP_TEST("io_setup failed (fs.aio-max-nr?)");
	}
	ring = aio_ring_of(ctx);
	CHECK(ring != NULL);
	for (unsigned i = 0; i < READS; i++) {
		io_prep_pread(&cbs[i], fd, bufs[i], 2, (long long)i * 2);
		io_set_eventfd(&cbs[i], efd);
		cbs[i].data = &seen[i];
		list[i] = &cbs[i];
	}
	CHECK_EQ(io_submit(ctx, READS, list), READS);
	while (got < READS) {
		struct pollfd p = { .fd = efd, .events = POLLIN };
		uint64_t count;

		CHECK_EQ(poll(&p, 1, 5000), 1);
		CHECK_EQ(read(efd, &count, sizeof(count)), (ssize_t)sizeof(count));
		got += aio_ring_take(ring, events + got, READS * 2 - got);
	}
	CHECK_EQ(got, READS);
	for (unsigned i = 0; i < READS; i++) {
		bool *flag = events[i].data;

		CHECK_EQ(events[i].res, 2);
		CHECK(flag >= seen && flag < seen + READS && !*flag);
		*flag = true;
		CHECK_EQ(bufs[flag - seen][0], '0' + 2 * (flag - seen));
	}
	/* Taken once: neither the ring nor io_getevents has them again. */
	CHECK_EQ(aio_ring_take(ring, events, READS), 0);
	CHECK_EQ(io_getevents(ctx, 0, READS, events, &zero), 0);
	io_destroy(ctx);
	close(fd);
	close(efd);
}

static void test_wraps_around_the_end(void)
{
	struct fake_ring r;
	struct io_event ev[8];

	fake_init(&r, 4, 3, 1);
	CHECK_EQ(aio_ring_take(as_ring(&r), ev, 8), 2);
	CHECK_EQ(ev[0].res, 103);
	CHECK_EQ(ev[1].res, 100);
	CHECK_EQ(r.head, 1);
	CHECK_EQ(aio_ring_take(as_ring(&r), ev, 8), 0);
}

static void test_takes_at_most_max(void)
{
	struct fake_ring r;
	struct io_event ev[8];

	fake_init(&r, 8, 0, 5);
	CHECK_EQ(aio_ring_take(as_ring(&r), ev, 3), 3);
	CHECK_EQ(r.head, 3);
	CHECK_EQ(aio_ring_take(as_ring(&r), ev, 3), 2);
	CHECK_EQ(ev[0].res, 103);
	CHECK_EQ(ev[1].res, 104);
	CHECK_EQ(r.head, 5);
}

static void test_unknown_layouts_refused(void)
{
	struct fake_ring r;

	CHECK(aio_ring_of(0) == NULL);
	fake_init(&r, 4, 0, 0);
	CHECK(as_ring(&r) != NULL);
	r.magic = 0x12345678;
	CHECK(as_ring(&r) == NULL);
	fake_init(&r, 4, 0, 0);
	r.incompat_features = 1;
	CHECK(as_ring(&r) == NULL);
	fake_init(&r, 4, 0, 0);
	r.header_length = 64;
	CHECK(as_ring(&r) == NULL);
	fake_init(&r, 0, 0, 0);
	CHECK(as_ring(&r) == NULL);
}

static void test_indices_beyond_the_ring_take_nothing(void)
{
	struct fake_ring r;
	struct io_event ev[8];

	fake_init(&r, 4, 0, 6);
	CHECK_EQ(aio_ring_take(as_ring(&r), ev, 8), 0);
	fake_init(&r, 4, 9, 1);
	CHECK_EQ(aio_ring_take(as_ring(&r), ev, 8), 0);
	CHECK_EQ(r.head, 9);
}

TEST_MAIN("aio_ring",
	TEST_CASE(test_real_context_read_through_the_ring),
	TEST_CASE(test_wraps_around_the_end),
	TEST_CASE(test_takes_at_most_max),
	TEST_CASE(test_unknown_layouts_refused),
	TEST_CASE(test_indices_beyond_the_ring_take_nothing))
