package sockapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/transport"
	"github.com/tquic/tquic/pkg/uapi"
)

const (
	// listenBacklog is listen()'s backlog: connections the kernel holds
	// until the accept loop takes them (it takes them at once, up to
	// maxHandshakes).
	listenBacklog = 128
	// maxHandshakes bounds the server handshakes in progress; beyond it
	// the accept loop waits and the kernel's backlog absorbs, then drops,
	// new Initials.
	maxHandshakes = 1024
	// acceptQueueLen bounds handshaken connections nobody accepted yet;
	// more are refused.
	acceptQueueLen = 128
)

// Listener accepts QUIC connections on a listening IPPROTO_QUIC socket.
// Handshakes run concurrently in the background; Accept returns only
// connections whose handshake completed. It implements transport.Listener.
type Listener struct {
	s       *sock
	tlsConf *tls.Config
	cfg     Config
	addr    net.Addr

	ctx    context.Context
	cancel context.CancelCauseFunc
	queue  chan *Conn
	slots  chan struct{} // a token per handshake in progress
	wg     sync.WaitGroup
}

// Listen opens a listening socket on addr (host:port; an empty host is
// the dual-stack wildcard). tlsConf must hold a certificate; its
// NextProtos are the ALPN protocols offered.
func Listen(addr string, tlsConf *tls.Config, cfg *Config) (*Listener, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if tlsConf == nil || (len(tlsConf.Certificates) == 0 && tlsConf.GetCertificate == nil && tlsConf.GetConfigForClient == nil) {
		return nil, errors.New("sockapi: listen: the TLS configuration has no certificate")
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("sockapi: listen %s: %w", addr, err)
	}
	family := unix.AF_INET6
	if ua.IP.To4() != nil {
		family = unix.AF_INET
	}
	s, err := openSocket(family)
	if err != nil {
		return nil, err
	}
	if err := listenOn(s, ua, tlsConf, cfg); err != nil {
		_ = s.close()
		return nil, fmt.Errorf("sockapi: listen %s: %w", addr, err)
	}
	l := &Listener{
		s:       s,
		tlsConf: tlsConf,
		cfg:     *cfg,
		addr:    s.localAddr(),
		queue:   make(chan *Conn, acceptQueueLen),
		slots:   make(chan struct{}, maxHandshakes),
	}
	l.ctx, l.cancel = context.WithCancelCause(context.Background())
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

func listenOn(s *sock, ua *net.UDPAddr, tlsConf *tls.Config, cfg *Config) error {
	if err := cfg.apply(s, tlsConf.NextProtos); err != nil {
		return err
	}
	sa, err := sockaddr(ua, s.family)
	if err != nil {
		return err
	}
	if err := s.bind(sa); err != nil {
		return fmt.Errorf("sockapi: bind: %w", err)
	}
	if err := s.listen(listenBacklog); err != nil {
		return fmt.Errorf("sockapi: listen: %w", err)
	}
	return nil
}

// acceptLoop takes new connections off the socket and starts their
// handshakes.
func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.ctx.Done():
			return
		}
		child, err := l.s.accept()
		if err != nil {
			<-l.slots
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				l.cancel(net.ErrClosed)
				return
			}
			if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) ||
				errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM) {
				// Out of resources: the connection waits in the kernel.
				select {
				case <-time.After(backoff):
				case <-l.ctx.Done():
				}
				backoff = min(2*backoff, time.Second)
				continue
			}
			l.cancel(fmt.Errorf("sockapi: accept: %w", err))
			_ = l.s.close()
			return
		}
		backoff = 5 * time.Millisecond
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer func() { <-l.slots }()
			l.serve(child)
		}()
	}
}

// serve runs the server handshake of an accepted socket, whose receive
// queue already holds the client's first CRYPTO data, and queues the
// connection for Accept.
func (l *Listener) serve(child *sock) {
	c, err := serverConn(l.ctx, child, l.tlsConf, &l.cfg)
	if err != nil {
		return // the client learns from the close; nobody here waits for it
	}
	select {
	case <-l.ctx.Done():
		_ = c.CloseWithError(0, "listener closed")
		return
	default:
	}
	select {
	case l.queue <- c:
	default:
		_ = c.CloseWithError(uapi.QUIC_TRANSPORT_ERROR_CONNECTION_REFUSED, "accept queue full")
	}
}

func serverConn(ctx context.Context, s *sock, tlsConf *tls.Config, cfg *Config) (*Conn, error) {
	if err := enableEvents(s); err != nil {
		_ = s.close()
		return nil, err
	}
	c := newConn(s, true, cfg)
	hctx, cancel := context.WithCancel(ctx) // crypto/tls watches it until the handshake ends
	defer cancel()
	if err := c.startHandshake(hctx, tlsConf); err != nil {
		c.fail(&transport.TransportError{Err: err})
		return nil, err
	}
	if err := c.awaitHandshake(hctx, cfg.handshakeTimeout()); err != nil {
		return nil, err
	}
	return c, nil
}

// Accept returns the next connection whose handshake completed. After
// Close it returns an error wrapping net.ErrClosed.
func (l *Listener) Accept(ctx context.Context) (transport.Connection, error) {
	return l.AcceptConn(ctx)
}

// AcceptConn is Accept returning the concrete *Conn.
func (l *Listener) AcceptConn(ctx context.Context) (*Conn, error) {
	select {
	case c := <-l.queue:
		return c, nil
	default:
	}
	select {
	case c := <-l.queue:
		return c, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sockapi: accept: %w", ctx.Err())
	case <-l.ctx.Done():
		return nil, fmt.Errorf("sockapi: accept: %w", context.Cause(l.ctx))
	}
}

// Close stops accepting: handshakes in progress are abandoned and
// connections nobody accepted are closed. Accepted connections are
// unaffected.
func (l *Listener) Close() error {
	l.cancel(net.ErrClosed)
	err := l.s.close()
	l.wg.Wait()
	for {
		select {
		case c := <-l.queue:
			_ = c.CloseWithError(0, "listener closed")
		default:
			if err != nil {
				return fmt.Errorf("sockapi: close listener: %w", err)
			}
			return nil
		}
	}
}

// Addr returns the local address.
func (l *Listener) Addr() net.Addr { return l.addr }

// Stats returns the listening socket's counters (AcceptQueue,
// AcceptOverflow).
func (l *Listener) Stats() (Stats, error) { return socketStats(l.s) }

var _ transport.Listener = (*Listener)(nil)
