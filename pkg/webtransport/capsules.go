package webtransport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/tquic/tquic/pkg/capsule"
)

// Capsule types of WebTransport over HTTP/3.
const (
	CapsuleCloseSession       capsule.Type = 0x2843
	CapsuleDrainSession       capsule.Type = 0x78ae
	CapsuleMaxData            capsule.Type = 0x190b4d3d
	CapsuleMaxStreamsBidi     capsule.Type = 0x190b4d3f
	CapsuleMaxStreamsUni      capsule.Type = 0x190b4d40
	CapsuleDataBlocked        capsule.Type = 0x190b4d41
	CapsuleStreamsBlockedBidi capsule.Type = 0x190b4d43
	CapsuleStreamsBlockedUni  capsule.Type = 0x190b4d44
	// capsuleMaxStreamData and capsuleStreamDataBlocked exist only in
	// WebTransport over HTTP/2; over HTTP/3 they are a protocol error.
	capsuleMaxStreamData     capsule.Type = 0x190b4d3e
	capsuleStreamDataBlocked capsule.Type = 0x190b4d42
)

// maxCapsuleValue bounds the capsules a session reads from its CONNECT
// stream: the largest defined one is WT_CLOSE_SESSION (4 + 1024 bytes);
// unknown capsules up to this size are skipped, larger ones are refused.
const maxCapsuleValue = 64 << 10

// ErrMalformedCapsule reports a WebTransport capsule whose value does not
// match its type's format.
var ErrMalformedCapsule = errors.New("webtransport: malformed capsule")

// CloseSession is WT_CLOSE_SESSION.
type CloseSession struct {
	Code    SessionErrorCode
	Message string
}

// DrainSession is WT_DRAIN_SESSION.
type DrainSession struct{}

// MaxData is WT_MAX_DATA: the peer may send Max bytes of stream data in
// the session in total.
type MaxData struct{ Max uint64 }

// MaxStreams is WT_MAX_STREAMS (bidirectional or unidirectional).
type MaxStreams struct {
	Bidi bool
	Max  uint64
}

// DataBlocked is WT_DATA_BLOCKED.
type DataBlocked struct{ Limit uint64 }

// StreamsBlocked is WT_STREAMS_BLOCKED (bidirectional or unidirectional).
type StreamsBlocked struct {
	Bidi  bool
	Limit uint64
}

// AppendCapsule appends the encoding of one of the capsule values above
// (CloseSession, DrainSession, MaxData, MaxStreams, DataBlocked,
// StreamsBlocked). Close messages longer than 1024 bytes are truncated at
// a UTF-8 boundary.
func AppendCapsule(b []byte, c any) []byte {
	switch c := c.(type) {
	case CloseSession:
		msg := truncateUTF8(c.Message, maxCloseMessage)
		v := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(msg)), uint32(c.Code))
		return capsule.Append(b, CapsuleCloseSession, append(v, msg...))
	case DrainSession:
		return capsule.Append(b, CapsuleDrainSession, nil)
	case MaxData:
		return capsule.Append(b, CapsuleMaxData, capsule.AppendVarint(nil, c.Max))
	case MaxStreams:
		t := CapsuleMaxStreamsUni
		if c.Bidi {
			t = CapsuleMaxStreamsBidi
		}
		return capsule.Append(b, t, capsule.AppendVarint(nil, c.Max))
	case DataBlocked:
		return capsule.Append(b, CapsuleDataBlocked, capsule.AppendVarint(nil, c.Limit))
	case StreamsBlocked:
		t := CapsuleStreamsBlockedUni
		if c.Bidi {
			t = CapsuleStreamsBlockedBidi
		}
		return capsule.Append(b, t, capsule.AppendVarint(nil, c.Limit))
	}
	panic(fmt.Sprintf("webtransport: AppendCapsule of unsupported type %T", c))
}

// ParseCapsule decodes a WebTransport capsule. It returns (nil, nil) for
// capsule types WebTransport does not define (which receivers skip) and an
// error wrapping ErrMalformedCapsule for a defined type with a bad value.
func ParseCapsule(c capsule.Capsule) (any, error) {
	switch c.Type {
	case CapsuleCloseSession:
		if len(c.Value) < 4 {
			return nil, fmt.Errorf("%w: WT_CLOSE_SESSION of %d bytes", ErrMalformedCapsule, len(c.Value))
		}
		if len(c.Value)-4 > maxCloseMessage {
			return nil, fmt.Errorf("%w: WT_CLOSE_SESSION message of %d bytes", ErrMalformedCapsule, len(c.Value)-4)
		}
		if !utf8.Valid(c.Value[4:]) {
			return nil, fmt.Errorf("%w: WT_CLOSE_SESSION message is not UTF-8", ErrMalformedCapsule)
		}
		return CloseSession{Code: SessionErrorCode(binary.BigEndian.Uint32(c.Value)), Message: string(c.Value[4:])}, nil
	case CapsuleDrainSession:
		if len(c.Value) != 0 {
			return nil, fmt.Errorf("%w: WT_DRAIN_SESSION with a value", ErrMalformedCapsule)
		}
		return DrainSession{}, nil
	case CapsuleMaxData, CapsuleMaxStreamsBidi, CapsuleMaxStreamsUni, CapsuleDataBlocked,
		CapsuleStreamsBlockedBidi, CapsuleStreamsBlockedUni:
		v, n, err := capsule.ParseVarint(c.Value)
		if err != nil || n != len(c.Value) {
			return nil, fmt.Errorf("%w: capsule %#x must hold exactly one varint", ErrMalformedCapsule, uint64(c.Type))
		}
		switch c.Type {
		case CapsuleMaxData:
			return MaxData{Max: v}, nil
		case CapsuleDataBlocked:
			return DataBlocked{Limit: v}, nil
		}
		if v > maxStreamsLimit {
			return nil, fmt.Errorf("%w: stream limit %d exceeds 2^60", ErrMalformedCapsule, v)
		}
		switch c.Type {
		case CapsuleMaxStreamsBidi, CapsuleMaxStreamsUni:
			return MaxStreams{Bidi: c.Type == CapsuleMaxStreamsBidi, Max: v}, nil
		default:
			return StreamsBlocked{Bidi: c.Type == CapsuleStreamsBlockedBidi, Limit: v}, nil
		}
	case capsuleMaxStreamData, capsuleStreamDataBlocked:
		return nil, fmt.Errorf("%w: HTTP/2-only capsule %#x over HTTP/3", ErrMalformedCapsule, uint64(c.Type))
	}
	return nil, nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
