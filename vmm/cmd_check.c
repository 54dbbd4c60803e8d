/* `gvmm check`: what this host offers gvmm, in plain words. Exit status 0
 * when stock Linux guests can boot here, 1 when they cannot. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../display/gl_host.h"
#include "../display/gl_probe.h"
#include "../display/spice_display.h"
#include "../firmware/boot_disk.h"
#include "../devices/net/net_slirp.h"
#include "../devices/vfio/vfio_host.h"
#include "commands.h"
#include "kvm.h"
#include "module_loader.h"

static void print_check_usage(FILE *out)
{
	fprintf(out,
		"usage: gvmm check\n"
		"\n"
		"Tells whether KVM is present and usable, whether it is hardware-assisted\n"
		"(VT-x/AMD-V) or PVM, and which KVM capabilities gvmm needs are there;\n"
		"then which host GL the virgl 3D device would render with, and whether\n"
		"virglrenderer starts on it (a host without GL does not fail the check);\n"
		"then whether the SPICE server of --spice can start (informational too);\n"
		"then whether gvmm can boot a disk without --kernel, and whether user-mode\n"
		"networking (--net user) can start (informational too);\n"
		"then the IOMMU groups and which of their devices are bound to vfio-pci,\n"
		"ready for --vfio (informational too).\n"
		"Exit status 0 when gvmm can boot stock Linux kernels here, 1 otherwise.\n");
}

static long read_long_file(const char *path)
{
	FILE *f = fopen(path, "r");
	long value = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &value) != 1)
		value = -1;
	fclose(f);
	return value;
}

/* The GL lines: what gvmm would render virgl 3D with here. Informational:
 * guests boot without it, so it never changes the verdict. */
static void print_gl_lines(void)
{
	const struct gl_host_info *info;
	struct gl_host *gl;
	char err[256];

	if (gl_host_open(&gl, NULL, err, sizeof(err)) < 0) {
		printf("  %-30s not usable: %s\n", "GL device", err);
		return;
	}
	info = gl_host_info(gl);
	if (info->fallback_reason[0])
		printf("  %-30s %s (%s)\n", "GL device", info->device, info->fallback_reason);
	else
		printf("  %-30s %s\n", "GL device", info->device);
	printf("  %-30s %s\n", "GL renderer", info->renderer);
	printf("  %-30s %s%s\n", "GL version", info->version, info->gles ? " (GLES)" : "");
	if (gl_probe_dmabuf(gl, err, sizeof(err)) < 0)
		printf("  %-30s no, frames are read back (%s)\n", "GL frames as dmabufs", err);
	else if (gl_host_is_software(info))
		printf("  %-30s only with --spice unix:PATH,gl=on (on software GL, clients' own "
		       "GL seldom shows them)\n", "GL frames as dmabufs");
	else
		printf("  %-30s yes (local SPICE clients get GL frames with no copies)\n",
		       "GL frames as dmabufs");
	if (gl_probe_virgl(gl, err, sizeof(err)) == 0)
		printf("  %-30s starts on this GL\n", "virglrenderer");
	else
		printf("  %-30s does not start: %s\n", "virglrenderer", err);
	gl_host_close(gl);
}

/* A module's line: whether the part of gvmm in that module works here
 * (the module loads; available() is the module's own check), with the
 * version of the library it brings. Informational, as GL is. */
static void print_module_line(const char *label,
			      int (*available)(char *version, size_t versionlen,
					       char *err, size_t errlen),
			      const char *library, const char *used_for)
{
	char version[32], err[MODULE_ERROR_MAX];

	if (available(version, sizeof(version), err, sizeof(err)) < 0)
		printf("  %-30s not usable: %s\n", label, err);
	else
		printf("  %-30s %s %s (%s)\n", label, library, version, used_for);
}

int cmd_check(int argc, char **argv)
{
	enum kvm_flavour flavour = kvm_detect_flavour();
	struct kvm kvm;
	char err[256];
	bool usable;
	long hugepages;

	if (argc > 1) {
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
			print_check_usage(stdout);
			return 0;
		}
		fprintf(stderr, "gvmm: error: unexpected argument '%s' (try 'gvmm check --help')\n",
			argv[1]);
		return EXIT_USAGE;
	}

	printf("gvmm %s host check\n", GVMM_VERSION);
	usable = kvm_open(&kvm, err, sizeof(err)) == 0;
	if (!usable) {
		printf("  %-30s not usable: %s\n", "KVM", err);
	} else {
		printf("  %-30s /dev/kvm opened, API version %d\n", "KVM", KVM_API_VERSION);
		for (size_t i = 0; i < kvm_nr_required_caps; i++)
			printf("  %-30s yes (%s)\n", kvm_required_caps[i].name,
			       kvm_required_caps[i].why);
		printf("  %-30s %d\n", "max vCPUs", kvm.max_vcpus);
	}
	printf("  %-30s %s\n", "virtualization", kvm_flavour_name(flavour));
	hugepages = read_long_file("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
	if (hugepages >= 0)
		printf("  %-30s %ld free 2 MiB pages (for --hugepages)\n", "hugepages", hugepages);
	print_gl_lines();
	print_module_line("SPICE server", spice_display_available, "spice-server", "for --spice");
	print_module_line("disk boot", boot_disk_available, "libext2fs",
			  "for --disk without --kernel");
	print_module_line("user networking", net_slirp_available, "libslirp",
			  "for --net user, the default");
	vfio_host_describe(&vfio_host_default_paths, stdout);

	if (usable)
		kvm_close(&kvm);
	switch (flavour) {
	case KVM_FLAVOUR_PVM:
		printf("verdict: KVM here is PVM, a software hypervisor. Stock Linux kernels\n"
		       "         do not boot on it; only PVM-built guest kernels do. On this\n"
		       "         machine, run gvmm inside the nested rig: tools/rig -- gvmm run ...\n");
		return 1;
	case KVM_FLAVOUR_HARDWARE:
		if (usable) {
			printf("verdict: ready: stock Linux kernels boot here.\n");
			return 0;
		}
		printf("verdict: the CPU has hardware virtualization but KVM is not usable.\n");
		return 1;
	default:
		if (usable) {
			printf("verdict: KVM works but gvmm cannot tell whether it is hardware-\n"
			       "         assisted (no vmx/svm CPU flag seen); stock kernels may boot.\n");
			return 0;
		}
		printf("verdict: no usable KVM: gvmm cannot run guests here.\n");
		return 1;
	}
}
