// fuzz-sources: devices/block/block_request.c devices/virtio/virtqueue.c devices/virtio/iov.c vmm/guest_memory.c vmm/log.c
/* Fuzzes virtio-blk request parsing. The input picks the disk's limits
 * and describes a chain of buffers (their direction, length and bytes);
 * the buffers go into a small guest RAM, the chain into a descriptor
 * table (or an indirect one) and the avail ring, and the real walker pops
 * it, so the parser sees exactly what a device would. Beyond the
 * sanitizers, whatever the parser accepts must respect the limits it was
 * given, and whatever it points at must be guest RAM.
 *
 * Input layout:
 *   byte 0    bit 0 read-only; bit 1 DISCARD; bit 2 WRITE_ZEROES;
 *             bit 3 indirect table; bits 4-7: seg_max - 1
 *   bytes 1-8 capacity (little-endian), shifted right by byte 9 % 64
 *   byte 10   max_discard_seg and max_write_zeroes_seg (mod 40, beyond
 *             what the parser holds on purpose)
 *   byte 11   max discard / write-zeroes sectors: 1 << (byte % 32)
 *   then      buffers, each: a flags byte (bit 0 device-writable), a
 *             16-bit length (mod 4096), then up to that many content bytes */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../devices/block/block_request.h"
#include "../../devices/virtio/virtqueue.h"
#include "../../vmm/guest_memory.h"

#define RAM_SIZE    0x20000ull
#define QSIZE       64
#define DESC_GPA    0x0000ull
#define AVAIL_GPA   0x1000ull
#define USED_GPA    0x2000ull
#define TABLE_GPA   0x3000ull
#define DATA_GPA    0x4000ull
#define HEADER_LEN  12

struct fuzz_bench {
	struct guest_memory mem;
	struct virtq vq;
	struct virtq_chain chain;
	struct block_request req;
	char why[256];
};

/* Guest RAM (a memfd and a mapping) lives for the whole process; making
 * it per input would dominate the run. */
static struct fuzz_bench *bench(void)
{
	static struct fuzz_bench *b;
	char err[128];

	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || guest_memory_create(&b->mem, RAM_SIZE, false, err, sizeof(err)))
			abort();
	}
	return b;
}

static void put(struct fuzz_bench *b, uint64_t gpa, const void *src, size_t len)
{
	if (guest_memory_write(&b->mem, gpa, src, len))
		abort();
}

static void put_desc(struct fuzz_bench *b, uint64_t table, unsigned idx, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = {
		addr, len, flags, next };   /* x86: already little-endian */

	put(b, table + 16ull * idx, &d, sizeof(d));
}

static bool in_ram(const struct fuzz_bench *b, const void *p, uint64_t len)
{
	const uint8_t *lo = b->mem.host_base, *hi = lo + b->mem.ram_size;
	const uint8_t *q = p;

	return q >= lo && q <= hi && len <= (uint64_t)(hi - q);
}

static void check_accepted(const struct fuzz_bench *b, const struct block_request_limits *lim)
{
	const struct block_request *req = &b->req;
	uint64_t total = 0;

	if (!in_ram(b, req->status, 1))
		abort();
	for (unsigned i = 0; i < req->iovcnt; i++) {
		if (!in_ram(b, req->iov[i].iov_base, req->iov[i].iov_len))
			abort();
		total += req->iov[i].iov_len;
	}
	if (total != req->len)
		abort();
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (req->type == VIRTIO_BLK_T_OUT && lim->read_only)
			abort();
		if (req->iovcnt > lim->seg_max || req->len % VIRTIO_BLK_SECTOR_SIZE)
			abort();
		if (req->offset % VIRTIO_BLK_SECTOR_SIZE ||
		    req->offset / VIRTIO_BLK_SECTOR_SIZE > lim->capacity ||
		    req->len / VIRTIO_BLK_SECTOR_SIZE >
		    lim->capacity - req->offset / VIRTIO_BLK_SECTOR_SIZE)
			abort();
		/* The data and the status byte fit in what the driver offered. */
		if (req->type == VIRTIO_BLK_T_IN && req->len + 1 > b->chain.in_len)
			abort();
		if (req->type == VIRTIO_BLK_T_IN)
			memset(req->iov[0].iov_base, 0xa5, req->iovcnt ? req->iov[0].iov_len : 0);
		break;
	case VIRTIO_BLK_T_GET_ID:
		if (block_request_id_len(req) > VIRTIO_BLK_ID_BYTES || req->iovcnt > lim->seg_max)
			abort();
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		bool zeroes = req->type == VIRTIO_BLK_T_WRITE_ZEROES;
		uint32_t max_seg = zeroes ? lim->max_write_zeroes_seg : lim->max_discard_seg;
		uint64_t max_bytes = (uint64_t)(zeroes ? lim->max_write_zeroes_sectors :
						lim->max_discard_sectors) * VIRTIO_BLK_SECTOR_SIZE;

		if (lim->read_only || !(zeroes ? lim->write_zeroes : lim->discard))
			abort();
		if (!req->nr_ranges || req->nr_ranges > max_seg ||
		    req->nr_ranges > BLOCK_REQUEST_MAX_RANGES)
			abort();
		for (unsigned i = 0; i < req->nr_ranges; i++) {
			const struct block_range *r = &req->ranges[i];

			if (r->len > max_bytes || (r->unmap && !zeroes))
				abort();
			if (r->offset / VIRTIO_BLK_SECTOR_SIZE > lim->capacity ||
			    r->len / VIRTIO_BLK_SECTOR_SIZE >
			    lim->capacity - r->offset / VIRTIO_BLK_SECTOR_SIZE)
				abort();
		}
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		break;
	default:
		abort();        /* an unknown type must not be accepted */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_bench *b = bench();
	struct block_request_limits lim;
	uint8_t hdr[HEADER_LEN] = { 0 };
	uint64_t capacity, table, next_gpa = DATA_GPA;
	bool indirect;
	unsigned n = 0;
	uint16_t one = 1, zero = 0;
	uint8_t status;

	if (size < HEADER_LEN)
		return 0;
	memcpy(hdr, data, HEADER_LEN);
	data += HEADER_LEN;
	size -= HEADER_LEN;
	memcpy(&capacity, hdr + 1, 8);
	lim = (struct block_request_limits){
		.capacity = capacity >> (hdr[9] % 64),
		.read_only = hdr[0] & 1,
		.discard = hdr[0] & 2,
		.write_zeroes = hdr[0] & 4,
		.seg_max = (hdr[0] >> 4) + 1u,
		.max_discard_seg = hdr[10] % 40,
		.max_write_zeroes_seg = hdr[10] % 40,
		.max_discard_sectors = 1u << (hdr[11] % 32),
		.max_write_zeroes_sectors = 1u << (hdr[11] % 32),
	};
	indirect = hdr[0] & 8;
	table = indirect ? TABLE_GPA : DESC_GPA;

	memset(b->mem.host_base, 0, b->mem.ram_size);
	if (virtq_init(&b->vq, &b->mem, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA, false, true,
		       b->why, sizeof(b->why)))
		abort();

	/* The buffers, chained 0 -> 1 -> ... in the table. */
	while (size >= 3 && n < QSIZE) {
		uint16_t len;
		uint8_t flags = data[0];
		size_t copy;

		memcpy(&len, data + 1, 2);
		data += 3;
		size -= 3;
		len %= 4096;
		if (next_gpa + len > RAM_SIZE)
			break;
		copy = size < len ? size : len;
		put(b, next_gpa, data, copy);
		data += copy;
		size -= copy;
		put_desc(b, table, n, next_gpa, len,
			 (uint16_t)((flags & 1 ? VIRTQ_DESC_F_WRITE : 0) | VIRTQ_DESC_F_NEXT),
			 (uint16_t)(n + 1));
		next_gpa += len;
		n++;
	}
	if (!n)
		return 0;
	/* The last one ends the chain. */
	{
		struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d;

		if (guest_memory_read(&b->mem, table + 16ull * (n - 1), &d, sizeof(d)))
			abort();
		d.flags &= (uint16_t)~VIRTQ_DESC_F_NEXT;
		d.next = 0;
		put(b, table + 16ull * (n - 1), &d, sizeof(d));
	}
	if (indirect)
		put_desc(b, DESC_GPA, 0, TABLE_GPA, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
	put(b, AVAIL_GPA + 4, &zero, 2);
	put(b, AVAIL_GPA + 2, &one, 2);

	if (virtq_pop_chain(&b->vq, &b->chain, b->why, sizeof(b->why)) != VIRTQ_POP_CHAIN)
		return 0;
	status = block_request_parse(&b->req, &b->chain, &lim);
	if (!b->req.error && status != VIRTIO_BLK_S_OK)
		abort();                /* a refusal says why */
	if (!b->req.status) {
		if (status == VIRTIO_BLK_S_OK)
			abort();        /* accepted without a place for the answer */
		return 0;
	}
	if (status == VIRTIO_BLK_S_OK)
		check_accepted(b, &lim);
	else if (status != VIRTIO_BLK_S_IOERR && status != VIRTIO_BLK_S_UNSUPP)
		abort();
	if (block_request_written(&b->req, status) > b->chain.in_len)
		abort();
	*b->req.status = status;
	if (virtq_push_used(&b->vq, b->chain.head, block_request_written(&b->req, status)))
		abort();
	return 0;
}
