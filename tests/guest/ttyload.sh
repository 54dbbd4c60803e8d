#!/bin/sh
# fbcon under load: writes a block of text to tty1 (the virtio-gpu
# console) over and over, so that fbcon scrolls and the GPU driver flushes
# all the time. Driven by tests/e2e/guest_display_load.sh:
#
#   gvmm.ttyload.rounds=N   how many times the text is written (default 20)
#   gvmm.ttyload.kib=K      the text's size in KiB (default 60)
#   gvmm.ttyload.cpuid=1    meanwhile, leave the guest as often as possible
#                           (cpuidstorm: CPUID in a loop), the same rate of
#                           exits under any VMM
#
# Prints "TTYLOAD ROUND k" before each round and "REPORT ttyload=done"
# at the end; exits non-zero when there is no framebuffer console.
rounds=20 kib=60 cpuid=0
for arg in $(cat /proc/cmdline); do
	case $arg in
	gvmm.ttyload.rounds=*) rounds=${arg#*=} ;;
	gvmm.ttyload.kib=*) kib=${arg#*=} ;;
	gvmm.ttyload.cpuid=*) cpuid=${arg#*=} ;;
	esac
done
n=0
while [ ! -e /dev/fb0 ] && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
if [ ! -e /dev/fb0 ] || [ ! -c /dev/tty1 ]; then
	echo "ttyload.sh: no framebuffer console (/dev/fb0, /dev/tty1)"
	exit 1
fi
# Printable text only (base64 lines), so no escape sequence changes the
# console's state: the load is scrolling alone.
head -c $((kib * 768)) /dev/urandom | base64 >/tmp/text
storm=
if [ "$cpuid" = 1 ]; then
	cpuidstorm 86400 &
	storm=$!
fi
k=1
while [ $k -le "$rounds" ]; do
	echo "TTYLOAD ROUND $k"
	cat /tmp/text >/dev/tty1
	k=$((k + 1))
done
[ -z "$storm" ] || kill $storm
echo "REPORT ttyload=done"
