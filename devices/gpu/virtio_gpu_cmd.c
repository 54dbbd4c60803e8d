#include "virtio_gpu_cmd.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_gpu.h>
#include <stdlib.h>
#include <string.h>

#include "../../firmware/edid.h"
#include "../../vmm/log.h"

_Static_assert(GPU2D_MAX_REQUEST == sizeof(struct virtio_gpu_resource_attach_backing) +
	       GPU2D_MAX_BACKING_ENTRIES * sizeof(struct virtio_gpu_mem_entry),
	       "the largest request is ATTACH_BACKING with every entry");
_Static_assert(GPU2D_MAX_RESPONSE == sizeof(struct virtio_gpu_resp_edid),
	       "the largest response is OK_EDID");

#define BYTES_PER_PIXEL     4
#define FIRST_BUCKETS       64
/* Grow the table when chains average more than this. */
#define MAX_LOAD            2

/* ---- formats ---- */

bool gpu2d_format(uint32_t virtio_format, enum display_format *format)
{
	/* The virtio names give the byte order in memory, as display.h's do. */
	switch (virtio_format) {
	case VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM: *format = DISPLAY_BGRA; return true;
	case VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM: *format = DISPLAY_BGRX; return true;
	case VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM: *format = DISPLAY_ARGB; return true;
	case VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM: *format = DISPLAY_XRGB; return true;
	case VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM: *format = DISPLAY_RGBA; return true;
	case VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM: *format = DISPLAY_XBGR; return true;
	case VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM: *format = DISPLAY_ABGR; return true;
	case VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM: *format = DISPLAY_RGBX; return true;
	}
	return false;
}

/* ---- the resource table ---- */

static size_t bucket_of(uint32_t id, size_t nr_buckets)
{
	/* Guests hand out ids in sequence; mixing spreads them anyway. */
	uint32_t h = id;

	h ^= h >> 16;
	h *= 0x45d9f3bu;
	h ^= h >> 16;
	return h & (nr_buckets - 1);
}

static struct gpu2d_resource *find_resource(const struct gpu2d *g, uint32_t id)
{
	struct gpu2d_resource *r = g->buckets[bucket_of(id, g->nr_buckets)];

	while (r && r->id != id)
		r = r->next_in_bucket;
	return r;
}

/* Doubles the table; when memory is short the chains just grow longer. */
static void grow_table(struct gpu2d *g)
{
	size_t n = g->nr_buckets * 2;
	struct gpu2d_resource **buckets = calloc(n, sizeof(*buckets));

	if (!buckets)
		return;
	for (size_t i = 0; i < g->nr_buckets; i++) {
		struct gpu2d_resource *r = g->buckets[i], *next;

		for (; r; r = next) {
			size_t b = bucket_of(r->id, n);

			next = r->next_in_bucket;
			r->next_in_bucket = buckets[b];
			buckets[b] = r;
		}
	}
	free(g->buckets);
	g->buckets = buckets;
	g->nr_buckets = n;
}

static void insert_resource(struct gpu2d *g, struct gpu2d_resource *r)
{
	size_t b;

	if (g->nr_resources >= g->nr_buckets * MAX_LOAD)
		grow_table(g);
	b = bucket_of(r->id, g->nr_buckets);
	r->next_in_bucket = g->buckets[b];
	g->buckets[b] = r;
	g->nr_resources++;
}

static void unlink_resource(struct gpu2d *g, struct gpu2d_resource *r)
{
	struct gpu2d_resource **link = &g->buckets[bucket_of(r->id, g->nr_buckets)];

	while (*link != r)
		link = &(*link)->next_in_bucket;
	*link = r->next_in_bucket;
	g->nr_resources--;
}

static bool can_charge(const struct gpu2d *g, uint64_t bytes)
{
	return bytes <= g->max_host_memory - g->host_memory;
}

/* The guest is refused memory: its error says so; the log, once. */
static uint32_t out_of_memory(struct gpu2d *g)
{
	if (!g->warned_memory)
		log_warn("virtio-gpu: the guest wants more host memory than max-memory (%llu MiB); "
			 "it gets out-of-memory errors", (unsigned long long)(g->max_host_memory >> 20));
	g->warned_memory = true;
	return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
}

static void drop_backing(struct gpu2d *g, struct gpu2d_resource *r)
{
	uint64_t bytes = (uint64_t)r->nr_backing * sizeof(*r->backing);

	free(r->backing);
	r->backing = NULL;
	r->nr_backing = 0;
	r->backing_len = 0;
	r->charged -= bytes;
	g->host_memory -= bytes;
}

static void free_resource(struct gpu2d *g, struct gpu2d_resource *r)
{
	drop_backing(g, r);
	g->host_memory -= r->charged;
	free(r->pixels);
	free(r);
}

/* ---- life cycle ---- */

int gpu2d_init(struct gpu2d *g, const struct guest_memory *mem, struct display *display,
	       unsigned nr_outputs, uint32_t width, uint32_t height, uint64_t max_host_memory)
{
	memset(g, 0, sizeof(*g));
	if (!nr_outputs || nr_outputs > GPU2D_MAX_OUTPUTS)
		return -EINVAL;
	g->buckets = calloc(FIRST_BUCKETS, sizeof(*g->buckets));
	if (!g->buckets)
		return -ENOMEM;
	g->nr_buckets = FIRST_BUCKETS;
	g->mem = mem;
	g->display = display;
	g->nr_outputs = nr_outputs;
	g->default_width = width;
	g->default_height = height;
	g->max_host_memory = max_host_memory;
	for (unsigned i = 0; i < nr_outputs; i++) {
		g->mode_width[i] = width;
		g->mode_height[i] = height;
	}
	pthread_mutex_init(&g->mode_lock, NULL);
	return 0;
}

void gpu2d_reset(struct gpu2d *g)
{
	for (size_t i = 0; i < g->nr_buckets; i++) {
		struct gpu2d_resource *r = g->buckets[i], *next;

		for (; r; r = next) {
			next = r->next_in_bucket;
			free_resource(g, r);
		}
		g->buckets[i] = NULL;
	}
	g->nr_resources = 0;
	for (unsigned i = 0; i < g->nr_outputs; i++) {
		struct gpu2d_scanout *s = &g->scanouts[i];

		s->resource_id = 0;
		s->rect = (struct display_rect){ 0 };
		s->cursor_visible = false;
	}
}

void gpu2d_destroy(struct gpu2d *g)
{
	if (!g->buckets)
		return;
	gpu2d_reset(g);
	/* The display outlives the engine (a reboot makes a new one, which
	 * knows nothing of these charges): outputs go back to the configured
	 * mode, which the display held before any guest. */
	for (unsigned i = 0; i < g->nr_outputs && g->display; i++) {
		const struct gpu2d_scanout *s = &g->scanouts[i];

		if (s->display_charged &&
		    (s->shown_width != g->default_width || s->shown_height != g->default_height))
			display_output_resize(g->display, i, g->default_width, g->default_height);
	}
	free(g->buckets);
	g->buckets = NULL;
	pthread_mutex_destroy(&g->mode_lock);
}

bool gpu2d_set_preferred_mode(struct gpu2d *g, unsigned output, uint32_t width,
			      uint32_t height)
{
	bool changed;

	if (output >= g->nr_outputs)
		return false;
	pthread_mutex_lock(&g->mode_lock);
	changed = g->mode_width[output] != width || g->mode_height[output] != height;
	g->mode_width[output] = width;
	g->mode_height[output] = height;
	pthread_mutex_unlock(&g->mode_lock);
	return changed;
}

static void preferred_mode(struct gpu2d *g, unsigned output, uint32_t *width, uint32_t *height)
{
	pthread_mutex_lock(&g->mode_lock);
	*width = g->mode_width[output];
	*height = g->mode_height[output];
	pthread_mutex_unlock(&g->mode_lock);
}

/* ---- rectangles ---- */

static struct display_rect rect_from_wire(const struct virtio_gpu_rect *w)
{
	return (struct display_rect){
		.x = le32toh(w->x), .y = le32toh(w->y),
		.width = le32toh(w->width), .height = le32toh(w->height),
	};
}

/* Non-empty and wholly inside the resource; 64-bit so x + width cannot
 * wrap. */
static bool rect_inside(const struct display_rect *r, const struct gpu2d_resource *res)
{
	return r->width && r->height &&
	       (uint64_t)r->x + r->width <= res->width &&
	       (uint64_t)r->y + r->height <= res->height;
}

static bool intersect(const struct display_rect *a, const struct display_rect *b,
		      struct display_rect *out)
{
	uint64_t x0 = a->x > b->x ? a->x : b->x;
	uint64_t y0 = a->y > b->y ? a->y : b->y;
	uint64_t ax1 = (uint64_t)a->x + a->width, bx1 = (uint64_t)b->x + b->width;
	uint64_t ay1 = (uint64_t)a->y + a->height, by1 = (uint64_t)b->y + b->height;
	uint64_t x1 = ax1 < bx1 ? ax1 : bx1, y1 = ay1 < by1 ? ay1 : by1;

	if (x0 >= x1 || y0 >= y1)
		return false;
	*out = (struct display_rect){
		.x = (uint32_t)x0, .y = (uint32_t)y0,
		.width = (uint32_t)(x1 - x0), .height = (uint32_t)(y1 - y0),
	};
	return true;
}

static uint64_t stride_of(const struct gpu2d_resource *res)
{
	return (uint64_t)res->width * BYTES_PER_PIXEL;
}

static uint8_t *pixel_at(const struct gpu2d_resource *res, uint32_t x, uint32_t y)
{
	return res->pixels + y * stride_of(res) + (uint64_t)x * BYTES_PER_PIXEL;
}

/* ---- commands; each returns the response type ---- */

static uint32_t get_display_info(struct gpu2d *g, uint8_t *body, size_t *body_len)
{
	struct virtio_gpu_resp_display_info info;

	memset(&info, 0, sizeof(info));
	for (unsigned i = 0; i < g->nr_outputs; i++) {
		uint32_t w, h;

		preferred_mode(g, i, &w, &h);
		if (!w || !h)
			continue;        /* its viewer closed it: disconnected */
		info.pmodes[i].r.width = htole32(w);
		info.pmodes[i].r.height = htole32(h);
		info.pmodes[i].enabled = htole32(1);
	}
	*body_len = sizeof(info) - sizeof(info.hdr);
	memcpy(body, (uint8_t *)&info + sizeof(info.hdr), *body_len);
	return VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
}

static uint32_t get_edid(struct gpu2d *g, const uint8_t *req, size_t len, uint8_t *body,
			 size_t *body_len)
{
	struct virtio_gpu_cmd_get_edid cmd;
	struct virtio_gpu_resp_edid edid;
	uint32_t scanout, w, h;

	if (!g->edid)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	READ_COMMAND(cmd, req, len);
	scanout = le32toh(cmd.scanout);
	if (scanout >= g->nr_outputs)
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	preferred_mode(g, scanout, &w, &h);
	if (!w || !h) {
		w = g->default_width;
		h = g->default_height;
	}
	memset(&edid, 0, sizeof(edid));
	edid.size = htole32(EDID_BLOCK_SIZE);
	edid_build(edid.edid, w, h, scanout);
	*body_len = sizeof(edid) - sizeof(edid.hdr);
	memcpy(body, (uint8_t *)&edid + sizeof(edid.hdr), *body_len);
	return VIRTIO_GPU_RESP_OK_EDID;
}

static uint32_t resource_create_2d(struct gpu2d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_create_2d cmd;
	struct gpu2d_resource *res;
	enum display_format format;
	uint32_t id, w, h;
	uint64_t bytes;

	READ_COMMAND(cmd, req, len);
	id = le32toh(cmd.resource_id);
	w = le32toh(cmd.width);
	h = le32toh(cmd.height);
	if (!id || find_resource(g, id))
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!gpu2d_format(le32toh(cmd.format), &format))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (!w || !h || w > GPU2D_MAX_SIDE || h > GPU2D_MAX_SIDE)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	bytes = (uint64_t)w * h * BYTES_PER_PIXEL;
	/* The bookkeeping counts too, or tiny resources would be free. */
	if (!can_charge(g, sizeof(*res) + bytes))
		return out_of_memory(g);
	res = calloc(1, sizeof(*res));
	if (!res)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	/* Zeroed: the display must never see what the host had there. */
	res->pixels = calloc(1, (size_t)bytes);
	if (!res->pixels) {
		free(res);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	res->id = id;
	res->width = w;
	res->height = h;
	res->format = format;
	res->charged = sizeof(*res) + bytes;
	g->host_memory += res->charged;
	insert_resource(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t resource_unref(struct gpu2d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_unref cmd;
	struct gpu2d_resource *res;

	READ_COMMAND(cmd, req, len);
	res = find_resource(g, le32toh(cmd.resource_id));
	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	/* A scanout showing it shows nothing now; the display keeps the
	 * last picture until the guest sets another. */
	for (unsigned i = 0; i < g->nr_outputs; i++)
		if (g->scanouts[i].resource_id == res->id)
			g->scanouts[i].resource_id = 0;
	unlink_resource(g, res);
	free_resource(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t resource_attach_backing(struct gpu2d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_attach_backing cmd;
	struct gpu2d_backing *backing;
	struct gpu2d_resource *res;
	uint32_t nr;
	uint64_t total = 0, bytes;

	READ_COMMAND(cmd, req, len);
	res = find_resource(g, le32toh(cmd.resource_id));
	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (res->backing)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	nr = le32toh(cmd.nr_entries);
	if (!nr || nr > GPU2D_MAX_BACKING_ENTRIES ||
	    len - sizeof(cmd) < (uint64_t)nr * sizeof(struct virtio_gpu_mem_entry))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	bytes = (uint64_t)nr * sizeof(*backing);
	if (!can_charge(g, bytes))
		return out_of_memory(g);
	backing = calloc(nr, sizeof(*backing));
	if (!backing)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	for (uint32_t i = 0; i < nr; i++) {
		struct virtio_gpu_mem_entry e;
		uint64_t addr;

		memcpy(&e, req + sizeof(cmd) + i * sizeof(e), sizeof(e));
		addr = le64toh(e.addr);
		backing[i].len = le32toh(e.length);
		/* Guest RAM is mapped for the VM's life: a checked pointer
		 * stays good until the resource goes. */
		backing[i].host = guest_memory_ptr(g->mem, addr, backing[i].len);
		if (!backing[i].host) {
			free(backing);
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		}
		backing[i].start = total;
		total += backing[i].len;
	}
	res->backing = backing;
	res->nr_backing = nr;
	res->backing_len = total;
	res->charged += bytes;
	g->host_memory += bytes;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t resource_detach_backing(struct gpu2d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_detach_backing cmd;
	struct gpu2d_resource *res;

	READ_COMMAND(cmd, req, len);
	res = find_resource(g, le32toh(cmd.resource_id));
	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!res->backing)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	drop_backing(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* Output i shows width x height now (0 x 0: off). What the display will
 * hold for that is charged before it is asked, and what it held for the
 * old size given back after (for a moment, until the display's thread
 * drops the old surface, it holds both). Returns OK_NODATA or the
 * error. */
static uint32_t size_output(struct gpu2d *g, unsigned i, uint32_t width, uint32_t height)
{
	struct gpu2d_scanout *s = &g->scanouts[i];
	uint64_t bytes = display_output_bytes(g->display, width, height);

	if (bytes > s->display_charged && !can_charge(g, bytes - s->display_charged))
		return out_of_memory(g);
	if (g->display && display_output_resize(g->display, i, width, height) < 0 && width)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;   /* the display had none */
	g->host_memory = g->host_memory - s->display_charged + bytes;
	s->display_charged = bytes;
	s->shown_width = width;
	s->shown_height = height;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t set_scanout(struct gpu2d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_set_scanout cmd;
	struct gpu2d_resource *res;
	struct gpu2d_scanout *s;
	struct display_rect r;
	uint32_t id, output, type;

	READ_COMMAND(cmd, req, len);
	output = le32toh(cmd.scanout_id);
	if (output >= g->nr_outputs)
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	s = &g->scanouts[output];
	id = le32toh(cmd.resource_id);
	if (!id) {
		/* Disabled: the output goes dark, and costs nothing. */
		s->resource_id = 0;
		s->rect = (struct display_rect){ 0 };
		if (s->shown_width || s->shown_height)
			size_output(g, output, 0, 0);
		return VIRTIO_GPU_RESP_OK_NODATA;
	}
	res = find_resource(g, id);
	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	r = rect_from_wire(&cmd.r);
	if (!rect_inside(&r, res) || r.width > DISPLAY_MAX_WIDTH || r.height > DISPLAY_MAX_HEIGHT)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	/* A page flip keeps the size: resizing would blank the output
	 * between flips. */
	if (r.width != s->shown_width || r.height != s->shown_height) {
		type = size_output(g, output, r.width, r.height);
		if (type != VIRTIO_GPU_RESP_OK_NODATA)
			return type;
	}
	s->resource_id = id;
	s->rect = r;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* Copies len bytes at offset off of the backing, which holds them (the
 * caller checked), into dst. */
static void read_backing(const struct gpu2d_resource *res, uint64_t off, uint8_t *dst,
			 uint64_t len)
{
	uint32_t lo = 0, hi = res->nr_backing;

	/* The last entry starting at or before off holds it. */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (res->backing[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	for (uint32_t i = lo; len && i < res->nr_backing; i++) {
		const struct gpu2d_backing *b = &res->backing[i];
		uint64_t at = off - b->start;
		uint64_t n;

		if (at >= b->len)
			continue;
		n = b->len - at < len ? b->len - at : len;
		memcpy(dst, b->host + at, (size_t)n);
		dst += n;
		off += n;
		len -= n;
	}
}

static uint32_t transfer_to_host_2d(struct gpu2d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_transfer_to_host_2d cmd;
	struct gpu2d_resource *res;
	struct display_rect r;
	uint64_t offset, stride, row_bytes, span;

	READ_COMMAND(cmd, req, len);
	res = find_resource(g, le32toh(cmd.resource_id));
	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	r = rect_from_wire(&cmd.r);
	if (!rect_inside(&r, res))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (!res->backing)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	/* offset is where the rectangle's first pixel lies in the backing,
	 * laid out with the resource's own stride. */
	offset = le64toh(cmd.offset);
	stride = stride_of(res);
	row_bytes = (uint64_t)r.width * BYTES_PER_PIXEL;
	span = (r.height - 1) * stride + row_bytes;
	if (offset > res->backing_len || span > res->backing_len - offset)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (row_bytes == stride) {
		read_backing(res, offset, pixel_at(res, 0, r.y), span);
		return VIRTIO_GPU_RESP_OK_NODATA;
	}
	for (uint32_t row = 0; row < r.height; row++)
		read_backing(res, offset + row * stride, pixel_at(res, r.x, r.y + row), row_bytes);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t resource_flush(struct gpu2d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_resource_flush cmd;
	struct gpu2d_resource *res;
	struct display_rect r;

	READ_COMMAND(cmd, req, len);
	res = find_resource(g, le32toh(cmd.resource_id));
	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	r = rect_from_wire(&cmd.r);
	if (!rect_inside(&r, res))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	for (unsigned i = 0; i < g->nr_outputs && g->display; i++) {
		const struct gpu2d_scanout *s = &g->scanouts[i];
		struct display_rect seen, on_output;

		if (s->resource_id != res->id || !intersect(&r, &s->rect, &seen))
			continue;
		on_output = (struct display_rect){
			.x = seen.x - s->rect.x, .y = seen.y - s->rect.y,
			.width = seen.width, .height = seen.height,
		};
		display_output_update(g->display, i, &on_output, pixel_at(res, seen.x, seen.y),
				      (uint32_t)stride_of(res), res->format);
	}
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- the cursor queue ---- */

static uint32_t update_cursor(struct gpu2d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_update_cursor cmd;
	struct gpu2d_resource *res;
	struct gpu2d_scanout *s;
	uint32_t output, id, hot_x, hot_y;
	int32_t x, y;

	READ_COMMAND(cmd, req, len);
	output = le32toh(cmd.pos.scanout_id);
	if (output >= g->nr_outputs)
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	s = &g->scanouts[output];
	/* Positions are signed: a cursor may hang off the top left. */
	x = (int32_t)le32toh(cmd.pos.x);
	y = (int32_t)le32toh(cmd.pos.y);
	id = le32toh(cmd.resource_id);
	if (!id) {
		s->cursor_visible = false;
		if (g->display)
			display_cursor_move(g->display, output, x, y, false);
		return VIRTIO_GPU_RESP_OK_NODATA;
	}
	res = find_resource(g, id);
	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (res->width > DISPLAY_CURSOR_MAX || res->height > DISPLAY_CURSOR_MAX)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	/* The display wants the hot spot inside the image. */
	hot_x = le32toh(cmd.hot_x);
	hot_y = le32toh(cmd.hot_y);
	if (hot_x >= res->width)
		hot_x = res->width - 1;
	if (hot_y >= res->height)
		hot_y = res->height - 1;
	s->cursor_visible = true;
	if (g->display) {
		display_cursor_define(g->display, output, res->width, res->height, hot_x, hot_y,
				      res->pixels, (uint32_t)stride_of(res), res->format);
		display_cursor_move(g->display, output, x, y, true);
	}
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t move_cursor(struct gpu2d *g, const uint8_t *req, size_t len)
{
	struct virtio_gpu_update_cursor cmd;
	uint32_t output;

	READ_COMMAND(cmd, req, len);
	output = le32toh(cmd.pos.scanout_id);
	if (output >= g->nr_outputs)
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	if (g->display)
		display_cursor_move(g->display, output, (int32_t)le32toh(cmd.pos.x),
				    (int32_t)le32toh(cmd.pos.y), g->scanouts[output].cursor_visible);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- dispatch ---- */

static uint32_t run_command(struct gpu2d *g, enum gpu2d_queue queue, uint32_t type,
			    const uint8_t *req, size_t len, uint8_t *body, size_t *body_len)
{
	/* Each queue carries its own commands only. */
	if (queue == GPU2D_CURSORQ) {
		switch (type) {
		case VIRTIO_GPU_CMD_UPDATE_CURSOR:
			return update_cursor(g, req, len);
		case VIRTIO_GPU_CMD_MOVE_CURSOR:
			return move_cursor(g, req, len);
		}
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	switch (type) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
		return get_display_info(g, body, body_len);
	case VIRTIO_GPU_CMD_GET_EDID:
		return get_edid(g, req, len, body, body_len);
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
		return resource_create_2d(g, req, len);
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:
		return resource_unref(g, req, len);
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
		return resource_attach_backing(g, req, len);
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
		return resource_detach_backing(g, req, len);
	case VIRTIO_GPU_CMD_SET_SCANOUT:
		return set_scanout(g, req, len);
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
		return transfer_to_host_2d(g, req, len);
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
		return resource_flush(g, req, len);
	}
	/* Capsets, blobs, UUIDs and every 3D command: not offered. */
	return VIRTIO_GPU_RESP_ERR_UNSPEC;
}

static bool is_error(uint32_t type)
{
	return type >= VIRTIO_GPU_RESP_ERR_UNSPEC;
}

size_t gpu2d_handle(struct gpu2d *g, enum gpu2d_queue queue, const uint8_t *req,
		    size_t req_len, uint8_t *resp, size_t resp_cap)
{
	uint8_t out[GPU2D_MAX_RESPONSE];
	struct virtio_gpu_ctrl_hdr in, hdr;
	size_t body_len = 0, out_len;
	uint32_t type;

	memset(&hdr, 0, sizeof(hdr));
	if (req_len < sizeof(in)) {
		type = VIRTIO_GPU_RESP_ERR_UNSPEC;
	} else {
		memcpy(&in, req, sizeof(in));
		type = run_command(g, queue, le32toh(in.type), req, req_len,
				   out + sizeof(hdr), &body_len);
		if (le32toh(in.flags) & VIRTIO_GPU_FLAG_FENCE) {
			/* Done already: the fence is signalled with the answer. */
			hdr.flags = htole32(VIRTIO_GPU_FLAG_FENCE);
			hdr.fence_id = in.fence_id;
			hdr.ctx_id = in.ctx_id;
		}
	}
	if (is_error(type))
		body_len = 0;
	hdr.type = htole32(type);
	memcpy(out, &hdr, sizeof(hdr));
	out_len = sizeof(hdr) + body_len;
	if (out_len > resp_cap)
		out_len = resp_cap;
	if (out_len)
		memcpy(resp, out, out_len);
	return out_len;
}
