/* boot_copy_begin/boot_copy_end: a copy large enough runs on a thread of
 * its own beside the caller's, lands byte for byte, and fails as
 * boot_copy does (a range outside guest RAM, a file that shrank); a small
 * one, one from a buffer and one of no bytes are done at once. */
#include "check.h"

#include <stdint.h>
#include <unistd.h>

#include "../../firmware/boot.h"
#include "memfd_file.h"

#define MiB (1ULL << 20)
#define RAM (64 * MiB)

static struct guest_memory mem;
static char err[256];

/* The file of a test: LEN bytes of a pattern, in *BYTES and in a file
 * whose descriptor it returns; guest RAM made. -1 (the test skips) when
 * either cannot be made. */
static int file_and_ram(size_t len, unsigned seed, uint8_t **bytes)
{
	int fd;

	*bytes = malloc(len);
	for (size_t i = 0; *bytes && i < len; i++)
		(*bytes)[i] = (uint8_t)(i * seed + (i >> 12));
	fd = *bytes ? memfd_file(*bytes, len) : -1;
	if (fd >= 0 && guest_memory_create(&mem, RAM, false, err, sizeof(err)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	free(*bytes);
	test_state.skip_reason = "cannot create a file or guest memory";
	return -1;
}

static void file_and_ram_free(int fd, uint8_t *bytes)
{
	guest_memory_destroy(&mem);
	close(fd);
	free(bytes);
}

/* Two large copies at once, as bzimage_load makes them: the one begun
 * on its thread and the caller's own, from the same file. */
static void test_threaded_copy_beside_the_callers(void)
{
	size_t len = 3 * MiB + 321;
	uint8_t *bytes, *at;
	struct boot_copy_job job;
	int fd = file_and_ram(len, 7, &bytes);

	if (fd < 0)
		return;
	boot_copy_begin(&job, &mem, 32 * MiB, NULL, fd, 0, len);
	CHECK(job.threaded);
	CHECK_EQ(boot_copy(&mem, 4 * MiB, NULL, fd, 1 * MiB, len - 1 * MiB), 0);
	CHECK_EQ(boot_copy_end(&job), 0);
	CHECK(!job.threaded);
	at = guest_memory_ptr(&mem, 32 * MiB, len);
	CHECK(at && memcmp(at, bytes, len) == 0);
	at = guest_memory_ptr(&mem, 4 * MiB, len - 1 * MiB);
	CHECK(at && memcmp(at, bytes + 1 * MiB, len - 1 * MiB) == 0);
	file_and_ram_free(fd, bytes);
}

/* The thread's failures reach boot_copy_end: a file shorter than the
 * range, and a range that runs past the end of guest RAM. */
static void test_threaded_copy_failures(void)
{
	size_t len = 2 * MiB;
	uint8_t *bytes;
	struct boot_copy_job job;
	int fd = file_and_ram(len, 3, &bytes);

	if (fd < 0)
		return;
	boot_copy_begin(&job, &mem, RAM - len + 4096, NULL, fd, 0, len);
	CHECK_EQ(boot_copy_end(&job), -1);

	CHECK_EQ(ftruncate(fd, (off_t)(len / 2)), 0);
	boot_copy_begin(&job, &mem, 8 * MiB, NULL, fd, 0, len);
	CHECK(job.threaded);
	CHECK_EQ(boot_copy_end(&job), -1);
	file_and_ram_free(fd, bytes);
}

/* Not worth a thread: a small copy, one from a buffer, one of no bytes.
 * Each is done when boot_copy_begin returns. */
static void test_copies_done_at_once(void)
{
	size_t small = 64 * 1024, large = 2 * MiB;
	uint8_t *bytes, *at;
	struct boot_copy_job job;
	int fd = file_and_ram(large, 5, &bytes);

	if (fd < 0)
		return;
	boot_copy_begin(&job, &mem, 1 * MiB, NULL, fd, 0, small);
	CHECK(!job.threaded);
	at = guest_memory_ptr(&mem, 1 * MiB, small);
	CHECK(at && memcmp(at, bytes, small) == 0);
	CHECK_EQ(boot_copy_end(&job), 0);

	boot_copy_begin(&job, &mem, 16 * MiB, bytes, -1, 0, large);
	CHECK(!job.threaded);
	at = guest_memory_ptr(&mem, 16 * MiB, large);
	CHECK(at && memcmp(at, bytes, large) == 0);
	CHECK_EQ(boot_copy_end(&job), 0);

	boot_copy_begin(&job, &mem, 0, NULL, fd, 0, 0);
	CHECK(!job.threaded);
	CHECK_EQ(boot_copy_end(&job), 0);
	file_and_ram_free(fd, bytes);
}

TEST_MAIN("boot_copy",
	TEST_CASE(test_threaded_copy_beside_the_callers),
	TEST_CASE(test_threaded_copy_failures),
	TEST_CASE(test_copies_done_at_once),
)
