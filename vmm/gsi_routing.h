/* The VM's GSI routing table, owned here and nowhere else. KVM replaces its
 * whole table on every KVM_SET_GSI_ROUTING, so this module keeps the full
 * list: the ISA and IOAPIC pins set up at creation, and MSI routes that
 * devices add later (each gets its own GSI for an irqfd). */
#ifndef GVMM_GSI_ROUTING_H
#define GVMM_GSI_ROUTING_H

#include <pthread.h>
#include <stdint.h>
#include <linux/kvm.h>

#define GSI_IOAPIC_PINS 24
#define GSI_MAX_ROUTES  1024

struct gsi_routing {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned next_msi_gsi;
	unsigned nr_entries;
	struct kvm_irq_routing_entry entries[GSI_MAX_ROUTES];
};

/* Builds the legacy routes and installs them. Returns 0 or -errno. */
int gsi_routing_init(struct gsi_routing *r, int vm_fd);
void gsi_routing_destroy(struct gsi_routing *r);

/* Allocates a GSI routed to an MSI message; returns the GSI or -errno. */
int gsi_routing_add_msi(struct gsi_routing *r, uint64_t address, uint32_t data);
/* Points an allocated MSI GSI at a new message (the guest reprogrammed it). */
int gsi_routing_update_msi(struct gsi_routing *r, unsigned gsi, uint64_t address,
			   uint32_t data);

#endif
