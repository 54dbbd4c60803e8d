// fuzz-sources: tests/fuzz/fake_display.c devices/gpu/virtio_gpu_cmd.c firmware/edid.c display/display.c vmm/guest_memory.c vmm/log.c
/* Fuzzes the virtio-gpu 2D command engine: a run of requests on either
 * queue, viewers' mode changes and device resets, against a small guest
 * RAM and a fake display that reads every pixel it is handed. Beyond the
 * sanitizers: a response never exceeds the room it was given and always
 * starts with a whole header when there is room for one; the host memory
 * the engine counts never exceeds its cap and equals what its resources
 * hold and what the display holds for the outputs it was told to show
 * (the fake display costs what SPICE's does), also across resets; every
 * backing entry points into guest RAM; every scanout shows a live
 * resource through a rectangle inside it; the display only ever sees
 * rectangles inside the size it was last given, and every size it was
 * given is charged.
 *
 * Input layout:
 *   byte 0    bit 0: VIRTIO_GPU_F_EDID; bits 4-7: outputs - 1
 *   then      records, each an op byte:
 *     op % 4 == 0, 1  a request on the control (0) or cursor (1) queue:
 *                     a response-room byte (255: the most, else that many
 *                     times 5, capped), a 16-bit length, then that many
 *                     request bytes (fewer if the input ends)
 *     op % 4 == 2     a viewer's mode: output byte, 16-bit width, 16-bit
 *                     height
 *     op % 4 == 3     a device reset */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../devices/gpu/virtio_gpu_cmd.h"
#include "fake_display.h"
#include "../../vmm/guest_memory.h"

#define RAM_SIZE    0x40000ull
#define CAP         (4ull << 20)
#define HDR_SIZE    24

struct fuzz_bench {
	struct guest_memory mem;
	struct fake_display seen;
	struct display *display;
};

/* Guest RAM (a memfd and a mapping) and the display live for the whole
 * process; making them per input would dominate the run. */
static struct fuzz_bench *bench(void)
{
	static struct fuzz_bench *b;
	char err[128];

	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || guest_memory_create(&b->mem, RAM_SIZE, false, err, sizeof(err)))
			abort();
		/* Something other than zeros for transfers to carry. */
		for (uint64_t i = 0; i < RAM_SIZE; i++)
			b->mem.host_base[i] = (uint8_t)(i * 131 + 7);
		/* 64 KiB per output beyond its frames, as the SPICE display. */
		b->seen.output_extra_bytes = 64u << 10;
		b->seen.viewers = true;
		b->display = display_new(fake_display_ops(), &b->seen);
		if (!b->display)
			abort();
	}
	return b;
}

static bool in_ram(const struct fuzz_bench *b, const uint8_t *p, uint64_t len)
{
	const uint8_t *lo = b->mem.host_base, *hi = lo + b->mem.ram_size;

	return p >= lo && p <= hi && len <= (uint64_t)(hi - p);
}

static const struct gpu2d_resource *lookup(const struct gpu2d *g, uint32_t id)
{
	for (size_t i = 0; i < g->nr_buckets; i++)
		for (const struct gpu2d_resource *r = g->buckets[i]; r; r = r->next_in_bucket)
			if (r->id == id)
				return r;
	return NULL;
}

/* What the engine charges for its outputs; aborts where a charge is not
 * what the display holds for the size it was told. */
static uint64_t output_charges(const struct fuzz_bench *b, const struct gpu2d *g)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < g->nr_outputs; i++) {
		const struct gpu2d_scanout *s = &g->scanouts[i];

		if (s->shown_width != b->seen.width[i] || s->shown_height != b->seen.height[i] ||
		    s->display_charged != display_output_bytes(b->display, s->shown_width,
							       s->shown_height))
			abort();
		sum += s->display_charged;
	}
	return sum;
}

static void check_state(const struct fuzz_bench *b, const struct gpu2d *g)
{
	uint64_t charged = output_charges(b, g);
	size_t count = 0;

	if (g->host_memory > g->max_host_memory)
		abort();
	for (size_t i = 0; i < g->nr_buckets; i++) {
		for (const struct gpu2d_resource *r = g->buckets[i]; r; r = r->next_in_bucket) {
			uint64_t total = 0;

			count++;
			charged += r->charged;
			if (!r->id || !r->width || !r->height || r->width > GPU2D_MAX_SIDE ||
			    r->height > GPU2D_MAX_SIDE || !r->pixels)
				abort();
			if (r->charged < (uint64_t)r->width * r->height * 4)
				abort();
			if (!r->backing != !r->nr_backing || r->nr_backing > GPU2D_MAX_BACKING_ENTRIES)
				abort();
			for (uint32_t e = 0; e < r->nr_backing; e++) {
				if (!in_ram(b, r->backing[e].host, r->backing[e].len) ||
				    r->backing[e].start != total)
					abort();
				total += r->backing[e].len;
			}
			if (total != r->backing_len)
				abort();
		}
	}
	if (charged != g->host_memory || count != g->nr_resources)
		abort();
	for (unsigned i = 0; i < g->nr_outputs; i++) {
		const struct gpu2d_scanout *s = &g->scanouts[i];
		const struct gpu2d_resource *r;

		if (!s->resource_id)
			continue;
		r = lookup(g, s->resource_id);
		if (!r || !s->rect.width || !s->rect.height ||
		    (uint64_t)s->rect.x + s->rect.width > r->width ||
		    (uint64_t)s->rect.y + s->rect.height > r->height)
			abort();
	}
}

static void run_request(struct gpu2d *g, enum gpu2d_queue q, uint8_t room_sel,
			const uint8_t *req, size_t len)
{
	size_t room = room_sel == 255 ? GPU2D_MAX_RESPONSE : (size_t)room_sel * 5;
	uint8_t *resp, *copy;
	size_t n;

	if (room > GPU2D_MAX_RESPONSE)
		room = GPU2D_MAX_RESPONSE;
	/* Exactly sized, so any overrun is the sanitizer's to see; the
	 * request too, as the device's scratch would be. */
	resp = malloc(room ? room : 1);
	copy = malloc(len ? len : 1);
	if (!resp || !copy)
		abort();
	if (len)
		memcpy(copy, req, len);
	n = gpu2d_handle(g, q, copy, len, room ? resp : NULL, room);
	if (n > room || (room >= HDR_SIZE && n < HDR_SIZE))
		abort();
	free(copy);
	free(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_bench *b = bench();
	struct gpu2d g;

	if (size < 1)
		return 0;
	memset(&b->seen.width, 0, sizeof(b->seen.width));
	memset(&b->seen.height, 0, sizeof(b->seen.height));
	if (gpu2d_init(&g, &b->mem, b->display, (data[0] >> 4) + 1u, 1280, 800, CAP))
		abort();
	g.edid = data[0] & 1;
	data++;
	size--;

	while (size) {
		uint8_t op = data[0];

		data++;
		size--;
		switch (op % 4) {
		case 0:
		case 1: {
			uint8_t room;
			size_t len;

			if (size < 3)
				goto done;
			room = data[0];
			len = data[1] | (size_t)data[2] << 8;
			data += 3;
			size -= 3;
			if (len > size)
				len = size;
			run_request(&g, op % 4 ? GPU2D_CURSORQ : GPU2D_CONTROLQ, room, data, len);
			data += len;
			size -= len;
			break;
		}
		case 2:
			if (size < 5)
				goto done;
			gpu2d_set_preferred_mode(&g, data[0], data[1] | (uint32_t)data[2] << 8,
						 data[3] | (uint32_t)data[4] << 8);
			data += 5;
			size -= 5;
			break;
		case 3:
			/* Resources go; the outputs' pictures and charges stay. */
			gpu2d_reset(&g);
			if (g.host_memory != output_charges(b, &g) || g.nr_resources)
				abort();
			break;
		}
		check_state(b, &g);
	}
done:
	gpu2d_destroy(&g);
	return 0;
}
