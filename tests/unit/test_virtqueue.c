/* Split virtqueues: rings are built in plain guest RAM the way a driver
 * lays them out (virtio 1.2, 2.7), then popped and pushed by the device
 * side. The first half checks requests a well-behaved driver makes; the
 * second half hands the walker broken and hostile rings, each of which
 * must be refused with a reason, without advancing the queue. */
#include "check.h"

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../devices/virtio/virtqueue.h"
#include "../../vmm/guest_memory.h"

#define RAM_SIZE    (1ull << 20)
#define DESC_GPA    0x1000ull      /* up to 16 KiB for 1024 entries */
#define AVAIL_GPA   0x5000ull
#define USED_GPA    0x6000ull      /* up to 0x8006 */
#define DATA_GPA    0x10000ull
#define TABLE_GPA   0x40000ull     /* indirect tables */

struct ring {
	struct guest_memory mem;
	struct virtq vq;
	uint16_t size;
	uint16_t avail_idx;            /* the driver's next avail entry */
	char why[256];
	struct virtq_chain chain;
};

/* Guest memory as the driver writes it (little-endian). */

static void put16(struct ring *r, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	CHECK_EQ(guest_memory_write(&r->mem, gpa, &v, sizeof(v)), 0);
}

static uint16_t get16(struct ring *r, uint64_t gpa)
{
	uint16_t v = 0;

	CHECK_EQ(guest_memory_read(&r->mem, gpa, &v, sizeof(v)), 0);
	return le16toh(v);
}

static uint32_t get32(struct ring *r, uint64_t gpa)
{
	uint32_t v = 0;

	CHECK_EQ(guest_memory_read(&r->mem, gpa, &v, sizeof(v)), 0);
	return le32toh(v);
}

static void put_desc(struct ring *r, uint64_t table, uint16_t idx, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = {
		htole64(addr), htole32(len), htole16(flags), htole16(next) };

	CHECK_EQ(guest_memory_write(&r->mem, table + 16ull * idx, &d, sizeof(d)), 0);
}

static void desc(struct ring *r, uint16_t idx, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	put_desc(r, DESC_GPA, idx, addr, len, flags, next);
}

/* Puts a chain's head in the avail ring and publishes it. */
static void offer(struct ring *r, uint16_t head)
{
	put16(r, AVAIL_GPA + 4 + 2ull * (r->avail_idx % r->size), head);
	r->avail_idx++;
	put16(r, AVAIL_GPA + 2, r->avail_idx);
}

static uint64_t used_event_gpa(const struct ring *r) { return AVAIL_GPA + 4 + 2ull * r->size; }
static uint64_t avail_event_gpa(const struct ring *r) { return USED_GPA + 4 + 8ull * r->size; }
static uint16_t used_idx_in_ram(struct ring *r) { return get16(r, USED_GPA + 2); }
static uint16_t used_flags_in_ram(struct ring *r) { return get16(r, USED_GPA); }

static struct ring *ring_new_in(uint64_t ram, uint16_t size, bool event_idx, bool indirect)
{
	struct ring *r = calloc(1, sizeof(*r));
	char err[128];

	if (!r)
		abort();
	CHECK_EQ(guest_memory_create(&r->mem, ram, false, err, sizeof(err)), 0);
	r->size = size;
	CHECK_EQ(virtq_init(&r->vq, &r->mem, size, DESC_GPA, AVAIL_GPA, USED_GPA,
			    event_idx, indirect, r->why, sizeof(r->why)), 0);
	return r;
}

static struct ring *ring_new(uint16_t size, bool event_idx, bool indirect)
{
	return ring_new_in(RAM_SIZE, size, event_idx, indirect);
}

/* Both sides' indices start at `start`, as after 'start' earlier requests. */
static void ring_start_at(struct ring *r, uint16_t start)
{
	r->vq.last_avail_idx = r->vq.used_idx = start;
	r->avail_idx = start;
	put16(r, AVAIL_GPA + 2, start);
	put16(r, USED_GPA + 2, start);
}

static void ring_free(struct ring *r)
{
	guest_memory_destroy(&r->mem);
	free(r);
}

static enum virtq_pop_result pop(struct ring *r)
{
	r->why[0] = 0;
	return virtq_pop_chain(&r->vq, &r->chain, r->why, sizeof(r->why));
}

static void *ram(struct ring *r, uint64_t gpa, uint64_t len)
{
	return guest_memory_ptr(&r->mem, gpa, len);
}

/* The ring is refused with a reason naming `what`, and stays where it was:
 * popping again refuses again rather than skipping the bad entry. */
static void expect_broken(struct ring *r, const char *what)
{
	uint16_t last = r->vq.last_avail_idx;

	CHECK_EQ(pop(r), VIRTQ_POP_BROKEN);
	if (!strstr(r->why, what)) {
		fprintf(stderr, "  reason \"%s\" lacks \"%s\"\n", r->why, what);
		CHECK(strstr(r->why, what) != NULL);
	}
	CHECK_EQ(r->vq.last_avail_idx, last);
	CHECK_EQ(pop(r), VIRTQ_POP_BROKEN);
}

/* ---- requests a driver makes ---- */

static void simple_chain(void)
{
	struct ring *r = ring_new(8, false, false);

	CHECK_EQ(pop(r), VIRTQ_POP_EMPTY);
	desc(r, 3, DATA_GPA, 100, VIRTQ_DESC_F_NEXT, 5);
	desc(r, 5, DATA_GPA + 0x1000, 28, 0, 0);
	offer(r, 3);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(r->chain.head, 3);
	CHECK_EQ(r->chain.nr_out, 2);
	CHECK_EQ(r->chain.nr_in, 0);
	CHECK_EQ(r->chain.out_len, 128);
	CHECK_EQ(r->chain.in_len, 0);
	CHECK(r->chain.iov[0].iov_base == ram(r, DATA_GPA, 100));
	CHECK_EQ(r->chain.iov[0].iov_len, 100);
	CHECK(r->chain.iov[1].iov_base == ram(r, DATA_GPA + 0x1000, 28));
	CHECK_EQ(r->chain.iov[1].iov_len, 28);
	CHECK_EQ(r->vq.last_avail_idx, 1);
	CHECK_EQ(pop(r), VIRTQ_POP_EMPTY);

	CHECK_EQ(virtq_push_used(&r->vq, 3, 0), 0);
	CHECK_EQ(used_idx_in_ram(r), 1);
	CHECK_EQ(get32(r, USED_GPA + 4), 3);        /* id */
	CHECK_EQ(get32(r, USED_GPA + 8), 0);        /* len */
	ring_free(r);
}

static void out_then_in(void)
{
	struct ring *r = ring_new(16, false, false);
	uint8_t *status;

	memcpy(ram(r, DATA_GPA, 16), "request header..", 16);
	desc(r, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(r, 1, DATA_GPA + 0x100, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	desc(r, 2, DATA_GPA + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(r, 0);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(r->chain.nr_out, 1);
	CHECK_EQ(r->chain.nr_in, 2);
	CHECK_EQ(r->chain.out_len, 16);
	CHECK_EQ(r->chain.in_len, 513);
	CHECK(r->chain.iov[1].iov_base == ram(r, DATA_GPA + 0x100, 512));
	CHECK(r->chain.iov[2].iov_base == ram(r, DATA_GPA + 0x400, 1));

	status = ram(r, DATA_GPA + 0x400, 1);
	*status = 0xff;
	CHECK_EQ(virtq_chain_copy_to_in(&r->chain, 512, "\0", 1), 1);
	CHECK_EQ(*status, 0);
	CHECK_EQ(virtq_push_used(&r->vq, r->chain.head, 513), 0);
	CHECK_EQ(get32(r, USED_GPA + 8), 513);
	ring_free(r);
}

static void zero_length_descriptors(void)
{
	struct ring *r = ring_new(8, false, false);

	/* Zero-length buffers are legal and take no iovec, wherever they point. */
	desc(r, 0, DATA_GPA, 0, VIRTQ_DESC_F_NEXT, 1);
	desc(r, 1, DATA_GPA, 10, VIRTQ_DESC_F_NEXT, 2);
	desc(r, 2, UINT64_MAX, 0, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	desc(r, 3, DATA_GPA + 0x100, 5, VIRTQ_DESC_F_WRITE, 0);
	offer(r, 0);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(r->chain.nr_out, 1);
	CHECK_EQ(r->chain.nr_in, 1);
	CHECK_EQ(r->chain.out_len, 10);
	CHECK_EQ(r->chain.in_len, 5);
	CHECK(r->chain.iov[1].iov_base == ram(r, DATA_GPA + 0x100, 5));

	/* A chain of nothing but an empty descriptor is an empty request. */
	desc(r, 4, 0, 0, 0, 0);
	offer(r, 4);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(r->chain.nr_out + r->chain.nr_in, 0);
	ring_free(r);
}

static void indirect_tables(void)
{
	struct ring *r = ring_new(4, false, true);

	put_desc(r, TABLE_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	put_desc(r, TABLE_GPA, 2, DATA_GPA + 0x100, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	put_desc(r, TABLE_GPA, 1, DATA_GPA + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
	/* WRITE on the descriptor that points at the table means nothing. */
	desc(r, 1, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	offer(r, 1);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(r->chain.head, 1);
	CHECK_EQ(r->chain.nr_out, 1);
	CHECK_EQ(r->chain.nr_in, 2);
	CHECK_EQ(r->chain.out_len, 16);
	CHECK_EQ(r->chain.in_len, 65);
	CHECK(r->chain.iov[0].iov_base == ram(r, DATA_GPA, 16));
	CHECK(r->chain.iov[1].iov_base == ram(r, DATA_GPA + 0x100, 64));
	CHECK(r->chain.iov[2].iov_base == ram(r, DATA_GPA + 0x200, 1));

	/* Direct descriptors may lead to an indirect one that ends the chain. */
	desc(r, 2, DATA_GPA + 0x300, 8, VIRTQ_DESC_F_NEXT, 3);
	desc(r, 3, TABLE_GPA + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	put_desc(r, TABLE_GPA + 0x100, 0, DATA_GPA + 0x400, 32, VIRTQ_DESC_F_WRITE, 0);
	offer(r, 2);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(r->chain.nr_out, 1);
	CHECK_EQ(r->chain.nr_in, 1);
	CHECK_EQ(r->chain.in_len, 32);

	/* An indirect chain may be longer than the queue. */
	for (uint16_t i = 0; i < 10; i++)
		put_desc(r, TABLE_GPA + 0x200, i, DATA_GPA + i, 1,
			 i < 9 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	desc(r, 0, TABLE_GPA + 0x200, 10 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 0);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(r->chain.nr_out, 10);
	ring_free(r);
}

static void indices_wrap_around(void)
{
	struct ring *r = ring_new(4, false, false);

	ring_start_at(r, 65533);
	for (uint16_t i = 0; i < 4; i++)
		desc(r, i, DATA_GPA + 0x100 * i, 4, VIRTQ_DESC_F_WRITE, 0);
	/* Eight requests, four at a time, across 65535 -> 0. */
	for (int round = 0; round < 2; round++) {
		uint16_t heads[4] = { 2, 0, 3, 1 };

		for (int i = 0; i < 4; i++)
			offer(r, heads[i]);
		for (int i = 0; i < 4; i++) {
			CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
			CHECK_EQ(r->chain.head, heads[i]);
			CHECK_EQ(virtq_push_used(&r->vq, heads[i], 4), 0);
		}
		CHECK_EQ(pop(r), VIRTQ_POP_EMPTY);
	}
	CHECK_EQ(r->vq.last_avail_idx, (uint16_t)(65533 + 8));
	CHECK_EQ(used_idx_in_ram(r), (uint16_t)(65533 + 8));
	/* Used element of request 65535 (slot 3) and of request 0 (slot 0). */
	CHECK_EQ(get32(r, USED_GPA + 4 + 8 * 3), 3);
	CHECK_EQ(get32(r, USED_GPA + 4 + 8 * 0), 1);
	ring_free(r);
}

static void event_idx_suppresses_interrupts(void)
{
	struct ring *r = ring_new(8, true, false);

	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);
	CHECK(virtq_should_interrupt(&r->vq));       /* first one: no baseline */
	CHECK(!virtq_should_interrupt(&r->vq));      /* nothing new */

	put16(r, used_event_gpa(r), 2);              /* "tell me when entry 2 is used" */
	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);  /* entry 1 */
	CHECK(!virtq_should_interrupt(&r->vq));
	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);  /* entry 2 */
	CHECK(virtq_should_interrupt(&r->vq));

	put16(r, used_event_gpa(r), 5);              /* crossed inside a batch */
	for (int i = 0; i < 3; i++)
		CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);  /* entries 3, 4, 5 */
	CHECK(virtq_should_interrupt(&r->vq));

	put16(r, used_event_gpa(r), 4);              /* already behind us */
	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);
	CHECK(!virtq_should_interrupt(&r->vq));

	/* Across the 16-bit wrap. */
	ring_start_at(r, 65534);
	r->vq.signalled_used = 65534;
	put16(r, used_event_gpa(r), 0);
	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);  /* entry 65534 */
	CHECK(!virtq_should_interrupt(&r->vq));
	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);  /* 65535 */
	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);  /* 0 */
	CHECK(virtq_should_interrupt(&r->vq));
	CHECK_EQ(used_idx_in_ram(r), 1);

	/* The NO_INTERRUPT flag means nothing with EVENT_IDX. */
	put16(r, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	put16(r, used_event_gpa(r), 1);
	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);
	CHECK(virtq_should_interrupt(&r->vq));
	ring_free(r);
}

static void no_interrupt_flag(void)
{
	struct ring *r = ring_new(8, false, false);

	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);
	CHECK(virtq_should_interrupt(&r->vq));
	CHECK(!virtq_should_interrupt(&r->vq));      /* nothing new */
	put16(r, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);
	CHECK(!virtq_should_interrupt(&r->vq));
	put16(r, AVAIL_GPA, 0);
	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);
	CHECK(virtq_should_interrupt(&r->vq));
	/* used_event means nothing without EVENT_IDX. */
	put16(r, used_event_gpa(r), 100);
	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), 0);
	CHECK(virtq_should_interrupt(&r->vq));
	ring_free(r);
}

static void notify_with_flags(void)
{
	struct ring *r = ring_new(8, false, false);

	put16(r, USED_GPA, 0xffff);                  /* virtq_init resets the device's fields */
	put16(r, USED_GPA + 2, 0x1234);
	CHECK_EQ(virtq_init(&r->vq, &r->mem, 8, DESC_GPA, AVAIL_GPA, USED_GPA, false, false,
			    r->why, sizeof(r->why)), 0);
	CHECK_EQ(used_flags_in_ram(r), 0);
	CHECK_EQ(used_idx_in_ram(r), 0);

	virtq_disable_notify(&r->vq);
	CHECK_EQ(used_flags_in_ram(r), VIRTQ_USED_F_NO_NOTIFY);
	CHECK(!virtq_enable_notify(&r->vq));
	CHECK_EQ(used_flags_in_ram(r), 0);

	desc(r, 0, DATA_GPA, 1, 0, 0);
	virtq_disable_notify(&r->vq);
	offer(r, 0);                                 /* arrives while disabled */
	CHECK(virtq_enable_notify(&r->vq));
	CHECK_EQ(used_flags_in_ram(r), 0);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK(!virtq_enable_notify(&r->vq));
	CHECK_EQ(get16(r, avail_event_gpa(r)), 0);   /* only EVENT_IDX uses it */
	ring_free(r);
}

static void notify_with_event_idx(void)
{
	struct ring *r = ring_new(8, true, false);

	desc(r, 0, DATA_GPA, 1, 0, 0);
	offer(r, 0);
	offer(r, 0);
	virtq_disable_notify(&r->vq);
	CHECK_EQ(used_flags_in_ram(r), 0);           /* flags stay 0 with EVENT_IDX */
	CHECK_EQ(get16(r, avail_event_gpa(r)), 0);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(get16(r, avail_event_gpa(r)), 0);   /* left behind while draining */
	CHECK_EQ(pop(r), VIRTQ_POP_EMPTY);
	CHECK_EQ(get16(r, avail_event_gpa(r)), 2);   /* an empty queue re-arms */

	virtq_disable_notify(&r->vq);
	offer(r, 0);
	CHECK(virtq_enable_notify(&r->vq));
	CHECK_EQ(get16(r, avail_event_gpa(r)), 2);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK(!virtq_enable_notify(&r->vq));
	CHECK_EQ(get16(r, avail_event_gpa(r)), 3);
	CHECK_EQ(used_flags_in_ram(r), 0);
	ring_free(r);
}

/* A device that re-arms by itself (manual_rearm) drains to empty without
 * moving avail_event: the driver is not asked to notify until the device
 * calls virtq_enable_notify. */
static void manual_rearm_leaves_avail_event(void)
{
	struct ring *r = ring_new(8, true, false);

	r->vq.manual_rearm = true;
	desc(r, 0, DATA_GPA, 1, 0, 0);
	offer(r, 0);
	offer(r, 0);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(pop(r), VIRTQ_POP_EMPTY);
	CHECK_EQ(get16(r, avail_event_gpa(r)), 0);   /* not re-armed at empty */
	offer(r, 0);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);            /* the device still finds it */
	CHECK_EQ(pop(r), VIRTQ_POP_EMPTY);
	CHECK_EQ(get16(r, avail_event_gpa(r)), 0);
	CHECK(!virtq_enable_notify(&r->vq));
	CHECK_EQ(get16(r, avail_event_gpa(r)), 3);   /* re-armed when asked */
	ring_free(r);
}

static void copies_cross_iovec_boundaries(void)
{
	struct ring *r = ring_new(8, false, false);
	uint8_t buf[16];

	memcpy(ram(r, DATA_GPA, 3), "abc", 3);
	memcpy(ram(r, DATA_GPA + 0x10, 1), "d", 1);
	memcpy(ram(r, DATA_GPA + 0x20, 4), "efgh", 4);
	memset(ram(r, DATA_GPA + 0x100, 0x30), '.', 0x30);
	desc(r, 0, DATA_GPA, 3, VIRTQ_DESC_F_NEXT, 1);
	desc(r, 1, DATA_GPA + 0x10, 1, VIRTQ_DESC_F_NEXT, 2);
	desc(r, 2, DATA_GPA + 0x20, 4, VIRTQ_DESC_F_NEXT, 3);
	desc(r, 3, DATA_GPA + 0x100, 2, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 4);
	desc(r, 4, DATA_GPA + 0x110, 2, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 5);
	desc(r, 5, DATA_GPA + 0x120, 5, VIRTQ_DESC_F_WRITE, 0);
	offer(r, 0);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);

	memset(buf, 0, sizeof(buf));
	CHECK_EQ(virtq_chain_copy_from_out(&r->chain, 2, buf, 5), 5);
	CHECK(memcmp(buf, "cdefg", 5) == 0);
	CHECK_EQ(virtq_chain_copy_from_out(&r->chain, 0, buf, sizeof(buf)), 8);
	CHECK(memcmp(buf, "abcdefgh", 8) == 0);
	CHECK_EQ(virtq_chain_copy_from_out(&r->chain, 7, buf, 4), 1);
	CHECK_EQ(virtq_chain_copy_from_out(&r->chain, 8, buf, 4), 0);
	CHECK_EQ(virtq_chain_copy_from_out(&r->chain, UINT64_MAX, buf, 4), 0);

	CHECK_EQ(virtq_chain_copy_to_in(&r->chain, 1, "1234567", 7), 7);
	CHECK(memcmp(ram(r, DATA_GPA + 0x100, 2), ".1", 2) == 0);
	CHECK(memcmp(ram(r, DATA_GPA + 0x110, 2), "23", 2) == 0);
	CHECK(memcmp(ram(r, DATA_GPA + 0x120, 6), "4567..", 6) == 0);
	CHECK_EQ(virtq_chain_copy_to_in(&r->chain, 7, "XYZ", 3), 2);
	CHECK(memcmp(ram(r, DATA_GPA + 0x120, 6), "456XY.", 6) == 0);
	CHECK_EQ(virtq_chain_copy_to_in(&r->chain, 9, "Q", 1), 0);
	ring_free(r);
}

static void reset_forgets_the_queue(void)
{
	struct ring *r = ring_new(8, false, false);

	desc(r, 0, DATA_GPA, 1, 0, 0);
	offer(r, 0);
	virtq_reset(&r->vq);
	CHECK(!r->vq.ready);
	CHECK_EQ(pop(r), VIRTQ_POP_EMPTY);
	CHECK_EQ(virtq_push_used(&r->vq, 0, 0), -1);
	CHECK(!virtq_should_interrupt(&r->vq));
	ring_free(r);
}

/* ---- hostile rings ---- */

static void descriptor_loop(void)
{
	struct ring *r = ring_new(8, false, false);

	desc(r, 0, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	desc(r, 1, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 0);
	offer(r, 0);
	expect_broken(r, "longer than the queue size");
	ring_free(r);

	/* Zero-length descriptors fill no iovec but still count. */
	r = ring_new(1, false, false);
	desc(r, 0, 0, 0, VIRTQ_DESC_F_NEXT, 0);
	offer(r, 0);
	expect_broken(r, "longer than the queue size");
	ring_free(r);
}

static void chain_longer_than_queue(void)
{
	struct ring *r = ring_new(4, false, true);

	/* In a table: 0 -> 1 -> 2 -> 3 -> 1 -> ... */
	for (uint16_t i = 0; i < 4; i++)
		put_desc(r, TABLE_GPA, i, DATA_GPA, 0, VIRTQ_DESC_F_NEXT, i == 3 ? 1 : i + 1);
	desc(r, 2, TABLE_GPA, 4 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 2);
	expect_broken(r, "indirect chain is longer than 4");
	ring_free(r);

	/* A direct buffer and a full table are more than the iovec array holds. */
	r = ring_new(4, false, true);
	for (uint16_t i = 0; i < VIRTQ_MAX_CHAIN_IOV; i++)
		put_desc(r, TABLE_GPA, i, DATA_GPA, 1, i + 1 < VIRTQ_MAX_CHAIN_IOV ?
			 VIRTQ_DESC_F_NEXT : 0, i + 1);
	desc(r, 0, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	desc(r, 1, TABLE_GPA, VIRTQ_MAX_CHAIN_IOV * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 0);
	expect_broken(r, "more than 1024 buffers");
	/* Without the direct one it just fits. */
	desc(r, 2, TABLE_GPA, VIRTQ_MAX_CHAIN_IOV * 16, VIRTQ_DESC_F_INDIRECT, 0);
	put16(r, AVAIL_GPA + 4, 2);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(r->chain.nr_out, VIRTQ_MAX_CHAIN_IOV);
	ring_free(r);
}

static void index_beyond_queue(void)
{
	struct ring *r = ring_new(8, false, false);

	desc(r, 0, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 8);
	offer(r, 0);
	expect_broken(r, "next 8 is beyond the queue size 8");
	ring_free(r);

	r = ring_new(8, false, true);
	put_desc(r, TABLE_GPA, 0, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 2);
	desc(r, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 0);
	expect_broken(r, "next 2 is beyond the table's 2 entries");
	ring_free(r);
}

static void head_beyond_queue(void)
{
	struct ring *r = ring_new(8, false, false);

	offer(r, 8);
	expect_broken(r, "names head 8");
	ring_free(r);

	r = ring_new(8, false, false);
	offer(r, 0xffff);
	expect_broken(r, "names head 65535");
	ring_free(r);
}

static void buffer_outside_ram(void)
{
	static const struct { uint64_t addr; uint32_t len; } bad[] = {
		{ RAM_SIZE, 1 },                     /* just past the end */
		{ RAM_SIZE - 4, 8 },                 /* straddles the end */
		{ UINT64_MAX - 7, 16 },              /* addr + len wraps */
		{ UINT64_MAX, 1 },
		{ 0x100000000ull, 4 },               /* above 4 GiB, no RAM there */
		{ 0, RAM_SIZE + 1 },                 /* longer than RAM */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ring *r = ring_new(8, false, false);

		desc(r, 0, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
		desc(r, 1, bad[i].addr, bad[i].len, VIRTQ_DESC_F_WRITE, 0);
		offer(r, 0);
		expect_broken(r, "is not in guest RAM");
		ring_free(r);
	}
}

static void length_sum_overflow(void)
{
	/* 3 GiB of sparse RAM: two 2 GiB buffers are each fine, together too
	 * long; one byte less fits exactly in 32 bits. */
	struct ring *r = ring_new_in(3ull << 30, 8, false, false);

	desc(r, 0, 0, 0x80000000u, VIRTQ_DESC_F_NEXT, 1);
	desc(r, 1, 0, 0x80000000u, VIRTQ_DESC_F_WRITE, 0);
	offer(r, 0);
	expect_broken(r, "takes the chain past 4294967295 bytes");
	desc(r, 1, 0, 0x7fffffffu, VIRTQ_DESC_F_WRITE, 0);
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	CHECK_EQ(r->chain.out_len + r->chain.in_len, UINT32_MAX);
	ring_free(r);
}

static void readable_after_writable(void)
{
	struct ring *r = ring_new(8, false, true);

	desc(r, 0, DATA_GPA, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(r, 1, DATA_GPA, 1, 0, 0);
	offer(r, 0);
	expect_broken(r, "descriptor 1 is device-readable but follows a device-writable one");
	ring_free(r);

	/* Also across the step into an indirect table, even at length 0. */
	r = ring_new(8, false, true);
	desc(r, 0, DATA_GPA, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(r, 1, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	put_desc(r, TABLE_GPA, 0, DATA_GPA, 0, 0, 0);
	offer(r, 0);
	expect_broken(r, "device-readable but follows");
	ring_free(r);
}

static void nested_indirect(void)
{
	struct ring *r = ring_new(8, false, true);

	put_desc(r, TABLE_GPA, 0, DATA_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	put_desc(r, TABLE_GPA, 1, TABLE_GPA + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	put_desc(r, TABLE_GPA + 0x100, 0, DATA_GPA, 1, 0, 0);
	desc(r, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 0);
	expect_broken(r, "is indirect inside an indirect table");
	ring_free(r);
}

static void indirect_not_negotiated(void)
{
	struct ring *r = ring_new(8, false, false);

	put_desc(r, TABLE_GPA, 0, DATA_GPA, 1, 0, 0);
	desc(r, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(r, 0);
	expect_broken(r, "INDIRECT_DESC was not negotiated");
	ring_free(r);
}

static void bad_indirect_tables(void)
{
	static const struct { uint64_t addr; uint32_t len; const char *what; } bad[] = {
		{ TABLE_GPA, 24, "not a whole, non-zero number" },
		{ TABLE_GPA, 0, "not a whole, non-zero number" },
		{ TABLE_GPA, 1, "not a whole, non-zero number" },
		{ RAM_SIZE - 16, 32, "indirect table 0x" },
		{ UINT64_MAX - 15, 32, "is not in guest RAM" },
		{ RAM_SIZE, 16, "is not in guest RAM" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ring *r = ring_new(8, false, true);

		put_desc(r, TABLE_GPA, 0, DATA_GPA, 1, 0, 0);
		desc(r, 0, bad[i].addr, bad[i].len, VIRTQ_DESC_F_INDIRECT, 0);
		offer(r, 0);
		expect_broken(r, bad[i].what);
		ring_free(r);
	}
}

static void next_with_indirect(void)
{
	struct ring *r = ring_new(8, false, true);

	put_desc(r, TABLE_GPA, 0, DATA_GPA, 1, 0, 0);
	desc(r, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	desc(r, 1, DATA_GPA, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(r, 0);
	expect_broken(r, "both NEXT and INDIRECT");
	ring_free(r);
}

static void avail_index_jumps(void)
{
	struct ring *r = ring_new(8, false, false);

	desc(r, 0, DATA_GPA, 1, 0, 0);
	put16(r, AVAIL_GPA + 2, 9);
	expect_broken(r, "avail index jumped by 9");
	put16(r, AVAIL_GPA + 2, 8);                  /* a full queue is fine */
	CHECK_EQ(pop(r), VIRTQ_POP_CHAIN);
	ring_free(r);

	/* Backwards is a jump of almost 65536. */
	r = ring_new(8, false, false);
	ring_start_at(r, 10);
	put16(r, AVAIL_GPA + 2, 9);
	expect_broken(r, "avail index jumped by 65535");
	ring_free(r);

	/* Across the wrap: 65530 -> 3 is 9 entries. */
	r = ring_new(8, true, false);
	ring_start_at(r, 65530);
	put16(r, AVAIL_GPA + 2, 3);
	expect_broken(r, "avail index jumped by 9");
	ring_free(r);
}

static void init_refuses_bad_rings(void)
{
	static const struct {
		uint16_t size;
		uint64_t desc, avail, used;
		const char *what;
	} bad[] = {
		{ 0, DESC_GPA, AVAIL_GPA, USED_GPA, "not a power of two" },
		{ 3, DESC_GPA, AVAIL_GPA, USED_GPA, "not a power of two" },
		{ 96, DESC_GPA, AVAIL_GPA, USED_GPA, "not a power of two" },
		{ 2048, DESC_GPA, AVAIL_GPA, USED_GPA, "not a power of two" },
		{ 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA, "descriptor table at 0x1008 is not 16-byte aligned" },
		{ 8, DESC_GPA, AVAIL_GPA + 1, USED_GPA, "not 2-byte aligned" },
		{ 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2, "not 4-byte aligned" },
		{ 8, RAM_SIZE - 16 * 7, AVAIL_GPA, USED_GPA, "descriptor table at" },
		{ 8, DESC_GPA, RAM_SIZE - 20, USED_GPA, "available ring at" },
		{ 8, DESC_GPA, AVAIL_GPA, RAM_SIZE - 68, "used ring at" },
		{ 8, UINT64_MAX - 15, AVAIL_GPA, USED_GPA, "not in guest RAM" },
		{ 8, DESC_GPA, UINT64_MAX - 1, USED_GPA, "not in guest RAM" },
		{ 8, DESC_GPA, AVAIL_GPA, 0x100000000ull, "not in guest RAM" },
	};
	struct guest_memory mem;
	struct virtq vq;
	char err[128], why[256];

	CHECK_EQ(guest_memory_create(&mem, RAM_SIZE, false, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = 0;
		CHECK_EQ(virtq_init(&vq, &mem, bad[i].size, bad[i].desc, bad[i].avail,
				    bad[i].used, true, true, why, sizeof(why)), -1);
		CHECK(!vq.ready);
		if (!strstr(why, bad[i].what)) {
			fprintf(stderr, "  case %zu: reason \"%s\" lacks \"%s\"\n", i, why, bad[i].what);
			CHECK(strstr(why, bad[i].what) != NULL);
		}
	}
	/* Up to the last byte of RAM is fine, and so are 1 and the largest size. */
	CHECK_EQ(virtq_init(&vq, &mem, 8, RAM_SIZE - 0x200 - 16 * 8, RAM_SIZE - 22,
			    RAM_SIZE - 0x400 - 72, true, true, why, sizeof(why)), 0);
	CHECK(vq.ready);
	CHECK_EQ(virtq_init(&vq, &mem, 1, DESC_GPA, AVAIL_GPA, USED_GPA, false, false,
			    why, sizeof(why)), 0);
	CHECK_EQ(virtq_init(&vq, &mem, VIRTQ_MAX_SIZE, DESC_GPA, AVAIL_GPA, USED_GPA, false, false,
			    why, sizeof(why)), 0);
	/* A NULL reason buffer is allowed. */
	CHECK_EQ(virtq_init(&vq, &mem, 5, DESC_GPA, AVAIL_GPA, USED_GPA, false, false, NULL, 0), -1);
	guest_memory_destroy(&mem);
}

TEST_MAIN("virtqueue",
	TEST_CASE(simple_chain),
	TEST_CASE(out_then_in),
	TEST_CASE(zero_length_descriptors),
	TEST_CASE(indirect_tables),
	TEST_CASE(indices_wrap_around),
	TEST_CASE(event_idx_suppresses_interrupts),
	TEST_CASE(no_interrupt_flag),
	TEST_CASE(notify_with_flags),
	TEST_CASE(notify_with_event_idx),
	TEST_CASE(manual_rearm_leaves_avail_event),
	TEST_CASE(copies_cross_iovec_boundaries),
	TEST_CASE(reset_forgets_the_queue),
	TEST_CASE(descriptor_loop),
	TEST_CASE(chain_longer_than_queue),
	TEST_CASE(index_beyond_queue),
	TEST_CASE(head_beyond_queue),
	TEST_CASE(buffer_outside_ram),
	TEST_CASE(length_sum_overflow),
	TEST_CASE(readable_after_writable),
	TEST_CASE(nested_indirect),
	TEST_CASE(indirect_not_negotiated),
	TEST_CASE(bad_indirect_tables),
	TEST_CASE(next_with_indirect),
	TEST_CASE(avail_index_jumps),
	TEST_CASE(init_refuses_bad_rings))
