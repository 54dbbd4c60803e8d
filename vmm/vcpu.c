#include "vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../firmware/cpuid.h"
#include "../firmware/x86_boot_cpu.h"
#include "guest_memory.h"
#include "log.h"
#include "thread_stack.h"
#include "vm.h"

#define MSR_IA32_SYSENTER_CS   0x174
#define MSR_IA32_SYSENTER_ESP  0x175
#define MSR_IA32_SYSENTER_EIP  0x176
#define MSR_IA32_MISC_ENABLE   0x1a0
#define MSR_MTRR_DEF_TYPE      0x2ff
#define MSR_STAR               0xc0000081
#define MSR_LSTAR              0xc0000082
#define MSR_CSTAR              0xc0000083
#define MSR_SYSCALL_MASK       0xc0000084
#define MSR_KERNEL_GS_BASE     0xc0000102
#define MSR_IA32_TSC           0x10

#define MISC_ENABLE_FAST_STRING   (1ull << 0)
#define MTRR_ENABLE               (1ull << 11)
#define MTRR_TYPE_WRITEBACK       6ull

#define APIC_LVT0       0x350
#define APIC_LVT1       0x360
#define APIC_MODE_EXTINT 0x7
#define APIC_MODE_NMI    0x4

static void vcpu_kick_handler(int sig)
{
	(void)sig;  /* the signal's only job is to interrupt KVM_RUN */
}

int vcpu_install_kick_handler(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };

	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

static struct timespec startup_begin;
/* Microseconds from exec to main()'s entry; -1 when not told when exec was. */
static long long startup_exec_to_main_us = -1;
static atomic_bool startup_armed;

/* The exec time T of "exec:T", in microseconds since the epoch: 0, or -1
 * when v is not of that form. */
static int parse_exec_time(const char *v, long long *us)
{
	char *end;

	if (strncmp(v, "exec:", 5) != 0 || v[5] < '0' || v[5] > '9')
		return -1;
	errno = 0;
	*us = strtoll(v + 5, &end, 10);
	return errno || *end ? -1 : 0;
}

void vcpu_startup_trace_begin(void)
{
	const char *v = getenv("GVMM_TRACE_STARTUP");
	struct timespec wall;
	long long exec_us = 0;

	if (!v)
		return;
	if (strcmp(v, "1") != 0 && parse_exec_time(v, &exec_us) < 0) {
		log_warn("GVMM_TRACE_STARTUP='%s' is neither 1 nor exec:MICROSECONDS; no "
			 "start-up trace", v);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &startup_begin);
	if (v[0] == 'e') {
		clock_gettime(CLOCK_REALTIME, &wall);
		startup_exec_to_main_us = wall.tv_sec * 1000000LL + wall.tv_nsec / 1000 - exec_us;
	}
	atomic_store(&startup_armed, true);
}

/* Called before every KVM_RUN: prints the start-up line once, if armed. */
static void startup_trace_first_run(void)
{
	struct timespec now;
	long long us;

	if (!atomic_load_explicit(&startup_armed, memory_order_relaxed) ||
	    !atomic_exchange(&startup_armed, false))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (now.tv_sec - startup_begin.tv_sec) * 1000000LL +
	     (now.tv_nsec - startup_begin.tv_nsec) / 1000;
	if (startup_exec_to_main_us >= 0)
		fprintf(stderr, "gvmm: startup: first KVM_RUN after %lld us, %lld us after exec\n",
			us, us + startup_exec_to_main_us);
	else
		fprintf(stderr, "gvmm: startup: first KVM_RUN after %lld us\n", us);
}

static int vcpu_set_cpuid(struct vcpu *vcpu, unsigned nr_cpus)
{
	const struct kvm_cpuid2 *supported = vcpu->vm->kvm->supported_cpuid;
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *cpuid = malloc(size);
	int ret = 0;

	if (!cpuid)
		return -ENOMEM;
	memcpy(cpuid, supported, size);
	cpuid_apply_policy(cpuid->entries, cpuid->nent, vcpu->index, nr_cpus,
			   &vcpu->vm->kvm->cpuid_caps);
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0)
		ret = -errno;
	free(cpuid);
	return ret;
}

/* The MSR values Linux expects from firmware at boot. */
static int vcpu_set_boot_msrs(struct vcpu *vcpu)
{
	static const struct { uint32_t index; uint64_t value; } boot_msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_LSTAR, 0 },
		{ MSR_CSTAR, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_KERNEL_GS_BASE, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WRITEBACK },
	};
	const unsigned n = sizeof(boot_msrs) / sizeof(boot_msrs[0]);
	struct {
		struct kvm_msrs header;
		struct kvm_msr_entry entries[sizeof(boot_msrs) / sizeof(boot_msrs[0])];
	} msrs;
	int set;

	memset(&msrs, 0, sizeof(msrs));
	msrs.header.nmsrs = n;
	for (unsigned i = 0; i < n; i++) {
		msrs.entries[i].index = boot_msrs[i].index;
		msrs.entries[i].data = boot_msrs[i].value;
	}
	set = ioctl(vcpu->fd, KVM_SET_MSRS, &msrs);
	if (set < 0)
		return -errno;
	if ((unsigned)set < n)
		log_warn("vCPU %u: KVM refused MSR 0x%x", vcpu->index,
			 boot_msrs[set].index);
	return 0;
}

/* LINT0 takes the PIC's interrupts and LINT1 NMIs, as a PC wires them. */
static int vcpu_set_lapic_lvt(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	uint32_t *lvt0 = (uint32_t *)&lapic.regs[APIC_LVT0];
	uint32_t *lvt1 = (uint32_t *)&lapic.regs[APIC_LVT1];

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	*lvt0 = (*lvt0 & ~0x700u & ~0x10000u) | (APIC_MODE_EXTINT << 8);
	*lvt1 = (*lvt1 & ~0x700u & ~0x10000u) | (APIC_MODE_NMI << 8);
	return ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

int vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned index,
		char *err, size_t errlen)
{
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0) {
		snprintf(err, errlen, "cannot create vCPU %u: %s", index, strerror(errno));
		return -1;
	}
	vcpu->run = mmap(NULL, (size_t)vm->kvm->vcpu_mmap_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		snprintf(err, errlen, "cannot map vCPU %u's run area: %s", index, strerror(errno));
		return -1;
	}
	ret = vcpu_set_cpuid(vcpu, vm->nr_vcpus);
	if (ret < 0) {
		snprintf(err, errlen, "vCPU %u: KVM_SET_CPUID2: %s", index, strerror(-ret));
		return -1;
	}
	ret = vcpu_set_boot_msrs(vcpu);
	if (ret < 0) {
		snprintf(err, errlen, "vCPU %u: KVM_SET_MSRS: %s", index, strerror(-ret));
		return -1;
	}
	ret = vcpu_set_lapic_lvt(vcpu);
	if (ret < 0) {
		snprintf(err, errlen, "vCPU %u: local APIC setup: %s", index, strerror(-ret));
		return -1;
	}
	return 0;
}

int vcpu_set_boot_state(struct vcpu *vcpu, const struct boot_setup *setup,
			char *err, size_t errlen)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };  /* FNINIT state */

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(err, errlen, "KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	if (x86_boot_cpu_state(&vcpu->vm->mem, setup, &regs, &sregs) < 0) {
		snprintf(err, errlen, "guest RAM too small for the boot page tables");
		return -1;
	}
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0) {
		snprintf(err, errlen, "setting the boot vCPU's registers: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* What the vCPU had pending when it stopped: after a triple fault on an
 * Intel host, the exception that could not be delivered is the clue to
 * its cause. On AMD, KVM resets the vCPU before returning the triple
 * fault (the VMCB is undefined after a shutdown), which clears the
 * pending and injected flags but leaves the last vector and error code:
 * "none" with a vector there is most likely the first fault of the
 * chain, no longer pending. */
static void vcpu_log_events(struct vcpu *vcpu)
{
	struct kvm_vcpu_events ev;

	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return;
	log_error(" exception %s vector %u error code %s0x%x; interrupt %s vector %u; nmi %s",
		  ev.exception.injected ? "injected" : ev.exception.pending ? "pending" : "none",
		  ev.exception.nr, ev.exception.has_error_code ? "" : "(none) ",
		  ev.exception.error_code, ev.interrupt.injected ? "injected" : "none",
		  ev.interrupt.nr, ev.nmi.injected ? "injected" : ev.nmi.pending ? "pending" : "none");
}

/* The words on top of the guest's stack (an exception frame, if one was
 * being pushed), read through the guest's own page tables. */
#define STACK_WORDS_LOGGED 8
static void vcpu_log_stack(struct vcpu *vcpu, uint64_t rsp)
{
	struct kvm_translation tr = { .linear_address = rsp };
	uint64_t words[STACK_WORDS_LOGGED];

	if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid) {
		log_error(" stack at %" PRIx64 ": not mapped", rsp);
		return;
	}
	/* Only what lies on the same page: the next may map elsewhere. */
	size_t room = 4096 - (rsp & 4095), len = sizeof(words) < room ? sizeof(words) : room;

	if (guest_memory_read(&vcpu->vm->mem, tr.physical_address, words, len) < 0) {
		log_error(" stack at %" PRIx64 " (guest-physical %llx): not RAM", rsp,
			  tr.physical_address);
		return;
	}
	for (size_t i = 0; i < len / 8; i += 4)
		log_error(" stack+%02zx: %016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64,
			  i * 8, words[i], i + 1 < len / 8 ? words[i + 1] : 0,
			  i + 2 < len / 8 ? words[i + 2] : 0, i + 3 < len / 8 ? words[i + 3] : 0);
}

static void vcpu_log_registers(struct vcpu *vcpu)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		log_error("vCPU %u: registers unavailable: %s", vcpu->index, strerror(errno));
		return;
	}
	log_error("vCPU %u registers:", vcpu->index);
	log_error(" rip %016llx rsp %016llx rflags %08llx", r.rip, r.rsp, r.rflags);
	log_error(" rax %016llx rbx %016llx rcx %016llx rdx %016llx", r.rax, r.rbx, r.rcx, r.rdx);
	log_error(" rsi %016llx rdi %016llx rbp %016llx", r.rsi, r.rdi, r.rbp);
	log_error(" r8  %016llx r9  %016llx r10 %016llx r11 %016llx", r.r8, r.r9, r.r10, r.r11);
	log_error(" r12 %016llx r13 %016llx r14 %016llx r15 %016llx", r.r12, r.r13, r.r14, r.r15);
	log_error(" cs %04x base %llx l %u db %u  ss %04x  ds %04x", s.cs.selector,
		  s.cs.base, s.cs.l, s.cs.db, s.ss.selector, s.ds.selector);
	log_error(" cr0 %llx cr2 %llx cr3 %llx cr4 %llx efer %llx", s.cr0, s.cr2, s.cr3,
		  s.cr4, s.efer);
	log_error(" gdt %llx/%x idt %llx/%x", s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
	if (r.rip == 0xfff0 && s.cs.selector == 0xf000)
		log_error(" (the reset state: on an AMD host KVM resets a vCPU that triple-faulted "
			  "before gvmm can read it, so where the guest was is lost)");
	vcpu_log_events(vcpu);
	vcpu_log_stack(vcpu, r.rsp);
}

static void vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		bus_dispatch(&vcpu->vm->pio, run->io.port, data, run->io.size, is_write);
}

static void vcpu_handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint32_t len = run->mmio.len <= sizeof(run->mmio.data) ? run->mmio.len : sizeof(run->mmio.data);

	bus_dispatch(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
		     run->mmio.is_write);
}

/* Returns false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(vcpu);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; gvmm always has one, so a
		 * halting vCPU here has nothing left to wake it. */
		log_error("vCPU %u halted with interrupts off", vcpu->index);
		vcpu_log_registers(vcpu);
		vm_stop(vm, VM_STOP_GUEST_ERROR);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_stop(vm, VM_STOP_POWEROFF);
			break;
		case KVM_SYSTEM_EVENT_RESET:
			vm_stop(vm, VM_STOP_RESET);
			break;
		default:
			log_error("vCPU %u: guest crash event %u", vcpu->index,
				  run->system_event.type);
			vm_stop(vm, VM_STOP_GUEST_ERROR);
			break;
		}
		return false;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault. After a reset request it is just the CPU
		 * going down the way the guest meant it to. */
		if (atomic_load(&vm->stop_reason) == VM_RUNNING) {
			log_error("vCPU %u: the guest triple-faulted", vcpu->index);
			vcpu_log_registers(vcpu);
			vm_stop(vm, VM_STOP_GUEST_ERROR);
		}
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		log_error("vCPU %u: KVM internal error, suberror %u", vcpu->index,
			  run->internal.suberror);
		for (uint32_t i = 0; i < run->internal.ndata && i < 16; i++)
			log_error(" data[%u] = 0x%llx", i, run->internal.data[i]);
		vcpu_log_registers(vcpu);
		vm_stop(vm, VM_STOP_GUEST_ERROR);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		log_error("vCPU %u: entry failed, hardware reason 0x%llx", vcpu->index,
			  run->fail_entry.hardware_entry_failure_reason);
		vcpu_log_registers(vcpu);
		vm_stop(vm, VM_STOP_GUEST_ERROR);
		return false;
	default:
		log_error("vCPU %u: unexpected KVM exit %u", vcpu->index, run->exit_reason);
		vcpu_log_registers(vcpu);
		vm_stop(vm, VM_STOP_GUEST_ERROR);
		return false;
	}
}

static void *vcpu_thread(void *opaque)
{
	struct vcpu *vcpu = opaque;
	struct vm *vm = vcpu->vm;
	sigset_t kick;
	char name[16];

	thread_stack_no_huge_pages();
	snprintf(name, sizeof(name), "gvmm-vcpu%u", vcpu->index);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);

	while (atomic_load(&vm->stop_reason) == VM_RUNNING) {
		vm_wait_while_paused(vm);
		startup_trace_first_run();
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			log_error("vCPU %u: KVM_RUN: %s", vcpu->index, strerror(errno));
			vcpu_log_registers(vcpu);
			vm_stop(vm, VM_STOP_VMM_ERROR);
			break;
		}
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	int ret = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

	if (ret)
		return -ret;
	vcpu->thread_started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	/* immediate_exit covers the window before the thread enters KVM_RUN;
	 * the signal covers a thread already inside it. */
	vcpu->run->immediate_exit = 1;
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->thread_started)
		pthread_join(vcpu->thread, NULL);
	vcpu->thread_started = false;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->vm->kvm->vcpu_mmap_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}
