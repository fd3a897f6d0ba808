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
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

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
	cleanup        func()
}

type pairOptions struct {
	bridgeServer bool // bridge is the server, quic-go the client
	cfg          *Config
	qcfg         *quic.Config
}

func quicGoCfg(o pairOptions) *quic.Config {
	if o.qcfg != nil {
		return o.qcfg
	}
	return &quic.Config{MaxIdleTimeout: 10 * time.Second}
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
	ln, err := quic.ListenAddr("127.0.0.1:0", stls, quicGoCfg(o))
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
	return &peerPair{client: bc, server: quicgoadapter.Wrap(r.c), bridge: bc, cleanup: func() {
		_ = bc.CloseWithError(0, "")
		_ = r.c.CloseWithError(0, "")
		_ = ln.Close()
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
		t.Fatal(err)
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

var _ = errors.New
var _ = net.ErrClosed
var _ sync.Mutex
