#!/usr/bin/env bash
# GL frames to a local SPICE client as dmabufs, with no copy in host
# memory (--spice unix:PATH with --gpu virgl on a render node; gl=on|off).
# The nested host has no GPU: vgem gives it a DRM device Mesa's software
# driver renders on, and its buffers are dmabufs a client maps. Mesa can
# make buffers there only through vgem's primary node (render nodes may not
# make dumb buffers), so gvmm is given /dev/dri/card0 as its render node,
# and gl=on, since on software GL dmabufs are not the default.
#   - display/gl_dmabuf.c's own test on that device (copies land exactly);
#   - gvmm says it sends dmabufs, and the guest's GL renderer is virgl;
#   - a client that takes GL draws and never acknowledges them (as a hung
#     client would) does not hold the guest: after the timeout gvmm says so
#     and reads frames back instead, and kmscube and glprobe still finish;
#   - a real client (spice_client.py --gl on: SpiceClientGLib) that takes
#     them, coming while the hung one is still connected (spice-server
#     drops that one for it), gets the scanout as a dmabuf (XRGB8888, top row first), maps it,
#     and sees glprobe's last frame there, every pixel; it acknowledges the
#     draw, and gvmm's status counts it; no pixels went the readback way
#     meanwhile; its Enter reaches the guest;
#   - gl=on over TCP is refused before anything starts; without gl=on,
#     software GL reads frames back (its clients could not show dmabufs);
#   - the guest powers off and gvmm exits 0.
# SKIP without vgem (no module to load) or without the GL initramfs.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BOOT_TIMEOUT=${GVMM_BOOT_TIMEOUT:-420}
kernel=$GUEST_DIR/vmlinuz
initrd=$GUEST_DIR/initrd-gl.img
client=(/usr/bin/python3 "$(dirname "$0")/spice_client.py")
W=640 H=480
frames=${GVMM_E2E_GL_FRAMES:-20}
kmscube_frames=${GVMM_E2E_GL_KMSCUBE:-60}
wait=120
node=/dev/dri/card0
sock=$E2E_WORK/gl-dmabuf.spice api=$E2E_WORK/gl-dmabuf.api

# The parser's answer needs no guest.
out=$("$GVMM" run --kernel /dev/null --gpu virgl --spice 127.0.0.1:15941,gl=on 2>&1)
expect gl-dmabuf.gl-on-needs-unix "gvmm said: $out" \
	grep -q 'gl=on needs a unix:PATH socket' <<<"$out"

if [ ! -f "$initrd" ]; then
	skip gl-dmabuf "no $initrd: build it with tools/mkguest --gl $GUEST_DIR (make test does)"
	exit 0
fi
loaded_vgem=0
if [ ! -e /sys/module/vgem ]; then
	if ! modprobe vgem 2>"$E2E_WORK/vgem.err"; then
		skip gl-dmabuf "no vgem here to give GL a DRM device: $(head -c 200 "$E2E_WORK/vgem.err")"
		exit 0
	fi
	loaded_vgem=1
fi
# vgem is this test's alone: gone again whatever happens (and lib.sh's
# own clean-up still runs).
trap '[ $loaded_vgem = 1 ] && modprobe -r vgem 2>/dev/null; rm -rf "$E2E_WORK"' EXIT
# vgem has no DRI driver of its own: Mesa would look for one first, fail,
# and leave what that attempt allocated behind (which the sanitizer build
# reports as leaks at exit); named, it goes straight to its software one.
export MESA_LOADER_DRIVER_OVERRIDE=kms_swrast
for _ in $(seq 50); do [ -c $node ] && break; sleep 0.1; done

# The buffer's own checks, on the device gvmm will use (the one about the
# surfaceless platform cannot run where a device is: the unit tests run it).
GVMM_TEST_DRM_NODE=$node "$GVMM_BUILD/tests/test_gl_dmabuf" 2>"$E2E_WORK/gl-dmabuf-unit.err" |
	grep -v '^SKIP gl_dmabuf.surfaceless_says_why_not' |
	sed -E 's/^(PASS|FAIL|SKIP) gl_dmabuf\./\1 gl-dmabuf.vgem-/'

# Without gl=on, software GL (llvmpipe here) reads frames back: its
# clients' own GL could not show the dmabufs. Said as the GPU starts, so
# the small guest is stopped right after.
boot_in_background gl-auto --kernel "$kernel" --initrd "$GUEST_DIR/initrd.img" --memory 256M \
	--gpu "virgl,rendernode=$node" --spice "unix:$E2E_WORK/auto.spice" --net none
for _ in $(seq 300); do
	grep -q 'virtio-gpu: GL frames' "$E2E_WORK/gl-auto.err" 2>/dev/null && break
	kill -0 "$BOOT_PID" 2>/dev/null || break
	sleep 0.2
done
kill -TERM "$BOOT_PID" 2>/dev/null
wait "$BOOT_PID" 2>/dev/null
expect gl-dmabuf.software-gl-reads-back-by-default "gvmm said: $(grep -m 3 -i 'GL frames\|error' "$E2E_WORK/gl-auto.err" | tr '\n' ' ')" \
	grep -q 'GL frames are read back for SPICE clients: the host.s GL is software' "$E2E_WORK/gl-auto.err"

# --- The boot ------------------------------------------------------------------

boot_in_background gl-dmabuf --kernel "$kernel" --initrd "$initrd" --memory 1G --no-reboot \
	--cmdline "console=ttyS0 panic=-1 quiet gvmm.test=gl gvmm.gl.frames=$frames gvmm.gl.kmscube=$kmscube_frames gvmm.gl.wait=$wait" \
	--gpu "virgl,width=$W,height=$H,rendernode=$node" --spice "unix:$sock,gl=on" --api-socket "$api"
start=$(date +%s)
log=$E2E_WORK/gl-dmabuf.log err=$E2E_WORK/gl-dmabuf.err
# status_field OUTPUT-0-KEY: from gvmm's status, now.
status_field() {
	"$GVMM" ctl "$api" status 2>/dev/null | python3 -c '
import json, sys
try:
    print(json.load(sys.stdin)["display"]["outputs"][0][sys.argv[1]])
except Exception:
    print("none")' "$1"
}

for _ in $(seq 600); do
	[ -S "$sock" ] && [ -S "$api" ] && break
	kill -0 "$BOOT_PID" 2>/dev/null || break
	sleep 0.2
done
if [ ! -S "$sock" ]; then
	fail gl-dmabuf.start "no SPICE socket: gvmm said $(head -c 400 "$err")"
	kill -KILL "$BOOT_PID" 2>/dev/null
	wait_boot_end
	console_tail gl-dmabuf
	exit 0
fi

# A client that never acknowledges, there from the start: the guest's
# first frame goes to it, and everything after waits on it until gvmm
# gives up on it.
"${client[@]}" --unix "$sock" --gl no-ack --timeout "$wait" wait-gl-draws=1 "sleep=$wait" \
	>"$E2E_WORK/noack.out" 2>"$E2E_WORK/noack.err" &
noack=$!
stalled=0
wait_for_console gl-dmabuf GVMM-GL-SHOWN 1 "$(time_left)" && stalled=1
noack_draws=$(status_field dmabuf_draws) noack_acks=$(status_field dmabuf_acks)
readback_updates=$(status_field updates)

# The client that takes GL: glprobe's frame from its mapped dmabuf. It
# comes while the hung one is still connected, and spice-server drops
# that one for it (one client at a time): the newcomer's arrival and the
# old client's leaving come in either order.
half=$((W / 2)) strip=$((H / 8))
pixels_result="the guest never showed its frame"
client_out=
updates_before= acks_before= updates_after= acks_after=
if [ $stalled = 1 ]; then
	updates_before=$(status_field updates) acks_before=$(status_field dmabuf_acks)
	client_out=$(timeout 200 "${client[@]}" --unix "$sock" --gl on --timeout 30 wait-primary \
		"wait-size=$W,$H" wait-gl-draws=1 \
		"wait-rect=0,$strip,$half,$((H - strip)),ff0000" \
		"wait-rect=$half,$strip,$((W - half)),$((H - strip)),0000ff" \
		"wait-rect=0,0,$W,$strip,00ff00" \
		settle=1 "dump=$E2E_WORK/gl-dmabuf.ppm" 2>"$E2E_WORK/gl-client.err")
	updates_after=$(status_field updates) acks_after=$(status_field dmabuf_acks)
	kill "$noack" 2>/dev/null
	pixels_result=$(python3 "$(dirname "$0")/glprobe_frame.py" "$E2E_WORK/gl-dmabuf.ppm" "$W" "$H")
	# Enter on a connection of its own: the one above has checked what
	# it had to.
	timeout 60 "${client[@]}" --unix "$sock" --gl on --timeout 30 wait-primary key=0x1c \
		>>"$E2E_WORK/gl-client.out" 2>>"$E2E_WORK/gl-client.err"
fi
kill "$noack" 2>/dev/null
wait "$noack" 2>/dev/null
wait_for_console gl-dmabuf GVMM-TEST-EXIT= 1 "$(time_left)"
wait_boot_end

# --- Checks ----------------------------------------------------------------------

failed=0
check() {
	local name=$1 what=$2; shift 2
	if "$@"; then pass "$name"; else fail "$name" "$what"; failed=1; fi
}
gl_field() {   # KEY: from the GL client's wait-gl-draws answer
	grep '"action": "wait-gl-draws' <<<"$client_out" | python3 -c '
import json, sys
try:
    print(json.loads(sys.stdin.readline())[sys.argv[1]])
except Exception:
    print("none")' "$1"
}
check gl-dmabuf.chosen "gvmm did not say it sends dmabufs: $(grep -i -m 2 'dmabuf\|read back' "$err" | tr '\n' ' ')" \
	grep -q 'GL frames go to local SPICE clients as dmabufs' "$err"
check gl-dmabuf.renderer-is-virgl "the guest's GL renderer is '$(report gl-dmabuf gl.renderer)'" \
	grep -q -E '^REPORT gl\.renderer=.*virgl' "$log"
check gl-dmabuf.unacknowledged-draws-time-out "no-ack client: draws $noack_draws, acks $noack_acks, readback updates $readback_updates; gvmm: $(grep -m 1 'acknowledged' "$err"); client: $(head -c 300 "$E2E_WORK/noack.out")" \
	grep -q 'has not acknowledged a GL frame in time' "$err"
check gl-dmabuf.guest-not-held "with the hung client, kmscube '$(report gl-dmabuf gl.kmscube)', glprobe '$(report gl-dmabuf gl.glprobe)' frames '$(report gl-dmabuf gl.frames)'" \
	[ "$(report gl-dmabuf gl.kmscube)" = "ok frames=$kmscube_frames" -a "$(report gl-dmabuf gl.frames)" = "$frames" ]
# counts_grew BEFORE AFTER / counts_equal A B: numbers from status_field.
counts_grew() { [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]] && [ "$2" -gt "$1" ]; }
counts_equal() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" = "$2" ]; }
check gl-dmabuf.readback-took-over "with the hung client, the display took $readback_updates pixel updates (want > 0)" \
	counts_grew 0 "$readback_updates"
check gl-dmabuf.client-maps-scanout "the client's scanout: $(grep '"action": "wait-gl-draws' <<<"$client_out" | head -c 400) $(tail -n 3 "$E2E_WORK/gl-client.err" 2>/dev/null | tr '\n' ' ')" \
	[ "$(gl_field mapped)" = True -a "$(gl_field fourcc)" = 34325258 -a "$(gl_field y0top)" = True -a "$(gl_field width)" = "$W" ]
check gl-dmabuf.spice-pixels "client vs glprobe's frame: $pixels_result; client: $(grep -v '"ok": true' <<<"$client_out" | head -c 600)" \
	[ "$pixels_result" = ok ]
check gl-dmabuf.draws-acknowledged "gvmm's acknowledged draws went from $acks_before to ${acks_after:-none}" \
	counts_grew "$acks_before" "${acks_after:-}"
check gl-dmabuf.no-copies "pixel updates (readback) went from $updates_before to ${updates_after:-none} while the GL client watched (want no change)" \
	counts_equal "$updates_before" "${updates_after:-}"
check gl-dmabuf.spice-input "the client's Enter: guest says '$(report gl-dmabuf gl.go)' (want enter)" \
	[ "$(report gl-dmabuf gl.go)" = enter ]
check gl-dmabuf.clean-exit "VMM exited $BOOT_STATUS, guest test exited '$(test_exit gl-dmabuf)'" \
	[ "$BOOT_STATUS" = 0 -a "$(test_exit gl-dmabuf)" = 0 ]
echo "gl-dmabuf: $(($(date +%s) - start))s; glprobe $(report gl-dmabuf gl.frames) frames in $(report gl-dmabuf gl.seconds) s; kmscube $(report gl-dmabuf gl.kmscube_seconds) s; hung client: $noack_draws draws, $noack_acks acks, $readback_updates pixel updates; GL client: acks $acks_before -> $acks_after, pixel updates $updates_before -> $updates_after"
if [ $failed = 1 ]; then
	console_tail gl-dmabuf
	echo "---- gvmm's stderr (its last lines):"
	grep -v '^    #' "$err" | tail -n 25
	for c in noack gl-client; do
		echo "---- the $c client's stderr and answers:"
		tail -n 8 "$E2E_WORK/$c.err" "$E2E_WORK/$c.out" 2>/dev/null
	done
	echo "---- gvmm's status now: $("$GVMM" ctl "$api" status 2>&1 | head -c 600)"
fi
exit 0
