/* An interrupt line as a device sees it: a level it can raise or lower.
 * The VM supplies set_level (KVM_IRQ_LINE on the in-kernel irqchip);
 * unit tests supply their own. */
#ifndef GVMM_IRQ_LINE_H
#define GVMM_IRQ_LINE_H

#include <stdbool.h>

struct irq_line {
	void (*set_level)(void *ctx, unsigned gsi, bool level);
	void *ctx;
	unsigned gsi;
};

static inline void irq_line_set(const struct irq_line *line, bool level)
{
	if (line->set_level)
		line->set_level(line->ctx, line->gsi, level);
}

#endif
