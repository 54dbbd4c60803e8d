#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static log_sink_fn log_sink;
static void *log_sink_ctx;

void log_set_sink(log_sink_fn sink, void *ctx)
{
	log_sink = sink;
	log_sink_ctx = ctx;
}

bool log_debug_enabled(void)
{
	static int enabled = -1;

	if (enabled < 0) {
		const char *env = getenv("GVMM_DEBUG");
		enabled = env && *env && strcmp(env, "0") != 0;
	}
	return enabled;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {
		[LOG_ERROR] = "error: ", [LOG_WARN] = "warning: ",
		[LOG_INFO] = "", [LOG_DEBUG] = "debug: ",
	};
	char line[1024];
	va_list ap;

	if (level == LOG_DEBUG && !log_debug_enabled())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_sink) {
		log_sink(log_sink_ctx, level, line);
		return;
	}
	/* A terminal in raw mode (serial on stdio) needs the carriage return. */
	fprintf(stderr, "gvmm: %s%s%s\n", prefix[level], line,
		isatty(STDERR_FILENO) ? "\r" : "");
}
