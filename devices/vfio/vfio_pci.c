/* A passed-through PCI function (vfio_pci.h). */
#include "vfio_pci.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../vmm/error_text.h"
#include "../../vmm/log.h"

#define CONFIG_REGION   VFIO_PCI_CONFIG_REGION_INDEX
#define ROM_REGION      VFIO_PCI_ROM_REGION_INDEX
#define REGION_INFO_MAX 4096   /* region info with its capability chain */

static struct vfio_pci *of(struct pci_device *pci)
{
	return pci->opaque;
}

/* ---- the device's regions ---- */

static int region_io(struct vfio_pci *d, unsigned index, uint64_t offset, void *buf,
		     uint32_t len, bool is_write)
{
	const struct vfio_pci_region *r = &d->regions[index];
	ssize_t n;

	if (offset >= r->size || len > r->size - offset)
		return -EINVAL;
	n = is_write ? pwrite(d->fd, buf, len, (off_t)(r->offset + offset))
		     : pread(d->fd, buf, len, (off_t)(r->offset + offset));
	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

/* How much of [offset, offset + len) the device's config region holds.
 * Some devices offer less than the 256-byte header (mbochs: 255 bytes):
 * what lies past their region reads as zeros and takes no writes, as an
 * absent register would. */
static unsigned config_io_span(const struct vfio_pci *d, uint32_t offset, unsigned len)
{
	uint64_t size = d->regions[CONFIG_REGION].size;

	if (offset >= size)
		return 0;
	return len > size - offset ? (unsigned)(size - offset) : len;
}

static int config_io_read(void *ctx, uint32_t offset, void *buf, unsigned len)
{
	struct vfio_pci *d = ctx;
	unsigned span = config_io_span(d, offset, len);

	memset(buf, 0, len);
	return span ? region_io(d, CONFIG_REGION, offset, buf, span, false) : 0;
}

static int config_io_write(void *ctx, uint32_t offset, const void *buf, unsigned len)
{
	struct vfio_pci *d = ctx;
	unsigned span = config_io_span(d, offset, len);

	return span ? region_io(d, CONFIG_REGION, offset, (void *)buf, span, true) : 0;
}

/* Reads region index's info, and its sparse mmap areas into areas (the
 * whole region when it is mmap-able without them). */
static int read_region(struct vfio_pci *d, unsigned index, struct vfio_range *areas,
		       unsigned *nr_areas)
{
	union { struct vfio_region_info info; uint8_t bytes[REGION_INFO_MAX]; } u;
	struct vfio_region_info *info = &u.info;

	*nr_areas = 0;
	memset(&u, 0, sizeof(u));
	/* VFIO's protocol: ask with the plain structure; a driver with a
	 * capability chain says how much room it needs in argsz, and only then
	 * is it asked again with that room. Some drivers (mbochs) refuse an
	 * argsz larger than what they would write. */
	info->argsz = sizeof(*info);
	info->index = index;
	if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, info) < 0)
		return -errno;
	if (info->argsz > sizeof(*info) && info->argsz <= sizeof(u)) {
		uint32_t want = info->argsz;

		memset(&u, 0, sizeof(u));
		info->argsz = want;
		info->index = index;
		if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, info) < 0)
			return -errno;
	}
	d->regions[index] = (struct vfio_pci_region){ info->offset, info->size, info->flags };
	if (!(info->flags & VFIO_REGION_INFO_FLAG_MMAP) || !areas)
		return 0;
	if ((info->flags & VFIO_REGION_INFO_FLAG_CAPS) && info->argsz <= sizeof(u)) {
		uint32_t next = info->cap_offset;

		/* Walk the chain inside what the kernel wrote, never beyond. */
		for (unsigned steps = 0; next && steps < 16; steps++) {
			struct vfio_info_cap_header *h;

			if (next > sizeof(u) - sizeof(*h))
				break;
			h = (struct vfio_info_cap_header *)(u.bytes + next);
			if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP &&
			    next <= sizeof(u) - sizeof(struct vfio_region_info_cap_sparse_mmap)) {
				struct vfio_region_info_cap_sparse_mmap *s = (void *)h;
				uint64_t room = (sizeof(u) - next - sizeof(*s)) /
						sizeof(s->areas[0]);

				for (uint32_t i = 0; i < s->nr_areas && i < room &&
				     *nr_areas < VFIO_BAR_MAX_PIECES; i++)
					areas[(*nr_areas)++] = (struct vfio_range){
						s->areas[i].offset, s->areas[i].size };
				return 0;
			}
			next = h->next;
		}
	}
	areas[(*nr_areas)++] = (struct vfio_range){ 0, info->size };
	return 0;
}

/* ---- BARs ---- */

typedef void (*msix_access_fn)(struct vfio_msix *m, uint64_t offset, uint8_t *data,
			       uint32_t len, bool is_write);

/* Hands the access to fn when it falls in [start, start+size) of BAR bar. */
static bool msix_part_access(struct vfio_pci *d, unsigned index, unsigned bar, uint64_t start,
			     uint64_t size, msix_access_fn fn, uint64_t offset, uint8_t *data,
			     uint32_t len, bool is_write)
{
	if (!d->has_msix || index != bar || offset < start || offset - start >= size)
		return false;
	pthread_mutex_lock(&d->lock);
	fn(&d->msix, offset - start, data, len, is_write);
	pthread_mutex_unlock(&d->lock);
	return true;
}

static void bar_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vfio_pci_bar_ctx *ctx = opaque;
	struct vfio_pci *d = ctx->dev;
	const struct vfio_msix_cap *c = &d->cfg.msix;

	if (msix_part_access(d, ctx->index, c->table_bar, c->table_offset,
			     vfio_msix_table_size(&d->msix), vfio_msix_table_access,
			     offset, data, len, is_write) ||
	    msix_part_access(d, ctx->index, c->pba_bar, c->pba_offset,
			     vfio_msix_pba_size(&d->msix), vfio_msix_pba_access,
			     offset, data, len, is_write))
		return;
	/* Beyond the device's region (the guest's BAR is rounded up): nothing. */
	if (region_io(d, ctx->index, offset, data, len, is_write) < 0 && !is_write)
		memset(data, 0xff, len);
}

/* Lays out BAR i and maps its mmap-able pieces; with trap_bars (mmap=off)
 * the region is read as if VFIO offered no mmap areas, so the layout has
 * no pieces and every access comes to bar_access. */
static int setup_bar(struct vfio_pci *d, unsigned i, bool trap_bars, char *err, size_t errlen)
{
	struct vfio_range areas[VFIO_BAR_MAX_PIECES], traps[VFIO_BAR_MAX_TRAPS];
	struct vfio_bar_layout *bar = &d->bars[i];
	unsigned nr_areas, nr_traps = 0;
	long page = sysconf(_SC_PAGESIZE);
	int ret = read_region(d, i, trap_bars ? NULL : areas, &nr_areas);

	if (ret < 0)
		return write_error(err, errlen, "BAR %u: VFIO_DEVICE_GET_REGION_INFO: %s", i,
				   strerror(-ret));
	if (d->has_msix && d->cfg.msix.table_bar == i)
		traps[nr_traps++] = (struct vfio_range){ d->cfg.msix.table_offset,
							 vfio_msix_table_size(&d->msix) };
	if (d->has_msix && d->cfg.msix.pba_bar == i)
		traps[nr_traps++] = (struct vfio_range){ d->cfg.msix.pba_offset,
							 vfio_msix_pba_size(&d->msix) };
	if (vfio_bar_layout(bar, d->cfg.bar_registers[i], d->regions[i].size, areas, nr_areas,
			    traps, nr_traps, (uint64_t)page, err, errlen) < 0)
		return -1;
	if (bar->kind == PCI_BAR_UNUSED)
		return 0;
	d->bar_ctx[i] = (struct vfio_pci_bar_ctx){ d, i };
	ret = pci_device_add_bar(&d->pci, i, bar->kind, bar->prefetchable, bar->size,
				 bar_access, &d->bar_ctx[i]);
	if (ret < 0)
		return write_error(err, errlen, "BAR %u (0x%" PRIx64 " bytes) cannot be offered to "
				   "the guest", i, bar->size);
	for (unsigned p = 0; p < bar->nr_pieces; p++) {
		void *host = mmap(NULL, bar->pieces[p].size, PROT_READ | PROT_WRITE, MAP_SHARED,
				  d->fd, (off_t)(d->regions[i].offset + bar->pieces[p].offset));

		/* Unmapped pieces still work, trapped. */
		if (host == MAP_FAILED)
			log_warn("vfio %s: BAR %u at +0x%" PRIx64 " cannot be mapped (%s); it is "
				 "trapped instead", d->name, i, bar->pieces[p].offset, strerror(errno));
		d->pieces[i][p].host = host == MAP_FAILED ? NULL : host;
	}
	return 0;
}

static void bar_pieces_out(struct vfio_pci *d, unsigned i)
{
	for (unsigned p = 0; p < d->bars[i].nr_pieces; p++) {
		struct vfio_pci_piece *piece = &d->pieces[i][p];

		if (piece->in_guest)
			d->env.memslot_remove(d->env.memslot_ctx, piece->slot);
		piece->in_guest = false;
	}
}

/* The guest mapped, moved or unmapped BAR i (under the PCI bus lock). */
static void bar_changed(struct pci_device *pci, unsigned i)
{
	struct vfio_pci *d = of(pci);
	const struct pci_bar *b = &pci->bars[i];

	bar_pieces_out(d, i);
	if (!b->mapped)
		return;
	for (unsigned p = 0; p < d->bars[i].nr_pieces; p++) {
		struct vfio_pci_piece *piece = &d->pieces[i][p];
		const struct vfio_range *r = &d->bars[i].pieces[p];

		if (!piece->host)
			continue;
		if (d->env.memslot_add(d->env.memslot_ctx, b->addr + r->offset, r->size,
				       piece->host, &piece->slot) == 0)
			piece->in_guest = true;
	}
}

/* ---- the expansion ROM ---- */

static int rom_io_read(void *ctx, uint64_t offset, void *buf, uint32_t len)
{
	return region_io(ctx, ROM_REGION, offset, buf, len, false);
}

/* A ROM that cannot be offered is no reason to refuse the device: the
 * guest's ROM BAR then reads as zero, as for a device without one. */
static void setup_rom(struct vfio_pci *d, bool hide_rom)
{
	const struct vfio_rom_io io = { rom_io_read, d };
	const struct vfio_pci_region *r = &d->regions[ROM_REGION];
	unsigned nr;
	int ret = read_region(d, ROM_REGION, NULL, &nr);

	if (ret < 0) {
		log_debug("vfio %s: no expansion ROM (its region: %s)", d->name, strerror(-ret));
		return;
	}
	if (!vfio_rom_init(&d->rom, d->name, r->size, r->flags & VFIO_REGION_INFO_FLAG_READ,
			   hide_rom, &io))
		return;
	ret = pci_device_add_rom(&d->pci, d->rom.bar_size, vfio_rom_access, &d->rom);
	if (ret < 0)
		log_warn("vfio %s: its expansion ROM (0x%" PRIx64 " bytes) cannot be offered to "
			 "the guest: %s", d->name, d->rom.bar_size, strerror(-ret));
}

/* ---- interrupts ---- */

static int irq_trigger(void *ctx, unsigned index, unsigned count, const int *fds)
{
	struct vfio_pci *d = ctx;
	size_t size = sizeof(struct vfio_irq_set) + (size_t)count * sizeof(int32_t);
	struct vfio_irq_set *set = calloc(1, size);
	int ret = 0;

	if (!set)
		return -ENOMEM;
	set->argsz = (uint32_t)size;
	set->index = index;
	set->start = 0;
	set->count = count;
	set->flags = VFIO_IRQ_SET_ACTION_TRIGGER |
		     (count ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
	for (unsigned i = 0; i < count; i++)
		((int32_t *)set->data)[i] = fds[i];
	if (ioctl(d->fd, VFIO_DEVICE_SET_IRQS, set) < 0)
		ret = -errno;
	free(set);
	return ret;
}

static int irq_unmask_fd(void *ctx, int fd)
{
	struct vfio_pci *d = ctx;
	struct { struct vfio_irq_set set; int32_t fd; } u = {
		.set = {
			.argsz = sizeof(u), .index = VFIO_PCI_INTX_IRQ_INDEX, .count = 1,
			.flags = VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_DATA_EVENTFD,
		},
		.fd = fd,
	};

	return ioctl(d->fd, VFIO_DEVICE_SET_IRQS, &u) < 0 ? -errno : 0;
}

static enum vfio_irq_mode wanted_mode(const struct vfio_pci *d)
{
	if (d->has_msix && vfio_config_msix_enabled(&d->cfg))
		return VFIO_IRQ_MSIX;
	if (vfio_config_msi_enabled(&d->cfg))
		return VFIO_IRQ_MSI;
	return d->cfg.has_intx && d->pci.bus ? VFIO_IRQ_INTX : VFIO_IRQ_NONE;
}

static void irq_mode_off(struct vfio_pci *d)
{
	switch (d->irq_mode) {
	case VFIO_IRQ_INTX:
		vfio_intx_disable(&d->intx, &d->env.router, &d->irq_device);
		break;
	case VFIO_IRQ_MSI:
		vfio_msi_update(&d->msi, &d->env.router, &d->irq_device, false, 0, 0, 0, 0);
		break;
	case VFIO_IRQ_MSIX:
		vfio_msix_set_control(&d->msix, false, false);
		break;
	default:
		break;
	}
	d->irq_mode = VFIO_IRQ_NONE;
}

/* Follows the guest's interrupt settings; with d->lock held. VFIO takes
 * one kind at a time, so a change of kind turns the old one off first. */
static void irq_update(struct vfio_pci *d)
{
	enum vfio_irq_mode want = wanted_mode(d);
	int ret = 0;

	if (want != d->irq_mode)
		irq_mode_off(d);
	switch (want) {
	case VFIO_IRQ_INTX:
		ret = vfio_intx_enable(&d->intx, &d->env.router, &d->irq_device, d->pci.intx_gsi);
		break;
	case VFIO_IRQ_MSI:
		ret = vfio_msi_update(&d->msi, &d->env.router, &d->irq_device, true,
				      vfio_config_msi_vectors(&d->cfg),
				      vfio_config_msi_address(&d->cfg),
				      vfio_config_msi_data(&d->cfg),
				      vfio_config_msi_mask(&d->cfg));
		break;
	case VFIO_IRQ_MSIX:
		ret = vfio_msix_set_control(&d->msix, true, vfio_config_msix_masked(&d->cfg));
		break;
	default:
		break;
	}
	d->irq_mode = want;
	if (ret < 0)
		log_warn("vfio %s: interrupts: %s", d->name, strerror(-ret));
}

/* ---- config space hooks ---- */

/* The MSI pending register's bits (vfio_msi_pending_source): which masked
 * vectors VFIO signalled. Called under the PCI bus lock, like
 * config_written, which also takes d->lock inside it. */
static uint32_t msi_pending_read(void *ctx)
{
	struct vfio_pci *d = ctx;
	uint32_t pending;

	pthread_mutex_lock(&d->lock);
	pending = vfio_msi_pending(&d->msi);
	pthread_mutex_unlock(&d->lock);
	return pending;
}

static uint32_t config_read_through(struct pci_device *pci, uint32_t offset, unsigned len,
				    uint32_t value)
{
	return vfio_config_read(&of(pci)->cfg, offset, len, value);
}

static void config_write_through(struct pci_device *pci, uint32_t offset, uint32_t value,
				 unsigned len)
{
	vfio_config_write(&of(pci)->cfg, offset, value, len);
}

static void config_written(struct pci_device *pci, uint32_t offset, uint32_t len)
{
	struct vfio_pci *d = of(pci);

	if (vfio_config_written(&d->cfg, offset, len)) {
		pthread_mutex_lock(&d->lock);
		irq_update(d);
		pthread_mutex_unlock(&d->lock);
	}
}

static const struct pci_device_ops vfio_pci_ops = {
	.config_write = config_written,
	.bar_changed = bar_changed,
	.config_read_through = config_read_through,
	.config_write_through = config_write_through,
};

/* ---- life cycle ---- */

static void reset(struct vfio_pci *d)
{
	if (d->can_reset && ioctl(d->fd, VFIO_DEVICE_RESET) < 0)
		log_warn("vfio %s: reset failed: %s", d->name, strerror(errno));
}

int vfio_pci_create(struct vfio_pci *d, int device_fd, const char *name,
		    const struct vfio_pci_options *opts, const struct vfio_pci_env *env,
		    char *err, size_t errlen)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	const struct vfio_config_io io = { config_io_read, config_io_write, d };
	unsigned nr;
	int ret;

	memset(d, 0, sizeof(*d));
	d->fd = device_fd;
	d->env = *env;
	d->irq_device = (struct vfio_irq_device){ irq_trigger, irq_unmask_fd, d };
	snprintf(d->name, sizeof(d->name), "%s", name);
	pthread_mutex_init(&d->lock, NULL);
	vfio_msi_init(&d->msi);
	vfio_intx_init(&d->intx);
	if (ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info) < 0)
		return write_error(err, errlen, "%s: VFIO_DEVICE_GET_INFO: %s", name, strerror(errno));
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI) || info.num_regions <= CONFIG_REGION)
		return write_error(err, errlen, "%s is not a PCI device to VFIO", name);
	d->can_reset = info.flags & VFIO_DEVICE_FLAGS_RESET;
	reset(d);
	ret = read_region(d, CONFIG_REGION, NULL, &nr);
	if (ret < 0)
		return write_error(err, errlen, "%s: its config region: %s", name, strerror(-ret));
	if (vfio_config_init(&d->cfg, &d->pci, d->name, &io, err, errlen) < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		return write_error(err, errlen, "%s: %s", name, why);
	}
	d->cfg.msi_pending = (struct vfio_msi_pending_source){ msi_pending_read, d };
	d->pci.ops = &vfio_pci_ops;
	d->pci.opaque = d;
	if (d->cfg.msix.offset) {
		ret = vfio_msix_init(&d->msix, d->cfg.msix.nr_vectors, &env->router, &d->irq_device);
		if (ret < 0)
			return write_error(err, errlen, "%s: MSI-X: %s", name, strerror(-ret));
		d->has_msix = true;
	}
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		if (i > 0 && d->bars[i - 1].kind == PCI_BAR_MEM64)
			continue;   /* the upper half of a 64-bit BAR */
		if (setup_bar(d, i, opts->trap_bars, err, errlen) < 0) {
			char why[256];

			snprintf(why, sizeof(why), "%s", err);
			return write_error(err, errlen, "%s: %s", name, why);
		}
	}
	setup_rom(d, opts->hide_rom);
	if (opts->trap_bars)
		log_debug("vfio %s: mmap=off: no BAR is mapped into the guest, every access is "
			  "trapped", d->name);
	return 0;
}

int vfio_pci_start(struct vfio_pci *d, char *err, size_t errlen)
{
	if (!d->cfg.has_intx)
		pci_config_write_raw(&d->pci, PCI_INTERRUPT_PIN, 0, 1);
	pthread_mutex_lock(&d->lock);
	irq_update(d);
	pthread_mutex_unlock(&d->lock);
	if (d->cfg.has_intx && d->irq_mode != VFIO_IRQ_INTX)
		return write_error(err, errlen, "%s: its INTx line cannot be wired", d->name);
	return 0;
}

void vfio_pci_destroy(struct vfio_pci *d)
{
	if (d->fd < 0)
		return;
	pthread_mutex_lock(&d->lock);
	irq_mode_off(d);
	pthread_mutex_unlock(&d->lock);
	if (d->has_msix)
		vfio_msix_destroy(&d->msix);
	vfio_msi_destroy(&d->msi, &d->env.router);
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		bar_pieces_out(d, i);
		for (unsigned p = 0; p < d->bars[i].nr_pieces; p++)
			if (d->pieces[i][p].host)
				munmap(d->pieces[i][p].host, d->bars[i].pieces[p].size);
	}
	reset(d);
	close(d->fd);
	d->fd = -1;
	pthread_mutex_destroy(&d->lock);
}
