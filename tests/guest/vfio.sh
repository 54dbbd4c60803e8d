#!/bin/sh
# Passed-through devices (tests/e2e/guest_vfio.sh): the guest lists what it
# sees on PCI, then runs edutest on the edu device (its registers, DMA and
# two MSIs), which reports each check. When the host passed a
# bochs-display through as well, the kernel's bochs driver must have bound
# it and made a framebuffer of it; the guest reads the device's expansion
# ROM through sysfs; bochstest then shows a pattern through the driver and
# reads it back through the device's BAR 0.
#
#   gvmm.vfio=mdev      the one device is a mediated bochs-display (an
#                       instance of the kernel's mbochs sample): after the
#                       driver check, bochstest --show keeps its pattern on
#                       the device's screen, which gvmm shows on SPICE,
#                       until the host's client presses Enter on the virtio
#                       keyboard ("GVMM-MDEV-SHOWN": the pattern is up)
#   gvmm.vfio.wait=S    bound of that wait (default 600)
mode=passthrough wait=600
for arg in $(cat /proc/cmdline); do
	case $arg in
	gvmm.vfio=*) mode=${arg#*=} ;;
	gvmm.vfio.wait=*) wait=${arg#*=} ;;
	esac
done
for d in /sys/bus/pci/devices/*; do
	echo "REPORT pci_device=$(basename "$d") $(cat "$d/vendor"):$(cat "$d/device")"
done
[ "$mode" = mdev ] || /bin/edutest | sed 's/^/REPORT /'

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s, bounded.
wait_until() {
	n=$(($1 * 5))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}

bochs=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1234:0x1111 ] && bochs=$d
done
if [ -z "$bochs" ]; then
	echo "REPORT bochs.device=missing"
	exit 0
fi
echo "REPORT bochs.device=${bochs##*/}"
bochs_real=$(readlink -f "$bochs")

# The init script loads the bochs module before the test starts; the
# waits only cover a probe that is still running.
wait_until 30 [ -e "$bochs/driver" ]
driver=$(basename "$(readlink "$bochs/driver" 2>/dev/null)" 2>/dev/null)
echo "REPORT bochs.driver=${driver:-none}"

# The framebuffer console lets go of the framebuffers: before bochstest
# unbinds the driver under one, and so that its cursor never blinks over
# a pattern shown.
release_fbcon() {
	for v in /sys/class/vtconsole/vtcon*; do
		grep -q 'frame buffer' "$v/name" 2>/dev/null && echo 0 >"$v/bind"
	done
}

# A mediated display: the pattern stays up while the host looks.
if [ "$mode" = mdev ]; then
	[ -n "$driver" ] || exit 1
	kbd=
	for e in /sys/class/input/event*; do
		[ "$(cat "$e/device/name")" = "gvmm keyboard" ] && kbd=/dev/input/${e##*/}
	done
	echo "REPORT bochs.keyboard=${kbd:-none}"
	release_fbcon
	/bin/bochstest --show "$bochs" >/tmp/show.out 2>&1 &
	show=$!
	shown() { grep -q '^bochs.shown=ok' /tmp/show.out || ! kill -0 "$show" 2>/dev/null; }
	wait_until 60 shown
	sed 's/^/REPORT /' /tmp/show.out
	grep -q '^bochs.shown=ok' /tmp/show.out || { kill "$show" 2>/dev/null; exit 1; }
	# The keyboard is open before the host hears the pattern is up: an
	# Enter that came first would be lost.
	rc=1
	: >/tmp/evread.out
	if [ -n "$kbd" ]; then
		evread -t "$wait" -u 1:28:0 "keyboard=$kbd" >/tmp/evread.out 2>&1 &
		ev=$!
		wait_until 10 grep -q EVREAD-READY /tmp/evread.out ||
			echo "vfio.sh: evread is not ready: $(cat /tmp/evread.out)"
	fi
	echo "GVMM-MDEV-SHOWN"
	if [ -n "$kbd" ] && wait "$ev"; then
		echo "REPORT bochs.go=enter"
		rc=0
	else
		echo "REPORT bochs.go=timeout"
	fi
	# What the keyboard gave: "EVREAD-END reason=... events=N".
	echo "REPORT bochs.evread=$(tail -n 1 /tmp/evread.out)"
	kill "$show" 2>/dev/null
	wait "$show" 2>/dev/null
	exit $rc
fi

# Its expansion ROM: QEMU's bochs-display carries SeaBIOS's VGA BIOS, and
# gvmm offers the device's ROM behind the ROM BAR. The kernel turns the
# BAR's enable bit on while sysfs reads it ("echo 1" allows the read).
# Reported: the BAR's size (resource line 7), the image's size, its
# 55 aa signature, and the PCI data structure it points to (at 0x18),
# which names the device.
bochs_rom() {
	rom=/tmp/bochs.rom
	if [ ! -e "$bochs/rom" ]; then
		echo "REPORT bochs.rom-size=none"
		return
	fi
	set -- $(sed -n 7p "$bochs/resource")
	[ $# -ge 2 ] && echo "REPORT bochs.rom-bar-size=$(($2 - $1 + 1))"
	echo 1 >"$bochs/rom"
	cat "$bochs/rom" >"$rom" 2>/dev/null
	echo 0 >"$bochs/rom"
	echo "REPORT bochs.rom-size=$(wc -c <"$rom")"
	echo "REPORT bochs.rom-signature=$(od -An -tx1 -N2 "$rom" | tr -d ' ')"
	pcir=$(od -An -tu2 -j 24 -N2 "$rom" | tr -d ' ')
	[ -n "$pcir" ] || return
	echo "REPORT bochs.rom-pcir=$(od -An -c -j "$pcir" -N4 "$rom" | tr -d ' ')"
	set -- $(od -An -tx2 -j $((pcir + 4)) -N4 "$rom")
	echo "REPORT bochs.rom-ids=${1:-}:${2:-}"
}
bochs_rom

# The fbdev emulation's framebuffer of this device: the fb whose device
# is the bochs-display, with its /dev node.
fb=
bochs_fb() {
	for f in /sys/class/graphics/fb[0-9]*; do
		if [ "$(readlink -f "$f/device")" = "$bochs_real" ] && [ -c "/dev/${f##*/}" ]; then
			fb=${f##*/}
			return 0
		fi
	done
	return 1
}
wait_until 30 bochs_fb
echo "REPORT bochs.fb=${fb:-none}"
# What fbdev says of it (fb.id names the driver); the mmap must work.
[ -n "$fb" ] && fbpaint -d "/dev/$fb" info | sed 's/^REPORT fb\./REPORT bochs.fb-/'

release_fbcon
if [ -n "$driver" ]; then
	/bin/bochstest "$bochs" | sed 's/^/REPORT /'
else
	echo "REPORT bochs.pattern=setup-failed:no driver bound the device"
fi
