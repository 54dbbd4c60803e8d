#!/usr/bin/env bash
# with-kvm: --vfio
# host-setup: tests/e2e/mbochs_setup.sh
# VFIO passthrough of QEMU's edu device (1234:11e8) and, in the same boot,
# of its bochs-display (1234:1111). tools/rig --vfio gives the nested host
# an IOMMU and both devices, and names their PCI addresses in
# GVMM_RIG_EDU and GVMM_RIG_BOCHS; this test binds them to vfio-pci
# there, boots the stock guest with one --vfio for each, and checks what
# the guest saw (tests/guest/vfio.sh). edu, through edutest: the
# identification and liveness registers, the factorial unit, a DMA round
# trip through guest RAM, and two MSIs that edu raises, each counted once
# by the guest's kernel. bochs-display: the guest's bochs DRM driver binds
# it and gives it a framebuffer, the guest reads the device's expansion
# ROM (SeaBIOS's VGA BIOS, which QEMU gives it) through sysfs from the ROM
# BAR gvmm emulates, and a pattern the guest shows through that driver is
# in the device's BAR 0, where the device's registers say it scans out
# from (bochstest). It also checks that gvmm refuses, in one line and
# with exit status 2, a device that is not bound to vfio-pci, one that
# does not exist (rom=off or not), and a bad rom= value. Without GVMM_RIG_EDU it skips;
# without GVMM_RIG_BOCHS only the bochs-display checks skip. Another boot
# passes edu alone with mmap=off, and edutest's checks must pass with
# every BAR access trapped and forwarded by gvmm.
# A second boot passes a mediated device through: an instance of the
# kernel's mbochs sample (build/mbochs/mbochs.ko, built on the host by
# tests/e2e/mbochs_setup.sh), which the guest's bochs driver binds; the
# guest shows a pattern on it (tests/guest/vfio.sh, gvmm.vfio=mdev) and a real
# SPICE client must get that pattern from gvmm's display of the device's
# dma-buf planes (tools/build-mbochs makes the sample export them
# read-write, which a CPU mapping needs), and the nested host's kernel
# must say nothing about it: the sample frees the guest's framebuffer
# pages if a dma-buf of it is exported and released twice, which gvmm
# must never ask for. Without the module it skips, saying why.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

# The guest does more than boot (DMA, MSIs, a DRM driver, a whole frame
# written and read back), all of it emulated twice over in the rig.
BOOT_TIMEOUT=${GVMM_BOOT_TIMEOUT:-240}
EDU=${GVMM_RIG_EDU:-}
BOCHS=${GVMM_RIG_BOCHS:-}

# The mediated display needs the rig too: it loads a sample kernel
# module, which a test must not do to a developer's own kernel.
if [ -z "$EDU" ]; then
	skip vfio "no edu device to pass through (GVMM_RIG_EDU is set by tools/rig --vfio)"
	skip vfio.mbochs "it runs only in the nested host of tools/rig --vfio"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	skip vfio "binding a device to vfio-pci needs root"
	skip vfio.mbochs "loading mbochs and making a mediated device need root"
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
# rom=off is taken (the device is what is missing); rom=maybe is not.
"$GVMM" run --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" --memory 256M \
	--serial none --vfio 0000:7f:1f.7,rom=off </dev/null 2>"$E2E_WORK/rom-off.err"
status=$?
expect vfio.rom-off-parsed "exit $status: $(cat "$E2E_WORK/rom-off.err")" \
	[ "$status" = 2 -a "$(grep -c 'no such device' "$E2E_WORK/rom-off.err")" = 1 ]
"$GVMM" run --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" --memory 256M \
	--serial none --vfio "$EDU,rom=maybe" </dev/null 2>"$E2E_WORK/rom-bad.err"
status=$?
expect vfio.rom-bad-value-refused "exit $status: $(cat "$E2E_WORK/rom-bad.err")" \
	[ "$status" = 2 -a "$(grep -c "rom= takes on or off" "$E2E_WORK/rom-bad.err")" = 1 ]

# bind_vfio BDF: binds the device to vfio-pci, as gvmm's error message
# says, and prints the driver it has afterwards.
bind_vfio() {
	local d=/sys/bus/pci/devices/$1
	echo vfio-pci > "$d/driver_override"
	if [ -e "$d/driver" ]; then
		echo "$1" > "$d/driver/unbind"
	fi
	echo "$1" > /sys/bus/pci/drivers_probe
	basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null
}

modprobe vfio-pci 2>/dev/null
driver=$(bind_vfio "$EDU")
if [ "$driver" != vfio-pci ]; then
	fail vfio.bind "edu is bound to '${driver:-nothing}' after drivers_probe"
	exit 0
fi
pass vfio.bind
vfio_args=(--vfio "$EDU")
# Why the bochs-display checks cannot run; empty when they can.
bochs_skip=
if [ -z "$BOCHS" ]; then
	bochs_skip="no bochs-display to pass through (GVMM_RIG_BOCHS is set by tools/rig --vfio)"
else
	driver=$(bind_vfio "$BOCHS")
	if [ "$driver" = vfio-pci ]; then
		pass vfio.bochs-bind
		vfio_args+=(--vfio "$BOCHS")
	else
		fail vfio.bochs-bind "the bochs-display is bound to '${driver:-nothing}' after drivers_probe"
		bochs_skip="the bochs-display could not be bound to vfio-pci"
	fi
fi
ulimit -l unlimited 2>/dev/null

boot vfio "$BOOT_TIMEOUT" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" \
	--memory 256M --cmdline "console=ttyS0 panic=-1 gvmm.test=vfio" --no-reboot "${vfio_args[@]}"
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

# bochs-display: the guest's driver, its framebuffer, its expansion ROM,
# and the pattern bochstest showed through the driver, found in BAR 0
# where the device's scanout registers point.

# The guest found a framebuffer of the device, and fbdev named it after
# the bochs DRM driver (bochs-drmdrmfb).
bochs_fb_ok() {
	[ -n "$fb" ] && [ "$fb" != none ] && [ "${fb_id#*bochs}" != "$fb_id" ]
}
# The ROM the guest read: a signed image, whole 512-byte blocks that fit
# the ROM BAR (a power of two), whose PCI data structure names the
# bochs-display (1234:1111). Its exact size is the nested host's SeaBIOS's.
bochs_rom_ok() {
	case $rom_size in ''|*[!0-9]*) return 1 ;; esac
	case $rom_bar in ''|*[!0-9]*) return 1 ;; esac
	[ "$(report vfio bochs.rom-signature)" = 55aa ] &&
		[ "$(report vfio bochs.rom-pcir)" = PCIR ] &&
		[ "$(report vfio bochs.rom-ids)" = 1234:1111 ] &&
		[ "$rom_size" -gt 0 ] && [ $((rom_size % 512)) = 0 ] &&
		[ "$rom_size" -le "$rom_bar" ] && [ $((rom_bar & (rom_bar - 1))) = 0 ]
}
if [ -n "$bochs_skip" ]; then
	skip vfio.bochs "$bochs_skip"
else
	seen=$(report vfio bochs.device)
	expect vfio.guest-sees-bochs "the guest's bochs-display: '$seen'" test -n "$seen" -a "$seen" != missing
	# Linux 6.1's bochs driver registers as bochs-drm.
	expect vfio.bochs-driver "the guest's driver of the bochs-display: '$(report vfio bochs.driver)'" \
		[ "$(report vfio bochs.driver)" = bochs-drm ]
	fb=$(report vfio bochs.fb) fb_id=$(report vfio bochs.fb-id)
	expect vfio.bochs-framebuffer "framebuffer '$fb', fbdev id '$fb_id', $(report vfio bochs.fb-width)x$(report vfio bochs.fb-height)" \
		bochs_fb_ok
	rom_size=$(report vfio bochs.rom-size) rom_bar=$(report vfio bochs.rom-bar-size)
	expect vfio.bochs-rom "ROM of '$rom_size' bytes in a ROM BAR of '$rom_bar', signature '$(report vfio bochs.rom-signature)', PCI data '$(report vfio bochs.rom-pcir)' for '$(report vfio bochs.rom-ids)'; gvmm said: '$(grep -m1 'expansion ROM' "$E2E_WORK/vfio.err")'" \
		bochs_rom_ok
	pattern=$(report vfio bochs.pattern) at=$(report vfio bochs.pattern-offset)
	wrong=$(report vfio bochs.pattern-wrong)
	expect vfio.bochs-pattern "pattern '$pattern' at '$at' of BAR 0 (${wrong:-?} pixels wrong), mode '$(report vfio bochs.mode)', unbind '$(report vfio bochs.unbind)'" \
		[ "$pattern" = ok ]
	expect vfio.bochs-scanout "the device scans out from '$(report vfio bochs.scanout-offset)' (registers: mode '$(report vfio bochs.dispi-mode)', id '$(report vfio bochs.dispi-id)'), the pattern is at '$at'" \
		[ "$(report vfio bochs.scanout)" = match ]
fi
if [ "$BOOT_STATUS" != 0 ] || [ "$(report vfio edutest)" != ok ] ||
   { [ -z "$bochs_skip" ] && [ "$(report vfio bochstest)" != ok ]; }; then
	console_tail vfio
fi

# mmap=off: edu alone, no BAR page mapped into the guest, so every access
# of edutest's checks (registers, the DMA's setup, MSI's raise and
# acknowledgement) goes through gvmm's trapped path.
boot vfio-trapped "$BOOT_TIMEOUT" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" \
	--memory 256M --cmdline "console=ttyS0 panic=-1 gvmm.test=vfio" --no-reboot --vfio "$EDU,mmap=off"
trapped_ok() {
	[ "$BOOT_STATUS" = 0 ] && [ "$(report vfio-trapped id)" = 0x010000ed ] &&
		[ "$(report vfio-trapped liveness)" = ok ] && [ "$(report vfio-trapped factorial)" = 3628800 ] &&
		[ "$(report vfio-trapped dma)" = ok ] &&
		case $(report vfio-trapped msi) in ok | unsupported:*) true ;; *) false ;; esac
}
expect vfio.trapped-bars "with mmap=off: gvmm exited $BOOT_STATUS, id '$(report vfio-trapped id)', liveness '$(report vfio-trapped liveness)', factorial '$(report vfio-trapped factorial)', dma '$(report vfio-trapped dma)', msi '$(report vfio-trapped msi)'" \
	trapped_ok
trapped_ok || console_tail vfio-trapped

# Leave the devices as they were found: back to their default driver choice.
echo > "$dev/driver_override"
if [ -n "$BOCHS" ]; then
	echo > "/sys/bus/pci/devices/$BOCHS/driver_override"
fi

# --- A mediated display: mbochs, shown through SPICE ---------------------------------

client=(/usr/bin/python3 "$(dirname "$0")/spice_client.py")
mbochs_ko=build/mbochs/mbochs.ko
mbochs_port=${GVMM_E2E_MBOCHS_SPICE_PORT:-15940}
password=gvmm-e2e-secret
# gvmm's --spice display: the default GPU's one output, then the
# mediated device's display.
mbochs_output=1

# bochstest's pattern (tests/guest-tools/bochstest.c), and the client's
# picture compared with it.
mbochs_check=$E2E_WORK/mbochs_check.py
cat >"$mbochs_check" <<'PY'
import sys

M = 0xffffffff

def pattern(x, y):
    """tests/guest-tools/bochstest.c's pattern at (x, y), as (r, g, b)."""
    v = (((x + 1) * 0x9e3779b1) & M) ^ (((y + 1) * 0x85ebca77) & M)
    v ^= v >> 13
    v = (v * 0xc2b2ae35) & M
    v ^= v >> 16
    return (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff

def compare(path, w, h):
    # spice_client.py's dump: "P6\nW H\n255\n", then RGB bytes.
    magic, size, maxval, pixels = open(path, "rb").read().split(b"\n", 3)
    pw, ph = map(int, size.split())
    if (magic, maxval) != (b"P6", b"255") or len(pixels) != 3 * pw * ph:
        return "not a dump of the client's picture"
    if (pw, ph) != (w, h):
        return "the client has %dx%d, the guest showed %dx%d" % (pw, ph, w, h)
    # Every 8th row and the last, whole: a hash of the position cannot
    # match in a shifted, mis-strided or stale picture.
    bad, first = 0, None
    for y in sorted(set(range(0, h, 8)) | {h - 1}):
        row = pixels[3 * w * y:3 * w * (y + 1)]
        for x in range(w):
            want = pattern(x, y)
            if tuple(row[3 * x:3 * x + 3]) != want:
                bad += 1
                if first is None:
                    first = "first at (%d,%d): got %s, want %s" % (
                        x, y, tuple(row[3 * x:3 * x + 3]), want)
    return "ok" if not bad else "%d checked pixels differ, %s" % (bad, first)

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "pixel":
    print("%02x%02x%02x" % pattern(int(args[0]), int(args[1])))
elif cmd == "compare":
    print(compare(args[0], int(args[1]), int(args[2])))
PY

# mbochs_prepare: loads mdev and mbochs and makes an mbochs instance;
# MDEV is its sysfs directory. Returns 1 with MBOCHS_SKIP set when the
# test cannot run here, or with MBOCHS_FAIL set when what should work did
# not.
MDEV='' MBOCHS_SKIP='' MBOCHS_FAIL=''
mbochs_prepare() {
	local magic types t uuid
	if [ -s build/e2e-mbochs/why ]; then
		MBOCHS_SKIP=$(cat build/e2e-mbochs/why)
		return 1
	fi
	if [ ! -f "$mbochs_ko" ]; then
		MBOCHS_SKIP="no $mbochs_ko: run tools/build-mbochs (as root) before the rig (tests/run does, through tests/e2e/mbochs_setup.sh)"
		return 1
	fi
	magic=$(modinfo -F vermagic "$mbochs_ko" 2>/dev/null)
	magic=${magic%% *}
	if [ "$magic" != "$(uname -r)" ]; then
		MBOCHS_SKIP="$mbochs_ko is for kernel '${magic:-?}', the nested host runs $(uname -r) (same GVMM_KVER for tools/build-mbochs and the rig?)"
		return 1
	fi
	if ! modprobe mdev 2>"$E2E_WORK/mdev.err"; then
		MBOCHS_SKIP="the kernel's mdev module does not load: $(head -n 1 "$E2E_WORK/mdev.err")"
		return 1
	fi
	if [ ! -d /sys/module/mbochs ] && ! insmod "$mbochs_ko" 2>"$E2E_WORK/insmod.err"; then
		MBOCHS_FAIL="insmod $mbochs_ko: $(head -n 1 "$E2E_WORK/insmod.err")"
		return 1
	fi
	# The medium type (16 MiB) holds the bochs driver's default mode
	# with room; any other will do.
	types=/sys/class/mdev_bus/mbochs/mdev_supported_types
	for t in "$types/mbochs-medium" "$types"/mbochs-*; do
		[ "$(cat "$t/available_instances" 2>/dev/null || echo 0)" -gt 0 ] && break
		t=
	done
	if [ -z "$t" ]; then
		MBOCHS_FAIL="no mbochs type with an instance available in $types: $(ls "$types" 2>&1 | tr "\n" " ")"
		return 1
	fi
	uuid=$(cat /proc/sys/kernel/random/uuid)
	if ! echo "$uuid" 2>"$E2E_WORK/create.err" >"$t/create"; then
		MBOCHS_FAIL="creating a ${t##*/} instance: $(head -n 1 "$E2E_WORK/create.err")"
		return 1
	fi
	MDEV=/sys/bus/mdev/devices/$uuid
	[ -d "$MDEV" ] || { MBOCHS_FAIL="no $MDEV after ${t##*/}/create"; return 1; }
	echo "mbochs: a ${t##*/} instance, $uuid"
}

# mbochs_client LIMIT ACTION...: one SPICE client on the mediated
# device's display; CLIENT_OUT holds its JSON lines. Status 0 when every
# action succeeded.
mbochs_client() {
	local limit=$1; shift
	CLIENT_OUT=$(timeout "$limit" "${client[@]}" --port "$mbochs_port" --password "$password" \
		--display "$mbochs_output" --timeout "$((limit - 20))" "$@" 2>&1)
}

# On by default; GVMM_E2E_MBOCHS=0 leaves it out (no kernel source to
# install and build then).
if [ "${GVMM_E2E_MBOCHS:-1}" = 0 ]; then
	skip vfio.mbochs "GVMM_E2E_MBOCHS=0: the mediated display is not checked"
	exit 0
fi
if ! mbochs_prepare; then
	if [ -n "$MBOCHS_FAIL" ]; then
		fail vfio.mbochs "$MBOCHS_FAIL"
	else
		skip vfio.mbochs "$MBOCHS_SKIP"
	fi
	exit 0
fi
pass vfio.mbochs-instance
# Where the nested host's kernel log stands before gvmm runs on mbochs.
dmesg_before=$(dmesg | wc -l)

# The guest holds its pattern up until Enter, for at most the boot's time.
GVMM_SPICE_PASSWORD=$password boot_in_background mbochs --kernel "$GUEST_DIR/vmlinuz" \
	--initrd "$GUEST_DIR/initrd.img" --memory 256M --no-reboot \
	--cmdline "console=ttyS0 panic=-1 gvmm.test=vfio gvmm.vfio=mdev gvmm.vfio.wait=$BOOT_TIMEOUT" \
	--vfio "sysfsdev=$MDEV" --spice "127.0.0.1:$mbochs_port,streaming-video=off"
mbochs_pixels="the guest never showed its pattern"
if wait_for_console mbochs GVMM-MDEV-SHOWN 1 "$BOOT_TIMEOUT"; then
	mode=$(report mbochs bochs.mode)
	W=${mode%x*} H=${mode#*x}
	corner=$(python3 "$mbochs_check" pixel $((W - 1)) $((H - 1)))
	# The picture may arrive in pieces: wait for its last pixel and for
	# quiet, then take it; again if it was not whole yet.
	for _ in 1 2 3; do
		if ! mbochs_client 300 "wait-size=$W,$H" "wait-rect=$((W - 1)),$((H - 1)),1,1,$corner" \
			settle=1 "dump=$E2E_WORK/mbochs.ppm"; then
			mbochs_pixels="the client failed: $(tail -n 2 <<<"$CLIENT_OUT" | tr '\n' ' ')"
			continue
		fi
		mbochs_pixels=$(python3 "$mbochs_check" compare "$E2E_WORK/mbochs.ppm" "$W" "$H")
		[ "$mbochs_pixels" = ok ] && break
		sleep 2
	done
fi
# Enter on the guest's keyboard ends its test.
if mbochs_client 120 key=0x1c sleep=1; then
	mbochs_enter="sent"
else
	mbochs_enter="not sent: $(tail -n 2 <<<"$CLIENT_OUT" | tr '\n' ' ')"
fi
timeout "$BOOT_TIMEOUT" tail --pid="$BOOT_PID" -f /dev/null || kill -KILL "$BOOT_PID" 2>/dev/null
wait "$BOOT_PID"
BOOT_STATUS=$?

expect vfio.mbochs-guest-driver "the guest's device '$(report mbochs bochs.device)', driver '$(report mbochs bochs.driver)'" \
	[ "$(report mbochs bochs.driver)" = bochs-drm ]
expect vfio.mbochs-guest-shows "bochstest --show: shown '$(report mbochs bochs.shown)', mode '$(report mbochs bochs.mode)', $(report mbochs bochs.pattern)" \
	[ "$(report mbochs bochs.shown)" = ok ]
expect vfio.mbochs-display-found "gvmm said: $(grep -m 1 'vfio .*display' "$E2E_WORK/mbochs.err")" \
	grep -q "its display (dma-buf planes) is display $mbochs_output on SPICE" "$E2E_WORK/mbochs.err"
expect vfio.mbochs-spice-pixels "the SPICE client's display $mbochs_output vs the guest's pattern: $mbochs_pixels" \
	[ "$mbochs_pixels" = ok ]
expect vfio.mbochs-exit-0 "gvmm exited $BOOT_STATUS, the guest's test '$(test_exit mbochs)' (its keyboard '$(report mbochs bochs.keyboard)', Enter $mbochs_enter, the guest: $(report mbochs bochs.go), $(report mbochs bochs.evread))" \
	[ "$BOOT_STATUS" = 0 -a "$(test_exit mbochs)" = 0 ]
# The device lends the guest's framebuffer pages to gvmm's mappings and
# its dma-bufs: a page freed under them shows in the host kernel's log.
host_kernel_new=$(dmesg | tail -n +"$((dmesg_before + 1))" |
	grep -E 'BUG|WARNING|Bad page|refcount|corrupt|general protection' | head -n 3)
expect vfio.mbochs-host-kernel-quiet "the nested host's kernel said: $host_kernel_new" \
	[ -z "$host_kernel_new" ]
if [ "$BOOT_STATUS" != 0 ] || [ "$mbochs_pixels" != ok ] || [ "$(test_exit mbochs)" != 0 ]; then
	console_tail mbochs
fi
echo 1 >"$MDEV/remove" 2>/dev/null
