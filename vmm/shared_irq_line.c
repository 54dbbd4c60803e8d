#include "shared_irq_line.h"

#include <string.h>

void shared_irq_line_init(struct shared_irq_line *s, const struct irq_line *out)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	if (out)
		s->out = *out;
}

void shared_irq_line_destroy(struct shared_irq_line *s)
{
	pthread_mutex_destroy(&s->lock);
}

void shared_irq_line_set(struct shared_irq_line *s, unsigned source, bool level)
{
	uint64_t bit;
	bool any;

	if (source >= SHARED_IRQ_LINE_MAX_SOURCES)
		return;
	bit = 1ull << source;
	pthread_mutex_lock(&s->lock);
	s->asserted = level ? s->asserted | bit : s->asserted & ~bit;
	any = s->asserted != 0;
	if (any != s->level) {
		s->level = any;
		irq_line_set(&s->out, any);
	}
	pthread_mutex_unlock(&s->lock);
}

bool shared_irq_line_level(struct shared_irq_line *s)
{
	bool level;

	pthread_mutex_lock(&s->lock);
	level = s->level;
	pthread_mutex_unlock(&s->lock);
	return level;
}
