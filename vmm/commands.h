/* The gvmm subcommands; each takes its own argv (argv[0] is its name) and
 * returns the process exit status. */
#ifndef GVMM_COMMANDS_H
#define GVMM_COMMANDS_H

/* Exit statuses, documented in `gvmm --help` and README.md. */
#define EXIT_GUEST_POWEROFF 0
#define EXIT_FAILURE_VM     1   /* the guest crashed or gvmm failed */
#define EXIT_USAGE          2   /* bad command line or input file */
#define EXIT_GUEST_REBOOT   3   /* the guest rebooted and --no-reboot was given */
#define EXIT_SIGNAL_BASE    128 /* + the signal that stopped gvmm */

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_ctl(int argc, char **argv);

#endif
