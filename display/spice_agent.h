/* A stand-in for the SPICE guest agent, inside gvmm, that can do one
 * thing: say it takes monitor configurations.
 *
 * SPICE clients (spice-gtk: remote-viewer, virt-viewer) send their window
 * sizes only while an agent is connected and has announced that
 * capability. spice-server then hands those sizes to the QXL instances
 * (display/spice_qxl.c), which make them preferred modes for the GPU:
 * the guest needs no agent of its own. This one answers the client's
 * capability request and swallows everything else; clipboard, file
 * transfer and agent mouse stay off, so no client expects more of it. */
#ifndef GVMM_SPICE_AGENT_H
#define GVMM_SPICE_AGENT_H

#include <spice.h>

struct spice_agent;

/* wake: asks the loop thread to call spice_agent_service soon; any
 * thread. NULL when out of memory. */
struct spice_agent *spice_agent_new(void (*wake)(void *opaque), void *wake_opaque);
/* After spice_server_init: registers as the server's agent. 0 or -1. */
int spice_agent_attach(struct spice_agent *a, SpiceServer *server);
/* Loop thread: lets spice-server read a pending answer. */
void spice_agent_service(struct spice_agent *a);
/* After spice_server_destroy. */
void spice_agent_free(struct spice_agent *a);

#endif
