package webtransport

import (
	"errors"
	"fmt"
)

// HTTP/3 error codes defined by WebTransport.
const (
	// ErrCodeBufferedStreamRejected (WT_BUFFERED_STREAM_REJECTED) resets a
	// stream that arrived for a session that never appeared, or when the
	// buffer for such streams is full.
	ErrCodeBufferedStreamRejected uint64 = 0x3994bd84
	// ErrCodeSessionGone (WT_SESSION_GONE) resets the streams of a session
	// that was closed.
	ErrCodeSessionGone uint64 = 0x170d7b68
	// ErrCodeFlowControl (WT_FLOW_CONTROL_ERROR) closes a session whose
	// peer exceeded the session's flow-control limits.
	ErrCodeFlowControl uint64 = 0x045d4487
	// ErrCodeALPN (WT_ALPN_ERROR) closes a session whose application
	// protocol negotiation failed.
	ErrCodeALPN uint64 = 0x0817b3dd
)

// Application error codes carried by RESET_STREAM and STOP_SENDING are
// mapped into the HTTP/3 error space between firstErrorCode and
// lastErrorCode, skipping the reserved (grease) codepoints 0x1f*N+0x21.
const (
	firstErrorCode uint64 = 0x52e4a40fa8db
	lastErrorCode  uint64 = 0x52e5ac983162
)

// StreamErrorCode is a WebTransport application error code for a stream.
type StreamErrorCode uint32

// SessionErrorCode is a WebTransport application error code for a
// session, carried by WT_CLOSE_SESSION.
type SessionErrorCode uint32

// CodeToHTTP maps a WebTransport application error code onto the HTTP/3
// error code that represents it on the wire.
func CodeToHTTP(n StreamErrorCode) uint64 {
	v := uint64(n)
	return firstErrorCode + v + v/0x1e
}

// CodeFromHTTP maps an HTTP/3 error code back onto a WebTransport
// application error code. It fails for codes outside the WebTransport
// range and for the reserved codepoints inside it.
func CodeFromHTTP(h uint64) (StreamErrorCode, error) {
	if h < firstErrorCode || h > lastErrorCode {
		return 0, fmt.Errorf("webtransport: error code %#x outside the application range", h)
	}
	if (h-0x21)%0x1f == 0 {
		return 0, fmt.Errorf("webtransport: error code %#x is a reserved codepoint", h)
	}
	s := h - firstErrorCode
	return StreamErrorCode(s - s/0x1f), nil
}

// StreamError reports a stream reset or stopped by the peer or locally.
type StreamError struct {
	// ErrorCode is the application code; meaningful when HTTPCode is
	// inside the WebTransport range.
	ErrorCode StreamErrorCode
	// HTTPCode is the error code seen on the wire.
	HTTPCode uint64
	Remote   bool
}

func (e *StreamError) Error() string {
	who := "local"
	if e.Remote {
		who = "peer"
	}
	if _, err := CodeFromHTTP(e.HTTPCode); err == nil {
		return fmt.Sprintf("webtransport: stream reset by %s with application code %d", who, e.ErrorCode)
	}
	return fmt.Sprintf("webtransport: stream reset by %s with HTTP/3 code %#x", who, e.HTTPCode)
}

// SessionError reports the end of a session: a WT_CLOSE_SESSION received
// (Remote) or sent, or a session torn down for a protocol error.
type SessionError struct {
	ErrorCode SessionErrorCode
	Message   string
	Remote    bool
}

func (e *SessionError) Error() string {
	who := "locally"
	if e.Remote {
		who = "by peer"
	}
	if e.Message == "" {
		return fmt.Sprintf("webtransport: session closed %s with code %d", who, e.ErrorCode)
	}
	return fmt.Sprintf("webtransport: session closed %s with code %d: %s", who, e.ErrorCode, e.Message)
}

// Errors reported by the package.
var (
	// ErrSessionGone reports a stream of a session that has ended.
	ErrSessionGone = errors.New("webtransport: session gone")
	// ErrFlowControl reports a peer that exceeded a session limit.
	ErrFlowControl = errors.New("webtransport: session flow-control limit exceeded")
	// ErrNotSupported reports a peer that did not enable WebTransport or a
	// prerequisite (extended CONNECT, HTTP datagrams).
	ErrNotSupported = errors.New("webtransport: not supported by peer")
)
