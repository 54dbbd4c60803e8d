/* Picks the loader for a kernel file by its format. A bzImage is tried
 * first: it is what distributions install. */
#include "boot.h"

#include <stdio.h>

int kernel_load(struct guest_memory *mem, const struct kernel_load_args *args,
		struct boot_setup *out, char *err, size_t errlen)
{
	if (bzimage_detect(args->kernel, args->kernel_len))
		return bzimage_load(mem, args, out, err, errlen);
	if (pvh_detect(args->kernel, args->kernel_len))
		return pvh_load(mem, args, out, err, errlen);
	snprintf(err, errlen, "not a Linux kernel: no bzImage header and no PVH ELF note");
	return -1;
}
