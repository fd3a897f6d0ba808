package bridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/qlog"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/transport"
)

const interopALPN = "tquic-interop"

func interopTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	s, c, err := quicgoadapter.SelfSignedTLS(interopALPN)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// peerPair is one connection per side, whichever implementation runs it.
type peerPair struct {
	client, server transport.Connection
	bridge         *Conn // the bridge side
	qserver        *quic.Conn
	qtr            *quic.Transport
	cleanup        func()
}

type pairOptions struct {
	bridgeServer bool // bridge is the server, quic-go the client
	cfg          *Config
	qcfg         *quic.Config
	// qtransport customises the quic-go server's transport.
	qtransport func(tr *quic.Transport)
}

func quicGoCfg(o pairOptions) *quic.Config {
	c := &quic.Config{MaxIdleTimeout: 10 * time.Second}
	if o.qcfg != nil {
		c = o.qcfg.Clone()
	}
	if os.Getenv("QLOGDIR") != "" {
		c.Tracer = qlog.DefaultConnectionTracer
	}
	return c
}

// newPeerPair connects the bridge with quic-go on loopback.
func newPeerPair(t *testing.T, o pairOptions) *peerPair {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stls, ctls := interopTLS(t)
	if o.bridgeServer {
		ln, err := Listen("127.0.0.1:0", stls, o.cfg)
		if err != nil {
			t.Fatal(err)
		}
		type res struct {
			c   *Conn
			err error
		}
		ch := make(chan res, 1)
		go func() {
			c, err := ln.AcceptConn(ctx)
			ch <- res{c, err}
		}()
		qc, err := quic.DialAddr(ctx, ln.Addr().String(), ctls, quicGoCfg(o))
		if err != nil {
			_ = ln.Close()
			t.Fatalf("quic-go dial: %v", err)
		}
		r := <-ch
		if r.err != nil {
			_ = ln.Close()
			t.Fatalf("bridge accept: %v", r.err)
		}
		return &peerPair{client: quicgoadapter.Wrap(qc), server: r.c, bridge: r.c, cleanup: func() {
			_ = qc.CloseWithError(0, "")
			_ = r.c.CloseWithError(0, "")
			_ = ln.Close()
		}}
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	if o.qtransport != nil {
		o.qtransport(tr)
	}
	ln, err := tr.Listen(stls, quicGoCfg(o))
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		c   *quic.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept(ctx)
		ch <- res{c, err}
	}()
	bc, err := Dial(ctx, ln.Addr().String(), ctls, o.cfg)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("bridge dial: %v", err)
	}
	r := <-ch
	if r.err != nil {
		_ = ln.Close()
		t.Fatalf("quic-go accept: %v", r.err)
	}
	return &peerPair{client: bc, server: quicgoadapter.Wrap(r.c), bridge: bc, qserver: r.c, qtr: tr, cleanup: func() {
		_ = bc.CloseWithError(0, "")
		_ = r.c.CloseWithError(0, "")
		_ = ln.Close()
		_ = tr.Close()
	}}
}

// echoServe echoes every bidirectional stream the connection accepts.
func echoServe(ctx context.Context, c transport.Connection) {
	for {
		s, err := c.AcceptStream(ctx)
		if err != nil {
			return
		}
		go func() {
			if _, err := io.Copy(s, s); err != nil {
				s.CancelWrite(1)
				return
			}
			_ = s.Close()
		}()
	}
}

// echoRoundTrip sends size random bytes on a new stream and checks the
// echo by sha256.
func echoRoundTrip(ctx context.Context, c transport.Connection, size int) error {
	s, err := c.OpenStream(ctx)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return err
	}
	want := sha256.Sum256(data)
	werr := make(chan error, 1)
	go func() {
		_, err := s.Write(data)
		if err == nil {
			err = s.Close()
		}
		werr <- err
	}()
	h := sha256.New()
	n, err := io.Copy(h, s)
	if err != nil {
		return fmt.Errorf("stream %d: read after %d bytes: %w", s.StreamID(), n, err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("stream %d: write: %w", s.StreamID(), err)
	}
	if n != int64(size) || !bytes.Equal(h.Sum(nil), want[:]) {
		return fmt.Errorf("stream %d: echo mismatch: %d of %d bytes", s.StreamID(), n, size)
	}
	return nil
}

func testInteropEcho(t *testing.T, bridgeServer bool, versions []uint32, qversions []quic.Version, size int) {
	o := pairOptions{bridgeServer: bridgeServer, cfg: &Config{Versions: versions}}
	if qversions != nil {
		o.qcfg = &quic.Config{Versions: qversions, MaxIdleTimeout: 10 * time.Second}
	}
	p := newPeerPair(t, o)
	defer p.cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go echoServe(ctx, p.server)
	if err := echoRoundTrip(ctx, p.client, size); err != nil {
		t.Fatalf("%v (bridge stats %+v)", err, p.bridge.Stats())
	}
	st := p.bridge.State()
	want := Version1
	if len(versions) > 0 {
		want = versions[0]
	}
	if qversions != nil {
		want = uint32(qversions[0])
	}
	if st.Version != want {
		t.Fatalf("version %#x, want %#x", st.Version, want)
	}
	if st.ALPN != interopALPN {
		t.Fatalf("ALPN %q", st.ALPN)
	}
	if s := p.bridge.Stats(); s.AmplificationViolations != 0 {
		t.Fatalf("amplification limit exceeded %d times", s.AmplificationViolations)
	}
}

func TestInteropConnV1BridgeClient(t *testing.T) {
	testInteropEcho(t, false, []uint32{Version1}, nil, 100<<10)
}

func TestInteropConnV1BridgeServer(t *testing.T) {
	testInteropEcho(t, true, []uint32{Version1}, nil, 100<<10)
}

func TestInteropConnV2BridgeClient(t *testing.T) {
	testInteropEcho(t, false, []uint32{Version2}, []quic.Version{quic.Version2}, 100<<10)
}

func TestInteropConnV2BridgeServer(t *testing.T) {
	testInteropEcho(t, true, []uint32{Version2}, []quic.Version{quic.Version2}, 100<<10)
}

func TestInteropConnBulk10MBBridgeClient(t *testing.T) {
	testInteropEcho(t, false, nil, nil, 10<<20)
}

func TestInteropConnBulk10MBBridgeServer(t *testing.T) {
	testInteropEcho(t, true, nil, nil, 10<<20)
}

func testInteropManyStreams(t *testing.T, bridgeServer bool) {
	p := newPeerPair(t, pairOptions{bridgeServer: bridgeServer})
	defer p.cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go echoServe(ctx, p.server)
	const streams, parallel = 1000, 32
	sem := make(chan struct{}, parallel)
	errs := make(chan error, streams)
	var wg sync.WaitGroup
	for i := 0; i < streams; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- echoRoundTrip(ctx, p.client, 100+i%1400)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestInteropConn1000StreamsBridgeClient(t *testing.T) { testInteropManyStreams(t, false) }

func TestInteropConn1000StreamsBridgeServer(t *testing.T) { testInteropManyStreams(t, true) }

func testInteropDatagrams(t *testing.T, bridgeServer bool) {
	p := newPeerPair(t, pairOptions{bridgeServer: bridgeServer, cfg: &Config{EnableDatagrams: true},
		qcfg: &quic.Config{EnableDatagrams: true, MaxIdleTimeout: 10 * time.Second}})
	defer p.cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !p.client.State().Datagrams || !p.server.State().Datagrams {
		t.Fatal("datagrams not negotiated")
	}
	go func() {
		for {
			d, err := p.server.ReceiveDatagram(ctx)
			if err != nil {
				return
			}
			_ = p.server.SendDatagram(append([]byte("echo:"), d...))
		}
	}()
	const n = 50
	for i := 0; i < n; i++ {
		if err := p.client.SendDatagram([]byte(fmt.Sprintf("datagram %d", i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	got := map[string]bool{}
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	defer rcancel()
	for len(got) < n {
		d, err := p.client.ReceiveDatagram(rctx)
		if err != nil {
			break
		}
		got[string(d)] = true
	}
	// Loopback does not drop: every datagram comes back.
	for i := 0; i < n; i++ {
		if !got[fmt.Sprintf("echo:datagram %d", i)] {
			t.Fatalf("datagram %d not echoed (%d of %d back)", i, len(got), n)
		}
	}
	big := make([]byte, 1500)
	var tl *transport.DatagramTooLargeError
	if err := p.client.SendDatagram(big); !errors.As(err, &tl) || tl.MaxPayload <= 0 || tl.MaxPayload >= 1500 {
		t.Fatalf("oversized datagram: %v", err)
	}
}

func TestInteropConnDatagramsBridgeClient(t *testing.T) { testInteropDatagrams(t, false) }

func TestInteropConnDatagramsBridgeServer(t *testing.T) { testInteropDatagrams(t, true) }

// testInteropAppClose closes with an application error from each side.
func testInteropAppClose(t *testing.T, bridgeServer, bridgeCloses bool) {
	p := newPeerPair(t, pairOptions{bridgeServer: bridgeServer})
	defer p.cleanup()
	closer, other := p.client, p.server
	if bridgeServer == bridgeCloses {
		closer, other = p.server, p.client
	}
	if err := closer.CloseWithError(0x1234, "going away"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-other.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("peer did not see the close")
	}
	var ae *transport.ApplicationError
	if err := context.Cause(other.Context()); !errors.As(err, &ae) || ae.ErrorCode != 0x1234 || !ae.Remote || ae.Message != "going away" {
		t.Fatalf("peer close cause: %v", err)
	}
	select {
	case <-closer.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("closer's context not canceled")
	}
	if err := context.Cause(closer.Context()); !errors.As(err, &ae) || ae.Remote || ae.ErrorCode != 0x1234 {
		t.Fatalf("local close cause: %v", err)
	}
	if _, err := p.bridge.OpenStream(context.Background()); !transport.IsConnectionError(err) {
		t.Fatalf("open stream after close: %v", err)
	}
}

func TestInteropConnAppCloseBridgeClientCloses(t *testing.T) { testInteropAppClose(t, false, true) }
func TestInteropConnAppCloseBridgeServerCloses(t *testing.T) { testInteropAppClose(t, true, true) }
func TestInteropConnAppClosePeerClosesBridgeClient(t *testing.T) {
	testInteropAppClose(t, false, false)
}
func TestInteropConnAppClosePeerClosesBridgeServer(t *testing.T) {
	testInteropAppClose(t, true, false)
}

// testInteropIdle: the bridge's idle timeout ends a silent connection.
func testInteropIdle(t *testing.T, bridgeServer bool) {
	p := newPeerPair(t, pairOptions{bridgeServer: bridgeServer, cfg: &Config{MaxIdleTimeout: 300 * time.Millisecond},
		qcfg: &quic.Config{MaxIdleTimeout: 30 * time.Second}})
	defer p.cleanup()
	start := time.Now()
	select {
	case <-p.bridge.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("no idle timeout")
	}
	if err := context.Cause(p.bridge.Context()); !errors.Is(err, ErrIdleTimeout) {
		t.Fatalf("cause %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Fatalf("idle timeout after %v", d)
	}
	// quic-go uses the minimum of both idle timeouts too.
	select {
	case <-p.client.Context().Done():
	case <-p.server.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("quic-go did not time out")
	}
}

func TestInteropConnIdleTimeoutBridgeClient(t *testing.T) { testInteropIdle(t, false) }
func TestInteropConnIdleTimeoutBridgeServer(t *testing.T) { testInteropIdle(t, true) }

// testInteropKeyUpdate: the bridge initiates key updates every 200
// packets during a transfer; quic-go must follow each of them.
func testInteropKeyUpdate(t *testing.T, bridgeServer bool, version uint32) {
	o := pairOptions{bridgeServer: bridgeServer, cfg: &Config{KeyUpdateInterval: 200, Versions: []uint32{version}},
		qcfg: &quic.Config{Versions: []quic.Version{quic.Version(version)}, MaxIdleTimeout: 10 * time.Second}}
	p := newPeerPair(t, o)
	defer p.cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go echoServe(ctx, p.server)
	if err := echoRoundTrip(ctx, p.client, 4<<20); err != nil {
		t.Fatal(err)
	}
	// Every packet opens: in QUIC v2, quic-go's key updates take the
	// engine's second derivation (see open_1rtt_compat).
	if s := p.bridge.Stats(); s.KeyUpdates < 3 || s.PacketsDropped != 0 {
		t.Fatalf("%d key updates, %d packets dropped", s.KeyUpdates, s.PacketsDropped)
	}
}

func TestInteropConnKeyUpdateBridgeClient(t *testing.T)   { testInteropKeyUpdate(t, false, Version1) }
func TestInteropConnKeyUpdateBridgeServer(t *testing.T)   { testInteropKeyUpdate(t, true, Version1) }
func TestInteropConnKeyUpdateV2BridgeClient(t *testing.T) { testInteropKeyUpdate(t, false, Version2) }
func TestInteropConnKeyUpdateV2BridgeServer(t *testing.T) { testInteropKeyUpdate(t, true, Version2) }

func TestInteropConnRetryBridgeServer(t *testing.T) {
	p := newPeerPair(t, pairOptions{bridgeServer: true, cfg: &Config{RequireAddressValidation: true}})
	defer p.cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go echoServe(ctx, p.server)
	if err := echoRoundTrip(ctx, p.client, 10000); err != nil {
		t.Fatal(err)
	}
}

func TestInteropConnRetryBridgeClient(t *testing.T) {
	p := newPeerPair(t, pairOptions{qtransport: func(tr *quic.Transport) {
		tr.VerifySourceAddress = func(net.Addr) bool { return true }
	}})
	defer p.cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go echoServe(ctx, p.server)
	if err := echoRoundTrip(ctx, p.client, 10000); err != nil {
		t.Fatal(err)
	}
	if !p.bridge.usedRetry() {
		t.Fatal("the server sent no Retry")
	}
}

// dropConn is a quic-go server socket that can die silently.
type dropConn struct {
	net.PacketConn
	mu   sync.Mutex
	dead bool
}

func (d *dropConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	d.mu.Lock()
	dead := d.dead
	d.mu.Unlock()
	if dead {
		return len(b), nil
	}
	return d.PacketConn.WriteTo(b, addr)
}

// TestInteropConnStatelessResetBridgeClient: the quic-go server loses its
// state (no CONNECTION_CLOSE escapes); its successor on the same port
// answers the bridge's next packet with a stateless reset, which the
// bridge detects.
func TestInteropConnStatelessResetBridgeClient(t *testing.T) {
	stls, ctls := interopTLS(t)
	var key quic.StatelessResetKey
	if _, err := rand.Read(key[:]); err != nil {
		t.Fatal(err)
	}
	udp1, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := udp1.LocalAddr().(*net.UDPAddr)
	dc := &dropConn{PacketConn: udp1}
	tr1 := &quic.Transport{Conn: dc, StatelessResetKey: &key}
	ln1, err := tr1.Listen(stls, &quic.Config{MaxIdleTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { _, _ = ln1.Accept(ctx) }()
	c, err := Dial(ctx, addr.String(), ctls, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseWithError(0, "")
	dc.mu.Lock()
	dc.dead = true
	dc.mu.Unlock()
	_ = tr1.Close()
	_ = udp1.Close()
	udp2, err := net.ListenUDP("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tr2 := &quic.Transport{Conn: udp2, StatelessResetKey: &key}
	defer tr2.Close()
	ln2, err := tr2.Listen(stls, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(make([]byte, 200)); err != nil && !transport.IsConnectionError(err) {
		t.Fatal(err)
	}
	select {
	case <-c.Context().Done():
	case <-ctx.Done():
		t.Fatal("no stateless reset detected")
	}
	if err := context.Cause(c.Context()); !errors.Is(err, ErrStatelessReset) {
		t.Fatalf("closed with %v", err)
	}
}

// TestInteropConnVersionNegotiationBridgeServer: a quic-go client offering
// v1 first meets a v2-only bridge listener, which answers with Version
// Negotiation; quic-go retries in v2.
func TestInteropConnVersionNegotiationBridgeServer(t *testing.T) {
	p := newPeerPair(t, pairOptions{bridgeServer: true, cfg: &Config{Versions: []uint32{Version2}},
		qcfg: &quic.Config{Versions: []quic.Version{quic.Version1, quic.Version2}}})
	defer p.cleanup()
	if v := p.bridge.State().Version; v != Version2 {
		t.Fatalf("version %#x", v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go echoServe(ctx, p.server)
	if err := echoRoundTrip(ctx, p.client, 5000); err != nil {
		t.Fatal(err)
	}
}

// TestInteropConnVersionNegotiationBridgeClient: the bridge client starts
// in v1, a v2-only quic-go server answers with Version Negotiation, and
// Dial retries in v2.
func TestInteropConnVersionNegotiationBridgeClient(t *testing.T) {
	p := newPeerPair(t, pairOptions{cfg: &Config{Versions: []uint32{Version1, Version2}},
		qcfg: &quic.Config{Versions: []quic.Version{quic.Version2}}})
	defer p.cleanup()
	if v := p.bridge.State().Version; v != Version2 {
		t.Fatalf("version %#x", v)
	}
}

// TestConnVersionNegotiationPacket: an Initial of an unknown version gets
// a Version Negotiation packet with the CIDs swapped and our versions.
func TestConnVersionNegotiationPacket(t *testing.T) {
	stls, _ := interopTLS(t)
	ln, err := Listen("127.0.0.1:0", stls, &Config{Versions: []uint32{Version2, Version1}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	udp, err := net.DialUDP("udp", nil, ln.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	pkt := make([]byte, 1200)
	pkt[0] = 0xc0
	copy(pkt[1:5], []byte{0x1a, 0x2a, 0x3a, 0x4a})
	pkt[5] = 8
	copy(pkt[6:14], "dcid0123")
	pkt[14] = 4
	copy(pkt[15:19], "scid")
	if _, err := udp.Write(pkt); err != nil {
		t.Fatal(err)
	}
	_ = udp.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	n, err := udp.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	vn, err := ParseVersionNegotiation(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if string(vn.DCID) != "scid" || string(vn.SCID) != "dcid0123" {
		t.Fatalf("CIDs %q %q", vn.DCID, vn.SCID)
	}
	if len(vn.Versions) != 2 || vn.Versions[0] != Version2 || vn.Versions[1] != Version1 {
		t.Fatalf("versions %x", vn.Versions)
	}
}
