package h3

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
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

	mu           sync.Mutex
	accepted     int
	nextID       uint64 // lowest client stream ID not yet accepted
	goawaySent   bool
	goawayID     uint64
	inflight     int
	idle         chan struct{} // closed when inflight drops to 0 after GOAWAY
	maxPushID    uint64
	pushAllowed  bool
	nextPushID   uint64
	canceledPush map[uint64]bool
	prio         map[uint64]Priority // PRIORITY_UPDATE before the stream arrived
	streams      map[uint64]*schedStream
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
	case FrameGoAway:
		// A client's GOAWAY limits pushes; this server stops pushing.
		if _, err := parseVarintPayload(typ, p); err != nil {
			return err
		}
		sc.mu.Lock()
		sc.pushAllowed = false
		sc.mu.Unlock()
		return nil
	case FrameMaxPushID:
		id, err := parseVarintPayload(typ, p)
		if err != nil {
			return err
		}
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if sc.pushAllowed && id < sc.maxPushID {
			return errConn(ErrCodeIDError, "MAX_PUSH_ID decreased from %d to %d", sc.maxPushID, id)
		}
		sc.maxPushID, sc.pushAllowed = id, true
		return nil
	case FrameCancelPush:
		id, err := parseVarintPayload(typ, p)
		if err != nil {
			return err
		}
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if !sc.pushAllowed || id > sc.maxPushID {
			return errConn(ErrCodeIDError, "CANCEL_PUSH for push %d beyond MAX_PUSH_ID", id)
		}
		if sc.canceledPush == nil {
			sc.canceledPush = map[uint64]bool{}
		}
		sc.canceledPush[id] = true
		return nil
	case FramePriorityUpdate, FramePriorityUpdatePush:
		id, n, err := capsule.ParseVarint(p)
		if err != nil {
			return errConn(ErrCodeFrameError, "malformed PRIORITY_UPDATE")
		}
		if typ == FramePriorityUpdatePush {
			sc.mu.Lock()
			defer sc.mu.Unlock()
			if !sc.pushAllowed || id > sc.maxPushID {
				return errConn(ErrCodeIDError, "PRIORITY_UPDATE for push %d beyond MAX_PUSH_ID", id)
			}
			return nil // pushes are sent at their stream's default priority
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
	ctx, cancel := context.WithCancel(sc.tc.Context())
	defer cancel()
	fr := newFrameReader(str)
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
	state := sc.tc.State()
	req.RemoteAddr = addrString(state.RemoteAddr)
	req.TLS = &state.TLS
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
	req = req.WithContext(context.WithValue(ctx, connContextKey{}, sc.Conn))

	p := DefaultPriority
	if v := req.Header.Values("Priority"); len(v) > 0 {
		p = ParsePriority(strings.Join(v, ","), DefaultPriority)
	}
	st := &schedStream{id: id, prio: p}
	sc.mu.Lock()
	if up, ok := sc.prio[id]; ok {
		st.prio = up
		delete(sc.prio, id)
	}
	sc.streams[id] = st
	sc.mu.Unlock()
	defer func() {
		sc.mu.Lock()
		delete(sc.streams, id)
		sc.mu.Unlock()
	}()

	rw := &responseWriter{
		sc: sc, str: str, id: id, req: req, header: http.Header{}, body: body,
		dw: &dataWriter{str: str, sched: sc.sched, ss: st, ctx: ctx},
	}
	rw.bw = bufWriterPool.Get().(*bufio.Writer)
	rw.bw.Reset(writerFunc(rw.writeBody))
	defer func() {
		// The handler has returned: the ResponseWriter is dead.
		rw.bw.Reset(nil)
		bufWriterPool.Put(rw.bw)
	}()
	handler := sc.srv.Handler
	if handler == nil {
		handler = http.DefaultServeMux
	}
	if !sc.runHandler(handler, rw, req) {
		return
	}
	if rw.taken {
		return
	}
	if err := rw.finish(); err != nil {
		sc.streamFailed(str, id, err)
		return
	}
	// The response is complete: the rest of the request is not needed.
	if !body.finished() {
		str.CancelRead(transport.ErrorCode(ErrCodeNoError))
	}
}

// runHandler calls the handler, turning a panic into a stream reset.
func (sc *serverConn) runHandler(h http.Handler, rw *responseWriter, req *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				sc.logf("h3: panic serving %s: %v\n%s", req.URL, p, debug.Stack())
			}
			rw.str.CancelWrite(transport.ErrorCode(ErrCodeInternalError))
			rw.str.CancelRead(transport.ErrorCode(ErrCodeInternalError))
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

var bufWriterPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16<<10) }}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// StreamTaker is implemented by the server's http.ResponseWriter. An
// extended CONNECT handler calls TakeStream after setting the response
// status: the response header is sent and the request stream is the
// handler's from then on (the server does not close it when the handler
// returns).
type StreamTaker interface {
	TakeStream() (*Stream, error)
}

type responseWriter struct {
	sc      *serverConn
	str     transport.Stream
	id      uint64
	req     *http.Request
	header  http.Header
	body    *bodyReader
	dw      *dataWriter
	bw      *bufio.Writer
	status  int
	sent    bool // HEADERS sent
	written int64
	length  int64 // declared Content-Length, -1 if none
	taken   bool
	err     error
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ StreamTaker         = (*responseWriter)(nil)
)

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 || w.taken {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("h3: invalid status code %d", code))
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational response (e.g. 103 Early Hints): sent at once.
		w.writeHeaders(code, true)
		return
	}
	w.status = code
	w.length = -1
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.length = n
		}
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.taken {
		return 0, errors.New("h3: Write after TakeStream")
	}
	if w.status == 0 {
		if w.header.Get("Content-Type") == "" && w.header.Get("Content-Encoding") == "" {
			w.header.Set("Content-Type", http.DetectContentType(p))
		}
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) || w.req.Method == http.MethodHead {
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	return w.bw.Write(p)
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}

// writeBody receives the buffered body: it sends the header first.
func (w *responseWriter) writeBody(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if !w.sent {
		if err := w.writeHeaders(w.status, false); err != nil {
			return 0, err
		}
	}
	n, err := w.dw.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

func (w *responseWriter) writeHeaders(status int, informational bool) error {
	if !informational {
		w.sent = true
		if _, ok := w.header["Date"]; !ok {
			w.header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
		}
	}
	fields := []qpack.HeaderField{{Name: ":status", Value: strconv.Itoa(status)}}
	fields = appendHeaderFields(fields, w.header, map[string]bool{"trailer": false})
	frame, err := w.sc.headersFrame(w.id, fields, FrameHeaders, nil)
	if err == nil {
		_, err = w.str.Write(frame)
		err = convertTransportError(err)
	}
	if err != nil {
		w.err = err
	}
	return err
}

// Flush sends the header and any buffered body.
func (w *responseWriter) Flush() {
	w.FlushError()
}

// FlushError is Flush reporting errors (used by http.ResponseController).
func (w *responseWriter) FlushError() error {
	if w.taken {
		return nil
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	if !w.sent {
		return w.writeHeaders(w.status, false)
	}
	return w.err
}

// finish completes the response after the handler returned.
func (w *responseWriter) finish() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent && w.header.Get("Content-Length") == "" && w.header.Get("Trailer") == "" &&
		bodyAllowed(w.status) && w.req.Method != http.MethodHead {
		// The whole body is buffered: announce its length.
		w.header.Set("Content-Length", strconv.Itoa(w.bw.Buffered()))
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	if !w.sent {
		if err := w.writeHeaders(w.status, false); err != nil {
			return err
		}
	}
	if w.length >= 0 && w.written < w.length && w.req.Method != http.MethodHead {
		return errStream(ErrCodeInternalError, "handler wrote %d of %d declared bytes", w.written, w.length)
	}
	if t := w.trailers(); len(t) > 0 {
		frame, err := w.sc.headersFrame(w.id, t, FrameHeaders, nil)
		if err != nil {
			return err
		}
		if _, err := w.str.Write(frame); err != nil {
			return convertTransportError(err)
		}
	}
	return convertTransportError(w.str.Close())
}

// trailers collects the trailer fields: those declared in the Trailer
// header and those set with the http.TrailerPrefix convention.
func (w *responseWriter) trailers() []qpack.HeaderField {
	t := http.Header{}
	for k := range declaredTrailers(w.header.Values("Trailer")) {
		if vs, ok := w.header[k]; ok {
			t[k] = vs
		}
	}
	for k, vs := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			t[strings.TrimPrefix(k, http.TrailerPrefix)] = vs
		}
	}
	return appendHeaderFields(nil, t, nil)
}

// TakeStream implements StreamTaker.
func (w *responseWriter) TakeStream() (*Stream, error) {
	if w.taken {
		return nil, errors.New("h3: stream already taken")
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.bw.Flush(); err != nil {
		return nil, err
	}
	if !w.sent {
		if err := w.writeHeaders(w.status, false); err != nil {
			return nil, err
		}
	}
	w.taken = true
	dw := &dataWriter{str: w.str, ctx: w.sc.tc.Context()}
	return newStream(w.sc.Conn, w.str, w.body, dw), nil
}

func (b *bodyReader) finished() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}
