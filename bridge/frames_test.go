package bridge

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// hx decodes hex with optional spaces.
func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// normFrame makes empty slices nil so decoded and constructed frames compare.
func normFrame(f Frame) Frame {
	if len(f.Data) == 0 {
		f.Data = nil
	}
	if len(f.ConnectionID) == 0 {
		f.ConnectionID = nil
	}
	if len(f.AckRanges) == 0 {
		f.AckRanges = nil
	}
	return f
}

func framesEqual(a, b []Frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(normFrame(a[i]), normFrame(b[i])) {
			return false
		}
	}
	return true
}

var (
	testCID   = []byte{0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08}
	testToken = [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
)

const testTokenHex = "000102030405060708090a0b0c0d0e0f"

type frameVector struct {
	family string
	name   string
	frame  Frame
	wire   string
	// prefixValid: some strict prefixes of the wire bytes are themselves
	// a valid frame (no explicit length), so the truncation test skips it.
	prefixValid bool
}

// frameVectors are hand-encoded from the layouts of RFC 9000 section 19 and
// the extension drafts.
var frameVectors = []frameVector{
	// STREAM / CRYPTO / NEW_TOKEN / DATAGRAM
	{family: "stream", name: "stream-bare", frame: Frame{Type: 0x08, StreamID: 4, Data: []byte("hi")},
		wire: "08 04 6869", prefixValid: true},
	{family: "stream", name: "stream-off-len", frame: Frame{Type: 0x0e, StreamID: 4, Offset: 1000, Data: []byte("abc")},
		wire: "0e 04 43e8 03 616263"},
	{family: "stream", name: "stream-len-fin", frame: Frame{Type: 0x0b, StreamID: 0, Fin: true, Data: []byte("abc")},
		wire: "0b 00 03 616263"},
	{family: "stream", name: "stream-big-offset-fin", frame: Frame{Type: 0x0f, StreamID: 16383, Offset: 1 << 30, Fin: true, Data: []byte{0xff}},
		wire: "0f 7fff c000000040000000 01 ff"},
	{family: "stream", name: "stream-empty-fin", frame: Frame{Type: 0x0b, StreamID: 8, Fin: true},
		wire: "0b 08 00"},
	{family: "stream", name: "stream-max-offset-empty", frame: Frame{Type: 0x0e, StreamID: 1, Offset: maxVarint},
		wire: "0e 01 ffffffffffffffff 00"},
	{family: "stream", name: "crypto", frame: Frame{Type: FrameCrypto, Offset: 0, Data: []byte("hello")},
		wire: "06 00 05 68656c6c6f"},
	{family: "stream", name: "crypto-offset", frame: Frame{Type: FrameCrypto, Offset: 300, Data: []byte{1}},
		wire: "06 412c 01 01"},
	{family: "stream", name: "new-token", frame: Frame{Type: FrameNewToken, Data: []byte{0xde, 0xad, 0xbe, 0xef}},
		wire: "07 04 deadbeef"},
	{family: "stream", name: "datagram", frame: Frame{Type: FrameDatagram, Data: []byte{1, 2}},
		wire: "30 0102", prefixValid: true},
	{family: "stream", name: "datagram-len", frame: Frame{Type: FrameDatagramLen, Data: []byte{1, 2}},
		wire: "31 02 0102"},

	// ACK family
	{family: "ack", name: "ack", frame: Frame{Type: FrameAck, AckDelay: 100,
		AckRanges: []AckRange{{Smallest: 8, Largest: 10}, {Smallest: 2, Largest: 5}}},
		wire: "02 0a 4064 01 02 01 03"},
	{family: "ack", name: "ack-single", frame: Frame{Type: FrameAck, AckRanges: []AckRange{{Smallest: 0, Largest: 0}}},
		wire: "02 00 00 00 00"},
	{family: "ack", name: "ack-ecn", frame: Frame{Type: FrameAckECN, AckDelay: 100, ECT0: 1, ECT1: 2, CE: 3,
		AckRanges: []AckRange{{Smallest: 8, Largest: 10}, {Smallest: 2, Largest: 5}}},
		wire: "03 0a 4064 01 02 01 03 01 02 03"},
	{family: "ack", name: "path-ack", frame: Frame{Type: FramePathAck, PathID: 5, AckDelay: 1,
		AckRanges: []AckRange{{Smallest: 100, Largest: 100}, {Smallest: 0, Largest: 97}}},
		wire: "3e 05 4064 01 01 00 01 4061"},
	{family: "ack", name: "path-ack-ecn", frame: Frame{Type: FramePathAckECN, PathID: maxPathID, AckDelay: 0, CE: 7,
		AckRanges: []AckRange{{Smallest: 1, Largest: 3}}},
		wire: "3f c0000000ffffffff 03 00 00 02 00 00 07"},
	// draft-seemann-quic-accurate-ack-ecn-01 section 3.3.
	{family: "ack", name: "accurate-ack-ecn-draft-example", frame: Frame{Type: FrameAccurateAckECN,
		AckRanges: []AckRange{
			{Smallest: 10, Largest: 10, ECN: 1}, {Smallest: 9, Largest: 9, ECN: 3},
			{Smallest: 7, Largest: 7, ECN: 1}, {Smallest: 6, Largest: 6, ECN: 3},
			{Smallest: 1, Largest: 5, ECN: 1}}},
		wire: "a051a5fa 0a 00 04 00 01 0000 03 0100 01 0000 03 0004 01"},

	// flow control
	{family: "flow", name: "max-data", frame: Frame{Type: FrameMaxData, Maximum: 16384}, wire: "10 80004000"},
	{family: "flow", name: "max-stream-data", frame: Frame{Type: FrameMaxStreamData, StreamID: 4, Maximum: 63},
		wire: "11 04 3f"},
	{family: "flow", name: "max-streams-bidi", frame: Frame{Type: FrameMaxStreamsBidi, Maximum: 1 << 60},
		wire: "12 d000000000000000"},
	{family: "flow", name: "max-streams-uni", frame: Frame{Type: FrameMaxStreamsUni, Maximum: 3}, wire: "13 03"},
	{family: "flow", name: "data-blocked", frame: Frame{Type: FrameDataBlocked, Maximum: 64}, wire: "14 4040"},
	{family: "flow", name: "stream-data-blocked", frame: Frame{Type: FrameStreamDataBlocked, StreamID: 2, Maximum: 9},
		wire: "15 02 09"},
	{family: "flow", name: "streams-blocked-bidi", frame: Frame{Type: FrameStreamsBlockedBidi, Maximum: 10}, wire: "16 0a"},
	{family: "flow", name: "streams-blocked-uni", frame: Frame{Type: FrameStreamsBlockedUni, Maximum: 1 << 60},
		wire: "17 d000000000000000"},

	// connection IDs
	{family: "cid", name: "new-connection-id", frame: Frame{Type: FrameNewConnectionID, Sequence: 2, RetirePriorTo: 1,
		ConnectionID: testCID, StatelessResetToken: testToken},
		wire: "18 02 01 08 8394c8f03e515708 " + testTokenHex},
	{family: "cid", name: "new-connection-id-20", frame: Frame{Type: FrameNewConnectionID, Sequence: 7, RetirePriorTo: 7,
		ConnectionID: bytes.Repeat([]byte{0xaa}, 20), StatelessResetToken: testToken},
		wire: "18 07 07 14 " + strings.Repeat("aa", 20) + testTokenHex},
	{family: "cid", name: "retire-connection-id", frame: Frame{Type: FrameRetireConnectionID, Sequence: 300},
		wire: "19 412c"},
	{family: "cid", name: "path-new-connection-id", frame: Frame{Type: FramePathNewConnectionID, PathID: 1, Sequence: 0,
		ConnectionID: testCID[:4], StatelessResetToken: testToken},
		wire: "7e78 01 00 00 04 8394c8f0 " + testTokenHex},
	{family: "cid", name: "path-retire-connection-id", frame: Frame{Type: FramePathRetireConnectionID, PathID: 3, Sequence: 1},
		wire: "7e79 03 01"},

	// close and misc
	{family: "misc", name: "padding-run", frame: Frame{Type: FramePadding, PaddingLen: 5}, wire: "0000000000", prefixValid: true},
	{family: "misc", name: "ping", frame: Frame{Type: FramePing}, wire: "01"},
	{family: "misc", name: "reset-stream", frame: Frame{Type: FrameResetStream, StreamID: 4, ErrorCode: 0x10c, FinalSize: 1000},
		wire: "04 04 410c 43e8"},
	{family: "misc", name: "stop-sending", frame: Frame{Type: FrameStopSending, StreamID: 8, ErrorCode: 0},
		wire: "05 08 00"},
	{family: "misc", name: "reset-stream-at", frame: Frame{Type: FrameResetStreamAt, StreamID: 4, ErrorCode: 1, FinalSize: 100, ReliableSize: 50},
		wire: "24 04 01 4064 32"},
	{family: "misc", name: "path-challenge", frame: Frame{Type: FramePathChallenge, PathData: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		wire: "1a 0102030405060708"},
	{family: "misc", name: "path-response", frame: Frame{Type: FramePathResponse, PathData: [8]byte{8, 7, 6, 5, 4, 3, 2, 1}},
		wire: "1b 0807060504030201"},
	{family: "misc", name: "connection-close", frame: Frame{Type: FrameConnectionClose, ErrorCode: 0x0a, ClosingFrameType: 0x08, Data: []byte("bad")},
		wire: "1c 0a 08 03 626164"},
	{family: "misc", name: "connection-close-crypto", frame: Frame{Type: FrameConnectionClose, ErrorCode: 0x128},
		wire: "1c 4128 00 00"},
	{family: "misc", name: "connection-close-app", frame: Frame{Type: FrameConnectionCloseApp, ErrorCode: 0x100},
		wire: "1d 4100 00"},
	{family: "misc", name: "handshake-done", frame: Frame{Type: FrameHandshakeDone}, wire: "1e"},

	// multipath (draft-ietf-quic-multipath-21)
	{family: "mp", name: "path-abandon", frame: Frame{Type: FramePathAbandon, PathID: 1, ErrorCode: 0x3e},
		wire: "7e75 01 3e"},
	{family: "mp", name: "path-status-backup", frame: Frame{Type: FramePathStatusBackup, PathID: 2, Sequence: 5},
		wire: "7e76 02 05"},
	{family: "mp", name: "path-status-available", frame: Frame{Type: FramePathStatusAvailable, PathID: 2, Sequence: 6},
		wire: "7e77 02 06"},
	{family: "mp", name: "max-path-id", frame: Frame{Type: FrameMaxPathID, Maximum: maxPathID},
		wire: "7e7a c0000000ffffffff"},
	{family: "mp", name: "paths-blocked", frame: Frame{Type: FramePathsBlocked, Maximum: 5}, wire: "7e7b 05"},
	{family: "mp", name: "path-cids-blocked", frame: Frame{Type: FramePathCIDsBlocked, PathID: 2, Sequence: 7},
		wire: "7e7c 02 07"},

	// ack frequency
	{family: "ackfreq", name: "ack-frequency", frame: Frame{Type: FrameAckFrequency, Sequence: 1, AckElicitingThreshold: 10,
		RequestMaxAckDelay: 25000, ReorderingThreshold: 1},
		wire: "40af 01 0a 800061a8 01"},
	{family: "ackfreq", name: "immediate-ack", frame: Frame{Type: FrameImmediateAck}, wire: "1f"},
}

func TestFrameVectors(t *testing.T) {
	for _, v := range frameVectors {
		t.Run(v.family+"/"+v.name, func(t *testing.T) {
			wire := hx(t, v.wire)
			enc, err := AppendFrame(nil, &v.frame)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !bytes.Equal(enc, wire) {
				t.Fatalf("encode:\n got %x\nwant %x", enc, wire)
			}
			got, err := DecodeFrames(wire)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !framesEqual(got, []Frame{v.frame}) {
				t.Fatalf("decode:\n got %+v\nwant %+v", got, v.frame)
			}
			n, err := CheckFrames(wire)
			if err != nil || n != 1 {
				t.Fatalf("CheckFrames = %d, %v", n, err)
			}
		})
	}
}

// Every strict prefix of a frame with explicit lengths is malformed.
func TestFrameTruncated(t *testing.T) {
	for _, v := range frameVectors {
		if v.prefixValid {
			continue
		}
		wire := hx(t, v.wire)
		for n := 1; n < len(wire); n++ {
			_, err := DecodeFrames(wire[:n])
			code, ok := ErrorCode(err)
			if !ok || code != CodeFrameEncodingError {
				t.Errorf("%s: prefix %x: err %v, want FRAME_ENCODING_ERROR", v.name, wire[:n], err)
			}
		}
	}
}

// frameMalformedVectors are malformed frames and the error code each must
// produce.
var frameMalformedVectors = []struct {
	family, name, wire string
	code               uint64
}{
	{"misc", "ping-2-byte-type", "4001", CodeProtocolViolation},
	{"misc", "ack-4-byte-type", "80000002 00 00 00 00", CodeProtocolViolation},
	{"misc", "unknown-type-0x20", "20", CodeFrameEncodingError},
	{"misc", "unknown-type-0x40", "4040", CodeFrameEncodingError},
	{"misc", "unknown-type-2^30", "c000000040000000", CodeFrameEncodingError},
	{"misc", "unknown-type-non-minimal", "c000000000001234", CodeProtocolViolation},
	{"misc", "reset-stream-at-reliable-above-final", "24 04 01 05 06", CodeFrameEncodingError},
	{"misc", "close-reason-beyond-frame", "1c 00 00 05 61", CodeFrameEncodingError},
	{"misc", "app-close-reason-beyond-frame", "1d 00 4005 61", CodeFrameEncodingError},
	{"misc", "path-challenge-short", "1a 01020304050607", CodeFrameEncodingError},
	{"stream", "stream-offset-plus-len-overflow", "0e 00 ffffffffffffffff 01 00", CodeFrameEncodingError},
	{"stream", "stream-no-len-overflow", "0c 00 ffffffffffffffff 00", CodeFrameEncodingError},
	{"stream", "stream-len-beyond-packet", "0a 00 05 01", CodeFrameEncodingError},
	{"stream", "crypto-overflow", "06 ffffffffffffffff 01 00", CodeFrameEncodingError},
	{"stream", "crypto-len-beyond-packet", "06 00 03 0102", CodeFrameEncodingError},
	{"stream", "new-token-empty", "07 00", CodeFrameEncodingError},
	{"stream", "datagram-len-beyond-packet", "31 03 0102", CodeFrameEncodingError},
	{"flow", "max-streams-bidi-above-2^60", "12 d000000000000001", CodeFrameEncodingError},
	{"flow", "max-streams-uni-above-2^60", "13 ffffffffffffffff", CodeFrameEncodingError},
	{"flow", "streams-blocked-bidi-above-2^60", "16 d000000000000001", CodeFrameEncodingError},
	{"flow", "streams-blocked-uni-above-2^60", "17 d000000000000001", CodeFrameEncodingError},
	{"cid", "new-cid-zero-length", "18 01 00 00 " + testTokenHex, CodeFrameEncodingError},
	{"cid", "new-cid-length-21", "18 01 00 15 " + strings.Repeat("aa", 21) + testTokenHex, CodeFrameEncodingError},
	{"cid", "new-cid-retire-prior-to-above-seq", "18 01 02 04 01020304 " + testTokenHex, CodeFrameEncodingError},
	{"cid", "new-cid-short-token", "18 01 00 04 01020304 000102", CodeFrameEncodingError},
	{"cid", "path-new-cid-path-id-above-2^32-1", "7e78 c000000100000000 01 00 04 01020304 " + testTokenHex, CodeProtocolViolation},
	{"cid", "path-new-cid-retire-prior-to-above-seq", "7e78 01 01 02 04 01020304 " + testTokenHex, CodeFrameEncodingError},
	{"ack", "ack-first-range-below-zero", "02 05 00 00 06", CodeFrameEncodingError},
	{"ack", "ack-gap-below-zero", "02 05 00 01 00 04 00", CodeFrameEncodingError},
	{"ack", "ack-range-below-zero", "02 0a 00 01 00 00 09", CodeFrameEncodingError},
	{"ack", "ack-huge-range-count", "02 0a 00 bfffffff 00 00 00", CodeFrameEncodingError},
	{"ack", "ack-ecn-missing-counts", "03 0a 00 00 00 01 02", CodeFrameEncodingError},
	{"ack", "path-ack-path-id-above-2^32-1", "3e c000000100000000 00 00 00 00", CodeProtocolViolation},
	{"ack", "accurate-ecn-mark-4", "a051a5fa 0a 00 00 00 04", CodeFrameEncodingError},
	{"ack", "accurate-range-ecn-mark-ff", "a051a5fa 0a 00 01 00 01 00 00 ff", CodeFrameEncodingError},
	{"ack", "accurate-gap-below-zero", "a051a5fa 02 00 01 01 01 02 00 01", CodeFrameEncodingError},
	{"mp", "max-path-id-above-2^32-1", "7e7a c000000100000000", CodeProtocolViolation},
	{"mp", "paths-blocked-above-2^32-1", "7e7b c000000100000000", CodeProtocolViolation},
	{"mp", "path-abandon-path-id-above-2^32-1", "7e75 c000000100000000 00", CodeProtocolViolation},
	{"mp", "path-status-path-id-above-2^32-1", "7e76 c000000100000000 00", CodeProtocolViolation},
	{"mp", "path-cids-blocked-path-id-above-2^32-1", "7e7c c000000100000000 00", CodeProtocolViolation},
	{"ackfreq", "ack-frequency-max-ack-delay-2^14ms", "40af 01 01 80fa0000 01", CodeProtocolViolation},
	{"ackfreq", "ack-frequency-truncated", "40af 01 01 01", CodeFrameEncodingError},
}

func TestFrameMalformed(t *testing.T) {
	for _, tc := range frameMalformedVectors {
		t.Run(tc.family+"/"+tc.name, func(t *testing.T) {
			frames, err := DecodeFrames(hx(t, tc.wire))
			code, ok := ErrorCode(err)
			if !ok || code != tc.code {
				t.Fatalf("err %v (frames %+v), want code %#x", err, frames, tc.code)
			}
			if _, err := CheckFrames(hx(t, tc.wire)); err == nil {
				t.Fatal("CheckFrames accepted a malformed payload")
			}
		})
	}
}

// The accurate ACK gap counts missing packets without the -1 of RFC 9000:
// a gap of 0 makes adjacent ranges, which plain ACK frames cannot express.
func TestAccurateAckAdjacentRanges(t *testing.T) {
	f := Frame{Type: FrameAccurateAckECN, AckRanges: []AckRange{{Smallest: 5, Largest: 6, ECN: 3}, {Smallest: 0, Largest: 4, ECN: 2}}}
	enc, err := AppendFrame(nil, &f)
	if err != nil {
		t.Fatal(err)
	}
	if want := hx(t, "a051a5fa 06 00 01 01 03 00 04 02"); !bytes.Equal(enc, want) {
		t.Fatalf("got %x want %x", enc, want)
	}
	plain := Frame{Type: FrameAck, AckRanges: f.AckRanges}
	if _, err := AppendFrame(nil, &plain); err == nil {
		t.Fatal("ACK with adjacent ranges was encoded")
	}
}

func TestFrameEncodeInvalid(t *testing.T) {
	tests := []struct {
		name string
		f    Frame
	}{
		{"unknown-type", Frame{Type: 0x20}},
		{"padding-zero", Frame{Type: FramePadding}},
		{"stream-overflow", Frame{Type: 0x0e, Offset: maxVarint, Data: []byte{1}}},
		{"stream-id-above-2^62", Frame{Type: 0x08, StreamID: 1 << 62}},
		{"crypto-overflow", Frame{Type: FrameCrypto, Offset: maxVarint, Data: []byte{1}}},
		{"new-token-empty", Frame{Type: FrameNewToken}},
		{"max-streams-above-2^60", Frame{Type: FrameMaxStreamsBidi, Maximum: 1<<60 + 1}},
		{"streams-blocked-above-2^60", Frame{Type: FrameStreamsBlockedUni, Maximum: 1<<60 + 1}},
		{"max-data-above-2^62", Frame{Type: FrameMaxData, Maximum: 1 << 62}},
		{"new-cid-empty", Frame{Type: FrameNewConnectionID, Sequence: 1}},
		{"new-cid-21", Frame{Type: FrameNewConnectionID, Sequence: 1, ConnectionID: make([]byte, 21)}},
		{"new-cid-rpt-above-seq", Frame{Type: FrameNewConnectionID, Sequence: 1, RetirePriorTo: 2, ConnectionID: testCID}},
		{"path-new-cid-path-id", Frame{Type: FramePathNewConnectionID, PathID: 1 << 32, ConnectionID: testCID}},
		{"max-path-id-above-2^32-1", Frame{Type: FrameMaxPathID, Maximum: 1 << 32}},
		{"path-abandon-path-id", Frame{Type: FramePathAbandon, PathID: 1 << 32}},
		{"reset-stream-at-reliable-above-final", Frame{Type: FrameResetStreamAt, FinalSize: 1, ReliableSize: 2}},
		{"ack-frequency-delay", Frame{Type: FrameAckFrequency, RequestMaxAckDelay: 16384000}},
		{"ack-no-ranges", Frame{Type: FrameAck}},
		{"ack-inverted-range", Frame{Type: FrameAck, AckRanges: []AckRange{{Smallest: 5, Largest: 4}}}},
		{"ack-ascending", Frame{Type: FrameAck, AckRanges: []AckRange{{Smallest: 1, Largest: 2}, {Smallest: 5, Largest: 6}}}},
		{"ack-overlap", Frame{Type: FrameAck, AckRanges: []AckRange{{Smallest: 4, Largest: 6}, {Smallest: 1, Largest: 4}}}},
		{"ack-largest-above-2^62", Frame{Type: FrameAck, AckRanges: []AckRange{{Smallest: 1, Largest: 1 << 62}}}},
		{"accurate-ecn-4", Frame{Type: FrameAccurateAckECN, AckRanges: []AckRange{{Smallest: 1, Largest: 1, ECN: 4}}}},
		{"path-ack-path-id", Frame{Type: FramePathAck, PathID: 1 << 32, AckRanges: []AckRange{{}}}},
	}
	for _, tc := range tests {
		if b, err := AppendFrame(nil, &tc.f); err == nil {
			t.Errorf("%s: encoded %x, want an error", tc.name, b)
		}
	}
}

// A multi-frame payload: counts, offsets and the packet-without-frames rule.
func TestDecodeFramesPayload(t *testing.T) {
	var payload []byte
	var want []Frame
	for _, v := range frameVectors {
		if v.prefixValid {
			continue // would swallow the frames after it
		}
		payload = append(payload, hx(t, v.wire)...)
		want = append(want, v.frame)
	}
	payload = append(payload, 0, 0, 0)
	want = append(want, Frame{Type: FramePadding, PaddingLen: 3})
	got, err := DecodeFrames(payload)
	if err != nil {
		t.Fatal(err)
	}
	if !framesEqual(got, want) {
		t.Fatalf("decoded %d frames, want %d", len(got), len(want))
	}
	n, err := CheckFrames(payload)
	if err != nil || n != len(want) {
		t.Fatalf("CheckFrames = %d, %v; want %d", n, err, len(want))
	}
	// A bad frame in the middle reports its index and offset.
	bad := append(append([]byte{0x01, 0x01}, hx(t, "07 00")...), 0x01)
	_, err = DecodeFrames(bad)
	if code, _ := ErrorCode(err); code != CodeFrameEncodingError || !strings.Contains(err.Error(), "frame 2 at offset 2") {
		t.Fatalf("err = %v", err)
	}
	if _, err := DecodeFrames(nil); err == nil {
		t.Fatal("empty payload accepted")
	} else if code, _ := ErrorCode(err); code != CodeProtocolViolation {
		t.Fatalf("empty payload: %v", err)
	}
	if _, err := CheckFrames(nil); err == nil {
		t.Fatal("CheckFrames accepted an empty payload")
	}
}

// CheckFrames must notice bytes our encoder would not produce, such as a
// field varint that is valid but not in its shortest form.
func TestCheckFramesDetectsDifference(t *testing.T) {
	payload := hx(t, "01 10 4005")
	frames, err := DecodeFrames(payload)
	if err != nil || len(frames) != 2 || frames[1].Maximum != 5 {
		t.Fatalf("decode = %+v, %v", frames, err)
	}
	n, err := CheckFrames(payload)
	if err == nil || n != 1 || !strings.Contains(err.Error(), "re-encoded 1005, original 104005") {
		t.Fatalf("CheckFrames = %d, %v", n, err)
	}
	var we *WireError
	if errors.As(err, &we) {
		t.Fatalf("a re-encoding difference is not a wire error: %v", err)
	}
}

// Many ranges: decoding holds no per-range state, the iterator yields them
// all, and the round trip is exact.
func TestAckManyRanges(t *testing.T) {
	for _, typ := range []FrameType{FrameAck, FrameAccurateAckECN} {
		var ranges []AckRange
		pn := uint64(1) << 40
		for i := 0; i < 5000; i++ {
			r := AckRange{Largest: pn, Smallest: pn - uint64(i%7)}
			if typ == FrameAccurateAckECN {
				r.ECN = uint8(i % 4)
			}
			ranges = append(ranges, r)
			pn = r.Smallest - 2 - uint64(i%300)
		}
		f := Frame{Type: typ, AckDelay: 7, AckRanges: ranges}
		enc, err := AppendFrame(nil, &f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeFrames(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !framesEqual(got, []Frame{f}) {
			t.Fatalf("%v: round trip of %d ranges differs", typ, len(ranges))
		}
	}
}

func TestFrameInfo(t *testing.T) {
	// RFC 9000 table 3 plus the extensions: packet types (I, H, 0, 1)
	// and the N (not ack-eliciting), C (not in flight), P (probing) and
	// F (flow controlled) columns.
	tests := []struct {
		t     FrameType
		pkts  string
		flags string
	}{
		{FramePadding, "IH01", "NP"},
		{FramePing, "IH01", ""},
		{FrameAck, "IH_1", "NC"},
		{FrameAckECN, "IH_1", "NC"},
		{FrameResetStream, "__01", ""},
		{FrameStopSending, "__01", ""},
		{FrameCrypto, "IH_1", ""},
		{FrameNewToken, "___1", ""},
		{0x08, "__01", "F"},
		{0x0f, "__01", "F"},
		{FrameMaxData, "__01", ""},
		{FrameMaxStreamData, "__01", ""},
		{FrameMaxStreamsBidi, "__01", ""},
		{FrameMaxStreamsUni, "__01", ""},
		{FrameDataBlocked, "__01", ""},
		{FrameStreamDataBlocked, "__01", ""},
		{FrameStreamsBlockedBidi, "__01", ""},
		{FrameStreamsBlockedUni, "__01", ""},
		{FrameNewConnectionID, "__01", "P"},
		{FrameRetireConnectionID, "___1", ""},
		{FramePathChallenge, "__01", "P"},
		{FramePathResponse, "___1", "P"},
		{FrameConnectionClose, "IH01", "NC"},
		{FrameConnectionCloseApp, "__01", "NC"},
		{FrameHandshakeDone, "___1", ""},
		{FrameDatagram, "__01", ""},
		{FrameDatagramLen, "__01", ""},
		{FrameResetStreamAt, "__01", ""},
		{FrameAckFrequency, "___1", ""},
		{FrameImmediateAck, "___1", ""},
		{FramePathAck, "___1", "NC"},
		{FramePathAckECN, "___1", "NC"},
		{FramePathAbandon, "___1", ""},
		{FramePathStatusBackup, "___1", ""},
		{FramePathStatusAvailable, "___1", ""},
		{FramePathNewConnectionID, "___1", ""},
		{FramePathRetireConnectionID, "___1", ""},
		{FrameMaxPathID, "___1", ""},
		{FramePathsBlocked, "___1", ""},
		{FramePathCIDsBlocked, "___1", ""},
		{FrameAccurateAckECN, "___1", "NC"},
	}
	pkt := []PacketTypes{FramePktInitial, FramePktHandshake, FramePkt0RTT, FramePkt1RTT}
	for _, tc := range tests {
		if !tc.t.Known() {
			t.Errorf("%v: not known", tc.t)
		}
		for i, p := range pkt {
			if want := tc.pkts[i] != '_'; tc.t.AllowedIn(p) != want {
				t.Errorf("%v: allowed in %q = %v, want %v", tc.t, "IH01"[i:i+1], !want, want)
			}
		}
		if got, want := tc.t.AckEliciting(), !strings.Contains(tc.flags, "N"); got != want {
			t.Errorf("%v: ack-eliciting %v, want %v", tc.t, got, want)
		}
		if got, want := tc.t.InFlight(), !strings.Contains(tc.flags, "C"); got != want {
			t.Errorf("%v: in flight %v, want %v", tc.t, got, want)
		}
		if got, want := tc.t.Probing(), strings.Contains(tc.flags, "P"); got != want {
			t.Errorf("%v: probing %v, want %v", tc.t, got, want)
		}
		if got, want := tc.t.FlowControlled(), strings.Contains(tc.flags, "F"); got != want {
			t.Errorf("%v: flow controlled %v, want %v", tc.t, got, want)
		}
	}
	for _, unknown := range []FrameType{0x20, 0x2f, 0x32, 0x3d, 0x40, 0x3e74, 0x3e7d, 0x2051a5fb} {
		if unknown.Known() || unknown.PacketTypes() != 0 || unknown.AllowedIn(FramePkt1RTT) {
			t.Errorf("%v: unexpectedly known", unknown)
		}
	}
	if FrameAck.String() != "ACK" || FrameType(0x0f).String() != "STREAM(0x0f)" {
		t.Errorf("names: %v %v", FrameAck, FrameType(0x0f))
	}
}

// A STREAM header followed by the data is the frame AppendFrame builds.
func TestStreamFrameHeader(t *testing.T) {
	data := []byte("payload")
	for _, id := range []uint64{0, 63, 64, 1 << 20, maxVarint} {
		for _, off := range []uint64{0, 1, 16383, 16384, 1 << 40} {
			for _, fin := range []bool{false, true} {
				for _, withLen := range []bool{false, true} {
					typ := FrameStream
					if withLen {
						typ |= FrameStreamLen
					}
					want, err := AppendFrame(nil, &Frame{Type: typ, StreamID: id, Offset: off, Fin: fin, Data: data})
					if err != nil {
						t.Fatal(err)
					}
					hdr, err := AppendStreamFrameHeader(nil, id, off, uint64(len(data)), fin, withLen)
					if err != nil {
						t.Fatal(err)
					}
					if got := append(hdr, data...); !bytes.Equal(got, want) {
						t.Fatalf("id %d off %d fin %v len %v: %x, want %x", id, off, fin, withLen, got, want)
					}
					if n := StreamFrameHeaderLen(id, off, uint64(len(data)), withLen); n != len(hdr) {
						t.Fatalf("header length %d, wrote %d", n, len(hdr))
					}
				}
			}
		}
	}
	if _, err := AppendStreamFrameHeader(nil, 0, maxVarint, 1, false, true); err == nil {
		t.Fatal("header past 2^62-1 encoded")
	}
	if StreamFrameHeaderLen(1<<62, 0, 0, true) != 0 || StreamFrameHeaderLen(0, maxVarint, 1, true) != 0 {
		t.Fatal("length of an unencodable header")
	}
}
