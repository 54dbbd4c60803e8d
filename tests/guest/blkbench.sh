#!/bin/sh
# Disk benchmark on the first virtio disk (see tests/guest-tools/blkbench.c).
blkbench /dev/vda "${BLKBENCH_SECONDS:-8}"
