/* Malformed 3D commands sent the way a guest application can send them:
 * through the kernel's virtio_gpu driver, on a render node, in a context
 * of its own, while another program's GL context renders (tests/guest/gl.sh
 * runs it beside glprobe; host side tests/e2e/guest_gl.sh). gvmm must
 * refuse them, stay up, and leave the other context rendering right.
 *
 *   virglfuzz [RENDER_NODE]   (default /dev/dri/renderD128)
 *
 * The kernel passes most of what a program gives it on to the device as
 * it is: 3D resource parameters, transfer boxes and levels, and the
 * command stream of an execbuffer. What the kernel itself refuses (a bad
 * buffer handle, say) never reaches gvmm; those cases say so. Cases:
 *   - resources with bad parameters: an unknown target or format, no
 *     size, a size beyond any memory cap, too many mip levels or samples,
 *     depth on a 2D texture;
 *   - transfers of a good 64x64 resource with a box outside it, a box
 *     whose end wraps around 2^32, a level it lacks, an offset past its
 *     backing, in both directions;
 *   - command streams: records of unknown commands, a record longer than
 *     the stream, a shader object of garbage, framebuffer, copy and blit
 *     records naming objects that do not exist, sub-contexts that do not
 *     exist, in-stream resource records gvmm must refuse itself (bad
 *     parameters, and too big), and rounds of fixed-seed random dwords.
 * Every ioctl gets a bounded answer; the device's answers come back
 * asynchronously and the kernel logs the errors ("response 0x12xx" in
 * dmesg), which gl.sh counts.
 *
 * Output: "REPORT virglfuzz.CASE=ok|errno-NAME" per case (what the ioctl
 * returned: ok means the kernel passed it on), "REPORT virglfuzz.cases=N",
 * and at the end "REPORT virglfuzz.done=1". Exit status 1 when the render
 * node or its 3D support is missing, 2 for bad usage. Built by tools/mkguest
 * --gl (it needs the kernel's virtgpu header from libdrm). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <xf86drm.h>
#include <virtgpu_drm.h>

/* Gallium's numbers, which the virgl protocol uses. */
#define TARGET_TEXTURE_2D 2
#define FORMAT_B8G8R8A8   1
#define BIND_RENDER_TARGET (1u << 1)
#define BIND_SAMPLER_VIEW  (1u << 3)

/* virgl command stream records: command in bits 0-7, object type in
 * 8-15, payload length in dwords in 16-31. */
#define RECORD(cmd, obj, len) ((uint32_t)(cmd) | (uint32_t)(obj) << 8 | (uint32_t)(len) << 16)
enum {
	CCMD_NOP = 0,
	CCMD_CREATE_OBJECT = 1,
	CCMD_SET_FRAMEBUFFER_STATE = 5,
	CCMD_BLIT = 16,
	CCMD_RESOURCE_COPY_REGION = 17,
	CCMD_SET_SUB_CTX = 28,
	CCMD_DESTROY_SUB_CTX = 30,
	CCMD_PIPE_RESOURCE_CREATE = 48,
};
#define OBJECT_SHADER 4

static int fd = -1;
static int cases;

static void report(const char *name, int ret)
{
	if (ret == 0)
		printf("REPORT virglfuzz.%s=ok\n", name);
	else
		printf("REPORT virglfuzz.%s=errno-%s\n", name, strerrorname_np(errno) ?: "?");
	cases++;
}

/* A resource, or 0 when the kernel refused it (errno says why). */
static uint32_t create(uint32_t target, uint32_t format, uint32_t bind, uint32_t w, uint32_t h,
		       uint32_t depth, uint32_t array_size, uint32_t last_level,
		       uint32_t nr_samples, int *ret)
{
	struct drm_virtgpu_resource_create rc = {
		.target = target, .format = format, .bind = bind, .width = w, .height = h,
		.depth = depth, .array_size = array_size, .last_level = last_level,
		.nr_samples = nr_samples,
		.size = 4096, /* the guest's backing: small, whatever the host is told */
	};

	*ret = drmIoctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, &rc);
	return *ret ? 0 : rc.bo_handle;
}

static void close_bo(uint32_t handle)
{
	struct drm_gem_close c = { .handle = handle };

	if (handle)
		drmIoctl(fd, DRM_IOCTL_GEM_CLOSE, &c);
}

static void bad_create(const char *name, uint32_t target, uint32_t format, uint32_t w,
		       uint32_t h, uint32_t depth, uint32_t array_size, uint32_t last_level,
		       uint32_t nr_samples)
{
	int ret;
	uint32_t bo = create(target, format, BIND_SAMPLER_VIEW, w, h, depth, array_size,
			     last_level, nr_samples, &ret);

	report(name, ret);
	close_bo(bo);
}

static void transfer(const char *name, uint32_t bo, int to_host, uint32_t x, uint32_t w,
		     uint32_t level, uint32_t offset)
{
	struct drm_virtgpu_3d_box box = { .x = x, .y = 0, .z = 0, .w = w, .h = 64, .d = 1 };
	int ret;

	if (to_host) {
		struct drm_virtgpu_3d_transfer_to_host t = {
			.bo_handle = bo, .box = box, .level = level, .offset = offset,
		};
		ret = drmIoctl(fd, DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST, &t);
	} else {
		struct drm_virtgpu_3d_transfer_from_host t = {
			.bo_handle = bo, .box = box, .level = level, .offset = offset,
		};
		ret = drmIoctl(fd, DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST, &t);
	}
	report(name, ret);
}

static void submit(const char *name, const uint32_t *stream, uint32_t ndw, uint32_t *bos,
		   uint32_t nbos)
{
	struct drm_virtgpu_execbuffer eb = {
		.size = ndw * 4,
		.command = (uintptr_t)stream,
		.bo_handles = (uintptr_t)bos,
		.num_bo_handles = nbos,
	};

	report(name, drmIoctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb));
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

int main(int argc, char **argv)
{
	const char *node = argc > 1 ? argv[1] : "/dev/dri/renderD128";
	struct drm_virtgpu_getparam gp;
	uint64_t has_3d = 0;
	uint32_t good, seed = 0x9e3779b9u, garbage[256];
	int ret;

	if (argc > 2) {
		fprintf(stderr, "usage: virglfuzz [RENDER_NODE]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "virglfuzz: cannot open %s: %s\n", node, strerror(errno));
		return 1;
	}
	gp = (struct drm_virtgpu_getparam){ .param = VIRTGPU_PARAM_3D_FEATURES,
					    .value = (uintptr_t)&has_3d };
	if (drmIoctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) || !has_3d) {
		fprintf(stderr, "virglfuzz: %s has no 3D (virgl) support\n", node);
		return 1;
	}

	/* A good resource first: the transfers need one the host has. */
	good = create(TARGET_TEXTURE_2D, FORMAT_B8G8R8A8, BIND_RENDER_TARGET | BIND_SAMPLER_VIEW,
		      64, 64, 1, 1, 0, 0, &ret);
	printf("REPORT virglfuzz.setup.create=%s\n", ret ? "failed" : "ok");
	if (!good) {
		fprintf(stderr, "virglfuzz: a 64x64 resource failed: %s\n", strerror(errno));
		return 1;
	}

	/* --- Resources ---------------------------------------------------- */
	bad_create("create-bad-target", 99, FORMAT_B8G8R8A8, 64, 64, 1, 1, 0, 0);
	bad_create("create-bad-format", TARGET_TEXTURE_2D, 0x7777, 64, 64, 1, 1, 0, 0);
	bad_create("create-zero-size", TARGET_TEXTURE_2D, FORMAT_B8G8R8A8, 0, 0, 1, 1, 0, 0);
	bad_create("create-huge", TARGET_TEXTURE_2D, FORMAT_B8G8R8A8, 16384, 16384, 1, 64, 0, 0);
	bad_create("create-max-u32", TARGET_TEXTURE_2D, FORMAT_B8G8R8A8, 0xffffffffu, 0xffffffffu,
		   1, 1, 0, 0);
	bad_create("create-last-level-huge", TARGET_TEXTURE_2D, FORMAT_B8G8R8A8, 64, 64, 1, 1, 31, 0);
	bad_create("create-samples-huge", TARGET_TEXTURE_2D, FORMAT_B8G8R8A8, 64, 64, 1, 1, 0, 255);
	bad_create("create-depth-on-2d", TARGET_TEXTURE_2D, FORMAT_B8G8R8A8, 64, 64, 2, 1, 0, 0);

	/* --- Transfers of the good resource --------------------------------- */
	transfer("to-host-box-outside", good, 1, 32, 64, 0, 0);
	transfer("to-host-box-wraps", good, 1, 0xffffffc0u, 0x80, 0, 0);
	transfer("to-host-level-huge", good, 1, 0, 64, 99, 0);
	transfer("to-host-offset-past-backing", good, 1, 0, 64, 0, 0x7ffff000u);
	transfer("from-host-box-outside", good, 0, 32, 64, 0, 0);
	transfer("from-host-box-wraps", good, 0, 0xffffffc0u, 0x80, 0, 0);
	transfer("from-host-level-huge", good, 0, 0, 64, 99, 0);

	/* --- Command streams ------------------------------------------------ */
	{
		const uint32_t unknown[] = { RECORD(0xee, 0, 2), 1, 2 };
		const uint32_t too_long[] = { RECORD(CCMD_NOP, 0, 0xffff), 1, 2, 3 };
		uint32_t shader[1 + 12] = { RECORD(CCMD_CREATE_OBJECT, OBJECT_SHADER, 12) };
		/* 255 colour buffers claimed, two handles carried, none real. */
		const uint32_t fb[] = { RECORD(CCMD_SET_FRAMEBUFFER_STATE, 0, 3), 255, 0xdead, 0xbeef };
		uint32_t copy[1 + 13] = { RECORD(CCMD_RESOURCE_COPY_REGION, 0, 13), 0xdeadbeef };
		uint32_t blit[1 + 21] = { RECORD(CCMD_BLIT, 0, 21) };
		const uint32_t sub[] = { RECORD(CCMD_SET_SUB_CTX, 0, 1), 12345,
					 RECORD(CCMD_DESTROY_SUB_CTX, 0, 1), 0 };
		/* Target 99: gvmm's own reading of the stream refuses it. */
		const uint32_t pipe_bad[] = { RECORD(CCMD_PIPE_RESOURCE_CREATE, 0, 11),
					      99, FORMAT_B8G8R8A8, BIND_SAMPLER_VIEW, 64, 64, 1, 1, 0, 0, 0, 7 };
		/* 16384 x 16384 x 2048 layers: past any cap gvmm has. */
		const uint32_t pipe_huge[] = { RECORD(CCMD_PIPE_RESOURCE_CREATE, 0, 11),
					       TARGET_TEXTURE_2D + 3 /* 2D array */, FORMAT_B8G8R8A8,
					       BIND_SAMPLER_VIEW, 16384, 16384, 1, 2048, 0, 0, 0, 8 };
		uint32_t bad_bo = 0xdead;

		submit("stream-unknown-command", unknown, 3, NULL, 0);
		submit("stream-record-past-end", too_long, 4, NULL, 0);
		for (int i = 1; i <= 12; i++)
			shader[i] = xorshift(&seed);
		shader[1] = 1; /* an object handle; the rest garbage */
		submit("stream-garbage-shader", shader, 13, NULL, 0);
		submit("stream-framebuffer-unknown-surfaces", fb, 4, NULL, 0);
		for (int i = 2; i <= 13; i++)
			copy[i] = i == 7 ? good : 0xffffff00u + (uint32_t)i;
		submit("stream-copy-unknown-resource", copy, 14, &good, 1);
		for (int i = 1; i <= 21; i++)
			blit[i] = xorshift(&seed);
		submit("stream-blit-garbage", blit, 22, &good, 1);
		submit("stream-sub-context-unknown", sub, 4, NULL, 0);
		submit("stream-pipe-resource-bad-target", pipe_bad, 12, NULL, 0);
		submit("stream-pipe-resource-huge", pipe_huge, 12, NULL, 0);
		/* The kernel checks buffer handles itself: gvmm never sees this. */
		submit("kernel-refuses-bad-bo-handle", unknown, 3, &bad_bo, 1);
	}
	for (int round = 0; round < 16; round++) {
		char name[32];

		for (unsigned i = 0; i < sizeof(garbage) / 4; i++)
			garbage[i] = xorshift(&seed);
		snprintf(name, sizeof(name), "stream-random-%02d", round);
		submit(name, garbage, sizeof(garbage) / 4, NULL, 0);
	}

	close_bo(good);
	printf("REPORT virglfuzz.cases=%d\n", cases);
	printf("REPORT virglfuzz.done=1\n");
	close(fd);
	return 0;
}
