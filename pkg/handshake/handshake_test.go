package handshake

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"testing"

	"github.com/tquic/tquic/internal/quicgoadapter"
)

// fakeEngine records what the driver hands an engine.
type fakeEngine struct {
	name     string
	local    []byte
	peer     []byte
	out      map[Level][]byte
	secrets  map[string][]byte
	complete bool
	alert    int
	rejected bool
}

func newFake(name string, tp []byte) *fakeEngine {
	return &fakeEngine{name: name, local: tp, out: map[Level][]byte{}, secrets: map[string][]byte{}, alert: -1}
}

func (f *fakeEngine) InstallSecret(level Level, write bool, suite uint16, secret []byte) error {
	dir := "read"
	if write {
		dir = "write"
	}
	f.secrets[fmt.Sprintf("%v/%s/%#x", level, dir, suite)] = bytes.Clone(secret)
	return nil
}

func (f *fakeEngine) WriteCrypto(level Level, data []byte) error {
	f.out[level] = append(f.out[level], data...)
	return nil
}

func (f *fakeEngine) LocalTransportParameters() ([]byte, error) { return f.local, nil }
func (f *fakeEngine) SetPeerTransportParameters(p []byte) error {
	f.peer = bytes.Clone(p)
	return nil
}
func (f *fakeEngine) HandshakeComplete() { f.complete = true }
func (f *fakeEngine) Alert(alert uint8)  { f.alert = int(alert) }
func (f *fakeEngine) RejectedEarlyData() { f.rejected = true }

// pump moves CRYPTO bytes between the two drivers until neither has more.
func pump(t *testing.T, a, b *Driver, fa, fb *fakeEngine) error {
	t.Helper()
	for moved := true; moved; {
		moved = false
		for _, dir := range []struct {
			from *fakeEngine
			to   *Driver
		}{{fa, b}, {fb, a}} {
			for _, lvl := range []Level{tls.QUICEncryptionLevelInitial, tls.QUICEncryptionLevelHandshake, tls.QUICEncryptionLevelApplication} {
				data := dir.from.out[lvl]
				if len(data) == 0 {
					continue
				}
				delete(dir.from.out, lvl)
				moved = true
				if err := dir.to.HandleData(lvl, data); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func TestDriverHandshake(t *testing.T) {
	stls, ctls, err := quicgoadapter.SelfSignedTLS("hs")
	if err != nil {
		t.Fatal(err)
	}
	fc := newFake("client", []byte("client-tp"))
	fs := newFake("server", []byte("server-tp"))
	c := NewClient(Config{TLS: ctls}, fc, fc.local)
	s := NewServer(Config{TLS: stls}, fs)
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pump(t, c, s, fc, fs); err != nil {
		t.Fatal(err)
	}
	if !c.Done() || !s.Done() || !fc.complete || !fs.complete {
		t.Fatal("handshake not complete")
	}
	if string(fc.peer) != "server-tp" || string(fs.peer) != "client-tp" {
		t.Fatalf("transport parameters %q %q", fc.peer, fs.peer)
	}
	// Each side's write secret is the other's read secret, per level.
	for k, v := range fc.secrets {
		other := bytes.Replace([]byte(k), []byte("/write/"), []byte("/read/"), 1)
		if bytes.Equal(other, []byte(k)) {
			other = bytes.Replace([]byte(k), []byte("/read/"), []byte("/write/"), 1)
		}
		if !bytes.Equal(fs.secrets[string(other)], v) {
			t.Fatalf("secret %s has no mirror on the server", k)
		}
	}
	if len(fc.secrets) != 4 {
		t.Fatalf("%d client secrets", len(fc.secrets))
	}
	if c.ConnectionState().NegotiatedProtocol != "hs" {
		t.Fatal("ALPN")
	}
}

// TestDriverAlert: a certificate the client does not trust ends the
// handshake with a TLS alert for CONNECTION_CLOSE 0x100 + alert.
func TestDriverAlert(t *testing.T) {
	stls, _, err := quicgoadapter.SelfSignedTLS("hs")
	if err != nil {
		t.Fatal(err)
	}
	_, ctls, err := quicgoadapter.SelfSignedTLS("hs") // trusts another certificate
	if err != nil {
		t.Fatal(err)
	}
	fc := newFake("client", []byte("c"))
	fs := newFake("server", []byte("s"))
	c := NewClient(Config{TLS: ctls}, fc, fc.local)
	s := NewServer(Config{TLS: stls}, fs)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := pump(t, c, s, fc, fs); err == nil {
		t.Fatal("handshake with an untrusted certificate succeeded")
	}
	if fc.alert != 42 && fc.alert != 48 {
		t.Fatalf("client alert %d, want bad_certificate (42) or unknown_ca (48)", fc.alert)
	}
	if c.Err() == nil || fc.complete {
		t.Fatal("driver did not record the failure")
	}
}
