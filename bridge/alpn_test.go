package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"testing"
)

// clientHello returns the ClientHello crypto/tls sends for a QUIC client
// offering alpns.
func clientHello(tb testing.TB, alpns []string) []byte {
	tb.Helper()
	q := tls.QUICClient(&tls.QUICConfig{TLSConfig: &tls.Config{ServerName: "example.com", NextProtos: alpns,
		MinVersion: tls.VersionTLS13}})
	q.SetTransportParameters([]byte{})
	if err := q.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	defer q.Close()
	var hello []byte
	for ev := q.NextEvent(); ev.Kind != tls.QUICNoEvent; ev = q.NextEvent() {
		if ev.Kind == tls.QUICWriteData && ev.Level == tls.QUICEncryptionLevelInitial {
			hello = append(hello, ev.Data...)
		}
	}
	if len(hello) == 0 {
		tb.Fatal("crypto/tls wrote no ClientHello")
	}
	return hello
}

func TestClientHelloALPN(t *testing.T) {
	for _, alpns := range [][]string{{"h3"}, {"zzz", "beta", "alpha"}, {string(make([]byte, 255))}} {
		hello := clientHello(t, alpns)
		got, err := ClientHelloALPN(hello)
		if err != nil || !slices.Equal(got, alpns) {
			t.Fatalf("ALPN of a ClientHello offering %q: %q, %v", alpns, got, err)
		}
		// Every prefix: truncated until the extension is in, then found.
		found := false
		for n := 0; n < len(hello); n++ {
			got, err := ClientHelloALPN(hello[:n])
			switch {
			case err == nil:
				if !slices.Equal(got, alpns) {
					t.Fatalf("prefix %d: %q", n, got)
				}
				found = true
			case errors.Is(err, ErrHelloTruncated):
				if found {
					t.Fatalf("prefix %d truncated after a shorter one held the extension", n)
				}
			default:
				t.Fatalf("prefix %d of %d: %v", n, len(hello), err)
			}
		}
	}
	if _, err := ClientHelloALPN(clientHello(t, nil)); !errors.Is(err, ErrHelloNoALPN) {
		t.Fatalf("ClientHello without ALPN: %v", err)
	}
	bad := clientHello(t, []string{"h3"})
	bad[0] = 2 // a ServerHello
	if _, err := ClientHelloALPN(bad); !errors.Is(err, ErrHelloMalformed) {
		t.Fatalf("not a ClientHello: %v", err)
	}
}

func FuzzClientHelloALPN(f *testing.F) {
	f.Add(clientHello(f, []string{"h3", "alpha"}))
	f.Add(clientHello(f, nil))
	f.Fuzz(func(t *testing.T, msg []byte) {
		names, err := ClientHelloALPN(msg)
		if err != nil {
			return
		}
		if len(names) == 0 {
			t.Fatal("success without a protocol")
		}
		for _, n := range names {
			if n == "" {
				t.Fatal("an empty protocol name")
			}
		}
	})
}
