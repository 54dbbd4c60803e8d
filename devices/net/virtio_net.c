#include "virtio_net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../../vmm/log.h"
#include "../virtio/iov.h"

#define PCI_CLASS_NETWORK_ETHERNET 0x020000

#define VIRTIO_NET_F_MTU             3
#define VIRTIO_NET_F_MAC             5
#define VIRTIO_NET_F_MRG_RXBUF       15
#define VIRTIO_NET_F_STATUS          16
#define VIRTIO_NET_F_CTRL_VQ         17
#define VIRTIO_NET_F_CTRL_RX         18
#define VIRTIO_NET_F_MQ              22
#define VIRTIO_NET_F_CTRL_MAC_ADDR   23

#define VIRTIO_NET_S_LINK_UP         1

#define VIRTIO_NET_CTRL_MQ           4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0

/* struct virtio_net_config up to mtu: mac[6], le16 status, le16
 * max_virtqueue_pairs, le16 mtu. */
#define NET_CONFIG_SIZE              12
/* The MTU a guest assumes when the device offers none. */
#define NET_DEFAULT_MTU              1500

/* A frame without receive offloads: header, Ethernet header with a VLAN
 * tag, 1500 bytes of payload. */
#define NET_SMALL_FRAME              (NET_VNET_HDR_LEN + 1518)
/* Where num_buffers sits in virtio_net_hdr_v1. */
#define NET_HDR_NUM_BUFFERS_OFFSET   10
/* The longest control command we read. MAC tables longer than the filter
 * keeps must still be read whole (the filter then passes every address
 * of that kind), so this is far more than 64 entries each. */
#define NET_CTRL_MAX_DATA            (64 * 1024)

#define NO_QUEUE                     (~0u)

static unsigned rx_queue(unsigned pair) { return 2 * pair; }
static unsigned tx_queue(unsigned pair) { return 2 * pair + 1; }

static void kick_again(int fd)
{
	if (write(fd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0) {
		/* Counter saturated: a wake-up is pending anyway. */
	}
}

static bool drain_eventfd(int fd)
{
	uint64_t count;

	return read(fd, &count, sizeof(count)) >= 0 || errno == EAGAIN;
}

/* ---- configuration space ---- */

static void net_config_read(void *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct virtio_net *net = dev;
	uint8_t config[NET_CONFIG_SIZE];

	pthread_mutex_lock(&net->filter_lock);
	memcpy(config, net->config_mac, 6);
	pthread_mutex_unlock(&net->filter_lock);
	config[6] = VIRTIO_NET_S_LINK_UP;
	config[7] = 0;
	config[8] = (uint8_t)net->nr_pairs;
	config[9] = (uint8_t)(net->nr_pairs >> 8);
	config[10] = (uint8_t)net->backend->mtu;
	config[11] = (uint8_t)(net->backend->mtu >> 8);
	/* The transport checked offset + len against the size. */
	memcpy(data, config + offset, len);
}

/* ---- watching the backend's fds, on a pair's thread ---- */

static void pair_on_backend(void *opaque, uint32_t events);

/* Brings one fd's registration in line with what we want from it. */
static void watch_backend_fd(struct virtio_net_pair *p, int fd, uint32_t *current,
			     uint32_t wanted)
{
	struct event_loop *loop = &p->io.loop;
	int ret = 0;

	if (fd < 0 || *current == wanted)
		return;
	if (!*current)
		ret = event_loop_add(loop, fd, wanted, pair_on_backend, p);
	else if (!wanted)
		event_loop_remove(loop, fd);
	else
		ret = event_loop_modify(loop, fd, wanted);
	if (ret < 0) {
		log_warn("virtio-net: cannot watch the %s backend: %s", p->net->backend->kind,
			 strerror(-ret));
		return;
	}
	*current = wanted;
}

/* A TAP queue is one fd for both directions: one registration carries
 * both interests, as epoll takes each fd once. */
static void update_backend_watch(struct virtio_net_pair *p)
{
	const struct net_backend *be = p->net->backend;
	int rx_fd = be->rx_fd[p->index], tx_fd = be->tx_fd[p->index];
	uint32_t rx = p->serving && p->rx_wanted ? EPOLLIN : 0;
	uint32_t tx = p->serving && p->tx_blocked ? EPOLLOUT : 0;

	if (rx_fd == tx_fd) {
		watch_backend_fd(p, rx_fd, &p->backend_events[0], rx | tx);
		return;
	}
	watch_backend_fd(p, rx_fd, &p->backend_events[0], rx);
	watch_backend_fd(p, tx_fd, &p->backend_events[1], tx);
}

/* ---- receive: backend -> guest ---- */

/* Pops chains until their writable room holds a whole frame, their
 * writable iovecs laid end to end in p->rx_iov. Returns how many chains
 * it took (all given back when they cannot hold a frame), 0 when the
 * guest has too few buffers, -1 when it broke the ring. */
static int gather_rx_buffers(struct virtio_net_pair *p, unsigned *nr_iov)
{
	struct virtio_net *net = p->net;
	uint64_t room = 0;
	unsigned chains = 0, iovs = 0;
	char why[160];

	while (room < net->rx_frame_room) {
		struct virtq_chain *c = &p->chain;
		enum virtq_pop_result r;

		if (chains == VIRTIO_NET_QUEUE_SIZE || chains == p->rxq->size)
			break;
		why[0] = 0;
		r = virtq_pop_chain(p->rxq, c, why, sizeof(why));
		if (r == VIRTQ_POP_BROKEN) {
			virtio_pci_fail(&net->transport, why);
			return -1;
		}
		if (r == VIRTQ_POP_EMPTY)
			break;
		/* Every receive buffer must hold at least the header (virtio
		 * 1.2, 5.1.6.3.1); one with no device-writable room is no
		 * buffer at all, merged with others or not. */
		if (c->in_len < NET_VNET_HDR_LEN) {
			virtio_pci_fail(&net->transport, "a receive buffer is smaller than the header");
			return -1;
		}
		if (c->nr_in > VIRTIO_NET_MAX_IOV - iovs) {
			/* No room to describe it: leave it for the next frame,
			 * unless it is the first, which can never fit. */
			virtq_unpop(p->rxq, 1);
			if (!chains) {
				virtio_pci_fail(&net->transport, "a receive buffer has too many segments");
				return -1;
			}
			break;
		}
		memcpy(&p->rx_iov[iovs], &c->iov[c->nr_out], c->nr_in * sizeof(struct iovec));
		iovs += c->nr_in;
		p->rx_heads[chains] = c->head;
		p->rx_room[chains] = c->in_len > UINT32_MAX ? UINT32_MAX : (uint32_t)c->in_len;
		room += c->in_len;
		chains++;
		/* Without mergeable buffers a frame gets exactly one chain. */
		if (!net->mergeable)
			break;
	}
	if (chains && net->mergeable && room < net->rx_frame_room) {
		virtq_unpop(p->rxq, chains);
		return 0;
	}
	*nr_iov = iovs;
	return (int)chains;
}

/* Spreads `len` received bytes over the gathered chains; returns how many
 * chains the frame used. */
static unsigned account_rx_chains(struct virtio_net_pair *p, unsigned chains, size_t len)
{
	unsigned used = 0;

	while (used < chains && (len || !used)) {
		uint32_t n = len < p->rx_room[used] ? (uint32_t)len : p->rx_room[used];

		p->rx_written[used++] = n;
		len -= n;
	}
	return used;
}

static bool frame_wanted(struct virtio_net_pair *p, unsigned nr_iov, size_t len)
{
	uint8_t dst[6];
	bool wanted;

	if (len < NET_VNET_HDR_LEN + 6 ||
	    iov_to_buf(p->rx_iov, nr_iov, NET_VNET_HDR_LEN, dst, 6) != 6)
		return false;
	pthread_mutex_lock(&p->net->filter_lock);
	wanted = net_rx_filter_accepts(&p->net->filter, dst);
	pthread_mutex_unlock(&p->net->filter_lock);
	return wanted;
}

enum rx_step { RX_DELIVERED, RX_SKIPPED, RX_NO_BUFFERS, RX_NO_FRAMES, RX_BROKEN };

static enum rx_step receive_one_frame(struct virtio_net_pair *p)
{
	struct virtio_net *net = p->net;
	struct net_backend *be = net->backend;
	unsigned nr_iov = 0, used;
	uint8_t num_buffers[2];
	int chains = gather_rx_buffers(p, &nr_iov);
	ssize_t len;

	if (chains < 0)
		return RX_BROKEN;
	if (chains == 0)
		return RX_NO_BUFFERS;
	len = be->ops->receive(be, p->index, p->rx_iov, nr_iov);
	if (len < 0 || !frame_wanted(p, nr_iov, (size_t)len)) {
		virtq_unpop(p->rxq, (unsigned)chains);
		return len == -EAGAIN ? RX_NO_FRAMES : RX_SKIPPED;
	}
	used = account_rx_chains(p, (unsigned)chains, (size_t)len);
	num_buffers[0] = (uint8_t)used;
	num_buffers[1] = (uint8_t)(used >> 8);
	iov_from_buf(p->rx_iov, nr_iov, NET_HDR_NUM_BUFFERS_OFFSET, num_buffers, 2);
	virtq_unpop(p->rxq, (unsigned)chains - used);
	if (virtq_push_used_n(p->rxq, p->rx_heads, p->rx_written, used) < 0) {
		virtio_pci_fail(&net->transport, "receive used ring is not in guest RAM");
		return RX_BROKEN;
	}
	return RX_DELIVERED;
}

static void pair_receive(struct virtio_net_pair *p)
{
	const struct net_backend *be = p->net->backend;
	unsigned budget;
	bool delivered = false;

	if (!p->rxq)
		return;
	if (be->rx_fd_is_eventfd)
		drain_eventfd(be->rx_fd[p->index]);
	/* A ring's worth of frames, then the loop's other fds get a turn. */
	for (budget = p->rxq->size; budget; budget--) {
		enum rx_step step = receive_one_frame(p);

		if (step == RX_DELIVERED)
			delivered = true;
		if (step == RX_NO_BUFFERS) {
			/* Stop watching until the guest posts buffers. */
			p->rx_wanted = false;
			break;
		}
		if (step == RX_NO_FRAMES)
			break;
		if (step == RX_BROKEN) {
			p->rxq = NULL;
			p->rx_wanted = false;
			break;
		}
	}
	if (!budget && be->rx_fd_is_eventfd)
		kick_again(be->rx_fd[p->index]);
	update_backend_watch(p);
	if (delivered)
		virtio_pci_notify_queue(&p->net->transport, rx_queue(p->index));
}

static void pair_on_rx_kick(void *opaque, uint32_t events)
{
	struct virtio_net_pair *p = opaque;

	(void)events;
	if (!drain_eventfd(p->rx_kick_fd) || !p->rxq)
		return;
	p->rx_wanted = true;
	pair_receive(p);
}

/* ---- transmit: guest -> backend ---- */

static void pair_transmit(struct virtio_net_pair *p)
{
	struct virtio_net *net = p->net;
	struct net_backend *be = net->backend;
	unsigned budget;
	bool used = false;
	char why[160];

	if (!p->txq || p->tx_blocked)
		return;
	virtq_disable_notify(p->txq);
	for (budget = p->txq->size; ; budget--) {
		enum virtq_pop_result r;
		int ret;

		if (!budget) {
			kick_again(p->tx_kick_fd);
			break;
		}
		why[0] = 0;
		r = virtq_pop_chain(p->txq, &p->chain, why, sizeof(why));
		if (r == VIRTQ_POP_EMPTY) {
			/* Look once more after asking for kicks again: a frame
			 * queued in between would otherwise wait. */
			if (virtq_enable_notify(p->txq)) {
				virtq_disable_notify(p->txq);
				continue;
			}
			break;
		}
		if (r == VIRTQ_POP_BROKEN) {
			virtio_pci_fail(&net->transport, why);
			p->txq = NULL;
			break;
		}
		/* Writable buffers have no place in a transmit request; only
		 * the readable part is the frame. */
		ret = be->ops->transmit(be, p->index, p->chain.iov, p->chain.nr_out);
		if (ret == -EAGAIN) {
			virtq_unpop(p->txq, 1);
			p->tx_blocked = true;
			break;
		}
		if (virtq_push_used(p->txq, p->chain.head, 0) < 0) {
			virtio_pci_fail(&net->transport, "transmit used ring is not in guest RAM");
			p->txq = NULL;
			break;
		}
		used = true;
	}
	/* While blocked, kicks stay off: the backend's fd wakes us. */
	update_backend_watch(p);
	if (used)
		virtio_pci_notify_queue(&net->transport, tx_queue(p->index));
}

static void pair_on_tx_kick(void *opaque, uint32_t events)
{
	struct virtio_net_pair *p = opaque;

	(void)events;
	if (drain_eventfd(p->tx_kick_fd))
		pair_transmit(p);
}

static void pair_on_backend(void *opaque, uint32_t events)
{
	struct virtio_net_pair *p = opaque;

	if (events & (EPOLLERR | EPOLLHUP) && !(events & (EPOLLIN | EPOLLOUT))) {
		/* Level-triggered and never cleared: stop listening rather
		 * than spin. The guest sees a silent link. */
		log_warn("virtio-net: the %s backend failed (queue pair %u); it is no longer read",
			 p->net->backend->kind, p->index);
		p->rx_wanted = p->tx_blocked = false;
		update_backend_watch(p);
		return;
	}
	if (events & EPOLLOUT && p->tx_blocked) {
		p->tx_blocked = false;
		pair_transmit(p);
	}
	if (events & EPOLLIN && p->rx_wanted)
		pair_receive(p);
}

/* ---- the control queue, on pair 0's thread ---- */

static uint8_t set_queue_pairs(struct virtio_net *net, const uint8_t *data, size_t len)
{
	struct net_backend *be = net->backend;
	unsigned pairs;

	if (len != 2 || !virtio_pci_has_feature(&net->transport, VIRTIO_NET_F_MQ))
		return VIRTIO_NET_ERR;
	pairs = (unsigned)data[0] | (unsigned)data[1] << 8;
	if (pairs < 1 || pairs > net->nr_pairs)
		return VIRTIO_NET_ERR;
	if (be->ops->set_active_pairs && be->ops->set_active_pairs(be, pairs) < 0)
		return VIRTIO_NET_ERR;
	return VIRTIO_NET_OK;
}

static uint8_t control_command(struct virtio_net *net, const uint8_t head[2],
			       const uint8_t *data, size_t len)
{
	uint8_t ack;

	if (head[0] == VIRTIO_NET_CTRL_MQ && head[1] == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
		return set_queue_pairs(net, data, len);
	if ((head[0] == VIRTIO_NET_CTRL_RX &&
	     !virtio_pci_has_feature(&net->transport, VIRTIO_NET_F_CTRL_RX)) ||
	    (head[0] == VIRTIO_NET_CTRL_MAC && head[1] == VIRTIO_NET_CTRL_MAC_TABLE_SET &&
	     !virtio_pci_has_feature(&net->transport, VIRTIO_NET_F_CTRL_RX)) ||
	    (head[0] == VIRTIO_NET_CTRL_MAC && head[1] == VIRTIO_NET_CTRL_MAC_ADDR_SET &&
	     !virtio_pci_has_feature(&net->transport, VIRTIO_NET_F_CTRL_MAC_ADDR)))
		return VIRTIO_NET_ERR;
	pthread_mutex_lock(&net->filter_lock);
	ack = net_rx_filter_control(&net->filter, head[0], head[1], data, len);
	memcpy(net->config_mac, net->filter.mac, 6);
	pthread_mutex_unlock(&net->filter_lock);
	return ack;
}

static uint8_t run_control_command(struct virtio_net *net, const struct virtq_chain *c)
{
	uint8_t head[2], ack, *data;
	size_t len;

	if (c->out_len < 2 || c->out_len - 2 > NET_CTRL_MAX_DATA ||
	    virtq_chain_copy_from_out(c, 0, head, 2) != 2)
		return VIRTIO_NET_ERR;
	/* Too big for the stack of an I/O thread; + 1 as malloc(0) may be NULL. */
	data = malloc((size_t)(c->out_len - 2) + 1);
	if (!data)
		return VIRTIO_NET_ERR;
	len = virtq_chain_copy_from_out(c, 2, data, (size_t)(c->out_len - 2));
	ack = control_command(net, head, data, len);
	free(data);
	return ack;
}

static void net_on_ctrl_kick(void *opaque, uint32_t events)
{
	struct virtio_net *net = opaque;
	unsigned budget;
	bool used = false;
	char why[160];

	(void)events;
	if (!drain_eventfd(net->ctrl_kick_fd) || !net->ctrlq || net->ctrl_broken)
		return;
	for (budget = net->ctrlq->size; budget; budget--) {
		enum virtq_pop_result r;
		uint8_t ack;

		why[0] = 0;
		r = virtq_pop_chain(net->ctrlq, &net->ctrl_chain, why, sizeof(why));
		if (r == VIRTQ_POP_EMPTY)
			break;
		if (r == VIRTQ_POP_BROKEN) {
			net->ctrl_broken = true;
			virtio_pci_fail(&net->transport, why);
			break;
		}
		ack = run_control_command(net, &net->ctrl_chain);
		/* The ack is the last writable byte; a chain without one
		 * simply gets no answer. */
		if (net->ctrl_chain.in_len)
			virtq_chain_copy_to_in(&net->ctrl_chain, net->ctrl_chain.in_len - 1, &ack, 1);
		if (virtq_push_used(net->ctrlq, net->ctrl_chain.head,
				    net->ctrl_chain.in_len ? 1 : 0) < 0) {
			net->ctrl_broken = true;
			virtio_pci_fail(&net->transport, "control used ring is not in guest RAM");
			break;
		}
		used = true;
	}
	if (!budget)
		kick_again(net->ctrl_kick_fd);
	if (used)
		virtio_pci_notify_queue(&net->transport, net->ctrl_queue);
}

/* ---- starting and stopping, each on its own thread ---- */

struct pair_call {
	struct virtio_net_pair *pair;
	int ret;
};

static void pair_start(void *arg)
{
	struct pair_call *call = arg;
	struct virtio_net_pair *p = call->pair;
	struct virtio_net *net = p->net;
	struct event_loop *loop = &p->io.loop;
	int ret;

	p->rxq = virtio_pci_queue(&net->transport, rx_queue(p->index));
	p->txq = virtio_pci_queue(&net->transport, tx_queue(p->index));
	if (!p->rxq && !p->txq) {
		call->ret = 0;    /* a pair the guest left unused */
		return;
	}
	ret = event_loop_add(loop, p->rx_kick_fd, EPOLLIN, pair_on_rx_kick, p);
	if (ret == 0) {
		ret = event_loop_add(loop, p->tx_kick_fd, EPOLLIN, pair_on_tx_kick, p);
		if (ret < 0)
			event_loop_remove(loop, p->rx_kick_fd);
	}
	if (ret < 0) {
		p->rxq = p->txq = NULL;
		call->ret = ret;
		return;
	}
	p->serving = true;
	p->rx_wanted = p->rxq != NULL;
	p->tx_blocked = false;
	update_backend_watch(p);
	/* Frames queued before DRIVER_OK came with no kick we acted on. */
	pair_transmit(p);
	pair_receive(p);
	call->ret = 0;
}

static void pair_stop(void *arg)
{
	struct virtio_net_pair *p = arg;

	if (p->serving) {
		event_loop_remove(&p->io.loop, p->rx_kick_fd);
		event_loop_remove(&p->io.loop, p->tx_kick_fd);
	}
	p->serving = false;
	p->rx_wanted = p->tx_blocked = false;
	update_backend_watch(p);
	p->rxq = p->txq = NULL;
}

/* Pair 0's thread also hosts the control queue and the backend's fds. */
static void control_start(void *arg)
{
	struct pair_call *call = arg;
	struct virtio_net *net = call->pair->net;
	struct net_backend *be = net->backend;
	int ret = 0;

	if (be->ops->set_offloads) {
		ret = be->ops->set_offloads(be, net->transport.driver_features);
		if (ret < 0)
			log_warn("virtio-net: the %s backend refused the guest's offloads: %s",
				 be->kind, strerror(-ret));
	}
	/* Until the guest asks for more, it uses the first pair only. */
	if (be->ops->set_active_pairs)
		be->ops->set_active_pairs(be, 1);
	if (be->ops->attach) {
		ret = be->ops->attach(be, &call->pair->io.loop);
		if (ret < 0) {
			call->ret = ret;
			return;
		}
	}
	net->backend_attached = true;
	net->ctrlq = net->ctrl_queue == NO_QUEUE ? NULL :
		     virtio_pci_queue(&net->transport, net->ctrl_queue);
	net->ctrl_broken = false;
	if (net->ctrlq) {
		ret = event_loop_add(&call->pair->io.loop, net->ctrl_kick_fd, EPOLLIN,
				     net_on_ctrl_kick, net);
		if (ret < 0) {
			net->ctrlq = NULL;
			call->ret = ret;
			return;
		}
		net->ctrl_serving = true;
	}
	call->ret = 0;
}

static void control_stop(void *arg)
{
	struct virtio_net *net = arg;
	struct net_backend *be = net->backend;

	if (net->ctrl_serving)
		event_loop_remove(&net->pairs[0].io.loop, net->ctrl_kick_fd);
	net->ctrl_serving = false;
	net->ctrlq = NULL;
	if (net->backend_attached && be->ops->detach)
		be->ops->detach(be);
	net->backend_attached = false;
}

static void net_reset(void *dev)
{
	struct virtio_net *net = dev;

	for (unsigned i = 0; i < net->nr_pairs; i++)
		if (net->pairs[i].io_started)
			io_thread_call(&net->pairs[i].io, pair_stop, &net->pairs[i]);
	if (net->nr_pairs && net->pairs[0].io_started)
		io_thread_call(&net->pairs[0].io, control_stop, net);
	/* An address the driver set lasts until the reset. */
	pthread_mutex_lock(&net->filter_lock);
	net_rx_filter_reset(&net->filter, net->mac);
	memcpy(net->config_mac, net->mac, 6);
	pthread_mutex_unlock(&net->filter_lock);
}

static bool has_feature(struct virtio_net *net, unsigned bit)
{
	return virtio_pci_has_feature(&net->transport, bit);
}

static int net_activate(void *dev, struct virtio_pci *t)
{
	struct virtio_net *net = dev;
	bool big_frames = has_feature(net, VIRTIO_NET_F_GUEST_TSO4) ||
			  has_feature(net, VIRTIO_NET_F_GUEST_TSO6) ||
			  has_feature(net, VIRTIO_NET_F_GUEST_UFO);
	unsigned mtu = has_feature(net, VIRTIO_NET_F_MTU) ? net->backend->mtu : NET_DEFAULT_MTU;
	struct pair_call call = { .pair = &net->pairs[0] };

	(void)t;
	net->mergeable = has_feature(net, VIRTIO_NET_F_MRG_RXBUF);
	/* A frame must fit whatever the guest posts for one: a whole GSO
	 * frame with receive offloads, else one of the MTU it took. */
	if (big_frames)
		net->rx_frame_room = NET_MAX_FRAME;
	else if (mtu > NET_DEFAULT_MTU)
		net->rx_frame_room = NET_SMALL_FRAME - NET_DEFAULT_MTU + mtu;
	else
		net->rx_frame_room = NET_SMALL_FRAME;
	/* Without MQ the control queue follows the first pair. */
	if (!has_feature(net, VIRTIO_NET_F_CTRL_VQ))
		net->ctrl_queue = NO_QUEUE;
	else
		net->ctrl_queue = has_feature(net, VIRTIO_NET_F_MQ) ? 2 * net->nr_pairs : 2;
	if (net->ctrl_queue != NO_QUEUE)
		net->ctrl_kick_fd = virtio_pci_kick_fd(&net->transport, net->ctrl_queue);
	if (io_thread_call(&net->pairs[0].io, control_start, &call) < 0 || call.ret < 0) {
		log_warn("virtio-net: cannot start the %s backend: %s", net->backend->kind,
			 strerror(call.ret < 0 ? -call.ret : EIO));
		return -1;
	}
	for (unsigned i = 0; i < net->nr_pairs; i++) {
		call = (struct pair_call){ .pair = &net->pairs[i] };
		/* Without MQ the queues after the control queue are not pairs. */
		if (i > 0 && !has_feature(net, VIRTIO_NET_F_MQ))
			break;
		if (io_thread_call(&net->pairs[i].io, pair_start, &call) < 0 || call.ret < 0)
			return -1;
	}
	return 0;
}

/* ---- life cycle ---- */

static uint64_t offered_features(const struct net_backend *be)
{
	uint64_t f = 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS |
		     1ull << VIRTIO_NET_F_MRG_RXBUF | 1ull << VIRTIO_NET_F_CTRL_VQ |
		     1ull << VIRTIO_NET_F_CTRL_RX | 1ull << VIRTIO_NET_F_CTRL_MAC_ADDR;

	if (be->nr_pairs > 1)
		f |= 1ull << VIRTIO_NET_F_MQ;
	if (be->mtu)
		f |= 1ull << VIRTIO_NET_F_MTU;
	return f | be->offload_features;
}

static void stop_pair_threads(struct virtio_net *net)
{
	for (unsigned i = 0; i < net->nr_pairs; i++)
		if (net->pairs[i].io_started)
			io_thread_stop(&net->pairs[i].io);
}

int virtio_net_create(struct virtio_net *net, struct net_backend *backend,
		      const uint8_t mac[6], const struct virtio_pci_env *env)
{
	static const struct virtio_device_ops base_ops = {
		.name = "virtio-net",
		.device_id = VIRTIO_ID_NET,
		.pci_class = PCI_CLASS_NETWORK_ETHERNET,
		.queue_size = VIRTIO_NET_QUEUE_SIZE,
		.config_size = NET_CONFIG_SIZE,
		.config_read = net_config_read,
		.activate = net_activate,
		.reset = net_reset,
	};
	int ret;

	memset(net, 0, sizeof(*net));
	if (!backend->nr_pairs || backend->nr_pairs > NET_MAX_PAIRS)
		return -EINVAL;
	net->backend = backend;
	net->nr_pairs = backend->nr_pairs;
	net->ops = base_ops;
	net->ops.features = offered_features(backend);
	net->ops.nr_queues = 2 * net->nr_pairs + 1;
	net->ctrl_queue = NO_QUEUE;
	memcpy(net->mac, mac, 6);
	memcpy(net->config_mac, mac, 6);
	net_rx_filter_reset(&net->filter, mac);
	pthread_mutex_init(&net->filter_lock, NULL);
	net->pairs = calloc(net->nr_pairs, sizeof(*net->pairs));
	if (!net->pairs) {
		ret = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < net->nr_pairs; i++) {
		struct virtio_net_pair *p = &net->pairs[i];

		p->net = net;
		p->index = i;
		snprintf(p->thread_name, sizeof(p->thread_name), "net-q%u", i);
		ret = io_thread_start(&p->io, p->thread_name);
		if (ret < 0)
			goto fail;
		p->io_started = true;
	}
	ret = virtio_pci_init(&net->transport, &net->ops, net, env);
	if (ret < 0)
		goto fail;
	for (unsigned i = 0; i < net->nr_pairs; i++) {
		net->pairs[i].rx_kick_fd = virtio_pci_kick_fd(&net->transport, rx_queue(i));
		net->pairs[i].tx_kick_fd = virtio_pci_kick_fd(&net->transport, tx_queue(i));
	}
	return 0;
fail:
	if (net->pairs)
		stop_pair_threads(net);
	free(net->pairs);
	net->pairs = NULL;
	pthread_mutex_destroy(&net->filter_lock);
	net->backend = NULL;
	return ret;
}

void virtio_net_destroy(struct virtio_net *net)
{
	if (!net->backend)
		return;
	/* Resets the device first: the pairs stop and the backend leaves
	 * pair 0's loop before the threads and the kick fds go. */
	virtio_pci_destroy(&net->transport);
	stop_pair_threads(net);
	free(net->pairs);
	net->pairs = NULL;
	pthread_mutex_destroy(&net->filter_lock);
	net->backend = NULL;
}
