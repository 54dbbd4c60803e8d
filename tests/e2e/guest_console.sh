#!/usr/bin/env bash
# The console in both directions, on COM1 (ttyS0) and on the virtio
# console (hvc0): the guest names its console, waits for a line from the
# host, and reports what it read.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BOOT_TIMEOUT=${GVMM_BOOT_TIMEOUT:-180}

# console_round_trip NAME DEVICE CONSOLE-ARG
console_round_trip() {
	local name=$1 device=$2 console=$3 fifo=$E2E_WORK/$1.in pid status
	mkfifo "$fifo"
	"$GVMM" run --kernel "$GUEST_DIR/vmlinuz" --initrd "$GUEST_DIR/initrd.img" --memory 256M \
		--console "$console" --cmdline "console=$device panic=-1 gvmm.test=echo" --no-reboot \
		--serial stdio <"$fifo" >"$E2E_WORK/$name.log" 2>"$E2E_WORK/$name.err" &
	pid=$!
	exec 3>"$fifo"   # held open: the guest sees no end of input
	if wait_for_console "$name" GVMM-READY-FOR-INPUT 1 "$BOOT_TIMEOUT" "$pid"; then
		echo "hello-from-the-host" >&3
	fi
	timeout "$BOOT_TIMEOUT" tail --pid="$pid" -f /dev/null || kill -KILL "$pid"
	exec 3>&-
	wait "$pid"
	status=$?
	expect "$name.exit-0" "gvmm exited $status" [ "$status" = 0 ]
	expect "$name.guest-console-is-$device" "active console '$(report "$name" console_active)'" \
		[ "$(report "$name" console_active)" = "$device" ]
	expect "$name.input-reaches-guest" "the guest read '$(report "$name" console_got)'" \
		[ "$(report "$name" console_got)" = hello-from-the-host ]
}

console_round_trip console-uart ttyS0 uart
console_round_trip console-virtio hvc0 virtio
