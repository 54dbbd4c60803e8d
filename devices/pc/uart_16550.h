/* A 16550A UART at a legacy COM port, as Linux's 8250 driver probes and
 * drives it: eight registers, a 16-byte receive FIFO, the IIR priority
 * scheme, and an interrupt output that reaches the interrupt controller
 * only while MCR.OUT2 is set, as on a PC. The transmitter is infinitely
 * fast: a byte written to THR goes to ops->transmit at once, so LSR always
 * reports THRE and TEMT.
 *
 * Input arrives through uart_16550_receive(), which takes only what fits in
 * the FIFO. When it had to turn bytes away, the UART calls ops->rx_space
 * once the guest has made room, so the backend can offer the rest; nothing
 * is ever dropped on the receive side.
 *
 * Locking: one mutex per UART. Accesses come from vCPU threads, input from
 * the event-loop thread. The callbacks in ops run without the lock held, so
 * they may block on their output or call uart_16550_receive(). */
#ifndef GVMM_UART_16550_H
#define GVMM_UART_16550_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../vmm/irq_line.h"

#define UART_16550_NR_PORTS  8   /* I/O ports the UART occupies */
#define UART_16550_FIFO_SIZE 16

struct uart_16550_ops {
	/* One byte the guest transmitted. */
	void (*transmit)(void *opaque, uint8_t byte);
	/* The guest made room in the receive FIFO after uart_16550_receive()
	 * took less than it was offered: the backend may offer more input. */
	void (*rx_space)(void *opaque);
};

struct uart_16550 {
	pthread_mutex_t lock;
	struct irq_line irq;
	const struct uart_16550_ops *ops;  /* may be NULL: output is dropped */
	void *opaque;                      /* for the ops */

	uint8_t rx_fifo[UART_16550_FIFO_SIZE];
	unsigned rx_head;      /* slot of the oldest received byte */
	unsigned rx_count;
	uint8_t rx_last;       /* what RBR reads back once the FIFO is empty */

	uint16_t divisor;      /* DLM:DLL; stored only, the line has no speed */
	uint8_t ier;
	uint8_t fcr;           /* FIFO enable and receive trigger bits as written */
	uint8_t lcr;
	uint8_t mcr;
	uint8_t scr;
	uint8_t lsr_errors;    /* sticky LSR error bits (overrun), cleared by reading LSR */
	uint8_t msr_lines;     /* modem input lines: MSR bits 4-7 */
	uint8_t msr_deltas;    /* MSR bits 0-3, cleared by reading MSR */

	bool thre_pending;     /* THR-empty interrupt raised and not yet acknowledged */
	bool rx_starved;       /* receive turned bytes away; the backend awaits rx_space */
	bool irq_level;        /* the level last driven on the line */
};

/* irq is copied; ops and opaque must outlive the UART. */
void uart_16550_init(struct uart_16550 *u, const struct irq_line *irq,
		     const struct uart_16550_ops *ops, void *opaque);
void uart_16550_destroy(struct uart_16550 *u);

/* bus_access_fn for the UART_16550_NR_PORTS ports. Wider accesses are
 * split into byte accesses to consecutive registers. */
void uart_16550_access(void *uart, uint64_t offset, uint8_t *data, uint32_t len,
		       bool is_write);

/* Offers input from the outside world. Returns how many bytes of buf were
 * taken; the caller keeps the rest until ops->rx_space. */
size_t uart_16550_receive(struct uart_16550 *u, const uint8_t *buf, size_t len);

#endif
