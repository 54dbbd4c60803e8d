#!/bin/sh
# The VFIO row of tools/bench: edu passed through to the guest (by gvmm
# --vfio or QEMU -device vfio-pci), measured from the guest by edutest
# bench (tests/guest-tools/edutest.c): a read of a register in its BAR,
# and a message from the device to the guest's count of it. One line per
# measure:
#
#   BENCH-VFIO mmio|msi ...
#
# or "BENCH-VFIO-ERROR mmio|msi REASON" and exit status 1.
command -v edutest >/dev/null || { echo "BENCH-VFIO-ERROR mmio edutest: not in this guest (tools/mkguest builds it from tests/guest-tools/edutest.c)"; exit 1; }
edutest bench
