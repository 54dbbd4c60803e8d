/* virtio-net (virtio 1.2, section 5.1) over virtio-pci, in front of a
 * net_backend (libslirp or a TAP). Offered: MAC, link status, a control
 * queue with promiscuous/all-multicast modes and MAC filtering, mergeable
 * receive buffers, the checksum and segmentation offloads the backend can
 * honour, and with a multiqueue backend one queue pair per backend queue.
 *
 * Threads: queue pair i (receiveq 2i, transmitq 2i+1) is served on its
 * own I/O thread, never on a vCPU; the control queue and the backend's own
 * fds (libslirp's sockets) on pair 0's. Frames move between guest RAM and
 * the backend through iovecs that point into guest RAM: a TAP reads and
 * writes them in place. */
#ifndef GVMM_VIRTIO_NET_H
#define GVMM_VIRTIO_NET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../../vmm/io_thread.h"
#include "net_backend.h"
#include "net_rx_filter.h"
#include "../virtio/virtio_pci.h"

#define VIRTIO_NET_QUEUE_SIZE  256
/* readv/writev take at most this many iovecs (UIO_MAXIOV). */
#define VIRTIO_NET_MAX_IOV     1024

struct virtio_net;

struct virtio_net_pair {
	struct virtio_net *net;
	unsigned index;
	struct io_thread io;
	bool io_started;
	char thread_name[16];

	/* Everything below is touched only on this pair's I/O thread. */
	struct virtq *rxq, *txq;
	int rx_kick_fd, tx_kick_fd;
	bool serving;              /* kick fds are in the loop */
	bool rx_wanted;            /* the guest has buffers: watch the backend */
	bool tx_blocked;           /* the backend said -EAGAIN: wait for tx_fd */
	uint32_t backend_events[2]; /* what we watch on rx_fd / tx_fd now */
	struct virtq_chain chain;  /* scratch for one popped chain */
	/* The receive buffers of one frame: mergeable buffers are several
	 * chains, their writable iovecs laid end to end. */
	struct iovec rx_iov[VIRTIO_NET_MAX_IOV];
	uint16_t rx_heads[VIRTIO_NET_QUEUE_SIZE];
	uint32_t rx_room[VIRTIO_NET_QUEUE_SIZE];
	uint32_t rx_written[VIRTIO_NET_QUEUE_SIZE];
};

struct virtio_net {
	struct virtio_pci transport;   /* pci_bus_add_device(&net->transport.pci) */
	struct virtio_device_ops ops;  /* per device: features and queue count
					* depend on the backend */
	struct net_backend *backend;   /* not owned: it outlives the VM */
	unsigned nr_pairs;
	struct virtio_net_pair *pairs;

	/* Settled at DRIVER_OK, read by every pair's thread. */
	bool mergeable;                /* VIRTIO_NET_F_MRG_RXBUF */
	uint32_t rx_frame_room;        /* receive buffer bytes one frame needs */
	unsigned ctrl_queue;           /* its index, or ~0u without CTRL_VQ */
	bool backend_attached;

	/* The control queue: pair 0's thread. */
	struct virtq *ctrlq;
	int ctrl_kick_fd;
	bool ctrl_serving;
	bool ctrl_broken;
	struct virtq_chain ctrl_chain;

	/* Written by the control queue, read by every receiving pair and by
	 * config reads from vCPUs. */
	pthread_mutex_t filter_lock;
	struct net_rx_filter filter;
	uint8_t config_mac[6];         /* the driver may change it */
	uint8_t mac[6];                /* the one it had at creation */
};

/* The backend must outlive the device. Returns 0 or -errno. */
int virtio_net_create(struct virtio_net *net, struct net_backend *backend,
		      const uint8_t mac[6], const struct virtio_pci_env *env);
void virtio_net_destroy(struct virtio_net *net);

#endif
