#include "proc_status.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

uint64_t proc_status_kib(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	size_t len = strlen(name);
	char line[256];
	uint64_t kib = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, len) == 0 && line[len] == ':' &&
		    sscanf(line + len + 1, " %" SCNu64, &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}
