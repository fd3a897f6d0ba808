package webtransport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"sync"

	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/transport"
)

// Dialer opens WebTransport sessions. Sessions to the same host:port share
// one connection (several sessions per connection need session flow
// control, which the Dialer always offers).
type Dialer struct {
	// DialQUIC opens QUIC connections; the transport must support datagrams.
	// Required.
	DialQUIC transport.Dialer
	// TLSClientConfig is cloned per connection; "h3" is offered by ALPN.
	TLSClientConfig *tls.Config
	// H3Config is the base HTTP/3 configuration; WebTransport's settings
	// are added to a copy.
	H3Config h3.Config
	// MaxSessions is announced in SETTINGS_WT_MAX_SESSIONS (default
	// DefaultMaxSessions).
	MaxSessions uint64
	// FlowControl sets the limits granted to the server in each session.
	FlowControl FlowControl
	// MaxBufferedStreams bounds streams kept before their session is
	// established (default DefaultMaxBufferedStreams).
	MaxBufferedStreams int

	mu    sync.Mutex
	conns map[string]*clientConn
}

type clientConn struct {
	cc    *h3.ClientConn
	cs    *connState
	ready chan struct{}
	err   error
}

// Dial opens a session to rawURL (https://host[:port]/path) sending the
// extra request header fields in header. The response is returned also
// when the server refused the session.
func (d *Dialer) Dial(ctx context.Context, rawURL string, header http.Header) (*http.Response, *Session, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("webtransport: parse URL: %w", err)
	}
	if u.Scheme != "https" {
		return nil, nil, fmt.Errorf("webtransport: URL scheme %q is not https", u.Scheme)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	c, err := d.connFor(ctx, addr, u.Hostname())
	if err != nil {
		return nil, nil, err
	}
	peer, err := c.cc.PeerSettings(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("webtransport: waiting for the server's SETTINGS: %w", err)
	}
	if peer[h3.SettingEnableConnectProtocol] != 1 {
		return nil, nil, fmt.Errorf("%w: no extended CONNECT", ErrNotSupported)
	}
	if peer[h3.SettingH3Datagram] != 1 {
		return nil, nil, fmt.Errorf("%w: no HTTP datagrams", ErrNotSupported)
	}
	hdr := http.Header{}
	if header != nil {
		hdr = header.Clone()
	}
	var proto string
	switch {
	case peer[SettingWTEnabled] != 0:
		proto = ProtocolH3
	case peer[SettingWTMaxSessions] != 0 || peer[SettingMaxSessionsDraft07] != 0:
		proto = ProtocolLegacy
	case peer[SettingEnableWebTransportDraft02] == 1:
		proto = ProtocolLegacy
		hdr.Set(headerDraft02Request, "1")
	default:
		return nil, nil, fmt.Errorf("%w: server did not enable WebTransport", ErrNotSupported)
	}

	rs, err := c.cc.OpenRequestStream(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("webtransport: open CONNECT stream: %w", err)
	}
	id := uint64(rs.StreamID())
	req := (&http.Request{
		Method: http.MethodConnect,
		Proto:  proto,
		URL:    u,
		Host:   u.Host,
		Header: hdr,
	}).WithContext(ctx)
	if err := rs.SendRequestHeader(req); err != nil {
		rs.CancelWrite(h3.ErrCodeRequestCanceled)
		rs.CancelRead(h3.ErrCodeRequestCanceled)
		c.cs.sessionRefused(id)
		return nil, nil, fmt.Errorf("webtransport: send CONNECT: %w", err)
	}
	resp, err := rs.ReadResponse()
	if err != nil {
		rs.CancelWrite(h3.ErrCodeRequestCanceled)
		rs.CancelRead(h3.ErrCodeRequestCanceled)
		c.cs.sessionRefused(id)
		return nil, nil, fmt.Errorf("webtransport: read response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		rs.CancelRead(h3.ErrCodeNoError)
		rs.Close()
		c.cs.sessionRefused(id)
		return resp, nil, fmt.Errorf("webtransport: server answered %d", resp.StatusCode)
	}
	sess := newSession(c.cs, rs.Stream, proto, negotiate(d.FlowControl.settings(), peer))
	sess.resp = resp
	c.cs.addSession(sess)
	return resp, sess, nil
}

// connFor returns a usable connection to addr, dialing one if needed.
func (d *Dialer) connFor(ctx context.Context, addr, host string) (*clientConn, error) {
	if d.DialQUIC == nil {
		return nil, errors.New("webtransport: Dialer.DialQUIC is not set")
	}
	d.mu.Lock()
	if d.conns == nil {
		d.conns = map[string]*clientConn{}
	}
	c, ok := d.conns[addr]
	if ok {
		select {
		case <-c.ready:
			if c.err != nil || c.cc.Context().Err() != nil {
				ok = false
			}
		default:
		}
	}
	if !ok {
		c = &clientConn{ready: make(chan struct{})}
		d.conns[addr] = c
		go d.dial(c, addr, host)
	}
	d.mu.Unlock()
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if c.err != nil {
		d.mu.Lock()
		if d.conns[addr] == c {
			delete(d.conns, addr)
		}
		d.mu.Unlock()
		return nil, c.err
	}
	return c, nil
}

func (d *Dialer) dial(c *clientConn, addr, host string) {
	defer close(c.ready)
	var tlsConf *tls.Config
	if d.TLSClientConfig != nil {
		tlsConf = d.TLSClientConfig.Clone()
	} else {
		tlsConf = &tls.Config{}
	}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = host
	}
	tlsConf.NextProtos = []string{h3.NextProtoH3}
	tc, err := d.DialQUIC(context.Background(), addr, tlsConf)
	if err != nil {
		c.err = fmt.Errorf("webtransport: dial %s: %w", addr, err)
		return
	}
	if !tc.State().Datagrams {
		tc.CloseWithError(transport.ErrorCode(h3.ErrCodeSettingsError), "no datagrams")
		c.err = fmt.Errorf("%w: QUIC datagrams not negotiated", ErrNotSupported)
		return
	}
	dm := newDemuxConn(tc)
	cfg := d.H3Config
	cfg.EnableDatagrams = true
	cfg.AdditionalSettings = maps.Clone(cfg.AdditionalSettings)
	if cfg.AdditionalSettings == nil {
		cfg.AdditionalSettings = map[uint64]uint64{}
	}
	ms := d.MaxSessions
	if ms == 0 {
		ms = DefaultMaxSessions
	}
	cfg.AdditionalSettings[SettingWTEnabled] = 1
	cfg.AdditionalSettings[SettingWTMaxSessions] = ms
	for id, v := range d.FlowControl.settings() {
		cfg.AdditionalSettings[id] = v
	}
	cc, err := h3.NewClientConn(dm, &cfg)
	if err != nil {
		c.err = fmt.Errorf("webtransport: start HTTP/3: %w", err)
		return
	}
	c.cc = cc
	c.cs = newConnState(cc.Conn, false, d.MaxBufferedStreams)
	dm.setConnState(c.cs)
}

// Close closes every connection the Dialer opened.
func (d *Dialer) Close() error {
	d.mu.Lock()
	conns := d.conns
	d.conns = nil
	d.mu.Unlock()
	for _, c := range conns {
		<-c.ready
		if c.cc != nil {
			c.cc.CloseWithError(h3.ErrCodeNoError, "")
		}
	}
	return nil
}
