#!/usr/bin/env bash
# Reboot and stop paths: a guest reboot with --no-reboot ends gvmm with
# status 3; without it the VM restarts (the guest's mark appears twice) and
# SIGTERM then stops it in order (status 128+15); a triple fault ends gvmm
# with status 1 and the vCPU registers.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BOOT_TIMEOUT=${GVMM_BOOT_TIMEOUT:-180}
kernel=$GUEST_DIR/vmlinuz
initrd=$GUEST_DIR/initrd.img
cmdline="console=ttyS0 panic=-1 gvmm.test=reboot"

boot reboot-no-reboot "$BOOT_TIMEOUT" --kernel "$kernel" --initrd "$initrd" \
	--cmdline "$cmdline" --memory 256M --no-reboot
if [ "$BOOT_STATUS" = 3 ] && grep -q GVMM-REBOOT-MARK "$E2E_WORK/reboot-no-reboot.log"; then
	pass reboot.no-reboot-exit-3
else
	fail reboot.no-reboot-exit-3 "gvmm exited $BOOT_STATUS, expected 3 after the guest's reboot"
	console_tail reboot-no-reboot
fi

boot_in_background reboot-restart --kernel "$kernel" --initrd "$initrd" \
	--cmdline "$cmdline" --memory 256M
if wait_for_console reboot-restart GVMM-REBOOT-MARK 2 "$((BOOT_TIMEOUT * 2))"; then
	pass reboot.restarts
	# Once in guest RAM, the kernel and initrd files leave gvmm's memory
	# and its open files (a reboot maps and opens them again, as above).
	# The guest reboots again at once after its mark, and gvmm maps the
	# files while it makes the next VM: read the maps and descriptors once
	# that VM's kernel prints, when it has been made.
	mapped=
	open_files=
	if wait_for_console reboot-restart "Linux version" 3 "$BOOT_TIMEOUT"; then
		mapped=$(grep -c -F -e "$(readlink -f "$kernel")" -e "$(readlink -f "$initrd")" "/proc/$BOOT_PID/maps" 2>/dev/null)
		open_files=$(for fd in "/proc/$BOOT_PID/fd/"*; do readlink "$fd"; done 2>/dev/null |
			grep -c -x -F -e "$(readlink -f "$kernel")" -e "$(readlink -f "$initrd")")
	fi
	expect reboot.boot-files-unmapped "gvmm still maps the kernel or initrd file: ${mapped:-no maps} mappings" \
		[ "${mapped:-x}" = 0 ]
	expect reboot.boot-files-closed "gvmm still has the kernel or initrd file open: ${open_files:-no fd list} descriptors" \
		[ "${open_files:-x}" = 0 ]
else
	fail reboot.restarts "the guest did not come back after its reboot"
fi
kill -TERM "$BOOT_PID" 2>/dev/null
# Bounded: a gvmm that ignores SIGTERM is killed and the check fails.
timeout 60 tail --pid="$BOOT_PID" -f /dev/null || kill -KILL "$BOOT_PID" 2>/dev/null
wait "$BOOT_PID"
status=$?
expect reboot.sigterm-exit-143 "gvmm exited $status after SIGTERM, expected 143" [ "$status" = 143 ]

# A kernel whose first instruction faults with no IDT: a triple fault.
fault_kernel=$E2E_WORK/triple-fault.elf
python3 tests/e2e/make_fault_kernel.py "$fault_kernel"
boot triple-fault 60 --kernel "$fault_kernel" --memory 64M
if [ "$BOOT_STATUS" = 1 ] && grep -q 'triple-faulted' "$E2E_WORK/triple-fault.err" &&
   grep -q ' rip ' "$E2E_WORK/triple-fault.err"; then
	pass triple-fault.exit-1-with-registers
else
	fail triple-fault.exit-1-with-registers "gvmm exited $BOOT_STATUS: $(head -c 300 "$E2E_WORK/triple-fault.err")"
fi
