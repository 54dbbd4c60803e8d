#!/usr/bin/env bash
# Boots the stock Debian kernel with 1 and 2 vCPUs (bzImage), and with 1
# vCPU through PVH, and checks what the guest itself reported.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BOOT_TIMEOUT=${GVMM_BOOT_TIMEOUT:-180}
MEM_MIB=512

# check_report NAME CPUS: the checks every boot gets.
check_report() {
	local name=$1 cpus=$2 mem date pm_timer clocksources ok
	if [ "$BOOT_STATUS" != 0 ]; then
		fail "$name.poweroff-exit-status" "gvmm exited $BOOT_STATUS, expected 0 after the guest's poweroff"
		console_tail "$name"
	else
		pass "$name.poweroff-exit-status"
	fi
	if [ "$(test_exit "$name")" != 0 ]; then
		fail "$name.guest-script" "the guest's report script did not finish (GVMM-TEST-EXIT='$(test_exit "$name")')"
		console_tail "$name"
		return
	fi
	expect "$name.nproc" "guest nproc='$(report "$name" nproc)', expected $cpus" \
		[ "$(report "$name" nproc)" = "$cpus" ]
	mem=$(report "$name" memtotal_kb)
	# MemTotal is RAM less what the kernel keeps for itself: within 64 MiB below.
	expect "$name.memtotal" "guest MemTotal ${mem:-?} kB for ${MEM_MIB} MiB" \
		in_range "$mem" $(((MEM_MIB - 64) * 1024)) $((MEM_MIB * 1024))
	expect "$name.madt" "the guest found no ACPI MADT" [ "$(report "$name" madt)" = yes ]
	expect "$name.tsc-deadline-timer" "the guest's CPU has no TSC-deadline timer" \
		[ "$(report "$name" tsc_deadline)" = yes ]
	expect "$name.acpi-clean" "the guest logged $(report "$name" acpi_errors) ACPI errors/warnings" \
		[ "$(report "$name" acpi_errors)" = 0 ]
	# The FADT offers no PM timer (Linux would spend 4.5 ms checking it);
	# the guest keeps time with kvm-clock, or with the TSC once verified.
	pm_timer=$(report "$name" pm_timer_lines)
	clocksources=$(report "$name" clocksources)
	ok=no
	[ "$pm_timer" = 0 ] && [ -n "$clocksources" ] && [ "${clocksources/acpi_pm/}" = "$clocksources" ] && ok=yes
	expect "$name.no-pm-timer" "the guest found a PM timer: ${pm_timer:-?} PM-Timer lines, clocksources '$clocksources'" \
		[ $ok = yes ]
	ok=no
	case $(report "$name" clocksource) in kvm-clock|tsc) ok=yes ;; esac
	expect "$name.clocksource" "the guest's clocksource is '$(report "$name" clocksource)', expected kvm-clock or tsc" \
		[ $ok = yes ]
	# 4 is PORT_16550A in Linux's serial core.
	ok=no
	[ "$(report "$name" ttyS0_type)" = 4 ] && [ "$(report "$name" ttyS0_dmesg)" = 16550A ] && ok=yes
	expect "$name.uart-16550a" "ttyS0 type '$(report "$name" ttyS0_type)', dmesg '$(report "$name" ttyS0_dmesg)'" \
		[ $ok = yes ]
	date=$(report "$name" date)
	expect "$name.date" "guest date ${date:-?} outside host window $BOOT_START..$BOOT_END" \
		in_range "$date" $((BOOT_START - 2)) $((BOOT_END + 2))
	date=$(report "$name" rtc_epoch)
	expect "$name.rtc" "guest RTC ${date:-?} outside host window $BOOT_START..$BOOT_END" \
		in_range "$date" $((BOOT_START - 3)) $((BOOT_END + 3))
}

if [ ! -f "$GUEST_DIR/vmlinuz" ] || [ ! -f "$GUEST_DIR/initrd.img" ]; then
	fail guest-boot "no guest in $GUEST_DIR (tools/mkguest $GUEST_DIR builds it)"
	exit 0
fi
cmdline="console=ttyS0 panic=-1 gvmm.test=report"

boot bzimage-1cpu "$BOOT_TIMEOUT" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" \
	--cmdline "$cmdline" --memory ${MEM_MIB}M --cpus 1 --no-reboot
check_report bzimage-1cpu 1

boot bzimage-2cpu "$BOOT_TIMEOUT" --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" \
	--cmdline "$cmdline" --memory ${MEM_MIB}M --cpus 2 --no-reboot
check_report bzimage-2cpu 2
expect bzimage-2cpu.cpus-possible "cpus_possible '$(report bzimage-2cpu cpus_possible)'" \
	[ "$(report bzimage-2cpu cpus_possible)" = 0-1 ]

if [ -f "$GUEST_DIR/vmlinux" ]; then
	# RAM from huge pages when they can be reserved (root, as in the rig).
	hugepages=
	want=$((MEM_MIB / 2))
	if [ "$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)" -lt "$want" ]; then
		echo "$want" > /proc/sys/vm/nr_hugepages 2>/dev/null
	fi
	if [ "$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)" -ge "$want" ]; then
		hugepages=--hugepages
	else
		skip pvh-1cpu.hugepages "cannot reserve $want huge pages here; the PVH boot uses normal pages"
	fi
	boot pvh-1cpu "$BOOT_TIMEOUT" --kernel "$GUEST_DIR/vmlinux" --initrd "$GUEST_DIR/initrd.img" \
		--cmdline "$cmdline" --memory ${MEM_MIB}M --cpus 1 --no-reboot $hugepages
	check_report pvh-1cpu 1
else
	skip pvh-1cpu "no $GUEST_DIR/vmlinux (tools/mkguest could not extract a PVH vmlinux)"
fi

# The sanitizer build boots too, when it has been built.
asan=${GVMM_ASAN:-build/asan/gvmm}
if [ -x "$asan" ]; then
	# With a disk and the control socket, so their code runs under the sanitizers too.
	truncate -s 16M "$E2E_WORK/asan-disk.img"
	GVMM=$asan boot asan-2cpu "$BOOT_TIMEOUT" --kernel "$GUEST_DIR/vmlinuz" \
		--initrd "$GUEST_DIR/initrd.img" --cmdline "$cmdline" --memory ${MEM_MIB}M --cpus 2 --no-reboot \
		--disk "$E2E_WORK/asan-disk.img" --api-socket "$E2E_WORK/asan-api.sock"
	check_report asan-2cpu 2
	expect asan-2cpu.no-sanitizer-report "$(grep -m1 -E 'Sanitizer|runtime error' "$E2E_WORK/asan-2cpu.err")" \
		bash -c "! grep -q -E 'Sanitizer|runtime error' '$E2E_WORK/asan-2cpu.err'"
else
	skip asan-2cpu "no sanitizer build at $asan (make asan)"
fi
