/* KVM memory slot numbers. Guest RAM takes slots 0 to
 * GUEST_MEMORY_MAX_REGIONS - 1 when the VM is made; the others, up to what
 * KVM offers, are handed out here to mappings that come and go while the
 * guest runs (a device's host pages, host_page_mapper.h), so that no two
 * users ever pick the same number. Thread-safe. */
#ifndef GVMM_MEMORY_SLOTS_H
#define GVMM_MEMORY_SLOTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* A device maps at most a few hundred ranges (virtio-gpu: 256). */
#define MEMORY_SLOTS_MAX  512

struct memory_slots {
	pthread_mutex_t lock;
	unsigned first, limit;                  /* handed out from [first, limit) */
	uint64_t taken[MEMORY_SLOTS_MAX / 64];  /* bit n: slot n is in use */
};

/* Slots [first, min(limit, MEMORY_SLOTS_MAX)) become available. */
void memory_slots_init(struct memory_slots *s, unsigned first, unsigned limit);
void memory_slots_destroy(struct memory_slots *s);
/* The lowest free slot, or -ENOSPC. */
int memory_slots_take(struct memory_slots *s);
/* Gives a taken slot back; anything else is ignored. */
void memory_slots_give_back(struct memory_slots *s, unsigned slot);

#endif
