package webtransport

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/transport"
)

// DefaultMaxSessions is the default number of sessions a client may have
// on one connection at once.
const DefaultMaxSessions = 16

// Server accepts WebTransport sessions on an h3.Server.
type Server struct {
	// MaxSessions bounds concurrent sessions per connection (announced in
	// SETTINGS_WT_MAX_SESSIONS); 0 means DefaultMaxSessions. Further
	// requests are refused with 429.
	MaxSessions uint64
	// FlowControl sets the limits granted to clients in each session.
	FlowControl FlowControl
	// MaxBufferedStreams bounds the streams per connection kept while
	// their session is not yet established (default
	// DefaultMaxBufferedStreams); beyond it they are reset with
	// WT_BUFFERED_STREAM_REJECTED.
	MaxBufferedStreams int
	// CheckOrigin decides whether to accept a request; nil accepts
	// requests without an Origin header or whose Origin's host is the
	// request's host.
	CheckOrigin func(r *http.Request) bool

	mu    sync.Mutex
	conns map[*h3.Conn]*connState
}

// ConfigureH3 prepares an h3.Server for WebTransport: it enables extended
// CONNECT and HTTP datagrams, announces the WebTransport settings of every
// supported draft, and routes WebTransport streams to the sessions. The
// transport under the server must have QUIC datagrams enabled (and, for
// current webtransport-go clients, RESET_STREAM_AT).
func (s *Server) ConfigureH3(srv *h3.Server) {
	srv.Config.EnableConnectProtocol = true
	srv.Config.EnableDatagrams = true
	if srv.Config.AdditionalSettings == nil {
		srv.Config.AdditionalSettings = map[uint64]uint64{}
	}
	set := srv.Config.AdditionalSettings
	set[SettingEnableWebTransportDraft02] = 1
	set[SettingWTEnabled] = 1
	set[SettingWTMaxSessions] = s.maxSessions()
	set[SettingMaxSessionsDraft07] = s.maxSessions()
	for id, v := range s.FlowControl.settings() {
		set[id] = v
	}
	prevUni, prevBidi := srv.UniStreamHandler, srv.BidiStreamHandler
	srv.UniStreamHandler = func(c *h3.Conn, typ uint64, str transport.ReceiveStream) bool {
		if typ == StreamTypeUni {
			s.conn(c).handleUni(str)
			return true
		}
		return prevUni != nil && prevUni(c, typ, str)
	}
	srv.BidiStreamHandler = func(c *h3.Conn, typ, value uint64, str transport.Stream) bool {
		if typ == FrameTypeBidi {
			s.conn(c).handleBidi(value, str)
			return true
		}
		return prevBidi != nil && prevBidi(c, typ, value, str)
	}
}

func (s *Server) maxSessions() uint64 {
	if s.MaxSessions == 0 {
		return DefaultMaxSessions
	}
	return s.MaxSessions
}

// conn returns the WebTransport state of an HTTP/3 connection.
func (s *Server) conn(c *h3.Conn) *connState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[*h3.Conn]*connState{}
	}
	cs, ok := s.conns[c]
	if !ok {
		cs = newConnState(c, true, s.MaxBufferedStreams)
		s.conns[c] = cs
		go func() {
			<-c.Context().Done()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
	return cs
}

// UpgradeError is returned by Upgrade when it refused the request; the
// response with Status was sent.
type UpgradeError struct {
	Status int
	Reason string
}

func (e *UpgradeError) Error() string {
	return fmt.Sprintf("webtransport: request refused with %d: %s", e.Status, e.Reason)
}

// Upgrade accepts a WebTransport session from an extended CONNECT request
// served by an h3.Server configured with ConfigureH3. On success the 200
// response was sent and the request stream belongs to the session. When
// the request is not acceptable Upgrade answers it (4xx) and returns an
// *UpgradeError; the handler must not write to w afterwards.
func (s *Server) Upgrade(w http.ResponseWriter, r *http.Request) (*Session, error) {
	refuse := func(status int, format string, args ...any) (*Session, error) {
		w.WriteHeader(status)
		return nil, &UpgradeError{Status: status, Reason: fmt.Sprintf(format, args...)}
	}
	if r.Method != http.MethodConnect || !isProtocol(r.Proto) {
		return refuse(http.StatusBadRequest, "not an extended CONNECT for WebTransport (method %s, protocol %q)", r.Method, r.Proto)
	}
	conn, ok := h3.ConnFromContext(r.Context())
	if !ok {
		return nil, errors.New("webtransport: request did not come from an h3.Server")
	}
	taker, ok := w.(h3.StreamTaker)
	if !ok {
		return nil, errors.New("webtransport: response writer cannot hand over the stream")
	}
	cs := s.conn(conn)
	check := s.CheckOrigin
	if check == nil {
		check = sameOrigin
	}
	if !check(r) {
		return refuse(http.StatusForbidden, "origin %q not allowed", r.Header.Get("Origin"))
	}
	peer, err := conn.PeerSettings(r.Context())
	if err != nil {
		return nil, fmt.Errorf("webtransport: waiting for the client's SETTINGS: %w", err)
	}
	if peer[h3.SettingH3Datagram] != 1 && peer[settingH3DatagramDraft04] != 1 {
		return refuse(http.StatusBadRequest, "client did not enable HTTP datagrams")
	}
	fc := negotiate(s.FlowControl.settings(), peer)
	// Counted as open before the 200 leaves: the client may dial again,
	// or open streams for it, the moment it sees the response.
	id := uint64(taker.RequestStreamID())
	// Several sessions on one connection need session flow control.
	if active, ok := cs.reserveSession(id, s.maxSessions(), fc.enabled); !ok {
		return refuse(http.StatusTooManyRequests, "%d sessions already open on this connection", active)
	}
	if r.Header.Get(headerDraft02Request) == "1" {
		w.Header().Set(headerDraft02Response, draft02Value)
	}
	w.WriteHeader(http.StatusOK)
	str, err := taker.TakeStream()
	if err != nil {
		cs.sessionRefused(id)
		return nil, fmt.Errorf("webtransport: take CONNECT stream: %w", err)
	}
	sess := newSession(cs, str, r.Proto, fc)
	cs.addSession(sess)
	return sess, nil
}

// sameOrigin accepts requests without Origin and those whose Origin host
// matches the request's.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	return u.Host == r.Host
}
