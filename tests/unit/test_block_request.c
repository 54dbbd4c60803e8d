/* virtio-blk request parsing (virtio 1.2, 5.2.6): chains are laid out as
 * a driver would lay them out, over plain host buffers, and the parser
 * must find the header, the data and the status byte in them, or refuse
 * the request with the status the spec asks for. */
#include "check.h"

#include <endian.h>
#include <stdint.h>

#include "../../devices/block/block_request.h"

#define CAPACITY 2048ull     /* sectors: a 1 MiB disk */

struct bench {
	struct virtq_chain chain;
	struct block_request req;
	uint8_t hdr[16];
	uint8_t data[4096];
	uint8_t status;
	struct block_request_limits lim;
};

static struct bench *bench_new(void)
{
	struct bench *b = calloc(1, sizeof(*b));

	if (!b)
		abort();
	b->status = 0xee;
	b->lim = (struct block_request_limits){
		.capacity = CAPACITY,
		.seg_max = 8,
		.discard = true,
		.max_discard_sectors = 1024,
		.max_discard_seg = 4,
		.write_zeroes = true,
		.max_write_zeroes_sectors = 1024,
		.max_write_zeroes_seg = 4,
	};
	return b;
}

static void add_buf(struct bench *b, void *base, size_t len, bool device_writable)
{
	struct virtq_chain *c = &b->chain;

	c->iov[c->nr_out + c->nr_in] = (struct iovec){ .iov_base = base, .iov_len = len };
	if (device_writable) {
		c->nr_in++;
		c->in_len += len;
	} else {
		c->nr_out++;
		c->out_len += len;
	}
}

static void put_header(uint8_t *p, uint32_t type, uint64_t sector)
{
	uint32_t t = htole32(type), reserved = 0;
	uint64_t s = htole64(sector);

	memcpy(p, &t, 4);
	memcpy(p + 4, &reserved, 4);
	memcpy(p + 8, &s, 8);
}

static void put_segment(uint8_t *p, uint64_t sector, uint32_t num, uint32_t flags)
{
	uint64_t s = htole64(sector);
	uint32_t n = htole32(num), f = htole32(flags);

	memcpy(p, &s, 8);
	memcpy(p + 8, &n, 4);
	memcpy(p + 12, &f, 4);
}

/* header | data | status, the common layout; reads and GET_ID take
 * device-writable data, the others device-readable. */
static uint8_t parse_simple(struct bench *b, uint32_t type, uint64_t sector, size_t len)
{
	put_header(b->hdr, type, sector);
	add_buf(b, b->hdr, sizeof(b->hdr), false);
	if (len)
		add_buf(b, b->data, len, type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID);
	add_buf(b, &b->status, 1, true);
	return block_request_parse(&b->req, &b->chain, &b->lim);
}

static void test_read(void)
{
	struct bench *b = bench_new();

	put_header(b->hdr, VIRTIO_BLK_T_IN, 10);
	add_buf(b, b->hdr, 16, false);
	add_buf(b, b->data, 512, true);
	add_buf(b, b->data + 512, 1024, true);
	add_buf(b, &b->status, 1, true);
	CHECK_EQ(block_request_parse(&b->req, &b->chain, &b->lim), VIRTIO_BLK_S_OK);
	CHECK_EQ(b->req.type, VIRTIO_BLK_T_IN);
	CHECK_EQ(b->req.offset, 10 * 512);
	CHECK_EQ(b->req.len, 1536);
	CHECK_EQ(b->req.iovcnt, 2);
	CHECK(b->req.iov == &b->chain.iov[1]);
	CHECK(b->req.iov[0].iov_base == b->data);
	CHECK(b->req.status == &b->status);
	CHECK_EQ(block_request_written(&b->req, VIRTIO_BLK_S_OK), 1537);
	CHECK_EQ(block_request_written(&b->req, VIRTIO_BLK_S_IOERR), 1);
	free(b);
}

/* The status byte shares the last buffer with the data. */
static void test_read_status_in_data_buffer(void)
{
	struct bench *b = bench_new();

	put_header(b->hdr, VIRTIO_BLK_T_IN, 0);
	add_buf(b, b->hdr, 16, false);
	add_buf(b, b->data, 1025, true);
	CHECK_EQ(block_request_parse(&b->req, &b->chain, &b->lim), VIRTIO_BLK_S_OK);
	CHECK_EQ(b->req.iovcnt, 1);
	CHECK_EQ(b->req.len, 1024);
	CHECK_EQ(b->req.iov[0].iov_len, 1024);
	CHECK(b->req.status == b->data + 1024);
	free(b);
}

/* One buffer holds the header and the data (no ANY_LAYOUT assumptions). */
static void test_write_header_shares_buffer(void)
{
	struct bench *b = bench_new();

	put_header(b->data, VIRTIO_BLK_T_OUT, CAPACITY - 1);
	add_buf(b, b->data, 16 + 512, false);
	add_buf(b, &b->status, 1, true);
	CHECK_EQ(block_request_parse(&b->req, &b->chain, &b->lim), VIRTIO_BLK_S_OK);
	CHECK_EQ(b->req.type, VIRTIO_BLK_T_OUT);
	CHECK_EQ(b->req.offset, (CAPACITY - 1) * 512);
	CHECK_EQ(b->req.iovcnt, 1);
	CHECK(b->req.iov[0].iov_base == b->data + 16);
	CHECK_EQ(b->req.iov[0].iov_len, 512);
	CHECK_EQ(block_request_written(&b->req, VIRTIO_BLK_S_OK), 1);
	free(b);
}

static void test_header_split_across_buffers(void)
{
	struct bench *b = bench_new();

	put_header(b->hdr, VIRTIO_BLK_T_OUT, 0x0102030405ull % CAPACITY);
	add_buf(b, b->hdr, 3, false);
	add_buf(b, b->hdr + 3, 9, false);
	/* The last 4 header bytes open the data buffer. */
	memcpy(b->data, b->hdr + 12, 4);
	add_buf(b, b->data, 4 + 512, false);
	add_buf(b, b->data + 1024, 512, false);
	add_buf(b, &b->status, 1, true);
	CHECK_EQ(block_request_parse(&b->req, &b->chain, &b->lim), VIRTIO_BLK_S_OK);
	CHECK_EQ(b->req.offset, (0x0102030405ull % CAPACITY) * 512);
	CHECK_EQ(b->req.iovcnt, 2);
	CHECK_EQ(b->req.len, 1024);
	CHECK(b->req.iov[0].iov_base == b->data + 4);
	CHECK(b->req.iov[1].iov_base == b->data + 1024);
	free(b);
}

static void test_flush(void)
{
	struct bench *b = bench_new();

	b->lim.read_only = true;   /* flushing a read-only disk is harmless */
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	CHECK_EQ(b->req.type, VIRTIO_BLK_T_FLUSH);
	CHECK_EQ(b->req.len, 0);
	CHECK(b->req.status == &b->status);
	CHECK_EQ(block_request_written(&b->req, VIRTIO_BLK_S_OK), 1);
	free(b);
}

static void test_get_id(void)
{
	struct bench *b = bench_new();

	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES), VIRTIO_BLK_S_OK);
	CHECK_EQ(b->req.type, VIRTIO_BLK_T_GET_ID);
	CHECK_EQ(b->req.len, 20);
	CHECK_EQ(block_request_id_len(&b->req), 20);
	CHECK_EQ(block_request_written(&b->req, VIRTIO_BLK_S_OK), 21);
	free(b);

	/* A bigger buffer still gets 20 bytes. */
	b = bench_new();
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_GET_ID, 0, 512), VIRTIO_BLK_S_OK);
	CHECK_EQ(block_request_id_len(&b->req), 20);
	free(b);
}

static void test_discard(void)
{
	struct bench *b = bench_new();

	put_segment(b->data, 8, 16, 0);
	put_segment(b->data + 16, CAPACITY - 4, 4, 0);
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_DISCARD, 0, 32), VIRTIO_BLK_S_OK);
	CHECK_EQ(b->req.nr_ranges, 2);
	CHECK_EQ(b->req.ranges[0].offset, 8 * 512);
	CHECK_EQ(b->req.ranges[0].len, 16 * 512);
	CHECK_EQ(b->req.ranges[1].offset, (CAPACITY - 4) * 512);
	CHECK_EQ(b->req.ranges[1].len, 4 * 512);
	CHECK(!b->req.ranges[0].unmap);
	CHECK_EQ(b->req.len, 0);
	CHECK_EQ(b->req.iovcnt, 0);
	CHECK_EQ(block_request_written(&b->req, VIRTIO_BLK_S_OK), 1);
	free(b);
}

/* Segments split across buffers are gathered. */
static void test_write_zeroes_split_segment(void)
{
	struct bench *b = bench_new();
	uint8_t seg[16];

	put_header(b->hdr, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	put_segment(seg, 100, 28, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	memcpy(b->data, seg, 5);
	memcpy(b->data + 100, seg + 5, 11);
	add_buf(b, b->hdr, 16, false);
	add_buf(b, b->data, 5, false);
	add_buf(b, b->data + 100, 11, false);
	add_buf(b, &b->status, 1, true);
	CHECK_EQ(block_request_parse(&b->req, &b->chain, &b->lim), VIRTIO_BLK_S_OK);
	CHECK_EQ(b->req.nr_ranges, 1);
	CHECK_EQ(b->req.ranges[0].offset, 100 * 512);
	CHECK_EQ(b->req.ranges[0].len, 28 * 512);
	CHECK(b->req.ranges[0].unmap);
	free(b);
}

static void test_too_short_header(void)
{
	struct bench *b = bench_new();

	put_header(b->hdr, VIRTIO_BLK_T_IN, 0);
	add_buf(b, b->hdr, 8, false);
	add_buf(b, b->hdr + 8, 7, false);
	add_buf(b, &b->status, 1, true);
	CHECK_EQ(block_request_parse(&b->req, &b->chain, &b->lim), VIRTIO_BLK_S_IOERR);
	CHECK(b->req.status == &b->status);   /* can still be answered */
	CHECK(b->req.error != NULL);
	free(b);
}

static void test_no_status_byte(void)
{
	struct bench *b = bench_new();

	put_header(b->hdr, VIRTIO_BLK_T_OUT, 0);
	add_buf(b, b->hdr, 16, false);
	add_buf(b, b->data, 512, false);
	CHECK_EQ(block_request_parse(&b->req, &b->chain, &b->lim), VIRTIO_BLK_S_IOERR);
	CHECK(b->req.status == NULL);
	CHECK(b->req.error != NULL);
	free(b);

	/* Device-writable but empty buffers hold no status either. */
	b = bench_new();
	put_header(b->hdr, VIRTIO_BLK_T_FLUSH, 0);
	add_buf(b, b->hdr, 16, false);
	add_buf(b, b->data, 0, true);
	CHECK_EQ(block_request_parse(&b->req, &b->chain, &b->lim), VIRTIO_BLK_S_IOERR);
	CHECK(b->req.status == NULL);
	free(b);
}

static void test_unaligned_length(void)
{
	struct bench *b = bench_new();

	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_IN, 0, 513), VIRTIO_BLK_S_IOERR);
	free(b);
	b = bench_new();
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_OUT, 0, 100), VIRTIO_BLK_S_IOERR);
	free(b);
}

static void test_out_of_range_sector(void)
{
	struct bench *b = bench_new();

	/* The last two sectors: fine. One more: past the end. */
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_IN, CAPACITY - 2, 1024), VIRTIO_BLK_S_OK);
	free(b);
	b = bench_new();
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_IN, CAPACITY - 1, 1024), VIRTIO_BLK_S_IOERR);
	free(b);
	b = bench_new();
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_OUT, CAPACITY, 512), VIRTIO_BLK_S_IOERR);
	free(b);
}

static void test_overflowing_sector(void)
{
	static const uint64_t sectors[] = {
		UINT64_MAX, UINT64_MAX - 1, 1ull << 55, (UINT64_MAX >> 9) + 1,
	};

	for (size_t i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++) {
		struct bench *b = bench_new();

		b->lim.capacity = UINT64_MAX >> 9;   /* the largest a size allows */
		CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_IN, sectors[i], 1024), VIRTIO_BLK_S_IOERR);
		free(b);
	}
}

static void test_read_only(void)
{
	struct bench *b = bench_new();

	b->lim.read_only = true;
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_OUT, 0, 512), VIRTIO_BLK_S_IOERR);
	free(b);

	b = bench_new();
	b->lim.read_only = true;
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
	free(b);

	b = bench_new();
	b->lim.read_only = true;
	put_segment(b->data, 0, 8, 0);
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_DISCARD, 0, 16), VIRTIO_BLK_S_IOERR);
	free(b);
}

static void test_too_many_segments(void)
{
	struct bench *b = bench_new();

	put_header(b->hdr, VIRTIO_BLK_T_IN, 0);
	add_buf(b, b->hdr, 16, false);
	for (unsigned i = 0; i < 9; i++)
		add_buf(b, b->data + 512 * i % 4096, 512, true);
	add_buf(b, &b->status, 1, true);
	CHECK_EQ(block_request_parse(&b->req, &b->chain, &b->lim), VIRTIO_BLK_S_IOERR);
	free(b);

	/* Exactly seg_max is fine. */
	b = bench_new();
	put_header(b->hdr, VIRTIO_BLK_T_IN, 0);
	add_buf(b, b->hdr, 16, false);
	for (unsigned i = 0; i < 8; i++)
		add_buf(b, b->data + 512 * i, 512, true);
	add_buf(b, &b->status, 1, true);
	CHECK_EQ(block_request_parse(&b->req, &b->chain, &b->lim), VIRTIO_BLK_S_OK);
	CHECK_EQ(b->req.iovcnt, 8);
	free(b);
}

static void test_discard_refusals(void)
{
	struct bench *b = bench_new();

	/* A range that runs past the end of the disk. */
	put_segment(b->data, CAPACITY - 4, 8, 0);
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_DISCARD, 0, 16), VIRTIO_BLK_S_IOERR);
	free(b);

	/* One whose end wraps around. */
	b = bench_new();
	put_segment(b->data, UINT64_MAX - 2, 8, 0);
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_DISCARD, 0, 16), VIRTIO_BLK_S_IOERR);
	free(b);

	/* Longer than max_discard_sectors. */
	b = bench_new();
	put_segment(b->data, 0, 1025, 0);
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_DISCARD, 0, 16), VIRTIO_BLK_S_IOERR);
	free(b);

	/* More segments than max_discard_seg. */
	b = bench_new();
	for (unsigned i = 0; i < 5; i++)
		put_segment(b->data + 16 * i, i, 1, 0);
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_DISCARD, 0, 80), VIRTIO_BLK_S_IOERR);
	free(b);

	/* Not a whole number of segments, or none at all. */
	b = bench_new();
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_DISCARD, 0, 24), VIRTIO_BLK_S_IOERR);
	free(b);
	b = bench_new();
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_DISCARD, 0, 0), VIRTIO_BLK_S_IOERR);
	free(b);

	/* Unmap on a discard, and unknown flags anywhere, are UNSUPP. */
	b = bench_new();
	put_segment(b->data, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_DISCARD, 0, 16), VIRTIO_BLK_S_UNSUPP);
	free(b);
	b = bench_new();
	put_segment(b->data, 0, 8, 0x2);
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16), VIRTIO_BLK_S_UNSUPP);
	free(b);

	/* Not negotiated. */
	b = bench_new();
	b->lim.discard = false;
	put_segment(b->data, 0, 8, 0);
	CHECK_EQ(parse_simple(b, VIRTIO_BLK_T_DISCARD, 0, 16), VIRTIO_BLK_S_UNSUPP);
	free(b);
}

static void test_unsupported_type(void)
{
	static const uint32_t types[] = { 2, 3, 10, 14, 0x80000000u };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct bench *b = bench_new();

		CHECK_EQ(parse_simple(b, types[i], 0, 512), VIRTIO_BLK_S_UNSUPP);
		CHECK(b->req.status == &b->status);
		CHECK_EQ(block_request_written(&b->req, VIRTIO_BLK_S_UNSUPP), 1);
		free(b);
	}
}

TEST_MAIN("block_request",
	TEST_CASE(test_read),
	TEST_CASE(test_read_status_in_data_buffer),
	TEST_CASE(test_write_header_shares_buffer),
	TEST_CASE(test_header_split_across_buffers),
	TEST_CASE(test_flush),
	TEST_CASE(test_get_id),
	TEST_CASE(test_discard),
	TEST_CASE(test_write_zeroes_split_segment),
	TEST_CASE(test_too_short_header),
	TEST_CASE(test_no_status_byte),
	TEST_CASE(test_unaligned_length),
	TEST_CASE(test_out_of_range_sector),
	TEST_CASE(test_overflowing_sector),
	TEST_CASE(test_read_only),
	TEST_CASE(test_too_many_segments),
	TEST_CASE(test_discard_refusals),
	TEST_CASE(test_unsupported_type))
