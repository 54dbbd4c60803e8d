#include "cpuid.h"

#include <string.h>

#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR   (1u << 31)
#define CPUID_1_EDX_HTT          (1u << 28)
#define CPUID_80000001_ECX_CMP_LEGACY (1u << 1)
#define CPUID_80000001_ECX_TOPOEXT    (1u << 22)

#define TOPOLOGY_LEVEL_SMT  1
#define TOPOLOGY_LEVEL_CORE 2

/* Bits needed to hold ids 0..n-1. */
static unsigned id_bits(unsigned n)
{
	unsigned bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void topology_leaf(struct kvm_cpuid_entry2 *e, unsigned cpu_index,
			  unsigned nr_cpus)
{
	e->edx = cpu_index;  /* x2APIC id */
	switch (e->index) {
	case 0:
		e->eax = 0;  /* no SMT: the core level starts at bit 0 */
		e->ebx = 1;
		e->ecx = (TOPOLOGY_LEVEL_SMT << 8) | 0;
		break;
	case 1:
		e->eax = id_bits(nr_cpus);
		e->ebx = nr_cpus;
		e->ecx = (TOPOLOGY_LEVEL_CORE << 8) | 1;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;  /* level type 0: no more levels */
		break;
	}
}

void cpuid_apply_policy(struct kvm_cpuid_entry2 *entries, unsigned nent,
			unsigned cpu_index, unsigned nr_cpus,
			const struct cpuid_host_caps *caps)
{
	for (unsigned i = 0; i < nent; i++) {
		struct kvm_cpuid_entry2 *e = &entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffffu) | (cpu_index << 24) |
				 ((nr_cpus & 0xff) << 16);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (caps->tsc_deadline)
				e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			else
				e->ecx &= ~CPUID_1_ECX_TSC_DEADLINE;
			if (nr_cpus > 1)
				e->edx |= CPUID_1_EDX_HTT;
			else
				e->edx &= ~CPUID_1_EDX_HTT;
			break;
		case 4:
			/* Cores per package and threads sharing this cache;
			 * a subleaf with cache type 0 ends the list, keep it. */
			if ((e->eax & 0x1f) == 0)
				break;
			e->eax &= 0x3fff;
			e->eax |= (nr_cpus - 1) << 26;
			if (((e->eax >> 5) & 7) == 3)  /* L3 is shared by all */
				e->eax |= (nr_cpus - 1) << 14;
			break;
		case 0xb:
		case 0x1f:
			topology_leaf(e, cpu_index, nr_cpus);
			break;
		case 0x40000000:
			memcpy(&e->ebx, "KVMK", 4);
			memcpy(&e->ecx, "VMKV", 4);
			memcpy(&e->edx, "M\0\0\0", 4);
			break;
		case 0x80000001:
			e->ecx &= ~CPUID_80000001_ECX_TOPOEXT;
			if (nr_cpus > 1)
				e->ecx |= CPUID_80000001_ECX_CMP_LEGACY;
			else
				e->ecx &= ~CPUID_80000001_ECX_CMP_LEGACY;
			break;
		case 0x80000008:
			e->ecx = (e->ecx & ~0xf0ffu) | (id_bits(nr_cpus) << 12) |
				 ((nr_cpus - 1) & 0xff);
			break;
		case 0x8000001e:
			e->eax = cpu_index;
			e->ebx = cpu_index;  /* one thread per core: core id = index */
			e->ecx = 0;
			break;
		default:
			break;
		}
	}
}
