/* The guest's keyboard, tablet (absolute pointer with buttons and wheel)
 * and mouse (relative, for viewers that cannot do absolute), three
 * virtio-input devices (virtio 1.2, section 5.8) that look like ordinary
 * evdev devices to the guest, fed by the display's viewers through
 * display_input_ops. */
#ifndef GVMM_INPUT_DEVICES_H
#define GVMM_INPUT_DEVICES_H

#include "../../display/display.h"
#include "../../vmm/io_thread.h"
#include "../pci/pci.h"
#include "virtio_pci.h"

#define INPUT_DEVICES_COUNT 3

/* The functions' order, for input_devices_pci_device(). */
enum {
	INPUT_DEVICE_KEYBOARD,
	INPUT_DEVICE_TABLET,
	INPUT_DEVICE_MOUSE,
};

struct input_devices;

/* The event queues are served on io. Returns 0 or -errno. */
int input_devices_create(struct input_devices **out, struct io_thread *io,
			 const struct virtio_pci_env *env);
/* Each of the INPUT_DEVICES_COUNT functions, for pci_bus_add_device(). */
struct pci_device *input_devices_pci_device(struct input_devices *in, unsigned i);
/* What the display calls; opaque is the struct input_devices. Thread-safe:
 * events queue until the guest posts buffers (bounded; the oldest whole
 * events are dropped beyond it). */
extern const struct display_input_ops input_devices_display_ops;
/* Tearing down is two steps, because the PCI bus keeps pointers into the
 * functions until pci_bus_destroy(): stop (detached from the display, with
 * io still running) resets the devices so no thread touches them any more;
 * destroy, after pci_bus_destroy(), frees them (stopping them first if
 * that was not done). */
void input_devices_stop(struct input_devices *in);
void input_devices_destroy(struct input_devices *in);

#endif
