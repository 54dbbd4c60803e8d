#include "virtio_input.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <linux/input.h>

#include "../../display/display.h"
#include "../../vmm/log.h"

#define INPUT_EVENTQ           0
#define INPUT_STATUSQ          1
#define INPUT_NR_QUEUES        2
/* Linux's driver posts at most 64 event buffers whatever the size. */
#define INPUT_QUEUE_SIZE       64

#define PCI_CLASS_INPUT_KEYBOARD 0x090000
#define PCI_CLASS_INPUT_MOUSE    0x090200

#define INPUT_DEVIDS_SIZE      8
#define INPUT_ABSINFO_SIZE     20
#define INPUT_MAX_CODE         (VIRTIO_INPUT_CONFIG_U_SIZE * 8 - 1)

/* ---- what each kind of device is: pure, const data ---- */

struct code_span {
	uint16_t first, last;          /* inclusive */
};

/* The codes of one event type the device may send. */
struct event_codes {
	uint16_t type;                 /* EV_* */
	unsigned nr_spans;
	struct code_span spans[3];
};

struct input_description {
	const char *name;
	const char *serial;
	uint16_t product;
	int32_t abs_max;               /* of every EV_ABS axis; each starts at 0 */
	unsigned nr_types;
	struct event_codes types[3];
};

#define MOUSE_BUTTONS { BTN_LEFT, BTN_EXTRA }   /* LEFT, RIGHT, MIDDLE, SIDE, EXTRA */

static const struct input_description descriptions[VIRTIO_INPUT_KINDS] = {
	[VIRTIO_INPUT_KEYBOARD] = {
		.name = "gvmm keyboard",
		.serial = "gvmm-keyboard-0",
		.product = 1,
		.nr_types = 3,
		.types = {
			/* Every key, but none of the BTN_* ranges among them:
			 * a button would make the guest take it for a mouse
			 * or a joystick. */
			{ EV_KEY, 3, { { KEY_ESC, KEY_MICMUTE },
				       { KEY_OK, BTN_DPAD_UP - 1 },
				       { BTN_DPAD_RIGHT + 1, BTN_TRIGGER_HAPPY - 1 } } },
			/* The guest repeats held keys itself. */
			{ EV_REP, 1, { { REP_DELAY, REP_PERIOD } } },
			/* So that the guest tells us its LEDs (status queue). */
			{ EV_LED, 1, { { LED_NUML, LED_SCROLLL } } },
		},
	},
	/* No INPUT_PROP_DIRECT: an absolute pointer with buttons is an
	 * absolute mouse to the guest, not a touchscreen. */
	[VIRTIO_INPUT_TABLET] = {
		.name = "gvmm tablet",
		.serial = "gvmm-tablet-0",
		.product = 3,
		.abs_max = DISPLAY_ABS_MAX,
		.nr_types = 3,
		.types = {
			{ EV_KEY, 1, { MOUSE_BUTTONS } },
			{ EV_REL, 1, { { REL_WHEEL, REL_WHEEL } } },
			{ EV_ABS, 1, { { ABS_X, ABS_Y } } },
		},
	},
	[VIRTIO_INPUT_MOUSE] = {
		.name = "gvmm mouse",
		.serial = "gvmm-mouse-0",
		.product = 2,
		.nr_types = 2,
		.types = {
			{ EV_KEY, 1, { MOUSE_BUTTONS } },
			{ EV_REL, 2, { { REL_X, REL_Y }, { REL_WHEEL, REL_WHEEL } } },
		},
	},
};

static void put_le(uint8_t *p, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static const struct event_codes *codes_of(const struct input_description *d, unsigned type)
{
	for (unsigned i = 0; i < d->nr_types; i++)
		if (d->types[i].type == type)
			return &d->types[i];
	return NULL;
}

static bool has_code(const struct event_codes *codes, unsigned code)
{
	for (unsigned i = 0; i < codes->nr_spans; i++)
		if (code >= codes->spans[i].first && code <= codes->spans[i].last)
			return true;
	return false;
}

static uint8_t put_string(uint8_t *u, const char *s)
{
	size_t len = strnlen(s, VIRTIO_INPUT_CONFIG_U_SIZE);

	memcpy(u, s, len);
	return (uint8_t)len;
}

/* An evdev bitmap, as long as its highest set bit needs. */
static uint8_t put_bitmap(uint8_t *u, const struct event_codes *codes)
{
	unsigned size = 0;

	for (unsigned i = 0; i < codes->nr_spans; i++)
		for (unsigned c = codes->spans[i].first; c <= codes->spans[i].last &&
		     c <= INPUT_MAX_CODE; c++) {
			u[c / 8] |= (uint8_t)(1u << (c % 8));
			if (c / 8 + 1 > size)
				size = c / 8 + 1;
		}
	return (uint8_t)size;
}

uint8_t virtio_input_config_answer(enum virtio_input_kind kind, uint8_t select,
				   uint8_t subsel, uint8_t u[VIRTIO_INPUT_CONFIG_U_SIZE])
{
	const struct input_description *d;
	const struct event_codes *codes;

	memset(u, 0, VIRTIO_INPUT_CONFIG_U_SIZE);
	if ((unsigned)kind >= VIRTIO_INPUT_KINDS)
		return 0;
	d = &descriptions[kind];
	switch (select) {
	case VIRTIO_INPUT_CFG_ID_NAME:
		return subsel ? 0 : put_string(u, d->name);
	case VIRTIO_INPUT_CFG_ID_SERIAL:
		return subsel ? 0 : put_string(u, d->serial);
	case VIRTIO_INPUT_CFG_ID_DEVIDS:
		if (subsel)
			return 0;
		put_le(&u[0], 2, BUS_VIRTUAL);
		put_le(&u[2], 2, VIRTIO_INPUT_VENDOR);
		put_le(&u[4], 2, d->product);
		put_le(&u[6], 2, 1);
		return INPUT_DEVIDS_SIZE;
	case VIRTIO_INPUT_CFG_EV_BITS:
		codes = codes_of(d, subsel);
		return codes ? put_bitmap(u, codes) : 0;
	case VIRTIO_INPUT_CFG_ABS_INFO:
		codes = codes_of(d, EV_ABS);
		if (!codes || !has_code(codes, subsel))
			return 0;
		/* min 0, then max; fuzz, flat and resolution stay 0. */
		put_le(&u[4], 4, (uint32_t)d->abs_max);
		return INPUT_ABSINFO_SIZE;
	default:
		/* PROP_BITS included: none of the kinds has a property. */
		return 0;
	}
}

/* ---- config space: the vCPUs ---- */

static void answer_selected_locked(struct virtio_input *in)
{
	in->config[VIRTIO_INPUT_CONFIG_SIZE_AT] =
		virtio_input_config_answer(in->kind, in->config[VIRTIO_INPUT_CONFIG_SELECT],
					   in->config[VIRTIO_INPUT_CONFIG_SUBSEL],
					   &in->config[VIRTIO_INPUT_CONFIG_U_AT]);
}

static void input_config_read(void *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct virtio_input *in = dev;

	/* The transport checked offset + len against the size. */
	pthread_mutex_lock(&in->config_lock);
	memcpy(data, in->config + offset, len);
	pthread_mutex_unlock(&in->config_lock);
}

static void input_config_write(void *dev, uint32_t offset, const uint8_t *data, uint32_t len)
{
	struct virtio_input *in = dev;
	bool selected = false;

	pthread_mutex_lock(&in->config_lock);
	/* Only select and subsel are the driver's; the rest is ours. */
	for (uint32_t i = 0; i < len; i++) {
		if (offset + i == VIRTIO_INPUT_CONFIG_SELECT ||
		    offset + i == VIRTIO_INPUT_CONFIG_SUBSEL) {
			in->config[offset + i] = data[i];
			selected = true;
		}
	}
	if (selected)
		answer_selected_locked(in);
	pthread_mutex_unlock(&in->config_lock);
}

/* ---- events to the guest: any sender's thread, or the I/O thread ---- */

static struct virtio_input_event *pending_at(struct virtio_input *in, unsigned i)
{
	return &in->pending[(in->pending_head + i) % VIRTIO_INPUT_PENDING_EVENTS];
}

static bool ends_group(const struct virtio_input_event *e)
{
	return e->type == EV_SYN && e->code == SYN_REPORT;
}

/* The ring holds whole groups only, so the oldest ends at the first
 * SYN_REPORT. */
static unsigned oldest_group_len(struct virtio_input *in)
{
	for (unsigned i = 0; i < in->nr_pending; i++)
		if (ends_group(pending_at(in, i)))
			return i + 1;
	return in->nr_pending;
}

static void forget_oldest(struct virtio_input *in, unsigned n)
{
	in->pending_head = (in->pending_head + n) % VIRTIO_INPUT_PENDING_EVENTS;
	in->nr_pending -= n;
}

/* Appends one group (closing it with a SYN_REPORT when `close`), making
 * room by dropping the oldest whole groups. */
static void queue_group(struct virtio_input *in, const struct virtio_input_event *events,
			unsigned len, bool close)
{
	unsigned total = len + (close ? 1 : 0);

	if (total > VIRTIO_INPUT_MAX_GROUP) {
		in->dropped_events += total;
		return;
	}
	while (VIRTIO_INPUT_PENDING_EVENTS - in->nr_pending < total) {
		unsigned oldest = oldest_group_len(in);

		in->dropped_events += oldest;
		forget_oldest(in, oldest);
	}
	for (unsigned i = 0; i < len; i++)
		*pending_at(in, in->nr_pending++) = events[i];
	if (close)
		*pending_at(in, in->nr_pending++) =
			(struct virtio_input_event){ .type = EV_SYN, .code = SYN_REPORT };
}

static void fail_events_locked(struct virtio_input *in, const char *why)
{
	in->event_broken = true;
	in->nr_pending = 0;
	virtio_pci_fail(&in->transport, why);
}

/* Takes a buffer for the i-th pending event and writes the event into it;
 * its head waits in group_heads[i]. Returns false when the guest has no
 * buffer posted, or broke the queue (then event_broken is set). */
static bool fill_one_buffer(struct virtio_input *in, unsigned i)
{
	const struct virtio_input_event *e = pending_at(in, i);
	uint8_t wire[VIRTIO_INPUT_EVENT_SIZE];
	enum virtq_pop_result r;
	char why[160];

	why[0] = 0;
	r = virtq_pop_chain(in->eventq, &in->event_chain, why, sizeof(why));
	if (r == VIRTQ_POP_EMPTY)
		return false;
	if (r == VIRTQ_POP_BROKEN) {
		fail_events_locked(in, why);
		return false;
	}
	if (in->event_chain.in_len < VIRTIO_INPUT_EVENT_SIZE) {
		fail_events_locked(in, "an event buffer has no room for an event");
		return false;
	}
	put_le(&wire[0], 2, e->type);
	put_le(&wire[2], 2, e->code);
	put_le(&wire[4], 4, e->value);
	virtq_chain_copy_to_in(&in->event_chain, 0, wire, sizeof(wire));
	in->group_heads[i] = in->event_chain.head;
	in->group_written[i] = VIRTIO_INPUT_EVENT_SIZE;
	return true;
}

/* Hands the guest whole groups while its buffers last. A group that does
 * not fit gives back the buffers it took and waits for the next kick;
 * then all of it lands in the used ring at once. */
static void deliver_locked(struct virtio_input *in)
{
	bool used = false;

	while (in->nr_pending && !in->event_broken) {
		unsigned len = oldest_group_len(in), got = 0;

		if (len > in->eventq->size) {
			/* More events than the queue has buffers: it could
			 * never arrive whole. */
			in->dropped_events += len;
			forget_oldest(in, len);
			continue;
		}
		while (got < len && fill_one_buffer(in, got))
			got++;
		if (in->event_broken)
			break;
		if (got < len) {
			virtq_unpop(in->eventq, got);
			break;
		}
		if (virtq_push_used_n(in->eventq, in->group_heads, in->group_written, len) < 0) {
			fail_events_locked(in, "event used ring is not in guest RAM");
			break;
		}
		forget_oldest(in, len);
		used = true;
	}
	if (used)
		virtio_pci_notify_queue(&in->transport, INPUT_EVENTQ);
}

void virtio_input_send(struct virtio_input *in, const struct virtio_input_event *events,
		       unsigned n)
{
	unsigned start = 0;

	if (!n)
		return;
	pthread_mutex_lock(&in->event_lock);
	if (!in->eventq || in->event_broken)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		if (ends_group(&events[i])) {
			queue_group(in, events + start, i + 1 - start, false);
			start = i + 1;
		}
	}
	if (start < n)
		queue_group(in, events + start, n - start, true);
	deliver_locked(in);
out:
	pthread_mutex_unlock(&in->event_lock);
}

static void kick_again(int fd)
{
	if (write(fd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0) {
		/* Counter saturated: a wake-up is pending anyway. */
	}
}

static bool drain_kick(int fd)
{
	uint64_t count;

	return read(fd, &count, sizeof(count)) >= 0 || errno == EAGAIN;
}

/* The guest posted event buffers: what waited for them goes now. */
static void input_on_event_kick(void *opaque, uint32_t events)
{
	struct virtio_input *in = opaque;

	(void)events;
	if (!drain_kick(in->kick_fd[INPUT_EVENTQ]))
		return;
	pthread_mutex_lock(&in->event_lock);
	if (in->eventq && !in->event_broken)
		deliver_locked(in);
	pthread_mutex_unlock(&in->event_lock);
}

/* ---- the guest's status events: the I/O thread ---- */

/* Linux sends one event per buffer; a guest that packs more gets the
 * first few logged. */
#define STATUS_EVENTS_LOGGED 4

/* Nothing here acts on them (the viewer has LEDs of its own); they only
 * show up in a debug log. */
static void log_status_chain(struct virtio_input *in)
{
	uint8_t wire[VIRTIO_INPUT_EVENT_SIZE];

	if (!log_debug_enabled())
		return;
	for (uint64_t at = 0; at + sizeof(wire) <= in->status_chain.out_len &&
	     at < STATUS_EVENTS_LOGGED * sizeof(wire); at += sizeof(wire)) {
		virtq_chain_copy_from_out(&in->status_chain, at, wire, sizeof(wire));
		log_debug("%s: guest status event type %u code %u value %u",
			  in->transport.ops->name, wire[0] | wire[1] << 8, wire[2] | wire[3] << 8,
			  (unsigned)(wire[4] | wire[5] << 8 | wire[6] << 16 | (uint32_t)wire[7] << 24));
	}
}

/* A device that needs a reset takes no more events either. */
static void fail_status(struct virtio_input *in, const char *why)
{
	in->status_broken = true;
	pthread_mutex_lock(&in->event_lock);
	fail_events_locked(in, why);
	pthread_mutex_unlock(&in->event_lock);
}

static void input_on_status_kick(void *opaque, uint32_t events)
{
	struct virtio_input *in = opaque;
	unsigned budget;
	bool used = false;
	char why[160];

	(void)events;
	if (!drain_kick(in->kick_fd[INPUT_STATUSQ]))
		return;
	/* A kick already fetched when the device stopped finds no queue. */
	if (!in->statusq || in->status_broken)
		return;
	/* One ring's worth, then the loop's other fds get their turn. */
	for (budget = in->statusq->size; ; budget--) {
		enum virtq_pop_result r;

		if (!budget) {
			kick_again(in->kick_fd[INPUT_STATUSQ]);
			break;
		}
		why[0] = 0;
		r = virtq_pop_chain(in->statusq, &in->status_chain, why, sizeof(why));
		if (r == VIRTQ_POP_EMPTY)
			break;
		if (r == VIRTQ_POP_BROKEN) {
			fail_status(in, why);
			break;
		}
		log_status_chain(in);
		if (virtq_push_used(in->statusq, in->status_chain.head, 0) < 0) {
			fail_status(in, "status used ring is not in guest RAM");
			break;
		}
		used = true;
	}
	if (used)
		virtio_pci_notify_queue(&in->transport, INPUT_STATUSQ);
}

/* ---- life cycle, on the I/O thread ---- */

static const event_fn kick_handlers[INPUT_NR_QUEUES] = {
	[INPUT_EVENTQ] = input_on_event_kick,
	[INPUT_STATUSQ] = input_on_status_kick,
};

struct input_start_call {
	struct virtio_input *in;
	int ret;
};

static int input_watch(struct virtio_input *in)
{
	int ret;

	if (in->watching)
		return 0;
	for (unsigned q = 0; q < INPUT_NR_QUEUES; q++) {
		ret = event_loop_add(&in->io->loop, in->kick_fd[q], EPOLLIN, kick_handlers[q], in);
		if (ret < 0) {
			for (unsigned i = 0; i < q; i++)
				event_loop_remove(&in->io->loop, in->kick_fd[i]);
			return ret;
		}
	}
	in->watching = true;
	return 0;
}

static void input_start(void *arg)
{
	struct input_start_call *call = arg;
	struct virtio_input *in = call->in;

	call->ret = input_watch(in);
	if (call->ret < 0)
		return;
	in->statusq = virtio_pci_queue(&in->transport, INPUT_STATUSQ);
	in->status_broken = false;
	pthread_mutex_lock(&in->event_lock);
	in->eventq = virtio_pci_queue(&in->transport, INPUT_EVENTQ);
	in->event_broken = false;
	pthread_mutex_unlock(&in->event_lock);
	/* Status buffers posted before DRIVER_OK came with no kick we
	 * acted on. */
	if (in->statusq)
		kick_again(in->kick_fd[INPUT_STATUSQ]);
}

static void input_stop(void *arg)
{
	struct virtio_input *in = arg;

	if (in->watching)
		for (unsigned q = 0; q < INPUT_NR_QUEUES; q++)
			event_loop_remove(&in->io->loop, in->kick_fd[q]);
	in->watching = false;
	in->statusq = NULL;
	in->status_broken = false;
	/* Waits out a send in progress on another thread; what it left
	 * behind is for a driver that is gone. */
	pthread_mutex_lock(&in->event_lock);
	in->eventq = NULL;
	in->event_broken = false;
	in->nr_pending = 0;
	pthread_mutex_unlock(&in->event_lock);
}

static int input_activate(void *dev, struct virtio_pci *t)
{
	struct input_start_call call = { .in = dev };

	(void)t;
	if (io_thread_call(call.in->io, input_start, &call) < 0 || call.ret < 0)
		return -1;
	return 0;
}

static void input_reset(void *dev)
{
	struct virtio_input *in = dev;

	io_thread_call(in->io, input_stop, in);
	pthread_mutex_lock(&in->config_lock);
	memset(in->config, 0, sizeof(in->config));
	pthread_mutex_unlock(&in->config_lock);
}

#define INPUT_DEVICE_OPS(dev_name, class) { \
	.name = dev_name, \
	.device_id = VIRTIO_ID_INPUT, \
	.pci_class = class, \
	.nr_queues = INPUT_NR_QUEUES, \
	.queue_size = INPUT_QUEUE_SIZE, \
	.config_size = VIRTIO_INPUT_CONFIG_SIZE, \
	.config_read = input_config_read, \
	.config_write = input_config_write, \
	.activate = input_activate, \
	.reset = input_reset, \
}

static const struct virtio_device_ops device_ops[VIRTIO_INPUT_KINDS] = {
	[VIRTIO_INPUT_KEYBOARD] = INPUT_DEVICE_OPS("virtio-keyboard", PCI_CLASS_INPUT_KEYBOARD),
	[VIRTIO_INPUT_TABLET] = INPUT_DEVICE_OPS("virtio-tablet", PCI_CLASS_INPUT_MOUSE),
	[VIRTIO_INPUT_MOUSE] = INPUT_DEVICE_OPS("virtio-mouse", PCI_CLASS_INPUT_MOUSE),
};

int virtio_input_create(struct virtio_input *in, enum virtio_input_kind kind,
			struct io_thread *io, const struct virtio_pci_env *env)
{
	int ret;

	if ((unsigned)kind >= VIRTIO_INPUT_KINDS)
		return -EINVAL;
	memset(in, 0, sizeof(*in));
	in->io = io;
	in->kind = kind;
	ret = virtio_pci_init(&in->transport, &device_ops[kind], in, env);
	if (ret < 0) {
		in->io = NULL;
		return ret;
	}
	for (unsigned q = 0; q < INPUT_NR_QUEUES; q++)
		in->kick_fd[q] = virtio_pci_kick_fd(&in->transport, q);
	pthread_mutex_init(&in->config_lock, NULL);
	pthread_mutex_init(&in->event_lock, NULL);
	return 0;
}

void virtio_input_destroy(struct virtio_input *in)
{
	if (!in->io)
		return;
	/* Resets the device first: the kick fds leave the loop before the
	 * transport closes them. */
	virtio_pci_destroy(&in->transport);
	pthread_mutex_destroy(&in->event_lock);
	pthread_mutex_destroy(&in->config_lock);
	in->io = NULL;
}
