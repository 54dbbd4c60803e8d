/* The --net option: which backend a virtual NIC gets and its settings.
 *
 *   none
 *   user[,hostfwd=RULE]...[,host-loopback=on|off][,mtu=N][,mac=MAC]
 *       RULE: tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT
 *       (HOSTADDR defaults to 127.0.0.1, GUESTADDR to the address DHCP
 *       gives the guest, 10.0.2.15)
 *       host-loopback=on lets the guest reach the host's 127.0.0.1 at
 *       10.0.2.2 (default off: services that trust loopback callers, such
 *       as a SPICE display or the user's own daemons, stay out of reach)
 *       mtu=N: the guest link's MTU, NET_USER_MTU_MIN..NET_USER_MTU_MAX
 *       (default NET_USER_MTU_DEFAULT), offered through VIRTIO_NET_F_MTU
 *   tap=NAME[,queues=N|queues=cpus][,mac=MAC]
 *
 * A pure parser: nothing is opened here. */
#ifndef GVMM_NET_OPTION_H
#define GVMM_NET_OPTION_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAX_NICS       8
#define NET_MAX_HOSTFWDS   16

/* The user-mode link's MTU (mtu=). Large by default: libslirp's TCP ends
 * are host sockets, so the guest's segments never cross a real link at
 * this size, and each 64 KiB frame is one exit, one interrupt and one pass
 * through libslirp where 1500 bytes took 44. 576: every IPv4 host must
 * take datagrams that large (DHCP's among them). */
#define NET_USER_MTU_DEFAULT 65520
#define NET_USER_MTU_MIN     576
#define NET_USER_MTU_MAX     65520

enum net_kind { NET_NONE, NET_USER, NET_TAP };

struct net_hostfwd {
	bool udp;
	struct in_addr host_addr;    /* network byte order */
	uint16_t host_port;          /* host byte order, 1..65535 */
	struct in_addr guest_addr;   /* 0.0.0.0: the guest's DHCP address */
	uint16_t guest_port;
};

struct net_config {
	enum net_kind kind;
	uint8_t mac[6];
	bool mac_given;
	/* user */
	struct net_hostfwd hostfwds[NET_MAX_HOSTFWDS];
	unsigned nr_hostfwds;
	bool host_loopback;          /* 10.0.2.2 reaches the host's 127.0.0.1 */
	unsigned mtu;                /* NET_USER_MTU_MIN..NET_USER_MTU_MAX */
	/* tap */
	char tap_name[IFNAMSIZ];
	unsigned queues;             /* queue pairs; 0 means one per vCPU */
};

/* Parses one --net value. Returns 0, or -1 with one line in err (without
 * the option's name: the caller says "--net 'VALUE': ERR"). */
int net_option_parse(const char *arg, struct net_config *out, char *err, size_t errlen);

/* "52:54:00:12:34:56" -> 6 bytes; 0 or -1. A multicast address is refused. */
int net_parse_mac(const char *text, uint8_t mac[6]);

#endif
