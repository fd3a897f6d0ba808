#!/bin/sh
# make demo: runs inside the VM. Loads the module, joins two network
# namespaces with a veth pair, moves verified bytes over kernel QUIC
# sockets from one to the other and shows what the module counted, then
# serves and fetches a file with HTTP/3 over the module.
set -eu
echo "== loading tquic.ko into $(uname -r)"
test/vm/load-tquic.sh kmod/tquic.ko
bin/tquicctl show

echo "== namespaces cli (10.0.0.1) and srv (10.0.0.2) on a veth pair"
modprobe veth
ip netns add cli
ip netns add srv
ip link add v-cli netns cli type veth peer name v-srv netns srv
ip -n cli addr add 10.0.0.1/24 dev v-cli
ip -n srv addr add 10.0.0.2/24 dev v-srv
for ns in cli srv; do
	ip -n $ns link set lo up
	ip -n $ns link set v-$ns up
done

pki=/tmp/pki
bin/tquic-perf certs $pki >/dev/null
ip netns exec srv bin/tquic-perf server --listen 10.0.0.2:4433 \
	--cert $pki/server.pem --key $pki/server.key >/tmp/server.log 2>&1 &
server=$!
i=0
until grep -q '^listening' /tmp/server.log; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat /tmp/server.log; exit 1; }
	sleep 0.1
done
echo "== kernel QUIC transfer: 4 streams x (16 MiB down + 4 MiB up), SHA-256 checked, 100 datagrams"
ip netns exec cli bin/tquic-perf client --connect 10.0.0.2:4433 --ca $pki/ca.pem \
	--streams 4 --download 16M --upload 4M --datagrams 100

echo "== tquicctl conn list in srv, with a client connected (idle)"
ip netns exec cli bin/tquic-perf client --connect 10.0.0.2:4433 --ca $pki/ca.pem \
	--download 1M --hold 5s >/tmp/held.out 2>&1 &
held=$!
i=0
until [ -s /tmp/held.out ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || break
	sleep 0.1
done
ip netns exec srv bin/tquicctl conn list
wait $held || true

echo "== socket-layer counters in srv (/proc/net/tquic_sock)"
ip netns exec srv cat /proc/net/tquic_sock
kill $server
wait $server || true
rmmod tquic
echo "== module unloaded cleanly"

echo "== HTTP/3 over kernel QUIC: tquic-h3 serves a file in srv, fetched from cli"
test/vm/load-tquic.sh kmod/tquic.ko
mkdir -p /tmp/www
head -c 8388608 /dev/urandom >/tmp/www/file.bin
sum=$(sha256sum /tmp/www/file.bin | cut -d' ' -f1)
ip netns exec srv bin/tquic-h3 server --listen 10.0.0.2:4433 \
	--cert $pki/server.pem --key $pki/server.key --dir /tmp/www >/tmp/h3server.log 2>&1 &
h3server=$!
i=0
until grep -q '^listening' /tmp/h3server.log; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat /tmp/h3server.log; exit 1; }
	sleep 0.1
done
ip netns exec cli bin/tquic-h3 get --ca $pki/ca.pem --server-name localhost \
	https://10.0.0.2:4433/file.bin -o /tmp/file.bin --want-sha256 $sum
cmp /tmp/www/file.bin /tmp/file.bin && echo "== fetched file identical to the served one"
kill $h3server
wait $h3server || true
cat /tmp/h3server.log
rmmod tquic
echo "== module unloaded cleanly"
