#include "memory_slots.h"

#include <errno.h>
#include <string.h>

void memory_slots_init(struct memory_slots *s, unsigned first, unsigned limit)
{
	memset(s->taken, 0, sizeof(s->taken));
	s->limit = limit < MEMORY_SLOTS_MAX ? limit : MEMORY_SLOTS_MAX;
	s->first = first < s->limit ? first : s->limit;
	pthread_mutex_init(&s->lock, NULL);
}

void memory_slots_destroy(struct memory_slots *s)
{
	pthread_mutex_destroy(&s->lock);
}

static bool is_taken(const struct memory_slots *s, unsigned slot)
{
	return s->taken[slot / 64] & 1ull << (slot % 64);
}

int memory_slots_take(struct memory_slots *s)
{
	int found = -ENOSPC;

	pthread_mutex_lock(&s->lock);
	for (unsigned slot = s->first; slot < s->limit; slot++)
		if (!is_taken(s, slot)) {
			s->taken[slot / 64] |= 1ull << (slot % 64);
			found = (int)slot;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return found;
}

void memory_slots_give_back(struct memory_slots *s, unsigned slot)
{
	pthread_mutex_lock(&s->lock);
	if (slot >= s->first && slot < s->limit)
		s->taken[slot / 64] &= ~(1ull << (slot % 64));
	pthread_mutex_unlock(&s->lock);
}
