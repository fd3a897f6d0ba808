package webtransport

import (
	"bufio"
	"io"
	"sync"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/transport"
)

// DefaultMaxBufferedStreams bounds, per connection, the streams kept while
// waiting for the session they name to be established.
const DefaultMaxBufferedStreams = 32

// maxEndedSessions bounds the remembered IDs of ended sessions, whose late
// streams are reset with WT_SESSION_GONE.
const maxEndedSessions = 1024

// pendingStream is a stream that arrived before its session.
type pendingStream struct {
	recv transport.ReceiveStream
	bidi transport.Stream // nil for a unidirectional stream
	r    io.Reader
}

func (p pendingStream) reject(code uint64) {
	p.recv.CancelRead(transport.ErrorCode(code))
	if p.bidi != nil {
		p.bidi.CancelWrite(transport.ErrorCode(code))
	}
}

// connState is the WebTransport state of one HTTP/3 connection: its
// sessions and the streams waiting for one.
type connState struct {
	conn        *h3.Conn
	isServer    bool
	maxBuffered int

	mu       sync.Mutex
	sessions map[uint64]*Session
	// upgrading: sessions accepted whose 200 may be on its way while
	// the Session is built; they count as open, and their streams wait
	// for them outside the buffer limit (they are no strangers' streams).
	upgrading map[uint64]bool
	pending   map[uint64][]pendingStream
	npending  int
	ended     map[uint64]bool
	endedQ    []uint64
	closed    bool
}

func newConnState(c *h3.Conn, isServer bool, maxBuffered int) *connState {
	if maxBuffered <= 0 {
		maxBuffered = DefaultMaxBufferedStreams
	}
	cs := &connState{
		conn: c, isServer: isServer, maxBuffered: maxBuffered,
		sessions:  map[uint64]*Session{},
		upgrading: map[uint64]bool{},
		pending:   map[uint64][]pendingStream{},
		ended:     map[uint64]bool{},
	}
	go func() {
		<-c.Context().Done()
		cs.mu.Lock()
		cs.closed = true
		cs.pending = nil
		cs.mu.Unlock()
	}()
	return cs
}

// reserveSession counts session id as open unless max sessions are open
// already, or any is and several are not allowed; it returns how many
// were open before.  The session is then added or refused.
func (cs *connState) reserveSession(id uint64, max uint64, several bool) (int, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	active := len(cs.sessions) + len(cs.upgrading)
	if uint64(active) >= max || active > 0 && !several {
		return active, false
	}
	cs.upgrading[id] = true
	return active, true
}

// addSession registers an established session and hands it the streams
// that were waiting for it.
func (cs *connState) addSession(s *Session) {
	cs.mu.Lock()
	cs.sessions[s.id] = s
	delete(cs.upgrading, s.id)
	waiting := cs.pending[s.id]
	delete(cs.pending, s.id)
	cs.npending -= len(waiting)
	cs.mu.Unlock()
	for _, p := range waiting {
		s.addIncoming(p.recv, p.bidi, p.r)
	}
}

// sessionRefused rejects the streams buffered for a session that will not
// exist.
func (cs *connState) sessionRefused(id uint64) {
	cs.mu.Lock()
	delete(cs.upgrading, id)
	waiting := cs.pending[id]
	delete(cs.pending, id)
	cs.npending -= len(waiting)
	cs.markEnded(id)
	cs.mu.Unlock()
	for _, p := range waiting {
		p.reject(ErrCodeBufferedStreamRejected)
	}
}

func (cs *connState) sessionEnded(id uint64) {
	cs.mu.Lock()
	delete(cs.sessions, id)
	cs.markEnded(id)
	cs.mu.Unlock()
}

func (cs *connState) markEnded(id uint64) {
	if cs.ended[id] {
		return
	}
	cs.ended[id] = true
	cs.endedQ = append(cs.endedQ, id)
	if len(cs.endedQ) > maxEndedSessions {
		delete(cs.ended, cs.endedQ[0])
		cs.endedQ = cs.endedQ[1:]
	}
}

// incoming routes a stream the peer opened for session id: to the session,
// into the buffer, or back to the peer with an error code.
func (cs *connState) incoming(id uint64, p pendingStream) {
	cs.mu.Lock()
	if s, ok := cs.sessions[id]; ok {
		cs.mu.Unlock()
		s.addIncoming(p.recv, p.bidi, p.r)
		return
	}
	if cs.ended[id] || cs.closed {
		cs.mu.Unlock()
		p.reject(ErrCodeSessionGone)
		return
	}
	if cs.npending >= cs.maxBuffered && !cs.upgrading[id] {
		cs.mu.Unlock()
		p.reject(ErrCodeBufferedStreamRejected)
		return
	}
	cs.pending[id] = append(cs.pending[id], p)
	cs.npending++
	cs.mu.Unlock()
}

// handleUni takes a unidirectional stream whose type (0x54) was read.
func (cs *connState) handleUni(str transport.ReceiveStream) {
	br := bufio.NewReader(str)
	id, err := capsule.ReadVarint(br)
	if err != nil || !validSessionID(id) {
		str.CancelRead(transport.ErrorCode(h3.ErrCodeIDError))
		return
	}
	cs.incoming(id, pendingStream{recv: str, r: br})
}

// handleBidi takes a bidirectional stream whose signal (0x41) and session
// ID were read.
func (cs *connState) handleBidi(id uint64, str transport.Stream) {
	if !validSessionID(id) {
		str.CancelRead(transport.ErrorCode(h3.ErrCodeIDError))
		str.CancelWrite(transport.ErrorCode(h3.ErrCodeIDError))
		return
	}
	cs.incoming(id, pendingStream{recv: str, bidi: str})
}
