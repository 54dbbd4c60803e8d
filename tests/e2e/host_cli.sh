#!/usr/bin/env bash
# Bad command lines and input files: one line on stderr naming the problem,
# exit status 2, and nothing left behind (the serial file is not created).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

kernel=$GUEST_DIR/vmlinuz
if [ ! -x "$GVMM" ]; then
	fail cli "no gvmm binary at $GVMM"
	exit 0
fi

# bad_input NAME EXPECTED-WORDS ARGS...: gvmm run ARGS must exit 2 with one
# stderr line containing EXPECTED-WORDS.
bad_input() {
	local name=$1 words=$2; shift 2
	local err=$E2E_WORK/$name.err out=$E2E_WORK/$name.serial status lines
	"$GVMM" run --serial "file:$out" "$@" </dev/null >/dev/null 2>"$err"
	status=$?
	lines=$(wc -l < "$err")
	if [ "$status" = 2 ] && [ "$lines" = 1 ] && grep -q -- "$words" "$err" && [ ! -e "$out" ]; then
		pass "cli.$name"
	else
		fail "cli.$name" "status $status, $lines stderr lines: $(head -c 200 "$err"), serial file left: $([ -e "$out" ] && echo yes || echo no)"
	fi
}

echo "not a kernel" > "$E2E_WORK/not-a-kernel"
: > "$E2E_WORK/empty"
bad_input missing-kernel-file "cannot read kernel" --kernel "$E2E_WORK/nonexistent"
bad_input not-a-kernel "not a Linux kernel" --kernel "$E2E_WORK/not-a-kernel"
bad_input empty-kernel "is empty" --kernel "$E2E_WORK/empty"
bad_input kernel-is-directory "not a regular file" --kernel "$E2E_WORK"
bad_input missing-initrd "cannot read initrd" --kernel "$kernel" --initrd "$E2E_WORK/nonexistent"
bad_input no-kernel-option "give --kernel PATH, or a --disk with a distribution installed on it"
bad_input too-little-memory "too little" --kernel "$kernel" --memory 1M
bad_input too-much-memory "more than this host" --kernel "$kernel" --memory 1000T
bad_input bad-memory-size "give a size" --kernel "$kernel" --memory lots
bad_input zero-cpus "--cpus" --kernel "$kernel" --cpus 0
bad_input absurd-cpus "--cpus" --kernel "$kernel" --cpus 100000
bad_input unknown-option "unknown option" --kernel "$kernel" --frobnicate
bad_input missing-value "needs a value" --kernel
bad_input bad-serial "--serial" --kernel "$kernel" --serial telnet
bad_input bad-host-loopback "host-loopback 'maybe': use on or off" --kernel "$kernel" \
	--net user,host-loopback=maybe
# SPICE passwords: a file others can read, a listener other machines reach
# with no password chosen, one too long for SPICE in the environment.
echo secret >"$E2E_WORK/open-password"
chmod 644 "$E2E_WORK/open-password"
bad_input spice-password-file-open "can be read by other users (mode 0644)" --kernel "$kernel" \
	--spice ":5900,password-file=$E2E_WORK/open-password"
bad_input spice-password-file-missing "password-file $E2E_WORK/nonexistent" --kernel "$kernel" \
	--spice ":5900,password-file=$E2E_WORK/nonexistent"
bad_input spice-open-listener "lets other machines connect" --kernel "$kernel" --spice 0.0.0.0:5900
GVMM_SPICE_PASSWORD=$(printf '%070d' 0) bad_input spice-env-password-too-long \
	"GVMM_SPICE_PASSWORD is longer than the 60 bytes" --kernel "$kernel" --spice :5900
bad_input spice-abstract-socket "abstract socket" --kernel "$kernel" --spice unix:@gvmm
bad_input spice-plaintext-without-tls "plaintext= is only used with tls-port" --kernel "$kernel" \
	--spice :5900,plaintext=on
bad_input bad-serial-max-size "max-size" --kernel "$kernel" --serial "file:$E2E_WORK/sized,max-size=lots"
bad_input vfio-bad-mmap "mmap= takes on or off, not 'maybe'" --kernel "$kernel" \
	--vfio 0000:01:00.0,mmap=maybe

# Help and version tell the truth and succeed.
# (Captured first: grep -q stops reading at its match, and the help is
# longer than one pipe write, so gvmm could die of SIGPIPE under pipefail.)
top_help=$("$GVMM" --help) && run_help=$("$GVMM" run --help) && version=$("$GVMM" --version)
if [ $? = 0 ] && grep -q 'gvmm run' <<<"$top_help" && grep -q -- '--kernel PATH' <<<"$run_help" &&
   grep -q '^gvmm [0-9]' <<<"$version"; then
	pass cli.help-and-version
else
	fail cli.help-and-version "--help / run --help / --version output unexpected"
fi
"$GVMM" frobnicate 2>/dev/null
status=$?
expect cli.unknown-command "status $status, expected 2" [ "$status" = 2 ]

# The GL module (devices/gpu/gl_module.h): gvmm itself links no GL library,
# `gvmm check` loads the module from beside gvmm, and a gvmm without it
# says where it looked.
gl_libs=$(ldd "$GVMM" | grep -E -o 'lib(virglrenderer|epoxy|EGL|gbm|vulkan|X11)[^ ]*' | tr '\n' ' ')
expect cli.gl-libraries-not-linked "gvmm links $gl_libs" [ -z "$gl_libs" ]
module_dir=$(dirname "$GVMM")
if [ -e "$module_dir/gvmm-gl.so" ]; then
	check_out=$("$GVMM" check 2>&1)
	# Loaded: the GL lines come, or GL itself is not usable here for a
	# reason other than the module.
	if grep -q '^  GL renderer ' <<<"$check_out" ||
	   { grep -q '^  GL device .*not usable: ' <<<"$check_out" && ! grep -q 'the GL module' <<<"$check_out"; }; then
		pass cli.gl-module-loads
	else
		fail cli.gl-module-loads "gvmm check: $(grep -m1 'GL device' <<<"$check_out")"
	fi
else
	fail cli.gl-module-loads "no gvmm-gl.so beside $GVMM"
fi
mkdir -p "$E2E_WORK/lone"
cp "$GVMM" "$E2E_WORK/lone/gvmm"
check_out=$("$E2E_WORK/lone/gvmm" check 2>&1)
if grep -q "GL device .*not usable: the GL module gvmm-gl.so is neither in $E2E_WORK/lone nor in $E2E_WORK/lone/../lib/gvmm" <<<"$check_out"; then
	pass cli.gl-module-missing
else
	fail cli.gl-module-missing "gvmm check: $(grep -m1 'GL device' <<<"$check_out")"
fi

# The SPICE module (display/spice_module.h): gvmm links no SPICE library
# either; `gvmm check` loads the module, and a gvmm without it refuses
# --spice at once, saying where it looked, before it makes a VM.
spice_libs=$(ldd "$GVMM" | grep -E -o 'lib(spice-server|gstreamer|ssl|crypto|opus|jpeg|sasl2|pixman)[^ ]*' | tr '\n' ' ')
expect cli.spice-libraries-not-linked "gvmm links $spice_libs" [ -z "$spice_libs" ]
check_out=$("$GVMM" check 2>&1)
if grep -q '^  SPICE server  *spice-server [0-9.]* (for --spice)$' <<<"$check_out"; then
	pass cli.spice-module-loads
else
	fail cli.spice-module-loads "gvmm check: $(grep -m1 'SPICE server' <<<"$check_out")"
fi
lone_out=$("$E2E_WORK/lone/gvmm" run --kernel /dev/null --spice 127.0.0.1:59999 2>&1)
status=$?
if [ "$status" = 1 ] &&
   grep -q "^gvmm: error: --spice: the SPICE module gvmm-spice.so is neither in $E2E_WORK/lone nor in $E2E_WORK/lone/../lib/gvmm" <<<"$lone_out" &&
   grep -q "SPICE server .*not usable: the SPICE module gvmm-spice.so is neither in" < <("$E2E_WORK/lone/gvmm" check 2>&1); then
	pass cli.spice-module-missing
else
	fail cli.spice-module-missing "status $status: $(head -c 300 <<<"$lone_out")"
fi

# The disk-boot module (firmware/boot_disk_module.h): gvmm links none of
# the libraries that read a disk image; a boot from a disk without
# --kernel loads the module (so does `gvmm check`), and a gvmm without it
# says where it looked.
disk_libs=$(ldd "$GVMM" | grep -E -o 'lib(ext2fs|blkid|com_err)[^ ]*' | tr '\n' ' ')
expect cli.boot-disk-libraries-not-linked "gvmm links $disk_libs" [ -z "$disk_libs" ]
check_out_full=$("$GVMM" check 2>&1)
truncate -s 1M "$E2E_WORK/blank.img"
disk_out=$("$GVMM" run --disk "$E2E_WORK/blank.img" --net none 2>&1)
status=$?
if [ "$status" = 2 ] && grep -q "^gvmm: error: disk 0 has no partition table and no file system gvmm can read" <<<"$disk_out" &&
   grep -q '^  disk boot  *libext2fs [0-9.]* (for --disk without --kernel)$' <<<"$check_out_full"; then
	pass cli.boot-disk-module-loads
else
	fail cli.boot-disk-module-loads "status $status: $(head -c 300 <<<"$disk_out")"
fi
disk_out=$("$E2E_WORK/lone/gvmm" run --disk "$E2E_WORK/blank.img" --net none 2>&1)
status=$?
lone_check=$("$E2E_WORK/lone/gvmm" check 2>&1)
if [ "$status" = 2 ] && grep -q "^gvmm: error: the disk-boot module gvmm-boot-disk.so is neither in $E2E_WORK/lone nor in $E2E_WORK/lone/../lib/gvmm" <<<"$disk_out" &&
   grep -q "^  disk boot  *not usable: the disk-boot module gvmm-boot-disk.so is neither in" <<<"$lone_check"; then
	pass cli.boot-disk-module-missing
else
	fail cli.boot-disk-module-missing "status $status: $(head -c 300 <<<"$disk_out")"
fi

# The user-networking module (devices/net/net_user_module.h): gvmm links
# neither libslirp nor the GLib it brings; --net user (the default) loads
# the module before anything is made, and a gvmm without it says where it
# looked. A kernel file that is no kernel: the run stops right after.
net_libs=$(ldd "$GVMM" | grep -E -o 'lib(slirp|glib-2.0|pcre2-8)[^ ]*' | tr '\n' ' ')
expect cli.net-user-libraries-not-linked "gvmm links $net_libs" [ -z "$net_libs" ]
head -c 65536 /dev/zero >"$E2E_WORK/not-a-kernel"
net_out=$("$GVMM" run --kernel "$E2E_WORK/not-a-kernel" 2>&1)
status=$?
if [ "$status" != 0 ] && grep -q "is not a Linux kernel" <<<"$net_out" &&
   grep -q '^  user networking  *libslirp [0-9.]* (for --net user, the default)$' <<<"$check_out_full"; then
	pass cli.net-user-module-loads
else
	fail cli.net-user-module-loads "status $status: $(head -c 300 <<<"$net_out")"
fi
net_out=$("$E2E_WORK/lone/gvmm" run --kernel "$E2E_WORK/not-a-kernel" 2>&1)
status=$?
if [ "$status" = 1 ] && grep -q "^gvmm: error: --net user: the user-networking module gvmm-net-user.so is neither in $E2E_WORK/lone nor in $E2E_WORK/lone/../lib/gvmm" <<<"$net_out" &&
   grep -q "^  user networking  *not usable: the user-networking module gvmm-net-user.so is neither in" <<<"$lone_check"; then
	pass cli.net-user-module-missing
else
	fail cli.net-user-module-missing "status $status: $(head -c 300 <<<"$net_out")"
fi
