/* MSI-X table emulation for passed-through functions (vfio_msix.h). */
#include "vfio_msix.h"

#include <errno.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/log.h"

#define ENTRY_MASKED        0x1   /* vector control: the only bit defined */

int vfio_msix_init(struct vfio_msix *m, unsigned nr_vectors, const struct vfio_irq_router *r,
		   const struct vfio_irq_device *d)
{
	memset(m, 0, sizeof(*m));
	if (nr_vectors < 1 || nr_vectors > VFIO_MSIX_MAX_VECTORS)
		return -EINVAL;
	m->table = calloc(nr_vectors, sizeof(*m->table));
	m->vectors = calloc(nr_vectors, sizeof(*m->vectors));
	if (!m->table || !m->vectors) {
		free(m->table);
		free(m->vectors);
		return -ENOMEM;
	}
	m->nr_vectors = nr_vectors;
	m->router = *r;
	m->device = *d;
	for (unsigned i = 0; i < nr_vectors; i++) {
		m->table[i].control = ENTRY_MASKED;
		vfio_vector_init(&m->vectors[i]);
	}
	return 0;
}

void vfio_msix_destroy(struct vfio_msix *m)
{
	if (m->nr_programmed)
		m->device.trigger(m->device.ctx, VFIO_PCI_MSIX_IRQ_INDEX, 0, NULL);
	for (unsigned i = 0; m->vectors && i < m->nr_vectors; i++)
		vfio_vector_close(&m->vectors[i], &m->router);
	free(m->table);
	free(m->vectors);
	memset(m, 0, sizeof(*m));
}

uint64_t vfio_msix_table_size(const struct vfio_msix *m)
{
	return (uint64_t)m->nr_vectors * VFIO_MSIX_ENTRY_SIZE;
}

uint64_t vfio_msix_pba_size(const struct vfio_msix *m)
{
	return ((uint64_t)m->nr_vectors + 63) / 64 * 8;
}

static bool vector_live(const struct vfio_msix *m, unsigned i)
{
	return m->enabled && !m->masked && !(m->table[i].control & ENTRY_MASKED);
}

/* Gives VFIO eventfds for vectors 0..needed-1. Growing means disabling
 * and enabling again (VFIO cannot add vectors to an enabled index). */
static int program(struct vfio_msix *m, unsigned needed)
{
	int *fds;
	int ret = 0;

	if (needed <= m->nr_programmed)
		return 0;
	fds = calloc(needed, sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	for (unsigned i = 0; i < needed && ret == 0; i++) {
		ret = vfio_vector_open(&m->vectors[i]);
		fds[i] = m->vectors[i].eventfd;
	}
	if (ret == 0 && m->nr_programmed)
		m->device.trigger(m->device.ctx, VFIO_PCI_MSIX_IRQ_INDEX, 0, NULL);
	if (ret == 0)
		ret = m->device.trigger(m->device.ctx, VFIO_PCI_MSIX_IRQ_INDEX, needed, fds);
	m->nr_programmed = ret == 0 ? needed : 0;
	free(fds);
	return ret;
}

/* Brings VFIO and the irqfds in line with the table and the capability. */
static int sync_vectors(struct vfio_msix *m)
{
	unsigned needed = 1;
	int ret;

	if (!m->enabled) {
		if (m->nr_programmed)
			m->device.trigger(m->device.ctx, VFIO_PCI_MSIX_IRQ_INDEX, 0, NULL);
		for (unsigned i = 0; i < m->nr_vectors; i++)
			vfio_vector_disconnect(&m->vectors[i], &m->router);
		m->nr_programmed = 0;
		return 0;
	}
	for (unsigned i = 0; i < m->nr_vectors; i++)
		if (vector_live(m, i))
			needed = i + 1;
	ret = program(m, needed);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < m->nr_programmed; i++) {
		const struct vfio_msix_entry *e = &m->table[i];

		ret = vfio_vector_follow_mask(&m->vectors[i], &m->router, !vector_live(m, i),
					      (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static bool range_ok(uint64_t offset, uint32_t len, uint64_t size)
{
	return len >= 1 && len <= 8 && offset < size && len <= size - offset;
}

void vfio_msix_table_access(struct vfio_msix *m, uint64_t offset, uint8_t *data, uint32_t len,
			    bool is_write)
{
	uint8_t *table = (uint8_t *)m->table;
	int ret;

	if (!range_ok(offset, len, vfio_msix_table_size(m))) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (!is_write) {
		memcpy(data, table + offset, len);
		return;
	}
	memcpy(table + offset, data, len);
	/* Reserved vector control bits read as zero. */
	for (uint64_t i = offset / VFIO_MSIX_ENTRY_SIZE;
	     i <= (offset + len - 1) / VFIO_MSIX_ENTRY_SIZE; i++)
		m->table[i].control &= ENTRY_MASKED;
	ret = sync_vectors(m);
	if (ret < 0)
		log_warn("vfio: MSI-X vectors: %s", strerror(-ret));
}

void vfio_msix_pba_access(struct vfio_msix *m, uint64_t offset, uint8_t *data, uint32_t len,
			  bool is_write)
{
	if (is_write)
		return;   /* read-only */
	if (!range_ok(offset, len, vfio_msix_pba_size(m))) {
		memset(data, 0xff, len);
		return;
	}
	/* A masked vector whose eventfd VFIO signalled is pending. */
	for (uint32_t b = 0; b < len; b++) {
		uint8_t byte = 0;

		for (unsigned bit = 0; bit < 8; bit++) {
			uint64_t v = (offset + b) * 8 + bit;

			if (v < m->nr_programmed && vfio_vector_pending(&m->vectors[v]))
				byte |= (uint8_t)(1u << bit);
		}
		data[b] = byte;
	}
}

int vfio_msix_set_control(struct vfio_msix *m, bool enabled, bool masked)
{
	if (m->enabled == enabled && m->masked == masked)
		return 0;
	m->enabled = enabled;
	m->masked = masked;
	return sync_vectors(m);
}
