package quicgoadapter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tquic/tquic/pkg/transport"
)

func pair(t *testing.T) (client, server transport.Connection) {
	t.Helper()
	stls, ctls, err := SelfSignedTLS("test")
	if err != nil {
		t.Fatal(err)
	}
	conf := &quic.Config{EnableDatagrams: true}
	ln, err := Listen("127.0.0.1:0", stls, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	accepted := make(chan transport.Connection, 1)
	go func() {
		c, err := ln.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	c, err := Dialer(conf)(ctx, ln.Addr().String(), ctls)
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	t.Cleanup(func() { c.CloseWithError(0, ""); s.CloseWithError(0, "") })
	return c, s
}

func TestStreamsDatagramsAndErrors(t *testing.T) {
	c, s := pair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if st := c.State(); st.ALPN != "test" || st.Version != 1 || !st.Datagrams {
		t.Fatalf("client state = %+v", st)
	}

	// Bidirectional stream with FIN in both directions.
	cs, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := cs.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	ss, err := s.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ss.StreamID() != cs.StreamID() || !ss.StreamID().IsClientInitiated() || ss.StreamID().IsUnidirectional() {
		t.Fatalf("stream IDs %d/%d", ss.StreamID(), cs.StreamID())
	}
	got, err := io.ReadAll(ss)
	if err != nil || string(got) != "ping" {
		t.Fatalf("read %q, %v", got, err)
	}

	// RESET_STREAM surfaces as a transport.StreamError with the code.
	if _, err := ss.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	ss.CancelWrite(0x10c)
	_, err = io.ReadAll(cs)
	var se *transport.StreamError
	if !errors.As(err, &se) || se.ErrorCode != 0x10c || !se.Remote {
		t.Fatalf("read after reset: %v", err)
	}

	// Unidirectional stream.
	us, err := s.OpenUniStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	us.Write([]byte("uni"))
	us.Close()
	ur, err := c.AcceptUniStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ur.StreamID().IsUnidirectional() || ur.StreamID().IsClientInitiated() {
		t.Fatalf("uni stream ID %d", ur.StreamID())
	}
	if got, _ := io.ReadAll(ur); string(got) != "uni" {
		t.Fatalf("uni read %q", got)
	}

	// Datagrams.
	if err := c.SendDatagram([]byte("dgram")); err != nil {
		t.Fatal(err)
	}
	d, err := s.ReceiveDatagram(ctx)
	if err != nil || !bytes.Equal(d, []byte("dgram")) {
		t.Fatalf("datagram %q, %v", d, err)
	}
	var tooLarge *transport.DatagramTooLargeError
	if err := c.SendDatagram(make([]byte, 5000)); !errors.As(err, &tooLarge) || tooLarge.MaxPayload <= 0 {
		t.Fatalf("oversized datagram: %v", err)
	}

	// Application close reaches the peer's context as an ApplicationError.
	c.CloseWithError(0x100, "bye")
	<-s.Context().Done()
	var ae *transport.ApplicationError
	if cause := context.Cause(s.Context()); !errors.As(cause, &ae) || ae.ErrorCode != 0x100 || !ae.Remote || ae.Message != "bye" {
		t.Fatalf("close cause %v", cause)
	}
	if !transport.IsConnectionError(context.Cause(s.Context())) {
		t.Fatal("application close not a connection error")
	}
	if _, err := s.AcceptStream(ctx); !errors.As(err, &ae) {
		t.Fatalf("accept after close: %v", err)
	}
}
