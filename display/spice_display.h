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

/* Whether this gvmm can start a SPICE server: 0 with the spice-server
 * version it is built with ("0.15.1") in version, or -1 with one line in
 * err (in gvmm, its SPICE module is missing or broken:
 * display/spice_module.h). Call before making a VM that will need one. */
int spice_display_available(char *version, size_t versionlen, char *err, size_t errlen);

/* Listens now (a port in use, a bad certificate, a unix: path that holds
 * something else than a stale socket, a connection file that cannot be
 * made safely: -1 with one line in err, which the caller reports as bad
 * input). opt must be settled (spice_ticket_settle). A TCP listener with
 * a ticket gets its connection file. nr_outputs primary surfaces of
 * width x height exist (black) from the start, so a client that connects
 * before the guest draws sees the screen. Call on the loop's thread. */
int spice_display_create(struct display **out, const struct spice_options *opt,
			 struct event_loop *loop, unsigned nr_outputs,
			 uint32_t width, uint32_t height, char *err, size_t errlen);
/* The server's address: "spice://127.0.0.1:5900" or "spice+unix:///path". */
const char *spice_display_uri(const struct display *d);
/* The connection file (display/spice_connect_file.h), which holds the
 * ticket: what to give remote-viewer. NULL when there is none (unix:,
 * disable-ticketing): then the URI is what to give it. It is removed at
 * spice_display_destroy. */
const char *spice_display_connect_file(const struct display *d);
/* Stops the server; the loop's thread, devices detached. */
void spice_display_destroy(struct display *d);

#endif
