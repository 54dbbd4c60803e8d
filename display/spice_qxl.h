/* One display output as a spice-server QXL instance (one display channel):
 * the display's own copy of the output's pixels, the region of it that
 * changed since the last send, the primary surface spice-server draws
 * into, and the queues of draw and cursor commands that spice-server's
 * worker thread pulls.
 *
 * Threads: the GPU side (update, resize, cursor) runs on any thread and
 * only touches the copy and the queues under the output's locks, then
 * asks the loop thread to act (the wake callback). Everything that calls
 * spice-server (surfaces, wake-ups) runs on the loop thread. The QXL
 * callbacks run on spice-server's worker thread. */
#ifndef GVMM_SPICE_QXL_H
#define GVMM_SPICE_QXL_H

#include <stdbool.h>
#include <stdint.h>

#include <spice.h>

#include "display.h"

struct spice_output;

/* Asks the loop thread to look at the output soon (spice_output_service
 * and friends). Called from any thread, with no output lock held. */
typedef void (*spice_output_wake_fn)(void *opaque);

/* A width x height output (black). NULL when out of memory. */
struct spice_output *spice_output_new(unsigned index, uint32_t width, uint32_t height,
				      spice_output_wake_fn wake, void *wake_opaque);
/* Loop thread: registers the QXL instance with the server and creates the
 * primary surface. Returns 0 or -1. */
int spice_output_attach(struct spice_output *o, SpiceServer *server);
/* After spice_server_destroy (which drops the instance): frees the output
 * and whatever commands spice-server never gave back. */
void spice_output_free(struct spice_output *o);
/* The instance spice-server knows the output by; tests play its worker
 * through it (the QXLInterface callbacks). */
QXLInstance *spice_output_qxl(struct spice_output *o);

/* The most host memory an output showing width x height holds: its copy,
 * the primary surface, at most two frames of draw commands that
 * spice-server has not let go of while no client holds them, and a
 * little more for cursor commands and headers. Pure. */
uint64_t spice_output_bytes(uint32_t width, uint32_t height);

/* ---- any thread (display_backend_ops) ---- */

/* 0, or -1 when there is no memory for the new picture (the old stays). */
int spice_output_resize(struct spice_output *o, uint32_t width, uint32_t height);
void spice_output_update(struct spice_output *o, const struct display_rect *rect,
			 const uint8_t *pixels, uint32_t stride, enum display_format format);
void spice_output_cursor_define(struct spice_output *o, uint32_t width, uint32_t height,
				uint32_t hot_x, uint32_t hot_y, const uint8_t *pixels,
				uint32_t stride, enum display_format format);
void spice_output_cursor_move(struct spice_output *o, int32_t x, int32_t y, bool visible);
/* GL scanout (display.h's dmabufs; the loop thread hands them to
 * spice-server). gl_scanout owns fd, and refuses (-1) while a draw is
 * unacknowledged; gl_draw refuses before a buffer or while one is. */
int spice_output_gl_scanout(struct spice_output *o, int fd, uint32_t width, uint32_t height,
			    uint32_t stride, uint32_t fourcc);
int spice_output_gl_draw(struct spice_output *o, const struct display_rect *rect);
enum display_dmabuf_state spice_output_gl_state(struct spice_output *o);
/* Draws clients acknowledged so far. */
uint64_t spice_output_gl_acks(struct spice_output *o);
/* Whether a client shows this output now (spice-server says so when one
 * connects or goes). */
bool spice_output_has_client(const struct spice_output *o);
/* Whether a client came, or the clients changed with one left, since the
 * last call (any thread; once per change). */
bool spice_output_take_client_arrival(struct spice_output *o);

/* ---- loop thread ---- */

/* Applies a pending size change (new primary surface, all of it to be
 * sent) and hands queued cursor commands to spice-server. */
void spice_output_service(struct spice_output *o);
/* Whether part of the copy waits to be sent and could be now. */
bool spice_output_has_dirty(struct spice_output *o);
/* Gives the copy's pages back to the system, unless part of it waits to
 * be sent: the surface holds the picture, and the next updates fault in
 * the pages they write (so call it now and then, not after every send).
 * Any thread. Returns whether it did. */
bool spice_output_release_copy(struct spice_output *o);
/* Queues draw commands for the changed region and wakes spice-server;
 * once those not yet flushed exceed a frame, an update command follows
 * that makes spice-server render them and let go. Leaves the region
 * pending while spice-server is behind (too many commands not yet pulled)
 * or flushing: it wakes the loop when it catches up. */
void spice_output_send(struct spice_output *o);
/* Bytes of draw commands not yet pulled, and of those not yet given back
 * (pulled or not). */
void spice_output_draw_bytes(struct spice_output *o, uint64_t *queued, uint64_t *held);
/* Draw commands spice-server has pulled so far (any thread). */
uint64_t spice_output_draws_pulled(struct spice_output *o);
/* The newest size a client asked for since the last call, if any. */
bool spice_output_take_mode_request(struct spice_output *o, uint32_t *width,
				    uint32_t *height);

#endif
