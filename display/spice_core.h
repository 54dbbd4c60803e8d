/* spice-server's SpiceCoreInterface on gvmm's event loop: its timers are
 * timerfds and its fd watches epoll registrations of one struct
 * event_loop, so the server's main-thread work (listening, the main and
 * inputs channels, timers) runs on the loop's thread with no second main
 * loop. spice-server calls these without a context pointer, so there is
 * one core per process: spice_core_open fails while another is open. */
#ifndef GVMM_SPICE_CORE_H
#define GVMM_SPICE_CORE_H

#include <spice.h>

#include "../vmm/event_loop.h"

/* The interface to pass to spice_server_init, or NULL when a core is
 * already open. Call on the loop's thread. */
SpiceCoreInterface *spice_core_open(struct event_loop *loop);
/* After spice_server_destroy: every timer and watch is gone by then. */
void spice_core_close(void);

/* Display-channel clients connected now (for logs and tests). */
unsigned spice_core_display_clients(void);

#endif
