/* A minimal userspace virtio-gpu driver that sends malformed commands, for
 * the robustness test (tests/guest/gpufuzz.sh, tests/e2e/guest_display.sh).
 * Built static by tools/mkguest; runs as root in the test guest.
 *
 *   gpufuzz [BDF]       (default: the first virtio-gpu, 1af4:1050)
 *
 * What it does, in order:
 *  1. Takes the PCI function away from the kernel's virtio-pci driver
 *     (which frees the virtio device and with it the virtio_gpu DRM
 *     driver), enables it through sysfs and turns on memory decoding and
 *     bus mastering, with INTx off: it polls, it takes no interrupts.
 *  2. Finds the virtio-pci capabilities in the function's config space and
 *     maps the BARs they point into (sysfs resourceN files).
 *  3. Resets the device and negotiates VERSION_1, and VIRGL with
 *     CONTEXT_INIT where the device offers them (a 3D device); sets up the
 *     control queue (16 entries) in one locked page, and keeps one locked
 *     page per request and per response. Guest-physical addresses come
 *     from /proc/self/pagemap; nothing spans two pages, so nothing needs
 *     physically contiguous memory.
 *  4. Sends a few valid commands (a 64x64 resource with backing), then the
 *     malformed 2D ones, each alone: submit, notify, poll the used ring for
 *     at most CASE_TIMEOUT_MS. A request the device never answers keeps
 *     its descriptors and pages (they are not reused). A 3D command is
 *     one of them only on a 2D device.
 *  5. With VIRGL: a valid 3D setup (capset 0's info and the capset itself,
 *     context 1 with a 64x64 render-target texture, resource 10, backed
 *     and attached; context 3 for the garbage, with resource 10 too;
 *     context 4 made and destroyed again), then the malformed 3D ones:
 *     bad capset indexes, ids and versions, context ids that are 0, taken,
 *     too large or unknown, a capset no context can be made of, textures
 *     of bad ids, targets, formats, sizes, levels, layers and depths or too
 *     big for any memory cap, transfers of unknown resources, boxes
 *     outside the texture or wrapping around and levels it lacks, and
 *     SUBMIT_3Ds to unknown or destroyed contexts, of sizes beyond the
 *     request or not whole dwords, and of a fixed garbage stream that
 *     virglrenderer must refuse. Commands gvmm accepts by design (a debug
 *     name longer than its field, a record longer than its stream, which
 *     virglrenderer skips) are sent and reported, but are not cases; so
 *     are the 2D cases gvmm's 3D engine clips rather than refuses. Then
 *     context 1 must still run a NOP stream and read its texture back;
 *     the 3D resource and contexts are freed.
 *  6. Sends GET_DISPLAY_INFO, which must still answer OK_DISPLAY_INFO,
 *     frees the valid resources, resets the device and gives it back to
 *     virtio-pci, whose probe must bring the DRM device back.
 *
 * Output: "REPORT gpufuzz.virgl=0|1" (and with it "context_init=0|1" and
 * "num_capsets=N"), "REPORT gpufuzz.CASE=0xTYPE" per case (the response
 * type, or "none" when no answer came, or "short" when the answer had no
 * whole header), "REPORT gpufuzz.setup.NAME=0xTYPE" for the valid
 * commands, "REPORT gpufuzz.accepted.NAME=0xTYPE" for odd commands that
 * are not errors on this device, "REPORT gpufuzz.alive3d.NAME=0xTYPE" and
 * "REPORT gpufuzz.alive3d=ok|failed" for the good context afterwards (3D
 * only), "REPORT gpufuzz.cleanup.NAME=0xTYPE", "REPORT gpufuzz.alive=0xTYPE",
 * "REPORT gpufuzz.rebind=ok|failed", and "REPORT gpufuzz.cases=NAME,..."
 * listing the malformed cases, every one of which should get an error
 * (0x12xx). Exit status 1 when the device could not be driven at all. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_gpu.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define QSIZE 16u
/* Two descriptors a request. Commands go one at a time and an answered
 * slot is used again, so the run's length (2D and 3D, some ninety
 * commands) does not matter: only requests the device never answers keep
 * theirs, and a device that leaves NSLOTS of them unanswered is not being
 * driven anyway (free_slot gives up). */
#define NSLOTS (QSIZE / 2)
#define CASE_TIMEOUT_MS 10000

static char bdf[256];
static char case_list[4096];

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("gpufuzz: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- sysfs ------------------------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static unsigned long read_hex_file(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = 0;
		close(fd);
	}
	return strtoul(buf, NULL, 16);
}

static void find_device(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	char path[640];

	if (!d)
		fail("no /sys/bus/pci/devices");
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if (read_hex_file(path) != 0x1af4)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		if (read_hex_file(path) == 0x1050) {
			snprintf(bdf, sizeof(bdf), "%s", e->d_name);
			break;
		}
	}
	closedir(d);
	if (!bdf[0])
		fail("no virtio-gpu PCI function (1af4:1050)");
}

static int cfg_fd = -1;

static uint32_t cfg_read(unsigned off, unsigned size)
{
	uint32_t v = 0;

	if (pread(cfg_fd, &v, size, off) != (ssize_t)size)
		fail("cannot read PCI config offset 0x%x", off);
	return v;
}

static void cfg_write16(unsigned off, uint16_t v)
{
	if (pwrite(cfg_fd, &v, 2, off) != 2)
		fail("cannot write PCI config offset 0x%x", off);
}

/* ---- BARs and the virtio-pci capabilities ------------------------------------ */

static volatile uint8_t *bars[6];

static volatile uint8_t *map_bar(unsigned bar)
{
	char path[640];
	struct stat st;
	void *p;
	int fd;

	if (bar > 5)
		fail("capability points at BAR %u", bar);
	if (bars[bar])
		return bars[bar];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%u", bdf, bar);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0)
		fail("cannot open %s: %s", path, strerror(errno));
	p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		fail("cannot mmap %s: %s", path, strerror(errno));
	close(fd);
	bars[bar] = p;
	return p;
}

static volatile uint8_t *common, *notify_base, *devcfg;
static uint32_t notify_mult;

static void find_caps(void)
{
	unsigned pos, guard = 0;

	if (!(cfg_read(0x06, 2) & 0x10))
		fail("the function has no capability list");
	for (pos = cfg_read(0x34, 1) & 0xfc; pos && guard < 48; pos = cfg_read(pos + 1, 1) & 0xfc, guard++) {
		unsigned type, bar;
		uint32_t off;

		if (cfg_read(pos, 1) != 0x09) /* vendor-specific: virtio */
			continue;
		type = cfg_read(pos + 3, 1);
		bar = cfg_read(pos + 4, 1);
		off = cfg_read(pos + 8, 4);
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			if (!common)
				common = map_bar(bar) + off;
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			if (!notify_base) {
				notify_base = map_bar(bar) + off;
				notify_mult = cfg_read(pos + 16, 4);
			}
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			if (!devcfg)
				devcfg = map_bar(bar) + off;
			break;
		}
	}
	if (!common || !notify_base)
		fail("no common or notify capability");
}

/* Register accesses of the common configuration (struct
 * virtio_pci_common_cfg offsets), little-endian like the host. */
#define CC(field) offsetof(struct virtio_pci_common_cfg, field)
static uint8_t rd8(volatile uint8_t *b, unsigned off) { return *(volatile uint8_t *)(b + off); }
static uint16_t rd16(volatile uint8_t *b, unsigned off) { return *(volatile uint16_t *)(b + off); }
static uint32_t rd32(volatile uint8_t *b, unsigned off) { return *(volatile uint32_t *)(b + off); }
static void wr8(volatile uint8_t *b, unsigned off, uint8_t v) { *(volatile uint8_t *)(b + off) = v; }
static void wr16(volatile uint8_t *b, unsigned off, uint16_t v) { *(volatile uint16_t *)(b + off) = v; }
static void wr32(volatile uint8_t *b, unsigned off, uint32_t v) { *(volatile uint32_t *)(b + off) = v; }
static void wr64(volatile uint8_t *b, unsigned off, uint64_t v)
{
	wr32(b, off, (uint32_t)v);
	wr32(b, off + 4, (uint32_t)(v >> 32));
}

/* ---- Guest-physical memory ----------------------------------------------------- */

struct page {
	uint8_t *va;
	uint64_t pa;
};

static int pagemap_fd = -1;

static struct page alloc_page(void)
{
	struct page p;
	uint64_t entry;

	p.va = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p.va == MAP_FAILED || mlock(p.va, PAGE) < 0)
		fail("cannot allocate and lock a page: %s", strerror(errno));
	memset(p.va, 0, PAGE);
	if (pread(pagemap_fd, &entry, 8, (uintptr_t)p.va / PAGE * 8) != 8)
		fail("cannot read /proc/self/pagemap");
	if (!(entry >> 63) || !(entry & ((1ull << 55) - 1)))
		fail("no physical address for a locked page (not root?)");
	p.pa = (entry & ((1ull << 55) - 1)) * PAGE;
	return p;
}

/* ---- The control queue ------------------------------------------------------- */

static struct page ring;
static struct vring_desc *desc;
static struct vring_avail *avail;
static struct vring_used *used;
static volatile uint8_t *notify_addr;
static uint16_t avail_idx, used_seen;

struct slot {
	struct page req, resp;
	int busy;      /* submitted, not answered yet */
	int held;      /* never answered: the device may still own it */
	uint32_t len;  /* bytes the device wrote */
};
static struct slot slots[NSLOTS];

static void queue_setup(void)
{
	uint16_t max;

	ring = alloc_page();
	desc = (struct vring_desc *)ring.va;
	avail = (struct vring_avail *)(ring.va + 256);
	used = (struct vring_used *)(ring.va + 512);
	/* We poll: no interrupts please (INTx is off in the command register too). */
	avail->flags = VRING_AVAIL_F_NO_INTERRUPT;

	wr16(common, CC(queue_select), 0);
	max = rd16(common, CC(queue_size));
	if (max < QSIZE)
		fail("control queue has only %u entries", max);
	wr16(common, CC(queue_size), QSIZE);
	wr16(common, CC(queue_msix_vector), VIRTIO_MSI_NO_VECTOR);
	wr64(common, CC(queue_desc_lo), ring.pa);
	wr64(common, CC(queue_avail_lo), ring.pa + 256);
	wr64(common, CC(queue_used_lo), ring.pa + 512);
	notify_addr = notify_base + (uint32_t)rd16(common, CC(queue_notify_off)) * notify_mult;
	wr16(common, CC(queue_enable), 1);
	for (unsigned i = 0; i < NSLOTS; i++) {
		slots[i].req = alloc_page();
		slots[i].resp = alloc_page();
	}
}

/* Takes the answers the device has posted. */
static void reap(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	while (used_seen != *(volatile uint16_t *)&used->idx) {
		struct vring_used_elem *e = &used->ring[used_seen % QSIZE];
		unsigned s = e->id / 2;

		if (s < NSLOTS && slots[s].busy) {
			slots[s].busy = 0;
			slots[s].held = 0;
			slots[s].len = e->len;
		}
		used_seen++;
	}
}

static struct slot *free_slot(void)
{
	reap();
	for (unsigned i = 0; i < NSLOTS; i++)
		if (!slots[i].busy && !slots[i].held) {
			memset(slots[i].req.va, 0, PAGE);
			memset(slots[i].resp.va, 0, PAGE);
			return &slots[i];
		}
	fail("every request slot is held by requests the device never answered");
	return NULL;
}

/* Sends the slot's request (req_len bytes) with a resp_len-byte response
 * buffer; returns the response type, 0 when there was no answer within
 * the time limit, 1 when the answer was shorter than a header. */
static uint32_t send(struct slot *s, uint32_t req_len, uint32_t resp_len)
{
	unsigned i = (unsigned)(s - slots), d = 2 * i;
	double deadline;

	desc[d] = (struct vring_desc){ .addr = s->req.pa, .len = req_len,
				       .flags = VRING_DESC_F_NEXT, .next = (uint16_t)(d + 1) };
	desc[d + 1] = (struct vring_desc){ .addr = s->resp.pa, .len = resp_len,
					   .flags = VRING_DESC_F_WRITE };
	avail->ring[avail_idx % QSIZE] = (uint16_t)d;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	avail->idx = ++avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	s->busy = 1;
	s->len = 0;
	wr16(notify_addr, 0, 0);

	deadline = now_ms() + CASE_TIMEOUT_MS;
	while (now_ms() < deadline) {
		reap();
		if (!s->busy)
			break;
		usleep(200);
	}
	if (s->busy) {
		s->held = 1;
		return 0;
	}
	if (s->len < sizeof(struct virtio_gpu_ctrl_hdr))
		return 1;
	return ((struct virtio_gpu_ctrl_hdr *)s->resp.va)->type;
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case 0: return "no answer";
	case 1: return "answer shorter than a header";
	case VIRTIO_GPU_RESP_OK_NODATA: return "OK_NODATA";
	case VIRTIO_GPU_RESP_OK_DISPLAY_INFO: return "OK_DISPLAY_INFO";
	case VIRTIO_GPU_RESP_OK_EDID: return "OK_EDID";
	case VIRTIO_GPU_RESP_OK_CAPSET_INFO: return "OK_CAPSET_INFO";
	case VIRTIO_GPU_RESP_OK_CAPSET: return "OK_CAPSET";
	case VIRTIO_GPU_RESP_ERR_UNSPEC: return "ERR_UNSPEC";
	case VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY: return "ERR_OUT_OF_MEMORY";
	case VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID: return "ERR_INVALID_SCANOUT_ID";
	case VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID: return "ERR_INVALID_RESOURCE_ID";
	case VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID: return "ERR_INVALID_CONTEXT_ID";
	case VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER: return "ERR_INVALID_PARAMETER";
	default: return "other";
	}
}

static void report(const char *key, uint32_t t)
{
	if (t == 0)
		printf("REPORT gpufuzz.%s=none\n", key);
	else if (t == 1)
		printf("REPORT gpufuzz.%s=short\n", key);
	else
		printf("REPORT gpufuzz.%s=0x%04x\n", key, t);
	printf("gpufuzz: %s -> %s\n", key, type_name(t));
	fflush(stdout);
}

/* ---- Commands ---------------------------------------------------------------- */

#define RESP_LEN 64u /* a header and then some; display info asks for more */

static void *request(struct slot *s, uint32_t type)
{
	struct virtio_gpu_ctrl_hdr *h = (void *)s->req.va;

	h->type = type;
	return h;
}

static uint32_t create_2d(uint32_t id, uint32_t format, uint32_t w, uint32_t h)
{
	struct slot *s = free_slot();
	struct virtio_gpu_resource_create_2d *c = request(s, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D);

	c->resource_id = id;
	c->format = format;
	c->width = w;
	c->height = h;
	return send(s, sizeof(*c), RESP_LEN);
}

static uint32_t rect_cmd(uint32_t type, uint32_t id, uint32_t x, uint32_t y, uint32_t w,
			 uint32_t h, uint64_t offset, uint32_t scanout)
{
	struct slot *s = free_slot();
	struct virtio_gpu_rect r = { .x = x, .y = y, .width = w, .height = h };

	switch (type) {
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: {
		struct virtio_gpu_transfer_to_host_2d *c = request(s, type);
		c->r = r;
		c->offset = offset;
		c->resource_id = id;
		return send(s, sizeof(*c), RESP_LEN);
	}
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH: {
		struct virtio_gpu_resource_flush *c = request(s, type);
		c->r = r;
		c->resource_id = id;
		return send(s, sizeof(*c), RESP_LEN);
	}
	default: { /* SET_SCANOUT */
		struct virtio_gpu_set_scanout *c = request(s, type);
		c->r = r;
		c->scanout_id = scanout;
		c->resource_id = id;
		return send(s, sizeof(*c), RESP_LEN);
	}
	}
}

/* ATTACH_BACKING claiming nr_entries, carrying `carried` entries of
 * (addr[i], len[i]). */
static uint32_t attach(uint32_t id, uint32_t nr_entries, unsigned carried, const uint64_t *addr,
		       const uint32_t *len)
{
	struct slot *s = free_slot();
	struct virtio_gpu_resource_attach_backing *c =
		request(s, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING);
	struct virtio_gpu_mem_entry *e = (void *)(c + 1);

	c->resource_id = id;
	c->nr_entries = nr_entries;
	for (unsigned i = 0; i < carried; i++) {
		e[i].addr = addr[i];
		e[i].length = len[i];
	}
	return send(s, sizeof(*c) + carried * sizeof(*e), RESP_LEN);
}

/* A command of just the resource id (UNREF, DETACH_BACKING). */
static uint32_t id_cmd(uint32_t type, uint32_t id)
{
	struct slot *s = free_slot();
	struct virtio_gpu_resource_unref *c = request(s, type);

	c->resource_id = id;
	return send(s, sizeof(*c), RESP_LEN);
}

/* Any type, req_len bytes of request (the header and zeros). */
static uint32_t raw(uint32_t type, uint32_t req_len)
{
	struct slot *s = free_slot();

	request(s, type);
	return send(s, req_len, RESP_LEN);
}

static void fuzz_case(const char *name, uint32_t t)
{
	report(name, t);
	/* A truncated list would leave cases unchecked by the host without a
	 * word: better no list at all. */
	if (strlen(case_list) + 1 + strlen(name) >= sizeof(case_list))
		fail("the case list is full at case %s", name);
	if (case_list[0])
		strcat(case_list, ",");
	strcat(case_list, name);
}

/* ---- 3D commands (VIRTIO_GPU_F_VIRGL) ------------------------------------------ */

static int virgl, context_init;   /* negotiated */

/* Gallium's texture targets and virgl's bind flag, as virglrenderer reads
 * them (the guest's Mesa speaks them; no uapi header has them). virgl's
 * format numbers start with the virtio ones, so B8G8R8A8 is
 * VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM. */
#define PIPE_TEXTURE_2D       2u
#define PIPE_TEXTURE_2D_ARRAY 7u
#define BIND_RENDER_TARGET    2u
/* A record header of a virgl command stream: command in bits 0-7, object
 * type in 8-15, payload dwords in 16-31. Command 0 is NOP. */
#define RECORD(cmd, len)      ((uint32_t)(len) << 16 | (uint32_t)(cmd))
#define CCMD_NOP              0u

/* The ids the 3D part uses. The good resource and context must still
 * work at the end; the garbage and every error that reaches the renderer
 * go to context 3, which virglrenderer may then keep in error. */
#define RES3D                 10u
#define SIDE3D                64u
#define CTX_GOOD              1u
#define CTX_GARBAGE           3u
#define CTX_DESTROYED         4u
#define CTX_LONG_RECORD       5u
#define CTX_LONG_NAME         6u
#define CTX_BAD_CAPSET        7u
#define CTX_UNKNOWN           77u
#define GARBAGE_DWORDS        64u

/* The 3D commands name their context in the header. */
static void *request_ctx(struct slot *s, uint32_t type, uint32_t ctx_id)
{
	struct virtio_gpu_ctrl_hdr *h = request(s, type);

	h->ctx_id = ctx_id;
	return h;
}

static uint32_t capset_info(uint32_t index, struct virtio_gpu_resp_capset_info *info)
{
	struct slot *s = free_slot();
	struct virtio_gpu_get_capset_info *c = request(s, VIRTIO_GPU_CMD_GET_CAPSET_INFO);
	uint32_t t;

	c->capset_index = index;
	t = send(s, sizeof(*c), RESP_LEN);
	if (info && t == VIRTIO_GPU_RESP_OK_CAPSET_INFO && s->len >= sizeof(*info))
		memcpy(info, s->resp.va, sizeof(*info));
	return t;
}

/* The answer is a header and the capset: callers ask only for capsets
 * whose max_size fits the response page. */
static uint32_t get_capset(uint32_t id, uint32_t version)
{
	struct slot *s = free_slot();
	struct virtio_gpu_get_capset *c = request(s, VIRTIO_GPU_CMD_GET_CAPSET);

	c->capset_id = id;
	c->capset_version = version;
	return send(s, sizeof(*c), PAGE);
}

/* CTX_CREATE claiming nlen bytes of name; the field holds what of name
 * fits, unterminated when it fills it. */
static uint32_t ctx_create_nlen(uint32_t ctx_id, uint32_t nlen, uint32_t init, const char *name)
{
	struct slot *s = free_slot();
	struct virtio_gpu_ctx_create *c = request_ctx(s, VIRTIO_GPU_CMD_CTX_CREATE, ctx_id);
	size_t n = strlen(name);

	c->nlen = nlen;
	c->context_init = init;
	memcpy(c->debug_name, name, n < sizeof(c->debug_name) ? n : sizeof(c->debug_name));
	return send(s, sizeof(*c), RESP_LEN);
}

static uint32_t ctx_create(uint32_t ctx_id, uint32_t init, const char *name)
{
	return ctx_create_nlen(ctx_id, (uint32_t)strlen(name), init, name);
}

static uint32_t ctx_destroy(uint32_t ctx_id)
{
	struct slot *s = free_slot();
	struct virtio_gpu_ctx_destroy *c = request_ctx(s, VIRTIO_GPU_CMD_CTX_DESTROY, ctx_id);

	return send(s, sizeof(*c), RESP_LEN);
}

static uint32_t ctx_attach(uint32_t ctx_id, uint32_t id)
{
	struct slot *s = free_slot();
	struct virtio_gpu_ctx_resource *c =
		request_ctx(s, VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, ctx_id);

	c->resource_id = id;
	return send(s, sizeof(*c), RESP_LEN);
}

/* A render-target texture, one sample, no flags. */
static uint32_t create_3d(uint32_t id, uint32_t target, uint32_t format, uint32_t w, uint32_t h,
			  uint32_t depth, uint32_t array_size, uint32_t last_level)
{
	struct slot *s = free_slot();
	struct virtio_gpu_resource_create_3d *c = request(s, VIRTIO_GPU_CMD_RESOURCE_CREATE_3D);

	c->resource_id = id;
	c->target = target;
	c->format = format;
	c->bind = BIND_RENDER_TARGET;
	c->width = w;
	c->height = h;
	c->depth = depth;
	c->array_size = array_size;
	c->last_level = last_level;
	return send(s, sizeof(*c), RESP_LEN);
}

/* TRANSFER_TO_HOST_3D or _FROM_HOST_3D of the box (x, 0, 0) w x SIDE3D x 1
 * at level, between the texture and its backing at offset 0, rows of a
 * whole SIDE3D-wide texture apart. */
static uint32_t transfer_3d(uint32_t type, uint32_t ctx_id, uint32_t id, uint32_t x, uint32_t w,
			    uint32_t level)
{
	struct slot *s = free_slot();
	struct virtio_gpu_transfer_host_3d *c = request_ctx(s, type, ctx_id);

	c->box = (struct virtio_gpu_box){ .x = x, .w = w, .h = SIDE3D, .d = 1 };
	c->resource_id = id;
	c->level = level;
	c->stride = SIDE3D * 4;
	return send(s, sizeof(*c), RESP_LEN);
}

/* SUBMIT_3D claiming size bytes of stream, carrying the n dwords of words. */
static uint32_t submit_3d(uint32_t ctx_id, uint32_t size, const uint32_t *words, unsigned n)
{
	struct slot *s = free_slot();
	struct virtio_gpu_cmd_submit *c = request_ctx(s, VIRTIO_GPU_CMD_SUBMIT_3D, ctx_id);

	if (sizeof(*c) + (size_t)n * 4 > PAGE)
		fail("a SUBMIT_3D of %u dwords does not fit a page", n);
	memcpy(c + 1, words, (size_t)n * 4);
	c->size = size;
	return send(s, sizeof(*c) + n * 4, RESP_LEN);
}

/* A stream virglrenderer must refuse: a record of a command virgl does
 * not have (0xee, three dwords long), then dwords of a xorshift32 from a
 * fixed seed, the same every run, so that whatever it does is repeatable. */
static void garbage_stream(uint32_t *w, unsigned n)
{
	uint32_t x = 0x2545f491u;

	w[0] = RECORD(0xee, 3);
	for (unsigned i = 1; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		w[i] = x;
	}
}

/* A command this device is right to accept: reported, not a case. */
static void accepted(const char *name, uint32_t t)
{
	char key[96];

	snprintf(key, sizeof(key), "accepted.%s", name);
	report(key, t);
}

/* gvmm's 3D engine clips a scanout's rectangle to its resource (by
 * design: its unit tests set such scanouts) and reads back only what a
 * flush shows of a scanout, with no check of the rectangle against the
 * resource; the 2D engine refuses both. So on a 3D device these 2D cases
 * are answered OK and say nothing about robustness. */
static void fuzz_case_2d_engine(const char *name, uint32_t t)
{
	if (virgl)
		accepted(name, t);
	else
		fuzz_case(name, t);
}

static void fuzz_3d(void)
{
	struct virtio_gpu_resp_capset_info info = { 0 };
	const uint32_t hdr = sizeof(struct virtio_gpu_ctrl_hdr);
	uint32_t stream[GARBAGE_DWORDS] = { 0 };
	uint32_t t, t_submit, t_read, long_record, long_name;
	struct page backing[4];
	uint64_t baddr[4];
	uint32_t blen[4];
	int have_capset, capset_fits;

	/* Valid setup. */
	t = capset_info(0, &info);
	report("setup.capset_info", t);
	have_capset = t == VIRTIO_GPU_RESP_OK_CAPSET_INFO;
	if (have_capset)
		printf("REPORT gpufuzz.capset0=id %u max_version %u max_size %u\n", info.capset_id,
		       info.capset_max_version, info.capset_max_size);
	capset_fits = have_capset && info.capset_max_size <= PAGE - hdr;
	if (capset_fits)
		report("setup.capset", get_capset(info.capset_id, info.capset_max_version));
	report("setup.ctx_create_1", ctx_create(CTX_GOOD, 0, "gpufuzz-good"));
	report("setup.create_3d_10", create_3d(RES3D, PIPE_TEXTURE_2D,
					       VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, SIDE3D, SIDE3D,
					       1, 1, 0));
	for (int i = 0; i < 4; i++) {
		backing[i] = alloc_page();
		baddr[i] = backing[i].pa;
		blen[i] = PAGE;
	}
	/* 64 x 64 x 4 bytes: the four pages exactly. */
	report("setup.attach_10", attach(RES3D, 4, 4, baddr, blen));
	report("setup.ctx_attach_1", ctx_attach(CTX_GOOD, RES3D));
	report("setup.ctx_create_3", ctx_create(CTX_GARBAGE, 0, "gpufuzz-garbage"));
	report("setup.ctx_attach_3", ctx_attach(CTX_GARBAGE, RES3D));
	report("setup.ctx_create_4", ctx_create(CTX_DESTROYED, 0, "gpufuzz-destroyed"));
	report("setup.ctx_destroy_4", ctx_destroy(CTX_DESTROYED));

	/* The malformed ones. */
	fuzz_case("capset-info-bad-index", capset_info(99, NULL));
	fuzz_case("capset-bad-id", get_capset(99, 0));
	if (capset_fits)
		fuzz_case("capset-bad-version",
			  get_capset(info.capset_id, info.capset_max_version + 1));
	fuzz_case("ctx-create-id-zero", ctx_create(0, 0, "gpufuzz"));
	fuzz_case("ctx-create-duplicate-id", ctx_create(CTX_GOOD, 0, "gpufuzz"));
	fuzz_case("ctx-create-id-huge", ctx_create(0xffffffffu, 0, "gpufuzz"));
	/* Without CONTEXT_INIT the field means nothing: a good context. */
	if (context_init)
		fuzz_case("ctx-create-bad-capset", ctx_create(CTX_BAD_CAPSET, 99, "gpufuzz"));
	fuzz_case("ctx-destroy-unknown", ctx_destroy(CTX_UNKNOWN));
	fuzz_case("ctx-attach-unknown-context", ctx_attach(CTX_UNKNOWN, RES3D));
	fuzz_case("ctx-attach-unknown-resource", ctx_attach(CTX_GOOD, 0xdead));
	/* Each with its own fresh id (but the id cases), as in the 2D part. */
	fuzz_case("create-3d-id-zero",
		  create_3d(0, PIPE_TEXTURE_2D, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64, 1, 1, 0));
	fuzz_case("create-3d-duplicate-id",
		  create_3d(RES3D, PIPE_TEXTURE_2D, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64, 1, 1, 0));
	fuzz_case("create-3d-bad-target",
		  create_3d(11, 99, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64, 1, 1, 0));
	fuzz_case("create-3d-bad-format", create_3d(12, PIPE_TEXTURE_2D, 0x7777, 64, 64, 1, 1, 0));
	fuzz_case("create-3d-zero-size",
		  create_3d(13, PIPE_TEXTURE_2D, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 0, 0, 1, 1, 0));
	/* A well-formed array texture of 16 GiB: only a memory cap stops it. */
	fuzz_case("create-3d-huge", create_3d(14, PIPE_TEXTURE_2D_ARRAY,
					      VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 16384, 16384,
					      1, 16, 0));
	fuzz_case("create-3d-last-level-huge",
		  create_3d(15, PIPE_TEXTURE_2D, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64, 1, 1, 31));
	fuzz_case("create-3d-array-size-zero",
		  create_3d(16, PIPE_TEXTURE_2D, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64, 1, 0, 0));
	fuzz_case("create-3d-depth-on-2d-target",
		  create_3d(17, PIPE_TEXTURE_2D, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64, 2, 1, 0));
	/* Submits before the transfers: a transfer virglrenderer refuses puts
	 * context 3 in error, and the garbage is to be refused for itself. */
	fuzz_case("submit-3d-unknown-context", submit_3d(CTX_UNKNOWN, 4, stream, 1));
	fuzz_case("submit-3d-size-beyond-request", submit_3d(CTX_GARBAGE, 4096, stream, 4));
	fuzz_case("submit-3d-size-unaligned", submit_3d(CTX_GARBAGE, 6, stream, 2));
	garbage_stream(stream, GARBAGE_DWORDS);
	fuzz_case("submit-3d-garbage",
		  submit_3d(CTX_GARBAGE, GARBAGE_DWORDS * 4, stream, GARBAGE_DWORDS));
	stream[0] = RECORD(CCMD_NOP, 0);
	fuzz_case("submit-3d-to-destroyed-context", submit_3d(CTX_DESTROYED, 4, stream, 1));
	fuzz_case("transfer-3d-unknown-resource",
		  transfer_3d(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, CTX_GARBAGE, 0xdead, 0, SIDE3D, 0));
	fuzz_case("transfer-3d-box-outside",
		  transfer_3d(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, CTX_GARBAGE, RES3D, 32, SIDE3D, 0));
	/* x + w wraps around 2^32 to 64, inside the texture. */
	fuzz_case("transfer-3d-box-overflow",
		  transfer_3d(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, CTX_GARBAGE, RES3D, 0xffffffc0u,
			      0x80, 0));
	fuzz_case("transfer-3d-level-huge",
		  transfer_3d(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, CTX_GARBAGE, RES3D, 0, SIDE3D, 99));
	fuzz_case("transfer-from-host-3d-box-outside",
		  transfer_3d(VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, CTX_GARBAGE, RES3D, 32, SIDE3D,
			      0));

	/* Odd but not errors in gvmm: a debug name said to be longer than its
	 * field (clamped to it; this one fills it, unterminated), and a record
	 * claiming 0xffff dwords of a four-dword stream, where virglrenderer
	 * stops reading and answers success (it marks the context, so a
	 * context of its own). */
	long_name = ctx_create_nlen(CTX_LONG_NAME, 0xffffffffu, 0,
				    "gpufuzz-gpufuzz-gpufuzz-gpufuzz-gpufuzz-gpufuzz-gpufuzz-gpufuzz-");
	accepted("ctx-create-nlen-huge", long_name);
	long_record = ctx_create(CTX_LONG_RECORD, 0, "gpufuzz-long-record");
	report("setup.ctx_create_5", long_record);
	stream[0] = RECORD(CCMD_NOP, 0xffff);
	stream[1] = stream[2] = stream[3] = 0;
	accepted("submit-3d-bad-record-length", submit_3d(CTX_LONG_RECORD, 16, stream, 4));

	/* The good context lives on: it runs a stream and reads its texture. */
	stream[0] = RECORD(CCMD_NOP, 0);
	t_submit = submit_3d(CTX_GOOD, 4, stream, 1);
	report("alive3d.submit", t_submit);
	t_read = transfer_3d(VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, CTX_GOOD, RES3D, 0, SIDE3D, 0);
	report("alive3d.transfer_from_host", t_read);
	printf("REPORT gpufuzz.alive3d=%s\n", t_submit == VIRTIO_GPU_RESP_OK_NODATA &&
	       t_read == VIRTIO_GPU_RESP_OK_NODATA ? "ok" : "failed");

	report("cleanup.unref_10", id_cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF, RES3D));
	report("cleanup.ctx_destroy_1", ctx_destroy(CTX_GOOD));
	report("cleanup.ctx_destroy_3", ctx_destroy(CTX_GARBAGE));
	if (long_record == VIRTIO_GPU_RESP_OK_NODATA)
		report("cleanup.ctx_destroy_5", ctx_destroy(CTX_LONG_RECORD));
	if (long_name == VIRTIO_GPU_RESP_OK_NODATA)
		report("cleanup.ctx_destroy_6", ctx_destroy(CTX_LONG_NAME));
}

/* ---- main -------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	char path[640];
	uint32_t feat_lo, feat_hi, t;
	double start;
	struct page backing[4];
	uint64_t baddr[4];
	uint32_t blen[4];

	if (argc > 1)
		snprintf(bdf, sizeof(bdf), "%s", argv[1]);
	else
		find_device();
	printf("REPORT gpufuzz.bdf=%s\n", bdf);

	/* 1. Away from the kernel's driver, enabled, bus master, no INTx. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	if (access(path, F_OK) == 0 && write_file(path, bdf) < 0)
		fail("cannot unbind %s from its driver: %s", bdf, strerror(errno));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/enable", bdf);
	if (write_file(path, "1") < 0)
		fail("cannot enable %s: %s", bdf, strerror(errno));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	cfg_fd = open(path, O_RDWR);
	if (cfg_fd < 0)
		fail("cannot open %s: %s", path, strerror(errno));
	cfg_write16(0x04, (uint16_t)(cfg_read(0x04, 2) | 0x0002 | 0x0004 | 0x0400));
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap_fd < 0)
		fail("cannot open /proc/self/pagemap: %s", strerror(errno));

	/* 2., 3. Reset, features, queue, DRIVER_OK. */
	find_caps();
	wr8(common, CC(device_status), 0);
	start = now_ms();
	while (rd8(common, CC(device_status)) != 0)
		if (now_ms() - start > 5000)
			fail("the device does not finish its reset");
	wr16(common, CC(msix_config), VIRTIO_MSI_NO_VECTOR);
	wr8(common, CC(device_status), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr8(common, CC(device_status), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr32(common, CC(device_feature_select), 0);
	feat_lo = rd32(common, CC(device_feature));
	wr32(common, CC(device_feature_select), 1);
	feat_hi = rd32(common, CC(device_feature));
	printf("REPORT gpufuzz.device_features=0x%08x%08x\n", feat_hi, feat_lo);
	if (!(feat_hi & 1))
		fail("the device does not offer VERSION_1");
	/* A 3D device gets its 3D commands too; CONTEXT_INIT only changes
	 * what CTX_CREATE's context_init means, so it comes along where
	 * offered. Nothing else: the rest stays as on a 2D device. */
	virgl = (feat_lo >> VIRTIO_GPU_F_VIRGL) & 1;
	context_init = virgl && ((feat_lo >> VIRTIO_GPU_F_CONTEXT_INIT) & 1);
	wr32(common, CC(guest_feature_select), 0);
	wr32(common, CC(guest_feature), (uint32_t)virgl << VIRTIO_GPU_F_VIRGL |
					 (uint32_t)context_init << VIRTIO_GPU_F_CONTEXT_INIT);
	wr32(common, CC(guest_feature_select), 1);
	wr32(common, CC(guest_feature), 1);
	wr8(common, CC(device_status), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					       VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(rd8(common, CC(device_status)) & VIRTIO_CONFIG_S_FEATURES_OK))
		fail("the device refused the features (%s)",
		     !virgl ? "VERSION_1 only" :
		     context_init ? "VERSION_1, VIRGL, CONTEXT_INIT" : "VERSION_1, VIRGL");
	printf("REPORT gpufuzz.virgl=%d\n", virgl);
	if (virgl)
		printf("REPORT gpufuzz.context_init=%d\n", context_init);
	if (devcfg)
		printf("REPORT gpufuzz.num_scanouts=%u\n",
		       rd32(devcfg, offsetof(struct virtio_gpu_config, num_scanouts)));
	if (devcfg && virgl)
		printf("REPORT gpufuzz.num_capsets=%u\n",
		       rd32(devcfg, offsetof(struct virtio_gpu_config, num_capsets)));
	queue_setup();
	wr8(common, CC(device_status), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);

	/* 4. Valid setup: resource 1 (64x64 with four pages of backing),
	 * resource 2 (64x64, no backing). */
	for (int i = 0; i < 4; i++) {
		backing[i] = alloc_page();
		baddr[i] = backing[i].pa;
		blen[i] = PAGE;
	}
	report("setup.create_1", create_2d(1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64, 64));
	report("setup.attach_1", attach(1, 4, 4, baddr, blen));
	report("setup.create_2", create_2d(2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64, 64));
	report("setup.transfer_1",
	       rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, 0, 0, 64, 64, 0, 0));
	report("setup.flush_1", rect_cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH, 1, 0, 0, 64, 64, 0, 0));

	/* The malformed ones. Overflow cases pick x + width that wraps
	 * around 2^32 to a small number inside the resource. */
	const uint32_t X = 0xffffffc0u, W = 0x80;
	const uint32_t dead = 0xdead;

	fuzz_case("create-id-zero", create_2d(0, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64, 64));
	fuzz_case("create-duplicate-id", create_2d(1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64, 64));
	/* Each with its own fresh id, so that one a device wrongly accepts
	 * does not turn the next into a duplicate-id case. */
	fuzz_case("create-huge-16384x16384", create_2d(3, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16384, 16384));
	fuzz_case("create-max-u32-size",
		  create_2d(4, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0xffffffffu, 0xffffffffu));
	fuzz_case("create-zero-size", create_2d(5, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0, 0));
	fuzz_case("create-zero-width", create_2d(6, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0, 64));
	fuzz_case("create-bad-format", create_2d(7, 0x7777, 64, 64));
	fuzz_case("unref-unknown-resource", id_cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF, dead));
	fuzz_case("transfer-unknown-resource",
		  rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, dead, 0, 0, 64, 64, 0, 0));
	fuzz_case("transfer-no-backing",
		  rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 2, 0, 0, 64, 64, 0, 0));
	fuzz_case("transfer-rect-outside",
		  rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, 32, 32, 64, 64, 0, 0));
	fuzz_case("transfer-rect-overflow",
		  rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, X, 0, W, 64, 0, 0));
	fuzz_case("transfer-offset-beyond-backing",
		  rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, 0, 0, 64, 64, 1ull << 40, 0));
	fuzz_case("flush-unknown-resource",
		  rect_cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH, dead, 0, 0, 64, 64, 0, 0));
	fuzz_case_2d_engine("flush-rect-outside",
			    rect_cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH, 1, 0, 0, 65, 64, 0, 0));
	fuzz_case_2d_engine("flush-rect-overflow",
			    rect_cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH, 1, 0, X, 64, W, 0, 0));
	fuzz_case("scanout-bad-scanout-id",
		  rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, 1, 0, 0, 64, 64, 0, 99));
	fuzz_case("scanout-unknown-resource",
		  rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, dead, 0, 0, 64, 64, 0, 0));
	fuzz_case_2d_engine("scanout-rect-outside",
			    rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, 1, 0, 0, 128, 128, 0, 0));
	fuzz_case("scanout-rect-overflow", rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, 1, X, 0, W, 64, 0, 0));
	{
		uint64_t a[2] = { baddr[0] };
		uint32_t l[2] = { PAGE };

		fuzz_case("attach-unknown-resource", attach(dead, 1, 1, a, l));
		fuzz_case("attach-already-attached", attach(1, 1, 1, a, l));
		fuzz_case("attach-nr-entries-huge", attach(2, 0x10000000u, 1, a, l));
		fuzz_case("attach-nr-entries-beyond-request", attach(2, 8, 1, a, l));
		a[0] = 1ull << 46; /* 64 TiB: no guest has RAM there */
		fuzz_case("attach-outside-guest-ram", attach(2, 1, 1, a, l));
		a[0] = 0xfffffffffffff000ull;
		l[0] = 0x2000; /* addr + length wraps around 2^64 */
		fuzz_case("attach-address-overflow", attach(2, 1, 1, a, l));
	}
	fuzz_case("detach-unknown-resource", id_cmd(VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, dead));
	{
		struct slot *s = free_slot();
		struct virtio_gpu_cmd_get_edid *c = request(s, VIRTIO_GPU_CMD_GET_EDID);

		c->scanout = 99;
		fuzz_case("edid-bad-scanout", send(s, sizeof(*c), PAGE));
	}
	fuzz_case("unknown-command", raw(0x0177, sizeof(struct virtio_gpu_ctrl_hdr)));
	/* Malformed only where VIRGL was not negotiated. */
	if (!virgl)
		fuzz_case("3d-command-on-2d-device",
			  raw(VIRTIO_GPU_CMD_CTX_CREATE, sizeof(struct virtio_gpu_ctx_create)));
	fuzz_case("response-type-as-command",
		  raw(VIRTIO_GPU_RESP_OK_NODATA, sizeof(struct virtio_gpu_ctrl_hdr)));
	fuzz_case("truncated-create",
		  raw(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, sizeof(struct virtio_gpu_ctrl_hdr) + 4));
	fuzz_case("truncated-attach",
		  raw(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, sizeof(struct virtio_gpu_ctrl_hdr)));
	fuzz_case("truncated-header", raw(VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 8));

	/* 5. The 3D ones, cleaned up after; what follows is the 2D part's. */
	if (virgl)
		fuzz_3d();
	printf("REPORT gpufuzz.cases=%s\n", case_list);

	/* 6. Still alive? */
	{
		struct slot *s = free_slot();
		struct virtio_gpu_resp_display_info *r = (void *)s->resp.va;

		request(s, VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
		t = send(s, sizeof(struct virtio_gpu_ctrl_hdr), sizeof(*r));
		report("alive", t);
		if (t == VIRTIO_GPU_RESP_OK_DISPLAY_INFO)
			printf("REPORT gpufuzz.display0=%ux%u enabled=%u\n", r->pmodes[0].r.width,
			       r->pmodes[0].r.height, r->pmodes[0].enabled);
	}
	report("cleanup.unref_1", id_cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF, 1));
	report("cleanup.unref_2", id_cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF, 2));

	/* Reset (the device lets go of everything, answered or not) and give
	 * the function back to the kernel. */
	wr8(common, CC(device_status), 0);
	start = now_ms();
	while (rd8(common, CC(device_status)) != 0 && now_ms() - start < 5000)
		usleep(1000);
	if (write_file("/sys/bus/pci/drivers/virtio-pci/bind", bdf) < 0) {
		printf("REPORT gpufuzz.rebind=failed (bind: %s)\n", strerror(errno));
	} else {
		int ok = 0;

		start = now_ms();
		while (!ok && now_ms() - start < 30000) {
			ok = access("/sys/class/drm/card0", F_OK) == 0;
			if (!ok)
				usleep(100000);
		}
		printf("REPORT gpufuzz.rebind=%s\n", ok ? "ok" : "failed");
	}
	fflush(stdout);
	return 0;
}
