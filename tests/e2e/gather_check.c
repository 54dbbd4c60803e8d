/*
 * Does this CPU's AVX2 gather (VPGATHERDD) load what it should?
 *
 * llvmpipe, the software GL that renders virgl's commands on hosts without
 * a GPU, fetches texels with VPGATHERDD when the CPU has AVX2. The CPU that
 * QEMU 7.2's TCG emulates for the nested rig got some of these gathers
 * wrong: lanes loaded from the wrong offset, and one faulted 2 GiB below the
 * texture, which killed gvmm with SIGSEGV inside llvmpipe's shader code.
 * This replays the gathers of that shader, with its registers (mask ymm1;
 * destination, index pairs ymm6/ymm7, ymm7/ymm3, ymm3/ymm4, ymm4/ymm5;
 * base r10), then every index register with the same mask and
 * destination, and checks every lane.
 *
 * Exit status: 0 right (or no AVX2: llvmpipe then makes no gathers), 1 a
 * wrong lane (each one is printed), 2 bad usage.
 */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t table[1024];

/* Texel offsets in bytes, as in the shader that faulted: two rows 0x240
 * bytes apart. */
static const int32_t offsets[4][8] = {
	{ 0x0, 0x0, 0x240, 0x240, 0x0, 0x4, 0x240, 0x244 },
	{ 0x4, 0x4, 0x244, 0x244, 0x4, 0x8, 0x244, 0x248 },
	{ 0x0, 0x0, 0x240, 0x240, 0x0, 0x4, 0x240, 0x244 },
	{ 0x0, 0x0, 0x240, 0x240, 0x4, 0x8, 0x244, 0x248 },
};

static int has_avx2(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_AVX) || !(c & bit_OSXSAVE))
		return 0;
	if (__get_cpuid_max(0, NULL) < 7)
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	return (b & bit_AVX2) != 0;
}

/* 1 when a lane of got[] is not the table word at offsets[], each printed. */
static int wrong_lanes(const char *what, const int32_t got[8], const int32_t offs[8])
{
	int wrong = 0;

	for (int lane = 0; lane < 8; lane++) {
		uint32_t want = table[offs[lane] / 4];
		if ((uint32_t)got[lane] != want) {
			printf("%s: lane %d loaded %#x, not %#x (offset %#x)\n", what, lane,
			       (uint32_t)got[lane], want, (unsigned)offs[lane]);
			wrong = 1;
		}
	}
	return wrong;
}

__attribute__((target("avx2"))) static int shader_sequence(void)
{
	int32_t got[4][8];
	static const char *const names[4] = {
		"shader gather 1 (dest ymm6, index ymm7)", "shader gather 2 (dest ymm7, index ymm3)",
		"shader gather 3 (dest ymm3, index ymm4)", "shader gather 4 (dest ymm4, index ymm5)",
	};
	int wrong = 0;

	__asm__ volatile("vmovdqu 0(%[i]), %%ymm7\n\t"
			 "vmovdqu 32(%[i]), %%ymm3\n\t"
			 "vmovdqu 64(%[i]), %%ymm4\n\t"
			 "vmovdqu 96(%[i]), %%ymm5\n\t"
			 "mov %[t], %%r10\n\t"
			 "vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n\t"
			 "vpxor %%xmm6, %%xmm6, %%xmm6\n\t"
			 "vpgatherdd %%ymm1, (%%r10, %%ymm7, 1), %%ymm6\n\t"
			 "vpxor %%xmm7, %%xmm7, %%xmm7\n\t"
			 "vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n\t"
			 "vpgatherdd %%ymm1, (%%r10, %%ymm3, 1), %%ymm7\n\t"
			 "vpxor %%xmm3, %%xmm3, %%xmm3\n\t"
			 "vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n\t"
			 "vpgatherdd %%ymm1, (%%r10, %%ymm4, 1), %%ymm3\n\t"
			 "vpxor %%xmm4, %%xmm4, %%xmm4\n\t"
			 "vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n\t"
			 "vpgatherdd %%ymm1, (%%r10, %%ymm5, 1), %%ymm4\n\t"
			 "vmovdqu %%ymm6, 0(%[o])\n\t"
			 "vmovdqu %%ymm7, 32(%[o])\n\t"
			 "vmovdqu %%ymm3, 64(%[o])\n\t"
			 "vmovdqu %%ymm4, 96(%[o])\n\t"
			 "vzeroupper"
			 :
			 : [i] "r"(offsets), [t] "r"(table), [o] "r"(got)
			 : "r10", "xmm1", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "memory");
	for (int g = 0; g < 4; g++)
		wrong |= wrong_lanes(names[g], got[g], offsets[g]);
	return wrong;
}

/* One gather with index register ymmN, destination ymm2, mask ymm1. */
#define GATHER_WITH_INDEX(n)                                                           \
	__asm__ volatile("vmovdqu (%[i]), %%ymm" #n "\n\t"                              \
			 "vpcmpeqd %%ymm1, %%ymm1, %%ymm1\n\t"                          \
			 "vpxor %%xmm2, %%xmm2, %%xmm2\n\t"                             \
			 "vpgatherdd %%ymm1, (%[t], %%ymm" #n ", 1), %%ymm2\n\t"       \
			 "vmovdqu %%ymm2, (%[o])\n\t"                                   \
			 "vzeroupper"                                                   \
			 :                                                              \
			 : [i] "r"(offs), [t] "r"(table), [o] "r"(got)                 \
			 : "xmm1", "xmm2", "xmm" #n, "memory");                          \
	wrong |= wrong_lanes("index ymm" #n " (dest ymm2)", got, offs)

__attribute__((target("avx2"))) static int every_index_register(void)
{
	const int32_t *offs = offsets[1];
	int32_t got[8];
	int wrong = 0;

	GATHER_WITH_INDEX(0);
	GATHER_WITH_INDEX(3);
	GATHER_WITH_INDEX(4);
	GATHER_WITH_INDEX(5);
	GATHER_WITH_INDEX(6);
	GATHER_WITH_INDEX(7);
	GATHER_WITH_INDEX(8);
	GATHER_WITH_INDEX(9);
	GATHER_WITH_INDEX(10);
	GATHER_WITH_INDEX(11);
	GATHER_WITH_INDEX(12);
	GATHER_WITH_INDEX(13);
	GATHER_WITH_INDEX(14);
	GATHER_WITH_INDEX(15);
	return wrong;
}

int main(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: gather_check (no arguments)\n");
		return 2;
	}
	if (!has_avx2()) {
		puts("no AVX2 on this CPU: nothing gathers");
		return 0;
	}
	for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++)
		table[i] = 0x10000u + i;
	int wrong = shader_sequence();
	wrong |= every_index_register();
	puts(wrong ? "AVX2 gathers load wrong data on this CPU" : "AVX2 gathers load the right data");
	return wrong;
}
