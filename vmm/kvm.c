#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define KVM_CPUID_MAX_ENTRIES 256

const struct kvm_cap_need kvm_required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM from a memfd" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel PIC, IOAPIC and LAPIC" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel PIT" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "TSS area for real-mode emulation" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR", "identity page table area" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", "GSI routing table" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts without vCPU exits" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "device notifications without vCPU exits" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "KVM_GET_SUPPORTED_CPUID" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping vCPUs without races" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "secondary vCPUs waiting for INIT/SIPI" },
};
const size_t kvm_nr_required_caps = sizeof(kvm_required_caps) / sizeof(kvm_required_caps[0]);

int kvm_check_cap(const struct kvm *kvm, int cap)
{
	int ret = ioctl(kvm->fd, KVM_CHECK_EXTENSION, cap);

	return ret < 0 ? 0 : ret;
}

static struct kvm_cpuid2 *kvm_get_supported_cpuid(int fd)
{
	struct kvm_cpuid2 *cpuid;
	size_t size = sizeof(*cpuid) + KVM_CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);

	cpuid = calloc(1, size);
	if (!cpuid)
		return NULL;
	cpuid->nent = KVM_CPUID_MAX_ENTRIES;
	if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		free(cpuid);
		return NULL;
	}
	return cpuid;
}

int kvm_open(struct kvm *kvm, char *err, size_t errlen)
{
	int version;

	memset(kvm, 0, sizeof(*kvm));
	kvm->flavour = kvm_detect_flavour();
	kvm->fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0) {
		int e = errno;

		if (e == ENOENT)
			snprintf(err, errlen, "/dev/kvm does not exist: load kvm_intel or kvm_amd, "
				 "and enable VT-x/AMD-V in the firmware");
		else if (e == EACCES || e == EPERM)
			snprintf(err, errlen, "cannot open /dev/kvm: %s (add yourself to the "
				 "'kvm' group or run as root)", strerror(e));
		else
			snprintf(err, errlen, "cannot open /dev/kvm: %s", strerror(e));
		return -1;
	}
	version = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm speaks API version %d, gvmm needs %d",
			 version, KVM_API_VERSION);
		goto fail;
	}
	for (size_t i = 0; i < kvm_nr_required_caps; i++) {
		if (!kvm_check_cap(kvm, kvm_required_caps[i].cap)) {
			snprintf(err, errlen, "KVM lacks %s (needed for %s)",
				 kvm_required_caps[i].name, kvm_required_caps[i].why);
			goto fail;
		}
	}
	kvm->vcpu_mmap_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE failed");
		goto fail;
	}
	kvm->max_vcpus = kvm_check_cap(kvm, KVM_CAP_MAX_VCPUS);
	if (kvm->max_vcpus <= 0)
		kvm->max_vcpus = kvm_check_cap(kvm, KVM_CAP_NR_VCPUS);
	if (kvm->max_vcpus <= 0)
		kvm->max_vcpus = 4;  /* the documented minimum when neither is reported */
	kvm->supported_cpuid = kvm_get_supported_cpuid(kvm->fd);
	if (!kvm->supported_cpuid) {
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(errno));
		goto fail;
	}
	kvm->cpuid_caps.tsc_deadline = kvm_check_cap(kvm, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	return 0;
fail:
	close(kvm->fd);
	kvm->fd = -1;
	return -1;
}

void kvm_close(struct kvm *kvm)
{
	if (kvm->fd >= 0)
		close(kvm->fd);
	free(kvm->supported_cpuid);
	kvm->supported_cpuid = NULL;
	kvm->fd = -1;
}

static bool cpuinfo_has_flag(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[8192];
	bool found = false;
	size_t flen = strlen(flag);

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p;

		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (p = strstr(line, flag); p; p = strstr(p + 1, flag))
			if (p[-1] == ' ' && (p[flen] == ' ' || p[flen] == '\n'))
				found = true;
		break;  /* the first CPU's flags speak for all */
	}
	fclose(f);
	return found;
}

enum kvm_flavour kvm_detect_flavour(void)
{
	if (access("/sys/module/kvm_pvm", F_OK) == 0)
		return KVM_FLAVOUR_PVM;
	if ((cpuinfo_has_flag("vmx") && access("/sys/module/kvm_intel", F_OK) == 0) ||
	    (cpuinfo_has_flag("svm") && access("/sys/module/kvm_amd", F_OK) == 0))
		return KVM_FLAVOUR_HARDWARE;
	return KVM_FLAVOUR_UNKNOWN;
}

const char *kvm_flavour_name(enum kvm_flavour f)
{
	switch (f) {
	case KVM_FLAVOUR_HARDWARE: return "hardware (VT-x/AMD-V)";
	case KVM_FLAVOUR_PVM: return "PVM (software)";
	default: return "unknown";
	}
}
