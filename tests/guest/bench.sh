#!/bin/sh
# Marks the moment the guest's init reached its test script, with the
# guest's own uptime, then stays idle so the host can sample the VMM's
# memory (tools/bench). Kernel parameter gvmm.bench.hold=SECS: how long
# to stay idle (default 1); the host may stop the VM sooner.
hold=1
for arg in $(cat /proc/cmdline); do
	case $arg in
	gvmm.bench.hold=*) hold=${arg#*=} ;;
	esac
done
echo "GVMM-BENCH-INIT uptime=$(cut -d' ' -f1 /proc/uptime)"
sleep "$hold"
