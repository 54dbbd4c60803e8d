/* Guest-side check of a passed-through bochs-display (1234:1111), run by
 * tests/guest/vfio.sh once the kernel's bochs driver has bound the device:
 *
 *   bochstest PCI-DEVICE-DIR     (e.g. /sys/bus/pci/devices/0000:00:05.0)
 *   bochstest --show PCI-DEVICE-DIR
 *
 * With --show it only does step 1 and keeps the pattern on the screen
 * (the card open, so that the fbdev console does not take the CRTC back)
 * until it is killed: for a mediated bochs-display (tests/guest/vfio.sh,
 * gvmm.vfio=mdev), whose screen the host shows on SPICE and checks there.
 * It prints bochs.shown=ok once the pattern is up.
 *
 * It shows a position-keyed pattern through the driver, then reads it
 * back through the device's BAR 0, the way a passed-through GPU's memory
 * must behave: what the guest's driver put in video memory is in the BAR.
 *
 *  1. Through the device's DRM card: a dumb buffer with the pattern, shown
 *     on the connector's preferred mode with SETCRTC. The bochs driver
 *     (GEM VRAM helpers) keeps a new buffer in system RAM and copies it
 *     into video memory when SETCRTC pins it for scanout, before the ioctl
 *     returns; it then points the device's scanout registers (BAR 2) at
 *     it. Painting /dev/fb0 instead would leave the copy to a kernel
 *     worker that step 2 could cancel before it ran.
 *  2. The driver is unbound: while bound it holds BARs 0 and 2, and the
 *     kernel refuses mmap of the sysfs resource file of a held region
 *     (CONFIG_IO_STRICT_DEVMEM); /dev/fb0 would only read the driver's
 *     shadow copy in RAM. The card stays open meanwhile, so that the fbdev
 *     console does not take the scanout back to its own buffer.
 *  3. resource2: the scanout registers (bochs dispi interface at 0x500);
 *     resource0: the pattern, looked for at the scanout offset first,
 *     then at every page of the BAR.
 *
 * Prints key=value lines (card=, mode=, pitch=, unbind=, dispi-id=,
 * dispi-mode=, scanout-offset=, pattern=, pattern-offset=,
 * pattern-wrong=, scanout=, each prefixed "bochs.", and
 * bochstest=ok|failed) and exits 0 when the pattern came back whole at
 * the scanout offset. Built static by tools/mkguest; runs as root. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drm_uapi.h"

#define PCI_COMMAND            0x04
#define  PCI_COMMAND_MEMORY      0x0002
/* bochs dispi registers in BAR 2: 16 bits each at 0x500 + 2 * index. */
#define DISPI_BASE             0x500
#define DISPI_ID               0x0
#define DISPI_XRES             0x1
#define DISPI_YRES             0x2
#define DISPI_BPP              0x3
#define DISPI_VIRT_WIDTH       0x6
#define DISPI_X_OFFSET         0x8
#define DISPI_Y_OFFSET         0x9
#define PAGE                   4096u
/* A file of the device: its real path (at most PATH_MAX) and a name. */
#define FILE_PATH_MAX          (PATH_MAX + 32)


static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	return r;
}

/* "WHAT: strerror(errno)", for a failed call. */
static const char *failed(const char *what)
{
	static char text[160];

	snprintf(text, sizeof(text), "%s: %s", what, strerror(errno));
	return text;
}

/* The pattern, XRGB8888: a hash of the position, so that a shifted or
 * mis-strided copy, or memory that was never written, cannot match. */
static uint32_t pattern(uint32_t x, uint32_t y)
{
	uint32_t v = (x + 1) * 0x9e3779b1u ^ (y + 1) * 0x85ebca77u;

	v ^= v >> 13;
	v *= 0xc2b2ae35u;
	v ^= v >> 16;
	return v & 0x00ffffffu;
}

struct shown {
	uint32_t width, height, pitch;
};

/* Finds /dev/dri/cardN of the PCI device at real path pci into card. */
static int find_card(const char *pci, char *card, size_t len)
{
	DIR *d = opendir("/sys/class/drm");
	struct dirent *e;
	int found = -1;

	if (!d)
		return -1;
	while (found < 0 && (e = readdir(d))) {
		char path[PATH_MAX], real[PATH_MAX];

		/* cardN, not its connectors (cardN-NAME) nor renderDN. */
		if (strncmp(e->d_name, "card", 4) || strchr(e->d_name, '-'))
			continue;
		snprintf(path, sizeof(path), "/sys/class/drm/%s/device", e->d_name);
		if (realpath(path, real) && !strcmp(real, pci)) {
			snprintf(card, len, "/dev/dri/%s", e->d_name);
			found = 0;
		}
	}
	closedir(d);
	return found;
}

/* Step 1: the pattern on the first connected connector, in its preferred
 * mode. Returns NULL or why not; fd stays open (see step 2). */
static const char *show_pattern(int fd, struct shown *s)
{
	struct drm_card_res res = { 0 };
	struct drm_get_connector conn;
	struct drm_get_encoder enc = { 0 };
	struct drm_modeinfo *modes = NULL, mode;
	uint32_t conn_ids[16], crtc_ids[16], enc_ids[16], crtc_id = 0, conn_id = 0;
	bool found = false;

	/* Master, for SETCRTC; the first opener of a card already is. */
	ioctl(fd, DRM_IOCTL_SET_MASTER_, 0);
	if (xioctl(fd, DRM_IOCTL_GETRESOURCES_, &res) < 0)
		return failed("GETRESOURCES");
	if (res.count_connectors > 16 || res.count_crtcs > 16)
		return "more than 16 connectors or CRTCs";
	res.connector_id_ptr = (uintptr_t)conn_ids;
	res.crtc_id_ptr = (uintptr_t)crtc_ids;
	res.count_fbs = res.count_encoders = 0;
	if (xioctl(fd, DRM_IOCTL_GETRESOURCES_, &res) < 0)
		return failed("GETRESOURCES");
	for (uint32_t i = 0; i < res.count_connectors && !found; i++) {
		memset(&conn, 0, sizeof(conn));
		conn.connector_id = conn_ids[i];
		if (xioctl(fd, DRM_IOCTL_GETCONNECTOR_, &conn) < 0)
			return failed("GETCONNECTOR");
		if (conn.connection != 1 || !conn.count_modes || !conn.count_encoders ||
		    conn.count_encoders > 16)
			continue;
		free(modes);
		modes = calloc(conn.count_modes, sizeof(*modes));
		if (!modes)
			return "out of memory";
		conn.modes_ptr = (uintptr_t)modes;
		conn.encoders_ptr = (uintptr_t)enc_ids;
		conn.count_props = 0;
		if (xioctl(fd, DRM_IOCTL_GETCONNECTOR_, &conn) < 0)
			return failed("GETCONNECTOR");
		mode = modes[0];   /* the kernel lists the preferred mode first */
		enc.encoder_id = conn.encoder_id ? conn.encoder_id : enc_ids[0];
		if (xioctl(fd, DRM_IOCTL_GETENCODER_, &enc) < 0)
			return failed("GETENCODER");
		crtc_id = enc.crtc_id;
		for (uint32_t c = 0; !crtc_id && c < res.count_crtcs; c++)
			if (enc.possible_crtcs & (1u << c))
				crtc_id = crtc_ids[c];
		conn_id = conn.connector_id;
		found = true;
	}
	free(modes);
	if (!found || !crtc_id)
		return "no connected connector with a CRTC";

	struct drm_create_dumb dumb = { .width = mode.hdisplay, .height = mode.vdisplay, .bpp = 32 };
	if (xioctl(fd, DRM_IOCTL_CREATE_DUMB_, &dumb) < 0)
		return failed("CREATE_DUMB");
	struct drm_fb_cmd fbc = { .width = dumb.width, .height = dumb.height, .pitch = dumb.pitch,
				  .bpp = 32, .depth = 24, .handle = dumb.handle };
	if (xioctl(fd, DRM_IOCTL_ADDFB_, &fbc) < 0)
		return failed("ADDFB");
	struct drm_map_dumb map = { .handle = dumb.handle };
	if (xioctl(fd, DRM_IOCTL_MAP_DUMB_, &map) < 0)
		return failed("MAP_DUMB");
	uint8_t *mem = mmap(NULL, dumb.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			    (off_t)map.offset);
	if (mem == MAP_FAILED)
		return failed("mmap of the dumb buffer");
	for (uint32_t y = 0; y < dumb.height; y++) {
		uint32_t *row = (uint32_t *)(mem + (size_t)y * dumb.pitch);

		for (uint32_t x = 0; x < dumb.width; x++)
			row[x] = pattern(x, y);
	}
	munmap(mem, dumb.size);

	struct drm_crtc crtc = { .set_connectors_ptr = (uintptr_t)&conn_id, .count_connectors = 1,
				 .crtc_id = crtc_id, .fb_id = fbc.fb_id, .mode_valid = 1,
				 .mode = mode };
	if (xioctl(fd, DRM_IOCTL_SETCRTC_, &crtc) < 0)
		return failed("SETCRTC");
	*s = (struct shown){ dumb.width, dumb.height, dumb.pitch };
	return NULL;
}

/* Step 2: the device's driver lets go of it. */
static const char *unbind(const char *pci)
{
	char path[FILE_PATH_MAX];
	const char *bdf = strrchr(pci, '/') + 1, *why = NULL;
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "%s/driver/unbind", pci);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return failed("driver/unbind");
	ok = write(fd, bdf, strlen(bdf)) == (ssize_t)strlen(bdf);
	if (!ok)
		why = failed("writing driver/unbind");
	close(fd);
	if (!ok)
		return why;
	snprintf(path, sizeof(path), "%s/driver", pci);
	return access(path, F_OK) == 0 ? "still bound" : NULL;
}

/* Memory decoding on (it should still be: the driver turns off only bus
 * mastering when it lets go), through the config file. */
static void enable_memory(const char *pci)
{
	char path[FILE_PATH_MAX];
	uint16_t cmd;
	int fd;

	snprintf(path, sizeof(path), "%s/config", pci);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return;
	if (pread(fd, &cmd, 2, PCI_COMMAND) == 2 && !(cmd & PCI_COMMAND_MEMORY)) {
		cmd |= PCI_COMMAND_MEMORY;
		if (pwrite(fd, &cmd, 2, PCI_COMMAND) != 2)
			printf("bochs.enable=failed\n");
	}
	close(fd);
}

/* Maps resourceN of the device read-only; NULL (errno set) on failure. */
static const volatile uint8_t *map_bar(const char *pci, int n, size_t *len)
{
	char path[FILE_PATH_MAX];
	struct stat st;
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/resource%d", pci, n);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	*len = (size_t)st.st_size;
	return p;
}

static uint16_t dispi(const volatile uint8_t *regs, unsigned index)
{
	return *(const volatile uint16_t *)(regs + DISPI_BASE + 2 * index);
}

/* Pixels of the pattern that differ in the frame at off of BAR 0. */
static uint64_t frame_wrong(const volatile uint8_t *bar, uint64_t off, const struct shown *s)
{
	uint64_t wrong = 0;

	for (uint32_t y = 0; y < s->height; y++) {
		const volatile uint32_t *row =
			(const volatile uint32_t *)(bar + off + (uint64_t)y * s->pitch);

		for (uint32_t x = 0; x < s->width; x++)
			wrong += row[x] != pattern(x, y);
	}
	return wrong;
}

/* The frame fits at off and its first pixels are the pattern's. */
static bool frame_starts(const volatile uint8_t *bar, size_t len, uint64_t off,
			 const struct shown *s)
{
	const volatile uint32_t *p = (const volatile uint32_t *)(bar + off);

	if (off > len || (uint64_t)s->pitch * s->height > len - off)
		return false;
	return p[0] == pattern(0, 0) && p[1] == pattern(1, 0) && p[2] == pattern(2, 0);
}

static int setup_failed(const char *why)
{
	printf("bochs.pattern=setup-failed:%s\nbochstest=failed\n", why);
	return 1;
}

int main(int argc, char **argv)
{
	char pci[PATH_MAX], card[PATH_MAX];
	const volatile uint8_t *regs, *bar;
	size_t regs_len = 0, bar_len = 0;
	struct shown s = { 0 };
	const char *why;
	uint64_t scanout = UINT64_MAX, at = UINT64_MAX, wrong = 0;
	bool ok, show_only = argc == 3 && !strcmp(argv[1], "--show");
	int fd;

	/* Each line out at once: what was found before a step that kills the
	 * program (a BAR access can) still reaches the console. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2 + show_only || !realpath(argv[1 + show_only], pci)) {
		fprintf(stderr, "usage: bochstest [--show] PCI-DEVICE-DIR\n");
		return setup_failed("no such PCI device");
	}
	if (find_card(pci, card, sizeof(card)) < 0)
		return setup_failed("no DRM card for the device");
	printf("bochs.card=%s\n", strrchr(card, '/') + 1);
	fd = open(card, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return setup_failed(failed("opening the card"));
	why = show_pattern(fd, &s);
	if (why)
		return setup_failed(why);
	printf("bochs.mode=%ux%u\nbochs.pitch=%u\n", s.width, s.height, s.pitch);
	if (show_only) {
		printf("bochs.shown=ok\n");
		for (;;)
			pause();
	}

	why = unbind(pci);
	printf("bochs.unbind=%s\n", why ? why : "ok");
	if (why)
		return setup_failed("the driver cannot be unbound");
	enable_memory(pci);

	/* Where the device scans out from, as its registers say (QEMU's
	 * bochs-display: stride = virtual width, at least the width, times
	 * bytes per pixel). */
	regs = map_bar(pci, 2, &regs_len);
	if (regs && regs_len >= DISPI_BASE + 0x20) {
		uint32_t bpp = dispi(regs, DISPI_BPP), vwidth = dispi(regs, DISPI_VIRT_WIDTH);

		if (vwidth < dispi(regs, DISPI_XRES))
			vwidth = dispi(regs, DISPI_XRES);
		printf("bochs.dispi-id=0x%04x\n", dispi(regs, DISPI_ID));
		printf("bochs.dispi-mode=%ux%ux%u\n", dispi(regs, DISPI_XRES),
		       dispi(regs, DISPI_YRES), bpp);
		scanout = (uint64_t)dispi(regs, DISPI_Y_OFFSET) * vwidth * (bpp / 8) +
			  (uint64_t)dispi(regs, DISPI_X_OFFSET) * (bpp / 8);
		printf("bochs.scanout-offset=0x%llx\n", (unsigned long long)scanout);
	} else {
		printf("bochs.scanout-offset=unknown:resource2: %s\n",
		       regs ? "too small" : strerror(errno));
	}

	bar = map_bar(pci, 0, &bar_len);
	if (!bar) {
		printf("bochs.pattern=cannot-map:resource0: %s\n", strerror(errno));
		printf("bochstest=failed\n");
		close(fd);
		return 1;
	}
	if (scanout != UINT64_MAX && frame_starts(bar, bar_len, scanout, &s))
		at = scanout;
	for (uint64_t off = 0; at == UINT64_MAX && off < bar_len; off += PAGE)
		if (frame_starts(bar, bar_len, off, &s))
			at = off;
	if (at == UINT64_MAX) {
		printf("bochs.pattern=not-found\n");
	} else {
		wrong = frame_wrong(bar, at, &s);
		printf("bochs.pattern-offset=0x%llx\n", (unsigned long long)at);
		printf("bochs.pattern-wrong=%llu\n", (unsigned long long)wrong);
		printf("bochs.pattern=%s\n", wrong ? "mismatch" : "ok");
	}
	printf("bochs.scanout=%s\n", scanout == UINT64_MAX ? "unknown" :
	       at == scanout ? "match" : "elsewhere");
	close(fd);   /* only now: see step 2 */
	ok = at != UINT64_MAX && !wrong && at == scanout;
	printf("bochstest=%s\n", ok ? "ok" : "failed");
	return ok ? 0 : 1;
}
