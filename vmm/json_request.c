#include "json_request.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

size_t utf8_sequence_len(const unsigned char *s, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (avail == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2) {
		return 0;  /* a continuation byte, or an overlong two-byte form */
	} else if (s[0] < 0xe0) {
		n = 2;
	} else if (s[0] < 0xf0) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;  /* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;  /* UTF-16 surrogates */
	} else if (s[0] < 0xf5) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;  /* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;  /* beyond U+10FFFF */
	} else {
		return 0;
	}
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* The reader: a position in the input and where to say what went wrong. */
struct json_cursor {
	const unsigned char *s;
	size_t len;
	size_t pos;
	char *err;
	size_t errlen;
};

static int json_fail(struct json_cursor *c, const char *what)
{
	if (c->errlen)
		snprintf(c->err, c->errlen, "invalid JSON at byte %zu: %s", c->pos, what);
	return -1;
}

static bool json_at(const struct json_cursor *c, char ch)
{
	return c->pos < c->len && c->s[c->pos] == (unsigned char)ch;
}

static bool json_at_digit(const struct json_cursor *c)
{
	return c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9';
}

static void json_skip_space(struct json_cursor *c)
{
	while (c->pos < c->len) {
		unsigned char ch = c->s[c->pos];

		if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
			return;
		c->pos++;
	}
}

static int json_expect(struct json_cursor *c, char ch, const char *what)
{
	json_skip_space(c);
	if (!json_at(c, ch))
		return json_fail(c, what);
	c->pos++;
	return 0;
}

/* A decoded string goes to out while it fits; *out_len counts every byte,
 * so the caller sees whether it was cut. */
static void json_emit(char *out, size_t cap, size_t *out_len, const void *bytes, size_t n)
{
	if (out && *out_len < cap)
		memcpy(out + *out_len, bytes, n <= cap - *out_len ? n : cap - *out_len);
	*out_len += n;
}

static int json_read_hex4(struct json_cursor *c, unsigned *value)
{
	*value = 0;
	if (c->len - c->pos < 4)
		return json_fail(c, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		unsigned char ch = c->s[c->pos];
		unsigned digit;

		if (ch >= '0' && ch <= '9')
			digit = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			digit = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			digit = ch - 'A' + 10;
		else
			return json_fail(c, "bad hex digit in a \\u escape");
		*value = *value << 4 | digit;
		c->pos++;
	}
	return 0;
}

static size_t utf8_encode(unsigned cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | cp >> 6;
		out[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = 0xe0 | cp >> 12;
		out[1] = 0x80 | (cp >> 6 & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | cp >> 18;
	out[1] = 0x80 | (cp >> 12 & 0x3f);
	out[2] = 0x80 | (cp >> 6 & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* After the backslash-u: one code point, or a surrogate pair. */
static int json_read_unicode_escape(struct json_cursor *c, unsigned *cp)
{
	unsigned low;

	if (json_read_hex4(c, cp) < 0)
		return -1;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return json_fail(c, "unpaired low surrogate in a \\u escape");
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (c->len - c->pos < 2 || c->s[c->pos] != '\\' || c->s[c->pos + 1] != 'u')
		return json_fail(c, "unpaired high surrogate in a \\u escape");
	c->pos += 2;
	if (json_read_hex4(c, &low) < 0)
		return -1;
	if (low < 0xdc00 || low > 0xdfff)
		return json_fail(c, "unpaired high surrogate in a \\u escape");
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (low - 0xdc00);
	return 0;
}

static int json_read_escape(struct json_cursor *c, char *out, size_t cap, size_t *out_len)
{
	unsigned char bytes[4];
	unsigned cp;
	char ch;

	if (c->pos >= c->len)
		return json_fail(c, "unterminated string");
	switch (c->s[c->pos++]) {
	case '"':  ch = '"';  break;
	case '\\': ch = '\\'; break;
	case '/':  ch = '/';  break;
	case 'b':  ch = '\b'; break;
	case 'f':  ch = '\f'; break;
	case 'n':  ch = '\n'; break;
	case 'r':  ch = '\r'; break;
	case 't':  ch = '\t'; break;
	case 'u':
		if (json_read_unicode_escape(c, &cp) < 0)
			return -1;
		json_emit(out, cap, out_len, bytes, utf8_encode(cp, bytes));
		return 0;
	default:
		c->pos--;
		return json_fail(c, "unknown escape in a string");
	}
	json_emit(out, cap, out_len, &ch, 1);
	return 0;
}

/* At the opening quote; decodes into out (may be NULL) up to cap bytes. */
static int json_read_string(struct json_cursor *c, char *out, size_t cap, size_t *out_len)
{
	*out_len = 0;
	c->pos++;
	for (;;) {
		unsigned char ch;
		size_t n;

		if (c->pos >= c->len)
			return json_fail(c, "unterminated string");
		ch = c->s[c->pos];
		if (ch == '"') {
			c->pos++;
			return 0;
		}
		if (ch < 0x20)
			return json_fail(c, "control character in a string (escape it)");
		if (ch == '\\') {
			c->pos++;
			if (json_read_escape(c, out, cap, out_len) < 0)
				return -1;
			continue;
		}
		n = utf8_sequence_len(c->s + c->pos, c->len - c->pos);
		if (n == 0)
			return json_fail(c, "invalid UTF-8 in a string");
		json_emit(out, cap, out_len, c->s + c->pos, n);
		c->pos += n;
	}
}

/* Checks the grammar only: a number's value never matters to a request,
 * so one with a thousand digits costs nothing and cannot overflow. */
static int json_read_number(struct json_cursor *c)
{
	if (json_at(c, '-'))
		c->pos++;
	if (json_at(c, '0')) {
		c->pos++;
	} else if (json_at_digit(c)) {
		while (json_at_digit(c))
			c->pos++;
	} else {
		return json_fail(c, "invalid number");
	}
	if (json_at(c, '.')) {
		c->pos++;
		if (!json_at_digit(c))
			return json_fail(c, "invalid number: digits must follow '.'");
		while (json_at_digit(c))
			c->pos++;
	}
	if (json_at(c, 'e') || json_at(c, 'E')) {
		c->pos++;
		if (json_at(c, '+') || json_at(c, '-'))
			c->pos++;
		if (!json_at_digit(c))
			return json_fail(c, "invalid number: digits must follow the exponent");
		while (json_at_digit(c))
			c->pos++;
	}
	return 0;
}

static int json_read_literal(struct json_cursor *c, const char *word)
{
	size_t n = strlen(word);

	if (c->len - c->pos < n || memcmp(c->s + c->pos, word, n) != 0)
		return json_fail(c, "expected a value");
	c->pos += n;
	return 0;
}

static int json_read_value(struct json_cursor *c, unsigned depth, struct json_value *v);

/* At '{' or '['; depth counts the container being opened. */
static int json_skip_container(struct json_cursor *c, unsigned depth, bool object)
{
	char close = object ? '}' : ']';
	struct json_value member;
	size_t ignored;

	if (depth > JSON_MAX_DEPTH)
		return json_fail(c, "nested too deep");
	c->pos++;
	json_skip_space(c);
	if (json_at(c, close)) {
		c->pos++;
		return 0;
	}
	for (;;) {
		json_skip_space(c);
		if (object) {
			if (!json_at(c, '"'))
				return json_fail(c, "expected a member name");
			if (json_read_string(c, NULL, 0, &ignored) < 0 ||
			    json_expect(c, ':', "expected ':' after a member name") < 0)
				return -1;
			json_skip_space(c);
		}
		if (json_read_value(c, depth, &member) < 0)
			return -1;
		json_skip_space(c);
		if (json_at(c, close)) {
			c->pos++;
			return 0;
		}
		if (!json_at(c, ','))
			return json_fail(c, object ? "expected ',' or '}'" : "expected ',' or ']'");
		c->pos++;
	}
}

/* At the first byte of a value inside a container at the given depth. */
static int json_read_value(struct json_cursor *c, unsigned depth, struct json_value *v)
{
	size_t start = c->pos;
	size_t ignored;
	int ret;

	if (c->pos >= c->len)
		return json_fail(c, "expected a value");
	switch (c->s[c->pos]) {
	case '"':
		v->type = JSON_STRING;
		ret = json_read_string(c, NULL, 0, &ignored);
		break;
	case '{':
		v->type = JSON_OBJECT;
		ret = json_skip_container(c, depth + 1, true);
		break;
	case '[':
		v->type = JSON_ARRAY;
		ret = json_skip_container(c, depth + 1, false);
		break;
	case 't':
		v->type = JSON_TRUE;
		ret = json_read_literal(c, "true");
		break;
	case 'f':
		v->type = JSON_FALSE;
		ret = json_read_literal(c, "false");
		break;
	case 'n':
		v->type = JSON_NULL;
		ret = json_read_literal(c, "null");
		break;
	default:
		v->type = JSON_NUMBER;
		ret = json_read_number(c);
		break;
	}
	v->text = (const char *)c->s + start;
	v->len = c->pos - start;
	return ret;
}

static int json_read_member(struct json_cursor *c, json_member_fn fn, void *ctx)
{
	char key[JSON_KEY_MAX + 1];
	struct json_value value;
	size_t key_start = c->pos;
	size_t key_len;

	if (!json_at(c, '"'))
		return json_fail(c, "expected a member name");
	if (json_read_string(c, key, JSON_KEY_MAX, &key_len) < 0)
		return -1;
	if (key_len > JSON_KEY_MAX || memchr(key, '\0', key_len)) {
		c->pos = key_start;
		return json_fail(c, key_len > JSON_KEY_MAX ? "member name too long"
				 : "NUL in a member name");
	}
	key[key_len] = '\0';
	if (json_expect(c, ':', "expected ':' after a member name") < 0)
		return -1;
	json_skip_space(c);
	if (json_read_value(c, 1, &value) < 0)
		return -1;
	if (fn && fn(ctx, key, &value, c->err, c->errlen) != 0)
		return -1;
	return 0;
}

int json_object_scan(const char *buf, size_t len, json_member_fn fn, void *ctx,
		     char *err, size_t errlen)
{
	struct json_cursor c = {
		.s = (const unsigned char *)buf, .len = len, .err = err, .errlen = errlen,
	};

	if (json_expect(&c, '{', "expected a JSON object") < 0)
		return -1;
	json_skip_space(&c);
	if (json_at(&c, '}')) {
		c.pos++;
	} else {
		for (;;) {
			json_skip_space(&c);
			if (json_read_member(&c, fn, ctx) < 0)
				return -1;
			json_skip_space(&c);
			if (json_at(&c, '}')) {
				c.pos++;
				break;
			}
			if (!json_at(&c, ','))
				return json_fail(&c, "expected ',' or '}'");
			c.pos++;
		}
	}
	json_skip_space(&c);
	if (c.pos != c.len)
		return json_fail(&c, "unexpected text after the object");
	return 0;
}

int json_string_decode(const struct json_value *value, char *out, size_t cap)
{
	struct json_cursor c = { .s = (const unsigned char *)value->text, .len = value->len };
	size_t n;

	if (value->type != JSON_STRING || cap == 0 || cap > INT_MAX ||
	    !json_at(&c, '"') || json_read_string(&c, out, cap - 1, &n) < 0 ||
	    c.pos != c.len || n > cap - 1 || memchr(out, '\0', n))
		return -1;
	out[n] = '\0';
	return (int)n;
}

struct request_scan {
	struct json_request *req;
	bool have_command;
	bool have_from;
};

int json_uint_decode(const struct json_value *value, uint32_t *out)
{
	uint32_t n = 0;

	if (value->type != JSON_NUMBER || value->len == 0 || value->len > 9)
		return -1;
	for (size_t i = 0; i < value->len; i++) {
		if (value->text[i] < '0' || value->text[i] > '9')
			return -1;
		n = n * 10 + (uint32_t)(value->text[i] - '0');
	}
	*out = n;
	return 0;
}

static int request_from(struct request_scan *scan, const struct json_value *value,
			char *err, size_t errlen)
{
	if (scan->have_from) {
		snprintf(err, errlen, "\"from\" given twice");
		return -1;
	}
	scan->have_from = true;
	if (json_uint_decode(value, &scan->req->from) < 0) {
		snprintf(err, errlen, "\"from\" must be a whole number below 1000000000");
		return -1;
	}
	return 0;
}

static int request_member(void *ctx, const char *key, const struct json_value *value,
			  char *err, size_t errlen)
{
	struct request_scan *scan = ctx;
	int n;

	if (strcmp(key, "from") == 0)
		return request_from(scan, value, err, errlen);
	if (strcmp(key, "command") != 0)
		return 0;
	if (scan->have_command) {
		snprintf(err, errlen, "\"command\" given twice");
		return -1;
	}
	scan->have_command = true;
	if (value->type != JSON_STRING) {
		snprintf(err, errlen, "\"command\" must be a string");
		return -1;
	}
	n = json_string_decode(value, scan->req->command, sizeof(scan->req->command));
	if (n <= 0) {
		snprintf(err, errlen, n == 0 ? "\"command\" is empty"
			 : "\"command\" is not a command name (at most %d bytes, no NUL)",
			 JSON_COMMAND_MAX);
		return -1;
	}
	return 0;
}

int json_request_parse(const char *buf, size_t len, struct json_request *req,
		       char *err, size_t errlen)
{
	struct request_scan scan = { .req = req };

	memset(req, 0, sizeof(*req));
	if (len > JSON_REQUEST_MAX_LEN) {
		snprintf(err, errlen, "request longer than %d bytes", JSON_REQUEST_MAX_LEN);
		return -1;
	}
	if (json_object_scan(buf, len, request_member, &scan, err, errlen) < 0)
		return -1;
	if (!scan.have_command) {
		snprintf(err, errlen, "missing \"command\"");
		return -1;
	}
	return 0;
}

void json_writer_init(struct json_writer *w, char *buf, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	if (cap)
		buf[0] = '\0';
	else
		w->failed = true;
}

static void json_put(struct json_writer *w, const char *bytes, size_t n)
{
	if (w->failed)
		return;
	if (n >= w->cap - w->len) {  /* keeps room for the NUL */
		w->failed = true;
		return;
	}
	memcpy(w->buf + w->len, bytes, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void json_put_str(struct json_writer *w, const char *s)
{
	json_put(w, s, strlen(s));
}

static uint32_t json_depth_bit(const struct json_writer *w)
{
	return 1u << w->depth;
}

/* Places the comma before a value, or checks the key that precedes it. */
static void json_before_value(struct json_writer *w)
{
	uint32_t bit = json_depth_bit(w);

	if (w->failed)
		return;
	if (w->in_object & bit) {
		if (!w->after_key)
			w->failed = true;
		w->after_key = false;
		return;
	}
	if (w->has_item & bit) {
		if (w->depth == 0) {
			w->failed = true;  /* one top-level value only */
			return;
		}
		json_put(w, ",", 1);
	}
	w->has_item |= bit;
}

static void json_put_escaped(struct json_writer *w, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	json_put(w, "\"", 1);
	while (i < len && !w->failed) {
		unsigned char ch = p[i];
		char esc[7];
		size_t n;

		switch (ch) {
		case '"':  json_put(w, "\\\"", 2); i++; continue;
		case '\\': json_put(w, "\\\\", 2); i++; continue;
		case '\b': json_put(w, "\\b", 2);  i++; continue;
		case '\f': json_put(w, "\\f", 2);  i++; continue;
		case '\n': json_put(w, "\\n", 2);  i++; continue;
		case '\r': json_put(w, "\\r", 2);  i++; continue;
		case '\t': json_put(w, "\\t", 2);  i++; continue;
		}
		if (ch < 0x20) {
			esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
			esc[4] = hex[ch >> 4]; esc[5] = hex[ch & 0xf];
			json_put(w, esc, 6);
			i++;
			continue;
		}
		n = utf8_sequence_len(p + i, len - i);
		if (n == 0) {
			json_put(w, "\\ufffd", 6);
			i++;
			continue;
		}
		json_put(w, s + i, n);
		i += n;
	}
	json_put(w, "\"", 1);
}

static void json_container_begin(struct json_writer *w, bool object)
{
	json_before_value(w);
	if (w->failed)
		return;
	if (w->depth + 1 >= 32) {
		w->failed = true;
		return;
	}
	w->depth++;
	w->has_item &= ~json_depth_bit(w);
	if (object)
		w->in_object |= json_depth_bit(w);
	else
		w->in_object &= ~json_depth_bit(w);
	json_put(w, object ? "{" : "[", 1);
}

static void json_container_end(struct json_writer *w, bool object)
{
	if (w->failed)
		return;
	if (w->depth == 0 || w->after_key ||
	    !(w->in_object & json_depth_bit(w)) != !object) {
		w->failed = true;
		return;
	}
	json_put(w, object ? "}" : "]", 1);
	w->depth--;
}

void json_write_object_begin(struct json_writer *w)
{
	json_container_begin(w, true);
}

void json_write_object_end(struct json_writer *w)
{
	json_container_end(w, true);
}

void json_write_array_begin(struct json_writer *w)
{
	json_container_begin(w, false);
}

void json_write_array_end(struct json_writer *w)
{
	json_container_end(w, false);
}

void json_write_key(struct json_writer *w, const char *key)
{
	uint32_t bit = json_depth_bit(w);

	if (w->failed)
		return;
	if (!(w->in_object & bit) || w->after_key) {
		w->failed = true;
		return;
	}
	if (w->has_item & bit)
		json_put(w, ",", 1);
	w->has_item |= bit;
	json_put_escaped(w, key, strlen(key));
	json_put(w, ":", 1);
	w->after_key = true;
}

void json_write_string_len(struct json_writer *w, const char *s, size_t len)
{
	json_before_value(w);
	json_put_escaped(w, s, len);
}

void json_write_string(struct json_writer *w, const char *s)
{
	json_write_string_len(w, s, strlen(s));
}

void json_write_uint(struct json_writer *w, uint64_t value)
{
	char digits[24];

	json_before_value(w);
	snprintf(digits, sizeof(digits), "%" PRIu64, value);
	json_put_str(w, digits);
}

void json_write_bool(struct json_writer *w, bool value)
{
	json_before_value(w);
	json_put_str(w, value ? "true" : "false");
}

const char *json_writer_finish(struct json_writer *w)
{
	if (w->failed || w->depth != 0 || w->after_key || !(w->has_item & 1))
		return NULL;
	return w->buf;
}
