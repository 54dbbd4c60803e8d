#!/usr/bin/env bash
# The Debian desktop image (tools/mkimage) booted from its disk with no
# --kernel, with SPICE and virgl (2D where virgl cannot start), judged
# by what the guest and a real SPICE client (tests/e2e/spice_client.py)
# saw, in one boot:
#   - gvmm found the distribution's kernel on the disk by itself;
#   - systemd reached its default target with no failed unit;
#   - the guest took its address by DHCP and fetched a file from the host
#     (same sha256 both ends);
#   - the client sees weston's desktop: its background colour from the
#     image's weston.ini over most of the screen, and the terminal's window;
#   - a click into the terminal and text typed by the client run a command
#     there, whose file the serial console reads back;
#   - weston's cursor (its cursor plane; a virglrenderer resource under
#     virgl) reaches the client: a shape of at most 64x64 one can see;
#   - a click on the panel's terminal launcher starts a second terminal;
#     weston's GL renderer (its log) is virgl with --gpu virgl;
#   - a click on the panel's GL launcher starts es2gears_wayland, and the
#     client sees its window move; with virgl, es2gears itself renders on
#     Mesa's virgl driver (the driver in its memory map);
#   - `poweroff` ends gvmm with status 0, and e2fsck of the image after it
#     finds nothing to fix.
# The image is built by `make test` (tools/mkimage build/debian.img, cached
# while its recipe stays the same) and copied before each run by
# tests/e2e/desktop_image.sh (the host-setup line below), so every run
# boots a pristine copy.
# with-kvm: --rw build/e2e-desktop --mem 6144
# host-setup: tests/e2e/desktop_image.sh
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BOOT_TIMEOUT=${GVMM_BOOT_TIMEOUT:-720}
# virgl wherever virglrenderer starts on the host's GL, a GPU's or
# software GL's (llvmpipe; in the rig too), as tools/demo chooses; 2D
# where it does not. GVMM_E2E_DESKTOP_GPU=2d|virgl overrides.
gpu=2d
gl_check=$("$GVMM" check 2>/dev/null | grep -E '^ *(virglrenderer|GL device) ')
if grep -q -E '^ *virglrenderer +starts' <<<"$gl_check"; then
	gpu=virgl
fi
gpu=${GVMM_E2E_DESKTOP_GPU:-$gpu}
echo "desktop: --gpu $gpu"
dir=build/e2e-desktop
img=$dir/desktop.img
client=(/usr/bin/python3 "$(dirname "$0")/spice_client.py")
port=${GVMM_E2E_DESKTOP_SPICE_PORT:-15960}
W=1024 H=768
background=1e4c74    # [shell] background-color of the image's weston.ini
guest_uid=1000       # the image's user gvmm

if [ ! -f "$img" ]; then
	why=$(cat "$dir/why" 2>/dev/null)
	case $why in
	skip:*) skip desktop "${why#skip: }" ;;
	*) fail desktop "no desktop image to boot: ${why:-tests/e2e/desktop_image.sh did not run}" ;;
	esac
	exit 0
fi

# --- The host's side: a file to fetch, the console -----------------------------

www=$E2E_WORK/www
mkdir -p "$www"
head -c 1048576 /dev/urandom >"$www/blob"
blob_sum=$(sha256sum <"$www/blob" | cut -d' ' -f1)
http_port=${GVMM_E2E_DESKTOP_HTTP_PORT:-15961}
(cd "$www" && exec timeout "$BOOT_TIMEOUT" python3 -m http.server --bind 127.0.0.1 "$http_port") \
	>/dev/null 2>&1 &
http_pid=$!
trap 'kill "$http_pid" 2>/dev/null; rm -rf "$E2E_WORK"' EXIT

# The serial console is gvmm's stdio: a FIFO in (held open by fd 7, so
# gvmm never sees its end) and the log out.
# panic=-1 with --no-reboot: a guest kernel that panics ends gvmm at once,
# so the waits below end with its console tail instead of running out.
log=$E2E_WORK/desktop.log err=$E2E_WORK/desktop.err
mkfifo "$E2E_WORK/console.in"
"$GVMM" run --disk "$img" --memory 2G --cpus 2 --no-reboot \
	--gpu "$gpu,width=$W,height=$H" --spice "127.0.0.1:$port,disable-ticketing" \
	--net user,host-loopback=on --cmdline "quiet panic=-1" --api-socket "$E2E_WORK/api.sock" \
	<"$E2E_WORK/console.in" >"$log" 2>"$err" &
BOOT_PID=$!
exec 7>"$E2E_WORK/console.in"
start=$(date +%s)

# Progress, for a run that never ends.
step() { echo "desktop: [$(($(date +%s) - start)) s] $*"; }
# say LINE: types LINE at the serial console's root shell, while gvmm runs
# (a write into the FIFO nobody reads any more fails, it does not kill us).
trap '' PIPE
say() { kill -0 "$BOOT_PID" 2>/dev/null && printf '%s\n' "$1" >&7; }
# REPORT lines: the shell function g (defined first) prints GVMM-REPORT
# KEY=VALUE; the echo of what was typed never holds that word. (Not
# anchored at the line's start: bash may put a terminal control sequence
# there.)
guest_report() { tr -d '\r' <"$log" | sed -n "s/.*GVMM-REPORT $1=//p" | tail -n 1; }
wait_report() { wait_for_console desktop "GVMM-REPORT $1=" 1 "${2:-$(time_left)}"; }

# --- Boot to the root shell on the serial console --------------------------------

booted=0
if wait_for_console desktop 'root@gvmm-debian' 1 "$(time_left)"; then
	booted=1
	step "a root shell on the serial console"
	say "bind 'set enable-bracketed-paste off'"
	say "g() { printf 'GVMM-%s %s=%s\\n' REPORT \"\$1\" \"\$2\"; }"
	say "g kernel \"\$(uname -r) \$(cat /proc/cmdline)\""
	say "g state \"\$(systemctl is-system-running --wait)\""
	say "g failed \"\$(systemctl --failed --no-legend --plain | awk '{print \$1}' | tr '\\n' ' ')\""
	say "g boot-time \"\$(systemd-analyze time | head -n 1)\""
	say "g dhcp \"\$(ip -4 -o addr show scope global dynamic | awk '{print \$2, \$4}')\""
	say "g fetch \"\$(curl -sS --max-time 60 http://10.0.2.2:$http_port/blob | sha256sum | cut -d' ' -f1)\""
	say "g weston \"\$(systemctl is-active weston.service)\""
	wait_report weston && step "systemd is '$(guest_report state)', weston '$(guest_report weston)'"
fi

# --- The desktop through a real SPICE client ---------------------------------------

# One client connection, driven step by step through a FIFO; its JSON
# answers go to client.out.
mkfifo "$E2E_WORK/client.in"
timeout "$(time_left)" "${client[@]}" --port "$port" --timeout 240 stdin \
	<"$E2E_WORK/client.in" >"$E2E_WORK/client.out" 2>"$E2E_WORK/client.err" &
client_pid=$!
exec 8>"$E2E_WORK/client.in"
# act ACTION: one client action; waits (bounded) for its answer and
# returns its success.
acted=0
act() {
	printf '%s\n' "$1" >&8
	acted=$((acted + 1))
	local deadline=$(($(date +%s) + 300))
	# (The client's first line is its connection's, not an answer.)
	while [ "$(grep -v '"action": "connect"' "$E2E_WORK/client.out" 2>/dev/null | grep -c '"action"')" -lt $acted ]; do
		if ! kill -0 "$client_pid" 2>/dev/null || [ "$(date +%s)" -ge $deadline ]; then
			acted=$((acted + 1000)) # no more answers will come
			return 1
		fi
		sleep 0.2
	done
	tail -n 1 "$E2E_WORK/client.out" | grep -q '"ok": true'
}

# Where the terminal is: weston places windows where it likes, so the
# first picture is searched for the terminal's black inside (the largest
# box of black pixels, sampled every 4th pixel). Prints "X Y W H" or
# nothing.
find_black_box() {
	python3 - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
_, w, h, _ = data.split(maxsplit=4)[:4]
w, h = int(w), int(h)
px = data[len(data) - 3 * w * h:]
xs, ys = [], []
for y in range(40, h, 4):
    row = px[3 * w * y:3 * w * (y + 1)]
    for x in range(0, w, 4):
        if row[3 * x:3 * x + 3] == b"\0\0\0":
            xs.append(x)
            ys.append(y)
if len(xs) >= 2000:   # 2000 samples: at least about 180 x 180 pixels
    xs.sort(); ys.sort()
    # the middle 90 % of them: a stray black pixel elsewhere does not count
    n = len(xs)
    x0, x1, y0, y1 = xs[n // 20], xs[n - 1 - n // 20], ys[n // 20], ys[n - 1 - n // 20]
    print(x0, y0, x1 - x0, y1 - y0)
PY
}
# changed A.ppm B.ppm: how many pixels below the panel differ.
changed() {
	python3 - "$1" "$2" <<'PY'
import sys
a, b = (open(p, "rb").read() for p in sys.argv[1:3])
_, w, h, _ = a.split(maxsplit=4)[:4]
w, h = int(w), int(h)
pa, pb = a[len(a) - 3 * w * h:], b[len(b) - 3 * w * h:]
start = 3 * w * 40   # below the panel, whose clock ticks every second
print(sum(1 for i in range(start, 3 * w * h, 3) if pa[i:i + 3] != pb[i:i + 3]))
PY
}

# When the client never sees the desktop, what each side had, printed
# with the test's output (CI keeps nothing else): the client's picture
# (its commonest colours), the guest's KMS state and weston's processes,
# and where each of gvmm's threads is (gdb, where the machine has it).
no_desktop_diagnostics() {
	echo "desktop: no desktop in the client; what each side had:"
	if act "dump=$shots/no-desktop.ppm"; then
		python3 - "$shots/no-desktop.ppm" <<'PY'
import collections, sys
data = open(sys.argv[1], "rb").read()
_, w, h, _ = data.split(maxsplit=4)[:4]
w, h = int(w), int(h)
px = data[len(data) - 3 * w * h:]
count = collections.Counter(px[i:i + 3] for i in range(0, len(px), 3 * 7))
total = sum(count.values())
print("desktop: the client's picture (%dx%d), commonest colours: %s" % (w, h, ", ".join(
    "#%s %.0f%%" % (c.hex(), 100.0 * n / total) for c, n in count.most_common(3))))
PY
	fi
	say "{ printf 'GVMM-%s\\n' DIAG-BEGIN; head -n 40 /sys/kernel/debug/dri/*/state; ps -eo pid,stat,wchan:28,etimes,comm | grep -E 'weston|Xwayland|seatd'; printf 'GVMM-%s\\n' DIAG-END; } 2>&1"
	if wait_for_console desktop 'GVMM-DIAG-END' 1 60; then
		tr -d '\r' <"$log" | sed -n '/^GVMM-DIAG-BEGIN/,/^GVMM-DIAG-END/p' | sed 's/^/desktop: guest: /'
	fi
	# Twice, 5 s apart: whether frames still come from the GPU (updates)
	# and still go on to SPICE (sent).
	echo "desktop: gvmm: $("$GVMM" ctl "$E2E_WORK/api.sock" status 2>&1)"
	sleep 5
	echo "desktop: gvmm 5 s later: $("$GVMM" ctl "$E2E_WORK/api.sock" status 2>&1)"
	if command -v gdb >/dev/null; then
		timeout 90 gdb -p "$BOOT_PID" -batch -ex 'thread apply all bt 10' 2>&1 |
			grep -E '^(Thread|#)' | sed 's/^/desktop: gvmm: /'
	else
		echo "desktop: no gdb here for gvmm's threads"
	fi
}

# What the client saw is kept beside the image (build/e2e-desktop/*.ppm,
# on this machine also after a run in the rig), to look at after a failure.
shots=$dir
desktop_seen=0 status_seen= terminal_box= typed= terminals= gears= gears_dri= renderer= moved= still=
cursor=
token=$RANDOM$RANDOM
if [ $booted = 1 ] && act wait-primary && act "wait-size=$W,$H" && act wait-mouse-mode=client; then
	step "the client has the ${W}x$H display and the tablet"
	# The panel's clock ticks every second, so the picture never settles:
	# the background, then a few seconds for the rest to be drawn.
	if act "wait-share=$background,30" && act sleep=3 && act "dump=$shots/desktop.ppm"; then
		desktop_seen=1
		terminal_box=$(find_black_box "$shots/desktop.ppm")
		step "the client sees the desktop; the terminal at '$terminal_box'"
		status_seen=$("$GVMM" ctl "$E2E_WORK/api.sock" status 2>&1)
	else
		no_desktop_diagnostics
	fi
fi
if [ -n "$terminal_box" ]; then
	read -r tx ty tw th <<<"$terminal_box"
	# Click into the terminal (it takes the keyboard), type a command.
	act "position=$((tx + tw / 2)),$((ty + th / 2))" && act button-down=1 && act button-up=1 &&
		act sleep=1 && act "type=echo typed-$token >/tmp/typed\\n" && act sleep=3
	say "for i in \$(seq 30); do [ -s /tmp/typed ] && break; sleep 1; done; g typed \"\$(cat /tmp/typed 2>&1)\""
	wait_report typed 120 && typed=$(guest_report typed)
	step "typed: '$typed'"

	# The pointer is over the desktop now, so weston shows its cursor on
	# the cursor plane: a dumb buffer (under virgl, a virglrenderer
	# resource) whose shape must reach the client.
	act wait-cursor && cursor=$(tail -n 1 "$E2E_WORK/client.out")
	step "the client's cursor: '${cursor:-none}'"

	# How much of the picture below the panel changes in 2 s on a quiet
	# desktop (the clock aside): the yardstick for the GL demo below.
	act "dump=$shots/before.ppm" && act sleep=2 && act "dump=$shots/before2.ppm"
	[ -f "$shots/before2.ppm" ] && still=$(changed "$shots/before.ppm" "$shots/before2.ppm")

	# The panel's first launcher (weston.ini: weston-terminal) at its
	# place on the panel: a second terminal must start.
	act position=22,16 && act button-down=1 && act button-up=1
	say "for i in \$(seq 60); do [ \$(pgrep -c -u $guest_uid weston-termina) -ge 2 ] && break; sleep 1; done; g terminals \"\$(pgrep -c -u $guest_uid weston-termina)\""
	wait_report terminals 120 && terminals=$(guest_report terminals)
	step "terminals after the click on the launcher: '$terminals'"
	# weston's own GL renderer, as it logged it. From the whole boot's
	# journal: "journalctl -u weston" had none of weston's own lines (its
	# PAM login session is the likely reason; not looked into further).
	say "g renderer \"\$(journalctl -b --no-pager | grep -m1 'GL renderer:')\""
	wait_report renderer 120 && renderer=$(guest_report renderer)

	# The second launcher (es2gears_wayland): the GL demo must start and
	# draw: pictures 2 s apart until they differ by much more than the
	# quiet desktop's did (its first frame may take a while on a slow host).
	act position=52,16 && act button-down=1 && act button-up=1
	say "for i in \$(seq 60); do pgrep -u $guest_uid es2gears >/dev/null && break; sleep 1; done; g gears \"\$(pgrep -a -u $guest_uid es2gears)\""
	wait_report gears 120 && gears=$(guest_report gears)
	step "after the click on the GL launcher: '$gears'"
	for n in $(seq 1 15); do
		act "dump=$shots/gears1.ppm" && act sleep=2 && act "dump=$shots/gears2.ppm" || break
		moved=$(changed "$shots/gears1.ppm" "$shots/gears2.ppm")
		[ "${moved:-0}" -gt $(( ${still:-0} + 2000 )) ] && break
	done
	step "the GL demo changed $moved pixels in 2 s (the quiet desktop: $still)"
	# The Mesa driver the GL demo itself loaded (its memory map): Mesa's
	# virgl driver is virtio_gpu_dri.so, software GL kms_swrast/swrast.
	say "g gearsdri \"\$(grep -o '[a-z_]*_dri\.so' /proc/\$(pgrep -u $guest_uid -o es2gears)/maps | sort -u | tr '\\n' ' ')\""
	wait_report gearsdri 60 && gears_dri=$(guest_report gearsdri)
	step "the GL demo's Mesa driver: '$gears_dri'"
fi
exec 8>&-
timeout 30 tail --pid="$client_pid" -f /dev/null || kill "$client_pid" 2>/dev/null

# --- Power off, then the image ---------------------------------------------------

[ $booted = 1 ] && say "journalctl -b -u weston -o short-monotonic --no-pager | tail -n 25; g journal done"
[ $booted = 1 ] && wait_report journal 60
[ $booted = 1 ] && say poweroff
step "powering off"
if ! timeout "$(time_left)" tail --pid="$BOOT_PID" -f /dev/null; then
	echo "gvmm still ran ${BOOT_TIMEOUT}s after its start: killed"
	kill -KILL "$BOOT_PID" 2>/dev/null
fi
wait "$BOOT_PID"
BOOT_STATUS=$?
exec 7>&-
seconds=$(($(date +%s) - start))
# The root file system starts 1 MiB into the image (tools/mkimage).
fsck_out=$(e2fsck -fn "$img?offset=1048576" 2>&1)
fsck_status=$?

# --- Checks ----------------------------------------------------------------------

failed=0
check() {
	local name=$1 what=$2; shift 2
	if "$@"; then pass "$name"; else fail "$name" "$what"; failed=1; fi
}
client_said() { grep -v '"ok": true' "$E2E_WORK/client.out" 2>/dev/null | head -c 400; tail -n 2 "$E2E_WORK/client.err" 2>/dev/null | tr '\n' ' '; }

check desktop.kernel-from-disk "the guest ran '$(guest_report kernel)'" \
	grep -q 'root=UUID=' <<<"$(guest_report kernel)"
check desktop.systemd-running "systemd says '$(guest_report state)'; failed units: '$(guest_report failed)'" \
	[ "$(guest_report state)" = running ]
check desktop.dhcp "the guest's dynamic addresses: '$(guest_report dhcp)'" \
	grep -q '10\.0\.2\.15/24' <<<"$(guest_report dhcp)"
check desktop.fetch-from-host "guest got sha256 '$(guest_report fetch)', host sent $blob_sum" \
	[ "$(guest_report fetch)" = "$blob_sum" ]
check desktop.weston-running "weston.service is '$(guest_report weston)'" \
	[ "$(guest_report weston)" = active ]
check desktop.spice-sees-desktop "the client never saw 30% of the display in #$background: $(client_said)" \
	[ $desktop_seen = 1 ]
# gvmm's own account of the display, while the client watched: the
# output at the desktop's size, frames from the GPU, pictures to SPICE.
status_display_ok() {
	python3 - "$W" "$H" "$status_seen" 2>/dev/null <<'PY'
import json, sys
w, h = int(sys.argv[1]), int(sys.argv[2])
d = json.loads(sys.argv[3])["display"]   # gvmm ctl prints the result object
o = d["outputs"][0]
sys.exit(0 if d["viewers"] and (o["width"], o["height"]) == (w, h) and o["updates"] > 0 and o["sent"] > 0 else 1)
PY
}
check desktop.status-tells-display "gvmm ctl status said: '${status_seen:-nothing}'" status_display_ok
check desktop.spice-sees-terminal "no terminal window (a box of black) in the client's picture" \
	[ -n "$terminal_box" ]
check desktop.typed-into-terminal "the guest's /tmp/typed: '$typed' (want typed-$token); $(client_said)" \
	[ "$typed" = "typed-$token" ]
check desktop.click-starts-terminal "weston-terminals after the click on the panel's launcher: '$terminals' (want 2)" \
	[ "$terminals" = 2 ]
# cursor_ok: a shape of at most 64x64 with pixels one can see.
cursor_ok() {
	python3 -c '
import json, sys
c = json.loads(sys.argv[1])
sys.exit(0 if c.get("ok") and 0 < c["width"] <= 64 and 0 < c["height"] <= 64 and (c["opaque"] or 0) > 0 else 1)' "$cursor" 2>/dev/null
}
check desktop.cursor-reaches-client "weston's cursor as the client got it: '${cursor:-none}'" cursor_ok
if [ "$gpu" = virgl ]; then
	check desktop.weston-renders-on-virgl "weston's log: '$renderer'" \
		grep -q 'GL renderer: virgl' <<<"$renderer"
else
	skip desktop.weston-renders-on-virgl "the desktop ran on --gpu $gpu: $(tr -s ' \n' ' ' <<<"${gl_check:-gvmm check said nothing of virglrenderer}")"
fi
check desktop.click-starts-gl-demo "the guest's es2gears processes after the click on the panel: '$gears'" \
	[ -n "$gears" ]
if [ "$gpu" = virgl ]; then
	check desktop.gl-demo-on-virgl "the Mesa driver es2gears loaded: '$gears_dri' (want virtio_gpu_dri.so)" \
		grep -q 'virtio_gpu_dri\.so' <<<"$gears_dri"
else
	skip desktop.gl-demo-on-virgl "the desktop ran on --gpu $gpu; es2gears loaded '$gears_dri'"
fi
check desktop.gl-demo-draws "pixels that changed in 2 s with the demo running: '${moved:-none}' (without it: '${still:-?}')" \
	[ "${moved:-0}" -gt $(( ${still:-0} + 2000 )) ]
check desktop.poweroff-exit-0 "gvmm exited $BOOT_STATUS after the guest's poweroff" \
	[ "$BOOT_STATUS" = 0 ]
check desktop.fsck-clean "e2fsck -fn of the root file system exited $fsck_status: $(tail -n 3 <<<"$fsck_out" | tr '\n' ' ')" \
	[ "$fsck_status" = 0 ]
echo "desktop: ${seconds}s from start to gvmm's exit; $(guest_report boot-time); terminal at '$terminal_box'"
if [ $failed != 0 ]; then
	console_tail desktop
	cp -- "$log" "$shots/console.log" 2>/dev/null
	cp -- "$err" "$shots/gvmm.err" 2>/dev/null
	echo "desktop: the console, gvmm's messages and the client's pictures are in $shots"
fi
exit 0
