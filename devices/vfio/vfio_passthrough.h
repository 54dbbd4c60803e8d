/* Everything one VM passes through: the container, the groups (each
 * opened once, however many of its devices are used), KVM's VFIO device,
 * and the PCI functions. Built with the VM and torn down with it, so a
 * guest reboot opens and resets every device afresh. */
#ifndef GVMM_VFIO_PASSTHROUGH_H
#define GVMM_VFIO_PASSTHROUGH_H

#include <stddef.h>

#include "vfio_container.h"
#include "vfio_group.h"
#include "vfio_host.h"
#include "vfio_pci.h"

struct vfio_passthrough {
	struct vfio_container container;
	int kvm_vfio_fd;
	unsigned nr_groups;
	struct vfio_group groups[VFIO_MAX_DEVICES];
	unsigned nr_devices;
	struct vfio_pci *devices[VFIO_MAX_DEVICES];
};

/* Opens the devices that vfio_host_find_device() found, maps guest RAM
 * for their DMA and builds their PCI functions (the caller adds them to
 * the bus and starts them). Returns 0, or -1 with one line in err. */
int vfio_passthrough_create(struct vfio_passthrough *p, const struct vfio_host_device *devs,
			    unsigned nr_devs, const char *dev_root, int vm_fd,
			    const struct guest_memory *mem, const struct vfio_pci_env *env,
			    char *err, size_t errlen);
void vfio_passthrough_destroy(struct vfio_passthrough *p);

#endif
