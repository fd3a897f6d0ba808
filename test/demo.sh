#!/bin/sh
# make demo: runs inside the VM. Loads the module into the guest kernel and
# shows what it reports over generic netlink.
set -eu
echo "== loading tquic.ko into $(uname -r)"
test/vm/load-tquic.sh kmod/tquic.ko
echo "== tquicctl show"
bin/tquicctl show
echo "== tquicctl show -j"
bin/tquicctl show -j
rmmod tquic
echo "== module unloaded cleanly"
