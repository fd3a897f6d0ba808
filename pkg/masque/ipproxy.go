package masque

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/yosida95/uritemplate/v3"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/transport"
)

// DefaultMTU is the MTU assumed for tunnelled packets when none is set:
// the IPv6 minimum, which fits a QUIC datagram on any path QUIC runs on.
const DefaultMTU = 1280

// IPProxy is a CONNECT-IP proxy (RFC 9484), an http.Handler. Each session
// gets one address from its client's pool (ADDRESS_ASSIGN) and the routes
// the ACL allows within the request's scope (ROUTE_ADVERTISEMENT).
// Packets from clients are checked (source = the assigned address,
// destination and protocol allowed) and written to Device; packets read
// from Device by Run go to the session that owns their destination.
type IPProxy struct {
	// Template is the URI template clients use (required); it may have
	// the {target} and {ipproto} variables or none (full tunnel).
	Template *uritemplate.Template
	// ACL lists the destinations clients may reach; nil refuses all.
	ACL *ACL
	// Pool assigns client addresses; PoolFor, if set, picks a pool per
	// request (per-client pools) and may refuse with nil.
	Pool    *AddrPool
	PoolFor func(r *http.Request) *AddrPool
	// Device is where packets leave for and arrive from the targets,
	// usually a *TUN.
	Device io.ReadWriter
	// MTU is the largest packet forwarded to Device (default DefaultMTU);
	// larger ones are answered with ICMP packet too big.
	MTU int
	// Logger receives diagnostics; nil discards them.
	Logger *log.Logger

	Stats Stats
	// Unroutable counts packets from Device without a session.
	Unroutable atomic.Uint64

	mu     sync.Mutex
	byAddr map[netip.Addr]*ipSession
}

type ipSession struct {
	str         *h3.Stream
	addr        netip.Addr
	pool        *AddrPool
	scope       netip.Prefix
	proto       uint8
	capsuleMode atomic.Bool
}

func (p *IPProxy) logf(format string, args ...any) {
	if p.Logger != nil {
		p.Logger.Printf(format, args...)
	}
}

func (p *IPProxy) mtu() int {
	if p.MTU <= 0 {
		return DefaultMTU
	}
	return p.MTU
}

// ServeHTTP handles one CONNECT-IP request: 400 for requests that are not
// CONNECT-IP or have an invalid scope, 404 when the URL does not match the
// template, 403 when the ACL allows nothing in the scope or no pool serves
// the client, 503 when the pool is exhausted.
func (p *IPProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isExtendedConnect(r, ProtocolIP) {
		refuse(w, http.StatusBadRequest, "")
		return
	}
	scope, proto, err := MatchIP(p.Template, r)
	if err != nil {
		p.logf("masque: CONNECT-IP %s: %v", r.URL, err)
		if errors.Is(err, ErrTemplateMismatch) {
			refuse(w, http.StatusNotFound, "")
		} else {
			refuse(w, http.StatusBadRequest, "")
		}
		return
	}
	routes := p.ACL.Ranges(scope, proto)
	if len(routes) == 0 {
		p.logf("masque: CONNECT-IP scope %v proto %d denied", scope, proto)
		refuse(w, http.StatusForbidden, "destination_ip_prohibited")
		return
	}
	pool := p.Pool
	if p.PoolFor != nil {
		pool = p.PoolFor(r)
	}
	if pool == nil {
		refuse(w, http.StatusForbidden, "")
		return
	}
	addr, err := pool.Allocate(r.RemoteAddr, netip.Addr{})
	if err != nil {
		p.logf("masque: CONNECT-IP: %v", err)
		refuse(w, http.StatusServiceUnavailable, "")
		return
	}
	defer pool.Release(addr)
	taker, ok := w.(h3.StreamTaker)
	if !ok {
		refuse(w, http.StatusInternalServerError, "")
		return
	}
	w.Header().Set(capsuleProtocolHeader, capsuleProtocolTrue)
	w.WriteHeader(http.StatusOK)
	str, err := taker.TakeStream()
	if err != nil {
		p.logf("masque: CONNECT-IP take stream: %v", err)
		return
	}
	s := &ipSession{str: str, addr: addr, pool: pool, scope: scope, proto: proto}
	p.mu.Lock()
	if p.byAddr == nil {
		p.byAddr = map[netip.Addr]*ipSession{}
	}
	p.byAddr[addr] = s
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.byAddr, addr)
		p.mu.Unlock()
	}()
	assign := AppendAddressCapsule(nil, CapsuleAddressAssign,
		[]AddressEntry{{Prefix: netip.PrefixFrom(addr, addr.BitLen())}})
	if _, err := str.Write(AppendRouteAdvertisement(assign, routes)); err != nil {
		p.logf("masque: CONNECT-IP send assignment: %v", err)
		return
	}
	p.serveSession(s)
}

// serveSession forwards the client's packets until its stream ends.
func (p *IPProxy) serveSession(s *ipSession) {
	ctx, cancel := context.WithCancel(s.str.Conn().Context())
	defer cancel()
	go func() {
		for {
			b, err := s.str.ReceiveDatagram(ctx)
			if err != nil {
				return
			}
			p.fromClient(s, b)
		}
	}()
	err := readDatagramCapsules(s.str, func(b []byte) {
		s.capsuleMode.Store(true)
		p.fromClient(s, b)
	}, func(c capsule.Capsule) error { return p.controlCapsule(s, c) })
	if err != nil && !errors.Is(err, io.EOF) {
		p.logf("masque: CONNECT-IP session %s: %v", s.addr, err)
		var se *transport.StreamError
		if !errors.As(err, &se) && !transport.IsConnectionError(err) {
			s.str.CancelRead(h3.ErrCodeMessageError)
			s.str.CancelWrite(h3.ErrCodeMessageError)
			return
		}
	}
	s.str.Close()
}

// controlCapsule handles the CONNECT-IP capsules a client sends.
func (p *IPProxy) controlCapsule(s *ipSession, c capsule.Capsule) error {
	switch c.Type {
	case CapsuleAddressRequest:
		reqs, err := ParseAddressCapsule(c.Type, c.Value)
		if err != nil {
			return err
		}
		// One address per session: each request is answered with it when
		// the family matches, otherwise refused (unspecified address with
		// the full prefix length).
		var answer []AddressEntry
		for _, rq := range reqs {
			a := s.addr
			if rq.Prefix.Addr().Is4() != a.Is4() {
				if rq.Prefix.Addr().Is4() {
					a = netip.IPv4Unspecified()
				} else {
					a = netip.IPv6Unspecified()
				}
			}
			answer = append(answer, AddressEntry{RequestID: rq.RequestID, Prefix: netip.PrefixFrom(a, a.BitLen())})
		}
		_, err = s.str.Write(AppendAddressCapsule(nil, CapsuleAddressAssign, answer))
		return err
	case CapsuleAddressAssign:
		_, err := ParseAddressCapsule(c.Type, c.Value)
		return err // addresses for the proxy are not used
	case CapsuleRouteAdvertisement:
		_, err := ParseRouteAdvertisement(c.Value)
		return err // the proxy routes by its ACL
	}
	return nil
}

// fromClient checks and forwards one HTTP datagram payload of a session.
func (p *IPProxy) fromClient(s *ipSession, b []byte) {
	id, pkt, err := splitContext(b)
	if err != nil {
		p.Stats.Malformed.Add(1)
		return
	}
	if id != 0 {
		p.Stats.UnknownContext.Add(1)
		return
	}
	info, err := ParsePacket(pkt)
	if err != nil {
		p.Stats.Malformed.Add(1)
		return
	}
	if info.Src != s.addr || !p.allowed(s, info) {
		p.Stats.Denied.Add(1)
		return
	}
	if len(pkt) > p.mtu() {
		p.Stats.Oversized.Add(1)
		if icmp, err := ICMPTooBig(pkt, p.mtu(), p.gateway(s)); err == nil {
			p.sendToSession(s, icmp)
		}
		return
	}
	if _, err := p.Device.Write(pkt); err != nil {
		p.logf("masque: CONNECT-IP write to device: %v", err)
		return
	}
	p.Stats.Forwarded.Add(1)
}

func (p *IPProxy) gateway(s *ipSession) netip.Addr {
	return s.pool.Gateway()
}

func (p *IPProxy) allowed(s *ipSession, info PacketInfo) bool {
	if s.scope.IsValid() && !s.scope.Contains(info.Dst) {
		return false
	}
	isICMP := info.Protocol == protoICMP && info.Version == 4 || info.Protocol == protoICMPv6 && info.Version == 6
	if s.proto != 0 && info.Protocol != s.proto && !isICMP {
		return false
	}
	return p.ACL.AllowIP(info.Dst, info.Protocol) || isICMP && p.ACL.AllowIP(info.Dst, 0)
}

func (p *IPProxy) sendToSession(s *ipSession, pkt []byte) error {
	return sendPayload(s.str, pkt, &s.capsuleMode)
}

// Run reads packets from Device and hands each to the session owning its
// destination address, until ctx is done or Device fails. Packets that do
// not fit in a datagram are answered with ICMP packet too big.
func (p *IPProxy) Run(ctx context.Context) error {
	buf := make([]byte, 65536)
	for {
		n, err := p.Device.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("masque: read device: %w", err)
		}
		pkt := buf[:n]
		info, err := ParsePacket(pkt)
		if err != nil {
			p.Stats.Malformed.Add(1)
			continue
		}
		p.mu.Lock()
		s := p.byAddr[info.Dst]
		p.mu.Unlock()
		if s == nil {
			p.Unroutable.Add(1)
			continue
		}
		msg := appendContext0(make([]byte, 0, n+1), pkt)
		if s.capsuleMode.Load() {
			s.str.WriteCapsule(capsule.TypeDatagram, msg)
			continue
		}
		err = s.str.SendDatagram(msg)
		var tooLarge *transport.DatagramTooLargeError
		if errors.As(err, &tooLarge) {
			p.Stats.Oversized.Add(1)
			if icmp, ierr := ICMPTooBig(pkt, tooLarge.MaxPayload-9, p.gateway(s)); ierr == nil {
				p.Device.Write(icmp)
			}
		}
	}
}
