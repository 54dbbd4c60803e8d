/* virtio-input (virtio 1.2, section 5.8): one evdev-like input device, a
 * keyboard, a tablet (absolute pointer) or a mouse (relative pointer).
 * The guest learns what the device can report from its config space
 * (name, ids, and per event type the codes it may send, as evdev
 * bitmaps); events then flow to it on the event queue (0), one 8-byte
 * event per guest buffer. The status queue (1) brings the guest's own
 * events back (the keyboard's LEDs); they are read and dropped.
 *
 * Events are grouped as evdev groups them: a run of events closed by
 * EV_SYN/SYN_REPORT is one state change, and the guest applies it only
 * at the SYN. The device keeps that whole: a group reaches the guest's
 * used ring all at once, and when events pile up beyond what the device
 * keeps, the oldest whole groups go.
 *
 * Threads: the queues are served on the I/O thread; virtio_input_send()
 * may be called from any thread. */
#ifndef GVMM_VIRTIO_INPUT_H
#define GVMM_VIRTIO_INPUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/io_thread.h"
#include "virtio_pci.h"

enum virtio_input_kind {
	VIRTIO_INPUT_KEYBOARD,
	VIRTIO_INPUT_TABLET,       /* EV_ABS X/Y over 0..DISPLAY_ABS_MAX, buttons, wheel */
	VIRTIO_INPUT_MOUSE,        /* EV_REL X/Y, buttons, wheel */
	VIRTIO_INPUT_KINDS,
};

/* Config space selects (virtio 1.2, 5.8.2). */
#define VIRTIO_INPUT_CFG_UNSET      0x00
#define VIRTIO_INPUT_CFG_ID_NAME    0x01
#define VIRTIO_INPUT_CFG_ID_SERIAL  0x02
#define VIRTIO_INPUT_CFG_ID_DEVIDS  0x03
#define VIRTIO_INPUT_CFG_PROP_BITS  0x10
#define VIRTIO_INPUT_CFG_EV_BITS    0x11
#define VIRTIO_INPUT_CFG_ABS_INFO   0x12

/* struct virtio_input_config: u8 select, u8 subsel, u8 size, u8
 * reserved[5], then the 128-byte answer u (a string, a bitmap, the
 * absinfo le32 min, max, fuzz, flat, res, or the devids le16 bustype,
 * vendor, product, version). */
#define VIRTIO_INPUT_CONFIG_SELECT   0
#define VIRTIO_INPUT_CONFIG_SUBSEL   1
#define VIRTIO_INPUT_CONFIG_SIZE_AT  2
#define VIRTIO_INPUT_CONFIG_U_AT     8
#define VIRTIO_INPUT_CONFIG_U_SIZE   128
#define VIRTIO_INPUT_CONFIG_SIZE     (VIRTIO_INPUT_CONFIG_U_AT + VIRTIO_INPUT_CONFIG_U_SIZE)

#define VIRTIO_INPUT_VENDOR          0x0627
#define VIRTIO_INPUT_EVENT_SIZE      8

/* Events the device keeps for a guest that has no buffers posted. */
#define VIRTIO_INPUT_PENDING_EVENTS  256
/* The longest group of events taken; longer ones are dropped. */
#define VIRTIO_INPUT_MAX_GROUP       64

/* One evdev event, in host byte order; on the queue it is le16 type,
 * le16 code, le32 value (<linux/virtio_input.h>'s layout, which this
 * header does not include: the names would clash). */
struct virtio_input_event {
	uint16_t type;             /* EV_* */
	uint16_t code;             /* KEY_*, BTN_*, ABS_*, REL_*, SYN_* */
	uint32_t value;            /* signed for EV_REL */
};

struct virtio_input {
	struct virtio_pci transport;   /* pci_bus_add_device(&in->transport.pci) */
	struct io_thread *io;
	enum virtio_input_kind kind;

	/* The guest's select/subsel and the answer they pick, shared by the
	 * vCPUs that read and write it. */
	pthread_mutex_t config_lock;
	uint8_t config[VIRTIO_INPUT_CONFIG_SIZE];

	/* The event side, shared by senders and the I/O thread. pending is
	 * a ring of whole groups, oldest at pending_head. */
	pthread_mutex_t event_lock;
	struct virtq *eventq;          /* NULL unless active */
	bool event_broken;
	struct virtio_input_event pending[VIRTIO_INPUT_PENDING_EVENTS];
	unsigned pending_head, nr_pending;
	uint64_t dropped_events;       /* counted for tests and debuggers */
	uint16_t group_heads[VIRTIO_INPUT_MAX_GROUP];
	uint32_t group_written[VIRTIO_INPUT_MAX_GROUP];
	struct virtq_chain event_chain;

	/* The status side, touched only on the I/O thread. */
	struct virtq *statusq;
	bool status_broken;
	struct virtq_chain status_chain;
	int kick_fd[2];
	bool watching;
};

/* io must outlive the device. Returns 0 or -errno. */
int virtio_input_create(struct virtio_input *in, enum virtio_input_kind kind,
			struct io_thread *io, const struct virtio_pci_env *env);
/* Stops the device (through io) and frees what it holds. */
void virtio_input_destroy(struct virtio_input *in);

/* Queues events for the guest and hands over what its posted buffers
 * take. events should be whole groups, each closed by EV_SYN/SYN_REPORT;
 * a batch that does not end with one is closed with one. While the
 * driver is not running (before DRIVER_OK, after a reset or a failure)
 * events are dropped: a driver that starts later must not see stale
 * ones. */
void virtio_input_send(struct virtio_input *in, const struct virtio_input_event *events,
		       unsigned n);

/* What the config space answers for select/subsel on a kind: fills u
 * (zeroed first) and returns the answer's size, 0 for what the device
 * does not have. Pure. */
uint8_t virtio_input_config_answer(enum virtio_input_kind kind, uint8_t select,
				   uint8_t subsel, uint8_t u[VIRTIO_INPUT_CONFIG_U_SIZE]);

#endif
