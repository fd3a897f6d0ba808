package masque

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/yosida95/uritemplate/v3"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/h3"
)

// IPConn is a client's CONNECT-IP session.
type IPConn struct {
	str         *h3.Stream
	capsuleMode atomic.Bool
	ctx         context.Context
	cancel      context.CancelCauseFunc
	in          chan []byte

	mu       sync.Mutex
	assigned []netip.Prefix
	routes   []IPRange
	gotAddr  chan struct{}
	gotRoute chan struct{}
	addrOnce sync.Once
	rOnce    sync.Once
	nextReq  uint64
	closed   sync.Once

	// Dropped counts received packets dropped (unknown context, malformed,
	// or destination not ours, or the queue was full).
	Dropped atomic.Uint64
}

// DialIP opens a CONNECT-IP session through the proxy behind cc for the
// scope target (invalid for any) and protocol (0 for any).
func DialIP(ctx context.Context, cc *h3.ClientConn, tmpl *uritemplate.Template, target netip.Prefix, proto uint8) (*IPConn, *http.Response, error) {
	u, err := ExpandIP(tmpl, target, proto)
	if err != nil {
		return nil, nil, err
	}
	str, resp, err := dialConnect(ctx, cc, u.String(), ProtocolIP)
	if err != nil {
		return nil, resp, err
	}
	c := &IPConn{str: str, in: make(chan []byte, 1024), gotAddr: make(chan struct{}), gotRoute: make(chan struct{}), nextReq: 1}
	c.ctx, c.cancel = context.WithCancelCause(cc.Context())
	go c.readDatagrams()
	go c.readCapsules()
	return c, resp, nil
}

func (c *IPConn) deliver(b []byte) {
	id, pkt, err := splitContext(b)
	if err != nil || id != 0 {
		c.Dropped.Add(1)
		return
	}
	info, err := ParsePacket(pkt)
	if err != nil || !c.isLocal(info.Dst) {
		c.Dropped.Add(1)
		return
	}
	select {
	case c.in <- pkt:
	default:
		c.Dropped.Add(1)
	}
}

func (c *IPConn) isLocal(a netip.Addr) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.assigned {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (c *IPConn) readDatagrams() {
	for {
		b, err := c.str.ReceiveDatagram(c.ctx)
		if err != nil {
			return
		}
		c.deliver(b)
	}
}

func (c *IPConn) readCapsules() {
	err := readDatagramCapsules(c.str, c.deliver, func(cp capsule.Capsule) error {
		switch cp.Type {
		case CapsuleAddressAssign:
			entries, err := ParseAddressCapsule(cp.Type, cp.Value)
			if err != nil {
				return err
			}
			var ps []netip.Prefix
			for _, e := range entries {
				if !e.Prefix.Addr().IsUnspecified() {
					ps = append(ps, e.Prefix)
				}
			}
			c.mu.Lock()
			c.assigned = ps
			c.mu.Unlock()
			c.addrOnce.Do(func() { close(c.gotAddr) })
		case CapsuleRouteAdvertisement:
			rs, err := ParseRouteAdvertisement(cp.Value)
			if err != nil {
				return err
			}
			c.mu.Lock()
			c.routes = rs
			c.mu.Unlock()
			c.rOnce.Do(func() { close(c.gotRoute) })
		case CapsuleAddressRequest:
			if _, err := ParseAddressCapsule(cp.Type, cp.Value); err != nil {
				return err
			}
			// This client assigns no addresses to the proxy: refuse.
			return c.writeCapsule(AppendAddressCapsule(nil, CapsuleAddressAssign, nil))
		}
		return nil
	})
	if err != nil && !errors.Is(err, io.EOF) {
		if errors.Is(err, ErrMalformedCapsule) || errors.Is(err, capsule.ErrTooLarge) || errors.Is(err, capsule.ErrTruncated) {
			c.str.CancelRead(h3.ErrCodeMessageError)
			c.str.CancelWrite(h3.ErrCodeMessageError)
		}
		c.cancel(fmt.Errorf("masque: CONNECT-IP stream: %w", err))
		return
	}
	c.cancel(errors.New("masque: proxy ended the session"))
}

func (c *IPConn) writeCapsule(b []byte) error {
	_, err := c.str.Write(b)
	return err
}

// RequestAddress sends ADDRESS_REQUEST for prefix (an unspecified address
// asks for any).
func (c *IPConn) RequestAddress(prefix netip.Prefix) error {
	c.mu.Lock()
	id := c.nextReq
	c.nextReq++
	c.mu.Unlock()
	return c.writeCapsule(AppendAddressCapsule(nil, CapsuleAddressRequest, []AddressEntry{{RequestID: id, Prefix: prefix}}))
}

// LocalPrefixes waits for the proxy's ADDRESS_ASSIGN and returns the
// addresses assigned to this client.
func (c *IPConn) LocalPrefixes(ctx context.Context) ([]netip.Prefix, error) {
	select {
	case <-c.gotAddr:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, context.Cause(c.ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]netip.Prefix(nil), c.assigned...), nil
}

// Routes waits for the proxy's ROUTE_ADVERTISEMENT and returns it.
func (c *IPConn) Routes(ctx context.Context) ([]IPRange, error) {
	select {
	case <-c.gotRoute:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, context.Cause(c.ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]IPRange(nil), c.routes...), nil
}

// WritePacket sends an IP packet into the tunnel.
func (c *IPConn) WritePacket(pkt []byte) error {
	if c.ctx.Err() != nil {
		return context.Cause(c.ctx)
	}
	if _, err := ParsePacket(pkt); err != nil {
		return err
	}
	return sendPayload(c.str, pkt, &c.capsuleMode)
}

// ReadPacket returns the next IP packet from the tunnel.
func (c *IPConn) ReadPacket(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.in:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, context.Cause(c.ctx)
	}
}

// Context is canceled when the session ends.
func (c *IPConn) Context() context.Context { return c.ctx }

// Close ends the session.
func (c *IPConn) Close() error {
	c.closed.Do(func() {
		c.str.Close()
		c.str.CancelRead(h3.ErrCodeNoError)
		c.cancel(errors.New("masque: session closed"))
	})
	return nil
}
