#!/bin/sh
# Reports what the guest sees of its virtual hardware, one "REPORT key=value"
# line each; the host-side test compares them with what it asked for.
echo "REPORT nproc=$(nproc)"
echo "REPORT cpus_possible=$(cat /sys/devices/system/cpu/possible)"
echo "REPORT memtotal_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
if [ -e /sys/firmware/acpi/tables/APIC ]; then
	echo "REPORT madt=yes"
else
	echo "REPORT madt=no"
fi
# The timer the kernel programs: KVM's LAPIC offers TSC-deadline.
if grep -q -w tsc_deadline_timer /proc/cpuinfo; then
	echo "REPORT tsc_deadline=yes"
else
	echo "REPORT tsc_deadline=no"
fi
echo "REPORT acpi_errors=$(dmesg | grep -c -E 'ACPI (BIOS )?(Error|Warning)')"
echo "REPORT ttyS0_type=$(cat /sys/class/tty/ttyS0/type 2>/dev/null)"
echo "REPORT ttyS0_dmesg=$(dmesg | grep -o 'ttyS0 at I/O 0x3f8 (irq = 4[^)]*) is a [0-9A-Z]*' | sed 's/.* is a //')"
echo "REPORT rtc_epoch=$(cat /sys/class/rtc/rtc0/since_epoch 2>/dev/null)"
echo "REPORT clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
echo "REPORT clocksources=$(cat /sys/devices/system/clocksource/clocksource0/available_clocksource | tr ' ' ',')"
echo "REPORT pm_timer_lines=$(dmesg | grep -c 'PM-Timer')"
echo "REPORT date=$(date +%s)"
echo "REPORT uptime=$(cut -d' ' -f1 /proc/uptime)"
