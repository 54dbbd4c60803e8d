/* User-mode networking through libslirp: NAT to the host's sockets, with
 * DHCP, DNS and host forwards, no privileges needed. The guest's network
 * is 10.0.2.0/24: gateway (the host) 10.0.2.2, DNS 10.0.2.3, the guest
 * 10.0.2.15 by DHCP. The guest's connections to 10.0.2.2 reach the host's
 * 127.0.0.1 only with net_config.host_loopback; otherwise they fail.
 *
 * libslirp is single-threaded: after attach(), every call into it runs on
 * the loop's thread (pair 0's I/O thread). Its sockets join that loop
 * through one inner epoll fd, its timeouts through one timerfd. Frames
 * for the guest wait in a bounded queue (rx_fd is an eventfd); beyond the
 * bound they are dropped, as a full NIC would. */
#ifndef GVMM_NET_SLIRP_H
#define GVMM_NET_SLIRP_H

#include <stddef.h>

#include "net_backend.h"
#include "net_option.h"

/* Creates the NAT and binds every host forward now, so a port already in
 * use is reported at start (-1 with one line in err, naming the rule). */
int net_slirp_create(struct net_backend **out, const struct net_config *cfg,
		     char *err, size_t errlen);

/* For `gvmm check`: the version of libslirp. Returns 0; -1 with one line
 * in err where user-mode networking cannot work (gvmm without its
 * user-networking module: devices/net/net_user_module.h). */
int net_slirp_available(char *version, size_t versionlen, char *err, size_t errlen);

#endif
