#include "uart_16550.h"

#include <string.h>

/* Register offsets; several share an offset and are told apart by the
 * direction of the access or by LCR.DLAB. */
enum {
	REG_RBR_THR_DLL = 0,
	REG_IER_DLM     = 1,
	REG_IIR_FCR     = 2,
	REG_LCR         = 3,
	REG_MCR         = 4,
	REG_LSR         = 5,
	REG_MSR         = 6,
	REG_SCR         = 7,
};

#define IER_RDI            0x01  /* received data available */
#define IER_THRI           0x02  /* transmitter holding register empty */
#define IER_RLSI           0x04  /* receiver line status */
#define IER_MSI            0x08  /* modem status */
#define IER_MASK           0x0f  /* the 16550A has no other IER bits */

#define IIR_NO_INT         0x01
#define IIR_MSI            0x00
#define IIR_THRI           0x02
#define IIR_RDI            0x04
#define IIR_RLSI           0x06
#define IIR_RX_TIMEOUT     0x0c
#define IIR_FIFOS_ENABLED  0xc0

#define FCR_ENABLE         0x01
#define FCR_CLEAR_RX       0x02
#define FCR_TRIGGER_MASK   0xc0
#define FCR_TRIGGER_SHIFT  6

#define LCR_DLAB           0x80

#define MCR_DTR            0x01
#define MCR_RTS            0x02
#define MCR_OUT1           0x04
#define MCR_OUT2           0x08
#define MCR_LOOP           0x10
#define MCR_MASK           0x1f

#define LSR_DR             0x01
#define LSR_OE             0x02
#define LSR_THRE           0x20
#define LSR_TEMT           0x40

#define MSR_DCTS           0x01
#define MSR_DDSR           0x02
#define MSR_TERI           0x04
#define MSR_DDCD           0x08
#define MSR_CTS            0x10
#define MSR_DSR            0x20
#define MSR_RI             0x40
#define MSR_DCD            0x80

/* Linux adopts the divisor it finds when a console is set up without a
 * baud rate and divides by it, so it must never read as zero: start at
 * 115200 baud. */
#define DEFAULT_DIVISOR    1

static unsigned rx_capacity(const struct uart_16550 *u)
{
	/* With FIFOs off the 16550A works as a 16450: one holding register. */
	return (u->fcr & FCR_ENABLE) ? UART_16550_FIFO_SIZE : 1;
}

static unsigned rx_trigger_level(const struct uart_16550 *u)
{
	static const uint8_t levels[] = { 1, 4, 8, 14 };

	return levels[(u->fcr & FCR_TRIGGER_MASK) >> FCR_TRIGGER_SHIFT];
}

static bool rx_push(struct uart_16550 *u, uint8_t byte)
{
	if (u->rx_count >= rx_capacity(u))
		return false;
	u->rx_fifo[(u->rx_head + u->rx_count) % UART_16550_FIFO_SIZE] = byte;
	u->rx_count++;
	return true;
}

static uint8_t rx_pop(struct uart_16550 *u)
{
	uint8_t byte = u->rx_fifo[u->rx_head];

	u->rx_head = (u->rx_head + 1) % UART_16550_FIFO_SIZE;
	u->rx_count--;
	return byte;
}

static void rx_clear(struct uart_16550 *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

/* The IIR interrupt identification: the highest-priority interrupt that
 * is both pending and enabled. */
static uint8_t interrupt_id(const struct uart_16550 *u)
{
	if ((u->ier & IER_RLSI) && u->lsr_errors)
		return IIR_RLSI;
	if ((u->ier & IER_RDI) && u->rx_count) {
		/* Data is reported at once rather than after four character
		 * times; below the trigger level it shows as a timeout, which
		 * is what a real FIFO would say about a short burst. */
		if ((u->fcr & FCR_ENABLE) && u->rx_count < rx_trigger_level(u))
			return IIR_RX_TIMEOUT;
		return IIR_RDI;
	}
	if ((u->ier & IER_THRI) && u->thre_pending)
		return IIR_THRI;
	if ((u->ier & IER_MSI) && u->msr_deltas)
		return IIR_MSI;
	return IIR_NO_INT;
}

static void update_irq(struct uart_16550 *u)
{
	bool pending = interrupt_id(u) != IIR_NO_INT;
	/* A PC passes the UART's interrupt output through a buffer enabled
	 * by the OUT2 pin, and loopback forces that pin inactive. */
	bool level = pending && (u->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(&u->irq, level);
	}
}

/* Recomputes the modem input lines after an MCR change and latches the
 * MSR delta bits for every line that moved. */
static void update_modem_lines(struct uart_16550 *u)
{
	uint8_t lines = 0, changed;

	if (u->mcr & MCR_LOOP) {
		if (u->mcr & MCR_DTR)
			lines |= MSR_DSR;
		if (u->mcr & MCR_RTS)
			lines |= MSR_CTS;
		if (u->mcr & MCR_OUT1)
			lines |= MSR_RI;
		if (u->mcr & MCR_OUT2)
			lines |= MSR_DCD;
	} else {
		/* A peer that is always present and always ready. */
		lines = MSR_CTS | MSR_DSR | MSR_DCD;
	}
	changed = lines ^ u->msr_lines;
	if (changed & MSR_CTS)
		u->msr_deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		u->msr_deltas |= MSR_DDSR;
	if (changed & MSR_DCD)
		u->msr_deltas |= MSR_DDCD;
	if ((changed & MSR_RI) && !(lines & MSR_RI))
		u->msr_deltas |= MSR_TERI;
	u->msr_lines = lines;
}

/* Whether the backend, turned away earlier, should now be told there is
 * room. Clears the flag when it says yes, so the backend hears it once. */
static bool take_rx_space(struct uart_16550 *u)
{
	if (!u->rx_starved || (u->mcr & MCR_LOOP) || u->rx_count >= rx_capacity(u))
		return false;
	u->rx_starved = false;
	return true;
}

static void notify_rx_space(struct uart_16550 *u)
{
	if (u->ops && u->ops->rx_space)
		u->ops->rx_space(u->opaque);
}

static void write_fcr(struct uart_16550 *u, uint8_t value)
{
	/* Switching the FIFOs on or off empties them. */
	if ((value ^ u->fcr) & FCR_ENABLE)
		rx_clear(u);
	if (!(value & FCR_ENABLE)) {
		/* The other bits only take effect together with FCR0. */
		u->fcr = 0;
		return;
	}
	if (value & FCR_CLEAR_RX)
		rx_clear(u);
	/* Nothing to clear on the transmit side: it never holds a byte. */
	u->fcr = value & (FCR_ENABLE | FCR_TRIGGER_MASK);
}

static uint8_t read_reg(struct uart_16550 *u, unsigned reg)
{
	uint8_t value = 0;
	uint8_t id;

	switch (reg) {
	case REG_RBR_THR_DLL:
		if (u->lcr & LCR_DLAB)
			return u->divisor & 0xff;
		if (u->rx_count)
			u->rx_last = rx_pop(u);
		value = u->rx_last;
		break;
	case REG_IER_DLM:
		if (u->lcr & LCR_DLAB)
			return u->divisor >> 8;
		return u->ier;
	case REG_IIR_FCR:
		id = interrupt_id(u);
		/* Reading IIR acknowledges a THR-empty interrupt, but only
		 * when that is the one it reports. */
		if (id == IIR_THRI)
			u->thre_pending = false;
		value = id | ((u->fcr & FCR_ENABLE) ? IIR_FIFOS_ENABLED : 0);
		break;
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		value = LSR_THRE | LSR_TEMT | u->lsr_errors;
		if (u->rx_count)
			value |= LSR_DR;
		u->lsr_errors = 0;
		break;
	case REG_MSR:
		value = u->msr_lines | u->msr_deltas;
		u->msr_deltas = 0;
		break;
	case REG_SCR:
		return u->scr;
	}
	update_irq(u);
	return value;
}

static void write_reg(struct uart_16550 *u, unsigned reg, uint8_t value)
{
	uint8_t new_ier;

	switch (reg) {
	case REG_RBR_THR_DLL:
		/* THR itself is handled by transmit(). */
		u->divisor = (u->divisor & 0xff00) | value;
		break;
	case REG_IER_DLM:
		if (u->lcr & LCR_DLAB) {
			u->divisor = (u->divisor & 0x00ff) | (uint16_t)(value << 8);
			break;
		}
		new_ier = value & IER_MASK;
		/* Enabling THRI while THR is empty, which it always is, raises
		 * the interrupt anew; Linux's startup test relies on it. */
		if (!(u->ier & IER_THRI) && (new_ier & IER_THRI))
			u->thre_pending = true;
		u->ier = new_ier;
		break;
	case REG_IIR_FCR:
		write_fcr(u, value);
		break;
	case REG_LCR:
		u->lcr = value;
		break;
	case REG_MCR:
		u->mcr = value & MCR_MASK;
		update_modem_lines(u);
		break;
	case REG_LSR:
	case REG_MSR:
		/* Read-only (LSR writes are a factory test mode). */
		break;
	case REG_SCR:
		u->scr = value;
		break;
	}
	update_irq(u);
}

/* A write to THR. The byte leaves without the lock held, and the
 * THR-empty interrupt only comes back once it has left, so a guest that
 * answers that interrupt on another vCPU cannot overtake it. */
static void transmit(struct uart_16550 *u, uint8_t byte)
{
	bool space = false;

	pthread_mutex_lock(&u->lock);
	/* Dropping the line while THR is "full" gives an edge-triggered
	 * interrupt controller a fresh edge when it empties again. */
	u->thre_pending = false;
	update_irq(u);
	if (u->mcr & MCR_LOOP) {
		if (!rx_push(u, byte))
			u->lsr_errors |= LSR_OE;
		u->thre_pending = true;
		update_irq(u);
		pthread_mutex_unlock(&u->lock);
		return;
	}
	pthread_mutex_unlock(&u->lock);

	if (u->ops && u->ops->transmit)
		u->ops->transmit(u->opaque, byte);

	pthread_mutex_lock(&u->lock);
	u->thre_pending = true;
	update_irq(u);
	space = take_rx_space(u);
	pthread_mutex_unlock(&u->lock);
	if (space)
		notify_rx_space(u);
}

static uint8_t access_read(struct uart_16550 *u, unsigned reg)
{
	uint8_t value;
	bool space;

	pthread_mutex_lock(&u->lock);
	value = read_reg(u, reg);
	space = take_rx_space(u);
	pthread_mutex_unlock(&u->lock);
	if (space)
		notify_rx_space(u);
	return value;
}

static void access_write(struct uart_16550 *u, unsigned reg, uint8_t value)
{
	bool space;

	pthread_mutex_lock(&u->lock);
	if (reg == REG_RBR_THR_DLL && !(u->lcr & LCR_DLAB)) {
		pthread_mutex_unlock(&u->lock);
		transmit(u, value);
		return;
	}
	write_reg(u, reg, value);
	space = take_rx_space(u);
	pthread_mutex_unlock(&u->lock);
	if (space)
		notify_rx_space(u);
}

void uart_16550_access(void *uart, uint64_t offset, uint8_t *data, uint32_t len,
		       bool is_write)
{
	struct uart_16550 *u = uart;

	for (uint32_t i = 0; i < len; i++) {
		uint64_t reg = offset + i;

		if (reg >= UART_16550_NR_PORTS) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		if (is_write)
			access_write(u, (unsigned)reg, data[i]);
		else
			data[i] = access_read(u, (unsigned)reg);
	}
}

size_t uart_16550_receive(struct uart_16550 *u, const uint8_t *buf, size_t len)
{
	size_t taken = 0;

	if (!len)
		return 0;
	pthread_mutex_lock(&u->lock);
	/* Loopback disconnects the serial input: hold it back until the
	 * guest leaves loopback rather than lose it. */
	if (!(u->mcr & MCR_LOOP))
		while (taken < len && rx_push(u, buf[taken]))
			taken++;
	if (taken < len)
		u->rx_starved = true;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return taken;
}

void uart_16550_init(struct uart_16550 *u, const struct irq_line *irq,
		     const struct uart_16550_ops *ops, void *opaque)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	if (irq)
		u->irq = *irq;
	u->ops = ops;
	u->opaque = opaque;
	u->divisor = DEFAULT_DIVISOR;
	u->msr_lines = MSR_CTS | MSR_DSR | MSR_DCD;
}

void uart_16550_destroy(struct uart_16550 *u)
{
	pthread_mutex_destroy(&u->lock);
}
