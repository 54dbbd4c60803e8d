/* gvmm's side of the user-networking module (devices/net/
 * net_user_module.h): loading gvmm-net-user.so for the first --net user
 * NIC, and net_slirp.h's functions as the rest of gvmm calls them, each a
 * call into the module's table. Only gvmm itself links this file; unit
 * tests link the module's sources instead. */
#include "net_user_module.h"

static struct module_slot slot = MODULE_SLOT_INIT(NET_USER_MODULE_FILE, NET_USER_MODULE_SYMBOL,
						  struct net_user_module, "the user-networking module");

int net_slirp_create(struct net_backend **out, const struct net_config *cfg,
		     char *err, size_t errlen)
{
	const struct net_user_module *m = module_get(&slot, err, errlen);

	*out = NULL;
	return m ? m->net_slirp_create(out, cfg, err, errlen) : -1;
}

int net_slirp_available(char *version, size_t versionlen, char *err, size_t errlen)
{
	const struct net_user_module *m = module_get(&slot, err, errlen);

	return m ? m->net_slirp_available(version, versionlen, err, errlen) : -1;
}
