/* virtio-blk (virtio 1.2, section 5.2) over the modern PCI transport: a
 * raw disk image served with Linux AIO from an I/O thread.
 *
 * One virtqueue per vCPU (MQ). Kicks and AIO completions are both watched
 * on the device's io_thread, so guest I/O never runs on a vCPU; a vCPU
 * only waits when the driver resets the device, until the requests in
 * flight have finished (nothing may write guest memory after a reset).
 * Each queue keeps at most VIRTIO_BLK_QUEUE_DEPTH requests in flight;
 * beyond that, chains wait in the ring until completions free a slot.
 *
 * While VIRTIO_BLK_POLL_MIN_IN_FLIGHT or more requests are in flight, the
 * driver is not asked to notify: the I/O thread looks at the ring at each
 * completion instead, and at least every VIRTIO_BLK_POLL_TICK_NS, so a
 * request waits no longer than that for it. A notification is a VM exit
 * (an emulated MMIO write under nested virtualization); under load most of
 * them would only say what the next completion shows anyway. */
#ifndef GVMM_VIRTIO_BLK_H
#define GVMM_VIRTIO_BLK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block_backend.h"
#include "block_request.h"
#include "../virtio/virtio_pci.h"
#include "../../vmm/io_thread.h"

#define VIRTIO_BLK_QUEUE_SIZE   256
#define VIRTIO_BLK_QUEUE_DEPTH  128
/* A queue (and an MSI-X vector each, plus the config vector) per vCPU,
 * up to what the transport can give. */
#define VIRTIO_BLK_MAX_QUEUES   (PCI_MSIX_MAX_VECTORS - 1 < VIRTIO_PCI_MAX_QUEUES ? \
				 PCI_MSIX_MAX_VECTORS - 1 : VIRTIO_PCI_MAX_QUEUES)
#define VIRTIO_BLK_CONFIG_SIZE  60   /* through write_zeroes_may_unmap */
#define VIRTIO_BLK_POLL_MIN_IN_FLIGHT 4
#define VIRTIO_BLK_POLL_TICK_NS 1000000ull   /* 1 ms */

/* Feature bits (virtio 1.2, 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX      1
#define VIRTIO_BLK_F_SEG_MAX       2
#define VIRTIO_BLK_F_RO            5
#define VIRTIO_BLK_F_BLK_SIZE      6
#define VIRTIO_BLK_F_FLUSH         9
#define VIRTIO_BLK_F_MQ            12
#define VIRTIO_BLK_F_DISCARD       13
#define VIRTIO_BLK_F_WRITE_ZEROES  14

/* What --disk PATH[,ro][,serial=STR][,cache=none|writeback] asks for. */
struct virtio_blk_config {
	char path[PATH_MAX];
	bool read_only;
	bool direct;                              /* cache=none: O_DIRECT */
	char serial[VIRTIO_BLK_ID_BYTES + 1];     /* GET_ID; "" when not given */
};

struct virtio_blk_queue;

struct virtio_blk {
	struct virtio_pci transport;      /* transport.pci goes on the bus */
	struct virtio_device_ops ops;
	struct block_backend backend;
	struct io_thread *io;
	bool read_only;
	char serial[VIRTIO_BLK_ID_BYTES]; /* NUL-padded, as GET_ID returns it */
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE];  /* device config, little-endian */
	unsigned nr_queues;
	struct virtio_blk_queue *queues;
	int poll_timer_fd;                /* VIRTIO_BLK_POLL_TICK_NS, while polling */
	/* Between activate and reset, touched only on the I/O thread. */
	bool active;
	bool poll_timer_armed;
	struct block_request_limits limits;
	bool refusal_logged;              /* a request the guest got wrong */
	bool io_error_logged;             /* the host failed an I/O */
};

/* Parses "PATH[,ro][,serial=STR][,cache=none|writeback]" into cfg (pure).
 * Returns 0, or -EINVAL with one line in err. */
int virtio_blk_parse_option(const char *arg, struct virtio_blk_config *cfg,
			    char *err, size_t errlen);

/* Opens and locks the image and builds the PCI function; nr_queues is
 * clamped to 1..VIRTIO_BLK_MAX_QUEUES. Then pci_bus_add_device(
 * &blk->transport.pci). io serves the device once the guest starts it.
 * Returns 0, or -errno with one line in err. */
int virtio_blk_create(struct virtio_blk *blk, const struct virtio_blk_config *cfg,
		      unsigned nr_queues, struct io_thread *io,
		      const struct virtio_pci_env *env, char *err, size_t errlen);
/* Stops the device (waiting for its I/O) and closes the image. */
void virtio_blk_destroy(struct virtio_blk *blk);

#endif
