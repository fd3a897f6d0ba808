package h3

import (
	"bufio"
	"fmt"
	"io"
	"sync"

	"github.com/tquic/tquic/pkg/capsule"
)

// Frame types (RFC 9114 section 7.2, RFC 9218 section 7).
const (
	FrameData                 = 0x00
	FrameHeaders              = 0x01
	FrameCancelPush           = 0x03
	FrameSettings             = 0x04
	FramePushPromise          = 0x05
	FrameGoAway               = 0x07
	FrameMaxPushID            = 0x0d
	FramePriorityUpdate       = 0xf0700
	FramePriorityUpdatePush   = 0xf0701
	maxControlFramePayload    = 16 << 10
	defaultMaxFieldSectionLen = 64 << 10
)

// Unidirectional stream types (RFC 9114 section 6.2, RFC 9204 section 4.2).
const (
	StreamTypeControl      = 0x00
	StreamTypePush         = 0x01
	StreamTypeQPACKEncoder = 0x02
	StreamTypeQPACKDecoder = 0x03
)

// isH2FrameType reports the frame types HTTP/2 defined that HTTP/3 reserves:
// receiving one is a connection error of type H3_FRAME_UNEXPECTED.
func isH2FrameType(t uint64) bool { return t == 0x02 || t == 0x06 || t == 0x08 || t == 0x09 }

// IsGrease reports whether v is a reserved value (0x1f*N + 0x21) for frame
// types, stream types, settings or error codes.
func IsGrease(v uint64) bool { return v >= 0x21 && (v-0x21)%0x1f == 0 }

// frameReader reads HTTP/3 frames from a stream.
type frameReader struct {
	r   *bufio.Reader
	src eofReader
}

// eofReader remembers that its reader returned io.EOF: the stream's
// receiving direction is then complete and needs no STOP_SENDING.
type eofReader struct {
	r   io.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

// frameReaderSize is the read buffer: reads larger than it bypass it, so
// a small one suffices.
const frameReaderSize = 1024

func newFrameReader(r io.Reader) *frameReader {
	fr := &frameReader{src: eofReader{r: r}}
	fr.r = bufio.NewReaderSize(&fr.src, frameReaderSize)
	return fr
}

var frameReaderPool = sync.Pool{New: func() any {
	fr := &frameReader{}
	fr.r = bufio.NewReaderSize(&fr.src, frameReaderSize)
	return fr
}}

// getFrameReader is newFrameReader from a pool; putFrameReader returns a
// reader nothing refers to any more.
func getFrameReader(r io.Reader) *frameReader {
	fr := frameReaderPool.Get().(*frameReader)
	fr.src = eofReader{r: r}
	fr.r.Reset(&fr.src)
	return fr
}

func putFrameReader(fr *frameReader) {
	fr.src = eofReader{}
	fr.r.Reset(&fr.src)
	frameReaderPool.Put(fr)
}

// header reads a frame header. It returns io.EOF at a clean end of stream
// and a H3_FRAME_ERROR connError when the stream ends inside a header.
func (fr *frameReader) header() (typ, length uint64, err error) {
	typ, err = capsule.ReadVarint(fr.r)
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, 0, errConn(ErrCodeFrameError, "stream ends inside a frame type")
		}
		return 0, 0, err
	}
	length, err = capsule.ReadVarint(fr.r)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return 0, 0, errConn(ErrCodeFrameError, "stream ends inside frame header of type %#x", typ)
		}
		return 0, 0, err
	}
	return typ, length, nil
}

// payload reads a whole frame payload of at most max bytes.
func (fr *frameReader) payload(typ, length, max uint64) ([]byte, error) {
	if length > max {
		if typ == FrameHeaders || typ == FramePushPromise {
			return nil, errStream(ErrCodeExcessiveLoad, "field section of %d bytes exceeds %d", length, max)
		}
		return nil, errConn(ErrCodeExcessiveLoad, "frame %#x of %d bytes exceeds %d", typ, length, max)
	}
	b := make([]byte, length)
	if _, err := io.ReadFull(fr.r, b); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errConn(ErrCodeFrameError, "stream ends inside frame %#x", typ)
		}
		return nil, err
	}
	return b, nil
}

// skip discards length bytes of an ignored frame.
func (fr *frameReader) skip(length uint64) error {
	n, err := io.CopyN(io.Discard, fr.r, int64(length))
	if err != nil {
		if uint64(n) < length && (err == io.EOF || err == io.ErrUnexpectedEOF) {
			return errConn(ErrCodeFrameError, "stream ends inside an unknown frame")
		}
		return err
	}
	return nil
}

func appendFrameHeader(b []byte, typ, length uint64) []byte {
	b = capsule.AppendVarint(b, typ)
	return capsule.AppendVarint(b, length)
}

func appendFrame(b []byte, typ uint64, payload []byte) []byte {
	b = appendFrameHeader(b, typ, uint64(len(payload)))
	return append(b, payload...)
}

// Settings identifiers.
const (
	SettingQPACKMaxTableCapacity  = 0x01
	SettingMaxFieldSectionSize    = 0x06
	SettingQPACKBlockedStreams    = 0x07
	SettingEnableConnectProtocol  = 0x08
	SettingH3Datagram             = 0x33
	settingReservedH2EnablePush   = 0x02
	settingReservedH2MaxStreams   = 0x03
	settingReservedH2InitialWin   = 0x04
	settingReservedH2MaxFrameSize = 0x05
)

// parseSettings decodes a SETTINGS payload with the validation of RFC 9114
// section 7.2.4: no duplicates, no HTTP/2 settings, boolean settings 0/1.
func parseSettings(p []byte) (map[uint64]uint64, error) {
	s := map[uint64]uint64{}
	for len(p) > 0 {
		id, n, err := capsule.ParseVarint(p)
		if err != nil {
			return nil, errConn(ErrCodeFrameError, "truncated setting identifier")
		}
		v, m, err := capsule.ParseVarint(p[n:])
		if err != nil {
			return nil, errConn(ErrCodeFrameError, "truncated setting value")
		}
		p = p[n+m:]
		switch id {
		case settingReservedH2EnablePush, settingReservedH2MaxStreams, settingReservedH2InitialWin, settingReservedH2MaxFrameSize:
			return nil, errConn(ErrCodeSettingsError, "HTTP/2 setting %#x", id)
		case SettingEnableConnectProtocol, SettingH3Datagram:
			if v > 1 {
				return nil, errConn(ErrCodeSettingsError, "setting %#x must be 0 or 1, got %d", id, v)
			}
		}
		if _, dup := s[id]; dup {
			return nil, errConn(ErrCodeSettingsError, "duplicate setting %#x", id)
		}
		s[id] = v
	}
	return s, nil
}

func appendSettings(b []byte, s map[uint64]uint64, order []uint64) []byte {
	var p []byte
	for _, id := range order {
		p = capsule.AppendVarint(p, id)
		p = capsule.AppendVarint(p, s[id])
	}
	return appendFrame(b, FrameSettings, p)
}

// parseVarintPayload decodes a frame whose payload is exactly one varint
// (GOAWAY, MAX_PUSH_ID, CANCEL_PUSH).
func parseVarintPayload(typ uint64, p []byte) (uint64, error) {
	v, n, err := capsule.ParseVarint(p)
	if err != nil || n != len(p) {
		return 0, errConn(ErrCodeFrameError, "malformed frame %#x", typ)
	}
	return v, nil
}

// frameName names a frame type for error messages.
func frameName(t uint64) string {
	switch t {
	case FrameData:
		return "DATA"
	case FrameHeaders:
		return "HEADERS"
	case FrameCancelPush:
		return "CANCEL_PUSH"
	case FrameSettings:
		return "SETTINGS"
	case FramePushPromise:
		return "PUSH_PROMISE"
	case FrameGoAway:
		return "GOAWAY"
	case FrameMaxPushID:
		return "MAX_PUSH_ID"
	case FramePriorityUpdate, FramePriorityUpdatePush:
		return "PRIORITY_UPDATE"
	}
	return fmt.Sprintf("frame %#x", t)
}
