package h3

import (
	"errors"
	"fmt"

	"github.com/tquic/tquic/pkg/qpack"
	"github.com/tquic/tquic/pkg/transport"
)

// ErrorCode is an HTTP/3 error code (RFC 9114 section 8.1, RFC 9204
// section 6, RFC 9297 section 5).
type ErrorCode uint64

// HTTP/3 error codes.
const (
	ErrCodeNoError              ErrorCode = 0x100
	ErrCodeGeneralProtocolError ErrorCode = 0x101
	ErrCodeInternalError        ErrorCode = 0x102
	ErrCodeStreamCreationError  ErrorCode = 0x103
	ErrCodeClosedCriticalStream ErrorCode = 0x104
	ErrCodeFrameUnexpected      ErrorCode = 0x105
	ErrCodeFrameError           ErrorCode = 0x106
	ErrCodeExcessiveLoad        ErrorCode = 0x107
	ErrCodeIDError              ErrorCode = 0x108
	ErrCodeSettingsError        ErrorCode = 0x109
	ErrCodeMissingSettings      ErrorCode = 0x10a
	ErrCodeRequestRejected      ErrorCode = 0x10b
	ErrCodeRequestCanceled      ErrorCode = 0x10c
	ErrCodeRequestIncomplete    ErrorCode = 0x10d
	ErrCodeMessageError         ErrorCode = 0x10e
	ErrCodeConnectError         ErrorCode = 0x10f
	ErrCodeVersionFallback      ErrorCode = 0x110

	ErrCodeQPACKDecompressionFailed ErrorCode = 0x200
	ErrCodeQPACKEncoderStreamError  ErrorCode = 0x201
	ErrCodeQPACKDecoderStreamError  ErrorCode = 0x202

	ErrCodeDatagramError ErrorCode = 0x33
)

var errorNames = map[ErrorCode]string{
	ErrCodeNoError:                  "H3_NO_ERROR",
	ErrCodeGeneralProtocolError:     "H3_GENERAL_PROTOCOL_ERROR",
	ErrCodeInternalError:            "H3_INTERNAL_ERROR",
	ErrCodeStreamCreationError:      "H3_STREAM_CREATION_ERROR",
	ErrCodeClosedCriticalStream:     "H3_CLOSED_CRITICAL_STREAM",
	ErrCodeFrameUnexpected:          "H3_FRAME_UNEXPECTED",
	ErrCodeFrameError:               "H3_FRAME_ERROR",
	ErrCodeExcessiveLoad:            "H3_EXCESSIVE_LOAD",
	ErrCodeIDError:                  "H3_ID_ERROR",
	ErrCodeSettingsError:            "H3_SETTINGS_ERROR",
	ErrCodeMissingSettings:          "H3_MISSING_SETTINGS",
	ErrCodeRequestRejected:          "H3_REQUEST_REJECTED",
	ErrCodeRequestCanceled:          "H3_REQUEST_CANCELLED",
	ErrCodeRequestIncomplete:        "H3_REQUEST_INCOMPLETE",
	ErrCodeMessageError:             "H3_MESSAGE_ERROR",
	ErrCodeConnectError:             "H3_CONNECT_ERROR",
	ErrCodeVersionFallback:          "H3_VERSION_FALLBACK",
	ErrCodeQPACKDecompressionFailed: "QPACK_DECOMPRESSION_FAILED",
	ErrCodeQPACKEncoderStreamError:  "QPACK_ENCODER_STREAM_ERROR",
	ErrCodeQPACKDecoderStreamError:  "QPACK_DECODER_STREAM_ERROR",
	ErrCodeDatagramError:            "H3_DATAGRAM_ERROR",
}

func (c ErrorCode) String() string {
	if n, ok := errorNames[c]; ok {
		return n
	}
	if c >= 0x21 && (c-0x21)%0x1f == 0 {
		return fmt.Sprintf("H3_GREASE(%#x)", uint64(c))
	}
	return fmt.Sprintf("H3_ERROR(%#x)", uint64(c))
}

// Error is an HTTP/3 error: a stream or connection that was closed with an
// HTTP/3 error code, by this endpoint (Remote false) or the peer.
type Error struct {
	Code   ErrorCode
	Remote bool
	// Connection is true when the whole connection was closed.
	Connection bool
	Message    string
}

func (e *Error) Error() string {
	scope := "stream"
	if e.Connection {
		scope = "connection"
	}
	who := "local"
	if e.Remote {
		who = "peer"
	}
	s := fmt.Sprintf("h3: %s closed by %s: %v", scope, who, e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// connError is a protocol violation that closes the connection.
type connError struct {
	code ErrorCode
	msg  string
}

func (e *connError) Error() string { return fmt.Sprintf("h3: %v: %s", e.code, e.msg) }

func errConn(code ErrorCode, format string, args ...any) error {
	return &connError{code: code, msg: fmt.Sprintf(format, args...)}
}

// streamError is a problem confined to one request stream.
type streamError struct {
	code ErrorCode
	msg  string
}

func (e *streamError) Error() string { return fmt.Sprintf("h3: %v: %s", e.code, e.msg) }

func errStream(code ErrorCode, format string, args ...any) error {
	return &streamError{code: code, msg: fmt.Sprintf(format, args...)}
}

// qpackCode maps a qpack error onto the HTTP/3 error code for it.
func qpackError(err error) error {
	switch {
	case errors.Is(err, qpack.ErrDecompressionFailed):
		return errConn(ErrCodeQPACKDecompressionFailed, "%v", err)
	case errors.Is(err, qpack.ErrEncoderStream):
		return errConn(ErrCodeQPACKEncoderStreamError, "%v", err)
	case errors.Is(err, qpack.ErrDecoderStream):
		return errConn(ErrCodeQPACKDecoderStreamError, "%v", err)
	case errors.Is(err, qpack.ErrFieldSectionTooLarge):
		return errStream(ErrCodeMessageError, "%v", err)
	}
	return err
}

// convertTransportError turns transport stream and connection errors into
// *Error values carrying HTTP/3 codes.
func convertTransportError(err error) error {
	var se *transport.StreamError
	if errors.As(err, &se) {
		return &Error{Code: ErrorCode(se.ErrorCode), Remote: se.Remote}
	}
	var ae *transport.ApplicationError
	if errors.As(err, &ae) {
		return &Error{Code: ErrorCode(ae.ErrorCode), Remote: ae.Remote, Connection: true, Message: ae.Message}
	}
	return err
}
