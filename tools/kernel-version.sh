# shellcheck shell=bash
# tools/kernel-version.sh: which Debian kernel the test guest, the nested
# test host and modules built for them use (sourced, not run). The caller
# defines die MESSAGE.

# pick_kver: prints GVMM_KVER when set (checked), else the newest version
# with both /boot/vmlinuz-KVER and /lib/modules/KVER: a kernel whose
# modules were removed cannot boot the rig nor the guest.
pick_kver() {
	local v best=
	if [[ -n ${GVMM_KVER:-} ]]; then
		[[ -f /boot/vmlinuz-$GVMM_KVER && -f /lib/modules/$GVMM_KVER/modules.dep ]] ||
			die "GVMM_KVER=$GVMM_KVER: need /boot/vmlinuz-$GVMM_KVER and /lib/modules/$GVMM_KVER"
		printf '%s\n' "$GVMM_KVER"
		return
	fi
	for v in /boot/vmlinuz-*; do
		v=${v#/boot/vmlinuz-}
		[[ -f /lib/modules/$v/modules.dep ]] || continue
		best+="$v"$'\n'
	done
	[[ -n $best ]] || die "no kernel with both /boot/vmlinuz-KVER and /lib/modules/KVER (run tools/deps as root)"
	printf '%s' "$best" | sort -V | tail -n 1
}
