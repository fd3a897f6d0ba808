package webtransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/transport"
)

// SendStream is the sending half of a WebTransport stream.
type SendStream struct {
	sess *Session
	str  transport.SendStream
	// header is written before the first data of a locally opened stream.
	header []byte
	mu     sync.Mutex // serializes Write
	done   atomic.Bool
	onDone func()
}

// ReceiveStream is the receiving half of a WebTransport stream.
type ReceiveStream struct {
	sess   *Session
	str    transport.ReceiveStream
	r      io.Reader
	done   atomic.Bool
	onDone func()
}

// Stream is a bidirectional WebTransport stream.
type Stream struct {
	SendStream
	ReceiveStream
	str transport.Stream
}

// StreamID returns the QUIC stream ID.
func (s *SendStream) StreamID() transport.StreamID { return s.str.StreamID() }

// Write writes stream data, waiting for session flow-control credit.
func (s *SendStream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess.ctx.Err() != nil {
		return 0, s.sess.goneError()
	}
	if s.header != nil {
		if _, err := s.str.Write(s.header); err != nil {
			return 0, s.sess.streamError(err)
		}
		s.header = nil
	}
	written := 0
	for len(p) > 0 {
		n, err := s.sess.sendData.take(s.str.Context(), uint64(len(p)), s.sess.ctx.Done(), s.sess.dataBlocked)
		if err != nil {
			if errors.Is(err, ErrSessionGone) {
				return written, s.sess.goneError()
			}
			return written, fmt.Errorf("webtransport: waiting for session credit: %w", err)
		}
		m, err := s.str.Write(p[:n])
		written += m
		if err != nil {
			return written, s.sess.streamError(err)
		}
		p = p[n:]
	}
	return written, nil
}

// flushHeader sends the stream header now, so that the peer learns of the
// stream even before data is written.
func (s *SendStream) flushHeader() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.header == nil {
		return nil
	}
	if _, err := s.str.Write(s.header); err != nil {
		return s.sess.streamError(err)
	}
	s.header = nil
	return nil
}

// Close ends the stream's sending direction (FIN).
func (s *SendStream) Close() error {
	if err := s.flushHeader(); err != nil {
		return err
	}
	err := s.str.Close()
	s.finish()
	if err != nil {
		return s.sess.streamError(err)
	}
	return nil
}

// CancelWrite resets the stream with an application error code. The
// transport interface has no RESET_STREAM_AT, so the stream header is
// delivered only if it was already acknowledged; Write or Close first when
// the peer must learn which session the reset belongs to.
func (s *SendStream) CancelWrite(code StreamErrorCode) {
	s.str.CancelWrite(transport.ErrorCode(CodeToHTTP(code)))
	s.finish()
}

// SetWriteDeadline sets the deadline for pending and future Writes.
func (s *SendStream) SetWriteDeadline(t time.Time) error { return s.str.SetWriteDeadline(t) }

// Context is canceled when the sending direction has finished.
func (s *SendStream) Context() context.Context { return s.str.Context() }

func (s *SendStream) finish() {
	if !s.done.Swap(true) && s.onDone != nil {
		s.onDone()
	}
}

// StreamID returns the QUIC stream ID.
func (s *ReceiveStream) StreamID() transport.StreamID { return s.str.StreamID() }

// Read reads stream data. Data read counts against the session's receive
// limit; a peer that exceeds it has the session closed with
// WT_FLOW_CONTROL_ERROR.
func (s *ReceiveStream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		if ferr := s.sess.consumed(uint64(n)); ferr != nil {
			s.str.CancelRead(transport.ErrorCode(ErrCodeFlowControl))
			s.finish()
			return 0, ferr
		}
	}
	if err != nil {
		s.finish()
		if err == io.EOF {
			return n, io.EOF
		}
		return n, s.sess.streamError(err)
	}
	return n, nil
}

// CancelRead stops reading and asks the peer to stop sending with an
// application error code.
func (s *ReceiveStream) CancelRead(code StreamErrorCode) {
	s.str.CancelRead(transport.ErrorCode(CodeToHTTP(code)))
	s.finish()
}

// SetReadDeadline sets the deadline for pending and future Reads.
func (s *ReceiveStream) SetReadDeadline(t time.Time) error { return s.str.SetReadDeadline(t) }

func (s *ReceiveStream) finish() {
	if !s.done.Swap(true) && s.onDone != nil {
		s.onDone()
	}
}

// StreamID returns the QUIC stream ID.
func (s *Stream) StreamID() transport.StreamID { return s.str.StreamID() }

// SetDeadline sets the read and write deadlines.
func (s *Stream) SetDeadline(t time.Time) error { return s.str.SetDeadline(t) }

// streamError converts a transport error met on a session's stream.
func (sess *Session) streamError(err error) error {
	var se *transport.StreamError
	if errors.As(err, &se) {
		code := uint64(se.ErrorCode)
		if code == ErrCodeSessionGone {
			return sess.goneError()
		}
		out := &StreamError{HTTPCode: code, Remote: se.Remote}
		if c, cerr := CodeFromHTTP(code); cerr == nil {
			out.ErrorCode = c
		}
		return out
	}
	var he *h3.Error
	if errors.As(err, &he) && !he.Connection {
		out := &StreamError{HTTPCode: uint64(he.Code), Remote: he.Remote}
		if c, cerr := CodeFromHTTP(uint64(he.Code)); cerr == nil {
			out.ErrorCode = c
		}
		return fmt.Errorf("%w (%w)", out, he)
	}
	if transport.IsConnectionError(err) || errors.As(err, &he) {
		return fmt.Errorf("webtransport: connection closed: %w", err)
	}
	return err
}

// goneError is what stream operations report once the session ended: the
// session's close reason, wrapping ErrSessionGone.
func (sess *Session) goneError() error {
	if cause := context.Cause(sess.ctx); cause != nil && sess.ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrSessionGone, cause)
	}
	return ErrSessionGone
}
