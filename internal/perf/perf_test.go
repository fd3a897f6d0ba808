package perf

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/transport"
)

func pair(t *testing.T) (client transport.Connection, serve func()) {
	t.Helper()
	stls, ctls, err := quicgoadapter.SelfSignedTLS("perf")
	if err != nil {
		t.Fatal(err)
	}
	qconf := &quic.Config{EnableDatagrams: true}
	ln, err := quicgoadapter.Listen("127.0.0.1:0", stls, qconf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	client, err = quicgoadapter.Dialer(qconf)(ctx, ln.Addr().String(), ctls)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CloseWithError(0, "") })
	return client, func() {
		sc, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		_ = Serve(ctx, sc)
	}
}

func TestRunVerifiesTransfers(t *testing.T) {
	client, serve := pair(t)
	go serve()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	during := 0
	res, err := Run(ctx, client, Options{Streams: 20, Parallel: 4, Upload: 100_000, Download: 300_001,
		Datagrams: 10, During: func() error { during++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.VerifiedSHA256 || res.BytesUp != 20*100_000 || res.BytesDown != 20*300_001 {
		t.Fatalf("result %+v", res)
	}
	if res.DatagramsSent != 10 || res.DatagramsEchoed == 0 {
		t.Fatalf("datagrams %d sent, %d echoed", res.DatagramsSent, res.DatagramsEchoed)
	}
	if during != 1 {
		t.Fatalf("During ran %d times", during)
	}
}

// A server that corrupts one byte is caught by the digest.
func TestRunDetectsCorruption(t *testing.T) {
	stls, ctls, err := quicgoadapter.SelfSignedTLS("perf")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := quicgoadapter.Listen("127.0.0.1:0", stls, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		sc, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		s, err := sc.AcceptStream(ctx)
		if err != nil {
			return
		}
		var hdr [headerLen]byte
		if _, err := s.Read(hdr[:]); err != nil {
			return
		}
		sum := make([]byte, 32) // a wrong upload digest
		_, _ = s.Write(sum)
		_ = s.Close()
		<-ctx.Done()
	}()
	client, err := quicgoadapter.Dialer(nil)(ctx, ln.Addr().String(), ctls)
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseWithError(0, "")
	_, err = Run(ctx, client, Options{Streams: 1, Upload: 10, Download: 10})
	if !errors.Is(err, errDigest) {
		t.Fatalf("err = %v, want a digest mismatch", err)
	}
}
