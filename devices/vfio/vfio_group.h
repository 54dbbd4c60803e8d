/* An IOMMU group opened through /dev/vfio/GROUP: checked viable, joined
 * to the container, the source of its devices' fds, and announced to
 * KVM's VFIO device (which lets KVM keep coherent DMA and interrupt
 * remapping in step with the guest). */
#ifndef GVMM_VFIO_GROUP_H
#define GVMM_VFIO_GROUP_H

#include <stddef.h>

#include "vfio_container.h"

struct vfio_group {
	int id;
	int fd;
};

/* Opens path (/dev/vfio/ID) and joins the container (and sets its IOMMU
 * when this is the first group). Returns 0, or -1 with one line in err. */
int vfio_group_open(struct vfio_group *g, int id, const char *path,
		    struct vfio_container *c, char *err, size_t errlen);
/* The fd of the group's device name (a PCI address or mdev UUID). */
int vfio_group_device_fd(struct vfio_group *g, const char *name, char *err, size_t errlen);
/* Tells KVM's VFIO device (kvm_vfio_fd) about the group. */
int vfio_group_tell_kvm(struct vfio_group *g, int kvm_vfio_fd, char *err, size_t errlen);
void vfio_group_close(struct vfio_group *g);

/* Creates KVM's VFIO pseudo device on the VM; returns its fd or -errno. */
int vfio_kvm_device_create(int vm_fd);

#endif
