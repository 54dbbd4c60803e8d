#!/usr/bin/env bash
# tools/guest-pagetables on a RAM image this test builds: a kernel's static
# page tables (top level, level 3, a level 2 of 2 MiB pages) and a process's
# top-level table sharing their kernel half. Every address must translate;
# then one entry is cleared, one process table damaged, and the tool must
# name both faults and exit 1.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh

if ! command -v python3 >/dev/null; then
	skip guest-pagetables "no python3 here"
	exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/gvmm-test-pt.XXXXXX")
trap 'rm -rf "$work"' EXIT

# RAM of 8 MiB; the kernel "linked" at 0xffffffff81000000 and loaded at
# 2 MiB above its link address; its tables at 0x3000 (top), 0x4000 (L3),
# 0x5000 (L2) above the load offset; a process's top table at 0x7000 + 2 MiB.
python3 - "$work" <<'PY'
import struct, sys
work = sys.argv[1]
ram = bytearray(8 << 20)
base = 2 << 20
top, l3, l2, proc = base + 0x3000, base + 0x4000, base + 0x5000, base + 0x7000
def put(addr, value): struct.pack_into("<Q", ram, addr, value)
put(top + 511 * 8, l3 | 0x63)
for i in range(273, 278):                # direct map and the like: shared too
    put(top + i * 8, base + 0x10000 + i * 0x1000 | 0x63)
put(l3 + 510 * 8, l2 | 0x63)
for i in range(3):                       # 0..6 MiB of "kernel", 2 MiB pages
    put(l2 + i * 8, (i << 21) + base | 0xe3 if i < 2 else 0)
ram[proc + 2048:proc + 4096] = ram[top + 2048:top + 4096]
put(proc + 8, 0x123067)                  # a user entry: not compared
open(work + "/ram", "wb").write(ram)
link = 0xffffffff80000000
syms = {"_text": link, "init_top_pgt": link + 0x3000,
        "level3_kernel_pgt": link + 0x4000, "level2_kernel_pgt": link + 0x5000,
        "idt_table": link + 0x200000}
with open(work + "/kallsyms", "w") as f:
    for name, addr in syms.items():
        f.write("%016x D %s\n" % (addr, name))
# The same RAM with the 2 MiB page of idt_table cleared, and the process's
# copy of the kernel's top entry pointing elsewhere.
put(l2 + 1 * 8, 0)
put(proc + 511 * 8, 0x777063)
open(work + "/bad", "wb").write(ram)
PY

out=$(tools/guest-pagetables "$work/ram" "$work/kallsyms" 2>&1)
status=$?
expect guest-pagetables.intact-tables-translate "status 0 and every address translated, got $status: $out" \
	[ $status = 0 -a -n "$(grep -F 'idt_table' <<<"$out" | grep -F -- '-> 0x400000')" ]
expect guest-pagetables.load-offset-found "the load offset 0x200000 named: $out" \
	grep -q 'loaded 0x200000 above' <<<"$out"
expect guest-pagetables.process-table-found "one more top-level table: $out" \
	grep -q '^1 more top-level tables' <<<"$out"

out=$(tools/guest-pagetables "$work/bad" "$work/kallsyms" 2>&1)
status=$?
expect guest-pagetables.cleared-entry-is-a-fault "status 1 and idt_table's level 2 entry not present, got $status: $out" \
	[ $status = 1 -a -n "$(grep -F 'idt_table' <<<"$out" | grep -F 'FAULT: level 2 entry not present')" ]
expect guest-pagetables.damaged-process-table-named "the process table at 0x207000 named: $out" \
	grep -q 'top-level table at 0x207000 differs' <<<"$out"

out=$(tools/guest-pagetables "$work/ram" /dev/null 2>&1)
expect guest-pagetables.no-symbols-is-bad-input "status 2 and a reason: $out" \
	grep -q 'init_top_pgt is not in /dev/null' <<<"$out"
