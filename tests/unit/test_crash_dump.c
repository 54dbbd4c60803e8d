#include "check.h"
#include "../../firmware/guest_layout.h"
#include "../../vmm/crash_dump.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/gvmm-crash-dump-XXXXXX";

static void dump_is_ram_byte_for_byte(void)
{
	struct guest_memory mem;
	char err[256], path[128];
	struct stat st;
	uint8_t buf[8];
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ(guest_memory_create(&mem, 8 << 20, GUEST_RAM_ANONYMOUS, err, sizeof(err)), 0);
	memcpy(guest_memory_ptr(&mem, 0x1000, 4), "top!", 4);
	memcpy(guest_memory_ptr(&mem, (8 << 20) - 4, 4), "end.", 4);
	snprintf(path, sizeof(path), "%s/ram", dir);
	CHECK_EQ(crash_dump_write(&mem, path, err, sizeof(err)), 0);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_size, 8 << 20);
	CHECK_EQ(st.st_mode & 0777, 0600);
	/* Zero pages are holes: far less than 8 MiB is allocated. */
	CHECK(st.st_blocks * 512 < (1 << 20));
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, buf, 4, 0x1000), 4);
	CHECK(!memcmp(buf, "top!", 4));
	CHECK_EQ(pread(fd, buf, 4, (8 << 20) - 4), 4);
	CHECK(!memcmp(buf, "end.", 4));
	CHECK_EQ(pread(fd, buf, 4, 0x2000), 4);
	CHECK(!memcmp(buf, "\0\0\0\0", 4));
	close(fd);
	unlink(path);
	guest_memory_destroy(&mem);
}

static void an_old_file_or_link_is_replaced_never_followed(void)
{
	struct guest_memory mem;
	char err[256], path[128], target[128];
	struct stat st;
	int fd;

	CHECK_EQ(guest_memory_create(&mem, 4 << 20, GUEST_RAM_ANONYMOUS, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/old", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "x", 1), 1);
	close(fd);
	CHECK_EQ(crash_dump_write(&mem, path, err, sizeof(err)), 0);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(st.st_size, 4 << 20);
	unlink(path);

	/* A directory where the file should go: an error, said. */
	snprintf(path, sizeof(path), "%s/sub", dir);
	CHECK_EQ(mkdir(path, 0700), 0);
	CHECK(crash_dump_write(&mem, path, err, sizeof(err)) < 0);
	CHECK(strstr(err, path) != NULL);
	rmdir(path);

	/* A symbolic link is removed, never followed. */
	snprintf(target, sizeof(target), "%s/target", dir);
	snprintf(path, sizeof(path), "%s/link", dir);
	CHECK_EQ(symlink(target, path), 0);
	CHECK_EQ(crash_dump_write(&mem, path, err, sizeof(err)), 0);
	CHECK(access(target, F_OK) < 0);
	CHECK_EQ(lstat(path, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	unlink(path);
	rmdir(dir);
	guest_memory_destroy(&mem);
}

TEST_MAIN("crash_dump",
	TEST_CASE(dump_is_ram_byte_for_byte),
	TEST_CASE(an_old_file_or_link_is_replaced_never_followed))
