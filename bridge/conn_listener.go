package bridge

/*
#include <stdlib.h>
#include "conn.h"

static long tqb_token_make(const struct tquic_conn_config *cfg, int retry,
			   const struct tquic_addr *peer, const u8 *odcid, u8 odcid_len,
			   u64 now, u8 *buf, size_t cap)
{
	return tquic_token_make(cfg->reset_key, retry, peer, odcid, odcid_len, now, buf, cap);
}

static int tqb_token_check(const struct tquic_conn_config *cfg, const struct tquic_addr *peer,
			   const u8 *token, size_t len, u64 now, u64 lifetime,
			   u8 *odcid, u8 *odcid_len)
{
	return tquic_token_check(cfg->reset_key, peer, token, len, now, lifetime, odcid, odcid_len);
}

static struct tquic_conn *tqb_conn_server(const struct tquic_conn_config *cfg,
					  struct tquic_server_params *sp, const u8 *odcid,
					  u8 odcid_len, const u8 *dcid, u8 dcid_len,
					  const u8 *scid, u8 scid_len, const u8 *cid,
					  const struct tquic_addr *local,
					  const struct tquic_addr *peer, u64 now, int *err)
{
	sp->odcid = odcid;
	sp->odcid_len = odcid_len;
	sp->dcid = dcid;
	sp->dcid_len = dcid_len;
	sp->scid = scid;
	sp->scid_len = scid_len;
	sp->cid = cid;
	return tquic_conn_server_new(cfg, sp, local, peer, now, TQUIC_GFP_KERNEL, err);
}

static long tqb_reset_build(const struct tquic_conn_config *cfg, const u8 *cid, size_t cid_len,
			    size_t trigger_len, u8 *buf, size_t cap)
{
	return tquic_stateless_reset_build(cfg->reset_key, cid, cid_len, trigger_len, buf, cap);
}
*/
import "C"

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tquic/tquic/pkg/handshake"
	"github.com/tquic/tquic/pkg/transport"
)

// retryTokenLifetime bounds how old a Retry token may be, and
// newTokenLifetime a NEW_TOKEN token.
const (
	retryTokenLifetime = 10 * time.Second
	newTokenLifetime   = 24 * time.Hour
)

// Listener accepts QUIC connections on a UDP socket; the connections
// share it (and the sockets of the preferred addresses, when the
// configuration offers them). It implements transport.Listener.
type Listener struct {
	udp   *net.UDPConn
	sock  *udpSocket          // udp with batched I/O, shared by the connections
	udpC  C.struct_tquic_addr // its local address in engine form
	pref  []*udpSocket        // sockets of the preferred addresses
	prefC []C.struct_tquic_addr
	// Tests: prefGate, when set, drops datagrams to the preferred
	// addresses until it is closed; prefRecv counts those let in.
	prefGate atomic.Pointer[chan struct{}]
	prefRecv atomic.Int64
	tlsConf  *tls.Config
	cfg      Config
	ec       C.struct_tquic_conn_config
	ctx      context.Context
	cancel   context.CancelFunc

	mu       sync.Mutex
	conns    map[string]*Conn
	live     map[*Conn]struct{}
	acceptQ  []*Conn
	acceptCh chan struct{}
	closed   bool
	sockDone bool
}

// Listen opens a UDP socket on addr and accepts connections on it.
func Listen(addr string, tlsConf *tls.Config, cfg *Config) (*Listener, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("bridge: resolve %s: %w", addr, err)
	}
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("bridge: listen %s: %w", addr, err)
	}
	l, err := ListenOn(udp, tlsConf, cfg)
	if err != nil {
		_ = udp.Close()
		return nil, err
	}
	return l, nil
}

// listenPreferred binds the sockets of the preferred addresses of cfg,
// whose ports it sets to the ones bound.
func listenPreferred(cfg *Config) ([]*net.UDPConn, error) {
	var socks []*net.UDPConn
	for _, ap := range []*netip.AddrPort{&cfg.PreferredAddressV4, &cfg.PreferredAddressV6} {
		if !ap.IsValid() {
			continue
		}
		network := "udp4"
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			network = "udp6"
		}
		u, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(*ap))
		if err != nil {
			for _, s := range socks {
				_ = s.Close()
			}
			return nil, fmt.Errorf("bridge: listen on preferred address %v: %w", *ap, err)
		}
		*ap = netip.AddrPortFrom(ap.Addr(), u.LocalAddr().(*net.UDPAddr).AddrPort().Port())
		socks = append(socks, u)
	}
	return socks, nil
}

// PreferredAddrs returns the preferred addresses the listener offers
// (with the ports bound).
func (l *Listener) PreferredAddrs() []netip.AddrPort {
	var r []netip.AddrPort
	for _, s := range l.pref {
		r = append(r, s.udp.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	return r
}

// socketFor is the socket bound to local (the listener's own one unless
// local is a preferred address).
func (l *Listener) socketFor(local *C.struct_tquic_addr) packetWriter {
	for i := range l.prefC {
		if l.prefC[i] == *local {
			return l.pref[i]
		}
	}
	return l.sock
}

func udpLocalC(u *net.UDPConn) C.struct_tquic_addr {
	ap := u.LocalAddr().(*net.UDPAddr).AddrPort()
	return connAddr(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
}

// ListenOn accepts connections on an existing UDP socket, which the
// listener then owns.
func ListenOn(udp *net.UDPConn, tlsConf *tls.Config, cfg *Config) (*Listener, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if tlsConf == nil || (len(tlsConf.Certificates) == 0 && tlsConf.GetCertificate == nil && tlsConf.GetConfigForClient == nil) {
		return nil, errors.New("bridge: listener needs a TLS certificate")
	}
	lcfg := *cfg
	pref, err := listenPreferred(&lcfg)
	if err != nil {
		return nil, err
	}
	cfg = &lcfg
	ec, err := cfg.engineConfig()
	if err != nil {
		for _, u := range pref {
			_ = u.Close()
		}
		return nil, err
	}
	// One TLS configuration for every connection, so that they share the
	// session ticket keys: a ticket one connection issues resumes (and
	// carries 0-RTT) on another.
	tlsConf = tlsConf.Clone()
	if tlsConf.MinVersion < tls.VersionTLS13 {
		tlsConf.MinVersion = tls.VersionTLS13
	}
	l := &Listener{
		udp:      udp,
		sock:     newUDPSocket(udp),
		udpC:     udpLocalC(udp),
		tlsConf:  tlsConf,
		cfg:      *cfg,
		ec:       ec,
		conns:    make(map[string]*Conn),
		live:     make(map[*Conn]struct{}),
		acceptCh: make(chan struct{}, 1),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	for _, u := range pref {
		l.pref = append(l.pref, newUDPSocket(u))
		l.prefC = append(l.prefC, udpLocalC(u))
	}
	go l.readLoop(l.sock, l.udpC, false)
	for i, s := range l.pref {
		go l.readLoop(s, l.prefC[i], true)
	}
	return l, nil
}

// Addr returns the local address.
func (l *Listener) Addr() net.Addr { return l.udp.LocalAddr() }

// Accept returns the next connection whose handshake completed.
func (l *Listener) Accept(ctx context.Context) (transport.Connection, error) {
	return l.AcceptConn(ctx)
}

// AcceptConn is Accept returning the concrete type.
func (l *Listener) AcceptConn(ctx context.Context) (*Conn, error) {
	for {
		l.mu.Lock()
		if len(l.acceptQ) > 0 {
			c := l.acceptQ[0]
			l.acceptQ = l.acceptQ[1:]
			if len(l.acceptQ) > 0 {
				signal(l.acceptCh)
			}
			l.mu.Unlock()
			return c, nil
		}
		if l.closed {
			l.mu.Unlock()
			return nil, fmt.Errorf("bridge: accept: %w", net.ErrClosed)
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.acceptCh:
		}
	}
}

// Close stops accepting. Established connections go on; the socket closes
// when the last of them is gone.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	q := l.acceptQ
	l.acceptQ = nil
	idle := len(l.live) == 0
	l.mu.Unlock()
	signal(l.acceptCh)
	for _, c := range q {
		_ = c.CloseWithError(0, "listener closed")
	}
	if idle {
		l.closeSocket()
	}
	return nil
}

func (l *Listener) closeSocket() {
	l.mu.Lock()
	done := l.sockDone
	l.sockDone = true
	l.mu.Unlock()
	if !done {
		l.cancel()
		_ = l.udp.Close()
		for _, s := range l.pref {
			_ = s.udp.Close()
		}
	}
}

// enqueue hands a connection whose handshake is done to Accept; c.mu is held.
func (l *Listener) enqueue(c *Conn) {
	if c.accepted {
		return
	}
	c.accepted = true
	l.mu.Lock()
	closed := l.closed
	if !closed {
		l.acceptQ = append(l.acceptQ, c)
	}
	l.mu.Unlock()
	signal(l.acceptCh)
}

func (l *Listener) route(cid []byte, c *Conn) {
	l.mu.Lock()
	l.conns[string(cid)] = c
	l.mu.Unlock()
}

func (l *Listener) unroute(cid []byte, c *Conn) {
	l.mu.Lock()
	if l.conns[string(cid)] == c {
		delete(l.conns, string(cid))
	}
	l.mu.Unlock()
}

// remove forgets a drained connection; c.mu is held.
func (l *Listener) remove(c *Conn) {
	l.mu.Lock()
	for id := range c.cids {
		if l.conns[id] == c {
			delete(l.conns, id)
		}
	}
	delete(l.live, c)
	last := l.closed && len(l.live) == 0
	l.mu.Unlock()
	if last {
		go l.closeSocket()
	}
}

// readLoop reads one of the listener's sockets, bound to local (a
// preferred address when pref), in batches.
func (l *Listener) readLoop(sock *udpSocket, local C.struct_tquic_addr, pref bool) {
	rb := newRecvBatch(recvBatchSize)
	var runs []connRun
	var fed []*Conn
	for {
		msgs, err := sock.readBatch(rb, true)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		fed = fed[:0]
		for i := 0; ; {
			runs = runs[:0]
			for _, m := range msgs {
				if pref && !l.prefLetIn(m) {
					continue
				}
				runs = l.dispatch(runs, sock, &local, m)
			}
			fed = feedRuns(runs, fed)
			// A full batch says more is queued: take it in before answering.
			if i++; len(msgs) < recvBatchSize || i == maxReadsPerResponse {
				break
			}
			if msgs, err = sock.readBatch(rb, false); err != nil {
				break // the next read reports it
			}
		}
		for _, c := range fed {
			c.respond()
		}
	}
}

// prefLetIn says whether a read on a preferred address's socket passes
// the tests' gate (prefGate), and counts its datagrams (prefRecv) if so.
func (l *Listener) prefLetIn(m recvMsg) bool {
	if g := l.prefGate.Load(); g != nil {
		select {
		case <-*g:
		default:
			return false
		}
	}
	n := 1
	if m.seg > 0 && m.seg < len(m.b) {
		n = (len(m.b) + m.seg - 1) / m.seg
	}
	l.prefRecv.Add(int64(n))
	return true
}

// connRun is datagrams of one read for one connection: b cut every seg
// bytes, from from to local (the address of the socket that read them).
type connRun struct {
	c     *Conn
	b     []byte
	seg   int
	local C.struct_tquic_addr
	from  netip.AddrPort
	ecn   uint8
}

// dispatch routes the datagrams of one read on sock (bound to local) to
// their connections by destination connection ID and appends them to runs,
// consecutive ones for the same connection in one run. Datagrams for no
// connection are handled at once.
func (l *Listener) dispatch(runs []connRun, sock *udpSocket, local *C.struct_tquic_addr, m recvMsg) []connRun {
	b, seg := m.b, m.seg
	if seg <= 0 || seg > len(b) {
		seg = len(b)
	}
	runStart := -1 // where the last run, if it is of this read, starts in b
	for off := 0; off < len(b); off += seg {
		d := b[off:min(off+seg, len(b))]
		c, ok := l.lookup(d)
		if c != nil && runStart >= 0 && runs[len(runs)-1].c == c {
			runs[len(runs)-1].b = b[runStart : off+len(d)]
			continue
		}
		runStart = -1
		switch {
		case c != nil:
			runs = append(runs, connRun{c: c, b: d, seg: seg, local: *local, from: m.from, ecn: m.ecn})
			runStart = off
		case ok:
			l.unknown(sock, local, d, m.from, m.ecn)
		}
	}
	return runs
}

// feedRuns hands each connection its runs, in order, under one lock, and
// appends the connections fed to fed (once each) for respond.
func feedRuns(runs []connRun, fed []*Conn) []*Conn {
	for i := range runs {
		c := runs[i].c
		if c == nil {
			continue
		}
		c.mu.Lock()
		for j := i; j < len(runs); j++ {
			if r := &runs[j]; r.c == c {
				c.input(r.b, r.seg, &r.local, r.from, r.ecn)
				r.c = nil
			}
		}
		c.mu.Unlock()
		if !slices.Contains(fed, c) {
			fed = append(fed, c)
		}
	}
	return fed
}

// lookup returns the connection a datagram is for by its destination
// connection ID; nil and true for none, nil and false for a datagram too
// short to carry one.
func (l *Listener) lookup(d []byte) (*Conn, bool) {
	var dcid []byte
	n := len(d)
	if n > 0 && d[0]&0x80 != 0 {
		if n < 6 || 6+int(d[5]) > n {
			return nil, false
		}
		dcid = d[6 : 6+int(d[5])]
	} else {
		cidLen := int(l.ec.cid_len)
		if n < 1+cidLen {
			return nil, false
		}
		dcid = d[1 : 1+cidLen]
	}
	l.mu.Lock()
	c := l.conns[string(dcid)]
	l.mu.Unlock()
	return c, true
}

// unknown handles a datagram for no known connection: a new connection,
// Version Negotiation, Retry or a stateless reset.
func (l *Listener) unknown(sock *udpSocket, local *C.struct_tquic_addr, b []byte, from netip.AddrPort,
	ecn uint8) {
	// The engine keeps pointers into the datagram in its parameters: C memory.
	n := len(b)
	mem := C.malloc(C.size_t(n + 2*int(C.TQUIC_MAX_CID_LEN) + 512))
	defer C.free(mem)
	cb := unsafe.Slice((*byte)(mem), n+2*int(C.TQUIC_MAX_CID_LEN)+512)
	copy(cb, b)
	odcid := cb[n : n+int(C.TQUIC_MAX_CID_LEN)]
	ourCID := cb[n+int(C.TQUIC_MAX_CID_LEN) : n+2*int(C.TQUIC_MAX_CID_LEN)]
	scratch := cb[n+2*int(C.TQUIC_MAX_CID_LEN):]
	out := make([]byte, 1500)

	var sp C.struct_tquic_server_params
	var tok *C.u8
	var tokLen C.size_t
	action := C.tquic_server_classify(&l.ec, (*C.u8)(mem), C.size_t(n), &sp, &tok, &tokLen)
	switch action {
	case C.TQUIC_SERVER_VERSION_NEGOTIATE:
		r := C.tquic_vn_reply(&l.ec, (*C.u8)(mem), C.size_t(n), (*C.u8)(unsafe.Pointer(&out[0])), C.size_t(len(out)))
		if r > 0 {
			_, _ = sock.WriteToUDPAddrPort(out[:r], from)
		}
		return
	case C.TQUIC_SERVER_STATELESS_RESET:
		cidLen := int(l.ec.cid_len)
		r := C.tqb_reset_build(&l.ec, (*C.u8)(unsafe.Pointer(&cb[1])), C.size_t(cidLen), C.size_t(n),
			(*C.u8)(unsafe.Pointer(&out[0])), C.size_t(len(out)))
		if r > 0 {
			_, _ = sock.WriteToUDPAddrPort(out[:r], from)
		}
		return
	case C.TQUIC_SERVER_ACCEPT:
	default:
		return
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return
	}
	peer := connAddr(from)
	now := C.u64(monoNow())
	validated, retried := false, false
	if tokLen > 0 {
		var odl C.u8
		r := C.tqb_token_check(&l.ec, &peer, tok, tokLen, now, C.u64(retryTokenLifetime),
			(*C.u8)(unsafe.Pointer(&odcid[0])), &odl)
		if r < 0 {
			// A NEW_TOKEN token lives longer than a Retry token.
			r = C.tqb_token_check(&l.ec, &peer, tok, tokLen, now, C.u64(newTokenLifetime),
				(*C.u8)(unsafe.Pointer(&odcid[0])), &odl)
			if r == 0 {
				r = -1
			}
		}
		switch r {
		case 0:
			validated, retried = true, true
			sp.odcid = (*C.u8)(unsafe.Pointer(&odcid[0]))
			sp.odcid_len = odl
		case 1:
			validated = true
		}
	}
	if l.cfg.RequireAddressValidation && !validated {
		l.sendRetry(sock, &sp, &peer, now, scratch, from)
		return
	}
	if _, err := rand.Read(ourCID[:l.ec.cid_len]); err != nil {
		return
	}
	sp.retried = C.bool(retried)
	sp.validated = C.bool(validated)
	c := newConn(l.ctx, true, &l.ec)
	c.ln = l
	c.pc = l.sock
	c.raddr = from
	c.raddrC = peer
	c.laddr = sock.udp.LocalAddr()
	var cerr C.int
	c.c = C.tqb_conn_server(&l.ec, &sp, sp.odcid, sp.odcid_len, sp.dcid, sp.dcid_len, sp.scid,
		sp.scid_len, (*C.u8)(unsafe.Pointer(&ourCID[0])), local, &peer, now, &cerr)
	if c.c == nil {
		return
	}
	c.hs = handshake.NewServer(handshake.Config{TLS: l.tlsConf, EnableEarlyData: l.cfg.EnableEarlyData}, engine{c})
	initialDCID := C.GoBytes(unsafe.Pointer(sp.dcid), C.int(sp.dcid_len))
	c.mu.Lock()
	c.cids[string(initialDCID)] = struct{}{}
	c.cids[string(ourCID[:l.ec.cid_len])] = struct{}{}
	l.mu.Lock()
	l.live[c] = struct{}{}
	for id := range c.cids {
		l.conns[id] = c
	}
	l.mu.Unlock()
	if err := c.hs.Start(l.ctx); err != nil {
		c.free()
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.handleDatagram(b, local, from, ecn)
	// A datagram that passed classification but not authentication must
	// not leave state behind: forged Initials would otherwise pin
	// connections until their handshake timeout.
	c.mu.Lock()
	if c.c != nil {
		var st C.struct_tquic_conn_stats
		C.tquic_conn_stats(c.c, &st)
		if st.pkts_recv == 0 {
			c.free()
		}
	}
	c.mu.Unlock()
}

func (l *Listener) sendRetry(sock *udpSocket, sp *C.struct_tquic_server_params, peer *C.struct_tquic_addr,
	now C.u64, scratch []byte, from netip.AddrPort) {
	newSCID := scratch[:l.ec.cid_len]
	if _, err := rand.Read(newSCID); err != nil {
		return
	}
	token := scratch[64:320]
	tl := C.tqb_token_make(&l.ec, 1, peer, sp.dcid, sp.dcid_len, now,
		(*C.u8)(unsafe.Pointer(&token[0])), C.size_t(len(token)))
	if tl <= 0 {
		return
	}
	out := make([]byte, 1500)
	r := C.tquic_retry_reply(sp, (*C.u8)(unsafe.Pointer(&newSCID[0])), C.u8(len(newSCID)),
		(*C.u8)(unsafe.Pointer(&token[0])), C.size_t(tl), (*C.u8)(unsafe.Pointer(&out[0])),
		C.size_t(len(out)), C.TQUIC_GFP_KERNEL)
	if r > 0 {
		_, _ = sock.WriteToUDPAddrPort(out[:r], from)
	}
}

var _ transport.Listener = (*Listener)(nil)
