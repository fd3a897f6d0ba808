#!/bin/sh
# Regenerates the Go mirror of the UAPI header into $1.
set -eu
cd "$(dirname "$0")"
obj=$(mktemp -d)
trap 'rm -rf "$obj"' EXIT
go tool cgo -objdir "$obj" -godefs -- -I../../kmod/include/uapi types_linux.go | sed "2s|-objdir [^ ]* ||" | gofmt >"$1.tmp"
mv "$1.tmp" "$1"
