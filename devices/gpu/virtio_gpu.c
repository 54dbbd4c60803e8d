/* The virtio-gpu device: the transport, the queues and the display
 * events around the 2D command engine (virtio_gpu_cmd.c), or with virgl
 * the 3D one (virtio_gpu_virgl.c) on host GL (display/gl_host.h).
 *
 * 3D threading: the GL host, the engine and virglrenderer are made, reset
 * and destroyed on the GPU thread, which then owns them; a fenced request
 * the engine holds keeps its chain off the used ring until the engine
 * names it again from gpu3d_poll (or a context going away), also on the
 * GPU thread. */
#include "virtio_gpu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../../display/gl_host.h"
#include "../../vmm/io_thread.h"
#include "gpu3d_gl_host.h"
#include "virtio_gpu_cmd.h"
#include "virtio_gpu_virgl.h"

#define GPU_CONTROLQ          0
#define GPU_CURSORQ           1
#define GPU_NR_QUEUES         2
#define GPU_QUEUE_SIZE        256
#define PCI_CLASS_DISPLAY_OTHER 0x038000

/* From virtio 1.2, 5.7.3 and 5.7.4 (<linux/virtio_gpu.h> would clash with
 * virtio_gpu.h over struct virtio_gpu_config). */
#define VIRTIO_GPU_F_VIRGL        0
#define VIRTIO_GPU_F_EDID         1
#define VIRTIO_GPU_F_RESOURCE_BLOB 3
#define VIRTIO_GPU_F_CONTEXT_INIT 4
#define VIRTIO_GPU_SHM_ID_HOST_VISIBLE 1
#define VIRTIO_GPU_EVENT_DISPLAY  1u

/* struct virtio_gpu_config: le32 events_read, events_clear, num_scanouts,
 * num_capsets. */
#define GPU_CONFIG_SIZE       16
#define CONFIG_EVENTS_READ    0
#define CONFIG_EVENTS_CLEAR   4
#define CONFIG_NUM_SCANOUTS   8
#define CONFIG_NUM_CAPSETS    12

/* A viewer's window size is offered to the guest within the bounds
 * --gpu accepts for width and height. */
#define GPU_MIN_REQUESTED     64

/* Without the renderer's poll fd, fences are looked for this often while
 * any request waits for one. */
#define GPU_FENCE_POLL_NS     2000000

/* A held chain's token: its queue and its head. */
#define TOKEN(q, head)        ((uint64_t)(q) << 16 | (head))
#define TOKEN_QUEUE(t)        ((t) >> 16)
#define TOKEN_HEAD(t)         ((t) & 0xffff)

/* A chain answered but not yet given back: its fence has not signalled. */
struct held_chain {
	bool held;
	uint32_t written;
};

struct virtio_gpu {
	struct virtio_pci transport;
	struct virtio_gpu_config cfg;
	struct display *display;
	struct io_thread io;
	bool io_started;

	/* Touched only on the GPU thread. */
	struct gpu2d engine;          /* 2D; with virgl, engine3d instead */
	bool engine_ready;
	struct gl_host *gl;
	struct gpu3d *engine3d;
	/* Blobs: the host-visible region, BAR 2, as the engine sees it. The
	 * window itself is thread-safe (vCPUs move the BAR). */
	struct pci_bar_window shm;
	bool shm_ready;
	struct gpu3d_host_window host_window;
	int fence_poll_fd;            /* the renderer's, in the loop; or -1 */
	int fence_timer_fd;           /* armed while fences or frames wait; or -1 */
	bool fence_timer_armed;
	int viewer_fd;                /* a viewer came (the display's thread
				       * counts it up); 3D only, or -1 */
	struct held_chain held[GPU_NR_QUEUES][GPU_QUEUE_SIZE];
	bool completed[GPU_NR_QUEUES];  /* chains given back, no interrupt yet */
	struct virtq *queues[GPU_NR_QUEUES];
	bool broken[GPU_NR_QUEUES];
	int kick_fd[GPU_NR_QUEUES];
	bool watching;
	struct virtq_chain chain;
	uint8_t *request;             /* request_cap bytes */
	uint8_t *response;            /* response_cap bytes */
	size_t request_cap, response_cap;
	uint32_t num_capsets;         /* fixed once the engine is made */

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
	put_le32(&config[CONFIG_NUM_CAPSETS], gpu->num_capsets);
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
	if (gpu->engine3d ? !gpu3d_set_preferred_mode(gpu->engine3d, output, width, height) :
	    !gpu2d_set_preferred_mode(&gpu->engine, output, width, height))
		return;
	pthread_mutex_lock(&gpu->events_lock);
	gpu->events_read |= VIRTIO_GPU_EVENT_DISPLAY;
	/* Before DRIVER_OK the driver reads the modes when it starts; under
	 * the lock, so a reset cannot slip in between. */
	if (gpu->active)
		virtio_pci_config_changed(&gpu->transport);
	pthread_mutex_unlock(&gpu->events_lock);
}

/* 3D reads frames back only while someone watches; a newcomer gets the
 * present picture from the GPU thread (2D's display keeps a copy). The
 * eventfd exists before the display is attached and goes after. */
static void gpu_viewer_arrived(void *opaque)
{
	struct virtio_gpu *gpu = opaque;

	if (gpu->viewer_fd >= 0 && write(gpu->viewer_fd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0) {
		/* Counter saturated: a wake-up is pending anyway. */
	}
}

static const struct display_gpu_ops gpu_display_ops = {
	.request_mode = gpu_request_mode,
	.viewer_arrived = gpu_viewer_arrived,
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
 * ones (what fits; the used length says how much). *held: the engine
 * keeps it until its fence signals. */
static uint32_t serve_chain(struct virtio_gpu *gpu, unsigned q, bool *held)
{
	const struct virtq_chain *c = &gpu->chain;
	enum gpu2d_queue queue = q == GPU_CURSORQ ? GPU2D_CURSORQ : GPU2D_CONTROLQ;
	size_t req_len, resp_len;

	*held = false;
	req_len = virtq_chain_copy_from_out(c, 0, gpu->request,
					    c->out_len < gpu->request_cap ? (size_t)c->out_len :
					    gpu->request_cap);
	if (gpu->engine3d)
		resp_len = gpu3d_handle(gpu->engine3d, queue, gpu->request, req_len,
					gpu->response, gpu->response_cap, TOKEN(q, c->head), held);
	else
		resp_len = gpu2d_handle(&gpu->engine, queue, gpu->request, req_len,
					gpu->response, gpu->response_cap);
	return (uint32_t)virtq_chain_copy_to_in(c, 0, gpu->response, resp_len);
}

/* ---- fences: the GPU thread ---- */

static void give_back(struct virtio_gpu *gpu, unsigned q, uint16_t head, uint32_t written)
{
	if (!gpu->queues[q] || gpu->broken[q])
		return;
	if (virtq_push_used(gpu->queues[q], head, written) < 0) {
		gpu->broken[q] = true;
		virtio_pci_fail(&gpu->transport, "used ring is not in guest RAM");
		return;
	}
	gpu->completed[q] = true;
}

static void interrupt_completed(struct virtio_gpu *gpu)
{
	for (unsigned q = 0; q < GPU_NR_QUEUES; q++) {
		if (gpu->completed[q])
			virtio_pci_notify_queue(&gpu->transport, q);
		gpu->completed[q] = false;
	}
}

/* The engine's complete callback: a held chain's fence signalled. Tokens
 * are ours, but a chain forgotten by a reset is not given back. */
static void on_fence_complete(void *opaque, uint64_t token)
{
	struct virtio_gpu *gpu = opaque;
	uint64_t q = TOKEN_QUEUE(token), head = TOKEN_HEAD(token);
	struct held_chain *h;

	if (q >= GPU_NR_QUEUES || head >= GPU_QUEUE_SIZE)
		return;
	h = &gpu->held[q][head];
	if (!h->held)
		return;
	h->held = false;
	give_back(gpu, (unsigned)q, (uint16_t)head, h->written);
}

static void forget_held(struct virtio_gpu *gpu)
{
	memset(gpu->held, 0, sizeof(gpu->held));
	memset(gpu->completed, 0, sizeof(gpu->completed));
}

/* The timer runs only while a request or a frame being read back waits. */
static void fence_timer_update(struct virtio_gpu *gpu)
{
	bool want = gpu->fence_timer_fd >= 0 && gpu->engine3d && gpu3d_pending(gpu->engine3d);
	struct itimerspec its = { 0 };

	if (want == gpu->fence_timer_armed || gpu->fence_timer_fd < 0)
		return;
	if (want)
		its.it_value.tv_nsec = its.it_interval.tv_nsec = GPU_FENCE_POLL_NS;
	if (timerfd_settime(gpu->fence_timer_fd, 0, &its, NULL) == 0)
		gpu->fence_timer_armed = want;
}

static void poll_fences(struct virtio_gpu *gpu)
{
	gpu3d_poll(gpu->engine3d);
	interrupt_completed(gpu);
	fence_timer_update(gpu);
}

static void on_fence_poll_fd(void *opaque, uint32_t events)
{
	(void)events;
	poll_fences(opaque);
}

static void on_fence_timer(void *opaque, uint32_t events)
{
	struct virtio_gpu *gpu = opaque;
	uint64_t expirations;

	(void)events;
	if (read(gpu->fence_timer_fd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: woken for nothing; poll anyway, it is cheap. */
	}
	poll_fences(gpu);
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
		bool held;

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
		written = serve_chain(gpu, q, &held);
		if (held) {
			/* The ring's size bounds heads; the engine holds no more
			 * than the rings can (max_held). */
			gpu->held[q][gpu->chain.head % GPU_QUEUE_SIZE] =
				(struct held_chain){ .held = true, .written = written };
			continue;
		}
		if (virtq_push_used(vq, gpu->chain.head, written) < 0) {
			gpu->broken[q] = true;
			virtio_pci_fail(&gpu->transport, "used ring is not in guest RAM");
			break;
		}
		used = true;
	}
	if (used)
		virtio_pci_notify_queue(&gpu->transport, q);
	/* Chains other requests completed (a context destroyed). */
	interrupt_completed(gpu);
	fence_timer_update(gpu);
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
	bool edid, context_init, blob;
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
	if (gpu->engine3d)
		gpu3d_set_features(gpu->engine3d, call->edid, call->context_init, call->blob);
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
	if (gpu->engine3d) {
		/* Held requests are dropped, never completed: their rings are
		 * gone with the reset. */
		gpu3d_reset(gpu->engine3d);
		forget_held(gpu);
		fence_timer_update(gpu);
	} else {
		gpu2d_reset(&gpu->engine);
	}
}

static int gpu_activate(void *dev, struct virtio_pci *t)
{
	struct virtio_gpu *gpu = dev;
	struct gpu_start_call call = {
		.gpu = gpu, .edid = virtio_pci_has_feature(t, VIRTIO_GPU_F_EDID),
		.context_init = virtio_pci_has_feature(t, VIRTIO_GPU_F_CONTEXT_INIT),
		.blob = virtio_pci_has_feature(t, VIRTIO_GPU_F_RESOURCE_BLOB),
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

/* The 2D, the 3D and the 3D device with blobs differ only in what they
 * offer. */
#define GPU_DEVICE_OPS(offered) {                 \
	.name = "virtio-gpu",                      \
	.device_id = VIRTIO_ID_GPU,                \
	.pci_class = PCI_CLASS_DISPLAY_OTHER,      \
	.features = (offered),                     \
	.nr_queues = GPU_NR_QUEUES,                \
	.queue_size = GPU_QUEUE_SIZE,              \
	.config_size = GPU_CONFIG_SIZE,            \
	.config_read = gpu_config_read,            \
	.config_write = gpu_config_write,          \
	.activate = gpu_activate,                  \
	.reset = gpu_reset,                        \
}

static const struct virtio_device_ops virtio_gpu_device_ops =
	GPU_DEVICE_OPS(1ull << VIRTIO_GPU_F_EDID);
#define GPU_3D_FEATURES (1ull << VIRTIO_GPU_F_EDID | 1ull << VIRTIO_GPU_F_VIRGL | \
			 1ull << VIRTIO_GPU_F_CONTEXT_INIT)
static const struct virtio_device_ops virtio_gpu_virgl_device_ops =
	GPU_DEVICE_OPS(GPU_3D_FEATURES);
static const struct virtio_device_ops virtio_gpu_virgl_blob_device_ops =
	GPU_DEVICE_OPS(GPU_3D_FEATURES | 1ull << VIRTIO_GPU_F_RESOURCE_BLOB);

static const struct virtio_device_ops *device_ops(const struct virtio_gpu *gpu)
{
	if (!gpu->cfg.virgl)
		return &virtio_gpu_device_ops;
	return gpu3d_offers_blob(gpu->engine3d) ? &virtio_gpu_virgl_blob_device_ops :
						  &virtio_gpu_virgl_device_ops;
}

/* ---- 3D: the host-visible region for the engine ---- */

static int host_window_map(void *opaque, uint64_t offset, void *host, uint64_t size)
{
	return pci_bar_window_map(opaque, offset, host, size);
}

static void host_window_unmap(void *opaque, uint64_t offset, uint64_t size)
{
	pci_bar_window_unmap(opaque, offset, size);
}

/* Only where the VM can put host pages into the guest. */
static int open_host_window(struct virtio_gpu *gpu, const struct virtio_pci_env *env)
{
	int ret;

	if (!gpu->cfg.virgl || !gpu->cfg.blob_memory || !env->mapper.map)
		return 0;
	ret = pci_bar_window_init(&gpu->shm, gpu->cfg.blob_memory, &env->mapper);
	if (ret < 0)
		return ret;
	gpu->shm_ready = true;
	gpu->host_window = (struct gpu3d_host_window){
		.size = gpu->cfg.blob_memory,
		.map = host_window_map, .unmap = host_window_unmap, .opaque = &gpu->shm,
	};
	return 0;
}

struct gpu_open_3d_call {
	struct virtio_gpu *gpu;
	const struct guest_memory *mem;
	char *err;
	size_t errlen;
	int ret;
};

static void on_viewer_arrived(void *opaque, uint32_t events)
{
	struct virtio_gpu *gpu = opaque;
	uint64_t count;

	(void)events;
	if (read(gpu->viewer_fd, &count, sizeof(count)) < 0)
		return;
	gpu3d_show_again(gpu->engine3d);
	fence_timer_update(gpu);
}

static void gpu_close_3d(void *arg)
{
	struct virtio_gpu *gpu = arg;

	if (gpu->viewer_fd >= 0) {
		event_loop_remove(&gpu->io.loop, gpu->viewer_fd);
		close(gpu->viewer_fd);
	}
	gpu->viewer_fd = -1;

	if (gpu->fence_poll_fd >= 0)
		event_loop_remove(&gpu->io.loop, gpu->fence_poll_fd);
	if (gpu->fence_timer_fd >= 0) {
		event_loop_remove(&gpu->io.loop, gpu->fence_timer_fd);
		close(gpu->fence_timer_fd);
	}
	gpu->fence_poll_fd = gpu->fence_timer_fd = -1;
	gpu3d_destroy(gpu->engine3d);
	gpu->engine3d = NULL;
	forget_held(gpu);
	if (gpu->gl)
		gl_host_close(gpu->gl);
	gpu->gl = NULL;
}

static void gpu_open_3d(void *arg)
{
	struct gpu_open_3d_call *call = arg;
	struct virtio_gpu *gpu = call->gpu;
	char why[200];
	struct gpu3d_config cfg = {
		.mem = call->mem, .display = gpu->display, .nr_outputs = gpu->cfg.nr_outputs,
		.width = gpu->cfg.width, .height = gpu->cfg.height,
		.max_host_memory = gpu->cfg.max_host_memory,
		.gl = gpu3d_gl_host_ops(),
		.complete = on_fence_complete, .complete_opaque = gpu,
		.max_held = GPU_NR_QUEUES * GPU_QUEUE_SIZE,
		.window = gpu->shm_ready ? &gpu->host_window : NULL,
	};
	int fd;

	call->ret = -1;
	if (gl_host_open(&gpu->gl, gpu->cfg.render_node[0] ? gpu->cfg.render_node : NULL,
			 why, sizeof(why)) < 0) {
		gpu->gl = NULL;
		goto fail;
	}
	cfg.gl_opaque = gpu->gl;
	cfg.gles = gl_host_info(gpu->gl)->gles;
	cfg.readback_gl = gpu->gl;
	if (gpu3d_create(&gpu->engine3d, &cfg, why, sizeof(why)) < 0) {
		gpu->engine3d = NULL;
		goto fail;
	}
	fd = gpu3d_poll_fd(gpu->engine3d);
	if (fd >= 0) {
		if (event_loop_add(&gpu->io.loop, fd, EPOLLIN, on_fence_poll_fd, gpu) < 0) {
			snprintf(why, sizeof(why), "cannot watch the renderer's fences: %s",
				 strerror(errno));
			goto fail;
		}
		gpu->fence_poll_fd = fd;
	}
	/* Frames being read back have no fd: with one or without, a timer
	 * polls while anything waits. */
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0 || event_loop_add(&gpu->io.loop, fd, EPOLLIN, on_fence_timer, gpu) < 0) {
		snprintf(why, sizeof(why), "cannot make the fence timer: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	gpu->fence_timer_fd = fd;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0 || event_loop_add(&gpu->io.loop, fd, EPOLLIN, on_viewer_arrived, gpu) < 0) {
		snprintf(why, sizeof(why), "cannot make the viewer event: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	gpu->viewer_fd = fd;
	gpu->num_capsets = gpu3d_num_capsets(gpu->engine3d);
	call->ret = 0;
	return;
fail:
	snprintf(call->err, call->errlen, "--gpu virgl: cannot start 3D: %s; use --gpu 2d", why);
	gpu_close_3d(gpu);
}

/* ---- life cycle ---- */

static void gpu_free(struct virtio_gpu *gpu)
{
	/* The engine and the GL host are the GPU thread's to end. */
	if (gpu->io_started && (gpu->engine3d || gpu->gl))
		io_thread_call(&gpu->io, gpu_close_3d, gpu);
	if (gpu->io_started)
		io_thread_stop(&gpu->io);
	if (gpu->engine_ready)
		gpu2d_destroy(&gpu->engine);
	/* After the engine, which unmaps every blob as it goes. */
	if (gpu->shm_ready)
		pci_bar_window_destroy(&gpu->shm);
	pthread_mutex_destroy(&gpu->events_lock);
	free(gpu->request);
	free(gpu->response);
	free(gpu);
}

int virtio_gpu_create(struct virtio_gpu **out, const struct virtio_gpu_config *cfg,
		      struct display *display, const struct virtio_pci_env *env,
		      char *err, size_t errlen)
{
	struct virtio_gpu *gpu;
	int ret;

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
	gpu->fence_poll_fd = gpu->fence_timer_fd = gpu->viewer_fd = -1;
	pthread_mutex_init(&gpu->events_lock, NULL);
	gpu->request_cap = cfg->virgl ? GPU3D_MAX_REQUEST : GPU2D_MAX_REQUEST;
	gpu->response_cap = cfg->virgl ? GPU3D_MAX_RESPONSE : GPU2D_MAX_RESPONSE;
	gpu->request = malloc(gpu->request_cap);
	gpu->response = malloc(gpu->response_cap);
	if (!gpu->request || !gpu->response) {
		ret = -ENOMEM;
		goto fail;
	}
	if (!cfg->virgl) {
		ret = gpu2d_init(&gpu->engine, env->mem, display, cfg->nr_outputs, cfg->width,
				 cfg->height, cfg->max_host_memory);
		if (ret < 0)
			goto fail;
		gpu->engine_ready = true;
	}
	ret = open_host_window(gpu, env);
	if (ret < 0)
		goto fail;
	ret = io_thread_start(&gpu->io, "gpu");
	if (ret < 0)
		goto fail;
	gpu->io_started = true;
	if (cfg->virgl) {
		struct gpu_open_3d_call call = {
			.gpu = gpu, .mem = env->mem, .err = err, .errlen = errlen,
		};

		ret = io_thread_call(&gpu->io, gpu_open_3d, &call);
		if (ret < 0)
			goto fail;
		if (call.ret < 0) {
			gpu_free(gpu);
			return -1;
		}
	}
	ret = virtio_pci_init(&gpu->transport, device_ops(gpu), gpu, env);
	if (ret < 0)
		goto fail;
	if (device_ops(gpu) == &virtio_gpu_virgl_blob_device_ops) {
		ret = virtio_pci_add_shm(&gpu->transport, VIRTIO_GPU_SHM_ID_HOST_VISIBLE, &gpu->shm);
		if (ret < 0) {
			virtio_pci_destroy(&gpu->transport);
			goto fail;
		}
	}
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
