#!/usr/bin/env bash
# tools/spice-wait (what tools/demo waits on before it tells the user to
# connect) against a real SPICE server (QEMU's, with no machine, since
# gvmm's needs /dev/kvm) and against what a forward with nothing behind it
# looks like: a port that accepts and hangs up, and one that accepts and
# says nothing. Only the real server may count as an answer, and the
# server must have nothing to complain about afterwards.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh

for need in qemu-system-x86_64 python3; do
	if ! command -v "$need" >/dev/null; then
		skip spice-wait "no $need here"
		exit 0
	fi
done
work=$(mktemp -d "${TMPDIR:-/tmp}/gvmm-test-spice-wait.XXXXXX")
pids=()
cleanup() {
	((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# A free port on 127.0.0.1, picked by the kernel.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Nothing listening: one try, no answer.
port=$(free_port)
tools/spice-wait --timeout 0 127.0.0.1 "$port"
expect spice-wait.nothing-listening "status 1, got $?" [ $? = 1 ]

# Listeners that are not SPICE servers: one hangs up at once (a forward
# with nothing behind it), one holds the connection in silence.
listener() {
	python3 - "$1" "$2" <<'PY' &
import socket, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
held = []
while True:
    c, _ = s.accept()
    if mode == "hangup":
        c.close()
    else:
        held.append(c)
PY
	pids+=($!)
}
for mode in hangup silent; do
	port=$(free_port)
	listener "$mode" "$port"
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	start=$SECONDS
	tools/spice-wait --timeout 2 127.0.0.1 "$port"
	status=$?
	expect "spice-wait.listener-that-$mode" "status 1 after about 2 s, got $status after $((SECONDS - start)) s" \
		[ $status = 1 -a $((SECONDS - start)) -le 12 ]
done

# A real SPICE server, with and without a password; it starts a moment
# after the wait does, as gvmm does behind the rig's forward.
for auth in disable-ticketing=on password-secret=pw; do
	port=$(free_port)
	(sleep 2 && exec qemu-system-x86_64 -M none -display none -nodefaults \
		-object secret,id=pw,data=not-sent -spice "port=$port,addr=127.0.0.1,$auth") >"$work/qemu.log" 2>&1 &
	pids+=($!)
	tools/spice-wait --timeout 30 127.0.0.1 "$port"
	status=$?
	sleep 1   # for a complaint of the server's to reach its log
	name=spice-wait.real-server-${auth%%=*}
	expect "$name" "status 0, got $status; server: $(tail -3 "$work/qemu.log")" [ $status = 0 ]
	expect "$name-quiet" "nothing in the server's log: $(tail -3 "$work/qemu.log")" \
		[ ! -s "$work/qemu.log" ]
	kill "${pids[-1]}" 2>/dev/null    # QEMU itself: the subshell exec'd it
done

tools/spice-wait 127.0.0.1 70000 2>/dev/null
expect spice-wait.bad-port-is-bad-input "status 2, got $?" [ $? = 2 ]
