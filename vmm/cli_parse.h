/* Parsers for command-line values: pure functions, unit-tested. */
#ifndef GVMM_CLI_PARSE_H
#define GVMM_CLI_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* "512M", "4G", "1048576", "64k", "2T" (binary units, optional "iB"/"B").
 * Returns 0, or -1 for anything else, including overflow and zero. */
int parse_size(const char *text, uint64_t *bytes);

/* --memory's value: "SIZE" or "SIZE,shared=on|off". Returns 0 or -1. */
int parse_memory_option(const char *text, uint64_t *bytes, bool *shared);

/* A decimal count in [min, max]; returns 0 or -1. */
int parse_count(const char *text, unsigned min, unsigned max, unsigned *value);

/* Prints "gvmm: error: ..." as one line on stderr and returns the usage
 * exit status (2), for the subcommands' bad-input paths. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
