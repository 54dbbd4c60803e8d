#!/bin/sh
# The exits row of tools/bench: the round trip of one port read (COM1's
# scratch register) and of one MMIO read (a virtio-pci function's common
# configuration), timed in the guest by exitbench
# (tests/guest-tools/exitbench.c). One line per measure:
#
#   BENCH-EXITS pio|mmio ns=N ...
#
# or "BENCH-EXITS-ERROR pio|mmio REASON" and exit status 1. Kernel
# parameter gvmm.exits.batch_ms=MS: how long each of the five timed
# batches runs (default 500).
batch_ms=500
for arg in $(cat /proc/cmdline); do
	case $arg in
	gvmm.exits.batch_ms=*) batch_ms=${arg#*=} ;;
	esac
done
command -v exitbench >/dev/null || { echo "BENCH-EXITS-ERROR exitbench: not in this guest (tools/mkguest builds it from tests/guest-tools/exitbench.c)"; exit 1; }
# The MMIO reads go to the PCI function of the virtio-blk disk (virtio
# device id 2), so that both VMMs are read at the same device whatever
# else they have; without a disk, exitbench takes the first virtio
# function it finds.
bdf=
for d in /sys/bus/virtio/devices/*; do
	if [ "$(cat "$d/device" 2>/dev/null)" = 0x0002 ]; then
		bdf=$(basename "$(readlink -f "$d/..")")
		break
	fi
done
# shellcheck disable=SC2086 # no BDF: no argument
exitbench -t "$batch_ms" $bdf
