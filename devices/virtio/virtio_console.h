/* virtio-console (virtio 1.2, section 5.3) with a single port and no
 * MULTIPORT: queue 0 carries input to the guest (receiveq), queue 1 its
 * output (transmitq). It hangs off a character backend the way the 16550A
 * does, so the same console can drive either: output goes to
 * ops->transmit, input comes in through virtio_console_receive(), which
 * takes only what the guest has buffers for; when it turned bytes away,
 * ops->rx_space tells the backend once the guest posts more buffers.
 *
 * Output flows the same way back: ops->transmit takes what the backend
 * has room for, never waiting. When it takes less, the device holds the
 * chain it was sending and leaves the guest's other chains in the ring
 * (the guest sees its output queue fill up, as with a slow port) until
 * the backend calls virtio_console_tx_space(). So a stalled reader of the
 * console never stalls the I/O thread, and with it the disks, rng and
 * input it serves.
 *
 * Threads: transmit and receive-queue kicks are served on the I/O thread;
 * virtio_console_receive() may be called from any one other thread (the
 * backend's), virtio_console_tx_space() from any thread. The ops run
 * without the device's lock held, so rx_space may call
 * virtio_console_receive(). */
#ifndef GVMM_VIRTIO_CONSOLE_H
#define GVMM_VIRTIO_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../vmm/io_thread.h"
#include "virtio_pci.h"

#define VIRTIO_CONSOLE_COLS 80
#define VIRTIO_CONSOLE_ROWS 25

struct virtio_console_ops {
	/* Bytes the guest wrote to the port, on the I/O thread. Returns how
	 * many it took without waiting; fewer than len means it is full, and
	 * will call virtio_console_tx_space() once it has room. */
	size_t (*transmit)(void *opaque, const uint8_t *bytes, size_t len);
	/* The guest posted receive buffers after virtio_console_receive()
	 * took less than it was offered: the backend may offer more. */
	void (*rx_space)(void *opaque);
};

struct virtio_console {
	struct virtio_pci transport;   /* pci_bus_add_device(&con->transport.pci) */
	struct io_thread *io;
	const struct virtio_console_ops *ops;  /* may be NULL: output is dropped */
	void *opaque;

	/* The receive side, shared by the backend's thread and the I/O
	 * thread. */
	pthread_mutex_t rx_lock;
	struct virtq *rxq;             /* NULL unless active */
	bool rx_starved;               /* input was turned away; owe rx_space */
	bool rx_broken;
	struct virtq_chain rx_chain;

	/* The transmit side, touched only on the I/O thread. */
	struct virtq *txq;
	bool tx_broken;
	struct virtq_chain tx_chain;
	bool tx_held;                  /* tx_chain is popped, not all sent yet */
	size_t tx_sent;                /* bytes of tx_chain the backend took */
	int kick_fd[2];
	bool watching;
};

/* ops and opaque must outlive the device, as must io. Returns 0 or -errno. */
int virtio_console_create(struct virtio_console *con, struct io_thread *io,
			  const struct virtio_pci_env *env,
			  const struct virtio_console_ops *ops, void *opaque);
void virtio_console_destroy(struct virtio_console *con);

/* Offers input for the guest. Returns how many bytes of buf were taken;
 * the caller keeps the rest until ops->rx_space. */
size_t virtio_console_receive(struct virtio_console *con, const uint8_t *buf, size_t len);

/* The backend has room again after ops->transmit took less than it was
 * offered: the device goes on sending. Any thread. */
void virtio_console_tx_space(struct virtio_console *con);

#endif
