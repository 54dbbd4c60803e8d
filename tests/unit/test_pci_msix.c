/* MSI-X: the capability, the table and PBA in a BAR, masking and pending
 * bits, and the routes it asks a (fake) msi_router for. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "../../devices/pci/pci_msix.h"

#define NR_VECTORS     3
#define TABLE_OFFSET   0x0
#define PBA_OFFSET     0x800
#define BAR_SIZE       0x1000
#define FIRST_GSI      100

#define MSG_ADDR       0xfee00000u
#define CTRL_ENABLE    0x8000
#define CTRL_MASKALL   0x4000

struct fake_router {
	int binds, updates;
	int fail_with;            /* returned by bind and update when nonzero */
	unsigned next_gsi;
	unsigned last_gsi;
	uint64_t last_address;
	uint32_t last_data;
	int last_fd;
};

static int fake_bind(void *ctx, uint64_t address, uint32_t data, int fd, unsigned *gsi)
{
	struct fake_router *fr = ctx;

	if (fr->fail_with)
		return fr->fail_with;
	fr->binds++;
	fr->last_address = address;
	fr->last_data = data;
	fr->last_fd = fd;
	*gsi = fr->last_gsi = fr->next_gsi++;
	return 0;
}

static int fake_update(void *ctx, unsigned gsi, uint64_t address, uint32_t data)
{
	struct fake_router *fr = ctx;

	if (fr->fail_with)
		return fr->fail_with;
	fr->updates++;
	fr->last_gsi = gsi;
	fr->last_address = address;
	fr->last_data = data;
	return 0;
}

/* A PCI function whose BAR 0 is the MSI-X table and PBA, on a real bus. */
struct rig {
	struct bus pio, mmio;
	struct pci_bus pb;
	struct pci_device dev;
	struct pci_msix msix;
	struct fake_router router;
	uint64_t bar;
};

static void rig_bar_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			   bool is_write)
{
	struct rig *r = opaque;

	if (!pci_msix_bar_access(&r->msix, offset, data, len, is_write) && !is_write)
		memset(data, 0, len);
}

static void rig_config_write(struct pci_device *dev, uint32_t offset, uint32_t len)
{
	struct rig *r = dev->opaque;

	pci_msix_config_write(&r->msix, offset, len);
}

static const struct pci_device_ops rig_ops = { .config_write = rig_config_write };

static struct rig *rig_new(void)
{
	static const struct pci_windows win = {
		.io_start = 0xc000, .io_end = 0x10000,
		.mem32_start = 0xc0000000, .mem32_end = 0xe0000000,
	};
	struct rig *r = calloc(1, sizeof(*r));
	struct msi_router router;

	if (!r)
		return NULL;
	r->router.next_gsi = FIRST_GSI;
	router = (struct msi_router){ fake_bind, fake_update, &r->router };
	bus_init(&r->pio, "pio");
	bus_init(&r->mmio, "mmio");
	CHECK_EQ(pci_bus_init(&r->pb, &r->pio, &r->mmio, 0xe0000000, 0x10000000, &win, NULL), 0);
	pci_device_init(&r->dev, "msixdev", 0x1af4, 0x1041, 0x020000, 1, 0x1af4, 1);
	r->dev.ops = &rig_ops;
	r->dev.opaque = r;
	CHECK_EQ(pci_device_add_bar(&r->dev, 0, PCI_BAR_MEM32, false, BAR_SIZE,
				    rig_bar_access, r), 0);
	CHECK_EQ(pci_msix_init(&r->msix, &r->dev, NR_VECTORS, 0, TABLE_OFFSET, PBA_OFFSET,
			       &router), 0);
	CHECK_EQ(pci_bus_add_device(&r->pb, &r->dev), 0);
	r->bar = r->dev.bars[0].addr;
	if (test_state.failures) {
		free(r);
		return NULL;
	}
	return r;
}

static void rig_free(struct rig *r)
{
	if (!r)
		return;
	pci_msix_destroy(&r->msix);
	pci_bus_destroy(&r->pb);
	bus_destroy(&r->pio);
	bus_destroy(&r->mmio);
	free(r);
}

static uint64_t bar_read(struct rig *r, uint64_t offset, unsigned len)
{
	uint8_t data[8] = { 0 };
	uint64_t value = 0;

	CHECK(bus_dispatch(&r->mmio, r->bar + offset, data, len, false));
	for (unsigned i = 0; i < len; i++)
		value |= (uint64_t)data[i] << (8 * i);
	return value;
}

static void bar_write(struct rig *r, uint64_t offset, uint64_t value, unsigned len)
{
	uint8_t data[8];

	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(value >> (8 * i));
	CHECK(bus_dispatch(&r->mmio, r->bar + offset, data, len, true));
}

static uint64_t entry(unsigned vector, unsigned dword)
{
	return TABLE_OFFSET + vector * PCI_MSIX_ENTRY_SIZE + dword * 4;
}

static void program(struct rig *r, unsigned vector, uint32_t addr, uint32_t data)
{
	bar_write(r, entry(vector, 0), addr, 4);
	bar_write(r, entry(vector, 1), 0, 4);
	bar_write(r, entry(vector, 2), data, 4);
}

static void set_vector_mask(struct rig *r, unsigned vector, bool masked)
{
	bar_write(r, entry(vector, 3), masked, 4);
}

static void set_control(struct rig *r, uint16_t control)
{
	pci_bus_config_write(&r->pb, (uint16_t)(r->dev.slot << 3), r->msix.cap_offset + 2,
			     control, 2);
}

/* How many times the vector's eventfd fired since the last look. */
static uint64_t fired(struct rig *r, unsigned vector)
{
	uint64_t count = 0;

	if (read(r->msix.vectors[vector].eventfd, &count, sizeof(count)) != sizeof(count))
		return 0;
	return count;
}

static uint32_t pba(struct rig *r)
{
	return (uint32_t)bar_read(r, PBA_OFFSET, 4);
}

static void test_capability(void)
{
	struct rig *r = rig_new();
	uint16_t cap;

	if (!r)
		return;
	cap = r->msix.cap_offset;
	CHECK(cap >= 0x40);
	CHECK_EQ(pci_config_read(&r->dev, PCI_CAPABILITY_LIST, 1), cap);
	CHECK_EQ(pci_config_read(&r->dev, cap, 1), PCI_CAP_ID_MSIX);
	CHECK_EQ(pci_config_read(&r->dev, cap + 2, 2), NR_VECTORS - 1);
	CHECK_EQ(pci_config_read(&r->dev, cap + 4, 4), TABLE_OFFSET | 0);
	CHECK_EQ(pci_config_read(&r->dev, cap + 8, 4), PBA_OFFSET | 0);
	CHECK(!pci_msix_enabled(&r->msix));

	/* Only enable and function mask are the guest's. */
	set_control(r, 0xffff);
	CHECK_EQ(pci_config_read(&r->dev, cap + 2, 2), 0xc000 | (NR_VECTORS - 1));
	CHECK(pci_msix_enabled(&r->msix));
	pci_bus_config_write(&r->pb, (uint16_t)(r->dev.slot << 3), cap + 4, 0x12345678, 4);
	CHECK_EQ(pci_config_read(&r->dev, cap + 4, 4), TABLE_OFFSET);
	set_control(r, 0);
	CHECK(!pci_msix_enabled(&r->msix));

	CHECK_EQ(pci_msix_table_size(3), 48);
	CHECK_EQ(pci_msix_pba_size(1), 8);
	CHECK_EQ(pci_msix_pba_size(64), 8);
	CHECK_EQ(pci_msix_pba_size(65), 16);
	rig_free(r);
}

static void test_table_reads_and_writes(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	/* Every entry starts masked and empty. */
	for (unsigned v = 0; v < NR_VECTORS; v++) {
		CHECK_EQ(bar_read(r, entry(v, 0), 4), 0);
		CHECK_EQ(bar_read(r, entry(v, 2), 4), 0);
		CHECK_EQ(bar_read(r, entry(v, 3), 4), 1);
	}
	bar_write(r, entry(1, 0), 0xfee01003, 4);   /* bits 1:0 are not stored */
	bar_write(r, entry(1, 1), 0x1, 4);
	bar_write(r, entry(1, 2), 0x4041, 4);
	bar_write(r, entry(1, 3), 0xfffffffe, 4);   /* reserved bits stay 0 */
	CHECK_EQ(bar_read(r, entry(1, 0), 4), 0xfee01000);
	CHECK_EQ(bar_read(r, entry(1, 1), 4), 1);
	CHECK_EQ(bar_read(r, entry(1, 2), 4), 0x4041);
	CHECK_EQ(bar_read(r, entry(1, 3), 4), 0);
	/* Qwords are two dwords, low first. */
	CHECK_EQ(bar_read(r, entry(1, 0), 8), 0x1fee01000ull);
	bar_write(r, entry(2, 2), 0x0000000100000055ull, 8);
	CHECK_EQ(bar_read(r, entry(2, 2), 4), 0x55);
	CHECK_EQ(bar_read(r, entry(2, 3), 4), 1);
	bar_write(r, entry(2, 0), 0x00000000fee00000ull, 8);
	CHECK_EQ(bar_read(r, entry(2, 0), 8), 0xfee00000ull);
	/* The entries did not bleed into each other. */
	CHECK_EQ(bar_read(r, entry(0, 0), 8), 0);
	CHECK_EQ(bar_read(r, entry(0, 3), 4), 1);
	/* Nothing was routed: MSI-X is off. */
	CHECK_EQ(r->router.binds, 0);
	rig_free(r);
}

static void test_odd_accesses_ignored(void)
{
	struct rig *r = rig_new();
	uint8_t data[4] = { 0 };

	if (!r)
		return;
	program(r, 0, MSG_ADDR, 0x21);
	/* Bytes, words, unaligned dwords and qwords: ignored, read all ones. */
	bar_write(r, entry(0, 2), 0x99, 1);
	bar_write(r, entry(0, 2), 0x9999, 2);
	bar_write(r, entry(0, 2) + 1, 0x99999999, 4);
	bar_write(r, entry(0, 1), 0x9999999999999999ull, 8);
	CHECK_EQ(bar_read(r, entry(0, 2), 4), 0x21);
	CHECK_EQ(bar_read(r, entry(0, 1), 4), 0);
	CHECK_EQ(bar_read(r, entry(0, 2), 1), 0xff);
	CHECK_EQ(bar_read(r, entry(0, 2), 2), 0xffff);
	CHECK_EQ(bar_read(r, entry(0, 1), 8), 0xffffffffffffffffull);
	CHECK_EQ(bar_read(r, entry(0, 3) + 2, 4), 0xffffffff);
	/* A qword that is not qword-aligned (the last dword of the table). */
	CHECK_EQ(bar_read(r, entry(NR_VECTORS - 1, 3), 8), 0xffffffffffffffffull);
	/* The PBA is read-only. */
	bar_write(r, PBA_OFFSET, 0xffffffff, 4);
	CHECK_EQ(pba(r), 0);
	CHECK_EQ(bar_read(r, PBA_OFFSET, 8), 0);
	CHECK_EQ(bar_read(r, PBA_OFFSET, 2), 0xffff);

	/* Offsets that are not MSI-X's are left to the device. */
	CHECK(!pci_msix_bar_access(&r->msix, pci_msix_table_size(NR_VECTORS), data, 4, false));
	CHECK(!pci_msix_bar_access(&r->msix, PBA_OFFSET + 8, data, 4, false));
	CHECK(!pci_msix_bar_access(&r->msix, PBA_OFFSET - 4, data, 4, true));
	CHECK(pci_msix_bar_access(&r->msix, PBA_OFFSET + 4, data, 4, false));
	rig_free(r);
}

static void test_delivery_and_vector_mask(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	program(r, 0, MSG_ADDR, 0x30);
	program(r, 1, MSG_ADDR, 0x31);
	set_control(r, CTRL_ENABLE);
	CHECK_EQ(r->router.binds, 0);       /* all still masked */

	/* Masked: held back as pending. */
	pci_msix_notify(&r->msix, 0);
	CHECK_EQ(fired(r, 0), 0);
	CHECK_EQ(pba(r), 0x1);

	/* Unmasking routes the vector and delivers what was pending. */
	set_vector_mask(r, 0, false);
	CHECK_EQ(r->router.binds, 1);
	CHECK_EQ(r->router.last_address, MSG_ADDR);
	CHECK_EQ(r->router.last_data, 0x30);
	CHECK_EQ(r->router.last_fd, r->msix.vectors[0].eventfd);
	CHECK(r->msix.vectors[0].bound);
	CHECK_EQ(r->msix.vectors[0].gsi, FIRST_GSI);
	CHECK_EQ(fired(r, 0), 1);
	CHECK_EQ(pba(r), 0);

	/* Unmasked: straight to the eventfd. */
	pci_msix_notify(&r->msix, 0);
	pci_msix_notify(&r->msix, 0);
	CHECK_EQ(fired(r, 0), 2);
	CHECK_EQ(pba(r), 0);

	/* Vector 1 is still masked; vector 0 unaffected by it. */
	pci_msix_notify(&r->msix, 1);
	CHECK_EQ(fired(r, 1), 0);
	CHECK_EQ(pba(r), 0x2);
	/* Masking vector 0 again makes it pend too; a second notify is one bit. */
	set_vector_mask(r, 0, true);
	pci_msix_notify(&r->msix, 0);
	pci_msix_notify(&r->msix, 0);
	CHECK_EQ(fired(r, 0), 0);
	CHECK_EQ(pba(r), 0x3);
	/* Unmasking an unchanged, bound vector: no new route, one interrupt. */
	set_vector_mask(r, 0, false);
	CHECK_EQ(r->router.binds, 1);
	CHECK_EQ(r->router.updates, 0);
	CHECK_EQ(fired(r, 0), 1);
	CHECK_EQ(pba(r), 0x2);
	set_vector_mask(r, 1, false);
	CHECK_EQ(r->router.binds, 2);
	CHECK_EQ(r->msix.vectors[1].gsi, FIRST_GSI + 1);
	CHECK_EQ(fired(r, 1), 1);
	CHECK_EQ(pba(r), 0);
	rig_free(r);
}

static void test_function_mask_and_enable(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	program(r, 0, MSG_ADDR, 0x40);
	set_vector_mask(r, 0, false);
	/* Disabled: nothing routed, notifications pend. */
	CHECK_EQ(r->router.binds, 0);
	pci_msix_notify(&r->msix, 0);
	CHECK_EQ(fired(r, 0), 0);
	CHECK_EQ(pba(r), 1);

	/* Enabled with the function masked: routed, still held back. */
	set_control(r, CTRL_ENABLE | CTRL_MASKALL);
	CHECK_EQ(r->router.binds, 1);
	CHECK_EQ(fired(r, 0), 0);
	pci_msix_notify(&r->msix, 0);
	CHECK_EQ(fired(r, 0), 0);
	CHECK_EQ(pba(r), 1);

	/* Function unmasked: the pending interrupt goes out, once. */
	set_control(r, CTRL_ENABLE);
	CHECK_EQ(fired(r, 0), 1);
	CHECK_EQ(pba(r), 0);
	pci_msix_notify(&r->msix, 0);
	CHECK_EQ(fired(r, 0), 1);

	/* Masked again by function, then disabled: pends. */
	set_control(r, CTRL_ENABLE | CTRL_MASKALL);
	pci_msix_notify(&r->msix, 0);
	CHECK_EQ(fired(r, 0), 0);
	set_control(r, 0);
	CHECK_EQ(fired(r, 0), 0);
	CHECK_EQ(pba(r), 1);
	set_control(r, CTRL_ENABLE);
	CHECK_EQ(fired(r, 0), 1);
	CHECK_EQ(r->router.binds, 1);
	rig_free(r);
}

static void test_route_updates(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	program(r, 0, MSG_ADDR, 0x50);
	set_control(r, CTRL_ENABLE);
	set_vector_mask(r, 0, false);
	CHECK_EQ(r->router.binds, 1);

	/* Rewritten live: the route follows at once. */
	bar_write(r, entry(0, 2), 0x51, 4);
	CHECK_EQ(r->router.updates, 1);
	CHECK_EQ(r->router.last_gsi, FIRST_GSI);
	CHECK_EQ(r->router.last_data, 0x51);
	bar_write(r, entry(0, 0), MSG_ADDR | 0x1000, 4);
	CHECK_EQ(r->router.updates, 2);
	CHECK_EQ(r->router.last_address, MSG_ADDR | 0x1000);
	/* The same value again is no change. */
	bar_write(r, entry(0, 2), 0x51, 4);
	CHECK_EQ(r->router.updates, 2);

	/* Rewritten while masked (what drivers do): one update at unmask. */
	set_vector_mask(r, 0, true);
	bar_write(r, entry(0, 0), MSG_ADDR | 0x2000, 4);
	bar_write(r, entry(0, 2), 0x52, 4);
	CHECK_EQ(r->router.updates, 2);
	set_vector_mask(r, 0, false);
	CHECK_EQ(r->router.updates, 3);
	CHECK_EQ(r->router.last_address, MSG_ADDR | 0x2000);
	CHECK_EQ(r->router.last_data, 0x52);
	CHECK_EQ(r->router.binds, 1);

	/* Rewritten while MSI-X is off: updated when it comes back on. */
	set_control(r, 0);
	bar_write(r, entry(0, 2), 0x53, 4);
	CHECK_EQ(r->router.updates, 3);
	set_control(r, CTRL_ENABLE);
	CHECK_EQ(r->router.updates, 4);
	CHECK_EQ(r->router.last_data, 0x53);
	/* Re-enabling with nothing changed costs no update. */
	set_control(r, 0);
	set_control(r, CTRL_ENABLE);
	CHECK_EQ(r->router.updates, 4);
	rig_free(r);
}

static void test_router_failure(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	program(r, 0, MSG_ADDR, 0x60);
	set_control(r, CTRL_ENABLE);
	r->router.fail_with = -ENOSPC;
	set_vector_mask(r, 0, false);
	CHECK(!r->msix.vectors[0].bound);
	/* Unroutable: notifications pend instead of vanishing. */
	pci_msix_notify(&r->msix, 0);
	CHECK_EQ(fired(r, 0), 0);
	CHECK_EQ(pba(r), 1);
	/* The next route-relevant event retries. */
	r->router.fail_with = 0;
	set_vector_mask(r, 0, false);
	CHECK(r->msix.vectors[0].bound);
	CHECK_EQ(fired(r, 0), 1);
	CHECK_EQ(pba(r), 0);
	/* A failed update leaves the route stale and is retried too. */
	r->router.fail_with = -EIO;
	bar_write(r, entry(0, 2), 0x61, 4);
	CHECK_EQ(r->router.updates, 0);
	r->router.fail_with = 0;
	set_vector_mask(r, 0, true);
	set_vector_mask(r, 0, false);
	CHECK_EQ(r->router.updates, 1);
	CHECK_EQ(r->router.last_data, 0x61);
	rig_free(r);
}

static void test_notify_out_of_range(void)
{
	struct rig *r = rig_new();

	if (!r)
		return;
	set_control(r, CTRL_ENABLE);
	pci_msix_notify(&r->msix, NR_VECTORS);
	pci_msix_notify(&r->msix, PCI_MSIX_MAX_VECTORS);
	pci_msix_notify(&r->msix, PCI_MSIX_NO_VECTOR);
	pci_msix_notify(&r->msix, ~0u);
	CHECK_EQ(pba(r), 0);
	for (unsigned v = NR_VECTORS; v < PCI_MSIX_MAX_VECTORS; v++)
		CHECK(!r->msix.vectors[v].pending);
	rig_free(r);
}

#define RACE_NOTIFIES 20000

static void *notifier(void *arg)
{
	struct rig *r = arg;

	for (int i = 0; i < RACE_NOTIFIES; i++)
		pci_msix_notify(&r->msix, (unsigned)i % NR_VECTORS);
	return NULL;
}

/* A device thread notifying while the guest masks and unmasks: nothing is
 * lost for good, whatever the interleaving. */
static void test_notify_races_masking(void)
{
	struct rig *r = rig_new();
	uint64_t total = 0;
	pthread_t thread;

	if (!r)
		return;
	for (unsigned v = 0; v < NR_VECTORS; v++) {
		program(r, v, MSG_ADDR, 0x70 + v);
		set_vector_mask(r, v, false);
	}
	set_control(r, CTRL_ENABLE);
	CHECK_EQ(pthread_create(&thread, NULL, notifier, r), 0);
	for (int i = 0; i < 2000; i++) {
		set_control(r, i % 2 ? CTRL_ENABLE : CTRL_ENABLE | CTRL_MASKALL);
		set_vector_mask(r, (unsigned)i % NR_VECTORS, i % 3 == 0);
		total += fired(r, (unsigned)i % NR_VECTORS);
	}
	pthread_join(thread, NULL);
	set_control(r, CTRL_ENABLE);
	for (unsigned v = 0; v < NR_VECTORS; v++) {
		set_vector_mask(r, v, false);
		CHECK(!r->msix.vectors[v].pending);
		total += fired(r, v);
	}
	CHECK(total >= 1);
	CHECK(total <= RACE_NOTIFIES);
	CHECK_EQ(pba(r), 0);
	rig_free(r);
}

static void test_init_errors(void)
{
	struct msi_router router = { fake_bind, fake_update, NULL };
	struct msi_router half = { fake_bind, NULL, NULL };
	struct pci_device dev;
	struct pci_msix m;

	pci_device_init(&dev, "x", 1, 2, 0, 0, 0, 0);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_MEM32, false, 0x1000, rig_bar_access, NULL), 0);
	CHECK_EQ(pci_device_add_bar(&dev, 1, PCI_BAR_IO, false, 0x20, rig_bar_access, NULL), 0);
	CHECK_EQ(pci_msix_init(&m, &dev, 0, 0, 0, 0x800, &router), -EINVAL);
	CHECK_EQ(pci_msix_init(&m, &dev, PCI_MSIX_MAX_VECTORS + 1, 0, 0, 0x800, &router), -EINVAL);
	CHECK_EQ(pci_msix_init(&m, &dev, 4, 6, 0, 0x800, &router), -EINVAL);
	CHECK_EQ(pci_msix_init(&m, &dev, 4, 0, 4, 0x800, &router), -EINVAL);   /* misaligned */
	CHECK_EQ(pci_msix_init(&m, &dev, 4, 0, 0, 0x30, &router), -EINVAL);    /* overlap */
	CHECK_EQ(pci_msix_init(&m, &dev, 4, 0, 0xff8, 0x800, &router), -EINVAL); /* past BAR */
	CHECK_EQ(pci_msix_init(&m, &dev, 4, 1, 0, 0x800, &router), -EINVAL);   /* I/O BAR */
	CHECK_EQ(pci_msix_init(&m, &dev, 4, 0, 0, 0x800, NULL), -EINVAL);
	CHECK_EQ(pci_msix_init(&m, &dev, 4, 0, 0, 0x800, &half), -EINVAL);
	CHECK_EQ(pci_config_read(&dev, PCI_CAPABILITY_LIST, 1), 0);
	/* Calls on one that failed are harmless. */
	pci_msix_notify(&m, 0);
	pci_msix_destroy(&m);

	/* A BAR added later is fine; 64 vectors fill one PBA qword. */
	CHECK_EQ(pci_msix_init(&m, &dev, PCI_MSIX_MAX_VECTORS, 2, 0, 0x400, &router), 0);
	CHECK_EQ(pci_config_read(&dev, m.cap_offset + 2, 2), 63);
	CHECK_EQ(pci_config_read(&dev, m.cap_offset + 4, 4), 2);
	CHECK_EQ(pci_config_read(&dev, m.cap_offset + 8, 4), 0x402);
	pci_msix_destroy(&m);
}

static void test_destroy_closes_eventfds(void)
{
	struct rig *r = rig_new();
	int fds[NR_VECTORS];

	if (!r)
		return;
	for (unsigned v = 0; v < NR_VECTORS; v++) {
		fds[v] = r->msix.vectors[v].eventfd;
		CHECK(fds[v] >= 0);
		CHECK(fcntl(fds[v], F_GETFD) & FD_CLOEXEC);
		CHECK(fcntl(fds[v], F_GETFL) & O_NONBLOCK);
	}
	CHECK(fds[0] != fds[1]);
	pci_msix_destroy(&r->msix);
	for (unsigned v = 0; v < NR_VECTORS; v++) {
		errno = 0;
		CHECK_EQ(fcntl(fds[v], F_GETFD), -1);
		CHECK_EQ(errno, EBADF);
	}
	pci_msix_destroy(&r->msix);  /* twice is harmless */
	pci_bus_destroy(&r->pb);
	bus_destroy(&r->pio);
	bus_destroy(&r->mmio);
	free(r);
}

TEST_MAIN("pci_msix",
	TEST_CASE(test_capability),
	TEST_CASE(test_table_reads_and_writes),
	TEST_CASE(test_odd_accesses_ignored),
	TEST_CASE(test_delivery_and_vector_mask),
	TEST_CASE(test_function_mask_and_enable),
	TEST_CASE(test_route_updates),
	TEST_CASE(test_router_failure),
	TEST_CASE(test_notify_out_of_range),
	TEST_CASE(test_notify_races_masking),
	TEST_CASE(test_init_errors),
	TEST_CASE(test_destroy_closes_eventfds),
)
