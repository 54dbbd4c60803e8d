#!/usr/bin/env bash
# virtio-net with a stock kernel, judged by what the guest itself saw
# (tests/guest/net.sh): user networking (DHCP lease, an HTTP fetch from a
# server on the host's loopback with host-loopback=on, a port forwarded
# into the guest), the host's loopback out of the guest's reach by default
# (the VM's own SPICE port there refuses it), a TAP (ping, 64 MiB each way
# with matching sha256 on both ends), a multiqueue TAP (2 queue pairs with
# 2 vCPUs, traffic still flows), and --net values that must be refused
# before anything starts. Four boots in all.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BOOT_TIMEOUT=${GVMM_BOOT_TIMEOUT:-300}
kernel=$GUEST_DIR/vmlinuz
initrd=$GUEST_DIR/initrd.img
cmdline="console=ttyS0 panic=-1 gvmm.test=net"
MiB=$((1 << 20))

# --- Host-side helpers and cleanup ----------------------------------------------

# Servers and TAPs this test made, undone on any exit.
server_pids=()
taps=()
cleanup() {
	local p t
	for p in ${server_pids[@]+"${server_pids[@]}"}; do kill "$p" 2>/dev/null; done
	for t in ${taps[@]+"${taps[@]}"}; do ip link del "$t" 2>/dev/null; done
	rm -rf "$E2E_WORK"
}
trap cleanup EXIT

# One-connection TCP ends for the host, each bounded by a socket timeout:
#   sink ADDR PORT OUT          accept one connection, read to EOF, write
#                               "SHA256 BYTES" to OUT
#   source ADDR PORT MIB OUT    write the sha256 of MIB MiB of random data
#                               to OUT, accept one connection, send them
#   fetch ADDR PORT             connect, read to EOF, print "SHA256 BYTES"
# The listening modes create OUT.ready once they listen.
helper=$E2E_WORK/net_helper.py
cat >"$helper" <<'PY'
import hashlib, os, socket, sys

TIMEOUT = 300

def listen_once(addr, port, ready):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(1)
    s.settimeout(TIMEOUT)
    open(ready, "w").close()
    conn, _ = s.accept()
    conn.settimeout(TIMEOUT)
    s.close()
    return conn

def read_to_eof(conn):
    h, n = hashlib.sha256(), 0
    while True:
        b = conn.recv(1 << 18)
        if not b:
            return "%s %d" % (h.hexdigest(), n)
        h.update(b)
        n += len(b)

mode, args = sys.argv[1], sys.argv[2:]
if mode == "sink":
    addr, port, out = args
    conn = listen_once(addr, port, out + ".ready")
    result = read_to_eof(conn)
    conn.close()
    open(out, "w").write(result + "\n")
elif mode == "source":
    addr, port, mib, out = args
    data = os.urandom(int(mib) << 20)
    open(out, "w").write("%s %d\n" % (hashlib.sha256(data).hexdigest(), len(data)))
    conn = listen_once(addr, port, out + ".ready")
    conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)
    conn.close()
elif mode == "fetch":
    addr, port = args
    conn = socket.create_connection((addr, int(port)), timeout=TIMEOUT)
    print(read_to_eof(conn))
    conn.close()
PY

# server NAME HELPER-ARGS...: starts the helper in the background with a
# bounded lifetime; its stderr goes to NAME.server.err.
server() {
	local name=$1; shift
	timeout 600 python3 "$helper" "$@" 2>"$E2E_WORK/$name.server.err" &
	server_pids+=($!)
}

# wait_ready FILE...: waits (bounded) until the listening servers made their
# FILE.ready; says which did not.
wait_ready() {
	local f deadline=$(($(date +%s) + 60))
	for f in "$@"; do
		while [ ! -e "$f.ready" ]; do
			if [ "$(date +%s)" -ge "$deadline" ]; then
				echo "no server listening for $(basename "$f"): $(cat "$f.server.err" 2>/dev/null)"
				return 1
			fi
			sleep 0.2
		done
	done
}

# tap_up NAME CIDR [multi_queue]: a TAP for gvmm to open, with the host's
# address on it. Sets TAP_ERROR on failure.
tap_up() {
	local name=$1 cidr=$2; shift 2
	ip link del "$name" 2>/dev/null # a leftover of an earlier run
	if ! TAP_ERROR=$(ip tuntap add dev "$name" mode tap "$@" 2>&1); then
		TAP_ERROR="ip tuntap add failed: $TAP_ERROR"
		return 1
	fi
	taps+=("$name")
	# gvmm does not configure the TAP: the host's side is ours to set up.
	TAP_ERROR=$({ ip addr add "$cidr" dev "$name" && ip link set "$name" up; } 2>&1)
}

# finish_boot NAME: waits (bounded) for the background gvmm of NAME to
# end; BOOT_STATUS is its exit status.
finish_boot() {
	timeout "$BOOT_TIMEOUT" tail --pid="$BOOT_PID" -f /dev/null || kill -KILL "$BOOT_PID" 2>/dev/null
	wait "$BOOT_PID"
	BOOT_STATUS=$?
}

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

# host_sum / host_bytes FILE: what the host recorded in FILE ("SHA256 BYTES").
host_sum() { cut -d' ' -f1 "$1" 2>/dev/null; }
host_bytes() { cut -d' ' -f2 "$1" 2>/dev/null; }

# --- Bad input: refused before anything starts -----------------------------------

# bad_net NAME WORD NET-VALUE: gvmm must exit 2 with one line on stderr
# that names the problem (contains WORD, any case: a complaint about the
# option as such would not) and must not have started the guest (no serial
# file, as in host_cli.sh).
bad_net() {
	local name=$1 word=$2 value=$3 err=$E2E_WORK/bad-$1.err out=$E2E_WORK/bad-$1.serial status lines
	timeout 30 "$GVMM" run --kernel "$kernel" --initrd "$initrd" --memory 256M \
		--cmdline "$cmdline" --serial "file:$out" --net "$value" </dev/null >/dev/null 2>"$err"
	status=$?
	lines=$(wc -l <"$err")
	if [ "$status" = 2 ] && [ "$lines" = 1 ] && grep -q -i -F -- "$word" "$err" && [ ! -e "$out" ]; then
		pass "net.bad-input.$name"
	else
		fail "net.bad-input.$name" "--net '$value': status $status, $lines stderr lines: $(head -c 200 "$err"), serial file left: $([ -e "$out" ] && echo yes || echo no)"
	fi
}
bad_net unknown-backend foo foo
bad_net malformed-hostfwd hostfwd user,hostfwd=tcp:8080
bad_net missing-tap-name tap tap
bad_net empty-tap-name tap tap=
bad_net bad-host-loopback host-loopback user,host-loopback=maybe
bad_net bad-mtu mtu user,mtu=70000
# lo exists and is no TAP: opening it as one fails.
bad_net tap-not-openable lo tap=lo

# --- User networking: DHCP, fetch from the host, port forward into the guest -------

# With host-loopback=on, slirp makes the host's 127.0.0.1 reachable as
# 10.0.2.2 from the guest.
mkdir -p "$E2E_WORK/www"
head -c $((3 * MiB)) /dev/urandom >"$E2E_WORK/www/blob.bin"
blob_sum=$(sha256sum <"$E2E_WORK/www/blob.bin" | cut -d' ' -f1)
timeout 600 python3 -m http.server --bind 127.0.0.1 --directory "$E2E_WORK/www" 18080 \
	>/dev/null 2>"$E2E_WORK/http.err" &
server_pids+=($!)
# Ready when it accepts connections (bash's /dev/tcp); bounded. If it never
# is, the guest's fetch fails and says so.
for i in $(seq 300); do
	(exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null && break
	[ "$i" = 300 ] && echo "the HTTP server did not come up: $(cat "$E2E_WORK/http.err")"
	sleep 0.2
done

t0=$SECONDS
: >"$E2E_WORK/user.log" # reports read as empty, not as errors, if gvmm dies early
boot_in_background user --kernel "$kernel" --initrd "$initrd" --memory 256M --no-reboot \
	--cmdline "$cmdline gvmm.net=user gvmm.net.fetch=http://10.0.2.2:18080/blob.bin gvmm.net.serve=8022" \
	--net user,host-loopback=on,mtu=9000,hostfwd=tcp:127.0.0.1:18022-10.0.2.15:8022
fetched=
if wait_for_console user GVMM-NET-SERVING 1 "$BOOT_TIMEOUT"; then
	fetched=$(timeout 120 python3 "$helper" fetch 127.0.0.1 18022 2>&1)
fi
finish_boot user
echo "user: boot to power-off in $((SECONDS - t0)) s"

addr=$(report user addr)
dhcp_ok() { [[ $(report user dhcp) == ok && $addr == 10.0.2.* && $(report user driver) == virtio_net ]]; }
check net.user.dhcp-address user "dhcp=$(report user dhcp) addr='$addr' driver='$(report user driver)'" dhcp_ok
check net.user.dhcp-router-dns user "router '$(report user router)' dns '$(report user dns)'" \
	[ "$(report user router) $(report user dns)" = "10.0.2.2 10.0.2.3" ]
check net.user.http-fetch-sha256 user "guest got $(report user fetch_bytes) bytes, sha256 '$(report user fetch_sha256)', served $blob_sum" \
	[ "$(report user fetch_sha256)" = "$blob_sum" ]
check net.user.hostfwd user "host read '${fetched:-nothing}' through 127.0.0.1:18022, guest served '$(report user served_sha256) $(report user served_bytes)'" \
	[ -n "$fetched" -a "$fetched" = "$(report user served_sha256) $(report user served_bytes)" ]
# mtu=9000 reached the guest's driver; the fetch and the forward above ran on it.
check net.user.mtu-option user "the guest's eth0 has MTU '$(report user mtu)', asked for 9000" \
	[ "$(report user mtu)" = 9000 ]
check net.user.clean-exit user "gvmm exited $BOOT_STATUS, guest test exited '$(test_exit user)'" \
	[ "$BOOT_STATUS" = 0 -a "$(test_exit user)" = 0 ]
show_failures user

# --- User networking by default: the host's loopback is out of reach --------------

# The VM's own SPICE display listens on the host's 127.0.0.1 (:PORT); from
# the guest, 10.0.2.2:PORT must not get through. The host, for its part,
# gets the connection file that holds the ticket, and it goes with gvmm.
spice_port=${GVMM_E2E_SPICE_PROBE_PORT:-15936}
: >"$E2E_WORK/loopback.log"
boot_in_background loopback --kernel "$kernel" --initrd "$initrd" --memory 256M --no-reboot \
	--cmdline "$cmdline gvmm.net=user gvmm.net.probe=10.0.2.2:$spice_port" --spice ":$spice_port"
host_reaches=no vv_file=
for _ in $(seq 300); do
	vv_file=$(sed -n "s/.*connect with 'remote-viewer \(\/[^']*\.vv\)'.*/\1/p" "$E2E_WORK/loopback.err" 2>/dev/null)
	[ -n "$vv_file" ] && break
	kill -0 "$BOOT_PID" 2>/dev/null || break
	sleep 0.2
done
(exec 3<>"/dev/tcp/127.0.0.1/$spice_port") 2>/dev/null && host_reaches=yes
vv_mode=$(stat -c %a "$vv_file" 2>/dev/null)
finish_boot loopback
# Refused for the right reason: the guest had its lease, the port was open.
probe_ok() {
	[ "$(report loopback dhcp)" = ok ] && [ "$(report loopback probe)" = refused ] &&
		[ "$host_reaches" = yes ]
}
check net.user.host-loopback-off loopback "guest's connection to 10.0.2.2:$spice_port: '$(report loopback probe)' ($(report loopback probe_error)), dhcp=$(report loopback dhcp); the host reached 127.0.0.1:$spice_port: $host_reaches" \
	probe_ok
check net.user.spice-connect-file loopback "gvmm's connect line named '${vv_file:-nothing}', mode '${vv_mode:-none}', still there after exit: $([ -n "$vv_file" ] && [ -e "$vv_file" ] && echo yes || echo no)" \
	[ -n "$vv_file" -a "$vv_mode" = 600 -a ! -e "$vv_file" ]
# User networking's default link MTU (devices/net/net_option.h).
check net.user.mtu-default loopback "the guest's eth0 has MTU '$(report loopback mtu)', the default is 65520" \
	[ "$(report loopback mtu)" = 65520 ]
check net.user.loopback-clean-exit loopback "gvmm exited $BOOT_STATUS, guest test exited '$(test_exit loopback)'" \
	[ "$BOOT_STATUS" = 0 -a "$(test_exit loopback)" = 0 ]
show_failures loopback

# --- TAP: ping and 64 MiB each way ------------------------------------------------

# xfer_boot NAME HOSTADDR GUESTCIDR PORT MIB GVMM-ARGS...: the host's
# sink on PORT and source on PORT+1, then a boot whose guest sends MIB MiB
# to the one and receives MIB MiB from the other.
xfer_boot() {
	local name=$1 host=$2 guest=$3 port=$4 mib=$5; shift 5
	server "$name-g2h" sink "$host" "$port" "$E2E_WORK/$name-g2h"
	server "$name-h2g" source "$host" $((port + 1)) "$mib" "$E2E_WORK/$name-h2g"
	if ! wait_ready "$E2E_WORK/$name-g2h" "$E2E_WORK/$name-h2g"; then
		boot_failed[$name]=1
		return 1
	fi
	local t0=$SECONDS
	: >"$E2E_WORK/$name.log"
	boot "$name" "$BOOT_TIMEOUT" --kernel "$kernel" --initrd "$initrd" --memory 256M --no-reboot \
		--cmdline "$cmdline gvmm.net=tap gvmm.net.addr=$guest gvmm.net.host=$host gvmm.net.ping=1 gvmm.net.xfer=$port gvmm.net.mib=$mib" \
		"$@"
	echo "$name: boot to power-off in $((SECONDS - t0)) s"
}

# g2h_ok / h2g_ok NAME MIB: that direction arrived whole, same sha256 both ends.
g2h_ok() {
	[ "$(report "$1" tx_sha256)" = "$(host_sum "$E2E_WORK/$1-g2h")" ] &&
		[ "$(host_bytes "$E2E_WORK/$1-g2h")" = $(($2 * MiB)) ]
}
h2g_ok() {
	[ "$(report "$1" rx_sha256)" = "$(host_sum "$E2E_WORK/$1-h2g")" ] &&
		[ "$(report "$1" rx_bytes)" = $(($2 * MiB)) ]
}
g2h_said() { echo "guest sent $(report "$1" tx_bytes) bytes, sha256 '$(report "$1" tx_sha256)'; host got '$(cat "$E2E_WORK/$1-g2h" 2>/dev/null)'"; }
h2g_said() { echo "host sent '$(cat "$E2E_WORK/$1-h2g" 2>/dev/null)'; guest got $(report "$1" rx_bytes) bytes, sha256 '$(report "$1" rx_sha256)'"; }
rate() { awk -v b="$(report "$1" "$2_bytes")" -v s="$(report "$1" "$2_seconds")" \
	'BEGIN { if (s > 0) printf "%.1f MiB/s", b / s / 1048576; else print "?" }'; }

tap_checks=(net.tap.mac net.tap.mtu net.tap.ping net.tap.guest-to-host-64MiB net.tap.host-to-guest-64MiB
	net.tap.clean-exit net.tap.multiqueue)
if ! tap_up gvmmtap0 192.168.77.1/24; then
	for c in "${tap_checks[@]}"; do skip "$c" "no TAP here: $TAP_ERROR"; done
else
	mac=52:54:00:77:00:02
	xfer_boot tap 192.168.77.1 192.168.77.2/24 5500 64 --net "tap=gvmmtap0,mac=$mac"
	check net.tap.mac tap "guest MAC '$(report tap mac)', asked for $mac" [ "$(report tap mac)" = "$mac" ]
	# No MTU is offered for a TAP: the guest keeps Ethernet's 1500.
	check net.tap.mtu tap "the guest's eth0 has MTU '$(report tap mtu)'" [ "$(report tap mtu)" = 1500 ]
	check net.tap.ping tap "ping loss '$(report tap ping_loss)'" [ "$(report tap ping_loss)" = 0% ]
	check net.tap.guest-to-host-64MiB tap "$(g2h_said tap)" g2h_ok tap 64
	check net.tap.host-to-guest-64MiB tap "$(h2g_said tap)" h2g_ok tap 64
	check net.tap.clean-exit tap "gvmm exited $BOOT_STATUS, guest test exited '$(test_exit tap)'" \
		[ "$BOOT_STATUS" = 0 -a "$(test_exit tap)" = 0 ]
	echo "tap: guest->host $(rate tap tx), host->guest $(rate tap rx)"
	show_failures tap

	# Two queue pairs for two vCPUs: the guest's driver uses as many as
	# it has CPUs (and the device offers).
	if ! tap_up gvmmtap1 192.168.78.1/24 multi_queue; then
		skip net.tap.multiqueue "no multiqueue TAP here: $TAP_ERROR"
	else
		xfer_boot mq 192.168.78.1 192.168.78.2/24 5510 16 --cpus 2 --net tap=gvmmtap1,queues=2
		mq_ok() { [ "$(report mq rx_queues)/$(report mq tx_queues)" = 2/2 ] && g2h_ok mq 16 && h2g_ok mq 16; }
		check net.tap.multiqueue mq "guest saw $(report mq rx_queues) rx / $(report mq tx_queues) tx queues (want 2/2); $(g2h_said mq); $(h2g_said mq)" mq_ok
		echo "multiqueue: interrupts per queue: $(report mq queue_irqs)"
		show_failures mq
	fi
fi
