#!/bin/sh
# OpenGL in the guest through virtio-gpu with virgl (gvmm --gpu virgl),
# driven by the host-side test tests/e2e/guest_gl.sh. Needs the GL
# initramfs (tools/mkguest --gl: initrd-gl.img) for Mesa, kmscube and
# glprobe. Kernel parameters:
#
#   gvmm.gl.frames=N   glprobe's frames (default 30)
#   gvmm.gl.kmscube=N  kmscube's frames (default 60; 0 leaves it out)
#   gvmm.gl.wait=S     bound of each wait, for kmscube and for the host
#                      (default 120)
#   gvmm.gl.hold=S     bound of the hold of glprobe's last frame for the
#                      host's Enter (default: gvmm.gl.wait); 0 holds
#                      nothing and waits for no Enter: for tools/bench's
#                      GPU row, which has no SPICE client and only reads
#                      glprobe's frames and seconds
#   gvmm.gl.gpufuzz=1  first drive the device with gpufuzz's own driver
#                      and its malformed 2D and 3D commands
#                      (tests/guest-tools/gpufuzz.c), then give it back to
#                      the kernel for the rest (default 0)
#   gvmm.gl.fuzz=1     run virglfuzz (malformed 3D commands from a context
#                      of its own) while glprobe renders (default 0)
#   gvmm.gl.busy=S     after glprobe, one GL job of about S seconds
#                      (glbusy), during which the host types lines on the
#                      console and the guest echoes each as "PONG <line>"
#                      (default 0: none)
#
# Steps, each reported as "REPORT gl.KEY=value":
#   1. /dev/dri/card0 and renderD128 exist; the virtio_gpu driver's
#      features line (dmesg) says +virgl;
#   1b. with gvmm.gl.gpufuzz=1, gpufuzz's malformed commands, each
#      answer reported as "REPORT gpufuzz.CASE=0xTYPE";
#   2. kmscube renders N frames (its stdin is a FIFO that nobody writes:
#      kmscube stops when its stdin becomes readable);
#   3. glprobe (tests/guest-tools/glprobe.c) renders its frames through
#      GBM/EGL/GLES2, checks them with glReadPixels and page-flips each to
#      the display; "GVMM-GL-SHOWN" says its last frame (left half red,
#      right half blue, a green strip on top) is on the display: the host
#      then looks at it with a SPICE client and presses Enter (on the virtio
#      keyboard), which ends the hold. With gvmm.gl.fuzz=1, virglfuzz
#      (tests/guest-tools/virglfuzz.c) sends its malformed commands once
#      glprobe has its GL context, and must be done before glprobe is;
#      the device's error answers the kernel logged ("response 0x12xx"
#      in dmesg) are counted;
#   4. with gvmm.gl.busy=S, glbusy's long job (tests/guest-tools/glbusy.c)
#      with the console echo running beside it: "GLBUSY job-start" and
#      "GLBUSY job-end" bound the job on the console, and the host's
#      lines echoed between them show the guest ran while the host's GL
#      worked.
# Exit status non-zero when a step failed.
set -o pipefail

frames=30 kmscube_frames=60 wait=120 hold= fuzz=0 busy=0 gpufuzz=0
for arg in $(cat /proc/cmdline); do
	case $arg in
	gvmm.gl.gpufuzz=*) gpufuzz=${arg#*=} ;;
	gvmm.gl.fuzz=*) fuzz=${arg#*=} ;;
	gvmm.gl.busy=*) busy=${arg#*=} ;;
	gvmm.gl.frames=*) frames=${arg#*=} ;;
	gvmm.gl.kmscube=*) kmscube_frames=${arg#*=} ;;
	gvmm.gl.wait=*) wait=${arg#*=} ;;
	gvmm.gl.hold=*) hold=${arg#*=} ;;
	esac
done
[ -n "$hold" ] || hold=$wait
rc=0
failed() { echo "gl.sh: $*"; rc=1; }
# Mesa would write its shader cache under $HOME: nothing to keep here.
export MESA_SHADER_CACHE_DISABLE=true

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
# The first line of FILE with PREFIX, without the prefix.
field() { sed -n "s/^$2//p" "$1" | head -n 1; }
# The device's error answers so far, as the kernel's driver logged them
# (rate-limited: a burst of 10, then "callbacks suppressed").
device_errors() { dmesg | grep -c 'response 0x12'; }

# --- 1. The device --------------------------------------------------------------

# The modules were loaded by init (virtio_gpu among them); the nodes follow.
if ! wait_until 30 [ -c /dev/dri/card0 -a -c /dev/dri/renderD128 ]; then
	echo "REPORT gl.nodes=$(ls /dev/dri 2>/dev/null | tr '\n' ' ')"
	failed "no /dev/dri/card0 and /dev/dri/renderD128"
	exit 1
fi
echo "REPORT gl.nodes=card0,renderD128"
# "[drm] features: +virgl +edid -resource_blob ..." (Linux 6.1).
features=$(dmesg | grep -o 'features: [-+]virgl.*' | head -n 1)
echo "REPORT gl.features=$features"
case $features in
*+virgl*) ;;
*) failed "the virtio_gpu driver did not report +virgl: '$features'" ;;
esac

# gpufuzz takes the device from the kernel, sends its cases and gives it
# back: the nodes come again, and everything after runs on the device
# the malformed commands went to.
if [ "$gpufuzz" = 1 ]; then
	timeout 120 gpufuzz
	echo "REPORT gl.gpufuzz=$?"
	if ! wait_until 30 [ -c /dev/dri/card0 -a -c /dev/dri/renderD128 ]; then
		failed "no /dev/dri/card0 and renderD128 after gpufuzz"
		exit 1
	fi
fi

# The framebuffer console would draw over the frames: unbind it.
for v in /sys/class/vtconsole/vtcon*; do
	grep -q 'frame buffer' "$v/name" 2>/dev/null && echo 0 >"$v/bind"
done

# --- 2. kmscube --------------------------------------------------------------------

if [ "$kmscube_frames" -gt 0 ]; then
	mkfifo /tmp/kmscube.in
	# Held open for reading and writing by this shell, never written.
	exec 9<>/tmp/kmscube.in
	start=$(cut -d' ' -f1 /proc/uptime)
	timeout "$wait" kmscube -c "$kmscube_frames" <&9 >/tmp/kmscube.out 2>&1
	krc=$?
	end=$(cut -d' ' -f1 /proc/uptime)
	exec 9>&-
	sed 's/^/kmscube: /' /tmp/kmscube.out
	renderer=$(field /tmp/kmscube.out '  renderer: ' | tr -d '"')
	echo "REPORT gl.kmscube_renderer=$renderer"
	echo "REPORT gl.kmscube_seconds=$(awk "BEGIN { print $end - $start }")"
	if [ "$krc" = 0 ]; then
		echo "REPORT gl.kmscube=ok frames=$kmscube_frames"
	else
		echo "REPORT gl.kmscube=failed status=$krc"
		failed "kmscube -c $kmscube_frames exited with status $krc (143: ran past ${wait}s)"
	fi
else
	echo "REPORT gl.kmscube=skipped"
fi

# --- 3. glprobe, then the host's look at its frame ----------------------------------------

# The host's Enter ends the hold (evread ends on its release, saying
# "EVREAD-END reason=until"); else glprobe ends it itself after $hold
# seconds, or ends at once on a failure. Without a hold, no evread: its
# wait for a keyboard would only delay the end.
rm -f /tmp/gl-stop
: >/tmp/evread.out
ev=
if [ "$hold" -gt 0 ]; then
	evread -t $((hold * 2)) -u 1:28:0 "keyboard=gvmm keyboard" >/tmp/evread.out 2>&1 &
	ev=$!
	wait_until 10 grep -q EVREAD-READY /tmp/evread.out ||
		echo "gl.sh: evread is not ready (no Enter from the host): $(cat /tmp/evread.out)"
fi
# This line and GVMM-GL-SHOWN bound, for a host that watches the console
# (tools/bench's SPICE client), the time glprobe renders.
echo "GVMM-GLPROBE-START"
glprobe "$frames" "$hold" /tmp/gl-stop >/tmp/glprobe.out 2>&1 &
gp=$!
if [ "$fuzz" = 1 ]; then
	# Once glprobe has its GL context (its second line), beside it.
	wait_until 60 grep -q '^GLPROBE egl=' /tmp/glprobe.out ||
		failed "glprobe made no GL context within 60 s"
	before=$(device_errors)
	timeout 60 virglfuzz >/tmp/virglfuzz.out 2>&1
	frc=$?
	if kill -0 "$gp" 2>/dev/null && ! grep -q '^GLPROBE frames=' /tmp/glprobe.out; then
		overlap=yes
	else
		overlap=no
	fi
	cat /tmp/virglfuzz.out
	# The answers come back asynchronously.
	wait_until 10 [ "$(device_errors)" -gt "$before" ]
	echo "REPORT gl.fuzz=$frc"
	echo "REPORT gl.fuzz_overlap=$overlap"
	echo "REPORT gl.fuzz_device_errors=$(($(device_errors) - before))"
	dmesg | grep 'response 0x12' | tail -n 3 | sed 's/^/gl.sh: dmesg: /'
	[ "$frc" = 0 ] || failed "virglfuzz exited with status $frc"
fi
shown=0
while kill -0 "$gp" 2>/dev/null; do
	if [ $shown = 0 ] && grep -q '^GLPROBE shown' /tmp/glprobe.out; then
		shown=1
		echo "GVMM-GL-SHOWN"
	fi
	grep -q 'EVREAD-END reason=until' /tmp/evread.out && break
	sleep 0.2
done
: >/tmp/gl-stop
wait "$gp"
grc=$?
erc=
if [ -n "$ev" ]; then
	kill "$ev" 2>/dev/null
	wait "$ev"
	erc=$?
fi
cat /tmp/glprobe.out

echo "REPORT gl.renderer=$(sed -n 's/^GLPROBE renderer=\(.*\) version=.*/\1/p' /tmp/glprobe.out)"
echo "REPORT gl.version=$(sed -n 's/^GLPROBE renderer=.* version=\(.*\)/\1/p' /tmp/glprobe.out)"
echo "REPORT gl.readback=$(field /tmp/glprobe.out 'GLPROBE readback ')"
echo "REPORT gl.frames=$(sed -n 's/^GLPROBE frames=\([0-9]*\) .*/\1/p' /tmp/glprobe.out)"
echo "REPORT gl.seconds=$(sed -n 's/^GLPROBE frames=.* seconds=//p' /tmp/glprobe.out)"
echo "REPORT gl.hold=$(field /tmp/glprobe.out 'GLPROBE hold=')"
echo "REPORT gl.glprobe=$grc"
case $(field /tmp/glprobe.out 'GLPROBE renderer=') in
*virgl*) ;;
*) failed "the GL renderer is not virgl" ;;
esac
[ "$grc" = 0 ] || failed "glprobe exited with status $grc"
# evread: 0 Enter came; 1 its own time ran out; 2 no keyboard; killed
# (143): glprobe ended first. None started: no hold was asked for.
if [ -z "$erc" ]; then
	echo "REPORT gl.go=skipped"
elif [ "$erc" = 0 ]; then
	echo "REPORT gl.go=enter"
else
	echo "REPORT gl.go=none status=$erc"
fi

# --- 4. A long GL job, and the console beside it ---------------------------------

if [ "$busy" -gt 0 ]; then
	# Each line the host types comes back as "PONG <line>"; the tty's
	# own echo would only add noise.
	stty -echo 2>/dev/null
	exec 3<&0
	(while read -r line <&3; do echo "PONG $line"; done) &
	echoer=$!
	timeout $((busy * 10 + 60)) glbusy "$busy"
	brc=$?
	kill "$echoer" 2>/dev/null
	exec 3<&-
	echo "REPORT gl.busy=$brc"
	[ "$brc" = 0 ] || failed "glbusy exited with status $brc"
fi
exit $rc
