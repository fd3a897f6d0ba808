package kernel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tquic/tquic/test/vm"
)

// TestKernelMASQUE runs, in one guest:
//   - the host interop and bad-input tests of pkg/masque with our proxy
//     (and, where the test has one, our client) over the kernel's QUIC
//     sockets: CONNECT-UDP from quic-go's http3 client through our proxy (a
//     DNS request/response and a 10 MB transfer over HTTP datagrams, sha256
//     checked); CONNECT-UDP with our client in datagram and capsule mode;
//     CONNECT-IP with connect-ip-go's client (its TUN device in one network
//     namespace, the proxy's TUN and the target in another: ping and a 4 MB
//     TCP transfer through the tunnel, sha256 checked); bad input
//     (malformed capsules, unknown context IDs, oversized datagrams,
//     refused targets and scopes, an exhausted pool) beside a healthy flow;
//   - tquic-masque as deployed, across the veth link between namespaces
//     cli and srv: proxies over the kernel in srv, a UDP relay client (over
//     the kernel, then over quic-go) and a full-tunnel CONNECT-IP client
//     over the kernel in cli: UDP request/response through the relay, ping
//     and a 4 MB TCP transfer through the tunnel.
func TestKernelMASQUE(t *testing.T) {
	e := newEnv(t)
	e.goBuild("masque.test", true, "./pkg/masque")
	e.goBuild("tquic-masque", false, "./cmd/tquic-masque")
	e.copySelf("helper.test")
	topo := &vm.Topology{Hosts: []string{"cli", "srv"}, Links: []vm.Link{{A: "cli", B: "srv"}}}
	srv := topo.Addr4(0, "srv")
	e.run(topo, 10*time.Minute, fmt.Sprintf(`
modprobe tun
%[2]s
M=$S/tquic-masque
# helper NS ARGS...: this test binary as a UDP/TCP helper (TestHelper).
helper() {
	ns=$1; shift
	TQUIC_HELPER="$*" ip netns exec $ns $S/helper.test -test.run '^TestHelper$'
}
%[4]s# waitfor FILE PATTERN: until a background program logs PATTERN.
waitfor() {
	i=0; until grep -q "$2" $1; do
		i=$((i+1)); [ $i -lt 300 ] || { echo "no '$2' in $1:"; cat $1; return 1; }
		sleep 0.1
	done
}
ip -n srv addr add 10.99.0.1/32 dev lo
helper srv udp-echo %[1]s:7777 >$S/udpecho.log 2>&1 &
helper srv tcp-serve 10.99.0.1:8080 %[3]d >$S/tcpserve.log 2>&1 &
ip netns exec srv $M proxy --listen %[1]s:4433 --cert $CERT --key $KEY --allow %[1]s/32:7777 >$S/proxy_udp.log 2>&1 &
ip netns exec srv $M proxy --listen %[1]s:4434 --cert $CERT --key $KEY --allow 10.99.0.0/24 \
	--pool 10.98.0.0/24 --tun tqm0 --mtu 1150 >$S/proxy_ip.log 2>&1 &
waitfor $S/udpecho.log listening
waitfor $S/tcpserve.log listening
waitfor $S/proxy_udp.log 'proxy listening'
waitfor $S/proxy_ip.log 'proxy listening'
for impl in kernel quic-go; do
	ip netns exec cli $M udp --impl $impl --proxy %[1]s:4433 --server-name localhost --ca $CA \
		--target %[1]s:7777 --local 127.0.0.1:5300 >$S/relay_$impl.log 2>&1 &
	relay=$!
	waitfor $S/relay_$impl.log relaying
	helper cli udp-exchange 127.0.0.1:5300 200 1000 >$S/relay_$impl.json 2>$S/relay_$impl.err
	echo $? >$S/relay_$impl.rc
	echo "== relay $impl: exit $(cat $S/relay_$impl.rc) $(cat $S/relay_$impl.json)"
	stop $relay relay_$impl
done
ip netns exec cli $M ip --proxy %[1]s:4434 --server-name localhost --ca $CA --tun tqc0 --mtu 1150 >$S/tunnel.log 2>&1 &
waitfor $S/tunnel.log 'tunnel up'
cat $S/tunnel.log
ip netns exec cli busybox ping -c 3 -W 5 10.99.0.1 >$S/ping.out 2>&1; echo $? >$S/ping.rc
cat $S/ping.out
helper cli tcp-get 10.99.0.1:8080 %[3]d >$S/tcpget.json 2>$S/tcpget.err; echo $? >$S/tcpget.rc
echo "== tcp through the tunnel: exit $(cat $S/tcpget.rc) $(cat $S/tcpget.json)"
ip netns exec srv cat /proc/net/tquic_sock >$S/cli_srv.counters
kill $(jobs -p) 2>/dev/null
exit 0
`, srv, interopScript("masque", "masque.test", "pkg/masque",
		"TestInteropConnectUDPQuicGoHTTP3|TestConnectUDPOurClientCapsuleMode|TestInteropConnectIPConnectIPGo|TestConnectUDPBadInput|TestConnectIPBadInput",
		5*time.Minute), tcpSize, stopFunc))

	t.Run("Interop", func(t *testing.T) {
		e.checkInterop(t, "masque", []string{
			"TestInteropConnectUDPQuicGoHTTP3", "TestInteropConnectUDPQuicGoHTTP3/DNS", "TestInteropConnectUDPQuicGoHTTP3/Transfer10MB",
			"TestConnectUDPOurClientCapsuleMode",
			"TestInteropConnectIPConnectIPGo", "TestInteropConnectIPConnectIPGo/Ping", "TestInteropConnectIPConnectIPGo/TCP",
			"TestConnectUDPBadInput", "TestConnectIPBadInput",
		})
		// One proxy connection per test at least.
		e.checkKernelUsed(t, "masque", 5, true)
	})
	for _, impl := range []string{"kernel", "quic-go"} {
		t.Run("CLI_UDPRelay_"+impl, func(t *testing.T) {
			name := "relay_" + impl
			if rc := e.read(name + ".rc"); rc != "0" {
				t.Fatalf("UDP exchange through tquic-masque udp --impl %s: exit %q: %s\nrelay log:\n%s\nproxy log:\n%s",
					impl, rc, e.read(name+".err"), e.read(name+".log"), e.read("proxy_udp.log"))
			}
			var r udpExchange
			if err := json.Unmarshal([]byte(firstJSON(e.read(name+".json"))), &r); err != nil {
				t.Fatalf("%v in %q", err, e.read(name+".json"))
			}
			t.Logf("%+v", r)
			if r.Echoed != 200 || r.Sent < 200 {
				t.Fatalf("report %+v", r)
			}
			if strings.Contains(e.read("stuck"), name) {
				t.Errorf("tquic-masque udp --impl %s ignored SIGTERM:\n%s", impl, e.read(name+".log"))
			}
		})
	}
	t.Run("CLI_ConnectIPTunnel", func(t *testing.T) {
		if rc := e.read("ping.rc"); rc != "0" {
			t.Errorf("ping through the tunnel: exit %q:\n%s", rc, e.read("ping.out"))
		}
		if rc := e.read("tcpget.rc"); rc != "0" {
			t.Fatalf("TCP through the tunnel: exit %q: %s\ntunnel log:\n%s\nproxy log:\n%s",
				rc, e.read("tcpget.err"), e.read("tunnel.log"), e.read("proxy_ip.log"))
		}
		var r tcpGet
		if err := json.Unmarshal([]byte(firstJSON(e.read("tcpget.json"))), &r); err != nil {
			t.Fatalf("%v in %q", err, e.read("tcpget.json"))
		}
		t.Logf("%+v", r)
		if r.Bytes != tcpSize || r.SHA256 != hex.EncodeToString(sum(helperData(tcpSize))) {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("CLI_KernelCounters", func(t *testing.T) {
		// Both proxies accepted their clients on kernel sockets.
		c := e.counters("cli_srv.counters")
		t.Logf("namespace srv: %d server connections created, %d datagrams received", c["ChildCreated"], c["RxDatagrams"])
		if c["ChildCreated"] < 3 || c["RxDatagrams"] == 0 {
			t.Fatalf("kernel counters in srv: %v", c)
		}
	})
}

// tcpSize is what the TCP transfer through the CONNECT-IP tunnel carries.
const tcpSize = 4 << 20

// udpExchange is the helper's udp-exchange report.
type udpExchange struct {
	Sent       int     `json:"sent"`
	Echoed     int     `json:"echoed"`
	Size       int     `json:"size"`
	AvgRTTms   float64 `json:"avg_rtt_ms"`
	ElapsedS   float64 `json:"elapsed_s"`
	Retransmit int     `json:"retransmissions"`
}

// tcpGet is the helper's tcp-get report.
type tcpGet struct {
	Bytes    int64   `json:"bytes"`
	SHA256   string  `json:"sha256"`
	ElapsedS float64 `json:"elapsed_s"`
}

// copySelf copies this test binary into the share: the guest runs it as
// a helper (TestHelper).
func (e *env) copySelf(name string) {
	e.t.Helper()
	self, err := os.Executable()
	if err != nil {
		e.t.Fatalf("test binary: %v", err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		e.t.Fatalf("test binary: %v", err)
	}
	if err := os.WriteFile(filepath.Join(e.share, name), b, 0o755); err != nil {
		e.t.Fatalf("copy test binary: %v", err)
	}
}

// firstJSON returns the first line of out that looks like a JSON object
// (the helper's test binary prints PASS after it).
func firstJSON(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "{") {
			return line
		}
	}
	return out
}

func sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// helperData is the deterministic payload tcp-serve sends.
func helperData(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{'t', 'q', 'u', 'i', 'c'}).Read(b)
	return b
}

// TestHelper is not a test of its own: the guest scripts run this test
// binary with TQUIC_HELPER set to use it as a small UDP and TCP tool
// (the guest has no netcat):
//
//	udp-echo ADDR            echo every datagram received on ADDR
//	udp-exchange ADDR N SIZE send N distinct SIZE-byte datagrams to ADDR one at a
//	                         time, each resent until its echo arrives; JSON report
//	tcp-serve ADDR SIZE      send SIZE bytes of helperData to every connection
//	tcp-get ADDR SIZE        read from ADDR; JSON report with the SHA-256
//
// Without TQUIC_HELPER it does nothing.
func TestHelper(t *testing.T) {
	args := strings.Fields(os.Getenv("TQUIC_HELPER"))
	if len(args) == 0 {
		return
	}
	num := func(i int) int {
		if len(args) <= i {
			t.Fatalf("%s: missing argument %d", args[0], i)
		}
		n, err := strconv.Atoi(args[i])
		if err != nil {
			t.Fatalf("%s: argument %d: %v", args[0], i, err)
		}
		return n
	}
	if len(args) < 2 {
		t.Fatalf("TQUIC_HELPER=%q: want MODE ADDR ...", args)
	}
	addr := args[1]
	var err error
	switch args[0] {
	case "udp-echo":
		err = helperUDPEcho(addr)
	case "udp-exchange":
		err = helperUDPExchange(addr, num(2), num(3))
	case "tcp-serve":
		err = helperTCPServe(addr, num(2))
	case "tcp-get":
		err = helperTCPGet(addr, num(2))
	default:
		err = fmt.Errorf("unknown helper mode %q", args[0])
	}
	if err != nil {
		t.Fatalf("helper %s: %v", strings.Join(args, " "), err)
	}
}

func helperUDPEcho(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Println("listening", pc.LocalAddr())
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil {
			return fmt.Errorf("echo to %s: %w", from, err)
		}
	}
}

func helperUDPExchange(addr string, n, size int) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	r := udpExchange{Size: size}
	start := time.Now()
	var rtts time.Duration
	buf := make([]byte, 65536)
	deadline := start.Add(2 * time.Minute)
	for i := range n {
		msg := bytes.Repeat([]byte{byte(i)}, size)
		copy(msg, fmt.Sprintf("datagram %d ", i))
	resend:
		for {
			if time.Now().After(deadline) {
				return fmt.Errorf("datagram %d: no echo before the deadline (%d echoed)", i, r.Echoed)
			}
			sent := time.Now()
			if _, err := c.Write(msg); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			r.Sent++
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			for {
				m, err := c.Read(buf)
				if err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						r.Retransmit++
						continue resend
					}
					return fmt.Errorf("read: %w", err)
				}
				if bytes.Equal(buf[:m], msg) {
					rtts += time.Since(sent)
					r.Echoed++
					break resend
				}
				// A late echo of an earlier datagram: keep reading.
			}
		}
	}
	r.ElapsedS = time.Since(start).Seconds()
	r.AvgRTTms = float64(rtts.Microseconds()) / 1000 / float64(max(r.Echoed, 1))
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Println(string(b))
	return nil
}

func helperTCPServe(addr string, size int) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Println("listening", ln.Addr())
	data := helperData(size)
	for {
		c, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		go func() {
			defer c.Close()
			c.Write(data)
		}()
	}
}

func helperTCPGet(addr string, size int) error {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 20*time.Second)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil {
		return fmt.Errorf("read after %d bytes: %w", n, err)
	}
	r := tcpGet{Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil)), ElapsedS: time.Since(start).Seconds()}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Println(string(b))
	if n != int64(size) {
		return fmt.Errorf("%d bytes, want %d", n, size)
	}
	return nil
}
