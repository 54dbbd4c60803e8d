/* The 16550A UART: the register behaviour Linux's 8250 driver checks when
 * it identifies the chip and when it starts the port, and the interrupt
 * and FIFO rules it relies on afterwards. Register values are spelled out
 * from the datasheet here rather than taken from the device's source. */
#include "check.h"

#include <pthread.h>

#include "../../devices/pc/uart_16550.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2,
       LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct fake_backend {
	uint8_t sent[256];
	size_t nr_sent;
	int rx_space_calls;
	bool irq_level;
	int irq_rises;      /* low-to-high transitions seen */
	int irq_calls;
	/* When set, rx_space feeds these bytes back, as a console does. */
	struct uart_16550 *refill_uart;
	const uint8_t *refill;
	size_t refill_len, refilled;
};

static void fake_set_level(void *ctx, unsigned gsi, bool level)
{
	struct fake_backend *b = ctx;

	(void)gsi;
	if (level && !b->irq_level)
		b->irq_rises++;
	b->irq_level = level;
	b->irq_calls++;
}

static void fake_transmit(void *opaque, uint8_t byte)
{
	struct fake_backend *b = opaque;

	if (b->nr_sent < sizeof(b->sent))
		b->sent[b->nr_sent++] = byte;
}

static void fake_rx_space(void *opaque)
{
	struct fake_backend *b = opaque;

	b->rx_space_calls++;
	if (b->refill_uart && b->refilled < b->refill_len)
		b->refilled += uart_16550_receive(b->refill_uart, b->refill + b->refilled,
						  b->refill_len - b->refilled);
}

static const struct uart_16550_ops fake_ops = {
	.transmit = fake_transmit,
	.rx_space = fake_rx_space,
};

static void setup(struct uart_16550 *u, struct fake_backend *b)
{
	struct irq_line line = { fake_set_level, b, 4 };

	memset(b, 0, sizeof(*b));
	uart_16550_init(u, &line, &fake_ops, b);
}

static uint8_t rd(struct uart_16550 *u, unsigned reg)
{
	uint8_t v = 0x5a;

	uart_16550_access(u, reg, &v, 1, false);
	return v;
}

static void wr(struct uart_16550 *u, unsigned reg, uint8_t v)
{
	uart_16550_access(u, reg, &v, 1, true);
}

/* The identification sequence of Linux's autoconfig() and
 * autoconfig_16550a(), step by step, with what each step must see for the
 * port to come out as a plain 16550A. */
static void test_linux_autoconfig_finds_16550a(void)
{
	struct uart_16550 u;
	struct fake_backend b;
	uint8_t save_lcr, save_mcr, status1, status2;

	setup(&u, &b);

	/* Scratch test through IER: zero reads back zero, 0x0f reads back 0x0f. */
	wr(&u, IER, 0);
	CHECK_EQ(rd(&u, IER), 0);
	wr(&u, IER, 0x0f);
	CHECK_EQ(rd(&u, IER) & 0x0f, 0x0f);
	wr(&u, IER, 0);

	save_mcr = rd(&u, MCR);
	save_lcr = rd(&u, LCR);

	/* Loopback test: MCR = LOOP|OUT2|RTS must show DCD|CTS and nothing else. */
	wr(&u, MCR, 0x1a);
	CHECK_EQ(rd(&u, MSR) & 0xf0, 0x90);
	wr(&u, MCR, save_mcr);

	/* EFR probe disguised as an FCR write, then the FIFO probe. */
	wr(&u, LCR, 0xbf);
	wr(&u, FCR, 0);
	wr(&u, LCR, 0);
	wr(&u, FCR, 0x01);
	CHECK_EQ(rd(&u, IIR) >> 6, 3);       /* 3: "16550A" */

	/* Not an ST16C650V1 or a 16650: "EFR" (IIR) must not read 0. */
	wr(&u, LCR, 0x80);
	CHECK(rd(&u, IIR) != 0);
	wr(&u, LCR, 0xbf);
	CHECK(rd(&u, IIR) != 0);

	/* Not a National Semiconductor SuperIO: the register at offset 2
	 * under LCR 0xe0 must not track MCR.LOOP. */
	wr(&u, LCR, 0);
	status1 = rd(&u, MCR);
	wr(&u, LCR, 0xe0);
	status2 = rd(&u, IIR);
	CHECK_EQ((status1 ^ status2) & 0x10, 0);
	wr(&u, LCR, 0);
	wr(&u, MCR, status1 ^ 0x10);
	wr(&u, LCR, 0xe0);
	status2 = rd(&u, IIR);
	wr(&u, LCR, 0);
	wr(&u, MCR, status1);
	CHECK_EQ((status2 ^ status1) & 0x10, 0);

	/* Not a TI16750: FCR bit 5 must not show up as IIR bit 5. */
	wr(&u, LCR, 0);
	wr(&u, FCR, 0x21);
	status1 = rd(&u, IIR) >> 5;
	wr(&u, FCR, 0x01);
	wr(&u, LCR, 0x80);
	wr(&u, FCR, 0x21);
	status2 = rd(&u, IIR) >> 5;
	wr(&u, FCR, 0x01);
	wr(&u, LCR, 0);
	CHECK(!(status1 == 6 && status2 == 7));

	/* Not an XScale: IER bit 6 (UUE) must not stick. */
	wr(&u, IER, 0x40);
	CHECK_EQ(rd(&u, IER) & 0x40, 0);
	wr(&u, IER, 0);

	wr(&u, LCR, save_lcr);
	CHECK(rd(&u, LSR) != 0xff);
	CHECK_EQ(rd(&u, LSR), 0x60);         /* THRE|TEMT, no data */
	CHECK_EQ(b.nr_sent, 0);
	uart_16550_destroy(&u);
}

/* serial8250_do_startup's check that THRE is re-asserted when THRI is
 * enabled again on an idle transmitter; failing it makes Linux poll. */
static void test_linux_startup_thre_test(void)
{
	struct uart_16550 u;
	struct fake_backend b;

	setup(&u, &b);
	wr(&u, FCR, 0x01);
	wr(&u, FCR, 0x07);
	wr(&u, FCR, 0);
	(void)rd(&u, LSR);
	(void)rd(&u, RBR);
	(void)rd(&u, IIR);
	(void)rd(&u, MSR);
	wr(&u, LCR, 0x03);
	wr(&u, MCR, 0x0b);                   /* DTR|RTS|OUT2 */

	wr(&u, IER, 0x02);
	CHECK_EQ(rd(&u, IIR) & 0x0f, 0x02);  /* iir1: THRE */
	wr(&u, IER, 0);
	wr(&u, IER, 0x02);
	CHECK_EQ(rd(&u, IIR) & 0x0f, 0x02);  /* iir: THRE again */
	wr(&u, IER, 0);

	/* The TXEN test: THRI enabled, LSR.TEMT set and an interrupt shown. */
	wr(&u, IER, 0x02);
	CHECK(rd(&u, LSR) & 0x40);
	CHECK(!(rd(&u, IIR) & 0x01));
	wr(&u, IER, 0);
	uart_16550_destroy(&u);
}

static void test_fifo_enable_shows_in_iir(void)
{
	struct uart_16550 u;
	struct fake_backend b;

	setup(&u, &b);
	CHECK_EQ(rd(&u, IIR), 0x01);         /* FIFOs off, nothing pending */
	wr(&u, FCR, 0x01);
	CHECK_EQ(rd(&u, IIR), 0xc1);
	wr(&u, FCR, 0x81);                   /* trigger at 8 */
	CHECK_EQ(rd(&u, IIR), 0xc1);
	wr(&u, FCR, 0x00);
	CHECK_EQ(rd(&u, IIR), 0x01);
	/* Without FCR0 the other bits are ignored. */
	wr(&u, FCR, 0xc0);
	CHECK_EQ(rd(&u, IIR), 0x01);
	uart_16550_destroy(&u);
}

static void test_dlab_divisor_latch(void)
{
	struct uart_16550 u;
	struct fake_backend b;

	setup(&u, &b);
	/* Never zero: Linux divides by what it finds. */
	wr(&u, LCR, 0x80);
	CHECK(rd(&u, DLL) | rd(&u, DLM));

	wr(&u, DLL, 0x0c);
	wr(&u, DLM, 0x01);
	CHECK_EQ(rd(&u, DLL), 0x0c);
	CHECK_EQ(rd(&u, DLM), 0x01);
	CHECK_EQ(b.nr_sent, 0);              /* DLL writes do not transmit */
	CHECK_EQ(rd(&u, LCR), 0x80);

	wr(&u, LCR, 0x03);
	wr(&u, IER, 0x05);
	CHECK_EQ(rd(&u, IER), 0x05);
	wr(&u, THR, 'A');
	CHECK_EQ(b.nr_sent, 1);
	CHECK_EQ(b.sent[0], 'A');

	wr(&u, LCR, 0x83);
	CHECK_EQ(rd(&u, DLL), 0x0c);         /* untouched by the THR/IER writes */
	CHECK_EQ(rd(&u, DLM), 0x01);
	wr(&u, LCR, 0x03);
	CHECK_EQ(rd(&u, IER), 0x05);
	CHECK_EQ(rd(&u, SCR), 0);
	wr(&u, SCR, 0xa5);
	CHECK_EQ(rd(&u, SCR), 0xa5);
	uart_16550_destroy(&u);
}

static void test_thre_interrupt_rules(void)
{
	struct uart_16550 u;
	struct fake_backend b;
	int rises;

	setup(&u, &b);
	wr(&u, MCR, 0x08);                   /* OUT2 */
	CHECK(!b.irq_level);

	/* THRI 0->1 on an empty THR raises it. */
	wr(&u, IER, 0x02);
	CHECK(b.irq_level);
	CHECK_EQ(rd(&u, IIR), 0x02);
	/* Reading IIR while it reports THRE acknowledges it. */
	CHECK(!b.irq_level);
	CHECK_EQ(rd(&u, IIR), 0x01);

	/* Rewriting IER with THRI already set does not raise it again. */
	wr(&u, IER, 0x02);
	CHECK(!b.irq_level);

	/* Each THR write empties at once and interrupts anew, with an edge. */
	rises = b.irq_rises;
	wr(&u, THR, 'x');
	CHECK(b.irq_level);
	CHECK_EQ(b.irq_rises, rises + 1);
	wr(&u, THR, 'y');
	CHECK(b.irq_level);
	CHECK_EQ(b.irq_rises, rises + 2);
	CHECK_EQ(b.nr_sent, 2);
	CHECK_EQ(b.sent[1], 'y');

	/* Disabling THRI drops the line; the latch survives until read. */
	wr(&u, IER, 0);
	CHECK(!b.irq_level);
	CHECK_EQ(rd(&u, IIR), 0x01);

	/* THRE is only acknowledged when IIR reports it: a higher
	 * priority receive interrupt hides it. */
	wr(&u, IER, 0x03);
	CHECK(uart_16550_receive(&u, (const uint8_t *)"z", 1) == 1);
	CHECK_EQ(rd(&u, IIR), 0x04);
	CHECK(b.irq_level);
	CHECK_EQ(rd(&u, RBR), 'z');
	CHECK_EQ(rd(&u, IIR), 0x02);
	CHECK_EQ(rd(&u, IIR), 0x01);
	CHECK(!b.irq_level);

	/* Writing THR clears a pending THRE before setting it again. */
	wr(&u, IER, 0);
	wr(&u, IER, 0x02);
	CHECK(b.irq_level);
	wr(&u, THR, 'w');
	CHECK(b.irq_level);
	CHECK_EQ(rd(&u, IIR), 0x02);
	uart_16550_destroy(&u);
}

static void test_rx_interrupt_and_data_ready(void)
{
	struct uart_16550 u;
	struct fake_backend b;

	setup(&u, &b);
	wr(&u, FCR, 0x81);                   /* FIFOs on, trigger 8, as Linux sets */
	wr(&u, MCR, 0x0b);
	wr(&u, IER, 0x01);
	CHECK(!b.irq_level);
	CHECK_EQ(rd(&u, LSR) & 0x01, 0);

	CHECK_EQ(uart_16550_receive(&u, (const uint8_t *)"hi", 2), 2);
	CHECK(b.irq_level);
	CHECK_EQ(rd(&u, LSR), 0x61);
	/* Below the trigger level: reported at once, as a timeout. */
	CHECK_EQ(rd(&u, IIR), 0xcc);
	CHECK(b.irq_level);                  /* reading IIR does not clear RX */
	CHECK_EQ(rd(&u, RBR), 'h');
	CHECK(b.irq_level);
	CHECK_EQ(rd(&u, RBR), 'i');
	CHECK(!b.irq_level);
	CHECK_EQ(rd(&u, LSR), 0x60);
	CHECK_EQ(rd(&u, IIR), 0xc1);

	/* At or above the trigger level it is "data available". */
	CHECK_EQ(uart_16550_receive(&u, (const uint8_t *)"0123456789", 10), 10);
	CHECK_EQ(rd(&u, IIR), 0xc4);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(rd(&u, RBR), '0' + i);
	CHECK_EQ(rd(&u, IIR), 0xc1);

	/* RBR read with nothing there repeats the last byte, harmlessly. */
	CHECK_EQ(rd(&u, RBR), '9');
	CHECK_EQ(rd(&u, LSR), 0x60);

	/* With FIFOs off the IIR has no FIFO bits and the holding register
	 * takes one byte. */
	wr(&u, FCR, 0);
	CHECK_EQ(uart_16550_receive(&u, (const uint8_t *)"ab", 2), 1);
	CHECK_EQ(rd(&u, IIR), 0x04);
	CHECK_EQ(b.rx_space_calls, 0);
	CHECK_EQ(rd(&u, RBR), 'a');
	CHECK_EQ(b.rx_space_calls, 1);
	uart_16550_destroy(&u);
}

static void test_rx_fifo_full_and_backpressure(void)
{
	struct uart_16550 u;
	struct fake_backend b;
	uint8_t in[20];

	setup(&u, &b);
	for (int i = 0; i < 20; i++)
		in[i] = (uint8_t)(0x40 + i);
	wr(&u, FCR, 0x01);
	CHECK_EQ(uart_16550_receive(&u, in, 20), UART_16550_FIFO_SIZE);
	CHECK_EQ(uart_16550_receive(&u, in + 16, 4), 0);
	/* Backpressure, not overrun. */
	CHECK_EQ(rd(&u, LSR), 0x61);
	CHECK_EQ(b.rx_space_calls, 0);

	CHECK_EQ(rd(&u, RBR), 0x40);
	CHECK_EQ(b.rx_space_calls, 1);
	CHECK_EQ(rd(&u, RBR), 0x41);
	CHECK_EQ(b.rx_space_calls, 1);       /* told once per refusal */
	CHECK_EQ(uart_16550_receive(&u, in + 16, 4), 2);
	CHECK_EQ(b.rx_space_calls, 1);

	/* Clearing the FIFO also makes room. */
	wr(&u, FCR, 0x03);
	CHECK_EQ(b.rx_space_calls, 2);
	CHECK_EQ(rd(&u, LSR), 0x60);

	/* The backend may refill from inside rx_space without deadlock. */
	CHECK_EQ(uart_16550_receive(&u, in, 16), 16);
	b.refill_uart = &u;
	b.refill = in + 16;
	b.refill_len = 4;
	CHECK_EQ(uart_16550_receive(&u, in + 16, 4), 0);
	CHECK_EQ(rd(&u, RBR), 0x40);
	CHECK_EQ(b.refilled, 1);
	for (int i = 1; i < 20; i++)
		CHECK_EQ(rd(&u, RBR), 0x40 + i);
	CHECK_EQ(b.refilled, 4);
	CHECK_EQ(rd(&u, LSR), 0x60);
	uart_16550_destroy(&u);
}

static void test_loopback_and_overrun(void)
{
	struct uart_16550 u;
	struct fake_backend b;

	setup(&u, &b);
	wr(&u, FCR, 0x01);
	wr(&u, MCR, 0x10);
	for (int i = 0; i < UART_16550_FIFO_SIZE + 1; i++)
		wr(&u, THR, (uint8_t)i);
	CHECK_EQ(b.nr_sent, 0);              /* nothing leaves in loopback */
	wr(&u, IER, 0x04);
	CHECK_EQ(rd(&u, IIR), 0xc6);         /* line status: overrun */
	CHECK_EQ(rd(&u, LSR), 0x63);         /* OE|DR|THRE|TEMT */
	CHECK_EQ(rd(&u, LSR), 0x61);         /* OE cleared by the read */
	CHECK_EQ(rd(&u, IIR), 0xc1);
	for (int i = 0; i < UART_16550_FIFO_SIZE; i++)
		CHECK_EQ(rd(&u, RBR), i);     /* the overrunning byte is lost */
	CHECK_EQ(rd(&u, LSR), 0x60);

	/* Outside input is held back during loopback, not lost. */
	CHECK_EQ(uart_16550_receive(&u, (const uint8_t *)"k", 1), 0);
	CHECK_EQ(b.rx_space_calls, 0);
	wr(&u, MCR, 0x00);
	CHECK_EQ(b.rx_space_calls, 1);
	CHECK_EQ(uart_16550_receive(&u, (const uint8_t *)"k", 1), 1);
	wr(&u, THR, 'o');
	CHECK_EQ(b.nr_sent, 1);
	CHECK_EQ(rd(&u, RBR), 'k');
	uart_16550_destroy(&u);
}

static void test_modem_status_in_loopback(void)
{
	struct uart_16550 u;
	struct fake_backend b;

	setup(&u, &b);
	/* Outside loopback the peer is always ready. */
	CHECK_EQ(rd(&u, MSR), 0xb0);
	wr(&u, MCR, 0x0f);
	CHECK_EQ(rd(&u, MSR), 0xb0);

	wr(&u, MCR, 0x10);                   /* loopback, all outputs off */
	CHECK_EQ(rd(&u, MSR), 0x0b);         /* CTS, DSR, DCD fell: deltas only */
	CHECK_EQ(rd(&u, MSR), 0x00);
	wr(&u, MCR, 0x11);
	CHECK_EQ(rd(&u, MSR), 0x22);         /* DTR -> DSR */
	wr(&u, MCR, 0x12);
	CHECK_EQ(rd(&u, MSR), 0x13);         /* RTS -> CTS */
	wr(&u, MCR, 0x14);
	CHECK_EQ(rd(&u, MSR), 0x41);         /* OUT1 -> RI; RI rising is no TERI */
	wr(&u, MCR, 0x18);
	CHECK_EQ(rd(&u, MSR), 0x8c);         /* OUT2 -> DCD; RI fell: TERI */

	/* A modem status interrupt is the lowest priority, cleared by MSR. */
	wr(&u, IER, 0x08);
	wr(&u, MCR, 0x19);
	CHECK_EQ(rd(&u, IIR), 0x00);
	(void)rd(&u, MSR);
	CHECK_EQ(rd(&u, IIR), 0x01);
	uart_16550_destroy(&u);
}

static void test_irq_gated_by_out2(void)
{
	struct uart_16550 u;
	struct fake_backend b;

	setup(&u, &b);
	wr(&u, IER, 0x01);
	CHECK_EQ(uart_16550_receive(&u, (const uint8_t *)"q", 1), 1);
	CHECK_EQ(rd(&u, IIR), 0x04);         /* pending inside the UART ... */
	CHECK(!b.irq_level);                 /* ... but OUT2 is off */
	wr(&u, MCR, 0x08);
	CHECK(b.irq_level);
	wr(&u, MCR, 0x03);
	CHECK(!b.irq_level);
	wr(&u, MCR, 0x0b);
	CHECK(b.irq_level);
	/* Loopback forces the OUT2 pin inactive. */
	wr(&u, MCR, 0x18);
	CHECK(!b.irq_level);
	wr(&u, MCR, 0x08);
	CHECK(b.irq_level);
	(void)rd(&u, RBR);
	CHECK(!b.irq_level);
	uart_16550_destroy(&u);
}

static void test_wide_and_stray_accesses(void)
{
	struct uart_16550 u;
	struct fake_backend b;
	uint8_t data[8];

	setup(&u, &b);
	wr(&u, SCR, 0x77);
	memset(data, 0, sizeof(data));
	uart_16550_access(&u, 4, data, 4, false);  /* MCR LSR MSR SCR */
	CHECK_EQ(data[1], 0x60);
	CHECK_EQ(data[2], 0xb0);
	CHECK_EQ(data[3], 0x77);
	uart_16550_access(&u, 6, data, 4, false);  /* runs past the block */
	CHECK_EQ(data[1], 0x77);
	CHECK_EQ(data[2], 0xff);
	CHECK_EQ(data[3], 0xff);
	memset(data, 0x41, sizeof(data));
	uart_16550_access(&u, 0, data, 1, true);
	uart_16550_access(&u, 7, data, 8, true);   /* SCR, then nothing */
	CHECK_EQ(rd(&u, SCR), 0x41);
	CHECK_EQ(b.nr_sent, 1);
	uart_16550_access(&u, 100, data, 2, false);
	CHECK_EQ(data[0], 0xff);
	uart_16550_access(&u, 0, data, 0, false);

	/* No callbacks and no irq line at all: still no crash. */
	uart_16550_destroy(&u);
	uart_16550_init(&u, NULL, NULL, NULL);
	wr(&u, MCR, 0x08);
	wr(&u, IER, 0x0f);
	wr(&u, THR, 'x');
	CHECK_EQ(uart_16550_receive(&u, (const uint8_t *)"abcdefghijklmnopq", 17), 1);
	CHECK_EQ(rd(&u, RBR), 'a');
	uart_16550_destroy(&u);
}

struct stress {
	struct uart_16550 *u;
	size_t received;
};

static void *stress_input(void *arg)
{
	struct stress *s = arg;
	uint8_t buf[7] = { 1, 2, 3, 4, 5, 6, 7 };

	for (int i = 0; i < 20000 && s->received < 50000; i++)
		s->received += uart_16550_receive(s->u, buf, sizeof(buf));
	return NULL;
}

/* Input from one thread while another drains and transmits. */
static void test_concurrent_input_and_access(void)
{
	struct uart_16550 u;
	struct fake_backend b;
	struct stress s = { &u, 0 };
	pthread_t thread;
	size_t drained = 0;

	setup(&u, &b);
	wr(&u, FCR, 0x01);
	wr(&u, MCR, 0x0b);
	wr(&u, IER, 0x03);
	CHECK_EQ(pthread_create(&thread, NULL, stress_input, &s), 0);
	for (int i = 0; i < 200000; i++) {
		if (rd(&u, LSR) & 0x01) {
			(void)rd(&u, RBR);
			drained++;
		}
		if (!(i % 64))
			wr(&u, THR, 'c');
		(void)rd(&u, IIR);
	}
	pthread_join(thread, NULL);
	while (rd(&u, LSR) & 0x01) {
		(void)rd(&u, RBR);
		drained++;
	}
	CHECK_EQ(drained, s.received);
	CHECK_EQ(b.nr_sent, 256);
	uart_16550_destroy(&u);
}

TEST_MAIN("uart",
	  TEST_CASE(test_linux_autoconfig_finds_16550a),
	  TEST_CASE(test_linux_startup_thre_test),
	  TEST_CASE(test_fifo_enable_shows_in_iir),
	  TEST_CASE(test_dlab_divisor_latch),
	  TEST_CASE(test_thre_interrupt_rules),
	  TEST_CASE(test_rx_interrupt_and_data_ready),
	  TEST_CASE(test_rx_fifo_full_and_backpressure),
	  TEST_CASE(test_loopback_and_overrun),
	  TEST_CASE(test_modem_status_in_loopback),
	  TEST_CASE(test_irq_gated_by_out2),
	  TEST_CASE(test_wide_and_stray_accesses),
	  TEST_CASE(test_concurrent_input_and_access))
