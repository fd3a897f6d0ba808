#!/bin/sh
# Loads a TQUIC module file in the guest. insmod ignores MODULE_SOFTDEP, so
# the accelerated crypto drivers the module declares are loaded first: the
# crypto API picks the best driver among those loaded.
# Usage: load-tquic.sh [path/to/tquic.ko]
set -eu
ko=${1:-kmod/tquic.ko}
[ -f "$ko" ] || { echo "load-tquic: $ko not found: run 'make build'" >&2; exit 1; }
pre=$(modinfo -F softdep "$ko" | sed -n 's/^pre: *//p')
[ -z "$pre" ] || modprobe -a $pre
insmod "$ko"
