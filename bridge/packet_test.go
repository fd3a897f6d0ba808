package bridge

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	mrand "math/rand/v2"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

var rfcDCID = "8394c8f03e515708"

type versionVectors struct {
	name                       string
	version                    uint32
	clientSecret, serverSecret string
	clientKey, clientIV        string
	clientHP                   string
	serverKey, serverIV        string
	serverHP                   string
	sample, mask               string
	clientHeader, clientData   string
	clientPacket               string
	serverHeader, serverData   string
	serverPacket               string
	retry                      string
	chachaPacket               string
	keyLabel, ivLabel          string
	hpLabel, kuLabel           string
}

// RFC 9001 appendix A and RFC 9369 appendix A (also in
// ../shared/specs/protocol-facts.md).
var rfcVectors = []versionVectors{
	{
		name: "v1", version: Version1,
		clientSecret: "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
		serverSecret: "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
		clientKey:    "1f369613dd76d5467730efcbe3b1a22d", clientIV: "fa044b2f42a3fd3b46fb255c",
		clientHP:  "9f50449e04a0e810283a1e9933adedd2",
		serverKey: "cf3a5331653c364c88f0f379b6067e37", serverIV: "0ac1493ca1905853b0bba03e",
		serverHP: "c206b8d9b9f0f37644430b490eeaa314",
		sample:   "d1b1c98dd7689fb8ec11d242b123dc9b", mask: "437b9aec36",
		clientHeader: rfcV1ClientHeader, clientData: rfcV1ClientPayload, clientPacket: rfcV1ClientPacket,
		serverHeader: rfcV1ServerHeader, serverData: rfcV1ServerPayload, serverPacket: rfcV1ServerPacket,
		retry:        "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba",
		chachaPacket: "4cfe4189655e5cd55c41f69080575d7999c25a5bfb",
		keyLabel:     "quic key", ivLabel: "quic iv", hpLabel: "quic hp", kuLabel: "quic ku",
	},
	{
		name: "v2", version: Version2,
		clientSecret: "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
		serverSecret: "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1",
		clientKey:    "8b1a0bc121284290a29e0971b5cd045d", clientIV: "91f73e2351d8fa91660e909f",
		clientHP:  "45b95e15235d6f45a6b19cbcb0294ba9",
		serverKey: "82db637861d55e1d011f19ea71d5d2a7", serverIV: "dd13c276499c0249d3310652",
		serverHP: "edf6d05c83121201b436e16877593c3a",
		sample:   "ffe67b6abcdb4298b485dd04de806071", mask: "94a0c95e80",
		clientHeader: rfcV2ClientHeader, clientData: rfcV2ClientPayload, clientPacket: rfcV2ClientPacket,
		serverHeader: rfcV2ServerHeader, serverData: rfcV2ServerPayload, serverPacket: rfcV2ServerPacket,
		retry:        "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6",
		chachaPacket: "5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba",
		keyLabel:     "quicv2 key", ivLabel: "quicv2 iv", hpLabel: "quicv2 hp", kuLabel: "quicv2 ku",
	},
}

func TestRFCInitialKeys(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			cs, ss, err := InitialSecrets(v.version, unhex(t, rfcDCID))
			if err != nil {
				t.Fatal(err)
			}
			checkHex(t, "client secret", cs, v.clientSecret)
			checkHex(t, "server secret", ss, v.serverSecret)
			for _, c := range []struct{ secret, label, want string }{
				{v.clientSecret, v.keyLabel, v.clientKey}, {v.clientSecret, v.ivLabel, v.clientIV},
				{v.clientSecret, v.hpLabel, v.clientHP}, {v.serverSecret, v.keyLabel, v.serverKey},
				{v.serverSecret, v.ivLabel, v.serverIV}, {v.serverSecret, v.hpLabel, v.serverHP},
			} {
				got, err := HKDFExpandLabel(SHA256, unhex(t, c.secret), c.label, nil, len(c.want)/2)
				if err != nil {
					t.Fatal(err)
				}
				checkHex(t, c.label, got, c.want)
			}
			client, server, err := InitialKeys(v.version, unhex(t, rfcDCID))
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			defer server.Close()
			checkHex(t, "client iv", client.IV(), v.clientIV)
			checkHex(t, "server iv", server.IV(), v.serverIV)
			mask, err := client.HeaderMask(unhex(t, v.sample))
			if err != nil {
				t.Fatal(err)
			}
			checkHex(t, "hp mask", mask, v.mask)
		})
	}
}

func checkHex(t testing.TB, what string, got []byte, want string) {
	t.Helper()
	if hex.EncodeToString(got) != want {
		t.Errorf("%s:\n got %x\nwant %s", what, got, want)
	}
}

// protectVector builds header + payload, protects it and compares the whole
// packet with the RFC; then parses and unprotects the RFC packet.
func protectVector(t *testing.T, k *Keys, spec *HeaderSpec, wantHeader, payload, wantPacket string) {
	t.Helper()
	hdr, err := AppendHeader(nil, spec)
	if err != nil {
		t.Fatal(err)
	}
	checkHex(t, "unprotected header", hdr, wantHeader)
	pt := make([]byte, spec.PayloadLen)
	copy(pt, unhex(t, payload))
	pkt, err := k.Protect(append(hdr, pt...), len(hdr), spec.PNLen, spec.PN, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkHex(t, "protected packet", pkt, wantPacket)

	rx := unhex(t, wantPacket)
	h, err := ParseHeader(rx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if h.Type != spec.Type || h.Version != spec.Version || h.Len != len(rx) ||
		!bytes.Equal(h.DCID, spec.DCID) || !bytes.Equal(h.SCID, spec.SCID) {
		t.Fatalf("parsed header %+v does not match %+v", h, spec)
	}
	largest := PNNone
	if spec.PN > 0 {
		largest = spec.PN - 1
	}
	got, err := k.Unprotect(rx, h, largest)
	if err != nil {
		t.Fatal(err)
	}
	if h.PN != spec.PN || h.PNLen != spec.PNLen || !bytes.Equal(got, pt) {
		t.Fatalf("unprotect: pn %d/%d, payload %x", h.PN, h.PNLen, got)
	}
	checkHex(t, "unprotected header after HP removal", rx[:h.PayloadOffset], wantHeader)
}

func TestRFCClientInitial(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			client, server, err := InitialKeys(v.version, unhex(t, rfcDCID))
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			defer server.Close()
			spec := &HeaderSpec{Type: PacketInitial, Version: v.version, DCID: unhex(t, rfcDCID),
				PN: 2, PNLen: 4, PayloadLen: 1162}
			protectVector(t, client, spec, v.clientHeader, v.clientData, v.clientPacket)
			// The server cannot open what the client sent.
			rx := unhex(t, v.clientPacket)
			h, _ := ParseHeader(rx, 0, 0)
			if _, err := server.Unprotect(rx, h, PNNone); !errors.Is(err, ErrAuthentication) {
				t.Fatalf("server keys opened a client packet: %v", err)
			}
		})
	}
}

func TestRFCServerInitial(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			client, server, err := InitialKeys(v.version, unhex(t, rfcDCID))
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			defer server.Close()
			spec := &HeaderSpec{Type: PacketInitial, Version: v.version, SCID: unhex(t, "f067a5502a4262b5"),
				PN: 1, PNLen: 2, PayloadLen: len(v.serverData) / 2}
			protectVector(t, server, spec, v.serverHeader, v.serverData, v.serverPacket)
		})
	}
}

func TestRFCRetry(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			odcid := unhex(t, rfcDCID)
			pkt, err := BuildRetry(v.version, 0x0f, odcid, nil, unhex(t, "f067a5502a4262b5"), []byte("token"))
			if err != nil {
				t.Fatal(err)
			}
			checkHex(t, "retry", pkt, v.retry)
			want := unhex(t, v.retry)
			if err := VerifyRetry(want, odcid); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if err := VerifyRetry(want, unhex(t, "8394c8f03e515709")); !errors.Is(err, ErrAuthentication) {
				t.Fatalf("wrong ODCID: %v", err)
			}
			for i := range want {
				bad := bytes.Clone(want)
				bad[i] ^= 0x10
				if err := VerifyRetry(bad, odcid); err == nil {
					t.Fatalf("flipped bit in byte %d accepted", i)
				}
			}
			// A zero-length token must be discarded (RFC 9000 17.2.5.2).
			empty := append(bytes.Clone(want[:15]), want[len(want)-16:]...)
			if code, ok := ErrorCode(VerifyRetry(empty, odcid)); !ok || code != CodeProtocolViolation {
				t.Fatalf("empty token: code %v %v", code, ok)
			}
			if _, err := BuildRetry(v.version, 0, odcid, nil, nil, nil); err == nil {
				t.Fatal("built a Retry without token")
			}
		})
	}
}

func TestRFCChaCha20ShortHeader(t *testing.T) {
	secret := unhex(t, "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b")
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			k, err := NewKeys(v.version, SuiteChaCha20Poly1305SHA256, secret)
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			if v.version == Version1 {
				checkHex(t, "iv", k.IV(), "e0459b3474bdd0e44a41c144")
				mask, err := k.HeaderMask(unhex(t, "5e5cd55c41f69080575d7999c25a5bfb"))
				if err != nil {
					t.Fatal(err)
				}
				checkHex(t, "mask", mask, "aefefe7d03")
			}
			spec := &HeaderSpec{Type: Packet1RTT, PN: 654360564, PNLen: 3, PayloadLen: 1}
			protectVector(t, k, spec, "4200bff4", "01", v.chachaPacket)
		})
	}
}

func TestMultipathNonce(t *testing.T) {
	iv := unhex(t, "6b26114b9cba2b63a9e8dd4f")
	n, err := Nonce(iv, 54321, true, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkHex(t, "multipath nonce", n, "6b2611489cba2b63a9e8097e")
	// Path 0 gives the RFC 9001 nonce.
	n0, _ := Nonce(iv, 54321, true, 0)
	n1, _ := Nonce(iv, 54321, false, 0)
	if !bytes.Equal(n0, n1) {
		t.Fatalf("path 0 nonce %x != single-path nonce %x", n0, n1)
	}
	// The packet protection path uses it: a packet protected on path 3
	// opens on path 3 only.
	k, err := NewKeys(Version1, SuiteAES128GCMSHA256, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	pkt := buildShort(t, k, []byte{1, 2, 3, 4}, 77, 2, bytes.Repeat([]byte{0x01}, 40), true, 3)
	for _, path := range []uint32{3, 4} {
		rx := bytes.Clone(pkt)
		h, err := ParseHeader(rx, 4, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.RemoveHeaderProtection(rx, h, 70); err != nil {
			t.Fatal(err)
		}
		_, err = k.OpenPayload(rx, h, true, path)
		if (path == 3) != (err == nil) {
			t.Fatalf("path %d: %v", path, err)
		}
	}
}

func buildShort(t testing.TB, k *Keys, dcid []byte, pn uint64, pnLen int, payload []byte, mp bool, path uint32) []byte {
	t.Helper()
	hdr, err := AppendHeader(nil, &HeaderSpec{Type: Packet1RTT, DCID: dcid, PN: pn, PNLen: pnLen, PayloadLen: len(payload)})
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := k.Protect(append(hdr, payload...), len(hdr), pnLen, pn, mp, path)
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// goExpandLabel is HKDF-Expand-Label written with Go's crypto/hkdf only: an
// oracle independent of the engine.
func goExpandLabel(h func() hash.Hash, secret []byte, label string, n int) []byte {
	info := []byte{byte(n >> 8), byte(n), byte(6 + len(label))}
	info = append(info, "tls13 "+label...)
	info = append(info, 0)
	out, err := hkdf.Expand(h, secret, string(info), n)
	if err != nil {
		panic(err)
	}
	return out
}

func TestKeyUpdate(t *testing.T) {
	suites := []struct {
		suite  Suite
		hash   func() hash.Hash
		keyLen int
	}{
		{SuiteAES128GCMSHA256, sha256.New, 16},
		{SuiteAES256GCMSHA384, sha512.New384, 32},
		{SuiteChaCha20Poly1305SHA256, sha256.New, 32},
	}
	for _, v := range rfcVectors {
		for _, s := range suites {
			t.Run(fmt.Sprintf("%s/%x", v.name, uint16(s.suite)), func(t *testing.T) {
				secret := make([]byte, s.hash().Size())
				rand.Read(secret)
				k, err := NewKeys(v.version, s.suite, secret)
				if err != nil {
					t.Fatal(err)
				}
				defer k.Close()
				cur := k
				want := secret
				for gen := 1; gen <= 3; gen++ {
					next, err := cur.Next()
					if err != nil {
						t.Fatal(err)
					}
					defer next.Close()
					want = goExpandLabel(s.hash, want, v.kuLabel, len(want))
					if !bytes.Equal(next.Secret(), want) {
						t.Fatalf("generation %d secret %x, want %x", gen, next.Secret(), want)
					}
					ns, err := NextSecret(v.version, s.suite, cur.Secret())
					if err != nil || !bytes.Equal(ns, want) {
						t.Fatalf("NextSecret %x %v", ns, err)
					}
					checkOpenWithGo(t, next, s.hash, s.keyLen, v, want, uint64(1000*gen))
					cur = next
				}
			})
		}
	}
	// The RFC 9001 A.5 value.
	ku, err := NextSecret(Version1, SuiteChaCha20Poly1305SHA256,
		unhex(t, "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b"))
	if err != nil {
		t.Fatal(err)
	}
	checkHex(t, "RFC 9001 A.5 ku", ku, "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9")
}

// checkOpenWithGo protects a packet with k, removes header protection with
// the engine and opens the payload with Go's AEADs and Go-derived keys.
func checkOpenWithGo(t *testing.T, k *Keys, h func() hash.Hash, keyLen int, v versionVectors, secret []byte, pn uint64) {
	t.Helper()
	key := goExpandLabel(h, secret, v.keyLabel, keyLen)
	iv := goExpandLabel(h, secret, v.ivLabel, 12)
	if !bytes.Equal(k.IV(), iv) {
		t.Fatalf("iv %x want %x", k.IV(), iv)
	}
	var aead cipher.AEAD
	if keyLen == 32 && len(secret) == 32 {
		aead, _ = chacha20poly1305.New(key)
	} else {
		blk, _ := aes.NewCipher(key)
		aead, _ = cipher.NewGCM(blk)
	}
	payload := []byte("key update payload, long enough for a header protection sample")
	pkt := buildShort(t, k, []byte{9, 9, 9, 9}, pn, 2, payload, false, 0)
	h2, err := ParseHeader(pkt, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.RemoveHeaderProtection(pkt, h2, pn-1); err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Clone(iv)
	for i := 0; i < 8; i++ {
		nonce[11-i] ^= byte(h2.PN >> (8 * i))
	}
	pt, err := aead.Open(nil, nonce, pkt[h2.PayloadOffset:], pkt[:h2.PayloadOffset])
	if err != nil || !bytes.Equal(pt, payload) {
		t.Fatalf("Go AEAD could not open the engine's packet: %v", err)
	}
}

func TestHKDFRFC5869(t *testing.T) {
	prk, err := HKDFExtract(SHA256, unhex(t, "000102030405060708090a0b0c"), bytes.Repeat([]byte{0x0b}, 22))
	if err != nil {
		t.Fatal(err)
	}
	checkHex(t, "prk", prk, "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
	// SHA-384 against Go's crypto/hkdf.
	ikm := []byte("input keying material")
	want, _ := hkdf.Extract(sha512.New384, ikm, []byte("salt"))
	got, err := HKDFExtract(SHA384, []byte("salt"), ikm)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("sha384 extract %x %v, want %x", got, err, want)
	}
	for _, n := range []int{1, 32, 48, 100, 255} {
		got, err := HKDFExpandLabel(SHA384, want, "some label", []byte("ctx"), n)
		info := []byte{byte(n >> 8), byte(n), byte(6 + 10)}
		info = append(append(info, "tls13 some label"...), 3, 'c', 't', 'x')
		exp, _ := hkdf.Expand(sha512.New384, want, string(info), n)
		if err != nil || !bytes.Equal(got, exp) {
			t.Fatalf("expand label %d: %x %v want %x", n, got, err, exp)
		}
	}
}

func TestPacketNumbers(t *testing.T) {
	// RFC 9000 A.2 and A.3.
	if n := PNLen(0xac5c02, 0xabe8b3); n != 2 {
		t.Errorf("PNLen A.2 first = %d", n)
	}
	if n := PNLen(0xace8fe, 0xabe8b3); n != 3 {
		t.Errorf("PNLen A.2 second = %d", n)
	}
	if pn := DecodePN(0xa82f30ea, 0x9b32, 2); pn != 0xa82f9b32 {
		t.Errorf("DecodePN A.3 = %x", pn)
	}
	r := mrand.New(mrand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		largest := r.Uint64N(1 << 40)
		if i%4 == 0 {
			largest = r.Uint64N(300)
		}
		pn := largest + 1 + r.Uint64N(1<<uint(r.IntN(31)))
		// The receiver has seen everything up to the sender's largest acked.
		n := PNLen(pn, largest)
		trunc := pn & (1<<(8*n) - 1)
		if got := DecodePN(largest, trunc, n); got != pn {
			t.Fatalf("pn %d largest %d len %d: decoded %d", pn, largest, n, got)
		}
	}
}

func TestVersionNegotiation(t *testing.T) {
	versions := []uint32{0x1a2a3a4a, Version2, Version1}
	pkt, err := BuildVersionNegotiation(0x55, []byte{1, 2, 3}, bytes.Repeat([]byte{4}, 20), versions)
	if err != nil {
		t.Fatal(err)
	}
	if pkt[0] != 0x80|0x55 || !bytes.Equal(pkt[1:5], []byte{0, 0, 0, 0}) {
		t.Fatalf("header %x", pkt[:5])
	}
	vn, err := ParseVersionNegotiation(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(vn.DCID, []byte{1, 2, 3}) || len(vn.SCID) != 20 || fmt.Sprint(vn.Versions) != fmt.Sprint(versions) {
		t.Fatalf("parsed %+v", vn)
	}
	h, err := ParseHeader(pkt, 0, 0)
	if err != nil || h.Type != PacketVersionNegotiation || h.Len != len(pkt) {
		t.Fatalf("header %+v %v", h, err)
	}
	for _, bad := range [][]byte{pkt[:len(pkt)-1], pkt[:len(pkt)-12], pkt[:6], {0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}} {
		if code, ok := ErrorCode(errOf(ParseVersionNegotiation(bad))); !ok || code != CodeProtocolViolation {
			t.Errorf("%x: code %d %v", bad, code, ok)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }

func TestStatelessReset(t *testing.T) {
	var tok [16]byte
	rand.Read(tok[:])
	other := tok
	other[15] ^= 1
	dg := make([]byte, 43)
	rand.Read(dg)
	dg[0] = 0x40 | dg[0]&0x3f
	copy(dg[len(dg)-16:], tok[:])
	if !IsStatelessReset(dg, [][16]byte{other, tok}) {
		t.Fatal("reset not detected")
	}
	if IsStatelessReset(dg, [][16]byte{other}) {
		t.Fatal("wrong token matched")
	}
	if IsStatelessReset(dg[len(dg)-20:], [][16]byte{tok}) {
		t.Fatal("20-byte datagram taken for a reset")
	}
	long := bytes.Clone(dg)
	long[0] |= 0x80
	if IsStatelessReset(long, [][16]byte{tok}) {
		t.Fatal("long header taken for a reset")
	}
}

// TestCoalesced builds Initial + Handshake + 1-RTT in one datagram, splits
// it and unprotects each packet.
func TestCoalesced(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			dcid, scid := []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{9, 9, 9, 9, 9}
			ci, _, err := InitialKeys(v.version, dcid)
			if err != nil {
				t.Fatal(err)
			}
			defer ci.Close()
			hs, err := NewKeys(v.version, SuiteAES256GCMSHA384, bytes.Repeat([]byte{3}, 48))
			if err != nil {
				t.Fatal(err)
			}
			defer hs.Close()
			ap, err := NewKeys(v.version, SuiteChaCha20Poly1305SHA256, bytes.Repeat([]byte{4}, 32))
			if err != nil {
				t.Fatal(err)
			}
			defer ap.Close()
			var dgram []byte
			keys := []*Keys{ci, hs, ap}
			types := []PacketType{PacketInitial, PacketHandshake, Packet1RTT}
			payloads := [][]byte{bytes.Repeat([]byte{0}, 100), bytes.Repeat([]byte{1}, 30), bytes.Repeat([]byte{1}, 5)}
			for i, typ := range types {
				spec := &HeaderSpec{Type: typ, Version: v.version, DCID: dcid, SCID: scid, PN: uint64(i), PNLen: 4,
					PayloadLen: len(payloads[i])}
				if typ == PacketInitial {
					spec.Token = []byte("tok")
				}
				hdr, err := AppendHeader(nil, spec)
				if err != nil {
					t.Fatal(err)
				}
				pkt, err := keys[i].Protect(append(hdr, payloads[i]...), len(hdr), 4, uint64(i), false, 0)
				if err != nil {
					t.Fatal(err)
				}
				dgram = append(dgram, pkt...)
			}
			hdrs, err := SplitDatagram(dgram, len(dcid), 0)
			if err != nil || len(hdrs) != 3 {
				t.Fatalf("split: %d packets, %v", len(hdrs), err)
			}
			for i, h := range hdrs {
				if h.Type != types[i] || !bytes.Equal(h.DCID, dcid) {
					t.Fatalf("packet %d: %+v", i, h)
				}
				if i == 0 && string(h.Token) != "tok" {
					t.Fatalf("token %q", h.Token)
				}
				pkt := dgram[h.Offset : h.Offset+h.Len]
				pt, err := keys[i].Unprotect(pkt, h, PNNone)
				if err != nil || !bytes.Equal(pt, payloads[i]) || h.PN != uint64(i) {
					t.Fatalf("packet %d: %v pn %d", i, err, h.PN)
				}
			}
		})
	}
}

// TestMalformed feeds every truncation and many corruptions of valid
// packets to the parsers: each returns a transport error or succeeds, and
// never reads out of bounds (run under ci/asan.sh for the proof).
func TestMalformed(t *testing.T) {
	for _, v := range rfcVectors {
		for _, p := range []string{v.clientPacket, v.serverPacket, v.retry, v.chachaPacket} {
			pkt := unhex(t, p)
			for n := 0; n < len(pkt); n++ {
				h, err := ParseHeader(pkt[:n], 0, 0)
				if err == nil {
					if h.Len > n {
						t.Fatalf("length %d beyond %d bytes", h.Len, n)
					}
					continue
				}
				if code, ok := ErrorCode(err); !ok || code != CodeProtocolViolation {
					t.Fatalf("%s prefix %d: %v", v.name, n, err)
				}
			}
		}
	}
	k, err := NewKeys(Version1, SuiteAES128GCMSHA256, bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	// A short header packet too short for a header protection sample.
	pkt := []byte{0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}
	h, err := ParseHeader(pkt, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if code, ok := ErrorCode(k.RemoveHeaderProtection(pkt, h, PNNone)); !ok || code != CodeProtocolViolation {
		t.Fatalf("short packet: %v", code)
	}
	// CIDs longer than 20 bytes in v1 are malformed.
	long := append([]byte{0xc0, 0, 0, 0, 1, 21}, make([]byte, 40)...)
	if code, ok := ErrorCode(errOf(ParseHeader(long, 0, 0))); !ok || code != CodeProtocolViolation {
		t.Fatalf("21-byte CID: %v %v", code, ok)
	}
	// The fixed bit must be set unless greasing was negotiated.
	grease := []byte{0x00, 1, 2, 3, 4}
	if _, err := ParseHeader(grease, 0, 0); err == nil {
		t.Fatal("cleared QUIC bit accepted")
	}
	if _, err := ParseHeader(grease, 0, ParseGreaseQUICBit); err != nil {
		t.Fatalf("greased QUIC bit: %v", err)
	}
}

// TestReservedBits: packets whose reserved bits are set after removing
// protection are a PROTOCOL_VIOLATION, detected after authentication.
func TestReservedBits(t *testing.T) {
	k, err := NewKeys(Version1, SuiteAES128GCMSHA256, bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	hdr, _ := AppendHeader(nil, &HeaderSpec{Type: Packet1RTT, DCID: []byte{1, 2}, PN: 5, PNLen: 2, PayloadLen: 20})
	hdr[0] |= 0x18
	pkt, err := k.Protect(append(hdr, make([]byte, 20)...), len(hdr), 2, 5, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := ParseHeader(pkt, 2, 0)
	_, err = k.Unprotect(pkt, h, 4)
	if code, ok := ErrorCode(err); !ok || code != CodeProtocolViolation {
		t.Fatalf("reserved bits: %v", err)
	}
}

// TestProtectAllocFree: the per-packet path allocates nothing.
func TestProtectAllocFree(t *testing.T) {
	k, err := NewKeys(Version1, SuiteAES128GCMSHA256, bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	hdr, _ := AppendHeader(nil, &HeaderSpec{Type: Packet1RTT, DCID: []byte{1, 2, 3, 4}, PN: 9, PNLen: 4, PayloadLen: 1000})
	buf := make([]byte, len(hdr)+1000, len(hdr)+1016)
	var h Header
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf, hdr)
		pkt, err := k.Protect(buf[:len(hdr)+1000], len(hdr), 4, 9, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := ParseHeaderInto(&h, pkt, 4, 0); err != nil {
			t.Fatal(err)
		}
		if err := k.RemoveHeaderProtection(pkt, &h, 8); err != nil {
			t.Fatal(err)
		}
		if _, err := k.OpenPayload(pkt, &h, false, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet", allocs)
	}
}
