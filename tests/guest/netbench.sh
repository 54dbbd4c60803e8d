#!/bin/sh
# Network benchmark guest for tools/bench (row 4): an iperf3 server on eth0
# that the host's iperf3 client measures both ways, until the host says it
# is done. Kernel parameters:
#
#   gvmm.net=user|tap     user: address by DHCP; tap: gvmm.net.addr
#   gvmm.net.addr=IP/LEN  tap: the guest's static address
#   gvmm.netbench.done=PORT
#                         the host connects to PORT when it has measured
#                         everything; the guest then stops (at the latest
#                         after 30 minutes)
#
# "GVMM-NETBENCH-READY" on the console says iperf3 listens (port 5201).
mode= addr= done_port=5202
for arg in $(cat /proc/cmdline); do
	case $arg in
	gvmm.net=*) mode=${arg#*=} ;;
	gvmm.net.addr=*) addr=${arg#*=} ;;
	gvmm.netbench.done=*) done_port=${arg#*=} ;;
	esac
done

command -v iperf3 >/dev/null || { echo "netbench: no iperf3 in this guest (tools/mkguest copies it when the build host has it)"; exit 1; }
n=50
while [ ! -e /sys/class/net/eth0 ] && [ "$n" -gt 0 ]; do sleep 0.2; n=$((n - 1)); done
ip link set eth0 up || exit 1
case $mode in
user) udhcpc -i eth0 -n -q -t 10 -T 2 -s /etc/udhcpc/default.script >/dev/null 2>&1 || { echo "netbench: no DHCP lease"; exit 1; } ;;
tap) ip addr add "$addr" dev eth0 || exit 1 ;;
*) echo "netbench: unknown gvmm.net='$mode'"; exit 1 ;;
esac
echo "REPORT addr=$(ip -4 -o addr show dev eth0 | awk '{print $4}')"

iperf3 -s -p 5201 >/tmp/iperf3.log 2>&1 &
iperf_pid=$!
n=50
until netstat -ltn | grep -q ':5201 '; do
	[ "$n" -gt 0 ] || { cat /tmp/iperf3.log; exit 1; }
	sleep 0.2
	n=$((n - 1))
done
echo "GVMM-NETBENCH-READY"
# tcpxfer serve returns once the host connected (and closed): its signal.
timeout 1800 tcpxfer serve "$done_port" </dev/null 2>/dev/null
kill "$iperf_pid"
echo "GVMM-NETBENCH-DONE"
