package h3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/qpack"
	"github.com/tquic/tquic/pkg/transport"
)

// Client is an HTTP/3 http.RoundTripper. It keeps one connection per
// authority, opened with Dial, and retries requests the server did not
// process (GOAWAY, H3_REQUEST_REJECTED) on a new connection.
type Client struct {
	// Dial opens QUIC connections (the kernel socket API, the bridge
	// engine, or in tests quic-go). Required.
	Dial transport.Dialer
	// TLSClientConfig is cloned for each connection; "h3" is offered via
	// ALPN and ServerName defaults to the request's host.
	TLSClientConfig *tls.Config
	// Config holds the settings the client announces.
	Config Config
	// MaxRetries bounds retries of unprocessed requests (default 3).
	MaxRetries int
	// MaxPushes, when positive, enables server push (RFC 9114 section
	// 4.6): the client sends MAX_PUSH_ID so that the server may have up
	// to MaxPushes pushes outstanding, raising the limit as pushes end.
	// A pushed response is kept until taken: a later GET or HEAD RoundTrip
	// for the promised URL gets it instead of sending a request, or
	// PushHandler takes it. Zero leaves push disabled, as most clients do.
	MaxPushes int
	// PushHandler, if set with MaxPushes, is called in its own goroutine
	// for every promise accepted: it may take the response (Push.Response)
	// or refuse the push (Push.Cancel); a push it leaves alone stays
	// available to RoundTrip.
	PushHandler func(*Push)

	mu      sync.Mutex
	conns   map[string]*ClientConn
	dialing map[string]*dialCall
	closed  bool
}

type dialCall struct {
	done chan struct{}
	cc   *ClientConn
	err  error
}

// errNotProcessed marks a request the server certainly did not process.
type errNotProcessed struct{ err error }

func (e *errNotProcessed) Error() string { return "h3: request not processed: " + e.err.Error() }
func (e *errNotProcessed) Unwrap() error { return e.err }

// RoundTrip implements http.RoundTripper.
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "https" {
		return nil, errors.New("h3: only https URLs are supported")
	}
	if c.Dial == nil {
		return nil, errors.New("h3: Client.Dial is not set")
	}
	addr := authorityAddr(req.URL.Host)
	retries := c.MaxRetries
	if retries == 0 {
		retries = 3
	}
	for attempt := 0; ; attempt++ {
		cc, err := c.conn(req.Context(), addr, req.URL.Hostname())
		if err != nil {
			return nil, err
		}
		resp, err := cc.RoundTrip(req)
		var np *errNotProcessed
		if err == nil || !errors.As(err, &np) || attempt >= retries || req.Context().Err() != nil {
			return resp, err
		}
		c.forget(addr, cc)
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, fmt.Errorf("%w (cannot retry: Request.GetBody is nil)", err)
			}
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, fmt.Errorf("h3: rewind request body: %w", gerr)
			}
			r2 := req.Clone(req.Context())
			r2.Body = body
			req = r2
		}
	}
}

func authorityAddr(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), "443")
}

// conn returns a usable connection to addr, dialing one if needed.
func (c *Client) conn(ctx context.Context, addr, serverName string) (*ClientConn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("h3: client closed")
	}
	if cc := c.conns[addr]; cc != nil && cc.usable() {
		c.mu.Unlock()
		return cc, nil
	}
	call := c.dialing[addr]
	if call == nil {
		call = &dialCall{done: make(chan struct{})}
		if c.dialing == nil {
			c.dialing = map[string]*dialCall{}
			c.conns = map[string]*ClientConn{}
		}
		c.dialing[addr] = call
		go c.dial(call, addr, serverName)
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.cc, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Client) dial(call *dialCall, addr, serverName string) {
	var tlsConf *tls.Config
	if c.TLSClientConfig != nil {
		tlsConf = c.TLSClientConfig.Clone()
	} else {
		tlsConf = &tls.Config{}
	}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = serverName
	}
	tlsConf.NextProtos = []string{NextProtoH3}
	tc, err := c.Dial(context.Background(), addr, tlsConf)
	if err == nil {
		call.cc, err = newClientConn(tc, &c.Config, c.MaxPushes, c.PushHandler)
	}
	if err != nil {
		call.err = fmt.Errorf("h3: connect to %s: %w", addr, err)
	}
	c.mu.Lock()
	delete(c.dialing, addr)
	if call.cc != nil {
		c.conns[addr] = call.cc
	}
	c.mu.Unlock()
	close(call.done)
}

func (c *Client) forget(addr string, cc *ClientConn) {
	c.mu.Lock()
	if c.conns[addr] == cc {
		delete(c.conns, addr)
	}
	c.mu.Unlock()
}

// Close closes every connection.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	for _, cc := range conns {
		cc.CloseWithError(ErrCodeNoError, "")
	}
	return nil
}

// ClientConn is the client side of one HTTP/3 connection.
type ClientConn struct {
	*Conn
	mu       sync.Mutex
	goaway   bool
	goawayID uint64
	active   map[uint64]func(error) // request stream -> abort
	opening  int                    // request streams being opened
	push     clientPushState

	pushSendMu sync.Mutex // orders MAX_PUSH_ID frames
}

// idleAfterGoAwayLocked reports whether a connection that received GOAWAY
// has nothing left in flight and can be closed.
func (cc *ClientConn) idleAfterGoAwayLocked() bool {
	return cc.goaway && len(cc.active) == 0 && cc.opening == 0
}

// NewClientConn starts HTTP/3 on an established client connection.
func NewClientConn(tc transport.Connection, cfg *Config) (*ClientConn, error) {
	return newClientConn(tc, cfg, 0, nil)
}

func newClientConn(tc transport.Connection, cfg *Config, maxPushes int, pushHandler func(*Push)) (*ClientConn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	cc := &ClientConn{active: map[uint64]func(error){}}
	cc.Conn = newConn(tc, false, cfg)
	cc.onControlFrame = cc.controlFrame
	cc.onUniStream = func(typ uint64, str transport.ReceiveStream) bool {
		return typ == StreamTypePush && cc.handlePushStream(str)
	}
	err := cc.start()
	if err == nil && maxPushes > 0 {
		err = cc.enablePush(maxPushes, pushHandler)
	}
	if err != nil {
		tc.CloseWithError(transport.ErrorCode(ErrCodeInternalError), "")
		return nil, err
	}
	return cc, nil
}

func (cc *ClientConn) usable() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return !cc.goaway && cc.tc.Context().Err() == nil
}

func (cc *ClientConn) controlFrame(typ uint64, p []byte) error {
	switch typ {
	case FrameGoAway:
		id, err := parseVarintPayload(typ, p)
		if err != nil {
			return err
		}
		if id%4 != 0 {
			return errConn(ErrCodeIDError, "GOAWAY with stream ID %d, not a request stream", id)
		}
		cc.mu.Lock()
		if cc.goaway && id > cc.goawayID {
			cc.mu.Unlock()
			return errConn(ErrCodeIDError, "GOAWAY stream ID increased from %d to %d", cc.goawayID, id)
		}
		cc.goaway, cc.goawayID = true, id
		var aborts []func(error)
		for sid, abort := range cc.active {
			if sid >= id {
				aborts = append(aborts, abort)
			}
		}
		idle := len(cc.active) == len(aborts) && cc.opening == 0
		cc.mu.Unlock()
		for _, abort := range aborts {
			abort(&errNotProcessed{errors.New("beyond the server's GOAWAY")})
		}
		if idle {
			cc.CloseWithError(ErrCodeNoError, "")
		}
		return nil
	case FrameCancelPush:
		id, err := parseVarintPayload(typ, p)
		if err != nil {
			return err
		}
		return cc.handleServerCancelPush(id)
	}
	return errConn(ErrCodeFrameUnexpected, "%s on the server's control stream", frameName(typ))
}

// track registers an in-flight request stream; the returned function
// unregisters it.
func (cc *ClientConn) track(id uint64, abort func(error)) (func(), error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.opening--
	if cc.goaway && id >= cc.goawayID {
		if cc.idleAfterGoAwayLocked() {
			go cc.CloseWithError(ErrCodeNoError, "")
		}
		return nil, &errNotProcessed{errors.New("connection is going away")}
	}
	cc.active[id] = abort
	var once sync.Once
	return func() {
		once.Do(func() {
			cc.mu.Lock()
			delete(cc.active, id)
			closeNow := cc.idleAfterGoAwayLocked()
			cc.mu.Unlock()
			if closeNow {
				cc.CloseWithError(ErrCodeNoError, "")
			}
		})
	}, nil
}

// RequestStream is a request stream opened explicitly, for extended
// CONNECT: send the request header, read the response header, then use
// the embedded Stream for capsules and datagrams.
type RequestStream struct {
	*Stream
	cc   *ClientConn
	fr   *frameReader
	req  *http.Request
	done func()

	abortOnce sync.Once
	aborted   chan struct{}
	abortErr  error
}

// abort cancels the stream in both directions, remembering why.
func (rs *RequestStream) abort(err error) {
	rs.abortOnce.Do(func() {
		// The cause is published before the stream is reset, so that a
		// reader failing on the reset reports the cause (a request that
		// GOAWAY left unprocessed must be seen as such, to be retried).
		rs.abortErr = err
		close(rs.aborted)
		rs.str.CancelWrite(transport.ErrorCode(ErrCodeRequestCanceled))
		rs.str.CancelRead(transport.ErrorCode(ErrCodeRequestCanceled))
	})
}

// abortCause returns the reason the stream was aborted, if it was.
func (rs *RequestStream) abortCause() error {
	select {
	case <-rs.aborted:
		return rs.abortErr
	default:
		return nil
	}
}

// OpenRequestStream opens a request stream.
func (cc *ClientConn) OpenRequestStream(ctx context.Context) (*RequestStream, error) {
	cc.mu.Lock()
	if cc.goaway {
		cc.mu.Unlock()
		return nil, &errNotProcessed{errors.New("connection is going away")}
	}
	cc.opening++
	cc.mu.Unlock()
	str, err := cc.tc.OpenStream(ctx)
	if err != nil {
		cc.mu.Lock()
		cc.opening--
		closeNow := cc.idleAfterGoAwayLocked()
		cc.mu.Unlock()
		if closeNow {
			cc.CloseWithError(ErrCodeNoError, "")
		}
		if cc.tc.Context().Err() != nil || !cc.usable() {
			return nil, &errNotProcessed{convertTransportError(err)}
		}
		return nil, fmt.Errorf("h3: open request stream: %w", convertTransportError(err))
	}
	id := uint64(str.StreamID())
	rs := &RequestStream{cc: cc, fr: newFrameReader(str), aborted: make(chan struct{})}
	body := newBodyReader(cc.Conn, str, rs.fr, ctx, -1)
	body.closeCode = ErrCodeRequestCanceled
	body.onPushPromise = func(payload []byte) error {
		return cc.handlePushPromise(body.ctx, id, rs.req, payload)
	}
	rs.Stream = newStream(cc.Conn, str, body, &dataWriter{str: str, ctx: cc.tc.Context()})
	rs.done, err = cc.track(id, rs.abort)
	if err != nil {
		rs.abort(err)
		return nil, err
	}
	body.onEnd = rs.done
	return rs, nil
}

// SendRequestHeader sends the request's HEADERS frame. An extended CONNECT
// request (Method CONNECT with Proto set to the protocol, e.g.
// "webtransport") waits for the server's SETTINGS to allow it.
func (rs *RequestStream) SendRequestHeader(req *http.Request) error {
	if isExtendedConnect(req) {
		s, err := rs.cc.PeerSettings(req.Context())
		if err != nil {
			return err
		}
		if s[SettingEnableConnectProtocol] != 1 {
			return errors.New("h3: server does not support extended CONNECT")
		}
	}
	fields, err := requestFields(req)
	if err != nil {
		return err
	}
	frame, err := rs.cc.headersFrame(rs.id, fields, FrameHeaders, nil)
	if err != nil {
		return err
	}
	rs.req = req
	if _, err := rs.str.Write(frame); err != nil {
		return convertTransportError(err)
	}
	return nil
}

// ReadResponse reads the response header (skipping informational
// responses); the body reads from the stream.
func (rs *RequestStream) ReadResponse() (*http.Response, error) {
	resp, err := rs.readResponse()
	if err != nil {
		rs.done()
		return nil, rs.cc.streamFailed(rs.str, rs.id, err)
	}
	return resp, nil
}

func (rs *RequestStream) readResponse() (*http.Response, error) {
	status, m, err := rs.cc.readHead(rs.fr, rs.body.ctx, rs.id, func(payload []byte) error {
		return rs.cc.handlePushPromise(rs.body.ctx, rs.id, rs.req, payload)
	})
	if err != nil {
		return nil, err
	}
	return rs.response(status, m), nil
}

// readHead reads a response's header section from a request stream or,
// with onPushPromise nil, a push stream, skipping informational
// responses.
func (cc *ClientConn) readHead(fr *frameReader, ctx context.Context, id uint64, onPushPromise func([]byte) error) (int, *message, error) {
	for {
		typ, length, err := fr.header()
		if err != nil {
			if err == io.EOF {
				return 0, nil, errStream(ErrCodeMessageError, "stream ended before the response")
			}
			return 0, nil, err
		}
		switch {
		case typ == FrameHeaders:
			p, err := fr.payload(typ, length, cc.cfg.maxFieldSection())
			if err != nil {
				return 0, nil, err
			}
			fields, err := cc.decodeHeaders(ctx, id, p)
			if err != nil {
				return 0, nil, err
			}
			m, err := parseFields(fields, false)
			if err != nil {
				return 0, nil, err
			}
			status, err := strconv.Atoi(m.status)
			if err != nil || status < 100 || status > 999 {
				return 0, nil, errStream(ErrCodeMessageError, "invalid :status %q", m.status)
			}
			if status < 200 {
				continue // informational response
			}
			return status, m, nil
		case typ == FramePushPromise && onPushPromise != nil:
			p, err := fr.payload(typ, length, cc.cfg.maxFieldSection()+8)
			if err != nil {
				return 0, nil, err
			}
			if err := onPushPromise(p); err != nil {
				return 0, nil, err
			}
		case typ <= FrameMaxPushID && typ != 0x0a && typ != 0x0b && typ != 0x0c,
			typ == FramePriorityUpdate, typ == FramePriorityUpdatePush:
			return 0, nil, errConn(ErrCodeFrameUnexpected, "%s before the response HEADERS", frameName(typ))
		default:
			if err := fr.skip(length); err != nil {
				return 0, nil, err
			}
		}
	}
}

func (rs *RequestStream) response(status int, m *message) *http.Response {
	state := rs.cc.tc.State()
	return buildResponse(status, m, rs.req, rs.body, &state.TLS)
}

// buildResponse makes the http.Response for a response header section
// whose body reads from body.
func buildResponse(status int, m *message, req *http.Request, body *bodyReader, tlsState *tls.ConnectionState) *http.Response {
	resp := &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/3.0",
		ProtoMajor:    3,
		Header:        m.header,
		ContentLength: m.length,
		Request:       req,
		TLS:           tlsState,
		Body:          body,
	}
	if names := m.header.Values("Trailer"); len(names) > 0 {
		resp.Trailer = declaredTrailers(names)
	}
	b := body
	b.length = m.length
	if req != nil && req.Method == http.MethodHead || status == http.StatusNoContent || status == http.StatusNotModified {
		b.length = -1
	}
	b.onTrailers = func(f []qpack.HeaderField) error {
		t, err := trailerFields(f)
		if err != nil {
			return err
		}
		if resp.Trailer == nil {
			resp.Trailer = http.Header{}
		}
		for k, v := range t {
			resp.Trailer[k] = v
		}
		return nil
	}
	return resp
}

func isExtendedConnect(req *http.Request) bool {
	return req.Method == http.MethodConnect && req.Proto != "" && !strings.HasPrefix(req.Proto, "HTTP/")
}

// requestFields builds a request's header section.
func requestFields(req *http.Request) ([]qpack.HeaderField, error) {
	host := req.Host
	if host == "" && req.URL != nil {
		host = req.URL.Host
	}
	if host == "" {
		return nil, errors.New("h3: request without host")
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	f := []qpack.HeaderField{{Name: ":method", Value: method}}
	switch {
	case isExtendedConnect(req):
		path := req.URL.RequestURI()
		f = append(f, qpack.HeaderField{Name: ":protocol", Value: req.Proto},
			qpack.HeaderField{Name: ":scheme", Value: "https"},
			qpack.HeaderField{Name: ":path", Value: path},
			qpack.HeaderField{Name: ":authority", Value: host})
	case method == http.MethodConnect:
		f = append(f, qpack.HeaderField{Name: ":authority", Value: host})
	default:
		f = append(f, qpack.HeaderField{Name: ":scheme", Value: "https"},
			qpack.HeaderField{Name: ":authority", Value: host},
			qpack.HeaderField{Name: ":path", Value: req.URL.RequestURI()})
	}
	f = appendHeaderFields(f, req.Header, map[string]bool{"host": true, "content-length": true, "trailer": true})
	if len(req.Trailer) > 0 {
		names := make([]string, 0, len(req.Trailer))
		for k := range req.Trailer {
			names = append(names, strings.ToLower(k))
		}
		f = append(f, qpack.HeaderField{Name: "trailer", Value: strings.Join(names, ", ")})
	}
	if req.ContentLength > 0 {
		f = append(f, qpack.HeaderField{Name: "content-length", Value: strconv.FormatInt(req.ContentLength, 10)})
	}
	return f, nil
}

// RoundTrip sends req on this connection.
func (cc *ClientConn) RoundTrip(req *http.Request) (*http.Response, error) {
	if resp, ok := cc.pushedResponse(req); ok {
		return resp, nil
	}
	if !cc.usable() {
		return nil, &errNotProcessed{errors.New("connection is going away")}
	}
	ctx := req.Context()
	rs, err := cc.OpenRequestStream(ctx)
	if err != nil {
		return nil, err
	}
	// Cancellation: the request's context (and GOAWAY, through the
	// connection's tracking) abort the stream.
	// context.AfterFunc costs no goroutine unless the context ends.
	stop := context.AfterFunc(ctx, func() { rs.abort(ctx.Err()) })
	var finishOnce sync.Once
	rs.body.onEnd = func() {
		finishOnce.Do(func() { stop(); rs.done() })
	}
	result := func(err error) error {
		if cause := rs.abortCause(); cause != nil {
			return cause
		}
		var h3err *Error
		if errors.As(err, &h3err) && h3err.Code == ErrCodeRequestRejected && h3err.Remote {
			return &errNotProcessed{err}
		}
		return err
	}

	if err := rs.SendRequestHeader(req); err != nil {
		err = result(err)
		rs.abort(err)
		rs.body.onEnd()
		return nil, err
	}
	if (req.Body == nil || req.Body == http.NoBody) && len(req.Trailer) == 0 {
		cc.sendBody(rs, req) // nothing to stream: just the FIN
	} else {
		go cc.sendBody(rs, req)
	}
	resp, err := rs.ReadResponse()
	if err != nil {
		rs.body.onEnd()
		return nil, result(err)
	}
	resp.Body = &responseBody{b: rs.body, result: result}
	return resp, nil
}

// sendBody streams the request body and trailers, then ends the stream.
func (cc *ClientConn) sendBody(rs *RequestStream, req *http.Request) {
	if req.Body != nil && req.Body != http.NoBody {
		buf := make([]byte, maxDataFrame)
		_, err := io.CopyBuffer(rs.w, req.Body, buf)
		req.Body.Close()
		if err != nil {
			rs.str.CancelWrite(transport.ErrorCode(ErrCodeRequestCanceled))
			return
		}
	}
	if len(req.Trailer) > 0 {
		f := appendHeaderFields(nil, req.Trailer, nil)
		frame, err := cc.headersFrame(rs.id, f, FrameHeaders, nil)
		if err != nil {
			rs.str.CancelWrite(transport.ErrorCode(ErrCodeInternalError))
			return
		}
		if _, err := rs.str.Write(frame); err != nil {
			return
		}
	}
	if req.Method == http.MethodConnect && (req.Body == nil || req.Body == http.NoBody) {
		return // a tunnel stays open until the caller closes it
	}
	rs.str.Close()
}

// responseBody reports errors of aborted requests as their cause.
type responseBody struct {
	b      *bodyReader
	result func(error) error
}

func (r *responseBody) Read(p []byte) (int, error) {
	n, err := r.b.Read(p)
	if err != nil && err != io.EOF {
		err = r.result(err)
	}
	return n, err
}

func (r *responseBody) Close() error { return r.b.Close() }

// StreamID returns the request stream's ID (for PRIORITY_UPDATE).
func (r *responseBody) StreamID() transport.StreamID { return r.b.str.StreamID() }

// UpdatePriority sends a PRIORITY_UPDATE frame (RFC 9218) for the request
// on streamID (see the response body's StreamID method).
func (cc *ClientConn) UpdatePriority(streamID transport.StreamID, p Priority) error {
	payload := capsule.AppendVarint(nil, uint64(streamID))
	payload = append(payload, p.String()...)
	return cc.sendControlFrame(FramePriorityUpdate, payload)
}

// ClientConnFor returns the connection the client uses for addr
// (host:port), dialing it if needed.
func (c *Client) ClientConnFor(ctx context.Context, addr string) (*ClientConn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("h3: %w", err)
	}
	return c.conn(ctx, addr, host)
}
