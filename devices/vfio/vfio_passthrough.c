/* The VM's passed-through devices (vfio_passthrough.h). */
#include "vfio_passthrough.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../vmm/error_text.h"

static struct vfio_group *group_for(struct vfio_passthrough *p, const struct vfio_host_device *dev,
				    char *err, size_t errlen)
{
	struct vfio_group *g;

	for (unsigned i = 0; i < p->nr_groups; i++)
		if (p->groups[i].id == dev->group)
			return &p->groups[i];
	g = &p->groups[p->nr_groups];
	if (vfio_group_open(g, dev->group, dev->group_path, &p->container, err, errlen) < 0) {
		vfio_group_close(g);
		return NULL;
	}
	p->nr_groups++;
	if (vfio_group_tell_kvm(g, p->kvm_vfio_fd, err, errlen) < 0)
		return NULL;
	return g;
}

int vfio_passthrough_create(struct vfio_passthrough *p, const struct vfio_host_device *devs,
			    unsigned nr_devs, const char *dev_root, int vm_fd,
			    const struct guest_memory *mem, const struct vfio_pci_env *env,
			    char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->container.fd = -1;
	p->kvm_vfio_fd = -1;
	if (nr_devs > VFIO_MAX_DEVICES)
		return write_error(err, errlen, "at most %d --vfio devices", VFIO_MAX_DEVICES);
	if (vfio_container_open(&p->container, dev_root, err, errlen) < 0)
		return -1;
	p->kvm_vfio_fd = vfio_kvm_device_create(vm_fd);
	if (p->kvm_vfio_fd < 0)
		return write_error(err, errlen, "KVM_CREATE_DEVICE (VFIO): %s",
				   strerror(-p->kvm_vfio_fd));
	for (unsigned i = 0; i < nr_devs; i++) {
		struct vfio_group *g = group_for(p, &devs[i], err, errlen);
		const struct vfio_pci_options opts = { devs[i].hide_rom, devs[i].trap_bars };
		struct vfio_pci *d;
		int fd;

		if (!g)
			return -1;
		/* Guest RAM is mapped once the container has its IOMMU, which
		 * the first group set. */
		if (i == 0 && vfio_container_map_ram(&p->container, mem, err, errlen) < 0)
			return -1;
		fd = vfio_group_device_fd(g, devs[i].name, err, errlen);
		if (fd < 0)
			return -1;
		d = calloc(1, sizeof(*d));
		if (!d) {
			close(fd);
			return write_error(err, errlen, "out of memory");
		}
		p->devices[p->nr_devices++] = d;
		if (vfio_pci_create(d, fd, devs[i].name, &opts, env, err, errlen) < 0)
			return -1;
	}
	return 0;
}

void vfio_passthrough_destroy(struct vfio_passthrough *p)
{
	for (unsigned i = 0; i < p->nr_devices; i++) {
		vfio_pci_destroy(p->devices[i]);
		free(p->devices[i]);
	}
	p->nr_devices = 0;
	for (unsigned i = 0; i < p->nr_groups; i++)
		vfio_group_close(&p->groups[i]);
	p->nr_groups = 0;
	if (p->kvm_vfio_fd >= 0)
		close(p->kvm_vfio_fd);
	p->kvm_vfio_fd = -1;
	vfio_container_close(&p->container);
}
