#include "input_devices.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <linux/input-event-codes.h>

#include "virtio_input.h"

static const enum virtio_input_kind device_kinds[INPUT_DEVICES_COUNT] = {
	[INPUT_DEVICE_KEYBOARD] = VIRTIO_INPUT_KEYBOARD,
	[INPUT_DEVICE_TABLET] = VIRTIO_INPUT_TABLET,
	[INPUT_DEVICE_MOUSE] = VIRTIO_INPUT_MOUSE,
};

struct input_devices {
	struct virtio_input devices[INPUT_DEVICES_COUNT];
	/* The pointer state the display's calls share. */
	pthread_mutex_t pointer_lock;
	unsigned pointer;               /* TABLET or MOUSE: the one that moved last */
	uint32_t held[INPUT_DEVICES_COUNT];  /* DISPLAY_BUTTON_* each has sent down */
};

static const struct {
	uint32_t mask;
	uint16_t code;
} button_codes[] = {
	{ DISPLAY_BUTTON_LEFT, BTN_LEFT },
	{ DISPLAY_BUTTON_MIDDLE, BTN_MIDDLE },
	{ DISPLAY_BUTTON_RIGHT, BTN_RIGHT },
	{ DISPLAY_BUTTON_SIDE, BTN_SIDE },
	{ DISPLAY_BUTTON_EXTRA, BTN_EXTRA },
};

#define NR_BUTTONS (sizeof(button_codes) / sizeof(button_codes[0]))

static const struct virtio_input_event syn_report = { .type = EV_SYN, .code = SYN_REPORT };

static void input_key(void *opaque, uint16_t evdev_code, bool pressed)
{
	struct input_devices *in = opaque;
	const struct virtio_input_event events[] = {
		{ .type = EV_KEY, .code = evdev_code, .value = pressed ? 1 : 0 },
		syn_report,
	};

	if (evdev_code < 1 || evdev_code > KEY_MAX)
		return;
	virtio_input_send(&in->devices[INPUT_DEVICE_KEYBOARD], events, 2);
}

static void input_pointer_absolute(void *opaque, uint32_t x, uint32_t y)
{
	struct input_devices *in = opaque;
	const struct virtio_input_event events[] = {
		{ .type = EV_ABS, .code = ABS_X, .value = x < DISPLAY_ABS_MAX ? x : DISPLAY_ABS_MAX },
		{ .type = EV_ABS, .code = ABS_Y, .value = y < DISPLAY_ABS_MAX ? y : DISPLAY_ABS_MAX },
		syn_report,
	};

	pthread_mutex_lock(&in->pointer_lock);
	in->pointer = INPUT_DEVICE_TABLET;
	virtio_input_send(&in->devices[INPUT_DEVICE_TABLET], events, 3);
	pthread_mutex_unlock(&in->pointer_lock);
}

static void input_pointer_relative(void *opaque, int32_t dx, int32_t dy)
{
	struct input_devices *in = opaque;
	struct virtio_input_event events[3];
	unsigned n = 0;

	if (dx)
		events[n++] = (struct virtio_input_event){ EV_REL, REL_X, (uint32_t)dx };
	if (dy)
		events[n++] = (struct virtio_input_event){ EV_REL, REL_Y, (uint32_t)dy };
	events[n++] = syn_report;
	pthread_mutex_lock(&in->pointer_lock);
	in->pointer = INPUT_DEVICE_MOUSE;
	if (n > 1)
		virtio_input_send(&in->devices[INPUT_DEVICE_MOUSE], events, n);
	pthread_mutex_unlock(&in->pointer_lock);
}

/* Sends device `dev` what changed between the buttons it holds down and
 * mask. */
static void send_buttons_locked(struct input_devices *in, unsigned dev, uint32_t mask)
{
	struct virtio_input_event events[NR_BUTTONS + 1];
	unsigned n = 0;

	for (unsigned b = 0; b < NR_BUTTONS; b++)
		if ((in->held[dev] ^ mask) & button_codes[b].mask)
			events[n++] = (struct virtio_input_event){
				EV_KEY, button_codes[b].code, (mask & button_codes[b].mask) ? 1 : 0 };
	if (!n)
		return;
	events[n++] = syn_report;
	in->held[dev] = mask;
	virtio_input_send(&in->devices[dev], events, n);
}

static void input_buttons(void *opaque, uint32_t pressed_mask)
{
	struct input_devices *in = opaque;
	uint32_t known = 0;
	unsigned other;

	for (unsigned b = 0; b < NR_BUTTONS; b++)
		known |= button_codes[b].mask;
	pthread_mutex_lock(&in->pointer_lock);
	/* Buttons follow the pointer; the other device lets go of any it
	 * still holds from before the viewer switched modes, or they would
	 * stay down in the guest. */
	other = in->pointer == INPUT_DEVICE_TABLET ? INPUT_DEVICE_MOUSE : INPUT_DEVICE_TABLET;
	send_buttons_locked(in, other, 0);
	send_buttons_locked(in, in->pointer, pressed_mask & known);
	pthread_mutex_unlock(&in->pointer_lock);
}

static void input_wheel(void *opaque, int32_t clicks)
{
	struct input_devices *in = opaque;
	const struct virtio_input_event events[] = {
		{ .type = EV_REL, .code = REL_WHEEL, .value = (uint32_t)clicks },
		syn_report,
	};

	if (!clicks)
		return;
	pthread_mutex_lock(&in->pointer_lock);
	virtio_input_send(&in->devices[in->pointer], events, 2);
	pthread_mutex_unlock(&in->pointer_lock);
}

const struct display_input_ops input_devices_display_ops = {
	.key = input_key,
	.pointer_absolute = input_pointer_absolute,
	.pointer_relative = input_pointer_relative,
	.buttons = input_buttons,
	.wheel = input_wheel,
};

int input_devices_create(struct input_devices **out, struct io_thread *io,
			 const struct virtio_pci_env *env)
{
	struct input_devices *in = calloc(1, sizeof(*in));
	unsigned made;
	int ret = 0;

	*out = NULL;
	if (!in)
		return -ENOMEM;
	for (made = 0; made < INPUT_DEVICES_COUNT; made++) {
		ret = virtio_input_create(&in->devices[made], device_kinds[made], io, env);
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		while (made--)
			virtio_input_destroy(&in->devices[made]);
		free(in);
		return ret;
	}
	pthread_mutex_init(&in->pointer_lock, NULL);
	in->pointer = INPUT_DEVICE_TABLET;
	*out = in;
	return 0;
}

struct pci_device *input_devices_pci_device(struct input_devices *in, unsigned i)
{
	return i < INPUT_DEVICES_COUNT ? &in->devices[i].transport.pci : NULL;
}

void input_devices_stop(struct input_devices *in)
{
	/* virtio_input_destroy() resets and forgets the transport; a second
	 * call does nothing. */
	for (unsigned i = 0; in && i < INPUT_DEVICES_COUNT; i++)
		virtio_input_destroy(&in->devices[i]);
}

void input_devices_destroy(struct input_devices *in)
{
	if (!in)
		return;
	input_devices_stop(in);
	pthread_mutex_destroy(&in->pointer_lock);
	free(in);
}
