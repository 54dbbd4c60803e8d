/* The SPICE ticket: where it comes from (a private file, the environment,
 * the command line, or made up at random), what each source refuses, and
 * that a listener outside loopback never gets a made-up one. */
#include "check.h"

#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../display/spice_ticket.h"

static struct spice_options opt;
static char err[512];
static char dir[64];         /* the test's directory, made on first use */
static char file[128];
static const char *const file_names[] = { "pw", "open", "group", "empty-line", "empty", "nul" };

/* Parses arg (which must be good) and settles it with env. */
static int settle(const char *arg, const char *env)
{
	memset(&opt, 0xa5, sizeof(opt));
	err[0] = 0;
	if (spice_options_parse(arg, &opt, err, sizeof(err)) < 0) {
		fprintf(stderr, "  '%s' does not parse: %s\n", arg, err);
		return -2;
	}
	return spice_ticket_settle(&opt, env, err, sizeof(err));
}

/* Settling is refused with a one-line message holding text. */
static bool refused_mentioning(const char *arg, const char *env, const char *text)
{
	if (settle(arg, env) != -1) {
		fprintf(stderr, "  '%s' was settled\n", arg);
		return false;
	}
	if (!strstr(err, text) || strchr(err, '\n')) {
		fprintf(stderr, "  '%s': got \"%s\", wanted it to mention \"%s\"\n", arg, err, text);
		return false;
	}
	return true;
}

static bool url_safe(const char *text)
{
	for (const char *c = text; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
			return false;
	return true;
}

static bool have_dir(void)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/gvmm-ticket-test-XXXXXX");
		if (!mkdtemp(dir)) {
			dir[0] = 0;
			return false;
		}
	}
	return true;
}

/* Removes the test's directory and what make_file put there. */
static void remove_dir(void)
{
	if (!dir[0])
		return;
	for (unsigned i = 0; i < sizeof(file_names) / sizeof(file_names[0]); i++) {
		snprintf(file, sizeof(file), "%s/%s", dir, file_names[i]);
		unlink(file);
	}
	CHECK_EQ(rmdir(dir), 0);
	dir[0] = 0;
}

/* A file (one of file_names) in the test's directory with mode and
 * contents (len bytes). */
static const char *make_file(const char *name, mode_t mode, const char *contents, size_t len)
{
	int fd;

	CHECK(have_dir());
	snprintf(file, sizeof(file), "%s/%s", dir, name);
	unlink(file);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	if (fd < 0)
		return file;
	CHECK_EQ(write(fd, contents, len), (ssize_t)len);
	CHECK_EQ(fchmod(fd, mode), 0);
	close(fd);
	return file;
}

static int settle_file(const char *path, const char *env)
{
	char arg[300];

	snprintf(arg, sizeof(arg), ":5900,password-file=%.256s", path);
	return settle(arg, env);
}

static void test_made_up_on_tcp(void)
{
	char first[SPICE_PASSWORD_MAX + 1];

	CHECK_EQ(settle(":5900", NULL), 0);
	CHECK_EQ(opt.ticket, SPICE_TICKET_GENERATED);
	CHECK_EQ(strlen(opt.password), SPICE_TICKET_GENERATED_LEN);
	CHECK(url_safe(opt.password));
	strcpy(first, opt.password);
	CHECK_EQ(settle("127.0.0.1:5900", ""), 0);   /* empty: as unset */
	CHECK_EQ(opt.ticket, SPICE_TICKET_GENERATED);
	CHECK(strcmp(first, opt.password) != 0);
	CHECK_EQ(settle("[::1]:5900,tls-port=5901,x509-dir=/d", NULL), 0);
	CHECK_EQ(opt.ticket, SPICE_TICKET_GENERATED);
}

/* 144 bits in 24 characters of the URL-safe base64 alphabet: over many
 * tickets every one of the 64 characters turns up, and no two repeat. */
static void test_generate(void)
{
	char tickets[64][SPICE_TICKET_GENERATED_LEN + 1];
	bool seen[128] = { false };
	unsigned kinds = 0;

	for (unsigned i = 0; i < 64; i++) {
		CHECK_EQ(spice_ticket_generate(tickets[i]), 0);
		CHECK_EQ(strlen(tickets[i]), SPICE_TICKET_GENERATED_LEN);
		CHECK(url_safe(tickets[i]));
		for (const char *c = tickets[i]; *c; c++)
			seen[(unsigned char)*c & 127] = true;
		for (unsigned j = 0; j < i; j++)
			CHECK(strcmp(tickets[i], tickets[j]) != 0);
	}
	for (unsigned c = 0; c < 128; c++)
		kinds += seen[c];
	CHECK_EQ(kinds, 64);
}

static void test_none_where_none_is_needed(void)
{
	CHECK_EQ(settle("unix:/tmp/s", NULL), 0);
	CHECK_EQ(opt.ticket, SPICE_TICKET_NONE);
	CHECK_EQ(opt.password[0], 0);
	CHECK_EQ(settle(":5900,disable-ticketing", NULL), 0);
	CHECK_EQ(opt.ticket, SPICE_TICKET_NONE);
	/* Said on the command line, it beats the environment. */
	CHECK_EQ(settle(":5900,disable-ticketing", "from-env"), 0);
	CHECK_EQ(opt.ticket, SPICE_TICKET_NONE);
	CHECK_EQ(opt.password[0], 0);
}

static void test_environment(void)
{
	char longer[SPICE_PASSWORD_MAX + 2];

	CHECK_EQ(settle(":5900", "from-env"), 0);
	CHECK_EQ(opt.ticket, SPICE_TICKET_CHOSEN);
	CHECK(!strcmp(opt.password, "from-env"));
	/* A unix socket takes it too, when it is given. */
	CHECK_EQ(settle("unix:/tmp/s", "from-env"), 0);
	CHECK_EQ(opt.ticket, SPICE_TICKET_CHOSEN);
	CHECK(!strcmp(opt.password, "from-env"));
	/* The command line beats the environment. */
	CHECK_EQ(settle(":5900,password=from-argv", "from-env"), 0);
	CHECK(!strcmp(opt.password, "from-argv"));
	memset(longer, 'e', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	CHECK(refused_mentioning(":5900", longer,
				 "GVMM_SPICE_PASSWORD is longer than the 60 bytes SPICE allows"));
}

static void test_command_line(void)
{
	CHECK_EQ(settle(":5900,password=hunter2", NULL), 0);
	CHECK_EQ(opt.ticket, SPICE_TICKET_CHOSEN);
	CHECK(!strcmp(opt.password, "hunter2"));
}

static void test_password_file(void)
{
	char sixty[SPICE_PASSWORD_MAX + 2];
	int pipe_fds[2];
	char path[64];

	CHECK_EQ(settle_file(make_file("pw", 0600, "s3cret\nsecond line\n", 19), "from-env"), 0);
	CHECK_EQ(opt.ticket, SPICE_TICKET_CHOSEN);
	CHECK(!strcmp(opt.password, "s3cret"));   /* the file beats the environment */
	CHECK_EQ(settle_file(make_file("pw", 0400, "dos\r\n", 5), NULL), 0);
	CHECK(!strcmp(opt.password, "dos"));
	CHECK_EQ(settle_file(make_file("pw", 0600, "no newline", 10), NULL), 0);
	CHECK(!strcmp(opt.password, "no newline"));
	memset(sixty, 'x', SPICE_PASSWORD_MAX);
	sixty[SPICE_PASSWORD_MAX] = '\n';
	CHECK_EQ(settle_file(make_file("pw", 0600, sixty, SPICE_PASSWORD_MAX + 1), NULL), 0);
	CHECK_EQ(strlen(opt.password), SPICE_PASSWORD_MAX);
	sixty[SPICE_PASSWORD_MAX] = 'x';
	sixty[SPICE_PASSWORD_MAX + 1] = '\n';
	CHECK_EQ(settle_file(make_file("pw", 0600, sixty, SPICE_PASSWORD_MAX + 2), NULL), -1);
	CHECK(strstr(err, "the password is longer than the 60 bytes SPICE allows") != NULL);

	/* A pipe, as password-file=<(pass show spice) hands it over. */
	CHECK_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
	CHECK_EQ(write(pipe_fds[1], "piped\n", 6), 6);
	close(pipe_fds[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pipe_fds[0]);
	CHECK_EQ(settle_file(path, NULL), 0);
	CHECK(!strcmp(opt.password, "piped"));
	close(pipe_fds[0]);
	remove_dir();
}

static void test_password_file_refused(void)
{
	char want[256];

	/* Others could read it: it guards nothing. */
	make_file("open", 0644, "s3cret\n", 7);
	if (!dir[0])
		return;
	snprintf(want, sizeof(want), "password-file %s can be read by other users (mode 0644): "
		 "chmod 600 it", file);
	CHECK_EQ(settle_file(file, NULL), -1);
	CHECK(!strcmp(err, want));
	CHECK_EQ(settle_file(make_file("group", 0640, "s3cret\n", 7), NULL), -1);
	CHECK(strstr(err, "can be read by other users (mode 0640)") != NULL);
	CHECK_EQ(settle_file(make_file("empty-line", 0600, "\nsecond\n", 8), NULL), -1);
	CHECK(strstr(err, "the first line is empty") != NULL);
	CHECK_EQ(settle_file(make_file("empty", 0600, "", 0), NULL), -1);
	CHECK(strstr(err, "the first line is empty") != NULL);
	CHECK_EQ(settle_file(make_file("nul", 0600, "a\0b\n", 4), NULL), -1);
	CHECK(strstr(err, "NUL byte") != NULL);
	CHECK_EQ(settle_file(dir, NULL), -1);
	CHECK(strstr(err, "is not a regular file") != NULL);
	snprintf(want, sizeof(want), "%s/missing", dir);
	CHECK_EQ(settle_file(want, NULL), -1);
	CHECK(strstr(err, "No such file or directory") != NULL);
	CHECK(!strchr(err, '\n'));
	remove_dir();
}

/* The viewer of a listener other machines reach is on another machine:
 * a made-up ticket in a local file would not get it in, so the user
 * chooses one (or says disable-ticketing). */
static void test_open_listener_needs_a_chosen_password(void)
{
	CHECK(refused_mentioning("0.0.0.0:5900", NULL,
		"listening on 0.0.0.0 lets other machines connect: choose their password with "
		"password-file=PATH or GVMM_SPICE_PASSWORD (or disable-ticketing if you mean it)"));
	CHECK(refused_mentioning("[::]:5900", NULL, "listening on :: lets other machines"));
	CHECK(refused_mentioning("192.168.1.10:5900", "", "lets other machines connect"));
	CHECK(refused_mentioning("myhost:5900", NULL, "lets other machines connect"));
	/* TLS hides the traffic but lets anyone in. */
	CHECK(refused_mentioning("0.0.0.0:5900,tls-port=5901,x509-dir=/d", NULL,
				 "lets other machines connect"));
	CHECK(refused_mentioning("0.0.0.0,tls-port=5901,x509-dir=/d", NULL,
				 "lets other machines connect"));
	CHECK_EQ(settle("0.0.0.0:5900", "from-env"), 0);
	CHECK_EQ(opt.ticket, SPICE_TICKET_CHOSEN);
	CHECK_EQ(settle_file(make_file("pw", 0600, "s3cret\n", 7), NULL), 0);
	CHECK_EQ(settle("0.0.0.0:5900,disable-ticketing", NULL), 0);
	CHECK_EQ(opt.ticket, SPICE_TICKET_NONE);
	CHECK_EQ(settle("127.0.0.2:5900", NULL), 0);
	CHECK_EQ(settle("[::1]:5900", NULL), 0);
	CHECK_EQ(settle("localhost:5900", NULL), 0);
	CHECK_EQ(opt.ticket, SPICE_TICKET_GENERATED);
	remove_dir();
}

TEST_MAIN("spice_ticket",
	TEST_CASE(test_made_up_on_tcp),
	TEST_CASE(test_generate),
	TEST_CASE(test_none_where_none_is_needed),
	TEST_CASE(test_environment),
	TEST_CASE(test_command_line),
	TEST_CASE(test_password_file),
	TEST_CASE(test_password_file_refused),
	TEST_CASE(test_open_listener_needs_a_chosen_password))
