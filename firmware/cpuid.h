/* The CPUID a vCPU sees: what KVM supports, adjusted by gvmm's policy. A
 * pure function over a copy of KVM_GET_SUPPORTED_CPUID, so tests can check
 * the policy without KVM. The policy:
 *  - the hypervisor bit is set and the KVM leaves (0x40000000..) say "KVMKVMKVM";
 *  - topology: one package, nr_cpus cores of one thread each, APIC id = vCPU index
 *    (leaf 1, leaf 4, leaf 0xB/0x1F, AMD 0x80000008; AMD's 0x8000001E is hidden
 *    by clearing TOPOEXT so the guest reads the simpler leaves);
 *  - nothing is added that KVM did not offer: the TSC-deadline timer, which
 *    KVM's LAPIC emulates but reports as a capability rather than in the
 *    supported CPUID, is offered when that capability is there (it is the
 *    timer every guest kernel prefers: one MSR write per event). */
#ifndef GVMM_CPUID_H
#define GVMM_CPUID_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#define CPUID_MAX_VCPUS 255  /* xAPIC ids are 8 bits; the MADT lists 8-bit ids */

/* What KVM offers beyond its supported CPUID. */
struct cpuid_host_caps {
	bool tsc_deadline;    /* KVM_CAP_TSC_DEADLINE_TIMER */
};

/* Rewrites entries in place for vCPU cpu_index (its APIC id) of nr_cpus. */
void cpuid_apply_policy(struct kvm_cpuid_entry2 *entries, unsigned nent,
			unsigned cpu_index, unsigned nr_cpus,
			const struct cpuid_host_caps *caps);

#endif
