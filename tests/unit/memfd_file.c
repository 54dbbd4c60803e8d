#include "memfd_file.h"

#include <sys/mman.h>
#include <unistd.h>

int memfd_file(const void *bytes, size_t len)
{
	const char *p = bytes;
	int fd = memfd_create("gvmm-test-file", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return fd;
}

struct boot_file_fds boot_files_of(const void *kernel, size_t kernel_len,
				   const void *initrd, size_t initrd_len)
{
	struct boot_file_fds fds = {
		.kernel = memfd_file(kernel, kernel_len),
		.initrd = memfd_file(initrd, initrd_len),
	};

	if (fds.kernel < 0 || fds.initrd < 0)
		boot_files_close(&fds);
	return fds;
}

void boot_files_close(struct boot_file_fds *fds)
{
	if (fds->kernel >= 0)
		close(fds->kernel);
	if (fds->initrd >= 0)
		close(fds->initrd);
	fds->kernel = fds->initrd = -1;
}
