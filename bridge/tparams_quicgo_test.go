package bridge

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
)

// These tests capture real quic-go traffic on loopback, remove the packet
// protection of Initial and Handshake packets (RFC 9001 section 5, written
// out here only as a test fixture), check every frame with CheckFrames,
// reassemble the TLS messages from the CRYPTO frames our decoder returns
// and decode the quic_transport_parameters extension of the ClientHello
// and of the server's EncryptedExtensions.

var quicV1InitialSalt = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}

func expandLabel(t *testing.T, h func() hash.Hash, secret []byte, label string, n int) []byte {
	t.Helper()
	full := "tls13 " + label
	info := []byte{byte(n >> 8), byte(n), byte(len(full))}
	info = append(info, full...)
	info = append(info, 0)
	out, err := hkdf.Expand(h, secret, string(info), n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pktKeys are the packet protection keys of one direction and level.
type pktKeys struct {
	aead cipher.AEAD
	iv   []byte
	mask func(sample []byte) []byte
}

// newPktKeys derives packet protection keys from a TLS traffic secret for
// a TLS 1.3 cipher suite (RFC 9001 section 5.1).
func newPktKeys(t *testing.T, suite uint16, secret []byte) *pktKeys {
	t.Helper()
	h, keyLen := sha256.New, 16
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
	case tls.TLS_AES_256_GCM_SHA384:
		h, keyLen = sha512.New384, 32
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		keyLen = 32
	default:
		t.Fatalf("unexpected cipher suite %#x", suite)
	}
	hh := func() hash.Hash { return h() }
	key := expandLabel(t, hh, secret, "quic key", keyLen)
	hpKey := expandLabel(t, hh, secret, "quic hp", keyLen)
	k := &pktKeys{iv: expandLabel(t, hh, secret, "quic iv", 12)}
	var err error
	if suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
		if k.aead, err = chacha20poly1305.New(key); err != nil {
			t.Fatal(err)
		}
		k.mask = func(sample []byte) []byte {
			c, err := chacha20.NewUnauthenticatedCipher(hpKey, sample[4:16])
			if err != nil {
				panic(err)
			}
			c.SetCounter(binary.LittleEndian.Uint32(sample[:4]))
			m := make([]byte, 5)
			c.XORKeyStream(m, m)
			return m
		}
		return k
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		t.Fatal(err)
	}
	hp, err := aes.NewCipher(hpKey)
	if err != nil {
		t.Fatal(err)
	}
	k.mask = func(sample []byte) []byte {
		m := make([]byte, 16)
		hp.Encrypt(m, sample[:16])
		return m
	}
	return k
}

func initialKeys(t *testing.T, dcid []byte, label string) *pktKeys {
	t.Helper()
	initial, err := hkdf.Extract(sha256.New, dcid, quicV1InitialSalt)
	if err != nil {
		t.Fatal(err)
	}
	return newPktKeys(t, tls.TLS_AES_128_GCM_SHA256, expandLabel(t, sha256.New, initial, label, 32))
}

func readVarint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, errors.New("varint: empty")
	}
	n := 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0, errors.New("varint: truncated")
	}
	v := uint64(b[0] & 0x3f)
	for _, x := range b[1:n] {
		v = v<<8 | uint64(x)
	}
	return v, n, nil
}

// Long header packet types of QUIC v1.
const (
	longInitial   = 0
	longHandshake = 2
)

type longPacket struct {
	typ        byte
	dcid, scid []byte
	payload    []byte // nil when not decrypted
}

// openLong parses the v1 long header packet at the start of b and, when
// keys returns keys for its type, removes its protection.  It returns the
// packet and its length.
func openLong(t *testing.T, b []byte, keys func(typ byte, dcid []byte) *pktKeys) (*longPacket, int, error) {
	if len(b) < 7 || b[0]&0xc0 != 0xc0 || binary.BigEndian.Uint32(b[1:5]) != 1 {
		return nil, 0, fmt.Errorf("not a v1 long header packet: %x", b[:min(len(b), 8)])
	}
	pkt := &longPacket{typ: (b[0] >> 4) & 3}
	p := 5
	dl := int(b[p])
	if p+1+dl+1 > len(b) {
		return nil, 0, errors.New("truncated dcid")
	}
	pkt.dcid = b[p+1 : p+1+dl]
	p += 1 + dl
	sl := int(b[p])
	if p+1+sl > len(b) {
		return nil, 0, errors.New("truncated scid")
	}
	pkt.scid = b[p+1 : p+1+sl]
	p += 1 + sl
	if pkt.typ == longInitial {
		tokLen, n, err := readVarint(b[p:])
		if err != nil {
			return nil, 0, err
		}
		p += n + int(tokLen)
	}
	length, n, err := readVarint(b[p:])
	if err != nil {
		return nil, 0, err
	}
	p += n
	end := p + int(length)
	if end > len(b) || p+20 > len(b) {
		return nil, 0, errors.New("truncated packet")
	}
	k := keys(pkt.typ, pkt.dcid)
	if k == nil {
		return pkt, end, nil
	}
	hdr := append([]byte(nil), b[:p+4]...)
	mask := k.mask(b[p+4 : p+20])
	hdr[0] ^= mask[0] & 0x0f
	pnLen := int(hdr[0]&3) + 1
	hdr = hdr[:p+pnLen]
	var pn uint64
	for i := 0; i < pnLen; i++ {
		hdr[p+i] ^= mask[1+i]
		pn = pn<<8 | uint64(hdr[p+i])
	}
	nonce := append([]byte(nil), k.iv...)
	for i := 0; i < 8; i++ {
		nonce[len(nonce)-1-i] ^= byte(pn >> (8 * i))
	}
	pkt.payload, err = k.aead.Open(nil, nonce, b[p+pnLen:end], hdr)
	if err != nil {
		return nil, 0, fmt.Errorf("open packet type %d pn %d: %w", pkt.typ, pn, err)
	}
	return pkt, end, nil
}

// cryptoStream collects CRYPTO frames of one encryption level.
type cryptoStream map[uint64][]byte

// addPayload checks every frame of a decrypted payload with CheckFrames,
// records its CRYPTO frames and returns the number of frames.
func (cs cryptoStream) addPayload(t *testing.T, payload []byte, pkt PacketTypes) int {
	t.Helper()
	n, err := CheckFrames(payload)
	if err != nil {
		t.Fatalf("quic-go packet: %v", err)
	}
	fs, err := DecodeFrames(payload)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if !f.Type.AllowedIn(pkt) {
			t.Fatalf("%v not allowed in packet type %#x", f.Type, pkt)
		}
		if f.Type == FrameCrypto {
			cs[f.Offset] = append([]byte(nil), f.Data...)
		}
	}
	return n
}

// message returns the first complete TLS handshake message of type typ.
func (cs cryptoStream) message(typ byte) []byte {
	var stream []byte
	for {
		d, ok := cs[uint64(len(stream))]
		if !ok || len(d) == 0 {
			break
		}
		stream = append(stream, d...)
	}
	for len(stream) >= 4 {
		l := 4 + (int(stream[1])<<16 | int(stream[2])<<8 | int(stream[3]))
		if len(stream) < l {
			return nil
		}
		if stream[0] == typ {
			return stream[:l]
		}
		stream = stream[l:]
	}
	return nil
}

// quicTransportParamsExt returns the quic_transport_parameters extension
// (0x39) of a ClientHello or EncryptedExtensions handshake message.
func quicTransportParamsExt(msg []byte) ([]byte, error) {
	if len(msg) < 4 {
		return nil, errors.New("short handshake message")
	}
	body := msg[4:]
	p := 0
	switch msg[0] {
	case 1: // ClientHello: version, random, session id, suites, compression
		p = 2 + 32
		for _, lenBytes := range []int{1, 2, 1} {
			if p+lenBytes > len(body) {
				return nil, errors.New("truncated ClientHello")
			}
			n := 0
			for _, x := range body[p : p+lenBytes] {
				n = n<<8 | int(x)
			}
			p += lenBytes + n
		}
	case 8: // EncryptedExtensions
	default:
		return nil, fmt.Errorf("handshake message type %d", msg[0])
	}
	p += 2 // extensions length
	for p+4 <= len(body) {
		typ := binary.BigEndian.Uint16(body[p:])
		n := int(binary.BigEndian.Uint16(body[p+2:]))
		if p+4+n > len(body) {
			return nil, errors.New("truncated extension")
		}
		if typ == 0x39 {
			return body[p+4 : p+4+n], nil
		}
		p += 4 + n
	}
	return nil, errors.New("no quic_transport_parameters extension")
}

// quicGoConfig has distinctive values to find in the transport parameters.
func quicGoConfig() *quic.Config {
	return &quic.Config{
		Versions:                         []quic.Version{quic.Version1},
		MaxIdleTimeout:                   17 * time.Second,
		InitialStreamReceiveWindow:       123456,
		InitialConnectionReceiveWindow:   654321,
		MaxIncomingStreams:               77,
		MaxIncomingUniStreams:            33,
		EnableDatagrams:                  true,
		EnableStreamResetPartialDelivery: true,
	}
}

// checkQuicGoParams compares decoded parameters with quicGoConfig and
// quic-go's constants, then checks that our encoding of them round-trips.
func checkQuicGoParams(t *testing.T, tp *TransportParams) {
	t.Helper()
	want := map[string][2]uint64{
		"max_idle_timeout":                    {tp.MaxIdleTimeout, 17000},
		"initial_max_data":                    {tp.InitialMaxData, 654321},
		"initial_max_stream_data_bidi_local":  {tp.InitialMaxStreamDataBidiLocal, 123456},
		"initial_max_stream_data_bidi_remote": {tp.InitialMaxStreamDataBidiRemote, 123456},
		"initial_max_stream_data_uni":         {tp.InitialMaxStreamDataUni, 123456},
		"initial_max_streams_bidi":            {tp.InitialMaxStreamsBidi, 77},
		"initial_max_streams_uni":             {tp.InitialMaxStreamsUni, 33},
		"max_udp_payload_size":                {tp.MaxUDPPayloadSize, 1452},
		"max_ack_delay":                       {tp.MaxAckDelay, 26},
		"ack_delay_exponent":                  {tp.AckDelayExponent, 3},
		"active_connection_id_limit":          {tp.ActiveConnectionIDLimit, 4},
		"max_datagram_frame_size":             {tp.MaxDatagramFrameSize, 16383},
	}
	for name, v := range want {
		if v[0] != v[1] {
			t.Errorf("%s = %d, want %d", name, v[0], v[1])
		}
	}
	for _, p := range []Param{ParamMaxIdleTimeout, ParamInitialMaxData, ParamMaxDatagramFrameSize,
		ParamInitialSourceConnectionID, ParamResetStreamAt, ParamActiveConnectionIDLimit} {
		if !tp.Present.Has(p) {
			t.Errorf("param %d not present", p)
		}
	}
	for _, p := range []Param{ParamPreferredAddress, ParamRetrySourceConnectionID, ParamAckDelayExponent,
		ParamVersionInformation, ParamDisableActiveMigration} {
		if tp.Present.Has(p) {
			t.Errorf("param %d unexpectedly present", p)
		}
	}
	enc, err := tp.Encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeTransportParams(enc, tp.Server)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, tp) {
		t.Fatalf("re-encoded set differs:\n%+v\n%+v", again, tp)
	}
}

// The client's parameters: capture quic-go's first flight on a bare UDP
// socket.
func TestQuicGoClientTransportParams(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	dialDone := make(chan struct{})
	go func() {
		defer close(dialDone)
		tlsConf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"tquic-test"}}
		if conn, err := quic.DialAddr(ctx, pc.LocalAddr().String(), tlsConf, quicGoConfig()); err == nil {
			conn.CloseWithError(0, "")
		}
	}()
	defer func() { cancel(); <-dialDone }()

	cs := cryptoStream{}
	var scid, hello []byte
	packets, frames := 0, 0
	buf := make([]byte, 65536)
	for hello == nil {
		if err := pc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read quic-go's Initial: %v", err)
		}
		for dgram := buf[:n]; len(dgram) > 0 && dgram[0] != 0; {
			pkt, used, err := openLong(t, dgram, func(typ byte, dcid []byte) *pktKeys {
				return initialKeys(t, dcid, "client in")
			})
			if err != nil {
				t.Fatal(err)
			}
			dgram = dgram[used:]
			scid = pkt.scid
			packets++
			frames += cs.addPayload(t, pkt.payload, FramePktInitial)
		}
		hello = cs.message(1)
	}
	t.Logf("quic-go client: %d Initial packets, %d frames, ClientHello %d bytes", packets, frames, len(hello))

	raw, err := quicTransportParamsExt(hello)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := DecodeTransportParams(raw, false)
	if err != nil {
		t.Fatalf("quic-go's transport parameters %x: %v", raw, err)
	}
	if !bytes.Equal(tp.InitialSourceConnectionID, scid) {
		t.Errorf("initial_source_connection_id %x, packet SCID %x", tp.InitialSourceConnectionID, scid)
	}
	checkQuicGoParams(t, tp)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func selfSignedCert(t *testing.T) tls.Certificate {
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
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// The server's parameters: a UDP relay between a quic-go client and a
// quic-go server records the server's datagrams; the client's key log
// gives the server handshake traffic secret that protects the
// EncryptedExtensions carrying the parameters.
func TestQuicGoServerTransportParams(t *testing.T) {
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{selfSignedCert(t)}, NextProtos: []string{"tquic-test"},
	}, quicGoConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	relay, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	upstream, err := net.DialUDP("udp", nil, ln.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer upstream.Close()

	var mu sync.Mutex
	var fromClient, fromServer [][]byte
	var clientAddr net.Addr
	go func() { // client -> server
		buf := make([]byte, 65536)
		for {
			n, addr, err := relay.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			clientAddr = addr
			fromClient = append(fromClient, append([]byte(nil), buf[:n]...))
			mu.Unlock()
			if _, err := upstream.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	go func() { // server -> client
		buf := make([]byte, 65536)
		for {
			n, err := upstream.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			fromServer = append(fromServer, append([]byte(nil), buf[:n]...))
			addr := clientAddr
			mu.Unlock()
			if _, err := relay.WriteTo(buf[:n], addr); err != nil {
				return
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		if conn, err := ln.Accept(ctx); err == nil {
			<-conn.Context().Done()
		}
	}()
	keyLog := &syncBuffer{}
	conn, err := quic.DialAddr(ctx, relay.LocalAddr().String(), &tls.Config{
		InsecureSkipVerify: true, NextProtos: []string{"tquic-test"}, KeyLogWriter: keyLog,
	}, quicGoConfig())
	if err != nil {
		t.Fatal(err)
	}
	suite := conn.ConnectionState().TLS.CipherSuite
	conn.CloseWithError(0, "")

	var secret []byte
	for _, line := range strings.Split(keyLog.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "SERVER_HANDSHAKE_TRAFFIC_SECRET" {
			if secret, err = hex.DecodeString(f[2]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if secret == nil {
		t.Fatalf("no server handshake secret in the key log:\n%s", keyLog)
	}
	hsKeys := newPktKeys(t, suite, secret)

	mu.Lock()
	defer mu.Unlock()
	first, _, err := openLong(t, fromClient[0], func(byte, []byte) *pktKeys { return nil })
	if err != nil {
		t.Fatal(err)
	}
	odcid := first.dcid
	initial, handshake := cryptoStream{}, cryptoStream{}
	var scid []byte
	packets, frames := 0, 0
	for _, d := range fromServer {
		for dgram := d; len(dgram) > 0 && dgram[0]&0x80 != 0; {
			pkt, used, err := openLong(t, dgram, func(typ byte, _ []byte) *pktKeys {
				switch typ {
				case longInitial:
					return initialKeys(t, odcid, "server in")
				case longHandshake:
					return hsKeys
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			dgram = dgram[used:]
			switch pkt.typ {
			case longInitial:
				scid = pkt.scid
				frames += initial.addPayload(t, pkt.payload, FramePktInitial)
			case longHandshake:
				frames += handshake.addPayload(t, pkt.payload, FramePktHandshake)
			default:
				continue
			}
			packets++
		}
	}
	ee := handshake.message(8)
	if ee == nil || initial.message(2) == nil {
		t.Fatalf("no ServerHello/EncryptedExtensions in %d server packets", packets)
	}
	t.Logf("quic-go server: %d Initial/Handshake packets, %d frames, suite %s",
		packets, frames, tls.CipherSuiteName(suite))
	raw, err := quicTransportParamsExt(ee)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := DecodeTransportParams(raw, true)
	if err != nil {
		t.Fatalf("quic-go server's transport parameters %x: %v", raw, err)
	}
	if !bytes.Equal(tp.OriginalDestinationConnectionID, odcid) {
		t.Errorf("original_destination_connection_id %x, client's first DCID %x", tp.OriginalDestinationConnectionID, odcid)
	}
	if !bytes.Equal(tp.InitialSourceConnectionID, scid) || len(scid) == 0 {
		t.Errorf("initial_source_connection_id %x, server SCID %x", tp.InitialSourceConnectionID, scid)
	}
	if !tp.Present.Has(ParamStatelessResetToken) || tp.StatelessResetToken == [16]byte{} {
		t.Errorf("stateless_reset_token missing: %x", tp.StatelessResetToken)
	}
	checkQuicGoParams(t, tp)
	// A client may not send this set.
	if _, err := DecodeTransportParams(raw, false); err == nil {
		t.Error("server parameters accepted from a client")
	}
}
