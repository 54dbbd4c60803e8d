#!/bin/sh
# The display and input devices as the guest sees them, driven by the
# host-side test tests/e2e/guest_display.sh (and tools/bench-display)
# through these kernel parameters:
#
#   gvmm.display=test|bench   test (default): the steps below; bench: frames
#                             for tools/bench-display (fbpaint drm-bench),
#                             then wait for Enter
#   gvmm.display.rect=X,Y,W,H,RRGGBB
#                             the partial update (default 96,64,320,200,ff00ff)
#   gvmm.display.wait=S       bound of each wait for the host (default 600)
#   gvmm.display.frames=N     bench: number of frames (default 20)
#
# The host can only talk to the guest through its input devices, so each
# "go on" is a key: the test's steps are
#   1. report the GPU, the DRM connector and its modes, the input devices;
#   2. paint the full pattern through /dev/fb0 (tests/guest-tools/fbpaint.c),
#      then record input events (evread) until KEY_ENTER is released,
#      printing every event as "EVENT LABEL TYPE CODE VALUE": the host
#      checks the pixels, sends keys, pointer positions and buttons, then
#      Enter ("EVREAD-READY" says the recording runs);
#   3. paint the partial rectangle ("GVMM-DISPLAY-PARTIAL" once it is
#      painted and msync'ed: the host then waits for it on its client);
#   4. wait for the connector's preferred mode to change (the host's
#      client asks for another size) and report the modes.
# Results are "REPORT key=value" lines; the exit status is non-zero when
# a step could not be done at all.
set -o pipefail

mode=test rect=96,64,320,200,ff00ff wait=600 frames=20
for arg in $(cat /proc/cmdline); do
	case $arg in
	gvmm.display=*) mode=${arg#*=} ;;
	gvmm.display.rect=*) rect=${arg#*=} ;;
	gvmm.display.wait=*) wait=${arg#*=} ;;
	gvmm.display.frames=*) frames=${arg#*=} ;;
	esac
done
rc=0
failed() { echo "display.sh: $*"; rc=1; }

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s, bounded.
wait_until() {
	local n=$(($1 * 5))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}
# One line from a multi-line file, for a REPORT value.
joined() { tr '\n' ' ' <"$1" | sed 's/ *$//'; }

# --- 1. What the guest has ------------------------------------------------------

wait_until 30 [ -e /dev/fb0 -a -e /dev/dri/card0 ] || { failed "no /dev/fb0 or /dev/dri/card0"; exit 1; }
# The driver of the virtio-gpu device (virtio device id 16).
for d in /sys/bus/virtio/devices/*; do
	[ "$(cat "$d/device")" = 0x0010 ] &&
		echo "REPORT gpu.driver=$(basename "$(readlink "$d/driver")")"
done
conn=
for c in /sys/class/drm/card0-*; do
	[ "$(cat "$c/status" 2>/dev/null)" = connected ] && { conn=$c; break; }
done
[ -n "$conn" ] || { failed "no connected DRM connector"; exit 1; }
echo "REPORT drm.connector=${conn#/sys/class/drm/card0-}"
modes_before=$(joined "$conn/modes")
preferred_before=$(head -n 1 "$conn/modes")
echo "REPORT drm.modes_before=$modes_before"
echo "REPORT drm.preferred_before=$preferred_before"

# The virtio input devices, told apart by what they report: a tablet has
# absolute axes, a mouse relative ones only, a keyboard neither.
kbd= tablet= mouse=
for e in /sys/class/input/event*; do
	dev=$e/device
	name=$(cat "$dev/name")
	echo "REPORT input.${e##*/}=$name"
	case $(readlink -f "$dev/device") in */virtio*) ;; *) continue ;; esac
	if [ "$(cat "$dev/capabilities/abs")" != 0 ]; then
		tablet=/dev/input/${e##*/}
		echo "REPORT input.tablet=$name"
	elif [ "$(cat "$dev/capabilities/rel")" != 0 ]; then
		mouse=/dev/input/${e##*/}
		echo "REPORT input.mouse=$name"
	else
		kbd=/dev/input/${e##*/}
		echo "REPORT input.keyboard=$name"
	fi
done
[ -n "$kbd" ] || { failed "no virtio keyboard"; exit 1; }

# The framebuffer console would draw its cursor over the pattern: unbind it.
for v in /sys/class/vtconsole/vtcon*; do
	grep -q 'frame buffer' "$v/name" 2>/dev/null && echo 0 >"$v/bind"
done

# A SPICE agent port (the QEMU stand-in has one: virtio-serial
# com.redhat.spice.0) is held open, so that its SPICE server tells clients
# an agent is there; spice-gtk sends a window's size only then.
for p in /sys/class/virtio-ports/*; do
	[ "$(cat "$p/name" 2>/dev/null)" = com.redhat.spice.0 ] || continue
	exec 7<>"/dev/${p##*/}" && echo "REPORT agent_port=held"
done

# --- The benchmark ---------------------------------------------------------------

# Frames on the host's key presses (see fbpaint.c); after them fbpaint
# keeps the last frame up until Enter, so that the host can measure the
# VMM with the display up and its client still connected.
if [ "$mode" = bench ]; then
	fbpaint drm-bench "$frames" "$kbd" || failed "drm-bench failed"
	echo "GVMM-DISPLAY-BENCH-DONE"
	exit $rc
fi

# --- 2. Full pattern, then input ----------------------------------------------------

fbpaint full || { failed "painting the pattern failed"; exit 1; }
echo "GVMM-DISPLAY-FULL"
set --
[ -n "$tablet" ] && set -- "$@" "tablet=$tablet"
[ -n "$mouse" ] && set -- "$@" "mouse=$mouse"
# Until KEY_ENTER (28) is released.
if evread -t "$wait" -u 1:28:0 "keyboard=$kbd" "$@"; then
	echo "REPORT input.go=enter"
else
	failed "no Enter from the host within ${wait}s"
fi

# --- 3. Partial update ---------------------------------------------------------------

IFS=, read -r rx ry rw rh rcolor <<EOF
$rect
EOF
fbpaint rect "$rx" "$ry" "$rw" "$rh" "$rcolor" || failed "painting the rectangle failed"
echo "GVMM-DISPLAY-PARTIAL"

# --- 4. A new preferred mode ------------------------------------------------------------

# The kernel re-reads the modes when the device signals a display change;
# nothing here asks it to.
changed() { [ "$(head -n 1 "$conn/modes")" != "$preferred_before" ]; }
if wait_until "$wait" changed; then
	# The list may still be settling: give it a moment.
	sleep 1
	echo "REPORT drm.resize=changed"
else
	echo "REPORT drm.resize=timeout"
fi
echo "REPORT drm.modes_after=$(joined "$conn/modes")"
echo "REPORT drm.preferred_after=$(head -n 1 "$conn/modes")"
echo "GVMM-DISPLAY-DONE"
exit $rc
