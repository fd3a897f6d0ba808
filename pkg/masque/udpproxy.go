package masque

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"

	"github.com/yosida95/uritemplate/v3"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/transport"
)

// UDPProxy is a CONNECT-UDP proxy (RFC 9298), an http.Handler.
type UDPProxy struct {
	// Template is the URI template clients use (required); see
	// DefaultUDPTemplate.
	Template *uritemplate.Template
	// ACL lists the targets clients may reach; nil refuses all.
	ACL *ACL
	// Resolver resolves target host names; nil uses net.DefaultResolver.
	Resolver *net.Resolver
	// MaxPayload drops UDP payloads larger than this in either direction
	// (default and upper bound 65527).
	MaxPayload int
	// Logger receives diagnostics; nil discards them.
	Logger *log.Logger

	Stats Stats
}

func (p *UDPProxy) logf(format string, args ...any) {
	if p.Logger != nil {
		p.Logger.Printf(format, args...)
	}
}

func (p *UDPProxy) maxPayload() int {
	if p.MaxPayload <= 0 || p.MaxPayload > maxUDPPayload {
		return maxUDPPayload
	}
	return p.MaxPayload
}

// ServeHTTP handles one CONNECT-UDP request: 400 for requests that are
// not CONNECT-UDP or name an invalid target, 404 when the URL does not
// match the template, 403 for targets the ACL does not allow, 502 when the
// target cannot be resolved or reached; otherwise 200 and the stream is
// proxied until either side ends it.
func (p *UDPProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isExtendedConnect(r, ProtocolUDP) {
		refuse(w, http.StatusBadRequest, "")
		return
	}
	host, port, err := MatchUDP(p.Template, r)
	if err != nil {
		p.logf("masque: CONNECT-UDP %s: %v", r.URL, err)
		if errors.Is(err, ErrTemplateMismatch) {
			refuse(w, http.StatusNotFound, "")
		} else {
			refuse(w, http.StatusBadRequest, "")
		}
		return
	}
	target, err := p.resolve(r.Context(), host, port)
	if err != nil {
		p.logf("masque: CONNECT-UDP resolve %s: %v", host, err)
		refuse(w, http.StatusBadGateway, "dns_error")
		return
	}
	if !p.ACL.AllowUDP(target) {
		p.logf("masque: CONNECT-UDP to %s denied", target)
		refuse(w, http.StatusForbidden, "destination_ip_prohibited")
		return
	}
	uc, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(target))
	if err != nil {
		p.logf("masque: CONNECT-UDP dial %s: %v", target, err)
		refuse(w, http.StatusBadGateway, "destination_unavailable")
		return
	}
	defer uc.Close()
	taker, ok := w.(h3.StreamTaker)
	if !ok {
		refuse(w, http.StatusInternalServerError, "")
		return
	}
	w.Header().Set(capsuleProtocolHeader, capsuleProtocolTrue)
	w.WriteHeader(http.StatusOK)
	str, err := taker.TakeStream()
	if err != nil {
		p.logf("masque: CONNECT-UDP take stream: %v", err)
		return
	}
	p.relay(str, uc)
}

func (p *UDPProxy) resolve(ctx context.Context, host string, port uint16) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), port), nil
	}
	res := p.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	addrs, err := res.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	// Prefer an allowed address.
	for _, a := range addrs {
		if ap := netip.AddrPortFrom(a.Unmap(), port); p.ACL.AllowUDP(ap) {
			return ap, nil
		}
	}
	if len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("masque: no address for %s", host)
	}
	return netip.AddrPortFrom(addrs[0].Unmap(), port), nil
}

// relay moves payloads between the request stream and the UDP socket.
func (p *UDPProxy) relay(str *h3.Stream, uc *net.UDPConn) {
	ctx, cancel := context.WithCancel(str.Conn().Context())
	defer cancel()
	var capsuleMode atomic.Bool
	max := p.maxPayload()
	forward := func(b []byte) {
		id, data, err := splitContext(b)
		switch {
		case err != nil:
			p.Stats.Malformed.Add(1)
		case id != 0:
			p.Stats.UnknownContext.Add(1)
		case len(data) > max:
			p.Stats.Oversized.Add(1)
		default:
			if _, err := uc.Write(data); err == nil {
				p.Stats.Forwarded.Add(1)
			}
		}
	}
	// Datagrams from the client.
	go func() {
		for {
			b, err := str.ReceiveDatagram(ctx)
			if err != nil {
				return
			}
			forward(b)
		}
	}()
	// Capsules from the client; the end of the stream ends the proxying.
	go func() {
		defer cancel()
		err := readDatagramCapsules(str, func(b []byte) {
			capsuleMode.Store(true)
			forward(b)
		}, nil)
		if err != nil && !errors.Is(err, io.EOF) {
			p.logf("masque: CONNECT-UDP stream: %v", err)
			if errors.Is(err, capsule.ErrTooLarge) || errors.Is(err, capsule.ErrTruncated) {
				str.CancelRead(h3.ErrCodeMessageError)
				str.CancelWrite(h3.ErrCodeMessageError)
			}
		}
	}()
	context.AfterFunc(ctx, func() { uc.Close() })
	// Payloads from the target.
	buf := make([]byte, maxUDPPayload+1)
	for {
		n, err := uc.Read(buf)
		if err != nil {
			if ctx.Err() == nil {
				p.logf("masque: CONNECT-UDP read: %v", err)
			}
			str.Close()
			return
		}
		if n > max {
			p.Stats.Oversized.Add(1)
			continue
		}
		if err := sendPayload(str, buf[:n], &capsuleMode); err != nil {
			p.logf("masque: CONNECT-UDP send: %v", err)
			return
		}
	}
}

// sendPayload sends data with context ID 0 as an HTTP datagram, or in a
// DATAGRAM capsule in capsule mode and when it does not fit a datagram.
func sendPayload(str *h3.Stream, data []byte, capsuleMode *atomic.Bool) error {
	msg := appendContext0(make([]byte, 0, len(data)+1), data)
	if !capsuleMode.Load() {
		err := str.SendDatagram(msg)
		if err == nil {
			return nil
		}
		var tooLarge *transport.DatagramTooLargeError
		if !errors.As(err, &tooLarge) {
			// Datagrams not negotiated: capsules from now on.
			capsuleMode.Store(true)
		}
	}
	return str.WriteCapsule(capsule.TypeDatagram, msg)
}

// readDatagramCapsules reads capsules from r, passing DATAGRAM capsule
// payloads to onDatagram and other capsules to onOther (nil: skip them).
// It returns io.EOF at the clean end of the stream.
func readDatagramCapsules(r io.Reader, onDatagram func([]byte), onOther func(capsule.Capsule) error) error {
	cr := capsule.NewReader(r, maxCapsule)
	for {
		c, err := cr.ReadCapsule()
		if err != nil {
			return err
		}
		switch {
		case c.Type == capsule.TypeDatagram:
			onDatagram(c.Value)
		case onOther != nil:
			if err := onOther(c); err != nil {
				return err
			}
		}
	}
}

// portString formats a port.
func portString(p uint16) string { return strconv.Itoa(int(p)) }
