/* Loading a kernel into guest memory. Loaders are pure functions over the
 * kernel file's bytes and guest memory: they never touch KVM, so unit tests
 * and fuzzers call them directly. The result says how the boot vCPU must
 * start; firmware/x86_boot_cpu.c turns it into registers. */
#ifndef GVMM_BOOT_H
#define GVMM_BOOT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vmm/guest_memory.h"

enum boot_mode {
	BOOT_MODE_LINUX64,  /* 64-bit boot protocol: long mode, RSI = zero page */
	BOOT_MODE_PVH32,    /* PVH: 32-bit protected mode, paging off, EBX = hvm_start_info */
};

struct boot_setup {
	enum boot_mode mode;
	uint64_t entry;          /* guest physical entry point */
	uint64_t boot_info_gpa;  /* zero page or hvm_start_info */
};

/* The kernel and initrd files, still open: -1 for one that is not. */
struct boot_file_fds {
	int kernel;
	int initrd;
};

struct kernel_load_args {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd;   /* NULL when there is none */
	size_t initrd_len;
	const char *cmdline;     /* never NULL; "" for none */
	uint64_t rsdp_gpa;       /* where acpi_build put the RSDP */
	/* NULL, or the files the buffers above map: the loaders then read
	 * the large ranges (the kernel's payload or segments, the initrd)
	 * from them (boot_copy), and parse headers from the buffers. */
	const struct boot_file_fds *fds;
};

/* Puts LEN bytes at OFFSET of a file at GPA: read from FD when it is open
 * (>= 0), else copied from BUF, the file's bytes. 0, or -1 when the range
 * is not guest RAM or the file holds fewer bytes than it did. */
int boot_copy(struct guest_memory *mem, uint64_t gpa, const uint8_t *buf, int fd,
	      uint64_t offset, size_t len);

/* The same copy, begun on a thread of its own so that the caller can load
 * the kernel meanwhile: the initrd and the kernel's payload are the two
 * large copies of start-up, and most of each is the host kernel clearing
 * the guest RAM the bytes land in. Only a copy from a file that is large
 * enough to be worth a thread gets one; any other is done at once, as is
 * one whose thread cannot be started, and one of no bytes is done by
 * definition. boot_copy_end must follow every boot_copy_begin: it waits
 * for the copy and returns boot_copy's result (0 for no bytes). */
struct boot_copy_job {
	struct guest_memory *mem;
	uint64_t gpa;
	const uint8_t *buf;
	int fd;
	uint64_t offset;
	size_t len;
	int result;
	bool threaded;
	pthread_t thread;      /* when threaded */
};

void boot_copy_begin(struct boot_copy_job *job, struct guest_memory *mem, uint64_t gpa,
		     const uint8_t *buf, int fd, uint64_t offset, size_t len);
int boot_copy_end(struct boot_copy_job *job);

bool bzimage_detect(const uint8_t *buf, size_t len);
bool pvh_detect(const uint8_t *buf, size_t len);

/* Each returns 0, or -1 with one line (no trailing newline) in err. */
int bzimage_load(struct guest_memory *mem, const struct kernel_load_args *args,
		 struct boot_setup *out, char *err, size_t errlen);
int pvh_load(struct guest_memory *mem, const struct kernel_load_args *args,
	     struct boot_setup *out, char *err, size_t errlen);
/* Detects the format and calls the right loader; a file that is neither
 * gets "not a Linux kernel: ..." in err. */
int kernel_load(struct guest_memory *mem, const struct kernel_load_args *args,
		struct boot_setup *out, char *err, size_t errlen);

#endif
