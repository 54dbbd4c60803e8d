/* The 8042 keyboard controller: the probes Linux's i8042 driver makes and
 * the two ways a guest pulls the reset line. */
#include "check.h"

#include "../../devices/pc/i8042.h"

struct fake_vm {
	int resets;
	int poweroffs;
};

static void fake_request(void *ctx, enum vm_request what)
{
	struct fake_vm *vm = ctx;

	if (what == VM_REQUEST_RESET)
		vm->resets++;
	else
		vm->poweroffs++;
}

static void setup(struct i8042 *kbc, struct fake_vm *vm)
{
	struct vm_requester requester = { fake_request, vm };

	memset(vm, 0, sizeof(*vm));
	i8042_init(kbc, &requester);
}

static uint8_t status(struct i8042 *kbc)
{
	uint8_t v = 0;

	i8042_cmd_access(kbc, 0, &v, 1, false);
	return v;
}

static uint8_t read_data(struct i8042 *kbc)
{
	uint8_t v = 0;

	i8042_data_access(kbc, 0, &v, 1, false);
	return v;
}

static void command(struct i8042 *kbc, uint8_t cmd)
{
	i8042_cmd_access(kbc, 0, &cmd, 1, true);
}

static void write_data(struct i8042 *kbc, uint8_t v)
{
	i8042_data_access(kbc, 0, &v, 1, true);
}

/* Runs a command that answers one byte, as Linux's i8042_command does. */
static int command_response(struct i8042 *kbc, uint8_t cmd)
{
	command(kbc, cmd);
	if (!(status(kbc) & 0x01))
		return -1;
	return read_data(kbc);
}

static void test_status_without_data(void)
{
	struct i8042 kbc;
	struct fake_vm vm;

	setup(&kbc, &vm);
	CHECK(status(&kbc) != 0xff);        /* Linux: "no controller" */
	CHECK_EQ(status(&kbc) & 0x01, 0);   /* nothing to read */
	CHECK_EQ(status(&kbc) & 0x02, 0);   /* ready for input */
	CHECK(status(&kbc) & 0x04);         /* POST done */
	i8042_destroy(&kbc);
}

static void test_self_and_interface_tests(void)
{
	struct i8042 kbc;
	struct fake_vm vm;

	setup(&kbc, &vm);
	CHECK_EQ(command_response(&kbc, 0xaa), 0x55);
	CHECK_EQ(status(&kbc) & 0x01, 0);   /* the read emptied the buffer */
	CHECK(status(&kbc) & 0x08);         /* last write was a command */
	CHECK_EQ(command_response(&kbc, 0xab), 0x00);
	CHECK_EQ(command_response(&kbc, 0xa9), 0x00);
	/* A command with no answer leaves the buffer empty. */
	command(&kbc, 0xae);
	CHECK_EQ(status(&kbc) & 0x01, 0);
	CHECK_EQ(vm.resets, 0);
	i8042_destroy(&kbc);
}

static void test_command_byte_and_port_enables(void)
{
	struct i8042 kbc;
	struct fake_vm vm;
	int cb;

	setup(&kbc, &vm);
	cb = command_response(&kbc, 0x20);
	CHECK(cb >= 0);
	CHECK_EQ(cb & 0x30, 0);             /* both ports enabled */

	command(&kbc, 0x60);
	write_data(&kbc, 0x65);
	CHECK_EQ(status(&kbc) & 0x08, 0);   /* last write was data */
	CHECK_EQ(command_response(&kbc, 0x20), 0x65);

	command(&kbc, 0xa8);                /* enable aux */
	CHECK_EQ(command_response(&kbc, 0x20), 0x45);
	command(&kbc, 0xa7);                /* disable aux */
	CHECK_EQ(command_response(&kbc, 0x20), 0x65);
	command(&kbc, 0xad);                /* disable keyboard */
	CHECK_EQ(command_response(&kbc, 0x20), 0x75);
	command(&kbc, 0xae);
	command(&kbc, 0xa8);
	CHECK_EQ(command_response(&kbc, 0x20), 0x45);

	/* Linux's AUX loopback test echoes through the mouse side. */
	command(&kbc, 0xd3);
	write_data(&kbc, 0x5a);
	CHECK_EQ(status(&kbc) & 0x21, 0x21);
	CHECK_EQ(read_data(&kbc), 0x5a);
	CHECK_EQ(status(&kbc) & 0x21, 0);
	command(&kbc, 0xd2);
	write_data(&kbc, 0xa5);
	CHECK_EQ(status(&kbc) & 0x21, 0x01);
	CHECK_EQ(read_data(&kbc), 0xa5);

	/* Bytes for the absent keyboard go nowhere. */
	write_data(&kbc, 0xff);
	CHECK_EQ(status(&kbc) & 0x01, 0);
	CHECK_EQ(command_response(&kbc, 0x20), 0x45);
	CHECK_EQ(vm.resets, 0);
	i8042_destroy(&kbc);
}

static void test_output_port_reset(void)
{
	struct i8042 kbc;
	struct fake_vm vm;

	setup(&kbc, &vm);
	CHECK_EQ(command_response(&kbc, 0xd0) & 0x01, 0x01);

	/* A20 games keep bit 0 set: no reset. */
	command(&kbc, 0xd1);
	write_data(&kbc, 0xdf);
	CHECK_EQ(vm.resets, 0);
	CHECK_EQ(command_response(&kbc, 0xd0), 0xdf);
	command(&kbc, 0xd1);
	write_data(&kbc, 0xdd);
	CHECK_EQ(vm.resets, 0);

	command(&kbc, 0xd1);
	write_data(&kbc, 0xfe);
	CHECK_EQ(vm.resets, 1);
	CHECK_EQ(vm.poweroffs, 0);
	i8042_destroy(&kbc);
}

static void test_pulse_reset(void)
{
	struct i8042 kbc;
	struct fake_vm vm;

	setup(&kbc, &vm);
	command(&kbc, 0xff);                /* pulses nothing */
	CHECK_EQ(vm.resets, 0);
	command(&kbc, 0xfe);
	CHECK_EQ(vm.resets, 1);
	CHECK_EQ(vm.poweroffs, 0);
	/* Linux's reboot loop waits for the input buffer and pulses again. */
	CHECK_EQ(status(&kbc) & 0x02, 0);
	command(&kbc, 0xfe);
	CHECK_EQ(vm.resets, 2);
	i8042_destroy(&kbc);
}

static void test_odd_accesses(void)
{
	struct i8042 kbc;
	uint8_t data[4] = { 0xfe, 0xfe, 0xfe, 0xfe };

	/* No requester at all: a reset pulse must not crash. */
	i8042_init(&kbc, NULL);
	i8042_cmd_access(&kbc, 0, data, 1, true);

	i8042_cmd_access(&kbc, 0, data, 4, false);
	CHECK(data[0] != 0xff);
	CHECK_EQ(data[1], 0xff);
	CHECK_EQ(data[3], 0xff);
	i8042_data_access(&kbc, 1, data, 2, false);
	CHECK_EQ(data[0], 0xff);
	i8042_data_access(&kbc, 0, data, 0, true);
	i8042_data_access(&kbc, 3, data, 1, true);
	i8042_destroy(&kbc);
}

TEST_MAIN("i8042",
	  TEST_CASE(test_status_without_data),
	  TEST_CASE(test_self_and_interface_tests),
	  TEST_CASE(test_command_byte_and_port_enables),
	  TEST_CASE(test_output_port_reset),
	  TEST_CASE(test_pulse_reset),
	  TEST_CASE(test_odd_accesses))
