package h3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/qpack"
	"github.com/tquic/tquic/pkg/transport"
)

// bodyReader reads the DATA frames of a request or response (and the
// trailers after them) from a request stream.
type bodyReader struct {
	conn        *Conn
	str         transport.ReceiveStream
	id          uint64
	fr          *frameReader
	ctx         context.Context
	left        uint64 // bytes left in the current DATA frame
	gotTrailers bool
	length      int64 // declared content-length or -1
	n           int64
	err         error
	mu          sync.Mutex

	onTrailers    func([]qpack.HeaderField) error
	onPushPromise func(payload []byte) error
	pushStream    bool          // the body of a pushed response: PUSH_PROMISE is forbidden
	onEnd         func()        // called once when reading ends (EOF, error or Close)
	done          chan struct{} // closed once reading has ended
	closeCode     ErrorCode     // STOP_SENDING code when closed early
}

// Close abandons the rest of the body.
func (b *bodyReader) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil
	}
	b.err = errors.New("h3: read on closed body")
	close(b.done)
	b.str.CancelRead(transport.ErrorCode(b.closeCode))
	if !b.gotTrailers {
		b.conn.cancelDecoding(b.id)
	}
	if b.onEnd != nil {
		b.onEnd()
	}
	return nil
}

// errBodyAfterHandler is what a request body reports when it is read
// after its handler returned.
var errBodyAfterHandler = errors.New("h3: request body read after the handler returned")

// detachAfterHandler ends the body for good once its handler returned,
// so that its frame reader can be reused. It reports whether reading had
// already ended and whether the stream's FIN was read. detached is false
// when a Read is still in progress (a goroutine the handler left behind):
// then the frame reader stays with the body.
func (b *bodyReader) detachAfterHandler() (finished, eof, detached bool) {
	if !b.mu.TryLock() {
		return false, false, false
	}
	defer b.mu.Unlock()
	finished = b.err != nil
	if !finished {
		b.err = errBodyAfterHandler
		close(b.done)
	}
	eof = b.fr.src.eof
	b.fr = nil
	return finished, eof, true
}

func newBodyReader(c *Conn, str transport.ReceiveStream, fr *frameReader, ctx context.Context, length int64) *bodyReader {
	return &bodyReader{conn: c, str: str, id: uint64(str.StreamID()), fr: fr, ctx: ctx, length: length, done: make(chan struct{})}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.read(p)
	if err != nil {
		close(b.done)
		if err != io.EOF {
			err = b.conn.streamFailed(b.str, b.id, err)
		}
		b.err = err
		if b.onEnd != nil {
			b.onEnd()
		}
	}
	return n, err
}

func (b *bodyReader) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for b.left == 0 {
		typ, length, err := b.fr.header()
		if err == io.EOF {
			if b.length >= 0 && b.n != b.length {
				return 0, errStream(ErrCodeMessageError, "body of %d bytes, content-length %d", b.n, b.length)
			}
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		switch {
		case typ == FrameData:
			if b.gotTrailers {
				return 0, errConn(ErrCodeFrameUnexpected, "DATA after trailers")
			}
			b.left = length
		case typ == FrameHeaders:
			if b.gotTrailers || b.onTrailers == nil {
				return 0, errConn(ErrCodeFrameUnexpected, "unexpected HEADERS frame")
			}
			payload, err := b.fr.payload(typ, length, b.conn.cfg.maxFieldSection())
			if err != nil {
				return 0, err
			}
			fields, err := b.conn.decodeHeaders(b.ctx, b.id, payload)
			if err != nil {
				return 0, err
			}
			b.gotTrailers = true
			if err := b.onTrailers(fields); err != nil {
				return 0, err
			}
		case typ == FramePushPromise && b.onPushPromise != nil:
			payload, err := b.fr.payload(typ, length, b.conn.cfg.maxFieldSection()+8)
			if err != nil {
				return 0, err
			}
			if err := b.onPushPromise(payload); err != nil {
				return 0, err
			}
		case typ == FramePushPromise && !b.conn.isServer && !b.pushStream:
			// This client never sends MAX_PUSH_ID, so any push ID is
			// beyond the limit (RFC 9114 section 7.2.5).
			return 0, errConn(ErrCodeIDError, "PUSH_PROMISE although no MAX_PUSH_ID was sent")
		case typ <= FrameMaxPushID && (typ != 0x0a && typ != 0x0b && typ != 0x0c) || typ == FramePriorityUpdate || typ == FramePriorityUpdatePush:
			// Every known frame other than DATA and HEADERS, and the
			// reserved HTTP/2 types, are forbidden on request streams.
			return 0, errConn(ErrCodeFrameUnexpected, "%s on a request stream", frameName(typ))
		default:
			if err := b.fr.skip(length); err != nil {
				return 0, err
			}
		}
	}
	if uint64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.fr.r.Read(p)
	b.left -= uint64(n)
	b.n += int64(n)
	if b.length >= 0 && b.n > b.length {
		return n, errStream(ErrCodeMessageError, "body exceeds content-length %d", b.length)
	}
	if err == io.EOF {
		if b.left > 0 {
			return n, errConn(ErrCodeFrameError, "stream ends inside a DATA frame")
		}
		err = nil // the next call reports the end
	}
	return n, err
}

// streamFailed handles an error met on a request stream: protocol errors
// close the connection, stream errors reset the stream; the error returned
// is what the reader should see.
func (c *Conn) streamFailed(str transport.ReceiveStream, id uint64, err error) error {
	var ce *connError
	var se *streamError
	switch {
	case errors.As(err, &ce):
		c.fail(err)
		return &Error{Code: ce.code, Connection: true, Message: ce.msg}
	case errors.As(err, &se):
		str.CancelRead(transport.ErrorCode(se.code))
		if ws, ok := str.(transport.SendStream); ok {
			ws.CancelWrite(transport.ErrorCode(se.code))
		}
		c.cancelDecoding(id)
		return &Error{Code: se.code, Message: se.msg}
	}
	return convertTransportError(err)
}

// dataWriter writes DATA frames. With a scheduler, each frame waits for
// its turn by priority.
type dataWriter struct {
	str   transport.SendStream
	sched *scheduler
	ss    *schedStream
	ctx   context.Context
	buf   []byte
}

// maxDataFrame is the largest DATA frame written at once: the granularity
// at which the response scheduler interleaves streams.
const maxDataFrame = 32 << 10

func (w *dataWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p
		if len(chunk) > maxDataFrame {
			chunk = chunk[:maxDataFrame]
		}
		w.buf = appendFrameHeader(w.buf[:0], FrameData, uint64(len(chunk)))
		w.buf = append(w.buf, chunk...)
		if err := w.writeRaw(w.buf); err != nil {
			return written, err
		}
		written += len(chunk)
		p = p[len(chunk):]
	}
	return written, nil
}

func (w *dataWriter) writeRaw(b []byte) error {
	if w.sched != nil {
		turn, err := w.sched.acquire(w.ctx, w.ss)
		if err != nil {
			return err
		}
		defer w.sched.release(turn)
	}
	if _, err := w.str.Write(b); err != nil {
		return convertTransportError(err)
	}
	return nil
}

// Stream is a request stream taken over by an application after the HTTP
// exchange, as extended CONNECT protocols (WebTransport, MASQUE) do. Read
// and Write carry the message content (DATA frames), which for those
// protocols is a sequence of capsules (see package capsule); HTTP
// datagrams are bound to the stream.
type Stream struct {
	conn *Conn
	str  transport.Stream
	id   uint64
	body *bodyReader
	w    *dataWriter
	dg   chan []byte
}

func newStream(c *Conn, str transport.Stream, body *bodyReader, w *dataWriter) *Stream {
	id := uint64(str.StreamID())
	s := &Stream{conn: c, str: str, id: id, body: body, w: w}
	if c.cfg.EnableDatagrams {
		s.dg = c.registerDatagrams(id)
		go func() {
			// Datagrams are routed to the stream until both directions
			// have ended.
			select {
			case <-body.done:
			case <-c.tc.Context().Done():
			}
			<-str.Context().Done()
			c.unregisterDatagrams(id)
		}()
	}
	return s
}

// Read reads message content (the payload of DATA frames).
func (s *Stream) Read(p []byte) (int, error) { return s.body.Read(p) }

// Write sends p as message content in DATA frames.
func (s *Stream) Write(p []byte) (int, error) { return s.w.Write(p) }

// Close ends the sending direction (FIN).
func (s *Stream) Close() error { return s.str.Close() }

// StreamID returns the request stream's ID.
func (s *Stream) StreamID() transport.StreamID { return s.str.StreamID() }

// CancelRead aborts reading with an HTTP/3 error code.
func (s *Stream) CancelRead(code ErrorCode) { s.str.CancelRead(transport.ErrorCode(code)) }

// CancelWrite aborts writing with an HTTP/3 error code.
func (s *Stream) CancelWrite(code ErrorCode) { s.str.CancelWrite(transport.ErrorCode(code)) }

// SetReadDeadline sets the read deadline.
func (s *Stream) SetReadDeadline(t time.Time) error { return s.str.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (s *Stream) SetWriteDeadline(t time.Time) error { return s.str.SetWriteDeadline(t) }

// Conn returns the HTTP/3 connection the stream belongs to.
func (s *Stream) Conn() *Conn { return s.conn }

// WriteCapsule sends one capsule (RFC 9297) as message content.
func (s *Stream) WriteCapsule(t capsule.Type, value []byte) error {
	return capsule.Write(s, t, value)
}

// SendDatagram sends an HTTP datagram bound to this stream.
//
// The peer's SETTINGS may arrive after its request (the control stream is
// not ordered with request streams), so it waits for them before deciding
// whether datagrams were negotiated.
func (s *Stream) SendDatagram(p []byte) error {
	if err := s.conn.waitSettings(s.str.Context()); err != nil {
		return err
	}
	if !s.conn.datagramsEnabled() {
		return errors.New("h3: HTTP datagrams not negotiated")
	}
	if err := s.conn.tc.SendDatagram(capsule.AppendDatagram(nil, s.id, p)); err != nil {
		return fmt.Errorf("h3: send datagram: %w", err)
	}
	return nil
}

// ReceiveDatagram returns the next HTTP datagram bound to this stream.
//
// Like SendDatagram, it first waits for the peer's SETTINGS.
func (s *Stream) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	if s.dg != nil {
		if err := s.conn.waitSettings(ctx); err != nil {
			return nil, err
		}
	}
	if s.dg == nil || !s.conn.datagramsEnabled() {
		return nil, errors.New("h3: HTTP datagrams not negotiated")
	}
	select {
	case b := <-s.dg:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.conn.tc.Context().Done():
		return nil, convertTransportError(context.Cause(s.conn.tc.Context()))
	}
}
