/* Split virtqueues, device side (virtio 1.2, section 2.7).
 *
 * The guest owns the descriptor table and the avail ring and may rewrite
 * them while we read, so every descriptor is copied out once and checked
 * as a snapshot; the walk never follows a guest pointer without asking
 * guest_memory_ptr whether the whole range is RAM. Indices are bounded by
 * the queue size (or the indirect table's length) and chains by a count,
 * so a looping chain ends in a refusal rather than a hang.
 *
 * Memory ordering: the driver publishes ring entries before it bumps
 * avail->idx, so avail->idx is loaded with acquire before any entry it
 * covers is read; the device writes used elements before it bumps
 * used->idx, so that store is a release. Where the device changes a
 * suppression field and then reads the driver's index (or the other way
 * round), a full fence sits in between: store-then-load is the one order
 * acquire/release does not give. */
#include "virtqueue.h"

#include "iov.h"

#include <endian.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The used element reports written bytes in 32 bits and no request gvmm
 * serves comes near 4 GiB, so a chain describing more is refused. */
#define VIRTQ_MAX_CHAIN_BYTES  UINT32_MAX

/* A descriptor as it lies in guest memory (little-endian). */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc is 16 bytes in guest memory");

/* A used ring element as it lies in guest memory (little-endian). */
struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem is 8 bytes in guest memory");

static void say(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* Ring layout: where each field the walker touches lives. */

static uint64_t avail_flags_gpa(const struct virtq *vq) { return vq->avail_gpa; }
static uint64_t avail_idx_gpa(const struct virtq *vq) { return vq->avail_gpa + 2; }
static uint64_t used_flags_gpa(const struct virtq *vq) { return vq->used_gpa; }
static uint64_t used_idx_gpa(const struct virtq *vq) { return vq->used_gpa + 2; }

static uint64_t avail_ring_gpa(const struct virtq *vq, uint16_t slot)
{
	return vq->avail_gpa + 4 + 2 * (uint64_t)(slot & (vq->size - 1));
}

static uint64_t used_ring_gpa(const struct virtq *vq, uint16_t slot)
{
	return vq->used_gpa + 4 + 8 * (uint64_t)(slot & (vq->size - 1));
}

/* EVENT_IDX's fields trail the rings: used_event after the avail ring
 * (written by the driver), avail_event after the used ring (by us). */
static uint64_t used_event_gpa(const struct virtq *vq)
{
	return vq->avail_gpa + 4 + 2 * (uint64_t)vq->size;
}

static uint64_t avail_event_gpa(const struct virtq *vq)
{
	return vq->used_gpa + 4 + 8 * (uint64_t)vq->size;
}

static uint64_t desc_bytes(uint16_t size) { return 16 * (uint64_t)size; }
static uint64_t avail_bytes(uint16_t size) { return 6 + 2 * (uint64_t)size; }
static uint64_t used_bytes(uint16_t size) { return 6 + 8 * (uint64_t)size; }

/* 16-bit ring fields. virtq_init checked the rings' placement and 2-byte
 * alignment, so these only fail if that was skipped; callers still check. */

static bool load_u16(const struct virtq *vq, uint64_t gpa, int order, uint16_t *val)
{
	uint16_t *p = guest_memory_ptr(vq->mem, gpa, sizeof(*p));

	if (!p)
		return false;
	if (order == __ATOMIC_ACQUIRE)
		*val = le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
	else
		*val = le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
	return true;
}

static bool store_u16(const struct virtq *vq, uint64_t gpa, int order, uint16_t val)
{
	uint16_t *p = guest_memory_ptr(vq->mem, gpa, sizeof(*p));

	if (!p)
		return false;
	if (order == __ATOMIC_RELEASE)
		__atomic_store_n(p, htole16(val), __ATOMIC_RELEASE);
	else
		__atomic_store_n(p, htole16(val), __ATOMIC_RELAXED);
	return true;
}

static bool read_desc(const struct virtq *vq, uint64_t gpa, struct virtq_desc *d)
{
	if (guest_memory_read(vq->mem, gpa, d, sizeof(*d)))
		return false;
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
	return true;
}

static bool ring_fits(const struct guest_memory *mem, const char *name,
		      uint64_t gpa, uint64_t len, uint64_t align,
		      char *why, size_t whylen)
{
	if (gpa % align) {
		say(why, whylen, "%s at 0x%llx is not %llu-byte aligned", name,
		    (unsigned long long)gpa, (unsigned long long)align);
		return false;
	}
	if (!guest_memory_ptr(mem, gpa, len)) {
		say(why, whylen, "%s at 0x%llx (%llu bytes) is not in guest RAM", name,
		    (unsigned long long)gpa, (unsigned long long)len);
		return false;
	}
	return true;
}

int virtq_init(struct virtq *vq, const struct guest_memory *mem, uint16_t size,
	       uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
	       bool event_idx, bool indirect, char *why, size_t whylen)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	if (!mem) {
		say(why, whylen, "no guest memory");
		return -1;
	}
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1))) {
		say(why, whylen, "queue size %u is not a power of two from 1 to %u",
		    size, VIRTQ_MAX_SIZE);
		return -1;
	}
	/* Alignments from the spec's table in 2.7; the 2-byte ones also keep
	 * our atomic 16-bit accesses naturally aligned. */
	if (!ring_fits(mem, "descriptor table", desc_gpa, desc_bytes(size), 16, why, whylen) ||
	    !ring_fits(mem, "available ring", avail_gpa, avail_bytes(size), 2, why, whylen) ||
	    !ring_fits(mem, "used ring", used_gpa, used_bytes(size), 4, why, whylen))
		return -1;

	vq->size = size;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->desc_gpa = desc_gpa;
	vq->avail_gpa = avail_gpa;
	vq->used_gpa = used_gpa;
	vq->ready = true;
	/* The device's half of the ring starts where our counters do, with
	 * notifications wanted, whatever the driver left in that memory. */
	store_u16(vq, used_flags_gpa(vq), __ATOMIC_RELAXED, 0);
	store_u16(vq, avail_event_gpa(vq), __ATOMIC_RELAXED, 0);
	store_u16(vq, used_idx_gpa(vq), __ATOMIC_RELEASE, 0);
	return 0;
}

void virtq_reset(struct virtq *vq)
{
	const struct guest_memory *mem = vq->mem;

	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
}

/* The state of one chain walk. */
struct chain_walk {
	const struct virtq *vq;
	struct virtq_chain *chain;
	uint64_t total;          /* bytes in all buffers so far */
	bool seen_in;            /* a device-writable descriptor came already */
	char *why;
	size_t whylen;
};

/* Which descriptor a walk is at, for messages only. */
struct desc_ref {
	uint16_t idx;
	bool in_table;           /* idx is in the indirect table that ... */
	uint16_t owner;          /* ... this descriptor of the queue points at */
};

static void say_desc(const struct chain_walk *w, const struct desc_ref *ref,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "descriptor 5<fmt>", or "descriptor 2 of the indirect table in
 * descriptor 5<fmt>"; formatted only on failure, off the hot path. */
static void say_desc(const struct chain_walk *w, const struct desc_ref *ref,
		     const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!w->why || !w->whylen)
		return;
	if (ref->in_table)
		n = snprintf(w->why, w->whylen, "descriptor %u of the indirect table in descriptor %u",
			     ref->idx, ref->owner);
	else
		n = snprintf(w->why, w->whylen, "descriptor %u", ref->idx);
	if (n < 0 || (size_t)n >= w->whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(w->why + n, w->whylen - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool add_buffer(struct chain_walk *w, const struct virtq_desc *d,
		       const struct desc_ref *ref)
{
	struct virtq_chain *c = w->chain;
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	void *host;

	if (!writable && w->seen_in) {
		say_desc(w, ref, " is device-readable but follows a device-writable one");
		return false;
	}
	w->seen_in |= writable;
	if (d->len == 0)
		return true;
	if (d->len > VIRTQ_MAX_CHAIN_BYTES - w->total) {
		say_desc(w, ref, " takes the chain past %llu bytes",
			 (unsigned long long)VIRTQ_MAX_CHAIN_BYTES);
		return false;
	}
	host = guest_memory_ptr(w->vq->mem, d->addr, d->len);
	if (!host) {
		say_desc(w, ref, ": buffer 0x%llx (%u bytes) is not in guest RAM",
			 (unsigned long long)d->addr, d->len);
		return false;
	}
	if (c->nr_out + c->nr_in >= VIRTQ_MAX_CHAIN_IOV) {
		say_desc(w, ref, ": chain has more than %u buffers", VIRTQ_MAX_CHAIN_IOV);
		return false;
	}
	c->iov[c->nr_out + c->nr_in] = (struct iovec){ .iov_base = host, .iov_len = d->len };
	if (writable) {
		c->nr_in++;
		c->in_len += d->len;
	} else {
		c->nr_out++;
		c->out_len += d->len;
	}
	w->total += d->len;
	return true;
}

/* Walks the table an INDIRECT descriptor points at; it ends the chain. */
static bool walk_indirect(struct chain_walk *w, const struct virtq_desc *ind, uint16_t owner)
{
	const struct virtq *vq = w->vq;
	uint32_t entries, limit, count = 0;
	uint16_t idx = 0;

	if (!vq->indirect) {
		say(w->why, w->whylen, "descriptor %u is indirect but INDIRECT_DESC was not negotiated",
		    owner);
		return false;
	}
	if (ind->flags & VIRTQ_DESC_F_NEXT) {
		say(w->why, w->whylen, "descriptor %u has both NEXT and INDIRECT", owner);
		return false;
	}
	if (ind->len == 0 || ind->len % sizeof(struct virtq_desc)) {
		say(w->why, w->whylen, "descriptor %u: indirect table of %u bytes is not a whole, "
		    "non-zero number of descriptors", owner, ind->len);
		return false;
	}
	if (!guest_memory_ptr(vq->mem, ind->addr, ind->len)) {
		say(w->why, w->whylen, "descriptor %u: indirect table 0x%llx (%u bytes) is not in guest RAM",
		    owner, (unsigned long long)ind->addr, ind->len);
		return false;
	}
	entries = ind->len / sizeof(struct virtq_desc);
	/* A chain can use each entry once; beyond the iovec array's length it
	 * could not be served anyway, and stopping there bounds the walk. */
	limit = entries < VIRTQ_MAX_CHAIN_IOV ? entries : VIRTQ_MAX_CHAIN_IOV;
	for (;;) {
		struct desc_ref ref = { .idx = idx, .in_table = true, .owner = owner };
		struct virtq_desc d;

		if (++count > limit) {
			say(w->why, w->whylen, "descriptor %u: indirect chain is longer than %u "
			    "descriptors (a loop?)", owner, limit);
			return false;
		}
		/* idx < entries, and the whole table is RAM: no overflow here. */
		if (!read_desc(vq, ind->addr + (uint64_t)idx * sizeof(d), &d)) {
			say_desc(w, &ref, " is not in guest RAM");
			return false;
		}
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			say_desc(w, &ref, " is indirect inside an indirect table");
			return false;
		}
		if (!add_buffer(w, &d, &ref))
			return false;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return true;
		if (d.next >= entries) {
			say_desc(w, &ref, ": next %u is beyond the table's %u entries",
				 d.next, entries);
			return false;
		}
		idx = d.next;
	}
}

static bool walk_chain(struct chain_walk *w, uint16_t head)
{
	const struct virtq *vq = w->vq;
	uint16_t idx = head;
	unsigned count = 0;

	for (;;) {
		struct desc_ref ref = { .idx = idx };
		struct virtq_desc d;

		if (++count > vq->size) {
			say(w->why, w->whylen, "chain from head %u is longer than the queue size %u "
			    "(a loop?)", head, vq->size);
			return false;
		}
		if (!read_desc(vq, vq->desc_gpa + (uint64_t)idx * sizeof(d), &d)) {
			say_desc(w, &ref, " is not in guest RAM");
			return false;
		}
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return walk_indirect(w, &d, idx);
		if (!add_buffer(w, &d, &ref))
			return false;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return true;
		if (d.next >= vq->size) {
			say_desc(w, &ref, ": next %u is beyond the queue size %u",
				 d.next, vq->size);
			return false;
		}
		idx = d.next;
	}
}

/* With EVENT_IDX, an empty queue asks the driver to notify on the very
 * next entry, and then looks again: an entry added between our look and
 * the store would otherwise come without a notification and sit there.
 * This way a device that just pops until EMPTY is always re-armed (unless
 * it re-arms by itself: manual_rearm). */
static bool rearm_and_recheck(struct virtq *vq, uint16_t *avail_idx)
{
	if (!store_u16(vq, avail_event_gpa(vq), __ATOMIC_RELAXED, vq->last_avail_idx))
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load_u16(vq, avail_idx_gpa(vq), __ATOMIC_ACQUIRE, avail_idx);
}

enum virtq_pop_result virtq_pop_chain(struct virtq *vq, struct virtq_chain *chain,
				      char *why, size_t whylen)
{
	struct chain_walk w = { .vq = vq, .chain = chain, .why = why, .whylen = whylen };
	uint16_t avail_idx, pending, head;

	if (!vq->ready)
		return VIRTQ_POP_EMPTY;
	if (!load_u16(vq, avail_idx_gpa(vq), __ATOMIC_ACQUIRE, &avail_idx)) {
		say(why, whylen, "available ring is not in guest RAM");
		return VIRTQ_POP_BROKEN;
	}
	pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (pending == 0 && vq->event_idx && !vq->manual_rearm) {
		if (!rearm_and_recheck(vq, &avail_idx)) {
			say(why, whylen, "rings are not in guest RAM");
			return VIRTQ_POP_BROKEN;
		}
		pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	}
	if (pending == 0)
		return VIRTQ_POP_EMPTY;
	if (pending > vq->size) {
		say(why, whylen, "avail index jumped by %u (from %u to %u) in a queue of %u",
		    pending, vq->last_avail_idx, avail_idx, vq->size);
		return VIRTQ_POP_BROKEN;
	}
	/* Ordered after the acquire load of avail->idx above. */
	if (!load_u16(vq, avail_ring_gpa(vq, vq->last_avail_idx), __ATOMIC_RELAXED, &head)) {
		say(why, whylen, "available ring is not in guest RAM");
		return VIRTQ_POP_BROKEN;
	}
	if (head >= vq->size) {
		say(why, whylen, "avail entry %u names head %u, beyond the queue size %u",
		    vq->last_avail_idx, head, vq->size);
		return VIRTQ_POP_BROKEN;
	}
	chain->head = head;
	chain->nr_out = chain->nr_in = 0;
	chain->out_len = chain->in_len = 0;
	if (!walk_chain(&w, head))
		return VIRTQ_POP_BROKEN;
	vq->last_avail_idx++;
	return VIRTQ_POP_CHAIN;
}

int virtq_push_used(struct virtq *vq, uint16_t head, uint32_t written)
{
	struct virtq_used_elem elem = { .id = htole32(head), .len = htole32(written) };

	if (!vq->ready)
		return -1;
	if (guest_memory_write(vq->mem, used_ring_gpa(vq, vq->used_idx), &elem, sizeof(elem)))
		return -1;
	/* Release: the element is visible before the index that covers it. */
	if (!store_u16(vq, used_idx_gpa(vq), __ATOMIC_RELEASE, (uint16_t)(vq->used_idx + 1)))
		return -1;
	vq->used_idx++;
	return 0;
}

int virtq_push_used_n(struct virtq *vq, const uint16_t *heads, const uint32_t *written,
		      unsigned n)
{
	if (!vq->ready || n > vq->size)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		struct virtq_used_elem elem = { .id = htole32(heads[i]), .len = htole32(written[i]) };

		if (guest_memory_write(vq->mem, used_ring_gpa(vq, (uint16_t)(vq->used_idx + i)),
				       &elem, sizeof(elem)))
			return -1;
	}
	if (!store_u16(vq, used_idx_gpa(vq), __ATOMIC_RELEASE, (uint16_t)(vq->used_idx + n)))
		return -1;
	vq->used_idx = (uint16_t)(vq->used_idx + n);
	return 0;
}

void virtq_unpop(struct virtq *vq, unsigned n)
{
	vq->last_avail_idx = (uint16_t)(vq->last_avail_idx - n);
}

/* True when new_idx has moved past event since old, all mod 2^16: the
 * driver asked to hear when entry `event` is used, and it was among
 * old .. new_idx - 1. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_should_interrupt(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, driver_value;
	bool old_valid = vq->signalled_used_valid;

	if (!vq->ready)
		return false;
	if (old_valid && old == vq->used_idx)
		return false;       /* nothing used since the last decision */
	vq->signalled_used = vq->used_idx;
	vq->signalled_used_valid = true;
	/* Our used->idx store must be visible before we read what the driver
	 * wants, or a driver re-enabling interrupts could miss this batch. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		if (!load_u16(vq, used_event_gpa(vq), __ATOMIC_RELAXED, &driver_value))
			return true;
		/* Without a baseline (first time after init) interrupt anyway. */
		return !old_valid || need_event(driver_value, vq->used_idx, old);
	}
	if (!load_u16(vq, avail_flags_gpa(vq), __ATOMIC_RELAXED, &driver_value))
		return true;
	return !(driver_value & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

void virtq_disable_notify(struct virtq *vq)
{
	if (!vq->ready)
		return;
	/* With EVENT_IDX the flags must stay 0 (2.7.10); avail_event is
	 * simply left where it was, and as the driver's avail index runs
	 * past it the driver stops notifying. */
	if (vq->event_idx)
		return;
	store_u16(vq, used_flags_gpa(vq), __ATOMIC_RELAXED, VIRTQ_USED_F_NO_NOTIFY);
}

bool virtq_enable_notify(struct virtq *vq)
{
	uint16_t avail_idx;

	if (!vq->ready)
		return false;
	if (vq->event_idx)
		store_u16(vq, avail_event_gpa(vq), __ATOMIC_RELAXED, vq->last_avail_idx);
	else
		store_u16(vq, used_flags_gpa(vq), __ATOMIC_RELAXED, 0);
	/* The driver checks our field after bumping its index; we check its
	 * index after writing our field. One of us sees the other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!load_u16(vq, avail_idx_gpa(vq), __ATOMIC_ACQUIRE, &avail_idx))
		return false;
	return avail_idx != vq->last_avail_idx;
}

size_t virtq_chain_copy_from_out(const struct virtq_chain *chain, uint64_t offset,
				 void *dst, size_t len)
{
	unsigned n = chain->nr_out;

	if (!len || !dst)
		return 0;
	if (n > VIRTQ_MAX_CHAIN_IOV)
		n = VIRTQ_MAX_CHAIN_IOV;
	return iov_to_buf(chain->iov, n, offset, dst, len);
}

size_t virtq_chain_copy_to_in(const struct virtq_chain *chain, uint64_t offset,
			      const void *src, size_t len)
{
	unsigned first = chain->nr_out, n = chain->nr_in;

	if (!len || !src || first > VIRTQ_MAX_CHAIN_IOV)
		return 0;
	if (n > VIRTQ_MAX_CHAIN_IOV - first)
		n = VIRTQ_MAX_CHAIN_IOV - first;
	return iov_from_buf(chain->iov + first, n, offset, src, len);
}
