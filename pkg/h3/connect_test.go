package h3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/transport"
)

// tunnel is what both implementations' taken-over streams offer.
type tunnel interface {
	io.ReadWriteCloser
	SendDatagram([]byte) error
	ReceiveDatagram(context.Context) ([]byte, error)
}

// serveEcho echoes capsules and HTTP datagrams on a taken-over stream.
func serveEcho(str tunnel) {
	go func() {
		for {
			d, err := str.ReceiveDatagram(context.Background())
			if err != nil {
				return
			}
			str.SendDatagram(append([]byte("echo:"), d...))
		}
	}()
	r := capsule.NewReader(str, 1<<20)
	for {
		c, err := r.ReadCapsule()
		if err != nil {
			str.Close()
			return
		}
		if err := capsule.Write(str, c.Type, c.Value); err != nil {
			return
		}
	}
}

func connectHandler(takeOver func(http.ResponseWriter) tunnel) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Proto != "echo-capsules" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Capsule-Protocol", "?1")
		w.WriteHeader(http.StatusOK)
		serveEcho(takeOver(w))
	})
}

func exerciseTunnel(t *testing.T, ctx context.Context, str tunnel) {
	t.Helper()
	values := [][]byte{[]byte("first"), bytes.Repeat([]byte{0xab}, 10000), nil}
	types := []capsule.Type{capsule.TypeDatagram, capsule.GreaseType(5), 0x2843}
	go func() {
		for i := range values {
			capsule.Write(str, types[i], values[i])
		}
	}()
	r := capsule.NewReader(str, 1<<20)
	for i := range values {
		c, err := r.ReadCapsule()
		if err != nil || c.Type != types[i] || !bytes.Equal(c.Value, values[i]) {
			t.Fatalf("capsule %d: %v type %#x len %d", i, err, uint64(c.Type), len(c.Value))
		}
	}
	// HTTP datagrams are unreliable: resend until an echo arrives.
	var got []byte
	for attempt := 0; got == nil && attempt < 50; attempt++ {
		if err := str.SendDatagram([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		d, err := str.ReceiveDatagram(dctx)
		cancel()
		if err == nil {
			got = d
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
	}
	if string(got) != "echo:ping" {
		t.Fatalf("datagram echo %q", got)
	}
	str.Close()
	if _, err := r.ReadCapsule(); err != io.EOF {
		t.Fatalf("after close: %v", err)
	}
}

func TestInteropExtendedConnectAndDatagrams(t *testing.T) {
	tp := newTLS(t)
	ctx := testCtx(t, 30*time.Second)
	_, qAddr := quicGoServer(t, tp, connectHandler(func(w http.ResponseWriter) tunnel {
		return w.(http3.HTTPStreamer).HTTPStream()
	}))
	_, oAddr := ourServer(t, tp, connectHandler(func(w http.ResponseWriter) tunnel {
		s, err := w.(h3.StreamTaker).TakeStream()
		if err != nil {
			panic(err)
		}
		return s
	}), nil)
	req := func(addr string) *http.Request {
		u, _ := url.Parse(fmt.Sprintf("https://%s/echo", addr))
		return (&http.Request{Method: http.MethodConnect, Proto: "echo-capsules", URL: u, Host: u.Host, Header: http.Header{"Capsule-Protocol": {"?1"}}}).WithContext(ctx)
	}

	t.Run("tquicClient-quicgoServer", func(t *testing.T) {
		c := ourClient(t, tp)
		cc, err := c.ClientConnFor(ctx, qAddr)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := cc.OpenRequestStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := rs.SendRequestHeader(req(qAddr)); err != nil {
			t.Fatal(err)
		}
		resp, err := rs.ReadResponse()
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Capsule-Protocol") != "?1" {
			t.Fatalf("response %v %v", resp, err)
		}
		exerciseTunnel(t, ctx, rs)
	})

	t.Run("quicgoClient-tquicServer", func(t *testing.T) {
		tr := quicGoClient(t, tp)
		qc, err := quic.DialAddr(ctx, oAddr, http3.ConfigureTLSConfig(tp.client), quicConf)
		if err != nil {
			t.Fatal(err)
		}
		defer qc.CloseWithError(0, "")
		cc := tr.NewClientConn(qc)
		select {
		case <-cc.ReceivedSettings():
		case <-ctx.Done():
			t.Fatal("no SETTINGS")
		}
		if s := cc.Settings(); !s.EnableExtendedConnect || !s.EnableDatagrams {
			t.Fatalf("our server's settings as seen by quic-go: %+v", s)
		}
		rs, err := cc.OpenRequestStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := rs.SendRequestHeader(req(oAddr)); err != nil {
			t.Fatal(err)
		}
		resp, err := rs.ReadResponse()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("response %v %v", resp, err)
		}
		exerciseTunnel(t, ctx, rs)
	})
}

// lateSettingsListener holds back the peer's unidirectional streams (and
// so its SETTINGS) until release is closed.
type lateSettingsListener struct {
	transport.Listener
	release chan struct{}
}

func (l *lateSettingsListener) Accept(ctx context.Context) (transport.Connection, error) {
	c, err := l.Listener.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return &lateSettingsConn{Connection: c, release: l.release}, nil
}

type lateSettingsConn struct {
	transport.Connection
	release chan struct{}
}

func (c *lateSettingsConn) AcceptUniStream(ctx context.Context) (transport.ReceiveStream, error) {
	select {
	case <-c.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return c.Connection.AcceptUniStream(ctx)
}

// releasingStream releases the client's SETTINGS on its first
// ReceiveDatagram call.
type releasingStream struct {
	*h3.Stream
	once    sync.Once
	release chan struct{}
}

func (s *releasingStream) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	s.once.Do(func() { close(s.release) })
	return s.Stream.ReceiveDatagram(ctx)
}

// A handler that takes over a stream before the client's SETTINGS arrive
// (the control stream is not ordered with request streams) must still
// receive and send HTTP datagrams once they do.
func TestDatagramsBeforePeerSettings(t *testing.T) {
	tp := newTLS(t)
	ctx := testCtx(t, 30*time.Second)
	release := make(chan struct{})
	ln, err := quicgoadapter.Listen("127.0.0.1:0", tp.server, quicConf)
	if err != nil {
		t.Fatal(err)
	}
	srv := &h3.Server{
		Handler: connectHandler(func(w http.ResponseWriter) tunnel {
			s, err := w.(h3.StreamTaker).TakeStream()
			if err != nil {
				panic(err)
			}
			return &releasingStream{Stream: s, release: release}
		}),
		Config: h3.Config{EnableDatagrams: true, EnableConnectProtocol: true},
	}
	go srv.Serve(&lateSettingsListener{Listener: ln, release: release})
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	tr := quicGoClient(t, tp)
	qc, err := quic.DialAddr(ctx, addr, http3.ConfigureTLSConfig(tp.client), quicConf)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.CloseWithError(0, "")
	cc := tr.NewClientConn(qc)
	select {
	case <-cc.ReceivedSettings():
	case <-ctx.Done():
		t.Fatal("no SETTINGS")
	}
	rs, err := cc.OpenRequestStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(fmt.Sprintf("https://%s/echo", addr))
	req := (&http.Request{Method: http.MethodConnect, Proto: "echo-capsules", URL: u, Host: u.Host, Header: http.Header{"Capsule-Protocol": {"?1"}}}).WithContext(ctx)
	if err := rs.SendRequestHeader(req); err != nil {
		t.Fatal(err)
	}
	resp, err := rs.ReadResponse()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("response %v %v", resp, err)
	}
	exerciseTunnel(t, ctx, rs)
}
