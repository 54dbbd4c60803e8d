#!/bin/sh
# virtio-gpu robustness (tests/e2e/guest_display.sh): the guest drives the
# GPU with its own userspace driver (tests/guest-tools/gpufuzz.c), sends it
# malformed commands and reports the response type of each; the device
# must answer every one with an error, still answer GET_DISPLAY_INFO
# afterwards, and work again for the kernel's driver. A 3D device (virgl)
# gets malformed 3D commands too (capsets, contexts, 3D resources,
# transfers, command streams), after which a good context must still run
# a stream and read its texture back (gpufuzz.alive3d).
wait_for_drm() {
	n=150
	while [ ! -e /sys/class/drm/card0 ] && [ $n -gt 0 ]; do
		sleep 0.2
		n=$((n - 1))
	done
	[ -e /sys/class/drm/card0 ]
}
wait_for_drm || { echo "gpufuzz.sh: no DRM device"; exit 1; }
# The driver of the virtio-gpu device (virtio device id 16).
gpu_driver() {
	for d in /sys/bus/virtio/devices/*; do
		[ "$(cat "$d/device")" = 0x0010 ] && basename "$(readlink "$d/driver")"
	done
}
echo "REPORT gpu.driver_before=$(gpu_driver)"
gpufuzz
rc=$?
wait_for_drm
echo "REPORT gpu.driver_after=$(gpu_driver)"
exit $rc
