/* virtio-blk end to end without KVM: the device sits on a PCI bus, and
 * the test plays the guest driver through config space and BAR MMIO the
 * way virtio 1.2 (sections 3.1 and 4.1) describes: find the capabilities,
 * negotiate features, program MSI-X (through a fake router that records
 * each vector's eventfd), set up a queue in guest RAM, DRIVER_OK, then
 * queue requests and kick. The device serves them on its I/O thread
 * against a temporary image file. */
#include "check.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "../../devices/pci/pci.h"
#include "../../devices/block/virtio_blk.h"
#include "../../vmm/bus.h"
#include "../../vmm/guest_memory.h"
#include "../../vmm/io_thread.h"

#define RAM_SIZE     (16ull << 20)
#define DISK_SIZE    (4ull << 20)
#define QSIZE        16
#define DESC_GPA     0x10000ull
#define AVAIL_GPA    0x11000ull
#define USED_GPA     0x12000ull
#define HDR_GPA      0x20000ull
#define STATUS_GPA   0x20100ull
#define DATA_GPA     0x30000ull
#define DATA2_GPA    0x40000ull
#define SERIAL       "gvmm-serial-0123"

/* Common configuration offsets (virtio 1.2, 4.1.4.3). */
enum {
	DFSELECT = 0x00, DF = 0x04, GFSELECT = 0x08, GF = 0x0c, MSIX_CONFIG = 0x10,
	NUM_QUEUES = 0x12, STATUS = 0x14, Q_SELECT = 0x16, Q_SIZE = 0x18, Q_MSIX = 0x1a,
	Q_ENABLE = 0x1c, Q_NOFF = 0x1e, Q_DESC = 0x20, Q_DRIVER = 0x28, Q_DEVICE = 0x30,
};

struct rig {
	struct bus pio, mmio;
	struct pci_bus pb;
	struct guest_memory mem;
	struct io_thread io;
	struct virtio_blk blk;
	char dir[256], path[300];
	uint16_t bdf;
	uint64_t common, notify, device, msix_table;
	uint32_t notify_mult;
	uint16_t msix_cap;
	int vector_fd[8];        /* what the fake router was given, by vector */
	unsigned next_gsi;
	uint16_t qsize;
	uint16_t avail_idx, used_seen;
	bool buses_up, mem_up, io_up, up;
};

/* ---- the fake MSI router: remembers each vector's eventfd ---- */

static int fake_bind(void *ctx, uint64_t address, uint32_t data, int fd, unsigned *gsi)
{
	struct rig *r = ctx;

	(void)address;
	if (data < 8)
		r->vector_fd[data] = fd;
	*gsi = r->next_gsi++;
	return 0;
}

static int fake_update(void *ctx, unsigned gsi, uint64_t address, uint32_t data)
{
	(void)ctx;
	(void)gsi;
	(void)address;
	(void)data;
	return 0;
}

/* ---- guest access ---- */

static uint64_t mmio_read(struct rig *r, uint64_t addr, unsigned len)
{
	uint8_t d[8] = { 0 };
	uint64_t v = 0;

	bus_dispatch(&r->mmio, addr, d, len, false);
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

static void mmio_write(struct rig *r, uint64_t addr, uint64_t v, unsigned len)
{
	uint8_t d[8];

	for (unsigned i = 0; i < len; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	bus_dispatch(&r->mmio, addr, d, len, true);
}

static uint32_t cfg_read(struct rig *r, uint32_t off, unsigned len)
{
	return pci_bus_config_read(&r->pb, r->bdf, off, len);
}

static void put16(struct rig *r, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	CHECK_EQ(guest_memory_write(&r->mem, gpa, &v, 2), 0);
}

static uint16_t get16(struct rig *r, uint64_t gpa)
{
	uint16_t v = 0;

	CHECK_EQ(guest_memory_read(&r->mem, gpa, &v, 2), 0);
	return le16toh(v);
}

static uint32_t get32(struct rig *r, uint64_t gpa)
{
	uint32_t v = 0;

	CHECK_EQ(guest_memory_read(&r->mem, gpa, &v, 4), 0);
	return le32toh(v);
}

static uint8_t *ram(struct rig *r, uint64_t gpa, uint64_t len)
{
	return guest_memory_ptr(&r->mem, gpa, len);
}

/* ---- bring-up ---- */

static bool image_create(struct rig *r, uint8_t fill)
{
	const char *base = getenv("TMPDIR");
	static uint8_t block[4096];
	int fd;

	snprintf(r->dir, sizeof(r->dir), "%s/gvmm-vblk-XXXXXX", base && *base ? base : "/var/tmp");
	if (!mkdtemp(r->dir))
		return false;
	snprintf(r->path, sizeof(r->path), "%s/disk.img", r->dir);
	fd = open(r->path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0)
		return false;
	memset(block, fill, sizeof(block));
	for (uint64_t off = 0; off < DISK_SIZE; off += sizeof(block))
		if (pwrite(fd, block, sizeof(block), (off_t)off) != sizeof(block)) {
			close(fd);
			return false;
		}
	close(fd);
	return true;
}

/* Walks the capability list as a driver does, noting where the virtio
 * structures and the MSI-X table are. */
static void find_caps(struct rig *r)
{
	uint64_t bar = (cfg_read(r, PCI_BAR0, 4) & ~0xfull) |
		       (uint64_t)cfg_read(r, PCI_BAR0 + 4, 4) << 32;
	uint8_t at = (uint8_t)cfg_read(r, PCI_CAPABILITY_LIST, 1);

	for (unsigned n = 0; at && n < 48; n++, at = (uint8_t)cfg_read(r, at + 1u, 1)) {
		uint8_t id = (uint8_t)cfg_read(r, at, 1);

		if (id == PCI_CAP_ID_MSIX) {
			r->msix_cap = at;
			r->msix_table = bar + (cfg_read(r, at + 4u, 4) & ~7u);
		} else if (id == PCI_CAP_ID_VNDR) {
			uint8_t type = (uint8_t)cfg_read(r, at + 3u, 1);
			uint64_t where = bar + cfg_read(r, at + 8u, 4);

			CHECK_EQ(cfg_read(r, at + 4u, 1), 0);   /* in BAR 0 */
			if (type == 1)
				r->common = where;
			else if (type == 2) {
				r->notify = where;
				r->notify_mult = cfg_read(r, at + 16u, 4);
			} else if (type == 4)
				r->device = where;
		}
	}
	CHECK(r->common && r->notify && r->device && r->msix_cap);
}

static int rig_up(struct rig *r, const char *disk_option, unsigned nr_queues)
{
	const struct pci_windows win = {
		.io_start = 0xc000, .io_end = 0x10000,
		.mem32_start = 0xc0000000, .mem32_end = 0xe0000000,
	};
	struct virtio_pci_env env;
	struct virtio_blk_config cfg;
	char opt[512], err[512] = "";

	memset(r, 0, sizeof(*r));
	r->next_gsi = 24;
	for (unsigned v = 0; v < 8; v++)
		r->vector_fd[v] = -1;
	if (!image_create(r, 0x5a))
		return -1;
	bus_init(&r->pio, "pio");
	bus_init(&r->mmio, "mmio");
	CHECK_EQ(pci_bus_init(&r->pb, &r->pio, &r->mmio, 0xe0000000, 1 << 20, &win, NULL), 0);
	r->buses_up = true;
	if (guest_memory_create(&r->mem, RAM_SIZE, false, err, sizeof(err)))
		return -1;
	r->mem_up = true;
	if (io_thread_start(&r->io, "blk-test"))
		return -1;
	r->io_up = true;
	env = (struct virtio_pci_env){
		.mem = &r->mem, .vm_fd = -1,
		.router = { .bind = fake_bind, .update = fake_update, .ctx = r },
	};
	snprintf(opt, sizeof(opt), "%s%s", r->path, disk_option);
	CHECK_EQ(virtio_blk_parse_option(opt, &cfg, err, sizeof(err)), 0);
	if (virtio_blk_create(&r->blk, &cfg, nr_queues, &r->io, &env, err, sizeof(err))) {
		fprintf(stderr, "  virtio_blk_create: %s\n", err);
		return -1;
	}
	CHECK_EQ(pci_bus_add_device(&r->pb, &r->blk.transport.pci), 0);
	r->bdf = (uint16_t)(r->blk.transport.pci.slot << 3);
	r->up = true;
	find_caps(r);
	return 0;
}

static void rig_down(struct rig *r)
{
	if (r->up)
		virtio_blk_destroy(&r->blk);
	if (r->io_up)
		io_thread_stop(&r->io);
	if (r->mem_up)
		guest_memory_destroy(&r->mem);
	if (r->buses_up) {
		pci_bus_destroy(&r->pb);
		bus_destroy(&r->mmio);
		bus_destroy(&r->pio);
	}
	if (r->path[0])
		unlink(r->path);
	if (r->dir[0])
		rmdir(r->dir);
}

static uint64_t device_features(struct rig *r)
{
	uint64_t f;

	mmio_write(r, r->common + DFSELECT, 0, 4);
	f = mmio_read(r, r->common + DF, 4);
	mmio_write(r, r->common + DFSELECT, 1, 4);
	return f | mmio_read(r, r->common + DF, 4) << 32;
}

/* The driver's side of 3.1.1, with queue 0 on MSI-X vector 1. */
static bool driver_start(struct rig *r, uint64_t want)
{
	uint64_t f = device_features(r) & want;

	mmio_write(r, r->common + STATUS, 0, 1);
	mmio_write(r, r->common + STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	mmio_write(r, r->common + STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	mmio_write(r, r->common + GFSELECT, 0, 4);
	mmio_write(r, r->common + GF, (uint32_t)f, 4);
	mmio_write(r, r->common + GFSELECT, 1, 4);
	mmio_write(r, r->common + GF, f >> 32, 4);
	mmio_write(r, r->common + STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		   VIRTIO_STATUS_FEATURES_OK, 1);
	if (!(mmio_read(r, r->common + STATUS, 1) & VIRTIO_STATUS_FEATURES_OK))
		return false;

	/* MSI-X: vectors 0 (config) and 1 (queue 0), unmasked, then enable. */
	for (unsigned v = 0; v < 2; v++) {
		mmio_write(r, r->msix_table + 16 * v, 0xfee00000, 4);
		mmio_write(r, r->msix_table + 16 * v + 4, 0, 4);
		mmio_write(r, r->msix_table + 16 * v + 8, v, 4);
		mmio_write(r, r->msix_table + 16 * v + 12, 0, 4);
	}
	pci_bus_config_write(&r->pb, r->bdf, r->msix_cap + 2u, 0x8000, 2);
	mmio_write(r, r->common + MSIX_CONFIG, 0, 2);

	memset(ram(r, DESC_GPA, 0x3000), 0, 0x3000);
	r->avail_idx = r->used_seen = 0;
	mmio_write(r, r->common + Q_SELECT, 0, 2);
	mmio_write(r, r->common + Q_SIZE, r->qsize ? r->qsize : QSIZE, 2);
	mmio_write(r, r->common + Q_MSIX, 1, 2);
	mmio_write(r, r->common + Q_DESC, DESC_GPA, 8);
	mmio_write(r, r->common + Q_DRIVER, AVAIL_GPA, 8);
	mmio_write(r, r->common + Q_DEVICE, USED_GPA, 8);
	mmio_write(r, r->common + Q_ENABLE, 1, 2);
	mmio_write(r, r->common + STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, 1);
	return mmio_read(r, r->common + STATUS, 1) & VIRTIO_STATUS_DRIVER_OK;
}

static void put_desc(struct rig *r, uint16_t idx, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = {
		htole64(addr), htole32(len), htole16(flags), htole16(next) };

	CHECK_EQ(guest_memory_write(&r->mem, DESC_GPA + 16ull * idx, &d, sizeof(d)), 0);
}

/* Queues header | data | status as descriptors 0-2 (or 0 and 2 without
 * data) and kicks queue 0. */
static void submit(struct rig *r, uint32_t type, uint64_t sector, uint64_t data_gpa,
		   uint32_t len, bool device_writes_data)
{
	struct { uint32_t type, reserved; uint64_t sector; } hdr = {
		htole32(type), 0, htole64(sector) };

	CHECK_EQ(guest_memory_write(&r->mem, HDR_GPA, &hdr, sizeof(hdr)), 0);
	*ram(r, STATUS_GPA, 1) = 0xee;
	if (len) {
		put_desc(r, 0, HDR_GPA, sizeof(hdr), VIRTQ_DESC_F_NEXT, 1);
		put_desc(r, 1, data_gpa, len,
			 VIRTQ_DESC_F_NEXT | (device_writes_data ? VIRTQ_DESC_F_WRITE : 0), 2);
	} else {
		put_desc(r, 0, HDR_GPA, sizeof(hdr), VIRTQ_DESC_F_NEXT, 2);
	}
	put_desc(r, 2, STATUS_GPA, 1, VIRTQ_DESC_F_WRITE, 0);
	put16(r, AVAIL_GPA + 4 + 2ull * (r->avail_idx % QSIZE), 0);
	r->avail_idx++;
	put16(r, AVAIL_GPA + 2, r->avail_idx);
	mmio_write(r, r->notify + 0ull * r->notify_mult, 0, 2);
}

/* Slot i of a set of one-sector reads, each with its own indirect table:
 * where its table, header, status byte and buffer lie. */
#define IND_TABLES   0x50000ull
#define IND_HDRS     0x60000ull
#define IND_STATUSES 0x61000ull
#define IND_BUFS     0x70000ull

/* Writes the read of sector into slot i, its status byte 0xee, and points
 * descriptor i at its table (not yet offered). */
static void put_indirect_read(struct rig *r, uint16_t i, uint64_t sector)
{
	struct { uint32_t type, reserved; uint64_t sector; } hdr = {
		htole32(VIRTIO_BLK_T_IN), 0, htole64(sector) };
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } t[3] = {
		{ htole64(IND_HDRS + 16ull * i), htole32(16), htole16(VIRTQ_DESC_F_NEXT), htole16(1) },
		{ htole64(IND_BUFS + 512ull * i), htole32(512),
		  htole16(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE), htole16(2) },
		{ htole64(IND_STATUSES + i), htole32(1), htole16(VIRTQ_DESC_F_WRITE), 0 },
	};

	CHECK_EQ(guest_memory_write(&r->mem, IND_HDRS + 16ull * i, &hdr, sizeof(hdr)), 0);
	CHECK_EQ(guest_memory_write(&r->mem, IND_TABLES + 48ull * i, t, sizeof(t)), 0);
	*ram(r, IND_STATUSES + i, 1) = 0xee;
	put_desc(r, i, IND_TABLES + 48ull * i, sizeof(t), VIRTQ_DESC_F_INDIRECT, 0);
}

/* Waits for the next used entry; returns its length, or -1. */
static int64_t wait_used(struct rig *r)
{
	struct timespec pause = { 0, 1000000 };

	for (int i = 0; i < 5000; i++) {
		if (get16(r, USED_GPA + 2) != r->used_seen) {
			uint64_t elem = USED_GPA + 4 + 8ull * (r->used_seen % QSIZE);

			r->used_seen++;
			CHECK_EQ(get32(r, elem), 0);   /* the head we offered */
			return get32(r, elem + 4);
		}
		nanosleep(&pause, NULL);
	}
	return -1;
}

static uint8_t status_byte(struct rig *r)
{
	return *ram(r, STATUS_GPA, 1);
}

static bool interrupted(struct rig *r, unsigned vector)
{
	struct pollfd p = { .fd = r->vector_fd[vector], .events = POLLIN };
	uint64_t count;

	if (p.fd < 0 || poll(&p, 1, 2000) != 1)
		return false;
	return read(p.fd, &count, sizeof(count)) == sizeof(count) && count > 0;
}

static bool file_matches(struct rig *r, uint64_t off, const uint8_t *want, size_t len)
{
	uint8_t *got = malloc(len);
	int fd = open(r->path, O_RDONLY);
	bool same = got && fd >= 0 && pread(fd, got, len, (off_t)off) == (ssize_t)len &&
		    memcmp(got, want, len) == 0;

	if (fd >= 0)
		close(fd);
	free(got);
	return same;
}

#define ALL_FEATURES (~0ull)

/* ---- tests ---- */

static void test_parse_option(void)
{
	struct virtio_blk_config cfg;
	char err[256];

	CHECK_EQ(virtio_blk_parse_option("/tmp/a.img", &cfg, err, sizeof(err)), 0);
	CHECK(strcmp(cfg.path, "/tmp/a.img") == 0);
	CHECK(!cfg.read_only && !cfg.direct && cfg.serial[0] == 0);

	CHECK_EQ(virtio_blk_parse_option("d.img,ro,serial=abc,cache=none", &cfg, err,
					 sizeof(err)), 0);
	CHECK(strcmp(cfg.path, "d.img") == 0);
	CHECK(cfg.read_only && cfg.direct);
	CHECK(strcmp(cfg.serial, "abc") == 0);

	CHECK_EQ(virtio_blk_parse_option("d.img,cache=none,cache=writeback,"
					 "serial=01234567890123456789", &cfg, err, sizeof(err)), 0);
	CHECK(!cfg.direct);
	CHECK(strcmp(cfg.serial, "01234567890123456789") == 0);

	CHECK_EQ(virtio_blk_parse_option("d.img,serial=012345678901234567890", &cfg, err,
					 sizeof(err)), -EINVAL);
	CHECK(strstr(err, "serial") != NULL);
	CHECK_EQ(virtio_blk_parse_option("", &cfg, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "empty") != NULL);
	CHECK_EQ(virtio_blk_parse_option(",ro", &cfg, err, sizeof(err)), -EINVAL);
	CHECK_EQ(virtio_blk_parse_option("d.img,rw,bogus=1", &cfg, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "'rw'") != NULL);
	CHECK_EQ(virtio_blk_parse_option("d.img,bogus=1", &cfg, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "'bogus=1'") != NULL);
	CHECK_EQ(virtio_blk_parse_option("d.img,cache=unsafe", &cfg, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unsafe") != NULL);
	CHECK_EQ(virtio_blk_parse_option("d.img,,ro", &cfg, err, sizeof(err)), -EINVAL);
	CHECK_EQ(virtio_blk_parse_option("d.img,ro=1", &cfg, err, sizeof(err)), -EINVAL);
	CHECK_EQ(virtio_blk_parse_option("d.img,serial=a\tb", &cfg, err, sizeof(err)), -EINVAL);
}

static void test_identity_and_config(void)
{
	struct rig r;
	uint64_t f;

	if (rig_up(&r, ",serial=" SERIAL, 3)) {
		rig_down(&r);
		SKIP_TEST("cannot set up the test bench (temporary image, guest RAM or I/O thread)");
	}
	CHECK_EQ(cfg_read(&r, PCI_VENDOR_ID, 2), 0x1af4);
	CHECK_EQ(cfg_read(&r, PCI_DEVICE_ID, 2), 0x1042);
	CHECK_EQ(cfg_read(&r, PCI_REVISION_ID, 4) >> 8, 0x018000);
	f = device_features(&r);
	CHECK(f & 1ull << VIRTIO_F_VERSION_1);
	CHECK(f & 1ull << VIRTIO_BLK_F_SIZE_MAX);
	CHECK(f & 1ull << VIRTIO_BLK_F_SEG_MAX);
	CHECK(f & 1ull << VIRTIO_BLK_F_BLK_SIZE);
	CHECK(f & 1ull << VIRTIO_BLK_F_FLUSH);
	CHECK(f & 1ull << VIRTIO_BLK_F_MQ);
	CHECK(f & 1ull << VIRTIO_BLK_F_DISCARD);
	CHECK(f & 1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	CHECK(!(f & 1ull << VIRTIO_BLK_F_RO));
	CHECK_EQ(mmio_read(&r, r.common + NUM_QUEUES, 2), 3);

	CHECK_EQ(mmio_read(&r, r.device + 0, 8), DISK_SIZE / 512);     /* capacity */
	CHECK_EQ(mmio_read(&r, r.device + 8, 4), 1u << 20);            /* size_max */
	CHECK_EQ(mmio_read(&r, r.device + 12, 4), VIRTIO_BLK_QUEUE_SIZE - 2);
	CHECK_EQ(mmio_read(&r, r.device + 20, 4), 512);                /* blk_size */
	CHECK_EQ(mmio_read(&r, r.device + 34, 2), 3);                  /* num_queues */
	CHECK(mmio_read(&r, r.device + 36, 4) > 0);                    /* max_discard_sectors */
	CHECK_EQ(mmio_read(&r, r.device + 40, 4), BLOCK_REQUEST_MAX_RANGES);
	CHECK(mmio_read(&r, r.device + 44, 4) >= 1);                   /* discard alignment */
	CHECK(mmio_read(&r, r.device + 48, 4) > 0);
	CHECK_EQ(mmio_read(&r, r.device + 52, 4), BLOCK_REQUEST_MAX_RANGES);
	CHECK_EQ(mmio_read(&r, r.device + 56, 1), 1);
	rig_down(&r);
}

static void test_lock_refuses_second_device(void)
{
	struct rig r;
	struct virtio_blk second;
	struct virtio_blk_config cfg;
	struct virtio_pci_env env;
	char err[512] = "";

	if (rig_up(&r, "", 1)) {
		rig_down(&r);
		SKIP_TEST("cannot set up the test bench (temporary image, guest RAM or I/O thread)");
	}
	env = (struct virtio_pci_env){ .mem = &r.mem, .vm_fd = -1 };
	CHECK_EQ(virtio_blk_parse_option(r.path, &cfg, err, sizeof(err)), 0);
	CHECK_EQ(virtio_blk_create(&second, &cfg, 1, &r.io, &env, err, sizeof(err)), -EBUSY);
	CHECK(strstr(err, "is in use by another process (locked)") != NULL);
	virtio_blk_destroy(&second);   /* harmless after a failed create */
	rig_down(&r);
}

static void test_write_read_flush_get_id(void)
{
	uint8_t *w, *rd;
	struct rig r;

	if (rig_up(&r, ",serial=" SERIAL, 2)) {
		rig_down(&r);
		SKIP_TEST("cannot set up the test bench (temporary image, guest RAM or I/O thread)");
	}
	CHECK(driver_start(&r, ALL_FEATURES));
	w = ram(&r, DATA_GPA, 4096);
	rd = ram(&r, DATA2_GPA, 4096);
	for (unsigned i = 0; i < 4096; i++)
		w[i] = (uint8_t)(i * 13 + 1);

	submit(&r, VIRTIO_BLK_T_OUT, 7, DATA_GPA, 4096, false);
	CHECK_EQ(wait_used(&r), 1);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_OK);
	CHECK(interrupted(&r, 1));
	CHECK(file_matches(&r, 7 * 512, w, 4096));

	memset(rd, 0, 4096);
	submit(&r, VIRTIO_BLK_T_IN, 7, DATA2_GPA, 4096, true);
	CHECK_EQ(wait_used(&r), 4097);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_OK);
	CHECK(memcmp(rd, w, 4096) == 0);

	submit(&r, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	CHECK_EQ(wait_used(&r), 1);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_OK);

	memset(rd, 0xff, 64);
	submit(&r, VIRTIO_BLK_T_GET_ID, 0, DATA2_GPA, VIRTIO_BLK_ID_BYTES, true);
	CHECK_EQ(wait_used(&r), 21);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_OK);
	CHECK(memcmp(rd, SERIAL, strlen(SERIAL)) == 0);
	for (size_t i = strlen(SERIAL); i < VIRTIO_BLK_ID_BYTES; i++)
		CHECK_EQ(rd[i], 0);
	CHECK_EQ(rd[VIRTIO_BLK_ID_BYTES], 0xff);   /* nothing past the 20 bytes */

	/* Past the end of the disk: IOERR, the file untouched. */
	submit(&r, VIRTIO_BLK_T_OUT, DISK_SIZE / 512 - 4, DATA_GPA, 4096, false);
	CHECK_EQ(wait_used(&r), 1);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_IOERR);

	/* An unknown request type. */
	submit(&r, 99, 0, DATA2_GPA, 512, true);
	CHECK_EQ(wait_used(&r), 1);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_UNSUPP);
	rig_down(&r);
}

static void test_discard_and_write_zeroes(void)
{
	uint8_t zeros[8192] = { 0 };
	struct rig r;
	uint8_t *seg;

	if (rig_up(&r, "", 1)) {
		rig_down(&r);
		SKIP_TEST("cannot set up the test bench (temporary image, guest RAM or I/O thread)");
	}
	CHECK(driver_start(&r, ALL_FEATURES));
	seg = ram(&r, DATA_GPA, 16);
	{
		uint64_t sector = htole64(16);
		uint32_t num = htole32(16), flags = htole32(VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);

		memcpy(seg, &sector, 8);
		memcpy(seg + 8, &num, 4);
		memcpy(seg + 12, &flags, 4);
	}
	submit(&r, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA, 16, false);
	CHECK_EQ(wait_used(&r), 1);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_OK);
	CHECK(file_matches(&r, 16 * 512, zeros, 8192));

	/* Discard with unmap is UNSUPP; without, OK. */
	submit(&r, VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 16, false);
	CHECK_EQ(wait_used(&r), 1);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_UNSUPP);
	memset(seg + 12, 0, 4);
	submit(&r, VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 16, false);
	CHECK_EQ(wait_used(&r), 1);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_OK);
	rig_down(&r);
}

static void test_read_only_refuses_writes(void)
{
	uint8_t *w, before[4096];
	struct rig r;
	uint64_t f;

	if (rig_up(&r, ",ro", 1)) {
		rig_down(&r);
		SKIP_TEST("cannot set up the test bench (temporary image, guest RAM or I/O thread)");
	}
	f = device_features(&r);
	CHECK(f & 1ull << VIRTIO_BLK_F_RO);
	CHECK(!(f & 1ull << VIRTIO_BLK_F_DISCARD));
	CHECK(!(f & 1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	CHECK(driver_start(&r, ALL_FEATURES));

	memset(before, 0x5a, sizeof(before));
	w = ram(&r, DATA_GPA, 4096);
	memset(w, 0x11, 4096);
	submit(&r, VIRTIO_BLK_T_OUT, 0, DATA_GPA, 4096, false);
	CHECK_EQ(wait_used(&r), 1);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_IOERR);
	CHECK(file_matches(&r, 0, before, sizeof(before)));

	submit(&r, VIRTIO_BLK_T_IN, 0, DATA_GPA, 4096, true);
	CHECK_EQ(wait_used(&r), 4097);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_OK);
	CHECK(memcmp(w, before, 4096) == 0);
	rig_down(&r);
}

/* A descriptor outside guest RAM fails the device; a reset and a new
 * start bring it back. */
static void test_broken_ring_then_reset(void)
{
	struct rig r;

	if (rig_up(&r, "", 1)) {
		rig_down(&r);
		SKIP_TEST("cannot set up the test bench (temporary image, guest RAM or I/O thread)");
	}
	CHECK(driver_start(&r, ALL_FEATURES));
	submit(&r, VIRTIO_BLK_T_IN, 0, RAM_SIZE + 0x1000, 4096, true);
	for (int i = 0; i < 2000 && !(mmio_read(&r, r.common + STATUS, 1) &
				      VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(1000);
	CHECK(mmio_read(&r, r.common + STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(get16(&r, USED_GPA + 2), 0);

	/* The driver resets and starts over. */
	CHECK(driver_start(&r, ALL_FEATURES));
	submit(&r, VIRTIO_BLK_T_IN, 0, DATA_GPA, 512, true);
	CHECK_EQ(wait_used(&r), 513);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_OK);
	rig_down(&r);
}

/* A reset while requests are in flight returns only once they are done,
 * and nothing is written to the used ring afterwards. */
static void test_reset_with_requests_in_flight(void)
{
	struct rig r;
	uint16_t used;

	if (rig_up(&r, ",cache=writeback", 1)) {
		rig_down(&r);
		SKIP_TEST("cannot set up the test bench (temporary image, guest RAM or I/O thread)");
	}
	CHECK(driver_start(&r, ALL_FEATURES));
	/* Five writes, each its own chain of three descriptors. */
	for (uint16_t i = 0; i < 5; i++) {
		struct { uint32_t type, reserved; uint64_t sector; } hdr = {
			htole32(VIRTIO_BLK_T_OUT), 0, htole64(64ull * i) };
		uint64_t h = HDR_GPA + 0x200ull * i;

		CHECK_EQ(guest_memory_write(&r.mem, h, &hdr, sizeof(hdr)), 0);
		put_desc(&r, (uint16_t)(3 * i), h, sizeof(hdr), VIRTQ_DESC_F_NEXT, (uint16_t)(3 * i + 1));
		put_desc(&r, (uint16_t)(3 * i + 1), DATA_GPA, 32768, VIRTQ_DESC_F_NEXT,
			 (uint16_t)(3 * i + 2));
		put_desc(&r, (uint16_t)(3 * i + 2), h + 0x100, 1, VIRTQ_DESC_F_WRITE, 0);
		put16(&r, AVAIL_GPA + 4 + 2ull * i, (uint16_t)(3 * i));
	}
	put16(&r, AVAIL_GPA + 2, 5);
	mmio_write(&r, r.notify, 0, 2);
	mmio_write(&r, r.common + STATUS, 0, 1);
	CHECK_EQ(mmio_read(&r, r.common + STATUS, 1), 0);
	used = get16(&r, USED_GPA + 2);
	usleep(50000);
	CHECK_EQ(get16(&r, USED_GPA + 2), used);
	CHECK(used <= 5);
	rig_down(&r);
}

/* More requests than a queue keeps in flight: the rest wait in the ring
 * and are taken as completions free slots. Each request is one indirect
 * descriptor, so 200 fit in a queue of 256. */
static void test_more_requests_than_slots(void)
{
	enum { N = 200 };
	bool seen[N] = { false };
	struct rig r;
	unsigned done = 0;

	if (rig_up(&r, "", 1)) {
		rig_down(&r);
		SKIP_TEST("cannot set up the test bench (temporary image, guest RAM or I/O thread)");
	}
	r.qsize = 256;
	CHECK(driver_start(&r, ALL_FEATURES));
	for (unsigned i = 0; i < N; i++) {
		put_indirect_read(&r, (uint16_t)i, i);
		put16(&r, AVAIL_GPA + 4 + 2ull * i, (uint16_t)i);
	}
	put16(&r, AVAIL_GPA + 2, N);
	mmio_write(&r, r.notify, 0, 2);

	for (int spin = 0; spin < 5000 && get16(&r, USED_GPA + 2) != N; spin++)
		usleep(1000);
	CHECK_EQ(get16(&r, USED_GPA + 2), N);
	for (unsigned i = 0; i < N; i++) {
		uint32_t id = get32(&r, USED_GPA + 4 + 8ull * i);

		CHECK_EQ(get32(&r, USED_GPA + 8 + 8ull * i), 513);
		if (id < N && !seen[id]) {
			seen[id] = true;
			done++;
		}
		CHECK_EQ(*ram(&r, IND_STATUSES + i, 1), VIRTIO_BLK_S_OK);
		CHECK_EQ(*ram(&r, IND_BUFS + 512ull * i + 511, 1), 0x5a);
	}
	CHECK_EQ(done, N);
	rig_down(&r);
}

/* Plays a driver with EVENT_IDX, as Linux's: it keeps up to WINDOW reads
 * in flight, as fio does at iodepth 32, and notifies only when
 * avail_event asks it to. When it has nothing to do it either spins on
 * the used ring or, with sleep, asks for an interrupt at the next used
 * entry (used_event), looks once more, and sleeps until one comes: a
 * held interrupt that never came would leave it there. Returns the
 * requests answered; counts kicks and interrupts. */
enum { WINDOW_TOTAL = 600, WINDOW = 32, WINDOW_HEADS = 64 };

static unsigned run_window_driver(struct rig *r, bool sleep, unsigned *kicks,
				  unsigned *interrupts)
{
	unsigned submitted = 0, done = 0, in_flight = 0;
	uint16_t free_heads[WINDOW_HEADS], nr_free = 0, used_seen = 0;
	uint64_t avail_event_at = USED_GPA + 4 + 8ull * WINDOW_HEADS;
	uint64_t used_event_at = AVAIL_GPA + 4 + 2ull * WINDOW_HEADS;
	int idle_spins = 0;

	*kicks = *interrupts = 0;
	for (unsigned h = 0; h < WINDOW_HEADS; h++)
		free_heads[nr_free++] = (uint16_t)(WINDOW_HEADS - 1 - h);

	while (done < WINDOW_TOTAL && idle_spins < 10000) {
		uint16_t old = r->avail_idx, used_idx = get16(r, USED_GPA + 2);
		bool progress = false;

		/* Take what was answered. */
		while (used_seen != used_idx) {
			uint16_t head = (uint16_t)get32(r, USED_GPA + 4 +
							8ull * (used_seen % WINDOW_HEADS));

			CHECK(head < WINDOW_HEADS);
			CHECK_EQ(*ram(r, IND_STATUSES + head, 1), VIRTIO_BLK_S_OK);
			CHECK_EQ(*ram(r, IND_BUFS + 512ull * head + 7, 1), 0x5a);
			free_heads[nr_free++] = head;
			used_seen++;
			in_flight--;
			done++;
			progress = true;
		}
		/* Top the window up, publish once, notify only when asked. */
		while (in_flight < WINDOW && submitted < WINDOW_TOTAL && nr_free) {
			uint16_t head = free_heads[--nr_free];
			memset(ram(r, IND_BUFS + 512ull * head, 512), 0, 512);
			put_indirect_read(r, head, (submitted * 7919u) % (DISK_SIZE / 512));
			put16(r, AVAIL_GPA + 4 + 2ull * (r->avail_idx % WINDOW_HEADS), head);
			r->avail_idx++;
			submitted++;
			in_flight++;
			progress = true;
		}
		if (r->avail_idx != old) {
			uint16_t event;

			__atomic_store_n((uint16_t *)ram(r, AVAIL_GPA + 2, 2), htole16(r->avail_idx),
					 __ATOMIC_RELEASE);
			/* The driver's full barrier between its index and the
			 * device's avail_event (virtio 1.2, 2.7.10). */
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			event = get16(r, avail_event_at);
			if ((uint16_t)(r->avail_idx - event - 1) < (uint16_t)(r->avail_idx - old)) {
				mmio_write(r, r->notify, 0, 2);
				(*kicks)++;
			}
		}
		if (progress) {
			idle_spins = 0;
		} else if (sleep) {
			struct pollfd p = { .fd = r->vector_fd[1], .events = POLLIN };
			uint64_t count;

			put16(r, used_event_at, used_seen);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (get16(r, USED_GPA + 2) != used_seen)
				continue;
			if (p.fd < 0 || poll(&p, 1, 2000) != 1) {
				CHECK(!"an interrupt came within 2 s");
				break;
			}
			if (read(p.fd, &count, sizeof(count)) == sizeof(count))
				*interrupts += (unsigned)count;
		} else {
			idle_spins++;
			usleep(1000);
		}
	}
	return done;
}

/* A rig for run_window_driver, its queue sized for it and the driver
 * started; false (and nothing left to tear down) when it cannot be had. */
static bool window_rig_up(struct rig *r)
{
	if (rig_up(r, "", 1)) {
		rig_down(r);
		return false;
	}
	r->qsize = WINDOW_HEADS;
	CHECK(driver_start(r, ALL_FEATURES));
	return true;
}

/* Spinning on the used ring, the driver gets every request answered:
 * while the device polls the ring it has not re-armed notifications, and
 * it re-arms them before it stops. Then, idle, avail_event asks for the
 * very next entry. */
static void test_driver_notified_only_when_asked(void)
{
	uint64_t avail_event_at = USED_GPA + 4 + 8ull * WINDOW_HEADS;
	unsigned kicks, interrupts;
	struct rig r;

	if (!window_rig_up(&r))
		SKIP_TEST("cannot set up the test bench (temporary image, guest RAM or I/O thread)");
	CHECK_EQ(run_window_driver(&r, false, &kicks, &interrupts), WINDOW_TOTAL);
	CHECK(kicks >= 1 && kicks <= WINDOW_TOTAL);
	/* Idle: the device asks to hear of the very next entry. */
	for (int spin = 0; spin < 2000 && get16(&r, avail_event_at) != r.avail_idx; spin++)
		usleep(1000);
	CHECK_EQ(get16(&r, avail_event_at), r.avail_idx);
	rig_down(&r);
}

/* A driver that sleeps until interrupted is never left waiting, while
 * the device polls the ring and leaves notifications off; and it is
 * interrupted at most once per request answered. */
static void test_driver_sleeps_until_interrupted(void)
{
	unsigned kicks, interrupts;
	struct rig r;

	if (!window_rig_up(&r))
		SKIP_TEST("cannot set up the test bench (temporary image, guest RAM or I/O thread)");
	CHECK_EQ(run_window_driver(&r, true, &kicks, &interrupts), WINDOW_TOTAL);
	CHECK(interrupts >= 1 && interrupts <= WINDOW_TOTAL);
	rig_down(&r);
}

/* A driver that does not negotiate FLUSH gets write-through writes. */
static void test_write_through_without_flush(void)
{
	struct rig r;
	uint8_t *w;

	if (rig_up(&r, "", 1)) {
		rig_down(&r);
		SKIP_TEST("cannot set up the test bench (temporary image, guest RAM or I/O thread)");
	}
	CHECK(driver_start(&r, ALL_FEATURES & ~(1ull << VIRTIO_BLK_F_FLUSH)));
	CHECK(r.blk.backend.write_through);
	w = ram(&r, DATA_GPA, 1024);
	memset(w, 0x3c, 1024);
	submit(&r, VIRTIO_BLK_T_OUT, 100, DATA_GPA, 1024, false);
	CHECK_EQ(wait_used(&r), 1);
	CHECK_EQ(status_byte(&r), VIRTIO_BLK_S_OK);
	CHECK(file_matches(&r, 100 * 512, w, 1024));
	rig_down(&r);
}

TEST_MAIN("virtio_blk",
	TEST_CASE(test_parse_option),
	TEST_CASE(test_identity_and_config),
	TEST_CASE(test_lock_refuses_second_device),
	TEST_CASE(test_write_read_flush_get_id),
	TEST_CASE(test_discard_and_write_zeroes),
	TEST_CASE(test_read_only_refuses_writes),
	TEST_CASE(test_broken_ring_then_reset),
	TEST_CASE(test_reset_with_requests_in_flight),
	TEST_CASE(test_more_requests_than_slots),
	TEST_CASE(test_driver_notified_only_when_asked),
	TEST_CASE(test_driver_sleeps_until_interrupted),
	TEST_CASE(test_write_through_without_flush))
