/* A TAP device as a NIC backend: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR with a
 * 12-byte header, so frames and their offload metadata pass straight
 * between guest RAM and the kernel; with queues > 1, IFF_MULTI_QUEUE and
 * one fd per queue pair. The TAP may exist already (ip tuntap add ...) or
 * is created (needs CAP_NET_ADMIN); it is not brought up or given
 * addresses: that is the host's business. */
#ifndef GVMM_NET_TAP_H
#define GVMM_NET_TAP_H

#include <stddef.h>

#include "net_backend.h"
#include "net_option.h"

/* Opens cfg->tap_name with nr_pairs queues. On failure, -1 with one line
 * in err that names the reason: no /dev/net/tun, no CAP_NET_ADMIN, the
 * name in use by a non-TAP device or by another process, no multiqueue
 * support, ... */
int net_tap_open(struct net_backend **out, const struct net_config *cfg,
		 unsigned nr_pairs, char *err, size_t errlen);

#endif
