#include "log_limit.h"

#include <string.h>

#include "monotonic_clock.h"

void log_limit_init(struct log_limit *l, uint64_t interval_ns)
{
	memset(l, 0, sizeof(*l));
	l->interval_ns = interval_ns;
}

bool log_limit_allow(struct log_limit *l, uint64_t now_ns, uint64_t *unlogged)
{
	l->count++;
	if (l->count > 1 && now_ns - l->last_ns < l->interval_ns) {
		l->unlogged++;
		return false;
	}
	*unlogged = l->unlogged;
	l->unlogged = 0;
	l->last_ns = now_ns;
	return true;
}

uint64_t log_limit_now_ns(void)
{
	return monotonic_ns();
}
