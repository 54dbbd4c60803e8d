#include "virtio_console.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define CONSOLE_RXQ            0
#define CONSOLE_TXQ            1
#define CONSOLE_NR_QUEUES      2
#define CONSOLE_QUEUE_SIZE     256
#define PCI_CLASS_COMM_OTHER   0x078000

#define VIRTIO_CONSOLE_F_SIZE  0   /* cols and rows are valid */

/* struct virtio_console_config: le16 cols, le16 rows, le32 max_nr_ports,
 * le32 emerg_wr. */
#define CONSOLE_CONFIG_SIZE    12

static void put_le(uint8_t *p, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void console_config_read(void *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	uint8_t config[CONSOLE_CONFIG_SIZE] = { 0 };

	(void)dev;
	put_le(&config[0], 2, VIRTIO_CONSOLE_COLS);
	put_le(&config[2], 2, VIRTIO_CONSOLE_ROWS);
	put_le(&config[4], 4, 1);   /* max_nr_ports, meaningful with MULTIPORT only */
	/* emerg_wr reads 0; EMERG_WRITE is not offered. The transport
	 * checked offset + len against the size. */
	memcpy(data, config + offset, len);
}

static void kick_again(int fd)
{
	if (write(fd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0) {
		/* Counter saturated: a wake-up is pending anyway. */
	}
}

static bool drain_kick(int fd)
{
	uint64_t count;

	return read(fd, &count, sizeof(count)) >= 0 || errno == EAGAIN;
}

/* ---- receive: the backend's thread, or the I/O thread via rx_space ---- */

size_t virtio_console_receive(struct virtio_console *con, const uint8_t *buf, size_t len)
{
	size_t taken = 0;
	unsigned budget;
	bool used = false;
	char why[160];

	if (!len)
		return 0;
	pthread_mutex_lock(&con->rx_lock);
	if (!con->rxq || con->rx_broken) {
		con->rx_starved = true;
		goto out;
	}
	/* Bounded by the ring, not by the bytes: chains without writable
	 * buffers take nothing and must not keep us here. */
	for (budget = con->rxq->size; taken < len; budget--) {
		enum virtq_pop_result r;
		size_t n = 0;

		if (!budget) {
			/* Buffers may be left: the I/O thread offers rx_space. */
			con->rx_starved = true;
			kick_again(con->kick_fd[CONSOLE_RXQ]);
			break;
		}
		why[0] = 0;
		r = virtq_pop_chain(con->rxq, &con->rx_chain, why, sizeof(why));
		if (r == VIRTQ_POP_EMPTY) {
			con->rx_starved = true;
			break;
		}
		if (r == VIRTQ_POP_BROKEN) {
			con->rx_broken = con->rx_starved = true;
			virtio_pci_fail(&con->transport, why);
			break;
		}
		n = virtq_chain_copy_to_in(&con->rx_chain, 0, buf + taken, len - taken);
		if (virtq_push_used(con->rxq, con->rx_chain.head, (uint32_t)n) < 0) {
			con->rx_broken = con->rx_starved = true;
			virtio_pci_fail(&con->transport, "receive used ring is not in guest RAM");
			break;
		}
		used = true;
		taken += n;
	}
	if (used)
		virtio_pci_notify_queue(&con->transport, CONSOLE_RXQ);
out:
	pthread_mutex_unlock(&con->rx_lock);
	return taken;
}

/* The guest posted receive buffers: settle what we owe the backend. */
static void console_on_rx_kick(void *opaque, uint32_t events)
{
	struct virtio_console *con = opaque;
	bool owe;

	(void)events;
	if (!drain_kick(con->kick_fd[CONSOLE_RXQ]))
		return;
	pthread_mutex_lock(&con->rx_lock);
	owe = con->rx_starved && con->rxq && !con->rx_broken;
	if (owe)
		con->rx_starved = false;
	pthread_mutex_unlock(&con->rx_lock);
	if (owe && con->ops && con->ops->rx_space)
		con->ops->rx_space(con->opaque);
}

/* ---- transmit: the I/O thread ---- */

/* Hands the held chain's bytes to the backend from where it stopped last
 * time. Returns whether all of them went (or output is dropped). */
static bool console_send_held_chain(struct virtio_console *con)
{
	const struct virtq_chain *c = &con->tx_chain;
	size_t skip = con->tx_sent;

	if (!con->ops || !con->ops->transmit)
		return true;
	/* Writable buffers have no place in an output request: skipped. */
	for (unsigned i = 0; i < c->nr_out; i++) {
		const uint8_t *base = c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len, took;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		took = con->ops->transmit(con->opaque, base + skip, len - skip);
		con->tx_sent += took;
		if (took < len - skip)
			return false;
		skip = 0;
	}
	return true;
}

static void console_on_tx_kick(void *opaque, uint32_t events)
{
	struct virtio_console *con = opaque;
	unsigned budget;
	bool used = false;
	char why[160];

	(void)events;
	if (!drain_kick(con->kick_fd[CONSOLE_TXQ]))
		return;
	/* A kick already fetched when the device stopped finds no queue. */
	if (!con->txq || con->tx_broken)
		return;
	/* One ring's worth, then the loop's other fds get their turn. */
	for (budget = con->txq->size; ; budget--) {
		enum virtq_pop_result r;

		if (!budget) {
			kick_again(con->kick_fd[CONSOLE_TXQ]);
			break;
		}
		if (!con->tx_held) {
			why[0] = 0;
			r = virtq_pop_chain(con->txq, &con->tx_chain, why, sizeof(why));
			if (r == VIRTQ_POP_EMPTY)
				break;
			if (r == VIRTQ_POP_BROKEN) {
				con->tx_broken = true;
				virtio_pci_fail(&con->transport, why);
				break;
			}
			con->tx_held = true;
			con->tx_sent = 0;
		}
		/* The backend is full: the chain waits here, the rest in the
		 * ring, until virtio_console_tx_space() kicks us again. */
		if (!console_send_held_chain(con))
			break;
		con->tx_held = false;
		if (virtq_push_used(con->txq, con->tx_chain.head, 0) < 0) {
			con->tx_broken = true;
			virtio_pci_fail(&con->transport, "transmit used ring is not in guest RAM");
			break;
		}
		used = true;
	}
	if (used)
		virtio_pci_notify_queue(&con->transport, CONSOLE_TXQ);
}

void virtio_console_tx_space(struct virtio_console *con)
{
	/* A kick of our own: the I/O thread resumes where it stopped. */
	kick_again(con->kick_fd[CONSOLE_TXQ]);
}

/* ---- life cycle, on the I/O thread ---- */

static const event_fn kick_handlers[CONSOLE_NR_QUEUES] = {
	[CONSOLE_RXQ] = console_on_rx_kick,
	[CONSOLE_TXQ] = console_on_tx_kick,
};

struct console_start_call {
	struct virtio_console *con;
	int ret;
};

static int console_watch(struct virtio_console *con)
{
	int ret = 0;

	for (unsigned q = 0; q < CONSOLE_NR_QUEUES && !con->watching; q++) {
		ret = event_loop_add(&con->io->loop, con->kick_fd[q], EPOLLIN,
				     kick_handlers[q], con);
		if (ret < 0) {
			for (unsigned i = 0; i < q; i++)
				event_loop_remove(&con->io->loop, con->kick_fd[i]);
			return ret;
		}
	}
	con->watching = true;
	return 0;
}

static void console_start(void *arg)
{
	struct console_start_call *call = arg;
	struct virtio_console *con = call->con;
	bool owe;

	call->ret = console_watch(con);
	if (call->ret < 0)
		return;
	con->txq = virtio_pci_queue(&con->transport, CONSOLE_TXQ);
	con->tx_broken = false;
	con->tx_held = false;
	pthread_mutex_lock(&con->rx_lock);
	con->rxq = virtio_pci_queue(&con->transport, CONSOLE_RXQ);
	con->rx_broken = false;
	/* Buffers posted before DRIVER_OK came with no kick we acted on. */
	owe = con->rx_starved && con->rxq;
	if (owe)
		con->rx_starved = false;
	pthread_mutex_unlock(&con->rx_lock);
	if (owe && con->ops && con->ops->rx_space)
		con->ops->rx_space(con->opaque);
}

static void console_stop(void *arg)
{
	struct virtio_console *con = arg;

	if (con->watching)
		for (unsigned q = 0; q < CONSOLE_NR_QUEUES; q++)
			event_loop_remove(&con->io->loop, con->kick_fd[q]);
	con->watching = false;
	con->txq = NULL;
	con->tx_broken = false;
	/* A chain held for a full backend belonged to the old rings. */
	con->tx_held = false;
	/* Waits out a receive in progress on the backend's thread. */
	pthread_mutex_lock(&con->rx_lock);
	con->rxq = NULL;
	con->rx_broken = false;
	pthread_mutex_unlock(&con->rx_lock);
}

static int console_activate(void *dev, struct virtio_pci *t)
{
	struct console_start_call call = { .con = dev };

	(void)t;
	if (io_thread_call(call.con->io, console_start, &call) < 0 || call.ret < 0)
		return -1;
	return 0;
}

static void console_reset(void *dev)
{
	struct virtio_console *con = dev;

	io_thread_call(con->io, console_stop, con);
}

static const struct virtio_device_ops virtio_console_device_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.pci_class = PCI_CLASS_COMM_OTHER,
	.features = 1ull << VIRTIO_CONSOLE_F_SIZE,
	.nr_queues = CONSOLE_NR_QUEUES,
	.queue_size = CONSOLE_QUEUE_SIZE,
	.config_size = CONSOLE_CONFIG_SIZE,
	.config_read = console_config_read,
	.activate = console_activate,
	.reset = console_reset,
};

int virtio_console_create(struct virtio_console *con, struct io_thread *io,
			  const struct virtio_pci_env *env,
			  const struct virtio_console_ops *ops, void *opaque)
{
	int ret;

	memset(con, 0, sizeof(*con));
	con->io = io;
	con->ops = ops;
	con->opaque = opaque;
	ret = virtio_pci_init(&con->transport, &virtio_console_device_ops, con, env);
	if (ret < 0) {
		con->io = NULL;
		return ret;
	}
	for (unsigned q = 0; q < CONSOLE_NR_QUEUES; q++)
		con->kick_fd[q] = virtio_pci_kick_fd(&con->transport, q);
	pthread_mutex_init(&con->rx_lock, NULL);
	return 0;
}

void virtio_console_destroy(struct virtio_console *con)
{
	if (!con->io)
		return;
	/* Resets the device first: the kick fds leave the loop before the
	 * transport closes them. */
	virtio_pci_destroy(&con->transport);
	pthread_mutex_destroy(&con->rx_lock);
	con->io = NULL;
}
