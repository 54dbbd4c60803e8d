#include "x86_boot_cpu.h"

#include <string.h>

#include "guest_layout.h"

#define CR0_PE  (1ull << 0)
#define CR0_ET  (1ull << 4)
#define CR0_PG  (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

#define PTE_PRESENT  (1ull << 0)
#define PTE_WRITE    (1ull << 1)
#define PTE_HUGE     (1ull << 7)

#define BOOT_STACK_TOP GUEST_BOOT_INFO_ADDR  /* grows down into free low memory */

/* GDT slots; the Linux boot protocol wants __BOOT_CS = 0x10, __BOOT_DS = 0x18. */
enum { GDT_NULL, GDT_UNUSED, GDT_CODE, GDT_DATA, GDT_TSS, GDT_ENTRIES };

/* Packs a segment descriptor: flags holds the access byte in bits 0-7 and
 * the G/DB/L/AVL nibble in bits 12-15, as in the descriptor itself. */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000u) << 32) |
	       ((uint64_t)(flags & 0xf0ffu) << 40) |
	       ((uint64_t)(limit & 0x000f0000u) << 32) |
	       ((uint64_t)(base & 0x00ffffffu) << 16) |
	       (uint64_t)(limit & 0x0000ffffu);
}

/* The cached form KVM wants for a descriptor that gdt_entry() built. */
static struct kvm_segment segment_from_gdt(uint64_t entry, unsigned slot)
{
	uint32_t limit = (uint32_t)((entry & 0xffff) | (((entry >> 48) & 0xf) << 16));
	bool page_granular = (entry >> 55) & 1;

	return (struct kvm_segment){
		.base = ((entry >> 16) & 0xffffff) | (((entry >> 56) & 0xff) << 24),
		/* KVM wants the limit in bytes, as the CPU caches it. */
		.limit = page_granular ? (limit << 12) | 0xfff : limit,
		.selector = (uint16_t)(slot * 8),
		.type = (entry >> 40) & 0xf,
		.present = (entry >> 47) & 1,
		.dpl = (entry >> 45) & 3,
		.db = (entry >> 54) & 1,
		.s = (entry >> 44) & 1,
		.l = (entry >> 53) & 1,
		.g = (entry >> 55) & 1,
		.avl = (entry >> 52) & 1,
	};
}

static int write_identity_page_tables(struct guest_memory *mem)
{
	uint64_t *pml4 = guest_memory_ptr(mem, GUEST_PML4_ADDR, 4096);
	uint64_t *pdpt = guest_memory_ptr(mem, GUEST_PDPT_ADDR, 4096);
	uint64_t *pd = guest_memory_ptr(mem, GUEST_PD_ADDR, 4 * 4096);

	if (!pml4 || !pdpt || !pd)
		return -1;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = GUEST_PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (GUEST_PD_ADDR + i * 4096) | PTE_PRESENT | PTE_WRITE;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_HUGE;
	return 0;
}

int x86_boot_cpu_state(struct guest_memory *mem, const struct boot_setup *setup,
		       struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	bool long_mode = setup->mode == BOOT_MODE_LINUX64;
	uint64_t gdt[GDT_ENTRIES] = {
		[GDT_CODE] = long_mode ? gdt_entry(0xa09b, 0, 0xfffff)
				       : gdt_entry(0xc09b, 0, 0xfffff),
		[GDT_DATA] = gdt_entry(0xc093, 0, 0xfffff),
		[GDT_TSS] = gdt_entry(0x008b, 0, 0x67),
	};
	struct kvm_segment code = segment_from_gdt(gdt[GDT_CODE], GDT_CODE);
	struct kvm_segment data = segment_from_gdt(gdt[GDT_DATA], GDT_DATA);

	if (guest_memory_write(mem, GUEST_GDT_ADDR, gdt, sizeof(gdt)) < 0)
		return -1;
	if (!guest_memory_ptr(mem, GUEST_IDT_ADDR, 8))
		return -1;

	sregs->gdt.base = GUEST_GDT_ADDR;
	sregs->gdt.limit = sizeof(gdt) - 1;
	sregs->idt.base = GUEST_IDT_ADDR;
	sregs->idt.limit = 0;
	sregs->cs = code;
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = segment_from_gdt(gdt[GDT_TSS], GDT_TSS);

	if (long_mode) {
		if (write_identity_page_tables(mem) < 0)
			return -1;
		sregs->cr3 = GUEST_PML4_ADDR;
		sregs->cr4 = CR4_PAE;
		sregs->cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs->efer = EFER_LME | EFER_LMA;
	} else {
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->cr0 = CR0_PE | CR0_ET;
		sregs->efer = 0;
	}

	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2;  /* bit 1 is reserved and always set */
	regs->rip = setup->entry;
	regs->rsp = BOOT_STACK_TOP;
	if (long_mode)
		regs->rsi = setup->boot_info_gpa;
	else
		regs->rbx = setup->boot_info_gpa;
	return 0;
}
