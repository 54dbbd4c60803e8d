/* The JSON spoken on gvmm's control socket. Requests are one object per
 * line whose "command" member names what to do, with an optional "from"
 * (a whole number) for commands that list in pages; other members are
 * checked for well-formedness and ignored, so older gvmm builds accept requests
 * that newer clients decorate. The reader is strict (RFC 8259: UTF-8 only,
 * no trailing commas, no comments) and bounded in length and nesting, since
 * anyone who can open the socket writes its input. Everything here works on
 * byte buffers, with no I/O, so a fuzzer can drive it directly.
 *
 * The writer builds responses into a caller's buffer and escapes every
 * string, so the output is valid JSON whatever bytes it is given. */
#ifndef GVMM_JSON_REQUEST_H
#define GVMM_JSON_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_REQUEST_MAX_LEN   4096  /* bytes in one request, without its newline */
#define JSON_MAX_DEPTH         16    /* nested objects/arrays in a skipped value */
#define JSON_KEY_MAX           64    /* decoded bytes in a member name */
#define JSON_COMMAND_MAX       32    /* decoded bytes in a command name */

enum json_type {
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
	JSON_OBJECT,
	JSON_ARRAY,
};

/* One member's value, as it appears in the input (quotes included for a
 * string); valid while the input buffer is. */
struct json_value {
	enum json_type type;
	const char *text;
	size_t len;
};

/* Called for each member of the top-level object, in order. key is the
 * decoded name (NUL-terminated; a name with an embedded NUL or longer than
 * JSON_KEY_MAX is refused before this is called). Returning nonzero stops
 * the scan, which then fails with whatever the callback put in err. */
typedef int (*json_member_fn)(void *ctx, const char *key,
			      const struct json_value *value,
			      char *err, size_t errlen);

/* Checks that buf[0..len) is exactly one JSON object (whitespace around it
 * allowed) and hands each member to fn. Nested values are validated to
 * JSON_MAX_DEPTH and passed whole. Returns 0, or -1 with one line in err. */
int json_object_scan(const char *buf, size_t len, json_member_fn fn, void *ctx,
		     char *err, size_t errlen);

/* Decodes a JSON_STRING value into out as a C string. Returns its length,
 * or -1 when it is not a string, holds a NUL or does not fit in cap - 1. */
int json_string_decode(const struct json_value *value, char *out, size_t cap);

/* Decodes a JSON_NUMBER written as plain digits, at most 9 of them (below
 * 10^9), into *out. Returns 0, or -1 for any other value (a sign, a
 * fraction, an exponent, more digits). */
int json_uint_decode(const struct json_value *value, uint32_t *out);

struct json_request {
	char command[JSON_COMMAND_MAX + 1];
	uint32_t from;  /* "from": where a listing starts (vcpus); 0 when absent */
};

/* Parses one request line (the newline already stripped). Returns 0, or -1
 * with one line in err saying what is wrong with it. */
int json_request_parse(const char *buf, size_t len, struct json_request *req,
		       char *err, size_t errlen);

/* Length of the well-formed UTF-8 sequence at s (1 to 4), or 0 when the
 * bytes there are not one (overlong forms, surrogates, beyond U+10FFFF and
 * truncated sequences are not). */
size_t utf8_sequence_len(const unsigned char *s, size_t avail);

/* A JSON text built in a fixed buffer. Commas and colons are placed by the
 * writer; any misuse or overflow marks it failed, and finish says so. */
struct json_writer {
	char *buf;
	size_t cap;
	size_t len;
	bool failed;
	bool after_key;     /* a key was written: its value comes next */
	unsigned depth;     /* open objects and arrays */
	uint32_t has_item;  /* bit d: the container at depth d already holds a value */
	uint32_t in_object; /* bit d: the container at depth d is an object */
};

void json_writer_init(struct json_writer *w, char *buf, size_t cap);
void json_write_object_begin(struct json_writer *w);
void json_write_object_end(struct json_writer *w);
void json_write_array_begin(struct json_writer *w);
void json_write_array_end(struct json_writer *w);
void json_write_key(struct json_writer *w, const char *key);
/* Escapes quotes, backslashes and control characters; bytes that are not
 * well-formed UTF-8 become U+FFFD. */
void json_write_string(struct json_writer *w, const char *s);
void json_write_string_len(struct json_writer *w, const char *s, size_t len);
void json_write_uint(struct json_writer *w, uint64_t value);
void json_write_bool(struct json_writer *w, bool value);
/* The text, NUL-terminated, or NULL when it failed, overflowed or has a
 * container still open. */
const char *json_writer_finish(struct json_writer *w);

#endif
