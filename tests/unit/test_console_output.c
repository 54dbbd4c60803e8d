/* The console's output on a pipe: writes never wait, the buffer stays
 * within its bound, what waits goes out in order once the reader reads,
 * the UART's bytes are dropped (and said so once) only after a short
 * wait, a reader that left loses the output without killing anyone, and
 * stdout's shared open file description never turns non-blocking. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "../../vmm/console_output.h"
#include "../../vmm/event_loop.h"
#include "../../vmm/log.h"

#define WAIT_MS 5000

struct pipe_rig {
	int rd, wr;
	struct console_output out;
	struct event_loop loop;
	pthread_t loop_thread;
	bool loop_running;
	atomic_int space_calls;
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 13 + i / 509);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_space(void *ctx)
{
	struct pipe_rig *p = ctx;

	atomic_fetch_add(&p->space_calls, 1);
}

static void *loop_main(void *arg)
{
	event_loop_run(arg);
	return NULL;
}

/* A pipe of one page nobody reads yet, and the output on its write end. */
static bool pipe_rig_init(struct pipe_rig *p)
{
	int fds[2];

	memset(p, 0, sizeof(*p));
	if (pipe2(fds, O_CLOEXEC) < 0)
		return false;
	p->rd = fds[0];
	p->wr = fds[1];
	fcntl(p->wr, F_SETPIPE_SZ, 4096);
	CHECK_EQ(console_output_open_fd(&p->out, p->wr, 0), 0);
	CHECK_EQ(event_loop_init(&p->loop), 0);
	console_output_set_space(&p->out, on_space, p);
	CHECK_EQ(console_output_start(&p->out, &p->loop), 0);
	return true;
}

static void pipe_rig_run_loop(struct pipe_rig *p)
{
	CHECK_EQ(pthread_create(&p->loop_thread, NULL, loop_main, &p->loop), 0);
	p->loop_running = true;
}

static void pipe_rig_destroy(struct pipe_rig *p)
{
	if (p->loop_running) {
		event_loop_stop(&p->loop);
		pthread_join(p->loop_thread, NULL);
	}
	console_output_close(&p->out);   /* closes wr */
	event_loop_destroy(&p->loop);
	if (p->rd >= 0)
		close(p->rd);
}

static size_t read_all(int fd, uint8_t *buf, size_t want)
{
	size_t got = 0;

	while (got < want) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, WAIT_MS) <= 0)
			break;
		n = read(fd, buf + got, want - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* write() takes what fits and no more, at once; once the reader reads,
 * the space callback comes and the rest can follow, all in order. */
static void write_takes_what_fits(void)
{
	const size_t total = 4 * CONSOLE_OUTPUT_BUFFER;
	uint8_t *want = malloc(total), *got = calloc(1, total);
	struct pipe_rig p;
	size_t sent = 0, n;
	uint64_t start;

	if (!want || !got || !pipe_rig_init(&p))
		abort();
	for (size_t i = 0; i < total; i++)
		want[i] = pattern(i);
	start = now_ms();
	n = console_output_write(&p.out, want, total);
	CHECK(now_ms() - start < 3000);
	CHECK(n < total);
	CHECK(n > CONSOLE_OUTPUT_BUFFER / 2);
	CHECK_EQ(console_output_buffered(&p.out), CONSOLE_OUTPUT_BUFFER);
	sent = n;
	/* Full: nothing more is taken. */
	CHECK_EQ(console_output_write(&p.out, want + sent, total - sent), 0);

	pipe_rig_run_loop(&p);
	for (size_t got_n = 0; got_n < total; ) {
		size_t r = read_all(p.rd, got + got_n, total - got_n < 4096 ? total - got_n : 4096);

		if (!r)
			break;
		got_n += r;
		/* The device side: offer the rest whenever it may. */
		if (sent < total)
			sent += console_output_write(&p.out, want + sent, total - sent);
	}
	CHECK_EQ(sent, total);
	CHECK(memcmp(got, want, total) == 0);
	CHECK(atomic_load(&p.space_calls) >= 1);
	pipe_rig_destroy(&p);
	free(want);
	free(got);
}

struct log_count {
	atomic_int stalled;
};

static void count_stall_lines(void *ctx, enum log_level level, const char *line)
{
	struct log_count *c = ctx;

	if (level == LOG_WARN && strstr(line, "console output was stalled"))
		atomic_fetch_add(&c->stalled, 1);
}

/* The UART's bytes: a stalled reader costs one short wait, then bytes are
 * dropped, never more than the bound kept; once output moves again the
 * drop is logged once, and what was kept arrives in order. */
static void put_byte_waits_briefly_then_drops(void)
{
	const size_t total = 4 * CONSOLE_OUTPUT_BUFFER;
	uint8_t *got = calloc(1, total);
	struct log_count logged = { 0 };
	struct pipe_rig p;
	uint64_t start, took;
	size_t n;

	if (!got || !pipe_rig_init(&p))
		abort();
	log_set_sink(count_stall_lines, &logged);
	start = now_ms();
	for (size_t i = 0; i < total; i++)
		console_output_put_byte(&p.out, pattern(i));
	took = now_ms() - start;
	/* One stall's wait, not one per byte. */
	CHECK(took >= CONSOLE_OUTPUT_STALL_MS - 5);
	CHECK(took < 3000);
	CHECK_EQ(console_output_buffered(&p.out), CONSOLE_OUTPUT_BUFFER);

	pipe_rig_run_loop(&p);
	n = read_all(p.rd, got, total);
	CHECK(n >= CONSOLE_OUTPUT_BUFFER);
	CHECK(n < total);
	for (size_t i = 0; i < n; i++)
		if (got[i] != pattern(i)) {
			CHECK_EQ(got[i], pattern(i));
			break;
		}
	CHECK_EQ(atomic_load(&logged.stalled), 1);
	/* Moving again: nothing is dropped any more. */
	console_output_put_byte(&p.out, 'z');
	CHECK_EQ(read_all(p.rd, got, 1), 1);
	CHECK_EQ(got[0], 'z');
	pipe_rig_destroy(&p);
	CHECK_EQ(atomic_load(&logged.stalled), 1);
	log_set_sink(NULL, NULL);
	free(got);
}

/* The reader left: output is dropped, as before, and nobody dies of
 * SIGPIPE (gvmm ignores it) or spins. */
static void reader_gone_drops_output(void)
{
	struct pipe_rig p;
	uint8_t block[1024] = { 0 };

	signal(SIGPIPE, SIG_IGN);
	if (!pipe_rig_init(&p))
		abort();
	pipe_rig_run_loop(&p);
	for (int i = 0; i < 8; i++)
		console_output_write(&p.out, block, sizeof(block));
	close(p.rd);
	p.rd = -1;
	CHECK_EQ(console_output_write(&p.out, block, sizeof(block)), sizeof(block));
	console_output_put_byte(&p.out, 'x');
	for (int i = 0; i < 1000 && console_output_buffered(&p.out); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	CHECK_EQ(console_output_buffered(&p.out), 0);
	pipe_rig_destroy(&p);
	signal(SIGPIPE, SIG_DFL);
}

/* close() hands a slow reader the tail of the output, and gives up on a
 * stalled one within its bound. */
static void close_flushes_within_bound(void)
{
	struct pipe_rig p;
	uint8_t block[8192], got[8192];
	uint64_t start;

	memset(block, 'q', sizeof(block));
	if (!pipe_rig_init(&p))
		abort();
	CHECK_EQ(console_output_write(&p.out, block, sizeof(block)), sizeof(block));
	CHECK(console_output_buffered(&p.out) > 0);
	start = now_ms();
	console_output_close(&p.out);
	CHECK(now_ms() - start >= CONSOLE_OUTPUT_CLOSE_MS - 5);
	CHECK(now_ms() - start < CONSOLE_OUTPUT_CLOSE_MS + 1000);
	CHECK(read_all(p.rd, got, sizeof(got)) > 0);
	event_loop_destroy(&p.loop);
	close(p.rd);
}

/* stdout on a pipe: written through a description of its own, so the
 * shared one (the shell's, stderr's) never turns non-blocking. */
static void stdout_keeps_its_flags(void)
{
	struct console_output out;
	int fds[2], saved, flags;
	char c = 0;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	CHECK(saved >= 0);
	CHECK_EQ(pipe2(fds, O_CLOEXEC), 0);
	CHECK(dup2(fds[1], STDOUT_FILENO) >= 0);
	flags = fcntl(STDOUT_FILENO, F_GETFL);
	CHECK_EQ(console_output_open_stdout(&out), 0);
	CHECK(out.fd >= 0 && out.fd != STDOUT_FILENO);
	CHECK(fcntl(out.fd, F_GETFL) & O_NONBLOCK);
	CHECK_EQ(fcntl(STDOUT_FILENO, F_GETFL), flags);
	CHECK(!(flags & O_NONBLOCK));
	CHECK_EQ(console_output_write(&out, (const uint8_t *)"s", 1), 1);
	console_output_close(&out);
	CHECK_EQ(fcntl(STDOUT_FILENO, F_GETFL), flags);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fds[1]);
	CHECK_EQ(read(fds[0], &c, 1), 1);
	CHECK_EQ(c, 's');
	close(fds[0]);
}

/* A regular file is written at once and never buffered. */
static void regular_file_is_direct(void)
{
	char path[] = "/tmp/gvmm-console-XXXXXX";
	struct console_output out;
	struct event_loop loop;
	int fd = mkstemp(path);
	char back[6] = { 0 };

	CHECK(fd >= 0);
	CHECK_EQ(console_output_open_fd(&out, fd, 0), 0);
	CHECK_EQ(event_loop_init(&loop), 0);
	CHECK_EQ(console_output_start(&out, &loop), 0);
	CHECK_EQ(console_output_write(&out, (const uint8_t *)"hello", 5), 5);
	console_output_put_byte(&out, '!');
	CHECK_EQ(console_output_buffered(&out), 0);
	console_output_close(&out);
	event_loop_destroy(&loop);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK_EQ(read(fd, back, sizeof(back)), 6);
	CHECK(memcmp(back, "hello!", 6) == 0);
	close(fd);
	unlink(path);
}

TEST_MAIN("console_output",
	TEST_CASE(write_takes_what_fits),
	TEST_CASE(put_byte_waits_briefly_then_drops),
	TEST_CASE(reader_gone_drops_output),
	TEST_CASE(close_flushes_within_bound),
	TEST_CASE(stdout_keeps_its_flags),
	TEST_CASE(regular_file_is_direct),
)
