/* A vCPU: its KVM fd, its shared kvm_run page and its thread, which loops
 * on KVM_RUN and hands port and MMIO exits to the VM's buses. */
#ifndef GVMM_VCPU_H
#define GVMM_VCPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/kvm.h>

#include "../firmware/boot.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned index;         /* also its APIC id */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
};

/* Creates the vCPU with its CPUID, MSRs and local APIC set up. Returns 0,
 * or -1 with one line in err. */
int vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned index,
		char *err, size_t errlen);
/* Puts the boot vCPU at the kernel's entry point. */
int vcpu_set_boot_state(struct vcpu *vcpu, const struct boot_setup *setup,
			char *err, size_t errlen);
int vcpu_start(struct vcpu *vcpu);
/* Makes the vCPU leave KVM_RUN soon; safe from any thread. */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);

/* Signal used to kick vCPU threads out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1
/* Installs the (empty) kick handler; call once before any vCPU starts. */
int vcpu_install_kick_handler(void);

/* Start-up trace for benchmarks, off by default. main() calls this first
 * thing; when the environment has GVMM_TRACE_STARTUP it notes the time,
 * and the first KVM_RUN of any vCPU prints one line on stderr:
 *   GVMM_TRACE_STARTUP=1:
 *     "gvmm: startup: first KVM_RUN after N us", from main()'s entry;
 *   GVMM_TRACE_STARTUP=exec:T, T the wall clock in microseconds since
 *   the epoch when gvmm's launcher called exec (bash: ${EPOCHREALTIME}):
 *     "gvmm: startup: first KVM_RUN after N us, E us after exec", so
 *     the dynamic loader's work before main() (mapping and relocating
 *     every shared library) is counted too: E - N of it. */
void vcpu_startup_trace_begin(void);

#endif
