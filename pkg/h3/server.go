package h3

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/qpack"
	"github.com/tquic/tquic/pkg/transport"
)

// NextProtoH3 is the ALPN token of HTTP/3.
const NextProtoH3 = "h3"

// Server serves net/http Handlers over HTTP/3.
type Server struct {
	// Handler handles requests; nil means http.DefaultServeMux.
	Handler http.Handler
	// Config holds the settings the server announces.
	Config Config
	// MaxRequestsPerConn, when positive, makes the server send GOAWAY on a
	// connection after accepting that many requests on it, and drain it.
	MaxRequestsPerConn int
	// DrainTimeout bounds how long a connection that was sent GOAWAY stays
	// open after its last request finished, waiting for the client to
	// close it (default 2 s).
	DrainTimeout time.Duration
	// UniStreamHandler, if set, is offered unidirectional streams of types
	// HTTP/3 does not define (for example WebTransport's 0x54), with the
	// type already read. It returns false to refuse the stream.
	UniStreamHandler func(c *Conn, streamType uint64, str transport.ReceiveStream) bool
	// BidiStreamHandler, if set, is offered bidirectional streams whose
	// first frame type HTTP/3 does not define (for example WebTransport's
	// 0x41). The type and the varint after it (a frame's length, or
	// WebTransport's session ID) have been read; str continues after them.
	// It returns false to have the frame skipped as an unknown frame.
	BidiStreamHandler func(c *Conn, frameType, value uint64, str transport.Stream) bool

	mu        sync.Mutex
	listeners map[transport.Listener]struct{}
	conns     map[*serverConn]struct{}
	closing   bool
	connWG    sync.WaitGroup
}

// Serve accepts connections from ln and serves them until ln fails or the
// server is shut down.
func (s *Server) Serve(ln transport.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = map[transport.Listener]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	for {
		tc, err := ln.Accept(context.Background())
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return http.ErrServerClosed
			}
			return fmt.Errorf("h3: accept: %w", err)
		}
		go s.ServeConn(tc)
	}
}

// ServeConn serves one established connection until it closes.
func (s *Server) ServeConn(tc transport.Connection) error {
	sc := &serverConn{srv: s, sched: newScheduler(), prio: map[uint64]Priority{}, streams: map[uint64]*schedStream{}}
	sc.Conn = newConn(tc, true, &s.Config)
	sc.baseCtx = context.WithValue(tc.Context(), connContextKey{}, sc.Conn)
	sc.onControlFrame = sc.controlFrame
	sc.onUniStream = func(typ uint64, str transport.ReceiveStream) bool {
		return s.UniStreamHandler != nil && s.UniStreamHandler(sc.Conn, typ, str)
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		tc.CloseWithError(transport.ErrorCode(ErrCodeNoError), "server closed")
		return http.ErrServerClosed
	}
	if s.conns == nil {
		s.conns = map[*serverConn]struct{}{}
	}
	s.conns[sc] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, sc)
		s.mu.Unlock()
		s.connWG.Done()
	}()
	if err := sc.start(); err != nil {
		tc.CloseWithError(transport.ErrorCode(ErrCodeInternalError), "")
		return err
	}
	return sc.serve()
}

// Shutdown stops accepting connections, sends GOAWAY on every connection,
// lets in-flight requests finish and waits for the connections to close,
// or for ctx; then remaining connections are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*serverConn, 0, len(s.conns))
	for sc := range s.conns {
		conns = append(conns, sc)
	}
	s.mu.Unlock()
	for _, sc := range conns {
		sc.goAway()
	}
	done := make(chan struct{})
	go func() { s.connWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes the listeners and every connection immediately.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	for sc := range s.conns {
		sc.tc.CloseWithError(transport.ErrorCode(ErrCodeNoError), "server closed")
	}
	s.mu.Unlock()
	return nil
}

type serverConn struct {
	*Conn
	srv   *Server
	sched *scheduler
	// baseCtx is the connection's context carrying the Conn for
	// ConnFromContext; request contexts derive from it.
	baseCtx context.Context

	infoMu      sync.Mutex
	lastAddr    net.Addr
	lastAddrStr string
	tlsState    *tls.ConnectionState

	mu         sync.Mutex
	accepted   int
	nextID     uint64 // lowest client stream ID not yet accepted
	goawaySent bool
	goawayID   uint64
	inflight   int
	idle       chan struct{} // closed when inflight drops to 0 after GOAWAY
	push       serverPushState
	prio       map[uint64]Priority // PRIORITY_UPDATE before the stream arrived
	streams    map[uint64]*schedStream
}

func (sc *serverConn) serve() error {
	ctx := sc.tc.Context()
	for {
		str, err := sc.tc.AcceptStream(ctx)
		if err != nil {
			return nil
		}
		id := uint64(str.StreamID())
		sc.mu.Lock()
		if sc.goawaySent && id >= sc.goawayID {
			sc.mu.Unlock()
			// Not processed: the client retries it elsewhere.
			str.CancelRead(transport.ErrorCode(ErrCodeRequestRejected))
			str.CancelWrite(transport.ErrorCode(ErrCodeRequestRejected))
			continue
		}
		sc.accepted++
		sc.inflight++
		sc.nextID = id + 4
		limitReached := sc.srv.MaxRequestsPerConn > 0 && sc.accepted >= sc.srv.MaxRequestsPerConn
		sc.mu.Unlock()
		if limitReached {
			sc.goAway()
		}
		go sc.handleStream(str)
	}
}

// goAway sends GOAWAY (once) and closes the connection when the requests
// accepted before it have finished and the client went away or the drain
// timeout passed.
func (sc *serverConn) goAway() {
	sc.mu.Lock()
	if sc.goawaySent {
		sc.mu.Unlock()
		return
	}
	sc.goawaySent = true
	sc.goawayID = sc.nextID
	sc.idle = make(chan struct{})
	if sc.inflight == 0 {
		close(sc.idle)
	}
	id := sc.goawayID
	sc.mu.Unlock()
	if err := sc.sendControlFrame(FrameGoAway, capsule.AppendVarint(nil, id)); err != nil {
		return
	}
	go func() {
		ctx := sc.tc.Context()
		select {
		case <-sc.idle:
		case <-ctx.Done():
			return
		}
		timeout := sc.srv.DrainTimeout
		if timeout <= 0 {
			timeout = 2 * time.Second
		}
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
			sc.CloseWithError(ErrCodeNoError, "")
		}
	}()
}

func (sc *serverConn) requestDone() {
	sc.mu.Lock()
	sc.inflight--
	if sc.goawaySent && sc.inflight == 0 {
		close(sc.idle)
	}
	sc.mu.Unlock()
}

func (sc *serverConn) controlFrame(typ uint64, p []byte) error {
	switch typ {
	case FrameGoAway, FrameMaxPushID, FrameCancelPush:
		return sc.pushControlFrame(typ, p)
	case FramePriorityUpdate, FramePriorityUpdatePush:
		id, n, err := capsule.ParseVarint(p)
		if err != nil {
			return errConn(ErrCodeFrameError, "malformed PRIORITY_UPDATE")
		}
		if typ == FramePriorityUpdatePush {
			return sc.setPushPriority(id, ParsePriority(string(p[n:]), DefaultPriority))
		}
		if id%4 != 0 {
			return errConn(ErrCodeIDError, "PRIORITY_UPDATE for stream %d, not a request stream", id)
		}
		sc.setPriority(id, ParsePriority(string(p[n:]), DefaultPriority))
		return nil
	}
	return errConn(ErrCodeFrameUnexpected, "%s on the client's control stream", frameName(typ))
}

func (sc *serverConn) setPriority(id uint64, p Priority) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if st, ok := sc.streams[id]; ok {
		sc.sched.setPriority(st, p)
		return
	}
	if id >= sc.nextID && len(sc.prio) < 1024 {
		sc.prio[id] = p // applies when the stream arrives
	}
}

func (sc *serverConn) handleStream(str transport.Stream) {
	defer sc.requestDone()
	id := uint64(str.StreamID())
	ctx, cancel := context.WithCancel(sc.baseCtx)
	defer cancel()
	fr := getFrameReader(str)
	var headers []byte
	for headers == nil {
		typ, length, err := fr.header()
		if err != nil {
			if err == io.EOF {
				err = errStream(ErrCodeRequestIncomplete, "stream ended before HEADERS")
			}
			sc.streamFailed(str, id, err)
			return
		}
		switch {
		case typ == FrameHeaders:
			if headers, err = fr.payload(typ, length, sc.cfg.maxFieldSection()); err != nil {
				sc.streamFailed(str, id, err)
				return
			}
		case typ <= FrameMaxPushID && typ != 0x0a && typ != 0x0b && typ != 0x0c,
			typ == FramePriorityUpdate, typ == FramePriorityUpdatePush:
			sc.streamFailed(str, id, errConn(ErrCodeFrameUnexpected, "%s before HEADERS on a request stream", frameName(typ)))
			return
		default:
			if headers == nil && sc.srv.BidiStreamHandler != nil && !IsGrease(typ) &&
				sc.srv.BidiStreamHandler(sc.Conn, typ, length, &prefixedStream{Stream: str, r: io.MultiReader(io.LimitReader(fr.r, int64(fr.r.Buffered())), str)}) {
				return // the extension owns the stream
			}
			if err := fr.skip(length); err != nil {
				sc.streamFailed(str, id, err)
				return
			}
		}
	}
	fields, err := sc.decodeHeaders(ctx, id, headers)
	if err != nil {
		sc.streamFailed(str, id, err)
		return
	}
	msg, err := parseFields(fields, true)
	if err != nil {
		sc.streamFailed(str, id, err)
		return
	}
	req, err := requestFromMessage(msg, sc.cfg.EnableConnectProtocol)
	if err != nil {
		sc.streamFailed(str, id, err)
		return
	}
	req.RemoteAddr, req.TLS = sc.peerInfo()
	body := newBodyReader(sc.Conn, str, fr, ctx, msg.length)
	body.closeCode = ErrCodeNoError
	body.onTrailers = func(f []qpack.HeaderField) error {
		t, err := trailerFields(f)
		if err != nil {
			return err
		}
		if req.Trailer == nil {
			req.Trailer = http.Header{}
		}
		for k, v := range t {
			req.Trailer[k] = v
		}
		return nil
	}
	req.Body = body
	req = req.WithContext(ctx)

	p := DefaultPriority
	if v := req.Header["Priority"]; len(v) > 0 {
		p = ParsePriority(strings.Join(v, ","), DefaultPriority)
	}
	rw := sc.newResponseWriter(str, str, req, body, ctx, p)
	defer rw.release()
	sc.mu.Lock()
	if up, ok := sc.prio[id]; ok {
		rw.ss.prio = up
		delete(sc.prio, id)
	}
	sc.streams[id] = &rw.ss
	sc.mu.Unlock()
	defer func() {
		sc.mu.Lock()
		delete(sc.streams, id)
		sc.mu.Unlock()
	}()

	if !sc.runHandler(sc.handler(), rw, req) || rw.taken {
		return
	}
	if err := rw.finish(); err != nil {
		sc.streamFailed(str, id, err)
		return
	}
	// The response is complete: the rest of the request is not needed.
	// When the request was read to its end, the stream needs no
	// STOP_SENDING, and the frame reader can serve another request.
	finished, eof, detached := body.detachAfterHandler()
	if !finished && !eof {
		str.CancelRead(transport.ErrorCode(ErrCodeNoError))
	}
	if detached {
		putFrameReader(fr)
	}
}

func (sc *serverConn) handler() http.Handler {
	if sc.srv.Handler == nil {
		return http.DefaultServeMux
	}
	return sc.srv.Handler
}

// peerInfo returns the client's address and the TLS state for a request.
// Like net/http, requests of one connection share the TLS state once the
// handshake is complete; the address is formatted again only when the
// path changed.
func (sc *serverConn) peerInfo() (string, *tls.ConnectionState) {
	state := sc.tc.State()
	sc.infoMu.Lock()
	defer sc.infoMu.Unlock()
	if state.RemoteAddr != sc.lastAddr || sc.lastAddrStr == "" {
		sc.lastAddr, sc.lastAddrStr = state.RemoteAddr, addrString(state.RemoteAddr)
	}
	if sc.tlsState == nil {
		if !state.TLS.HandshakeComplete {
			tlsState := state.TLS
			return sc.lastAddrStr, &tlsState
		}
		tlsState := state.TLS
		sc.tlsState = &tlsState
	}
	return sc.lastAddrStr, sc.tlsState
}

// runHandler calls the handler, turning a panic into a stream reset.
func (sc *serverConn) runHandler(h http.Handler, rw *responseWriter, req *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				sc.logf("h3: panic serving %s: %v\n%s", req.URL, p, debug.Stack())
			}
			rw.abort(ErrCodeInternalError)
			ok = false
		}
	}()
	h.ServeHTTP(rw, req)
	return true
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

type connContextKey struct{}

// ConnFromContext returns the HTTP/3 connection a server request arrived
// on, from the request's context.
func ConnFromContext(ctx context.Context) (*Conn, bool) {
	c, ok := ctx.Value(connContextKey{}).(*Conn)
	return c, ok
}

func (b *bodyReader) finished() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}
