package bridge

/*
#include <stdlib.h>
#include "conn.h"
#include "batch.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unsafe"

	"github.com/tquic/tquic/pkg/transport"
)

// Stream is a QUIC stream of a Conn. A unidirectional stream only uses
// the half that applies. It implements transport.Stream.
type Stream struct {
	c  *Conn
	id int64

	recvCh chan struct{}
	sendCh chan struct{}

	// Guarded by c.mu.
	readDeadline  time.Time
	writeDeadline time.Time
	eof           bool
	readErr       error
	writeErr      error
	finished      bool

	sendCtx    context.Context
	sendCancel context.CancelFunc
}

// newStream registers a Go stream for id; c.mu is held.
func (c *Conn) newStream(id int64) *Stream {
	s := &Stream{
		c:      c,
		id:     id,
		recvCh: make(chan struct{}, 1),
		sendCh: make(chan struct{}, 1),
	}
	s.sendCtx, s.sendCancel = context.WithCancel(c.ctx)
	c.streams[id] = s
	return s
}

func (s *Stream) wake() {
	signal(s.recvCh)
	signal(s.sendCh)
}

// onEvent dispatches engine stream events; c.mu is held.
func (s *Stream) onEvent(flags uint32) {
	if flags&(C.TQUIC_STREAM_EV_READABLE|C.TQUIC_STREAM_EV_PEER_RESET) != 0 {
		signal(s.recvCh)
	}
	if flags&(C.TQUIC_STREAM_EV_WRITABLE|C.TQUIC_STREAM_EV_PEER_STOP|C.TQUIC_STREAM_EV_SEND_DONE) != 0 {
		signal(s.sendCh)
	}
	if flags&C.TQUIC_STREAM_EV_PEER_STOP != 0 && s.writeErr == nil {
		s.writeErr = &transport.StreamError{StreamID: transport.StreamID(s.id), Remote: true,
			ErrorCode: transport.ErrorCode(s.stopCode())}
		s.sendCancel()
	}
	if flags&C.TQUIC_STREAM_EV_SEND_DONE != 0 {
		s.sendCancel()
	}
}

func (s *Stream) stopCode() uint64 {
	if s.c.c == nil {
		return 0
	}
	return uint64(C.tquic_conn_stream_stop_code(s.c.c, C.u64(s.id)))
}

// StreamID returns the stream's ID.
func (s *Stream) StreamID() transport.StreamID { return transport.StreamID(s.id) }

// wait blocks until ch fires, the deadline passes or the connection ends.
func (s *Stream) wait(ch chan struct{}, deadline time.Time) error {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ch:
		return nil
	case <-timeout:
		return os.ErrDeadlineExceeded
	case <-s.c.ctx.Done():
		return nil // the caller sees the connection error under the lock
	}
}

// Read reads stream data; io.EOF after the peer's FIN.
func (s *Stream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return s.recv(func() (C.long, bool, C.u64) {
		var fin C.bool
		var code C.u64
		n := C.tquic_conn_stream_read(s.c.c, C.u64(s.id), (*C.u8)(unsafe.Pointer(&p[0])), C.size_t(len(p)), &fin, &code)
		return n, bool(fin), code
	})
}

// WriteTo writes the stream's data to w until the peer's FIN or an error,
// straight from the engine's receive buffers (io.Copy uses it): nothing is
// copied on our side. As io.Writer requires, w keeps none of the slices it
// is given; they are released when it returns.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	// In C memory: cgo would check a Go array of pointers on every call.
	const max = 64
	fp := (*C.struct_tqb_frag)(C.malloc(C.size_t(max * unsafe.Sizeof(C.struct_tqb_frag{}))))
	if fp == nil {
		return 0, errors.New("bridge: out of memory")
	}
	defer C.free(unsafe.Pointer(fp))
	frags := unsafe.Slice(fp, max)
	var total int64
	for {
		n, err := s.recv(func() (C.long, bool, C.u64) {
			var fin C.bool
			var code C.u64
			r := C.tqb_stream_take(s.c.c, C.u64(s.id), fp, max, &fin, &code)
			return r, bool(fin), code
		})
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		for i := range n {
			f := &frags[i]
			m, err := w.Write(unsafe.Slice((*byte)(unsafe.Pointer(f.data)), int(f.len)))
			total += int64(m)
			if err == nil && m < int(f.len) {
				err = io.ErrShortWrite
			}
			if err != nil {
				C.tqb_frags_put(fp, C.size_t(n))
				return total, err
			}
		}
		C.tqb_frags_put(fp, C.size_t(n))
	}
}

// recv waits until the stream has data, its end or an error, and runs
// take, an engine read (c.mu held; c.c set), which returns a count with
// the FIN flag, or -errno with the peer's reset code. It returns the count,
// or io.EOF at the end of the stream.
func (s *Stream) recv(take func() (n C.long, fin bool, code C.u64)) (int, error) {
	c := s.c
	for {
		c.mu.Lock()
		if s.readErr != nil {
			err := s.readErr
			c.mu.Unlock()
			return 0, err
		}
		if s.eof {
			c.mu.Unlock()
			return 0, io.EOF
		}
		if c.c == nil {
			err := c.errLocked()
			c.mu.Unlock()
			return 0, err
		}
		n, fin, code := take()
		switch {
		case n > 0 || (n == 0 && fin):
			if fin {
				s.eof = true
			}
			// Reading returned flow-control credit: MAX_STREAM_DATA may be due.
			c.flush()
			c.armTimer()
			c.mu.Unlock()
			if n == 0 {
				return 0, io.EOF
			}
			return int(n), nil
		case n == -C.ECONNRESET:
			s.readErr = &transport.StreamError{StreamID: transport.StreamID(s.id), ErrorCode: transport.ErrorCode(code), Remote: true}
			err := s.readErr
			c.mu.Unlock()
			return 0, err
		case n == -C.ENOENT:
			// Terminal and reaped: everything was read.
			s.eof = true
			c.mu.Unlock()
			return 0, io.EOF
		case n < 0 && n != -C.EAGAIN:
			c.mu.Unlock()
			return 0, fmt.Errorf("bridge: stream %d read: errno %d", s.id, -int(n))
		}
		if err := c.errLocked(); err != nil {
			c.mu.Unlock()
			return 0, err
		}
		deadline := s.readDeadline
		c.mu.Unlock()
		if err := s.wait(s.recvCh, deadline); err != nil {
			return 0, err
		}
	}
}

// Write writes stream data, blocking while the send buffer is full.
func (s *Stream) Write(p []byte) (int, error) {
	c := s.c
	written := 0
	for {
		c.mu.Lock()
		if s.writeErr != nil {
			err := s.writeErr
			c.mu.Unlock()
			return written, err
		}
		if s.finished {
			c.mu.Unlock()
			return written, fmt.Errorf("bridge: write on closed stream %d", s.id)
		}
		if err := c.errLocked(); err != nil {
			c.mu.Unlock()
			return written, err
		}
		if written == len(p) {
			c.mu.Unlock()
			return written, nil
		}
		rest := p[written:]
		n := C.tquic_conn_stream_write(c.c, C.u64(s.id), (*C.u8)(unsafe.Pointer(&rest[0])), C.size_t(len(rest)), false, C.TQUIC_GFP_KERNEL)
		if n < 0 {
			var err error
			switch n {
			case -C.ECONNRESET:
				err = &transport.StreamError{StreamID: transport.StreamID(s.id), Remote: true, ErrorCode: transport.ErrorCode(s.stopCode())}
			case -C.EPIPE:
				err = fmt.Errorf("bridge: write on closed stream %d", s.id)
			default:
				err = fmt.Errorf("bridge: stream %d write: errno %d", s.id, -int(n))
			}
			c.mu.Unlock()
			return written, err
		}
		written += int(n)
		c.flush()
		c.armTimer()
		deadline := s.writeDeadline
		c.mu.Unlock()
		if written == len(p) {
			return written, nil
		}
		if n == 0 {
			if err := s.wait(s.sendCh, deadline); err != nil {
				return written, err
			}
		}
	}
}

// Close sends a FIN after the data written so far.
func (s *Stream) Close() error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.finished {
		return nil
	}
	if err := c.errLocked(); err != nil {
		return err
	}
	s.finished = true
	if r := C.tquic_conn_stream_finish(c.c, C.u64(s.id)); r != 0 && r != -C.ENOENT {
		return fmt.Errorf("bridge: stream %d close: errno %d", s.id, -int(r))
	}
	c.flush()
	c.armTimer()
	return nil
}

// CloseWrite is Close.
func (s *Stream) CloseWrite() error { return s.Close() }

// CancelWrite resets the sending side with code.
func (s *Stream) CancelWrite(code transport.ErrorCode) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.writeErr == nil {
		s.writeErr = &transport.StreamError{StreamID: transport.StreamID(s.id), ErrorCode: code}
	}
	s.sendCancel()
	if c.c == nil {
		return
	}
	C.tquic_conn_stream_reset(c.c, C.u64(s.id), C.u64(code))
	c.flush()
	c.armTimer()
}

// CancelRead asks the peer to stop sending with code.
func (s *Stream) CancelRead(code transport.ErrorCode) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.readErr == nil {
		s.readErr = &transport.StreamError{StreamID: transport.StreamID(s.id), ErrorCode: code}
	}
	signal(s.recvCh)
	if c.c == nil {
		return
	}
	C.tquic_conn_stream_stop(c.c, C.u64(s.id), C.u64(code))
	c.flush()
	c.armTimer()
}

// SetReadDeadline sets the read deadline.
func (s *Stream) SetReadDeadline(t time.Time) error {
	s.c.mu.Lock()
	s.readDeadline = t
	s.c.mu.Unlock()
	signal(s.recvCh)
	return nil
}

// SetWriteDeadline sets the write deadline.
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

// Context is canceled when the sending side is finished.
func (s *Stream) Context() context.Context { return s.sendCtx }

// SetPriority sets the RFC 9218 urgency (0..7) and incremental flag.
func (s *Stream) SetPriority(urgency uint8, incremental bool) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return errConnClosed
	}
	if r := C.tquic_conn_stream_set_priority(c.c, C.u64(s.id), C.u8(urgency), C.bool(incremental)); r != 0 {
		return fmt.Errorf("bridge: stream %d priority: errno %d", s.id, -int(r))
	}
	return nil
}

var errConnClosed = errors.New("bridge: connection closed")

var _ transport.Stream = (*Stream)(nil)
