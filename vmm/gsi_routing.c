#include "gsi_routing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define PIC_MASTER_PINS 8
#define ISA_IRQS        16

static void gsi_add_irqchip(struct gsi_routing *r, unsigned gsi, unsigned chip,
			    unsigned pin)
{
	r->entries[r->nr_entries++] = (struct kvm_irq_routing_entry){
		.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
		.u.irqchip = { .irqchip = chip, .pin = pin },
	};
}

static int gsi_routing_commit(struct gsi_routing *r)
{
	size_t size = sizeof(struct kvm_irq_routing) +
		      r->nr_entries * sizeof(struct kvm_irq_routing_entry);
	struct kvm_irq_routing *table = calloc(1, size);
	int ret = 0;

	if (!table)
		return -ENOMEM;
	table->nr = r->nr_entries;
	memcpy(table->entries, r->entries, r->nr_entries * sizeof(r->entries[0]));
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, table) < 0)
		ret = -errno;
	free(table);
	return ret;
}

int gsi_routing_init(struct gsi_routing *r, int vm_fd)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	pthread_mutex_init(&r->lock, NULL);
	for (unsigned gsi = 0; gsi < ISA_IRQS; gsi++) {
		if (gsi == 2)
			continue;  /* the PIC cascade: no device owns it */
		gsi_add_irqchip(r, gsi,
				gsi < PIC_MASTER_PINS ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				gsi % PIC_MASTER_PINS);
	}
	/* The MADT says ISA IRQ 0 is IOAPIC pin 2 (as on real chipsets), so
	 * the PIT, which raises GSI 0, is wired there; every other ISA IRQ and
	 * the PCI pins map one to one. */
	gsi_add_irqchip(r, 0, KVM_IRQCHIP_IOAPIC, 2);
	for (unsigned pin = 1; pin < GSI_IOAPIC_PINS; pin++)
		if (pin != 2)  /* KVM allows one route per chip for each GSI */
			gsi_add_irqchip(r, pin, KVM_IRQCHIP_IOAPIC, pin);
	r->next_msi_gsi = GSI_IOAPIC_PINS;
	return gsi_routing_commit(r);
}

void gsi_routing_destroy(struct gsi_routing *r)
{
	pthread_mutex_destroy(&r->lock);
}

int gsi_routing_add_msi(struct gsi_routing *r, uint64_t address, uint32_t data)
{
	int ret;
	unsigned gsi;

	pthread_mutex_lock(&r->lock);
	if (r->nr_entries == GSI_MAX_ROUTES) {
		pthread_mutex_unlock(&r->lock);
		return -ENOSPC;
	}
	gsi = r->next_msi_gsi++;
	r->entries[r->nr_entries++] = (struct kvm_irq_routing_entry){
		.gsi = gsi, .type = KVM_IRQ_ROUTING_MSI,
		.u.msi = { .address_lo = (uint32_t)address,
			   .address_hi = (uint32_t)(address >> 32), .data = data },
	};
	ret = gsi_routing_commit(r);
	if (ret < 0) {
		r->nr_entries--;
		r->next_msi_gsi--;
	}
	pthread_mutex_unlock(&r->lock);
	return ret < 0 ? ret : (int)gsi;
}

int gsi_routing_update_msi(struct gsi_routing *r, unsigned gsi, uint64_t address,
			   uint32_t data)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->nr_entries; i++) {
		struct kvm_irq_routing_entry *e = &r->entries[i];

		if (e->gsi != gsi || e->type != KVM_IRQ_ROUTING_MSI)
			continue;
		e->u.msi.address_lo = (uint32_t)address;
		e->u.msi.address_hi = (uint32_t)(address >> 32);
		e->u.msi.data = data;
		ret = gsi_routing_commit(r);
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}
