/* Where the guest's console goes (COM1 or the virtio console): the
 * terminal (stdio), a file, or nowhere.
 * On a terminal, stdin is put in raw mode so every key reaches the guest,
 * and restored on any exit; Ctrl-A x quits gvmm, Ctrl-A Ctrl-A sends a
 * Ctrl-A. Input that is not a terminal is passed through as is; its end
 * (as under CI) leaves the guest running. Output never blocks the device
 * that sends it (console_output.h): a device that can wait (the virtio
 * console) is told when there is room again. The console outlives VM
 * resets: each new VM attaches its UART or virtio console to it. */
#ifndef GVMM_SERIAL_CONSOLE_H
#define GVMM_SERIAL_CONSOLE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "console_output.h"
#include "event_loop.h"

/* The console device input goes to: it takes what fits and returns how
 * many bytes that was; it calls serial_console_rx_space() once it has room. */
typedef size_t (*console_receive_fn)(void *device, const uint8_t *buf, size_t len);
/* The console device output goes from, told on the event-loop thread that
 * there is room again after serial_console_transmit_bytes() took less than
 * it was offered. */
typedef void (*console_tx_space_fn)(void *device);

enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE };

/* How large --serial file:PATH may grow unless max-size= says otherwise:
 * a guest printing in a loop must not fill the host's disk. */
#define SERIAL_FILE_DEFAULT_MAX_SIZE (64ull << 20)

struct serial_config {
	enum serial_mode mode;
	char path[PATH_MAX];   /* SERIAL_FILE */
	uint64_t max_size;     /* SERIAL_FILE, when a regular file; 0: no limit */
};

struct serial_console {
	enum serial_mode mode;
	int in_fd;                 /* -1 when there is no input */
	struct console_output out;
	bool in_is_tty;
	bool input_paused;         /* the UART's FIFO is full */
	bool escape_pending;       /* Ctrl-A seen, waiting for the command key */
	int rx_space_fd;           /* eventfd: the guest drained the RX FIFO */
	struct event_loop *loop;
	console_receive_fn receive;  /* NULL while no device is attached */
	console_tx_space_fn tx_space;
	void *device;
	uint8_t pending[256];      /* input read but not yet taken by the UART */
	size_t pending_start, pending_end;
	void (*on_quit)(void *ctx);
	void *quit_ctx;
};

/* Parses "stdio", "file:PATH[,max-size=SIZE]" or "none". A comma is part
 * of PATH unless "max-size=" follows it. Returns 0 or -1. */
int serial_config_parse(const char *arg, struct serial_config *cfg);

/* Opens the backend. Returns 0, or -1 with one line in err.
 * The serial file is opened without following a symbolic link (refused);
 * a new one is created 0600 (never more open, whatever the umask), an
 * existing one is truncated and keeps its mode (its owner chose it; it may
 * be a FIFO or /dev/null). */
int serial_console_open(struct serial_console *con, const struct serial_config *cfg,
			char *err, size_t errlen);
/* Starts watching input on loop; on_quit runs on Ctrl-A x. */
int serial_console_start(struct serial_console *con, struct event_loop *loop,
			 void (*on_quit)(void *ctx), void *quit_ctx);
/* The device the console feeds, and that tx_space (may be NULL) tells of
 * room for its output; receive NULL detaches (before a VM is torn down).
 * On the event-loop thread. */
void serial_console_attach(struct serial_console *con, console_receive_fn receive,
			   console_tx_space_fn tx_space, void *device);
void serial_console_close(struct serial_console *con);

/* Device backend callbacks: opaque is the console. transmit (the UART's)
 * waits briefly for room, then drops; transmit_bytes takes what fits
 * without waiting and returns how many bytes that was. */
void serial_console_transmit(void *opaque, uint8_t byte);
size_t serial_console_transmit_bytes(void *opaque, const uint8_t *bytes, size_t len);
void serial_console_rx_space(void *opaque);

#endif
