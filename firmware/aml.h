/* A builder for ACPI Machine Language byte code, the contents of the DSDT
 * (and of SSDTs, should there ever be any). Objects that enclose others
 * (Scope, Device, Method, Package, ResourceTemplate, Buffer) are opened
 * with aml_begin_*() and closed with aml_end(); their length prefixes are
 * only known at the close, so aml_end() inserts them then in the shortest
 * encoding. Nothing is reported per call: the first error (no memory, a
 * bad name, unbalanced nesting) sticks in the builder, later calls do
 * nothing, and aml_finish() reports it once. */
#ifndef GVMM_AML_H
#define GVMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

enum aml_open_kind {
	AML_OPEN_SCOPE,
	AML_OPEN_DEVICE,
	AML_OPEN_METHOD,
	AML_OPEN_PACKAGE,
	AML_OPEN_BUFFER,
	AML_OPEN_RESOURCES,
};

struct aml_open {
	enum aml_open_kind kind;
	size_t body_start;      /* where the PkgLength goes at the close */
	unsigned nr_elements;   /* packages only */
};

struct aml_builder {
	uint8_t *bytes;
	size_t len;
	size_t cap;
	bool failed;
	char error[128];        /* the first failure, once failed */
	unsigned depth;
	struct aml_open open[AML_MAX_DEPTH];
};

void aml_init(struct aml_builder *b);
void aml_free(struct aml_builder *b);
/* 0 when every object was closed and nothing failed, else -1 with one
 * line in err. The bytes stay in b until aml_free(). */
int aml_finish(const struct aml_builder *b, char *err, size_t errlen);

/* The PkgLength for body_len bytes that follow it; the value encoded
 * counts the PkgLength bytes themselves. Returns how many bytes (1-4) went
 * to out, or 0 when the length cannot be encoded (over 2^28 - 1). */
size_t aml_encode_pkg_length(uint8_t out[4], size_t body_len);
/* EISA id "PNP0501" as the 32-bit value _HID holds; false when id is not
 * three capital letters and four hex digits. */
bool aml_eisaid(const char *id, uint32_t *value);

/* Raw bytes, for opcodes the builder has no helper for yet. */
void aml_bytes(struct aml_builder *b, const void *data, size_t n);

/* Data objects. Each counts as one element when emitted inside a Package. */
void aml_integer(struct aml_builder *b, uint64_t value);   /* smallest encoding */
void aml_dword(struct aml_builder *b, uint32_t value);     /* always DWordPrefix */
void aml_string(struct aml_builder *b, const char *s);     /* ASCII 0x01-0x7f */
/* A NameString: "_SB", "\\_SB.PCI0", "^COM1", "" (NullName); each segment
 * of up to four characters from [A-Z0-9_], not starting with a digit,
 * padded with '_'. */
void aml_name_ref(struct aml_builder *b, const char *path);

/* Name(path, ...): the caller emits the one data object that follows. */
void aml_name(struct aml_builder *b, const char *path);
void aml_name_integer(struct aml_builder *b, const char *path, uint64_t value);
void aml_name_string(struct aml_builder *b, const char *path, const char *s);
void aml_name_eisaid(struct aml_builder *b, const char *path, const char *id);

/* Return(...): the caller emits the one term that follows. */
void aml_return(struct aml_builder *b);

void aml_begin_scope(struct aml_builder *b, const char *path);
void aml_begin_device(struct aml_builder *b, const char *path);
void aml_begin_method(struct aml_builder *b, const char *path,
		      unsigned nr_args, bool serialized);
/* Package(){...}: elements are counted as they are emitted (at most 255). */
void aml_begin_package(struct aml_builder *b);
/* Buffer(){...} of raw bytes added with aml_bytes(). */
void aml_begin_buffer(struct aml_builder *b);
/* ResourceTemplate(){...}: a Buffer of resource descriptors, which aml_end()
 * terminates with an End Tag whose checksum makes the descriptors sum to 0. */
void aml_begin_resource_template(struct aml_builder *b);
void aml_end(struct aml_builder *b);

/* Convenience: Method(path, 0) { Return(value) } */
void aml_method_return_integer(struct aml_builder *b, const char *path,
			       uint64_t value);

/* Resource descriptors; only valid inside a ResourceTemplate. */
void aml_io(struct aml_builder *b, uint16_t min, uint16_t max,
	    uint8_t alignment, uint8_t length);           /* IO(Decode16, ...) */
void aml_irq_noflags(struct aml_builder *b, uint8_t irq); /* IRQNoFlags(){irq} */

/* Flag bits of the small IRQ descriptor, as the descriptor stores them. */
#define AML_IRQ_EDGE        0x01
#define AML_IRQ_ACTIVE_LOW  0x08
#define AML_IRQ_SHARED      0x10
#define AML_IRQ_WAKE        0x20
void aml_irq(struct aml_builder *b, uint8_t irq, uint8_t flags);

/* Flag bits of the Extended Interrupt descriptor. */
#define AML_INTR_CONSUMER   0x01
#define AML_INTR_EDGE       0x02
#define AML_INTR_ACTIVE_LOW 0x04
#define AML_INTR_SHARED     0x08
#define AML_INTR_WAKE       0x10
void aml_interrupt(struct aml_builder *b, uint32_t gsi, uint8_t flags);

void aml_memory32_fixed(struct aml_builder *b, uint32_t base, uint32_t length,
			bool writable);

/* Address space descriptors for windows a bridge produces (a host bridge's
 * _CRS): fixed minimum and maximum, positive decode, no translation; the
 * length is max - min + 1. */
enum aml_cacheability {
	AML_MEM_NON_CACHEABLE = 0,
	AML_MEM_CACHEABLE = 1,
	AML_MEM_WRITE_COMBINING = 2,
	AML_MEM_PREFETCHABLE = 3,
};
void aml_word_bus_number(struct aml_builder *b, uint16_t min, uint16_t max);
void aml_word_io(struct aml_builder *b, uint16_t min, uint16_t max);
void aml_dword_memory(struct aml_builder *b, enum aml_cacheability cache,
		      uint32_t min, uint32_t max);
void aml_qword_memory(struct aml_builder *b, enum aml_cacheability cache,
		      uint64_t min, uint64_t max);

#endif
