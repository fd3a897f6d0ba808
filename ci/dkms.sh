#!/bin/sh
# Installs the module sources into /usr/src/tquic-<version> and runs
# dkms add/build/install for KVER (default: ci/kver.sh). Idempotent: an
# earlier registration of the same version is removed first.
set -eu
cd "$(dirname "$0")/.."
kver=${KVER:-$(ci/kver.sh)}
version=$(cat kmod/VERSION)
src=/usr/src/tquic-$version
if dkms status -m tquic -v "$version" 2>/dev/null | grep -q .; then
	dkms remove -m tquic -v "$version" --all >/dev/null
fi
rm -rf "$src"
mkdir -p "$src"
cp -r kmod/Kbuild kmod/VERSION kmod/core kmod/linux kmod/include "$src"/
find "$src" \( -name '*.o' -o -name '*.cmd' -o -name '*.ko' -o -name '*.mod*' \) -delete
sed "s/@VERSION@/$version/" dkms/dkms.conf >"$src/dkms.conf"
dkms add -m tquic -v "$version"
dkms build -m tquic -v "$version" -k "$kver"
dkms install -m tquic -v "$version" -k "$kver" --force
echo "dkms: tquic $version installed for $kver: $(modinfo -k "$kver" -n tquic)"
