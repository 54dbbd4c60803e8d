#include "i8042.h"

#include <string.h>

#include "../../vmm/log.h"

#define STATUS_OUTPUT_FULL   0x01
#define STATUS_SYSTEM_FLAG   0x04
#define STATUS_LAST_COMMAND  0x08  /* the last write went to port 0x64 */
#define STATUS_NOT_INHIBITED 0x10
#define STATUS_AUX_OUTPUT    0x20

#define CB_KBD_INTERRUPT     0x01
#define CB_SYSTEM_FLAG       0x04
#define CB_KBD_DISABLED      0x10
#define CB_AUX_DISABLED      0x20
#define CB_TRANSLATE         0x40

#define OUTPUT_PORT_NOT_RESET 0x01  /* the CPU reset line, active low */
#define OUTPUT_PORT_A20       0x02

enum {
	CMD_READ_COMMAND_BYTE  = 0x20,
	CMD_WRITE_COMMAND_BYTE = 0x60,
	CMD_DISABLE_AUX        = 0xa7,
	CMD_ENABLE_AUX         = 0xa8,
	CMD_TEST_AUX           = 0xa9,
	CMD_SELF_TEST          = 0xaa,
	CMD_TEST_KBD           = 0xab,
	CMD_DISABLE_KBD        = 0xad,
	CMD_ENABLE_KBD         = 0xae,
	CMD_READ_OUTPUT_PORT   = 0xd0,
	CMD_WRITE_OUTPUT_PORT  = 0xd1,
	CMD_WRITE_KBD_OUTPUT   = 0xd2,  /* next byte reads back as if from the keyboard */
	CMD_WRITE_AUX_OUTPUT   = 0xd3,  /* ... as if from the mouse (Linux's AUX loop test) */
	CMD_WRITE_AUX          = 0xd4,  /* next byte goes to the mouse */
	CMD_PULSE_FIRST        = 0xf0,  /* 0xf0-0xff pulse output port bits 0-3 low */
};

#define SELF_TEST_PASSED     0x55
#define INTERFACE_TEST_OK    0x00

/* What a PC's firmware leaves behind: keyboard enabled with scancode
 * translation, POST done. */
#define DEFAULT_COMMAND_BYTE (CB_KBD_INTERRUPT | CB_SYSTEM_FLAG | CB_TRANSLATE)
#define DEFAULT_OUTPUT_PORT  (OUTPUT_PORT_NOT_RESET | OUTPUT_PORT_A20)

static void respond(struct i8042 *kbc, uint8_t byte, bool from_aux)
{
	kbc->output = byte;
	kbc->output_full = true;
	kbc->output_from_aux = from_aux;
}

/* Runs a controller command; returns whether it asks for a CPU reset. */
static bool run_command(struct i8042 *kbc, uint8_t cmd)
{
	kbc->pending_command = 0;
	switch (cmd) {
	case CMD_READ_COMMAND_BYTE:
		respond(kbc, kbc->command_byte, false);
		break;
	case CMD_WRITE_COMMAND_BYTE:
	case CMD_WRITE_OUTPUT_PORT:
	case CMD_WRITE_KBD_OUTPUT:
	case CMD_WRITE_AUX_OUTPUT:
	case CMD_WRITE_AUX:
		kbc->pending_command = cmd;
		break;
	case CMD_DISABLE_AUX:
		kbc->command_byte |= CB_AUX_DISABLED;
		break;
	case CMD_ENABLE_AUX:
		kbc->command_byte &= ~CB_AUX_DISABLED;
		break;
	case CMD_TEST_AUX:
	case CMD_TEST_KBD:
		respond(kbc, INTERFACE_TEST_OK, false);
		break;
	case CMD_SELF_TEST:
		kbc->command_byte |= CB_SYSTEM_FLAG;
		respond(kbc, SELF_TEST_PASSED, false);
		break;
	case CMD_DISABLE_KBD:
		kbc->command_byte |= CB_KBD_DISABLED;
		break;
	case CMD_ENABLE_KBD:
		kbc->command_byte &= ~CB_KBD_DISABLED;
		break;
	case CMD_READ_OUTPUT_PORT:
		respond(kbc, kbc->output_port, false);
		break;
	default:
		if (cmd >= CMD_PULSE_FIRST)
			return !(cmd & OUTPUT_PORT_NOT_RESET);
		log_debug("i8042: command 0x%02x ignored", cmd);
		break;
	}
	return false;
}

/* A byte written to the data port; returns whether it asks for a reset. */
static bool write_data(struct i8042 *kbc, uint8_t byte)
{
	uint8_t cmd = kbc->pending_command;

	kbc->pending_command = 0;
	switch (cmd) {
	case CMD_WRITE_COMMAND_BYTE:
		kbc->command_byte = byte;
		break;
	case CMD_WRITE_OUTPUT_PORT:
		kbc->output_port = byte;
		return !(byte & OUTPUT_PORT_NOT_RESET);
	case CMD_WRITE_KBD_OUTPUT:
		respond(kbc, byte, false);
		break;
	case CMD_WRITE_AUX_OUTPUT:
		respond(kbc, byte, true);
		break;
	default:
		/* Meant for the keyboard (or, after 0xd4, the mouse): there is
		 * none, so nothing answers. */
		break;
	}
	return false;
}

static uint8_t read_status(const struct i8042 *kbc)
{
	uint8_t status = STATUS_NOT_INHIBITED;

	if (kbc->output_full)
		status |= STATUS_OUTPUT_FULL;
	if (kbc->output_full && kbc->output_from_aux)
		status |= STATUS_AUX_OUTPUT;
	if (kbc->command_byte & CB_SYSTEM_FLAG)
		status |= STATUS_SYSTEM_FLAG;
	if (kbc->last_write_was_command)
		status |= STATUS_LAST_COMMAND;
	/* The input buffer is never full: writes are handled at once. */
	return status;
}

static void access_port(struct i8042 *kbc, bool command_port, uint8_t *data,
			uint32_t len, bool is_write)
{
	bool reset = false;

	if (!len)
		return;
	pthread_mutex_lock(&kbc->lock);
	if (is_write) {
		kbc->last_write_was_command = command_port;
		reset = command_port ? run_command(kbc, data[0]) : write_data(kbc, data[0]);
	} else if (command_port) {
		data[0] = read_status(kbc);
	} else {
		data[0] = kbc->output;
		kbc->output_full = false;
	}
	pthread_mutex_unlock(&kbc->lock);

	/* Each range is one port wide; bytes past it belong to nobody. */
	if (!is_write && len > 1)
		memset(data + 1, 0xff, len - 1);
	if (reset) {
		log_debug("i8042: guest pulsed the reset line");
		vm_request(&kbc->requester, VM_REQUEST_RESET);
	}
}

void i8042_data_access(void *kbc, uint64_t offset, uint8_t *data, uint32_t len,
		       bool is_write)
{
	if (offset == 0)
		access_port(kbc, false, data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
}

void i8042_cmd_access(void *kbc, uint64_t offset, uint8_t *data, uint32_t len,
		      bool is_write)
{
	if (offset == 0)
		access_port(kbc, true, data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
}

void i8042_init(struct i8042 *kbc, const struct vm_requester *requester)
{
	memset(kbc, 0, sizeof(*kbc));
	pthread_mutex_init(&kbc->lock, NULL);
	if (requester)
		kbc->requester = *requester;
	kbc->command_byte = DEFAULT_COMMAND_BYTE;
	kbc->output_port = DEFAULT_OUTPUT_PORT;
}

void i8042_destroy(struct i8042 *kbc)
{
	pthread_mutex_destroy(&kbc->lock);
}
