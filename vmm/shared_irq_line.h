/* A level-triggered interrupt line that several sources drive together,
 * as PCI INTx pins are wired-OR on a board: the line is high while any
 * source holds it high. Each source sets only its own level; the line
 * below (out) changes only when the OR does, so one source lowering its
 * level cannot drop another's pending interrupt.
 *
 * Thread-safe: sources raise and lower from any thread (device threads,
 * vCPUs writing config space). The lock is held across the call to out,
 * so the line always ends in the state of the last OR computed, whichever
 * thread ran last. A leaf lock: out must not call back into the VMM. */
#ifndef GVMM_SHARED_IRQ_LINE_H
#define GVMM_SHARED_IRQ_LINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "irq_line.h"

#define SHARED_IRQ_LINE_MAX_SOURCES 64

struct shared_irq_line {
	pthread_mutex_t lock;
	struct irq_line out;
	uint64_t asserted;     /* bit N: source N holds the line high */
	bool level;            /* what out was last driven to */
};

/* out is copied; the line starts low (as KVM's lines do). */
void shared_irq_line_init(struct shared_irq_line *s, const struct irq_line *out);
void shared_irq_line_destroy(struct shared_irq_line *s);

/* Sets source's level (source < SHARED_IRQ_LINE_MAX_SOURCES; others are
 * ignored) and drives out when the OR of all levels changes. */
void shared_irq_line_set(struct shared_irq_line *s, unsigned source, bool level);

/* Whether the line is high now. */
bool shared_irq_line_level(struct shared_irq_line *s);

#endif
