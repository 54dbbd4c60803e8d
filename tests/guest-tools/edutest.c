/* Guest-side check of QEMU's "edu" test device (1234:11e8) passed through
 * by --vfio (tests/guest/vfio.sh). It finds the device in sysfs, maps its
 * BAR 0 through resource0, and exercises what the edu specification
 * offers: the identification register, the liveness register (reads back
 * the inverse of what was written), the factorial unit, and a DMA round
 * trip between guest RAM and the device's internal buffer, with guest
 * physical addresses taken from /proc/self/pagemap. It prints key=value
 * lines (device=, id=, liveness=, factorial=, dma=) and exits 0 when
 * every check passed. Built static by tools/mkguest; runs as root. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EDU_VENDOR        0x1234
#define EDU_DEVICE        0x11e8
#define EDU_BAR_SIZE      (1 << 20)
#define EDU_ID            0x00
#define EDU_ID_VALUE      0x010000edu
#define EDU_LIVENESS      0x04
#define EDU_FACTORIAL     0x08
#define EDU_STATUS        0x20
#define  EDU_STATUS_BUSY    0x01
#define EDU_DMA_SRC       0x80
#define EDU_DMA_DST       0x88
#define EDU_DMA_COUNT     0x90
#define EDU_DMA_CMD       0x98
#define  EDU_DMA_START      0x1
#define  EDU_DMA_TO_RAM     0x2   /* else RAM to the device */
#define EDU_BUFFER        0x40000
/* Well inside the 4 KiB buffer: a transfer reaching its last byte trips
 * a range check in some QEMU versions. */
#define DMA_BYTES         1024
#define PCI_COMMAND       0x04
#define PCI_COMMAND_MEM_MASTER 0x0006
#define WAIT_NS           (2ll * 1000 * 1000 * 1000)

static volatile uint8_t *bar;

static uint32_t rd32(unsigned off) { return *(volatile uint32_t *)(bar + off); }
static void wr32(unsigned off, uint32_t v) { *(volatile uint32_t *)(bar + off) = v; }
static void wr64(unsigned off, uint64_t v) { *(volatile uint64_t *)(bar + off) = v; }

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static unsigned read_hex_file(const char *dir, const char *name)
{
	char path[512];
	unsigned v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%x", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static int find_edu(char *dir, size_t dirlen)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int found = -1;

	if (!d)
		return -1;
	while (found < 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, dirlen, "/sys/bus/pci/devices/%s", e->d_name);
		if (read_hex_file(dir, "vendor") == EDU_VENDOR &&
		    read_hex_file(dir, "device") == EDU_DEVICE)
			found = 0;
	}
	closedir(d);
	return found;
}

/* Memory decode and bus mastering on, through the config file. */
static int enable_device(const char *dir)
{
	char path[600];
	uint16_t cmd;
	int fd, ok;

	snprintf(path, sizeof(path), "%s/config", dir);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -1;
	ok = pread(fd, &cmd, 2, PCI_COMMAND) == 2;
	cmd |= PCI_COMMAND_MEM_MASTER;
	ok = ok && pwrite(fd, &cmd, 2, PCI_COMMAND) == 2;
	close(fd);
	return ok ? 0 : -1;
}

/* The guest physical address of the page holding p (locked in RAM). */
static uint64_t guest_phys(const void *p)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	off_t at = (off_t)((uintptr_t)p / (uintptr_t)page * sizeof(entry));

	if (fd < 0)
		return 0;
	if (pread(fd, &entry, sizeof(entry), at) != sizeof(entry))
		entry = 0;
	close(fd);
	if (!(entry & (1ull << 63)))
		return 0;
	return (entry & ((1ull << 55) - 1)) * (uint64_t)page + (uintptr_t)p % (uintptr_t)page;
}

static int wait_clear(unsigned off, uint32_t bits)
{
	int64_t deadline = now_ns() + WAIT_NS;

	while (rd32(off) & bits)
		if (now_ns() > deadline)
			return -1;
	return 0;
}

static int dma(uint64_t src, uint64_t dst, uint32_t cmd)
{
	wr64(EDU_DMA_SRC, src);
	wr64(EDU_DMA_DST, dst);
	wr64(EDU_DMA_COUNT, DMA_BYTES);
	wr64(EDU_DMA_CMD, cmd | EDU_DMA_START);
	return wait_clear(EDU_DMA_CMD, EDU_DMA_START);
}

int main(void)
{
	char dir[512], path[600];
	uint8_t *out, *back;
	uint64_t out_pa, back_pa;
	uint32_t id, live;
	int fd, failures = 0;

	if (find_edu(dir, sizeof(dir)) < 0) {
		printf("device=missing\n");
		return 1;
	}
	printf("device=%s\n", strrchr(dir, '/') + 1);
	if (enable_device(dir) < 0)
		printf("enable=failed\n");
	snprintf(path, sizeof(path), "%s/resource0", dir);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0) {
		printf("bar=cannot-open\n");
		return 1;
	}
	bar = mmap(NULL, EDU_BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (bar == MAP_FAILED) {
		printf("bar=cannot-map\n");
		return 1;
	}

	id = rd32(EDU_ID);
	printf("id=0x%08x\n", id);
	failures += id != EDU_ID_VALUE;

	wr32(EDU_LIVENESS, 0x12345678);
	live = rd32(EDU_LIVENESS);
	printf("liveness=%s\n", live == ~0x12345678u ? "ok" : "wrong");
	failures += live != ~0x12345678u;

	wr32(EDU_FACTORIAL, 10);
	if (wait_clear(EDU_STATUS, EDU_STATUS_BUSY) < 0) {
		printf("factorial=timeout\n");
		failures++;
	} else {
		uint32_t f = rd32(EDU_FACTORIAL);

		printf("factorial=%u\n", f);
		failures += f != 3628800;
	}

	out = aligned_alloc(4096, 4096);
	back = aligned_alloc(4096, 4096);
	if (!out || !back || mlock(out, 4096) || mlock(back, 4096)) {
		printf("dma=no-memory\n");
		return 1;
	}
	for (int i = 0; i < DMA_BYTES; i++)
		out[i] = (uint8_t)(i * 7 + 3);
	memset(back, 0, 4096);
	out_pa = guest_phys(out);
	back_pa = guest_phys(back);
	if (!out_pa || !back_pa) {
		printf("dma=no-pagemap\n");
		failures++;
	} else if (dma(out_pa, EDU_BUFFER, 0) < 0 ||
		   dma(EDU_BUFFER, back_pa, EDU_DMA_TO_RAM) < 0) {
		printf("dma=timeout\n");
		failures++;
	} else {
		bool same = !memcmp(out, back, DMA_BYTES);

		printf("dma=%s\n", same ? "ok" : "mismatch");
		failures += !same;
	}
	printf("edutest=%s\n", failures ? "failed" : "ok");
	return failures ? 1 : 0;
}
