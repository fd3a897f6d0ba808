package masque

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/yosida95/uritemplate/v3"

	"github.com/tquic/tquic/pkg/h3"
)

// UDPConn is a client's CONNECT-UDP flow to one target through a proxy.
type UDPConn struct {
	str         *h3.Stream
	capsuleMode atomic.Bool
	ctx         context.Context
	cancel      context.CancelCauseFunc
	in          chan []byte
	closeOnce   sync.Once
	// Dropped counts received payloads dropped because the receive queue
	// was full or their context ID is unknown.
	Dropped atomic.Uint64
}

// DialUDP opens a CONNECT-UDP flow to host:port through the proxy behind
// cc, using the proxy's URI template. With capsules set, payloads travel
// in DATAGRAM capsules instead of HTTP datagrams. A refused request
// returns the response and an error.
func DialUDP(ctx context.Context, cc *h3.ClientConn, tmpl *uritemplate.Template, host string, port uint16, capsules bool) (*UDPConn, *http.Response, error) {
	u, err := ExpandUDP(tmpl, host, port)
	if err != nil {
		return nil, nil, err
	}
	str, resp, err := dialConnect(ctx, cc, u.String(), ProtocolUDP)
	if err != nil {
		return nil, resp, err
	}
	c := &UDPConn{str: str, in: make(chan []byte, 1024)}
	c.capsuleMode.Store(capsules)
	c.ctx, c.cancel = context.WithCancelCause(cc.Context())
	go c.readDatagrams()
	go c.readCapsules()
	return c, resp, nil
}

// dialConnect sends an extended CONNECT and returns the stream after a 2xx
// response.
func dialConnect(ctx context.Context, cc *h3.ClientConn, rawURL, proto string) (*h3.Stream, *http.Response, error) {
	rs, err := cc.OpenRequestStream(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("masque: open request stream: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodConnect, rawURL, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("masque: %w", err)
	}
	req.Proto = proto
	req.Header.Set(capsuleProtocolHeader, capsuleProtocolTrue)
	if err := rs.SendRequestHeader(req); err != nil {
		rs.CancelWrite(h3.ErrCodeRequestCanceled)
		rs.CancelRead(h3.ErrCodeRequestCanceled)
		return nil, nil, fmt.Errorf("masque: send %s request: %w", proto, err)
	}
	resp, err := rs.ReadResponse()
	if err != nil {
		rs.CancelWrite(h3.ErrCodeRequestCanceled)
		rs.CancelRead(h3.ErrCodeRequestCanceled)
		return nil, nil, fmt.Errorf("masque: read %s response: %w", proto, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		rs.CancelRead(h3.ErrCodeNoError)
		rs.Close()
		return nil, resp, fmt.Errorf("masque: proxy refused %s with %d", proto, resp.StatusCode)
	}
	return rs.Stream, resp, nil
}

func (c *UDPConn) deliver(b []byte) {
	id, data, err := splitContext(b)
	if err != nil || id != 0 {
		c.Dropped.Add(1)
		return
	}
	select {
	case c.in <- data:
	default:
		c.Dropped.Add(1)
	}
}

func (c *UDPConn) readDatagrams() {
	for {
		b, err := c.str.ReceiveDatagram(c.ctx)
		if err != nil {
			return
		}
		c.deliver(b)
	}
}

func (c *UDPConn) readCapsules() {
	err := readDatagramCapsules(c.str, c.deliver, nil)
	if errors.Is(err, io.EOF) {
		err = errors.New("masque: proxy ended the flow")
	}
	c.cancel(err)
}

// WritePacket sends one UDP payload to the target.
func (c *UDPConn) WritePacket(p []byte) error {
	if err := c.ctx.Err(); err != nil {
		return context.Cause(c.ctx)
	}
	if len(p) > maxUDPPayload {
		return fmt.Errorf("masque: UDP payload of %d bytes exceeds %d", len(p), maxUDPPayload)
	}
	if err := sendPayload(c.str, p, &c.capsuleMode); err != nil {
		return fmt.Errorf("masque: send payload: %w", err)
	}
	return nil
}

// ReadPacket returns the next UDP payload from the target.
func (c *UDPConn) ReadPacket(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.in:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, context.Cause(c.ctx)
	}
}

// Context is canceled when the flow ends.
func (c *UDPConn) Context() context.Context { return c.ctx }

// Close ends the flow.
func (c *UDPConn) Close() error {
	c.closeOnce.Do(func() {
		c.str.Close()
		c.str.CancelRead(h3.ErrCodeNoError)
		c.cancel(errors.New("masque: flow closed"))
	})
	return nil
}
