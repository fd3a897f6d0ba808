package perf

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net"
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

func TestTCPTLS(t *testing.T) {
	stls, ctls, err := quicgoadapter.SelfSignedTLS("perf")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go TCPServe(ctx, ln, stls, false)
	up, down, err := TCPRun(ctx, ln.Addr().String(), ctls, false, 1_000_000, 2_000_000)
	if err != nil || up != 1_000_000 || down != 2_000_000 {
		t.Fatalf("%d up, %d down: %v", up, down, err)
	}
}

// The kTLS key schedule against RFC 8448's simple 1-RTT handshake: the
// server's application traffic secret gives this key and IV.
func TestKTLSKeySchedule(t *testing.T) {
	secret, _ := hex.DecodeString("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643")
	info, err := cryptoInfo(tls.TLS_AES_128_GCM_SHA256, secret)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 8448: key 9f02283b..., iv cf782b88dd83549aadf1e984. Laid out as
	// version, cipher, iv[4:12], key, salt = iv[0:4], record sequence.
	want := "0403" + "3300" + "dd83549aadf1e984" + "9f02283b6c9c07efc26bb9f2ac92e356" +
		"cf782b88" + "0000000000000000"
	if got := hex.EncodeToString(info); got != want {
		t.Fatalf("crypto info\n got %s\nwant %s", got, want)
	}
}
