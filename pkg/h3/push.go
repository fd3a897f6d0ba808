package h3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/qpack"
	"github.com/tquic/tquic/pkg/transport"
)

// Server push (RFC 9114 section 4.6): the server's side.

// ErrPushLimit is returned by Push when the client's MAX_PUSH_ID allows
// no further push for now.
var ErrPushLimit = errors.New("h3: push ID limit (MAX_PUSH_ID) reached")

// serverPushState is a connection's push state, guarded by serverConn.mu.
type serverPushState struct {
	allowed   bool   // a MAX_PUSH_ID arrived
	maxID     uint64 // the client's maximum push ID
	nextID    uint64 // lowest push ID not yet promised
	goaway    bool   // the client sent GOAWAY ...
	goawayID  uint64 // ... with this push ID: no push at or above it
	active    map[uint64]*serverPush
	allowedCh chan struct{} // closed when the first MAX_PUSH_ID arrives
}

// pushAllowedChan returns a channel closed once the client allowed pushes.
func (sc *serverConn) pushAllowedChan() <-chan struct{} {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.push.allowedCh == nil {
		sc.push.allowedCh = make(chan struct{})
		if sc.push.allowed {
			close(sc.push.allowedCh)
		}
	}
	return sc.push.allowedCh
}

// serverPush is one promised push until its response ends.
type serverPush struct {
	id       uint64
	canceled bool                 // CANCEL_PUSH from the client
	str      transport.SendStream // the push stream, once open
	cancel   context.CancelFunc   // ends the pushed request's context
	prio     Priority             // before the response is scheduled
	ss       *schedStream         // the pushed response's scheduling state
}

// pushControlFrame handles the push-related frames of the client's
// control stream: GOAWAY (a push ID), MAX_PUSH_ID and CANCEL_PUSH.
func (sc *serverConn) pushControlFrame(typ uint64, p []byte) error {
	id, err := parseVarintPayload(typ, p)
	if err != nil {
		return err
	}
	sc.mu.Lock()
	ps := &sc.push
	switch typ {
	case FrameGoAway:
		// RFC 9114 section 5.2: the client will not accept pushes at or
		// above id; the identifier may not grow.
		if ps.goaway && id > ps.goawayID {
			sc.mu.Unlock()
			return errConn(ErrCodeIDError, "client GOAWAY push ID increased from %d to %d", ps.goawayID, id)
		}
		ps.goaway, ps.goawayID = true, id
		sc.mu.Unlock()
		return nil
	case FrameMaxPushID:
		defer sc.mu.Unlock()
		if ps.allowed && id < ps.maxID {
			return errConn(ErrCodeIDError, "MAX_PUSH_ID decreased from %d to %d", ps.maxID, id)
		}
		if !ps.allowed && ps.allowedCh != nil {
			close(ps.allowedCh)
		}
		ps.maxID, ps.allowed = id, true
		return nil
	}
	// CANCEL_PUSH (RFC 9114 section 7.2.3).
	if !ps.allowed || id > ps.maxID {
		sc.mu.Unlock()
		return errConn(ErrCodeIDError, "CANCEL_PUSH for push %d beyond MAX_PUSH_ID", id)
	}
	if id >= ps.nextID {
		sc.mu.Unlock()
		return errConn(ErrCodeIDError, "CANCEL_PUSH for push %d, which was not promised", id)
	}
	push := ps.active[id]
	if push == nil || push.canceled {
		sc.mu.Unlock()
		return nil // already over
	}
	push.canceled = true
	str, cancel := push.str, push.cancel
	sc.mu.Unlock()
	if str != nil {
		str.CancelWrite(transport.ErrorCode(ErrCodeRequestCanceled))
	}
	if cancel != nil {
		cancel()
	}
	return nil
}

// setPushPriority applies a PRIORITY_UPDATE for a push (RFC 9218 section
// 7.2): the push ID must have been promised.
func (sc *serverConn) setPushPriority(id uint64, p Priority) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	ps := &sc.push
	if !ps.allowed || id > ps.maxID {
		return errConn(ErrCodeIDError, "PRIORITY_UPDATE for push %d beyond MAX_PUSH_ID", id)
	}
	if id >= ps.nextID {
		return errConn(ErrCodeIDError, "PRIORITY_UPDATE for push %d, which was not promised", id)
	}
	push := ps.active[id]
	if push == nil {
		return nil // the pushed response is over
	}
	if push.ss != nil {
		sc.sched.setPriority(push.ss, p)
	} else {
		push.prio = p
	}
	return nil
}

// pushForbiddenHeaders are request header fields a promised request may
// not carry: it has no content, and the server chooses the rest.
var pushForbiddenHeaders = map[string]bool{
	"content-length": true, "content-encoding": true, "trailer": true, "te": true,
	"expect": true, "host": true,
}

// Push implements http.Pusher: it sends a PUSH_PROMISE for target on the
// request stream and serves the promised request through the server's
// Handler on a push stream, concurrently. It returns http.ErrNotSupported
// when the client did not allow pushes (sent no MAX_PUSH_ID, as most
// clients), and ErrPushLimit when the client's limit is reached.
func (w *responseWriter) Push(target string, opts *http.PushOptions) error {
	if w.push != nil {
		return errors.New("h3: a pushed response cannot push")
	}
	if w.taken || w.buf == nil {
		return errors.New("h3: Push after the response ended")
	}
	method := http.MethodGet
	var header http.Header
	if opts != nil {
		if opts.Method != "" {
			method = opts.Method
		}
		header = opts.Header.Clone()
	}
	if method != http.MethodGet && method != http.MethodHead {
		return fmt.Errorf("h3: cannot push a %s request: only GET and HEAD are safe and cacheable", method)
	}
	authority := w.req.Host
	var u *url.URL
	var err error
	if strings.HasPrefix(target, "/") {
		if u, err = url.ParseRequestURI(target); err != nil {
			return fmt.Errorf("h3: push target %q: %w", target, err)
		}
	} else {
		if u, err = url.Parse(target); err != nil {
			return fmt.Errorf("h3: push target %q: %w", target, err)
		}
		if u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("h3: push target %q is neither an absolute path nor an https URL", target)
		}
		if !strings.EqualFold(u.Host, authority) {
			return fmt.Errorf("h3: push target %q: this server is authoritative for %q only", target, authority)
		}
	}
	if authority == "" {
		return errors.New("h3: cannot push without the request's authority")
	}
	u.Scheme, u.Host = "https", authority
	path := u.RequestURI()
	fields := []qpack.HeaderField{
		{Name: ":method", Value: method},
		{Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: authority},
		{Name: ":path", Value: path},
	}
	for k := range header {
		if name := lowerHeader(k); pushForbiddenHeaders[name] || connectionSpecific[name] {
			return fmt.Errorf("h3: header %s is not allowed in a promised request", k)
		}
	}
	fields = appendHeaderFields(fields, header, nil)
	prio := DefaultPriority
	if v := header["Priority"]; len(v) > 0 {
		prio = ParsePriority(strings.Join(v, ","), DefaultPriority)
	}

	sc := w.sc
	sc.mu.Lock()
	ps := &sc.push
	switch {
	case !ps.allowed:
		sc.mu.Unlock()
		return http.ErrNotSupported
	case ps.goaway && ps.nextID >= ps.goawayID:
		sc.mu.Unlock()
		return fmt.Errorf("h3: the client's GOAWAY allows no further push: %w", http.ErrNotSupported)
	case ps.nextID > ps.maxID:
		sc.mu.Unlock()
		return ErrPushLimit
	}
	push := &serverPush{id: ps.nextID, prio: prio}
	ps.nextID++
	if ps.active == nil {
		ps.active = map[uint64]*serverPush{}
	}
	ps.active[push.id] = push
	sc.inflight++ // a graceful shutdown waits for pushed responses too
	sc.mu.Unlock()

	frame, err := sc.headersFrame(w.id, fields, FramePushPromise, capsule.AppendVarint(nil, push.id))
	if err == nil {
		_, err = w.str.Write(frame)
		err = convertTransportError(err)
	}
	if err != nil {
		sc.pushDone(push)
		return fmt.Errorf("h3: send PUSH_PROMISE for %s: %w", target, err)
	}
	req := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/3.0",
		ProtoMajor: 3,
		Header:     header,
		Host:       authority,
		RequestURI: path,
		RemoteAddr: w.req.RemoteAddr,
		TLS:        w.req.TLS,
		Body:       http.NoBody,
	}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	go sc.servePush(push, req)
	return nil
}

// pushDone forgets a push whose response is over.
func (sc *serverConn) pushDone(push *serverPush) {
	sc.mu.Lock()
	delete(sc.push.active, push.id)
	sc.mu.Unlock()
	sc.requestDone()
}

// servePush opens the push stream for a promise and serves the promised
// request on it. A promise that cannot be kept is canceled with
// CANCEL_PUSH.
func (sc *serverConn) servePush(push *serverPush, req *http.Request) {
	defer sc.pushDone(push)
	ctx, cancel := context.WithCancel(sc.baseCtx)
	defer cancel()
	sc.mu.Lock()
	if push.canceled {
		sc.mu.Unlock()
		return // the client refused it before the stream existed
	}
	push.cancel = cancel
	sc.mu.Unlock()

	str, err := sc.tc.OpenUniStream(ctx)
	if err == nil {
		_, err = str.Write(capsule.AppendVarint(capsule.AppendVarint(nil, StreamTypePush), push.id))
		if err != nil {
			str.CancelWrite(transport.ErrorCode(ErrCodeRequestCanceled))
		}
	}
	if err != nil {
		if sc.tc.Context().Err() == nil && ctx.Err() == nil {
			sc.logf("h3: push %d: opening its stream: %v", push.id, err)
			sc.sendControlFrame(FrameCancelPush, capsule.AppendVarint(nil, push.id))
		}
		return
	}
	req = req.WithContext(ctx)
	rw := sc.newResponseWriter(str, nil, req, nil, ctx, push.prio)
	defer rw.release()
	rw.push = push
	sc.mu.Lock()
	canceled := push.canceled
	push.str = str
	rw.ss.prio = push.prio // a PRIORITY_UPDATE may have come meanwhile
	push.ss = &rw.ss
	sc.mu.Unlock()
	if canceled {
		str.CancelWrite(transport.ErrorCode(ErrCodeRequestCanceled))
		return
	}
	if !sc.runHandler(sc.handler(), rw, req) {
		return
	}
	if err := rw.finish(); err != nil {
		code := ErrCodeInternalError
		var se *streamError
		if errors.As(err, &se) {
			code = se.code
		}
		str.CancelWrite(transport.ErrorCode(code))
		if ce := (*connError)(nil); errors.As(err, &ce) {
			sc.fail(err)
		}
	}
}

// Server push: the client's side.

// Push is a server push promised to a client (RFC 9114 section 4.6): the
// promised request, and the pushed response once the push stream came.
// A push holds one of the client's push slots (Client.MaxPushes) until
// its response was read to the end or closed, or it was canceled.
type Push struct {
	// ID is the push ID.
	ID uint64
	// Request is the promised request (no body).
	Request *http.Request

	cc       *ClientConn
	fields   []qpack.HeaderField // the promised header section
	promised bool
	usable   bool // safe, cacheable, without content, same authority
	str      transport.ReceiveStream
	fr       *frameReader
	sawStr   bool          // a push stream with this ID arrived
	arrived  chan struct{} // closed when str is set or the push ended
	claimed  bool
	ended    bool
	endErr   error
}

// errPushCanceled is what a canceled push reports.
var errPushCanceled = errors.New("h3: push canceled")

// clientPushState is a connection's push state, guarded by ClientConn.mu.
type clientPushState struct {
	window    uint64 // Client.MaxPushes; 0: pushes are not allowed
	handler   func(*Push)
	maxID     uint64 // the MAX_PUSH_ID announced (meaningful if window > 0)
	sentMaxID uint64
	ended     uint64 // pushes that ended: each frees a slot
	byID      map[uint64]*Push
}

// enablePush announces the first MAX_PUSH_ID.
func (cc *ClientConn) enablePush(window int, handler func(*Push)) error {
	cc.mu.Lock()
	cc.push.window = uint64(window)
	cc.push.handler = handler
	cc.push.maxID = uint64(window) - 1
	cc.push.byID = map[uint64]*Push{}
	cc.mu.Unlock()
	return cc.sendMaxPushID()
}

// sendMaxPushID sends the current limit if it grew since last sent; the
// frames go out in increasing order.
func (cc *ClientConn) sendMaxPushID() error {
	cc.pushSendMu.Lock()
	defer cc.pushSendMu.Unlock()
	cc.mu.Lock()
	id, first := cc.push.maxID, cc.push.sentMaxID == 0
	send := first || id > cc.push.sentMaxID
	cc.push.sentMaxID = max(cc.push.sentMaxID, id)
	cc.mu.Unlock()
	if !send {
		return nil
	}
	return cc.sendControlFrame(FrameMaxPushID, capsule.AppendVarint(nil, id))
}

// pushEndedLocked frees p's slot, raising MAX_PUSH_ID; the caller calls
// sendMaxPushID after unlocking.
func (cc *ClientConn) pushEndedLocked(p *Push, err error) {
	if p.ended {
		return
	}
	p.ended, p.endErr = true, err
	if p.str == nil {
		close(p.arrived)
	}
	p.str, p.fr = nil, nil
	cc.push.ended++
	if limit := cc.push.ended + cc.push.window - 1; limit > cc.push.maxID {
		cc.push.maxID = limit
	}
}

func (cc *ClientConn) pushLocked(id uint64) *Push {
	p := cc.push.byID[id]
	if p == nil {
		p = &Push{ID: id, cc: cc, arrived: make(chan struct{})}
		cc.push.byID[id] = p
	}
	return p
}

// handlePushPromise processes a PUSH_PROMISE frame received on the request
// stream of parent.
func (cc *ClientConn) handlePushPromise(ctx context.Context, streamID uint64, parent *http.Request, payload []byte) error {
	id, n, err := capsule.ParseVarint(payload)
	if err != nil {
		return errConn(ErrCodeFrameError, "PUSH_PROMISE without a push ID")
	}
	cc.mu.Lock()
	window, maxID := cc.push.window, cc.push.maxID
	cc.mu.Unlock()
	if window == 0 {
		return errConn(ErrCodeIDError, "PUSH_PROMISE although no MAX_PUSH_ID was sent")
	}
	if id > maxID {
		return errConn(ErrCodeIDError, "PUSH_PROMISE with push ID %d above MAX_PUSH_ID %d", id, maxID)
	}
	fields, err := cc.decodeHeaders(ctx, streamID, payload[n:])
	if err != nil {
		return err
	}
	cc.mu.Lock()
	p := cc.pushLocked(id)
	if p.promised {
		same := len(p.fields) == len(fields)
		for i := 0; same && i < len(fields); i++ {
			same = fields[i].Name == p.fields[i].Name && fields[i].Value == p.fields[i].Value
		}
		cc.mu.Unlock()
		if !same {
			return errConn(ErrCodeGeneralProtocolError, "push %d promised again with a different request", id)
		}
		return nil // the same promise, referenced from another request
	}
	p.promised, p.fields = true, fields
	cc.mu.Unlock()

	m, perr := parseFields(fields, true)
	var req *http.Request
	if perr == nil {
		req, perr = requestFromMessage(m, false)
	}
	if perr != nil {
		// A malformed promised request is a malformed message on the
		// stream that carried it; the push itself is refused.
		cc.cancelPush(p, fmt.Errorf("h3: malformed promised request: %w", perr))
		return perr
	}
	req.RequestURI = ""
	req.Body = http.NoBody
	p.Request = req
	cc.mu.Lock()
	p.usable = pushAcceptable(req, m, parent)
	handler := cc.push.handler
	ended := p.ended
	cc.mu.Unlock()
	if !p.usable {
		// RFC 9114 section 4.6: such a push is canceled and never used.
		cc.cancelPush(p, errors.New("h3: promised request is not safe, cacheable and for this origin"))
		return nil
	}
	if handler != nil && !ended {
		go handler(p)
	}
	return nil
}

// pushAcceptable reports whether a promised request may be used: a safe
// and cacheable method, no content, and the authority of the request
// whose stream carried the promise.
func pushAcceptable(req *http.Request, m *message, parent *http.Request) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	if m.length > 0 || req.URL.Scheme != "https" {
		return false
	}
	if parent == nil {
		return false
	}
	authority := parent.Host
	if authority == "" && parent.URL != nil {
		authority = parent.URL.Host
	}
	return strings.EqualFold(req.Host, authority)
}

// handlePushStream takes a push stream (type 0x01 read already).
func (cc *ClientConn) handlePushStream(str transport.ReceiveStream) bool {
	fr := newFrameReader(str)
	id, err := capsule.ReadVarint(fr.r)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			cc.fail(errConn(ErrCodeFrameError, "push stream ends before its push ID"))
		}
		return true
	}
	cc.mu.Lock()
	if cc.push.window == 0 {
		cc.mu.Unlock()
		cc.fail(errConn(ErrCodeIDError, "push stream although no MAX_PUSH_ID was sent"))
		return true
	}
	if id > cc.push.maxID {
		maxID := cc.push.maxID
		cc.mu.Unlock()
		cc.fail(errConn(ErrCodeIDError, "push stream for push ID %d above MAX_PUSH_ID %d", id, maxID))
		return true
	}
	p := cc.pushLocked(id)
	if p.sawStr {
		cc.mu.Unlock()
		cc.fail(errConn(ErrCodeIDError, "second push stream for push ID %d", id))
		return true
	}
	p.sawStr = true
	if p.ended {
		cc.mu.Unlock()
		// Canceled or refused: RFC 9114 section 7.2.3.
		str.CancelRead(transport.ErrorCode(ErrCodeRequestCanceled))
		return true
	}
	p.str, p.fr = str, fr
	close(p.arrived)
	cc.mu.Unlock()
	return true
}

// handleServerCancelPush processes a CANCEL_PUSH from the server.
func (cc *ClientConn) handleServerCancelPush(id uint64) error {
	cc.mu.Lock()
	if cc.push.window == 0 || id > cc.push.maxID {
		cc.mu.Unlock()
		return errConn(ErrCodeIDError, "CANCEL_PUSH for push ID %d beyond MAX_PUSH_ID", id)
	}
	p := cc.pushLocked(id)
	if p.sawStr || p.ended {
		// The response is coming (or was refused): the stream decides.
		cc.mu.Unlock()
		return nil
	}
	cc.pushEndedLocked(p, errors.New("h3: the server canceled the push"))
	cc.mu.Unlock()
	return cc.sendMaxPushID()
}

// cancelPush refuses p: CANCEL_PUSH if its stream did not arrive yet,
// otherwise aborting the stream (RFC 9114 section 7.2.3).
func (cc *ClientConn) cancelPush(p *Push, why error) error {
	cc.mu.Lock()
	if p.ended {
		cc.mu.Unlock()
		return nil
	}
	str := p.str
	sawStr := p.sawStr
	cc.pushEndedLocked(p, why)
	cc.mu.Unlock()
	var err error
	if str != nil {
		str.CancelRead(transport.ErrorCode(ErrCodeRequestCanceled))
	} else if !sawStr {
		err = cc.sendControlFrame(FrameCancelPush, capsule.AppendVarint(nil, p.ID))
	}
	if merr := cc.sendMaxPushID(); err == nil {
		err = merr
	}
	return err
}

// Cancel refuses the push: the server is told to stop (CANCEL_PUSH, or
// STOP_SENDING on a push stream that already arrived) and the push's slot
// is freed. A response already taken is aborted.
func (p *Push) Cancel() error {
	return p.cc.cancelPush(p, errPushCanceled)
}

// Response waits for the pushed response and returns it; its body must be
// read to the end or closed. A push's response can be taken once, by
// Response or by a RoundTrip of the promised request.
func (p *Push) Response(ctx context.Context) (*http.Response, error) {
	cc := p.cc
	cc.mu.Lock()
	if p.claimed {
		cc.mu.Unlock()
		return nil, fmt.Errorf("h3: push %d: response already taken", p.ID)
	}
	p.claimed = true
	cc.mu.Unlock()
	return p.response(ctx, p.Request)
}

func (p *Push) response(ctx context.Context, req *http.Request) (*http.Response, error) {
	cc := p.cc
	select {
	case <-p.arrived:
	case <-ctx.Done():
		return nil, fmt.Errorf("h3: waiting for push %d: %w", p.ID, ctx.Err())
	case <-cc.tc.Context().Done():
		return nil, fmt.Errorf("h3: waiting for push %d: %w", p.ID, convertTransportError(context.Cause(cc.tc.Context())))
	}
	cc.mu.Lock()
	str, fr, endErr := p.str, p.fr, p.endErr
	cc.mu.Unlock()
	if str == nil {
		return nil, fmt.Errorf("h3: push %d: %w", p.ID, endErr)
	}
	id := uint64(str.StreamID())
	body := newBodyReader(cc.Conn, str, fr, ctx, -1)
	body.closeCode = ErrCodeRequestCanceled
	body.pushStream = true
	body.onEnd = func() {
		cc.mu.Lock()
		cc.pushEndedLocked(p, errors.New("h3: push response read"))
		cc.mu.Unlock()
		cc.sendMaxPushID()
	}
	status, m, err := cc.readHead(fr, ctx, id, nil)
	if err != nil {
		err = cc.streamFailed(str, id, err)
		cc.mu.Lock()
		cc.pushEndedLocked(p, err)
		cc.mu.Unlock()
		cc.sendMaxPushID()
		return nil, fmt.Errorf("h3: push %d: %w", p.ID, err)
	}
	state := cc.tc.State()
	return buildResponse(status, m, req, body, &state.TLS), nil
}

// pushedResponse answers req from a matching push, if there is one.
func (cc *ClientConn) pushedResponse(req *http.Request) (*http.Response, bool) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead ||
		req.Body != nil && req.Body != http.NoBody || req.URL == nil {
		return nil, false
	}
	authority := req.Host
	if authority == "" {
		authority = req.URL.Host
	}
	path := req.URL.RequestURI()
	cc.mu.Lock()
	if len(cc.push.byID) == 0 {
		cc.mu.Unlock()
		return nil, false
	}
	var match *Push
	for _, p := range cc.push.byID {
		if p.usable && !p.claimed && !p.ended && p.Request.Method == req.Method &&
			strings.EqualFold(p.Request.Host, authority) && p.Request.URL.RequestURI() == path {
			if match == nil || p.ID < match.ID {
				match = p
			}
		}
	}
	if match != nil {
		match.claimed = true
	}
	cc.mu.Unlock()
	if match == nil {
		return nil, false
	}
	resp, err := match.response(req.Context(), req)
	if err != nil {
		cc.logf("h3: pushed response for %s unusable, requesting it: %v", req.URL, err)
		return nil, false
	}
	return resp, true
}
