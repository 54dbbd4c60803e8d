/* One output as a QXL instance (display/spice_qxl.h).
 *
 * spice-server reads QXL commands through "physical" addresses that a
 * memory slot translates. The one slot here spans the whole host address
 * space with no offset, so an address is simply a host pointer: every
 * command is one malloc'd block (the QXL structures, then its pixels)
 * that spice-server reads in place and hands back through
 * release_resource, which frees it. Nothing it reads is guest memory.
 *
 * The primary surface is a second host buffer: spice-server renders the
 * draw commands into it and sends it whole to clients that connect. The
 * copy is what the GPU wrote, the source of every draw command; keeping
 * the two apart lets the GPU write the copy at any time while
 * spice-server's worker thread draws.
 *
 * Only the dirty region of the copy is ever read (into draw commands), so
 * once it is sent the copy holds nothing the display needs: the surface
 * has the picture. So the display gives the copy's pages back now and
 * then (spice_output_release_copy), and the copy is its own mapping so
 * that this returns them to the system whatever malloc does.
 *
 * Memory. spice-server keeps a draw command (our block) until it has
 * rendered it, which it does lazily: a command stays in its drawing tree
 * until later ones cover all of it. Left alone, a guest that flushes
 * overlapping rectangles would have it keep up to a thousand of them.
 * So the bytes of draw commands not yet given back are counted, and once
 * those made since the last flush exceed a frame, an update command
 * follows them: spice-server renders everything before it into the
 * surface and gives back what no client still needs. Nothing more is
 * queued until it has done so. Without clients an output thus holds at
 * most two frames of draw commands besides its copy and its surface
 * (spice_output_bytes); a client adds what spice-server keeps until that
 * client has it. */
#include "spice_qxl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../vmm/log.h"
#include "../vmm/monotonic_clock.h"

#define MEMSLOT_GROUP        0
#define MEMSLOT_ID           0
#define PRIMARY_SURFACE_ID   0
/* Changed rectangles kept apart before they merge; each is sent as one
 * draw command. */
#define DIRTY_RECTS_MAX      8
/* Draw commands not yet pulled beyond which changes wait and merge: a
 * client that cannot keep up sees fewer, larger updates instead of an
 * ever longer backlog of stale ones. */
#define DRAWS_QUEUED_MAX     32
#define CURSOR_QUEUED_MAX    32
/* Besides the copy, the surface and two frames of draw commands: the
 * cursor commands (one shape of at most 64x64, CURSOR_QUEUED_MAX moves),
 * the headers of draw commands and the output's own state. */
#define OUTPUT_OVERHEAD      (64u << 10)
/* spice-server sizes the client's compression dictionary from this. */
#define QXL_RAM_SIZE_HINT    (32u << 20)

/* The cookie of every GL draw: one is in flight per output at most. */
#define GL_DRAW_COOKIE       0x676c64726177ull

enum block_kind { BLOCK_DRAW, BLOCK_UPDATE, BLOCK_CURSOR };

/* The head of every block handed to spice-server. */
struct qxl_block {
	struct qxl_block *prev, *next;   /* the output's list of blocks not yet freed */
	struct qxl_block *queue_next;    /* in a command queue until pulled */
	enum block_kind kind;
	uint32_t epoch;                  /* a draw: the flush it waits for */
	uint64_t bytes;                  /* a draw: its whole size */
};

struct draw_command {
	struct qxl_block block;
	QXLDrawable drawable;
	QXLImage image;
	uint8_t pixels[];
};

/* Renders everything before it into the surface, so spice-server lets go
 * of those draw commands (QXL_CMD_UPDATE). */
struct update_command {
	struct qxl_block block;
	QXLUpdateCmd cmd;
};

struct cursor_command {
	struct qxl_block block;
	QXLCursorCmd cmd;
	QXLCursor shape;
	uint8_t pixels[];    /* the shape's data: QXLCursor ends in a chunk whose data is this */
};

_Static_assert(offsetof(struct cursor_command, pixels) ==
	       offsetof(struct cursor_command, shape) + sizeof(QXLCursor),
	       "a cursor's pixels must follow its chunk header");

struct command_queue {
	struct qxl_block *head, *tail;
	unsigned length;
};

struct spice_output {
	QXLInstance qxl;
	unsigned index;
	spice_output_wake_fn wake;
	void *wake_opaque;

	/* The GPU's side (the copy, what changed in it, its size) and the
	 * size a client asked for. */
	pthread_mutex_t lock;
	uint32_t width, height;          /* of the copy: the GPU's latest size */
	uint8_t *copy;                   /* BGRA rows of width * 4 bytes */
	struct display_rect dirty[DIRTY_RECTS_MAX];
	unsigned nr_dirty;
	bool resize_pending;             /* the primary surface has an older size */
	bool mode_requested;
	uint32_t mode_width, mode_height;
	bool warned;                     /* about a picture there was no memory for */

	/* Shared with spice-server's worker thread; taken after lock, never
	 * before it. */
	pthread_mutex_t queue_lock;
	struct command_queue draws, cursors;
	bool worker_waits;               /* it asked for a wake-up when commands come */
	bool behind;                     /* a send waited for the draw queue to drain */
	uint64_t queued_bytes;           /* of draw commands not yet pulled */
	uint64_t held_bytes;             /* of draw commands not yet given back */
	uint64_t epoch_bytes;            /* of those made since the last flush */
	uint64_t draws_pulled;           /* ever, for the display's stats */
	uint32_t epoch;                  /* flushes queued so far */
	struct qxl_block *flush;         /* the update command not yet given back */
	bool cursor_kick;                /* cursor commands queued off the loop thread */
	struct qxl_block blocks;         /* list head: every block not yet freed */
	bool cursor_defined;
	int32_t cursor_x, cursor_y;
	bool cursor_visible;
	/* GL scanout (display.h's dmabufs): what the GPU's thread asked,
	 * under lock, for the loop thread to hand to spice-server. */
	int gl_fd;                       /* a buffer not handed over yet; -1: none */
	uint32_t gl_width, gl_height, gl_stride, gl_fourcc;
	bool gl_named;                   /* a buffer was named: draws may come */
	bool gl_draw_queued;             /* gl_draw_rect waits for the loop thread */
	struct display_rect gl_draw_rect;
	/* From a draw's queueing to its acknowledgement (spice-server's
	 * worker thread clears it). */
	atomic_bool gl_draw_busy;
	_Atomic uint64_t gl_draw_since_ns;
	_Atomic uint64_t gl_acks;
	atomic_bool client_present;      /* set on spice-server's thread */
	atomic_bool client_arrived;      /* ... and taken on the loop thread */
	uint64_t cursor_unique;

	/* Loop thread only. */
	uint8_t *primary;
	bool primary_live;
	uint32_t image_serial;
};

static struct spice_output *output_of(QXLInstance *qin)
{
	return (struct spice_output *)((char *)qin - offsetof(struct spice_output, qxl));
}

/* ---- blocks and queues (queue_lock held) ---- */

static void block_track(struct spice_output *o, struct qxl_block *b)
{
	b->next = o->blocks.next;
	b->prev = &o->blocks;
	o->blocks.next->prev = b;
	o->blocks.next = b;
}

static void block_untrack(struct qxl_block *b)
{
	b->prev->next = b->next;
	b->next->prev = b->prev;
}

static void queue_push(struct command_queue *q, struct qxl_block *b)
{
	b->queue_next = NULL;
	if (q->tail)
		q->tail->queue_next = b;
	else
		q->head = b;
	q->tail = b;
	q->length++;
}

static struct qxl_block *queue_pop(struct command_queue *q)
{
	struct qxl_block *b = q->head;

	if (!b)
		return NULL;
	q->head = b->queue_next;
	if (!q->head)
		q->tail = NULL;
	q->length--;
	return b;
}

/* A block is gone from spice-server's hands or never reached them: the
 * counts forget it. */
static void block_forget(struct spice_output *o, struct qxl_block *b)
{
	if (b->kind == BLOCK_DRAW) {
		o->held_bytes -= b->bytes;
		if (b->epoch == o->epoch)
			o->epoch_bytes -= b->bytes;
	} else if (b->kind == BLOCK_UPDATE && b == o->flush) {
		o->flush = NULL;
	}
	block_untrack(b);
}

/* Frees the commands spice-server has not pulled yet. */
static void queue_discard(struct spice_output *o, struct command_queue *q)
{
	struct qxl_block *b;

	while ((b = queue_pop(q))) {
		if (b->kind == BLOCK_DRAW)
			o->queued_bytes -= b->bytes;
		block_forget(o, b);
		free(b);
	}
}

/* ---- rectangles ---- */

static uint64_t rect_area(const struct display_rect *r)
{
	return (uint64_t)r->width * r->height;
}

static bool rect_contains(const struct display_rect *outer, const struct display_rect *inner)
{
	return inner->x >= outer->x && inner->y >= outer->y &&
	       inner->x + inner->width <= outer->x + outer->width &&
	       inner->y + inner->height <= outer->y + outer->height;
}

static struct display_rect rect_union(const struct display_rect *a, const struct display_rect *b)
{
	uint32_t x0 = a->x < b->x ? a->x : b->x;
	uint32_t y0 = a->y < b->y ? a->y : b->y;
	uint32_t x1 = a->x + a->width > b->x + b->width ? a->x + a->width : b->x + b->width;
	uint32_t y1 = a->y + a->height > b->y + b->height ? a->y + a->height : b->y + b->height;

	return (struct display_rect){ x0, y0, x1 - x0, y1 - y0 };
}

/* Adds r to the dirty region (lock held). Rectangles that one box covers
 * at no more cost than both become that box; when the list is full, r
 * joins the rectangle it grows least. */
static void dirty_add(struct spice_output *o, struct display_rect r)
{
	unsigned best = 0;
	uint64_t best_growth = UINT64_MAX;

restart:
	for (unsigned i = 0; i < o->nr_dirty; i++) {
		struct display_rect u = rect_union(&o->dirty[i], &r);

		if (rect_contains(&o->dirty[i], &r))
			return;
		if (rect_area(&u) <= rect_area(&o->dirty[i]) + rect_area(&r)) {
			r = u;
			o->dirty[i] = o->dirty[--o->nr_dirty];
			goto restart;
		}
	}
	if (o->nr_dirty < DIRTY_RECTS_MAX) {
		o->dirty[o->nr_dirty++] = r;
		return;
	}
	for (unsigned i = 0; i < o->nr_dirty; i++) {
		struct display_rect u = rect_union(&o->dirty[i], &r);
		uint64_t growth = rect_area(&u) - rect_area(&o->dirty[i]);

		if (growth < best_growth) {
			best_growth = growth;
			best = i;
		}
	}
	o->dirty[best] = rect_union(&o->dirty[best], &r);
}

/* ---- the copy: its own mapping ---- */

static size_t copy_bytes(uint32_t width, uint32_t height)
{
	return (size_t)width * height * 4;
}

/* A zeroed width x height copy; NULL without memory. */
static uint8_t *copy_map(uint32_t width, uint32_t height)
{
	void *p = mmap(NULL, copy_bytes(width, height), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void copy_unmap(uint8_t *copy, uint32_t width, uint32_t height)
{
	if (copy)
		munmap(copy, copy_bytes(width, height));
}

/* ---- the GPU's side ---- */

int spice_output_resize(struct spice_output *o, uint32_t width, uint32_t height)
{
	uint8_t *fresh = NULL, *old;
	uint32_t old_width, old_height;
	bool warn;

	pthread_mutex_lock(&o->lock);
	/* The same size again (a scanout switching buffers) keeps the
	 * picture: the update that follows repaints what changed. */
	if (width == o->width && height == o->height) {
		pthread_mutex_unlock(&o->lock);
		return 0;
	}
	pthread_mutex_unlock(&o->lock);

	if (width && height) {
		fresh = copy_map(width, height);
		if (!fresh) {
			/* The guest asks again and again: say it once. */
			pthread_mutex_lock(&o->lock);
			warn = !o->warned;
			o->warned = true;
			pthread_mutex_unlock(&o->lock);
			if (warn)
				log_warn("spice: no memory for a %ux%u picture on output %u", width,
					 height, o->index);
			return -1;
		}
	}
	pthread_mutex_lock(&o->lock);
	old = o->copy;
	old_width = o->width;
	old_height = o->height;
	o->copy = fresh;
	o->width = width;
	o->height = height;
	o->nr_dirty = 0;
	o->resize_pending = true;
	/* A GL buffer of the old size is not drawn again: the GPU names one
	 * of the new size first. */
	o->gl_named = false;
	pthread_mutex_unlock(&o->lock);
	copy_unmap(old, old_width, old_height);
	o->wake(o->wake_opaque);
	return 0;
}

void spice_output_update(struct spice_output *o, const struct display_rect *rect,
			 const uint8_t *pixels, uint32_t stride, enum display_format format)
{
	struct display_rect r = *rect;

	pthread_mutex_lock(&o->lock);
	if (r.x >= o->width || r.y >= o->height) {
		pthread_mutex_unlock(&o->lock);
		return;
	}
	if (r.width > o->width - r.x)
		r.width = o->width - r.x;
	if (r.height > o->height - r.y)
		r.height = o->height - r.y;
	for (uint32_t row = 0; row < r.height; row++)
		display_convert_row(o->copy + ((size_t)(r.y + row) * o->width + r.x) * 4,
				    pixels + (size_t)row * stride, r.width, format);
	dirty_add(o, r);
	pthread_mutex_unlock(&o->lock);
	o->wake(o->wake_opaque);
}

static int16_t clamp16(int32_t v)
{
	return v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : (int16_t)v;
}

void spice_output_cursor_define(struct spice_output *o, uint32_t width, uint32_t height,
				uint32_t hot_x, uint32_t hot_y, const uint8_t *pixels,
				uint32_t stride, enum display_format format)
{
	size_t size = (size_t)width * height * 4;
	struct cursor_command *c = calloc(1, sizeof(*c) + size);

	if (!c)
		return;
	for (uint32_t row = 0; row < height; row++)
		display_convert_row(c->pixels + (size_t)row * width * 4,
				    pixels + (size_t)row * stride, width, format);
	c->block.kind = BLOCK_CURSOR;
	c->cmd.release_info.id = (uintptr_t)&c->block;
	c->cmd.type = QXL_CURSOR_SET;
	c->cmd.u.set.shape = (uintptr_t)&c->shape;
	c->shape.header.type = SPICE_CURSOR_TYPE_ALPHA;
	c->shape.header.width = (uint16_t)width;
	c->shape.header.height = (uint16_t)height;
	c->shape.header.hot_spot_x = (uint16_t)hot_x;
	c->shape.header.hot_spot_y = (uint16_t)hot_y;
	c->shape.data_size = (uint32_t)size;
	c->shape.chunk.data_size = (uint32_t)size;

	pthread_mutex_lock(&o->queue_lock);
	/* Clients cache shapes by this number: every shape gets its own. */
	c->shape.header.unique = ++o->cursor_unique;
	c->cmd.u.set.position.x = clamp16(o->cursor_x);
	c->cmd.u.set.position.y = clamp16(o->cursor_y);
	c->cmd.u.set.visible = o->cursor_visible;
	/* A new shape supersedes whatever cursor commands wait. */
	queue_discard(o, &o->cursors);
	block_track(o, &c->block);
	queue_push(&o->cursors, &c->block);
	o->cursor_defined = true;
	o->cursor_kick = true;
	pthread_mutex_unlock(&o->queue_lock);
	o->wake(o->wake_opaque);
}

/* x, y: where the pointer (the shape's hot spot) is on the output. */
void spice_output_cursor_move(struct spice_output *o, int32_t x, int32_t y, bool visible)
{
	struct cursor_command *c = NULL;
	bool was_visible;

	pthread_mutex_lock(&o->queue_lock);
	was_visible = o->cursor_visible;
	o->cursor_x = x;
	o->cursor_y = y;
	o->cursor_visible = visible;
	if (!o->cursor_defined || (!visible && !was_visible)) {
		pthread_mutex_unlock(&o->queue_lock);
		return;
	}
	/* Only the newest position of a burst matters. */
	if (visible && o->cursors.tail) {
		struct cursor_command *tail = (struct cursor_command *)o->cursors.tail;

		if (tail->cmd.type == QXL_CURSOR_MOVE) {
			tail->cmd.u.position.x = clamp16(x);
			tail->cmd.u.position.y = clamp16(y);
			pthread_mutex_unlock(&o->queue_lock);
			return;
		}
	}
	if (o->cursors.length < CURSOR_QUEUED_MAX)
		c = calloc(1, sizeof(*c));
	if (c) {
		c->block.kind = BLOCK_CURSOR;
		c->cmd.release_info.id = (uintptr_t)&c->block;
		c->cmd.type = visible ? QXL_CURSOR_MOVE : QXL_CURSOR_HIDE;
		c->cmd.u.position.x = clamp16(x);
		c->cmd.u.position.y = clamp16(y);
		block_track(o, &c->block);
		queue_push(&o->cursors, &c->block);
		o->cursor_kick = true;
	}
	pthread_mutex_unlock(&o->queue_lock);
	if (c)
		o->wake(o->wake_opaque);
}

/* ---- the loop thread ---- */

static void primary_destroy(struct spice_output *o)
{
	if (!o->primary_live)
		return;
	spice_qxl_destroy_primary_surface(&o->qxl, PRIMARY_SURFACE_ID);
	o->primary_live = false;
	free(o->primary);
	o->primary = NULL;
}

static int primary_create(struct spice_output *o, uint32_t width, uint32_t height)
{
	QXLDevSurfaceCreate surface = {
		.width = width,
		.height = height,
		.stride = (int32_t)(width * 4),
		.format = SPICE_SURFACE_FMT_32_xRGB,
		/* Lets clients run in client-mouse mode (the tablet). */
		.mouse_mode = 1,
		.type = QXL_SURF_TYPE_PRIMARY,
		.group_id = MEMSLOT_GROUP,
	};

	o->primary = calloc((size_t)width * height, 4);
	if (!o->primary) {
		log_warn("spice: no memory for a %ux%u surface on output %u", width, height,
			 o->index);
		return -1;
	}
	surface.mem = (uintptr_t)o->primary;
	spice_qxl_create_primary_surface(&o->qxl, PRIMARY_SURFACE_ID, &surface);
	o->primary_live = true;
	return 0;
}

/* ---- GL scanout: the output as a dmabuf ----
 *
 * The GPU's thread names a buffer and draws (spice_output_gl_*); the loop
 * thread hands both to spice-server (gl_service), as it does everything
 * that calls spice-server. spice-server keeps the buffer's fd, sends it
 * to clients on the unix socket, and answers a draw through
 * async_complete once each client acknowledged it (at once with none). */

int spice_output_gl_scanout(struct spice_output *o, int fd, uint32_t width, uint32_t height,
			    uint32_t stride, uint32_t fourcc)
{
	pthread_mutex_lock(&o->lock);
	/* spice-server refuses a new buffer while a draw is unanswered.
	 * Checked under the lock that draws take, so no draw slips in
	 * between; only the acknowledgement clears it, which is no harm. */
	if (atomic_load(&o->gl_draw_busy)) {
		pthread_mutex_unlock(&o->lock);
		close(fd);
		return -1;
	}
	if (o->gl_fd >= 0)
		close(o->gl_fd);
	o->gl_fd = fd;
	o->gl_width = width;
	o->gl_height = height;
	o->gl_stride = stride;
	o->gl_fourcc = fourcc;
	o->gl_named = true;
	pthread_mutex_unlock(&o->lock);
	o->wake(o->wake_opaque);
	return 0;
}

int spice_output_gl_draw(struct spice_output *o, const struct display_rect *rect)
{
	struct display_rect r = *rect;

	pthread_mutex_lock(&o->lock);
	if (!o->gl_named || atomic_load(&o->gl_draw_busy) || r.x >= o->gl_width ||
	    r.y >= o->gl_height) {
		pthread_mutex_unlock(&o->lock);
		return -1;
	}
	if (r.width > o->gl_width - r.x)
		r.width = o->gl_width - r.x;
	if (r.height > o->gl_height - r.y)
		r.height = o->gl_height - r.y;
	o->gl_draw_rect = r;
	o->gl_draw_queued = true;
	atomic_store(&o->gl_draw_since_ns, monotonic_ns());
	atomic_store(&o->gl_draw_busy, true);
	pthread_mutex_unlock(&o->lock);
	o->wake(o->wake_opaque);
	return 0;
}

enum display_dmabuf_state spice_output_gl_state(struct spice_output *o)
{
	uint64_t age;

	if (!atomic_load(&o->gl_draw_busy))
		return DISPLAY_DMABUF_READY;
	age = monotonic_ns() - atomic_load(&o->gl_draw_since_ns);
	return age > (uint64_t)DISPLAY_DMABUF_ACK_TIMEOUT_MS * 1000000u ? DISPLAY_DMABUF_STALLED
									 : DISPLAY_DMABUF_BUSY;
}

uint64_t spice_output_gl_acks(struct spice_output *o)
{
	return atomic_load(&o->gl_acks);
}

/* Loop thread: the buffer first, then the draw that shows it. */
static void gl_service(struct spice_output *o)
{
	int fd;
	uint32_t width, height, stride, fourcc;
	bool draw;
	struct display_rect r;

	pthread_mutex_lock(&o->lock);
	fd = o->gl_fd;
	o->gl_fd = -1;
	width = o->gl_width;
	height = o->gl_height;
	stride = o->gl_stride;
	fourcc = o->gl_fourcc;
	draw = o->gl_draw_queued;
	o->gl_draw_queued = false;
	r = o->gl_draw_rect;
	pthread_mutex_unlock(&o->lock);
	/* The buffer is always top row first (display.h). */
	if (fd >= 0)
		spice_qxl_gl_scanout(&o->qxl, fd, width, height, stride, fourcc, 1);
	if (draw)
		spice_qxl_gl_draw_async(&o->qxl, r.x, r.y, r.width, r.height, GL_DRAW_COOKIE);
}

/* Asks spice-server's worker to pull, if it sleeps waiting for us. */
static void worker_wake_if_waiting(struct spice_output *o)
{
	bool waits;

	pthread_mutex_lock(&o->queue_lock);
	waits = o->worker_waits;
	o->worker_waits = false;
	pthread_mutex_unlock(&o->queue_lock);
	if (waits)
		spice_qxl_wakeup(&o->qxl);
}

void spice_output_service(struct spice_output *o)
{
	bool resize, kick;
	uint32_t width, height;

	pthread_mutex_lock(&o->lock);
	resize = o->resize_pending;
	width = o->width;
	height = o->height;
	pthread_mutex_unlock(&o->lock);

	if (resize) {
		/* Draws queued for the old size mean nothing on the new one;
		 * what changed since the resize is in the dirty region. */
		pthread_mutex_lock(&o->queue_lock);
		queue_discard(o, &o->draws);
		o->behind = false;
		pthread_mutex_unlock(&o->queue_lock);
		primary_destroy(o);
		if (width && height && primary_create(o, width, height) < 0) {
			/* Shown as off; the next resize tries again. */
		}
		pthread_mutex_lock(&o->lock);
		/* Another resize may have come meanwhile: then go again. */
		if (o->width == width && o->height == height)
			o->resize_pending = false;
		pthread_mutex_unlock(&o->lock);
	}

	pthread_mutex_lock(&o->queue_lock);
	kick = o->cursor_kick;
	o->cursor_kick = false;
	pthread_mutex_unlock(&o->queue_lock);
	if (kick)
		worker_wake_if_waiting(o);
	gl_service(o);
}

bool spice_output_has_dirty(struct spice_output *o)
{
	bool dirty;

	pthread_mutex_lock(&o->lock);
	dirty = o->nr_dirty && !o->resize_pending && o->primary_live;
	pthread_mutex_unlock(&o->lock);
	return dirty;
}

bool spice_output_release_copy(struct spice_output *o)
{
	bool released = false;

	pthread_mutex_lock(&o->lock);
	/* Under the lock the GPU writes the copy with: nothing lands in
	 * pages being dropped. */
	if (o->copy && !o->nr_dirty)
		released = madvise(o->copy, copy_bytes(o->width, o->height), MADV_DONTNEED) == 0;
	pthread_mutex_unlock(&o->lock);
	return released;
}

static uint32_t monotonic_ms(void)
{
	return (uint32_t)(monotonic_ns() / 1000000u);
}

/* What the draw command for r takes, header and pixels. */
static uint64_t draw_bytes(const struct display_rect *r)
{
	return sizeof(struct draw_command) + rect_area(r) * 4;
}

/* One draw command copying rectangle r of the copy (lock held). */
static struct draw_command *draw_new(struct spice_output *o, const struct display_rect *r)
{
	size_t row_bytes = (size_t)r->width * 4;
	struct draw_command *dc = malloc(sizeof(*dc) + row_bytes * r->height);
	QXLDrawable *d;
	QXLImage *img;

	if (!dc)
		return NULL;
	memset(dc, 0, sizeof(*dc));
	dc->block.kind = BLOCK_DRAW;
	dc->block.bytes = draw_bytes(r);
	for (uint32_t row = 0; row < r->height; row++)
		memcpy(dc->pixels + row * row_bytes,
		       o->copy + ((size_t)(r->y + row) * o->width + r->x) * 4, row_bytes);

	d = &dc->drawable;
	d->release_info.id = (uintptr_t)&dc->block;
	d->surface_id = PRIMARY_SURFACE_ID;
	d->effect = QXL_EFFECT_OPAQUE;
	d->type = QXL_DRAW_COPY;
	d->bbox.left = (int32_t)r->x;
	d->bbox.top = (int32_t)r->y;
	d->bbox.right = (int32_t)(r->x + r->width);
	d->bbox.bottom = (int32_t)(r->y + r->height);
	d->clip.type = SPICE_CLIP_TYPE_NONE;
	/* spice-server times video streams by this clock. */
	d->mm_time = monotonic_ms();
	d->surfaces_dest[0] = d->surfaces_dest[1] = d->surfaces_dest[2] = -1;
	d->u.copy.src_bitmap = (uintptr_t)&dc->image;
	d->u.copy.src_area.right = (int32_t)r->width;
	d->u.copy.src_area.bottom = (int32_t)r->height;
	d->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;

	img = &dc->image;
	/* Unique ids let spice-server tell images apart; none is cached
	 * (flags 0), a region of the screen is rarely drawn twice alike. */
	QXL_SET_IMAGE_ID(img, QXL_IMAGE_GROUP_DEVICE, ++o->image_serial);
	img->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
	img->descriptor.width = r->width;
	img->descriptor.height = r->height;
	img->bitmap.format = SPICE_BITMAP_FMT_32BIT;
	img->bitmap.flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN;
	img->bitmap.x = r->width;
	img->bitmap.y = r->height;
	img->bitmap.stride = (uint32_t)row_bytes;
	img->bitmap.data = (uintptr_t)dc->pixels;
	return dc;
}

/* The update command that makes spice-server render all of a width x
 * height surface. */
static struct update_command *flush_new(uint32_t width, uint32_t height)
{
	struct update_command *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->block.kind = BLOCK_UPDATE;
	u->cmd.release_info.id = (uintptr_t)&u->block;
	u->cmd.area.right = (int32_t)width;
	u->cmd.area.bottom = (int32_t)height;
	u->cmd.surface_id = PRIMARY_SURFACE_ID;
	return u;
}

/* Overlapping dirty rectangles could add up to more than the output;
 * then they go as the one box around them, at most a frame (lock held). */
static void dirty_bound(struct spice_output *o)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < o->nr_dirty; i++)
		total += rect_area(&o->dirty[i]);
	if (total <= (uint64_t)o->width * o->height)
		return;
	for (unsigned i = 1; i < o->nr_dirty; i++)
		o->dirty[0] = rect_union(&o->dirty[0], &o->dirty[i]);
	o->nr_dirty = 1;
}

void spice_output_send(struct spice_output *o)
{
	struct draw_command *made[DIRTY_RECTS_MAX];
	struct update_command *flush = NULL;
	unsigned nr_made = 0, kept = 0;
	uint32_t width, height;
	uint64_t frame;
	bool wait;

	pthread_mutex_lock(&o->lock);
	if (!o->nr_dirty || o->resize_pending || !o->primary_live) {
		pthread_mutex_unlock(&o->lock);
		return;
	}
	frame = (uint64_t)o->width * o->height * 4;
	pthread_mutex_lock(&o->queue_lock);
	/* While spice-server flushes, or is far behind, changes wait and
	 * merge in the dirty region: the copy always holds the latest
	 * picture, which goes once it catches up. */
	wait = o->flush || o->draws.length >= DRAWS_QUEUED_MAX;
	if (wait)
		o->behind = true;
	pthread_mutex_unlock(&o->queue_lock);
	if (wait) {
		pthread_mutex_unlock(&o->lock);
		return;
	}
	dirty_bound(o);
	for (unsigned i = 0; i < o->nr_dirty; i++) {
		struct draw_command *dc = draw_new(o, &o->dirty[i]);

		if (dc)
			made[nr_made++] = dc;
		else
			o->dirty[kept++] = o->dirty[i];   /* out of memory: try again later */
	}
	o->nr_dirty = kept;
	width = o->width;
	height = o->height;
	pthread_mutex_unlock(&o->lock);

	/* Sizes change on this thread only (spice_output_service): the queue
	 * is still for this surface. */
	pthread_mutex_lock(&o->queue_lock);
	for (unsigned i = 0; i < nr_made; i++) {
		block_track(o, &made[i]->block);
		made[i]->block.epoch = o->epoch;
		o->queued_bytes += made[i]->block.bytes;
		o->held_bytes += made[i]->block.bytes;
		o->epoch_bytes += made[i]->block.bytes;
		queue_push(&o->draws, &made[i]->block);
	}
	/* Made since the last flush: at most a frame before this send (else
	 * that flush would have been queued), at most a frame more in it. */
	if (o->epoch_bytes > frame && (flush = flush_new(width, height))) {
		/* Every draw made so far is before it in the queue. Without
		 * memory for it, the next send tries again. */
		block_track(o, &flush->block);
		queue_push(&o->draws, &flush->block);
		o->flush = &flush->block;
		o->epoch++;
		o->epoch_bytes = 0;
	}
	pthread_mutex_unlock(&o->queue_lock);
	if (nr_made || flush)
		worker_wake_if_waiting(o);
}

void spice_output_draw_bytes(struct spice_output *o, uint64_t *queued, uint64_t *held)
{
	pthread_mutex_lock(&o->queue_lock);
	*queued = o->queued_bytes;
	*held = o->held_bytes;
	pthread_mutex_unlock(&o->queue_lock);
}

uint64_t spice_output_draws_pulled(struct spice_output *o)
{
	uint64_t n;

	pthread_mutex_lock(&o->queue_lock);
	n = o->draws_pulled;
	pthread_mutex_unlock(&o->queue_lock);
	return n;
}

uint64_t spice_output_bytes(uint32_t width, uint32_t height)
{
	uint64_t frame = (uint64_t)width * height * 4;

	if (!frame)
		return 0;
	/* The copy, the surface, and at most two frames of draw commands
	 * spice-server has not let go of. */
	return 4 * frame + OUTPUT_OVERHEAD;
}

bool spice_output_take_mode_request(struct spice_output *o, uint32_t *width,
				    uint32_t *height)
{
	bool requested;

	pthread_mutex_lock(&o->lock);
	requested = o->mode_requested;
	*width = o->mode_width;
	*height = o->mode_height;
	o->mode_requested = false;
	pthread_mutex_unlock(&o->lock);
	return requested;
}

/* ---- QXLInterface: spice-server's worker thread ---- */

static void qxl_set_compression_level(QXLInstance *qin, int level)
{
	(void)qin;
	(void)level;
}

static void qxl_get_init_info(QXLInstance *qin, QXLDevInitInfo *info)
{
	(void)qin;
	memset(info, 0, sizeof(*info));
	info->num_memslots_groups = 1;
	info->num_memslots = 1;
	/* Addresses carry slot id and generation in their top 16 bits, which
	 * user-space pointers leave zero: slot 0, generation 0. */
	info->memslot_gen_bits = 8;
	info->memslot_id_bits = 8;
	info->internal_groupslot_id = MEMSLOT_GROUP;
	info->qxl_ram_size = QXL_RAM_SIZE_HINT;
	info->n_surfaces = 1;    /* the primary */
}

/* A held-back send may go: no flush outstanding, the queue half empty
 * (queue_lock held). Clears `behind`; the caller wakes the loop. */
static bool caught_up(struct spice_output *o)
{
	if (!o->behind || o->flush || o->draws.length > DRAWS_QUEUED_MAX / 2)
		return false;
	o->behind = false;
	return true;
}

/* Pops a command; wakes the loop when a held-back send may go now. */
static int pull(struct spice_output *o, struct command_queue *q, struct QXLCommandExt *ext)
{
	struct qxl_block *b;
	bool wake = false;

	pthread_mutex_lock(&o->queue_lock);
	b = queue_pop(q);
	if (b && b->kind == BLOCK_DRAW) {
		o->queued_bytes -= b->bytes;
		o->draws_pulled++;
	}
	if (b && q == &o->draws)
		wake = caught_up(o);
	pthread_mutex_unlock(&o->queue_lock);
	if (wake)
		o->wake(o->wake_opaque);
	if (!b)
		return 0;
	memset(ext, 0, sizeof(*ext));
	switch (b->kind) {
	case BLOCK_DRAW:
		ext->cmd.type = QXL_CMD_DRAW;
		ext->cmd.data = (uintptr_t)&((struct draw_command *)b)->drawable;
		break;
	case BLOCK_UPDATE:
		ext->cmd.type = QXL_CMD_UPDATE;
		ext->cmd.data = (uintptr_t)&((struct update_command *)b)->cmd;
		break;
	case BLOCK_CURSOR:
		ext->cmd.type = QXL_CMD_CURSOR;
		ext->cmd.data = (uintptr_t)&((struct cursor_command *)b)->cmd;
		break;
	}
	ext->group_id = MEMSLOT_GROUP;
	return 1;
}

static int qxl_get_command(QXLInstance *qin, struct QXLCommandExt *ext)
{
	struct spice_output *o = output_of(qin);

	return pull(o, &o->draws, ext);
}

static int qxl_get_cursor_command(QXLInstance *qin, struct QXLCommandExt *ext)
{
	struct spice_output *o = output_of(qin);

	return pull(o, &o->cursors, ext);
}

/* 0: commands wait, ask again; 1: none, we wake the worker when some come. */
static int request_notification(struct spice_output *o, struct command_queue *q)
{
	int sleep;

	pthread_mutex_lock(&o->queue_lock);
	sleep = q->length == 0;
	if (sleep)
		o->worker_waits = true;
	pthread_mutex_unlock(&o->queue_lock);
	return sleep;
}

static int qxl_req_cmd_notification(QXLInstance *qin)
{
	struct spice_output *o = output_of(qin);

	return request_notification(o, &o->draws);
}

static int qxl_req_cursor_notification(QXLInstance *qin)
{
	struct spice_output *o = output_of(qin);

	return request_notification(o, &o->cursors);
}

static void qxl_release_resource(QXLInstance *qin, struct QXLReleaseInfoExt release)
{
	struct spice_output *o = output_of(qin);
	struct qxl_block *b = (struct qxl_block *)(uintptr_t)release.info->id;
	bool wake;

	pthread_mutex_lock(&o->queue_lock);
	block_forget(o, b);
	/* A finished flush lets a held-back send go. */
	wake = b->kind == BLOCK_UPDATE && caught_up(o);
	pthread_mutex_unlock(&o->queue_lock);
	free(b);
	if (wake)
		o->wake(o->wake_opaque);
}

static void qxl_notify_update(QXLInstance *qin, uint32_t update_id)
{
	(void)qin;
	(void)update_id;
}

static int qxl_flush_resources(QXLInstance *qin)
{
	(void)qin;
	return 0;
}

/* Only GL draws are asynchronous: every client acknowledged this one
 * (or none was there to). */
static void qxl_async_complete(QXLInstance *qin, uint64_t cookie)
{
	struct spice_output *o = output_of(qin);

	if (cookie != GL_DRAW_COOKIE)
		return;
	atomic_fetch_add(&o->gl_acks, 1);
	atomic_store(&o->gl_draw_busy, false);
}

static void qxl_update_area_complete(QXLInstance *qin, uint32_t surface_id,
				     struct QXLRect *rects, uint32_t nr_rects)
{
	(void)qin;
	(void)surface_id;
	(void)rects;
	(void)nr_rects;
}

static void qxl_set_client_capabilities(QXLInstance *qin, uint8_t client_present,
					uint8_t caps[SPICE_CAPABILITIES_SIZE])
{
	struct spice_output *o = output_of(qin);

	(void)caps;
	atomic_store(&o->client_present, client_present != 0);
	/* spice-server says so whenever the set of clients changed. A client
	 * present before may be one that just replaced another (the old one's
	 * leaving can come after the new one's arrival), so every call with a
	 * client counts as an arrival: the newcomer is sent everything. */
	if (client_present) {
		atomic_store(&o->client_arrived, true);
		o->wake(o->wake_opaque);
	}
}

bool spice_output_has_client(const struct spice_output *o)
{
	return atomic_load(&o->client_present);
}

bool spice_output_take_client_arrival(struct spice_output *o)
{
	return atomic_exchange(&o->client_arrived, false);
}

/* A client's window sizes (spice-server's main thread). One monitor per
 * QXL instance: this output is the monitor with its index. Returning 1
 * tells spice-server the device follows client sizes itself, with no
 * agent in the guest. */
static int qxl_client_monitors_config(QXLInstance *qin, VDAgentMonitorsConfig *config)
{
	struct spice_output *o = output_of(qin);
	uint32_t width = 0, height = 0;

	if (!config)
		return 1;
	if (!config->num_of_monitors)
		return 1;
	if (o->index < config->num_of_monitors) {
		width = config->monitors[o->index].width;
		height = config->monitors[o->index].height;
	}
	if (width > DISPLAY_MAX_WIDTH)
		width = DISPLAY_MAX_WIDTH;
	if (height > DISPLAY_MAX_HEIGHT)
		height = DISPLAY_MAX_HEIGHT;
	if (!width || !height)
		width = height = 0;
	pthread_mutex_lock(&o->lock);
	o->mode_requested = true;
	o->mode_width = width;
	o->mode_height = height;
	pthread_mutex_unlock(&o->lock);
	o->wake(o->wake_opaque);
	return 1;
}

static const QXLInterface qxl_interface = {
	.base = {
		.type = SPICE_INTERFACE_QXL,
		.description = "gvmm display output",
		.major_version = SPICE_INTERFACE_QXL_MAJOR,
		.minor_version = SPICE_INTERFACE_QXL_MINOR,
	},
	.set_compression_level = qxl_set_compression_level,
	.get_init_info = qxl_get_init_info,
	.get_command = qxl_get_command,
	.req_cmd_notification = qxl_req_cmd_notification,
	.release_resource = qxl_release_resource,
	.get_cursor_command = qxl_get_cursor_command,
	.req_cursor_notification = qxl_req_cursor_notification,
	.notify_update = qxl_notify_update,
	.flush_resources = qxl_flush_resources,
	.async_complete = qxl_async_complete,
	.update_area_complete = qxl_update_area_complete,
	.set_client_capabilities = qxl_set_client_capabilities,
	.client_monitors_config = qxl_client_monitors_config,
};

/* ---- life ---- */

QXLInstance *spice_output_qxl(struct spice_output *o)
{
	return &o->qxl;
}

struct spice_output *spice_output_new(unsigned index, uint32_t width, uint32_t height,
				      spice_output_wake_fn wake, void *wake_opaque)
{
	struct spice_output *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->index = index;
	o->wake = wake;
	o->wake_opaque = wake_opaque;
	o->blocks.next = o->blocks.prev = &o->blocks;
	o->gl_fd = -1;
	pthread_mutex_init(&o->lock, NULL);
	pthread_mutex_init(&o->queue_lock, NULL);
	o->qxl.base.sif = &qxl_interface.base;
	o->qxl.id = (int)index;
	if (width && height) {
		o->copy = copy_map(width, height);
		if (!o->copy) {
			spice_output_free(o);
			return NULL;
		}
		o->width = width;
		o->height = height;
	}
	return o;
}

int spice_output_attach(struct spice_output *o, SpiceServer *server)
{
	QXLDevMemSlot slot = {
		.slot_group_id = MEMSLOT_GROUP,
		.slot_id = MEMSLOT_ID,
		.generation = 0,
		.virt_start = 0,
		.virt_end = ~(uintptr_t)0,
		.addr_delta = 0,
	};

	if (spice_server_add_interface(server, &o->qxl.base))
		return -1;
	spice_qxl_add_memslot(&o->qxl, &slot);
	if (o->width && o->height && primary_create(o, o->width, o->height) < 0)
		return -1;
	return 0;
}

void spice_output_free(struct spice_output *o)
{
	if (!o)
		return;
	/* spice-server is gone: whatever it held, it will never release. */
	while (o->blocks.next != &o->blocks) {
		struct qxl_block *b = o->blocks.next;

		block_untrack(b);
		free(b);
	}
	if (o->gl_fd >= 0)
		close(o->gl_fd);
	pthread_mutex_destroy(&o->lock);
	pthread_mutex_destroy(&o->queue_lock);
	free(o->primary);
	copy_unmap(o->copy, o->width, o->height);
	free(o);
}
