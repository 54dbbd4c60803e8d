/* spice-server's keyboard, tablet and mouse (display/spice_input.h). */
#include "spice_input.h"

#include <linux/input-event-codes.h>
#include <stddef.h>
#include <stdlib.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include "display_backend.h"
#include "keymap.h"

/* spice-server hands pointer buttons over in its "local" order, which
 * swaps middle and right from the protocol's. */
#define LOCAL_BUTTON_LEFT    (1u << 0)
#define LOCAL_BUTTON_RIGHT   (1u << 1)
#define LOCAL_BUTTON_MIDDLE  (1u << 2)

struct spice_inputs {
	SpiceKbdInstance keyboard;
	SpiceTabletInstance tablet;
	SpiceMouseInstance mouse;
	struct display *display;

	struct keymap_decoder decoder;
	/* The lock keys' state as the guest should have it: flipped by each
	 * press we forward (a held key's repeats flip nothing). The guest's
	 * own LEDs do not reach us, and spice-server compares this with the
	 * client's to decide whether to send a lock key to bring them in
	 * line. */
	uint8_t leds;
	uint8_t locks_down;

	uint32_t tablet_width, tablet_height;   /* the output the tablet spans */
	uint32_t buttons;                       /* DISPLAY_BUTTON_* last sent */
};

#define CONTAINER(ptr, member) \
	((struct spice_inputs *)((char *)(ptr) - offsetof(struct spice_inputs, member)))

/* ---- keyboard ---- */

static uint8_t lock_flag(uint16_t evdev_code)
{
	switch (evdev_code) {
	case KEY_CAPSLOCK: return SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK;
	case KEY_NUMLOCK: return SPICE_KEYBOARD_MODIFIER_FLAGS_NUM_LOCK;
	case KEY_SCROLLLOCK: return SPICE_KEYBOARD_MODIFIER_FLAGS_SCROLL_LOCK;
	default: return 0;
	}
}

static void keyboard_push_scan(SpiceKbdInstance *sin, uint8_t byte)
{
	struct spice_inputs *in = CONTAINER(sin, keyboard);
	uint16_t code;
	bool pressed;
	uint8_t flag;

	if (!keymap_decode(&in->decoder, byte, &code, &pressed))
		return;
	flag = lock_flag(code);
	if (flag && pressed && !(in->locks_down & flag))
		in->leds ^= flag;
	if (flag)
		in->locks_down = pressed ? in->locks_down | flag : in->locks_down & ~flag;
	display_input_key(in->display, code, pressed);
}

static uint8_t keyboard_get_leds(SpiceKbdInstance *sin)
{
	return CONTAINER(sin, keyboard)->leds;
}

static const SpiceKbdInterface keyboard_interface = {
	.base = {
		.type = SPICE_INTERFACE_KEYBOARD,
		.description = "gvmm keyboard",
		.major_version = SPICE_INTERFACE_KEYBOARD_MAJOR,
		.minor_version = SPICE_INTERFACE_KEYBOARD_MINOR,
	},
	.push_scan_freg = keyboard_push_scan,
	.get_leds = keyboard_get_leds,
};

/* ---- pointer buttons and wheel, shared by tablet and mouse ---- */

static void buttons_update(struct spice_inputs *in, uint32_t local_state)
{
	uint32_t mask = (local_state & LOCAL_BUTTON_LEFT ? DISPLAY_BUTTON_LEFT : 0) |
			(local_state & LOCAL_BUTTON_MIDDLE ? DISPLAY_BUTTON_MIDDLE : 0) |
			(local_state & LOCAL_BUTTON_RIGHT ? DISPLAY_BUTTON_RIGHT : 0);

	if (mask == in->buttons)
		return;
	in->buttons = mask;
	display_input_buttons(in->display, mask);
}

/* spice-server's wheel step is +1 towards the user; ours the opposite. */
static void wheel_turn(struct spice_inputs *in, int step)
{
	if (step)
		display_input_wheel(in->display, -step);
}

/* ---- tablet ---- */

static void tablet_set_logical_size(SpiceTabletInstance *sin, int width, int height)
{
	struct spice_inputs *in = CONTAINER(sin, tablet);

	in->tablet_width = width > 0 ? (uint32_t)width : 0;
	in->tablet_height = height > 0 ? (uint32_t)height : 0;
}

/* A client coordinate on an output `size` pixels long, to 0..ABS_MAX
 * with the first pixel at 0 and the last at ABS_MAX. */
static uint32_t tablet_scale(int v, uint32_t size)
{
	if (v <= 0 || size <= 1)
		return 0;
	if ((uint32_t)v >= size - 1)
		return DISPLAY_ABS_MAX;
	return (uint32_t)(((uint64_t)v * DISPLAY_ABS_MAX + (size - 1) / 2) / (size - 1));
}

static void tablet_position(SpiceTabletInstance *sin, int x, int y, uint32_t buttons)
{
	struct spice_inputs *in = CONTAINER(sin, tablet);

	display_input_pointer_absolute(in->display, tablet_scale(x, in->tablet_width),
				       tablet_scale(y, in->tablet_height));
	buttons_update(in, buttons);
}

static void tablet_wheel(SpiceTabletInstance *sin, int step, uint32_t buttons)
{
	struct spice_inputs *in = CONTAINER(sin, tablet);

	buttons_update(in, buttons);
	wheel_turn(in, step);
}

static void tablet_buttons(SpiceTabletInstance *sin, uint32_t buttons)
{
	buttons_update(CONTAINER(sin, tablet), buttons);
}

static const SpiceTabletInterface tablet_interface = {
	.base = {
		.type = SPICE_INTERFACE_TABLET,
		.description = "gvmm tablet",
		.major_version = SPICE_INTERFACE_TABLET_MAJOR,
		.minor_version = SPICE_INTERFACE_TABLET_MINOR,
	},
	.set_logical_size = tablet_set_logical_size,
	.position = tablet_position,
	.wheel = tablet_wheel,
	.buttons = tablet_buttons,
};

/* ---- mouse ---- */

static void mouse_motion(SpiceMouseInstance *sin, int dx, int dy, int dz, uint32_t buttons)
{
	struct spice_inputs *in = CONTAINER(sin, mouse);

	if (dx || dy)
		display_input_pointer_relative(in->display, dx, dy);
	buttons_update(in, buttons);
	wheel_turn(in, dz);
}

static void mouse_buttons(SpiceMouseInstance *sin, uint32_t buttons)
{
	buttons_update(CONTAINER(sin, mouse), buttons);
}

static const SpiceMouseInterface mouse_interface = {
	.base = {
		.type = SPICE_INTERFACE_MOUSE,
		.description = "gvmm mouse",
		.major_version = SPICE_INTERFACE_MOUSE_MAJOR,
		.minor_version = SPICE_INTERFACE_MOUSE_MINOR,
	},
	.motion = mouse_motion,
	.buttons = mouse_buttons,
};

/* ---- life ---- */

struct spice_inputs *spice_inputs_new(struct display *display)
{
	struct spice_inputs *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->display = display;
	in->keyboard.base.sif = &keyboard_interface.base;
	in->tablet.base.sif = &tablet_interface.base;
	in->mouse.base.sif = &mouse_interface.base;
	return in;
}

int spice_inputs_attach(struct spice_inputs *in, SpiceServer *server)
{
	if (spice_server_add_interface(server, &in->keyboard.base) ||
	    spice_server_add_interface(server, &in->mouse.base) ||
	    spice_server_add_interface(server, &in->tablet.base))
		return -1;
#ifdef __SANITIZE_ADDRESS__
	/* spice-server never frees the state it hangs on a keyboard or a
	 * mouse: spice_server_remove_interface refuses both, and
	 * spice_server_destroy forgets them. Those two small blocks are its
	 * leak, not ours. */
	__lsan_ignore_object(in->keyboard.st);
	__lsan_ignore_object(in->mouse.st);
#endif
	return 0;
}

void spice_inputs_free(struct spice_inputs *in)
{
	free(in);
}
