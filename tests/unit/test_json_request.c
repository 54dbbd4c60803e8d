/* The control socket's JSON: the request parser must accept exactly the
 * well-formed requests and refuse the rest without reading past its input;
 * the writer must produce valid JSON from any bytes. */
#include "check.h"

#include "../../vmm/json_request.h"

static int parse_len(const char *text, size_t len, struct json_request *req,
		     char *err, size_t errlen)
{
	/* A copy of exactly len bytes, so ASan catches any read past the end. */
	char *copy = malloc(len ? len : 1);
	int ret;

	memcpy(copy, text, len);
	ret = json_request_parse(copy, len, req, err, errlen);
	free(copy);
	return ret;
}

static bool parses_to(const char *text, const char *command)
{
	struct json_request req;
	char err[160];

	if (parse_len(text, strlen(text), &req, err, sizeof(err)) < 0) {
		fprintf(stderr, "  unexpected error for %s: %s\n", text, err);
		return false;
	}
	return strcmp(req.command, command) == 0;
}

static bool refused_len(const char *text, size_t len, const char *want_in_error)
{
	struct json_request req;
	char err[160] = "";

	if (parse_len(text, len, &req, err, sizeof(err)) == 0)
		return false;
	if (!err[0] || (want_in_error && !strstr(err, want_in_error))) {
		fprintf(stderr, "  error for input of %zu bytes was '%s', wanted '%s'\n",
			len, err, want_in_error ? want_in_error : "(any)");
		return false;
	}
	return true;
}

static bool refused(const char *text, const char *want_in_error)
{
	return refused_len(text, strlen(text), want_in_error);
}

static void test_valid_requests(void)
{
	CHECK(parses_to("{\"command\":\"status\"}", "status"));
	CHECK(parses_to("{\"command\":\"quit\"}", "quit"));
	CHECK(parses_to("{\"command\":\"powerdown\",\"id\":1}", "powerdown"));
	/* Unknown commands are the server's business, not the parser's. */
	CHECK(parses_to("{\"command\":\"frobnicate\"}", "frobnicate"));
}

static void test_whitespace(void)
{
	CHECK(parses_to(" \t\r\n{ \"command\" :\t\"pause\" \r}\r\n ", "pause"));
	CHECK(parses_to("{\n\"command\"\n:\n\"resume\"\n}", "resume"));
	CHECK(refused("{\"command\":\"status\"}\f", "unexpected text"));
	CHECK(refused("\v{\"command\":\"status\"}", "expected a JSON object"));
}

static void test_escapes(void)
{
	struct json_value v = { .type = JSON_STRING };
	char out[64];
	const char *s;

	CHECK(parses_to("{\"command\":\"p\\u0061use\"}", "pause"));
	CHECK(parses_to("{\"comm\\u0061nd\":\"status\"}", "status"));
	CHECK(parses_to("{\"command\":\"a\\\"b\\\\c\\/d\"}", "a\"b\\c/d"));
	CHECK(parses_to("{\"command\":\"\\b\\f\\n\\r\\t\"}", "\b\f\n\r\t"));

	s = "\"\\u00e9\\u20AC\\ud83d\\ude00\"";
	v.text = s;
	v.len = strlen(s);
	CHECK_EQ(json_string_decode(&v, out, sizeof(out)), 9);
	CHECK(memcmp(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10) == 0);

	CHECK(refused("{\"command\":\"\\x41\"}", "unknown escape"));
	CHECK(refused("{\"command\":\"\\u12\"}", "hex digit"));
	CHECK(refused("{\"command\":\"\\u12", "truncated"));
	CHECK(refused("{\"command\":\"\\ud800\"}", "unpaired high surrogate"));
	CHECK(refused("{\"command\":\"\\ud800\\u0041\"}", "unpaired high surrogate"));
	CHECK(refused("{\"command\":\"\\udc00\"}", "unpaired low surrogate"));
	CHECK(refused("{\"command\":\"\\", "unterminated"));
}

static void test_utf8_passed_through(void)
{
	CHECK(parses_to("{\"command\":\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"}",
			"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
	CHECK(refused("{\"command\":\"\x80\"}", "UTF-8"));          /* lone continuation */
	CHECK(refused("{\"command\":\"\xc0\xaf\"}", "UTF-8"));      /* overlong '/' */
	CHECK(refused("{\"command\":\"\xe0\x80\xaf\"}", "UTF-8"));  /* overlong */
	CHECK(refused("{\"command\":\"\xed\xa0\x80\"}", "UTF-8"));  /* surrogate */
	CHECK(refused("{\"command\":\"\xf4\x90\x80\x80\"}", "UTF-8")); /* > U+10FFFF */
	CHECK(refused("{\"command\":\"\xe2\x82\"}", "UTF-8"));      /* truncated */
	CHECK(refused("{\"command\":\"\xff\"}", "UTF-8"));
	CHECK(refused("{\"x\":\"\xfe\",\"command\":\"status\"}", "UTF-8"));
}

static void test_utf8_sequence_len(void)
{
	static const struct { const char *bytes; size_t len; size_t want; } cases[] = {
		{ "A", 1, 1 },
		{ "\x7f", 1, 1 },
		{ "\xc2\x80", 2, 2 },
		{ "\xdf\xbf", 2, 2 },
		{ "\xc1\xbf", 2, 0 },
		{ "\xe0\xa0\x80", 3, 3 },
		{ "\xe0\x9f\xbf", 3, 0 },
		{ "\xed\x9f\xbf", 3, 3 },
		{ "\xed\xa0\x80", 3, 0 },
		{ "\xef\xbf\xbf", 3, 3 },
		{ "\xf0\x90\x80\x80", 4, 4 },
		{ "\xf0\x8f\xbf\xbf", 4, 0 },
		{ "\xf4\x8f\xbf\xbf", 4, 4 },
		{ "\xf4\x90\x80\x80", 4, 0 },
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\xe2\x82\xac", 2, 0 },  /* cut by avail */
		{ "\xe2\x41\xac", 3, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_EQ(utf8_sequence_len((const unsigned char *)cases[i].bytes, cases[i].len),
			 cases[i].want);
	CHECK_EQ(utf8_sequence_len((const unsigned char *)"", 0), 0);
}

static void test_unknown_keys_ignored(void)
{
	CHECK(parses_to("{\"id\":7,\"command\":\"status\",\"arguments\":{\"a\":[1,2,{\"b\":null}],"
			"\"c\":{}},\"flag\":true,\"off\":false,\"none\":null,\"list\":[],"
			"\"s\":\"\\u00e9\"}", "status"));
	CHECK(parses_to("{\"command\":\"status\",\"Command\":5,\"command \":[]}", "status"));
}

static uint32_t from_of(const char *text)
{
	struct json_request req;
	char err[160];

	if (parse_len(text, strlen(text), &req, err, sizeof(err)) < 0) {
		fprintf(stderr, "  unexpected error for %s: %s\n", text, err);
		return UINT32_MAX;
	}
	return req.from;
}

static void test_from(void)
{
	CHECK_EQ(from_of("{\"command\":\"vcpus\"}"), 0);
	CHECK_EQ(from_of("{\"command\":\"vcpus\",\"from\":16}"), 16);
	CHECK_EQ(from_of("{\"from\":0,\"command\":\"vcpus\"}"), 0);
	CHECK_EQ(from_of("{\"command\":\"vcpus\",\"from\":999999999}"), 999999999);
	CHECK(refused("{\"command\":\"vcpus\",\"from\":1000000000}", "whole number"));
	CHECK(refused("{\"command\":\"vcpus\",\"from\":-1}", "whole number"));
	CHECK(refused("{\"command\":\"vcpus\",\"from\":1.5}", "whole number"));
	CHECK(refused("{\"command\":\"vcpus\",\"from\":1e3}", "whole number"));
	CHECK(refused("{\"command\":\"vcpus\",\"from\":\"3\"}", "whole number"));
	CHECK(refused("{\"command\":\"vcpus\",\"from\":null}", "whole number"));
	CHECK(refused("{\"command\":\"vcpus\",\"from\":1,\"from\":2}", "twice"));
}

static void test_wrong_types(void)
{
	CHECK(refused("{\"command\":1}", "must be a string"));
	CHECK(refused("{\"command\":null}", "must be a string"));
	CHECK(refused("{\"command\":true}", "must be a string"));
	CHECK(refused("{\"command\":{\"name\":\"status\"}}", "must be a string"));
	CHECK(refused("{\"command\":[\"status\"]}", "must be a string"));
	CHECK(refused("{}", "missing \"command\""));
	CHECK(refused("{\"id\":1}", "missing \"command\""));
	CHECK(refused("{\"command\":\"\"}", "empty"));
	CHECK(refused("{\"command\":\"status\",\"command\":\"quit\"}", "twice"));
}

static void test_command_length(void)
{
	char text[128];

	snprintf(text, sizeof(text), "{\"command\":\"%s\"}", "abcdefghijklmnopqrstuvwxyz012345");
	CHECK(parses_to(text, "abcdefghijklmnopqrstuvwxyz012345"));
	snprintf(text, sizeof(text), "{\"command\":\"%s\"}", "abcdefghijklmnopqrstuvwxyz0123456");
	CHECK(refused(text, "not a command name"));
}

static void test_syntax_errors(void)
{
	static const char *const bad[] = {
		"{\"command\":\"status\",}",
		"{,\"command\":\"status\"}",
		"{\"command\" \"status\"}",
		"{\"command\":}",
		"{'command':'status'}",
		"{command:\"status\"}",
		"{\"command\":\"status\" /* c */}",
		"{\"command\":\"status\"",
		"{\"command\":\"status\"}}",
		"{\"a\":[1,],\"command\":\"status\"}",
		"{\"a\":[1 2],\"command\":\"status\"}",
		"{\"a\":{\"b\"},\"command\":\"status\"}",
		"{\"a\":{\"b\":1,},\"command\":\"status\"}",
		"{\"a\":tru,\"command\":\"status\"}",
		"{\"a\":nul,\"command\":\"status\"}",
		"{\"a\":True,\"command\":\"status\"}",
		"{\"command\":\"st\tatus\"}",
		"{\"command\":\"status\"}x",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool ok = refused(bad[i], "invalid JSON at byte");

		if (!ok)
			fprintf(stderr, "  accepted or misreported: %s\n", bad[i]);
		CHECK(ok);
	}
}

static void test_truncated_input(void)
{
	const char *full = "{\"id\":-1.5e+3,\"command\":\"p\\u00e9\xe2\x82\xac\","
			   "\"args\":{\"x\":[true,false,null,\"\\ud83d\\ude00\"]}}";
	size_t len = strlen(full);
	struct json_request req;
	char err[160];

	/* Every prefix is incomplete, and the parser reads only what it has. */
	for (size_t n = 0; n < len; n++)
		CHECK(refused_len(full, n, NULL));
	CHECK_EQ(parse_len(full, len, &req, err, sizeof(err)), 0);
	CHECK(strcmp(req.command, "p\xc3\xa9\xe2\x82\xac") == 0);
}

static void test_deep_nesting(void)
{
	char text[256];
	size_t n = 0;
	size_t big = 200000;
	char *deep;

	/* The top-level object is depth 1: 15 arrays inside it make 16. */
	n += snprintf(text + n, sizeof(text) - n, "{\"command\":\"status\",\"a\":");
	for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
		text[n++] = '[';
	for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
		text[n++] = ']';
	text[n++] = '}';
	text[n] = '\0';
	CHECK(parses_to(text, "status"));

	n = snprintf(text, sizeof(text), "{\"command\":\"status\",\"a\":");
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		n += snprintf(text + n, sizeof(text) - n, "{\"b\":");
	text[n++] = '1';
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		text[n++] = '}';
	text[n++] = '}';
	text[n] = '\0';
	CHECK(refused(text, "nested too deep"));

	/* Far past any request's length, straight to the scanner: the depth
	 * bound, not the input, limits the recursion. */
	deep = malloc(big);
	memcpy(deep, "{\"a\":", 5);
	memset(deep + 5, '[', big - 5);
	CHECK_EQ(json_object_scan(deep, big, NULL, NULL, text, sizeof(text)), -1);
	CHECK(strstr(text, "nested too deep") != NULL);
	free(deep);
}

static void test_numbers(void)
{
	static const char *const good[] = {
		"0", "-0", "7", "-12", "3.25", "1e9", "1E+9", "2.5e-3",
		"1e999999999999999999999",
		"123456789012345678901234567890123456789012345678901234567890",
		"-0.000000000000000000000000000000000000000000000000000001",
	};
	static const char *const bad[] = {
		"01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "NaN", "Infinity",
		"-Infinity", "1.e5", "--1", "1.5.5",
	};
	char text[160];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "{\"n\":%s,\"command\":\"status\"}", good[i]);
		CHECK(parses_to(text, "status"));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"n\":%s,\"command\":\"status\"}", bad[i]);
		CHECK(refused(text, "invalid JSON"));
	}
}

static void test_non_object_top_level(void)
{
	CHECK(refused("", "expected a JSON object"));
	CHECK(refused("   ", "expected a JSON object"));
	CHECK(refused("[]", "expected a JSON object"));
	CHECK(refused("[{\"command\":\"status\"}]", "expected a JSON object"));
	CHECK(refused("\"status\"", "expected a JSON object"));
	CHECK(refused("42", "expected a JSON object"));
	CHECK(refused("null", "expected a JSON object"));
	CHECK(refused("status", "expected a JSON object"));
	CHECK(refused("{\"command\":\"status\"}{\"command\":\"quit\"}", "unexpected text"));
}

static void test_embedded_nuls(void)
{
	static const char raw_in_string[] = "{\"command\":\"sta\0tus\"}";
	static const char raw_after[] = "{\"command\":\"status\"}\0";
	static const char raw_before[] = "\0{\"command\":\"status\"}";
	static const char raw_in_key[] = "{\"comm\0and\":\"status\"}";

	CHECK(refused_len(raw_in_string, sizeof(raw_in_string) - 1, "control character"));
	CHECK(refused_len(raw_after, sizeof(raw_after) - 1, "unexpected text"));
	CHECK(refused_len(raw_before, sizeof(raw_before) - 1, "expected a JSON object"));
	CHECK(refused_len(raw_in_key, sizeof(raw_in_key) - 1, "control character"));
	CHECK(refused("{\"command\":\"sta\\u0000tus\"}", "not a command name"));
	CHECK(refused("{\"comm\\u0000and\":\"status\"}", "NUL in a member name"));
	/* A NUL in a value nobody reads is still well-formed JSON. */
	CHECK(parses_to("{\"x\":\"\\u0000\",\"command\":\"status\"}", "status"));
}

static void test_length_bound(void)
{
	char *text = malloc(JSON_REQUEST_MAX_LEN + 2);
	const char *req = "{\"command\":\"status\"}";
	size_t n = strlen(req);

	/* Padded with spaces to exactly the limit: accepted; one more: not. */
	memset(text, ' ', JSON_REQUEST_MAX_LEN + 1);
	memcpy(text, req, n);
	text[JSON_REQUEST_MAX_LEN] = '\0';
	CHECK(parses_to(text, "status"));
	text[JSON_REQUEST_MAX_LEN] = ' ';
	text[JSON_REQUEST_MAX_LEN + 1] = '\0';
	CHECK(refused(text, "longer than 4096"));
	free(text);
}

static void test_long_key(void)
{
	char text[256];

	snprintf(text, sizeof(text), "{\"%064d\":1,\"command\":\"status\"}", 0);
	CHECK(parses_to(text, "status"));
	snprintf(text, sizeof(text), "{\"%065d\":1,\"command\":\"status\"}", 0);
	CHECK(refused(text, "member name too long"));
}

static void test_error_names_position(void)
{
	struct json_request req;
	char err[160];

	CHECK_EQ(json_request_parse("{\"command\" \"x\"}", 15, &req, err, sizeof(err)), -1);
	CHECK(strcmp(err, "invalid JSON at byte 11: expected ':' after a member name") == 0);
	/* A tiny error buffer is cut, never overrun. */
	CHECK_EQ(json_request_parse("[", 1, &req, err, 8), -1);
	CHECK_EQ(strlen(err), 7);
	CHECK_EQ(json_request_parse("[", 1, &req, NULL, 0), -1);
}

static void test_string_decode_bounds(void)
{
	struct json_value v = { .type = JSON_STRING, .text = "\"abcd\"", .len = 6 };
	char out[8];

	CHECK_EQ(json_string_decode(&v, out, 5), 4);
	CHECK(strcmp(out, "abcd") == 0);
	memset(out, 'Z', sizeof(out));
	CHECK_EQ(json_string_decode(&v, out, 4), -1);
	CHECK_EQ(out[4], 'Z');
	v.type = JSON_NUMBER;
	CHECK_EQ(json_string_decode(&v, out, sizeof(out)), -1);
	v.type = JSON_STRING;
	v.text = "\"ab\"c";
	v.len = 5;
	CHECK_EQ(json_string_decode(&v, out, sizeof(out)), -1);
}

struct member_log {
	int count;
	enum json_type types[8];
	char keys[8][16];
	size_t lens[8];
};

static int log_member(void *ctx, const char *key, const struct json_value *value,
		      char *err, size_t errlen)
{
	struct member_log *log = ctx;

	(void)err;
	(void)errlen;
	if (log->count < 8) {
		snprintf(log->keys[log->count], sizeof(log->keys[0]), "%s", key);
		log->types[log->count] = value->type;
		log->lens[log->count] = value->len;
	}
	log->count++;
	return 0;
}

static int refuse_member(void *ctx, const char *key, const struct json_value *value,
			 char *err, size_t errlen)
{
	(void)ctx;
	(void)value;
	snprintf(err, errlen, "no %s here", key);
	return 1;
}

static void test_object_scan(void)
{
	const char *text = "{\"s\":\"x\\\"y\",\"n\":-1.5,\"t\":true,\"f\":false,\"z\":null,"
			   "\"o\":{\"a\":[1]},\"a\":[{}]}";
	struct member_log log = { 0 };
	char err[64];

	CHECK_EQ(json_object_scan(text, strlen(text), log_member, &log, err, sizeof(err)), 0);
	CHECK_EQ(log.count, 7);
	CHECK(strcmp(log.keys[0], "s") == 0);
	CHECK_EQ(log.types[0], JSON_STRING);
	CHECK_EQ(log.lens[0], 6);
	CHECK_EQ(log.types[1], JSON_NUMBER);
	CHECK_EQ(log.lens[1], 4);
	CHECK_EQ(log.types[2], JSON_TRUE);
	CHECK_EQ(log.types[3], JSON_FALSE);
	CHECK_EQ(log.types[4], JSON_NULL);
	CHECK_EQ(log.types[5], JSON_OBJECT);
	CHECK_EQ(log.lens[5], 9);
	CHECK_EQ(log.types[6], JSON_ARRAY);
	CHECK_EQ(log.lens[6], 4);

	CHECK_EQ(json_object_scan(text, strlen(text), refuse_member, NULL, err, sizeof(err)), -1);
	CHECK(strcmp(err, "no s here") == 0);
}

static const char *write_string(char *buf, size_t cap, const char *s, size_t len)
{
	struct json_writer w;

	json_writer_init(&w, buf, cap);
	json_write_string_len(&w, s, len);
	return json_writer_finish(&w);
}

static void test_writer_escapes(void)
{
	char buf[128];
	const char *out;

	out = write_string(buf, sizeof(buf), "a\"b\\c/", 6);
	CHECK(out && strcmp(out, "\"a\\\"b\\\\c/\"") == 0);
	out = write_string(buf, sizeof(buf), "\n\r\t\b\f\x01\x1f\x7f", 8);
	CHECK(out && strcmp(out, "\"\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\"") == 0);
	out = write_string(buf, sizeof(buf), "x\0y", 3);
	CHECK(out && strcmp(out, "\"x\\u0000y\"") == 0);
	out = write_string(buf, sizeof(buf), "\xc3\xa9\xf0\x9f\x98\x80", 6);
	CHECK(out && strcmp(out, "\"\xc3\xa9\xf0\x9f\x98\x80\"") == 0);
	/* Not UTF-8: replaced, so the output stays valid JSON. */
	out = write_string(buf, sizeof(buf), "a\xff\xc3(\xed\xa0\x80", 7);
	CHECK(out && strcmp(out, "\"a\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\"") == 0);
}

static void test_writer_structure(void)
{
	char buf[256];
	struct json_writer w;
	const char *out;

	json_writer_init(&w, buf, sizeof(buf));
	json_write_object_begin(&w);
	json_write_key(&w, "ok");
	json_write_bool(&w, true);
	json_write_key(&w, "result");
	json_write_object_begin(&w);
	json_write_key(&w, "n");
	json_write_uint(&w, 18446744073709551615ull);
	json_write_key(&w, "list");
	json_write_array_begin(&w);
	json_write_uint(&w, 1);
	json_write_string(&w, "two");
	json_write_object_begin(&w);
	json_write_object_end(&w);
	json_write_array_begin(&w);
	json_write_array_end(&w);
	json_write_array_end(&w);
	json_write_key(&w, "q\"k");
	json_write_bool(&w, false);
	json_write_object_end(&w);
	json_write_object_end(&w);
	out = json_writer_finish(&w);
	CHECK(out != NULL);
	CHECK(out && strcmp(out, "{\"ok\":true,\"result\":{\"n\":18446744073709551615,"
			    "\"list\":[1,\"two\",{},[]],\"q\\\"k\":false}}") == 0);
}

static void test_writer_misuse(void)
{
	char buf[64];
	struct json_writer w;

	json_writer_init(&w, buf, sizeof(buf));
	json_write_object_begin(&w);
	json_write_uint(&w, 1);  /* a value without a key */
	json_write_object_end(&w);
	CHECK(json_writer_finish(&w) == NULL);

	json_writer_init(&w, buf, sizeof(buf));
	json_write_object_begin(&w);
	CHECK(json_writer_finish(&w) == NULL);  /* still open */

	json_writer_init(&w, buf, sizeof(buf));
	json_write_uint(&w, 1);
	json_write_uint(&w, 2);
	CHECK(json_writer_finish(&w) == NULL);  /* two top-level values */

	json_writer_init(&w, buf, sizeof(buf));
	json_write_array_begin(&w);
	json_write_key(&w, "k");
	CHECK(json_writer_finish(&w) == NULL);

	json_writer_init(&w, buf, sizeof(buf));
	json_write_object_begin(&w);
	json_write_key(&w, "k");
	json_write_object_end(&w);
	CHECK(json_writer_finish(&w) == NULL);  /* a key without its value */

	json_writer_init(&w, buf, sizeof(buf));
	json_write_array_begin(&w);
	json_write_object_end(&w);
	CHECK(json_writer_finish(&w) == NULL);

	json_writer_init(&w, buf, sizeof(buf));
	CHECK(json_writer_finish(&w) == NULL);  /* nothing written */

	json_writer_init(&w, buf, sizeof(buf));
	for (int i = 0; i < 40; i++)
		json_write_array_begin(&w);
	CHECK(w.failed);
}

static void test_writer_overflow(void)
{
	char buf[16];
	struct json_writer w;

	for (size_t cap = 0; cap <= 12; cap++) {
		/* "\"abc\\n\"" is 7 bytes and its NUL an 8th. */
		memset(buf, 'Z', sizeof(buf));
		json_writer_init(&w, buf, cap);
		json_write_string(&w, "abc\n");
		if (cap >= 8) {
			CHECK(json_writer_finish(&w) != NULL);
		} else {
			CHECK(json_writer_finish(&w) == NULL);
		}
		for (size_t i = cap; i < sizeof(buf); i++)
			CHECK_EQ(buf[i], 'Z');
	}
}

/* Whatever bytes go in, the writer's output reads back as a request and,
 * for well-formed UTF-8 without NUL, decodes to the same bytes. */
static void test_writer_round_trip(void)
{
	char name[JSON_COMMAND_MAX + 1], buf[512];
	struct json_request req;
	struct json_writer w;
	char err[160];
	const char *out;

	for (int b = 1; b < 256; b++) {
		size_t len = 0;

		name[len++] = 'x';
		name[len++] = (char)b;
		name[len++] = 'y';
		name[len] = '\0';
		json_writer_init(&w, buf, sizeof(buf));
		json_write_object_begin(&w);
		json_write_key(&w, "command");
		json_write_string(&w, name);
		json_write_object_end(&w);
		out = json_writer_finish(&w);
		CHECK(out != NULL);
		if (!out)
			continue;
		CHECK_EQ(json_request_parse(out, strlen(out), &req, err, sizeof(err)), 0);
		if (b < 0x80)
			CHECK(strcmp(req.command, name) == 0);
		else
			CHECK(strcmp(req.command, "x\xef\xbf\xbdy") == 0);
	}
}

TEST_MAIN("json_request",
	  TEST_CASE(test_valid_requests),
	  TEST_CASE(test_whitespace),
	  TEST_CASE(test_escapes),
	  TEST_CASE(test_utf8_passed_through),
	  TEST_CASE(test_utf8_sequence_len),
	  TEST_CASE(test_unknown_keys_ignored),
	  TEST_CASE(test_from),
	  TEST_CASE(test_wrong_types),
	  TEST_CASE(test_command_length),
	  TEST_CASE(test_syntax_errors),
	  TEST_CASE(test_truncated_input),
	  TEST_CASE(test_deep_nesting),
	  TEST_CASE(test_numbers),
	  TEST_CASE(test_non_object_top_level),
	  TEST_CASE(test_embedded_nuls),
	  TEST_CASE(test_length_bound),
	  TEST_CASE(test_long_key),
	  TEST_CASE(test_error_names_position),
	  TEST_CASE(test_string_decode_bounds),
	  TEST_CASE(test_object_scan),
	  TEST_CASE(test_writer_escapes),
	  TEST_CASE(test_writer_structure),
	  TEST_CASE(test_writer_misuse),
	  TEST_CASE(test_writer_overflow),
	  TEST_CASE(test_writer_round_trip))
