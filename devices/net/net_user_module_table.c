/* The user-networking module's side of devices/net/net_user_module.h: the
 * one symbol it exports. Everything else in the module is compiled
 * hidden, so its calls between its own functions never reach gvmm's
 * forwarding functions of the same names. */
#include "net_user_module.h"

__attribute__((visibility("default")))
const struct net_user_module gvmm_net_user_module = {
	.header = MODULE_HEADER_INIT(struct net_user_module),
	.net_slirp_create = net_slirp_create,
	.net_slirp_available = net_slirp_available,
};
