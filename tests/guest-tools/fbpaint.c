/* Guest-side painter for the display tests (tests/guest/display.sh) and
 * the display benchmark (tools/bench-display). Built static by
 * tools/mkguest.
 *
 *   fbpaint [-d FBDEV] info
 *   fbpaint [-d FBDEV] full
 *   fbpaint [-d FBDEV] rect X Y W H RRGGBB
 *   fbpaint [-c CARD] drm-bench FRAMES KEYDEV [WxH]
 *
 * info, full and rect draw through an mmap of the fbdev device (default
 * /dev/fb0), then msync: with Linux's DRM fbdev emulation that is what
 * makes the kernel send the damage to the GPU (write() to /dev/fb0 only
 * updates the kernel's shadow copy, see the project's testbed notes).
 *
 * The pattern of "full" is a function of the position, so that a shifted,
 * mirrored or mis-strided picture on the host side shows up as wrong
 * pixels, and the host can compute every expected pixel:
 *
 *   R = x & 0xff
 *   G = y & 0xff
 *   B = q << 6 | ((x >> 8) & 7) << 3 | ((y >> 8) & 7)
 *       where q is the quadrant: 0 top left, 1 top right, 2 bottom left,
 *       3 bottom right (x >= width/2 adds 1, y >= height/2 adds 2)
 *
 * drm-bench draws through DRM instead (a dumb buffer shown with SETCRTC,
 * each frame flushed with DIRTYFB), because fbdev flushes from a kernel
 * worker at a time the program cannot see, while DIRTYFB sends the
 * transfer and flush commands to the device before it returns. For each
 * of FRAMES frames it waits for a key press on the evdev device KEYDEV
 * (the host's "next frame"), paints frame k = the pattern above with
 * every pixel XORed with mask(k) (0x80 in R when bit 0 of k is set, in G
 * for bit 1, in B for bit 2: consecutive frames differ by 128 in at least
 * one channel everywhere), then prints "FLUSH k" on stdout, waits until
 * the console has sent it (tcdrain), and flushes the whole frame.
 * "BENCH-READY" says that the first key may come. After the last frame it
 * keeps the device open, so the last frame stays on the screen, until
 * KEY_ENTER is pressed.
 *
 * Results are "REPORT key=value" lines on stdout; exit status 1 when the
 * device cannot be used. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fb.h>
#include <linux/input.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "drm_uapi.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "fbpaint: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The test pattern as 0xRRGGBB. */
static uint32_t pattern_rgb(uint32_t x, uint32_t y, uint32_t width, uint32_t height)
{
	uint32_t q = (x >= width / 2) + 2 * (y >= height / 2);
	uint32_t r = x & 0xff, g = y & 0xff;
	uint32_t b = q << 6 | ((x >> 8) & 7) << 3 | ((y >> 8) & 7);

	return r << 16 | g << 8 | b;
}

/* ---- fbdev ------------------------------------------------------------------ */

struct fb {
	int fd;
	struct fb_var_screeninfo var;
	struct fb_fix_screeninfo fix;
	uint8_t *mem;
	size_t len;
};

static void fb_open(struct fb *fb, const char *dev)
{
	fb->fd = open(dev, O_RDWR);
	if (fb->fd < 0)
		die(dev);
	if (ioctl(fb->fd, FBIOGET_VSCREENINFO, &fb->var) < 0 ||
	    ioctl(fb->fd, FBIOGET_FSCREENINFO, &fb->fix) < 0)
		die("FBIOGET_*SCREENINFO");
	if (fb->var.bits_per_pixel != 32) {
		fprintf(stderr, "fbpaint: %s has %u bits per pixel; only 32 is supported\n", dev,
			fb->var.bits_per_pixel);
		exit(1);
	}
	fb->len = (size_t)fb->fix.line_length * fb->var.yres_virtual;
	fb->mem = mmap(NULL, fb->len, PROT_READ | PROT_WRITE, MAP_SHARED, fb->fd, 0);
	if (fb->mem == MAP_FAILED)
		die("mmap of the framebuffer");
}

/* 0xRRGGBB in the framebuffer's own layout (its bitfields). */
static uint32_t fb_pixel(const struct fb *fb, uint32_t rgb)
{
	const struct fb_var_screeninfo *v = &fb->var;
	uint32_t r = rgb >> 16 & 0xff, g = rgb >> 8 & 0xff, b = rgb & 0xff;

	return (r >> (8 - v->red.length)) << v->red.offset |
	       (g >> (8 - v->green.length)) << v->green.offset |
	       (b >> (8 - v->blue.length)) << v->blue.offset;
}

static void fb_report(const struct fb *fb)
{
	const struct fb_var_screeninfo *v = &fb->var;

	printf("REPORT fb.id=%.16s\n", fb->fix.id);
	printf("REPORT fb.width=%u\nREPORT fb.height=%u\n", v->xres, v->yres);
	printf("REPORT fb.stride=%u\nREPORT fb.bpp=%u\n", fb->fix.line_length, v->bits_per_pixel);
	printf("REPORT fb.format=r%u:%u,g%u:%u,b%u:%u\n", v->red.offset, v->red.length,
	       v->green.offset, v->green.length, v->blue.offset, v->blue.length);
}

/* Paints rows [y0, y1) x [x0, x1) with color (or the pattern when
 * color < 0), then msyncs; returns the time it took in ms. */
static double fb_paint(struct fb *fb, uint32_t x0, uint32_t y0, uint32_t x1, uint32_t y1,
		       long color)
{
	uint32_t w = fb->var.xres, h = fb->var.yres;
	double start = now_ms();

	for (uint32_t y = y0; y < y1; y++) {
		uint32_t *row = (uint32_t *)(fb->mem + (size_t)(y + fb->var.yoffset) *
						       fb->fix.line_length) + fb->var.xoffset;
		for (uint32_t x = x0; x < x1; x++)
			row[x] = fb_pixel(fb, color < 0 ? pattern_rgb(x, y, w, h) : (uint32_t)color);
	}
	/* The whole mapping: the damage the kernel computes is its own. */
	if (msync(fb->mem, fb->len, MS_SYNC) < 0)
		die("msync");
	return now_ms() - start;
}

static int parse_u32(const char *s, uint32_t *out, int base)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || end == s || *end || v > 0xffffffffUL)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* ---- DRM: the UAPI in drm_uapi.h, and what only fbpaint needs ---- */

struct drm_fb_dirty_cmd {
	uint32_t fb_id, flags, color, num_clips;
	uint64_t clips_ptr;
};
struct drm_clip {
	uint16_t x1, y1, x2, y2;
};
#define DRM_IOCTL_DIRTYFB_ _IOWR('d', 0xB1, struct drm_fb_dirty_cmd)

static void xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	if (r < 0)
		die(what);
}

/* Waits up to timeout_ms for a key press (EV_KEY, value 1) on fd. */
static int wait_key_press(int fd, int timeout_ms)
{
	double deadline = now_ms() + timeout_ms;
	struct input_event ev;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double left = deadline - now_ms();

		if (left <= 0 || poll(&p, 1, (int)left + 1) <= 0)
			return -1;
		if (read(fd, &ev, sizeof(ev)) != (ssize_t)sizeof(ev))
			return -1;
		if (ev.type == EV_KEY && ev.value == 1)
			return ev.code;
	}
}

static int drm_bench(const char *card, unsigned frames, const char *keydev, uint32_t want_w,
		     uint32_t want_h)
{
	struct drm_card_res res = { 0 };
	struct drm_get_connector conn;
	struct drm_get_encoder enc = { 0 };
	struct drm_modeinfo *modes = NULL, mode;
	uint32_t *conn_ids, *crtc_ids, *enc_ids, crtc_id = 0, conn_id = 0;
	int fd, kfd, found = 0;

	fd = open(card, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die(card);
	kfd = open(keydev, O_RDONLY);
	if (kfd < 0)
		die(keydev);
	/* Master (needed for SETCRTC and DIRTYFB); the first opener usually
	 * is already. */
	ioctl(fd, DRM_IOCTL_SET_MASTER_, 0);

	xioctl(fd, DRM_IOCTL_GETRESOURCES_, &res, "GETRESOURCES");
	conn_ids = calloc(res.count_connectors + 1, 4);
	crtc_ids = calloc(res.count_crtcs + 1, 4);
	res.connector_id_ptr = (uintptr_t)conn_ids;
	res.crtc_id_ptr = (uintptr_t)crtc_ids;
	res.count_fbs = res.count_encoders = 0;
	xioctl(fd, DRM_IOCTL_GETRESOURCES_, &res, "GETRESOURCES");

	/* The first connected connector, and its mode of the wanted size (or
	 * the first one: the preferred). */
	for (uint32_t i = 0; i < res.count_connectors && !found; i++) {
		memset(&conn, 0, sizeof(conn));
		conn.connector_id = conn_ids[i];
		xioctl(fd, DRM_IOCTL_GETCONNECTOR_, &conn, "GETCONNECTOR");
		if (conn.connection != 1 || conn.count_modes == 0)
			continue;
		free(modes);
		modes = calloc(conn.count_modes, sizeof(*modes));
		enc_ids = calloc(conn.count_encoders + 1, 4);
		conn.modes_ptr = (uintptr_t)modes;
		conn.encoders_ptr = (uintptr_t)enc_ids;
		conn.count_props = 0;
		xioctl(fd, DRM_IOCTL_GETCONNECTOR_, &conn, "GETCONNECTOR");
		mode = modes[0];
		for (uint32_t m = 0; m < conn.count_modes; m++)
			if (modes[m].hdisplay == want_w && modes[m].vdisplay == want_h) {
				mode = modes[m];
				break;
			}
		enc.encoder_id = conn.encoder_id ? conn.encoder_id : enc_ids[0];
		xioctl(fd, DRM_IOCTL_GETENCODER_, &enc, "GETENCODER");
		crtc_id = enc.crtc_id;
		for (uint32_t c = 0; !crtc_id && c < res.count_crtcs; c++)
			if (enc.possible_crtcs & (1u << c))
				crtc_id = crtc_ids[c];
		conn_id = conn.connector_id;
		found = 1;
	}
	if (!found || !crtc_id) {
		fprintf(stderr, "fbpaint: no connected connector with a CRTC on %s\n", card);
		return 1;
	}
	printf("REPORT bench.mode=%ux%u\n", mode.hdisplay, mode.vdisplay);

	struct drm_create_dumb dumb = { .width = mode.hdisplay, .height = mode.vdisplay, .bpp = 32 };
	xioctl(fd, DRM_IOCTL_CREATE_DUMB_, &dumb, "CREATE_DUMB");
	struct drm_fb_cmd fbc = { .width = dumb.width, .height = dumb.height, .pitch = dumb.pitch,
				  .bpp = 32, .depth = 24, .handle = dumb.handle };
	xioctl(fd, DRM_IOCTL_ADDFB_, &fbc, "ADDFB");
	struct drm_map_dumb map = { .handle = dumb.handle };
	xioctl(fd, DRM_IOCTL_MAP_DUMB_, &map, "MAP_DUMB");
	uint8_t *mem = mmap(NULL, dumb.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)map.offset);
	if (mem == MAP_FAILED)
		die("mmap of the dumb buffer");

	/* The pattern once; each frame is it XOR a mask (XRGB8888). */
	uint32_t w = dumb.width, h = dumb.height;
	uint32_t *base = malloc((size_t)w * h * 4);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			base[(size_t)y * w + x] = pattern_rgb(x, y, w, h);
	for (uint32_t y = 0; y < h; y++)
		memcpy(mem + (size_t)y * dumb.pitch, base + (size_t)y * w, (size_t)w * 4);

	struct drm_crtc crtc = { .set_connectors_ptr = (uintptr_t)&conn_id, .count_connectors = 1,
				 .crtc_id = crtc_id, .fb_id = fbc.fb_id, .mode_valid = 1,
				 .mode = mode };
	xioctl(fd, DRM_IOCTL_SETCRTC_, &crtc, "SETCRTC");

	struct drm_clip clip = { 0, 0, (uint16_t)w, (uint16_t)h };
	struct drm_fb_dirty_cmd dirty = { .fb_id = fbc.fb_id, .num_clips = 1,
					  .clips_ptr = (uintptr_t)&clip };
	double paint_total = 0, flush_total = 0;
	unsigned done = 0;

	printf("BENCH-READY\n");
	fflush(stdout);
	for (unsigned k = 1; k <= frames; k++) {
		if (wait_key_press(kfd, 300000) < 0) {
			printf("REPORT bench.error=no key press for frame %u within 300 s\n", k);
			break;
		}
		uint32_t mask = (k & 1 ? 0x800000u : 0) | (k & 2 ? 0x8000u : 0) | (k & 4 ? 0x80u : 0);
		double t0 = now_ms();
		for (uint32_t y = 0; y < h; y++) {
			uint32_t *dst = (uint32_t *)(mem + (size_t)y * dumb.pitch);
			const uint32_t *src = base + (size_t)y * w;
			for (uint32_t x = 0; x < w; x++)
				dst[x] = src[x] ^ mask;
		}
		double t1 = now_ms();
		/* The marker goes out first and completely: the host stamps
		 * it with its own clock when it arrives, before the flush
		 * can have started. */
		printf("FLUSH %u\n", k);
		fflush(stdout);
		tcdrain(STDOUT_FILENO);
		double t2 = now_ms();
		xioctl(fd, DRM_IOCTL_DIRTYFB_, &dirty, "DIRTYFB");
		flush_total += now_ms() - t2;
		paint_total += t1 - t0;
		done++;
	}
	printf("REPORT bench.frames=%u\n", done);
	if (done) {
		printf("REPORT bench.guest_paint_ms_avg=%.2f\n", paint_total / done);
		printf("REPORT bench.guest_dirtyfb_ms_avg=%.2f\n", flush_total / done);
	}
	fflush(stdout);
	/* Keep the last frame up (closing the device would bring the fbdev
	 * console's picture back) until the host is done: Enter. */
	while (done == frames) {
		int key = wait_key_press(kfd, 600000);

		if (key < 0)
			printf("REPORT bench.error=no Enter within 600 s after the frames\n");
		if (key < 0 || key == KEY_ENTER)
			break;
	}
	return done == frames ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: fbpaint [-d FBDEV] info | full | rect X Y W H RRGGBB\n"
			"       fbpaint [-c CARD] drm-bench FRAMES KEYDEV [WxH]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/fb0", *card = "/dev/dri/card0";
	struct fb fb;
	int opt;

	while ((opt = getopt(argc, argv, "d:c:")) != -1) {
		switch (opt) {
		case 'd': dev = optarg; break;
		case 'c': card = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();

	if (!strcmp(argv[0], "drm-bench")) {
		uint32_t frames, w = 0, h = 0;

		if (argc < 3 || parse_u32(argv[1], &frames, 10) ||
		    (argc > 3 && sscanf(argv[3], "%ux%u", &w, &h) != 2))
			usage();
		return drm_bench(card, frames, argv[2], w, h);
	}

	fb_open(&fb, dev);
	if (!strcmp(argv[0], "info")) {
		fb_report(&fb);
	} else if (!strcmp(argv[0], "full")) {
		fb_report(&fb);
		printf("REPORT fb.full_paint_ms=%.1f\n",
		       fb_paint(&fb, 0, 0, fb.var.xres, fb.var.yres, -1));
	} else if (!strcmp(argv[0], "rect")) {
		uint32_t x, y, w, h, rgb;

		if (argc != 6 || parse_u32(argv[1], &x, 10) || parse_u32(argv[2], &y, 10) ||
		    parse_u32(argv[3], &w, 10) || parse_u32(argv[4], &h, 10) ||
		    parse_u32(argv[5], &rgb, 16) || rgb > 0xffffff)
			usage();
		if (x >= fb.var.xres || y >= fb.var.yres || w > fb.var.xres - x ||
		    h > fb.var.yres - y) {
			fprintf(stderr, "fbpaint: rect %ux%u+%u+%u is not inside %ux%u\n", w, h, x, y,
				fb.var.xres, fb.var.yres);
			return 1;
		}
		printf("REPORT fb.rect_paint_ms=%.1f\n", fb_paint(&fb, x, y, x + w, y + h, rgb));
	} else {
		usage();
	}
	fflush(stdout);
	return 0;
}
