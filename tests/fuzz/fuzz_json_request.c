// fuzz-sources: vmm/json_request.c vmm/log.c
/* libFuzzer target for the control socket's JSON. Any input must leave the
 * parser inside its buffer with a clean answer; every member the scanner
 * reports must lie inside the input; and the writer must turn any bytes
 * into JSON the parser reads back, unchanged when they are valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/json_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input_range {
	const char *start;
	size_t len;
};

static bool valid_utf8_without_nul(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = utf8_sequence_len(s + i, len - i);

		if (n == 0 || s[i] == 0)
			return false;
		i += n;
	}
	return true;
}

static int check_member(void *ctx, const char *key, const struct json_value *value,
			char *err, size_t errlen)
{
	const struct input_range *in = ctx;
	char decoded[64];

	(void)err;
	(void)errlen;
	if (strlen(key) > JSON_KEY_MAX)
		abort();
	if (value->text < in->start || value->len == 0 ||
	    value->len > in->len - (size_t)(value->text - in->start))
		abort();
	if (value->type == JSON_STRING &&
	    (value->text[0] != '"' || value->text[value->len - 1] != '"'))
		abort();
	if (value->type == JSON_STRING && json_string_decode(value, decoded, sizeof(decoded)) >= 0 &&
	    !valid_utf8_without_nul((const uint8_t *)decoded, strlen(decoded)))
		abort();
	return 0;
}

static void check_request(const uint8_t *data, size_t size)
{
	struct json_request req;
	char err[160];
	size_t n;

	memset(err, 0, sizeof(err));
	if (json_request_parse((const char *)data, size, &req, err, sizeof(err)) < 0) {
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort();
		return;
	}
	n = strnlen(req.command, sizeof(req.command));
	if (n == 0 || n > JSON_COMMAND_MAX ||
	    !valid_utf8_without_nul((const uint8_t *)req.command, n))
		abort();
}

static void check_scan(const uint8_t *data, size_t size)
{
	struct input_range in = { (const char *)data, size };
	char err[160];

	json_object_scan((const char *)data, size, check_member, &in, err, sizeof(err));
}

/* The input as a command name: always valid JSON out, and the same bytes
 * back when they can be a command. */
static void check_writer(const uint8_t *data, size_t size)
{
	size_t cap = size * 6 + 32;
	char *buf = malloc(cap);
	struct json_request req;
	struct json_writer w;
	const char *out;
	char err[160];

	if (!buf)
		return;
	json_writer_init(&w, buf, cap);
	json_write_object_begin(&w);
	json_write_key(&w, "command");
	json_write_string_len(&w, (const char *)data, size);
	json_write_object_end(&w);
	out = json_writer_finish(&w);
	if (!out || json_object_scan(out, strlen(out), NULL, NULL, err, sizeof(err)) < 0)
		abort();
	if (size > 0 && size <= JSON_COMMAND_MAX && valid_utf8_without_nul(data, size)) {
		if (json_request_parse(out, strlen(out), &req, err, sizeof(err)) < 0 ||
		    strlen(req.command) != size || memcmp(req.command, data, size) != 0)
			abort();
	}
	/* Far too small a buffer fails cleanly. */
	json_writer_init(&w, buf, size % 8);
	json_write_string_len(&w, (const char *)data, size);
	if (json_writer_finish(&w) && strlen(buf) >= size % 8)
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy of exactly size bytes: ASan sees any overread. */
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	check_request(copy, size);
	check_scan(copy, size);
	check_writer(copy, size);
	free(copy);
	return 0;
}
