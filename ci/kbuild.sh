#!/bin/sh
# Builds kmod/ (and optionally another module directory) against KVER's
# headers with W=1 and sparse (C=2); any compiler or sparse warning fails.
# Usage: ci/kbuild.sh <module dir> [make args...]
set -eu
dir=$(cd "$1" && pwd)
shift
kver=${KVER:-$(ci/kver.sh)}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# No vmlinux ships with Debian's headers, so BTF for modules cannot be built:
# turn it off rather than print a "Skipping BTF generation" notice.
if ! make -C "/lib/modules/$kver/build" M="$dir" W=1 C=2 CONFIG_DEBUG_INFO_BTF_MODULES= "$@" modules >"$log" 2>&1; then
	cat "$log"
	echo "kbuild: build of $dir failed" >&2
	exit 1
fi
cat "$log"
if grep -E "warning:|error:|sparse:" "$log" >/dev/null; then
	echo "kbuild: warnings in $dir (W=1 C=2 must be clean)" >&2
	exit 1
fi
