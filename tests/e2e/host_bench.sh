#!/usr/bin/env bash
# tools/bench without KVM: the statistics and table functions of
# tools/bench-lib.sh, and a dry run of tools/bench (BENCH_DRY_RUN=1, stubs
# instead of VMMs) that must interleave the runs, count an injected
# failure, print the table and write no report; and tools/bench-startup,
# which needs no KVM at all (its stand-in answers gvmm's KVM ioctls).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tools/bench-lib.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/gvmm-test-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

check() { # NAME EXPECTED ACTUAL
	if [[ $2 == "$3" ]]; then echo "PASS bench.$1"; else echo "FAIL bench.$1: expected '$2', got '$3'"; fi
}

check median-odd 3 "$(printf '5\n1\n3\n' | bl_median)"
check median-even 2.5 "$(printf '4\n1\n3\n2\n' | bl_median)"
check median-one 7.25 "$(echo 7.25 | bl_median)"
check median-none - "$(bl_median </dev/null)"
check median-numeric 10 "$(printf '9\n10\n100\n' | bl_median)"
check min 0.5 "$(printf '2\n0.5\n10\n' | bl_min)"
check max 10 "$(printf '2\n0.5\n10\n' | bl_max)"
check min-none - "$(bl_min </dev/null)"
check ratio 0.50 "$(bl_ratio 1 2)"
check ratio-missing - "$(bl_ratio - 2)"
check ratio-zero - "$(bl_ratio 1 0)"
check fmt 3.1 "$(bl_fmt %.1f 3.14159)"
check fmt-missing - "$(bl_fmt %.1f -)"

bl_init "$work/r1"
for v in 10 30 20; do bl_record m gvmm "$v"; done
bl_record m gvmm "" 2>/dev/null
bl_record m qemu 40
check record-keeps-numbers 3 "$(bl_count "$work/r1/vals/m.gvmm")"
check record-counts-non-numbers 1 "$(bl_count "$work/r1/fails/m.gvmm")"
check cell "20 (10-30)" "$(bl_cell m gvmm %.0f)"
check cell-single 40 "$(bl_cell m qemu %.0f)"
check cell-none - "$(bl_cell m nobody %.0f)"
check row "| x | 20 (10-30) | 40 | 0.50 | lower | 3 ok, 1 failed; 1 ok |" "$(bl_row x g m %.0f lower)"
check stub-row-says-why 1 "$(bl_stub_row y "needs virgl" | grep -c 'not measured yet: needs virgl')"

# Interleaving: subjects alternate within each round; a failing run is
# counted for its group and its subject, never dropped.
bl_init "$work/r2"
calls=''
fake_run() { # SUBJECT ROUND
	calls+="$1$2 "
	[[ $1$2 == qemu2 ]] && return 1
	bl_record v "$1" "$2"
}
bl_interleave grp 3 "gvmm qemu" fake_run 2>/dev/null
check interleave-order "gvmm1 qemu1 gvmm2 qemu2 gvmm3 qemu3 " "$calls"
check interleave-failure-counted 1 "$(bl_count "$work/r2/fails/grp.qemu")"
check interleave-runs "2 ok, 1 failed" "$(bl_runs grp v qemu)"
check failure-total 1 "$(bl_failure_total)"
check failure-listed "- grp, qemu: run 2 failed" "$(bl_failures)"

# smaps: every mapping but the one of the guest RAM's size, which counts once.
cat >"$work/smaps" <<'SMAPS'
00400000-00500000 r-xp 00000000 08:01 1 /usr/bin/vmm
Size:               1024 kB
Rss:                 800 kB
Private_Dirty:         0 kB
7f0000000000-7f0020000000 rw-p 00000000 00:00 0
Size:             524288 kB
Rss:              100000 kB
Private_Dirty:    100000 kB
7f0030000000-7f0050000000 rw-p 00000000 00:00 0
Size:             524288 kB
Rss:                  50 kB
Private_Dirty:        40 kB
7f0060000000-7f0060100000 rw-p 00000000 00:00 0 [heap]
Size:               1024 kB
Rss:                 300 kB
Private_Dirty:       200 kB
SMAPS
check smaps-beyond-ram "1150 240" "$(bl_smaps_file_beyond_ram "$work/smaps" 524288)"
if bl_smaps_file_beyond_ram "$work/smaps" 1048576 >/dev/null 2>&1; then
	echo "FAIL bench.smaps-no-ram-mapping: succeeded without a mapping of the RAM's size"
else
	echo "PASS bench.smaps-no-ram-mapping"
fi

# bl_wait_line: sees a line written in two pieces, not before it is whole.
(printf 'noise\nGVMM-BENCH-INIT up' >"$work/console"; sleep 0.3; printf 'time=1.5\r\n' >>"$work/console"; sleep 5) &
writer=$!
if bl_wait_line "$work/console" '^GVMM-BENCH-INIT uptime=[0-9.]+$' 10 "$writer"; then
	check wait-line "GVMM-BENCH-INIT uptime=1.5" "$BL_LINE"
else
	echo "FAIL bench.wait-line: the line was not seen"
fi
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
(sleep 0.2) &
if bl_wait_line "$work/console" '^never' 10 $!; then
	echo "FAIL bench.wait-line-gone: matched a line that is not there"
else
	echo "PASS bench.wait-line-gone"
fi

# A prompt waits for input with no newline after it: seen only with "partial".
printf 'login: root\nroot@gvmm-debian:~# ' >"$work/prompt"
(sleep 5) &
if bl_wait_line "$work/prompt" 'root@gvmm-debian' 1 $!; then
	echo "FAIL bench.wait-line-partial-needs-asking: matched an unterminated line"
else
	echo "PASS bench.wait-line-partial-needs-asking"
fi
if bl_wait_line "$work/prompt" 'root@gvmm-debian' 10 $! partial; then
	check wait-line-partial "root@gvmm-debian:~# " "$BL_LINE"
else
	echo "FAIL bench.wait-line-partial: the prompt was not seen"
fi
kill $! 2>/dev/null
wait $! 2>/dev/null

check timespan-min 62.345 "$(bl_timespan_s "1min 2.345s")"
check timespan-ms 0.987 "$(bl_timespan_s 987ms)"
check timespan-unknown "" "$(bl_timespan_s "2 days")"

check expand-cpus "0 1 2 5" "$(bl_expand_cpus 0-2,5 | paste -sd' ')"
check vcpu-index-gvmm 3 "$(bl_vcpu_index gvmm-vcpu3)"
check vcpu-index-qemu 1 "$(bl_vcpu_index "CPU 1/KVM")"
check vcpu-index-other "" "$(bl_vcpu_index gvmm-io)"

# Thread placement, on a real process: a thread named like a vCPU goes to
# the vCPU's CPU, the others (and a thread made after the placement) to
# the rest; a process without one is not placed.
allowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
read -r -a cpus_here <<<"$(bl_expand_cpus "$allowed" | paste -sd' ')"
if ((${#cpus_here[@]} < 2)); then
	echo "SKIP bench.pin-threads: ${#cpus_here[@]} CPU here, placement needs 2"
else
	python3 -c '
import ctypes, threading, time
libc = ctypes.CDLL(None)
def named(name, secs):
    libc.prctl(15, name.encode())
    time.sleep(secs)
threading.Thread(target=named, args=("gvmm-vcpu0", 20)).start()
time.sleep(2)
threading.Thread(target=named, args=("late", 20)).start()
time.sleep(20)' &
	py=$!
	if bl_pin_threads $py 1 "${cpus_here[1]}" "${cpus_here[0]}" 50; then
		sleep 3
		placed=''
		for t in /proc/$py/task/*; do
			placed+="$(<"$t/comm")=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$t/status") "
		done
		check pin-threads-vcpu 1 "$(grep -c "gvmm-vcpu0=${cpus_here[1]} " <<<"$placed")"
		check pin-threads-rest 2 "$(grep -o "=${cpus_here[0]} " <<<"$placed" | wc -l)"
		check pin-threads-late 1 "$(grep -c "late=${cpus_here[0]} " <<<"$placed")"
	else
		echo "FAIL bench.pin-threads: the vCPU-named thread was not placed"
	fi
	kill $py 2>/dev/null
	wait $py 2>/dev/null
	sleep 30 &
	if bl_pin_threads $! 1 "${cpus_here[1]}" "${cpus_here[0]}" 3; then
		echo "FAIL bench.pin-threads-needs-vcpu: placed a process with no vCPU thread"
	else
		echo "PASS bench.pin-threads-needs-vcpu"
	fi
	kill $! 2>/dev/null
	wait $! 2>/dev/null
fi

# A dry run: BENCH_OUT unset, so no report file may appear.
before=$(stat -c %Y docs/BENCHMARKS.md 2>/dev/null || echo none)
BENCH_DRY_RUN=1 BENCH_RUNS=2 BENCH_ROWS=boot,block,gpu,exits,desktop BENCH_DRY_FAIL="qemu:1" \
	BENCH_DRY_ORDER="$work/order" TMPDIR=$work tools/bench >"$work/dry.out" 2>"$work/dry.err"
status=$?
check dry-run-status-says-failure 1 "$status"
check dry-run-order "boot 1 gvmm,boot 1 qemu,boot 2 gvmm,boot 2 qemu,block 1 gvmm,block 1 qemu,block 1 host,block 2 gvmm,block 2 qemu,block 2 host,gpu 1 gvmm,gpu 1 qemu,gpu 2 gvmm,gpu 2 qemu,exits 1 gvmm,exits 1 qemu,exits 2 gvmm,exits 2 qemu,desktop 1 gvmm,desktop 1 qemu,desktop 2 gvmm,desktop 2 qemu" \
	"$(paste -sd, "$work/order")"
check dry-run-banner 1 "$(grep -c '^\*\*DRY RUN' "$work/dry.out")"
check dry-run-boot-row 1 "$(grep -c '^| 1 boot to init, wall clock (ms; QEMU -M microvm) | [0-9]* ([0-9]*-[0-9]*) | [0-9]* | [0-9.]* | lower | 2 ok; 1 ok, 1 failed |$' "$work/dry.out")"
check dry-run-block-rows 4 "$(grep -c '^| 3 block .* | higher | 2 ok; 2 ok |$' "$work/dry.out")"
# Exits and interrupts per request, from two samples of KVM's counters
# around the iodepth 32 job and the guest's ios= counts.
check dry-run-block-per-request-rows 2 "$(grep -c '^| 3 block, \(VM exits\|interrupts injected\) per request, .* | [0-9.]* ([0-9.]*-[0-9.]*) | [0-9.]* ([0-9.]*-[0-9.]*) | [0-9.]* | lower | 2 ok; 2 ok |$' "$work/dry.out")"
# The disk's own interrupts per request, from the guest's irqs= counts
# (made up: 3000-4000 interrupts over 10000-11000 requests).
check dry-run-block-disk-irqs-row 1 "$(grep -c "^| 3 block, the disk's interrupts per request, the same job (the guest's count) | 0\.3[0-9] (0\.[0-9]*-0\.[0-9]*) | 0\.3[0-9] (0\.[0-9]*-0\.[0-9]*) | [0-9.]* | lower | 2 ok; 2 ok |\$" "$work/dry.out")"
check dry-run-desktop-rows 2 "$(grep -c '^| 7 desktop, .* | [0-9.]* ([0-9.]*-[0-9.]*) | [0-9.]* ([0-9.]*-[0-9.]*) | [0-9.]* | lower | 2 ok; 2 ok |$' "$work/dry.out")"
check dry-run-desktop-memory-gvmm-only 2 "$(grep -c '^| 7 .*(MiB) | [0-9.]* ([0-9.]*-[0-9.]*) | not measured .* | - | lower | 2 ok; - |$' "$work/dry.out")"
check dry-run-gpu-row 1 "$(grep -c '^| 5 GPU, glprobe in the guest on virgl, 1280x800 (frames/s; .*) | [0-9.]* ([0-9.]*-[0-9.]*) | [0-9.]* ([0-9.]*-[0-9.]*) | [0-9.]* | higher | 2 ok; 2 ok |$' "$work/dry.out")"
check dry-run-exits-rows 2 "$(grep -c '^| 6 VM exit round trip, \(PIO\|MMIO\): .* (ns; QEMU q35) | [0-9]* ([0-9]*-[0-9]*) | [0-9]* ([0-9]*-[0-9]*) | [0-9.]* | lower | 2 ok; 2 ok |$' "$work/dry.out")"
check dry-run-exits-command-lines 2 "$(grep -c '^exits (\(gvmm\|qemu\)):.*gvmm\.test=exitbench' "$work/dry.out")"
check dry-run-failure-listed 1 "$(grep -c '^- boot, qemu: run 1 failed$' "$work/dry.out")"
check dry-run-failure-total 1 "$(grep -c '\*\*failures: 1\*\*' "$work/dry.out")"
# Both VMMs' block guests are placed alike, each launch counted.
if ((${#cpus_here[@]} < 2)); then
	check dry-run-block-placement 1 "$(grep -c '^Threads of the block guests: placement left to the scheduler: 1 CPU(s)' "$work/dry.out")"
else
	check dry-run-block-placement 1 "$(grep -c "^Threads of the block guests, placed alike for both VMMs: the vCPU thread alone on CPU ${cpus_here[0]}, .* placed in 4 of 4 launches" "$work/dry.out")"
fi
check dry-run-no-report "$before" "$(stat -c %Y docs/BENCHMARKS.md 2>/dev/null || echo none)"

# The exits row: a guest that could not make one of its measures fails
# that metric alone, with the guest's reason, and the run's status says so.
BENCH_DRY_RUN=1 BENCH_RUNS=2 BENCH_ROWS=exits BENCH_DRY_FAIL="gvmm:2:mmio" \
	TMPDIR=$work tools/bench >"$work/exits.out" 2>"$work/exits.err"
check exits-run-status-says-failure 1 "$?"
check exits-pio-row 1 "$(grep -c '^| 6 VM exit round trip, PIO: .* | lower | 2 ok; 2 ok |$' "$work/exits.out")"
check exits-mmio-row-counts-failure 1 "$(grep -c '^| 6 VM exit round trip, MMIO: .* | [0-9]* | [0-9]* ([0-9]*-[0-9]*) | [0-9.]* | lower | 1 ok, 1 failed; 2 ok |$' "$work/exits.out")"
check exits-failure-reason 1 "$(grep -c '^- exits_mmio_ns, gvmm: no virtio PCI function (vendor 0x1af4)$' "$work/exits.out")"
check exits-failure-total 1 "$(grep -c '\*\*failures: 1\*\*' "$work/exits.out")"

# The vfio row: mapped boots, then trapped ones (gvmm mmap=off, QEMU
# x-no-mmap=on), interleaved; the MSI measure comes from the mapped boots
# only, and a guest that counted no message fails that metric alone.
BENCH_DRY_RUN=1 BENCH_RUNS=2 BENCH_ROWS=vfio BENCH_DRY_FAIL="gvmm:1:msi" BENCH_DRY_ORDER="$work/vfio.order" \
	TMPDIR=$work tools/bench >"$work/vfio.out" 2>"$work/vfio.err"
check vfio-run-status-says-failure 1 "$?"
check vfio-order "vfio-mmap 1 gvmm,vfio-mmap 1 qemu,vfio-mmap 2 gvmm,vfio-mmap 2 qemu,vfio-trap 1 gvmm,vfio-trap 1 qemu,vfio-trap 2 gvmm,vfio-trap 2 qemu" \
	"$(paste -sd, "$work/vfio.order")"
check vfio-mapped-row 1 "$(grep -c '^| 8 VFIO, 32-bit read of a passed-through BAR mapped into the guest .* | lower | 2 ok; 2 ok |$' "$work/vfio.out")"
check vfio-trapped-row 1 "$(grep -c '^| 8 VFIO, the same read trapped and forwarded by the VMM .* | lower | 2 ok; 2 ok |$' "$work/vfio.out")"
check vfio-msi-row-counts-failure 1 "$(grep -c '^| 8 VFIO, MSI from the device .* | lower | 1 ok, 1 failed; 2 ok |$' "$work/vfio.out")"
check vfio-msi-failure-reason 1 "$(grep -c '^- vfio_msi_us, gvmm: only 0 messages were counted in 5 s$' "$work/vfio.out")"
check vfio-trapped-command-lines 2 "$(grep -c -e "^vfio-trap (gvmm):.*'--vfio' '[0-9a-f:.]*,mmap=off'" -e "^vfio-trap (qemu):.*'vfio-pci,host=[0-9a-f:.]*,x-no-mmap=on'" "$work/vfio.out")"
check vfio-mapped-command-lines 2 "$(grep -c -e "^vfio-mmap (gvmm):.*'--vfio' '[0-9a-f:.]*'" -e "^vfio-mmap (qemu):.*'vfio-pci,host=[0-9a-f:.]*'" "$work/vfio.out")"

# The gpu row: both VMMs boot the GL guest on one render node (gvmm's
# --gpu virgl, QEMU's egl-headless); a guest whose GL is not virgl
# (software GL in the guest) fails that run's glprobe and kmscube
# measures, with the renderer it had; BENCH_GL_FRAMES and
# BENCH_KMSCUBE_FRAMES reach the guest.
BENCH_DRY_RUN=1 BENCH_RUNS=2 BENCH_ROWS=gpu BENCH_GL_FRAMES=50 BENCH_KMSCUBE_FRAMES=40 BENCH_DRY_FAIL="qemu:2:llvmpipe" \
	TMPDIR=$work tools/bench >"$work/gpu.out" 2>"$work/gpu.err"
check gpu-run-status-says-failure 1 "$?"
check gpu-row-counts-failure 1 "$(grep -c '^| 5 GPU, glprobe .* | [0-9.]* ([0-9.]*-[0-9.]*) | [0-9.]* | [0-9.]* | higher | 2 ok; 1 ok, 1 failed |$' "$work/gpu.out")"
check gpu-failure-reason 1 "$(grep -c "^- gpu_fps, qemu: the guest's GL renderer is 'llvmpipe (LLVM 15.0.6, 128 bits)', not virgl$" "$work/gpu.out")"
check gpu-kmscube-row-counts-failure 1 "$(grep -c '^| 5 GPU, kmscube .* | [0-9.]* ([0-9.]*-[0-9.]*) | [0-9.]* | [0-9.]* | higher | 2 ok; 1 ok, 1 failed |$' "$work/gpu.out")"
check gpu-kmscube-failure-reason 1 "$(grep -c "^- gpu_kmscube_fps, qemu: kmscube's GL renderer is 'llvmpipe (LLVM 15.0.6, 128 bits)', not virgl$" "$work/gpu.out")"
check gpu-failure-total 1 "$(grep -c '\*\*failures: 2\*\*' "$work/gpu.out")"
gvmm_line=$(grep '^gpu (gvmm):' "$work/gpu.out")
qemu_line=$(grep '^gpu (qemu):' "$work/gpu.out")
check gpu-gvmm-command-line 1 "$(grep -c "gvmm\.test=gl gvmm\.gl\.frames=50 gvmm\.gl\.kmscube=40 .*'--gpu' 'virgl,.*rendernode=/dev/dri/renderD128" <<<"$gvmm_line")"
check gpu-qemu-command-line 1 "$(grep -c "'-display' 'egl-headless,rendernode=/dev/dri/renderD128'.* gvmm\.test=gl gvmm\.gl\.frames=50 .*'virtio-gpu-gl-pci," <<<"$qemu_line")"
check gpu-one-render-node "$(grep -o 'rendernode=[^,'"'"']*' <<<"$gvmm_line")" "$(grep -o 'rendernode=[^,'"'"']*' <<<"$qemu_line")"
check gpu-client-row 1 "$(grep -c '^| 5 GPU, glprobe.s frames a SPICE client over TCP receives whole while glprobe renders .* | [0-9.]* ([0-9.]*-[0-9.]*) | [0-9.]* ([0-9.]*-[0-9.]*) | [0-9.]* | higher | 2 ok; 2 ok |$' "$work/gpu.out")"
check gpu-client-command-line 1 "$(grep -c "^gpu (client): .*'count-frames=.*/gpu\.gvmm\.1\.log,GVMM-GLPROBE-START,GVMM-GL-SHOWN'$" "$work/gpu.out")"
check gpu-spice-both 2 "$(grep -c "^gpu (\(gvmm\|qemu\)):.*streaming-video=filter" "$work/gpu.out")"
check gpu-initrd-gl 2 "$(grep -c "^gpu (.*/initrd-gl\.img'" "$work/gpu.out")"

# Without a render node the gpu row is not measured, says why, and fails
# nothing: no run is made.
BENCH_DRY_RUN=1 BENCH_RUNS=2 BENCH_ROWS=gpu BENCH_GL_NODE="$work/no-such-node" \
	TMPDIR=$work tools/bench >"$work/nogpu.out" 2>"$work/nogpu.err"
check gpu-not-measured-status 0 "$?"
check gpu-not-measured-says-why 1 "$(grep -c "^| 5 GPU (glprobe on virgl) | not measured yet: BENCH_GL_NODE=$work/no-such-node is not a character device | " "$work/nogpu.out")"
check gpu-not-measured-no-runs 1 "$(grep -c '; 0 runs in all, \*\*failures: 0\*\*' "$work/nogpu.out")"

# A run in which nothing failed (the usual case) finishes with status 0
# and writes its report where BENCH_OUT says, "failures: 0".
BENCH_DRY_RUN=1 BENCH_RUNS=2 BENCH_ROWS=boot,memory BENCH_OUT="$work/clean.md" \
	TMPDIR=$work tools/bench >"$work/clean.out" 2>"$work/clean.err"
check clean-run-status 0 "$?"
check clean-run-report 1 "$(grep -c '\*\*failures: 0\*\*' "$work/clean.md" 2>/dev/null || echo 0)"
# gvmm's start-up, from its exec and from main(), each a number.
check clean-startup-rows 2 "$(grep -c '^| 1 gvmm start-up, \(exec\|main()\) to first KVM_RUN (ms) | [0-9.]* ([0-9.]*-[0-9.]*) | ' "$work/clean.md" 2>/dev/null || echo 0)"

# A run that dies keeps the row groups it finished: the report is written
# after each group, headed "Partial" with what was still to run.
# (The braces take bash's own "Killed" line.)
{ BENCH_DRY_RUN=1 BENCH_RUNS=1 BENCH_ROWS=boot,exits BENCH_DRY_FAIL="gvmm:2:die" BENCH_OUT="$work/died.md" \
	TMPDIR=$work tools/bench >"$work/died.out" 2>"$work/died.err"; } 2>/dev/null
check died-run-status 137 "$?"
check died-keeps-finished-group 4 "$(grep -c '^| 1 ' "$work/died.md" 2>/dev/null || echo 0)"
check died-says-partial 1 "$(grep -c '^\*\*Partial: .* Row groups done: boot; still to run: exits\.\*\*$' "$work/died.md" 2>/dev/null || echo 0)"
check died-lost-group-absent 0 "$(grep -c '^| 6 ' "$work/died.md" 2>/dev/null)"
check clean-run-not-partial 0 "$(grep -c '^\*\*Partial' "$work/clean.md" 2>/dev/null)"

# tools/bench-startup: gvmm up to its first KVM_RUN with the stand-in KVM,
# beside the launch floor. A binary that never prints the start-up line
# fails each of its runs once, and the others still count.
gvmm_bin=${GVMM_BUILD:-build}/gvmm
if [[ ! -x $gvmm_bin || ! -f build/guest/vmlinuz || ! -f build/guest/initrd.img ]]; then
	echo "SKIP bench.startup: needs $gvmm_bin and build/guest (make && make guest)"
else
	TMPDIR=$work tools/bench-startup --runs 2 "$gvmm_bin" /bin/false >"$work/startup.out" 2>&1
	check startup-status 0 "$?"
	check startup-gvmm-row 1 "$(grep -c "^| $gvmm_bin | [0-9.]* ([0-9.]*-[0-9.]*) | [0-9.]* ([0-9.]*-[0-9.]*) | 2 ok |$" "$work/startup.out")"
	check startup-floor-row 1 "$(grep -c '^| the launch floor: .* | - | [0-9.]* ([0-9.]*-[0-9.]*) | 2 ok |$' "$work/startup.out")"
	check startup-failure-counted-once 1 "$(grep -c '^| /bin/false | - | - | 0 ok, 2 failed |$' "$work/startup.out")"
	# gvmm's exec to first KVM_RUN includes its main() to it.
	check startup-exec-not-below-main 1 "$(awk -F' [|] ' -v b="$gvmm_bin" '$1 == "| " b { split($2, m, " "); split($3, e, " "); print (e[1] + 0 >= m[1] + 0) }' "$work/startup.out")"
fi
