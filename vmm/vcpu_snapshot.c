#include "vcpu_snapshot.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

unsigned lapic_vectors_set(const char *page, unsigned reg, uint8_t *out, unsigned max)
{
	unsigned total = 0;

	for (int vector = 255; vector >= 0; vector--) {
		uint32_t word;

		memcpy(&word, page + reg + (vector / 32) * 16, sizeof(word));
		if (!(word & (1u << (vector % 32))))
			continue;
		if (total < max)
			out[total] = (uint8_t)vector;
		total++;
	}
	return total;
}

const char *vcpu_mp_state_name(uint32_t mp_state)
{
	switch (mp_state) {
	case KVM_MP_STATE_RUNNABLE:      return "running";
	case KVM_MP_STATE_UNINITIALIZED: return "waiting-for-init";
	case KVM_MP_STATE_INIT_RECEIVED: return "init-received";
	case KVM_MP_STATE_HALTED:        return "halted";
	case KVM_MP_STATE_SIPI_RECEIVED: return "sipi-received";
	default:                         return "unknown";
	}
}

int vcpu_snapshot_read(int fd, unsigned index, struct vcpu_snapshot *out)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events events;
	struct kvm_lapic_state lapic;
	struct kvm_translation tr;

	_Static_assert(sizeof(lapic.regs) == LAPIC_PAGE_SIZE, "KVM's local APIC page");
	memset(out, 0, sizeof(*out));
	out->index = index;
	if (ioctl(fd, KVM_GET_REGS, &regs) < 0 || ioctl(fd, KVM_GET_SREGS, &sregs) < 0 ||
	    ioctl(fd, KVM_GET_MP_STATE, &mp) < 0 ||
	    ioctl(fd, KVM_GET_VCPU_EVENTS, &events) < 0 ||
	    ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	out->mp_state = mp.mp_state;
	out->rip = regs.rip;
	out->rsp = regs.rsp;
	out->rflags = regs.rflags;
	out->cr3 = sregs.cr3;
	/* The stack segment's privilege level is the CPU's (SDM 5.5). */
	out->cpl = sregs.ss.dpl;
	out->tpr = (uint8_t)lapic.regs[LAPIC_REG_TPR];
	out->nr_irr = lapic_vectors_set(lapic.regs, LAPIC_REG_IRR, out->irr, VCPU_SNAPSHOT_VECTORS);
	out->nr_isr = lapic_vectors_set(lapic.regs, LAPIC_REG_ISR, out->isr, VCPU_SNAPSHOT_VECTORS);
	out->nmi_pending = events.nmi.pending || events.nmi.injected;
	out->interrupt_injected = events.interrupt.injected;
	out->interrupt_vector = events.interrupt.nr;
	out->exception_pending = events.exception.pending || events.exception.injected;
	out->exception_vector = events.exception.nr;
	tr = (struct kvm_translation){ .linear_address = regs.rip };
	if (ioctl(fd, KVM_TRANSLATE, &tr) == 0 && tr.valid) {
		out->rip_mapped = true;
		out->rip_gpa = tr.physical_address;
	}
	return 0;
}
