#!/usr/bin/env bash
# The display: virtio-gpu, virtio keyboard/tablet/mouse and the embedded
# SPICE server, judged by what a real SPICE client got (tests/e2e/
# spice_client.py: spice-gtk's SpiceClientGLib) and what the guest itself
# saw (tests/guest/display.sh, tests/guest/gpufuzz.sh):
#   - the guest paints a position-keyed pattern through /dev/fb0: the
#     client's pixels must equal it, every one; then a rectangle: it must
#     change and nothing else;
#   - keys, tablet positions and buttons the client sends must reach the
#     guest's evdev devices as the same key codes and positions (scaled to
#     0..32767 over the mode);
#   - a monitors config from the client (a window resize) must become the
#     connector's preferred mode in the guest;
#   - a wrong password is refused; a non-loopback address without a
#     password is refused at start;
#   - a guest driving the GPU itself with malformed commands gets an
#     error for each, and gvmm keeps running.
# Two boots: the display one and the malformed-commands one.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BOOT_TIMEOUT=${GVMM_BOOT_TIMEOUT:-600}
kernel=$GUEST_DIR/vmlinuz
initrd=$GUEST_DIR/initrd.img
client=(/usr/bin/python3 "$(dirname "$0")/spice_client.py")
port=${GVMM_E2E_SPICE_PORT:-15930}
password=gvmm-e2e-secret
W=1280 H=800           # the GPU's mode
NEW_W=1024 NEW_H=768   # what the client asks for
rect=96,64,320,200,ff00ff
trap '' PIPE # a dead client must not kill the script through its FIFO

# --- What the VMM gets: the one place that says it ------------------------------

# start_vm NAME SPICE GUEST-CMDLINE: the VM in the background (BOOT_PID),
# its console in $E2E_WORK/NAME.log. SPICE is a --spice value; a password
# goes in GVMM_SPICE_PASSWORD, where other users cannot read it.
start_vm() {
	boot_in_background "$1" --kernel "$kernel" --initrd "$initrd" --memory 256M --no-reboot \
		--cmdline "$3" --gpu "2d,width=$W,height=$H" --spice "$2"
}
# The names the guest must see on its input devices.
want_keyboard="gvmm keyboard" want_tablet="gvmm tablet" want_mouse="gvmm mouse"

# --- Helpers ------------------------------------------------------------------

# check NAME BOOT WHAT COMMAND...: PASS or FAIL; a failure marks BOOT so
# that its console tail is shown once, by show_failures BOOT.
declare -A boot_failed
check() {
	local name=$1 bootname=$2 what=$3; shift 3
	if "$@"; then
		pass "$name"
	else
		fail "$name" "$what"
		boot_failed[$bootname]=1
	fi
}
show_failures() {
	[ -n "${boot_failed[$1]:-}" ] && console_tail "$1"
	return 0
}

# finish_boot: waits (bounded) for the background VM to end; BOOT_STATUS.
finish_boot() {
	timeout "$BOOT_TIMEOUT" tail --pid="$BOOT_PID" -f /dev/null || kill -KILL "$BOOT_PID" 2>/dev/null
	wait "$BOOT_PID"
	BOOT_STATUS=$?
}

# wait_listening PORT SECONDS: until something accepts on 127.0.0.1:PORT.
wait_listening() {
	local deadline=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$BOOT_PID" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# One SPICE client for the whole display boot, fed actions through a FIFO
# (spice_client.py's "stdin" action); each action answers one JSON line.
# client_start ARGS...: connects (bounded); status 0 when connected.
client_start() {
	rm -f "$E2E_WORK/client.in"
	mkfifo "$E2E_WORK/client.in"
	timeout "$BOOT_TIMEOUT" "${client[@]}" --timeout 300 "$@" stdin <"$E2E_WORK/client.in" \
		>"$E2E_WORK/client.out" 2>"$E2E_WORK/client.err" &
	client_pid=$!
	exec 8>"$E2E_WORK/client.in"
	client_lines=0
	client_next 320
}
# client_do ACTION: runs one action; CLIENT_REPLY is its line; status 0 when ok.
client_do() {
	echo "$1" >&8 2>/dev/null
	client_next 400
}
client_next() {
	local deadline=$(($(date +%s) + $1))
	client_lines=$((client_lines + 1))
	while [ "$(wc -l <"$E2E_WORK/client.out")" -lt "$client_lines" ]; do
		if ! kill -0 "$client_pid" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
			CLIENT_REPLY="no answer from the client; its stderr: $(tail -n 3 "$E2E_WORK/client.err" | tr '\n' ' ')"
			return 1
		fi
		sleep 0.1
	done
	CLIENT_REPLY=$(sed -n "${client_lines}p" "$E2E_WORK/client.out")
	[[ $CLIENT_REPLY == *'"ok": true'* ]]
}
client_stop() {
	exec 8>&-
	timeout 30 tail --pid="$client_pid" -f /dev/null || kill "$client_pid" 2>/dev/null
	wait "$client_pid" 2>/dev/null
}

# Pixel and event checks, in Python for speed (stdlib only).
helper=$E2E_WORK/display_check.py
cat >"$helper" <<'PY'
import sys

def pattern(x, y, w, h):
    """tests/guest-tools/fbpaint.c's pattern as (r, g, b)."""
    q = (x >= w // 2) + 2 * (y >= h // 2)
    return x & 0xff, y & 0xff, q << 6 | ((x >> 8) & 7) << 3 | ((y >> 8) & 7)

def pattern_rows(w, h):
    """Expected RGB rows, built with whole-row byte operations."""
    reds = bytes(x & 0xff for x in range(w))
    blue_x = bytes((x >= w // 2) << 6 | ((x >> 8) & 7) << 3 for x in range(w))
    for y in range(h):
        blue_y = (2 * (y >= h // 2)) << 6 | ((y >> 8) & 7)
        row = bytearray(3 * w)
        row[0::3] = reds
        row[1::3] = bytes([y & 0xff]) * w
        row[2::3] = blue_x.translate(bytes(v | blue_y for v in range(256)))
        yield row

def read_ppm(path):
    data = open(path, "rb").read()
    magic, w, h, maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P6" and maxval == b"255"
    return int(w), int(h), pixels

def compare(path, w, h, rect=None):
    pw, ph, pixels = read_ppm(path)
    if (pw, ph) != (w, h):
        return "the client has %dx%d, the guest painted %dx%d" % (pw, ph, w, h)
    bad_rows, first = 0, None
    for y, want in enumerate(pattern_rows(w, h)):
        if rect and rect[1] <= y < rect[1] + rect[3]:
            x0, rw = rect[0], rect[2]
            want[3 * x0:3 * (x0 + rw)] = bytes(rect[4]) * rw
        got = pixels[3 * w * y:3 * w * (y + 1)]
        if got != want:
            bad_rows += 1
            if first is None:
                x = next(i for i in range(w) if got[3 * i:3 * i + 3] != want[3 * i:3 * i + 3])
                first = "first at (%d,%d): got %s, want %s" % (
                    x, y, tuple(got[3 * x:3 * x + 3]), tuple(want[3 * x:3 * x + 3]))
    return "ok" if not bad_rows else "%d of %d rows differ, %s" % (bad_rows, h, first)

def events(log, label, etype=None):
    out = []
    for line in open(log, "rb").read().decode("utf-8", "replace").splitlines():
        f = line.strip("\r").split()
        if len(f) == 5 and f[0] == "EVENT" and f[1] == label:
            t, c, v = int(f[2]), int(f[3]), int(f[4])
            if etype is None or t == etype:
                out.append((t, c, v))
    return out

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "pixel":
    x, y, w, h = map(int, args)
    print("%02x%02x%02x" % pattern(x, y, w, h))
elif cmd == "full":
    print(compare(args[0], int(args[1]), int(args[2])))
elif cmd == "partial":
    x, y, rw, rh, rgb = args[3].split(",")
    c = int(rgb, 16)
    print(compare(args[0], int(args[1]), int(args[2]),
                  (int(x), int(y), int(rw), int(rh), (c >> 16, c >> 8 & 0xff, c & 0xff))))
elif cmd == "keys":
    # Key downs and ups on the keyboard, autorepeats (value 2) left out.
    print(" ".join("%d:%d" % (c, v) for t, c, v in events(args[0], "keyboard", 1) if v != 2))
elif cmd == "tablet":
    # The tablet's position after each SYN_REPORT must pass through every
    # point the client sent, in order, each within one pixel's worth of
    # point * 32767 / (size - 1).
    log, w, h, points = args[0], int(args[1]), int(args[2]), args[3:]
    x = y = None
    states = []
    for t, c, v in events(log, "tablet"):
        if t == 3 and c == 0:
            x = v
        elif t == 3 and c == 1:
            y = v
        elif t == 0 and c == 0 and (x, y) not in states[-1:]:
            states.append((x, y))
    i = 0
    for p in points:
        px, py = map(int, p.split(","))
        ex, ey = px * 32767 / (w - 1), py * 32767 / (h - 1)
        tx, ty = 32767 / (w - 1) + 1, 32767 / (h - 1) + 1
        while i < len(states) and not (states[i][0] is not None and states[i][1] is not None and
                                       abs(states[i][0] - ex) <= tx and abs(states[i][1] - ey) <= ty):
            i += 1
        if i == len(states):
            print("no tablet position near (%.0f,%.0f) for the client's (%d,%d); the guest saw %s" % (
                ex, ey, px, py, states))
            sys.exit(0)
        i += 1
    print("ok %s" % states)
elif cmd == "buttons":
    # BTN_LEFT (272) down then up, on the tablet or the mouse.
    seen = [(c, v) for lab in ("tablet", "mouse") for t, c, v in events(args[0], lab, 1)]
    print("ok" if (272, 1) in seen and (272, 0) in seen[seen.index((272, 1)):] else "saw %s" % seen)
PY
check_py() { python3 "$helper" "$@"; }

# --- Refused at start -----------------------------------------------------------------

# A SPICE server on all interfaces without a password would let anyone on
# the network drive the guest: gvmm must refuse before anything starts,
# with exit status 2 and one line on stderr (no serial file: the guest
# never ran).
err=$E2E_WORK/nonloopback.err serial=$E2E_WORK/nonloopback.serial
timeout 60 "$GVMM" run --kernel "$kernel" --initrd "$initrd" --memory 256M --serial "file:$serial" \
	--spice 0.0.0.0:5930 </dev/null >/dev/null 2>"$err"
status=$?
expect display.nonloopback-refused-at-start \
	"--spice 0.0.0.0:5930: status $status, $(wc -l <"$err") stderr lines: $(head -c 200 "$err"), serial file left: $([ -e "$serial" ] && echo yes || echo no)" \
	[ "$status" = 2 -a "$(wc -l <"$err")" = 1 -a ! -e "$serial" ]

# --- The display boot ---------------------------------------------------------------------

GVMM_SPICE_PASSWORD=$password start_vm display "127.0.0.1:$port" \
	"console=ttyS0 panic=-1 quiet gvmm.test=display gvmm.display.rect=$rect"
display_start=$(date +%s)
if ! wait_listening "$port" 120; then
	fail display.spice-listening "nothing accepts on 127.0.0.1:$port"
	boot_failed[display]=1
fi

# A wrong password: the client must say the server refused it.
wrong=$(timeout 300 "${client[@]}" --port "$port" --password not-the-password --timeout 120 wait-primary 2>&1)
status=$?
check display.wrong-password-refused display "client status $status (3 = refused): $wrong" \
	[ "$status" = 3 ]

# The client for everything else, connected for the whole boot.
client_ok=0
if client_start --port "$port" --password "$password"; then
	client_ok=1
else
	fail display.client-connects "$CLIENT_REPLY"
	boot_failed[display]=1
fi

# step ACTION: one client action; a failure is remembered for the checks.
client_failures=
step() {
	((client_ok)) || return 1
	client_do "$1" && return 0
	client_failures+="$1: $CLIENT_REPLY; "
	return 1
}

# Full pattern: painted and flushed when the guest's input recording runs
# ("EVREAD-READY"). Wait until the client has the last pixel the guest
# painted, until no more updates come, then take the picture (once more
# if it was not complete yet: updates may arrive in pieces).
full_result="the guest never painted it"
if wait_for_console display EVREAD-READY 1 "$BOOT_TIMEOUT"; then
	corner=$(check_py pixel $((W - 1)) $((H - 1)) "$W" "$H")
	step "wait-rect=$((W - 1)),$((H - 1)),1,1,$corner"
	for _ in 1 2 3; do
		step settle=1 && step "dump=$E2E_WORK/full.ppm" || break
		full_result=$(check_py full "$E2E_WORK/full.ppm" "$W" "$H")
		[ "$full_result" = ok ] && break
		sleep 2
	done
fi
check display.pixels-full display "client vs pattern: $full_result; $client_failures" [ "$full_result" = ok ]

# Input: keys as PC scancodes (E0 keys as 0x100 | code) and the evdev
# codes the guest must see: A, Z, 1, Shift+B, Up, Right Ctrl; then Enter
# tells the guest to go on.
step key=0x1e,0x2c,0x02
step keydown=0x2a && step key=0x30 && step keyup=0x2a
step key=0x148,0x11d
keys_want="30:1 30:0 44:1 44:0 2:1 2:0 42:1 48:1 48:0 42:0 103:1 103:0 97:1 97:0 28:1 28:0"
# Absolute positions need client mouse mode (a tablet on the server).
points=("320,200" "1000,650" "17,777" "$((W - 1)),$((H - 1))")
step wait-mouse-mode=client
for p in "${points[@]}"; do
	step "position=$p" && step sleep=0.3
done
step button-down=1 && step sleep=0.2 && step button-up=1 && step sleep=0.5
step key=0x1c

# Partial update.
partial_result="the guest never painted it"
IFS=, read -r rx ry rw rh rcolor <<<"$rect"
if wait_for_console display GVMM-DISPLAY-PARTIAL 1 "$BOOT_TIMEOUT"; then
	step "wait-rect=$rx,$ry,$rw,$rh,$rcolor"
	for _ in 1 2 3; do
		step settle=1 && step "dump=$E2E_WORK/partial.ppm" || break
		partial_result=$(check_py partial "$E2E_WORK/partial.ppm" "$W" "$H" "$rect")
		[ "$partial_result" = ok ] && break
		sleep 2
	done
fi

# A window resize: the guest waits for its connector's preferred mode to change.
step "monitor=$NEW_W,$NEW_H"
wait_for_console display GVMM-DISPLAY-DONE 1 "$BOOT_TIMEOUT"
client_stop
finish_boot
display_seconds=$(($(date +%s) - display_start))

log=$E2E_WORK/display.log
names_ok() {
	[ "$(report display input.keyboard)" = "$want_keyboard" ] &&
		[ "$(report display input.tablet)" = "$want_tablet" ] &&
		[ "$(report display input.mouse)" = "$want_mouse" ] &&
		[ "$(report display gpu.driver)" = virtio_gpu ]
}
check display.guest-devices display "gpu driver '$(report display gpu.driver)', keyboard '$(report display input.keyboard)', tablet '$(report display input.tablet)', mouse '$(report display input.mouse)'" \
	names_ok
check display.guest-mode display "fb $(report display fb.width)x$(report display fb.height), preferred mode '$(report display drm.preferred_before)', want ${W}x$H" \
	[ "$(report display fb.width)x$(report display fb.height) $(report display drm.preferred_before)" = "${W}x$H ${W}x$H" ]
check display.pixels-partial display "client vs pattern with the rectangle $rect: $partial_result; $client_failures" \
	[ "$partial_result" = ok ]
keys_got=$(check_py keys "$log")
check display.keys display "guest saw '$keys_got', client sent '$keys_want'" [ "$keys_got" = "$keys_want" ]
tablet_got=$(check_py tablet "$log" "$W" "$H" "${points[@]}")
check display.tablet display "client positions ${points[*]}: $tablet_got; $client_failures" \
	[ "${tablet_got%% *}" = ok ]
buttons_got=$(check_py buttons "$log")
check display.buttons display "left button: $buttons_got" [ "$buttons_got" = ok ]
check display.resize display "asked for ${NEW_W}x$NEW_H: guest says resize=$(report display drm.resize), preferred mode now '$(report display drm.preferred_after)'; $client_failures" \
	[ "$(report display drm.preferred_after)" = "${NEW_W}x$NEW_H" ]
check display.clean-exit display "VMM exited $BOOT_STATUS, guest test exited '$(test_exit display)'" \
	[ "$BOOT_STATUS" = 0 -a "$(test_exit display)" = 0 ]
echo "display boot: ${display_seconds}s; guest paint times: full $(report display fb.full_paint_ms) ms, rect $(report display fb.rect_paint_ms) ms"
show_failures display

# --- Malformed GPU commands -------------------------------------------------------------

# The guest drives the GPU itself (tests/guest-tools/gpufuzz.c). The VMM
# must have answered every malformed case with an error (0x12xx), still
# answer GET_DISPLAY_INFO after them, and have lived through it all: the
# guest finished its script (it can only say so while the VMM runs) and
# the VMM exited 0 when the guest powered off.
start_vm gpufuzz ":$((port + 1))" "console=ttyS0 panic=-1 quiet gvmm.test=gpufuzz"
wait_for_console gpufuzz GVMM-TEST-EXIT= 1 "$BOOT_TIMEOUT"
finish_boot
cases=$(report gpufuzz gpufuzz.cases)
not_errors=$(gpufuzz_not_errors gpufuzz)
echo "gpufuzz responses: $(tr -d '\r' <"$E2E_WORK/gpufuzz.log" | sed -n 's/^REPORT gpufuzz\.\([a-z0-9-]*\)=\(.*\)$/\1=\2/p' | grep -v -e '^cases=' | tr '\n' ' ')"
fuzz_ok() {
	[ -n "$cases" ] && [ -z "$not_errors" ] && [ "$(report gpufuzz gpufuzz.alive)" = 0x1101 ] &&
		[ "$(test_exit gpufuzz)" = 0 ] && [ "$BOOT_STATUS" = 0 ]
}
check display.gpu-malformed-commands gpufuzz "cases not answered with an error: ${not_errors:-none}${cases:+ (of $(wc -w <<<"${cases//,/ }"))}; GET_DISPLAY_INFO after them: $(report gpufuzz gpufuzz.alive); guest test exited '$(test_exit gpufuzz)', VMM exited $BOOT_STATUS" \
	fuzz_ok
check display.gpu-reset-and-rebind gpufuzz "after a reset the kernel's driver came back: $(report gpufuzz gpufuzz.rebind), driver '$(report gpufuzz gpu.driver_after)'" \
	[ "$(report gpufuzz gpufuzz.rebind)" = ok -a "$(report gpufuzz gpu.driver_after)" = virtio_gpu ]
show_failures gpufuzz

# --- The demo guest: one shell per terminal -----------------------------------------------

# tools/demo's guest and command line (no gvmm.test: the guest starts a
# shell on the serial console and another on the display's tty1). The
# console is gvmm's stdio, its input a FIFO this script writes to, like a
# user typing in the terminal. Checked: a real SPICE client types into the
# display's shell and what it typed runs (its output comes out on the
# serial port) and the client's frame shows that shell's prompt; the
# serial console's shell runs a command typed on stdin, with the line
# intact (one reader of the console, not two splitting its input).
demo_ok=0
rm -f "$E2E_WORK/demo.in"
mkfifo "$E2E_WORK/demo.in"
GVMM_SPICE_PASSWORD=$password "$GVMM" run --kernel "$kernel" --initrd "$initrd" --memory 256M \
	--no-reboot --cmdline "console=ttyS0 quiet" --gpu "2d,width=$W,height=$H" \
	--spice "127.0.0.1:$((port + 2))" <"$E2E_WORK/demo.in" >"$E2E_WORK/demo.log" \
	2>"$E2E_WORK/demo.err" &
BOOT_PID=$!
exec 7>"$E2E_WORK/demo.in"
if wait_for_console demo 'gvmm demo guest: type' 1 "$BOOT_TIMEOUT" &&
	wait_for_console demo 'gvmm-guest:' 1 120 &&
	client_start --port "$((port + 2))" --password "$password"; then
	demo_ok=1
else
	fail display.demo-client-connects "the demo guest did not come up or the client did not connect: $CLIENT_REPLY"
	boot_failed[demo]=1
fi
client_failures=
demo_step() {
	((demo_ok)) || return 1
	client_do "$1" && return 0
	client_failures+="$1: $CLIENT_REPLY; "
	return 1
}
# ink_of REPLY: the "ink" count of an ink action's reply.
ink_of() { sed -n 's/.*"ink": \([0-9]*\).*/\1/p' <<<"$1"; }

# The display's shell clears its screen on command: then only its prompt
# (on the first text row, 16 pixels high) is left on the screen.
prompt_ink= rest_ink=
# (fbcon's blinking cursor keeps the screen changing: a pause, not a
# wait for quiet.)
if demo_step wait-primary && demo_step sleep=3 && demo_step 'type=clear\n' && demo_step sleep=3; then
	demo_step "ink=0,0,$W,16" && prompt_ink=$(ink_of "$CLIENT_REPLY")
	demo_step "ink=0,32,$W,$((H - 32))" && rest_ink=$(ink_of "$CLIENT_REPLY")
	demo_step "dump=$E2E_WORK/demo-prompt.ppm"
fi
check display.demo-screen-prompt demo "after 'clear' typed on the display: ${prompt_ink:-?} pixels of text in the first row (want some), ${rest_ink:-?} below it (want 0); $client_failures" \
	[ "${prompt_ink:-0}" -gt 0 -a "${rest_ink:-1}" = 0 ]
demo_step 'type=echo DISPLAY-$((6*7))-MARK >/dev/ttyS0\n'
check display.demo-screen-typing demo "a command typed on the display's shell did not run (no DISPLAY-42-MARK on the serial console); $client_failures" \
	wait_for_console demo DISPLAY-42-MARK 1 120
client_stop

# The serial console's own shell: the command comes back intact and runs.
echo 'echo SERIAL-$((7*6))-MARK' >&7
serial_ok() {
	wait_for_console demo SERIAL-42-MARK 1 120 &&
		tr -d '\r' <"$E2E_WORK/demo.log" | grep -q -F 'echo SERIAL-$((7*6))-MARK' &&
		! grep -q 'not found' "$E2E_WORK/demo.log"
}
check display.demo-serial-shell demo "the serial shell's answer: '$(tr -d '\r' <"$E2E_WORK/demo.log" | grep -a -e SERIAL -e 'not found' | head -n 3 | tr '\n' '|')'" \
	serial_ok
echo poweroff >&7
finish_boot
exec 7>&-
check display.demo-poweroff demo "poweroff typed on the serial console: VMM exited $BOOT_STATUS" [ "$BOOT_STATUS" = 0 ]
show_failures demo
