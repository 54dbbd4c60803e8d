/* The local APIC's vector registers as `gvmm ctl vcpus` lists them, and
 * the names of KVM's vCPU states. Reading a live vCPU needs KVM: the
 * rig's guest_disks test does that. */
#include "check.h"

#include <string.h>
#include <linux/kvm.h>

#include "../../vmm/vcpu_snapshot.h"

static void set_vector(char *page, unsigned reg, unsigned vector)
{
	uint32_t word;

	memcpy(&word, page + reg + (vector / 32) * 16, sizeof(word));
	word |= 1u << (vector % 32);
	memcpy(page + reg + (vector / 32) * 16, &word, sizeof(word));
}

static void test_no_vectors(void)
{
	char page[LAPIC_PAGE_SIZE];
	uint8_t out[VCPU_SNAPSHOT_VECTORS] = { 0 };

	memset(page, 0, sizeof(page));
	CHECK_EQ(lapic_vectors_set(page, LAPIC_REG_IRR, out, VCPU_SNAPSHOT_VECTORS), 0);
}

static void test_vectors_highest_first(void)
{
	char page[LAPIC_PAGE_SIZE];
	uint8_t out[VCPU_SNAPSHOT_VECTORS] = { 0 };

	memset(page, 0, sizeof(page));
	/* The first and last bit of words 0, 1 and 7, and a timer vector. */
	set_vector(page, LAPIC_REG_IRR, 0);
	set_vector(page, LAPIC_REG_IRR, 31);
	set_vector(page, LAPIC_REG_IRR, 32);
	set_vector(page, LAPIC_REG_IRR, 0xec);
	set_vector(page, LAPIC_REG_IRR, 255);
	/* The ISR beside it is a different register. */
	set_vector(page, LAPIC_REG_ISR, 0xfb);
	CHECK_EQ(lapic_vectors_set(page, LAPIC_REG_IRR, out, VCPU_SNAPSHOT_VECTORS), 5);
	CHECK_EQ(out[0], 255);
	CHECK_EQ(out[1], 0xec);
	CHECK_EQ(out[2], 32);
	CHECK_EQ(out[3], 31);
	CHECK_EQ(out[4], 0);
	CHECK_EQ(lapic_vectors_set(page, LAPIC_REG_ISR, out, VCPU_SNAPSHOT_VECTORS), 1);
	CHECK_EQ(out[0], 0xfb);
}

/* The words are 16 bytes apart: the bytes between them are not vectors. */
static void test_gaps_between_words_ignored(void)
{
	char page[LAPIC_PAGE_SIZE];
	uint8_t out[VCPU_SNAPSHOT_VECTORS] = { 0 };

	memset(page, 0, sizeof(page));
	for (unsigned w = 0; w < 8; w++)
		memset(page + LAPIC_REG_IRR + w * 16 + 4, 0xff, 12);
	CHECK_EQ(lapic_vectors_set(page, LAPIC_REG_IRR, out, VCPU_SNAPSHOT_VECTORS), 0);
}

static void test_more_than_listed(void)
{
	char page[LAPIC_PAGE_SIZE];
	uint8_t out[VCPU_SNAPSHOT_VECTORS + 1];

	memset(page, 0, sizeof(page));
	for (unsigned w = 0; w < 8; w++)
		memset(page + LAPIC_REG_IRR + w * 16, 0xff, 4);
	memset(out, 0x5a, sizeof(out));
	CHECK_EQ(lapic_vectors_set(page, LAPIC_REG_IRR, out, VCPU_SNAPSHOT_VECTORS), 256);
	for (unsigned i = 0; i < VCPU_SNAPSHOT_VECTORS; i++)
		CHECK_EQ(out[i], 255 - i);
	CHECK_EQ(out[VCPU_SNAPSHOT_VECTORS], 0x5a);  /* nothing past max */
}

static void test_state_names(void)
{
	CHECK(strcmp(vcpu_mp_state_name(KVM_MP_STATE_RUNNABLE), "running") == 0);
	CHECK(strcmp(vcpu_mp_state_name(KVM_MP_STATE_HALTED), "halted") == 0);
	CHECK(strcmp(vcpu_mp_state_name(KVM_MP_STATE_UNINITIALIZED), "waiting-for-init") == 0);
	CHECK(strcmp(vcpu_mp_state_name(0xdead), "unknown") == 0);
}

TEST_MAIN("vcpu_snapshot",
	  TEST_CASE(test_no_vectors),
	  TEST_CASE(test_vectors_highest_first),
	  TEST_CASE(test_gaps_between_words_ignored),
	  TEST_CASE(test_more_than_listed),
	  TEST_CASE(test_state_names));
