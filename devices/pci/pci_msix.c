#include "pci_msix.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../vmm/log.h"

/* The capability after its id and next bytes (PCI 3.0, 6.8.2). */
#define MSIX_CAP_CONTROL      0   /* message control, 2 bytes */
#define MSIX_CAP_TABLE        2   /* table offset | BIR, 4 bytes */
#define MSIX_CAP_PBA          6   /* PBA offset | BIR, 4 bytes */
#define MSIX_CAP_BODY_LEN     10

#define MSIX_CONTROL_TABLE_SIZE 0x07ff
#define MSIX_CONTROL_MASKALL    0x4000
#define MSIX_CONTROL_ENABLE     0x8000
#define MSIX_BIR_MASK           0x7

/* A table entry: four dwords. */
#define MSIX_ENTRY_ADDR_LO      0
#define MSIX_ENTRY_ADDR_HI      1
#define MSIX_ENTRY_DATA         2
#define MSIX_ENTRY_CONTROL      3
#define MSIX_VECTOR_MASKED      0x1
/* Vector control bits 31:1 are reserved (read as zero by the guest);
 * bit 31 of our copy records that the message changed since its route
 * was last programmed, so masking and unmasking an unchanged vector
 * costs no GSI routing update. */
#define MSIX_VECTOR_ROUTE_STALE 0x80000000u
#define MSIX_VECTOR_GUEST_BITS  MSIX_VECTOR_MASKED

static uint16_t message_control(const struct pci_msix *m)
{
	return (uint16_t)pci_config_read(m->dev, m->cap_offset + 2 + MSIX_CAP_CONTROL, 2);
}

bool pci_msix_enabled(struct pci_msix *m)
{
	return message_control(m) & MSIX_CONTROL_ENABLE;
}

uint64_t pci_msix_table_size(unsigned nr_vectors)
{
	return (uint64_t)nr_vectors * PCI_MSIX_ENTRY_SIZE;
}

uint64_t pci_msix_pba_size(unsigned nr_vectors)
{
	return ((uint64_t)nr_vectors + 63) / 64 * 8;
}

static bool regions_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static void close_eventfds(struct pci_msix *m, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		if (m->vectors[i].eventfd >= 0)
			close(m->vectors[i].eventfd);
		m->vectors[i].eventfd = -1;
	}
}

int pci_msix_init(struct pci_msix *m, struct pci_device *dev, unsigned nr_vectors,
		  unsigned bar, uint64_t table_offset, uint64_t pba_offset,
		  const struct msi_router *router)
{
	uint64_t table_len = pci_msix_table_size(nr_vectors);
	uint64_t pba_len = pci_msix_pba_size(nr_vectors);
	const struct pci_bar *b;
	uint8_t body[MSIX_CAP_BODY_LEN], wmask[MSIX_CAP_BODY_LEN] = { 0 };
	uint16_t control = (uint16_t)(nr_vectors - 1);
	uint32_t table_reg, pba_reg;
	int ret;

	memset(m, 0, sizeof(*m));
	if (!dev || !router || !router->bind || !router->update ||
	    nr_vectors == 0 || nr_vectors > PCI_MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS ||
	    table_offset % 8 || pba_offset % 8 ||
	    table_offset > UINT32_MAX - table_len || pba_offset > UINT32_MAX - pba_len ||
	    regions_overlap(table_offset, table_len, pba_offset, pba_len))
		return -EINVAL;
	/* The BAR may come later; if it is there already, both must fit. */
	b = &dev->bars[bar];
	if (b->kind == PCI_BAR_IO ||
	    (b->kind != PCI_BAR_UNUSED &&
	     (table_offset + table_len > b->size || pba_offset + pba_len > b->size)))
		return -EINVAL;

	m->nr_vectors = nr_vectors;
	m->bar = bar;
	m->table_offset = table_offset;
	m->pba_offset = pba_offset;
	m->router = *router;
	for (unsigned i = 0; i < PCI_MSIX_MAX_VECTORS; i++)
		m->vectors[i].eventfd = -1;
	for (unsigned i = 0; i < nr_vectors; i++) {
		/* Masked at reset (PCI 3.0, 6.8.2.9). */
		m->vectors[i].control = MSIX_VECTOR_MASKED | MSIX_VECTOR_ROUTE_STALE;
		m->vectors[i].eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->vectors[i].eventfd < 0) {
			ret = -errno;
			close_eventfds(m, i);
			return ret;
		}
	}

	table_reg = (uint32_t)table_offset | bar;
	pba_reg = (uint32_t)pba_offset | bar;
	body[MSIX_CAP_CONTROL] = (uint8_t)control;
	body[MSIX_CAP_CONTROL + 1] = (uint8_t)(control >> 8);
	for (int i = 0; i < 4; i++) {
		body[MSIX_CAP_TABLE + i] = (uint8_t)(table_reg >> (8 * i));
		body[MSIX_CAP_PBA + i] = (uint8_t)(pba_reg >> (8 * i));
	}
	/* The guest owns enable and function mask; the rest is read-only. */
	wmask[MSIX_CAP_CONTROL + 1] = (MSIX_CONTROL_ENABLE | MSIX_CONTROL_MASKALL) >> 8;
	m->cap_offset = pci_device_add_capability(dev, PCI_CAP_ID_MSIX, body,
						  sizeof(body), wmask);
	if (!m->cap_offset) {
		close_eventfds(m, nr_vectors);
		return -ENOSPC;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->dev = dev;  /* last: a NULL dev marks a pci_msix that failed init */
	return 0;
}

void pci_msix_destroy(struct pci_msix *m)
{
	if (!m->dev)
		return;
	close_eventfds(m, m->nr_vectors);
	pthread_mutex_destroy(&m->lock);
	m->dev = NULL;
}

/* ---- delivery (all with m->lock held) ---- */

static bool vector_masked(const struct pci_msix_vector *v)
{
	return v->control & MSIX_VECTOR_MASKED;
}

static void signal_eventfd(const struct pci_msix_vector *v)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: an interrupt is pending
	 * in KVM anyway. */
	if (write(v->eventfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("msix: signalling vector eventfd: %s", strerror(errno));
}

/* Gives an unmasked vector of an enabled function the route its entry
 * asks for: the first time a GSI bound to its eventfd, later an update. */
static void sync_route(struct pci_msix *m, unsigned index)
{
	struct pci_msix_vector *v = &m->vectors[index];
	uint64_t address = (uint64_t)v->addr_hi << 32 | v->addr_lo;
	unsigned gsi;
	int ret;

	if (vector_masked(v) || (v->bound && !(v->control & MSIX_VECTOR_ROUTE_STALE)))
		return;
	if (v->bound) {
		ret = m->router.update(m->router.ctx, v->gsi, address, v->data);
	} else {
		ret = m->router.bind(m->router.ctx, address, v->data, v->eventfd, &gsi);
		if (ret == 0) {
			v->gsi = gsi;
			v->bound = true;
		}
	}
	if (ret < 0) {
		log_warn("msix: %s vector %u: cannot route its message: %s",
			 m->dev->name, index, strerror(-ret));
		return;
	}
	v->control &= ~MSIX_VECTOR_ROUTE_STALE;
}

static bool deliverable(const struct pci_msix_vector *v, uint16_t control)
{
	return (control & MSIX_CONTROL_ENABLE) && !(control & MSIX_CONTROL_MASKALL) &&
	       !vector_masked(v) && v->bound;
}

/* After anything that may let vector index through: route it, then hand
 * over what it held back while masked. */
static void service_vector(struct pci_msix *m, unsigned index, uint16_t control)
{
	struct pci_msix_vector *v = &m->vectors[index];

	if (!(control & MSIX_CONTROL_ENABLE))
		return;
	sync_route(m, index);
	if (v->pending && deliverable(v, control)) {
		v->pending = false;
		signal_eventfd(v);
	}
}

void pci_msix_notify(struct pci_msix *m, unsigned vector)
{
	struct pci_msix_vector *v;

	if (!m->dev || vector >= m->nr_vectors)
		return;
	v = &m->vectors[vector];
	pthread_mutex_lock(&m->lock);
	if (deliverable(v, message_control(m)))
		signal_eventfd(v);
	else
		v->pending = true;
	pthread_mutex_unlock(&m->lock);
}

void pci_msix_config_write(struct pci_msix *m, uint32_t offset, uint32_t len)
{
	uint32_t control_at = m->cap_offset + 2 + MSIX_CAP_CONTROL;
	uint16_t control;

	if (!m->dev || !regions_overlap(offset, len, control_at, 2))
		return;
	pthread_mutex_lock(&m->lock);
	control = message_control(m);
	for (unsigned i = 0; i < m->nr_vectors; i++)
		service_vector(m, i, control);
	pthread_mutex_unlock(&m->lock);
}

/* ---- table and PBA ---- */

static uint32_t table_read(struct pci_msix *m, uint64_t offset)
{
	const struct pci_msix_vector *v = &m->vectors[offset / PCI_MSIX_ENTRY_SIZE];

	switch (offset % PCI_MSIX_ENTRY_SIZE / 4) {
	case MSIX_ENTRY_ADDR_LO:
		return v->addr_lo;
	case MSIX_ENTRY_ADDR_HI:
		return v->addr_hi;
	case MSIX_ENTRY_DATA:
		return v->data;
	default:
		return v->control & MSIX_VECTOR_GUEST_BITS;
	}
}

static void table_write(struct pci_msix *m, uint64_t offset, uint32_t value)
{
	unsigned index = (unsigned)(offset / PCI_MSIX_ENTRY_SIZE);
	struct pci_msix_vector *v = &m->vectors[index];
	uint32_t *field;

	switch (offset % PCI_MSIX_ENTRY_SIZE / 4) {
	case MSIX_ENTRY_ADDR_LO:
		/* Bits 1:0 keep the message dword-aligned. */
		field = &v->addr_lo;
		value &= ~3u;
		break;
	case MSIX_ENTRY_ADDR_HI:
		field = &v->addr_hi;
		break;
	case MSIX_ENTRY_DATA:
		field = &v->data;
		break;
	default:
		v->control = (v->control & ~MSIX_VECTOR_GUEST_BITS) |
			     (value & MSIX_VECTOR_GUEST_BITS);
		service_vector(m, index, message_control(m));
		return;
	}
	if (*field == value)
		return;
	*field = value;
	v->control |= MSIX_VECTOR_ROUTE_STALE;
	/* The guest should mask a vector before rewriting it; one that
	 * rewrites it live gets the new message from now on. */
	service_vector(m, index, message_control(m));
}

static uint32_t pba_read(const struct pci_msix *m, uint64_t offset)
{
	uint32_t bits = 0;
	unsigned first = (unsigned)(offset * 8);

	for (unsigned i = 0; i < 32 && first + i < m->nr_vectors; i++)
		if (m->vectors[first + i].pending)
			bits |= 1u << i;
	return bits;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Dword and aligned qword accesses only (PCI 3.0, 6.8.2); a qword is two
 * dwords, low first. */
static bool access_shape_ok(uint64_t offset, uint32_t len)
{
	return (len == 4 || len == 8) && offset % len == 0;
}

bool pci_msix_bar_access(struct pci_msix *m, uint64_t offset, uint8_t *data,
			 uint32_t len, bool is_write)
{
	uint64_t table_len = pci_msix_table_size(m->nr_vectors);
	uint64_t pba_len = pci_msix_pba_size(m->nr_vectors);
	bool in_table, in_pba;

	if (!m->dev)
		return false;
	in_table = offset >= m->table_offset && offset - m->table_offset < table_len;
	in_pba = offset >= m->pba_offset && offset - m->pba_offset < pba_len;
	if (!in_table && !in_pba)
		return false;

	offset -= in_table ? m->table_offset : m->pba_offset;
	if (!access_shape_ok(offset, len) ||
	    offset + len > (in_table ? table_len : pba_len)) {
		log_debug("msix: %s: ignoring %u-byte %s at %s offset 0x%" PRIx64,
			  m->dev->name, len, is_write ? "write" : "read",
			  in_table ? "table" : "PBA", offset);
		if (!is_write)
			memset(data, 0xff, len);
		return true;
	}

	pthread_mutex_lock(&m->lock);
	for (uint32_t done = 0; done < len; done += 4) {
		if (in_table && is_write)
			table_write(m, offset + done, get_le32(data + done));
		else if (in_table)
			put_le32(data + done, table_read(m, offset + done));
		else if (!is_write)
			put_le32(data + done, pba_read(m, offset + done));
		/* PBA writes are ignored: it is read-only. */
	}
	pthread_mutex_unlock(&m->lock);
	return true;
}
