#!/usr/bin/env bash
# Soak: the display under load, many boots, gvmm beside QEMU.
#
# Each boot runs the test guest with virtio-gpu, SPICE (no client) and the
# virtio keyboard, tablet and mouse SPICE adds, and its init writes a
# block of text to tty1 over and over (tests/guest/ttyload.sh), so fbcon
# scrolls and the GPU driver flushes all the time. Boots alternate
# between gvmm and QEMU (when qemu-system-x86_64 is installed) with the
# same guest, kernel command line and devices, so a death rate can be
# told apart from the substrate's own (the nested rig's emulated SVM has
# killed guests of both at random). A guest that dies (triple fault,
# oops, panic) is a failure; its console tail and gvmm's register dump
# are shown. A boot that runs out of time without dying is not a death:
# it is counted apart.
#
#   GVMM_SOAK_BOOTS=N      boots of each VMM (default 10)
#   GVMM_SOAK_ROUNDS=N     writes of the text per boot (default 20)
#   GVMM_SOAK_LIMIT=S      seconds a boot may run (default 300)
#   GVMM_SOAK_CPUS=N       vCPUs (default 1)
#   GVMM_SOAK_VMMS=gvmm|qemu  boot only one of them (default: "gvmm qemu")
#   GVMM_SOAK_SPICE=off    no SPICE server (and so no virtio input devices)
#                          for either VMM: the same load with the display's
#                          host side doing less, which lets the guest run
#                          faster
#   GVMM_SOAK_APPEND="..."  more kernel arguments for both (e.g. nokaslr, so
#                          that the RIPs in GVMM_SOAK_TRACE's events can be
#                          looked up in the nested host's /proc/kallsyms when
#                          it runs the same kernel)
#   GVMM_SOAK_GVMM_ARGS="..." more gvmm run arguments (e.g. --hugepages or
#                          --memory 256M,shared=on, to compare how guest RAM
#                          is backed)
#   GVMM_SOAK_QEMU_ARGS="..." more QEMU arguments (e.g. memfd RAM:
#                          -object memory-backend-memfd,id=ram,size=256M
#                          -machine memory-backend=ram)
#   GVMM_SOAK_TRACE=1      record the host kernel's KVM events (exceptions
#                          KVM injected, exits, MSR accesses) during each boot
#                          and show their tail when a guest dies: on AMD,
#                          KVM resets the vCPU on a triple fault, so the
#                          registers gvmm prints then are the reset state
#                          and these events are what is left of the cause
#   GVMM_SOAK_TRACE_LINES=N  how many of those events to show (default 60)
#   GVMM_SOAK_CPUID=1      the guest also runs CPUID in a loop meanwhile
#                          (gvmm.ttyload.cpuid=1): exits at the same high
#                          rate under either VMM, whatever its devices do
#   GVMM_SOAK_CRASH_DUMPS=DIR  a gvmm guest that dies leaves its RAM in
#                          DIR/gvmm-N.ram (gvmm run --crash-dump), for
#                          tools/guest-pagetables to read its page tables
# Run: make soak (through tools/with-kvm: the rig where KVM is PVM).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

boots=${GVMM_SOAK_BOOTS:-10}
rounds=${GVMM_SOAK_ROUNDS:-20}
limit=${GVMM_SOAK_LIMIT:-300}
cpus=${GVMM_SOAK_CPUS:-1}
kernel=$GUEST_DIR/vmlinuz
initrd=$GUEST_DIR/initrd.img
port=${GVMM_E2E_SPICE_PORT:-15950}
cmdline="console=ttyS0 panic=-1 quiet gvmm.test=ttyload gvmm.ttyload.rounds=$rounds gvmm.ttyload.cpuid=${GVMM_SOAK_CPUID:-0} ${GVMM_SOAK_APPEND:-}"
qemu=$(command -v qemu-system-x86_64 || true)

# died NAME: the guest died (rather than finished or ran out of time).
died() {
	local log=$E2E_WORK/$1.log err=$E2E_WORK/$1.err
	grep -q -e 'triple-faulted' -e 'KVM internal error' "$err" 2>/dev/null && return 0
	tr -d '\r' <"$log" 2>/dev/null | grep -q -e 'Kernel panic' -e 'BUG:' -e 'Oops' \
		-e 'general protection fault' -e 'double fault' && return 0
	# A guest that reset itself with --no-reboot: gvmm exits 3; QEMU says
	# nothing and exits 0 early, without the end line.
	[ "${1%%-*}" = gvmm ] && [ "$2" = 3 ] && return 0
	[ "${1%%-*}" = qemu ] && [ "$2" = 0 ] && ! grep -q 'REPORT ttyload=done' "$log" 2>/dev/null
}

gvmm_spice=(--spice "127.0.0.1:$port,disable-ticketing")
qemu_spice=(-device virtio-keyboard-pci -device virtio-tablet-pci -device virtio-mouse-pci
	-spice "port=$port,addr=127.0.0.1,disable-ticketing=on")
case ${GVMM_SOAK_SPICE:-on} in
on) ;;
off) gvmm_spice=() qemu_spice=(); echo "note: GVMM_SOAK_SPICE=off: no SPICE server" ;;
*) echo "display_soak: GVMM_SOAK_SPICE must be on or off" >&2; exit 2 ;;
esac

run_gvmm() {
	local dump=()
	[ -z "${GVMM_SOAK_CRASH_DUMPS:-}" ] || dump=(--crash-dump "$GVMM_SOAK_CRASH_DUMPS/$1.ram")
	boot "$1" "$limit" --kernel "$kernel" --initrd "$initrd" --memory 256M --cpus "$cpus" \
		--no-reboot --cmdline "$cmdline" --gpu 2d "${gvmm_spice[@]}" "${dump[@]}" \
		${GVMM_SOAK_GVMM_ARGS:-}
}
run_qemu() {
	BOOT_START=$(date +%s)
	timeout --kill-after=10 "$limit" "$qemu" -M q35 -enable-kvm -cpu host -m 256M \
		-smp "$cpus" -no-reboot -nodefaults -vga none -display none \
		-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
		-device virtio-gpu-pci "${qemu_spice[@]}" \
		-serial "file:$E2E_WORK/$1.log" ${GVMM_SOAK_QEMU_ARGS:-} </dev/null >/dev/null 2>"$E2E_WORK/$1.err"
	BOOT_STATUS=$?
	BOOT_END=$(date +%s)
}

trace=
if [ "${GVMM_SOAK_TRACE:-0}" = 1 ]; then
	trace=/sys/kernel/tracing
	[ -e $trace/events ] || mount -t tracefs tracefs $trace 2>/dev/null
	if [ -w $trace/events/kvm/kvm_inj_exception/enable ]; then
		echo 65536 >$trace/buffer_size_kb
		# Only these events: others left on would crowd them out of
		# the tail shown.
		echo 0 >$trace/events/enable
		# Every exit (with the shutdown one, SVM_EXIT_SHUTDOWN 0x7f or
		# VMX's triple fault), what KVM injected, and the MSR accesses
		# KVM served: the last ones before a death tell what the guest
		# was doing when it could no longer run.
		for e in kvm_inj_exception kvm_exit kvm_msr kvm_page_fault kvm_inj_virq kvm_cr; do
			echo 1 >$trace/events/kvm/$e/enable 2>/dev/null
		done
	else
		echo "note: no KVM trace events here (tracefs not writable): GVMM_SOAK_TRACE ignored"
		trace=
	fi
fi
trace_start() { [ -z "$trace" ] || { echo >$trace/trace; echo 1 >$trace/tracing_on; }; }
trace_show() {
	[ -z "$trace" ] && return
	echo 0 >$trace/tracing_on
	echo "---- last KVM events of $1 (host kernel trace):"
	grep -v '^#' $trace/trace | tail -n "${GVMM_SOAK_TRACE_LINES:-60}" | sed 's/^/  | /'
}

# Huge pages for --hugepages (256 MiB of guest RAM, and some to spare).
if [[ " ${GVMM_SOAK_GVMM_ARGS:-} " == *" --hugepages "* ]]; then
	have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
	[ "$have" -ge 160 ] || echo 160 >/proc/sys/vm/nr_hugepages 2>/dev/null ||
		echo "note: cannot reserve huge pages here; --hugepages boots will fail to start"
fi

declare -A deaths finished slow broken
vmms=(gvmm)
case ${GVMM_SOAK_VMMS:-gvmm qemu} in
gvmm) echo "note: GVMM_SOAK_VMMS=gvmm: gvmm only" ;;
qemu) vmms=(qemu); echo "note: GVMM_SOAK_VMMS=qemu: QEMU only" ;;
*) if [ -n "$qemu" ]; then vmms+=(qemu); else echo "note: no qemu-system-x86_64: gvmm only"; fi ;;
esac
if [ "${vmms[*]}" = qemu ] && [ -z "$qemu" ]; then
	skip display-soak "GVMM_SOAK_VMMS=qemu, and no qemu-system-x86_64 here"
	exit 0
fi
for vmm in "${vmms[@]}"; do deaths[$vmm]=0 finished[$vmm]=0 slow[$vmm]=0 broken[$vmm]=0; done
for i in $(seq 1 "$boots"); do
	for vmm in "${vmms[@]}"; do
		name=$vmm-$i
		trace_start
		"run_$vmm" "$name"
		done_rounds=$(tr -d '\r' <"$E2E_WORK/$name.log" 2>/dev/null | grep -c '^TTYLOAD ROUND')
		if died "$name" "$BOOT_STATUS"; then
			deaths[$vmm]=$((deaths[$vmm] + 1))
			echo "soak: $name DIED after $((BOOT_END - BOOT_START))s, $done_rounds of $rounds rounds, status $BOOT_STATUS"
			console_tail "$name"
			trace_show "$name"
		elif grep -q 'REPORT ttyload=done' "$E2E_WORK/$name.log"; then
			finished[$vmm]=$((finished[$vmm] + 1))
			echo "soak: $name finished in $((BOOT_END - BOOT_START))s, status $BOOT_STATUS"
		elif [ "$BOOT_STATUS" = 124 ] || [ "$BOOT_STATUS" = 137 ]; then
			slow[$vmm]=$((slow[$vmm] + 1))
			echo "soak: $name ran out of its ${limit}s alive after $done_rounds of $rounds rounds"
			console_tail "$name"
			trace_show "$name"
		else
			broken[$vmm]=$((broken[$vmm] + 1))
			echo "soak: $name did not run: status $BOOT_STATUS"
			console_tail "$name"
		fi
	done
done
for vmm in "${vmms[@]}"; do
	echo "soak: $vmm: ${deaths[$vmm]} died, ${finished[$vmm]} finished, ${slow[$vmm]} ran out of time, ${broken[$vmm]} did not run, of $boots boots"
done
if [ -n "${deaths[gvmm]:-}" ]; then
	expect display-soak.no-gvmm-guest-died "${deaths[gvmm]} of $boots gvmm guests died (QEMU: ${deaths[qemu]:-not run})" \
		[ "${deaths[gvmm]}" = 0 ]
fi
expect display-soak.every-boot-ran "boots that did not run: gvmm ${broken[gvmm]:-not run}, QEMU ${broken[qemu]:-not run}" \
	[ "${broken[gvmm]:-0}" = 0 -a "${broken[qemu]:-0}" = 0 ]
