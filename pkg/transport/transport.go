// Package transport is the small, transport-neutral QUIC interface that
// TQUIC's Go protocol layers (HTTP/3, WebTransport, MASQUE) are written
// against (ARCHITECTURE decision 7).
//
// Three implementations exist or are planned: sockapi (the kernel module's
// sockets), bridge (the user-space engine) and a quic-go adapter used only
// in tests. Nothing here refers to any of them: errors, stream IDs and
// connection state are plain values of this package.
package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// StreamID is a QUIC stream ID (RFC 9000 section 2.1). The two low bits say
// who opened the stream and whether it is unidirectional.
type StreamID int64

// IsClientInitiated reports whether the client opened the stream.
func (id StreamID) IsClientInitiated() bool { return id&1 == 0 }

// IsUnidirectional reports whether the stream carries data one way only.
func (id StreamID) IsUnidirectional() bool { return id&2 != 0 }

// ErrorCode is an application protocol error code carried by RESET_STREAM,
// STOP_SENDING and CONNECTION_CLOSE (type 0x1d). Its meaning belongs to the
// application protocol (for example the H3_* codes of RFC 9114).
type ErrorCode uint64

// ReceiveStream is the receiving half of a stream.
type ReceiveStream interface {
	// Read reads stream data. It returns io.EOF after the peer's FIN and a
	// *StreamError after the peer reset the stream or CancelRead was called.
	io.Reader
	// StreamID returns the stream's ID.
	StreamID() StreamID
	// CancelRead abandons reading and asks the peer to stop sending
	// (STOP_SENDING with code).
	CancelRead(code ErrorCode)
	// SetReadDeadline sets the deadline for pending and future Reads; a
	// zero value disables it. An expired deadline makes Read return an
	// error for which errors.Is(err, os.ErrDeadlineExceeded) holds.
	SetReadDeadline(t time.Time) error
}

// SendStream is the sending half of a stream.
type SendStream interface {
	// Write writes stream data, blocking on flow control.
	io.Writer
	// StreamID returns the stream's ID.
	StreamID() StreamID
	// Close ends the sending direction with a FIN after the data written so
	// far. It does not affect the receiving direction of a bidirectional
	// stream.
	Close() error
	// CancelWrite abandons sending (RESET_STREAM with code).
	CancelWrite(code ErrorCode)
	// SetWriteDeadline sets the deadline for pending and future Writes.
	SetWriteDeadline(t time.Time) error
	// Context is canceled when the sending direction is finished: the FIN
	// was sent, the stream was reset, or the connection closed.
	Context() context.Context
}

// Stream is a bidirectional stream.
type Stream interface {
	ReceiveStream
	SendStream
	// CloseWrite is Close under the name net.TCPConn uses for a half close,
	// so a Stream can be handed to code that expects that method.
	CloseWrite() error
	// SetDeadline sets both the read and the write deadline.
	SetDeadline(t time.Time) error
}

// ConnectionState describes an established connection.
type ConnectionState struct {
	// ALPN is the negotiated application protocol.
	ALPN string
	// Version is the QUIC version in use (1 for RFC 9000, 0x6b3343cf for v2).
	Version uint32
	// LocalAddr and RemoteAddr are the current path's addresses.
	LocalAddr, RemoteAddr net.Addr
	// TLS is the handshake's outcome.
	TLS tls.ConnectionState
	// Datagrams is true when both endpoints enabled RFC 9221 datagrams.
	Datagrams bool
	// Used0RTT reports whether 0-RTT data was accepted.
	Used0RTT bool
}

// Connection is one QUIC connection.
type Connection interface {
	// OpenStream opens a bidirectional stream, waiting for stream credit
	// until ctx is done.
	OpenStream(ctx context.Context) (Stream, error)
	// OpenUniStream opens a unidirectional stream, waiting for stream
	// credit until ctx is done.
	OpenUniStream(ctx context.Context) (SendStream, error)
	// AcceptStream returns the next bidirectional stream the peer opened.
	AcceptStream(ctx context.Context) (Stream, error)
	// AcceptUniStream returns the next unidirectional stream the peer opened.
	AcceptUniStream(ctx context.Context) (ReceiveStream, error)
	// SendDatagram sends an unreliable datagram (RFC 9221). It returns a
	// *DatagramTooLargeError when p does not fit in one packet.
	SendDatagram(p []byte) error
	// ReceiveDatagram returns the next datagram received.
	ReceiveDatagram(ctx context.Context) ([]byte, error)
	// CloseWithError closes the connection with an application error.
	CloseWithError(code ErrorCode, msg string) error
	// Context is canceled when the connection is closed; context.Cause
	// returns the reason (an *ApplicationError for application closes).
	Context() context.Context
	// State returns the connection's negotiated state.
	State() ConnectionState
}

// Listener accepts incoming connections.
type Listener interface {
	// Accept returns the next connection. It returns an error wrapping
	// net.ErrClosed once the listener is closed.
	Accept(ctx context.Context) (Connection, error)
	// Close stops accepting connections. Established ones are unaffected.
	Close() error
	// Addr returns the local address.
	Addr() net.Addr
}

// Dialer opens a client connection to addr (host:port). tlsConf carries the
// server name and ALPN protocols to offer.
type Dialer func(ctx context.Context, addr string, tlsConf *tls.Config) (Connection, error)

// StreamError reports a stream that was reset (by the peer: RESET_STREAM
// or STOP_SENDING; locally: CancelRead or CancelWrite).
type StreamError struct {
	StreamID  StreamID
	ErrorCode ErrorCode
	Remote    bool
}

func (e *StreamError) Error() string {
	who := "local"
	if e.Remote {
		who = "remote"
	}
	return fmt.Sprintf("stream %d canceled by %s with error code %#x", e.StreamID, who, uint64(e.ErrorCode))
}

// ApplicationError reports a connection closed with an application error
// code (CONNECTION_CLOSE type 0x1d).
type ApplicationError struct {
	ErrorCode ErrorCode
	Message   string
	Remote    bool
}

func (e *ApplicationError) Error() string {
	who := "local"
	if e.Remote {
		who = "remote"
	}
	if e.Message == "" {
		return fmt.Sprintf("connection closed by %s application error %#x", who, uint64(e.ErrorCode))
	}
	return fmt.Sprintf("connection closed by %s application error %#x: %s", who, uint64(e.ErrorCode), e.Message)
}

// DatagramTooLargeError reports a datagram larger than the path allows.
type DatagramTooLargeError struct {
	// MaxPayload is the largest datagram that currently fits.
	MaxPayload int
}

func (e *DatagramTooLargeError) Error() string {
	return fmt.Sprintf("datagram too large (maximum payload %d bytes)", e.MaxPayload)
}

// ErrDatagramsDisabled is returned by SendDatagram and ReceiveDatagram when
// the connection did not negotiate RFC 9221 datagrams.
var ErrDatagramsDisabled = errors.New("transport: datagrams not negotiated")

// IsConnectionError reports whether err ended the whole connection (as
// opposed to one stream): an *ApplicationError or a *TransportError (idle
// timeout, transport error, stateless reset, failed handshake).
func IsConnectionError(err error) bool {
	var ae *ApplicationError
	if errors.As(err, &ae) {
		return true
	}
	var ce interface{ ConnectionError() bool }
	return errors.As(err, &ce) && ce.ConnectionError()
}

// TransportError reports a connection closed for a reason other than an
// application error: a QUIC transport error, an idle timeout, a stateless
// reset, a failed handshake. Implementations wrap their native errors in it.
type TransportError struct {
	// Code is the QUIC transport error code, when there is one.
	Code uint64
	// Err is the implementation's own error.
	Err error
}

func (e *TransportError) Error() string { return "transport: connection closed: " + e.Err.Error() }

// Unwrap returns the implementation's own error.
func (e *TransportError) Unwrap() error { return e.Err }

// ConnectionError reports that the error ends the connection.
func (e *TransportError) ConnectionError() bool { return true }
