/* The console's terminal: with --serial stdio on a terminal, the terminal
 * is raw while gvmm runs and back as it was whenever gvmm stops owning it.
 * Each test forks a child whose stdin is a pty slave, lets it start the
 * console (raw mode), signals it, and reads the slave's settings from
 * here: for every signal whose default action kills, the child dies of
 * that signal (exit status 128+N in a shell) with the settings restored;
 * SIGTSTP restores them while the child is stopped and SIGCONT makes the
 * terminal raw again. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../../vmm/event_loop.h"
#include "../../vmm/serial_console.h"

#define WAIT_MS 5000

struct pty {
	int master, slave;
	struct termios cooked;   /* the slave's settings before the child */
};

static bool pty_open(struct pty *p)
{
	const char *name;

	p->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->master < 0 || grantpt(p->master) < 0 || unlockpt(p->master) < 0 ||
	    !(name = ptsname(p->master))) {
		if (p->master >= 0)
			close(p->master);
		return false;
	}
	p->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->slave < 0 || tcgetattr(p->slave, &p->cooked) < 0) {
		close(p->master);
		if (p->slave >= 0)
			close(p->slave);
		return false;
	}
	return true;
}

static void pty_close(struct pty *p)
{
	close(p->slave);
	close(p->master);
}

static bool is_raw(const struct pty *p)
{
	struct termios t;

	return tcgetattr(p->slave, &t) == 0 && !(t.c_lflag & (ICANON | ECHO | ISIG));
}

static bool is_cooked(const struct pty *p)
{
	struct termios t;

	return tcgetattr(p->slave, &t) == 0 && t.c_lflag == p->cooked.c_lflag &&
	       t.c_iflag == p->cooked.c_iflag && t.c_oflag == p->cooked.c_oflag &&
	       t.c_cflag == p->cooked.c_cflag &&
	       memcmp(t.c_cc, p->cooked.c_cc, sizeof(t.c_cc)) == 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* waitpid with a deadline: returns the pid, or 0 when time ran out. */
static pid_t wait_child(pid_t pid, int *status, int options)
{
	for (int waited = 0; waited < WAIT_MS; waited += 5) {
		pid_t r = waitpid(pid, status, options | WNOHANG);

		if (r != 0)
			return r;
		sleep_ms(5);
	}
	return 0;
}

/* The child: stdin is the pty slave, the console started on it (so the
 * terminal is raw), then it waits for signals. ignore: a signal it
 * ignores first, as gvmm ignores SIGPIPE (0: none). */
static void child_run(const struct pty *p, int ready_fd, int ignore)
{
	struct serial_config cfg = { .mode = SERIAL_STDIO };
	struct serial_console con;
	struct event_loop loop;
	char err[128];

	sigset_t none;

	/* A killed child must not leave a core file behind. */
	prctl(PR_SET_DUMPABLE, 0);
	/* Signals as a shell starts gvmm, whatever ran the tests (nohup
	 * ignores SIGHUP, a CI runner may block some). */
	for (int sig = 1; sig <= SIGRTMAX; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its own process group, whose parent (the test) is in the same
	 * session: a group the kernel lets SIGTSTP stop. */
	setpgid(0, 0);
	if (ignore)
		signal(ignore, SIG_IGN);
	if (dup2(p->slave, STDIN_FILENO) < 0 ||
	    serial_console_open(&con, &cfg, err, sizeof(err)) < 0 ||
	    event_loop_init(&loop) < 0 ||
	    serial_console_start(&con, &loop, NULL, NULL) < 0)
		_exit(99);
	if (write(ready_fd, "r", 1) != 1)
		_exit(98);
	for (;;)
		pause();
}

/* Starts the child and waits until its terminal is raw. */
static pid_t child_start(const struct pty *p, int ignore)
{
	int ready[2];
	char c;
	pid_t pid;

	if (pipe(ready) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		child_run(p, ready[1], ignore);
	}
	close(ready[1]);
	if (pid > 0 && read(ready[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ready[0]);
	return pid;
}

static void child_reap(pid_t pid)
{
	int status;

	if (wait_child(pid, &status, 0) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
}

/* Every signal whose default action ends the process, and a program can
 * catch, leaves the terminal as it was, and the process still dies of it. */
static void fatal_signals_restore_the_terminal(void)
{
	const int sigs[] = {
		SIGQUIT, SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGUSR1, SIGUSR2,
		SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGTRAP, SIGSYS,
		SIGIO, SIGPWR, SIGSTKFLT, SIGPIPE, SIGSEGV, SIGBUS, SIGFPE,
		SIGILL, SIGRTMIN, SIGRTMAX,
	};
	struct pty p;

	if (!pty_open(&p))
		SKIP_TEST("no pty");
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		int status = 0;
		pid_t pid = child_start(&p, 0);

		CHECK(pid > 0);
		if (pid <= 0)
			break;
		CHECK(is_raw(&p));
		kill(pid, sigs[i]);
		if (wait_child(pid, &status, 0) != pid) {
			fprintf(stderr, "  signal %d: the child did not die\n", sigs[i]);
			CHECK(!"the child died");
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		} else {
			CHECK(WIFSIGNALED(status));
			CHECK_EQ(WTERMSIG(status), sigs[i]);
		}
		if (!is_cooked(&p))
			fprintf(stderr, "  signal %d left the terminal raw\n", sigs[i]);
		CHECK(is_cooked(&p));
		tcsetattr(p.slave, TCSANOW, &p.cooked);
	}
	pty_close(&p);
}

/* A signal the process ignores (gvmm ignores SIGPIPE) stays ignored. */
static void ignored_signals_stay_ignored(void)
{
	struct pty p;
	pid_t pid;
	int status;

	if (!pty_open(&p))
		SKIP_TEST("no pty");
	pid = child_start(&p, SIGUSR2);
	CHECK(pid > 0);
	if (pid > 0) {
		kill(pid, SIGUSR2);
		sleep_ms(50);
		CHECK_EQ(waitpid(pid, &status, WNOHANG), 0);
		CHECK(is_raw(&p));
		kill(pid, SIGTERM);
		child_reap(pid);
		CHECK(is_cooked(&p));
	}
	pty_close(&p);
}

/* SIGTSTP: the terminal is given back while gvmm is stopped, and raw again
 * once it continues. */
static void stop_and_continue(void)
{
	struct pty p;
	pid_t pid;
	int status = 0;
	bool raw = false;

	if (!pty_open(&p))
		SKIP_TEST("no pty");
	pid = child_start(&p, 0);
	CHECK(pid > 0);
	if (pid <= 0) {
		pty_close(&p);
		return;
	}
	kill(pid, SIGTSTP);
	CHECK_EQ(wait_child(pid, &status, WUNTRACED), pid);
	CHECK(WIFSTOPPED(status));
	CHECK(is_cooked(&p));

	kill(pid, SIGCONT);
	for (int waited = 0; waited < WAIT_MS && !(raw = is_raw(&p)); waited += 5)
		sleep_ms(5);
	CHECK(raw);
	/* And again: the handler is back after the first stop. */
	kill(pid, SIGTSTP);
	CHECK_EQ(wait_child(pid, &status, WUNTRACED), pid);
	CHECK(WIFSTOPPED(status));
	CHECK(is_cooked(&p));
	kill(pid, SIGCONT);
	for (int waited = 0; waited < WAIT_MS && !(raw = is_raw(&p)); waited += 5)
		sleep_ms(5);
	CHECK(raw);

	kill(pid, SIGTERM);
	if (wait_child(pid, &status, 0) == pid) {
		CHECK(WIFSIGNALED(status));
		CHECK_EQ(WTERMSIG(status), SIGTERM);
	} else {
		CHECK(!"the child died of SIGTERM");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	CHECK(is_cooked(&p));
	pty_close(&p);
}

TEST_MAIN("terminal",
	TEST_CASE(fatal_signals_restore_the_terminal),
	TEST_CASE(ignored_signals_stay_ignored),
	TEST_CASE(stop_and_continue),
)
