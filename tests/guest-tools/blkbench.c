/* Guest-side disk benchmark (standalone; `make bench` uses fio instead): random 4 KiB reads (IOPS) and
 * 1 MiB sequential reads and writes (MiB/s) on a block device, with
 * O_DIRECT so the guest's page cache is not what gets measured. Built
 * static by tools/mkguest; prints one "BENCH key=value" line per result. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double sequential(int fd, void *buf, unsigned long long size, int write_mode)
{
	const size_t chunk = 1 << 20;
	double start = now_s();

	for (unsigned long long off = 0; off + chunk <= size; off += chunk) {
		ssize_t n = write_mode ? pwrite(fd, buf, chunk, (off_t)off)
				       : pread(fd, buf, chunk, (off_t)off);
		if (n != (ssize_t)chunk) {
			perror(write_mode ? "pwrite" : "pread");
			exit(1);
		}
	}
	if (write_mode)
		fdatasync(fd);
	return (double)(size >> 20) / (now_s() - start);
}

int main(int argc, char **argv)
{
	unsigned long long size;
	double seconds = argc > 2 ? atof(argv[2]) : 5.0, start;
	unsigned long reads = 0, seed = 12345;
	void *buf;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: blkbench DEVICE [SECONDS]\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0 || posix_memalign(&buf, 4096, 1 << 20)) {
		perror(argv[1]);
		return 1;
	}
	memset(buf, 0x5a, 1 << 20);
	printf("BENCH seq_write_mib_s=%.1f\n", sequential(fd, buf, size, 1));
	printf("BENCH seq_read_mib_s=%.1f\n", sequential(fd, buf, size, 0));
	start = now_s();
	while (now_s() - start < seconds) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		if (pread(fd, buf, 4096, (off_t)((seed >> 16) % (size / 4096)) * 4096) != 4096) {
			perror("pread");
			return 1;
		}
		reads++;
	}
	printf("BENCH randread_4k_iops=%.0f\n", reads / (now_s() - start));
	return 0;
}
