#!/usr/bin/env bash
# Host-side set-up of tests/e2e/guest_desktop.sh, run by tests/run on this
# machine before each run of that test (in the nested rig or not): a fresh,
# sparse copy of the desktop image in build/e2e-desktop/desktop.img, which
# the boot may change as it likes. Without an image, build/e2e-desktop/why
# says why, for the test to report: "skip: ..." where nobody asked for
# one, else the reason it could not be had.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

image=${GVMM_DESKTOP_IMAGE:-build/debian.img}
dir=build/e2e-desktop
rm -rf -- "$dir"
mkdir -p -- "$dir" || exit 1

# make test builds the image first and keeps the log of that attempt
# (Makefile, desktop-image), whose last line is mkimage's exit status: an
# image left from an older recipe is not the one to test.
if [ -z "${GVMM_DESKTOP_IMAGE:-}" ] && [ -f build/mkimage.log ] &&
	[ "$(tail -n 1 build/mkimage.log)" != "tools/mkimage exited 0" ]; then
	echo "tools/mkimage could not build $image: $(tail -n 4 build/mkimage.log | tr '\n' ' ')" >"$dir/why"
	exit 0
fi
if [ ! -f "$image" ]; then
	echo "skip: no $image (build it with tools/mkimage $image as root; make test does)" >"$dir/why"
	exit 0
fi
if ! cp --sparse=always -- "$image" "$dir/desktop.img.part" ||
	! mv -- "$dir/desktop.img.part" "$dir/desktop.img"; then
	echo "cannot copy $image into $dir" >"$dir/why"
fi
exit 0
