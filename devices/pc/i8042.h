/* The PS/2 keyboard controller (8042), only as far as a guest without a
 * keyboard or mouse needs it: the status register, the command byte, the
 * self and interface tests, port enable/disable, the output port, and the
 * reset line, which Linux pulses (command 0xFE) when ACPI reset fails.
 * Nothing is attached to either PS/2 port and the controller raises no
 * interrupts; responses are read by polling the status register.
 *
 * The data port (0x60) and the command/status port (0x64) are not
 * contiguous: register i8042_data_access and i8042_cmd_access as two
 * one-port ranges, both with the struct i8042 as opaque.
 *
 * Locking: one mutex per controller; the reset request is made without it
 * held. */
#ifndef GVMM_I8042_H
#define GVMM_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/vm_request.h"

struct i8042 {
	pthread_mutex_t lock;
	struct vm_requester requester;
	uint8_t command_byte;   /* controller RAM byte 0 (commands 0x20/0x60) */
	uint8_t output_port;    /* bit 0 is the CPU reset line, active low */
	uint8_t output;         /* the output buffer, read through port 0x60 */
	bool output_full;
	bool output_from_aux;   /* the byte in the buffer came from the mouse side */
	uint8_t pending_command; /* command waiting for its data byte, or 0 */
	bool last_write_was_command; /* status bit 3 */
};

/* requester is copied. */
void i8042_init(struct i8042 *kbc, const struct vm_requester *requester);
void i8042_destroy(struct i8042 *kbc);

/* bus_access_fn for the one-port data range (PORT_I8042_DATA). */
void i8042_data_access(void *kbc, uint64_t offset, uint8_t *data, uint32_t len,
		       bool is_write);
/* bus_access_fn for the one-port command/status range (PORT_I8042_CMD). */
void i8042_cmd_access(void *kbc, uint64_t offset, uint8_t *data, uint32_t len,
		      bool is_write);

#endif
