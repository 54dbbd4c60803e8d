/* The host side of a virtual NIC: where the guest's Ethernet frames go and
 * where its incoming frames come from (libslirp's user-mode NAT, a TAP
 * device). The virtio-net device sees only this interface.
 *
 * Frames cross it with the 12-byte virtio_net_hdr_v1 in front, as the
 * guest writes them and as TAP with IFF_VNET_HDR reads and writes them, so
 * the TAP path moves frames between guest RAM and the kernel with no copy.
 *
 * A backend lives for the whole gvmm run (a guest reboot builds a new VM
 * and a new device, which start the same backend again), so hostfwd
 * listeners, TAP queues and their host-side addresses survive reboots.
 *
 * Threads: a device with N queue pairs serves pair i on its own I/O thread.
 * transmit/receive for pair i run on pair i's thread; attach, detach,
 * set_offloads and set_active_pairs run on pair 0's thread. */
#ifndef GVMM_NET_BACKEND_H
#define GVMM_NET_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "../../vmm/event_loop.h"

#define NET_MAX_PAIRS      16     /* queue pairs one NIC may have */
#define NET_VNET_HDR_LEN   12     /* struct virtio_net_hdr_v1 */
/* The largest frame receive() produces: header, a 64 KiB GSO frame and an
 * Ethernet header with a VLAN tag. */
#define NET_MAX_FRAME      (NET_VNET_HDR_LEN + 65535 + 18)

/* virtio_net_hdr_v1 (virtio 1.2, section 5.1.6), little-endian. */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM   1
#define VIRTIO_NET_HDR_F_DATA_VALID   2
#define VIRTIO_NET_HDR_GSO_NONE       0
#define VIRTIO_NET_HDR_GSO_TCPV4      1
#define VIRTIO_NET_HDR_GSO_UDP        3
#define VIRTIO_NET_HDR_GSO_TCPV6      4
#define VIRTIO_NET_HDR_GSO_ECN        0x80

/* Offload feature bits (virtio 1.2, section 5.1.3) a backend may honour. */
#define VIRTIO_NET_F_CSUM            0
#define VIRTIO_NET_F_GUEST_CSUM      1
#define VIRTIO_NET_F_GUEST_TSO4      7
#define VIRTIO_NET_F_GUEST_TSO6      8
#define VIRTIO_NET_F_GUEST_ECN       9
#define VIRTIO_NET_F_GUEST_UFO       10
#define VIRTIO_NET_F_HOST_TSO4       11
#define VIRTIO_NET_F_HOST_TSO6       12
#define VIRTIO_NET_F_HOST_ECN        13
#define VIRTIO_NET_F_HOST_UFO        14

struct net_backend;

struct net_backend_ops {
	/* Joins the backend's own fds and timers (libslirp's sockets) to the
	 * loop of pair 0's I/O thread; called on that thread when the device
	 * starts. NULL when there is nothing to join. Returns 0 or -errno. */
	int (*attach)(struct net_backend *be, struct event_loop *loop);
	/* Leaves that loop again (the device stops or the VM goes away); on
	 * the same thread. Frames queued for the guest may be dropped. */
	void (*detach)(struct net_backend *be);
	/* One frame from the guest: iov holds the virtio_net_hdr_v1 and then
	 * the Ethernet frame, straight from guest RAM (the header may be split
	 * across elements). Returns 0 when the frame was taken or dropped
	 * (a malformed frame is dropped, never fatal), -EAGAIN when the
	 * backend is full right now: the device keeps the frame and waits for
	 * tx_fd[pair] to become writable. */
	int (*transmit)(struct net_backend *be, unsigned pair,
			const struct iovec *iov, unsigned iovcnt);
	/* One frame for the guest, written into iov with a virtio_net_hdr_v1
	 * in front (num_buffers is left for the device to fill). Returns the
	 * bytes written, -EAGAIN when no frame waits, or another -errno when
	 * a frame was lost (the device goes on). The device always offers at
	 * least NET_MAX_FRAME bytes, or the MTU's frame when the guest took a
	 * larger MTU than 1500, or 1526 when it took neither. */
	ssize_t (*receive)(struct net_backend *be, unsigned pair,
			   const struct iovec *iov, unsigned iovcnt);
	/* The guest's final feature bits: a TAP turns on the receive offloads
	 * (TUNSETOFFLOAD) matching GUEST_CSUM/TSO4/TSO6/ECN. NULL: nothing to
	 * do. Returns 0 or -errno. */
	int (*set_offloads)(struct net_backend *be, uint64_t guest_features);
	/* The guest uses pairs 0..nr-1 only (VIRTIO_NET_CTRL_MQ); a
	 * multiqueue TAP detaches its other queues. NULL for one pair. */
	int (*set_active_pairs)(struct net_backend *be, unsigned nr);
	/* At the end of the run; frees be. */
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	const char *kind;            /* "user" or "tap", for messages */
	unsigned nr_pairs;           /* 1..NET_MAX_PAIRS */
	uint64_t offload_features;   /* 1 << VIRTIO_NET_F_* it honours */
	/* The link's MTU, which the device offers the guest (VIRTIO_NET_F_MTU)
	 * and receive() never exceeds for a guest that took it; 0: none
	 * offered, the guest picks (1500). */
	unsigned mtu;
	/* Readable (EPOLLIN, level-triggered) while receive() may have a
	 * frame for the pair. An eventfd is drained by the device before it
	 * calls receive(); any other fd (a TAP queue) is not. */
	int rx_fd[NET_MAX_PAIRS];
	bool rx_fd_is_eventfd;
	/* Becomes writable (EPOLLOUT) when transmit() may take frames again
	 * after it said -EAGAIN; -1 when transmit never says -EAGAIN. */
	int tx_fd[NET_MAX_PAIRS];
};

#endif
