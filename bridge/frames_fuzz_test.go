package bridge

import (
	"bytes"
	"reflect"
	"testing"
)

// Fuzz targets for the engine's frame and transport parameter codecs.  Seed
// corpora live in testdata/fuzz/<FuzzName>/; `go test` runs them, `go test
// -fuzz=<FuzzName>` explores further.

// appendVarintMin appends v in its shortest QUIC varint encoding.
func appendVarintMin(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, 0x40|byte(v>>8), byte(v))
	case v < 1<<30:
		return append(b, 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(b, 0xc0|byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// checkFramesProperty is the property every payload must satisfy: either a
// QUIC error with an allowed code, or frames that obey their invariants,
// re-encode, and decode again to the same frames, the second encoding
// being a fixed point.
func checkFramesProperty(t *testing.T, payload []byte) {
	frames, err := DecodeFrames(payload)
	if err != nil {
		code, ok := ErrorCode(err)
		if !ok || (code != CodeFrameEncodingError && code != CodeProtocolViolation) {
			t.Fatalf("decode %x: unexpected error %v", payload, err)
		}
		return
	}
	var enc []byte
	for i := range frames {
		checkFrameInvariants(t, &frames[i])
		if enc, err = AppendFrame(enc, &frames[i]); err != nil {
			t.Fatalf("decode %x gave %+v, which does not encode: %v", payload, frames[i], err)
		}
	}
	if len(enc) > len(payload) {
		t.Fatalf("re-encoding %x grew to %x", payload, enc)
	}
	again, err := DecodeFrames(enc)
	if err != nil {
		t.Fatalf("re-encoding %x of %x does not decode: %v", enc, payload, err)
	}
	if !framesEqual(frames, again) {
		t.Fatalf("decode(encode(decode(%x))) differs:\n%+v\n%+v", payload, frames, again)
	}
	n, err := CheckFrames(enc)
	if err != nil || n != len(frames) {
		t.Fatalf("CheckFrames(%x) = %d, %v; want %d frames", enc, n, err, len(frames))
	}
}

func checkFrameInvariants(t *testing.T, f *Frame) {
	if !f.Type.Known() {
		t.Fatalf("decoded an unknown frame type %v", f.Type)
	}
	switch {
	case f.Type.IsStream(), f.Type == FrameCrypto:
		if f.Offset+uint64(len(f.Data)) > maxVarint {
			t.Fatalf("%v ends above 2^62-1: %+v", f.Type, f)
		}
	case f.Type.IsAck():
		if len(f.AckRanges) == 0 {
			t.Fatalf("%v without ranges", f.Type)
		}
		gap := uint64(2)
		if f.Type == FrameAccurateAckECN {
			gap = 1
		}
		for i, r := range f.AckRanges {
			if r.Smallest > r.Largest || r.ECN > 3 {
				t.Fatalf("%v: bad range %+v", f.Type, r)
			}
			if i > 0 && (r.Largest >= f.AckRanges[i-1].Smallest || f.AckRanges[i-1].Smallest-r.Largest < gap) {
				t.Fatalf("%v: ranges %+v and %+v too close", f.Type, f.AckRanges[i-1], r)
			}
		}
	case f.Type == FrameNewConnectionID, f.Type == FramePathNewConnectionID:
		if len(f.ConnectionID) < 1 || len(f.ConnectionID) > 20 || f.RetirePriorTo > f.Sequence {
			t.Fatalf("%v: invalid %+v", f.Type, f)
		}
	case f.Type == FrameMaxStreamsBidi, f.Type == FrameMaxStreamsUni,
		f.Type == FrameStreamsBlockedBidi, f.Type == FrameStreamsBlockedUni:
		if f.Maximum > 1<<60 {
			t.Fatalf("%v: %d streams", f.Type, f.Maximum)
		}
	case f.Type == FrameMaxPathID, f.Type == FramePathsBlocked:
		if f.Maximum > maxPathID {
			t.Fatalf("%v: path ID %d", f.Type, f.Maximum)
		}
	case f.Type == FrameNewToken:
		if len(f.Data) == 0 {
			t.Fatal("empty NEW_TOKEN")
		}
	case f.Type == FrameResetStreamAt:
		if f.ReliableSize > f.FinalSize {
			t.Fatalf("RESET_STREAM_AT reliable size above final size: %+v", f)
		}
	}
	if f.PathID > maxPathID {
		t.Fatalf("%v: path ID %d", f.Type, f.PathID)
	}
}

// fuzzFrameFamily fuzzes the bodies of the frame types of one family: the
// selector picks the type, whose shortest encoding is prefixed to body.
func fuzzFrameFamily(f *testing.F, types []FrameType) {
	f.Fuzz(func(t *testing.T, sel uint8, body []byte) {
		typ := types[int(sel)%len(types)]
		checkFramesProperty(t, append(appendVarintMin(nil, uint64(typ)), body...))
	})
}

var (
	streamFamily = []FrameType{0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
		FrameCrypto, FrameNewToken, FrameDatagram, FrameDatagramLen}
	ackFamily      = []FrameType{FrameAck, FrameAckECN, FramePathAck, FramePathAckECN, FrameAccurateAckECN}
	cidFamily      = []FrameType{FrameNewConnectionID, FrameRetireConnectionID, FramePathNewConnectionID, FramePathRetireConnectionID}
	flowFamily     = []FrameType{FrameMaxData, FrameMaxStreamData, FrameMaxStreamsBidi, FrameMaxStreamsUni, FrameDataBlocked, FrameStreamDataBlocked, FrameStreamsBlockedBidi, FrameStreamsBlockedUni}
	closeMiscTypes = []FrameType{FramePadding, FramePing, FrameResetStream, FrameStopSending, FrameResetStreamAt,
		FramePathChallenge, FramePathResponse, FrameConnectionClose, FrameConnectionCloseApp, FrameHandshakeDone}
	mpFamily      = []FrameType{FramePathAbandon, FramePathStatusBackup, FramePathStatusAvailable, FrameMaxPathID, FramePathsBlocked, FramePathCIDsBlocked}
	ackFreqFamily = []FrameType{FrameAckFrequency, FrameImmediateAck}
)

// FuzzFrameStream: STREAM 0x08-0x0f, CRYPTO, NEW_TOKEN, DATAGRAM.
func FuzzFrameStream(f *testing.F) { fuzzFrameFamily(f, streamFamily) }

// FuzzFrameAck: ACK, ACK_ECN, PATH_ACK, PATH_ACK_ECN, ACCURATE_ACK_ECN.
func FuzzFrameAck(f *testing.F) { fuzzFrameFamily(f, ackFamily) }

// FuzzFrameConnectionID: (PATH_)NEW_CONNECTION_ID, (PATH_)RETIRE_CONNECTION_ID.
func FuzzFrameConnectionID(f *testing.F) { fuzzFrameFamily(f, cidFamily) }

// FuzzFrameFlowControl: MAX_* and *_BLOCKED frames.
func FuzzFrameFlowControl(f *testing.F) { fuzzFrameFamily(f, flowFamily) }

// FuzzFrameCloseMisc: PADDING, PING, RESET_STREAM(_AT), STOP_SENDING,
// PATH_CHALLENGE/RESPONSE, CONNECTION_CLOSE, HANDSHAKE_DONE.
func FuzzFrameCloseMisc(f *testing.F) { fuzzFrameFamily(f, closeMiscTypes) }

// FuzzFrameMultipath: the draft-ietf-quic-multipath-21 control frames.
func FuzzFrameMultipath(f *testing.F) { fuzzFrameFamily(f, mpFamily) }

// FuzzFrameAckFrequency: ACK_FREQUENCY and IMMEDIATE_ACK.
func FuzzFrameAckFrequency(f *testing.F) { fuzzFrameFamily(f, ackFreqFamily) }

// FuzzFramesPayload: whole decrypted payloads, any mix of frames.
func FuzzFramesPayload(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkFramesProperty(t, payload)
	})
}

// FuzzTransportParams: decode as client or server parameters; valid sets
// re-encode to a fixed point that decodes to the same parameters.
func FuzzTransportParams(f *testing.F) {
	f.Fuzz(func(t *testing.T, fromServer bool, b []byte) {
		tp, err := DecodeTransportParams(b, fromServer)
		if err != nil {
			if code, ok := ErrorCode(err); !ok || code != CodeTransportParameterError {
				t.Fatalf("decode %x: unexpected error %v", b, err)
			}
			return
		}
		enc, err := tp.Encode()
		if err != nil {
			t.Fatalf("decoded %x to %+v, which does not encode: %v", b, tp, err)
		}
		again, err := DecodeTransportParams(enc, fromServer)
		if err != nil {
			t.Fatalf("re-encoding %x of %x does not decode: %v", enc, b, err)
		}
		// Only the first Available Versions are kept.
		if vi := &tp.VersionInformation; vi.AvailableCount > len(vi.Available) {
			vi.AvailableCount = len(vi.Available)
		}
		if !reflect.DeepEqual(tp, again) {
			t.Fatalf("decode(encode(decode(%x))) differs:\n%+v\n%+v", b, tp, again)
		}
		enc2, err := again.Encode()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("second encoding %x, %v; first %x", enc2, err, enc)
		}
	})
}
