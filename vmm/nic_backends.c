#include "nic_backends.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "../devices/net/net_slirp.h"
#include "../devices/net/net_tap.h"

/* QEMU's and libvirt's prefix for guests: locally administered addresses
 * that DHCP servers and bridges already treat as virtual machines. */
static void random_mac(uint8_t mac[6])
{
	uint8_t tail[3] = { 0x12, 0x34, 0x56 };

	if (getrandom(tail, sizeof(tail), GRND_NONBLOCK) != sizeof(tail)) {
		/* Without entropy yet, a fixed address is still a working one. */
	}
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	memcpy(mac + 3, tail, 3);
}

static int open_one(const struct net_config *cfg, unsigned nr_cpus, struct vm_nic *nic,
		    char *err, size_t errlen)
{
	unsigned pairs = cfg->queues ? cfg->queues : nr_cpus;

	if (pairs > NET_MAX_PAIRS)
		pairs = NET_MAX_PAIRS;
	if (cfg->mac_given)
		memcpy(nic->mac, cfg->mac, 6);
	else
		random_mac(nic->mac);
	if (cfg->kind == NET_USER)
		return net_slirp_create(&nic->backend, cfg, err, errlen);
	return net_tap_open(&nic->backend, cfg, pairs, err, errlen);
}

int nic_backends_open(const struct net_config *cfgs, unsigned nr_cfgs, unsigned nr_cpus,
		      struct vm_nic *out, const char *const *args, char *err, size_t errlen)
{
	unsigned nr = 0;
	char why[256];

	for (unsigned i = 0; i < nr_cfgs; i++) {
		if (cfgs[i].kind == NET_NONE)
			continue;
		why[0] = 0;
		if (open_one(&cfgs[i], nr_cpus, &out[nr], why, sizeof(why)) < 0) {
			snprintf(err, errlen, "--net '%s': %s", args[i], why);
			nic_backends_close(out, nr);
			return -1;
		}
		nr++;
	}
	return (int)nr;
}

void nic_backends_close(struct vm_nic *nics, unsigned nr)
{
	for (unsigned i = 0; i < nr; i++) {
		if (nics[i].backend)
			nics[i].backend->ops->destroy(nics[i].backend);
		nics[i].backend = NULL;
	}
}
