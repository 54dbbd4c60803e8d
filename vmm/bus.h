/* An address space of device ranges (one for port I/O, one for MMIO).
 * Ranges are kept sorted and found by binary search. Registration may
 * happen while vCPUs run (a guest moving a PCI BAR), so the table is
 * guarded by a read-write lock; dispatch takes it shared. */
#ifndef GVMM_BUS_H
#define GVMM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Called for an access inside a registered range. offset is relative to
 * the range base; data holds len bytes (1, 2, 4 or 8; more for MMIO string
 * copies is not produced by KVM). For reads the callee fills data. */
typedef void (*bus_access_fn)(void *opaque, uint64_t offset, uint8_t *data,
			      uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	const char *name;
	bus_access_fn access;
	void *opaque;
};

struct bus {
	const char *name;          /* "pio" or "mmio", for messages */
	pthread_rwlock_t lock;
	struct bus_range *ranges;  /* sorted by base, never overlapping */
	unsigned nr_ranges;
	unsigned capacity;
	/* Unclaimed addresses already logged, so each is logged once. */
	pthread_mutex_t unclaimed_lock;
	uint64_t *unclaimed_seen;
	unsigned nr_unclaimed_seen;
};

void bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);

/* Returns 0, -EEXIST when the range overlaps another, -EINVAL for an
 * empty or wrapping range, -ENOMEM. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const char *name,
		 bus_access_fn access, void *opaque);
/* Removes the range that starts at base; -ENOENT when there is none. */
int bus_unregister(struct bus *bus, uint64_t base);

/* Dispatches one access. An address nobody claims reads as all ones and
 * swallows writes; it is logged once at debug level. Returns whether a
 * device claimed it. */
bool bus_dispatch(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len,
		  bool is_write);

#endif
