#!/bin/sh
# Console round trip: says which device is the console, asks the host for
# a line, and reports the line it read.
echo "REPORT console_active=$(cat /sys/class/tty/console/active)"
echo "GVMM-READY-FOR-INPUT"
read -r line
echo "REPORT console_got=$line"
