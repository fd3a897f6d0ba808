package kernel

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tquic/tquic/internal/benchreport"
	"github.com/tquic/tquic/test/vm"
)

// idleConns is how many idle connections the memory figure averages over.
const idleConns = 200

// BenchmarkReportKernelVM measures, in one VM run and across two
// namespaces: bulk throughput with 64 KiB writes over kernel QUIC, quic-go,
// TCP+TLS (Go) and TCP+kTLS; handshakes per second of kernel QUIC and
// quic-go; and the kernel memory an idle connection holds.
func BenchmarkReportKernelVM(b *testing.B) {
	e := newEnv(b)
	topo := &vm.Topology{Hosts: []string{"cli", "srv"}, Links: []vm.Link{{A: "cli", B: "srv"}}}
	srv := topo.Addr4(0, "srv")
	e.run(topo, 20*time.Minute, fmt.Sprintf(`
modprobe tls
serve srv --listen %[1]s:4433 --idle-timeout 5m
serve srv --listen %[1]s:4443 --impl quic-go
serve srv --listen %[1]s:4444 --impl tcp-tls
serve srv --listen %[1]s:4445 --impl tcp-ktls
client bulk_kernel cli --connect %[1]s:4433 --download 64M
client bulk_quicgo cli --connect %[1]s:4443 --impl quic-go --download 64M
client bulk_tls cli --connect %[1]s:4444 --impl tcp-tls --download 64M
client bulk_ktls cli --connect %[1]s:4445 --impl tcp-ktls --download 64M
client hs_kernel cli --connect %[1]s:4433 --conns 100 --streams 0
client hs_quicgo cli --connect %[1]s:4443 --impl quic-go --conns 100 --streams 0
# Kernel memory of idle connections (both ends live in this kernel).
sync; echo 3 >/proc/sys/vm/drop_caches; sleep 1
awk '/^Slab:/{print $2}' /proc/meminfo >$S/slab.before
ip netns exec cli $PERF client --ca $CA --json --connect %[1]s:4433 --conns %[2]d --streams 0 \
	--idle-timeout 5m --hold 60s >$S/idle.json 2>$S/idle.err &
idle=$!
i=0; until [ -s $S/idle.json ]; do i=$((i+1)); [ $i -lt 1200 ] || break; sleep 0.1; done
# The report is printed once every connection is up; they then stay open.
[ -s $S/idle.json ] && echo 0 >$S/idle.rc
# An idle connection parks its crypto objects after a second without
# packets, and the transform pool frees what stays unused for a second:
# wait past both, for the memory idle connections hold from then on.
sleep 5
awk '/^Slab:/{print $2}' /proc/meminfo >$S/slab.during
grep -E '^(Sockets|Cids) ' /proc/net/tquic_sock >$S/idle.socks
kill $idle 2>/dev/null
exit 0
`, srv, idleConns))

	mbs := func(name string) float64 {
		r := e.result(b, name)
		if !r.VerifiedSHA256 {
			b.Fatalf("%s: transfer not verified", name)
		}
		return r.Mbps / 8
	}
	kernel, quicgo, tls, ktls := mbs("bulk_kernel"), mbs("bulk_quicgo"), mbs("bulk_tls"), mbs("bulk_ktls")
	benchreport.Bench("bulk_vm_64k_tquic_kernel", kernel, "MB/s")
	benchreport.Bench("bulk_vm_64k_quic_go", quicgo, "MB/s")
	benchreport.Bench("bulk_vm_64k_tcp_tls", tls, "MB/s")
	benchreport.Bench("bulk_vm_64k_tcp_ktls", ktls, "MB/s")
	benchreport.Ratio("bulk_vm_64k", "tquic_kernel", "tcp_ktls", kernel/ktls)
	benchreport.Ratio("bulk_vm_64k", "tquic_kernel", "quic_go", kernel/quicgo)
	benchreport.Ratio("bulk_vm_64k", "tquic_kernel", "tcp_tls", kernel/tls)

	hsKernel := e.result(b, "hs_kernel").HandshakesPerS
	hsQUICGo := e.result(b, "hs_quicgo").HandshakesPerS
	benchreport.Bench("handshakes_vm_tquic_kernel", hsKernel, "/s")
	benchreport.Bench("handshakes_vm_quic_go", hsQUICGo, "/s")
	benchreport.Ratio("handshakes_vm", "tquic_kernel", "quic_go", hsKernel/hsQUICGo)

	if r := e.result(b, "idle"); r.Conns != idleConns {
		b.Fatalf("idle: %d connections", r.Conns)
	}
	before, err1 := strconv.ParseFloat(e.read("slab.before"), 64)
	during, err2 := strconv.ParseFloat(e.read("slab.during"), 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("slab figures %q, %q", e.read("slab.before"), e.read("slab.during"))
	}
	socks := e.read("idle.socks")
	if !strings.Contains(socks, "Sockets") {
		b.Fatalf("socket counts %q", socks)
	}
	// Each connection has two ends in this kernel: client and server socket.
	perEnd := (during - before) * 1024 / (2 * idleConns)
	benchreport.Bench("idle_conn_kernel_mem_vm", perEnd, "bytes")
}
