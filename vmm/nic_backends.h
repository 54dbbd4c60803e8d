/* The host side of the guest's NICs, opened once per gvmm run from the
 * --net options: TAP queues and libslirp's NAT stay open across guest
 * reboots, so the host's view of the guest (a TAP's addresses, forwarded
 * ports) does not flap when the guest restarts. */
#ifndef GVMM_NIC_BACKENDS_H
#define GVMM_NIC_BACKENDS_H

#include <stddef.h>
#include <stdint.h>

#include "../devices/net/net_backend.h"
#include "../devices/net/net_option.h"

struct vm_nic {
	struct net_backend *backend;
	uint8_t mac[6];
};

/* Opens one backend per config (kind NET_NONE configs are skipped); a TAP
 * with queues=cpus gets one queue pair per vCPU. A NIC without mac= gets a
 * random locally administered one (52:54:00:xx:xx:xx) that lasts for the
 * run. Returns the number of NICs in out, or -1 with err naming the
 * option at fault (the caller reports it as bad input). */
int nic_backends_open(const struct net_config *cfgs, unsigned nr_cfgs, unsigned nr_cpus,
		      struct vm_nic *out, const char *const *args, char *err, size_t errlen);
void nic_backends_close(struct vm_nic *nics, unsigned nr);

#endif
