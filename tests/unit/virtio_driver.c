/* The test guest driver: see virtio_driver.h. */
#include "virtio_driver.h"

#include <endian.h>
#include <errno.h>
#include <time.h>

#include "check.h"

void vdrv_irq_set_level(void *ctx, unsigned gsi, bool level)
{
	struct vdrv_irq *irq = ctx;

	(void)gsi;
	if (level && !atomic_load(&irq->level))
		atomic_fetch_add(&irq->rises, 1);
	atomic_store(&irq->level, level);
}

int vdrv_no_msi_bind(void *ctx, uint64_t address, uint32_t data, int fd, unsigned *gsi)
{
	(void)ctx; (void)address; (void)data; (void)fd; (void)gsi;
	return -ENOSYS;
}

int vdrv_no_msi_update(void *ctx, unsigned gsi, uint64_t address, uint32_t data)
{
	(void)ctx; (void)gsi; (void)address; (void)data;
	return -ENOSYS;
}

void vdrv_platform_init(struct vdrv *d, uint64_t ram_size)
{
	const struct pci_windows win = {
		.io_start = 0xc000, .io_end = 0x10000,
		.mem32_start = 0xc0000000, .mem32_end = 0xe0000000,
	};
	const struct irq_line intx = { .set_level = vdrv_irq_set_level, .ctx = &d->irq };
	char err[128];

	bus_init(&d->pio, "pio");
	bus_init(&d->mmio, "mmio");
	CHECK_EQ(guest_memory_create(&d->mem, ram_size, false, err, sizeof(err)), 0);
	CHECK_EQ(pci_bus_init(&d->pb, &d->pio, &d->mmio, 0xe0000000, 1 << 20, &win, &intx), 0);
}

void vdrv_platform_destroy(struct vdrv *d)
{
	pci_bus_destroy(&d->pb);
	guest_memory_destroy(&d->mem);
	bus_destroy(&d->mmio);
	bus_destroy(&d->pio);
}

struct virtio_pci_env vdrv_env(struct vdrv *d)
{
	return (struct virtio_pci_env){
		.mem = &d->mem, .vm_fd = -1,
		.router = { .bind = vdrv_no_msi_bind, .update = vdrv_no_msi_update },
	};
}

uint32_t vdrv_cfg_read(struct vdrv *d, uint32_t off, unsigned len)
{
	return pci_bus_config_read(&d->pb, d->bdf, off, len);
}

void vdrv_cfg_write(struct vdrv *d, uint32_t off, uint32_t v, unsigned len)
{
	pci_bus_config_write(&d->pb, d->bdf, off, v, len);
}

void vdrv_find_caps(struct vdrv *d)
{
	/* Bounded: a looping capability list must not hang the test. */
	for (uint8_t at = (uint8_t)vdrv_cfg_read(d, PCI_CAPABILITY_LIST, 1), n = 0; at && n < 48;
	     at = (uint8_t)vdrv_cfg_read(d, at + 1, 1), n++) {
		if (vdrv_cfg_read(d, at, 1) != PCI_CAP_ID_VNDR)
			continue;
		switch (vdrv_cfg_read(d, at + 3, 1)) {
		case VDRV_CAP_COMMON:
			d->common = vdrv_cfg_read(d, at + 8, 4);
			break;
		case VDRV_CAP_NOTIFY:
			d->notify = vdrv_cfg_read(d, at + 8, 4);
			break;
		case VDRV_CAP_ISR:
			d->isr = vdrv_cfg_read(d, at + 8, 4);
			break;
		case VDRV_CAP_DEVICE:
			d->device = vdrv_cfg_read(d, at + 8, 4);
			break;
		}
	}
}

void vdrv_attach(struct vdrv *d, struct pci_device *dev)
{
	CHECK_EQ(pci_bus_add_device(&d->pb, dev), 0);
	d->bdf = (uint16_t)(dev->slot << 3);
	d->bar = (vdrv_cfg_read(d, PCI_BAR0, 4) & ~0xfull) |
		 (uint64_t)vdrv_cfg_read(d, PCI_BAR0 + 4, 4) << 32;
	vdrv_find_caps(d);
}

uint64_t vdrv_mmio_read(struct vdrv *d, uint64_t off, unsigned len)
{
	uint8_t data[8] = { 0 };
	uint64_t v = 0;

	CHECK(bus_dispatch(&d->mmio, d->bar + off, data, len, false));
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

void vdrv_mmio_write(struct vdrv *d, uint64_t off, uint64_t v, unsigned len)
{
	uint8_t data[8];

	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
	CHECK(bus_dispatch(&d->mmio, d->bar + off, data, len, true));
}

uint64_t vdrv_common_read(struct vdrv *d, unsigned field, unsigned len)
{
	return vdrv_mmio_read(d, d->common + field, len);
}

void vdrv_common_write(struct vdrv *d, unsigned field, uint64_t v, unsigned len)
{
	vdrv_mmio_write(d, d->common + field, v, len);
}

uint8_t vdrv_status(struct vdrv *d)
{
	return (uint8_t)vdrv_common_read(d, VDRV_STATUS, 1);
}

void vdrv_set_status(struct vdrv *d, uint8_t bits)
{
	vdrv_common_write(d, VDRV_STATUS, vdrv_status(d) | bits, 1);
}

bool vdrv_status_has(struct vdrv *d, uint8_t bits)
{
	return (vdrv_status(d) & bits) == bits;
}

uint64_t vdrv_device_features(struct vdrv *d)
{
	uint64_t f;

	vdrv_common_write(d, VDRV_DFSELECT, 0, 4);
	f = vdrv_common_read(d, VDRV_DF, 4);
	vdrv_common_write(d, VDRV_DFSELECT, 1, 4);
	return f | vdrv_common_read(d, VDRV_DF, 4) << 32;
}

bool vdrv_negotiate(struct vdrv *d, uint64_t features)
{
	vdrv_common_write(d, VDRV_STATUS, 0, 1);
	vdrv_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdrv_common_write(d, VDRV_GFSELECT, 0, 4);
	vdrv_common_write(d, VDRV_GF, (uint32_t)features, 4);
	vdrv_common_write(d, VDRV_GFSELECT, 1, 4);
	vdrv_common_write(d, VDRV_GF, features >> 32, 4);
	vdrv_set_status(d, VIRTIO_STATUS_FEATURES_OK);
	return vdrv_status(d) & VIRTIO_STATUS_FEATURES_OK;
}

void vdrv_queue_setup(struct vdrv *d, unsigned q, uint16_t size, uint64_t desc_gpa,
		      uint64_t avail_gpa, uint64_t used_gpa)
{
	CHECK(q < VDRV_MAX_QUEUES);
	d->vq[q] = (struct vdrv_queue){
		.desc_gpa = desc_gpa, .avail_gpa = avail_gpa, .used_gpa = used_gpa, .size = size,
	};
	vdrv_common_write(d, VDRV_Q_SELECT, q, 2);
	vdrv_common_write(d, VDRV_Q_SIZE, size, 2);
	vdrv_common_write(d, VDRV_Q_DESC, desc_gpa, 8);
	vdrv_common_write(d, VDRV_Q_DRIVER, avail_gpa, 8);
	vdrv_common_write(d, VDRV_Q_DEVICE, used_gpa, 8);
	vdrv_common_write(d, VDRV_Q_ENABLE, 1, 2);
}

bool vdrv_driver_ok(struct vdrv *d)
{
	vdrv_set_status(d, VIRTIO_STATUS_DRIVER_OK);
	return vdrv_status(d) & VIRTIO_STATUS_DRIVER_OK;
}

void vdrv_put(struct vdrv *d, uint64_t gpa, const void *v, size_t len)
{
	CHECK_EQ(guest_memory_write(&d->mem, gpa, v, len), 0);
}

void vdrv_get(struct vdrv *d, uint64_t gpa, void *v, size_t len)
{
	CHECK_EQ(guest_memory_read(&d->mem, gpa, v, len), 0);
}

void vdrv_zero(struct vdrv *d, uint64_t gpa, size_t len)
{
	static const uint8_t zero[4096];

	while (len) {
		size_t n = len < sizeof(zero) ? len : sizeof(zero);

		vdrv_put(d, gpa, zero, n);
		gpa += n;
		len -= n;
	}
}

void vdrv_desc(struct vdrv *d, unsigned q, uint16_t idx, uint64_t addr, uint32_t len,
	       uint16_t flags, uint16_t next)
{
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } e = {
		htole64(addr), htole32(len), htole16(flags), htole16(next) };

	vdrv_put(d, d->vq[q].desc_gpa + 16ull * idx, &e, sizeof(e));
}

void vdrv_offer(struct vdrv *d, unsigned q, uint16_t head)
{
	struct vdrv_queue *vq = &d->vq[q];
	uint16_t v = htole16(head);

	vdrv_put(d, vq->avail_gpa + 4 + 2ull * (vq->avail_idx % vq->size), &v, 2);
	vq->avail_idx++;
	/* Release, as a driver's write barrier: the entry before the index. */
	__atomic_store_n((uint16_t *)guest_memory_ptr(&d->mem, vq->avail_gpa + 2, 2),
			 htole16(vq->avail_idx), __ATOMIC_RELEASE);
}

void vdrv_kick(struct vdrv *d, unsigned q)
{
	/* The transport's notify_off_multiplier is 4 and queue_notify_off is
	 * the queue index. */
	vdrv_mmio_write(d, d->notify + 4 * q, q, 2);
}

void vdrv_offer_and_kick(struct vdrv *d, unsigned q, uint16_t head)
{
	vdrv_offer(d, q, head);
	vdrv_kick(d, q);
}

uint16_t vdrv_used_idx(struct vdrv *d, unsigned q)
{
	/* Acquire, as a driver's read barrier: the index before the elements. */
	return le16toh(__atomic_load_n((uint16_t *)guest_memory_ptr(&d->mem, d->vq[q].used_gpa + 2, 2),
				       __ATOMIC_ACQUIRE));
}

void vdrv_used_elem(struct vdrv *d, unsigned q, uint16_t slot, uint32_t *id, uint32_t *len)
{
	uint32_t e[2] = { 0, 0 };

	vdrv_get(d, d->vq[q].used_gpa + 4 + 8ull * (slot % d->vq[q].size), e, 8);
	*id = le32toh(e[0]);
	*len = le32toh(e[1]);
}

bool vdrv_wait(bool (*cond)(void *ctx, unsigned arg), void *ctx, unsigned arg)
{
	const struct timespec pause = { .tv_nsec = 1000000 };

	for (int i = 0; i < VDRV_WAIT_MS; i++) {
		if (cond(ctx, arg))
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

struct used_target {
	struct vdrv *d;
	unsigned q;
};

static bool used_reached(void *ctx, unsigned idx)
{
	struct used_target *t = ctx;

	return vdrv_used_idx(t->d, t->q) == (uint16_t)idx;
}

bool vdrv_wait_used(struct vdrv *d, unsigned q, uint16_t idx)
{
	struct used_target t = { d, q };

	return vdrv_wait(used_reached, &t, idx);
}

static bool status_reached(void *ctx, unsigned bits)
{
	return vdrv_status_has(ctx, (uint8_t)bits);
}

bool vdrv_wait_status(struct vdrv *d, uint8_t bits)
{
	return vdrv_wait(status_reached, d, bits);
}
