/* What SPICE clients type and point, as spice-server's keyboard, tablet
 * and mouse interfaces, handed to the display's input devices
 * (display_input_*). The tablet is what lets clients use client-mouse
 * mode: the pointer goes where the client's pointer is, no grab. The
 * mouse is the relative fallback spice-server uses in server mode.
 * spice-server calls all of them on its main thread, the loop's. */
#ifndef GVMM_SPICE_INPUT_H
#define GVMM_SPICE_INPUT_H

#include <spice.h>

#include "display.h"

struct spice_inputs;

/* NULL when out of memory. */
struct spice_inputs *spice_inputs_new(struct display *display);
/* Registers the three interfaces; 0 or -1. */
int spice_inputs_attach(struct spice_inputs *in, SpiceServer *server);
/* After spice_server_destroy. */
void spice_inputs_free(struct spice_inputs *in);

#endif
