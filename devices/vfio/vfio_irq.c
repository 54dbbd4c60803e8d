/* MSI, INTx and the vectors they share (vfio_irq.h). */
#include "vfio_irq.h"

#include <errno.h>
#include <linux/vfio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

void vfio_vector_init(struct vfio_vector *v)
{
	*v = (struct vfio_vector){ .eventfd = -1 };
}

int vfio_vector_open(struct vfio_vector *v)
{
	if (v->eventfd >= 0)
		return 0;
	v->eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return v->eventfd < 0 ? -errno : 0;
}

int vfio_vector_connect(struct vfio_vector *v, const struct vfio_irq_router *r,
			uint64_t address, uint32_t data)
{
	int ret;

	if (v->eventfd < 0)
		return -EBADF;
	if (!v->routed) {
		ret = r->add_route(r->ctx, address, data, &v->gsi);
		if (ret < 0)
			return ret;
		v->routed = true;
	} else if (v->address != address || v->data != data) {
		ret = r->update_route(r->ctx, v->gsi, address, data);
		if (ret < 0)
			return ret;
	}
	v->address = address;
	v->data = data;
	if (!v->irqfd_on) {
		ret = r->irqfd(r->ctx, v->eventfd, v->gsi, -1, true);
		if (ret < 0)
			return ret;
		v->irqfd_on = true;
	}
	return 0;
}

void vfio_vector_disconnect(struct vfio_vector *v, const struct vfio_irq_router *r)
{
	if (!v->irqfd_on)
		return;
	r->irqfd(r->ctx, v->eventfd, v->gsi, -1, false);
	v->irqfd_on = false;
}

int vfio_vector_follow_mask(struct vfio_vector *v, const struct vfio_irq_router *r, bool masked,
			    uint64_t address, uint32_t data)
{
	if (masked) {
		vfio_vector_disconnect(v, r);
		return 0;
	}
	return vfio_vector_connect(v, r, address, data);
}

void vfio_vector_close(struct vfio_vector *v, const struct vfio_irq_router *r)
{
	vfio_vector_disconnect(v, r);
	if (v->eventfd >= 0)
		close(v->eventfd);
	v->eventfd = -1;
}

bool vfio_vector_pending(const struct vfio_vector *v)
{
	struct pollfd p = { .fd = v->eventfd, .events = POLLIN };

	/* While the irqfd is bound, KVM takes the count as it comes. */
	return v->eventfd >= 0 && !v->irqfd_on && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* ---- MSI ---- */

void vfio_msi_init(struct vfio_msi *m)
{
	m->nr_enabled = 0;
	for (unsigned i = 0; i < VFIO_MSI_MAX_VECTORS; i++)
		vfio_vector_init(&m->vectors[i]);
}

static void msi_off(struct vfio_msi *m, const struct vfio_irq_router *r,
		    const struct vfio_irq_device *d)
{
	if (!m->nr_enabled)
		return;
	d->trigger(d->ctx, VFIO_PCI_MSI_IRQ_INDEX, 0, NULL);
	for (unsigned i = 0; i < m->nr_enabled; i++)
		vfio_vector_disconnect(&m->vectors[i], r);
	m->nr_enabled = 0;
}

/* Multiple messages share the address; vector i's data has i in the low
 * bits the guest left for it. */
static uint32_t msi_vector_data(uint32_t data, unsigned nr, unsigned i)
{
	return (data & ~(nr - 1)) | i;
}

int vfio_msi_update(struct vfio_msi *m, const struct vfio_irq_router *r,
		    const struct vfio_irq_device *d, bool enabled, unsigned nr,
		    uint64_t address, uint32_t data, uint32_t mask)
{
	int fds[VFIO_MSI_MAX_VECTORS];
	int ret;

	if (nr < 1 || nr > VFIO_MSI_MAX_VECTORS || (nr & (nr - 1)))
		enabled = false;
	if (!enabled || (m->nr_enabled && m->nr_enabled != nr)) {
		msi_off(m, r, d);
		if (!enabled)
			return 0;
	}
	for (unsigned i = 0; i < nr; i++) {
		ret = vfio_vector_open(&m->vectors[i]);
		if (ret == 0)
			ret = vfio_vector_follow_mask(&m->vectors[i], r, mask & (1u << i), address,
						      msi_vector_data(data, nr, i));
		if (ret < 0)
			return ret;
		fds[i] = m->vectors[i].eventfd;
	}
	if (m->nr_enabled == nr)
		return 0;   /* only the message changed: the routes follow it */
	ret = d->trigger(d->ctx, VFIO_PCI_MSI_IRQ_INDEX, nr, fds);
	if (ret < 0)
		return ret;
	m->nr_enabled = nr;
	return 0;
}

uint32_t vfio_msi_pending(const struct vfio_msi *m)
{
	uint32_t pending = 0;

	for (unsigned i = 0; i < m->nr_enabled; i++)
		if (vfio_vector_pending(&m->vectors[i]))
			pending |= 1u << i;
	return pending;
}

void vfio_msi_destroy(struct vfio_msi *m, const struct vfio_irq_router *r)
{
	for (unsigned i = 0; i < VFIO_MSI_MAX_VECTORS; i++)
		vfio_vector_close(&m->vectors[i], r);
	m->nr_enabled = 0;
}

/* ---- INTx ---- */

void vfio_intx_init(struct vfio_intx *x)
{
	*x = (struct vfio_intx){ .trigger_fd = -1, .resample_fd = -1 };
}

static void intx_close_fds(struct vfio_intx *x)
{
	if (x->trigger_fd >= 0)
		close(x->trigger_fd);
	if (x->resample_fd >= 0)
		close(x->resample_fd);
	x->trigger_fd = x->resample_fd = -1;
}

int vfio_intx_enable(struct vfio_intx *x, const struct vfio_irq_router *r,
		     const struct vfio_irq_device *d, unsigned gsi)
{
	int ret;

	if (x->on)
		return 0;
	x->trigger_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->trigger_fd < 0 || x->resample_fd < 0) {
		ret = -errno;
		intx_close_fds(x);
		return ret;
	}
	ret = r->irqfd(r->ctx, x->trigger_fd, gsi, x->resample_fd, true);
	if (ret < 0) {
		intx_close_fds(x);
		return ret;
	}
	ret = d->trigger(d->ctx, VFIO_PCI_INTX_IRQ_INDEX, 1, &x->trigger_fd);
	if (ret == 0)
		ret = d->unmask_fd(d->ctx, x->resample_fd);
	if (ret < 0) {
		d->trigger(d->ctx, VFIO_PCI_INTX_IRQ_INDEX, 0, NULL);
		r->irqfd(r->ctx, x->trigger_fd, gsi, x->resample_fd, false);
		intx_close_fds(x);
		return ret;
	}
	x->gsi = gsi;
	x->on = true;
	return 0;
}

void vfio_intx_disable(struct vfio_intx *x, const struct vfio_irq_router *r,
		       const struct vfio_irq_device *d)
{
	if (!x->on)
		return;
	d->trigger(d->ctx, VFIO_PCI_INTX_IRQ_INDEX, 0, NULL);
	r->irqfd(r->ctx, x->trigger_fd, x->gsi, x->resample_fd, false);
	intx_close_fds(x);
	x->on = false;
}
