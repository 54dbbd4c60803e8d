#include "bus.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define BUS_UNCLAIMED_LOG_MAX 256

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
	pthread_mutex_init(&bus->unclaimed_lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	free(bus->unclaimed_seen);
	pthread_rwlock_destroy(&bus->lock);
	pthread_mutex_destroy(&bus->unclaimed_lock);
	memset(bus, 0, sizeof(*bus));
}

/* Index of the first range whose base is greater than addr. */
static unsigned bus_upper_bound(const struct bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nr_ranges;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	unsigned i = bus_upper_bound(bus, addr);
	const struct bus_range *r;

	if (i == 0)
		return NULL;
	r = &bus->ranges[i - 1];
	return addr - r->base < r->len ? r : NULL;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const char *name,
		 bus_access_fn access, void *opaque)
{
	unsigned pos;
	int ret = 0;

	if (len == 0 || base + len - 1 < base || !access)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	pos = bus_upper_bound(bus, base);
	if ((pos > 0 && base - bus->ranges[pos - 1].base < bus->ranges[pos - 1].len) ||
	    (pos < bus->nr_ranges && bus->ranges[pos].base - base < len)) {
		ret = -EEXIST;
		goto out;
	}
	if (bus->nr_ranges == bus->capacity) {
		unsigned cap = bus->capacity ? bus->capacity * 2 : 16;
		struct bus_range *grown = realloc(bus->ranges, cap * sizeof(*grown));

		if (!grown) {
			ret = -ENOMEM;
			goto out;
		}
		bus->ranges = grown;
		bus->capacity = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos],
		(bus->nr_ranges - pos) * sizeof(*bus->ranges));
	bus->ranges[pos] = (struct bus_range){
		.base = base, .len = len, .name = name,
		.access = access, .opaque = opaque,
	};
	bus->nr_ranges++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, uint64_t base)
{
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	for (unsigned i = 0; i < bus->nr_ranges; i++) {
		if (bus->ranges[i].base != base)
			continue;
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nr_ranges - i - 1) * sizeof(*bus->ranges));
		bus->nr_ranges--;
		ret = 0;
		break;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

static void bus_note_unclaimed(struct bus *bus, uint64_t addr, uint32_t len,
			       bool is_write)
{
	bool first = true;

	pthread_mutex_lock(&bus->unclaimed_lock);
	for (unsigned i = 0; i < bus->nr_unclaimed_seen; i++)
		if (bus->unclaimed_seen[i] == addr)
			first = false;
	if (first && bus->nr_unclaimed_seen < BUS_UNCLAIMED_LOG_MAX) {
		uint64_t *grown = realloc(bus->unclaimed_seen,
					  (bus->nr_unclaimed_seen + 1) * sizeof(*grown));
		if (grown) {
			bus->unclaimed_seen = grown;
			bus->unclaimed_seen[bus->nr_unclaimed_seen++] = addr;
		}
	} else if (first) {
		first = false;  /* past the cap: stay quiet rather than grow */
	}
	pthread_mutex_unlock(&bus->unclaimed_lock);
	if (first)
		log_debug("%s: unclaimed %u-byte %s at 0x%" PRIx64, bus->name, len,
			  is_write ? "write" : "read", addr);
}

bool bus_dispatch(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len,
		  bool is_write)
{
	const struct bus_range *r;
	bus_access_fn access = NULL;
	void *opaque = NULL;
	uint64_t offset = 0;

	pthread_rwlock_rdlock(&bus->lock);
	r = bus_find(bus, addr);
	if (r) {
		access = r->access;
		opaque = r->opaque;
		offset = addr - r->base;
	}
	pthread_rwlock_unlock(&bus->lock);

	if (access) {
		access(opaque, offset, data, len, is_write);
		return true;
	}
	if (!is_write)
		memset(data, 0xff, len);
	bus_note_unclaimed(bus, addr, len, is_write);
	return false;
}
