#!/bin/sh
# Prints the kernel version to build the module against and boot in the VM:
# the running kernel when its headers are installed (a real host), else the
# newest Debian kernel that has both an image in /boot and headers.
set -eu
if [ -d "/lib/modules/$(uname -r)/build" ] && [ -f "/boot/vmlinuz-$(uname -r)" ]; then
	uname -r
	exit 0
fi
for d in $(ls -d /lib/modules/*/build 2>/dev/null | sort -Vr); do
	v=$(basename "$(dirname "$d")")
	if [ -f "/boot/vmlinuz-$v" ]; then
		echo "$v"
		exit 0
	fi
done
echo "kver.sh: no kernel with both /boot/vmlinuz-* and headers; run 'make deps'" >&2
exit 1
