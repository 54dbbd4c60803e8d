#!/bin/sh
# Marks the console, then asks the kernel for a reboot (through the ACPI
# reset register). The host counts the marks to see the VM restart.
echo "GVMM-REBOOT-MARK"
reboot -f
sleep 30
