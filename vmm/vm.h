/* A virtual machine: KVM's VM fd, guest RAM, the two buses, the irqchip
 * routes, the vCPUs and the devices. The VM owns its devices; devices see
 * the VM only through bus registration, irq lines and guest memory.
 *
 * Life cycle: vm_create() builds everything and loads the kernel,
 * vm_run() starts the vCPUs and runs the event loop until something stops
 * the VM, vm_destroy() tears it down. A guest reboot is a new VM built
 * from the same config. */
#ifndef GVMM_VM_H
#define GVMM_VM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../devices/pc/acpi_pm.h"
#include "../devices/virtio/input_devices.h"
#include "../devices/pc/cmos_rtc.h"
#include "../devices/pc/i8042.h"
#include "../devices/pci/pci.h"
#include "../devices/pc/uart_16550.h"
#include "../devices/block/virtio_blk.h"
#include "../devices/virtio/virtio_console.h"
#include "../devices/gpu/virtio_gpu.h"
#include "../devices/net/virtio_net.h"
#include "../devices/virtio/virtio_rng.h"
#include "../devices/vfio/vfio_display.h"
#include "../devices/vfio/vfio_passthrough.h"
#include "bus.h"
#include "event_loop.h"
#include "gsi_routing.h"
#include "guest_memory.h"
#include "io_thread.h"
#include "kvm.h"
#include "memory_slots.h"
#include "nic_backends.h"
#include "serial_console.h"
#include "vcpu_snapshot.h"
#include "vm_request.h"

struct boot_file_fds;
struct vcpu;

struct vm_config {
	const uint8_t *kernel;  /* the kernel file, read once at start */
	size_t kernel_len;
	const uint8_t *initrd;
	size_t initrd_len;
	const struct boot_file_fds *boot_fds;  /* NULL, or the files above, open */
	const char *cmdline;
	uint64_t ram_size;
	unsigned nr_cpus;
	enum guest_ram_backing ram_backing;
	const struct virtio_blk_config *disks;
	unsigned nr_disks;
	bool rng;               /* a virtio-rng device */
	bool virtio_console;    /* the console backend drives hvc0, not COM1 */
	const struct vm_nic *nics;  /* virtio-net devices, in front of backends
				     * that outlive the VM */
	unsigned nr_nics;
	const struct virtio_gpu_config *gpu;  /* NULL: no GPU */
	struct display *display;  /* viewers (SPICE), outliving the VM; with it
				   * come a keyboard, a tablet and a mouse */
	const struct vfio_host_device *vfio_devices;  /* passed through, checked */
	unsigned nr_vfio_devices;
	unsigned vfio_first_output;  /* the display output of the first mediated
				      * device, the next ones after it (after
				      * the GPU's: the display has that many) */
};

/* Why a VM stopped; the first reason recorded wins. */
enum vm_stop_reason {
	VM_RUNNING,
	VM_STOP_POWEROFF,     /* the guest powered off */
	VM_STOP_RESET,        /* the guest asked for a reboot */
	VM_STOP_GUEST_ERROR,  /* triple fault, KVM internal error, failed entry */
	VM_STOP_VMM_ERROR,    /* gvmm itself failed (an ioctl, a thread) */
	VM_STOP_SIGNAL,       /* SIGINT/SIGTERM/SIGHUP */
	VM_STOP_USER_QUIT,    /* Ctrl-A x on the console */
};

struct vm {
	const struct vm_config *cfg;
	struct kvm *kvm;
	int fd;
	struct guest_memory mem;
	struct memory_slots slots;  /* beyond RAM's, for devices' host pages */
	bool slots_ready;
	struct bus pio;
	struct bus mmio;
	struct gsi_routing gsi;
	struct event_loop *loop;
	struct serial_console *console;
	struct vm_requester requester;

	unsigned nr_vcpus;
	struct vcpu *vcpus;

	struct uart_16550 com1;
	struct i8042 i8042;
	struct cmos_rtc rtc;
	struct acpi_pm pm;

	struct pci_bus pci;
	bool pci_ready;
	struct io_thread io;     /* virtio queues and disk I/O */
	struct virtio_rng *rng;
	struct virtio_console *vcon;
	struct virtio_blk *disks;
	unsigned nr_disks_created;
	struct virtio_net *nics;
	unsigned nr_nics_created;
	struct virtio_gpu *gpu;
	struct input_devices *input;
	bool input_attached;
	struct vfio_passthrough *vfio;
	struct vfio_display *vfio_displays[VFIO_MAX_DEVICES];  /* mediated devices' */
	unsigned nr_vfio_displays;


	/* Pause: vCPUs park outside KVM_RUN while paused is set. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool paused;
	unsigned nr_vcpus_parked;

	atomic_int stop_reason;
	int stop_signal;        /* with VM_STOP_SIGNAL */
};

/* Returns 0; -1 with one line in err; or VM_CREATE_BAD_INPUT when the
 * problem is the user's (a disk image that cannot be opened or is locked). */
#define VM_CREATE_BAD_INPUT (-2)
int vm_create(struct vm *vm, struct kvm *kvm, const struct vm_config *cfg,
	      struct event_loop *loop, struct serial_console *console,
	      char *err, size_t errlen);
/* Runs until the VM stops; returns why. */
enum vm_stop_reason vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

/* Records why the VM stops (first caller wins) and wakes every thread.
 * Safe from any thread. */
void vm_stop(struct vm *vm, enum vm_stop_reason reason);

/* Parks every vCPU outside KVM_RUN (returns once they are parked) and lets
 * them go again. From the event-loop thread. */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/* Called by a vCPU thread between runs: waits while the VM is paused. */
void vm_wait_while_paused(struct vm *vm);
/* Reads vCPUs from, from + 1, ... into out (at most max of them), parking
 * them for the read unless the VM is paused already. From the event-loop
 * thread. Returns 0 with *nr_read set, or -errno. */
int vm_read_vcpus(struct vm *vm, unsigned from, struct vcpu_snapshot *out,
		  unsigned max, unsigned *nr_read);

#endif
