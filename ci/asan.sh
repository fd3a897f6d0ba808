#!/bin/sh
# Runs the bridge tests (and fuzz seed corpora) with the engine's C code
# built with AddressSanitizer and UndefinedBehaviorSanitizer: `go test -asan`
# instruments Go and cgo with ASan; UBSan is added to the C flags and aborts
# on the first finding.
#
# The go build cache does not hash C files included from outside bridge/
# (kmod/core/*.c through bridge/core_*.c), so a hash of those sources goes
# into CGO_CFLAGS: any change to them rebuilds the package.
set -eu
cd "$(dirname "$0")/.."
hash=$(cat kmod/core/*.c kmod/core/*.h bridge/*.c bridge/*.h | sha256sum | cut -c1-16)
export CGO_ENABLED=1
export CGO_CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=undefined -fno-sanitize-recover=all -DTQUIC_SRC_HASH_$hash"
export CGO_LDFLAGS="-fsanitize=undefined"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
exec go test -asan -count=1 "$@" ./bridge/...
