#include "aml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opcodes and prefixes from the AML grammar (ACPI spec, chapter 20). */
#define AML_ZERO_OP          0x00
#define AML_ONE_OP           0x01
#define AML_NAME_OP          0x08
#define AML_BYTE_PREFIX      0x0a
#define AML_WORD_PREFIX      0x0b
#define AML_DWORD_PREFIX     0x0c
#define AML_STRING_PREFIX    0x0d
#define AML_QWORD_PREFIX     0x0e
#define AML_SCOPE_OP         0x10
#define AML_BUFFER_OP        0x11
#define AML_PACKAGE_OP       0x12
#define AML_METHOD_OP        0x14
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX    0x5b
#define AML_DEVICE_OP        0x82  /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR        0x5c
#define AML_PARENT_PREFIX    0x5e
#define AML_RETURN_OP        0xa4
#define AML_NULL_NAME        0x00

/* Resource descriptor tags (ACPI spec, section 6.4). Small tags carry their
 * length in the low three bits. */
#define RES_IRQ_NOFLAGS      0x22
#define RES_IRQ              0x23
#define RES_IO               0x47
#define RES_END_TAG          0x79
#define RES_MEMORY32_FIXED   0x86
#define RES_DWORD_ADDRESS    0x87
#define RES_WORD_ADDRESS     0x88
#define RES_EXT_INTERRUPT    0x89
#define RES_QWORD_ADDRESS    0x8a

#define RES_TYPE_MEMORY      0
#define RES_TYPE_IO          1
#define RES_TYPE_BUS_NUMBER  2

/* General flags of an address space descriptor; bit 0 left clear means
 * the device produces the range (for its children) rather than consumes it. */
#define RES_MIN_FIXED        0x04
#define RES_MAX_FIXED        0x08
/* Type-specific flags. */
#define RES_IO_ENTIRE_RANGE  0x03  /* ISA and non-ISA ranges */
#define RES_MEM_WRITABLE     0x01

#define PKG_LENGTH_MAX       0x0fffffff  /* 28 bits */
#define PACKAGE_MAX_ELEMENTS 255         /* NumElements is a byte */

__attribute__((format(printf, 2, 3)))
static void fail(struct aml_builder *b, const char *fmt, ...)
{
	va_list ap;

	if (b->failed)
		return;
	b->failed = true;
	va_start(ap, fmt);
	vsnprintf(b->error, sizeof(b->error), fmt, ap);
	va_end(ap);
}

static bool reserve(struct aml_builder *b, size_t n)
{
	size_t want, cap;
	uint8_t *bytes;

	if (b->failed)
		return false;
	if (n > SIZE_MAX / 2 - b->len) {
		fail(b, "out of memory");
		return false;
	}
	want = b->len + n;
	if (want <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	bytes = realloc(b->bytes, cap);
	if (!bytes) {
		fail(b, "out of memory");
		return false;
	}
	b->bytes = bytes;
	b->cap = cap;
	return true;
}

void aml_init(struct aml_builder *b)
{
	memset(b, 0, sizeof(*b));
}

void aml_free(struct aml_builder *b)
{
	free(b->bytes);
	memset(b, 0, sizeof(*b));
}

int aml_finish(const struct aml_builder *b, char *err, size_t errlen)
{
	if (b->failed) {
		snprintf(err, errlen, "AML: %s", b->error);
		return -1;
	}
	if (b->depth) {
		snprintf(err, errlen, "AML: %u object(s) opened but never closed",
			 b->depth);
		return -1;
	}
	return 0;
}

void aml_bytes(struct aml_builder *b, const void *data, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->bytes + b->len, data, n);
	b->len += n;
}

static void put_byte(struct aml_builder *b, uint8_t v)
{
	aml_bytes(b, &v, 1);
}

static void put_le(struct aml_builder *b, uint64_t v, unsigned size)
{
	uint8_t le[8];

	for (unsigned i = 0; i < size; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(b, le, size);
}

static void insert_at(struct aml_builder *b, size_t pos, const uint8_t *data,
		      size_t n)
{
	if (!reserve(b, n))
		return;
	memmove(b->bytes + pos + n, b->bytes + pos, b->len - pos);
	memcpy(b->bytes + pos, data, n);
	b->len += n;
}

size_t aml_encode_pkg_length(uint8_t out[4], size_t body_len)
{
	if (body_len > PKG_LENGTH_MAX)
		return 0;
	if (body_len + 1 <= 0x3f) {
		out[0] = (uint8_t)(body_len + 1);
		return 1;
	}
	/* Longer forms: the lead byte holds the count of following bytes in
	 * bits 7-6 and the low nibble of the length; each following byte
	 * holds the next eight bits. */
	for (size_t n = 2; n <= 4; n++) {
		size_t total = body_len + n;

		if (total >= (size_t)1 << (4 + 8 * (n - 1)))
			continue;
		out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
		for (size_t i = 1; i < n; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		return n;
	}
	return 0;
}

static size_t encode_integer(uint8_t out[9], uint64_t v)
{
	unsigned size;

	if (v == 0) {
		out[0] = AML_ZERO_OP;
		return 1;
	}
	if (v == 1) {
		out[0] = AML_ONE_OP;
		return 1;
	}
	if (v <= 0xff) {
		out[0] = AML_BYTE_PREFIX;
		size = 1;
	} else if (v <= 0xffff) {
		out[0] = AML_WORD_PREFIX;
		size = 2;
	} else if (v <= 0xffffffff) {
		out[0] = AML_DWORD_PREFIX;
		size = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		size = 8;
	}
	for (unsigned i = 0; i < size; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return 1 + size;
}

/* A data object inside a Package is one of its elements. */
static void count_element(struct aml_builder *b)
{
	struct aml_open *top;

	if (b->failed || !b->depth)
		return;
	top = &b->open[b->depth - 1];
	if (top->kind != AML_OPEN_PACKAGE)
		return;
	if (++top->nr_elements > PACKAGE_MAX_ELEMENTS)
		fail(b, "Package with more than 255 elements");
}

static bool name_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
	return name_lead_char(c) || (c >= '0' && c <= '9');
}

static void put_name_string(struct aml_builder *b, const char *path)
{
	uint8_t segs[255][4];
	unsigned nr_segs = 0;
	const char *p = path;

	if (b->failed)
		return;
	if (*p == '\\') {
		put_byte(b, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			put_byte(b, AML_PARENT_PREFIX);
			p++;
		}
	}
	while (*p) {
		size_t n = strcspn(p, ".");

		if (n == 0 || n > 4 || nr_segs == 255 || !name_lead_char(p[0])) {
			fail(b, "invalid name \"%s\"", path);
			return;
		}
		for (size_t i = 0; i < 4; i++) {
			if (i < n && !name_char(p[i])) {
				fail(b, "invalid name \"%s\"", path);
				return;
			}
			segs[nr_segs][i] = i < n ? (uint8_t)p[i] : '_';
		}
		nr_segs++;
		p += n;
		if (*p == '.' && !*++p) {
			fail(b, "invalid name \"%s\"", path);
			return;
		}
	}
	if (nr_segs == 0) {
		put_byte(b, AML_NULL_NAME);
		return;
	}
	if (nr_segs == 2) {
		put_byte(b, AML_DUAL_NAME_PREFIX);
	} else if (nr_segs > 2) {
		put_byte(b, AML_MULTI_NAME_PREFIX);
		put_byte(b, (uint8_t)nr_segs);
	}
	aml_bytes(b, segs, 4 * (size_t)nr_segs);
}

void aml_integer(struct aml_builder *b, uint64_t value)
{
	uint8_t enc[9];

	count_element(b);
	aml_bytes(b, enc, encode_integer(enc, value));
}

void aml_dword(struct aml_builder *b, uint32_t value)
{
	count_element(b);
	put_byte(b, AML_DWORD_PREFIX);
	put_le(b, value, 4);
}

void aml_string(struct aml_builder *b, const char *s)
{
	for (const char *c = s; *c; c++) {
		if ((unsigned char)*c > 0x7f) {
			fail(b, "string is not ASCII");
			return;
		}
	}
	count_element(b);
	put_byte(b, AML_STRING_PREFIX);
	aml_bytes(b, s, strlen(s) + 1);
}

void aml_name_ref(struct aml_builder *b, const char *path)
{
	count_element(b);
	put_name_string(b, path);
}

void aml_name(struct aml_builder *b, const char *path)
{
	put_byte(b, AML_NAME_OP);
	put_name_string(b, path);
}

void aml_name_integer(struct aml_builder *b, const char *path, uint64_t value)
{
	aml_name(b, path);
	aml_integer(b, value);
}

void aml_name_string(struct aml_builder *b, const char *path, const char *s)
{
	aml_name(b, path);
	aml_string(b, s);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool aml_eisaid(const char *id, uint32_t *value)
{
	uint8_t enc[4];

	if (strlen(id) != 7)
		return false;
	for (int i = 0; i < 3; i++)
		if (id[i] < 'A' || id[i] > 'Z')
			return false;
	for (int i = 3; i < 7; i++)
		if (hex_digit(id[i]) < 0)
			return false;
	/* Three letters of five bits each ('A' is 1), big-endian, then the
	 * product number as four hex digits, also big-endian. */
	enc[0] = (uint8_t)(((id[0] - '@') << 2) | ((id[1] - '@') >> 3));
	enc[1] = (uint8_t)((((id[1] - '@') & 7) << 5) | (id[2] - '@'));
	enc[2] = (uint8_t)((hex_digit(id[3]) << 4) | hex_digit(id[4]));
	enc[3] = (uint8_t)((hex_digit(id[5]) << 4) | hex_digit(id[6]));
	*value = (uint32_t)enc[0] | (uint32_t)enc[1] << 8 |
		 (uint32_t)enc[2] << 16 | (uint32_t)enc[3] << 24;
	return true;
}

void aml_name_eisaid(struct aml_builder *b, const char *path, const char *id)
{
	uint32_t value;

	if (!aml_eisaid(id, &value)) {
		fail(b, "invalid EISA id \"%s\"", id);
		return;
	}
	aml_name(b, path);
	/* Always a DWord, as ASL's EISAID() compiles, whatever the value. */
	aml_dword(b, value);
}

void aml_return(struct aml_builder *b)
{
	put_byte(b, AML_RETURN_OP);
}

static void push_open(struct aml_builder *b, enum aml_open_kind kind)
{
	if (b->failed)
		return;
	if (b->depth == AML_MAX_DEPTH) {
		fail(b, "objects nested too deep");
		return;
	}
	b->open[b->depth++] = (struct aml_open){
		.kind = kind,
		.body_start = b->len,
	};
}

void aml_begin_scope(struct aml_builder *b, const char *path)
{
	put_byte(b, AML_SCOPE_OP);
	push_open(b, AML_OPEN_SCOPE);
	put_name_string(b, path);
}

void aml_begin_device(struct aml_builder *b, const char *path)
{
	put_byte(b, AML_EXT_OP_PREFIX);
	put_byte(b, AML_DEVICE_OP);
	push_open(b, AML_OPEN_DEVICE);
	put_name_string(b, path);
}

void aml_begin_method(struct aml_builder *b, const char *path,
		      unsigned nr_args, bool serialized)
{
	if (nr_args > 7) {
		fail(b, "method %s with %u arguments (at most 7)", path, nr_args);
		return;
	}
	put_byte(b, AML_METHOD_OP);
	push_open(b, AML_OPEN_METHOD);
	put_name_string(b, path);
	/* MethodFlags: argument count in bits 0-2, SerializeFlag in bit 3,
	 * SyncLevel 0. */
	put_byte(b, (uint8_t)(nr_args | (serialized ? 0x08 : 0)));
}

void aml_begin_package(struct aml_builder *b)
{
	count_element(b);
	put_byte(b, AML_PACKAGE_OP);
	push_open(b, AML_OPEN_PACKAGE);
	put_byte(b, 0);  /* NumElements, set by aml_end() */
}

void aml_begin_buffer(struct aml_builder *b)
{
	count_element(b);
	put_byte(b, AML_BUFFER_OP);
	push_open(b, AML_OPEN_BUFFER);
}

void aml_begin_resource_template(struct aml_builder *b)
{
	count_element(b);
	put_byte(b, AML_BUFFER_OP);
	push_open(b, AML_OPEN_RESOURCES);
}

static void close_with_pkg_length(struct aml_builder *b, size_t body_start)
{
	uint8_t pkg_length[4];
	size_t n = aml_encode_pkg_length(pkg_length, b->len - body_start);

	if (!n) {
		fail(b, "object too long for a PkgLength");
		return;
	}
	insert_at(b, body_start, pkg_length, n);
}

/* A Buffer's PkgLength covers its BufferSize term as well as the bytes. */
static void close_buffer(struct aml_builder *b, size_t body_start)
{
	uint8_t head[4 + 9];
	uint8_t size_term[9];
	size_t data_len = b->len - body_start;
	size_t size_len = encode_integer(size_term, data_len);
	size_t pkg_len = aml_encode_pkg_length(head, size_len + data_len);

	if (!pkg_len) {
		fail(b, "buffer too long for a PkgLength");
		return;
	}
	memcpy(head + pkg_len, size_term, size_len);
	insert_at(b, body_start, head, pkg_len + size_len);
}

static void put_end_tag(struct aml_builder *b, size_t body_start)
{
	uint8_t sum = RES_END_TAG;

	if (b->failed)
		return;
	for (size_t i = body_start; i < b->len; i++)
		sum = (uint8_t)(sum + b->bytes[i]);
	put_byte(b, RES_END_TAG);
	put_byte(b, (uint8_t)-sum);
}

void aml_end(struct aml_builder *b)
{
	struct aml_open *top;

	if (b->failed)
		return;
	if (!b->depth) {
		fail(b, "aml_end() without an open object");
		return;
	}
	top = &b->open[--b->depth];
	switch (top->kind) {
	case AML_OPEN_SCOPE:
	case AML_OPEN_DEVICE:
	case AML_OPEN_METHOD:
		close_with_pkg_length(b, top->body_start);
		break;
	case AML_OPEN_PACKAGE:
		b->bytes[top->body_start] = (uint8_t)top->nr_elements;
		close_with_pkg_length(b, top->body_start);
		break;
	case AML_OPEN_RESOURCES:
		put_end_tag(b, top->body_start);
		close_buffer(b, top->body_start);
		break;
	case AML_OPEN_BUFFER:
		close_buffer(b, top->body_start);
		break;
	}
}

void aml_method_return_integer(struct aml_builder *b, const char *path,
			       uint64_t value)
{
	aml_begin_method(b, path, 0, false);
	aml_return(b);
	aml_integer(b, value);
	aml_end(b);
}

static bool in_resource_template(struct aml_builder *b)
{
	if (b->failed)
		return false;
	if (!b->depth || b->open[b->depth - 1].kind != AML_OPEN_RESOURCES) {
		fail(b, "resource descriptor outside a ResourceTemplate");
		return false;
	}
	return true;
}

void aml_io(struct aml_builder *b, uint16_t min, uint16_t max,
	    uint8_t alignment, uint8_t length)
{
	if (!in_resource_template(b))
		return;
	if (min > max) {
		fail(b, "IO descriptor with minimum above maximum");
		return;
	}
	put_byte(b, RES_IO);
	put_byte(b, 0x01);  /* decodes all 16 address bits */
	put_le(b, min, 2);
	put_le(b, max, 2);
	put_byte(b, alignment);
	put_byte(b, length);
}

static bool check_isa_irq(struct aml_builder *b, uint8_t irq)
{
	if (irq < 16)
		return true;
	fail(b, "IRQ descriptor for IRQ %u (at most 15)", irq);
	return false;
}

void aml_irq_noflags(struct aml_builder *b, uint8_t irq)
{
	if (!in_resource_template(b) || !check_isa_irq(b, irq))
		return;
	put_byte(b, RES_IRQ_NOFLAGS);
	put_le(b, 1u << irq, 2);
}

void aml_irq(struct aml_builder *b, uint8_t irq, uint8_t flags)
{
	if (!in_resource_template(b) || !check_isa_irq(b, irq))
		return;
	put_byte(b, RES_IRQ);
	put_le(b, 1u << irq, 2);
	put_byte(b, flags);
}

void aml_interrupt(struct aml_builder *b, uint32_t gsi, uint8_t flags)
{
	if (!in_resource_template(b))
		return;
	put_byte(b, RES_EXT_INTERRUPT);
	put_le(b, 2 + 4, 2);  /* flags, table length, one interrupt */
	put_byte(b, flags);
	put_byte(b, 1);
	put_le(b, gsi, 4);
}

void aml_memory32_fixed(struct aml_builder *b, uint32_t base, uint32_t length,
			bool writable)
{
	if (!in_resource_template(b))
		return;
	put_byte(b, RES_MEMORY32_FIXED);
	put_le(b, 9, 2);
	put_byte(b, writable ? 0x01 : 0x00);
	put_le(b, base, 4);
	put_le(b, length, 4);
}

/* Word, DWord and QWord address space descriptors differ only in tag and
 * field width: granularity, minimum, maximum, translation, length. */
static void put_address_space(struct aml_builder *b, uint8_t tag,
			      unsigned field_size, uint8_t resource_type,
			      uint8_t type_flags, uint64_t min, uint64_t max)
{
	uint64_t length = max - min + 1;

	if (!in_resource_template(b))
		return;
	if (min > max) {
		fail(b, "address space descriptor with minimum above maximum");
		return;
	}
	/* The length field is as wide as the others, so a window covering
	 * the whole space (length 2^16, 2^32 or 2^64) cannot be described. */
	if (length == 0 || (field_size < 8 && length >> (8 * field_size))) {
		fail(b, "address space descriptor covering its whole space");
		return;
	}
	put_byte(b, tag);
	put_le(b, 3 + 5 * field_size, 2);
	put_byte(b, resource_type);
	put_byte(b, RES_MIN_FIXED | RES_MAX_FIXED);
	put_byte(b, type_flags);
	/* Fixed minimum and maximum with a non-zero length require a
	 * granularity of zero. */
	put_le(b, 0, field_size);
	put_le(b, min, field_size);
	put_le(b, max, field_size);
	put_le(b, 0, field_size);
	put_le(b, length, field_size);
}

void aml_word_bus_number(struct aml_builder *b, uint16_t min, uint16_t max)
{
	put_address_space(b, RES_WORD_ADDRESS, 2, RES_TYPE_BUS_NUMBER, 0,
			  min, max);
}

void aml_word_io(struct aml_builder *b, uint16_t min, uint16_t max)
{
	put_address_space(b, RES_WORD_ADDRESS, 2, RES_TYPE_IO,
			  RES_IO_ENTIRE_RANGE, min, max);
}

void aml_dword_memory(struct aml_builder *b, enum aml_cacheability cache,
		      uint32_t min, uint32_t max)
{
	put_address_space(b, RES_DWORD_ADDRESS, 4, RES_TYPE_MEMORY,
			  (uint8_t)(RES_MEM_WRITABLE | (cache << 1)), min, max);
}

void aml_qword_memory(struct aml_builder *b, enum aml_cacheability cache,
		      uint64_t min, uint64_t max)
{
	put_address_space(b, RES_QWORD_ADDRESS, 8, RES_TYPE_MEMORY,
			  (uint8_t)(RES_MEM_WRITABLE | (cache << 1)), min, max);
}
