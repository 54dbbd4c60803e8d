/* gvmm: a small virtual machine monitor for GPU desktops on Linux KVM. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "vcpu.h"

static void print_usage(FILE *out)
{
	fprintf(out,
		"usage: gvmm COMMAND [OPTIONS]\n"
		"\n"
		"Commands:\n"
		"  run      boot a Linux kernel in a new virtual machine (gvmm run --help)\n"
		"  check    tell what this host offers: KVM, hardware or PVM, capabilities\n"
		"  ctl      talk to a running gvmm through its --api-socket (gvmm ctl --help)\n"
		"\n"
		"Options:\n"
		"  -h, --help     show this help\n"
		"  -V, --version  show the version\n"
		"\n"
		"Exit status of 'gvmm run':\n"
		"  0    the guest powered off (or Ctrl-A x on the console)\n"
		"  1    the guest crashed (triple fault, KVM internal error) or gvmm failed\n"
		"  2    bad command line or input file; nothing was started\n"
		"  3    the guest rebooted and --no-reboot was given\n"
		"  128+N  stopped by signal N (SIGINT, SIGTERM, SIGHUP)\n");
}

int main(int argc, char **argv)
{
	vcpu_startup_trace_begin();
	if (argc < 2) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("gvmm %s\n", GVMM_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "ctl") == 0)
		return cmd_ctl(argc - 1, argv + 1);
	fprintf(stderr, "gvmm: unknown command '%s' (try 'gvmm --help')\n", argv[1]);
	return EXIT_USAGE;
}
