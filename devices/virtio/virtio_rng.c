#include "virtio_rng.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#define VIRTIO_RNG_QUEUE_SIZE 256
#define PCI_CLASS_OTHER       0xff0000   /* "device does not fit any class" */

/* Fills the chain's writable buffers, at most VIRTIO_RNG_MAX_REQUEST
 * bytes; returns how many it wrote. */
static uint32_t fill_random(const struct virtq_chain *c)
{
	size_t budget = VIRTIO_RNG_MAX_REQUEST, done = 0;

	for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in && done < budget; i++) {
		uint8_t *buf = c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len, got = 0;

		if (len > budget - done)
			len = budget - done;
		while (got < len) {
			ssize_t n = getrandom(buf + got, len - got, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return (uint32_t)(done + got);
			got += (size_t)n;
		}
		done += got;
	}
	return (uint32_t)done;
}

static void rng_break(struct virtio_rng *rng, const char *why)
{
	rng->broken = true;
	virtio_pci_fail(&rng->transport, why);
}

/* Serves up to a queue's worth of requests, then yields the thread to
 * other devices: a guest refilling as fast as we drain cannot hold it. */
static void rng_serve(struct virtio_rng *rng)
{
	unsigned budget = rng->vq->size;
	bool used = false;
	char why[160];

	while (budget--) {
		enum virtq_pop_result r;
		uint32_t written = 0;

		why[0] = 0;
		r = virtq_pop_chain(rng->vq, &rng->chain, why, sizeof(why));
		if (r == VIRTQ_POP_EMPTY)
			goto done;
		if (r == VIRTQ_POP_BROKEN) {
			rng_break(rng, why);
			goto done;
		}
		/* A request is device-writable buffers only; anything else
		 * gets nothing. */
		if (rng->chain.nr_out == 0 && rng->chain.nr_in > 0)
			written = fill_random(&rng->chain);
		if (virtq_push_used(rng->vq, rng->chain.head, written) < 0) {
			rng_break(rng, "used ring is not in guest RAM");
			goto done;
		}
		used = true;
	}
	/* Budget spent with requests possibly left: come back after the
	 * loop has looked at everything else. */
	if (write(rng->kick_fd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0) {
		/* Counter saturated: a wake-up is pending anyway. */
	}
done:
	if (used)
		virtio_pci_notify_queue(&rng->transport, 0);
}

static void rng_on_kick(void *opaque, uint32_t events)
{
	struct virtio_rng *rng = opaque;
	uint64_t count;

	(void)events;
	if (read(rng->kick_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	/* A kick already fetched when the device stopped finds no queue. */
	if (!rng->vq || rng->broken)
		return;
	rng_serve(rng);
}

/* ---- life cycle, on the I/O thread ---- */

struct rng_start_call {
	struct virtio_rng *rng;
	int ret;
};

static void rng_start(void *arg)
{
	struct rng_start_call *call = arg;
	struct virtio_rng *rng = call->rng;

	rng->vq = virtio_pci_queue(&rng->transport, 0);
	rng->broken = false;
	if (!rng->vq || rng->watching)
		return;   /* a disabled queue has nothing to serve */
	call->ret = event_loop_add(&rng->io->loop, rng->kick_fd, EPOLLIN, rng_on_kick, rng);
	if (call->ret == 0)
		rng->watching = true;
	else
		rng->vq = NULL;
}

static void rng_stop(void *arg)
{
	struct virtio_rng *rng = arg;

	if (rng->watching)
		event_loop_remove(&rng->io->loop, rng->kick_fd);
	rng->watching = false;
	rng->vq = NULL;
	rng->broken = false;
}

static int rng_activate(void *dev, struct virtio_pci *t)
{
	struct rng_start_call call = { .rng = dev };

	(void)t;
	if (io_thread_call(call.rng->io, rng_start, &call) < 0 || call.ret < 0)
		return -1;
	return 0;
}

static void rng_reset(void *dev)
{
	struct virtio_rng *rng = dev;

	io_thread_call(rng->io, rng_stop, rng);
}

static const struct virtio_device_ops virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.pci_class = PCI_CLASS_OTHER,
	.features = 0,
	.nr_queues = 1,
	.queue_size = VIRTIO_RNG_QUEUE_SIZE,
	.config_size = 0,
	.activate = rng_activate,
	.reset = rng_reset,
};

int virtio_rng_create(struct virtio_rng *rng, struct io_thread *io,
		      const struct virtio_pci_env *env)
{
	int ret;

	memset(rng, 0, sizeof(*rng));
	rng->io = io;
	ret = virtio_pci_init(&rng->transport, &virtio_rng_ops, rng, env);
	if (ret < 0) {
		rng->io = NULL;
		return ret;
	}
	rng->kick_fd = virtio_pci_kick_fd(&rng->transport, 0);
	return 0;
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
	if (!rng->io)
		return;
	/* Resets the device first: the kick fd leaves the loop before the
	 * transport closes it. */
	virtio_pci_destroy(&rng->transport);
	rng->io = NULL;
}
