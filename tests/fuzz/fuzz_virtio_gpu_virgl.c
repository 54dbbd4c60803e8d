// fuzz-sources: tests/fuzz/fake_display.c devices/gpu/gpu3d_gl_host.c devices/gpu/virtio_gpu_virgl.c devices/gpu/gpu_shm_region.c devices/gpu/stream_resources.c devices/gpu/virgl_stream.c devices/gpu/virtio_gpu_fence.c devices/gpu/virtio_gpu_cmd.c display/gl_host.c display/gl_readback.c display/gl_dmabuf.c display/display.c firmware/edid.c vmm/guest_memory.c vmm/error_text.c vmm/log.c vmm/log_limit.c
// fuzz-libs: virglrenderer egl epoxy gbm libdrm
/* Fuzzes the virtio-gpu 3D command engine over the real virglrenderer on
 * the host's EGL (llvmpipe where there is no GPU): runs of requests on
 * either queue (every 3D command, command streams included), polls that
 * complete fences and frames, viewers coming and going, and device
 * resets, against a small guest RAM and a fake display.
 *
 * EGL and the renderer start once for the process: one engine per
 * process, and starting it per input would dominate the run. So would a
 * device reset per input (virglrenderer remakes its GL state): each input
 * ends instead as a tidy guest would, unreferencing every resource and
 * destroying every context it made and switching every output off, after
 * which the engine must hold nothing: no host memory charged, nothing
 * pending.
 * Beyond the sanitizers: a response never exceeds its room and always
 * starts with a whole header when there is room for one; the charged
 * host memory never exceeds the cap; a fence completes only a request
 * that was held, once; the display only ever gets rectangles inside the
 * size it was last given; blobs reach the host window only as whole
 * pages inside it that overlap nothing mapped, and leave it again.
 *
 * Input layout:
 *   byte 0    bit 0: VIRTIO_GPU_F_EDID, bit 1: VIRTIO_GPU_F_CONTEXT_INIT,
 *             bit 2: a viewer watches, bit 3: VIRTIO_GPU_F_RESOURCE_BLOB
 *   then      records, each an op byte:
 *     op % 4 == 0, 1  a request on the control (0) or cursor (1) queue:
 *                     a command byte (an index into the commands below, or
 *                     beyond them 0x100 + that byte), a flags byte (bit 0
 *                     FENCE, bit 1 INFO_RING_IDX), a context byte (255:
 *                     a large id, else that % 8), a ring byte, a fence
 *                     byte, a response-room byte (255: the most, else that
 *                     many times 5), a 16-bit body length, then that many
 *                     body bytes after the 24-byte header (fewer if the
 *                     input ends)
 *     op % 4 == 2     a poll, as the device's timer makes; op bit 2
 *                     toggles the viewer first, op bit 3 is a viewer
 *                     arriving
 *     op % 4 == 3     a device reset when op's top four bits are set (it
 *                     is slow), else a poll */
#include <endian.h>
#include <linux/virtio_gpu.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../devices/gpu/gpu3d_gl_host.h"
#include "../../devices/gpu/virtio_gpu_virgl.h"
#include "../../display/gl_host.h"
#include "fake_display.h"
#include "../../vmm/guest_memory.h"

#define RAM_SIZE     0x100000ull
#define CAP          (32ull << 20)
#define NR_OUTPUTS   2
#define HDR_SIZE     24
#define MAX_TOKENS   4096
#define LARGE_CTX_ID 0x10000
#define MAX_MADE     1024
#define WINDOW_SIZE  (16ull << 20)
#define PAGE         4096ull

static const uint32_t commands[] = {
	VIRTIO_GPU_CMD_GET_DISPLAY_INFO, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
	VIRTIO_GPU_CMD_RESOURCE_UNREF, VIRTIO_GPU_CMD_SET_SCANOUT,
	VIRTIO_GPU_CMD_RESOURCE_FLUSH, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
	VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
	VIRTIO_GPU_CMD_GET_CAPSET_INFO, VIRTIO_GPU_CMD_GET_CAPSET, VIRTIO_GPU_CMD_GET_EDID,
	VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID, VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB,
	VIRTIO_GPU_CMD_SET_SCANOUT_BLOB,
	VIRTIO_GPU_CMD_CTX_CREATE, VIRTIO_GPU_CMD_CTX_DESTROY,
	VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE,
	VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D,
	VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, VIRTIO_GPU_CMD_SUBMIT_3D,
	VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB, VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB,
	VIRTIO_GPU_CMD_UPDATE_CURSOR, VIRTIO_GPU_CMD_MOVE_CURSOR,
};
#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

struct fuzz_bench {
	struct guest_memory mem;
	struct gl_host *gl;
	struct fake_display seen;
	struct display *display;
	struct gpu3d *g;
	bool held[MAX_TOKENS];        /* by token: waiting for its fence */
	/* What this input made, for its end to take away again. */
	uint32_t resources[MAX_MADE], contexts[MAX_MADE];
	unsigned nr_resources, nr_contexts;
	struct gpu3d_host_window window;
	bool page_mapped[WINDOW_SIZE / PAGE];
	unsigned nr_mapped_pages;
};

/* ---- the host window: whole pages, inside, never over each other ---- */

static int window_map(void *opaque, uint64_t offset, void *pages, uint64_t size)
{
	struct fuzz_bench *b = opaque;

	if ((uintptr_t)pages % PAGE || !size || size % PAGE || offset % PAGE ||
	    offset > WINDOW_SIZE || size > WINDOW_SIZE - offset)
		abort();
	for (uint64_t p = offset / PAGE; p < (offset + size) / PAGE; p++) {
		if (b->page_mapped[p])
			abort();
		b->page_mapped[p] = true;
		b->nr_mapped_pages++;
	}
	return 0;
}

static void window_unmap(void *opaque, uint64_t offset, uint64_t size)
{
	struct fuzz_bench *b = opaque;

	for (uint64_t p = offset / PAGE; p < (offset + size) / PAGE; p++) {
		if (p >= WINDOW_SIZE / PAGE || !b->page_mapped[p])
			abort();
		b->page_mapped[p] = false;
		b->nr_mapped_pages--;
	}
}

/* A fence signalled: only a held request, and only once. */
static void on_complete(void *opaque, uint64_t token)
{
	struct fuzz_bench *b = opaque;

	if (token >= MAX_TOKENS || !b->held[token])
		abort();
	b->held[token] = false;
}

static struct fuzz_bench *bench(void)
{
	static struct fuzz_bench *b;
	char err[200];

	if (b)
		return b;
	b = calloc(1, sizeof(*b));
	if (!b || guest_memory_create(&b->mem, RAM_SIZE, GUEST_RAM_ANONYMOUS, err, sizeof(err)))
		abort();
	for (uint64_t i = 0; i < RAM_SIZE; i++)
		b->mem.host_base[i] = (uint8_t)(i * 131 + 7);
	if (gl_host_open(&b->gl, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_virtio_gpu_virgl: no host GL: %s\n", err);
		exit(1);
	}
	b->display = display_new(fake_display_ops(), &b->seen);
	if (!b->display)
		abort();
	b->window = (struct gpu3d_host_window){
		.size = WINDOW_SIZE, .map = window_map, .unmap = window_unmap, .opaque = b,
	};
	struct gpu3d_config cfg = {
		.mem = &b->mem, .display = b->display, .nr_outputs = NR_OUTPUTS,
		.width = 640, .height = 480, .max_host_memory = CAP,
		.gl = gpu3d_gl_host_ops(), .gl_opaque = b->gl, .gles = gl_host_info(b->gl)->gles,
		.readback_gl = b->gl, .complete = on_complete, .complete_opaque = b,
		.max_held = 64, .window = &b->window,
	};
	if (gpu3d_create(&b->g, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_virtio_gpu_virgl: no renderer: %s\n", err);
		exit(1);
	}
	return b;
}

static void check_state(const struct fuzz_bench *b)
{
	if (gpu3d_host_memory(b->g) > CAP)
		abort();
}

static bool made_resource(uint32_t type)
{
	return type == VIRTIO_GPU_CMD_RESOURCE_CREATE_2D ||
	       type == VIRTIO_GPU_CMD_RESOURCE_CREATE_3D ||
	       type == VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB;
}

/* Each of the create commands names its resource right after the header. */
static void remember_made(struct fuzz_bench *b, const uint8_t *req, size_t len,
			  const uint8_t *resp, size_t resp_len)
{
	struct virtio_gpu_ctrl_hdr in, out;
	uint32_t id;

	/* Without room for the answer the command still ran: what it may
	 * have made is listed, to be let go at the end like the rest. */
	memcpy(&in, req, sizeof(in));
	if (resp_len >= sizeof(out)) {
		memcpy(&out, resp, sizeof(out));
		if (le32toh(out.type) != VIRTIO_GPU_RESP_OK_NODATA)
			return;
	}
	if (made_resource(le32toh(in.type)) && len >= HDR_SIZE + 4 &&
	    b->nr_resources < MAX_MADE) {
		memcpy(&id, req + HDR_SIZE, sizeof(id));
		b->resources[b->nr_resources++] = le32toh(id);
	}
	if (le32toh(in.type) == VIRTIO_GPU_CMD_CTX_CREATE && b->nr_contexts < MAX_MADE)
		b->contexts[b->nr_contexts++] = le32toh(in.ctx_id);
}

static void run_request(struct fuzz_bench *b, enum gpu2d_queue q, const uint8_t *rec,
			const uint8_t *body, size_t body_len, uint64_t token)
{
	uint8_t room_sel = rec[5];
	size_t room = room_sel == 255 ? GPU3D_MAX_RESPONSE : (size_t)room_sel * 5;
	size_t len = HDR_SIZE + body_len, n;
	struct virtio_gpu_ctrl_hdr hdr = { 0 };
	uint8_t *req, *resp;
	bool held;

	if (room > GPU3D_MAX_RESPONSE)
		room = GPU3D_MAX_RESPONSE;
	hdr.type = htole32(rec[0] < NR_COMMANDS ? commands[rec[0]] : 0x100u + rec[0]);
	hdr.flags = htole32((rec[1] & 1 ? VIRTIO_GPU_FLAG_FENCE : 0) |
			    (rec[1] & 2 ? VIRTIO_GPU_FLAG_INFO_RING_IDX : 0));
	hdr.ctx_id = htole32(rec[2] == 255 ? LARGE_CTX_ID : rec[2] % 8u);
	hdr.ring_idx = rec[3];
	hdr.fence_id = htole64(rec[4]);
	/* Exactly sized, so any overrun is the sanitizer's to see; malloc
	 * aligns it as the device's request buffer is. */
	req = malloc(len);
	resp = malloc(room ? room : 1);
	if (!req || !resp)
		abort();
	memcpy(req, &hdr, sizeof(hdr));
	memcpy(req + HDR_SIZE, body, body_len);
	n = gpu3d_handle(b->g, q, req, len, room ? resp : NULL, room, token, &held);
	if (n > room || (room >= HDR_SIZE && n < HDR_SIZE))
		abort();
	if (held)
		b->held[token] = true;
	remember_made(b, req, len, resp, n);
	free(req);
	free(resp);
}

static void send_quietly(struct fuzz_bench *b, const void *req, size_t len)
{
	uint8_t copy[sizeof(struct virtio_gpu_set_scanout)], resp[HDR_SIZE];
	bool held;

	memcpy(copy, req, len);
	gpu3d_handle(b->g, GPU2D_CONTROLQ, copy, len, resp, sizeof(resp), 0, &held);
}

/* Back to a device nobody used, as the guest can make it: whatever was
 * made is taken away, every output off; then fences still waiting are
 * the renderer's to signal. Resources go first: a context's destruction
 * completes its fences. */
static void end_input(struct fuzz_bench *b)
{
	for (unsigned i = 0; i < b->nr_resources; i++) {
		struct virtio_gpu_resource_unref unref = {
			.hdr.type = htole32(VIRTIO_GPU_CMD_RESOURCE_UNREF),
			.resource_id = htole32(b->resources[i]),
		};

		send_quietly(b, &unref, sizeof(unref));
	}
	for (unsigned i = 0; i < b->nr_contexts; i++) {
		struct virtio_gpu_ctx_destroy destroy = {
			.hdr.type = htole32(VIRTIO_GPU_CMD_CTX_DESTROY),
			.hdr.ctx_id = htole32(b->contexts[i]),
		};

		send_quietly(b, &destroy, sizeof(destroy));
	}
	for (uint32_t i = 0; i < NR_OUTPUTS; i++) {
		struct virtio_gpu_set_scanout off = {
			.hdr.type = htole32(VIRTIO_GPU_CMD_SET_SCANOUT), .scanout_id = htole32(i),
		};

		send_quietly(b, &off, sizeof(off));
	}
	b->nr_resources = b->nr_contexts = 0;
	/* Global-ring fences of work already done: a poll signals them. One
	 * behind a later fence id the guest sent first never completes (the
	 * renderer reports only its newest), the guest's own doing: a reset
	 * drops it. */
	for (int i = 0; i < 100 && gpu3d_pending(b->g); i++)
		gpu3d_poll(b->g);
	if (gpu3d_pending(b->g))
		gpu3d_reset(b->g);
	if (gpu3d_host_memory(b->g) || gpu3d_pending(b->g) || b->nr_mapped_pages)
		abort();
	memset(b->held, 0, sizeof(b->held));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_bench *b = bench();
	uint64_t token = 0;

	if (size < 1)
		return 0;
	gpu3d_set_features(b->g, data[0] & 1, data[0] & 2, data[0] & 8);
	b->seen.viewers = data[0] & 4;
	data++;
	size--;

	while (size && token < MAX_TOKENS) {
		uint8_t op = data[0];

		data++;
		size--;
		switch (op % 4) {
		case 0:
		case 1: {
			const uint8_t *rec = data;
			size_t len;

			if (size < 8)
				goto done;
			len = data[6] | (size_t)data[7] << 8;
			data += 8;
			size -= 8;
			if (len > size)
				len = size;
			run_request(b, op % 4 ? GPU2D_CURSORQ : GPU2D_CONTROLQ, rec, data, len,
				    token++);
			data += len;
			size -= len;
			break;
		}
		case 3:
			if ((op & 0xf0) == 0xf0) {
				gpu3d_reset(b->g);
				memset(b->held, 0, sizeof(b->held));
				b->nr_resources = b->nr_contexts = 0;
				if (gpu3d_pending(b->g))
					abort();
				break;
			}
			/* fall through */
		case 2:
			if (op & 4)
				b->seen.viewers = !b->seen.viewers;
			if (op & 8)
				gpu3d_show_again(b->g);
			gpu3d_poll(b->g);
			break;
		}
		check_state(b);
	}
done:
	end_input(b);
	return 0;
}
