/* The virtio-gpu device: the transport, the queues and the display
 * events around the 2D command engine (virtio_gpu_cmd.c). */
#include "virtio_gpu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../../vmm/io_thread.h"
#include "virtio_gpu_cmd.h"

#define GPU_CONTROLQ          0
#define GPU_CURSORQ           1
#define GPU_NR_QUEUES         2
#define GPU_QUEUE_SIZE        256
#define PCI_CLASS_DISPLAY_OTHER 0x038000

/* From virtio 1.2, 5.7.3 and 5.7.4 (<linux/virtio_gpu.h> would clash with
 * virtio_gpu.h over struct virtio_gpu_config). */
#define VIRTIO_GPU_F_EDID         1
#define VIRTIO_GPU_EVENT_DISPLAY  1u

/* struct virtio_gpu_config: le32 events_read, events_clear, num_scanouts,
 * num_capsets. */
#define GPU_CONFIG_SIZE       16
#define CONFIG_EVENTS_READ    0
#define CONFIG_EVENTS_CLEAR   4
#define CONFIG_NUM_SCANOUTS   8

/* A viewer's window size is offered to the guest within the bounds
 * --gpu accepts for width and height. */
#define GPU_MIN_REQUESTED     64

struct virtio_gpu {
	struct virtio_pci transport;
	struct virtio_gpu_config cfg;
	struct display *display;
	struct io_thread io;
	bool io_started;

	/* Touched only on the GPU thread. */
	struct gpu2d engine;
	bool engine_ready;
	struct virtq *queues[GPU_NR_QUEUES];
	bool broken[GPU_NR_QUEUES];
	int kick_fd[GPU_NR_QUEUES];
	bool watching;
	struct virtq_chain chain;
	uint8_t *request;             /* GPU2D_MAX_REQUEST bytes */
	uint8_t response[GPU2D_MAX_RESPONSE];

	/* The config events, shared by the display's thread (a new mode),
	 * vCPUs (reading and clearing them) and resets. Taken before the
	 * transport's lock. */
	pthread_mutex_t events_lock;
	uint32_t events_read;
	bool active;                  /* between DRIVER_OK and reset */
};

static void put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- device config: vCPUs ---- */

static void gpu_config_read(void *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct virtio_gpu *gpu = dev;
	uint8_t config[GPU_CONFIG_SIZE] = { 0 };

	pthread_mutex_lock(&gpu->events_lock);
	put_le32(&config[CONFIG_EVENTS_READ], gpu->events_read);
	pthread_mutex_unlock(&gpu->events_lock);
	/* events_clear reads 0; num_capsets is 0 without virgl. */
	put_le32(&config[CONFIG_NUM_SCANOUTS], gpu->cfg.nr_outputs);
	memcpy(data, config + offset, len);
}

static void gpu_config_write(void *dev, uint32_t offset, const uint8_t *data, uint32_t len)
{
	struct virtio_gpu *gpu = dev;
	uint32_t clear = 0;

	/* Only events_clear is writable: write 1 to clear. Any access width
	 * that lands on it counts for the bytes it covers. */
	for (uint32_t i = 0; i < len; i++) {
		uint32_t at = offset + i;

		if (at >= CONFIG_EVENTS_CLEAR && at < CONFIG_EVENTS_CLEAR + 4)
			clear |= (uint32_t)data[i] << (8 * (at - CONFIG_EVENTS_CLEAR));
	}
	pthread_mutex_lock(&gpu->events_lock);
	gpu->events_read &= ~clear;
	pthread_mutex_unlock(&gpu->events_lock);
}

/* ---- display events: the display's thread ---- */

static uint32_t clamp_side(uint32_t v, uint32_t max)
{
	return v < GPU_MIN_REQUESTED ? GPU_MIN_REQUESTED : v > max ? max : v;
}

static void gpu_request_mode(void *opaque, unsigned output, uint32_t width, uint32_t height)
{
	struct virtio_gpu *gpu = opaque;

	if (output >= gpu->cfg.nr_outputs)
		return;
	/* One side 0 is as closed as both. */
	if (!width || !height) {
		width = height = 0;
	} else {
		width = clamp_side(width, DISPLAY_MAX_WIDTH);
		height = clamp_side(height, DISPLAY_MAX_HEIGHT);
	}
	/* Viewers repeat their configuration; only a change is news. */
	if (!gpu2d_set_preferred_mode(&gpu->engine, output, width, height))
		return;
	pthread_mutex_lock(&gpu->events_lock);
	gpu->events_read |= VIRTIO_GPU_EVENT_DISPLAY;
	/* Before DRIVER_OK the driver reads the modes when it starts; under
	 * the lock, so a reset cannot slip in between. */
	if (gpu->active)
		virtio_pci_config_changed(&gpu->transport);
	pthread_mutex_unlock(&gpu->events_lock);
}

static const struct display_gpu_ops gpu_display_ops = {
	.request_mode = gpu_request_mode,
};

/* ---- the queues: the GPU thread ---- */

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

/* One request: its readable bytes in, the response out to the writable
 * ones (what fits; the used length says how much). */
static uint32_t serve_chain(struct virtio_gpu *gpu, unsigned q)
{
	const struct virtq_chain *c = &gpu->chain;
	size_t req_len, resp_len;

	req_len = virtq_chain_copy_from_out(c, 0, gpu->request,
					    c->out_len < GPU2D_MAX_REQUEST ? (size_t)c->out_len :
					    GPU2D_MAX_REQUEST);
	resp_len = gpu2d_handle(&gpu->engine, q == GPU_CURSORQ ? GPU2D_CURSORQ : GPU2D_CONTROLQ,
				gpu->request, req_len, gpu->response, sizeof(gpu->response));
	return (uint32_t)virtq_chain_copy_to_in(c, 0, gpu->response, resp_len);
}

static void serve_queue(struct virtio_gpu *gpu, unsigned q)
{
	struct virtq *vq = gpu->queues[q];
	unsigned budget;
	bool used = false;
	char why[160];

	if (!drain_kick(gpu->kick_fd[q]) || !vq || gpu->broken[q])
		return;
	/* One ring's worth, then the other queue gets its turn. */
	for (budget = vq->size; ; budget--) {
		enum virtq_pop_result r;
		uint32_t written;

		if (!budget) {
			kick_again(gpu->kick_fd[q]);
			break;
		}
		why[0] = 0;
		r = virtq_pop_chain(vq, &gpu->chain, why, sizeof(why));
		if (r == VIRTQ_POP_EMPTY)
			break;
		if (r == VIRTQ_POP_BROKEN) {
			gpu->broken[q] = true;
			virtio_pci_fail(&gpu->transport, why);
			break;
		}
		written = serve_chain(gpu, q);
		if (virtq_push_used(vq, gpu->chain.head, written) < 0) {
			gpu->broken[q] = true;
			virtio_pci_fail(&gpu->transport, "used ring is not in guest RAM");
			break;
		}
		used = true;
	}
	if (used)
		virtio_pci_notify_queue(&gpu->transport, q);
}

static void on_controlq_kick(void *opaque, uint32_t events)
{
	(void)events;
	serve_queue(opaque, GPU_CONTROLQ);
}

static void on_cursorq_kick(void *opaque, uint32_t events)
{
	(void)events;
	serve_queue(opaque, GPU_CURSORQ);
}

static const event_fn kick_handlers[GPU_NR_QUEUES] = {
	[GPU_CONTROLQ] = on_controlq_kick,
	[GPU_CURSORQ] = on_cursorq_kick,
};

/* ---- starting and stopping, on the GPU thread ---- */

struct gpu_start_call {
	struct virtio_gpu *gpu;
	bool edid;
	int ret;
};

static void gpu_start(void *arg)
{
	struct gpu_start_call *call = arg;
	struct virtio_gpu *gpu = call->gpu;

	for (unsigned q = 0; q < GPU_NR_QUEUES; q++) {
		call->ret = event_loop_add(&gpu->io.loop, gpu->kick_fd[q], EPOLLIN,
					   kick_handlers[q], gpu);
		if (call->ret < 0) {
			for (unsigned i = 0; i < q; i++)
				event_loop_remove(&gpu->io.loop, gpu->kick_fd[i]);
			return;
		}
	}
	gpu->watching = true;
	gpu->engine.edid = call->edid;
	for (unsigned q = 0; q < GPU_NR_QUEUES; q++) {
		gpu->queues[q] = virtio_pci_queue(&gpu->transport, q);
		gpu->broken[q] = false;
	}
	/* Requests posted before DRIVER_OK came with kicks nobody read. */
	for (unsigned q = 0; q < GPU_NR_QUEUES; q++)
		kick_again(gpu->kick_fd[q]);
}

static void gpu_stop(void *arg)
{
	struct virtio_gpu *gpu = arg;

	if (gpu->watching)
		for (unsigned q = 0; q < GPU_NR_QUEUES; q++)
			event_loop_remove(&gpu->io.loop, gpu->kick_fd[q]);
	gpu->watching = false;
	for (unsigned q = 0; q < GPU_NR_QUEUES; q++) {
		gpu->queues[q] = NULL;
		gpu->broken[q] = false;
	}
	gpu2d_reset(&gpu->engine);
}

static int gpu_activate(void *dev, struct virtio_pci *t)
{
	struct virtio_gpu *gpu = dev;
	struct gpu_start_call call = {
		.gpu = gpu, .edid = virtio_pci_has_feature(t, VIRTIO_GPU_F_EDID),
	};

	if (io_thread_call(&gpu->io, gpu_start, &call) < 0 || call.ret < 0)
		return -1;
	pthread_mutex_lock(&gpu->events_lock);
	gpu->active = true;
	pthread_mutex_unlock(&gpu->events_lock);
	return 0;
}

static void gpu_reset(void *dev)
{
	struct virtio_gpu *gpu = dev;

	pthread_mutex_lock(&gpu->events_lock);
	gpu->active = false;
	gpu->events_read = 0;
	pthread_mutex_unlock(&gpu->events_lock);
	if (gpu->io_started)
		io_thread_call(&gpu->io, gpu_stop, gpu);
}

static const struct virtio_device_ops virtio_gpu_device_ops = {
	.name = "virtio-gpu",
	.device_id = VIRTIO_ID_GPU,
	.pci_class = PCI_CLASS_DISPLAY_OTHER,
	.features = 1ull << VIRTIO_GPU_F_EDID,
	.nr_queues = GPU_NR_QUEUES,
	.queue_size = GPU_QUEUE_SIZE,
	.config_size = GPU_CONFIG_SIZE,
	.config_read = gpu_config_read,
	.config_write = gpu_config_write,
	.activate = gpu_activate,
	.reset = gpu_reset,
};

/* ---- life cycle ---- */

static void gpu_free(struct virtio_gpu *gpu)
{
	if (gpu->io_started)
		io_thread_stop(&gpu->io);
	if (gpu->engine_ready)
		gpu2d_destroy(&gpu->engine);
	pthread_mutex_destroy(&gpu->events_lock);
	free(gpu->request);
	free(gpu);
}

int virtio_gpu_create(struct virtio_gpu **out, const struct virtio_gpu_config *cfg,
		      struct display *display, const struct virtio_pci_env *env,
		      char *err, size_t errlen)
{
	struct virtio_gpu *gpu;
	int ret;

	if (cfg->virgl) {
		snprintf(err, errlen, "virgl (3D) is not supported yet");
		return -1;
	}
	if (!cfg->nr_outputs || cfg->nr_outputs > VIRTIO_GPU_MAX_OUTPUTS) {
		snprintf(err, errlen, "%u outputs: expected 1..%d", cfg->nr_outputs,
			 VIRTIO_GPU_MAX_OUTPUTS);
		return -1;
	}
	gpu = calloc(1, sizeof(*gpu));
	if (!gpu) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	gpu->cfg = *cfg;
	gpu->display = display;
	pthread_mutex_init(&gpu->events_lock, NULL);
	gpu->request = malloc(GPU2D_MAX_REQUEST);
	if (!gpu->request) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = gpu2d_init(&gpu->engine, env->mem, display, cfg->nr_outputs, cfg->width,
			 cfg->height, cfg->max_host_memory);
	if (ret < 0)
		goto fail;
	gpu->engine_ready = true;
	ret = io_thread_start(&gpu->io, "gpu");
	if (ret < 0)
		goto fail;
	gpu->io_started = true;
	ret = virtio_pci_init(&gpu->transport, &virtio_gpu_device_ops, gpu, env);
	if (ret < 0)
		goto fail;
	for (unsigned q = 0; q < GPU_NR_QUEUES; q++)
		gpu->kick_fd[q] = virtio_pci_kick_fd(&gpu->transport, q);
	if (display)
		display_attach_gpu(display, &gpu_display_ops, gpu);
	*out = gpu;
	return 0;
fail:
	snprintf(err, errlen, "%s", strerror(-ret));
	gpu_free(gpu);
	return -1;
}

struct pci_device *virtio_gpu_pci_device(struct virtio_gpu *gpu)
{
	return &gpu->transport.pci;
}

void virtio_gpu_stop(struct virtio_gpu *gpu)
{
	if (!gpu)
		return;
	/* No mode request may reach us from here on; one in flight is done
	 * when this returns. */
	if (gpu->display)
		display_attach_gpu(gpu->display, NULL, NULL);
	/* Resets the device first: the kick fds leave the loop before the
	 * transport closes them. A second call does nothing. */
	virtio_pci_destroy(&gpu->transport);
}

void virtio_gpu_destroy(struct virtio_gpu *gpu)
{
	if (!gpu)
		return;
	virtio_gpu_stop(gpu);
	gpu_free(gpu);
}
