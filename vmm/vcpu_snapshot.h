/* Where each vCPU is and what it waits for, read while the vCPUs are
 * parked outside KVM_RUN: for a guest that stopped making progress
 * (`gvmm ctl PATH vcpus`), whether a CPU is halted or running, at which
 * instruction, with interrupts on or off, and which vectors its local
 * APIC holds. A CPU halted with interrupts on and a vector requested is
 * a wake-up that KVM missed; one halted with interrupts off waits for
 * something only the guest can send. */
#ifndef GVMM_VCPU_SNAPSHOT_H
#define GVMM_VCPU_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

/* Vectors listed per APIC register; the count says how many there were. */
#define VCPU_SNAPSHOT_VECTORS 8

/* Offsets of the 256-bit vector registers in the local APIC's page. */
#define LAPIC_REG_ISR 0x100
#define LAPIC_REG_IRR 0x200
#define LAPIC_REG_TPR 0x080
#define LAPIC_PAGE_SIZE 0x400  /* what KVM_GET_LAPIC hands back */

#define RFLAGS_IF (1ull << 9)  /* interrupts on */

struct vcpu_snapshot {
	unsigned index;
	uint32_t mp_state;               /* KVM_MP_STATE_* */
	uint64_t rip, rsp, rflags, cr3;
	/* Where the guest's own page tables, walked by KVM, put rip: a vCPU
	 * that faults again and again on an instruction its page tables do
	 * map points at the host's paging, not at the guest's. */
	bool rip_mapped;
	uint64_t rip_gpa;
	unsigned cpl;                    /* 0: the guest's kernel */
	uint8_t tpr;                     /* the APIC's task priority */
	unsigned nr_irr, nr_isr;         /* vectors requested, and in service */
	uint8_t irr[VCPU_SNAPSHOT_VECTORS], isr[VCPU_SNAPSHOT_VECTORS];  /* highest first */
	bool nmi_pending;
	bool interrupt_injected;         /* KVM is delivering interrupt_vector */
	uint8_t interrupt_vector;
	bool exception_pending;          /* pending or being delivered */
	uint8_t exception_vector;
};

/* Reads the vCPU behind fd; it must not be inside KVM_RUN. Returns 0, or
 * -errno of the first ioctl that failed. */
int vcpu_snapshot_read(int fd, unsigned index, struct vcpu_snapshot *out);

/* The vectors set in the 256-bit register at reg of a local APIC page
 * (LAPIC_PAGE_SIZE bytes, as KVM lays it out: eight 32-bit words 16 bytes
 * apart). Writes up to max of them to out, highest first, and returns how
 * many are set in all. */
unsigned lapic_vectors_set(const char *page, unsigned reg, uint8_t *out, unsigned max);

/* "running", "halted", ... for a KVM_MP_STATE_* value. */
const char *vcpu_mp_state_name(uint32_t mp_state);

#endif
