/* The embedded SPICE server: a `struct display` (display/display.h) that
 * streams every output to SPICE clients (remote-viewer, spicy) and takes
 * their keyboard, pointer and window size back.
 *
 * It runs on gvmm's main event loop: the SpiceCoreInterface timers and fd
 * watches are event_loop timers and fds, no second main loop.
 * spice-server's own display worker thread pulls drawing commands from a
 * queue this file fills. One QXL instance (one display channel) per
 * output; a primary surface that follows the output's size; each
 * coalesced update becomes a draw command for just the dirty rectangles,
 * sent at most refresh_hz times a second, as soon as the guest flushes.
 * A SPICE tablet tied to the guest's virtio tablet lets clients run in
 * client-mouse mode; the monitors config a client sends becomes a
 * preferred mode for the guest (display_gpu_ops.request_mode). */
#ifndef GVMM_SPICE_DISPLAY_H
#define GVMM_SPICE_DISPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "../vmm/event_loop.h"
#include "display.h"
#include "spice_options.h"

/* Listens now (a port in use, a bad certificate: -1 with one line in err,
 * which the caller reports as bad input). nr_outputs primary surfaces of
 * width x height exist (black) from the start, so a client that connects
 * before the guest draws sees the screen. Call on the loop's thread. */
int spice_display_create(struct display **out, const struct spice_options *opt,
			 struct event_loop *loop, unsigned nr_outputs,
			 uint32_t width, uint32_t height, char *err, size_t errlen);
/* What a user types to connect: "spice://127.0.0.1:5900" or
 * "spice+unix:///path". */
const char *spice_display_uri(const struct display *d);
/* Stops the server; the loop's thread, devices detached. */
void spice_display_destroy(struct display *d);

#endif
