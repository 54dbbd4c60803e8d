#!/bin/sh
# Disks and small virtio devices, as the guest sees them. Expects three
# disks: vda (rw, scratch for ext4), vdb (read-only), vdc (rw, raw writes
# that the host checks after killing gvmm). Ends by waiting to be killed.

for d in /sys/bus/pci/devices/*; do
	echo "REPORT pci_device=$(basename "$d") $(cat "$d/vendor"):$(cat "$d/device") class=$(cat "$d/class")"
done
echo "REPORT pci_fatal=$(dmesg | grep -c -E 'PCI: Fatal|not reserved in ACPI|BAR [0-9]+: failed|no space for')"
echo "REPORT vda_queues=$(ls /sys/block/vda/mq 2>/dev/null | wc -l)"
echo "REPORT vda_serial=$(cat /sys/block/vda/serial 2>/dev/null)"
echo "REPORT vdb_ro=$(cat /sys/block/vdb/ro 2>/dev/null)"
echo "REPORT vda_discard_max=$(cat /sys/block/vda/queue/discard_max_bytes 2>/dev/null)"
echo "REPORT msix_irqs=$(grep -c -E 'PCI-MSI.*virtio' /proc/interrupts)"

# virtio-rng feeds the kernel's hw_random core.
echo "REPORT rng_current=$(cat /sys/devices/virtual/misc/hw_random/rng_current 2>/dev/null)"
echo "REPORT rng_bytes=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | wc -c)"

# The read-only disk refuses writes.
if dd if=/dev/zero of=/dev/vdb bs=512 count=1 oflag=direct 2>/dev/null; then
	echo "REPORT ro_write=accepted"
else
	echo "REPORT ro_write=refused"
fi

# ext4 made by the guest; files with known checksums; discard of a big file.
/sbin/mke2fs -q -F -t ext4 /dev/vda && echo "REPORT mkfs=ok"
mkdir -p /mnt && mount -t ext4 -o discard /dev/vda /mnt && echo "REPORT mount=ok"
dd if=/dev/urandom of=/mnt/big.bin bs=1M count=24 2>/dev/null
sync
rm /mnt/big.bin
sync
fstrim /mnt 2>/dev/null
dd if=/dev/urandom of=/mnt/kept.bin bs=1M count=4 2>/dev/null
echo "gvmm was here" > /mnt/hello.txt
echo "REPORT kept_sha256=$(sha256sum /mnt/kept.bin | cut -d' ' -f1)"
umount /mnt && echo "REPORT umount=ok"

# Raw data on vdc: once sync returns, it must survive gvmm being killed.
dd if=/dev/urandom of=/tmp/raw.bin bs=1M count=2 2>/dev/null
echo "REPORT raw_sha256=$(sha256sum /tmp/raw.bin | cut -d' ' -f1)"
dd if=/tmp/raw.bin of=/dev/vdc bs=1M 2>/dev/null
sync
echo "GVMM-SYNCED"
# The host kills gvmm now; this never returns.
sleep 600
