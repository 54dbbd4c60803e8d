/* The libslirp backend on a real I/O thread. The test plays the guest
 * with frames built by hand (Ethernet, ARP, IPv4, UDP, TCP, BOOTP, with
 * real checksums: slirp checks them) and the host with real sockets on
 * 127.0.0.1. Every call into the backend goes through io_thread_call, as
 * the device's would run on its I/O thread. */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../devices/net/net_slirp.h"
#include "../../vmm/io_thread.h"

#define GUEST_IP        0x0a00020fu   /* 10.0.2.15 */
#define GATEWAY_IP      0x0a000202u   /* 10.0.2.2, the host */
#define ETH_TYPE_IPV4   0x0800
#define ETH_TYPE_ARP    0x0806
#define IPPROTO_NUM_TCP 6
#define IPPROTO_NUM_UDP 17
#define TCP_FIN         0x01
#define TCP_SYN         0x02
#define TCP_RST         0x04
#define TCP_ACK         0x10
#define BOOTP_LEN       548           /* 236 fixed bytes and 312 of options */
#define GUEST_TCP_PORT  40000
#define FWD_GUEST_PORT  2222
#define WAIT_MS         5000
#define FRAME_CAP       2048
#define CHATTER_MS      100
/* The backend's queue bound, which the flood test expects to meet. */
#define RX_QUEUE_FRAMES 512

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
/* slirp's own addresses answer from 52:55 followed by the IPv4 address. */
static const uint8_t gateway_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const uint8_t broadcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- bytes ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t pseudo_header_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
	       proto + (uint32_t)len;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- frames the guest sends ---- */

static size_t put_eth(uint8_t *f, const uint8_t dst[6], uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, type);
	return 14;
}

/* Ethernet and IPv4 around l4. A UDP or TCP checksum is complete, or with
 * partial only the pseudo-header's sum, as a guest leaves it for
 * NEEDS_CSUM. */
static size_t build_ipv4(uint8_t *f, const uint8_t dst_mac[6], uint8_t proto,
			 uint32_t src, uint32_t dst, const uint8_t *l4, size_t l4_len,
			 bool partial)
{
	static uint16_t ip_id = 1;
	uint8_t *ip = f + put_eth(f, dst_mac, ETH_TYPE_IPV4);
	uint8_t *seg = ip + 20;
	unsigned csum_at = proto == IPPROTO_NUM_UDP ? 6 : proto == IPPROTO_NUM_TCP ? 16 : 0;

	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4_len));
	put16(ip + 4, ip_id++);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, (uint16_t)~fold(sum16(ip, 20, 0)));
	memcpy(seg, l4, l4_len);
	if (csum_at) {
		uint32_t pseudo = pseudo_header_sum(src, dst, proto, l4_len);

		put16(seg + csum_at, 0);
		put16(seg + csum_at, partial ? fold(pseudo) :
			(uint16_t)~fold(sum16(seg, l4_len, pseudo)));
	}
	return 14 + 20 + l4_len;
}

static size_t build_udp(uint8_t *f, uint32_t src, uint32_t dst, uint16_t sport,
			uint16_t dport, const uint8_t *data, size_t len, const uint8_t dst_mac[6],
			bool partial)
{
	uint8_t seg[FRAME_CAP];

	put16(seg, sport);
	put16(seg + 2, dport);
	put16(seg + 4, (uint16_t)(8 + len));
	put16(seg + 6, 0);
	memcpy(seg + 8, data, len);
	return build_ipv4(f, dst_mac, IPPROTO_NUM_UDP, src, dst, seg, 8 + len, partial);
}

static size_t build_dhcp_discover(uint8_t *f, uint32_t xid)
{
	static const uint8_t options[] = {
		99, 130, 83, 99,      /* magic cookie */
		53, 1, 1,             /* DHCPDISCOVER */
		255,
	};
	uint8_t bootp[BOOTP_LEN] = { 0 };

	bootp[0] = 1;             /* BOOTREQUEST */
	bootp[1] = 1;             /* Ethernet */
	bootp[2] = 6;
	put32(bootp + 4, xid);
	put16(bootp + 10, 0x8000);   /* broadcast the answer: no address yet */
	memcpy(bootp + 28, guest_mac, 6);
	memcpy(bootp + 236, options, sizeof(options));
	return build_udp(f, 0, 0xffffffffu, 68, 67, bootp, sizeof(bootp), broadcast_mac, false);
}

static size_t build_arp(uint8_t *f, uint16_t op, const uint8_t *dst_mac,
			uint32_t sender_ip, uint32_t target_ip)
{
	uint8_t *arp = f + put_eth(f, dst_mac, ETH_TYPE_ARP);

	memset(arp, 0, 46);   /* padded to Ethernet's 60-byte minimum */
	put16(arp, 1);
	put16(arp + 2, ETH_TYPE_IPV4);
	arp[4] = 6;
	arp[5] = 4;
	put16(arp + 6, op);
	memcpy(arp + 8, guest_mac, 6);
	put32(arp + 14, sender_ip);
	if (op == 2)
		memcpy(arp + 18, dst_mac, 6);
	put32(arp + 24, target_ip);
	return 60;
}

static size_t build_tcp(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq,
			uint32_t ack, uint8_t flags, const void *data, size_t len)
{
	uint8_t seg[FRAME_CAP] = { 0 };

	put16(seg, sport);
	put16(seg + 2, dport);
	put32(seg + 4, seq);
	put32(seg + 8, ack);
	seg[12] = 6 << 4;         /* 24 bytes: the header and an MSS option */
	seg[13] = flags;
	put16(seg + 14, 65535);
	seg[20] = 2;
	seg[21] = 4;
	put16(seg + 22, 1460);
	if (len)
		memcpy(seg + 24, data, len);
	return build_ipv4(f, gateway_mac, IPPROTO_NUM_TCP, GUEST_IP, GATEWAY_IP,
			  seg, 24 + len, false);
}

/* ---- frames the guest receives ---- */

struct ipv4_view {
	uint8_t proto;
	uint32_t src, dst;
	const uint8_t *l4;
	size_t l4_len;
};

static bool view_ipv4(const uint8_t *f, size_t len, struct ipv4_view *v)
{
	size_t ihl, total;

	if (len < 34 || get16(f + 12) != ETH_TYPE_IPV4)
		return false;
	ihl = (f[14] & 0xf) * 4u;
	total = get16(f + 16);
	if (ihl < 20 || total < ihl || 14 + total > len)
		return false;
	v->proto = f[23];
	v->src = get32(f + 26);
	v->dst = get32(f + 30);
	v->l4 = f + 14 + ihl;
	v->l4_len = total - ihl;
	return true;
}

struct tcp_view {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *data;
	size_t len;
};

static bool view_tcp(const uint8_t *f, size_t len, struct ipv4_view *ip, struct tcp_view *t)
{
	size_t doff;

	if (!view_ipv4(f, len, ip) || ip->proto != IPPROTO_NUM_TCP || ip->l4_len < 20)
		return false;
	doff = (ip->l4[12] >> 4) * 4u;
	if (doff < 20 || doff > ip->l4_len)
		return false;
	t->sport = get16(ip->l4);
	t->dport = get16(ip->l4 + 2);
	t->seq = get32(ip->l4 + 4);
	t->ack = get32(ip->l4 + 8);
	t->flags = ip->l4[13];
	t->data = ip->l4 + doff;
	t->len = ip->l4_len - doff;
	return true;
}

static bool is_arp(const uint8_t *f, size_t len, uint16_t op, uint32_t sender, uint32_t target)
{
	return len >= 42 && get16(f + 12) == ETH_TYPE_ARP && get16(f + 20) == op &&
	       get32(f + 28) == sender && get32(f + 38) == target;
}

/* ---- the rig: a backend attached to an I/O thread ---- */

struct rig {
	struct io_thread io;
	struct net_backend *be;
	uint16_t fwd_host_port;
	/* While waiting, the guest keeps asking ARP every CHATTER_MS: traffic
	 * that enters slirp without giving it any socket work. */
	bool chatter;
};

struct be_call {
	struct net_backend *be;
	struct event_loop *loop;
	const struct iovec *iov;
	unsigned iovcnt;
	unsigned repeat;
	long ret;
};

static void do_attach(void *arg)
{
	struct be_call *c = arg;

	c->ret = c->be->ops->attach(c->be, c->loop);
}

static void do_detach(void *arg)
{
	struct be_call *c = arg;

	c->be->ops->detach(c->be);
}

static void do_transmit(void *arg)
{
	struct be_call *c = arg;

	c->ret = 0;
	for (unsigned i = 0; i < (c->repeat ? c->repeat : 1) && !c->ret; i++)
		c->ret = c->be->ops->transmit(c->be, 0, c->iov, c->iovcnt);
}

/* As the device does: drain rx_fd, then take a frame. */
static void do_receive(void *arg)
{
	struct be_call *c = arg;
	uint64_t count;

	if (read(c->be->rx_fd[0], &count, sizeof(count)) < 0) {
		/* Nothing signalled: receive says -EAGAIN then. */
	}
	c->ret = c->be->ops->receive(c->be, 0, c->iov, c->iovcnt);
}

static uint16_t free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* A socket on 127.0.0.1: type SOCK_STREAM listens, SOCK_DGRAM is bound. */
static int host_socket(int type, uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 4) < 0) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static bool fd_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* mtu 0: the backend's default. */
static int backend_create(struct net_backend **be, uint16_t fwd_host_port, bool host_loopback,
			  unsigned mtu, char *err, size_t errlen)
{
	struct net_config cfg = { .kind = NET_USER, .nr_hostfwds = 1,
				  .host_loopback = host_loopback, .mtu = mtu };

	cfg.hostfwds[0] = (struct net_hostfwd){
		.host_addr.s_addr = htonl(INADDR_LOOPBACK),
		.host_port = fwd_host_port,
		.guest_port = FWD_GUEST_PORT,   /* guest_addr 0: the DHCP address */
	};
	return net_slirp_create(be, &cfg, err, errlen);
}

static long rig_attach(struct rig *r, const char *name)
{
	struct be_call c = { .be = r->be, .loop = &r->io.loop };

	if (io_thread_start(&r->io, name) < 0)
		return -1;
	io_thread_call(&r->io, do_attach, &c);
	if (c.ret != 0)
		io_thread_stop(&r->io);
	return c.ret;
}

static void rig_detach(struct rig *r)
{
	struct be_call c = { .be = r->be };

	io_thread_call(&r->io, do_detach, &c);
	io_thread_stop(&r->io);
}

/* host_loopback: whether the guest's 10.0.2.2 reaches the host's
 * 127.0.0.1 (--net user,host-loopback=on), as tests of traffic to host
 * sockets need. */
static bool rig_up_mtu(struct rig *r, bool host_loopback, unsigned mtu)
{
	char err[256] = "";

	memset(r, 0, sizeof(*r));
	r->fwd_host_port = free_port();
	if (!r->fwd_host_port ||
	    backend_create(&r->be, r->fwd_host_port, host_loopback, mtu, err, sizeof(err)) < 0) {
		fprintf(stderr, "  backend: %s\n", err);
		return false;
	}
	if (rig_attach(r, "slirp-test") != 0) {
		r->be->ops->destroy(r->be);
		return false;
	}
	return true;
}

static bool rig_up(struct rig *r, bool host_loopback)
{
	return rig_up_mtu(r, host_loopback, 0);
}

static void rig_down(struct rig *r)
{
	rig_detach(r);
	r->be->ops->destroy(r->be);
}

/* Sends frame with header hdr (NULL: all zero), the header split across
 * two elements as a guest may place it. */
static long send_with_header(struct rig *r, const uint8_t *hdr, const uint8_t *frame,
			     size_t len, unsigned repeat)
{
	static const uint8_t zero_hdr[NET_VNET_HDR_LEN];
	const uint8_t *h = hdr ? hdr : zero_hdr;
	struct iovec iov[3] = {
		{ (void *)h, 5 },
		{ (void *)(h + 5), NET_VNET_HDR_LEN - 5 },
		{ (void *)frame, len },
	};
	struct be_call c = { .be = r->be, .iov = iov, .iovcnt = 3, .repeat = repeat };

	io_thread_call(&r->io, do_transmit, &c);
	return c.ret;
}

static long send_frame(struct rig *r, const uint8_t *frame, size_t len)
{
	return send_with_header(r, NULL, frame, len, 1);
}

/* One frame for the guest into f (header checked and stripped): its
 * length, or -errno from receive. */
static long take_frame(struct rig *r, uint8_t *f, size_t cap)
{
	static const uint8_t zero_hdr[NET_VNET_HDR_LEN];
	uint8_t hdr[NET_VNET_HDR_LEN];
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { f, cap } };
	struct be_call c = { .be = r->be, .iov = iov, .iovcnt = 2 };

	memset(hdr, 0xaa, sizeof(hdr));
	io_thread_call(&r->io, do_receive, &c);
	if (c.ret < 0)
		return c.ret;
	CHECK(c.ret >= NET_VNET_HDR_LEN);
	CHECK(!memcmp(hdr, zero_hdr, sizeof(hdr)));
	return c.ret - NET_VNET_HDR_LEN;
}

typedef bool (*frame_match)(const uint8_t *f, size_t len, void *ctx);

/* Takes frames until one matches, for up to timeout_ms. slirp may ask who
 * 10.0.2.15 is before it sends the guest anything: the guest answers. */
static long wait_frame(struct rig *r, frame_match match, void *ctx, uint8_t *f,
		       int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms, next_chatter = now_ms();

	for (;;) {
		long n = take_frame(r, f, FRAME_CAP);
		int64_t left;

		if (r->chatter && now_ms() >= next_chatter) {
			uint8_t ask[64];

			send_frame(r, ask, build_arp(ask, 1, broadcast_mac, GUEST_IP, GATEWAY_IP));
			next_chatter += CHATTER_MS;
		}
		if (n >= 0) {
			if (is_arp(f, (size_t)n, 1, GATEWAY_IP, GUEST_IP)) {
				uint8_t reply[64], sender[6];

				memcpy(sender, f + 6, 6);
				send_frame(r, reply, build_arp(reply, 2, sender, GUEST_IP, GATEWAY_IP));
			}
			if (match(f, (size_t)n, ctx))
				return n;
			continue;
		}
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		fd_readable(r->be->rx_fd[0], left < 50 ? (int)left : 50);
	}
}

static void drain_frames(struct rig *r)
{
	uint8_t f[FRAME_CAP];

	while (take_frame(r, f, sizeof(f)) >= 0)
		;
}

/* ---- DHCP ---- */

struct dhcp_wait {
	uint32_t xid;
	uint32_t yiaddr;
};

static uint8_t dhcp_message_type(const uint8_t *bootp, size_t len)
{
	for (size_t i = 240; i < len && bootp[i] != 255;) {
		if (bootp[i] == 0) {
			i++;
			continue;
		}
		if (i + 2 > len || i + 2 + bootp[i + 1] > len)
			break;
		if (bootp[i] == 53 && bootp[i + 1] == 1)
			return bootp[i + 2];
		i += 2u + bootp[i + 1];
	}
	return 0;
}

static bool match_dhcp_offer(const uint8_t *f, size_t len, void *ctx)
{
	struct dhcp_wait *w = ctx;
	struct ipv4_view ip;
	const uint8_t *bootp;
	size_t blen;

	if (!view_ipv4(f, len, &ip) || ip.proto != IPPROTO_NUM_UDP || ip.l4_len < 8 + 240)
		return false;
	if (get16(ip.l4) != 67 || get16(ip.l4 + 2) != 68)
		return false;
	bootp = ip.l4 + 8;
	blen = ip.l4_len - 8;
	if (bootp[0] != 2 || get32(bootp + 4) != w->xid || get32(bootp + 236) != 0x63825363 ||
	    dhcp_message_type(bootp, blen) != 2)
		return false;
	w->yiaddr = get32(bootp + 16);
	return true;
}

/* The guest asks for an address; slirp learns its MAC on the way. */
static bool guest_dhcp(struct rig *r)
{
	struct dhcp_wait w = { .xid = 0x12345678 };
	uint8_t f[FRAME_CAP];

	CHECK_EQ(send_frame(r, f, build_dhcp_discover(f, w.xid)), 0);
	if (wait_frame(r, match_dhcp_offer, &w, f, WAIT_MS) < 0)
		return false;
	CHECK_EQ(w.yiaddr, GUEST_IP);
	return w.yiaddr == GUEST_IP;
}

static void test_dhcp_offer(void)
{
	struct rig r;

	if (!rig_up(&r, false)) {
		CHECK(!"rig up");
		return;
	}
	CHECK(guest_dhcp(&r));
	rig_down(&r);
}

/* ---- ARP ---- */

static bool match_gateway_arp_reply(const uint8_t *f, size_t len, void *ctx)
{
	(void)ctx;
	return is_arp(f, len, 2, GATEWAY_IP, GUEST_IP) && !memcmp(f, guest_mac, 6) &&
	       !memcmp(f + 22, gateway_mac, 6);
}

static bool guest_arp_gateway(struct rig *r)
{
	uint8_t f[FRAME_CAP];

	CHECK_EQ(send_frame(r, f, build_arp(f, 1, broadcast_mac, GUEST_IP, GATEWAY_IP)), 0);
	return wait_frame(r, match_gateway_arp_reply, NULL, f, WAIT_MS) >= 0;
}

static void test_arp_reply(void)
{
	struct rig r;
	uint8_t f[FRAME_CAP];

	if (!rig_up(&r, false)) {
		CHECK(!"rig up");
		return;
	}
	/* slirp answers inside transmit: the frame is queued at once. */
	CHECK_EQ(send_frame(&r, f, build_arp(f, 1, broadcast_mac, GUEST_IP, GATEWAY_IP)), 0);
	CHECK(fd_readable(r.be->rx_fd[0], 0));
	CHECK(wait_frame(&r, match_gateway_arp_reply, NULL, f, 0) >= 0);
	CHECK_EQ(take_frame(&r, f, sizeof(f)), -EAGAIN);
	rig_down(&r);
}

/* ---- TCP from the guest to the host's loopback ---- */

struct tcp_wait {
	uint16_t guest_port;
	uint16_t host_port;
	uint8_t flags;            /* all of these set */
	uint8_t not_flags;        /* none of these */
	const char *data;         /* NULL: any payload */
	struct tcp_view seen;
};

static bool match_tcp_to_guest(const uint8_t *f, size_t len, void *ctx)
{
	struct tcp_wait *w = ctx;
	struct ipv4_view ip;
	struct tcp_view t;

	if (!view_tcp(f, len, &ip, &t) || ip.dst != GUEST_IP || t.dport != w->guest_port ||
	    t.sport != w->host_port || (t.flags & w->flags) != w->flags || (t.flags & w->not_flags))
		return false;
	if (w->data && (t.len != strlen(w->data) || memcmp(t.data, w->data, t.len)))
		return false;
	w->seen = t;
	return true;
}

/* slirp connects to 127.0.0.1:port on the guest's SYN and answers
 * SYN-ACK once the host side is up; the guest completes the handshake.
 * Returns slirp's ISN + 1 in their_next. */
static bool guest_handshake(struct rig *r, uint16_t sport, uint16_t port,
			    uint32_t *their_next)
{
	struct tcp_wait w = { .guest_port = sport, .host_port = port,
			      .flags = TCP_SYN | TCP_ACK };
	uint8_t f[FRAME_CAP];

	if (wait_frame(r, match_tcp_to_guest, &w, f, WAIT_MS) < 0)
		return false;
	CHECK_EQ(w.seen.ack, 1001);
	*their_next = w.seen.seq + 1;
	CHECK_EQ(send_frame(r, f, build_tcp(f, sport, port, 1001, *their_next, TCP_ACK,
					    NULL, 0)), 0);
	return true;
}

/* Guest SYN to 10.0.2.2:port from sport, and the handshake. */
static bool guest_connect(struct rig *r, uint16_t sport, uint16_t port, uint32_t *their_next)
{
	uint8_t f[FRAME_CAP];

	CHECK_EQ(send_frame(r, f, build_tcp(f, sport, port, 1000, 0, TCP_SYN, NULL, 0)), 0);
	return guest_handshake(r, sport, port, their_next);
}

/* slirp's answer to a guest SYN it will not connect: an ICMP destination
 * unreachable for the guest, or a RST for its port. */
static bool match_refusal(const uint8_t *f, size_t len, void *ctx)
{
	const uint16_t *sport = ctx;
	struct ipv4_view ip;
	struct tcp_view t;

	if (view_tcp(f, len, &ip, &t))
		return ip.dst == GUEST_IP && t.dport == *sport && (t.flags & TCP_RST);
	return view_ipv4(f, len, &ip) && ip.dst == GUEST_IP && ip.proto == 1 &&
	       ip.l4_len >= 8 && ip.l4[0] == 3;
}

/* By default the host's loopback is out of the guest's reach: services
 * there (a SPICE display, the user's own daemons) trust local callers,
 * and a guest is not one. A SYN to 10.0.2.2 is refused and never reaches
 * a listener on 127.0.0.1. */
static void test_host_loopback_refused(struct rig *r, int listener, uint16_t port)
{
	uint16_t sport = GUEST_TCP_PORT;
	uint8_t f[FRAME_CAP];

	CHECK_EQ(send_frame(r, f, build_tcp(f, sport, port, 1000, 0, TCP_SYN, NULL, 0)), 0);
	CHECK(wait_frame(r, match_refusal, &sport, f, WAIT_MS) >= 0);
	CHECK(!fd_readable(listener, 300));
}

static void test_tcp_to_host_loopback(void)
{
	struct tcp_wait w = { .guest_port = GUEST_TCP_PORT, .flags = TCP_ACK, .data = "pong" };
	uint8_t f[FRAME_CAP];
	uint32_t their_next = 0;
	struct rig r;
	int listener, conn = -1;
	uint16_t port;

	listener = host_socket(SOCK_STREAM, &port);
	CHECK(listener >= 0);
	if (listener < 0)
		return;
	if (!rig_up(&r, false)) {
		CHECK(!"rig up");
		close(listener);
		return;
	}
	if (guest_dhcp(&r))
		test_host_loopback_refused(&r, listener, port);
	rig_down(&r);

	/* host-loopback=on: the same SYN reaches the listener. */
	if (!rig_up(&r, true)) {
		CHECK(!"rig up");
		close(listener);
		return;
	}
	if (!guest_dhcp(&r))
		goto out;
	CHECK(guest_connect(&r, GUEST_TCP_PORT, port, &their_next));
	CHECK(fd_readable(listener, WAIT_MS));
	conn = accept(listener, NULL, NULL);
	CHECK(conn >= 0);
	if (conn < 0)
		goto out;
	/* The host's data reaches the guest through the inner epoll, on a
	 * socket slirp opened after attach. */
	CHECK_EQ(write(conn, "pong", 4), 4);
	w.host_port = port;
	CHECK(wait_frame(&r, match_tcp_to_guest, &w, f, WAIT_MS) >= 0);
	CHECK_EQ(w.seen.seq, their_next);
	/* Unacknowledged, it comes again: slirp's retransmit timer runs on
	 * our timerfd, even while the guest's frames keep refilling. */
	w.seen.seq = 0;
	r.chatter = true;
	CHECK(wait_frame(&r, match_tcp_to_guest, &w, f, WAIT_MS) >= 0);
	CHECK_EQ(w.seen.seq, their_next);
	r.chatter = false;
out:
	if (conn >= 0)
		close(conn);
	close(listener);
	rig_down(&r);
}

struct two_frames {
	struct net_backend *be;
	struct iovec first[2], second[2];
};

static void do_transmit_two(void *arg)
{
	struct two_frames *t = arg;

	CHECK_EQ(t->be->ops->transmit(t->be, 0, t->first, 2), 0);
	CHECK_EQ(t->be->ops->transmit(t->be, 0, t->second, 2), 0);
}

/* The guest resets one connection and opens the next in one batch: slirp
 * closes the first socket and its next socket() most likely gets the
 * same number, with no fill in between. The new one must still be
 * watched, or its connect never completes for slirp. */
static void test_tcp_socket_number_reused(void)
{
	static const uint8_t zero_hdr[NET_VNET_HDR_LEN];
	uint8_t rst[FRAME_CAP], syn[FRAME_CAP];
	struct two_frames t;
	uint32_t their_next = 0;
	struct rig r;
	uint16_t port;
	int listener;

	if (!rig_up(&r, true)) {
		CHECK(!"rig up");
		return;
	}
	listener = host_socket(SOCK_STREAM, &port);
	CHECK(listener >= 0);
	if (listener < 0 || !guest_dhcp(&r))
		goto out;
	for (unsigned round = 0; round < 4; round++) {
		uint16_t sport = (uint16_t)(GUEST_TCP_PORT + round);
		int conn;

		if (!round && !guest_connect(&r, sport, port, &their_next))
			break;
		CHECK(fd_readable(listener, WAIT_MS));
		conn = accept(listener, NULL, NULL);
		CHECK(conn >= 0);
		if (conn >= 0)
			close(conn);
		t = (struct two_frames){ .be = r.be };
		t.first[0] = t.second[0] = (struct iovec){ (void *)zero_hdr, sizeof(zero_hdr) };
		t.first[1] = (struct iovec){ rst, build_tcp(rst, sport, port, 1001, their_next,
							    TCP_RST | TCP_ACK, NULL, 0) };
		t.second[1] = (struct iovec){ syn, build_tcp(syn, (uint16_t)(sport + 1), port,
							     1000, 0, TCP_SYN, NULL, 0) };
		io_thread_call(&r.io, do_transmit_two, &t);
		if (!guest_handshake(&r, (uint16_t)(sport + 1), port, &their_next)) {
			CHECK(!"handshake after reuse");
			break;
		}
	}
out:
	if (listener >= 0)
		close(listener);
	rig_down(&r);
}

/* ---- a host forward ---- */

static bool match_fwd_syn(const uint8_t *f, size_t len, void *ctx)
{
	struct ipv4_view ip;
	struct tcp_view t;

	(void)ctx;
	return view_tcp(f, len, &ip, &t) && ip.dst == GUEST_IP && t.dport == FWD_GUEST_PORT &&
	       (t.flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
}

static void test_hostfwd_reaches_guest(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t f[FRAME_CAP];
	struct rig r;
	int fd;

	if (!rig_up(&r, false)) {
		CHECK(!"rig up");
		return;
	}
	CHECK(guest_dhcp(&r));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	sa.sin_port = htons(r.fwd_host_port);
	if (fd >= 0) {
		/* slirp's listener accepts at once; the guest sees a SYN. */
		CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EINPROGRESS);
		CHECK(wait_frame(&r, match_fwd_syn, NULL, f, WAIT_MS) >= 0);
		close(fd);
	}
	rig_down(&r);
}

/* ---- what the guest controls ---- */

static void test_malformed_transmit(void)
{
	static uint8_t big[NET_MAX_FRAME];
	uint8_t f[FRAME_CAP], hdr[NET_VNET_HDR_LEN] = { 0 };
	struct be_call c;
	struct rig r;
	size_t arp_len;

	if (!rig_up(&r, false)) {
		CHECK(!"rig up");
		return;
	}
	c = (struct be_call){ .be = r.be, .iov = NULL, .iovcnt = 0 };
	io_thread_call(&r.io, do_transmit, &c);
	CHECK_EQ(c.ret, 0);
	{
		struct iovec five = { f, 5 };

		c = (struct be_call){ .be = r.be, .iov = &five, .iovcnt = 1 };
		io_thread_call(&r.io, do_transmit, &c);
		CHECK_EQ(c.ret, 0);
	}
	CHECK_EQ(send_frame(&r, f, 5), 0);
	/* Too long: two full buffers, or a length only the guest believes. */
	{
		struct iovec huge[3] = { { big, sizeof(big) }, { big, sizeof(big) },
					 { f, SIZE_MAX } };

		c = (struct be_call){ .be = r.be, .iov = huge, .iovcnt = 3 };
		io_thread_call(&r.io, do_transmit, &c);
		CHECK_EQ(c.ret, 0);
		c = (struct be_call){ .be = r.be, .iov = &huge[2], .iovcnt = 1 };
		io_thread_call(&r.io, do_transmit, &c);
		CHECK_EQ(c.ret, 0);
	}
	/* A well-formed ARP request that would be answered, under bad headers. */
	arp_len = build_arp(f, 1, broadcast_mac, GUEST_IP, GATEWAY_IP);
	hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	CHECK_EQ(send_with_header(&r, hdr, f, arp_len, 1), 0);
	hdr[1] = VIRTIO_NET_HDR_GSO_NONE;
	hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	hdr[6] = 0x88;                       /* csum_start 5000 */
	hdr[7] = 0x13;
	CHECK_EQ(send_with_header(&r, hdr, f, arp_len, 1), 0);
	hdr[6] = 50;                         /* start in the frame, field past it */
	hdr[7] = 0;
	hdr[8] = 9;
	CHECK_EQ(send_with_header(&r, hdr, f, arp_len, 1), 0);
	hdr[8] = 0xff;
	hdr[9] = 0xff;
	CHECK_EQ(send_with_header(&r, hdr, f, arp_len, 1), 0);
	CHECK_EQ(take_frame(&r, f, sizeof(f)), -EAGAIN);
	/* Still alive and answering. */
	CHECK(guest_arp_gateway(&r));
	rig_down(&r);
}

/* NEEDS_CSUM without the feature: the backend completes the checksum, so
 * slirp (which checks UDP checksums) passes the datagram on. */
static void test_partial_checksum_completed(void)
{
	uint8_t f[FRAME_CAP], hdr[NET_VNET_HDR_LEN] = { 0 };
	char got[16] = "";
	struct rig r;
	uint16_t port;
	size_t len;
	int udp;

	if (!rig_up(&r, true)) {
		CHECK(!"rig up");
		return;
	}
	udp = host_socket(SOCK_DGRAM, &port);
	CHECK(udp >= 0);
	if (udp < 0 || !guest_dhcp(&r))
		goto out;
	/* The control: left partial without the flag, slirp must drop it. */
	len = build_udp(f, GUEST_IP, GATEWAY_IP, 5555, port, (const uint8_t *)"bad", 3,
			gateway_mac, true);
	CHECK_EQ(send_frame(&r, f, len), 0);
	len = build_udp(f, GUEST_IP, GATEWAY_IP, 5555, port, (const uint8_t *)"good", 4,
			gateway_mac, true);
	hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	hdr[6] = 14 + 20;                    /* csum_start: the UDP header */
	hdr[8] = 6;                          /* csum_offset: its checksum */
	CHECK_EQ(send_with_header(&r, hdr, f, len, 1), 0);
	CHECK(fd_readable(udp, WAIT_MS));
	CHECK_EQ(recv(udp, got, sizeof(got) - 1, MSG_DONTWAIT), 4);
	CHECK(!strcmp(got, "good"));
out:
	if (udp >= 0)
		close(udp);
	rig_down(&r);
}

static void test_receive_limits(void)
{
	uint8_t f[FRAME_CAP], small[20];
	struct iovec iov = { small, sizeof(small) };
	struct be_call c;
	struct rig r;
	size_t len;
	unsigned frames = 0;

	if (!rig_up(&r, false)) {
		CHECK(!"rig up");
		return;
	}
	CHECK_EQ(take_frame(&r, f, sizeof(f)), -EAGAIN);
	/* A buffer too small loses that frame, not the next. */
	len = build_arp(f, 1, broadcast_mac, GUEST_IP, GATEWAY_IP);
	CHECK_EQ(send_with_header(&r, NULL, f, len, 2), 0);
	c = (struct be_call){ .be = r.be, .iov = &iov, .iovcnt = 1 };
	io_thread_call(&r.io, do_receive, &c);
	CHECK_EQ(c.ret, -EMSGSIZE);
	CHECK(fd_readable(r.be->rx_fd[0], 0));
	CHECK(take_frame(&r, f, sizeof(f)) > 0);
	CHECK_EQ(take_frame(&r, f, sizeof(f)), -EAGAIN);
	/* A guest that takes nothing: the queue stops at its bound. */
	len = build_arp(f, 1, broadcast_mac, GUEST_IP, GATEWAY_IP);
	CHECK_EQ(send_with_header(&r, NULL, f, len, RX_QUEUE_FRAMES + 100), 0);
	while (take_frame(&r, f, sizeof(f)) >= 0)
		frames++;
	CHECK_EQ(frames, RX_QUEUE_FRAMES);
	rig_down(&r);
}

/* ---- life cycle ---- */

static void test_hostfwd_port_busy(void)
{
	static struct net_backend not_set;
	struct net_backend *be = &not_set;
	char err[256] = "", want[64];
	uint16_t port;
	int holder = host_socket(SOCK_STREAM, &port);

	CHECK(holder >= 0);
	if (holder < 0)
		return;
	CHECK_EQ(backend_create(&be, port, false, 0, err, sizeof(err)), -1);
	CHECK(be == NULL);
	snprintf(want, sizeof(want), "hostfwd tcp 127.0.0.1:%u", port);
	CHECK(strstr(err, want) != NULL);
	CHECK(strchr(err, '\n') == NULL);
	close(holder);
}

/* ---- the link's MTU ---- */

#define BIG_PING_DATA 8000

/* The guest pings the gateway with BIG_PING_DATA bytes; returns the length
 * of the first IPv4 frame of slirp's echo reply and its fragment field,
 * or -1 when none came. */
static long big_ping_reply(struct rig *r, uint16_t *frag)
{
	static uint8_t f[NET_MAX_FRAME], icmp[8 + BIG_PING_DATA];
	int64_t deadline;
	uint32_t sum;

	if (!guest_arp_gateway(r))
		return -1;
	memset(icmp, 0, sizeof(icmp));
	icmp[0] = 8;                                   /* echo request */
	put16(icmp + 4, 0x4242);
	put16(icmp + 6, 1);
	for (size_t i = 8; i < sizeof(icmp); i++)
		icmp[i] = (uint8_t)i;
	sum = sum16(icmp, sizeof(icmp), 0);
	put16(icmp + 2, (uint16_t)~fold(sum));
	CHECK_EQ(send_frame(r, f, build_ipv4(f, gateway_mac, 1, GUEST_IP, GATEWAY_IP, icmp,
					       sizeof(icmp), false)), 0);
	deadline = now_ms() + WAIT_MS;
	while (now_ms() < deadline) {
		long n = take_frame(r, f, sizeof(f));
		struct ipv4_view ip;

		if (n == -EAGAIN) {
			fd_readable(r->be->rx_fd[0], 50);
			continue;
		}
		if (n >= 0 && view_ipv4(f, (size_t)n, &ip) && ip.proto == 1 && ip.src == GATEWAY_IP) {
			*frag = get16(f + 20);
			return n;
		}
	}
	return -1;
}

/* By default the link's MTU is large: slirp answers an 8 KiB ping in one
 * frame. With mtu=1500 it sends fragments of at most 1500 bytes. */
static void test_mtu_reaches_slirp(void)
{
	struct rig r;
	uint16_t frag = 0xffff;
	long n;

	if (!rig_up(&r, false)) {
		CHECK(!"rig up");
		return;
	}
	CHECK_EQ(r.be->mtu, NET_USER_MTU_DEFAULT);
	n = big_ping_reply(&r, &frag);
	CHECK_EQ(n, 14 + 20 + 8 + BIG_PING_DATA);
	CHECK_EQ(frag & 0x3fff, 0);                    /* neither MF nor an offset */
	rig_down(&r);

	if (!rig_up_mtu(&r, false, 1500)) {
		CHECK(!"rig up");
		return;
	}
	CHECK_EQ(r.be->mtu, 1500);
	n = big_ping_reply(&r, &frag);
	CHECK(n > 0 && n <= 14 + 1500);
	CHECK(frag & 0x2000);                          /* more fragments follow */
	rig_down(&r);
}

static void test_detach_and_attach_again(void)
{
	struct be_call c;
	uint8_t f[FRAME_CAP];
	uint32_t their_next;
	struct rig r;
	uint16_t port;
	int listener;

	if (!rig_up(&r, true)) {
		CHECK(!"rig up");
		return;
	}
	c = (struct be_call){ .be = r.be, .loop = &r.io.loop };
	io_thread_call(&r.io, do_attach, &c);
	CHECK_EQ(c.ret, -EBUSY);
	CHECK(guest_arp_gateway(&r));
	/* Frames for the old guest do not wait for the new one. */
	CHECK_EQ(send_frame(&r, f, build_arp(f, 1, broadcast_mac, GUEST_IP, GATEWAY_IP)), 0);
	rig_detach(&r);
	CHECK(!fd_readable(r.be->rx_fd[0], 0));

	CHECK_EQ(rig_attach(&r, "slirp-test-2"), 0);
	CHECK_EQ(take_frame(&r, f, sizeof(f)), -EAGAIN);
	CHECK(guest_arp_gateway(&r));
	listener = host_socket(SOCK_STREAM, &port);
	CHECK(listener >= 0);
	if (listener >= 0) {
		CHECK(guest_dhcp(&r));
		CHECK(guest_connect(&r, GUEST_TCP_PORT, port, &their_next));
		CHECK(fd_readable(listener, WAIT_MS));
		close(listener);
	}
	drain_frames(&r);
	rig_down(&r);
}

TEST_MAIN("net_slirp",
	TEST_CASE(test_dhcp_offer),
	TEST_CASE(test_arp_reply),
	TEST_CASE(test_tcp_to_host_loopback),
	TEST_CASE(test_tcp_socket_number_reused),
	TEST_CASE(test_hostfwd_reaches_guest),
	TEST_CASE(test_malformed_transmit),
	TEST_CASE(test_partial_checksum_completed),
	TEST_CASE(test_receive_limits),
	TEST_CASE(test_hostfwd_port_busy),
	TEST_CASE(test_mtu_reaches_slirp),
	TEST_CASE(test_detach_and_attach_again))
