/* The stand-in for KVM routing and VFIO interrupts: see fake_vfio_irq.h. */
#include "fake_vfio_irq.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

void fake_irq_init(struct fake_irq *f)
{
	memset(f, 0, sizeof(*f));
	for (unsigned i = 0; i < FAKE_IRQ_GSIS; i++)
		f->gsis[i].bound_fd = -1;
}

static int add_route(void *ctx, uint64_t address, uint32_t data, unsigned *gsi)
{
	struct fake_irq *f = ctx;

	for (unsigned i = 0; i < FAKE_IRQ_GSIS; i++) {
		if (f->gsis[i].used)
			continue;
		f->gsis[i].used = true;
		f->gsis[i].address = address;
		f->gsis[i].data = data;
		*gsi = i;
		return 0;
	}
	return -ENOSPC;
}

static int update_route(void *ctx, unsigned gsi, uint64_t address, uint32_t data)
{
	struct fake_irq *f = ctx;

	if (gsi >= FAKE_IRQ_GSIS || !f->gsis[gsi].used)
		return -EINVAL;
	f->gsis[gsi].address = address;
	f->gsis[gsi].data = data;
	return 0;
}

/* What KVM's irqfd does with a count already in the eventfd: takes it
 * and injects one interrupt. */
static void take_waiting(struct fake_irq *f, unsigned gsi, int fd)
{
	uint64_t count;

	if (read(fd, &count, sizeof(count)) == (ssize_t)sizeof(count))
		f->gsis[gsi].delivered++;
}

static int irqfd(void *ctx, int fd, unsigned gsi, int resample_fd, bool assign)
{
	struct fake_irq *f = ctx;

	(void)resample_fd;
	if (gsi >= FAKE_IRQ_GSIS || !f->gsis[gsi].used)
		return -EINVAL;
	if (!assign) {
		CHECK_EQ(f->gsis[gsi].bound_fd, fd);
		f->gsis[gsi].bound_fd = -1;
		return 0;
	}
	CHECK_EQ(f->gsis[gsi].bound_fd, -1);
	f->gsis[gsi].bound_fd = fd;
	take_waiting(f, gsi, fd);
	return 0;
}

static int trigger(void *ctx, unsigned index, unsigned count, const int *fds)
{
	struct fake_irq *f = ctx;

	if (index >= FAKE_IRQ_INDEXES || count > FAKE_IRQ_VECTORS)
		return -EINVAL;
	f->triggers++;
	f->nr_vectors[index] = count;
	for (unsigned i = 0; i < count; i++)
		f->fds[index][i] = fds[i];
	return 0;
}

static int unmask_fd(void *ctx, int fd)
{
	(void)ctx, (void)fd;
	return 0;
}

struct vfio_irq_router fake_irq_router(struct fake_irq *f)
{
	return (struct vfio_irq_router){ add_route, update_route, irqfd, f };
}

struct vfio_irq_device fake_irq_device(struct fake_irq *f)
{
	return (struct vfio_irq_device){ trigger, unmask_fd, f };
}

static int gsi_bound_to(const struct fake_irq *f, int fd)
{
	for (unsigned i = 0; i < FAKE_IRQ_GSIS; i++)
		if (f->gsis[i].used && f->gsis[i].bound_fd == fd)
			return (int)i;
	return -1;
}

bool fake_irq_signal(struct fake_irq *f, unsigned index, unsigned vector)
{
	const uint64_t one = 1;
	int fd, gsi;

	if (index >= FAKE_IRQ_INDEXES || vector >= f->nr_vectors[index])
		return false;
	fd = f->fds[index][vector];
	gsi = gsi_bound_to(f, fd);
	if (gsi >= 0)
		f->gsis[gsi].delivered++;
	else
		CHECK_EQ(write(fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	return true;
}

unsigned fake_irq_delivered(const struct fake_irq *f, uint64_t address, uint32_t data)
{
	for (unsigned i = 0; i < FAKE_IRQ_GSIS; i++)
		if (f->gsis[i].used && f->gsis[i].address == address && f->gsis[i].data == data)
			return f->gsis[i].delivered;
	return 0;
}

bool fake_irq_bound(const struct fake_irq *f, unsigned index, unsigned vector)
{
	return index < FAKE_IRQ_INDEXES && vector < f->nr_vectors[index] &&
	       gsi_bound_to(f, f->fds[index][vector]) >= 0;
}
