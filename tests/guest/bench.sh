#!/bin/sh
# Marks the moment the guest's init reached its test script, with the
# guest's own uptime, then gives the host a moment to sample gvmm's memory.
echo "GVMM-BENCH-INIT uptime=$(cut -d' ' -f1 /proc/uptime)"
sleep 1
