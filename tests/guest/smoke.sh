#!/bin/sh
# Smallest guest test: the guest booted, ran init and this script.
echo "smoke: kernel $(uname -r), $(nproc) cpu(s)"
