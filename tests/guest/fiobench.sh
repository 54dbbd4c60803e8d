#!/bin/sh
# The block row of tools/bench: four fio jobs, all libaio with O_DIRECT,
# on TARGET (default /dev/vda, the first virtio disk). The host runs this
# same script on the image file for the ceiling, so both sides run the very
# same jobs. One line per job:
#
#   BENCH-FIO NAME iops=N kib_s=N [ios=N irqs=N]
#
# ios and irqs, where TARGET is a block device: the requests it has
# completed so far (reads and writes, from /sys/block) and the interrupts
# its request queues have taken so far (from /proc/interrupts), so the
# host can count per request what it sees between two lines.
#
# or "BENCH-FIO-ERROR NAME ..." and exit status 1 when a job fails. Each
# job runs SECS seconds after one second of ramp: kernel parameter
# gvmm.fio.seconds=SECS in the guest, FIO_SECONDS on the host (default 5).
target=${1:-/dev/vda}
secs=${FIO_SECONDS:-5}
if [ $# -eq 0 ]; then
	for arg in $(cat /proc/cmdline); do
		case $arg in
		gvmm.fio.seconds=*) secs=${arg#*=} ;;
		esac
	done
fi
command -v fio >/dev/null || { echo "BENCH-FIO-ERROR fio: not in this guest (boot initrd-fio.img: tools/mkguest --fio)"; exit 1; }

# ios_done: requests the target disk has completed; nothing for a file.
ios_done() {
	stat=/sys/block/${target##*/}/stat
	[ -b "$target" ] && [ -r "$stat" ] && awk '{ print $1 + $5 }' "$stat"
}

# irqs_taken: interrupts the target's request queues have taken, on every
# CPU; nothing for a file. A virtio disk's queues are named after its
# virtio device: virtioN-req.Q with a vector per queue (MSI-X), else
# virtioN-virtqueues or virtioN.
irqs_taken() {
	[ -b "$target" ] || return 0
	dev=$(readlink "/sys/block/${target##*/}/device" 2>/dev/null) || return 0
	dev=${dev##*/}
	awk -v dev="$dev" '
		$NF ~ ("^" dev "(-req[.][0-9]+|-virtqueues)?$") {
			for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) n += $i; else break
			found = 1
		}
		END { if (found) print n }' /proc/interrupts
}

# job NAME RW BLOCKSIZE IODEPTH
job() {
	out=$(fio --name="$1" --filename="$target" --rw="$2" --bs="$3" --iodepth="$4" \
		--ioengine=libaio --direct=1 --time_based --ramp_time=1 --runtime="$secs" \
		--output-format=terse --terse-version=3 2>&1)
	# Terse version 3: field 5 is the error, 7 and 8 the read KiB/s and
	# IOPS, 48 and 49 the same for writes.
	line=$(echo "$out" | awk -F';' -v name="$1" -v rw="$2" '
		$1 == "3" && NF > 49 {
			if ($5 != 0) { print "BENCH-FIO-ERROR " name " error=" $5; exit }
			if (rw ~ /write/) print "BENCH-FIO " name " iops=" $49 " kib_s=" $48
			else print "BENCH-FIO " name " iops=" $8 " kib_s=" $7
			exit
		}')
	if [ -z "$line" ]; then
		echo "BENCH-FIO-ERROR $1 $(echo "$out" | tail -n 3 | tr '\n' ' ')"
		return 1
	fi
	case $line in BENCH-FIO-ERROR*)
		echo "$line"
		return 1
		;;
	esac
	n=$(ios_done)
	[ -n "$n" ] && line="$line ios=$n"
	n=$(irqs_taken)
	[ -n "$n" ] && line="$line irqs=$n"
	echo "$line"
}

rc=0
job randread-4k-qd1 randread 4k 1 || rc=1
job randread-4k-qd32 randread 4k 32 || rc=1
job read-1m read 1m 8 || rc=1
job write-1m write 1m 8 || rc=1
exit $rc
