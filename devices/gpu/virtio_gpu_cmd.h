/* The virtio-gpu 2D command engine (virtio 1.2, 5.7.6): one request in,
 * one response out, over a byte buffer and guest RAM, with no queues or
 * threads, so unit tests and the fuzzer drive it directly. It owns the
 * resource table (host copies of the guest's pixels, their guest-RAM
 * backing), the scanouts and the host-memory cap, and tells the display
 * what each output shows.
 *
 * The cap covers all the host memory the guest's GPU use makes gvmm hold:
 * every resource (pixels, bookkeeping, backing entries) and, for every
 * output a scanout shows, what the display holds to show it at that size
 * (display_output_bytes). A scanout keeps its charge until the output
 * changes size or goes off, not when the device resets (the display keeps
 * the picture); the engine's end puts every output it sized back to the
 * configured mode.
 *
 * Errors, chosen the same way for every command:
 *   a request shorter than its command, a bad format, an empty rectangle or
 *   one outside its resource, a backing entry outside guest RAM, a transfer
 *   reaching past the backing               ERR_INVALID_PARAMETER
 *   resource id 0, unknown or taken         ERR_INVALID_RESOURCE_ID
 *   scanout id beyond the outputs           ERR_INVALID_SCANOUT_ID
 *   host memory beyond the cap              ERR_OUT_OF_MEMORY
 *   the resource's state forbids it (backing attached twice, detached or
 *   used without any), an unknown or 3D command, a request without even
 *   a header                                ERR_UNSPEC
 * Fences complete before the response (2D does everything at once), so a
 * fenced request's response carries the FENCE flag and its fence_id and
 * ctx_id back.
 *
 * Threads: gpu2d_handle and gpu2d_reset run on one thread (the device's);
 * gpu2d_set_preferred_mode may come from any other. */
#ifndef GVMM_VIRTIO_GPU_CMD_H
#define GVMM_VIRTIO_GPU_CMD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../display/display.h"
#include "../../vmm/guest_memory.h"

#define GPU2D_MAX_OUTPUTS         16
#define GPU2D_MAX_SIDE            16384     /* of a resource, in pixels */
#define GPU2D_MAX_BACKING_ENTRIES 16384
/* Bytes of a request that matter: ATTACH_BACKING (32 bytes) with every
 * 16-byte entry. The wire structs (<linux/virtio_gpu.h>) stay inside
 * virtio_gpu_cmd.c: that header's struct virtio_gpu_config is not
 * virtio_gpu.h's. */
#define GPU2D_MAX_REQUEST         (32 + GPU2D_MAX_BACKING_ENTRIES * 16)
/* The largest response: OK_EDID, a header, size, padding, 1024 bytes. */
#define GPU2D_MAX_RESPONSE        (24 + 8 + 1024)

enum gpu2d_queue { GPU2D_CONTROLQ, GPU2D_CURSORQ };

/* Opens a command handler of either engine: a request shorter than its
 * command struct is INVALID_PARAMETER; else the struct is copied out (the
 * request need not be aligned for it) and the trailing bytes of a longer
 * request are ignored. */
#define READ_COMMAND(cmd, req, len) do { \
	if ((len) < sizeof(cmd)) \
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER; \
	memcpy(&(cmd), (req), sizeof(cmd)); \
} while (0)

/* One piece of a resource's guest-RAM backing. */
struct gpu2d_backing {
	uint8_t *host;             /* into guest RAM, checked at attach */
	uint32_t len;
	uint64_t start;            /* its offset in the backing as a whole */
};

struct gpu2d_resource {
	uint32_t id;
	uint32_t width, height;
	enum display_format format;
	uint8_t *pixels;           /* the host copy, width * 4 bytes a row */
	uint64_t charged;          /* host bytes counted against the cap */
	struct gpu2d_backing *backing;   /* NULL: none attached */
	uint32_t nr_backing;
	uint64_t backing_len;
	struct gpu2d_resource *next_in_bucket;
};

struct gpu2d_scanout {
	uint32_t resource_id;      /* 0: disabled */
	struct display_rect rect;  /* of the resource, shown as the whole output */
	uint32_t shown_width, shown_height;  /* what the display was last told */
	uint64_t display_charged;  /* what the display holds for that, counted */
	bool cursor_visible;
};

struct gpu2d {
	const struct guest_memory *mem;
	struct display *display;   /* NULL: headless */
	unsigned nr_outputs;
	bool edid;                 /* VIRTIO_GPU_F_EDID negotiated */
	uint32_t default_width, default_height;
	uint64_t max_host_memory;
	uint64_t host_memory;      /* charged by resources and outputs now, <= max */
	bool warned_memory;        /* the guest was told no once: said so */

	struct gpu2d_resource **buckets;   /* by id; a power of two of them */
	size_t nr_buckets, nr_resources;
	struct gpu2d_scanout scanouts[GPU2D_MAX_OUTPUTS];

	/* The preferred mode of each output (0 x 0: disconnected), also set
	 * by the display's thread. */
	pthread_mutex_t mode_lock;
	uint32_t mode_width[GPU2D_MAX_OUTPUTS], mode_height[GPU2D_MAX_OUTPUTS];
};

/* Every output starts with width x height as its preferred mode. Returns
 * 0 or -ENOMEM. */
int gpu2d_init(struct gpu2d *g, const struct guest_memory *mem, struct display *display,
	       unsigned nr_outputs, uint32_t width, uint32_t height, uint64_t max_host_memory);
void gpu2d_destroy(struct gpu2d *g);
/* A device reset: every resource goes, scanouts are disabled. The display
 * keeps its last picture until the guest sets a scanout again, and the
 * output its charge. Preferred modes stay. */
void gpu2d_reset(struct gpu2d *g);

/* Answers one request; returns the response's length, at most resp_cap
 * (a response that does not fit is cut). */
size_t gpu2d_handle(struct gpu2d *g, enum gpu2d_queue queue, const uint8_t *req,
		    size_t req_len, uint8_t *resp, size_t resp_cap);

/* A viewer's new preferred mode for an output. Returns whether it
 * changed. Thread-safe. */
bool gpu2d_set_preferred_mode(struct gpu2d *g, unsigned output, uint32_t width,
			      uint32_t height);

/* The virtio format's layout in memory; false for formats 2D lacks. */
bool gpu2d_format(uint32_t virtio_format, enum display_format *format);

#endif
