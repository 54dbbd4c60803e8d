#include "check.h"
#include "../../firmware/guest_layout.h"
#include "../../firmware/x86_boot_cpu.h"

static void long_mode_entry_state(void)
{
	struct guest_memory mem;
	struct boot_setup setup = { BOOT_MODE_LINUX64, 0x100200, GUEST_BOOT_INFO_ADDR };
	struct kvm_regs regs;
	struct kvm_sregs sregs = { 0 };
	char err[128];
	uint64_t *pd;

	CHECK_EQ(guest_memory_create(&mem, 64 << 20, false, err, sizeof(err)), 0);
	CHECK_EQ(x86_boot_cpu_state(&mem, &setup, &regs, &sregs), 0);
	CHECK_EQ(regs.rip, 0x100200);
	CHECK_EQ(regs.rsi, GUEST_BOOT_INFO_ADDR);
	CHECK_EQ(regs.rflags, 2);
	CHECK_EQ(sregs.cs.selector, 0x10);
	CHECK_EQ(sregs.ds.selector, 0x18);
	CHECK_EQ(sregs.cs.l, 1);
	CHECK_EQ(sregs.cs.db, 0);
	CHECK_EQ(sregs.efer & 0x500, 0x500);
	CHECK_EQ(sregs.cr0 & 0x80000001, 0x80000001);
	CHECK_EQ(sregs.cr3, GUEST_PML4_ADDR);
	/* The identity map reaches the last 2 MiB page below 4 GiB. */
	pd = guest_memory_ptr(&mem, GUEST_PD_ADDR, 4 * 4096);
	CHECK_EQ(pd[0], 0x83);
	CHECK_EQ(pd[2047], (2047ull << 21) | 0x83);
	guest_memory_destroy(&mem);
}

static void pvh_entry_state_is_flat_32bit(void)
{
	struct guest_memory mem;
	struct boot_setup setup = { BOOT_MODE_PVH32, 0x1000850, GUEST_BOOT_INFO_ADDR };
	struct kvm_regs regs;
	struct kvm_sregs sregs = { 0 };
	char err[128];

	CHECK_EQ(guest_memory_create(&mem, 64 << 20, false, err, sizeof(err)), 0);
	CHECK_EQ(x86_boot_cpu_state(&mem, &setup, &regs, &sregs), 0);
	CHECK_EQ(regs.rip, 0x1000850);
	CHECK_EQ(regs.rbx, GUEST_BOOT_INFO_ADDR);
	CHECK_EQ(sregs.cr0 & 0x80000001, 1);  /* protected mode, paging off */
	CHECK_EQ(sregs.efer, 0);
	CHECK_EQ(sregs.cs.db, 1);
	CHECK_EQ(sregs.cs.l, 0);
	/* Flat: byte limits of 4 GiB, as the CPU caches them. */
	CHECK_EQ(sregs.cs.limit, 0xffffffff);
	CHECK_EQ(sregs.ds.limit, 0xffffffff);
	CHECK_EQ(sregs.ss.limit, 0xffffffff);
	CHECK_EQ(sregs.tr.limit, 0x67);
	CHECK_EQ(sregs.tr.type, 0xb);
	guest_memory_destroy(&mem);
}

TEST_MAIN("x86_boot_cpu",
	TEST_CASE(long_mode_entry_state),
	TEST_CASE(pvh_entry_state_is_flat_32bit))
