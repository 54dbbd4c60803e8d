#include "cli_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int parse_size(const char *text, uint64_t *bytes)
{
	unsigned long long value;
	unsigned shift = 0;
	char *end;

	if (!text || !isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0))
		end += strlen(end);
	if (*end != '\0' || value == 0)
		return -1;
	if (shift && value > (UINT64_MAX >> shift))
		return -1;
	*bytes = (uint64_t)value << shift;
	return 0;
}

int parse_memory_option(const char *text, uint64_t *bytes, bool *shared)
{
	const char *comma = strchr(text, ',');
	char size[32];

	if (!comma)
		return parse_size(text, bytes);
	if ((size_t)(comma - text) >= sizeof(size))
		return -1;
	memcpy(size, text, (size_t)(comma - text));
	size[comma - text] = '\0';
	if (strcmp(comma + 1, "shared=on") == 0)
		*shared = true;
	else if (strcmp(comma + 1, "shared=off") == 0)
		*shared = false;
	else
		return -1;
	return parse_size(size, bytes);
}

int parse_count(const char *text, unsigned min, unsigned max, unsigned *value)
{
	unsigned long v;
	char *end;

	if (!text || !isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*value = (unsigned)v;
	return 0;
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("gvmm: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}
