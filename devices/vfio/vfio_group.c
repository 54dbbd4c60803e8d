/* IOMMU groups (vfio_group.h). */
#include "vfio_group.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../../vmm/error_text.h"

int vfio_group_open(struct vfio_group *g, int id, const char *path,
		    struct vfio_container *c, char *err, size_t errlen)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };

	g->id = id;
	g->fd = open(path, O_RDWR | O_CLOEXEC);
	if (g->fd < 0)
		return write_error(err, errlen, "cannot open %s: %s%s", path, strerror(errno),
				   errno == EBUSY ? " (another process holds the group)" : "");
	if (ioctl(g->fd, VFIO_GROUP_GET_STATUS, &status) < 0)
		return write_error(err, errlen, "VFIO_GROUP_GET_STATUS on %s: %s", path,
				   strerror(errno));
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return write_error(err, errlen, "IOMMU group %d is not viable: bind every device "
				   "of /sys/kernel/iommu_groups/%d/devices to vfio-pci", id, id);
	if (ioctl(g->fd, VFIO_GROUP_SET_CONTAINER, &c->fd) < 0)
		return write_error(err, errlen, "VFIO_GROUP_SET_CONTAINER for group %d: %s", id,
				   strerror(errno));
	return vfio_container_set_iommu(c, err, errlen);
}

int vfio_group_device_fd(struct vfio_group *g, const char *name, char *err, size_t errlen)
{
	int fd = ioctl(g->fd, VFIO_GROUP_GET_DEVICE_FD, name);

	if (fd < 0)
		return write_error(err, errlen, "cannot get %s from IOMMU group %d: %s", name,
				   g->id, strerror(errno));
	return fd;
}

int vfio_group_tell_kvm(struct vfio_group *g, int kvm_vfio_fd, char *err, size_t errlen)
{
	int32_t group_fd = g->fd;
	struct kvm_device_attr attr = {
		.group = KVM_DEV_VFIO_GROUP,
		.attr = KVM_DEV_VFIO_GROUP_ADD,
		.addr = (uint64_t)(uintptr_t)&group_fd,
	};

	if (ioctl(kvm_vfio_fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
		return write_error(err, errlen, "KVM VFIO device, adding group %d: %s", g->id,
				   strerror(errno));
	return 0;
}

void vfio_group_close(struct vfio_group *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
}

int vfio_kvm_device_create(int vm_fd)
{
	struct kvm_create_device create = { .type = KVM_DEV_TYPE_VFIO };

	if (ioctl(vm_fd, KVM_CREATE_DEVICE, &create) < 0)
		return -errno;
	return (int)create.fd;
}
