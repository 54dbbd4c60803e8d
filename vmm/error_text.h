/* One-line reasons that parsers and loaders hand back to their callers,
 * who add what was being parsed ("--net 'VALUE': ...") and report it. */
#ifndef GVMM_ERROR_TEXT_H
#define GVMM_ERROR_TEXT_H

#include <stddef.h>

/* Formats the reason into err (errlen bytes; 0 writes nothing) and
 * returns -1, so a failing path reads `return write_error(...)`. */
int write_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
