// fuzz-sources: devices/virtio/virtqueue.c devices/virtio/iov.c vmm/guest_memory.c vmm/log.c
/* Fuzzes the split-virtqueue walker: the input becomes a descriptor table,
 * an avail ring and spare RAM (data buffers, indirect tables) in a small
 * guest RAM, and the device side pops, copies and pushes until the queue
 * is empty or refused. Beyond the sanitizers, every chain handed out must
 * describe only guest RAM and add up to the lengths it reports.
 *
 * Input layout:
 *   byte 0   bits 0-3: queue size 2^(n mod 11); bit 4 EVENT_IDX; bit 5
 *            INDIRECT_DESC; bit 6 indices start near 65535; bit 7 "fold":
 *            direct descriptors' addresses and lengths, and the avail index,
 *            are reduced into range so more inputs get past the first checks
 *   byte 1   the starting index (low byte)
 *   byte 2   bit 0: disable notifications first; bits 1-7: a copy offset
 *   then     descriptor table (16 * size), avail ring (6 + 2 * size),
 *            the rest into spare RAM */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../devices/virtio/virtqueue.h"
#include "../../vmm/guest_memory.h"

#define RAM_SIZE   0x10000ull
#define DESC_GPA   0x0000ull     /* up to 16 KiB */
#define AVAIL_GPA  0x4000ull     /* up to 2054 bytes */
#define USED_GPA   0x5000ull     /* up to 8198 bytes */
#define SPARE_GPA  0x8000ull

struct fuzz_bench {
	struct guest_memory mem;
	struct virtq vq;
	struct virtq_chain chain;
	char why[256];
};

/* libFuzzer passes no context, so the bench lives for the whole process:
 * creating guest RAM (a memfd and a mapping) per input would dominate. */
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

static size_t take(const uint8_t **data, size_t *size, void *dst, size_t want)
{
	size_t n = *size < want ? *size : want;

	memcpy(dst, *data, n);
	*data += n;
	*size -= n;
	return n;
}

static void fold_ring(struct fuzz_bench *b, uint16_t qsize, uint16_t start)
{
	uint8_t *desc = guest_memory_ptr(&b->mem, DESC_GPA, 16ull * qsize);
	uint16_t avail_idx;

	for (unsigned i = 0; i < qsize; i++) {
		uint64_t addr;
		uint32_t len;

		memcpy(&addr, desc + 16 * i, 8);
		memcpy(&len, desc + 16 * i + 8, 4);
		addr %= RAM_SIZE;
		len %= 0x2000;
		memcpy(desc + 16 * i, &addr, 8);
		memcpy(desc + 16 * i + 8, &len, 4);
	}
	if (guest_memory_read(&b->mem, AVAIL_GPA + 2, &avail_idx, 2))
		abort();
	avail_idx = (uint16_t)(start + avail_idx % (qsize + 1));
	if (guest_memory_write(&b->mem, AVAIL_GPA + 2, &avail_idx, 2))
		abort();
}

/* A chain handed to a device must only name guest RAM and must add up. */
static void check_chain(const struct fuzz_bench *b, const struct virtq_chain *c)
{
	const uint8_t *lo = b->mem.host_base, *hi = lo + b->mem.ram_size;
	uint64_t out = 0, in = 0;

	if (c->head >= b->vq.size || c->nr_out + c->nr_in > VIRTQ_MAX_CHAIN_IOV)
		abort();
	for (unsigned i = 0; i < c->nr_out + c->nr_in; i++) {
		const uint8_t *base = c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len;

		if (!len || base < lo || base >= hi || len > (size_t)(hi - base))
			abort();
		if (i < c->nr_out)
			out += len;
		else
			in += len;
	}
	if (out != c->out_len || in != c->in_len || out + in > UINT32_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_bench *b = bench();
	uint8_t cfg[3] = { 0 };
	uint16_t qsize, start;
	uint8_t scratch[128];
	bool settled = false;
	void *spare;

	take(&data, &size, cfg, sizeof(cfg));
	qsize = (uint16_t)(1u << ((cfg[0] & 0x0f) % 11));
	start = (cfg[0] & 0x40) ? (uint16_t)(0xff00 | cfg[1]) : cfg[1];

	memset(b->mem.host_base, 0, b->mem.ram_size);
	if (virtq_init(&b->vq, &b->mem, qsize, DESC_GPA, AVAIL_GPA, USED_GPA,
		       cfg[0] & 0x10, cfg[0] & 0x20, b->why, sizeof(b->why)))
		abort();
	take(&data, &size, guest_memory_ptr(&b->mem, DESC_GPA, 16ull * qsize), 16ull * qsize);
	take(&data, &size, guest_memory_ptr(&b->mem, AVAIL_GPA, 6 + 2ull * qsize), 6 + 2ull * qsize);
	spare = guest_memory_ptr(&b->mem, SPARE_GPA, RAM_SIZE - SPARE_GPA);
	take(&data, &size, spare, RAM_SIZE - SPARE_GPA);

	/* As if `start` requests had gone through already. */
	b->vq.last_avail_idx = b->vq.used_idx = start;
	if (guest_memory_write(&b->mem, USED_GPA + 2, &start, 2))
		abort();
	if (cfg[0] & 0x80)
		fold_ring(b, qsize, start);
	if (cfg[2] & 1)
		virtq_disable_notify(&b->vq);

	/* At most qsize chains can be pending; a few more rounds prove EMPTY. */
	for (unsigned round = 0; round < qsize + 2u; round++) {
		enum virtq_pop_result r;
		size_t written;

		b->why[0] = 0;
		r = virtq_pop_chain(&b->vq, &b->chain, b->why, sizeof(b->why));
		if (r == VIRTQ_POP_EMPTY) {
			settled = true;
			break;
		}
		if (r == VIRTQ_POP_BROKEN) {
			if (!b->why[0])
				abort();            /* a refusal must say why */
			settled = true;
			break;
		}
		check_chain(b, &b->chain);
		virtq_chain_copy_from_out(&b->chain, cfg[2] >> 1, scratch, sizeof(scratch));
		written = virtq_chain_copy_to_in(&b->chain, cfg[2] >> 1, scratch, sizeof(scratch));
		if (written > b->chain.in_len)
			abort();
		if (virtq_push_used(&b->vq, b->chain.head, (uint32_t)written))
			abort();
		if (round & 1)
			virtq_should_interrupt(&b->vq);
	}
	if (!settled)
		abort();                            /* more chains than the queue holds */
	virtq_should_interrupt(&b->vq);
	virtq_enable_notify(&b->vq);
	virtq_should_interrupt(&b->vq);
	virtq_reset(&b->vq);
	return 0;
}
