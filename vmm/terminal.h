/* The terminal the console runs on, in raw mode while gvmm owns it (every
 * key reaches the guest; the guest sends its own CRs), and as it was
 * whenever gvmm lets go of it:
 *   - at exit (atexit) and when the console closes;
 *   - on every signal whose default action ends the process and that can
 *     be caught (SIGQUIT, SIGABRT, SIGSEGV, SIGALRM, SIGUSR2, the real-time
 *     signals, ...): the handler restores the terminal, then dies of the
 *     same signal with its default action, so the exit status stays 128+N
 *     and a core dump, if any, still happens. A signal the process already
 *     ignores or handles keeps that (gvmm ignores SIGPIPE and uses SIGUSR1
 *     to kick vCPUs), except the fault signals (SIGSEGV, SIGBUS, SIGFPE,
 *     SIGILL, SIGABRT), which always restore first;
 *   - while stopped by SIGTSTP: the shell gets its terminal back, and
 *     SIGCONT makes it raw again, unless gvmm was continued in the
 *     background (then it stays as the shell left it, and the next SIGCONT
 *     that finds gvmm in the foreground, as `fg` sends, makes it raw).
 *     A stop by SIGSTOP cannot be caught: the terminal stays raw then.
 * Process-wide on purpose: the signal paths have no other context. */
#ifndef GVMM_TERMINAL_H
#define GVMM_TERMINAL_H

/* Saves fd's settings, makes it raw and installs the handlers. Once per
 * process. Returns 0 or -errno. */
int terminal_make_raw(int fd);

/* Puts the saved settings back and stops re-entering raw mode on SIGCONT.
 * Harmless when the terminal was never made raw. */
void terminal_restore(void);

#endif
