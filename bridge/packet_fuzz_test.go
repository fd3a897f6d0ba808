package bridge

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzKeys are fixed keys for the fuzzers' unprotect attempts: Initial keys
// of the RFC DCID (so the RFC packets in the corpora open) and 1-RTT keys.
type fuzzKeySet struct {
	initial map[uint32][2]*Keys
	app     *Keys
}

func newFuzzKeys(f *testing.F) *fuzzKeySet {
	ks := &fuzzKeySet{initial: map[uint32][2]*Keys{}}
	dcid := []byte{0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08}
	for _, v := range []uint32{Version1, Version2} {
		c, s, err := InitialKeys(v, dcid)
		if err != nil {
			f.Fatal(err)
		}
		ks.initial[v] = [2]*Keys{c, s}
	}
	app, err := NewKeys(Version1, SuiteChaCha20Poly1305SHA256,
		unhex(f, "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b"))
	if err != nil {
		f.Fatal(err)
	}
	ks.app = app
	return ks
}

// checkEngineErr fails unless err is nil, a QUIC transport error or an
// authentication failure.
func checkEngineErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || errors.Is(err, ErrAuthentication) {
		return
	}
	if _, ok := ErrorCode(err); !ok {
		t.Fatalf("%s: unexpected error %v", what, err)
	}
}

func checkHeaderBounds(t *testing.T, h *Header, n int) {
	t.Helper()
	if h.Len > n || h.Len < 1 || h.PNOffset > h.Len {
		t.Fatalf("header %+v out of %d bytes", h, n)
	}
	if h.Type == Packet1RTT || h.Type == PacketVersionNegotiation || h.Type == PacketUnknownVersion ||
		h.Type == PacketRetry {
		if h.Len != n {
			t.Fatalf("%v packet of %d bytes in %d", h.Type, h.Len, n)
		}
	}
}

// FuzzHeader parses long and short headers (v1, v2, other versions) and
// tries to remove protection with fixed keys.
func FuzzHeader(f *testing.F) {
	for _, v := range rfcVectors {
		for _, p := range []string{v.clientPacket, v.serverPacket, v.retry, v.chachaPacket} {
			f.Add(unhex(f, p), byte(0))
			f.Add(unhex(f, p), byte(8))
		}
	}
	ks := newFuzzKeys(f)
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		dcidLen := int(mode % 21)
		flags := uint(0)
		if mode&0x80 != 0 {
			flags = ParseGreaseQUICBit
		}
		h, err := ParseHeader(data, dcidLen, flags)
		if err != nil {
			if code, ok := ErrorCode(err); !ok || code != CodeProtocolViolation {
				t.Fatalf("parse: %v", err)
			}
			return
		}
		checkHeaderBounds(t, h, len(data))
		if h.Version != 0 && !bytes.Equal(h.DCID, data[6:6+len(h.DCID)]) {
			t.Fatalf("DCID %x not at offset 6", h.DCID)
		}
		var keys []*Keys
		switch h.Type {
		case PacketInitial, Packet0RTT, PacketHandshake:
			if k, ok := ks.initial[h.Version]; ok {
				keys = k[:]
			}
		case Packet1RTT:
			keys = []*Keys{ks.app}
		}
		for _, k := range keys {
			pkt := bytes.Clone(data[:h.Len])
			hh := *h
			if err := k.RemoveHeaderProtection(pkt, &hh, PNNone); err != nil {
				checkEngineErr(t, "remove header protection", err)
				continue
			}
			if hh.PayloadOffset > hh.Len || hh.PNLen < 1 || hh.PNLen > 4 {
				t.Fatalf("after HP removal: %+v", hh)
			}
			payload, err := k.OpenPayload(pkt, &hh, false, 0)
			checkEngineErr(t, "open payload", err)
			if err == nil && len(payload) != hh.Len-hh.PayloadOffset-16 {
				t.Fatalf("payload %d bytes for %+v", len(payload), hh)
			}
		}
	})
}

// FuzzCoalesced splits datagrams into coalesced packets.
func FuzzCoalesced(f *testing.F) {
	for _, v := range rfcVectors {
		c, s := unhex(f, v.clientPacket), unhex(f, v.serverPacket)
		f.Add(append(bytes.Clone(s), s...), byte(8))
		f.Add(append(append(bytes.Clone(s), s[:40]...), unhex(f, v.chachaPacket)...), byte(0))
		f.Add(append(bytes.Clone(c[:60]), 0, 0, 0), byte(8))
	}
	f.Fuzz(func(t *testing.T, data []byte, dcidLen byte) {
		hs, err := SplitDatagram(data, int(dcidLen%21), 0)
		if err != nil {
			if code, ok := ErrorCode(err); !ok || code != CodeProtocolViolation {
				t.Fatalf("split: %v", err)
			}
		}
		off := 0
		for _, h := range hs {
			if h.Offset != off || h.Len < 1 || off+h.Len > len(data) {
				t.Fatalf("packet at %d (%d bytes) after %d of %d", h.Offset, h.Len, off, len(data))
			}
			again, err := ParseHeader(data[off:], int(dcidLen%21), 0)
			if err != nil || again.Len != h.Len || again.Type != h.Type {
				t.Fatalf("re-parse at %d: %+v %v", off, again, err)
			}
			off += h.Len
		}
		if err == nil && off != len(data) {
			t.Fatalf("split covered %d of %d bytes", off, len(data))
		}
	})
}

// FuzzVersionNegotiation parses Version Negotiation packets; whatever
// parses must rebuild to the same bytes.
func FuzzVersionNegotiation(f *testing.F) {
	pkt, err := BuildVersionNegotiation(0x2a, []byte{1, 2, 3, 4}, bytes.Repeat([]byte{5}, 8),
		[]uint32{0x1a2a3a4a, Version2, Version1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pkt)
	f.Add(pkt[:len(pkt)-2])
	f.Fuzz(func(t *testing.T, data []byte) {
		vn, err := ParseVersionNegotiation(data)
		if err != nil {
			if code, ok := ErrorCode(err); !ok || code != CodeProtocolViolation {
				t.Fatalf("parse: %v", err)
			}
			return
		}
		again, err := BuildVersionNegotiation(data[0]&0x7f, vn.DCID, vn.SCID, vn.Versions)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("rebuilt %x (%v), parsed from %x", again, err, data)
		}
	})
}

// FuzzRetryVerify checks Retry integrity tags; a Retry that verifies must
// rebuild to the same bytes.
func FuzzRetryVerify(f *testing.F) {
	for _, v := range rfcVectors {
		f.Add(unhex(f, v.retry), unhex(f, rfcDCID))
		f.Add(unhex(f, v.retry), []byte{1, 2, 3})
	}
	f.Fuzz(func(t *testing.T, data, odcid []byte) {
		err := VerifyRetry(data, odcid)
		if err != nil {
			if len(odcid) <= 20 {
				checkEngineErr(t, "verify", err)
			}
			return
		}
		h, err := ParseHeader(data, 0, 0)
		if err != nil || h.Type != PacketRetry {
			t.Fatalf("verified Retry does not parse: %+v %v", h, err)
		}
		again, err := BuildRetry(h.Version, data[0]&0x0f, odcid, h.DCID, h.SCID, h.Token)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("rebuilt %x (%v) from %x", again, err, data)
		}
	})
}
