/* VM exit round trips, for the exits row of tools/bench
 * (tests/guest/exitbench.sh): how long one guest access takes that the
 * VMM answers in its own userspace, by port I/O and by MMIO, timed in the
 * guest with CLOCK_MONOTONIC around many accesses. Built static by
 * tools/mkguest; runs as root.
 *
 *   exitbench [-t BATCH_MS] [BDF]
 *
 * PIO: a read of COM1's scratch register (0x3ff), through /dev/port (see
 * pio_setup). Both gvmm
 * (devices/pc/uart_16550.c) and QEMU keep it as a plain byte of storage,
 * so a read changes nothing and costs the device model next to nothing:
 * what is timed is the exit itself. The line status register would do
 * too, but reading it clears its error bits.
 *
 * MMIO: a 32-bit read of device_feature_select in the common
 * configuration structure of a virtio 1.x PCI function (vendor 0x1af4;
 * the first one in bus order with that structure, or BDF). Where that
 * structure lives is the VMM's choice (gvmm: BAR 0, QEMU: BAR 4 beside
 * the legacy I/O BAR 0), so it is found as a driver finds it: the
 * vendor-specific capability of cfg_type 1 in the function's capability
 * list gives the BAR and the offset. The function is taken from its
 * driver first, since the kernel refuses mmap of a BAR a driver holds
 * (CONFIG_IO_STRICT_DEVMEM, as Debian builds it); the guest powers off
 * after the benchmark, so it is not given back.
 *
 * Each measure: the iterations of one batch are calibrated to take about
 * BATCH_MS (default 500), then BATCHES batches run and the median of
 * their time per access is reported:
 *
 *   BENCH-EXITS pio ns=N.N iterations=N batches=N.N,N.N,... port=0x3ff
 *   BENCH-EXITS mmio ns=N.N iterations=N batches=... device=BDF bar=N offset=0xN
 *
 * or "BENCH-EXITS-ERROR pio|mmio REASON" when it could not be measured,
 * and then exit status 1. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCHES                5
#define DEFAULT_BATCH_MS       500
/* An exit to the VMM's userspace and back costs far more than this on
 * any hardware; a faster access did not leave the guest. */
#define MIN_EXIT_NS            100.0
#define MAX_ITERATIONS         (1ull << 32)

#define COM1_SCR               0x3ff

#define VIRTIO_PCI_VENDOR      0x1af4
#define PCI_STATUS             0x06
#define  PCI_STATUS_CAP_LIST     0x10
#define PCI_COMMAND            0x04
#define  PCI_COMMAND_MEMORY      0x0002
#define PCI_CAPABILITY_LIST    0x34
#define PCI_CAP_ID_VNDR        0x09
/* struct virtio_pci_cap: id, next, cap_len, cfg_type, bar, id, padding,
 * le32 offset, le32 length. */
#define VIRTIO_CAP_LEN         16
#define VIRTIO_CAP_CFG_TYPE    3
#define VIRTIO_CAP_BAR         4
#define VIRTIO_CAP_OFFSET      8
#define VIRTIO_CAP_LENGTH      12
#define VIRTIO_PCI_CAP_COMMON_CFG 1
/* Fields of struct virtio_pci_common_cfg. */
#define COMMON_DFSELECT        0x00
#define COMMON_NUM_QUEUES      0x12
#define COMMON_MIN_LEN         0x14
/* A capability list longer than this loops. */
#define MAX_CAPS               48

#define PCI_DEVICES            "/sys/bus/pci/devices"
#define PATH_LEN               512
#define WHY_LEN                256

/* Why a measure could not be made, for its BENCH-EXITS-ERROR line. */
static char why[WHY_LEN];

static bool failed(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return false;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- Timing ------------------------------------------------------------------ */

/* A loop of N accesses of one kind; the loop is inside, so that the call
 * is paid once per batch. */
typedef uint32_t access_loop(uint64_t n);

/* Folded into by every loop and printed nowhere: the values read must
 * go somewhere. */
static volatile uint32_t sink;

struct result {
	double median_ns;                 /* per access, of the batches' */
	uint64_t iterations;              /* per batch */
	double batch_ns[BATCHES];         /* per access, in each batch */
};

static double batch_time_ns(access_loop *loop, uint64_t n)
{
	uint64_t start = now_ns();

	sink ^= loop(n);
	return (double)(now_ns() - start);
}

/* Iterations for one batch of about batch_ns: doubled until a run takes a
 * quarter of that, then scaled up from that run's rate. */
static uint64_t calibrate(access_loop *loop, double batch_ns)
{
	uint64_t n = 16;
	double took;

	for (;;) {
		took = batch_time_ns(loop, n);
		if (took >= batch_ns / 4 || n >= MAX_ITERATIONS / 2)
			break;
		n *= 2;
	}
	if (took <= 0)
		return n;
	double scaled = (double)n * batch_ns / took;
	if (scaled < 1)
		return 1;
	return scaled > (double)MAX_ITERATIONS ? MAX_ITERATIONS : (uint64_t)scaled;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct result measure(access_loop *loop, double batch_ns)
{
	struct result r = { .iterations = calibrate(loop, batch_ns) };
	double sorted[BATCHES];

	for (int i = 0; i < BATCHES; i++)
		r.batch_ns[i] = batch_time_ns(loop, r.iterations) / (double)r.iterations;
	memcpy(sorted, r.batch_ns, sizeof(sorted));
	qsort(sorted, BATCHES, sizeof(sorted[0]), compare_doubles);
	r.median_ns = sorted[BATCHES / 2];
	return r;
}

/* "ns=N.N iterations=N batches=N.N,..." of a result; false (why set) when
 * its accesses were too fast to have left the guest. */
static bool format_result(const struct result *r, char *text, size_t len)
{
	int used = snprintf(text, len, "ns=%.1f iterations=%llu batches=", r->median_ns,
			    (unsigned long long)r->iterations);

	for (int i = 0; i < BATCHES && used > 0 && (size_t)used < len; i++)
		used += snprintf(text + used, len - (size_t)used, "%s%.1f", i ? "," : "",
				 r->batch_ns[i]);
	if (r->median_ns < MIN_EXIT_NS)
		return failed("%.1f ns per access: too fast for an exit to the VMM, so the access was not trapped",
			      r->median_ns);
	return true;
}

/* ---- PIO --------------------------------------------------------------------- */

/* The port is read and written through /dev/port, so the kernel does the
 * inb and outb. A user-space inb after ioperm() took a general protection
 * fault in the nested test host under QEMU (not under gvmm), so it could
 * not time both; the kernel's path works in both and adds a system call
 * per access, the same for both VMMs (in the nested rig it is no small
 * part: gvmm's round trip went from 64 to 114 us), so the PIO ratio says
 * less than the MMIO one. */
static int port_fd = -1;

static uint8_t port_read(void)
{
	uint8_t value = 0;

	if (pread(port_fd, &value, 1, COM1_SCR) != 1)
		return 0;
	return value;
}

static void port_write(uint8_t value)
{
	if (pwrite(port_fd, &value, 1, COM1_SCR) != 1) {
		/* Seen by pio_setup's read-back check. */
	}
}

static uint32_t pio_loop(uint64_t n)
{
	uint32_t folded = 0;

	for (uint64_t i = 0; i < n; i++)
		folded += port_read();
	return folded;
}

/* Access to the port, and proof that a register answers there: a port
 * nothing emulates reads as the same value whatever was written. */
static bool pio_setup(void)
{
	uint8_t saved, first, second;

	port_fd = open("/dev/port", O_RDWR | O_CLOEXEC);
	if (port_fd < 0)
		return failed("/dev/port: %s", strerror(errno));
	saved = port_read();
	port_write(0x5a);
	first = port_read();
	port_write(0xa5);
	second = port_read();
	port_write(saved);
	if (first != 0x5a || second != 0xa5)
		return failed("port 0x%x does not keep what is written (0x5a read 0x%02x, 0xa5 read 0x%02x): no 16550 scratch register at COM1",
			      COM1_SCR, first, second);
	return true;
}

/* ---- MMIO: the common configuration of a virtio-pci function ----------------- */

static const volatile uint8_t *common_cfg;

static uint32_t mmio_loop(uint64_t n)
{
	const volatile uint32_t *dfselect = (const volatile uint32_t *)(common_cfg + COMMON_DFSELECT);
	uint32_t folded = 0;

	for (uint64_t i = 0; i < n; i++)
		folded += *dfselect;
	return folded;
}

/* Where a function's common configuration structure lives. */
struct common_location {
	char bdf[64];
	unsigned bar;
	uint32_t offset, length;
};

static unsigned long read_hex_file(const char *path)
{
	char text[32] = "";
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		if (read(fd, text, sizeof(text) - 1) < 0)
			text[0] = 0;
		close(fd);
	}
	return strtoul(text, NULL, 16);
}

/* Config space bytes at off, little-endian; false when it cannot be read. */
static bool config_read(int fd, unsigned off, unsigned size, uint32_t *value)
{
	uint8_t bytes[4] = { 0 };

	if (pread(fd, bytes, size, off) != (ssize_t)size)
		return false;
	*value = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
		 (uint32_t)bytes[3] << 24;
	return true;
}

/* Walks the capability list of function bdf for the first virtio
 * capability of cfg_type COMMON_CFG; false (why set) when there is none. */
static bool find_common_cfg(const char *bdf, struct common_location *at)
{
	char path[PATH_LEN];
	uint32_t status, pos, id, type, cap_len, bar, offset, length;
	bool found = false;
	int fd, caps = 0;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return failed("%s: %s", path, strerror(errno));
	if (!config_read(fd, PCI_STATUS, 2, &status) || !(status & PCI_STATUS_CAP_LIST) ||
	    !config_read(fd, PCI_CAPABILITY_LIST, 1, &pos)) {
		close(fd);
		return failed("%s has no capability list (a legacy-only virtio device?)", bdf);
	}
	for (pos &= 0xfc; pos && caps < MAX_CAPS; caps++) {
		if (!config_read(fd, pos, 1, &id))
			break;
		if (id == PCI_CAP_ID_VNDR && config_read(fd, pos + 2, 1, &cap_len) &&
		    cap_len >= VIRTIO_CAP_LEN && config_read(fd, pos + VIRTIO_CAP_CFG_TYPE, 1, &type) &&
		    type == VIRTIO_PCI_CAP_COMMON_CFG && config_read(fd, pos + VIRTIO_CAP_BAR, 1, &bar) &&
		    config_read(fd, pos + VIRTIO_CAP_OFFSET, 4, &offset) &&
		    config_read(fd, pos + VIRTIO_CAP_LENGTH, 4, &length)) {
			snprintf(at->bdf, sizeof(at->bdf), "%s", bdf);
			at->bar = bar;
			at->offset = offset;
			at->length = length;
			found = true;
			break;
		}
		if (!config_read(fd, pos + 1, 1, &pos))
			break;
		pos &= 0xfc;
	}
	close(fd);
	if (!found)
		return failed("%s has no virtio common configuration capability (cfg_type 1)", bdf);
	if (at->bar > 5)
		return failed("%s: the common configuration capability names BAR %u", bdf, at->bar);
	if (at->length < COMMON_MIN_LEN)
		return failed("%s: the common configuration is %u bytes, too short", bdf, at->length);
	return true;
}

/* The first virtio PCI function, in bus order, with a common
 * configuration capability. */
static bool find_virtio_function(struct common_location *at)
{
	struct dirent **names;
	char path[PATH_LEN];
	int count = scandir(PCI_DEVICES, &names, NULL, alphasort);
	bool found = false;

	if (count < 0)
		return failed("%s: %s", PCI_DEVICES, strerror(errno));
	failed("no virtio PCI function (vendor 0x%04x)", VIRTIO_PCI_VENDOR);
	for (int i = 0; i < count; i++) {
		if (!found && names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), PCI_DEVICES "/%s/vendor", names[i]->d_name);
			if (read_hex_file(path) == VIRTIO_PCI_VENDOR)
				found = find_common_cfg(names[i]->d_name, at);
		}
		free(names[i]);
	}
	free(names);
	return found;
}

static bool write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok;
}

/* Takes the function from its driver and makes sure the BARs decode (the
 * driver turns off only bus mastering as it lets go). */
static bool take_function(const char *bdf)
{
	char path[PATH_LEN];
	uint32_t command;
	uint8_t bytes[2];
	int fd;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver", bdf);
	if (access(path, F_OK) == 0) {
		snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver/unbind", bdf);
		if (!write_text(path, bdf))
			return failed("cannot unbind %s from its driver: %s", bdf, strerror(errno));
	}
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/config", bdf);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return failed("%s: %s", path, strerror(errno));
	if (!config_read(fd, PCI_COMMAND, 2, &command)) {
		close(fd);
		return failed("cannot read the command register of %s", bdf);
	}
	if (!(command & PCI_COMMAND_MEMORY)) {
		command |= PCI_COMMAND_MEMORY;
		bytes[0] = (uint8_t)command;
		bytes[1] = (uint8_t)(command >> 8);
		if (pwrite(fd, bytes, 2, PCI_COMMAND) != 2) {
			close(fd);
			return failed("cannot turn on memory decoding of %s: %s", bdf, strerror(errno));
		}
	}
	close(fd);
	return true;
}

/* Maps the BAR that holds the common configuration and checks that the
 * device answers there: num_queues of a virtio device is never 0, and a
 * BAR that does not decode reads all ones. */
static bool mmio_setup(const char *bdf_asked, struct common_location *at)
{
	char path[PATH_LEN];
	struct stat st;
	void *bar;
	uint16_t num_queues;
	int fd;

	if (bdf_asked ? !find_common_cfg(bdf_asked, at) : !find_virtio_function(at))
		return false;
	if (!take_function(at->bdf))
		return false;
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/resource%u", at->bdf, at->bar);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return failed("%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)at->offset + COMMON_MIN_LEN) {
		close(fd);
		return failed("%s: %lld bytes, too small for the common configuration at 0x%x", path,
			      (long long)st.st_size, at->offset);
	}
	bar = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (bar == MAP_FAILED)
		return failed("cannot mmap %s: %s", path, strerror(errno));
	common_cfg = (const volatile uint8_t *)bar + at->offset;
	num_queues = *(const volatile uint16_t *)(common_cfg + COMMON_NUM_QUEUES);
	if (num_queues == 0 || num_queues == 0xffff)
		return failed("%s BAR %u: num_queues reads 0x%04x: no virtio common configuration answers there",
			      at->bdf, at->bar, num_queues);
	return true;
}

/* ---- main -------------------------------------------------------------------- */

/* Times one kind of access whose setup succeeded (ready) and prints its
 * line, with where it went; false when there is no number. */
static bool report(const char *name, bool ready, access_loop *loop, double batch_ns,
		   const char *where)
{
	char text[WHY_LEN];
	struct result r;

	if (!ready) {
		printf("BENCH-EXITS-ERROR %s %s\n", name, why);
		return false;
	}
	r = measure(loop, batch_ns);
	if (!format_result(&r, text, sizeof(text))) {
		printf("BENCH-EXITS-ERROR %s %s (%s)\n", name, why, where);
		return false;
	}
	printf("BENCH-EXITS %s %s %s\n", name, text, where);
	return true;
}

static void usage(void)
{
	fprintf(stderr, "usage: exitbench [-t BATCH_MS] [BDF]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long batch_ms = DEFAULT_BATCH_MS;
	const char *bdf_asked = NULL;
	struct common_location at = { .bar = 0 };
	char where[WHY_LEN];
	bool ready, all_ok;
	char *end;
	int opt;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't')
			usage();
		batch_ms = strtol(optarg, &end, 10);
		if (*end || batch_ms <= 0 || batch_ms > 60000)
			usage();
	}
	if (argc - optind > 1)
		usage();
	if (optind < argc)
		bdf_asked = argv[optind];
	setvbuf(stdout, NULL, _IOLBF, 0);

	ready = pio_setup();
	snprintf(where, sizeof(where), "port=0x%x", COM1_SCR);
	all_ok = report("pio", ready, pio_loop, (double)batch_ms * 1e6, where);

	ready = mmio_setup(bdf_asked, &at);
	snprintf(where, sizeof(where), "device=%s bar=%u offset=0x%x", at.bdf, at.bar, at.offset);
	all_ok &= report("mmio", ready, mmio_loop, (double)batch_ms * 1e6, where);
	return all_ok ? 0 : 1;
}
