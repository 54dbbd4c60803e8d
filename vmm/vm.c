#include "vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../firmware/acpi.h"
#include "../firmware/boot.h"
#include "../firmware/guest_layout.h"
#include "log.h"
#include "vcpu.h"

#define ACPI_AREA_SIZE (GUEST_ACPI_END - GUEST_ACPI_START)

/* Probe ports a PC guest pokes at; answering them quietly keeps them out
 * of the unclaimed-access log. Reads return all ones: nothing there. */
static const struct { uint16_t base, len; const char *name; } quiet_ports[] = {
	{ 0x80, 1, "post-code" },
	{ 0x2f8, 8, "com2" }, { 0x3e8, 8, "com3" }, { 0x2e8, 8, "com4" },
	{ 0x278, 3, "lpt2" }, { 0x378, 3, "lpt1" }, { 0x3bc, 3, "lpt3" },
	{ 0x3c0, 0x20, "vga" }, { 0x1f0, 8, "ide0" }, { 0x170, 8, "ide1" },
	{ 0x3f6, 1, "ide0-ctl" }, { 0x376, 1, "ide1-ctl" },
	{ 0x3f0, 6, "floppy" }, { 0x3f7, 1, "floppy-dir" },
	{ 0x87, 1, "dma-page" }, { 0xed, 1, "io-delay" },
};

static void quiet_port_access(void *opaque, uint64_t offset, uint8_t *data,
			      uint32_t len, bool is_write)
{
	(void)opaque;
	(void)offset;
	if (!is_write)
		memset(data, 0xff, len);
}

static void vm_irq_set_level(void *ctx, unsigned gsi, bool level)
{
	struct vm *vm = ctx;
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(vm->fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn("KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

/* MSI-X vectors reach the guest through a GSI routed to their message and
 * an irqfd on the vector's eventfd. */
static int vm_msi_bind(void *ctx, uint64_t address, uint32_t data, int fd, unsigned *gsi)
{
	struct vm *vm = ctx;
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd };
	int route = gsi_routing_add_msi(&vm->gsi, address, data);

	if (route < 0)
		return route;
	irqfd.gsi = (uint32_t)route;
	if (ioctl(vm->fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	*gsi = (unsigned)route;
	return 0;
}

static int vm_msi_update(void *ctx, unsigned gsi, uint64_t address, uint32_t data)
{
	struct vm *vm = ctx;

	return gsi_routing_update_msi(&vm->gsi, gsi, address, data);
}

/* Passed-through devices route each vector themselves: a GSI per
 * message, and irqfds they bind and unbind as the guest masks. */
static int vm_msi_route_add(void *ctx, uint64_t address, uint32_t data, unsigned *gsi)
{
	struct vm *vm = ctx;
	int route = gsi_routing_add_msi(&vm->gsi, address, data);

	if (route < 0)
		return route;
	*gsi = (unsigned)route;
	return 0;
}

static int vm_irqfd(void *ctx, int fd, unsigned gsi, int resample_fd, bool assign)
{
	struct vm *vm = ctx;
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };

	if (!assign)
		irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
	else if (resample_fd >= 0) {
		irqfd.flags = KVM_IRQFD_FLAG_RESAMPLE;
		irqfd.resamplefd = (uint32_t)resample_fd;
	}
	return ioctl(vm->fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

static void vm_on_device_request(void *ctx, enum vm_request what)
{
	vm_stop(ctx, what == VM_REQUEST_POWEROFF ? VM_STOP_POWEROFF : VM_STOP_RESET);
}

void vm_stop(struct vm *vm, enum vm_stop_reason reason)
{
	int running = VM_RUNNING;

	if (!atomic_compare_exchange_strong(&vm->stop_reason, &running, (int)reason))
		return;
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	event_loop_stop(vm->loop);
}

static int vm_setup_kvm(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t identity_map = GUEST_IDENTITY_MAP_ADDR;
	int ret;

	vm->fd = ioctl(vm->kvm->fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &identity_map) < 0 ||
	    ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)GUEST_TSS_ADDR) < 0) {
		snprintf(err, errlen, "KVM TSS/identity map setup: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		snprintf(err, errlen, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0) {
		snprintf(err, errlen, "KVM_CREATE_PIT2: %s", strerror(errno));
		return -1;
	}
	ret = gsi_routing_init(&vm->gsi, vm->fd);
	if (ret < 0) {
		snprintf(err, errlen, "KVM_SET_GSI_ROUTING: %s", strerror(-ret));
		return -1;
	}
	return 0;
}

/* host_page_mapper.h over KVM: a memory slot of the VM's own numbers
 * (vm->slots) per mapping. */
static int vm_map_host_pages(void *ctx, uint64_t gpa, void *host, uint64_t size)
{
	struct vm *vm = ctx;
	int slot = memory_slots_take(&vm->slots);
	struct kvm_userspace_memory_region region = {
		.guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (slot < 0)
		return slot;
	region.slot = (uint32_t)slot;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		int ret = -errno;

		memory_slots_give_back(&vm->slots, (unsigned)slot);
		return ret;
	}
	return slot;
}

/* KVM waits for vCPUs to leave the slot before the ioctl returns. */
static void vm_unmap_host_pages(void *ctx, int slot)
{
	struct vm *vm = ctx;
	struct kvm_userspace_memory_region region = { .slot = (uint32_t)slot };

	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		/* The slot number stays taken: it may still be KVM's. */
		log_warn("removing KVM memory slot %d: %s", slot, strerror(errno));
		return;
	}
	memory_slots_give_back(&vm->slots, (unsigned)slot);
}

static int vm_setup_memory(struct vm *vm, char *err, size_t errlen)
{
	int nr_slots = kvm_check_cap(vm->kvm, KVM_CAP_NR_MEMSLOTS);

	/* KVM answers 0 when it does not say: then only the 32 slots every
	 * KVM has had. */
	memory_slots_init(&vm->slots, GUEST_MEMORY_MAX_REGIONS,
			  nr_slots > 0 ? (unsigned)nr_slots : 32);
	vm->slots_ready = true;
	if (guest_memory_create(&vm->mem, vm->cfg->ram_size, vm->cfg->ram_backing,
				err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct guest_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)(vm->mem.host_base + r->file_offset),
		};

		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* vfio_pci_env's memory slot hooks: the host page mapper's slots, so that
 * passed-through BARs and virtio-gpu's blobs never pick the same number. */
static int vm_memslot_add(void *ctx, uint64_t gpa, uint64_t size, void *host, unsigned *slot)
{
	int ret = vm_map_host_pages(ctx, gpa, host, size);

	if (ret < 0)
		return ret;
	*slot = (unsigned)ret;
	return 0;
}

static void vm_memslot_remove(void *ctx, unsigned slot)
{
	vm_unmap_host_pages(ctx, (int)slot);
}

/* A mediated device with a display shows it on the display's next output
 * after the GPU's (cmd_run made room for every mediated device, in the
 * order of the --vfio options). Without the display, or without an
 * output left, the device still works; only its picture is not shown. */
static void vm_setup_vfio_display(struct vm *vm, struct vfio_pci *dev, unsigned output)
{
	struct display *display = vm->cfg->display;
	enum vfio_display_kind kind = vfio_display_probe(&vfio_gfx_device_ops, &dev->fd);
	struct vfio_display *d;
	int ret;

	if (kind == VFIO_DISPLAY_NONE) {
		/* Its output stays off rather than black. */
		if (display && output < DISPLAY_MAX_OUTPUTS)
			display_output_resize(display, output, 0, 0);
		return;
	}
	if (!display) {
		log_info("vfio %s: it has a display (%s planes), shown only with --spice",
			 dev->name, vfio_display_kind_name(kind));
		return;
	}
	if (output >= DISPLAY_MAX_OUTPUTS) {
		log_warn("vfio %s: its display is not shown: all %d display outputs are taken",
			 dev->name, DISPLAY_MAX_OUTPUTS);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		log_warn("vfio %s: its display is not shown: out of memory", dev->name);
		return;
	}
	/* dev->fd outlives the display: vm_destroy takes the display first. */
	vfio_display_init(d, dev->name, kind, &vfio_gfx_device_ops, &dev->fd, display, output);
	ret = vfio_display_start(d, vm->loop);
	if (ret < 0) {
		log_warn("vfio %s: its display is not shown: no timer to poll it: %s", dev->name,
			 strerror(-ret));
		vfio_display_destroy(d);
		free(d);
		return;
	}
	vm->vfio_displays[vm->nr_vfio_displays++] = d;
	log_info("vfio %s: its display (%s planes) is display %u on SPICE", dev->name,
		 vfio_display_kind_name(kind), output);
}

/* Passed-through devices go on the bus last, after the emulated ones. */
static int vm_setup_vfio(struct vm *vm, char *err, size_t errlen)
{
	const struct vfio_pci_env env = {
		.router = { vm_msi_route_add, vm_msi_update, vm_irqfd, vm },
		.memslot_add = vm_memslot_add, .memslot_remove = vm_memslot_remove,
		.memslot_ctx = vm,
	};
	unsigned output = vm->cfg->vfio_first_output;
	int ret;

	if (!vm->cfg->nr_vfio_devices)
		return 0;
	vm->vfio = calloc(1, sizeof(*vm->vfio));
	if (!vm->vfio) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (vfio_passthrough_create(vm->vfio, vm->cfg->vfio_devices, vm->cfg->nr_vfio_devices,
				    vfio_host_default_paths.dev, vm->fd, &vm->mem, &env,
				    err, errlen) < 0)
		return VM_CREATE_BAD_INPUT;
	for (unsigned i = 0; i < vm->vfio->nr_devices; i++) {
		struct vfio_pci *d = vm->vfio->devices[i];

		ret = pci_bus_add_device(&vm->pci, &d->pci);
		if (ret < 0) {
			snprintf(err, errlen, "--vfio %s: %s", d->name,
				 ret == -ENOSPC ? "no free PCI slot, or no room for its BARs"
						: strerror(-ret));
			return VM_CREATE_BAD_INPUT;
		}
		if (vfio_pci_start(d, err, errlen) < 0)
			return -1;
	}
	for (unsigned i = 0; i < vm->vfio->nr_devices; i++)
		if (vm->cfg->vfio_devices[i].mdev)
			vm_setup_vfio_display(vm, vm->vfio->devices[i], output++);
	return 0;
}

static int vm_register(struct vm *vm, struct bus *bus, uint64_t base, uint64_t len,
		       const char *name, bus_access_fn fn, void *opaque,
		       char *err, size_t errlen)
{
	int ret = bus_register(bus, base, len, name, fn, opaque);

	if (ret < 0)
		snprintf(err, errlen, "cannot place %s at 0x%llx on the %s bus: %s", name,
			 (unsigned long long)base, bus->name, strerror(-ret));
	(void)vm;
	return ret < 0 ? -1 : 0;
}

static size_t vm_uart_receive(void *uart, const uint8_t *buf, size_t len)
{
	return uart_16550_receive(uart, buf, len);
}

static size_t vm_virtio_console_receive(void *vcon, const uint8_t *buf, size_t len)
{
	return virtio_console_receive(vcon, buf, len);
}

static void vm_virtio_console_tx_space(void *vcon)
{
	virtio_console_tx_space(vcon);
}

static int vm_setup_devices(struct vm *vm, char *err, size_t errlen)
{
	static const struct uart_16550_ops console_ops = {
		.transmit = serial_console_transmit,
		.rx_space = serial_console_rx_space,
	};
	/* With the console on hvc0, COM1 still exists but leads nowhere. */
	const struct uart_16550_ops *com1_ops = vm->cfg->virtio_console ? NULL : &console_ops;
	struct irq_line com1_irq = { vm_irq_set_level, vm, IRQ_COM1 };
	struct irq_line sci = { vm_irq_set_level, vm, IRQ_ACPI_SCI };

	uart_16550_init(&vm->com1, &com1_irq, com1_ops, vm->console);
	i8042_init(&vm->i8042, &vm->requester);
	cmos_rtc_init(&vm->rtc, NULL);
	acpi_pm_init(&vm->pm, &sci, &vm->requester);

	if (vm_register(vm, &vm->pio, PORT_COM1, 8, "com1", uart_16550_access, &vm->com1, err, errlen) ||
	    vm_register(vm, &vm->pio, PORT_I8042_DATA, 1, "i8042-data", i8042_data_access, &vm->i8042, err, errlen) ||
	    vm_register(vm, &vm->pio, PORT_I8042_CMD, 1, "i8042-cmd", i8042_cmd_access, &vm->i8042, err, errlen) ||
	    vm_register(vm, &vm->pio, PORT_CMOS, 2, "cmos-rtc", cmos_rtc_access, &vm->rtc, err, errlen) ||
	    vm_register(vm, &vm->pio, PORT_ACPI_PM_BASE, ACPI_PM_PORTS, "acpi-pm", acpi_pm_access, &vm->pm, err, errlen))
		return -1;
	for (size_t i = 0; i < sizeof(quiet_ports) / sizeof(quiet_ports[0]); i++)
		if (vm_register(vm, &vm->pio, quiet_ports[i].base, quiet_ports[i].len,
				quiet_ports[i].name, quiet_port_access, NULL, err, errlen))
			return -1;
	if (!vm->cfg->virtio_console)
		serial_console_attach(vm->console, vm_uart_receive, NULL, &vm->com1);
	return 0;
}

static int vm_setup_pci(struct vm *vm, char *err, size_t errlen)
{
	const struct pci_windows windows = {
		.io_start = GUEST_PCI_IO_START, .io_end = GUEST_PCI_IO_END,
		.mem32_start = GUEST_MMIO32_START, .mem32_end = GUEST_MMIO32_END,
		.mem64_start = guest_mmio64_start(vm->cfg->ram_size),
		.mem64_end = guest_mmio64_start(vm->cfg->ram_size) + GUEST_MMIO64_SIZE,
	};
	const struct irq_line intx = { vm_irq_set_level, vm, 0 };
	const struct virtio_pci_env env = {
		.mem = &vm->mem, .vm_fd = vm->fd,
		.router = { vm_msi_bind, vm_msi_update, vm },
		.mapper = { vm_map_host_pages, vm_unmap_host_pages, vm },
	};
	int ret;

	ret = pci_bus_init(&vm->pci, &vm->pio, &vm->mmio, GUEST_ECAM_START, GUEST_ECAM_SIZE,
			   &windows, &intx);
	if (ret < 0) {
		snprintf(err, errlen, "PCI host bridge: %s", strerror(-ret));
		return -1;
	}
	vm->pci_ready = true;
	ret = io_thread_start(&vm->io, "gvmm-io");
	if (ret < 0) {
		snprintf(err, errlen, "cannot start the I/O thread: %s", strerror(-ret));
		return -1;
	}
	if (vm->cfg->rng) {
		vm->rng = calloc(1, sizeof(*vm->rng));
		if (!vm->rng || (ret = virtio_rng_create(vm->rng, &vm->io, &env)) < 0 ||
		    (ret = pci_bus_add_device(&vm->pci, &vm->rng->transport.pci)) < 0) {
			snprintf(err, errlen, "virtio-rng: %s", strerror(vm->rng ? -ret : ENOMEM));
			return -1;
		}
	}
	if (vm->cfg->virtio_console) {
		static const struct virtio_console_ops vcon_ops = {
			.transmit = serial_console_transmit_bytes,
			.rx_space = serial_console_rx_space,
		};

		vm->vcon = calloc(1, sizeof(*vm->vcon));
		if (!vm->vcon ||
		    (ret = virtio_console_create(vm->vcon, &vm->io, &env, &vcon_ops, vm->console)) < 0 ||
		    (ret = pci_bus_add_device(&vm->pci, &vm->vcon->transport.pci)) < 0) {
			snprintf(err, errlen, "virtio-console: %s", strerror(vm->vcon ? -ret : ENOMEM));
			return -1;
		}
		serial_console_attach(vm->console, vm_virtio_console_receive,
				      vm_virtio_console_tx_space, vm->vcon);
	}
	if (vm->cfg->gpu) {
		/* A host that cannot run 3D is a wrong choice of option, as a
		 * bad --disk is, not a failing VM. */
		if (virtio_gpu_create(&vm->gpu, vm->cfg->gpu, vm->cfg->display, &env,
				      err, errlen) < 0)
			return vm->cfg->gpu->virgl ? VM_CREATE_BAD_INPUT : -1;
		ret = pci_bus_add_device(&vm->pci, virtio_gpu_pci_device(vm->gpu));
		if (ret < 0) {
			snprintf(err, errlen, "virtio-gpu: %s", strerror(-ret));
			return -1;
		}
	}
	if (vm->cfg->display) {
		ret = input_devices_create(&vm->input, &vm->io, &env);
		if (ret < 0) {
			snprintf(err, errlen, "virtio-input: %s", strerror(-ret));
			return -1;
		}
		for (unsigned i = 0; i < INPUT_DEVICES_COUNT; i++) {
			ret = pci_bus_add_device(&vm->pci, input_devices_pci_device(vm->input, i));
			if (ret < 0) {
				snprintf(err, errlen, "virtio-input: %s", strerror(-ret));
				return -1;
			}
		}
		display_attach_input(vm->cfg->display, &input_devices_display_ops, vm->input);
		vm->input_attached = true;
	}
	vm->nics = calloc(vm->cfg->nr_nics ? vm->cfg->nr_nics : 1, sizeof(*vm->nics));
	if (!vm->nics) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < vm->cfg->nr_nics; i++) {
		const struct vm_nic *nic = &vm->cfg->nics[i];

		ret = virtio_net_create(&vm->nics[i], nic->backend, nic->mac, &env);
		if (ret < 0) {
			snprintf(err, errlen, "virtio-net: %s", strerror(-ret));
			return -1;
		}
		vm->nr_nics_created++;
		ret = pci_bus_add_device(&vm->pci, &vm->nics[i].transport.pci);
		if (ret < 0) {
			snprintf(err, errlen, "virtio-net: %s",
				 ret == -ENOSPC ? "no free PCI slot" : strerror(-ret));
			return -1;
		}
	}
	vm->disks = calloc(vm->cfg->nr_disks ? vm->cfg->nr_disks : 1, sizeof(*vm->disks));
	if (!vm->disks) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < vm->cfg->nr_disks; i++) {
		struct virtio_blk *blk = &vm->disks[i];

		if (virtio_blk_create(blk, &vm->cfg->disks[i], vm->nr_vcpus, &vm->io, &env,
				      err, errlen) < 0)
			return VM_CREATE_BAD_INPUT;
		vm->nr_disks_created++;
		ret = pci_bus_add_device(&vm->pci, &blk->transport.pci);
		if (ret < 0) {
			snprintf(err, errlen, "--disk %s: %s", vm->cfg->disks[i].path,
				 ret == -ENOSPC ? "no free PCI slot" : strerror(-ret));
			return -1;
		}
	}
	return 0;
}

static int vm_setup_acpi(struct vm *vm, uint64_t *rsdp_gpa, char *err, size_t errlen)
{
	struct acpi_config acpi = {
		.nr_cpus = vm->nr_vcpus,
		.lapic_addr = GUEST_LAPIC_ADDR,
		.ioapic_addr = GUEST_IOAPIC_ADDR,
		.ioapic_id = (uint8_t)vm->nr_vcpus,
		.pm_base = PORT_ACPI_PM_BASE,
		.sci_irq = IRQ_ACPI_SCI,
		.com1_port = PORT_COM1, .com1_irq = IRQ_COM1,
		.rtc_port = PORT_CMOS, .rtc_irq = IRQ_RTC,
		.ecam_base = GUEST_ECAM_START, .ecam_size = GUEST_ECAM_SIZE,
		.pci_io_start = GUEST_PCI_IO_START, .pci_io_end = GUEST_PCI_IO_END,
		.pci_mem32_start = GUEST_MMIO32_START, .pci_mem32_end = GUEST_MMIO32_END,
		.pci_mem64_start = guest_mmio64_start(vm->cfg->ram_size),
		.pci_mem64_end = guest_mmio64_start(vm->cfg->ram_size) + GUEST_MMIO64_SIZE,
	};
	uint8_t *area = guest_memory_ptr(&vm->mem, GUEST_ACPI_START, ACPI_AREA_SIZE);
	size_t used;

	if (!area) {
		snprintf(err, errlen, "guest RAM does not cover the ACPI area");
		return -1;
	}
	return acpi_build_tables(&acpi, GUEST_ACPI_START, area, ACPI_AREA_SIZE, &used,
				 rsdp_gpa, err, errlen);
}

int vm_create(struct vm *vm, struct kvm *kvm, const struct vm_config *cfg,
	      struct event_loop *loop, struct serial_console *console,
	      char *err, size_t errlen)
{
	struct kernel_load_args load = {
		.kernel = cfg->kernel, .kernel_len = cfg->kernel_len,
		.initrd = cfg->initrd, .initrd_len = cfg->initrd_len,
		.cmdline = cfg->cmdline, .fds = cfg->boot_fds,
	};
	struct boot_setup boot;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm = kvm;
	vm->fd = -1;
	vm->mem.memfd = -1;
	vm->loop = loop;
	vm->console = console;
	vm->requester = (struct vm_requester){ vm_on_device_request, vm };
	vm->nr_vcpus = cfg->nr_cpus;
	atomic_init(&vm->stop_reason, VM_RUNNING);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");

	vm->vcpus = calloc(cfg->nr_cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < cfg->nr_cpus; i++)
		vm->vcpus[i].fd = -1;

	if (vm_setup_kvm(vm, err, errlen) < 0 ||
	    vm_setup_memory(vm, err, errlen) < 0 ||
	    vm_setup_devices(vm, err, errlen) < 0)
		return -1;
	ret = vm_setup_pci(vm, err, errlen);
	if (ret == 0)
		ret = vm_setup_vfio(vm, err, errlen);
	if (ret < 0)
		return ret;
	if (vm_setup_acpi(vm, &load.rsdp_gpa, err, errlen) < 0 ||
	    kernel_load(&vm->mem, &load, &boot, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < cfg->nr_cpus; i++)
		if (vcpu_create(&vm->vcpus[i], vm, i, err, errlen) < 0)
			return -1;
	return vcpu_set_boot_state(&vm->vcpus[0], &boot, err, errlen);
}

enum vm_stop_reason vm_run(struct vm *vm)
{
	int ret;

	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_start(&vm->vcpus[i]);
		if (ret < 0) {
			log_error("cannot start vCPU %u: %s", i, strerror(-ret));
			vm_stop(vm, VM_STOP_VMM_ERROR);
			break;
		}
	}
	ret = event_loop_run(vm->loop);
	if (ret < 0) {
		log_error("event loop: %s", strerror(-ret));
		vm_stop(vm, VM_STOP_VMM_ERROR);
	}
	/* The loop also stops for reasons of its own (a signal): make sure
	 * the vCPUs hear about it. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	return (enum vm_stop_reason)atomic_load(&vm->stop_reason);
}

void vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->paused = true;
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->nr_vcpus_parked < vm->nr_vcpus &&
	       atomic_load(&vm->stop_reason) == VM_RUNNING)
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->paused = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_wait_while_paused(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	if (vm->paused) {
		vm->nr_vcpus_parked++;
		pthread_cond_broadcast(&vm->pause_cond);
		while (vm->paused && atomic_load(&vm->stop_reason) == VM_RUNNING)
			pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
		vm->nr_vcpus_parked--;
	}
	pthread_mutex_unlock(&vm->pause_lock);
}

int vm_read_vcpus(struct vm *vm, unsigned from, struct vcpu_snapshot *out,
		  unsigned max, unsigned *nr_read)
{
	bool was_paused = vm->paused;
	int ret = 0;

	*nr_read = 0;
	/* KVM answers for a vCPU only outside KVM_RUN, so they are parked
	 * for the read; a kick ends a halt without changing the state read. */
	if (!was_paused)
		vm_pause(vm);
	/* A VM on its way down may have vCPUs that never parked. */
	if (atomic_load(&vm->stop_reason) != VM_RUNNING)
		ret = -EAGAIN;
	for (unsigned i = from; i < vm->nr_vcpus && *nr_read < max && ret == 0; i++) {
		ret = vcpu_snapshot_read(vm->vcpus[i].fd, i, &out[*nr_read]);
		if (ret == 0)
			(*nr_read)++;
	}
	if (!was_paused)
		vm_resume(vm);
	return ret;
}

void vm_destroy(struct vm *vm)
{
	/* Devices first: their I/O stops touching guest memory. Their memory
	 * is freed only after the PCI bus has let go of them. */
	/* The display outlives the VM: it must stop calling into our devices
	 * before they go. */
	if (vm->input_attached)
		display_attach_input(vm->cfg->display, NULL, NULL);
	vm->input_attached = false;
	for (unsigned i = 0; i < vm->nr_vfio_displays; i++) {
		vfio_display_destroy(vm->vfio_displays[i]);
		free(vm->vfio_displays[i]);
	}
	vm->nr_vfio_displays = 0;
	input_devices_stop(vm->input);
	if (vm->gpu)
		virtio_gpu_stop(vm->gpu);
	for (unsigned i = 0; i < vm->nr_disks_created; i++)
		virtio_blk_destroy(&vm->disks[i]);
	for (unsigned i = 0; i < vm->nr_nics_created; i++)
		virtio_net_destroy(&vm->nics[i]);
	serial_console_attach(vm->console, NULL, NULL, NULL);
	if (vm->vcon)
		virtio_console_destroy(vm->vcon);
	if (vm->rng)
		virtio_rng_destroy(vm->rng);
	io_thread_stop(&vm->io);
	if (vm->pci_ready)
		pci_bus_destroy(&vm->pci);
	vm->pci_ready = false;
	/* The bus has let go of the passed-through functions: their BAR
	 * slots leave the guest, and the devices are reset. */
	if (vm->vfio)
		vfio_passthrough_destroy(vm->vfio);
	free(vm->vfio);
	vm->vfio = NULL;
	input_devices_destroy(vm->input);
	vm->input = NULL;
	if (vm->gpu)
		virtio_gpu_destroy(vm->gpu);
	vm->gpu = NULL;
	free(vm->disks);
	free(vm->nics);
	vm->nics = NULL;
	vm->nr_nics_created = 0;
	free(vm->vcon);
	free(vm->rng);
	vm->disks = NULL;
	vm->vcon = NULL;
	vm->rng = NULL;
	for (unsigned i = 0; vm->vcpus && i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	acpi_pm_destroy(&vm->pm);
	cmos_rtc_destroy(&vm->rtc);
	i8042_destroy(&vm->i8042);
	uart_16550_destroy(&vm->com1);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	if (vm->fd >= 0) {
		gsi_routing_destroy(&vm->gsi);
		close(vm->fd);
	}
	guest_memory_destroy(&vm->mem);
	if (vm->slots_ready)
		memory_slots_destroy(&vm->slots);
	vm->slots_ready = false;
	pthread_cond_destroy(&vm->pause_cond);
	pthread_mutex_destroy(&vm->pause_lock);
	vm->fd = -1;
}
