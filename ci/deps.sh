#!/bin/sh
# Installs what building and testing TQUIC needs, idempotently: Debian
# packages (only those missing) and the Go modules of go.mod.
set -eu
pkgs="qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static cpio kmod
iproute2 libssl-dev sparse dkms gcc make libc6-dev pkg-config"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "deps: need root to install Debian packages:$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi
command -v go >/dev/null || { echo "deps: Go toolchain not found (expected /usr/local/go/bin/go)" >&2; exit 1; }
go mod download
