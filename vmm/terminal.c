#include "terminal.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Written once, before raw_wanted is set; read by the signal handlers. */
static struct termios saved_termios, raw_termios;
static int terminal_fd = -1;
/* The terminal should be raw (between make_raw and restore). */
static volatile sig_atomic_t raw_wanted;

/* Faults restore the terminal even when something (a sanitizer) handled
 * them before: a crash must not leave the shell unusable. */
static const int fault_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };

/* The other signals whose default action ends the process (signal(7));
 * the real-time signals are added at run time. SIGKILL cannot be caught;
 * SIGPIPE is here for programs that leave it at its default (gvmm does
 * not: it ignores it, and an ignored signal keeps its disposition). */
static const int other_fatal_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTRAP, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM,
	SIGTERM, SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
	SIGSYS,
};

/* Whether changing the terminal's settings now would not stop us with
 * SIGTTOU: we are its foreground process group, or it is not our
 * controlling terminal (no job control applies to it then). */
static bool terminal_in_foreground(void)
{
	pid_t fg = tcgetpgrp(terminal_fd);

	return fg < 0 || fg == getpgrp();
}

/* Async-signal-safe. */
static void terminal_put_back(void)
{
	if (terminal_fd >= 0 && terminal_in_foreground())
		tcsetattr(terminal_fd, TCSANOW, &saved_termios);
}

void terminal_restore(void)
{
	if (!raw_wanted)
		return;
	raw_wanted = 0;
	terminal_put_back();
}

/* Restores the terminal, then lets the signal do what it does by default:
 * it is blocked while we run, so the re-raised one lands when we return
 * (a fault that returns faults again, now without us). */
static void on_fatal_signal(int sig)
{
	if (raw_wanted)
		terminal_put_back();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install(int sig, void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* Gives the terminal back and stops for real; SIGCONT's handler makes it
 * raw again before we get here again. */
static void on_stop_signal(int sig)
{
	int saved_errno = errno;
	sigset_t mask;

	if (raw_wanted)
		terminal_put_back();
	signal(sig, SIG_DFL);
	raise(sig);
	sigemptyset(&mask);
	sigaddset(&mask, sig);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);   /* stops here */
	install(sig, on_stop_signal);
	errno = saved_errno;
}

static void on_continue(int sig)
{
	int saved_errno = errno;

	(void)sig;
	if (raw_wanted && terminal_in_foreground())
		tcsetattr(terminal_fd, TCSANOW, &raw_termios);
	errno = saved_errno;
}

/* Installs handler on sig unless sig is already ignored or handled. */
static void install_if_default(int sig, void (*handler)(int))
{
	struct sigaction old;

	if (sigaction(sig, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
	    old.sa_handler == SIG_DFL)
		install(sig, handler);
}

int terminal_make_raw(int fd)
{
	static bool exit_hook;

	if (tcgetattr(fd, &saved_termios) < 0)
		return -errno;
	raw_termios = saved_termios;
	/* Output post-processing goes too: the guest sends its own CRs. */
	cfmakeraw(&raw_termios);
	terminal_fd = fd;
	if (tcsetattr(fd, TCSANOW, &raw_termios) < 0)
		return -errno;
	raw_wanted = 1;
	if (!exit_hook && atexit(terminal_restore) == 0)
		exit_hook = true;
	for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
		install(fault_signals[i], on_fatal_signal);
	for (size_t i = 0; i < sizeof(other_fatal_signals) / sizeof(other_fatal_signals[0]); i++)
		install_if_default(other_fatal_signals[i], on_fatal_signal);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		install_if_default(sig, on_fatal_signal);
	install_if_default(SIGTSTP, on_stop_signal);
	install_if_default(SIGCONT, on_continue);
	return 0;
}
