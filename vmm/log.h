/* Logging for the VMM. Messages go to stderr, one line each, prefixed
 * "gvmm: ". Debug messages appear only when GVMM_DEBUG is set in the
 * environment, so a guest poking at unknown ports cannot flood a terminal. */
#ifndef GVMM_LOG_H
#define GVMM_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool log_debug_enabled(void);

/* Sends messages to sink instead of stderr (tests count what was logged);
 * NULL goes back to stderr. line is the message without the "gvmm: " and
 * level prefixes. Set it while no other thread logs. */
typedef void (*log_sink_fn)(void *ctx, enum log_level level, const char *line);
void log_set_sink(log_sink_fn sink, void *ctx);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
