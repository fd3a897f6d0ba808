package bridge

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/transport"
)

// echoWithHook sends size random bytes on a new stream of c and checks
// the echo by sha256; hook runs once when at bytes came back, while the
// rest is still in flight.
func echoWithHook(t *testing.T, ctx context.Context, c transport.Connection, size, at int, hook func() error) error {
	s, err := c.OpenStream(ctx)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	data := randomBytes(t, size)
	want := sha256.Sum256(data)
	werr := make(chan error, 1)
	go func() {
		var err error
		for off := 0; off < len(data) && err == nil; off += 32 << 10 {
			_, err = s.Write(data[off:min(off+32<<10, len(data))])
		}
		if err == nil {
			err = s.Close()
		}
		werr <- err
	}()
	h := sha256.New()
	buf := make([]byte, 32<<10)
	got, hooked := 0, false
	for {
		n, err := s.Read(buf)
		h.Write(buf[:n])
		got += n
		if !hooked && got >= at {
			hooked = true
			if err := hook(); err != nil {
				return fmt.Errorf("hook: %w", err)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read after %d bytes: %w", got, err)
		}
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !hooked || got != size || [32]byte(h.Sum(nil)) != want {
		return fmt.Errorf("echo mismatch: %d of %d bytes (hook ran %v)", got, size, hooked)
	}
	return nil
}

// switchConn is a socket whose writes can be turned off (the old path
// after a migration).
type switchConn struct {
	net.PacketConn
	off atomic.Bool
}

func (s *switchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if s.off.Load() {
		return len(b), nil
	}
	return s.PacketConn.WriteTo(b, addr)
}

// TestInteropConnMigrationBridgeServer: a quic-go client probes a new
// path from another socket (Path.Probe: the bridge answers its
// PATH_CHALLENGE on that address and challenges it in turn) and switches
// to it (Path.Switch) in the middle of a 6 MB echo; the bridge moves the
// active path to the new address, the old socket goes silent, and the
// transfer completes intact.
func TestInteropConnMigrationBridgeServer(t *testing.T) {
	testMigrationBridgeServer(t, net.IPv4(127, 0, 0, 1))
}

// TestInteropConnMigrationNewAddressBridgeServer moves the quic-go client
// to another IP address: the bridge server sends 1200-byte datagrams to it
// until a PATH_CHALLENGE in a datagram of the old size is answered, then
// the old size again (RFC 9000 9.4, 14.3).
func TestInteropConnMigrationNewAddressBridgeServer(t *testing.T) {
	testMigrationBridgeServer(t, net.IPv4(127, 0, 0, 2))
}

// testMigrationBridgeServer has a quic-go client probe and switch to a new
// socket on newIP in the middle of an echo transfer with a bridge server.
func testMigrationBridgeServer(t *testing.T, newIP net.IP) {
	stls, ctls := interopTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ln, conns := bridgeEchoListener(t, ctx, stls, nil)
	udp1, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	sc := &switchConn{PacketConn: udp1}
	tr1 := &quic.Transport{Conn: sc}
	defer tr1.Close()
	qc, err := tr1.Dial(ctx, ln.Addr(), ctls, &quic.Config{MaxIdleTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer qc.CloseWithError(0, "")
	b := <-conns
	mtu := b.Stats().PathMTU
	udp2, err := net.ListenUDP("udp", &net.UDPAddr{IP: newIP})
	if err != nil {
		t.Fatal(err)
	}
	tr2 := &quic.Transport{Conn: udp2}
	defer tr2.Close()
	migrate := func() error {
		path, err := qc.AddPath(tr2)
		if err != nil {
			return err
		}
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		defer pcancel()
		if err := path.Probe(pctx); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		if err := path.Switch(); err != nil {
			return fmt.Errorf("switch: %w", err)
		}
		sc.off.Store(true)
		return nil
	}
	if err := echoWithHook(t, ctx, quicgoadapter.Wrap(qc), 6<<20, 1<<20, migrate); err != nil {
		t.Fatalf("%v (bridge stats %+v)", err, b.Stats())
	}
	want := udp2.LocalAddr().(*net.UDPAddr).AddrPort()
	if got := b.State().RemoteAddr.(*net.UDPAddr).AddrPort(); got != want {
		t.Fatalf("bridge sends to %v, want %v", got, want)
	}
	st := b.Stats()
	if st.PeerMigrations != 1 || st.PathReverts != 0 || st.AmplificationViolations != 0 {
		t.Fatalf("migrations %d reverts %d amplification violations %d",
			st.PeerMigrations, st.PathReverts, st.AmplificationViolations)
	}
	if mtu <= 1200 || st.PathMTU != mtu {
		t.Fatalf("path MTU %d after the move, %d before", st.PathMTU, mtu)
	}
}

// natProxy forwards a client's datagrams to a server from an outbound
// socket that can be replaced (a NAT rebinding: the server sees a new
// port, without any probing), and the server's answers back.
type natProxy struct {
	front  *net.UDPConn
	server netip.AddrPort
	mu     sync.Mutex
	out    *net.UDPConn
	client netip.AddrPort
}

func newNATProxy(t *testing.T, server netip.AddrPort) *natProxy {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &natProxy{front: front, server: server}
	t.Cleanup(func() { _ = front.Close() })
	p.rebind(t)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := front.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			p.mu.Lock()
			p.client = from
			out := p.out
			p.mu.Unlock()
			_, _ = out.WriteToUDPAddrPort(buf[:n], server)
		}
	}()
	return p
}

// rebind replaces the outbound socket; the old one keeps forwarding the
// server's answers that were already on their way.
func (p *natProxy) rebind(t *testing.T) netip.AddrPort {
	out, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = out.Close() })
	p.mu.Lock()
	p.out = out
	p.mu.Unlock()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := out.Read(buf)
			if err != nil {
				return
			}
			p.mu.Lock()
			client := p.client
			p.mu.Unlock()
			_, _ = p.front.WriteToUDPAddrPort(buf[:n], client)
		}
	}()
	return out.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestConnNATRebindingBridgeServer: the client's NAT mapping changes in
// the middle of a transfer (new source port, no probing). The bridge
// server follows the new address on its first non-probing packet,
// validates it with PATH_CHALLENGE while sending at most 3x what it
// received from it, and the transfer completes intact.
func TestConnNATRebindingBridgeServer(t *testing.T) {
	stls, ctls := interopTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ln, conns := bridgeEchoListener(t, ctx, stls, nil)
	proxy := newNATProxy(t, ln.Addr().(*net.UDPAddr).AddrPort())
	qc, err := quic.DialAddr(ctx, proxy.front.LocalAddr().String(), ctls, &quic.Config{MaxIdleTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer qc.CloseWithError(0, "")
	b := <-conns
	var newAddr netip.AddrPort
	rebind := func() error {
		newAddr = proxy.rebind(t)
		return nil
	}
	if err := echoWithHook(t, ctx, quicgoadapter.Wrap(qc), 6<<20, 1<<20, rebind); err != nil {
		t.Fatalf("%v (bridge stats %+v)", err, b.Stats())
	}
	if got := b.State().RemoteAddr.(*net.UDPAddr).AddrPort(); got != newAddr {
		t.Fatalf("bridge sends to %v, want %v", got, newAddr)
	}
	st := b.Stats()
	if st.PeerMigrations != 1 || st.PathReverts != 0 || st.AmplificationViolations != 0 {
		t.Fatalf("migrations %d reverts %d amplification violations %d",
			st.PeerMigrations, st.PathReverts, st.AmplificationViolations)
	}
}

// TestInteropConnMigrationBridgeClient: the bridge client moves to a new
// socket (Conn.Migrate) in the middle of a 6 MB echo with a quic-go
// server; the old socket is closed, quic-go validates the new address and
// switches to it, and the transfer completes intact.
func TestInteropConnMigrationBridgeClient(t *testing.T) {
	p := newPeerPair(t, pairOptions{})
	defer p.cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go echoServe(ctx, p.server)
	udp2, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	migrate := func() error { return p.bridge.Migrate(udp2) }
	if err := echoWithHook(t, ctx, p.client, 6<<20, 1<<20, migrate); err != nil {
		t.Fatalf("%v (bridge stats %+v)", err, p.bridge.Stats())
	}
	want := udp2.LocalAddr().(*net.UDPAddr).AddrPort()
	if got := p.qserver.RemoteAddr().(*net.UDPAddr).AddrPort(); got != want {
		t.Fatalf("quic-go sends to %v, want %v", got, want)
	}
	if st := p.bridge.Stats(); st.PeerMigrations != 1 {
		t.Fatalf("migrations %d", st.PeerMigrations)
	}
	closeAndWaitFreed(t, p.bridge)
}
