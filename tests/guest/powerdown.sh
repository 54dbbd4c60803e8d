#!/bin/sh
# Waits for the ACPI power button (pressed through gvmm's control socket)
# and shuts down cleanly, as a desktop guest would.
button=
for n in /sys/class/input/input*; do
	if [ "$(cat "$n/name" 2>/dev/null)" = "Power Button" ]; then
		button=/dev/input/$(ls "$n" | grep '^event' | head -n 1)
	fi
done
if [ -z "$button" ] || [ ! -e "$button" ]; then
	echo "REPORT power_button=missing"
	exit 1
fi
echo "REPORT power_button=$button"
echo "GVMM-WAITING-FOR-POWER-BUTTON"
# One input event record is 24 bytes; the first press ends the wait.
dd if="$button" bs=24 count=1 of=/dev/null 2>/dev/null
echo "GVMM-POWER-BUTTON-PRESSED"
exit 0
