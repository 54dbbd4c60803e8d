/* The boot vCPU's initial state for each boot mode: the GDT and identity
 * page tables it needs in guest memory, and its registers. Pure: it fills
 * structs and guest memory, the vCPU code applies them with KVM ioctls. */
#ifndef GVMM_X86_BOOT_CPU_H
#define GVMM_X86_BOOT_CPU_H

#include <linux/kvm.h>

#include "boot.h"

/* Writes the GDT (and, for 64-bit entry, page tables mapping the first
 * 4 GiB) into guest memory and fills regs/sregs. sregs must hold the
 * vCPU's current special registers (KVM_GET_SREGS) so untouched fields keep
 * KVM's values. Returns 0 or -1 when guest memory lacks the boot area. */
int x86_boot_cpu_state(struct guest_memory *mem, const struct boot_setup *setup,
		       struct kvm_regs *regs, struct kvm_sregs *sregs);

#endif
