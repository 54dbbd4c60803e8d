/* Guest-side check of QEMU's "edu" test device (1234:11e8) passed through
 * by --vfio (tests/guest/vfio.sh). It finds the device in sysfs, maps its
 * BAR 0 through resource0, and exercises what the edu specification
 * offers: the identification register, the liveness register (reads back
 * the inverse of what was written), the factorial unit, a DMA round trip
 * between guest RAM and the device's internal buffer, with guest physical
 * addresses taken from /proc/self/pagemap, and two MSIs raised through
 * the interrupt registers (see msi_check). It prints key=value lines
 * (device=, id=, liveness=, factorial=, dma=, msi=, msi.*=) and exits 0
 * when every check passed. Built static by tools/mkguest; runs as root.
 *
 *   edutest            the checks above
 *   edutest bench      instead, the VFIO row of tools/bench
 *                      (tests/guest/vfiobench.sh), two measures:
 *
 *   BENCH-VFIO mmio ns=N.N reads=N batches=N.N,...
 *       one 32-bit read of edu's identification register: the median of
 *       BENCH_BATCHES batches of about 0.3 s each, per read
 *   BENCH-VFIO msi us=N.N rounds=N min=N.N max=N.N poll_us=N.N
 *       the median round of: raise edu's interrupt, then read the guest's
 *       count of its vector (/proc/interrupts) until the message is
 *       counted, then acknowledge it; poll_us is what one read of the
 *       count costs, so the rounds' floor
 *
 * or "BENCH-VFIO-ERROR mmio|msi REASON" and exit status 1. */
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
#define EDU_IRQ_STATUS    0x24
#define EDU_IRQ_RAISE     0x60  /* ORs the value into the status, interrupts */
#define EDU_IRQ_ACK       0x64  /* clears the value's bits from the status */
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
#define PCI_STATUS        0x06
#define  PCI_STATUS_CAP_LIST 0x0010
#define PCI_CAPABILITY_LIST 0x34
#define PCI_CAP_ID_MSI    0x05
#define MSI_CONTROL       2     /* offsets in the MSI capability */
#define  MSI_CONTROL_ENABLE 0x0001
#define  MSI_CONTROL_MME    0x0070
#define  MSI_CONTROL_64BIT  0x0080
#define MSI_ADDRESS_LO    4
#define MSI_ADDRESS_HI    8
#define MSI_DATA_32       8
#define MSI_DATA_64       12
/* An x86 MSI: the local APIC's address with the destination APIC ID in
 * bits 19:12 (physical mode), data = the vector (fixed, edge). */
#define MSI_ADDRESS_BASE  0xfee00000u
/* The vector edu's messages ask for: the guest kernel's
 * POSTED_INTR_VECTOR. Its handler only acknowledges and counts, in
 * /proc/interrupts' "PIN" line; the kernel uses the vector when it is
 * itself a KVM host with posted interrupts, which this guest never is, so
 * that count moves only with edu's messages. */
#define MSI_VECTOR        0xf2
#define MSI_RAISED_1      0x00010001u  /* what each raise ORs into the status */
#define MSI_RAISED_2      0x00020002u
#define WAIT_NS           (2ll * 1000 * 1000 * 1000)
#define MSI_WAIT_NS       (5ll * 1000 * 1000 * 1000)
#define MSI_SETTLE_NS     (200ll * 1000 * 1000)

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

/* ---- MSI ---- */

/* Why user space programs the MSI capability itself: the guest kernel has
 * no driver for edu, and none of its ways to hand a device's interrupts to
 * user space takes MSI here (Debian builds vfio without its no-IOMMU mode,
 * the guest has no IOMMU for vfio, and uio_pci_generic knows only INTx).
 * What gvmm must do is the same either way: follow the guest's writes to
 * the emulated capability, enable MSI at VFIO and route its eventfd as a
 * KVM irqfd to the guest's message. */

static int config_fd = -1;

static int cfg_read(unsigned off, void *buf, size_t len)
{
	return pread(config_fd, buf, len, off) == (ssize_t)len ? 0 : -1;
}

static int cfg_write(unsigned off, const void *buf, size_t len)
{
	return pwrite(config_fd, buf, len, off) == (ssize_t)len ? 0 : -1;
}

/* The offset of the MSI capability in config space; 0 when there is none. */
static unsigned find_msi_cap(void)
{
	uint16_t status;
	uint8_t at, hdr[2];

	if (cfg_read(PCI_STATUS, &status, 2) < 0 || !(status & PCI_STATUS_CAP_LIST) ||
	    cfg_read(PCI_CAPABILITY_LIST, &at, 1) < 0)
		return 0;
	/* At most 48 capabilities fit in the 192 bytes after the header. */
	for (int n = 0; n < 48 && at >= 0x40; n++) {
		at &= 0xfc;
		if (cfg_read(at, hdr, 2) < 0)
			return 0;
		if (hdr[0] == PCI_CAP_ID_MSI)
			return at;
		at = hdr[1];
	}
	return 0;
}

/* The guest's count of POSTED_INTR_VECTOR interrupts, all CPUs together;
 * -1 when /proc/interrupts has no such line. */
static long long pin_count(void)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[4096];
	long long sum = -1;

	if (!f)
		return -1;
	while (sum < 0 && fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		while (*p == ' ')
			p++;
		if (strncmp(p, "PIN:", 4))
			continue;
		sum = 0;
		p += 4;
		/* One count per online CPU, then the description. */
		for (;;) {
			long long v = strtoll(p, &end, 10);

			if (end == p)
				break;
			sum += v;
			p = end;
		}
	}
	fclose(f);
	return sum;
}

/* The APIC ID of the first CPU in /proc/cpuinfo; -1 when not listed. */
static long first_apic_id(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	long id = -1;

	if (!f)
		return -1;
	while (id < 0 && fgets(line, sizeof(line), f))
		if (!strncmp(line, "apicid", 6) && strchr(line, ':'))
			id = strtol(strchr(line, ':') + 1, NULL, 10);
	fclose(f);
	return id;
}

static void sleep_ns(long long ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000ll, .tv_nsec = ns % 1000000000ll };

	nanosleep(&ts, NULL);
}

/* Waits, bounded, until the count reaches want; returns the last count. */
static long long wait_pin_count(long long want)
{
	int64_t deadline = now_ns() + MSI_WAIT_NS;
	long long n = pin_count();

	while (n < want && now_ns() < deadline) {
		sleep_ns(10 * 1000 * 1000);
		n = pin_count();
	}
	return n;
}

/* Points edu's MSI at the first CPU with MSI_VECTOR and turns it on, or
 * off again (on = false). Returns NULL or why it could not. */
static const char *msi_program(unsigned cap, bool on, long apic_id)
{
	uint16_t control, data = MSI_VECTOR;
	uint32_t lo = MSI_ADDRESS_BASE | (uint32_t)apic_id << 12, hi = 0;

	if (cfg_read(cap + MSI_CONTROL, &control, 2) < 0)
		return "cannot read the MSI control register";
	if (!on) {
		control &= ~MSI_CONTROL_ENABLE;
		return cfg_write(cap + MSI_CONTROL, &control, 2) < 0 ?
		       "cannot turn MSI off" : NULL;
	}
	/* The message first, the enable bit last: gvmm routes the message
	 * that the capability holds when MSI is turned on. One vector. */
	if (cfg_write(cap + MSI_ADDRESS_LO, &lo, 4) < 0 ||
	    (control & MSI_CONTROL_64BIT && cfg_write(cap + MSI_ADDRESS_HI, &hi, 4) < 0) ||
	    cfg_write(cap + (control & MSI_CONTROL_64BIT ? MSI_DATA_64 : MSI_DATA_32),
		      &data, 2) < 0)
		return "cannot write the MSI message";
	control = (uint16_t)((control & ~MSI_CONTROL_MME) | MSI_CONTROL_ENABLE);
	if (cfg_write(cap + MSI_CONTROL, &control, 2) < 0 ||
	    cfg_read(cap + MSI_CONTROL, &control, 2) < 0)
		return "cannot write the MSI control register";
	if (!(control & MSI_CONTROL_ENABLE))
		return "the MSI enable bit does not stay set";
	return NULL;
}

/* Raises edu's interrupt with value raised and waits for its message to
 * make the count reach want; prints msi.NAME=ok|timeout and
 * msi.NAME.status, edu's interrupt status while it was pending (raised,
 * as the one before was acknowledged). Acknowledges it. */
static bool msi_raise_one(const char *name, uint32_t raised, long long want)
{
	long long n;
	uint32_t status;

	wr32(EDU_IRQ_RAISE, raised);
	n = wait_pin_count(want);
	status = rd32(EDU_IRQ_STATUS);
	wr32(EDU_IRQ_ACK, raised);
	printf("msi.%s=%s\n", name, n >= want ? "ok" : "timeout");
	printf("msi.%s.status=0x%08x\n", name, status);
	return n >= want && status == raised;
}

/* Two MSIs from edu, each counted once by the guest. Returns the number
 * of failures (0 or 1); a guest kernel without the counter is no failure
 * of gvmm's: it says msi=unsupported:WHY, which the host skips. */
static int msi_check(const char *dir)
{
	char path[600];
	const char *why;
	long long before, after;
	long apic_id;
	unsigned cap;
	bool ok;

	snprintf(path, sizeof(path), "%s/config", dir);
	config_fd = open(path, O_RDWR);
	if (config_fd < 0) {
		printf("msi=setup-failed:cannot open the config space\n");
		return 1;
	}
	before = pin_count();
	if (before < 0) {
		printf("msi=unsupported:the guest kernel has no PIN line in /proc/interrupts "
		       "(built without KVM), so it cannot count the test vector\n");
		return 0;
	}
	cap = find_msi_cap();
	if (!cap) {
		printf("msi=setup-failed:no MSI capability in edu's config space\n");
		return 1;
	}
	apic_id = first_apic_id();
	if (apic_id < 0 || apic_id > 255) {
		printf("msi=setup-failed:no APIC ID below 256 in /proc/cpuinfo (%ld)\n", apic_id);
		return 1;
	}
	printf("msi.capability=0x%02x\n", cap);
	/* Nothing may be pending from before: it would be sent at once. */
	wr32(EDU_IRQ_ACK, 0xffffffffu);
	why = msi_program(cap, true, apic_id);
	if (why) {
		printf("msi=setup-failed:%s\n", why);
		return 1;
	}
	ok = msi_raise_one("first", MSI_RAISED_1, before + 1);
	ok = msi_raise_one("second", MSI_RAISED_2, before + 2) && ok;
	/* A message sent twice would show up a little later. */
	sleep_ns(MSI_SETTLE_NS);
	after = pin_count();
	printf("msi.count=%lld\n", after - before);
	ok = ok && after - before == 2;
	why = msi_program(cap, false, apic_id);
	if (why)
		printf("msi.off=%s\n", why);
	printf("msi=%s\n", ok ? "ok" : "failed");
	close(config_fd);
	return ok ? 0 : 1;
}

/* ---- The bench (edutest bench) ---- */

#define BENCH_BATCHES     5
#define BENCH_BATCH_NS    (300ll * 1000 * 1000)
#define BENCH_MSI_ROUNDS  200
#define BENCH_MSI_NS      (5ll * 1000 * 1000 * 1000)  /* bounds all the rounds */

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int64_t time_reads(uint64_t n)
{
	int64_t t = now_ns();
	uint32_t sink = 0;

	for (uint64_t i = 0; i < n; i++)
		sink ^= rd32(EDU_ID);
	t = now_ns() - t;
	return sink == 0x5a5a5a5a ? t + 1 : t; /* the reads may not be dropped */
}

static int bench_mmio(void)
{
	double per_read[BENCH_BATCHES];
	char list[BENCH_BATCHES * 16] = "";
	uint64_t n = 16;
	int64_t t;

	/* Calibration: double until a batch takes a tenth of its time. */
	while ((t = time_reads(n)) < BENCH_BATCH_NS / 10 && n < (1ull << 40))
		n *= 2;
	n = (uint64_t)((double)n * BENCH_BATCH_NS / (double)(t > 0 ? t : 1));
	if (!n)
		n = 1;
	for (int b = 0; b < BENCH_BATCHES; b++) {
		per_read[b] = (double)time_reads(n) / (double)n;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%.1f", b ? "," : "",
			 per_read[b]);
	}
	qsort(per_read, BENCH_BATCHES, sizeof(per_read[0]), compare_doubles);
	printf("BENCH-VFIO mmio ns=%.1f reads=%llu batches=%s\n", per_read[BENCH_BATCHES / 2],
	       (unsigned long long)n, list);
	return 0;
}

static int bench_msi(const char *dir)
{
	double rounds[BENCH_MSI_ROUNDS], poll_us;
	int64_t start, deadline, t;
	long long count;
	const char *why;
	char path[600];
	long apic_id;
	unsigned cap;
	int n = 0;

	snprintf(path, sizeof(path), "%s/config", dir);
	config_fd = open(path, O_RDWR);
	if (config_fd < 0 || pin_count() < 0 || !(cap = find_msi_cap()) ||
	    (apic_id = first_apic_id()) < 0 || apic_id > 255) {
		printf("BENCH-VFIO-ERROR msi no config space, MSI capability, APIC ID or PIN count\n");
		return 1;
	}
	wr32(EDU_IRQ_ACK, 0xffffffffu);
	why = msi_program(cap, true, apic_id);
	if (why) {
		printf("BENCH-VFIO-ERROR msi %s\n", why);
		return 1;
	}
	/* The floor: one read of the count. */
	t = now_ns();
	for (int i = 0; i < 20; i++)
		pin_count();
	poll_us = (double)(now_ns() - t) / 20 / 1000;

	start = now_ns();
	deadline = start + BENCH_MSI_NS;
	while (n < BENCH_MSI_ROUNDS && now_ns() < deadline) {
		long long before = pin_count();

		t = now_ns();
		wr32(EDU_IRQ_RAISE, MSI_RAISED_1);
		do
			count = pin_count();
		while (count <= before && now_ns() < deadline);
		rounds[n] = (double)(now_ns() - t) / 1000;
		wr32(EDU_IRQ_ACK, MSI_RAISED_1);
		if (count <= before)
			break;
		n++;
	}
	msi_program(cap, false, apic_id);
	if (n < 5) {
		printf("BENCH-VFIO-ERROR msi only %d messages were counted in %lld s\n", n,
		       BENCH_MSI_NS / 1000000000ll);
		return 1;
	}
	qsort(rounds, (size_t)n, sizeof(rounds[0]), compare_doubles);
	printf("BENCH-VFIO msi us=%.1f rounds=%d min=%.1f max=%.1f poll_us=%.1f\n", rounds[n / 2],
	       n, rounds[0], rounds[n - 1], poll_us);
	return 0;
}

int main(int argc, char **argv)
{
	char dir[512], path[600];
	uint8_t *out, *back;
	uint64_t out_pa, back_pa;
	uint32_t id, live;
	int fd, failures = 0;
	bool bench = argc > 1 && !strcmp(argv[1], "bench");

	/* Each line out at once: what was found before a step that kills the
	 * program (a BAR access can) still reaches the console. */
	setvbuf(stdout, NULL, _IOLBF, 0);
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
	if (bench) {
		if (id != EDU_ID_VALUE) {
			printf("BENCH-VFIO-ERROR mmio edu's identification reads 0x%08x\n", id);
			return 1;
		}
		failures = bench_mmio();
		failures += bench_msi(dir);
		return failures ? 1 : 0;
	}

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
	failures += msi_check(dir);
	printf("edutest=%s\n", failures ? "failed" : "ok");
	return failures ? 1 : 0;
}
