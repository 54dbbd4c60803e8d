# Shared helpers for end-to-end tests: result lines, booting gvmm with its
# console in a file, reading what the guest reported. Sourced, not run.

GVMM_BUILD=${GVMM_BUILD:-build}
GVMM=${GVMM:-$GVMM_BUILD/gvmm}
GUEST_DIR=${GUEST_DIR:-build/guest}
E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/gvmm-e2e.XXXXXX")
trap 'rm -rf "$E2E_WORK"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }

# expect NAME CONDITION-DESCRIPTION COMMAND...: PASS when COMMAND succeeds.
# expect NAME WHAT COMMAND...: passes NAME when COMMAND succeeds. COMMAND is
# one simple command: in "expect n w [ a ] && [ b ]" the shell applies the &&
# to expect itself, so a condition of several parts is worked out first.
expect() {
	local name=$1 what=$2; shift 2
	if "$@"; then pass "$name"; else fail "$name" "$what"; fi
}

# in_range VALUE MIN MAX: VALUE is a whole number from MIN to MAX.
in_range() {
	[[ $1 =~ ^-?[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

# Shows the end of a boot's console and gvmm's messages, for a failure.
console_tail() {
	local log=$E2E_WORK/$1
	echo "---- last console lines of $1:"
	tail -n 40 "$log.log" 2>/dev/null | tr -d '\r' | sed 's/^/  | /'
	echo "---- gvmm stderr:"
	tail -n 20 "$log.err" 2>/dev/null | sed 's/^/  | /'
}

# What a guest that stopped making progress is doing, while gvmm still
# runs it: its threads' states, and three seconds of the host kernel's
# KVM events (where the vCPUs exit, with the guest's instruction pointer,
# and what KVM injects), then where each vCPU stopped (vcpu_snapshot). A
# quiet guest (quiet on the kernel command line) leaves nothing else to
# read. The events need root and tracefs; else it says why not.
kvm_snapshot() {
	local pid=$1 trace=/sys/kernel/tracing kind
	local kinds="kvm_exit kvm_inj_virq kvm_inj_exception"
	kill -0 "$pid" 2>/dev/null || return 0
	echo "---- gvmm's threads (state, kernel wait channel):"
	for t in /proc/"$pid"/task/*; do
		printf '  | %s %s %s\n' "$(cat "$t/comm" 2>/dev/null)" \
			"$(awk '{print $3}' "$t/stat" 2>/dev/null)" "$(cat "$t/wchan" 2>/dev/null)"
	done
	[ -e $trace/events ] || mount -t tracefs tracefs $trace 2>/dev/null
	if [ ! -w $trace/events/kvm/kvm_exit/enable ]; then
		echo "---- no KVM events: tracefs is not writable here"
		vcpu_snapshot "$pid"
		return 0
	fi
	echo 0 >$trace/tracing_on
	echo >$trace/trace
	for kind in $kinds; do
		echo 1 >$trace/events/kvm/$kind/enable 2>/dev/null
	done
	echo 1 >$trace/tracing_on
	sleep 3
	echo 0 >$trace/tracing_on
	for kind in $kinds; do
		echo 0 >$trace/events/kvm/$kind/enable 2>/dev/null
	done
	echo "---- KVM events in 3 s: $(grep -c -v '^#' $trace/trace) (most frequent exits by reason and guest rip, then the last events):"
	grep -o 'kvm_exit: .*reason [A-Za-z_0-9]* rip 0x[0-9a-f]*' $trace/trace |
		sed 's/.*reason \([A-Za-z_0-9]*\) rip \(0x[0-9a-f]*\)/\1 \2/' |
		sort | uniq -c | sort -rn | head -n 8 | sed 's/^/  | /'
	grep -v '^#' $trace/trace | tail -n 12 | sed 's/^/  | /'
	echo >$trace/trace
	vcpu_snapshot "$pid"
}

# Where each vCPU is, from gvmm itself (gvmm ctl vcpus), when the gvmm at
# PID was started with --api-socket: a vCPU halted with interrupts on and
# a vector requested (irr) was not woken by KVM; one halted with
# interrupts off waits on the guest; one that stays at the same rip with
# an exception pending, while its page tables map that rip, faults on the
# host's paging, not the guest's. Read after the KVM events, since
# reading parks the vCPUs for a moment.
vcpu_snapshot() {
	local pid=$1 api
	api=$(tr '\0' '\n' </proc/"$pid"/cmdline 2>/dev/null |
		sed -n -e 's/^--api-socket=//p' -e '/^--api-socket$/{n;p}' | head -n 1)
	[ -n "$api" ] && [ -S "$api" ] || return 0
	echo "---- gvmm's vCPUs (gvmm ctl vcpus):"
	"$GVMM" ctl "$api" vcpus 2>&1 | python3 -c '
import json, sys
text = sys.stdin.read()
try:
    vcpus = json.loads(text)["vcpus"]
except (ValueError, KeyError):
    print(text.rstrip())
    sys.exit(0)
for v in vcpus:
    print("vCPU %d %s rip %s (guest-physical %s) rsp %s interrupts %s cpl %d irr %s isr %s%s%s" % (
        v["index"], v["state"], v["rip"], v["rip_gpa"], v["rsp"], v["interrupts"], v["cpl"],
        v["irr"], v["isr"], " nmi pending" if v["nmi_pending"] else "",
        " exception %d pending" % v["exception"] if "exception" in v else ""))
' | sed 's/^/  | /'
}

# boot NAME TIMEOUT GVMM-RUN-ARGS...: runs gvmm with COM1 in
# $E2E_WORK/NAME.log and stderr in NAME.err; BOOT_STATUS holds the exit
# status (124 when the timeout hit, with the console tail and what the
# guest was doing shown).
boot() {
	local name=$1 limit=$2 pid deadline; shift 2
	BOOT_START=$(date +%s)
	deadline=$((BOOT_START + limit))
	"$GVMM" run --serial "file:$E2E_WORK/$name.log" "$@" </dev/null 2>"$E2E_WORK/$name.err" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "boot $name: no exit within ${limit}s"
		console_tail "$name"
		kvm_snapshot "$pid"
		kill -TERM "$pid" 2>/dev/null
		timeout 10 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		BOOT_STATUS=124
	else
		wait "$pid"
		BOOT_STATUS=$?
	fi
	BOOT_END=$(date +%s)
}

# boot_in_background NAME GVMM-RUN-ARGS...: like boot, without waiting;
# BOOT_PID is gvmm's pid.
boot_in_background() {
	local name=$1; shift
	"$GVMM" run --serial "file:$E2E_WORK/$name.log" "$@" </dev/null \
		2>"$E2E_WORK/$name.err" &
	BOOT_PID=$!
}

# wait_for_console NAME PATTERN COUNT TIMEOUT [PID]: waits until PATTERN
# has appeared COUNT times on NAME's console; fails after TIMEOUT seconds,
# or as soon as gvmm (PID, default BOOT_PID) is gone.
wait_for_console() {
	local log=$E2E_WORK/$1.log pattern=$2 count=$3 limit=$4 pid=${5:-${BOOT_PID:-}}
	local deadline=$(( $(date +%s) + limit ))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		local seen
		seen=$(grep -c -- "$pattern" "$log" 2>/dev/null)
		if [ "${seen:-0}" -ge "$count" ]; then
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			echo "gvmm ended before '$pattern' x$count appeared on the console of $1"
			console_tail "$1"
			return 1
		fi
		sleep 0.2
	done
	echo "waited ${limit}s for '$pattern' x$count on the console of $1"
	console_tail "$1"
	[ -n "$pid" ] && kvm_snapshot "$pid"
	return 1
}

# time_left: what is left of BOOT_TIMEOUT seconds since $start (at least
# 5 s), for a test whose waits share one bound.
time_left() {
	local n=$((start + BOOT_TIMEOUT - $(date +%s)))
	echo $((n < 5 ? 5 : n))
}

# wait_boot_end: waits (within time_left) for boot_in_background's gvmm to
# end, else kills it; BOOT_STATUS.
wait_boot_end() {
	if ! timeout "$(time_left)" tail --pid="$BOOT_PID" -f /dev/null; then
		echo "gvmm still ran ${BOOT_TIMEOUT}s after its start: killed"
		kill -KILL "$BOOT_PID" 2>/dev/null
	fi
	wait "$BOOT_PID"
	BOOT_STATUS=$?
}

# report NAME KEY: the value of the guest's "REPORT KEY=value" line.
report() {
	tr -d '\r' < "$E2E_WORK/$1.log" | sed -n "s/^REPORT $2=//p" | tail -n 1
}

# gpufuzz_not_errors NAME: the cases of gpufuzz's list (gpufuzz.cases, on
# NAME's console) whose answer was not an error (0x12xx), as "CASE=TYPE
# ..."; empty when every one was.
gpufuzz_not_errors() {
	local c t out=
	for c in $(report "$1" gpufuzz.cases | tr ',' ' '); do
		t=$(report "$1" "gpufuzz.$c")
		[[ $t == 0x12?? ]] || out+="$c=${t:-missing} "
	done
	echo "$out"
}

# test_exit NAME: the status the guest's test script exited with.
test_exit() {
	tr -d '\r' < "$E2E_WORK/$1.log" | sed -n 's/^GVMM-TEST-EXIT=//p' | tail -n 1
}
