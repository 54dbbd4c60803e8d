# gvmm build. `make` builds build/gvmm; `make test` runs every test;
# `make asan` (or SAN=1) builds with AddressSanitizer and UBSan into build/asan.

VERSION   := 0.1.0
PREFIX    ?= /usr/local
CC        ?= cc
PKG_CONFIG ?= pkg-config

ifeq ($(SAN),1)
BUILD     ?= build/asan
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD     ?= build
SANFLAGS  :=
endif

CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
             -Wno-missing-field-initializers -D_GNU_SOURCE \
             -DGVMM_VERSION='"$(VERSION)"' -MMD -MP $(SANFLAGS)
LDFLAGS   += $(SANFLAGS)
LDLIBS    += -lpthread -laio

# Libraries found through pkg-config (Debian's -dev packages; tools/deps):
# gvmm's own, and those of its modules (vmm/module_loader.h), which gvmm
# loads only when it uses them: the GL module's (devices/gpu/gl_module.h)
# the SPICE module's (display/spice_module.h), the disk-boot module's
# (firmware/boot_disk_module.h) and the user-networking module's
# (devices/net/net_user_module.h). gvmm itself needs none beyond libaio.
# Every object sees every library's headers.
GL_PKGS   := virglrenderer egl epoxy gbm libdrm
SPICE_PKGS := spice-server
BOOT_DISK_PKGS := blkid ext2fs com_err
NET_USER_PKGS := slirp
CFLAGS    += $(shell $(PKG_CONFIG) --cflags $(GL_PKGS) $(SPICE_PKGS) $(BOOT_DISK_PKGS) $(NET_USER_PKGS))
GL_LDLIBS := $(shell $(PKG_CONFIG) --libs $(GL_PKGS))
SPICE_LDLIBS := $(shell $(PKG_CONFIG) --libs $(SPICE_PKGS))
BOOT_DISK_LDLIBS := $(shell $(PKG_CONFIG) --libs $(BOOT_DISK_PKGS))
NET_USER_LDLIBS := $(shell $(PKG_CONFIG) --libs $(NET_USER_PKGS))
MODULE_LDLIBS := $(GL_LDLIBS) $(SPICE_LDLIBS) $(BOOT_DISK_LDLIBS) $(NET_USER_LDLIBS)

SRC_DIRS  := vmm $(wildcard devices/*) firmware display
SRCS      := $(wildcard $(addsuffix /*.c,$(SRC_DIRS)))
MAIN_SRC  := vmm/main.c
# The GL module (gvmm-gl.so): position-independent, and hidden but for
# its table, so its calls among its own files stay inside it.
GL_SRCS   := devices/gpu/virtio_gpu_virgl.c devices/gpu/gpu3d_gl_host.c \
             devices/gpu/virgl_stream.c devices/gpu/stream_resources.c \
             devices/gpu/gl_module_table.c display/gl_host.c display/gl_readback.c \
             display/gl_dmabuf.c display/gl_probe.c
GL_OBJS   := $(GL_SRCS:%.c=$(BUILD)/%.o)
# The SPICE module (gvmm-spice.so), built the same way.
SPICE_SRCS := display/spice_display.c display/spice_qxl.c display/spice_input.c \
              display/spice_agent.c display/spice_core.c display/spice_connect_file.c \
              display/keymap.c display/spice_module_table.c
SPICE_OBJS := $(SPICE_SRCS:%.c=$(BUILD)/%.o)
# The disk-boot module (gvmm-boot-disk.so), built the same way.
BOOT_DISK_SRCS := firmware/boot_disk.c firmware/boot_disk_module_table.c
BOOT_DISK_OBJS := $(BOOT_DISK_SRCS:%.c=$(BUILD)/%.o)
# The user-networking module (gvmm-net-user.so), built the same way.
NET_USER_SRCS := devices/net/net_slirp.c devices/net/net_user_module_table.c
NET_USER_OBJS := $(NET_USER_SRCS:%.c=$(BUILD)/%.o)
MODULE_OBJS := $(GL_OBJS) $(SPICE_OBJS) $(BOOT_DISK_OBJS) $(NET_USER_OBJS)
MODULES   := $(BUILD)/gvmm-gl.so $(BUILD)/gvmm-spice.so $(BUILD)/gvmm-boot-disk.so \
             $(BUILD)/gvmm-net-user.so
# gvmm's calls into the modules; tests link the modules' objects instead.
MODULE_CALLS_SRCS := devices/gpu/gl_module.c display/spice_module.c \
                     firmware/boot_disk_module.c devices/net/net_user_module.c
MODULE_CALLS_OBJS := $(MODULE_CALLS_SRCS:%.c=$(BUILD)/%.o)
CORE_SRCS := $(filter-out $(MAIN_SRC) $(GL_SRCS) $(SPICE_SRCS) $(BOOT_DISK_SRCS) \
               $(NET_USER_SRCS) $(MODULE_CALLS_SRCS),$(SRCS))
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)
LIB_OBJS  := $(CORE_OBJS) $(MODULE_OBJS)
MAIN_OBJ  := $(MAIN_SRC:%.c=$(BUILD)/%.o)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
CHECK_OBJ := $(BUILD)/tests/unit/check.o
# Shared helpers in tests/unit (not tests, not check.c) link into every unit test.
TEST_HELPER_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(filter-out tests/unit/test_%.c tests/unit/check.c,$(wildcard tests/unit/*.c)))

# Keep the unit-test objects: make would delete them as intermediates.
.SECONDARY:

.PHONY: all asan test unit-tests deps clean install guest desktop-image bench fuzz soak

all: $(BUILD)/gvmm $(MODULES)

$(BUILD)/gvmm-gl.so: $(GL_OBJS)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(GL_LDLIBS)

$(BUILD)/gvmm-spice.so: $(SPICE_OBJS)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(SPICE_LDLIBS)

$(BUILD)/gvmm-boot-disk.so: $(BOOT_DISK_OBJS)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(BOOT_DISK_LDLIBS)

$(BUILD)/gvmm-net-user.so: $(NET_USER_OBJS)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(NET_USER_LDLIBS)

# gvmm exports to its modules exactly the symbols they leave undefined
# and gvmm defines: nothing else of gvmm's can meet a name in the
# libraries a module brings.
$(BUILD)/modules.exports: $(MODULES) $(CORE_OBJS)
	@echo "  EXPORTS $@"
	@nm -D --undefined-only $(MODULES) | awk '{print $$NF}' | sort -u > $@.undefined
	@nm --defined-only -g $(CORE_OBJS) | awk 'NF == 3 {print $$3}' | sort -u > $@.core
	@{ echo '{'; comm -12 $@.undefined $@.core | sed 's/.*/  &;/'; echo '};'; } > $@
	@rm -f $@.undefined $@.core

$(BUILD)/gvmm: $(CORE_OBJS) $(MODULE_CALLS_OBJS) $(MAIN_OBJ) $(BUILD)/modules.exports
	$(CC) $(LDFLAGS) -Wl,--dynamic-list=$(BUILD)/modules.exports -o $@ \
		$(CORE_OBJS) $(MODULE_CALLS_OBJS) $(MAIN_OBJ) $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(MODULE_OBJS): CFLAGS += -fPIC -fvisibility=hidden
# Objects built before these flags existed are built again.
$(MODULE_OBJS): Makefile

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(CHECK_OBJ) $(TEST_HELPER_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MODULE_LDLIBS)

# Programs of the end-to-end tests that run beside gvmm, not in a guest.
E2E_BINS  := $(BUILD)/tests/e2e/gather_check

$(BUILD)/tests/e2e/%: $(BUILD)/tests/e2e/%.o
	$(CC) $(LDFLAGS) -o $@ $^

unit-tests: $(UNIT_BINS) $(E2E_BINS)

asan:
	$(MAKE) SAN=1

deps:
	tools/deps

# The guest used by the demo and the end-to-end tests.
guest: deps
	tools/mkguest build/guest

# The Debian desktop image of tests/e2e/guest_desktop.sh, rebuilt only when
# tools/mkimage changed. A failed build fails that test, not the whole run:
# build/mkimage.log keeps what went wrong for it to say.
desktop-image: deps
	mkdir -p build
	{ tools/mkimage build/debian.img 2>&1; echo "tools/mkimage exited $$?"; } | tee build/mkimage.log

test: deps all unit-tests desktop-image
	tools/mkguest --gl build/guest
	tests/run --build $(BUILD)

install: $(BUILD)/gvmm $(MODULES)
	install -D -m 0755 $(BUILD)/gvmm $(DESTDIR)$(PREFIX)/bin/gvmm
	install -D -m 0644 $(BUILD)/gvmm-gl.so $(DESTDIR)$(PREFIX)/lib/gvmm/gvmm-gl.so
	install -D -m 0644 $(BUILD)/gvmm-spice.so $(DESTDIR)$(PREFIX)/lib/gvmm/gvmm-spice.so
	install -D -m 0644 $(BUILD)/gvmm-boot-disk.so $(DESTDIR)$(PREFIX)/lib/gvmm/gvmm-boot-disk.so
	install -D -m 0644 $(BUILD)/gvmm-net-user.so $(DESTDIR)$(PREFIX)/lib/gvmm/gvmm-net-user.so

clean:
	rm -rf build

# The compiler's dependency files; not those of tools/mkimage's Debian tree
# (etc/rc2.d, ...) while it builds an image in build/, nor its package cache.
-include $(shell find build \( -name '.mkimage.*' -o -name mkimage-cache \) -prune \
	-o -name '*.d' -type f -print 2>/dev/null)

# gvmm beside QEMU (tools/bench): boot, memory, block, network, GPU frame
# rate (glprobe on virgl in the guest), VM exit round trips (PIO and MMIO,
# timed in the guest), the Debian desktop, interleaved runs, one table
# written to docs/BENCHMARKS.md and printed; in the nested rig where KVM is
# PVM. Knobs: BENCH_RUNS (default 5), BENCH_ROWS (e.g.
# boot,memory,block,net,gpu,exits,desktop), BENCH_FIO_SECONDS,
# BENCH_IPERF_SECONDS, BENCH_GL_FRAMES, BENCH_PIN. The rig passes only
# GVMM_* variables on, so the knobs go in through env. The guest's fio and GL initramfs
# (block and gpu rows) are built here; the rig, which has no GPU, gets its
# render node from vgem (tools/bench loads it). The desktop row's image
# copies, kernel and initrd are made here, before the rig, in
# build/bench-desktop, which the rig shares read-write; its 2 GiB guests
# want the rig's larger memory. The rig has --vfio for the vfio row: its
# nested host gets QEMU's edu device behind an emulated IOMMU (iommu=pt:
# the nested host's own devices are not remapped).
bench: deps all desktop-image
	tools/mkguest --fio --gl build/guest
	tools/bench-desktop-setup build/bench-desktop
	tools/with-kvm --timeout $$(( 600 + 1800 * $${BENCH_RUNS:-5} )) --mem 6144 --vfio \
		--rw "$(CURDIR)/docs" --rw "$(CURDIR)/build/bench-desktop" -- \
		env BENCH_RUNS="$${BENCH_RUNS:-5}" BENCH_ROWS="$${BENCH_ROWS:-boot,memory,block,net,gpu,exits,vfio,desktop}" \
		BENCH_FIO_SECONDS="$${BENCH_FIO_SECONDS:-4}" BENCH_IPERF_SECONDS="$${BENCH_IPERF_SECONDS:-4}" BENCH_PIN="$${BENCH_PIN:-1}" \
		BENCH_GL_FRAMES="$${BENCH_GL_FRAMES:-300}" tools/bench

# Many boots of the display under load, gvmm beside QEMU (tests/e2e/
# display_soak.sh; GVMM_SOAK_BOOTS, GVMM_SOAK_ROUNDS, ... tune it; SOAK_RIG
# passes options to the rig, e.g. --no-idle-vm). Long: not part of `make test`.
soak: deps all
	tools/mkguest build/guest
	tools/with-kvm $(SOAK_RIG) --timeout $$(( (2 * $${GVMM_SOAK_BOOTS:-10} + 1) * ($${GVMM_SOAK_LIMIT:-300} + 20) + 300 )) \
		-- tests/e2e/run-guest-tests tests/e2e/display_soak.sh

# libFuzzer targets for the guest- and user-facing parsers (tests/fuzz),
# each for FUZZ_SECONDS (default 60).
fuzz: deps
	tests/fuzz/run
