/* virtio-rng (virtio 1.2, section 5.4): one request queue whose
 * device-writable buffers the device fills with host entropy from
 * getrandom(). Requests are served on an I/O thread, never on a vCPU. */
#ifndef GVMM_VIRTIO_RNG_H
#define GVMM_VIRTIO_RNG_H

#include <stdbool.h>

#include "../../vmm/io_thread.h"
#include "virtio_pci.h"

/* Most bytes one request gets: enough for any guest's pool, small enough
 * that one request cannot hold the I/O thread. */
#define VIRTIO_RNG_MAX_REQUEST  (64 * 1024)

struct virtio_rng {
	struct virtio_pci transport;   /* pci_bus_add_device(&rng->transport.pci) */
	struct io_thread *io;
	/* Touched only on the I/O thread: */
	struct virtq *vq;              /* NULL unless active */
	int kick_fd;                   /* watched on io->loop while active */
	bool watching;
	bool broken;                   /* the guest broke the ring; wait for a reset */
	struct virtq_chain chain;
};

/* io must outlive the device. Returns 0 or -errno. */
int virtio_rng_create(struct virtio_rng *rng, struct io_thread *io,
		      const struct virtio_pci_env *env);
/* Stops the device (through io) and frees what it holds. */
void virtio_rng_destroy(struct virtio_rng *rng);

#endif
