#include "crash_dump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DUMP_CHUNK 4096u

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static int write_all_at(int fd, const uint8_t *buf, size_t len, off_t offset)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, offset);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
		offset += n;
	}
	return 0;
}

int crash_dump_write(const struct guest_memory *mem, const char *path,
		     char *err, size_t errlen)
{
	int fd, ret = 0;

	unlink(path);  /* a fresh file: its mode is ours, not a leftover's */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(-ret));
		return ret;
	}
	/* The file's size first, so that trailing zero pages stay holes. */
	if (ftruncate(fd, (off_t)mem->ram_size) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot size %s: %s", path, strerror(-ret));
		goto out;
	}
	for (uint64_t off = 0; off < mem->ram_size; off += DUMP_CHUNK) {
		size_t len = mem->ram_size - off < DUMP_CHUNK ?
			     (size_t)(mem->ram_size - off) : DUMP_CHUNK;
		const uint8_t *page = mem->host_base + off;

		if (all_zero(page, len))
			continue;
		ret = write_all_at(fd, page, len, (off_t)off);
		if (ret < 0) {
			snprintf(err, errlen, "cannot write %s: %s", path, strerror(-ret));
			goto out;
		}
	}
	if (fsync(fd) < 0 && errno != EINVAL) {
		ret = -errno;
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-ret));
	}
out:
	close(fd);
	return ret;
}
