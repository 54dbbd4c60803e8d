/* A stand-in for /dev/kvm, preloaded into gvmm (LD_PRELOAD) by
 * tools/bench-startup. It answers the KVM ioctls gvmm makes before its
 * first KVM_RUN without any hypervisor, and ends the process at that
 * KVM_RUN. gvmm's own start-up work (option parsing, guest RAM, loading
 * the kernel and initrd, ACPI tables, devices, threads) can then be timed
 * on any machine's CPU at native speed: the nested rig runs gvmm on an
 * emulated CPU, and on a machine without hardware KVM nothing else can.
 * What it leaves out is KVM's own work in those ioctls.
 *
 * Answers: a VM and each vCPU are memfds (a vCPU's is sized for the
 * kvm_run mapping gvmm makes of it); every capability is present; the
 * supported CPUID is the host's own (leaves that take a subleaf are asked
 * for four); KVM_SET_MSRS accepts every MSR; any other ioctl succeeds, and
 * one that returns a structure returns zeros. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_FDS       4096
#define RUN_MMAP_SIZE (2 * 4096)
#define SUBLEAVES     4

enum standin_fd { NOT_OURS, SYSTEM_FD, VM_FD, VCPU_FD };
static unsigned char fd_kind[MAX_FDS];

static int standin_fd(enum standin_fd kind, const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0 || fd >= MAX_FDS)
		return -1;
	if (kind == VCPU_FD && ftruncate(fd, RUN_MMAP_SIZE) < 0)
		return -1;
	fd_kind[fd] = (unsigned char)kind;
	return fd;
}

int open(const char *path, int flags, ...)
{
	static int (*next_open)(const char *, int, ...);
	mode_t mode = 0;
	va_list ap;

	if (strcmp(path, "/dev/kvm") == 0)
		return standin_fd(SYSTEM_FD, "kvm-standin");
	if (!next_open)
		next_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return next_open(path, flags, mode);
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

static bool takes_subleaf(unsigned leaf)
{
	static const unsigned leaves[] = { 4, 7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14,
					   0x17, 0x18, 0x1d, 0x1e, 0x1f };

	for (unsigned i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
		if (leaf == leaves[i])
			return true;
	return false;
}

static void host_cpuid(struct kvm_cpuid2 *cpuid)
{
	unsigned max_basic, max_ext, b, c, d, n = 0;

	__cpuid(0, max_basic, b, c, d);
	__cpuid(0x80000000, max_ext, b, c, d);
	for (int ext = 0; ext < 2; ext++) {
		unsigned first = ext ? 0x80000000u : 0, last = ext ? max_ext : max_basic;

		for (unsigned leaf = first; leaf <= last; leaf++) {
			unsigned subleaves = takes_subleaf(leaf) ? SUBLEAVES : 1;

			for (unsigned sub = 0; sub < subleaves && n < cpuid->nent; sub++) {
				struct kvm_cpuid_entry2 *e = &cpuid->entries[n++];

				memset(e, 0, sizeof(*e));
				e->function = leaf;
				e->index = sub;
				if (subleaves > 1)
					e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
				__cpuid_count(leaf, sub, e->eax, e->ebx, e->ecx, e->edx);
			}
		}
	}
	cpuid->nent = n;
}

static int capability(long cap)
{
	switch (cap) {
	case KVM_CAP_NR_VCPUS:     return 16;
	case KVM_CAP_MAX_VCPUS:    return 288;
	case KVM_CAP_NR_MEMSLOTS:  return 509;
	default:                   return 1;
	}
}

int ioctl(int fd, unsigned long request, ...)
{
	static int (*next_ioctl)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd < 0 || fd >= MAX_FDS || fd_kind[fd] == NOT_OURS) {
		if (!next_ioctl)
			next_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
		return next_ioctl(fd, request, arg);
	}
	switch (request) {
	case KVM_GET_API_VERSION:
		return KVM_API_VERSION;
	case KVM_CHECK_EXTENSION:
		return capability((long)arg);
	case KVM_CREATE_VM:
		return standin_fd(VM_FD, "kvm-standin-vm");
	case KVM_CREATE_VCPU:
		return standin_fd(VCPU_FD, "kvm-standin-vcpu");
	case KVM_GET_VCPU_MMAP_SIZE:
		return RUN_MMAP_SIZE;
	case KVM_GET_SUPPORTED_CPUID:
		host_cpuid(arg);
		return 0;
	case KVM_SET_MSRS:
		return (int)((struct kvm_msrs *)arg)->nmsrs;
	case KVM_RUN:
		/* gvmm printed its start-up line just before this call. */
		_exit(0);
	}
	if ((_IOC_DIR(request) & _IOC_READ) && arg)
		memset(arg, 0, _IOC_SIZE(request));
	return 0;
}
