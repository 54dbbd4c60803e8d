/* The control socket end to end: a real event loop on its own thread, a
 * real unix socket in a temporary directory, fake VM operations, and
 * clients that behave and clients that do not. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../vmm/api_socket.h"
#include "../../vmm/commands.h"
#include "../../vmm/event_loop.h"

/* Declared in vmm/commands.h once `gvmm ctl` is dispatched from main. */
int cmd_ctl(int argc, char **argv);

struct fake_vm {
	atomic_int pauses, resumes, powerdowns, quits, statuses;
	atomic_bool paused;
	atomic_int pause_error;  /* what pause returns */
	atomic_bool display;     /* status tells of a display */
	atomic_uint nr_vcpus;    /* what vcpus reports; 0: 2 */
	atomic_int vcpus_error;  /* what vcpus returns */
};

struct server {
	char dir[64];
	char path[128];
	struct event_loop loop;
	struct api_socket sock;
	struct fake_vm vm;
	pthread_t thread;
	bool running;
};

static int fake_pause(void *ctx)
{
	struct fake_vm *vm = ctx;

	atomic_fetch_add(&vm->pauses, 1);
	if (atomic_load(&vm->pause_error))
		return atomic_load(&vm->pause_error);
	atomic_store(&vm->paused, true);
	return 0;
}

static int fake_resume(void *ctx)
{
	struct fake_vm *vm = ctx;

	atomic_fetch_add(&vm->resumes, 1);
	atomic_store(&vm->paused, false);
	return 0;
}

static int fake_powerdown(void *ctx)
{
	struct fake_vm *vm = ctx;

	atomic_fetch_add(&vm->powerdowns, 1);
	return 0;
}

static int fake_quit(void *ctx)
{
	struct fake_vm *vm = ctx;

	atomic_fetch_add(&vm->quits, 1);
	return 0;
}

static void fake_status(void *ctx, struct api_status *out)
{
	struct fake_vm *vm = ctx;

	atomic_fetch_add(&vm->statuses, 1);
	out->state = atomic_load(&vm->paused) ? API_VM_PAUSED : API_VM_RUNNING;
	out->vcpus = 2;
	out->memory_bytes = 512ull << 20;
	out->nr_devices = 2;
	snprintf(out->devices[0].name, sizeof(out->devices[0].name), "virtio-blk");
	snprintf(out->devices[0].pci, sizeof(out->devices[0].pci), "00:02.0");
	snprintf(out->devices[1].name, sizeof(out->devices[1].name), "virtio-\"net\"");
	snprintf(out->devices[1].pci, sizeof(out->devices[1].pci), "00:03.0");
	if (!atomic_load(&vm->display))
		return;
	out->display = true;
	out->viewers = true;
	out->nr_outputs = 2;
	out->outputs[0] = (struct api_output){ .width = 1024, .height = 768, .updates = 7,
					       .sent = 5, .dmabuf_draws = 3, .dmabuf_acks = 2 };
	/* outputs[1]: off, nothing shown yet */
}

/* vCPU i halts at 0xffffffff81000000 + i with interrupts on; on odd vCPUs
 * that address is not mapped and vectors 0xec and 0x20 are requested. The
 * last vCPU has all 256 requested, more than a response lists. */
static int fake_vcpus(void *ctx, unsigned from, struct api_vcpus *out)
{
	struct fake_vm *vm = ctx;
	unsigned total = atomic_load(&vm->nr_vcpus) ? atomic_load(&vm->nr_vcpus) : 2;

	if (atomic_load(&vm->vcpus_error))
		return atomic_load(&vm->vcpus_error);
	out->total = total;
	for (unsigned i = from; i < total && out->nr < API_VCPUS_PER_RESPONSE; i++) {
		struct vcpu_snapshot *v = &out->vcpus[out->nr++];

		v->index = i;
		v->mp_state = 3;  /* KVM_MP_STATE_HALTED */
		v->rip = 0xffffffff81000000ull + i;
		v->rip_mapped = i % 2 == 0;
		v->rip_gpa = v->rip_mapped ? 0x1000000 + i : 0;
		v->rflags = 0x246;
		v->cr3 = 0x1000;
		if (i % 2) {
			v->nr_irr = 2;
			v->irr[0] = 0xec;
			v->irr[1] = 0x20;
		}
		if (i == total - 1 && total > 2) {
			v->nr_irr = 256;
			for (unsigned k = 0; k < VCPU_SNAPSHOT_VECTORS; k++)
				v->irr[k] = (uint8_t)(255 - k);
		}
	}
	return 0;
}

static const char status_running[] =
	"{\"ok\":true,\"result\":{\"state\":\"running\",\"vcpus\":2,\"memory_bytes\":536870912,"
	"\"devices\":[{\"name\":\"virtio-blk\",\"pci\":\"00:02.0\"},"
	"{\"name\":\"virtio-\\\"net\\\"\",\"pci\":\"00:03.0\"}]}}";

static void *loop_thread(void *opaque)
{
	struct server *srv = opaque;

	event_loop_run(&srv->loop);
	return NULL;
}

static bool make_temp_dir(char *dir, size_t cap, char *path, size_t path_cap)
{
	snprintf(dir, cap, "/tmp/gvmm-api-test-XXXXXX");
	if (!mkdtemp(dir))
		return false;
	snprintf(path, path_cap, "%s/api.sock", dir);
	return true;
}

/* Opens the socket and serves it on a loop thread. */
static bool server_start(struct server *srv)
{
	static const struct api_ops ops_template = {
		.pause = fake_pause, .resume = fake_resume, .powerdown = fake_powerdown,
		.quit = fake_quit, .status = fake_status, .vcpus = fake_vcpus,
	};
	struct api_ops ops = ops_template;
	char err[256];

	memset(srv, 0, sizeof(*srv));
	ops.ctx = &srv->vm;
	if (!make_temp_dir(srv->dir, sizeof(srv->dir), srv->path, sizeof(srv->path)))
		return false;
	if (api_socket_open(&srv->sock, srv->path, err, sizeof(err)) < 0) {
		fprintf(stderr, "  api_socket_open: %s\n", err);
		return false;
	}
	if (event_loop_init(&srv->loop) < 0 ||
	    api_socket_start(&srv->sock, &srv->loop, &ops) < 0 ||
	    pthread_create(&srv->thread, NULL, loop_thread, srv) != 0)
		return false;
	srv->running = true;
	return true;
}

/* Failing to serve on a fresh temporary path is a failure of the code
 * under test, not of the host. */
#define START_SERVER(srv) do { \
	bool started_ = server_start(srv); \
	CHECK(started_); \
	if (!started_) \
		return; \
} while (0)

static void server_stop(struct server *srv)
{
	if (srv->running) {
		event_loop_stop(&srv->loop);
		pthread_join(srv->thread, NULL);
		srv->running = false;
	}
	api_socket_close(&srv->sock);
	event_loop_destroy(&srv->loop);
	unlink(srv->path);
	rmdir(srv->dir);
}

static int client_connect(const char *path)
{
	struct timeval timeout = { .tv_sec = 5 };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool client_send(int fd, const char *text, size_t len)
{
	while (len) {
		ssize_t n = send(fd, text, len, MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		text += n;
		len -= n;
	}
	return true;
}

/* One response line, without its newline; "" on EOF, error or timeout. */
static const char *client_read_line(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, 1);

		if (n <= 0)
			break;
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return buf;
		}
		len++;
	}
	buf[0] = '\0';
	return buf;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *request(int fd, const char *line, char *buf, size_t cap)
{
	if (!client_send(fd, line, strlen(line))) {
		buf[0] = '\0';
		return buf;
	}
	return client_read_line(fd, buf, cap);
}

/* After the server closed its end: read() ends in EOF or a reset. */
static bool client_sees_close(int fd)
{
	char byte;
	ssize_t n = read(fd, &byte, 1);

	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_status(void)
{
	struct server srv;
	char buf[1024];
	int fd;

	START_SERVER(&srv);
	fd = client_connect(srv.path);
	CHECK(fd >= 0);
	CHECK(strcmp(request(fd, "{\"command\":\"status\"}\n", buf, sizeof(buf)),
		     status_running) == 0);
	CHECK_EQ(atomic_load(&srv.vm.statuses), 1);
	close(fd);
	server_stop(&srv);
}

/* With a display, status tells whether a client watches and what went
 * through each output. */
static void test_status_with_display(void)
{
	static const char expected[] =
		"{\"ok\":true,\"result\":{\"state\":\"running\",\"vcpus\":2,\"memory_bytes\":536870912,"
		"\"devices\":[{\"name\":\"virtio-blk\",\"pci\":\"00:02.0\"},"
		"{\"name\":\"virtio-\\\"net\\\"\",\"pci\":\"00:03.0\"}],"
		"\"display\":{\"viewers\":true,\"outputs\":["
		"{\"width\":1024,\"height\":768,\"updates\":7,\"sent\":5,"
		"\"dmabuf_draws\":3,\"dmabuf_acks\":2},"
		"{\"width\":0,\"height\":0,\"updates\":0,\"sent\":0,"
		"\"dmabuf_draws\":0,\"dmabuf_acks\":0}]}}}";
	struct server srv;
	char buf[1024];
	int fd;

	START_SERVER(&srv);
	atomic_store(&srv.vm.display, true);
	fd = client_connect(srv.path);
	CHECK(fd >= 0);
	CHECK(strcmp(request(fd, "{\"command\":\"status\"}\n", buf, sizeof(buf)), expected) == 0);
	close(fd);
	server_stop(&srv);
}

static void test_actions_reach_ops(void)
{
	static const char done[] = "{\"ok\":true,\"result\":{}}";
	struct server srv;
	char buf[1024];
	int fd;

	START_SERVER(&srv);
	fd = client_connect(srv.path);
	CHECK(strcmp(request(fd, "{\"command\":\"pause\"}\n", buf, sizeof(buf)), done) == 0);
	CHECK_EQ(atomic_load(&srv.vm.pauses), 1);
	CHECK(strstr(request(fd, "{\"command\":\"status\"}\n", buf, sizeof(buf)),
		     "\"state\":\"paused\"") != NULL);
	CHECK(strcmp(request(fd, "{\"command\":\"resume\"}\n", buf, sizeof(buf)), done) == 0);
	CHECK_EQ(atomic_load(&srv.vm.resumes), 1);
	CHECK(strstr(request(fd, "{\"command\":\"status\"}\n", buf, sizeof(buf)),
		     "\"state\":\"running\"") != NULL);
	CHECK(strcmp(request(fd, "{\"command\":\"powerdown\"}\n", buf, sizeof(buf)), done) == 0);
	CHECK_EQ(atomic_load(&srv.vm.powerdowns), 1);

	atomic_store(&srv.vm.pause_error, -EBUSY);
	CHECK(strcmp(request(fd, "{\"command\":\"pause\"}\n", buf, sizeof(buf)),
		     "{\"ok\":false,\"error\":\"pause failed: Device or resource busy\"}") == 0);

	CHECK(strcmp(request(fd, "{\"command\":\"quit\"}\n", buf, sizeof(buf)), done) == 0);
	CHECK_EQ(atomic_load(&srv.vm.quits), 1);
	close(fd);

	/* Once quit is answered, nothing else reaches the VM. */
	fd = client_connect(srv.path);
	CHECK(strcmp(request(fd, "{\"command\":\"powerdown\"}\n", buf, sizeof(buf)),
		     "{\"ok\":false,\"error\":\"gvmm is quitting\"}") == 0);
	CHECK_EQ(atomic_load(&srv.vm.powerdowns), 1);
	close(fd);
	server_stop(&srv);
}

static void test_vcpus_in_pages(void)
{
	static const char two[] =
		"{\"ok\":true,\"result\":{\"total\":2,\"vcpus\":["
		"{\"index\":0,\"state\":\"halted\",\"rip\":\"0xffffffff81000000\","
		"\"rip_gpa\":\"0x1000000\",\"rsp\":\"0x0\","
		"\"rflags\":\"0x246\",\"interrupts\":\"on\",\"cpl\":0,\"cr3\":\"0x1000\",\"tpr\":0,"
		"\"irr\":[],\"isr\":[],\"nmi_pending\":false},"
		"{\"index\":1,\"state\":\"halted\",\"rip\":\"0xffffffff81000001\","
		"\"rip_gpa\":\"not mapped\",\"rsp\":\"0x0\","
		"\"rflags\":\"0x246\",\"interrupts\":\"on\",\"cpl\":0,\"cr3\":\"0x1000\",\"tpr\":0,"
		"\"irr\":[236,32],\"isr\":[],\"nmi_pending\":false}]}}";
	struct server srv;
	static char buf[16384];
	const char *line;
	int fd;

	START_SERVER(&srv);
	fd = client_connect(srv.path);
	CHECK(strcmp(request(fd, "{\"command\":\"vcpus\"}\n", buf, sizeof(buf)), two) == 0);

	/* 20 vCPUs: 16 in the first page, which says where the next starts. */
	atomic_store(&srv.vm.nr_vcpus, 20);
	line = request(fd, "{\"command\":\"vcpus\"}\n", buf, sizeof(buf));
	CHECK(strstr(line, "{\"index\":15,") != NULL);
	CHECK(strstr(line, "{\"index\":16,") == NULL);
	CHECK(strstr(line, "\"next\":16}}") != NULL);
	line = request(fd, "{\"command\":\"vcpus\",\"from\":16}\n", buf, sizeof(buf));
	CHECK(starts_with(line, "{\"ok\":true,\"result\":{\"total\":20,\"vcpus\":[{\"index\":16,"));
	CHECK(strstr(line, "\"next\"") == NULL);
	/* The last vCPU has more vectors requested than are listed. */
	CHECK(strstr(line, "\"irr\":[255,254,253,252,251,250,249,248],\"irr_total\":256,") != NULL);
	line = request(fd, "{\"command\":\"vcpus\",\"from\":20}\n", buf, sizeof(buf));
	CHECK(strcmp(line, "{\"ok\":true,\"result\":{\"total\":20,\"vcpus\":[]}}") == 0);
	CHECK(strcmp(request(fd, "{\"command\":\"vcpus\",\"from\":-1}\n", buf, sizeof(buf)),
		     "{\"ok\":false,\"error\":\"\\\"from\\\" must be a whole number below "
		     "1000000000\"}") == 0);

	atomic_store(&srv.vm.vcpus_error, -EAGAIN);
	CHECK(strcmp(request(fd, "{\"command\":\"vcpus\"}\n", buf, sizeof(buf)),
		     "{\"ok\":false,\"error\":\"vcpus failed: Resource temporarily unavailable\"}") == 0);
	close(fd);
	server_stop(&srv);
}

static void test_bad_requests_keep_connection(void)
{
	struct server srv;
	char buf[1024];
	int fd;

	START_SERVER(&srv);
	fd = client_connect(srv.path);
	CHECK(strcmp(request(fd, "{\"command\":\n", buf, sizeof(buf)),
		     "{\"ok\":false,\"error\":\"invalid JSON at byte 11: expected a value\"}") == 0);
	CHECK(strcmp(request(fd, "[1,2]\n", buf, sizeof(buf)),
		     "{\"ok\":false,\"error\":\"invalid JSON at byte 0: expected a JSON object\"}") == 0);
	CHECK(strcmp(request(fd, "{\"command\":\"reboot\\n\\\"x\\\"\"}\n", buf, sizeof(buf)),
		     "{\"ok\":false,\"error\":\"unknown command 'reboot\\n\\\"x\\\"' (commands: "
		     "status, pause, resume, powerdown, quit, vcpus)\"}") == 0);
	CHECK(strcmp(request(fd, "{\"command\":7}\n", buf, sizeof(buf)),
		     "{\"ok\":false,\"error\":\"\\\"command\\\" must be a string\"}") == 0);
	CHECK(client_send(fd, "\xff\x00\x01\n", 4));
	CHECK(strncmp(client_read_line(fd, buf, sizeof(buf)), "{\"ok\":false,", 12) == 0);
	/* Blank lines are skipped, and the connection still works. */
	CHECK(strcmp(request(fd, "\n \r\n{\"command\":\"status\"}\r\n", buf, sizeof(buf)),
		     status_running) == 0);
	CHECK_EQ(atomic_load(&srv.vm.statuses), 1);
	close(fd);
	server_stop(&srv);
}

static void test_pipelined_and_split_requests(void)
{
	struct server srv;
	char buf[1024];
	int fd;

	START_SERVER(&srv);
	fd = client_connect(srv.path);
	CHECK(client_send(fd, "{\"command\":\"sta", 15));
	usleep(20000);
	CHECK(client_send(fd, "tus\"}\n{\"command\":\"pause\"}\n{\"command\":\"status\"}\n", 47));
	CHECK(strcmp(client_read_line(fd, buf, sizeof(buf)), status_running) == 0);
	CHECK(strcmp(client_read_line(fd, buf, sizeof(buf)), "{\"ok\":true,\"result\":{}}") == 0);
	CHECK(strstr(client_read_line(fd, buf, sizeof(buf)), "\"paused\"") != NULL);
	close(fd);
	server_stop(&srv);
}

static void test_last_request_at_eof(void)
{
	struct server srv;
	char buf[1024];
	int fd;

	START_SERVER(&srv);
	fd = client_connect(srv.path);
	CHECK(client_send(fd, "{\"command\":\"status\"}", 20));
	shutdown(fd, SHUT_WR);
	CHECK(strcmp(client_read_line(fd, buf, sizeof(buf)), status_running) == 0);
	CHECK(client_sees_close(fd));
	close(fd);
	server_stop(&srv);
}

static void test_oversized_request(void)
{
	size_t big = JSON_REQUEST_MAX_LEN + 1000;
	struct server srv;
	char buf[1024];
	const char *req = "{\"command\":\"status\"}";
	char *line;
	int fd;

	START_SERVER(&srv);
	line = malloc(big + 1);
	/* Exactly the limit, then its newline: served. */
	memset(line, ' ', JSON_REQUEST_MAX_LEN);
	memcpy(line, req, strlen(req));
	line[JSON_REQUEST_MAX_LEN] = '\n';
	fd = client_connect(srv.path);
	CHECK(client_send(fd, line, JSON_REQUEST_MAX_LEN + 1));
	CHECK(strcmp(client_read_line(fd, buf, sizeof(buf)), status_running) == 0);

	/* Past it with no newline: an error, then the connection closes. */
	memset(line, 'x', big);
	CHECK(client_send(fd, line, big));
	CHECK(strcmp(client_read_line(fd, buf, sizeof(buf)),
		     "{\"ok\":false,\"error\":\"request longer than 4096 bytes\"}") == 0);
	CHECK(client_sees_close(fd));
	close(fd);

	/* The server goes on serving others. */
	fd = client_connect(srv.path);
	CHECK(strcmp(request(fd, "{\"command\":\"status\"}\n", buf, sizeof(buf)),
		     status_running) == 0);
	close(fd);
	free(line);
	server_stop(&srv);
}

static void test_client_limit(void)
{
	int fds[API_SOCKET_MAX_CLIENTS];
	struct server srv;
	char buf[1024];
	bool served = false;
	int extra;

	START_SERVER(&srv);
	for (int i = 0; i < API_SOCKET_MAX_CLIENTS; i++) {
		fds[i] = client_connect(srv.path);
		CHECK(strcmp(request(fds[i], "{\"command\":\"status\"}\n", buf, sizeof(buf)),
			     status_running) == 0);
	}
	extra = client_connect(srv.path);
	CHECK(extra >= 0);
	CHECK(strcmp(client_read_line(extra, buf, sizeof(buf)),
		     "{\"ok\":false,\"error\":\"too many clients\"}") == 0);
	CHECK(client_sees_close(extra));
	close(extra);

	/* A slot frees once the server sees a client go. */
	close(fds[0]);
	for (int tries = 0; tries < 100 && !served; tries++) {
		extra = client_connect(srv.path);
		served = strcmp(request(extra, "{\"command\":\"status\"}\n", buf, sizeof(buf)),
				status_running) == 0;
		close(extra);
		if (!served)
			usleep(10000);
	}
	CHECK(served);
	for (int i = 1; i < API_SOCKET_MAX_CLIENTS; i++)
		close(fds[i]);
	server_stop(&srv);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A client that writes requests and never reads its answers is dropped;
 * meanwhile everyone else is served. */
static void test_client_that_never_reads(void)
{
	static const char req[] = "{\"command\":\"status\"}\n";
	char burst[sizeof(req) * 64];
	struct server srv;
	char buf[1024];
	bool dropped = false;
	double deadline;
	int hog, fd;

	START_SERVER(&srv);
	for (size_t i = 0; i < 64; i++)
		memcpy(burst + i * (sizeof(req) - 1), req, sizeof(req) - 1);
	hog = client_connect(srv.path);
	fcntl(hog, F_SETFL, fcntl(hog, F_GETFL) | O_NONBLOCK);
	deadline = now_s() + 20;
	while (!dropped && now_s() < deadline) {
		ssize_t n = send(hog, burst, 64 * (sizeof(req) - 1), MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = hog, .events = POLLOUT };

			poll(&p, 1, 50);
			continue;
		}
		dropped = n < 0;  /* EPIPE or ECONNRESET: the server closed it */
	}
	CHECK(dropped);
	close(hog);

	fd = client_connect(srv.path);
	CHECK(strcmp(request(fd, "{\"command\":\"status\"}\n", buf, sizeof(buf)),
		     status_running) == 0);
	close(fd);
	server_stop(&srv);
}

/* With no descriptor left for accept(), a connection is turned away with a
 * reason instead of leaving the listening socket readable forever. */
static void test_out_of_descriptors(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct rlimit old, tight;
	struct server srv;
	char buf[1024];
	int fd, lowest_free;

	START_SERVER(&srv);
	memcpy(addr.sun_path, srv.path, strlen(srv.path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 5 },
		   sizeof(struct timeval));
	/* Every descriptor below the lowest free one is taken: a limit there
	 * leaves none to allocate. */
	lowest_free = dup(0);
	close(lowest_free);
	getrlimit(RLIMIT_NOFILE, &old);
	tight = old;
	tight.rlim_cur = lowest_free;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
	CHECK_EQ(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	CHECK(strcmp(client_read_line(fd, buf, sizeof(buf)),
		     "{\"ok\":false,\"error\":\"gvmm is out of file descriptors\"}") == 0);
	CHECK(client_sees_close(fd));
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
	close(fd);

	fd = client_connect(srv.path);
	CHECK(strcmp(request(fd, "{\"command\":\"status\"}\n", buf, sizeof(buf)),
		     status_running) == 0);
	close(fd);
	server_stop(&srv);
}

static void test_socket_mode_0600(void)
{
	struct server srv;
	struct stat st;
	mode_t old = umask(0);  /* the widest umask must not widen the file */
	bool started = server_start(&srv);

	umask(old);
	CHECK(started);
	if (!started)
		return;
	CHECK_EQ(stat(srv.path, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 07777, 0600);
	server_stop(&srv);
}

static void test_file_removed_on_close(void)
{
	struct server srv;
	struct stat st;
	int fd;

	START_SERVER(&srv);
	fd = client_connect(srv.path);  /* a client still connected at close */
	CHECK_EQ(stat(srv.path, &st), 0);
	event_loop_stop(&srv.loop);
	pthread_join(srv.thread, NULL);
	srv.running = false;
	api_socket_close(&srv.sock);
	CHECK(stat(srv.path, &st) < 0 && errno == ENOENT);
	CHECK(client_sees_close(fd));
	api_socket_close(&srv.sock);  /* twice is harmless */
	close(fd);
	server_stop(&srv);
}

static void test_stale_socket_replaced(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char dir[64], path[128], err[256];
	struct api_socket sock;
	int fd;

	if (!make_temp_dir(dir, sizeof(dir), path, sizeof(path)))
		SKIP_TEST("no temporary directory");
	/* What a gvmm that was killed leaves behind: a socket file with no
	 * listener. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(addr.sun_path, path, strlen(path) + 1);  /* 36 bytes */
	CHECK_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);

	CHECK_EQ(api_socket_open(&sock, path, err, sizeof(err)), 0);
	fd = client_connect(path);
	CHECK(fd >= 0);
	close(fd);
	api_socket_close(&sock);
	CHECK(access(path, F_OK) < 0);
	rmdir(dir);
}

static void test_live_socket_refused(void)
{
	char dir[64], path[128], err[256] = "";
	struct api_socket first, second;
	struct stat before, after;

	if (!make_temp_dir(dir, sizeof(dir), path, sizeof(path)))
		SKIP_TEST("no temporary directory");
	CHECK_EQ(api_socket_open(&first, path, err, sizeof(err)), 0);
	CHECK_EQ(stat(path, &before), 0);
	CHECK_EQ(api_socket_open(&second, path, err, sizeof(err)), -1);
	CHECK(strstr(err, "another program is listening on") != NULL);
	CHECK(strstr(err, path) != NULL);
	api_socket_close(&second);  /* after a failed open: harmless */
	CHECK_EQ(stat(path, &after), 0);
	CHECK_EQ(after.st_ino, before.st_ino);
	api_socket_close(&first);
	CHECK(access(path, F_OK) < 0);
	rmdir(dir);
}

static void test_bad_paths(void)
{
	char dir[64], path[128], err[256] = "", long_path[200];
	struct api_socket sock;
	int fd;

	if (!make_temp_dir(dir, sizeof(dir), path, sizeof(path)))
		SKIP_TEST("no temporary directory");
	/* Not a socket: left alone. */
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	close(fd);
	CHECK_EQ(api_socket_open(&sock, path, err, sizeof(err)), -1);
	CHECK(strstr(err, "exists and is not a socket") != NULL);
	CHECK_EQ(access(path, F_OK), 0);
	unlink(path);

	snprintf(path, sizeof(path), "%s/missing/api.sock", dir);
	CHECK_EQ(api_socket_open(&sock, path, err, sizeof(err)), -1);
	CHECK(strstr(err, path) && strstr(err, "No such file or directory"));

	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	CHECK_EQ(api_socket_open(&sock, long_path, err, sizeof(err)), -1);
	CHECK(strstr(err, "path too long") != NULL);

	CHECK_EQ(api_socket_open(&sock, "", err, sizeof(err)), -1);
	CHECK(strstr(err, "empty") != NULL);
	rmdir(dir);
}

/* Runs `gvmm ctl` with its stdout and stderr captured. */
static int run_ctl(int argc, char **argv, char *out, size_t out_cap, char *errout, size_t err_cap)
{
	FILE *out_file = tmpfile(), *err_file = tmpfile();
	int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
	size_t n;
	int status;

	fflush(stdout);
	fflush(stderr);
	dup2(fileno(out_file), STDOUT_FILENO);
	dup2(fileno(err_file), STDERR_FILENO);
	status = cmd_ctl(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	rewind(out_file);
	n = fread(out, 1, out_cap - 1, out_file);
	out[n] = '\0';
	rewind(err_file);
	n = fread(errout, 1, err_cap - 1, err_file);
	errout[n] = '\0';
	fclose(out_file);
	fclose(err_file);
	return status;
}

static void test_ctl_client(void)
{
	struct server srv;
	char out[2048], errout[1024], missing[160];
	char *status_argv[] = { "ctl", NULL, "status", NULL };
	char *pause_argv[] = { "ctl", NULL, "pause", NULL };
	char *bogus_argv[] = { "ctl", NULL, "bogus", NULL };
	char *vcpus_argv[] = { "ctl", NULL, "vcpus", NULL };
	static char big[32768];
	char *missing_argv[] = { "ctl", missing, "status", NULL };
	char *help_argv[] = { "ctl", "--help", NULL };
	char *short_argv[] = { "ctl", "/tmp/x", NULL };

	START_SERVER(&srv);
	status_argv[1] = pause_argv[1] = bogus_argv[1] = vcpus_argv[1] = srv.path;

	CHECK_EQ(run_ctl(3, status_argv, out, sizeof(out), errout, sizeof(errout)), 0);
	CHECK(strncmp(out, "{\"state\":\"running\",\"vcpus\":2,", 29) == 0);
	CHECK(out[strlen(out) - 1] == '\n');

	CHECK_EQ(run_ctl(3, pause_argv, out, sizeof(out), errout, sizeof(errout)), 0);
	CHECK(strcmp(out, "{}\n") == 0);
	CHECK_EQ(atomic_load(&srv.vm.pauses), 1);

	/* vcpus: every page, printed as one result. */
	atomic_store(&srv.vm.nr_vcpus, 35);
	CHECK_EQ(run_ctl(3, vcpus_argv, big, sizeof(big), errout, sizeof(errout)), 0);
	CHECK(starts_with(big, "{\"total\":35,\"vcpus\":[{\"index\":0,"));
	CHECK(strstr(big, "\"nmi_pending\":false},{\"index\":16,") != NULL);
	CHECK(strstr(big, "\"nmi_pending\":false},{\"index\":32,") != NULL);
	CHECK(strstr(big, "{\"index\":34,") != NULL);
	CHECK(strstr(big, "\"next\"") == NULL);
	CHECK(strcmp(big + strlen(big) - 4, "}]}\n") == 0);
	atomic_store(&srv.vm.vcpus_error, -EAGAIN);
	CHECK_EQ(run_ctl(3, vcpus_argv, big, sizeof(big), errout, sizeof(errout)), 1);
	CHECK(strstr(errout, "vcpus failed") != NULL);
	CHECK(big[0] == '\0');

	CHECK_EQ(run_ctl(3, bogus_argv, out, sizeof(out), errout, sizeof(errout)), 1);
	CHECK(strstr(errout, "unknown command 'bogus'") != NULL);
	CHECK(out[0] == '\0');

	snprintf(missing, sizeof(missing), "%s/nothing.sock", srv.dir);
	CHECK_EQ(run_ctl(3, missing_argv, out, sizeof(out), errout, sizeof(errout)), 2);
	CHECK(strstr(errout, missing) != NULL);
	CHECK(strchr(errout, '\n') == errout + strlen(errout) - 1);  /* one line */

	CHECK_EQ(run_ctl(2, help_argv, out, sizeof(out), errout, sizeof(errout)), 0);
	CHECK(strstr(out, "usage: gvmm ctl PATH COMMAND") != NULL);
	CHECK_EQ(run_ctl(2, short_argv, out, sizeof(out), errout, sizeof(errout)), 2);
	CHECK(strstr(errout, "usage:") != NULL);
	server_stop(&srv);
}

TEST_MAIN("api_socket",
	  TEST_CASE(test_status),
	  TEST_CASE(test_status_with_display),
	  TEST_CASE(test_actions_reach_ops),
	  TEST_CASE(test_vcpus_in_pages),
	  TEST_CASE(test_bad_requests_keep_connection),
	  TEST_CASE(test_pipelined_and_split_requests),
	  TEST_CASE(test_last_request_at_eof),
	  TEST_CASE(test_oversized_request),
	  TEST_CASE(test_client_limit),
	  TEST_CASE(test_client_that_never_reads),
	  TEST_CASE(test_out_of_descriptors),
	  TEST_CASE(test_socket_mode_0600),
	  TEST_CASE(test_file_removed_on_close),
	  TEST_CASE(test_stale_socket_replaced),
	  TEST_CASE(test_live_socket_refused),
	  TEST_CASE(test_bad_paths),
	  TEST_CASE(test_ctl_client))
