/* The TAP backend against real TAP devices, each named gvmmt<pid><letter>
 * so parallel runs do not meet: frames both ways with their virtio-net
 * headers (seen by the host through an AF_PACKET socket and through the
 * IP stack), receive offloads, multiqueue, and the messages for names that
 * cannot be used. Skipped, saying why, where TAPs cannot be made (no
 * /dev/net/tun, no CAP_NET_ADMIN). */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../devices/net/net_tap.h"

#define TEST_ETHERTYPE 0x88b5          /* IEEE local experimental */
#define WAIT_MS        2000

static const uint8_t broadcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* ---- the host side ---- */

static const char *skip_reason;

static void tap_name(char name[IFNAMSIZ], char letter)
{
	snprintf(name, IFNAMSIZ, "gvmmt%d%c", (int)getpid() % 10000000, letter);
}

/* Whether this process may make TAPs; else skip_reason says why. */
static bool taps_usable(void)
{
	static int usable = -1;
	static char why[160];
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd;

	if (usable >= 0)
		return usable;
	usable = 0;
	skip_reason = why;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, sizeof(why), "cannot open /dev/net/tun: %s", strerror(errno));
		return false;
	}
	tap_name(ifr.ifr_name, 'p');
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		snprintf(why, sizeof(why), "cannot create a TAP (TUNSETIFF: %s)%s", strerror(errno),
			 errno == EPERM ? ": needs CAP_NET_ADMIN" : "");
		close(fd);
		return false;
	}
	close(fd);
	usable = 1;
	return true;
}

static int inet_socket(void)
{
	return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static bool link_up(const char *name)
{
	struct ifreq ifr = { 0 };
	char path[128];
	int s = inet_socket();
	bool ok;
	FILE *f;

	/* Without IPv6 the host sends no router solicitations or MLD reports
	 * through the TAP once it is up: fewer frames to skip. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	f = fopen(path, "w");
	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
	close(s);
	return ok;
}

/* 198.18.0.0/15 is for benchmarks: no real network uses it. */
static uint32_t test_addr(unsigned host)
{
	return htonl(198u << 24 | 18u << 16 | (unsigned)(getpid() % 250) << 8 | host);
}

static bool set_addr(const char *name, uint32_t addr, uint32_t mask)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int s = inet_socket();
	bool ok;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = addr;
	ok = ioctl(s, SIOCSIFADDR, &ifr) == 0;
	sin->sin_addr.s_addr = mask;
	ok = ok && ioctl(s, SIOCSIFNETMASK, &ifr) == 0;
	close(s);
	return ok;
}

static bool host_mac(const char *name, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int s = inet_socket();
	bool ok;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ok = ioctl(s, SIOCGIFHWADDR, &ifr) == 0;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(s);
	return ok;
}

/* A legacy ethtool flag of the device (ETHTOOL_GTSO, ETHTOOL_GTXCSUM). */
static int ethtool_flag(const char *name, uint32_t cmd)
{
	struct ethtool_value v = { .cmd = cmd };
	struct ifreq ifr = { .ifr_data = (char *)&v };
	int s = inet_socket();
	int ret;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ret = ioctl(s, SIOCETHTOOL, &ifr) == 0 ? (int)v.data : -1;
	close(s);
	return ret;
}

/* An AF_PACKET socket on the TAP: sees what the guest sends, and sends
 * frames that leave through the TAP towards the guest. */
static int packet_socket(const char *name)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = (int)if_nametoindex(name),
	};
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (s < 0)
		return -1;
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

static bool packet_send(int s, const char *name, const void *frame, size_t len)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_ifindex = (int)if_nametoindex(name),
		.sll_halen = 6,
	};

	return sendto(s, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) == (ssize_t)len;
}

static bool readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

/* Waits for a frame coming in from the TAP (the guest's side) equal to
 * want; others (the host's own traffic) are skipped. */
static bool packet_wait_for(int s, const uint8_t *want, size_t len, int *pkttype)
{
	uint8_t buf[4096];

	while (readable(s, WAIT_MS)) {
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);

		if (n < 0 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if ((size_t)n == len && !memcmp(buf, want, len)) {
			*pkttype = from.sll_pkttype;
			return true;
		}
	}
	return false;
}

/* ---- frames ---- */

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static size_t put_eth(uint8_t *p, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	put_be16(p + 12, type);
	return 14;
}

/* A broadcast ARP request from the guest, behind a zeroed vnet header. */
static size_t build_arp(uint8_t *p, uint32_t sender, uint32_t target)
{
	uint8_t *arp;

	memset(p, 0, NET_VNET_HDR_LEN);
	arp = p + NET_VNET_HDR_LEN + put_eth(p + NET_VNET_HDR_LEN, broadcast_mac, guest_mac, ETH_P_ARP);
	put_be16(arp, 1);            /* Ethernet */
	put_be16(arp + 2, ETH_P_IP);
	arp[4] = 6;
	arp[5] = 4;
	put_be16(arp + 6, 1);        /* request */
	memcpy(arp + 8, guest_mac, 6);
	memcpy(arp + 14, &sender, 4);
	memset(arp + 18, 0, 6);
	memcpy(arp + 24, &target, 4);
	return NET_VNET_HDR_LEN + 14 + 28;
}

/* An IPv4/UDP frame from the guest behind a vnet header. With partial,
 * the UDP checksum is left for the host to finish (NEEDS_CSUM), as a
 * guest with VIRTIO_NET_F_CSUM sends it. */
static size_t build_udp(uint8_t *p, const uint8_t dst_mac[6], uint32_t saddr, uint32_t daddr,
			uint16_t port, const uint8_t *payload, size_t plen, bool partial)
{
	uint8_t *eth = p + NET_VNET_HDR_LEN, *ip = eth + 14, *udp = ip + 20;
	uint16_t udp_len = (uint16_t)(8 + plen);
	uint32_t pseudo;

	memset(p, 0, NET_VNET_HDR_LEN);
	put_eth(eth, dst_mac, guest_mac, ETH_P_IP);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)(20 + udp_len));
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	put_be16(ip + 10, (uint16_t)~fold(sum16(ip, 20, 0)));
	put_be16(udp, 40000);
	put_be16(udp + 2, port);
	put_be16(udp + 4, udp_len);
	memset(udp + 6, 0, 2);
	memcpy(udp + 8, payload, plen);
	pseudo = sum16(ip + 12, 8, 0) + IPPROTO_UDP + udp_len;
	if (partial) {
		p[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		put_le16(p + 6, 14 + 20);        /* csum_start */
		put_le16(p + 8, 6);              /* csum_offset */
		put_be16(udp + 6, fold(pseudo));
	} else {
		put_be16(udp + 6, (uint16_t)~fold(sum16(udp, udp_len, pseudo)));
	}
	return NET_VNET_HDR_LEN + 14 + 20 + udp_len;
}

/* ---- the backend ---- */

static int open_tap(struct net_backend **be, const char *name, unsigned pairs,
		    char *err, size_t errlen)
{
	struct net_config cfg = { .kind = NET_TAP, .queues = pairs };

	snprintf(cfg.tap_name, sizeof(cfg.tap_name), "%s", name);
	err[0] = '\0';
	return net_tap_open(be, &cfg, pairs, err, errlen);
}

/* A frame for the guest on that pair, skipping any not of ethertype
 * (0: any IPv4 UDP to port). Returns its length or a -errno. */
static ssize_t receive_wait(struct net_backend *be, unsigned pair, uint8_t *buf, size_t size,
			    uint16_t ethertype, uint16_t udp_port)
{
	struct iovec iov = { buf, size };

	while (readable(be->rx_fd[pair], WAIT_MS)) {
		ssize_t n = be->ops->receive(be, pair, &iov, 1);
		const uint8_t *eth = buf + NET_VNET_HDR_LEN;
		uint16_t type;

		if (n == -EAGAIN)
			continue;
		if (n < NET_VNET_HDR_LEN + 14)
			return n < 0 ? n : -EPROTO;
		type = (uint16_t)(eth[12] << 8 | eth[13]);
		if (ethertype && type == ethertype)
			return n;
		if (!ethertype && type == ETH_P_IP && eth[14 + 9] == IPPROTO_UDP &&
		    n >= NET_VNET_HDR_LEN + 14 + 28 &&
		    (eth[14 + 22] << 8 | eth[14 + 23]) == udp_port)
			return n;
	}
	return -ETIMEDOUT;
}

static size_t test_frame(uint8_t *p, size_t len, uint8_t seed)
{
	put_eth(p, broadcast_mac, guest_mac, TEST_ETHERTYPE);
	for (size_t i = 14; i < len; i++)
		p[i] = (uint8_t)(seed + i);
	return len;
}

/* ---- tests ---- */

static void test_open_single_queue(void)
{
	struct net_backend *be = NULL;
	char name[IFNAMSIZ], err[256];
	uint64_t f;

	if (!taps_usable())
		SKIP_TEST(skip_reason);
	tap_name(name, 'a');
	CHECK_EQ(open_tap(&be, name, 1, err, sizeof(err)), 0);
	if (!be) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK(!strcmp(be->kind, "tap"));
	CHECK_EQ(be->nr_pairs, 1);
	CHECK(be->rx_fd[0] >= 0);
	CHECK_EQ(be->rx_fd[0], be->tx_fd[0]);
	CHECK_EQ(be->rx_fd[1], -1);
	CHECK(!be->rx_fd_is_eventfd);
	CHECK(be->ops->attach == NULL && be->ops->detach == NULL);
	CHECK(if_nametoindex(name) != 0);
	f = be->offload_features;
	/* Every kernel with IFF_VNET_HDR has had the checksum offload. */
	CHECK(f & 1ull << VIRTIO_NET_F_CSUM);
	CHECK(f & 1ull << VIRTIO_NET_F_GUEST_CSUM);
	CHECK(!(f & (1ull << VIRTIO_NET_F_GUEST_UFO | 1ull << VIRTIO_NET_F_HOST_UFO)));
	if (f & 1ull << VIRTIO_NET_F_GUEST_ECN)
		CHECK(f & (1ull << VIRTIO_NET_F_GUEST_TSO4 | 1ull << VIRTIO_NET_F_GUEST_TSO6));
	/* Nothing on until the guest asks. */
	CHECK_EQ(ethtool_flag(name, ETHTOOL_GTXCSUM), 0);
	CHECK_EQ(ethtool_flag(name, ETHTOOL_GTSO), 0);
	CHECK_EQ(be->ops->set_active_pairs(be, 1), 0);
	CHECK_EQ(be->ops->set_active_pairs(be, 2), -EINVAL);
	be->ops->destroy(be);
	/* Created by this run, so gone with its fd. */
	CHECK_EQ(if_nametoindex(name), 0);
}

static void test_transmit_reaches_host(void)
{
	struct net_backend *be = NULL;
	char name[IFNAMSIZ], err[256];
	uint8_t frame[128];
	size_t len;
	int s, pkttype = -1;

	if (!taps_usable())
		SKIP_TEST(skip_reason);
	tap_name(name, 'b');
	if (open_tap(&be, name, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "  %s\n", err);
		CHECK(!"open");
		return;
	}
	CHECK(link_up(name));
	s = packet_socket(name);
	if (s < 0) {
		be->ops->destroy(be);
		SKIP_TEST("no AF_PACKET socket (needs CAP_NET_RAW)");
	}
	len = build_arp(frame, test_addr(2), test_addr(1));
	{
		/* The header split across pieces, as a guest may lay it out. */
		struct iovec iov[3] = {
			{ frame, 5 }, { frame + 5, 20 }, { frame + 25, len - 25 },
		};

		CHECK_EQ(be->ops->transmit(be, 0, iov, 3), 0);
	}
	CHECK(packet_wait_for(s, frame + NET_VNET_HDR_LEN, len - NET_VNET_HDR_LEN, &pkttype));
	CHECK_EQ(pkttype, PACKET_BROADCAST);
	close(s);
	be->ops->destroy(be);
}

static void test_transmit_to_host_stack(void)
{
	static const uint8_t payload[] = "from the guest";
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = test_addr(1) };
	struct net_backend *be = NULL;
	char name[IFNAMSIZ], err[256], got[2048];
	uint8_t frame[2048], mac[6], big[1100];
	struct iovec pieces[1200];
	socklen_t sinlen = sizeof(sin);
	size_t len;
	int s;

	if (!taps_usable())
		SKIP_TEST(skip_reason);
	tap_name(name, 'c');
	if (open_tap(&be, name, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "  %s\n", err);
		CHECK(!"open");
		return;
	}
	CHECK(link_up(name));
	CHECK(set_addr(name, test_addr(1), htonl(0xffffff00)));
	CHECK(host_mac(name, mac));
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	CHECK(getsockname(s, (struct sockaddr *)&sin, &sinlen) == 0);

	/* A checksum for the host to finish: the header is honoured. */
	len = build_udp(frame, mac, test_addr(2), test_addr(1), ntohs(sin.sin_port),
			payload, sizeof(payload), true);
	{
		struct iovec iov = { frame, len };

		CHECK_EQ(be->ops->transmit(be, 0, &iov, 1), 0);
	}
	CHECK(readable(s, WAIT_MS));
	CHECK_EQ(recv(s, got, sizeof(got), MSG_DONTWAIT), sizeof(payload));
	CHECK(!memcmp(got, payload, sizeof(payload)));

	/* More pieces than writev takes: gathered, not failed. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	len = build_udp(frame, mac, test_addr(2), test_addr(1), ntohs(sin.sin_port),
			big, sizeof(big), false);
	{
		unsigned n = 0;
		size_t off = 0;

		pieces[n++] = (struct iovec){ frame, 60 };
		for (off = 60; off < len; off++)
			pieces[n++] = (struct iovec){ frame + off, 1 };
		CHECK(n > IOV_MAX);
		CHECK_EQ(be->ops->transmit(be, 0, pieces, n), 0);
	}
	CHECK(readable(s, WAIT_MS));
	CHECK_EQ(recv(s, got, sizeof(got), MSG_DONTWAIT), sizeof(big));
	CHECK(!memcmp(got, big, sizeof(big)));
	close(s);
	be->ops->destroy(be);
}

static void test_transmit_drops_bad_frames(void)
{
	struct net_backend *be = NULL;
	char name[IFNAMSIZ], err[256];
	uint8_t frame[128];
	struct iovec iov = { frame, 0 };

	if (!taps_usable())
		SKIP_TEST(skip_reason);
	tap_name(name, 'd');
	if (open_tap(&be, name, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "  %s\n", err);
		CHECK(!"open");
		return;
	}
	/* Down: the TAP answers EIO. Dropped, and said once. */
	iov.iov_len = build_arp(frame, test_addr(2), test_addr(1));
	CHECK_EQ(be->ops->transmit(be, 0, &iov, 1), 0);
	CHECK(link_up(name));
	/* A GSO type no kernel knows, and a frame shorter than its header:
	 * EINVAL, dropped. */
	frame[1] = 0x09;
	CHECK_EQ(be->ops->transmit(be, 0, &iov, 1), 0);
	frame[1] = 0;
	iov.iov_len = 5;
	CHECK_EQ(be->ops->transmit(be, 0, &iov, 1), 0);
	CHECK_EQ(be->ops->transmit(be, 0, &iov, 0), 0);
	/* And the next good one goes. */
	iov.iov_len = build_arp(frame, test_addr(2), test_addr(1));
	CHECK_EQ(be->ops->transmit(be, 0, &iov, 1), 0);
	be->ops->destroy(be);
}

static void test_receive_from_host(void)
{
	static uint8_t buf[NET_MAX_FRAME], many[1100 * 128];
	struct net_backend *be = NULL;
	char name[IFNAMSIZ], err[256];
	uint8_t frame[1200], small[200], tiny[1100];
	struct iovec pieces[1100];
	ssize_t n;
	int s;

	if (!taps_usable())
		SKIP_TEST(skip_reason);
	tap_name(name, 'e');
	if (open_tap(&be, name, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "  %s\n", err);
		CHECK(!"open");
		return;
	}
	CHECK(link_up(name));
	s = packet_socket(name);
	if (s < 0) {
		be->ops->destroy(be);
		SKIP_TEST("no AF_PACKET socket (needs CAP_NET_RAW)");
	}
	/* Drain what the host sent when the link came up. */
	{
		struct iovec iov = { buf, sizeof(buf) };

		while (be->ops->receive(be, 0, &iov, 1) >= 0)
			;
		CHECK_EQ(be->ops->receive(be, 0, &iov, 1), -EAGAIN);
	}

	test_frame(frame, 100, 1);
	CHECK(packet_send(s, name, frame, 100));
	n = receive_wait(be, 0, buf, sizeof(buf), TEST_ETHERTYPE, 0);
	CHECK_EQ(n, NET_VNET_HDR_LEN + 100);
	/* A plain frame: no flags, no GSO. */
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(buf[1], VIRTIO_NET_HDR_GSO_NONE);
	CHECK(!memcmp(buf + NET_VNET_HDR_LEN, frame, 100));

	/* Longer than the buffer: lost, not torn. */
	test_frame(frame, 1000, 2);
	CHECK(packet_send(s, name, frame, 1000));
	CHECK(readable(be->rx_fd[0], WAIT_MS));
	{
		struct iovec iov = { small, sizeof(small) };

		CHECK_EQ(be->ops->receive(be, 0, &iov, 1), -EMSGSIZE);
	}

	/* More pieces than readv takes, too few bytes in the first IOV_MAX of
	 * them for the largest frame: read whole, then scattered. */
	for (unsigned i = 0; i < 1100; i++)
		pieces[i] = (struct iovec){ tiny + i, 1 };
	test_frame(frame, 300, 3);
	CHECK(packet_send(s, name, frame, 300));
	CHECK(readable(be->rx_fd[0], WAIT_MS));
	CHECK_EQ(be->ops->receive(be, 0, pieces, 1100), NET_VNET_HDR_LEN + 300);
	CHECK(!memcmp(tiny + NET_VNET_HDR_LEN, frame, 300));

	/* Many pieces that hold the largest frame in their first IOV_MAX. */
	for (unsigned i = 0; i < 1100; i++)
		pieces[i] = (struct iovec){ many + i * 128, 128 };
	CHECK((IOV_MAX - 1) * 128 >= NET_MAX_FRAME);
	test_frame(frame, 400, 4);
	CHECK(packet_send(s, name, frame, 400));
	CHECK(readable(be->rx_fd[0], WAIT_MS));
	CHECK_EQ(be->ops->receive(be, 0, pieces, 1100), NET_VNET_HDR_LEN + 400);
	CHECK(!memcmp(many + NET_VNET_HDR_LEN, frame, 400));

	/* A frame that fills the buffer exactly is whole. */
	test_frame(frame, sizeof(small) - NET_VNET_HDR_LEN, 5);
	CHECK(packet_send(s, name, frame, sizeof(small) - NET_VNET_HDR_LEN));
	CHECK(readable(be->rx_fd[0], WAIT_MS));
	{
		struct iovec iov[2] = { { small, 100 }, { small + 100, sizeof(small) - 100 } };

		CHECK_EQ(be->ops->receive(be, 0, iov, 2), sizeof(small));
		CHECK(!memcmp(small + NET_VNET_HDR_LEN, frame, sizeof(small) - NET_VNET_HDR_LEN));
	}
	/* One byte more is not. */
	test_frame(frame, sizeof(small) - NET_VNET_HDR_LEN + 1, 6);
	CHECK(packet_send(s, name, frame, sizeof(small) - NET_VNET_HDR_LEN + 1));
	CHECK(readable(be->rx_fd[0], WAIT_MS));
	{
		struct iovec iov[2] = { { small, 100 }, { small + 100, sizeof(small) - 100 } };

		CHECK_EQ(be->ops->receive(be, 0, iov, 2), -EMSGSIZE);
	}
	/* Nor in the bounce path. */
	test_frame(frame, sizeof(tiny) - NET_VNET_HDR_LEN + 1, 7);
	CHECK(packet_send(s, name, frame, sizeof(tiny) - NET_VNET_HDR_LEN + 1));
	CHECK(readable(be->rx_fd[0], WAIT_MS));
	for (unsigned i = 0; i < 1100; i++)
		pieces[i] = (struct iovec){ tiny + i, 1 };
	CHECK_EQ(be->ops->receive(be, 0, pieces, 1100), -EMSGSIZE);
	{
		struct iovec iov = { buf, sizeof(buf) };

		CHECK_EQ(be->ops->receive(be, 0, &iov, 1), -EAGAIN);
	}

	close(s);
	be->ops->destroy(be);
}

static ssize_t host_udp_broadcast(uint16_t port, const void *data, size_t len)
{
	struct sockaddr_in to = {
		.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = test_addr(255),
	};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int on = 1;
	ssize_t n;

	setsockopt(s, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on));
	n = sendto(s, data, len, 0, (struct sockaddr *)&to, sizeof(to));
	close(s);
	return n;
}

static void test_receive_offloads(void)
{
	static uint8_t buf[NET_MAX_FRAME];
	static const char payload[] = "to the guest";
	const uint64_t csum = 1ull << VIRTIO_NET_F_GUEST_CSUM;
	const uint64_t tso = csum | 1ull << VIRTIO_NET_F_GUEST_TSO4 | 1ull << VIRTIO_NET_F_GUEST_TSO6;
	struct net_backend *be = NULL;
	char name[IFNAMSIZ], err[256];
	ssize_t n;

	if (!taps_usable())
		SKIP_TEST(skip_reason);
	tap_name(name, 'f');
	if (open_tap(&be, name, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "  %s\n", err);
		CHECK(!"open");
		return;
	}
	CHECK(link_up(name));
	CHECK(set_addr(name, test_addr(1), htonl(0xffffff00)));

	/* No offload: the host computes the checksum itself. */
	CHECK_EQ(be->ops->set_offloads(be, 0), 0);
	CHECK_EQ(host_udp_broadcast(40001, payload, sizeof(payload)), sizeof(payload));
	n = receive_wait(be, 0, buf, sizeof(buf), 0, 40001);
	CHECK_EQ(n, NET_VNET_HDR_LEN + 14 + 28 + sizeof(payload));
	CHECK_EQ(buf[0], 0);

	/* With it, the checksum is left to the guest, said in the header. */
	CHECK_EQ(be->ops->set_offloads(be, csum), 0);
	CHECK_EQ(ethtool_flag(name, ETHTOOL_GTXCSUM), 1);
	CHECK_EQ(ethtool_flag(name, ETHTOOL_GTSO), 0);
	CHECK_EQ(host_udp_broadcast(40002, payload, sizeof(payload)), sizeof(payload));
	n = receive_wait(be, 0, buf, sizeof(buf), 0, 40002);
	CHECK_EQ(n, NET_VNET_HDR_LEN + 14 + 28 + sizeof(payload));
	CHECK(buf[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(get_le16(buf + 6), 14 + 20);
	CHECK_EQ(get_le16(buf + 8), 6);

	if (be->offload_features & 1ull << VIRTIO_NET_F_GUEST_TSO4) {
		CHECK_EQ(be->ops->set_offloads(be, tso), 0);
		CHECK_EQ(ethtool_flag(name, ETHTOOL_GTSO), 1);
	}
	/* TSO without the checksum offload means nothing: all off. */
	CHECK_EQ(be->ops->set_offloads(be, tso & ~csum), 0);
	CHECK_EQ(ethtool_flag(name, ETHTOOL_GTXCSUM), 0);
	CHECK_EQ(ethtool_flag(name, ETHTOOL_GTSO), 0);
	be->ops->destroy(be);
}

static int raw_tap(const char *name, short flags)
{
	struct ifreq ifr = { .ifr_flags = flags };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A TAP or TUN that stays after its fd closes, as 'ip tuntap add' makes. */
static bool make_persistent(const char *name, short flags, unsigned offloads, int owner)
{
	int fd = raw_tap(name, flags);
	bool ok = fd >= 0 && ioctl(fd, TUNSETPERSIST, 1) == 0;

	if (ok && offloads)
		ok = ioctl(fd, TUNSETOFFLOAD, (unsigned long)offloads) == 0;
	if (ok && owner >= 0)
		ok = ioctl(fd, TUNSETOWNER, owner) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void remove_persistent(const char *name, short flags)
{
	int fd = raw_tap(name, flags);

	if (fd >= 0) {
		ioctl(fd, TUNSETPERSIST, 0);
		close(fd);
	}
}

static void test_names_that_are_not_taps(void)
{
	struct net_backend *be = NULL;
	char name[IFNAMSIZ], err[256], want[256];

	if (!taps_usable())
		SKIP_TEST(skip_reason);
	CHECK_EQ(open_tap(&be, "lo", 1, err, sizeof(err)), -1);
	CHECK(!strcmp(err, "'lo' is a network device that is not a TAP"));
	CHECK_EQ(open_tap(&be, "lo", 4, err, sizeof(err)), -1);
	CHECK(!strcmp(err, "'lo' is a network device that is not a TAP"));

	tap_name(name, 'g');
	CHECK(make_persistent(name, IFF_TUN | IFF_NO_PI, 0, -1));
	CHECK_EQ(open_tap(&be, name, 1, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "'%s' is a TUN device (IP packets), not a TAP (Ethernet frames):"
		 " recreate it with 'ip tuntap add dev %s mode tap'", name, name);
	CHECK(!strcmp(err, want));
	remove_persistent(name, IFF_TUN | IFF_NO_PI);
	CHECK_EQ(if_nametoindex(name), 0);
	CHECK(be == NULL);
}

static void test_in_use(void)
{
	struct net_backend *first = NULL, *second = NULL;
	char name[IFNAMSIZ], err[256], want[256];

	if (!taps_usable())
		SKIP_TEST(skip_reason);
	tap_name(name, 'h');
	CHECK_EQ(open_tap(&first, name, 1, err, sizeof(err)), 0);
	/* One queue, attached: a second TUNSETIFF gets EBUSY. */
	CHECK_EQ(open_tap(&second, name, 1, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "TAP '%s' is in use by another process", name);
	CHECK(!strcmp(err, want));
	/* Asking for multiqueue of a single-queue TAP is EINVAL, said so. */
	CHECK_EQ(open_tap(&second, name, 2, err, sizeof(err)), -1);
	CHECK(strstr(err, "exists without multi_queue") != NULL);
	if (first)
		first->ops->destroy(first);
	CHECK(second == NULL);
}

static bool queue_attached(int fd)
{
	struct ifreq ifr = { .ifr_flags = IFF_DETACH_QUEUE };

	/* Detaching a detached queue is EINVAL; put back what was taken. */
	if (ioctl(fd, TUNSETQUEUE, &ifr) < 0)
		return false;
	ifr.ifr_flags = IFF_ATTACH_QUEUE;
	ioctl(fd, TUNSETQUEUE, &ifr);
	return true;
}

static void test_multiqueue(void)
{
	static uint8_t buf[NET_MAX_FRAME];
	struct net_backend *be = NULL;
	char name[IFNAMSIZ], err[256];
	uint8_t frame[64];
	int s;

	if (!taps_usable())
		SKIP_TEST(skip_reason);
	tap_name(name, 'i');
	if (open_tap(&be, name, 2, err, sizeof(err)) < 0) {
		fprintf(stderr, "  %s\n", err);
		CHECK(!"open");
		return;
	}
	CHECK_EQ(be->nr_pairs, 2);
	CHECK(be->rx_fd[0] >= 0 && be->rx_fd[1] >= 0 && be->rx_fd[0] != be->rx_fd[1]);
	CHECK_EQ(be->tx_fd[1], be->rx_fd[1]);
	CHECK_EQ(be->rx_fd[2], -1);
	CHECK(queue_attached(be->rx_fd[0]));
	CHECK(queue_attached(be->rx_fd[1]));

	CHECK_EQ(be->ops->set_active_pairs(be, 1), 0);
	CHECK(!queue_attached(be->rx_fd[1]));
	CHECK(queue_attached(be->rx_fd[0]));
	CHECK_EQ(be->ops->set_active_pairs(be, 1), 0);
	CHECK_EQ(be->ops->set_offloads(be, 1ull << VIRTIO_NET_F_GUEST_CSUM), 0);
	CHECK_EQ(be->ops->set_active_pairs(be, 0), -EINVAL);
	CHECK_EQ(be->ops->set_active_pairs(be, 3), -EINVAL);

	/* With one queue attached every flow comes to pair 0. */
	CHECK(link_up(name));
	s = packet_socket(name);
	if (s >= 0) {
		struct iovec iov = { buf, sizeof(buf) };
		unsigned seen = 0;

		for (uint8_t i = 0; i < 8; i++) {
			test_frame(frame, sizeof(frame), i);
			frame[6 + 5] = i;    /* other sources, other flows */
			CHECK(packet_send(s, name, frame, sizeof(frame)));
		}
		while (receive_wait(be, 0, buf, sizeof(buf), TEST_ETHERTYPE, 0) > 0)
			if (++seen == 8)
				break;
		CHECK_EQ(seen, 8);
		CHECK_EQ(be->ops->receive(be, 1, &iov, 1), -EAGAIN);
		close(s);
	}

	CHECK_EQ(be->ops->set_active_pairs(be, 2), 0);
	CHECK(queue_attached(be->rx_fd[1]));
	be->ops->destroy(be);
	CHECK_EQ(if_nametoindex(name), 0);

	/* As many pairs as a NIC may have. */
	if (open_tap(&be, name, NET_MAX_PAIRS, err, sizeof(err)) < 0) {
		fprintf(stderr, "  %s\n", err);
		CHECK(!"open 16");
		return;
	}
	CHECK(be->rx_fd[NET_MAX_PAIRS - 1] >= 0);
	CHECK_EQ(be->ops->set_active_pairs(be, 3), 0);
	CHECK(queue_attached(be->rx_fd[2]));
	CHECK(!queue_attached(be->rx_fd[3]));
	CHECK(!queue_attached(be->rx_fd[NET_MAX_PAIRS - 1]));
	be->ops->destroy(be);
}

static void test_existing_taps(void)
{
	struct net_backend *be = NULL, *other = NULL;
	char name[IFNAMSIZ], err[256], want[256];

	if (!taps_usable())
		SKIP_TEST(skip_reason);
	tap_name(name, 'j');

	/* A single-queue TAP left with offloads on by its last user. */
	CHECK(make_persistent(name, IFF_TAP | IFF_NO_PI, TUN_F_CSUM | TUN_F_TSO4, -1));
	CHECK_EQ(ethtool_flag(name, ETHTOOL_GTSO), 1);
	CHECK_EQ(open_tap(&be, name, 2, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "TAP '%s' exists without multi_queue: recreate it with"
		 " 'ip tuntap add dev %s mode tap multi_queue' or use queues=1", name, name);
	CHECK(!strcmp(err, want));
	CHECK_EQ(open_tap(&be, name, 1, err, sizeof(err)), 0);
	if (be) {
		CHECK_EQ(ethtool_flag(name, ETHTOOL_GTXCSUM), 0);
		CHECK_EQ(ethtool_flag(name, ETHTOOL_GTSO), 0);
		be->ops->destroy(be);
		be = NULL;
	}
	/* Persistent: still there for the next user. */
	CHECK(if_nametoindex(name) != 0);
	remove_persistent(name, IFF_TAP | IFF_NO_PI);
	CHECK_EQ(if_nametoindex(name), 0);

	/* A multi_queue TAP serves queues=1 too, and more than one user. */
	CHECK(make_persistent(name, IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE, 0, -1));
	CHECK_EQ(open_tap(&be, name, 1, err, sizeof(err)), 0);
	CHECK_EQ(open_tap(&other, name, 2, err, sizeof(err)), 0);
	if (be) {
		CHECK_EQ(be->ops->set_active_pairs(be, 1), 0);
		CHECK_EQ(be->ops->set_offloads(be, 1ull << VIRTIO_NET_F_GUEST_CSUM), 0);
		be->ops->destroy(be);
	}
	if (other)
		other->ops->destroy(other);
	CHECK(if_nametoindex(name) != 0);
	remove_persistent(name, IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE);
	CHECK_EQ(if_nametoindex(name), 0);
}

static void test_numbered_name(void)
{
	struct net_backend *be = NULL;
	char pattern[IFNAMSIZ], err[256];
	struct ifreq a = { 0 }, b = { 0 };

	if (!taps_usable())
		SKIP_TEST(skip_reason);
	snprintf(pattern, sizeof(pattern), "gvt%dn%%d", (int)getpid() % 10000000);
	if (open_tap(&be, pattern, 2, err, sizeof(err)) < 0) {
		fprintf(stderr, "  %s\n", err);
		CHECK(!"open");
		return;
	}
	/* Both queues on the one device the kernel numbered. */
	CHECK(ioctl(be->rx_fd[0], TUNGETIFF, &a) == 0);
	CHECK(ioctl(be->rx_fd[1], TUNGETIFF, &b) == 0);
	CHECK(!strcmp(a.ifr_name, b.ifr_name));
	CHECK(strchr(a.ifr_name, '%') == NULL);
	CHECK(!strncmp(a.ifr_name, pattern, strlen(pattern) - 2));
	be->ops->destroy(be);
}

/* In a child that gives up root, the answer of net_tap_open for name. */
static bool open_unprivileged(const char *name, char *err, size_t errlen, int *ret)
{
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd) < 0)
		return false;
	pid = fork();
	if (pid == 0) {
		struct net_backend *be = NULL;
		char why[256] = "";
		int r = -2;

		close(pipefd[0]);
		if (setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
		    setresuid(65534, 65534, 65534) == 0)
			r = open_tap(&be, name, 1, why, sizeof(why));
		if (write(pipefd[1], &r, sizeof(r)) < 0 || write(pipefd[1], why, strlen(why)) < 0)
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return false;
	}
	n = read(pipefd[0], ret, sizeof(*ret));
	if (n == sizeof(*ret)) {
		n = read(pipefd[0], err, errlen - 1);
		err[n > 0 ? n : 0] = '\0';
	}
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return *ret != -2;
}

static void test_without_cap_net_admin(void)
{
	char name[IFNAMSIZ], err[256] = "", want[256];
	int ret = 0;

	if (!taps_usable())
		SKIP_TEST(skip_reason);
	if (geteuid() != 0)
		SKIP_TEST("needs root, to drop it in a child");
	tap_name(name, 'k');
	if (!open_unprivileged(name, err, sizeof(err), &ret))
		SKIP_TEST("cannot switch to uid 65534");
	/* Creating needs the capability: EPERM. */
	CHECK_EQ(ret, -1);
	snprintf(want, sizeof(want), "creating or attaching TAP '%s' needs CAP_NET_ADMIN (or a TAP"
		 " created for this user with 'ip tuntap add dev %s mode tap user USER')", name, name);
	CHECK(!strcmp(err, want));

	/* So does attaching to another user's TAP... */
	CHECK(make_persistent(name, IFF_TAP | IFF_NO_PI, 0, 0));
	CHECK(open_unprivileged(name, err, sizeof(err), &ret));
	CHECK_EQ(ret, -1);
	CHECK(!strcmp(err, want));
	remove_persistent(name, IFF_TAP | IFF_NO_PI);
	/* ... but not to one made for this user. */
	CHECK(make_persistent(name, IFF_TAP | IFF_NO_PI, 0, 65534));
	CHECK(open_unprivileged(name, err, sizeof(err), &ret));
	CHECK_EQ(ret, 0);
	remove_persistent(name, IFF_TAP | IFF_NO_PI);
	CHECK_EQ(if_nametoindex(name), 0);
}

static void test_bad_arguments(void)
{
	struct net_backend *be = NULL;
	char err[256];

	CHECK_EQ(open_tap(&be, "gvmmtx", 0, err, sizeof(err)), -1);
	CHECK(!strcmp(err, "queues 0 out of range 1..16"));
	CHECK_EQ(open_tap(&be, "gvmmtx", NET_MAX_PAIRS + 1, err, sizeof(err)), -1);
	CHECK_EQ(open_tap(&be, "", 1, err, sizeof(err)), -1);
	CHECK(!strcmp(err, "tap needs a name: tap=NAME"));
	CHECK(be == NULL);
}

TEST_MAIN("net_tap",
	TEST_CASE(test_bad_arguments),
	TEST_CASE(test_open_single_queue),
	TEST_CASE(test_transmit_reaches_host),
	TEST_CASE(test_transmit_to_host_stack),
	TEST_CASE(test_transmit_drops_bad_frames),
	TEST_CASE(test_receive_from_host),
	TEST_CASE(test_receive_offloads),
	TEST_CASE(test_names_that_are_not_taps),
	TEST_CASE(test_in_use),
	TEST_CASE(test_multiqueue),
	TEST_CASE(test_existing_taps),
	TEST_CASE(test_numbered_name),
	TEST_CASE(test_without_cap_net_admin))
