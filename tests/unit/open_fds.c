/* Counting this process's file descriptors (open_fds.h). */
#include "open_fds.h"

#include <dirent.h>

unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (!d)
		return 0;
	/* The directory's own fd and its . and .. entries are in every
	 * count alike: comparisons are unaffected. */
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}
