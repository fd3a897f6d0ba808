package webtransport

import (
	"errors"
	"fmt"
	"io"

	"github.com/tquic/tquic/pkg/capsule"
)

// StreamHeader is the start of a WebTransport stream: the signal (0x41 for
// a bidirectional stream, 0x54 for a unidirectional one) and the session
// ID.
type StreamHeader struct {
	Uni       bool
	SessionID uint64
}

// ErrBadStreamHeader reports a stream that does not start with a valid
// WebTransport header.
var ErrBadStreamHeader = errors.New("webtransport: bad stream header")

// AppendStreamHeader appends the header of a stream of session sessionID.
func AppendStreamHeader(b []byte, h StreamHeader) []byte {
	if h.Uni {
		b = capsule.AppendVarint(b, StreamTypeUni)
	} else {
		b = capsule.AppendVarint(b, FrameTypeBidi)
	}
	return capsule.AppendVarint(b, h.SessionID)
}

// ReadStreamHeader reads a stream header from r.
func ReadStreamHeader(r io.ByteReader) (StreamHeader, error) {
	t, err := capsule.ReadVarint(r)
	if err != nil {
		return StreamHeader{}, fmt.Errorf("%w: reading type: %v", ErrBadStreamHeader, err)
	}
	var h StreamHeader
	switch t {
	case StreamTypeUni:
		h.Uni = true
	case FrameTypeBidi:
	default:
		return StreamHeader{}, fmt.Errorf("%w: type %#x", ErrBadStreamHeader, t)
	}
	id, err := capsule.ReadVarint(r)
	if err != nil {
		return StreamHeader{}, fmt.Errorf("%w: reading session ID: %v", ErrBadStreamHeader, err)
	}
	if !validSessionID(id) {
		return StreamHeader{}, fmt.Errorf("%w: session ID %d is not a client bidirectional stream", ErrBadStreamHeader, id)
	}
	h.SessionID = id
	return h, nil
}
