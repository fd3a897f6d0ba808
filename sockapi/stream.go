package sockapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/transport"
	"github.com/tquic/tquic/pkg/uapi"
)

// Stream is a QUIC stream of a Conn; a unidirectional stream uses the half
// that applies. It implements transport.Stream. Reads of one stream, and
// Writes of one stream, are each serialised; different streams are
// independent.
type Stream struct {
	c      *Conn
	id     int64
	recvCh chan struct{} // data, FIN, reset or deadline change
	sendCh chan struct{} // reset, Close or deadline change

	writeMu sync.Mutex // keeps one Write's chunks together, and the FIN after them

	sendCtx    context.Context
	sendCancel context.CancelFunc

	// Guarded by c.mu.
	chunks        [][]byte // received, not yet read
	fin           bool     // the peer's FIN follows chunks
	readErr       error
	recvDone      bool // EOF returned or readErr set: nothing more to deliver
	finished      bool // Close was called
	writeErr      error
	canceledWrite bool // writeErr is our own CancelWrite
	sendDone      bool // the FIN was sent, or the sending half was reset
	readDeadline  time.Time
	writeDeadline time.Time
}

// streamType indexes the per-type accept queues: 0 bidirectional, 1 uni.
func streamType(uni bool) int {
	if uni {
		return 1
	}
	return 0
}

func isUni(id int64) bool { return id&uapi.QUIC_STREAM_TYPE_UNI_MASK != 0 }

// isLocal reports whether this endpoint opened stream id.
func (c *Conn) isLocal(id int64) bool {
	return (id&uapi.QUIC_STREAM_TYPE_SERVER_MASK != 0) == c.isServer
}

// newStream registers stream id; c.mu is held.
func (c *Conn) newStream(id int64) *Stream {
	s := &Stream{c: c, id: id, recvCh: make(chan struct{}, 1), sendCh: make(chan struct{}, 1)}
	s.sendCtx, s.sendCancel = context.WithCancel(c.ctx)
	if isUni(id) {
		if c.isLocal(id) {
			s.readErr = fmt.Errorf("sockapi: stream %d is send-only", id)
			s.recvDone = true
		} else {
			s.writeErr = fmt.Errorf("sockapi: stream %d is receive-only", id)
			s.sendDone = true
			s.sendCancel()
		}
	}
	c.streams[id] = s
	return s
}

// streamFor returns the stream a message or notification names, creating
// peer-initiated streams when first seen; nil means one that is gone (or
// never was ours to know). c.mu is held.
func (c *Conn) streamFor(id int64) *Stream {
	if s := c.streams[id]; s != nil {
		return s
	}
	if id < 0 || c.isLocal(id) {
		return nil
	}
	t := streamType(isUni(id))
	if id < c.nextPeer[t] {
		return nil // seen before and finished
	}
	// Opening a stream opens the lower-numbered ones of its type too (RFC
	// 9000 section 3.2), so they are accepted in order; the kernel holds
	// the peer to our MAX_STREAMS, which bounds this loop.
	var s *Stream
	for n := c.nextPeer[t]; n <= id; n += 4 {
		s = c.newStream(n)
		c.acceptQ[t] = append(c.acceptQ[t], s)
	}
	c.nextPeer[t] = id + 4
	signal(c.acceptCh[t])
	return s
}

// deliver queues received data; c.mu is held.
func (s *Stream) deliver(data []byte, fin bool) {
	if s.recvDone {
		return // canceled, reset or send-only: the bytes have no reader
	}
	if len(data) > 0 {
		s.chunks = append(s.chunks, append([]byte(nil), data...))
		s.c.buffered += len(data)
	}
	if fin {
		s.fin = true
	}
	signal(s.recvCh)
}

// update applies a QUIC_EVENT_STREAM_UPDATE; c.mu is held.
func (s *Stream) update(u uapi.TquicStreamUpdate) {
	code := transport.ErrorCode(u.Errcode)
	switch u.State {
	case uapi.QUIC_STREAM_RECV_STATE_RESET_RECVD:
		if !s.recvDone {
			s.readErr = &transport.StreamError{StreamID: transport.StreamID(s.id), ErrorCode: code, Remote: true}
			s.recvDone = true
			s.dropChunks()
			signal(s.recvCh)
		}
	case uapi.QUIC_STREAM_SEND_STATE_RESET_SENT, uapi.QUIC_STREAM_SEND_STATE_RESET_RECVD:
		// Not our CancelWrite: the peer's STOP_SENDING made the kernel
		// reset the sending half.
		if s.writeErr == nil {
			s.writeErr = &transport.StreamError{StreamID: transport.StreamID(s.id), ErrorCode: code, Remote: true}
			s.sendDone = true
			s.sendCancel()
			signal(s.sendCh)
		}
	}
	s.release()
}

// dropChunks discards unread data; c.mu is held.
func (s *Stream) dropChunks() {
	n := 0
	for _, b := range s.chunks {
		n += len(b)
	}
	s.chunks = nil
	s.c.consumed(n)
}

// consumed returns n bytes of the receive buffer; c.mu is held.
func (c *Conn) consumed(n int) {
	c.buffered -= n
	if c.buffered < c.recvMax {
		signal(c.spaceCh)
	}
}

// release forgets a stream whose both halves are done, so the map does not
// grow with the connection's history; c.mu is held.
func (s *Stream) release() {
	if s.recvDone && s.sendDone && s.c.streams[s.id] == s {
		delete(s.c.streams, s.id)
	}
}

// StreamID returns the stream's ID.
func (s *Stream) StreamID() transport.StreamID { return transport.StreamID(s.id) }

func expired(deadline time.Time) bool {
	return !deadline.IsZero() && !time.Now().Before(deadline)
}

// Read reads stream data. It returns io.EOF after the peer's FIN, a
// *transport.StreamError after a reset or CancelRead, and
// os.ErrDeadlineExceeded once the read deadline passed.
func (s *Stream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c := s.c
	for {
		c.mu.Lock()
		deadline := s.readDeadline
		switch {
		case s.readErr != nil:
			err := s.readErr
			c.mu.Unlock()
			return 0, err
		case expired(deadline):
			c.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		case len(s.chunks) > 0:
			n := 0
			for n < len(p) && len(s.chunks) > 0 {
				k := copy(p[n:], s.chunks[0])
				n += k
				if k == len(s.chunks[0]) {
					s.chunks[0] = nil
					s.chunks = s.chunks[1:]
				} else {
					s.chunks[0] = s.chunks[0][k:]
				}
			}
			c.consumed(n)
			c.mu.Unlock()
			return n, nil
		case s.fin:
			s.recvDone = true
			s.release()
			c.mu.Unlock()
			return 0, io.EOF
		case c.closeErr != nil:
			err := c.closeErr
			c.mu.Unlock()
			return 0, err
		}
		c.mu.Unlock()
		if err := c.wait(s.recvCh, nil, deadline, 0); err != nil {
			return 0, err
		}
	}
}

// Write writes stream data, waiting while the kernel has no room (send
// buffer or flow-control credit).
func (s *Stream) Write(p []byte) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	c := s.c
	oob := streamCmsg(s.id, 0)
	written := 0
	for written < len(p) {
		c.mu.Lock()
		err, deadline := s.writeErr, s.writeDeadline
		switch {
		case err != nil:
		case s.finished:
			err = fmt.Errorf("sockapi: write on closed stream %d", s.id)
		case c.closeErr != nil:
			err = c.closeErr
		case expired(deadline):
			err = os.ErrDeadlineExceeded
		}
		c.mu.Unlock()
		if err != nil {
			return written, err
		}
		ready := c.ep.writeWait()
		n, err := c.ep.send(p[written:], oob, 0)
		if err != nil && !errors.Is(err, unix.EAGAIN) {
			return written, s.sendError("write", err)
		}
		written += n
		if n == 0 {
			if err := c.wait(ready, s.sendCh, deadline, writeRetry); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// resetNoticeWait bounds how long a send that failed with ECONNRESET waits
// for the reader to deliver the stream's reset notification. The kernel
// queues it before failing the send, so it is normally there at once; the
// bound only matters while the reader is held back (waitReceiveSpace).
const resetNoticeWait = time.Second

// sendError explains a failed sendmsg: the connection's end, the peer's
// STOP_SENDING (with its code, from the notification), or the errno.
func (s *Stream) sendError(op string, err error) error {
	c := s.c
	if errors.Is(err, unix.ECONNRESET) {
		// The notification may still be on its way through the reader:
		// without its code an HTTP/3 client cannot tell a rejected
		// request, which it retries, from a failed one.
		deadline := time.Now().Add(resetNoticeWait)
		for {
			c.mu.Lock()
			known := c.closeErr != nil || s.writeErr != nil
			c.mu.Unlock()
			if known || c.wait(s.sendCh, nil, deadline, 0) != nil || c.ctx.Err() != nil {
				break
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeErr != nil {
		return c.closeErr
	}
	if s.writeErr != nil {
		return s.writeErr
	}
	return fmt.Errorf("sockapi: stream %d %s: %w", s.id, op, err)
}

// Close ends the sending half with a FIN after the data written so far
// (a zero-length send with MSG_QUIC_STREAM_FIN). The receiving half of a
// bidirectional stream is unaffected.
func (s *Stream) Close() error {
	c := s.c
	c.mu.Lock()
	if s.finished || s.canceledWrite {
		c.mu.Unlock()
		return nil
	}
	if s.writeErr != nil {
		err := s.writeErr
		c.mu.Unlock()
		return err
	}
	s.finished = true
	c.mu.Unlock()
	signal(s.sendCh) // a Write waiting for room gives up its turn
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	oob := streamCmsg(s.id, uapi.MSG_QUIC_STREAM_FIN)
	for {
		c.mu.Lock()
		deadline := s.writeDeadline
		err := c.closeErr
		c.mu.Unlock()
		if err != nil {
			return err
		}
		ready := c.ep.writeWait()
		_, err = c.ep.send(nil, oob, 0)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EAGAIN) {
			return s.sendError("close", err)
		}
		if err := c.wait(ready, nil, deadline, writeRetry); err != nil {
			return err
		}
	}
	c.mu.Lock()
	s.sendDone = true
	s.release()
	c.mu.Unlock()
	s.sendCancel()
	return nil
}

// CloseWrite is Close.
func (s *Stream) CloseWrite() error { return s.Close() }

// CancelWrite abandons sending: RESET_STREAM with code (all 62 bits, through
// TQUIC_SOCKOPT_STREAM_RESET).
func (s *Stream) CancelWrite(code transport.ErrorCode) {
	c := s.c
	c.mu.Lock()
	if s.writeErr != nil {
		c.mu.Unlock()
		return
	}
	s.writeErr = &transport.StreamError{StreamID: transport.StreamID(s.id), ErrorCode: code}
	s.canceledWrite = true
	s.sendDone = true
	s.release()
	c.mu.Unlock()
	s.sendCancel()
	signal(s.sendCh)
	_ = c.ep.setsockopt(uapi.TQUIC_SOCKOPT_STREAM_RESET, encodeStreamError(s.id, uint64(code)))
}

// CancelRead abandons reading: unread data is dropped and the peer is
// asked to stop (STOP_SENDING with code).
func (s *Stream) CancelRead(code transport.ErrorCode) {
	c := s.c
	c.mu.Lock()
	if s.recvDone {
		c.mu.Unlock()
		return
	}
	s.readErr = &transport.StreamError{StreamID: transport.StreamID(s.id), ErrorCode: code}
	s.recvDone = true
	s.dropChunks()
	s.release()
	c.mu.Unlock()
	signal(s.recvCh)
	_ = c.ep.setsockopt(uapi.TQUIC_SOCKOPT_STREAM_STOP_SENDING, encodeStreamError(s.id, uint64(code)))
}

// SetReadDeadline sets the deadline for pending and future Reads.
func (s *Stream) SetReadDeadline(t time.Time) error {
	s.c.mu.Lock()
	s.readDeadline = t
	s.c.mu.Unlock()
	signal(s.recvCh)
	return nil
}

// SetWriteDeadline sets the deadline for pending and future Writes.
func (s *Stream) SetWriteDeadline(t time.Time) error {
	s.c.mu.Lock()
	s.writeDeadline = t
	s.c.mu.Unlock()
	signal(s.sendCh)
	return nil
}

// SetDeadline sets both deadlines.
func (s *Stream) SetDeadline(t time.Time) error {
	_ = s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// Context is canceled when the sending half is finished: FIN sent, reset,
// or the connection ended.
func (s *Stream) Context() context.Context { return s.sendCtx }

var _ transport.Stream = (*Stream)(nil)
