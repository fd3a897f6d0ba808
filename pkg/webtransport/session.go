package webtransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/transport"
)

// acceptQueueLen bounds the streams waiting in a session's accept queues.
const acceptQueueLen = 256

// closeLinger bounds how long a closed session waits for the peer to end
// the CONNECT stream before aborting it.
const closeLinger = 5 * time.Second

// FlowControl configures the limits a session grants its peer. Session
// flow control is in force when both endpoints send at least one
// SETTINGS_WT_INITIAL_MAX_* setting; it is required for several sessions
// on one connection.
type FlowControl struct {
	// MaxStreams and MaxUniStreams are the streams the peer may have open
	// in a session at once; MaxData is the session's receive window in
	// bytes. Zero selects the defaults below; a negative value disables
	// announcing that limit.
	MaxStreams    int64
	MaxUniStreams int64
	MaxData       int64
}

// Defaults for FlowControl.
const (
	DefaultMaxStreams    = 100
	DefaultMaxUniStreams = 100
	DefaultMaxData       = 16 << 20
)

func (f FlowControl) settings() map[uint64]uint64 {
	s := map[uint64]uint64{}
	put := func(id uint64, v, def int64) {
		switch {
		case v == 0:
			s[id] = uint64(def)
		case v > 0:
			s[id] = uint64(v)
		}
	}
	put(SettingWTInitialMaxStreamsBidi, f.MaxStreams, DefaultMaxStreams)
	put(SettingWTInitialMaxStreamsUni, f.MaxUniStreams, DefaultMaxUniStreams)
	put(SettingWTInitialMaxData, f.MaxData, DefaultMaxData)
	return s
}

// limits are a session's negotiated flow-control limits.
type limits struct {
	enabled                     bool
	sendBidi, sendUni, sendData uint64
	recvBidi, recvUni, recvData uint64
}

func negotiate(ours, peer map[uint64]uint64) limits {
	ids := []uint64{SettingWTInitialMaxStreamsBidi, SettingWTInitialMaxStreamsUni, SettingWTInitialMaxData}
	has := func(m map[uint64]uint64) bool {
		for _, id := range ids {
			if _, ok := m[id]; ok {
				return true
			}
		}
		return false
	}
	if !has(ours) || !has(peer) {
		return limits{sendBidi: unlimited, sendUni: unlimited, sendData: unlimited,
			recvBidi: unlimited, recvUni: unlimited, recvData: unlimited}
	}
	return limits{
		enabled:  true,
		sendBidi: peer[SettingWTInitialMaxStreamsBidi],
		sendUni:  peer[SettingWTInitialMaxStreamsUni],
		sendData: peer[SettingWTInitialMaxData],
		recvBidi: ours[SettingWTInitialMaxStreamsBidi],
		recvUni:  ours[SettingWTInitialMaxStreamsUni],
		recvData: ours[SettingWTInitialMaxData],
	}
}

// Session is a WebTransport session.
type Session struct {
	id       uint64
	cs       *connState
	req      *h3.Stream
	protocol string
	resp     *http.Response // client side: the server's response

	ctx    context.Context
	cancel context.CancelCauseFunc

	capMu sync.Mutex // serializes capsule writes on the CONNECT stream

	fc                          limits
	sendData, sendBidi, sendUni *sendCredit
	recvData, recvBidi, recvUni *recvLimit

	mu       sync.Mutex
	streams  map[transport.StreamID]func()
	bidiQ    []*Stream
	uniQ     []*ReceiveStream
	queued   chan struct{} // signaled when a stream is queued
	closing  bool
	drained  chan struct{}
	drainOne sync.Once
}

func newSession(cs *connState, req *h3.Stream, protocol string, fc limits) *Session {
	ctx, cancel := context.WithCancelCause(cs.conn.Context())
	s := &Session{
		id:       uint64(req.StreamID()),
		cs:       cs,
		req:      req,
		protocol: protocol,
		ctx:      ctx,
		cancel:   cancel,
		fc:       fc,
		sendData: newSendCredit(fc.sendData),
		sendBidi: newSendCredit(fc.sendBidi),
		sendUni:  newSendCredit(fc.sendUni),
		recvData: newRecvLimit(fc.recvData, "bytes"),
		recvBidi: newRecvLimit(fc.recvBidi, "bidirectional streams"),
		recvUni:  newRecvLimit(fc.recvUni, "unidirectional streams"),
		streams:  map[transport.StreamID]func(){},
		queued:   make(chan struct{}, 1),
		drained:  make(chan struct{}),
	}
	go s.readCapsules()
	return s
}

// ID returns the session ID: the stream ID of its CONNECT request.
func (s *Session) ID() uint64 { return s.id }

// Protocol returns the :protocol token the session was opened with.
func (s *Session) Protocol() string { return s.protocol }

// Response returns the server's response (client sessions only).
func (s *Session) Response() *http.Response { return s.resp }

// Context is canceled when the session ends; context.Cause returns a
// *SessionError (or the connection's error).
func (s *Session) Context() context.Context { return s.ctx }

// Draining is closed when the peer sent WT_DRAIN_SESSION.
func (s *Session) Draining() <-chan struct{} { return s.drained }

// FlowControlEnabled reports whether session flow control was negotiated.
func (s *Session) FlowControlEnabled() bool { return s.fc.enabled }

func (s *Session) writeCapsule(c any) error {
	s.capMu.Lock()
	defer s.capMu.Unlock()
	_, err := s.req.Write(AppendCapsule(nil, c))
	if err != nil {
		return fmt.Errorf("webtransport: write capsule: %w", err)
	}
	return nil
}

func (s *Session) dataBlocked(limit uint64) {
	if s.fc.enabled {
		s.writeCapsule(DataBlocked{Limit: limit})
	}
}

// consumed accounts for stream data read by the application.
func (s *Session) consumed(n uint64) error {
	if err := s.recvData.use(n); err != nil {
		s.abort(ErrCodeFlowControl, err)
		return err
	}
	if max := s.recvData.release(n); max > 0 {
		s.writeCapsule(MaxData{Max: max})
	}
	return nil
}

// OpenStream opens a bidirectional stream, waiting for session and
// connection stream credit until ctx is done.
func (s *Session) OpenStream(ctx context.Context) (*Stream, error) {
	if err := s.takeStreamCredit(ctx, s.sendBidi, true); err != nil {
		return nil, err
	}
	str, err := s.cs.conn.Transport().OpenStream(ctx)
	if err != nil {
		return nil, fmt.Errorf("webtransport: open stream: %w", err)
	}
	st := s.newStream(str, nil)
	st.SendStream.header = AppendStreamHeader(nil, StreamHeader{SessionID: s.id})
	if err := st.flushHeader(); err != nil {
		return nil, err
	}
	return st, nil
}

// OpenUniStream opens a unidirectional stream.
func (s *Session) OpenUniStream(ctx context.Context) (*SendStream, error) {
	if err := s.takeStreamCredit(ctx, s.sendUni, false); err != nil {
		return nil, err
	}
	str, err := s.cs.conn.Transport().OpenUniStream(ctx)
	if err != nil {
		return nil, fmt.Errorf("webtransport: open unidirectional stream: %w", err)
	}
	ss := &SendStream{sess: s, str: str, header: AppendStreamHeader(nil, StreamHeader{Uni: true, SessionID: s.id})}
	ss.onDone = s.track(str.StreamID(), func() { str.CancelWrite(transport.ErrorCode(ErrCodeSessionGone)) }, 1, nil)
	if err := ss.flushHeader(); err != nil {
		return nil, err
	}
	return ss, nil
}

func (s *Session) takeStreamCredit(ctx context.Context, c *sendCredit, bidi bool) error {
	if s.ctx.Err() != nil {
		return s.goneError()
	}
	_, err := c.take(ctx, 1, s.ctx.Done(), func(limit uint64) {
		if s.fc.enabled {
			s.writeCapsule(StreamsBlocked{Bidi: bidi, Limit: limit})
		}
	})
	if errors.Is(err, ErrSessionGone) {
		return s.goneError()
	}
	if err != nil {
		return fmt.Errorf("webtransport: waiting for stream credit: %w", err)
	}
	return nil
}

// newStream wraps a bidirectional transport stream (r reads its data when
// part of it was already buffered).
func (s *Session) newStream(str transport.Stream, r io.Reader) *Stream {
	if r == nil {
		r = str
	}
	st := &Stream{str: str}
	st.SendStream = SendStream{sess: s, str: str}
	st.ReceiveStream = ReceiveStream{sess: s, str: str, r: r}
	var release func()
	// Streams the peer opened give their credit back when finished.
	if str.StreamID().IsClientInitiated() == s.cs.isServer {
		release = func() { s.releaseStream(true) }
	}
	done := s.track(str.StreamID(), func() {
		str.CancelWrite(transport.ErrorCode(ErrCodeSessionGone))
		str.CancelRead(transport.ErrorCode(ErrCodeSessionGone))
	}, 2, release)
	st.SendStream.onDone = done
	st.ReceiveStream.onDone = done
	return st
}

// track registers a stream so the session can reset it when it ends. The
// returned function is called once per direction (parts of them); after
// the last one the stream is forgotten and release runs.
func (s *Session) track(id transport.StreamID, reset func(), parts int, release func()) func() {
	s.mu.Lock()
	gone := s.ctx.Err() != nil
	if !gone {
		s.streams[id] = reset
	}
	s.mu.Unlock()
	if gone {
		reset()
	}
	var mu sync.Mutex
	left := parts
	return func() {
		mu.Lock()
		left--
		last := left == 0
		mu.Unlock()
		if !last {
			return
		}
		s.mu.Lock()
		delete(s.streams, id)
		s.mu.Unlock()
		if release != nil {
			release()
		}
	}
}

func (s *Session) releaseStream(bidi bool) {
	l := s.recvUni
	if bidi {
		l = s.recvBidi
	}
	if max := l.release(1); max > 0 && s.ctx.Err() == nil {
		s.writeCapsule(MaxStreams{Bidi: bidi, Max: max})
	}
}

// addIncoming hands a stream the peer opened to the session.
func (s *Session) addIncoming(str transport.ReceiveStream, bidi transport.Stream, r io.Reader) {
	limit := s.recvUni
	if bidi != nil {
		limit = s.recvBidi
	}
	if err := limit.use(1); err != nil {
		str.CancelRead(transport.ErrorCode(ErrCodeFlowControl))
		if bidi != nil {
			bidi.CancelWrite(transport.ErrorCode(ErrCodeFlowControl))
		}
		s.abort(ErrCodeFlowControl, err)
		return
	}
	s.mu.Lock()
	full := len(s.bidiQ)+len(s.uniQ) >= acceptQueueLen
	s.mu.Unlock()
	if full {
		str.CancelRead(transport.ErrorCode(ErrCodeBufferedStreamRejected))
		if bidi != nil {
			bidi.CancelWrite(transport.ErrorCode(ErrCodeBufferedStreamRejected))
		}
		if bidi != nil {
			s.releaseStream(true)
		} else {
			s.releaseStream(false)
		}
		return
	}
	if bidi != nil {
		st := s.newStream(bidi, r)
		s.mu.Lock()
		s.bidiQ = append(s.bidiQ, st)
		s.mu.Unlock()
	} else {
		if r == nil {
			r = str
		}
		rs := &ReceiveStream{sess: s, str: str, r: r}
		rs.onDone = s.track(str.StreamID(), func() { str.CancelRead(transport.ErrorCode(ErrCodeSessionGone)) }, 1,
			func() { s.releaseStream(false) })
		s.mu.Lock()
		s.uniQ = append(s.uniQ, rs)
		s.mu.Unlock()
	}
	select {
	case s.queued <- struct{}{}:
	default:
	}
}

// AcceptStream returns the next bidirectional stream the peer opened.
func (s *Session) AcceptStream(ctx context.Context) (*Stream, error) {
	for {
		s.mu.Lock()
		if len(s.bidiQ) > 0 {
			st := s.bidiQ[0]
			s.bidiQ = s.bidiQ[1:]
			s.mu.Unlock()
			return st, nil
		}
		s.mu.Unlock()
		if err := s.waitQueued(ctx); err != nil {
			return nil, err
		}
	}
}

// AcceptUniStream returns the next unidirectional stream the peer opened.
func (s *Session) AcceptUniStream(ctx context.Context) (*ReceiveStream, error) {
	for {
		s.mu.Lock()
		if len(s.uniQ) > 0 {
			st := s.uniQ[0]
			s.uniQ = s.uniQ[1:]
			s.mu.Unlock()
			return st, nil
		}
		s.mu.Unlock()
		if err := s.waitQueued(ctx); err != nil {
			return nil, err
		}
	}
}

func (s *Session) waitQueued(ctx context.Context) error {
	select {
	case <-s.queued:
		// Pass the signal on: the other accept queue may have a stream.
		s.mu.Lock()
		more := len(s.bidiQ)+len(s.uniQ) > 0
		s.mu.Unlock()
		if more {
			select {
			case s.queued <- struct{}{}:
			default:
			}
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return s.goneError()
	}
}

// SendDatagram sends a datagram in the session.
func (s *Session) SendDatagram(p []byte) error {
	if s.ctx.Err() != nil {
		return s.goneError()
	}
	if err := s.req.SendDatagram(p); err != nil {
		return fmt.Errorf("webtransport: %w", err)
	}
	return nil
}

// ReceiveDatagram returns the next datagram received in the session.
func (s *Session) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	b, err := s.req.ReceiveDatagram(ctx)
	if err != nil {
		if s.ctx.Err() != nil {
			return nil, s.goneError()
		}
		return nil, fmt.Errorf("webtransport: receive datagram: %w", err)
	}
	return b, nil
}

// Drain sends WT_DRAIN_SESSION: the peer should finish up and close.
func (s *Session) Drain() error { return s.writeCapsule(DrainSession{}) }

// CloseWithError closes the session with an application error code and
// message (at most 1024 bytes): it sends WT_CLOSE_SESSION, ends the
// CONNECT stream and resets the session's streams with WT_SESSION_GONE.
func (s *Session) CloseWithError(code SessionErrorCode, msg string) error {
	s.mu.Lock()
	if s.closing || s.ctx.Err() != nil {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.mu.Unlock()
	err := s.writeCapsule(CloseSession{Code: code, Message: msg})
	s.req.Close()
	s.terminate(&SessionError{ErrorCode: code, Message: truncateUTF8(msg, maxCloseMessage)})
	// The reader waits for the peer's FIN; give up after closeLinger.
	t := time.AfterFunc(closeLinger, func() { s.req.CancelRead(h3.ErrCodeNoError) })
	go func() {
		<-s.cs.conn.Context().Done()
		t.Stop()
	}()
	return err
}

// abort ends the session after a protocol error: the CONNECT stream is
// reset with code.
func (s *Session) abort(code uint64, err error) {
	s.req.CancelRead(h3.ErrorCode(code))
	s.req.CancelWrite(h3.ErrorCode(code))
	s.terminate(fmt.Errorf("webtransport: session aborted (code %#x): %w", code, err))
}

// terminate marks the session ended with cause and resets its streams.
func (s *Session) terminate(cause error) {
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	s.cancel(cause)
	resets := make([]func(), 0, len(s.streams))
	for _, r := range s.streams {
		resets = append(resets, r)
	}
	s.streams = map[transport.StreamID]func(){}
	// Queued streams are in s.streams too: they are reset below.
	s.bidiQ, s.uniQ = nil, nil
	s.mu.Unlock()
	for _, r := range resets {
		r()
	}
	s.cs.sessionEnded(s.id)
}

// readCapsules processes the CONNECT stream until it ends.
func (s *Session) readCapsules() {
	r := capsule.NewReader(s.req, maxCapsuleValue)
	closed := false
	for {
		c, err := r.ReadCapsule()
		if err != nil {
			switch {
			case err == io.EOF:
				if !closed {
					// A clean end without WT_CLOSE_SESSION means code 0.
					s.req.Close()
					s.terminate(&SessionError{Remote: true})
				}
			case errors.Is(err, capsule.ErrTooLarge), errors.Is(err, capsule.ErrTruncated):
				s.abort(uint64(h3.ErrCodeMessageError), err)
			default:
				s.terminate(fmt.Errorf("webtransport: CONNECT stream: %w", s.streamError(err)))
			}
			return
		}
		if closed {
			s.abort(uint64(h3.ErrCodeMessageError), errors.New("data after WT_CLOSE_SESSION"))
			return
		}
		v, err := ParseCapsule(c)
		if err != nil {
			s.abort(uint64(h3.ErrCodeMessageError), err)
			return
		}
		switch v := v.(type) {
		case CloseSession:
			closed = true
			s.mu.Lock()
			s.closing = true
			s.mu.Unlock()
			s.req.Close()
			s.terminate(&SessionError{ErrorCode: v.Code, Message: v.Message, Remote: true})
		case DrainSession:
			s.drainOne.Do(func() { close(s.drained) })
		case MaxData:
			s.sendData.raise(v.Max)
		case MaxStreams:
			if v.Bidi {
				s.sendBidi.raise(v.Max)
			} else {
				s.sendUni.raise(v.Max)
			}
		case DataBlocked, StreamsBlocked:
			// Informational: our limits are raised as the application
			// reads and finishes streams.
		}
	}
}
