// Package kernel tests QUIC connections through the TQUIC kernel module
// inside a VM: Go programs (cmd/tquic-perf over sockapi) in two network
// namespaces joined by veth links, one plain and one with netem loss, delay
// and reordering, transferring verified bytes kernel to kernel.
package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tquic/tquic/internal/testpki"
	"github.com/tquic/tquic/test/vm"
)

type consoleLog struct{ t testing.TB }

func (w consoleLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// report is the part of tquic-perf's JSON the tests check.
type report struct {
	Impl            string  `json:"impl"`
	Conns           int     `json:"conns"`
	Version         string  `json:"version"`
	HandshakesPerS  float64 `json:"handshakes_per_s"`
	Streams         int     `json:"streams"`
	BytesUp         uint64  `json:"bytes_up"`
	BytesDown       uint64  `json:"bytes_down"`
	Mbps            float64 `json:"mbps"`
	DatagramsSent   int     `json:"datagrams_sent"`
	DatagramsEchoed int     `json:"datagrams_echoed"`
	VerifiedSHA256  bool    `json:"verified_sha256"`
	LocalAddr       string  `json:"local_addr"`
}

// env is one guest run's shared directory, binaries and certificates.
type env struct {
	t      testing.TB
	root   string
	module string
	share  string
	pki    testpki.Files
}

func newEnv(t testing.TB) *env {
	t.Helper()
	root, err := vm.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	module := os.Getenv("TQUIC_KO")
	if module == "" {
		module = filepath.Join(root, "kmod", "tquic.ko")
	}
	if _, err := os.Stat(module); err != nil {
		t.Fatalf("%v: build the module first ('make build')", err)
	}
	share := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(share, "tquic-perf"), "./cmd/tquic-perf")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build tquic-perf: %v\n%s", err, out)
	}
	// The C example, built with nothing but libc and the UAPI header.
	cc := exec.Command("gcc", "-O2", "-Wall", "-Wextra", "-Werror",
		"-I", filepath.Join(root, "kmod", "include", "uapi"),
		"-o", filepath.Join(share, "quic_hello"), filepath.Join(root, "examples", "c", "quic_hello.c"))
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("build examples/c/quic_hello.c: %v\n%s", err, out)
	}
	pki, err := testpki.Write(share)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, root: root, module: module, share: share, pki: pki}
}

// run boots a guest with topo and runs script with $S (the share), $KO,
// $PERF, $CA, $CERT and $KEY set; it returns after the guest exits.
func (e *env) run(topo *vm.Topology, timeout time.Duration, script string) {
	e.t.Helper()
	head := fmt.Sprintf("set -u\nS=%s\nKO=%s\nPERF=%s/tquic-perf\nCA=%s\nCERT=%s\nKEY=%s\n",
		e.share, e.module, e.share, e.pki.CA, e.pki.ServerCert, e.pki.ServerKey) + `
test/vm/load-tquic.sh $KO || { echo "load failed"; exit 1; }
# serve NS ARGS...: a tquic-perf server in namespace NS, waiting until it listens.
serve() {
	ns=$1; shift
	n=$(($(cat $S/server.pids 2>/dev/null | wc -l) + 1))
	log=$S/server-$ns-$n.log
	ip netns exec $ns $PERF server --cert $CERT --key $KEY "$@" >$log 2>&1 &
	echo $! >>$S/server.pids
	i=0; until grep -q '^listening' $log; do
		i=$((i+1)); [ $i -lt 200 ] || { echo "server did not start"; cat $log; return 1; }
		sleep 0.1
	done
}
# stop_servers: SIGTERM every server; one still running after 10 s has its
# goroutines dumped (SIGQUIT) into its log, which is printed, and fails the run.
stop_servers() {
	# The pids are written down: $(jobs -p) is empty in dash's subshell.
	pids=$(cat $S/server.pids)
	kill $pids 2>/dev/null
	(
		sleep 10
		for p in $pids; do
			kill -QUIT $p 2>/dev/null && echo "servers did not stop within 10 s" >$S/stop.err
		done
		sleep 1
		kill -KILL $pids 2>/dev/null
	) &
	dog=$!
	for p in $pids; do wait $p; done
	kill $dog 2>/dev/null
	wait $dog 2>/dev/null
	[ ! -s $S/stop.err ] || tail -200 $S/server-*.log
}
# client NAME NS ARGS...: a tquic-perf client; JSON in $S/NAME.json, rc in $S/NAME.rc,
# the guest's CPU counters (/proc/stat) before and after it in $S/NAME.cpu.
client() {
	name=$1; ns=$2; shift 2
	echo "== $name"
	head -1 /proc/stat >$S/$name.cpu
	ip netns exec $ns $PERF client --ca $CA --json "$@" >$S/$name.json 2>$S/$name.err
	echo $? >$S/$name.rc
	head -1 /proc/stat >>$S/$name.cpu
	echo "== $name: exit $(cat $S/$name.rc)"
	cat $S/$name.err
}
`
	shares := []string{e.share}
	if !strings.HasPrefix(e.module, e.root+"/") {
		shares = append(shares, filepath.Dir(e.module))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	if _, err := vm.Run(ctx, vm.Config{Shares: shares, Topology: topo, Console: consoleLog{e.t},
		Timeout: timeout, MemoryMiB: 2048}, head+script); err != nil {
		e.t.Fatal(err) // includes WARN/BUG/oops in the kernel log
	}
}

func (e *env) read(name string) string {
	b, err := os.ReadFile(filepath.Join(e.share, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// busySeconds returns the CPU time the whole guest spent (both ends of a
// transfer, the kernel's work items and interrupts included) while client
// run NAME ran: every /proc/stat tick but idle and iowait.
func (e *env) busySeconds(t testing.TB, name string) float64 {
	t.Helper()
	lines := strings.Split(e.read(name+".cpu"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%s: CPU counters %q", name, lines)
	}
	busy := [2]float64{}
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) < 6 || f[0] != "cpu" {
			t.Fatalf("%s: CPU counters %q", name, l)
		}
		// user nice system idle iowait irq softirq steal [guest guest_nice]:
		// guest time is already in user and nice.
		for j, v := range f[1:min(len(f), 9)] {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: CPU counters %q: %v", name, l, err)
			}
			if j != 3 && j != 4 {
				busy[i] += n
			}
		}
	}
	// /proc/stat counts USER_HZ ticks, 100 per second on Linux.
	return (busy[1] - busy[0]) / 100
}

// result checks that run NAME succeeded and returns its report.
func (e *env) result(t testing.TB, name string) report {
	t.Helper()
	if rc := e.read(name + ".rc"); rc != "0" {
		t.Fatalf("%s: client exit %q: %s", name, rc, e.read(name+".err"))
	}
	var r report
	if err := json.Unmarshal([]byte(e.read(name+".json")), &r); err != nil {
		t.Fatalf("%s: %v in %q", name, err, e.read(name+".json"))
	}
	t.Logf("%s: %+v", name, r)
	return r
}

const mib = 1 << 20

func TestKernelToKernel(t *testing.T) {
	e := newEnv(t)
	e.goBuild("tquicctl", false, "./cmd/tquicctl")
	topo := &vm.Topology{
		Hosts: []string{"cli", "srv"},
		Links: []vm.Link{
			{A: "cli", B: "srv"},
			{A: "cli", B: "srv", Netem: &vm.Netem{Delay: 20 * time.Millisecond, LossPct: 5, ReorderPct: 10}},
			{A: "cli", B: "srv"}, // a second clean path to migrate to
		},
	}
	srv, lossy, moved := topo.Addr4(0, "srv"), topo.Addr4(1, "srv"), topo.Addr4(2, "cli")
	srv6 := topo.Addr6(0, "srv")
	e.run(topo, 15*time.Minute, fmt.Sprintf(`
$S/quic_hello server 5555 >$S/hello-server.out 2>&1 &
sleep 0.5
$S/quic_hello client 5555 >$S/hello-client.out 2>&1; echo $? >$S/hello.rc
wait
serve srv --listen %[1]s:4433 --idle-timeout 5m
serve srv --listen %[1]s:4434 --quic-version v2
serve srv --listen %[2]s:4433
serve srv --listen [%[4]s]:4435
client v1 cli --connect %[1]s:4433 --download 100M
client v2 cli --connect %[1]s:4434 --quic-version v2 --download 10M --upload 10M
client compat cli --connect %[1]s:4434 --quic-version v1 --download 1M
client streams cli --connect %[1]s:4433 --streams 1000 --parallel 100 --upload 1K --download 4K
client datagrams cli --connect %[1]s:4433 --datagrams 200 --streams 0
client keyupdate cli --connect %[1]s:4433 --streams 8 --download 4M --key-update
# The client moves to another address mid-transfer and stays connected a
# while after its report: the server's path to the new address, read then.
ip netns exec cli $PERF client --ca $CA --json --connect %[1]s:4433 --streams 8 --download 4M \
	--migrate %[3]s --hold 5s >$S/migrate.json 2>$S/migrate.err &
migrate=$!
i=0; until [ -s $S/migrate.json ]; do i=$((i+1)); [ $i -lt 1200 ] || break; sleep 0.1; done
ip netns exec srv $S/tquicctl path list -j >$S/migrate-paths.json 2>&1
wait $migrate; echo $? >$S/migrate.rc
client lossy cli --connect %[2]s:4433 --streams 2 --download 1M --upload 256K --timeout 3m
client ipv6 cli --connect [%[4]s]:4435 --streams 2 --download 8M --upload 2M
# Opening 1000 takes longer than the default idle timeout: the first ones must not expire.
client conns1000 cli --connect %[1]s:4433 --conns 1000 --streams 1 --download 1K --timeout 5m --idle-timeout 5m
# rmmod while connections are open: refused, nothing breaks.
ip netns exec cli $PERF client --ca $CA --connect %[1]s:4433 --download 30M >/dev/null 2>&1 &
busy=$!
sleep 2
rmmod tquic 2>$S/rmmod-busy.err; echo $? >$S/rmmod-busy.rc
wait $busy
cat /proc/net/tquic_sock
stop_servers
i=0; until grep -q '^Sockets 0$' /proc/net/tquic_sock; do i=$((i+1)); [ $i -lt 100 ] || break; sleep 0.1; done
rmmod tquic 2>$S/rmmod.err; echo $? >$S/rmmod.rc
exit 0
`, srv, lossy, moved, srv6))

	t.Run("CExample", func(t *testing.T) {
		out := e.read("hello-client.out")
		if e.read("hello.rc") != "0" || !strings.Contains(out, "echoed: hello over kernel QUIC") {
			t.Fatalf("quic_hello client: exit %s\n%s\nserver:\n%s", e.read("hello.rc"), out,
				e.read("hello-server.out"))
		}
		t.Log(out)
	})
	t.Run("V1_100MB", func(t *testing.T) {
		r := e.result(t, "v1")
		if r.Version != "v1" || !r.VerifiedSHA256 || r.BytesDown != 100*mib {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("IPv6", func(t *testing.T) {
		// Full-sized datagrams go out as UDP GSO batches: over IPv6 too.
		r := e.result(t, "ipv6")
		if !r.VerifiedSHA256 || r.BytesDown != 2*8*mib || r.BytesUp != 2*2*mib ||
			!strings.HasPrefix(r.LocalAddr, "[fd00:") {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("V2", func(t *testing.T) {
		r := e.result(t, "v2")
		if r.Version != "v2" || !r.VerifiedSHA256 || r.BytesDown != 10*mib || r.BytesUp != 10*mib {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("CompatibleNegotiation", func(t *testing.T) {
		// A client starting with v1 at a server preferring v2 ends in v2 (RFC 9368).
		r := e.result(t, "compat")
		if r.Version != "v2" || !r.VerifiedSHA256 {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("Streams1000", func(t *testing.T) {
		r := e.result(t, "streams")
		if r.Streams != 1000 || !r.VerifiedSHA256 || r.BytesDown != 1000*4096 {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("Datagrams", func(t *testing.T) {
		r := e.result(t, "datagrams")
		// Unreliable, but on a clean veth nearly all come back.
		if r.DatagramsSent != 200 || r.DatagramsEchoed < 180 {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("KeyUpdate", func(t *testing.T) {
		r := e.result(t, "keyupdate")
		if !r.VerifiedSHA256 || r.BytesDown != 8*4*mib {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("ClientMigration", func(t *testing.T) {
		r := e.result(t, "migrate")
		if !r.VerifiedSHA256 || r.BytesDown != 8*4*mib || !strings.HasPrefix(r.LocalAddr, moved+":") {
			t.Fatalf("report %+v (want local address %s)", r, moved)
		}
		// The server's path followed the client to a new network: 1200-byte
		// datagrams until a challenge proved the old size again.
		var paths []struct {
			Peer string `json:"peer"`
			MTU  uint32 `json:"mtu"`
		}
		if err := json.Unmarshal([]byte(e.read("migrate-paths.json")), &paths); err != nil {
			t.Fatalf("server paths: %v in %q", err, e.read("migrate-paths.json"))
		}
		found := false
		for _, p := range paths {
			if strings.HasPrefix(p.Peer, moved+":") {
				found = true
				if p.MTU <= 1200 {
					t.Errorf("server's path to %s: MTU %d after the move", p.Peer, p.MTU)
				}
			}
		}
		if !found {
			t.Errorf("no server path to %s in %q", moved, e.read("migrate-paths.json"))
		}
	})
	t.Run("Netem", func(t *testing.T) {
		r := e.result(t, "lossy")
		if !r.VerifiedSHA256 || r.BytesDown != 2*mib || r.BytesUp != 512<<10 {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("Conns1000", func(t *testing.T) {
		r := e.result(t, "conns1000")
		if r.Conns != 1000 || r.Streams != 1000 || !r.VerifiedSHA256 || r.BytesDown != 1000*1024 {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("ServersStop", func(t *testing.T) {
		if msg := e.read("stop.err"); msg != "" {
			t.Fatal(msg)
		}
	})
	t.Run("Rmmod", func(t *testing.T) {
		if rc := e.read("rmmod-busy.rc"); rc == "0" {
			t.Errorf("rmmod succeeded with connections open")
		}
		if rc := e.read("rmmod.rc"); rc != "0" {
			t.Errorf("rmmod after every connection closed: exit %s: %s", rc, e.read("rmmod.err"))
		}
	})
}

// TestKernelQUICGo runs kernel TQUIC against quic-go inside the VM, in
// both roles.
func TestKernelQUICGo(t *testing.T) {
	e := newEnv(t)
	e.goBuild("tquicctl", false, "./cmd/tquicctl")
	e.goBuild("resetpeer", false, "./test/kernel/resetpeer")
	e.goBuild("alpnroute", false, "./test/kernel/alpnroute")
	topo := &vm.Topology{Hosts: []string{"cli", "srv"}, Links: []vm.Link{{A: "cli", B: "srv"}, {A: "cli", B: "srv"}}}
	srv := topo.Addr4(0, "srv")
	e.run(topo, 10*time.Minute, fmt.Sprintf(`
serve srv --listen %[1]s:4433
serve srv --listen %[1]s:4434 --quic-version v2
serve srv --listen %[1]s:4443 --impl quic-go
client k2q_v1 cli --connect %[1]s:4443 --download 10M --upload 1M
client k2q_v2 cli --connect %[1]s:4443 --quic-version v2 --download 10M --upload 1M
client k2q_keyupdate cli --connect %[1]s:4443 --streams 8 --download 2M --key-update
client k2q_migrate cli --connect %[1]s:4443 --streams 8 --download 2M --migrate %[2]s
client q2k_v1 cli --connect %[1]s:4433 --impl quic-go --download 10M --upload 1M
client q2k_v2 cli --connect %[1]s:4434 --impl quic-go --quic-version v2 --download 10M --upload 1M
# The namespace's Retry policy: every new client proves its address first.
ip netns exec srv $S/tquicctl set retry always
client q2k_retry cli --connect %[1]s:4433 --impl quic-go --download 1M
client k2k_retry cli --connect %[1]s:4433 --download 1M
ip netns exec srv awk '$1=="Retry"{print $2}' /proc/net/tquic_sock >$S/retry.count
ip netns exec srv $S/tquicctl set retry never
# A server that restarts forgets its connections: its CONNECTION_CLOSE is
# lost (netem drops everything it sends), and the next packet of the
# quic-go client draws a stateless reset from the new server's port.
serve srv --listen %[1]s:4436
ip netns exec cli $S/resetpeer --connect %[1]s:4436 --ca $CA --ready $S/rp.ready --go $S/rp.go >$S/reset.out 2>&1 &
rp=$!
i=0; until [ -s $S/rp.ready ] || [ $i -ge 300 ]; do i=$((i+1)); sleep 0.1; done
ip netns exec srv tc qdisc add dev v0srv root netem loss 100%%
victim=$(tail -1 $S/server.pids)
kill $victim; wait $victim
ip netns exec srv tc qdisc del dev v0srv root
serve srv --listen %[1]s:4436
touch $S/rp.go
wait $rp; echo $? >$S/reset.rc
ip netns exec srv awk '$1=="StatelessReset"{print $2}' /proc/net/tquic_sock >$S/reset.count
# Three listeners on one port, told apart by the clients' ALPN.
ip netns exec srv $S/alpnroute --cert $CERT --key $KEY --ca $CA >$S/alpn.out 2>&1; echo $? >$S/alpn.rc
stop_servers
exit 0
`, srv, topo.Addr4(1, "cli")))
	for _, c := range []struct {
		name, version string
		down, up      uint64
	}{
		{"k2q_v1", "v1", 10 * mib, mib},
		{"k2q_v2", "v2", 10 * mib, mib},
		{"k2q_keyupdate", "v1", 16 * mib, 0},
		{"k2q_migrate", "v1", 16 * mib, 0},
		{"q2k_v1", "v1", 10 * mib, mib},
		{"q2k_v2", "v2", 10 * mib, mib},
		{"q2k_retry", "v1", mib, 0},
		{"k2k_retry", "v1", mib, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.result(t, c.name)
			if r.Version != c.version || !r.VerifiedSHA256 || r.BytesDown != c.down || r.BytesUp != c.up {
				t.Fatalf("report %+v", r)
			}
			if c.name == "k2q_migrate" && !strings.HasPrefix(r.LocalAddr, topo.Addr4(1, "cli")+":") {
				t.Fatalf("local address %s after migrating to %s", r.LocalAddr, topo.Addr4(1, "cli"))
			}
		})
	}
	t.Run("StatelessReset", func(t *testing.T) {
		if rc := e.read("reset.rc"); rc != "0" {
			t.Fatalf("quic-go client after the server restarted: exit %s: %s", rc, e.read("reset.out"))
		}
		t.Log(e.read("reset.out"))
		if n, err := strconv.Atoi(e.read("reset.count")); err != nil || n < 1 {
			t.Fatalf("StatelessReset counter %q after a reset was received", e.read("reset.count"))
		}
	})
	t.Run("ALPNRouting", func(t *testing.T) {
		t.Log("\n" + e.read("alpn.out"))
		if rc := e.read("alpn.rc"); rc != "0" {
			t.Fatalf("ALPN routing among the listeners of a port: exit %s", rc)
		}
	})
	t.Run("RetryPolicy", func(t *testing.T) {
		// Both clients above connected through a Retry: the server's
		// counter saw at least one per connection (a ClientHello in two
		// datagrams may draw two).
		n, err := strconv.Atoi(e.read("retry.count"))
		if err != nil || n < 2 {
			t.Fatalf("Retry counter %q after two clients under 'retry always'", e.read("retry.count"))
		}
	})
}
