/* --serial: parsing, and the serial file: created 0600 whatever the umask,
 * never through a symbolic link, and no larger than its max-size, beyond
 * which guest output is dropped (and said once) without the guest ever
 * waiting. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../vmm/log.h"
#include "../../vmm/serial_console.h"

struct tmp {
	char dir[32];
	char path[64];
};

static bool tmp_init(struct tmp *t, const char *name)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/gvmm-serial-XXXXXX");
	if (!mkdtemp(t->dir))
		return false;
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	return true;
}

static void tmp_clean(struct tmp *t)
{
	unlink(t->path);
	rmdir(t->dir);
}

static off_t size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void parse(void)
{
	struct serial_config cfg;

	CHECK_EQ(serial_config_parse("stdio", &cfg), 0);
	CHECK_EQ(cfg.mode, SERIAL_STDIO);
	CHECK_EQ(serial_config_parse("none", &cfg), 0);
	CHECK_EQ(cfg.mode, SERIAL_NONE);
	CHECK_EQ(serial_config_parse("file:/tmp/out", &cfg), 0);
	CHECK_EQ(cfg.mode, SERIAL_FILE);
	CHECK(strcmp(cfg.path, "/tmp/out") == 0);
	CHECK_EQ(cfg.max_size, SERIAL_FILE_DEFAULT_MAX_SIZE);
	CHECK_EQ(SERIAL_FILE_DEFAULT_MAX_SIZE, 64ull << 20);
	CHECK_EQ(serial_config_parse("file:/tmp/out,max-size=4K", &cfg), 0);
	CHECK(strcmp(cfg.path, "/tmp/out") == 0);
	CHECK_EQ(cfg.max_size, 4096);
	CHECK_EQ(serial_config_parse("file:/tmp/out,max-size=0", &cfg), 0);
	CHECK_EQ(cfg.max_size, 0);
	/* A comma is part of the path unless max-size= follows it. */
	CHECK_EQ(serial_config_parse("file:/tmp/a,b", &cfg), 0);
	CHECK(strcmp(cfg.path, "/tmp/a,b") == 0);
	CHECK_EQ(serial_config_parse("file:/tmp/a,b,max-size=1M", &cfg), 0);
	CHECK(strcmp(cfg.path, "/tmp/a,b") == 0);
	CHECK_EQ(cfg.max_size, 1ull << 20);

	CHECK_EQ(serial_config_parse("file:", &cfg), -1);
	CHECK_EQ(serial_config_parse("file:,max-size=1M", &cfg), -1);
	CHECK_EQ(serial_config_parse("file:/tmp/out,max-size=lots", &cfg), -1);
	CHECK_EQ(serial_config_parse("file:/tmp/out,max-size=", &cfg), -1);
	CHECK_EQ(serial_config_parse("stdio,max-size=1M", &cfg), -1);
	CHECK_EQ(serial_config_parse("telnet", &cfg), -1);
}

/* Under umask 022 a new serial file is 0600: the guest's console can
 * hold what the guest's users type. */
static void new_file_is_private(void)
{
	struct serial_config cfg;
	struct serial_console con;
	struct tmp t;
	struct stat st;
	char err[256], arg[96];
	mode_t old;

	if (!tmp_init(&t, "console"))
		SKIP_TEST("no temporary directory");
	snprintf(arg, sizeof(arg), "file:%s", t.path);
	CHECK_EQ(serial_config_parse(arg, &cfg), 0);
	old = umask(022);
	CHECK_EQ(serial_console_open(&con, &cfg, err, sizeof(err)), 0);
	umask(old);
	CHECK_EQ(stat(t.path, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	serial_console_close(&con);
	tmp_clean(&t);
}

/* An existing file is truncated and keeps the mode its owner gave it. */
static void existing_file_keeps_its_mode(void)
{
	struct serial_config cfg;
	struct serial_console con;
	struct tmp t;
	struct stat st;
	char err[256], arg[96];
	int fd;

	if (!tmp_init(&t, "console"))
		SKIP_TEST("no temporary directory");
	fd = open(t.path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "old output", 10), 10);
	CHECK_EQ(fchmod(fd, 0640), 0);
	close(fd);
	snprintf(arg, sizeof(arg), "file:%s", t.path);
	CHECK_EQ(serial_config_parse(arg, &cfg), 0);
	CHECK_EQ(serial_console_open(&con, &cfg, err, sizeof(err)), 0);
	CHECK_EQ(stat(t.path, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0640);
	CHECK_EQ(st.st_size, 0);
	serial_console_close(&con);
	tmp_clean(&t);
}

/* A symbolic link is refused, not followed: the serial file is not a
 * way to write through a link someone else planted. */
static void symlink_is_refused(void)
{
	struct serial_config cfg;
	struct serial_console con;
	struct tmp t;
	char err[256] = "", arg[96], target[80];

	if (!tmp_init(&t, "link"))
		SKIP_TEST("no temporary directory");
	snprintf(target, sizeof(target), "%s/target", t.dir);
	CHECK_EQ(symlink(target, t.path), 0);
	snprintf(arg, sizeof(arg), "file:%s", t.path);
	CHECK_EQ(serial_config_parse(arg, &cfg), 0);
	CHECK_EQ(serial_console_open(&con, &cfg, err, sizeof(err)), -1);
	CHECK(strstr(err, "symbolic link") != NULL);
	CHECK(access(target, F_OK) != 0);
	unlink(target);
	tmp_clean(&t);
}

struct log_count {
	atomic_int limit_lines;
};

static void count_limit_lines(void *ctx, enum log_level level, const char *line)
{
	struct log_count *c = ctx;

	if (level == LOG_WARN && strstr(line, "max-size"))
		atomic_fetch_add(&c->limit_lines, 1);
}

/* Output beyond max-size is not written, the guest does not wait for it,
 * and the log says so once. */
static void file_stops_at_max_size(void)
{
	struct serial_config cfg;
	struct serial_console con;
	struct log_count logged = { 0 };
	struct tmp t;
	char err[256], arg[128];
	uint8_t block[1000];
	char back[4096];
	int fd;

	if (!tmp_init(&t, "console"))
		SKIP_TEST("no temporary directory");
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)('a' + i % 26);
	snprintf(arg, sizeof(arg), "file:%s,max-size=4K", t.path);
	CHECK_EQ(serial_config_parse(arg, &cfg), 0);
	CHECK_EQ(serial_console_open(&con, &cfg, err, sizeof(err)), 0);
	log_set_sink(count_limit_lines, &logged);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(serial_console_transmit_bytes(&con, block, sizeof(block)), sizeof(block));
	for (int i = 0; i < 100; i++)
		serial_console_transmit(&con, 'z');
	CHECK_EQ(size_of(t.path), 4096);
	CHECK_EQ(atomic_load(&logged.limit_lines), 1);
	serial_console_close(&con);
	log_set_sink(NULL, NULL);
	CHECK_EQ(size_of(t.path), 4096);
	/* What was written is the start of the output, whole. */
	fd = open(t.path, O_RDONLY | O_CLOEXEC);
	CHECK_EQ(read(fd, back, sizeof(back)), 4096);
	for (size_t i = 0; i < sizeof(back); i++)
		if ((uint8_t)back[i] != block[i % sizeof(block)]) {
			CHECK_EQ((uint8_t)back[i], block[i % sizeof(block)]);
			break;
		}
	close(fd);
	tmp_clean(&t);
}

/* max-size=0: no limit, as before. */
static void max_size_zero_is_unlimited(void)
{
	struct serial_config cfg;
	struct serial_console con;
	struct tmp t;
	char err[256], arg[128];
	uint8_t block[4096] = { 0 };

	if (!tmp_init(&t, "console"))
		SKIP_TEST("no temporary directory");
	snprintf(arg, sizeof(arg), "file:%s,max-size=0", t.path);
	CHECK_EQ(serial_config_parse(arg, &cfg), 0);
	CHECK_EQ(serial_console_open(&con, &cfg, err, sizeof(err)), 0);
	for (int i = 0; i < 64; i++)
		serial_console_transmit_bytes(&con, block, sizeof(block));
	serial_console_close(&con);
	CHECK_EQ(size_of(t.path), 64 * 4096);
	tmp_clean(&t);
}

TEST_MAIN("serial_console",
	TEST_CASE(parse),
	TEST_CASE(new_file_is_private),
	TEST_CASE(existing_file_keeps_its_mode),
	TEST_CASE(symlink_is_refused),
	TEST_CASE(file_stops_at_max_size),
	TEST_CASE(max_size_zero_is_unlimited),
)
