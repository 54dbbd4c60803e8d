#!/usr/bin/env bash
# PCI, virtio-blk, virtio-rng and the control socket with a stock kernel:
# the guest lists its PCI devices, makes ext4 on one disk, fails to write a
# read-only one, discards, writes raw data that must survive SIGKILL after
# its sync; then a second boot is powered down through the control socket.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BOOT_TIMEOUT=${GVMM_BOOT_TIMEOUT:-240}
kernel=$GUEST_DIR/vmlinuz
initrd=$GUEST_DIR/initrd.img
img=$E2E_WORK/images
mkdir -p "$img"
# cache=none needs O_DIRECT, which tmpfs lacks before Linux 6.6 (the rig's
# kernel): then the images live on a loop-mounted ext4 file system.
if ! dd if=/dev/zero of="$img/probe" bs=4096 count=1 oflag=direct 2>/dev/null; then
	truncate -s 256M "$E2E_WORK/fs.img"
	mkfs.ext4 -q -F "$E2E_WORK/fs.img"
	modprobe loop 2>/dev/null
	modprobe ext4 2>/dev/null
	if mount -o loop "$E2E_WORK/fs.img" "$img"; then
		trap 'umount "$img"; rm -rf "$E2E_WORK"' EXIT
	else
		fail disks.setup "no O_DIRECT in ${TMPDIR:-/tmp} and no loop mount to get it"
		exit 0
	fi
fi
rm -f "$img/probe"
truncate -s 64M "$img/vda.img"
truncate -s 8M "$img/vdb.img"
printf 'read-only disk\n' | dd of="$img/vdb.img" conv=notrunc 2>/dev/null
truncate -s 8M "$img/vdc.img"
ro_before=$(sha256sum < "$img/vdb.img")

boot_in_background disks --kernel "$kernel" --initrd "$initrd" --memory 512M --cpus 2 \
	--cmdline "console=ttyS0 panic=-1 gvmm.test=disks" --no-reboot \
	--disk "$img/vda.img,serial=gvmm-disk-a" --disk "$img/vdb.img,ro" \
	--disk "$img/vdc.img,cache=none"
if wait_for_console disks GVMM-SYNCED 1 "$BOOT_TIMEOUT"; then
	kill -KILL "$BOOT_PID"
	pass disks.guest-reached-sync
else
	kill -KILL "$BOOT_PID" 2>/dev/null
	fail disks.guest-reached-sync "the guest did not finish its disk work"
fi
wait "$BOOT_PID" 2>/dev/null

pci=$(tr -d '\r' < "$E2E_WORK/disks.log" | grep '^REPORT pci_device=')
expect disks.pci-virtio-blk-x3 "guest PCI list: $pci" \
	[ "$(grep -c '0x1af4:0x1042 class=0x018000' <<<"$pci")" = 3 ]
expect disks.pci-virtio-rng "guest PCI list: $pci" grep -q '0x1af4:0x1044' <<<"$pci"
expect disks.pci-no-complaints "guest logged $(report disks pci_fatal) PCI resource complaints" \
	[ "$(report disks pci_fatal)" = 0 ]
expect disks.mq-one-queue-per-vcpu "vda has $(report disks vda_queues) queues" \
	[ "$(report disks vda_queues)" = 2 ]
expect disks.serial "vda serial '$(report disks vda_serial)'" [ "$(report disks vda_serial)" = gvmm-disk-a ]
expect disks.msix "guest has $(report disks msix_irqs) virtio MSI-X interrupts" \
	[ "$(report disks msix_irqs)" -ge 3 ]
ok=no
[ "$(report disks rng_bytes)" = 64 ] && grep -q virtio <<<"$(report disks rng_current)" && ok=yes
expect disks.rng "rng '$(report disks rng_current)' gave $(report disks rng_bytes) bytes" [ $ok = yes ]
ok=no
[ "$(report disks vdb_ro)" = 1 ] && [ "$(report disks ro_write)" = refused ] && ok=yes
expect disks.ro-refuses-writes "ro disk: sysfs ro=$(report disks vdb_ro), write $(report disks ro_write)" \
	[ $ok = yes ]
expect disks.ro-image-untouched "the read-only image changed" [ "$(sha256sum < "$img/vdb.img")" = "$ro_before" ]
expect disks.guest-mkfs-mount-umount "mkfs=$(report disks mkfs) mount=$(report disks mount) umount=$(report disks umount)" \
	[ "$(report disks mkfs)$(report disks mount)$(report disks umount)" = okokok ]

if e2fsck -fn "$img/vda.img" >"$E2E_WORK/fsck.out" 2>&1; then
	pass disks.host-e2fsck-clean
else
	fail disks.host-e2fsck-clean "$(tail -n 5 "$E2E_WORK/fsck.out")"
fi
debugfs -R "dump /kept.bin $E2E_WORK/kept.bin" "$img/vda.img" >/dev/null 2>&1
expect disks.host-reads-guest-file "kept.bin sha256 differs from what the guest wrote" \
	[ "$(sha256sum < "$E2E_WORK/kept.bin" 2>/dev/null | cut -d' ' -f1)" = "$(report disks kept_sha256)" ]
expect disks.host-reads-small-file "hello.txt" \
	[ "$(debugfs -R 'cat /hello.txt' "$img/vda.img" 2>/dev/null)" = "gvmm was here" ]
# 24 MiB were written then deleted on a discard mount: the sparse image
# must hold far less than that.
allocated_kib=$(du -k "$img/vda.img" | cut -f1)
expect disks.discard-frees-host-blocks "vda.img still allocates ${allocated_kib} KiB after the guest discarded 24 MiB" \
	[ "$allocated_kib" -lt 20000 ]
raw=$(head -c $((2 << 20)) "$img/vdc.img" | sha256sum | cut -d' ' -f1)
expect disks.synced-data-survives-sigkill "vdc.img data differs from what the guest synced" \
	[ "$raw" = "$(report disks raw_sha256)" ]

# What `gvmm ctl vcpus` says of an idle 2-vCPU guest: both vCPUs, each
# halted or running at an address in the kernel's text that its page
# tables map into its 256 MiB of RAM, and at least one
# halted in the kernel (cpl 0) with interrupts on, as an idle CPU waits.
idle_vcpus_ok() {
	python3 - "$1" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
v = r["vcpus"]
assert r["total"] == 2 and [x["index"] for x in v] == [0, 1], r
for x in v:
    assert x["state"] in ("halted", "running"), x
    assert int(x["rip"], 16) >= 0xffffffff80000000, x
    assert x["rip_gpa"] != "not mapped" and int(x["rip_gpa"], 16) < 256 << 20, x
assert any(x["state"] == "halted" and x["cpl"] == 0 and x["interrupts"] == "on" for x in v), v
PY
}

# A locked image: a second gvmm cannot open a disk the first one holds.
boot_in_background holder --kernel "$kernel" --initrd "$initrd" --memory 256M \
	--cmdline "console=ttyS0 panic=-1 gvmm.test=powerdown" --no-reboot --cpus 2 \
	--disk "$img/vdc.img" --api-socket "$E2E_WORK/api.sock"
holder=$BOOT_PID
if wait_for_console holder GVMM-WAITING-FOR-POWER-BUTTON 1 "$BOOT_TIMEOUT"; then
	"$GVMM" run --kernel "$kernel" --disk "$img/vdc.img" --serial none </dev/null 2>"$E2E_WORK/locked.err"
	status=$?
	ok=no
	[ "$status" = 2 ] && grep -q -i 'lock\|in use' "$E2E_WORK/locked.err" && ok=yes
	expect disks.locked-image-refused "second gvmm exited $status: $(cat "$E2E_WORK/locked.err")" \
		[ $ok = yes ]

	out=$("$GVMM" ctl "$E2E_WORK/api.sock" status 2>&1)
	expect api.status "status said: $out" grep -q '"state":"running"' <<<"$out"
	expect api.status-devices "status said: $out" grep -q 'virtio-blk' <<<"$out"
	expect api.socket-mode-0600 "mode $(stat -c %a "$E2E_WORK/api.sock")" \
		[ "$(stat -c %a "$E2E_WORK/api.sock")" = 600 ]
	# The guest waits for the button: both vCPUs idle in its kernel.
	out=$("$GVMM" ctl "$E2E_WORK/api.sock" vcpus 2>&1)
	expect api.vcpus-idle-in-kernel "vcpus said: $out" idle_vcpus_ok "$out"
	out=$("$GVMM" ctl "$E2E_WORK/api.sock" status 2>&1)
	expect api.vcpus-leaves-it-running "status after vcpus: $out" grep -q '"state":"running"' <<<"$out"
	"$GVMM" ctl "$E2E_WORK/api.sock" pause >/dev/null
	out=$("$GVMM" ctl "$E2E_WORK/api.sock" status 2>&1)
	expect api.pause "status after pause: $out" grep -q '"state":"paused"' <<<"$out"
	out=$("$GVMM" ctl "$E2E_WORK/api.sock" vcpus 2>&1)
	expect api.vcpus-while-paused "vcpus said: $out" idle_vcpus_ok "$out"
	out=$("$GVMM" ctl "$E2E_WORK/api.sock" status 2>&1)
	expect api.vcpus-leaves-it-paused "status after vcpus: $out" grep -q '"state":"paused"' <<<"$out"
	"$GVMM" ctl "$E2E_WORK/api.sock" resume >/dev/null
	out=$("$GVMM" ctl "$E2E_WORK/api.sock" frobnicate 2>&1)
	status=$?
	expect api.unknown-command-error "exit $status: $out" [ "$status" = 1 ]
	"$GVMM" ctl "$E2E_WORK/api.sock" powerdown >/dev/null
	timeout "$BOOT_TIMEOUT" tail --pid="$holder" -f /dev/null
	wait "$holder"
	status=$?
	expect api.powerdown-clean-exit-0 "gvmm exited $status after powerdown" [ "$status" = 0 ]
	expect api.guest-saw-power-button "the guest never saw the button" \
		grep -q GVMM-POWER-BUTTON-PRESSED "$E2E_WORK/holder.log"
	expect api.socket-removed "the socket file is still there" [ ! -e "$E2E_WORK/api.sock" ]
else
	kill -KILL "$holder" 2>/dev/null
	fail api.boot "the powerdown guest did not come up"
fi
