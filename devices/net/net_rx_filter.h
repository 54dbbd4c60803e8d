/* Which incoming frames a virtio-net guest wants (virtio 1.2, 5.1.6.5.1
 * and 5.1.6.5.2): its own MAC, broadcast, the unicast and multicast
 * tables it set, or everything in promiscuous / all-multicast mode; and
 * the control-queue commands that change that. Pure: no device, no
 * threads (the device locks around it). */
#ifndef GVMM_NET_RX_FILTER_H
#define GVMM_NET_RX_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_FILTER_MAX_MACS 64

/* Control classes and commands this filter answers. */
#define VIRTIO_NET_CTRL_RX              0
#define VIRTIO_NET_CTRL_RX_PROMISC      0
#define VIRTIO_NET_CTRL_RX_ALLMULTI     1
#define VIRTIO_NET_CTRL_MAC             1
#define VIRTIO_NET_CTRL_MAC_TABLE_SET   0
#define VIRTIO_NET_CTRL_MAC_ADDR_SET    1

#define VIRTIO_NET_OK   0
#define VIRTIO_NET_ERR  1

struct net_rx_filter {
	uint8_t mac[6];             /* the device's address (config space) */
	bool promisc;
	bool allmulti;
	bool uc_overflow;           /* the guest's table did not fit: take all */
	bool mc_overflow;
	unsigned nr_uc, nr_mc;
	uint8_t uc[NET_FILTER_MAX_MACS][6];
	uint8_t mc[NET_FILTER_MAX_MACS][6];
};

/* The state after a device reset: mac, and promiscuous until the driver
 * says otherwise (a driver without CTRL_RX never does, and must still get
 * frames for its address and broadcasts; so do bridges behind it). */
void net_rx_filter_reset(struct net_rx_filter *f, const uint8_t mac[6]);

/* Whether a frame with this destination address reaches the guest. */
bool net_rx_filter_accepts(const struct net_rx_filter *f, const uint8_t dst[6]);

/* One VIRTIO_NET_CTRL_RX or _MAC command with its data (the bytes after
 * class and command). Returns VIRTIO_NET_OK or VIRTIO_NET_ERR; malformed
 * data changes nothing. */
uint8_t net_rx_filter_control(struct net_rx_filter *f, uint8_t cls, uint8_t cmd,
			      const uint8_t *data, size_t len);

#endif
