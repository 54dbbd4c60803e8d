#include "check.h"
#include "../../firmware/cpuid.h"

static const struct cpuid_host_caps no_caps;

/* A small stand-in for KVM_GET_SUPPORTED_CPUID on an AMD-like host. */
static unsigned fake_supported(struct kvm_cpuid_entry2 *e)
{
	unsigned n = 0;

	e[n++] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x1f };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 1, .eax = 0x800f12,
		.ebx = 0x00000800 | (9u << 24) | (64u << 16), .ecx = 0x7ed8320b,
		.edx = 0x178bfbff };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x121 | (63u << 26) };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 3,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x163 | (63u << 26) | (127u << 14) };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 4,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0 };
	for (unsigned sub = 0; sub < 3; sub++)
		e[n++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = sub,
			.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 7, .ebx = 99,
			.ecx = 0x201, .edx = 77 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x40000000, .eax = 0x40000001 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x40000001, .eax = 0x01007afb };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000001,
		.ecx = (1u << 22) | (1u << 1) | 1u };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .eax = 0x3030,
		.ecx = 0x703f };
	return n;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid_entry2 *e, unsigned n,
				     uint32_t fn, uint32_t index)
{
	for (unsigned i = 0; i < n; i++)
		if (e[i].function == fn && e[i].index == index)
			return &e[i];
	return NULL;
}

static void leaf1_has_apic_id_and_hypervisor_bit(void)
{
	struct kvm_cpuid_entry2 e[32];
	unsigned n = fake_supported(e);
	struct kvm_cpuid_entry2 *l1;

	cpuid_apply_policy(e, n, 3, 4, &no_caps);
	l1 = find(e, n, 1, 0);
	CHECK_EQ(l1->ebx >> 24, 3);            /* APIC id */
	CHECK_EQ((l1->ebx >> 16) & 0xff, 4);   /* logical processors */
	CHECK_EQ(l1->ebx & 0xffff, 0x0800);    /* CLFLUSH size etc. kept */
	CHECK(l1->ecx & (1u << 31));
	CHECK(l1->edx & (1u << 28));
	CHECK_EQ(l1->eax, 0x800f12);           /* family/model untouched */
}

static void single_cpu_has_no_htt(void)
{
	struct kvm_cpuid_entry2 e[32];
	unsigned n = fake_supported(e);

	cpuid_apply_policy(e, n, 0, 1, &no_caps);
	CHECK(!(find(e, n, 1, 0)->edx & (1u << 28)));
	CHECK_EQ(find(e, n, 0x80000008, 0)->ecx & 0xff, 0);
	CHECK(!(find(e, n, 0x80000001, 0)->ecx & (1u << 1)));
}

static void topology_leaves_describe_n_cores(void)
{
	struct kvm_cpuid_entry2 e[32];
	unsigned n = fake_supported(e);
	struct kvm_cpuid_entry2 *smt, *core, *end;

	cpuid_apply_policy(e, n, 5, 6, &no_caps);
	smt = find(e, n, 0xb, 0);
	core = find(e, n, 0xb, 1);
	end = find(e, n, 0xb, 2);
	CHECK_EQ(smt->ebx, 1);
	CHECK_EQ(smt->eax, 0);
	CHECK_EQ((smt->ecx >> 8) & 0xff, 1);
	CHECK_EQ(core->ebx, 6);
	CHECK_EQ(core->eax, 3);                /* 6 ids need 3 bits */
	CHECK_EQ((core->ecx >> 8) & 0xff, 2);
	CHECK_EQ(end->ebx, 0);
	CHECK_EQ((end->ecx >> 8) & 0xff, 0);
	CHECK_EQ(smt->edx, 5);
	CHECK_EQ(core->edx, 5);
	CHECK_EQ(find(e, n, 4, 0)->eax >> 26, 5);       /* cores - 1 */
	CHECK_EQ((find(e, n, 4, 3)->eax >> 14) & 0xfff, 5); /* L3 shared by all */
	CHECK_EQ(find(e, n, 4, 4)->eax, 0);              /* end of list kept */
	CHECK_EQ(find(e, n, 0x80000008, 0)->ecx & 0xff, 5);
	CHECK_EQ((find(e, n, 0x80000008, 0)->ecx >> 12) & 0xf, 3);
	CHECK(!(find(e, n, 0x80000001, 0)->ecx & (1u << 22)));  /* TOPOEXT hidden */
	CHECK(find(e, n, 0x80000001, 0)->ecx & 1u);             /* others kept */
}

static void kvm_signature_is_present(void)
{
	struct kvm_cpuid_entry2 e[32];
	unsigned n = fake_supported(e);
	struct kvm_cpuid_entry2 *sig;
	char text[13] = { 0 };

	cpuid_apply_policy(e, n, 0, 1, &no_caps);
	sig = find(e, n, 0x40000000, 0);
	memcpy(text, &sig->ebx, 4);
	memcpy(text + 4, &sig->ecx, 4);
	memcpy(text + 8, &sig->edx, 4);
	CHECK(strcmp(text, "KVMKVMKVM") == 0);
	CHECK_EQ(sig->eax, 0x40000001);
	CHECK_EQ(find(e, n, 0x40000001, 0)->eax, 0x01007afb);
}

/* KVM's LAPIC has the TSC-deadline timer when it says so; then the guest
 * is told, else the bit stays clear even if a supported CPUID had it. */
static void tsc_deadline_follows_the_capability(void)
{
	struct kvm_cpuid_entry2 e[32];
	unsigned n = fake_supported(e);
	const struct cpuid_host_caps caps = { .tsc_deadline = true };

	cpuid_apply_policy(e, n, 0, 1, &caps);
	CHECK(find(e, n, 1, 0)->ecx & (1u << 24));
	n = fake_supported(e);
	find(e, n, 1, 0)->ecx |= 1u << 24;
	cpuid_apply_policy(e, n, 0, 1, &no_caps);
	CHECK(!(find(e, n, 1, 0)->ecx & (1u << 24)));
}

TEST_MAIN("cpuid",
	TEST_CASE(tsc_deadline_follows_the_capability),
	TEST_CASE(leaf1_has_apic_id_and_hypervisor_bit),
	TEST_CASE(single_cpu_has_no_htt),
	TEST_CASE(topology_leaves_describe_n_cores),
	TEST_CASE(kvm_signature_is_present))
