#!/usr/bin/env bash
# Host-side set-up of tests/e2e/guest_vfio.sh, run by tests/run on this
# machine before each run of that test: the kernel's mbochs sample built
# as a module (tools/build-mbochs: build/mbochs/mbochs.ko, a no-op when
# it is up to date), for the nested host to load. It must happen here:
# the nested host sees this machine's root read-only and installs
# nothing. When it cannot be built, build/e2e-mbochs/why says why (the
# build's last lines), for the test to report as a skip; the set-up
# itself never fails the test file.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

dir=build/e2e-mbochs
mkdir -p -- "$dir" || exit 1
rm -f -- "$dir/why"
# GVMM_E2E_MBOCHS=0 leaves the mediated display out (tests/e2e/guest_vfio.sh):
# no kernel source and headers to install for a check that does not run.
if [ "${GVMM_E2E_MBOCHS:-1}" = 0 ]; then
	echo "mbochs_setup: GVMM_E2E_MBOCHS=0: the mediated display is not checked, nothing built"
	exit 0
fi
if ! tools/build-mbochs >"$dir/build.log" 2>&1; then
	echo "tools/build-mbochs failed: $(tail -n 3 "$dir/build.log" | tr '\n' ' ')" >"$dir/why"
fi
cat -- "$dir/build.log"
exit 0
