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

static uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *b = malloc(len);

	for (size_t i = 0; b && i < len; i++)
		b[i] = (uint8_t)(i * seed + (i >> 12));
	return b;
}

/* Two large copies at once, as bzimage_load makes them: the one begun
 * on its thread and the caller's own, from the same file. */
static void test_threaded_copy_beside_the_callers(void)
{
	size_t len = 3 * MiB + 321;
	uint8_t *bytes = pattern(len, 7), *at;
	struct boot_copy_job job;
	int fd = bytes ? memfd_file(bytes, len) : -1;

	CHECK(fd >= 0);
	if (fd < 0 || guest_memory_create(&mem, RAM, false, err, sizeof(err)) < 0) {
		free(bytes);
		if (fd >= 0)
			close(fd);
		SKIP_TEST("cannot create a file or guest memory");
	}
	boot_copy_begin(&job, &mem, 32 * MiB, NULL, fd, 0, len);
	CHECK(job.threaded);
	CHECK_EQ(boot_copy(&mem, 4 * MiB, NULL, fd, 1 * MiB, len - 1 * MiB), 0);
	CHECK_EQ(boot_copy_end(&job), 0);
	CHECK(!job.threaded);
	at = guest_memory_ptr(&mem, 32 * MiB, len);
	CHECK(at && memcmp(at, bytes, len) == 0);
	at = guest_memory_ptr(&mem, 4 * MiB, len - 1 * MiB);
	CHECK(at && memcmp(at, bytes + 1 * MiB, len - 1 * MiB) == 0);
	guest_memory_destroy(&mem);
	close(fd);
	free(bytes);
}

/* The thread's failures reach boot_copy_end: a file shorter than the
 * range, and a range that runs past the end of guest RAM. */
static void test_threaded_copy_failures(void)
{
	size_t len = 2 * MiB;
	uint8_t *bytes = pattern(len, 3);
	struct boot_copy_job job;
	int fd = bytes ? memfd_file(bytes, len) : -1;

	CHECK(fd >= 0);
	if (fd < 0 || guest_memory_create(&mem, RAM, false, err, sizeof(err)) < 0) {
		free(bytes);
		if (fd >= 0)
			close(fd);
		SKIP_TEST("cannot create a file or guest memory");
	}
	boot_copy_begin(&job, &mem, RAM - len + 4096, NULL, fd, 0, len);
	CHECK_EQ(boot_copy_end(&job), -1);

	CHECK_EQ(ftruncate(fd, (off_t)(len / 2)), 0);
	boot_copy_begin(&job, &mem, 8 * MiB, NULL, fd, 0, len);
	CHECK(job.threaded);
	CHECK_EQ(boot_copy_end(&job), -1);
	guest_memory_destroy(&mem);
	close(fd);
	free(bytes);
}

/* Not worth a thread: a small copy, one from a buffer, one of no bytes.
 * Each is done when boot_copy_begin returns. */
static void test_copies_done_at_once(void)
{
	size_t small = 64 * 1024, large = 2 * MiB;
	uint8_t *bytes = pattern(large, 5), *at;
	struct boot_copy_job job;
	int fd = bytes ? memfd_file(bytes, large) : -1;

	CHECK(fd >= 0);
	if (fd < 0 || guest_memory_create(&mem, RAM, false, err, sizeof(err)) < 0) {
		free(bytes);
		if (fd >= 0)
			close(fd);
		SKIP_TEST("cannot create a file or guest memory");
	}
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
	guest_memory_destroy(&mem);
	close(fd);
	free(bytes);
}

TEST_MAIN("boot_copy",
	TEST_CASE(test_threaded_copy_beside_the_callers),
	TEST_CASE(test_threaded_copy_failures),
	TEST_CASE(test_copies_done_at_once),
)
