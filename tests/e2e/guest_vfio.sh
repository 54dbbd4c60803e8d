#!/usr/bin/env bash
# with-kvm: --vfio
# VFIO passthrough of QEMU's edu device (1234:11e8). tools/rig --vfio
# gives the nested host an IOMMU and an edu device, and names its PCI
# address in GVMM_RIG_EDU; this test binds it to vfio-pci there, boots
# the stock guest with --vfio, and checks what the guest's edutest saw:
# the identification and liveness registers, the factorial unit, a DMA
# round trip through guest RAM, and two MSIs that edu raises, each counted
# once by the guest's kernel. It also checks that gvmm refuses, in
# one line and with exit status 2, a device that is not bound to
# vfio-pci and one that does not exist. Without GVMM_RIG_EDU it skips.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BOOT_TIMEOUT=${GVMM_BOOT_TIMEOUT:-180}
EDU=${GVMM_RIG_EDU:-}

if [ -z "$EDU" ]; then
	skip vfio "no edu device to pass through (GVMM_RIG_EDU is set by tools/rig --vfio)"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	skip vfio "binding a device to vfio-pci needs root"
	exit 0
fi
dev=/sys/bus/pci/devices/$EDU

# Bad input first, while edu is not yet bound to vfio-pci.
"$GVMM" run --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" --memory 256M \
	--serial none --vfio "$EDU" </dev/null 2>"$E2E_WORK/unbound.err"
status=$?
driver=$(basename "$(readlink "$dev/driver" 2>/dev/null)" 2>/dev/null)
if [ "$driver" != vfio-pci ]; then
	expect vfio.unbound-refused "exit $status: $(cat "$E2E_WORK/unbound.err")" \
		[ "$status" = 2 ]
	expect vfio.unbound-says-how-to-bind "$(cat "$E2E_WORK/unbound.err")" \
		grep -q "driver_override.*drivers_probe" "$E2E_WORK/unbound.err"
fi
"$GVMM" run --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" --memory 256M \
	--serial none --vfio 0000:7f:1f.7 </dev/null 2>"$E2E_WORK/missing.err"
status=$?
expect vfio.missing-refused "exit $status: $(cat "$E2E_WORK/missing.err")" \
	[ "$status" = 2 ]
expect vfio.missing-one-line "$(cat "$E2E_WORK/missing.err")" \
	[ "$(grep -c 'no such device' "$E2E_WORK/missing.err")" = 1 ]

# Bind edu to vfio-pci, as the error message says.
modprobe vfio-pci 2>/dev/null
echo vfio-pci > "$dev/driver_override"
if [ -e "$dev/driver" ]; then
	echo "$EDU" > "$dev/driver/unbind"
fi
echo "$EDU" > /sys/bus/pci/drivers_probe
driver=$(basename "$(readlink "$dev/driver" 2>/dev/null)" 2>/dev/null)
if [ "$driver" != vfio-pci ]; then
	fail vfio.bind "edu is bound to '${driver:-nothing}' after drivers_probe"
	exit 0
fi
pass vfio.bind
ulimit -l unlimited 2>/dev/null

boot vfio "$BOOT_TIMEOUT" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" \
	--memory 256M --cmdline "console=ttyS0 panic=-1 gvmm.test=vfio" --no-reboot --vfio "$EDU"
expect vfio.exit-0 "gvmm exited $BOOT_STATUS: $(tail -n 3 "$E2E_WORK/vfio.err")" \
	[ "$BOOT_STATUS" = 0 ]
seen=$(report vfio device)
expect vfio.guest-sees-edu "the guest's device: '$seen'" test -n "$seen" -a "$seen" != missing
expect vfio.id "id '$(report vfio id)'" [ "$(report vfio id)" = 0x010000ed ]
expect vfio.liveness "liveness '$(report vfio liveness)'" [ "$(report vfio liveness)" = ok ]
expect vfio.factorial "10! came back as '$(report vfio factorial)'" \
	[ "$(report vfio factorial)" = 3628800 ]
expect vfio.dma-round-trip "dma '$(report vfio dma)'" [ "$(report vfio dma)" = ok ]

# MSI: edutest points edu's MSI capability at a vector whose guest handler
# only counts, raises edu's interrupt twice and waits (5 s each) for the
# count to move; edu's interrupt status must show each raise's value.
msi=$(report vfio msi)
first=$(report vfio msi.first) first_status=$(report vfio msi.first.status)
second=$(report vfio msi.second) second_status=$(report vfio msi.second.status)
counted=$(report vfio msi.count)
case $msi in
unsupported:*)
	skip vfio.guest-msi "${msi#unsupported:}"
	skip vfio.guest-msi-repeat "${msi#unsupported:}"
	;;
*)
	expect vfio.guest-msi "msi '$msi': first interrupt '$first', edu's status '$first_status' (0x00010001 expected)" \
		[ "$first" = ok -a "$first_status" = 0x00010001 ]
	expect vfio.guest-msi-repeat "msi '$msi': second interrupt '$second', edu's status '$second_status' (0x00020002 expected), interrupts counted '$counted' (2 expected)" \
		[ "$second" = ok -a "$second_status" = 0x00020002 -a "$counted" = 2 ]
	;;
esac

if [ "$BOOT_STATUS" != 0 ] || [ "$(report vfio edutest)" != ok ]; then
	console_tail vfio
fi

# Leave edu as it was found: back to its default driver choice.
echo > "$dev/driver_override"
