// Package quicgoadapter implements pkg/transport over quic-go. It exists so
// the protocol layers (HTTP/3, WebTransport, MASQUE) can be tested against
// quic-go's own implementations on the host; production code uses the
// kernel (sockapi) or the user-space engine (bridge) instead.
package quicgoadapter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tquic/tquic/pkg/transport"
)

// Conn adapts a *quic.Conn to transport.Connection.
type Conn struct {
	qc     *quic.Conn
	ctx    context.Context
	cancel context.CancelCauseFunc
}

var _ transport.Connection = (*Conn)(nil)

// Wrap adapts an established quic-go connection.
func Wrap(qc *quic.Conn) *Conn {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Conn{qc: qc, ctx: ctx, cancel: cancel}
	go func() {
		<-qc.Context().Done()
		cancel(convertError(context.Cause(qc.Context())))
	}()
	return c
}

// QUICConn returns the underlying quic-go connection.
func (c *Conn) QUICConn() *quic.Conn { return c.qc }

// OpenStream implements transport.Connection.
func (c *Conn) OpenStream(ctx context.Context) (transport.Stream, error) {
	s, err := c.qc.OpenStreamSync(ctx)
	if err != nil {
		return nil, convertError(err)
	}
	return &stream{s: s}, nil
}

// OpenUniStream implements transport.Connection.
func (c *Conn) OpenUniStream(ctx context.Context) (transport.SendStream, error) {
	s, err := c.qc.OpenUniStreamSync(ctx)
	if err != nil {
		return nil, convertError(err)
	}
	return &sendStream{s: s}, nil
}

// AcceptStream implements transport.Connection.
func (c *Conn) AcceptStream(ctx context.Context) (transport.Stream, error) {
	s, err := c.qc.AcceptStream(ctx)
	if err != nil {
		return nil, convertError(err)
	}
	return &stream{s: s}, nil
}

// AcceptUniStream implements transport.Connection.
func (c *Conn) AcceptUniStream(ctx context.Context) (transport.ReceiveStream, error) {
	s, err := c.qc.AcceptUniStream(ctx)
	if err != nil {
		return nil, convertError(err)
	}
	return &receiveStream{s: s}, nil
}

// SendDatagram implements transport.Connection.
func (c *Conn) SendDatagram(p []byte) error {
	if !c.qc.ConnectionState().SupportsDatagrams.Remote {
		return transport.ErrDatagramsDisabled
	}
	return convertError(c.qc.SendDatagram(p))
}

// ReceiveDatagram implements transport.Connection.
func (c *Conn) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	if !c.qc.ConnectionState().SupportsDatagrams.Local {
		return nil, transport.ErrDatagramsDisabled
	}
	b, err := c.qc.ReceiveDatagram(ctx)
	return b, convertError(err)
}

// CloseWithError implements transport.Connection.
func (c *Conn) CloseWithError(code transport.ErrorCode, msg string) error {
	return convertError(c.qc.CloseWithError(quic.ApplicationErrorCode(code), msg))
}

// Context implements transport.Connection.
func (c *Conn) Context() context.Context { return c.ctx }

// State implements transport.Connection.
func (c *Conn) State() transport.ConnectionState {
	cs := c.qc.ConnectionState()
	return transport.ConnectionState{
		ALPN:       cs.TLS.NegotiatedProtocol,
		Version:    uint32(cs.Version),
		LocalAddr:  c.qc.LocalAddr(),
		RemoteAddr: c.qc.RemoteAddr(),
		TLS:        cs.TLS,
		Datagrams:  cs.SupportsDatagrams.Local && cs.SupportsDatagrams.Remote,
		Used0RTT:   cs.Used0RTT,
	}
}

type receiveStream struct{ s *quic.ReceiveStream }

func (r *receiveStream) Read(p []byte) (int, error) {
	n, err := r.s.Read(p)
	return n, convertError(err)
}
func (r *receiveStream) StreamID() transport.StreamID { return transport.StreamID(r.s.StreamID()) }
func (r *receiveStream) CancelRead(code transport.ErrorCode) {
	r.s.CancelRead(quic.StreamErrorCode(code))
}
func (r *receiveStream) SetReadDeadline(t time.Time) error { return r.s.SetReadDeadline(t) }

type sendStream struct{ s *quic.SendStream }

func (w *sendStream) Write(p []byte) (int, error) {
	n, err := w.s.Write(p)
	return n, convertError(err)
}
func (w *sendStream) StreamID() transport.StreamID { return transport.StreamID(w.s.StreamID()) }
func (w *sendStream) Close() error                 { return convertError(w.s.Close()) }
func (w *sendStream) CancelWrite(code transport.ErrorCode) {
	w.s.CancelWrite(quic.StreamErrorCode(code))
}
func (w *sendStream) SetWriteDeadline(t time.Time) error { return w.s.SetWriteDeadline(t) }
func (w *sendStream) Context() context.Context           { return w.s.Context() }

type stream struct{ s *quic.Stream }

func (s *stream) Read(p []byte) (int, error) {
	n, err := s.s.Read(p)
	return n, convertError(err)
}
func (s *stream) Write(p []byte) (int, error) {
	n, err := s.s.Write(p)
	return n, convertError(err)
}
func (s *stream) StreamID() transport.StreamID        { return transport.StreamID(s.s.StreamID()) }
func (s *stream) Close() error                        { return convertError(s.s.Close()) }
func (s *stream) CloseWrite() error                   { return s.Close() }
func (s *stream) CancelRead(code transport.ErrorCode) { s.s.CancelRead(quic.StreamErrorCode(code)) }
func (s *stream) CancelWrite(code transport.ErrorCode) {
	s.s.CancelWrite(quic.StreamErrorCode(code))
}
func (s *stream) SetReadDeadline(t time.Time) error  { return s.s.SetReadDeadline(t) }
func (s *stream) SetWriteDeadline(t time.Time) error { return s.s.SetWriteDeadline(t) }
func (s *stream) SetDeadline(t time.Time) error      { return s.s.SetDeadline(t) }
func (s *stream) Context() context.Context           { return s.s.Context() }

// convertError maps quic-go's error types onto pkg/transport's, so that the
// layers above never see a quic-go type.
func convertError(err error) error {
	if err == nil {
		return nil
	}
	if se, ok := errors.AsType[*quic.StreamError](err); ok {
		return &transport.StreamError{
			StreamID:  transport.StreamID(se.StreamID),
			ErrorCode: transport.ErrorCode(se.ErrorCode),
			Remote:    se.Remote,
		}
	}
	if ae, ok := errors.AsType[*quic.ApplicationError](err); ok {
		return &transport.ApplicationError{
			ErrorCode: transport.ErrorCode(ae.ErrorCode),
			Message:   ae.ErrorMessage,
			Remote:    ae.Remote,
		}
	}
	if de, ok := errors.AsType[*quic.DatagramTooLargeError](err); ok {
		return &transport.DatagramTooLargeError{MaxPayload: int(de.MaxDatagramPayloadSize)}
	}
	if te, ok := errors.AsType[*quic.TransportError](err); ok {
		return &transport.TransportError{Code: uint64(te.ErrorCode), Err: err}
	}
	if _, ok := errors.AsType[*quic.IdleTimeoutError](err); ok {
		return &transport.TransportError{Err: err}
	}
	if _, ok := errors.AsType[*quic.HandshakeTimeoutError](err); ok {
		return &transport.TransportError{Err: err}
	}
	if _, ok := errors.AsType[*quic.StatelessResetError](err); ok {
		return &transport.TransportError{Err: err}
	}
	if _, ok := errors.AsType[*quic.VersionNegotiationError](err); ok {
		return &transport.TransportError{Err: err}
	}
	return err
}

// Listener adapts a *quic.Listener to transport.Listener.
type Listener struct {
	ln *quic.Listener
}

var _ transport.Listener = (*Listener)(nil)

// Listen listens for QUIC connections on a UDP address.
func Listen(addr string, tlsConf *tls.Config, conf *quic.Config) (*Listener, error) {
	ln, err := quic.ListenAddr(addr, tlsConf, conf)
	if err != nil {
		return nil, fmt.Errorf("quicgoadapter: listen on %s: %w", addr, err)
	}
	return &Listener{ln: ln}, nil
}

// WrapListener adapts an existing quic-go listener.
func WrapListener(ln *quic.Listener) *Listener { return &Listener{ln: ln} }

// Accept implements transport.Listener.
func (l *Listener) Accept(ctx context.Context) (transport.Connection, error) {
	qc, err := l.ln.Accept(ctx)
	if err != nil {
		return nil, convertError(err)
	}
	return Wrap(qc), nil
}

// Close implements transport.Listener.
func (l *Listener) Close() error { return l.ln.Close() }

// Addr implements transport.Listener.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Dialer returns a transport.Dialer that dials with quic-go and conf.
func Dialer(conf *quic.Config) transport.Dialer {
	return func(ctx context.Context, addr string, tlsConf *tls.Config) (transport.Connection, error) {
		qc, err := quic.DialAddr(ctx, addr, tlsConf, conf)
		if err != nil {
			return nil, fmt.Errorf("quicgoadapter: dial %s: %w", addr, convertError(err))
		}
		return Wrap(qc), nil
	}
}
