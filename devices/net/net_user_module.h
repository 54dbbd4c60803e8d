/* The user-networking module (gvmm-net-user.so): devices/net/net_slirp.c
 * and libslirp with the GLib it brings, loaded only by a gvmm with a
 * --net user NIC (the default). Linked into gvmm, those libraries cost
 * every start-up, also one with --net none or tap, over a millisecond of
 * mapping and relocating before main() (vmm/module_loader.h says more). */
#ifndef GVMM_NET_USER_MODULE_H
#define GVMM_NET_USER_MODULE_H

#include "../../vmm/module_loader.h"
#include "net_slirp.h"

#define NET_USER_MODULE_FILE   "gvmm-net-user.so"
#define NET_USER_MODULE_SYMBOL "gvmm_net_user_module"

#define NET_USER_MODULE_ENTRY(fn) __typeof__(fn) *fn

/* The module's table: net_slirp.h's functions. */
struct net_user_module {
	struct module_header header;

	NET_USER_MODULE_ENTRY(net_slirp_create);
	NET_USER_MODULE_ENTRY(net_slirp_available);
};

#endif
