#!/usr/bin/env bash
# 3D: virtio-gpu with virgl (--gpu virgl: virglrenderer on the host's GL),
# judged by what the guest's Mesa did (tests/guest/gl.sh on the GL
# initramfs, tools/mkguest --gl) and by what a real SPICE client got
# (tests/e2e/spice_client.py):
#   - first, without a guest: the CPU gvmm runs on loads AVX2 gathers right
#     (tests/e2e/gather_check.c), or llvmpipe, whose texture fetches use
#     them, is kept from AVX2;
#   - the guest's virtio_gpu driver reports +virgl;
#   - Mesa's renderer in the guest is virgl;
#   - glprobe renders and page-flips its frames (each flip waits for the
#     rendering's fence: glprobe returning means every fence came back)
#     and reads its last frame back right;
#   - kmscube renders its frames;
#   - first, a guest program drives the GPU with a driver of its own
#     (tests/guest-tools/gpufuzz.c) and sends malformed 2D and 3D
#     commands the kernel's driver would never send (bad context ids,
#     capsets, resource parameters, boxes, submit sizes, a garbage
#     stream): each is answered with an error, a good context beside
#     them still works, and the kernel's driver takes the device back
#     (everything after runs on it);
#   - a guest program sends malformed 3D commands from a context of its
#     own (tests/guest-tools/virglfuzz.c: bad resource parameters, bad
#     transfer boxes and levels, garbage command streams) while glprobe
#     renders: the guest's kernel logs the device's error answers, gvmm
#     logs that it refused them (rate-limited), and glprobe's context
#     renders on: all its frames, the last one read back right;
#   - while one GL job of several seconds runs (tests/guest-tools/glbusy.c),
#     lines typed on the serial console come back echoed by the guest
#     before the job ends: no vCPU waits for the host's GL;
#   - a SPICE client connected while glprobe renders receives at least two
#     of its frames whole, and they differ (glprobe XORs each frame's
#     colours with a mask that changes every frame);
#   - a SPICE client sees glprobe's last frame: left half red, right half
#     blue, a green strip over the top eighth, every pixel (so a frame shown
#     upside down fails too); then its Enter reaches the guest;
#   - the guest powers off and gvmm exits 0.
# SKIP when this gvmm or host has no virgl (gvmm refuses --gpu virgl before
# the guest starts, saying so) or when the GL initramfs was not built.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BOOT_TIMEOUT=${GVMM_BOOT_TIMEOUT:-420}
kernel=$GUEST_DIR/vmlinuz
initrd=$GUEST_DIR/initrd-gl.img
client=(/usr/bin/python3 "$(dirname "$0")/spice_client.py")
port=${GVMM_E2E_GL_SPICE_PORT:-15940}
W=640 H=480          # the GPU's mode: small, the host renders with llvmpipe
frames=${GVMM_E2E_GL_FRAMES:-40}             # glprobe's frames
kmscube_frames=${GVMM_E2E_GL_KMSCUBE:-30}    # 0 leaves kmscube out
busy=${GVMM_E2E_GL_BUSY:-6}                  # glbusy's job, seconds
wait=120             # the guest's bound for kmscube and for the host's Enter

# llvmpipe (virgl's host GL here) fetches texels with AVX2 gathers, so
# either this CPU gathers right, or llvmpipe must not use AVX2: the rig's
# emulated CPU (QEMU 7.2's TCG) gets gathers with index ymm4 wrong, and
# tools/rig sets GALLIUM_OVERRIDE_CPU_CAPS=sse4.1 for that. Asked of Mesa
# as gvmm starts it (GALLIUM_DUMP_CPU through gvmm check).
gather_check=$GVMM_BUILD/tests/e2e/gather_check
if [ ! -x "$gather_check" ]; then
	fail gl.llvmpipe-gathers-right "no $gather_check: make unit-tests builds it"
elif gathers=$("$gather_check" 2>&1); then
	pass gl.llvmpipe-gathers-right
else
	caps=$(GALLIUM_DUMP_CPU=1 "$GVMM" check 2>&1 | grep -E 'has_avx2 = ')
	expect gl.llvmpipe-gathers-right "this CPU's AVX2 gathers are wrong and llvmpipe would use them ('${caps:-no caps from Mesa}'): $(tail -n 3 <<<"$gathers" | tr '\n' ' ')" \
		grep -q 'has_avx2 = 0' <<<"$caps"
fi

if [ ! -f "$initrd" ]; then
	skip gl "no $initrd: build it with tools/mkguest --gl $GUEST_DIR (make test does)"
	exit 0
fi

# --- The boot ------------------------------------------------------------------

# COM1 on stdio: its output is the console log, its input a FIFO this
# script holds open (fd 3) and types into during glbusy's job.
log=$E2E_WORK/gl.log err=$E2E_WORK/gl.err fifo=$E2E_WORK/gl.in
mkfifo "$fifo"
"$GVMM" run --kernel "$kernel" --initrd "$initrd" --memory 1G --no-reboot \
	--cmdline "console=ttyS0 panic=-1 quiet gvmm.test=gl gvmm.gl.frames=$frames gvmm.gl.kmscube=$kmscube_frames gvmm.gl.wait=$wait gvmm.gl.gpufuzz=1 gvmm.gl.fuzz=1 gvmm.gl.busy=$busy" \
	--gpu "virgl,width=$W,height=$H" --spice "127.0.0.1:$port,disable-ticketing" \
	--serial stdio <"$fifo" >"$log" 2>"$err" &
BOOT_PID=$!
exec 3>"$fifo"
start=$(date +%s)


# Until SPICE listens on the port, or gvmm is gone (bounded).
listening=0
deadline=$((start + 120))
while [ "$(date +%s)" -lt "$deadline" ]; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		listening=1
		break
	fi
	kill -0 "$BOOT_PID" 2>/dev/null || break
	sleep 0.2
done

# gvmm without virgl (not built in, or no EGL on this host) refuses
# --gpu virgl before the guest runs: nothing on the console, and a message
# about virgl or EGL. Anything else that ends it early is a failure.
if [ $listening = 0 ] && ! kill -0 "$BOOT_PID" 2>/dev/null; then
	wait_boot_end
	if [ "$BOOT_STATUS" != 0 ] && [ ! -s "$log" ] && grep -q -i -E 'virgl|EGL' "$err"; then
		skip gl "gvmm has no virgl here (status $BOOT_STATUS): $(head -n 3 "$err" | tr '\n' ' ')"
		exit 0
	fi
	fail gl.start "gvmm exited with status $BOOT_STATUS before its SPICE server listened"
	console_tail gl
	exit 0
fi
if [ $listening = 0 ]; then
	fail gl.spice-listening "nothing accepts on 127.0.0.1:$port after 120 s"
	kill -KILL "$BOOT_PID" 2>/dev/null
	wait_boot_end
	console_tail gl
	exit 0
fi

# The guest's last frame: left half red, right half blue, the top eighth
# green (tests/guest-tools/glprobe.c). The client waits for each part,
# for the updates to stop, writes what it has, then presses Enter (the
# guest stops holding the frame). One connection; every action answers
# one JSON line, and a failed one does not stop the rest.
half=$((W / 2)) strip=$((H / 8))
pixels_result="the guest never showed its frame"
client_out=
# Connected from here (the guest still boots or runs kmscube), a first
# client counts the glprobe frames it receives whole, from the guest's
# GVMM-GLPROBE-START line to GVMM-GL-SHOWN; it ends before the second one
# connects (spice-server takes one client at a time).
timeout 300 "${client[@]}" --port "$port" --timeout 280 \
	"count-frames=$log,GVMM-GLPROBE-START,GVMM-GL-SHOWN" >"$E2E_WORK/count.out" 2>"$E2E_WORK/count.err" &
count_pid=$!
if wait_for_console gl GVMM-GL-SHOWN 1 "$(time_left)"; then
	timeout 60 tail --pid="$count_pid" -f /dev/null 2>/dev/null
	client_out=$(timeout 200 "${client[@]}" --port "$port" --timeout 30 wait-primary \
		"wait-size=$W,$H" \
		"wait-rect=0,$strip,$half,$((H - strip)),ff0000" \
		"wait-rect=$half,$strip,$((W - half)),$((H - strip)),0000ff" \
		"wait-rect=0,0,$W,$strip,00ff00" \
		settle=1 "dump=$E2E_WORK/gl.ppm" key=0x1c 2>"$E2E_WORK/client.err")
	pixels_result=$(python3 "$(dirname "$0")/glprobe_frame.py" "$E2E_WORK/gl.ppm" "$W" "$H")
	# glbusy's job: a line typed every quarter second while it runs.
	if wait_for_console gl 'GLBUSY job-start' 1 "$(time_left)"; then
		trap '' PIPE # a gvmm gone ends the typing, not this script
		for k in $(seq 1 $((busy * 20 + 40))); do
			grep -q 'GLBUSY job-end' "$log" && break
			kill -0 "$BOOT_PID" 2>/dev/null || break
			echo "ping-$k" >&3 || break
			sleep 0.25
		done
	fi
fi
wait_for_console gl GVMM-TEST-EXIT= 1 "$(time_left)"
wait_boot_end
exec 3>&-
kill "$count_pid" 2>/dev/null
wait "$count_pid" 2>/dev/null
seconds=$(($(date +%s) - start))

# --- Checks ----------------------------------------------------------------------

failed=0
check() {
	local name=$1 what=$2; shift 2
	if "$@"; then pass "$name"; else fail "$name" "$what"; failed=1; fi
}
frames_ok() {
	[ "$(report gl gl.glprobe)" = 0 ] && [ "$(report gl gl.frames)" = "$frames" ] &&
		[ "$(report gl gl.readback)" = "left=ff0000 right=0000ff top=00ff00" ]
}
check gl.virgl-feature "the guest's virtio_gpu features: '$(report gl gl.features)' (want +virgl)" \
	grep -q -E '^REPORT gl\.features=.*\+virgl' "$log"
check gl.renderer-is-virgl "the guest's GL renderer is '$(report gl gl.renderer)'" \
	grep -q -E '^REPORT gl\.renderer=.*virgl' "$log"
check gl.frames "glprobe exited '$(report gl gl.glprobe)', frames '$(report gl gl.frames)' of $frames, readback '$(report gl gl.readback)'" \
	frames_ok
if [ "$kmscube_frames" -gt 0 ]; then
	check gl.kmscube "kmscube: '$(report gl gl.kmscube)', renderer '$(report gl gl.kmscube_renderer)'" \
		[ "$(report gl gl.kmscube)" = "ok frames=$kmscube_frames" ]
fi
cases=$(report gl gpufuzz.cases)
not_errors=$(gpufuzz_not_errors gl)
gpufuzz_ok() {
	[ "$(report gl gl.gpufuzz)" = 0 ] && [ "$(report gl gpufuzz.virgl)" = 1 ] && [ -n "$cases" ] &&
		[ -z "$not_errors" ] && [ "$(report gl gpufuzz.alive3d)" = ok ] &&
		[ "$(report gl gpufuzz.alive)" = 0x1101 ] && [ "$(report gl gpufuzz.rebind)" = ok ]
}
check gl.gpu-malformed-3d-commands "gpufuzz exited '$(report gl gl.gpufuzz)' with virgl '$(report gl gpufuzz.virgl)'; cases not answered with an error: ${not_errors:-none}${cases:+ (of $(wc -w <<<"${cases//,/ }"))}; the good context after them: '$(report gl gpufuzz.alive3d)'; GET_DISPLAY_INFO: '$(report gl gpufuzz.alive)'; the kernel's driver back: '$(report gl gpufuzz.rebind)'" \
	gpufuzz_ok
# gvmm says what it refused, one line per 10 s at most (and the first).
refusals=$(grep -c "refused the guest's command" "$err")
refusals_bound=$((seconds / 10 + 2))
fuzz_ok() {
	[ "$(report gl virglfuzz.done)" = 1 ] && [ "$(report gl gl.fuzz)" = 0 ] &&
		[ "$(report gl gl.fuzz_overlap)" = yes ] && [ "$(report gl gl.fuzz_device_errors)" -ge 1 ] 2>/dev/null &&
		[ "$refusals" -ge 1 ] && [ "$refusals" -le "$refusals_bound" ] && frames_ok
}
check gl.malformed-3d-commands "virglfuzz exited '$(report gl gl.fuzz)' after $(report gl virglfuzz.cases) cases (done '$(report gl virglfuzz.done)'), during glprobe's rendering: '$(report gl gl.fuzz_overlap)'; the guest's kernel logged $(report gl gl.fuzz_device_errors) error answers of the device (want 1 or more); gvmm logged $refusals refusal lines (want 1 to $refusals_bound); glprobe beside it: exited '$(report gl gl.glprobe)', frames '$(report gl gl.frames)' of $frames, readback '$(report gl gl.readback)'" \
	fuzz_ok
# The console lines between glbusy's job-start and job-end: the echoes of
# what the host typed while the job ran.
echoed=$(tr -d '\r' <"$log" | sed -n '/^GLBUSY job-start/,/^GLBUSY job-end/p' | grep -c '^PONG ping-')
job=$(tr -d '\r' <"$log" | sed -n 's/^GLBUSY job-end seconds=\([0-9.]*\) .*/\1/p')
check gl.console-during-gl-job "glbusy exited '$(report gl gl.busy)', its job took '${job:-?}' s, the guest echoed ${echoed:-0} typed lines during it (want 2 or more); glbusy said: $(tr -d '\r' <"$log" | grep '^GLBUSY' | tr '\n' ' ')" \
	[ "$(report gl gl.busy)" = 0 -a "${echoed:-0}" -ge 2 ]
received=$(sed -n 's/.*"action": "count-frames".*"frames": \([0-9]*\),.*"ok": true.*/\1/p' "$E2E_WORK/count.out" 2>/dev/null)
check gl.spice-frames-differ "the first client received ${received:-no count of} glprobe frames whole (want 2 or more): $(grep -v '"ok": true' "$E2E_WORK/count.out" 2>/dev/null | head -c 400) $(tail -n 2 "$E2E_WORK/count.err" 2>/dev/null | tr '\n' ' ')" \
	[ "${received:-0}" -ge 2 ]
check gl.spice-pixels "client vs glprobe's frame: $pixels_result; client: $(grep -v '"ok": true' <<<"$client_out" | head -c 600) $(tail -n 3 "$E2E_WORK/client.err" 2>/dev/null | tr '\n' ' ')" \
	[ "$pixels_result" = ok ]
check gl.spice-input "the client's Enter: guest says '$(report gl gl.go)' (want enter)" \
	[ "$(report gl gl.go)" = enter ]
check gl.clean-exit "VMM exited $BOOT_STATUS, guest test exited '$(test_exit gl)'" \
	[ "$BOOT_STATUS" = 0 -a "$(test_exit gl)" = 0 ]
echo "gl boot: ${seconds}s; glprobe: $(report gl gl.frames) frames in $(report gl gl.seconds) s ($(report gl gl.renderer)); kmscube: $(report gl gl.kmscube_seconds) s; a SPICE client received ${received:-no count of} glprobe frames whole; virglfuzz: $(report gl virglfuzz.cases) cases, $(report gl gl.fuzz_device_errors) error answers logged; glbusy: a ${job:-?} s job, ${echoed:-0} console lines echoed during it"
[ $failed = 0 ] || console_tail gl
exit 0
