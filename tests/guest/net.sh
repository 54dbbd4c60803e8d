#!/bin/sh
# The virtio-net NIC (eth0) as the guest sees it, driven by the host-side
# test tests/e2e/guest_net.sh through these kernel parameters:
#
#   gvmm.net=user|tap     user: address by DHCP (slirp); tap: static address
#   gvmm.net.addr=IP/LEN  tap: the guest's address (e.g. 192.168.77.2/24)
#   gvmm.net.host=IP      the host as the guest reaches it (user: 10.0.2.2)
#   gvmm.net.fetch=URL    fetch URL with wget, report its sha256
#   gvmm.net.serve=PORT   accept one TCP connection on PORT and send 1 MiB
#                         of random data on it (the host's hostfwd check);
#                         "GVMM-NET-SERVING" says when it listens
#   gvmm.net.xfer=PORT    send MIB MiB to host:PORT, then receive from
#                         host:PORT+1 until the host closes
#   gvmm.net.mib=MIB      size of each transfer (default 64)
#   gvmm.net.ping=1       ping the host 3 times first
#   gvmm.net.probe=IP:PORT  try one TCP connection there; report whether it
#                         was "refused" or "connected" (the host's loopback
#                         check: it must not get through by default)
#
# Everything is reported as "REPORT key=value" lines for the host to judge;
# the exit status is non-zero when a step could not be done at all.
set -o pipefail

mode= addr= host= fetch= serve= xfer= mib=64 ping= probe=
for arg in $(cat /proc/cmdline); do
	case $arg in
	gvmm.net=*) mode=${arg#*=} ;;
	gvmm.net.addr=*) addr=${arg#*=} ;;
	gvmm.net.host=*) host=${arg#*=} ;;
	gvmm.net.fetch=*) fetch=${arg#*=} ;;
	gvmm.net.serve=*) serve=${arg#*=} ;;
	gvmm.net.xfer=*) xfer=${arg#*=} ;;
	gvmm.net.mib=*) mib=${arg#*=} ;;
	gvmm.net.ping=*) ping=${arg#*=} ;;
	gvmm.net.probe=*) probe=${arg#*=} ;;
	esac
done
rc=0
failed() { echo "net.sh: $*"; rc=1; }

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

# The NIC itself: its driver probes when the module loads at boot.
wait_until 10 [ -e /sys/class/net/eth0 ] || { failed "no eth0"; exit 1; }
echo "REPORT driver=$(basename "$(readlink /sys/class/net/eth0/device/driver)")"
echo "REPORT mac=$(cat /sys/class/net/eth0/address)"
echo "REPORT rx_queues=$(ls -d /sys/class/net/eth0/queues/rx-* | wc -l)"
echo "REPORT tx_queues=$(ls -d /sys/class/net/eth0/queues/tx-* | wc -l)"
# The link's MTU as the driver took it from the device (VIRTIO_NET_F_MTU).
echo "REPORT mtu=$(cat /sys/class/net/eth0/mtu)"
ip link set eth0 up
carrier() { [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ]; }
wait_until 10 carrier
echo "REPORT carrier=$(cat /sys/class/net/eth0/carrier 2>/dev/null)"

case $mode in
user)
	host=${host:-10.0.2.2}
	# The script (from tools/mkguest) applies the lease to eth0.
	if udhcpc -i eth0 -n -q -t 10 -T 2 -s /etc/udhcpc/default.script >/tmp/udhcpc.out 2>&1; then
		echo "REPORT dhcp=ok"
	else
		sed 's/^/udhcpc: /' /tmp/udhcpc.out
		failed "no DHCP lease"
	fi
	;;
tap)
	[ -n "$addr" ] && [ -n "$host" ] || { failed "tap mode needs gvmm.net.addr and gvmm.net.host"; exit 1; }
	ip addr add "$addr" dev eth0 || failed "cannot set $addr"
	;;
*)
	failed "unknown gvmm.net='$mode' (user or tap)"
	exit 1
	;;
esac
echo "REPORT addr=$(ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)"
echo "REPORT router=$(ip route | awk '$1 == "default" {print $3}')"
echo "REPORT dns=$(awk '$1 == "nameserver" {print $2; exit}' /etc/resolv.conf 2>/dev/null)"

if [ "$ping" = 1 ]; then
	# Replies may take long where the whole machine is emulated: -W
	# waits up to 10 s for the last one.
	ping -c 3 -W 10 "$host" >/tmp/ping.out 2>&1
	echo "REPORT ping_loss=$(sed -n 's/.* \([0-9.]*%\) packet loss.*/\1/p' /tmp/ping.out)"
fi

if [ -n "$probe" ]; then
	# tcpxfer says "connect: ..." and exits 1 when the connection fails;
	# connected, it would wait for the peer, so the timeout ends it.
	timeout 20 tcpxfer send "${probe%:*}" "${probe##*:}" </dev/null 2>/tmp/probe.err
	probe_status=$?
	if [ "$probe_status" = 1 ] && grep -q 'tcpxfer: connect:' /tmp/probe.err; then
		echo "REPORT probe=refused"
	else
		echo "REPORT probe=connected"
	fi
	echo "REPORT probe_error=$(head -n 1 /tmp/probe.err) (status $probe_status)"
fi

if [ -n "$fetch" ]; then
	if timeout 120 wget -q -O /tmp/fetched "$fetch"; then
		echo "REPORT fetch_bytes=$(wc -c </tmp/fetched)"
		echo "REPORT fetch_sha256=$(sha256sum </tmp/fetched | cut -d' ' -f1)"
	else
		failed "wget $fetch failed"
	fi
fi

# report_xfer PREFIX FILE: tcpxfer's summary line in FILE ("tcpxfer:
# mode=M bytes=N seconds=S sha256=H") as REPORT PREFIX_bytes=N etc.
report_xfer() {
	for kv in $(sed -n 's/^tcpxfer: mode=[a-z]* //p' "$2"); do
		echo "REPORT $1_$kv"
	done
}

if [ -n "$xfer" ]; then
	# Out: random data, hashed by tcpxfer on its way to the socket.
	if dd if=/dev/urandom bs=1M count="$mib" iflag=fullblock 2>/dev/null |
		timeout 300 tcpxfer send "$host" "$xfer" 2>/tmp/tx.err; then
		report_xfer tx /tmp/tx.err
	else
		cat /tmp/tx.err
		failed "sending to $host:$xfer failed"
	fi
	# In: whatever the host sends until it closes.
	if timeout 300 tcpxfer recv "$host" $((xfer + 1)) 2>/tmp/rx.err >/dev/null; then
		report_xfer rx /tmp/rx.err
	else
		cat /tmp/rx.err
		failed "receiving from $host:$((xfer + 1)) failed"
	fi
	# Which queues carried it: interrupts per virtio-net queue (MSI-X
	# names "virtioN-input.Q" / "virtioN-output.Q").
	echo "REPORT queue_irqs=$(awk '/-(input|output)\.[0-9]/ {
		n = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i
		sub(/^virtio[0-9]+-/, "", $NF); printf "%s:%d ", $NF, n }' /proc/interrupts)"
fi

if [ -n "$serve" ]; then
	dd if=/dev/urandom bs=1M count=1 2>/dev/null |
		timeout 60 tcpxfer serve "$serve" 2>/tmp/serve.err &
	serve_pid=$!
	if wait_until 10 sh -c "netstat -ltn | grep -q ':$serve '"; then
		echo "GVMM-NET-SERVING"
	else
		failed "nothing listens on port $serve"
	fi
	if wait "$serve_pid"; then
		report_xfer served /tmp/serve.err
	else
		cat /tmp/serve.err
		failed "serving on port $serve failed"
	fi
fi
exit $rc
