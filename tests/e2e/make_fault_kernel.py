#!/usr/bin/env python3
"""Writes a minimal PVH ELF kernel whose first instruction is UD2.

gvmm starts PVH kernels with an empty IDT, so the #UD cannot be delivered
and the vCPU triple-faults at once: the test checks how gvmm reports it.
"""
import struct
import sys

LOAD_ADDR = 0x100000
XEN_ELFNOTE_PHYS32_ENTRY = 18


def main(path):
    code = b"\x0f\x0b" + b"\xf4" * 14          # ud2, then hlt padding
    name = b"Xen\0"
    note = struct.pack("<III", len(name), 4, XEN_ELFNOTE_PHYS32_ENTRY) + name \
        + struct.pack("<I", LOAD_ADDR)
    ehdr_size, phdr_size, phnum = 64, 56, 2
    note_off = ehdr_size + phdr_size * phnum
    code_off = (note_off + len(note) + 15) & ~15
    ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack(
        "<HHIQQQIHHHHHH", 2, 0x3E, 1, LOAD_ADDR, ehdr_size, 0, 0,
        ehdr_size, phdr_size, phnum, 64, 0, 0)
    pt_load = struct.pack("<IIQQQQQQ", 1, 5, code_off, LOAD_ADDR, LOAD_ADDR,
                          len(code), len(code), 0x1000)
    pt_note = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0,
                          len(note), len(note), 4)
    image = ehdr + pt_load + pt_note + note
    image += bytes(code_off - len(image)) + code
    with open(path, "wb") as f:
        f.write(image)


if __name__ == "__main__":
    main(sys.argv[1])
