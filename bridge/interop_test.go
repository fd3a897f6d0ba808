package bridge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// datagramRecord is one UDP datagram seen by the client.
type datagramRecord struct {
	fromClient bool
	data       []byte
}

// recordingConn wraps the client's socket and records every datagram in
// both directions.  It implements only net.PacketConn, so quic-go sends
// and receives one datagram per call (no GSO, no batching).
type recordingConn struct {
	net.PacketConn
	mu   sync.Mutex
	recs []datagramRecord
}

func (c *recordingConn) add(fromClient bool, b []byte) {
	c.mu.Lock()
	c.recs = append(c.recs, datagramRecord{fromClient, bytes.Clone(b)})
	c.mu.Unlock()
}

func (c *recordingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(b)
	if err == nil {
		c.add(false, b[:n])
	}
	return n, addr, err
}

func (c *recordingConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	// Recorded before it is sent, so that it precedes any answer.
	c.add(true, b)
	return c.PacketConn.WriteTo(b, addr)
}

func (c *recordingConn) records() []datagramRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]datagramRecord(nil), c.recs...)
}

func testTLSConfig(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tquic-test"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		NextProtos:   []string{"tquic-test"},
	}
}

const (
	interopStreamBytes = 400 * 1024
	interopDatagrams   = 30
)

// runQuicGoPair runs a quic-go client and server on 127.0.0.1: the client
// sends stream data (echoed back) and datagrams (echoed back).  It returns
// the client's datagram records, its key log and the negotiated suite.
func runQuicGoPair(t *testing.T, version quic.Version) ([]datagramRecord, []byte, uint16) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	sconn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sconn.Close()
	strans := &quic.Transport{Conn: sconn}
	defer strans.Close()
	qconf := &quic.Config{Versions: []quic.Version{version}, EnableDatagrams: true, MaxIdleTimeout: 10 * time.Second}
	ln, err := strans.Listen(testTLSConfig(t), qconf)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	serverErr := make(chan error, 1)
	go func() {
		serverErr <- func() error {
			conn, err := ln.Accept(ctx)
			if err != nil {
				return err
			}
			go func() {
				for {
					d, err := conn.ReceiveDatagram(ctx)
					if err != nil {
						return
					}
					_ = conn.SendDatagram(d)
				}
			}()
			str, err := conn.AcceptStream(ctx)
			if err != nil {
				return err
			}
			if _, err := io.Copy(str, str); err != nil {
				return fmt.Errorf("server echo: %w", err)
			}
			if err := str.Close(); err != nil {
				return err
			}
			<-conn.Context().Done()
			return nil
		}()
	}()

	cudp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingConn{PacketConn: cudp}
	ctrans := &quic.Transport{Conn: rec}
	defer ctrans.Close()
	var keylog bytes.Buffer
	ctls := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"tquic-test"}, KeyLogWriter: &keylog}
	conn, err := ctrans.Dial(ctx, sconn.LocalAddr(), ctls, qconf)
	if err != nil {
		t.Fatal(err)
	}
	if got := conn.ConnectionState().Version; got != version {
		t.Fatalf("negotiated %v, want %v", got, version)
	}
	suite := conn.ConnectionState().TLS.CipherSuite

	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, interopStreamBytes)
	rand.Read(data)
	go func() {
		_, _ = str.Write(data)
		_ = str.Close()
	}()
	for i := 0; i < interopDatagrams; i++ {
		if err := conn.SendDatagram([]byte(fmt.Sprintf("datagram %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	echo, err := io.ReadAll(str)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(echo, data) {
		t.Fatalf("stream echo: %d bytes, mismatch", len(echo))
	}
	dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
	got := 0
	for got < interopDatagrams {
		if _, err := conn.ReceiveDatagram(dctx); err != nil {
			break
		}
		got++
	}
	dcancel()
	if got == 0 {
		t.Fatal("no datagram echoed")
	}
	_ = conn.CloseWithError(0, "done")
	if err := <-serverErr; err != nil && !isClosed(err) {
		t.Fatalf("server: %v", err)
	}
	// Let the close exchange settle before the records are read.
	time.Sleep(100 * time.Millisecond)
	return rec.records(), keylog.Bytes(), suite
}

func isClosed(err error) bool {
	var ae *quic.ApplicationError
	return errors.As(err, &ae) || errors.Is(err, net.ErrClosed)
}

// parseKeyLog reads NSS key log lines into label -> secret.
func parseKeyLog(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		s, err := hex.DecodeString(f[2])
		if err != nil {
			t.Fatalf("key log: %v", err)
		}
		m[f[0]] = s
	}
	return m
}

// direction holds the receive state for one direction of the connection.
type direction struct {
	name      string
	initial   *Keys
	handshake *Keys
	appHP     *Keys // the first 1-RTT keys: header protection never changes
	app       *Keys // current key phase
	appPhase  int
	suite     Suite
	// quicGoKU counts v2 key updates that only opened with the v1 label
	// "quic ku": quic-go v0.62 derives v2 key updates that way, where
	// RFC 9369 section 3.3.2 specifies "quicv2 ku".
	quicGoKU   int
	dcidLen    int // length of the short header DCID in this direction
	largest    map[PacketType]uint64
	keyUpdates int
	closers    []*Keys
}

func (d *direction) close() {
	for _, k := range d.closers {
		k.Close()
	}
}

type interopStats struct {
	datagrams, packets, frames int
	byType                     map[PacketType]int
	failures                   int
}

// decryptAll removes protection from every recorded packet in both
// directions and checks every frame.
func decryptAll(t *testing.T, version uint32, recs []datagramRecord, keylog []byte, tlsSuite uint16) interopStats {
	t.Helper()
	st := interopStats{byType: map[PacketType]int{}}
	fail := func(format string, args ...any) {
		st.failures++
		if st.failures <= 20 {
			t.Errorf(format, args...)
		}
	}
	var suite Suite
	switch tlsSuite {
	case tls.TLS_AES_128_GCM_SHA256:
		suite = SuiteAES128GCMSHA256
	case tls.TLS_AES_256_GCM_SHA384:
		suite = SuiteAES256GCMSHA384
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		suite = SuiteChaCha20Poly1305SHA256
	default:
		t.Fatalf("unexpected cipher suite %#x", tlsSuite)
	}
	secrets := parseKeyLog(t, keylog)
	for _, l := range []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
		"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} {
		if secrets[l] == nil {
			t.Fatalf("key log lacks %s", l)
		}
	}

	// The client's first Initial gives the Initial keys and the client's
	// CID length; the server's first Initial gives the server's.
	if len(recs) == 0 || !recs[0].fromClient {
		t.Fatal("the client's first Initial is not the first datagram recorded")
	}
	first, err := ParseHeader(recs[0].data, 0, 0)
	if err != nil || first.Type != PacketInitial {
		t.Fatalf("first datagram: %+v %v", first, err)
	}
	odcid := bytes.Clone(first.DCID)
	clientCIDLen := len(first.SCID)
	serverCIDLen := -1
	for _, r := range recs {
		if r.fromClient {
			continue
		}
		if h, err := ParseHeader(r.data, 0, 0); err == nil && h.Type == PacketInitial {
			serverCIDLen = len(h.SCID)
			break
		}
	}
	if serverCIDLen < 0 {
		t.Fatal("no server Initial recorded")
	}

	mk := func(suite Suite, secret []byte) *Keys {
		k, err := NewKeys(version, suite, secret)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ci, si, err := InitialKeys(version, odcid)
	if err != nil {
		t.Fatal(err)
	}
	c2s := &direction{name: "client->server", initial: ci, dcidLen: serverCIDLen,
		handshake: mk(suite, secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"]),
		app:       mk(suite, secrets["CLIENT_TRAFFIC_SECRET_0"]), largest: map[PacketType]uint64{}}
	s2c := &direction{name: "server->client", initial: si, dcidLen: clientCIDLen,
		handshake: mk(suite, secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"]),
		app:       mk(suite, secrets["SERVER_TRAFFIC_SECRET_0"]), largest: map[PacketType]uint64{}}
	for _, d := range []*direction{c2s, s2c} {
		d.appHP, d.suite = d.app, suite
		d.closers = append(d.closers, d.initial, d.handshake, d.app)
		defer d.close()
	}

	for i, r := range recs {
		d := s2c
		if r.fromClient {
			d = c2s
		}
		st.datagrams++
		dgram := bytes.Clone(r.data)
		hdrs, err := SplitDatagram(dgram, d.dcidLen, 0)
		if err != nil {
			fail("%s datagram %d (%d bytes): %v", d.name, i, len(dgram), err)
			continue
		}
		for j, h := range hdrs {
			pkt := dgram[h.Offset : h.Offset+h.Len]
			st.packets++
			st.byType[h.Type]++
			where := fmt.Sprintf("%s datagram %d packet %d (%v)", d.name, i, j, h.Type)
			if h.Version != 0 && h.Version != version {
				fail("%s: version %#x", where, h.Version)
				continue
			}
			var keys *Keys
			switch h.Type {
			case PacketInitial:
				keys = d.initial
			case PacketHandshake:
				keys = d.handshake
			case Packet1RTT:
				keys = d.app
			case PacketRetry:
				if err := VerifyRetry(pkt, odcid); err != nil {
					fail("%s: %v", where, err)
				}
				continue
			default:
				fail("%s: unexpected packet type", where)
				continue
			}
			largest, ok := d.largest[h.Type]
			if !ok {
				largest = PNNone
			}
			hp := keys
			if h.Type == Packet1RTT {
				hp = d.appHP
			}
			if err := hp.RemoveHeaderProtection(pkt, h, largest); err != nil {
				fail("%s: %v", where, err)
				continue
			}
			var payload []byte
			if h.Type == Packet1RTT && h.KeyPhase != d.appPhase {
				// The peer started a key update (RFC 9001 section 6).
				keys, payload, err = d.keyUpdate(t, version, pkt, h)
			} else {
				payload, err = keys.OpenPayload(pkt, h, false, 0)
			}
			if err != nil {
				fail("%s pn %d kp %d/%d first %02x len %d dcid %x: %v", where, h.PN, h.KeyPhase, d.appPhase, h.First, h.Len, h.DCID, err)
				continue
			}
			if keys != d.app && h.Type == Packet1RTT {
				d.app, d.appPhase = keys, h.KeyPhase
				d.keyUpdates++
			}
			if largest == PNNone || h.PN > largest {
				d.largest[h.Type] = h.PN
			}
			n, err := CheckFrames(payload)
			if err != nil {
				fail("%s pn %d: frames: %v", where, h.PN, err)
			}
			st.frames += n
		}
	}
	t.Logf("key updates seen: client->server %d, server->client %d", c2s.keyUpdates, s2c.keyUpdates)
	if n := c2s.quicGoKU + s2c.quicGoKU; n > 0 {
		t.Logf("%d QUIC v2 key updates derived by quic-go with \"quic ku\" instead of RFC 9369's \"quicv2 ku\"", n)
	}
	if c2s.keyUpdates+s2c.keyUpdates == 0 {
		t.Errorf("no key update exercised (quic-go updates after 100 packets)")
	}
	return st
}

// keyUpdate opens a packet whose key phase changed with the next keys.
// For QUIC v2 it falls back to quic-go's derivation (next secret with the
// v1 label "quic ku", then v2 key and IV labels) and counts that.
func (d *direction) keyUpdate(t *testing.T, version uint32, pkt []byte, h *Header) (*Keys, []byte, error) {
	t.Helper()
	orig := bytes.Clone(pkt)
	next, err := d.app.Next()
	if err != nil {
		t.Fatal(err)
	}
	d.closers = append(d.closers, next)
	payload, err := next.OpenPayload(pkt, h, false, 0)
	if err == nil || version != Version2 {
		return next, payload, err
	}
	secret, err2 := NextSecret(Version1, d.suite, d.app.Secret())
	if err2 != nil {
		t.Fatal(err2)
	}
	alt, err2 := NewKeys(version, d.suite, secret)
	if err2 != nil {
		t.Fatal(err2)
	}
	d.closers = append(d.closers, alt)
	copy(pkt, orig)
	payload, err2 = alt.OpenPayload(pkt, h, false, 0)
	if err2 != nil {
		return next, nil, err
	}
	d.quicGoKU++
	return alt, payload, nil
}

func testInteropCapture(t *testing.T, version quic.Version) {
	recs, keylog, suite := runQuicGoPair(t, version)
	st := decryptAll(t, uint32(version), recs, keylog, suite)
	t.Logf("%v suite %s: %d datagrams, %d packets (Initial %d, Handshake %d, 1-RTT %d), %d frames, %d failures",
		version, tls.CipherSuiteName(suite), st.datagrams, st.packets, st.byType[PacketInitial],
		st.byType[PacketHandshake], st.byType[Packet1RTT], st.frames, st.failures)
	if st.failures != 0 {
		t.Fatalf("%d packets failed", st.failures)
	}
	if st.byType[PacketInitial] == 0 || st.byType[PacketHandshake] == 0 || st.byType[Packet1RTT] < 100 {
		t.Fatalf("too little traffic captured: %v", st.byType)
	}
}

// TestInteropQuicGoCaptureV1 removes protection from every packet of a
// quic-go connection (QUIC v1) with the engine and checks every frame.
func TestInteropQuicGoCaptureV1(t *testing.T) { testInteropCapture(t, quic.Version1) }

// TestInteropQuicGoCaptureV2 is the same over QUIC v2 (RFC 9369).
func TestInteropQuicGoCaptureV2(t *testing.T) { testInteropCapture(t, quic.Version2) }
