package bridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/transport"
)

// signalCache is a TLS client session cache that reports every ticket
// stored.
type signalCache struct {
	tls.ClientSessionCache
	put chan struct{}
}

func newSignalCache() *signalCache {
	return &signalCache{ClientSessionCache: tls.NewLRUClientSessionCache(8), put: make(chan struct{}, 8)}
}

func (s *signalCache) Put(key string, cs *tls.ClientSessionState) {
	s.ClientSessionCache.Put(key, cs)
	if cs != nil {
		signal(s.put)
	}
}

func (s *signalCache) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.put:
	case <-time.After(5 * time.Second):
		t.Fatal("no session ticket stored")
	}
}

// delayConn delays every datagram it sends by d (order kept), so that a
// peer's first flight and its 0-RTT data leave before any answer can
// arrive.
type delayConn struct {
	net.PacketConn
	d    time.Duration
	mu   sync.Mutex
	last time.Time
}

func (c *delayConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	p := append([]byte(nil), b...)
	c.mu.Lock()
	at := time.Now().Add(c.d)
	if at.Before(c.last) {
		at = c.last
	}
	c.last = at
	c.mu.Unlock()
	time.AfterFunc(time.Until(at), func() { _, _ = c.PacketConn.WriteTo(p, addr) })
	return len(b), nil
}

// echoPayload writes data on a new stream of c, closes it and checks the
// echo; the write happens before the handshake when c is still early.
func echoPayload(ctx context.Context, c transport.Connection, data []byte) error {
	s, err := c.OpenStream(ctx)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if _, err := s.Write(data); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	got, err := io.ReadAll(s)
	if err != nil {
		return fmt.Errorf("read after %d bytes: %w", len(got), err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		return fmt.Errorf("echo mismatch: %d of %d bytes", len(got), len(data))
	}
	return nil
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// quicGoEchoServer runs a quic-go server echoing every stream; its
// datagrams leave after delay. It returns the address and the
// connections it accepted.
func quicGoEchoServer(t *testing.T, ctx context.Context, stls *tls.Config, allow0RTT bool,
	delay time.Duration) (net.Addr, <-chan *quic.Conn) {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: &delayConn{PacketConn: udp, d: delay}}
	t.Cleanup(func() { _ = tr.Close(); _ = udp.Close() })
	ln, err := tr.ListenEarly(stls, &quic.Config{Allow0RTT: allow0RTT, MaxIdleTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	conns := make(chan *quic.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			conns <- c
			go echoServe(ctx, quicgoadapter.Wrap(c))
		}
	}()
	return udp.LocalAddr(), conns
}

// ticketTLS gives a server configuration fixed session ticket keys, so
// that a second server instance resumes the first one's sessions.
func ticketTLS(t *testing.T, stls *tls.Config) *tls.Config {
	t.Helper()
	stls = stls.Clone()
	if _, err := rand.Read(stls.SessionTicketKey[:]); err != nil {
		t.Fatal(err)
	}
	return stls
}

// TestInteropConnZeroRTTBridgeClient: the bridge client resumes a session
// with a quic-go server that allows 0-RTT and sends its request in 0-RTT
// packets under the server limits it remembered with the ticket; quic-go
// accepts them and echoes the data.
func TestInteropConnZeroRTTBridgeClient(t *testing.T) {
	stls, ctls := interopTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr, conns := quicGoEchoServer(t, ctx, stls, true, 20*time.Millisecond)
	cache := newSignalCache()
	ctls = ctls.Clone()
	ctls.ClientSessionCache = cache

	c1, err := Dial(ctx, addr.String(), ctls, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := echoPayload(ctx, c1, []byte("first connection")); err != nil {
		t.Fatal(err)
	}
	cache.wait(t)
	closeAndWaitFreed(t, c1)
	<-conns

	c2, err := DialEarly(ctx, addr.String(), ctls, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAndWaitFreed(t, c2)
	data := randomBytes(t, 8000)
	if err := echoPayload(ctx, c2, data); err != nil {
		t.Fatalf("%v (stats %+v)", err, c2.Stats())
	}
	<-c2.HandshakeComplete()
	st := c2.Stats()
	if st.EarlySent == 0 || st.EarlyRequeued != 0 {
		t.Fatalf("0-RTT packets sent %d, requeued %d", st.EarlySent, st.EarlyRequeued)
	}
	if cs := c2.State(); !cs.Used0RTT || !cs.TLS.DidResume {
		t.Fatalf("Used0RTT %v DidResume %v", cs.Used0RTT, cs.TLS.DidResume)
	}
	q := <-conns
	if !q.ConnectionState().Used0RTT {
		t.Fatal("quic-go did not accept 0-RTT")
	}
}

// TestInteropConnZeroRTTRejectedBridgeClient: the server restarts with the
// same ticket keys but 0-RTT disallowed (quic-go Allow0RTT false): the
// session resumes, the 0-RTT packets are rejected, and the bridge sends
// their data again in 1-RTT packets; the echo is complete and intact.
func TestInteropConnZeroRTTRejectedBridgeClient(t *testing.T) {
	stls, ctls := interopTLS(t)
	stls = ticketTLS(t, stls)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr1, _ := quicGoEchoServer(t, ctx, stls, true, 0)
	cache := newSignalCache()
	ctls = ctls.Clone()
	ctls.ClientSessionCache = cache
	c1, err := Dial(ctx, addr1.String(), ctls, nil)
	if err != nil {
		t.Fatal(err)
	}
	cache.wait(t)
	closeAndWaitFreed(t, c1)

	addr2, conns := quicGoEchoServer(t, ctx, stls, false, 20*time.Millisecond)
	c2, err := DialEarly(ctx, addr2.String(), ctls, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAndWaitFreed(t, c2)
	data := randomBytes(t, 20000)
	if err := echoPayload(ctx, c2, data); err != nil {
		t.Fatalf("%v (stats %+v)", err, c2.Stats())
	}
	st := c2.Stats()
	if st.EarlySent == 0 || st.EarlyRequeued == 0 {
		t.Fatalf("0-RTT packets sent %d, requeued %d", st.EarlySent, st.EarlyRequeued)
	}
	if cs := c2.State(); cs.Used0RTT || !cs.TLS.DidResume {
		t.Fatalf("Used0RTT %v DidResume %v", cs.Used0RTT, cs.TLS.DidResume)
	}
	if q := <-conns; q.ConnectionState().Used0RTT {
		t.Fatal("quic-go reports 0-RTT used")
	}
}

// closeAndWaitFreed closes a bridge connection and waits until the engine
// let it go, so that no connection outlives its test (tests that count
// live buffers run later).
func closeAndWaitFreed(t *testing.T, c *Conn) {
	_ = c.CloseWithError(0, "")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		c.mu.Lock()
		freed := c.freed
		c.mu.Unlock()
		if freed {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("connection not freed 10 s after its close")
}

// bridgeEchoListener runs a bridge listener echoing every stream and
// returns it with the connections it accepted, which are closed and
// freed when the test ends.
func bridgeEchoListener(t *testing.T, ctx context.Context, stls *tls.Config, cfg *Config) (*Listener, <-chan *Conn) {
	t.Helper()
	ln, err := Listen("127.0.0.1:0", stls, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var all []*Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range all {
			closeAndWaitFreed(t, c)
		}
	})
	conns := make(chan *Conn, 4)
	go func() {
		for {
			c, err := ln.AcceptConn(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			all = append(all, c)
			mu.Unlock()
			conns <- c
			go echoServe(ctx, c)
		}
	}()
	return ln, conns
}

// quicGoDialEarly dials with quic-go from a socket whose datagrams leave
// after delay.
func quicGoDialEarly(t *testing.T, ctx context.Context, addr net.Addr, ctls *tls.Config,
	delay time.Duration) *quic.Conn {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: &delayConn{PacketConn: udp, d: delay}}
	t.Cleanup(func() { _ = tr.Close(); _ = udp.Close() })
	qc, err := tr.DialEarly(ctx, addr, ctls, &quic.Config{MaxIdleTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = qc.CloseWithError(0, "") })
	return qc
}

// TestInteropConnZeroRTTBridgeServer: a quic-go client resumes with a
// bridge server that enables early data; the bridge accepts its 0-RTT
// packets (0-RTT keys from TLS, stream data processed before the
// handshake completes) and echoes the data.
func TestInteropConnZeroRTTBridgeServer(t *testing.T) {
	stls, ctls := interopTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ln, conns := bridgeEchoListener(t, ctx, stls, &Config{EnableEarlyData: true})
	cache := newSignalCache()
	ctls = ctls.Clone()
	ctls.ClientSessionCache = cache

	q1 := quicGoDialEarly(t, ctx, ln.Addr(), ctls, 0)
	if err := echoPayload(ctx, quicgoadapter.Wrap(q1), []byte("first connection")); err != nil {
		t.Fatal(err)
	}
	cache.wait(t)
	_ = q1.CloseWithError(0, "")
	<-conns

	q2 := quicGoDialEarly(t, ctx, ln.Addr(), ctls, 20*time.Millisecond)
	data := randomBytes(t, 8000)
	if err := echoPayload(ctx, quicgoadapter.Wrap(q2), data); err != nil {
		t.Fatal(err)
	}
	if cs := q2.ConnectionState(); !cs.Used0RTT || !cs.TLS.DidResume {
		t.Fatalf("quic-go: Used0RTT %v DidResume %v", cs.Used0RTT, cs.TLS.DidResume)
	}
	b := <-conns
	if !b.State().Used0RTT {
		t.Fatal("bridge: 0-RTT not accepted")
	}
	if st := b.Stats(); st.EarlyReceived == 0 {
		t.Fatalf("bridge received no 0-RTT packet (stats %+v)", st)
	}
}

// TestInteropConnZeroRTTRejectedBridgeServer: the bridge server restarts
// with the same ticket keys but a smaller stream limit than the ticket
// remembers (RFC 9000 7.4.1): it resumes the session but declines 0-RTT
// and drops the 0-RTT packets; quic-go learns of the rejection and sends
// its request again on the new connection.
func TestInteropConnZeroRTTRejectedBridgeServer(t *testing.T) {
	stls, ctls := interopTLS(t)
	stls = ticketTLS(t, stls)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ln1, _ := bridgeEchoListener(t, ctx, stls, &Config{EnableEarlyData: true})
	cache := newSignalCache()
	ctls = ctls.Clone()
	ctls.ClientSessionCache = cache
	q1 := quicGoDialEarly(t, ctx, ln1.Addr(), ctls, 0)
	cache.wait(t)
	_ = q1.CloseWithError(0, "")

	ln2, conns := bridgeEchoListener(t, ctx, stls, &Config{EnableEarlyData: true, MaxIncomingStreams: 50})
	q2 := quicGoDialEarly(t, ctx, ln2.Addr(), ctls, 20*time.Millisecond)
	data := randomBytes(t, 8000)
	err := echoPayload(ctx, quicgoadapter.Wrap(q2), data)
	if !errors.Is(err, quic.Err0RTTRejected) {
		t.Fatalf("0-RTT echo: %v, want the rejection", err)
	}
	next, err := q2.NextConnection(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := echoPayload(ctx, quicgoadapter.Wrap(next), data); err != nil {
		t.Fatal(err)
	}
	if cs := next.ConnectionState(); cs.Used0RTT || !cs.TLS.DidResume {
		t.Fatalf("quic-go: Used0RTT %v DidResume %v", cs.Used0RTT, cs.TLS.DidResume)
	}
	b := <-conns
	if cs := b.State(); cs.Used0RTT || !cs.TLS.DidResume {
		t.Fatalf("bridge: Used0RTT %v DidResume %v", cs.Used0RTT, cs.TLS.DidResume)
	}
	if st := b.Stats(); st.EarlyReceived != 0 {
		t.Fatalf("bridge processed %d 0-RTT packets", st.EarlyReceived)
	}
}
