/* The /dev/kvm handle: opened once, checked for the API version and every
 * capability gvmm relies on, and told apart as hardware-assisted KVM or
 * PVM (a software hypervisor that cannot run stock guest kernels). */
#ifndef GVMM_KVM_H
#define GVMM_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/kvm.h>

#include "../firmware/cpuid.h"

enum kvm_flavour {
	KVM_FLAVOUR_HARDWARE,  /* VT-x or AMD-V: stock kernels boot */
	KVM_FLAVOUR_PVM,       /* software PVM: only PVM-built guest kernels */
	KVM_FLAVOUR_UNKNOWN,
};

struct kvm {
	int fd;
	int vcpu_mmap_size;
	int max_vcpus;
	struct kvm_cpuid2 *supported_cpuid;
	struct cpuid_host_caps cpuid_caps;  /* offered beyond supported_cpuid */
	enum kvm_flavour flavour;
};

struct kvm_cap_need {
	int cap;
	const char *name;
	const char *why;
};

/* The capabilities gvmm cannot work without, for `gvmm check` to list. */
extern const struct kvm_cap_need kvm_required_caps[];
extern const size_t kvm_nr_required_caps;

/* Opens /dev/kvm and checks it. Returns 0, or -1 with one line in err
 * naming the missing piece. */
int kvm_open(struct kvm *kvm, char *err, size_t errlen);
void kvm_close(struct kvm *kvm);
int kvm_check_cap(const struct kvm *kvm, int cap);

enum kvm_flavour kvm_detect_flavour(void);
const char *kvm_flavour_name(enum kvm_flavour f);

#endif
