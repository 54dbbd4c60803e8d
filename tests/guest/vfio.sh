#!/bin/sh
# A passed-through edu device (tests/e2e/guest_vfio.sh): the guest lists
# what it sees on PCI, then runs edutest (its registers, DMA and two
# MSIs), which reports each check.
for d in /sys/bus/pci/devices/*; do
	echo "REPORT pci_device=$(basename "$d") $(cat "$d/vendor"):$(cat "$d/device")"
done
/bin/edutest | sed 's/^/REPORT /'
