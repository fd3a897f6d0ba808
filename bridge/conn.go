package bridge

/*
#include <stdlib.h>
#include "conn.h"
#include "buf_user.h"
#include "batch.h"
#include "pacer.h"

static struct tquic_conn *tqb_conn_client(const struct tquic_conn_config *cfg, u32 version,
					  const u8 *dcid, u8 dcid_len, const u8 *scid,
					  u8 scid_len, const struct tquic_addr *peer,
					  u64 now, int *err)
{
	return tquic_conn_client_new(cfg, version, dcid, dcid_len, scid, scid_len, NULL, peer,
				     now, TQUIC_GFP_KERNEL, err);
}

static void tqb_cfg_set_cc(struct tquic_conn_config *cfg, const char *name)
{
	size_t n = strlen(name);

	if (n >= sizeof(cfg->cc_name))
		n = sizeof(cfg->cc_name) - 1;
	memcpy(cfg->cc_name, name, n);
	cfg->cc_name[n] = 0;
}
*/
import "C"

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"github.com/tquic/tquic/pkg/handshake"
	"github.com/tquic/tquic/pkg/transport"
)

// Errors reported for connections that ended without an application close.
var (
	// ErrIdleTimeout: no packet arrived within the idle timeout.
	ErrIdleTimeout = errors.New("bridge: idle timeout")
	// ErrStatelessReset: the peer answered with a stateless reset.
	ErrStatelessReset = errors.New("bridge: stateless reset")
	// ErrHandshakeTimeout: the handshake did not finish in time.
	ErrHandshakeTimeout = errors.New("bridge: handshake timeout")
	// ErrVersionNegotiation: the server speaks none of our versions.
	ErrVersionNegotiation = errors.New("bridge: no common QUIC version")
)

// Config configures connections of the user-space host. The zero value
// is usable: QUIC v1 preferred, v2 offered, CUBIC, pacing, 30 s idle
// timeout.
type Config struct {
	// Versions in preference order (Version1, Version2). A client sends
	// its first Initial in the first one and offers the others for
	// compatible version negotiation; a server picks its most preferred
	// version the client offers.
	Versions []uint32
	// CongestionControl names the controller ("cubic", "newreno").
	CongestionControl string
	// DisablePacing turns pacing off.
	DisablePacing bool
	// ECN marks packets ECT(0) and validates ECN (the socket must pass
	// the codepoints through).
	ECN bool
	// MaxIdleTimeout is the idle timeout we advertise (0: 30 s).
	MaxIdleTimeout time.Duration
	// HandshakeTimeout bounds Dial's handshake (0: 10 s).
	HandshakeTimeout time.Duration
	// EnableDatagrams offers RFC 9221 datagrams.
	EnableDatagrams bool
	// MaxDatagramSize is the largest UDP payload we send (0: 1452).
	MaxDatagramSize int
	// InitialStreamWindow, InitialConnectionWindow are the flow-control
	// windows we advertise; they grow by auto-tuning up to the Max ones.
	InitialStreamWindow     uint64
	InitialConnectionWindow uint64
	MaxStreamWindow         uint64
	MaxConnectionWindow     uint64
	// MaxIncomingStreams and MaxIncomingUniStreams bound the peer's
	// concurrent streams (0: 100).
	MaxIncomingStreams    int64
	MaxIncomingUniStreams int64
	// SendBuffer is the per-stream send buffer (0: 1 MB).
	SendBuffer uint64
	// KeyUpdateInterval initiates a 1-RTT key update every N packets.
	KeyUpdateInterval uint64
	// RequireAddressValidation makes a server answer first Initials
	// without a valid token with a Retry.
	RequireAddressValidation bool
	// StatelessResetKey derives stateless reset tokens and address
	// validation tokens; a random key is used when nil.
	StatelessResetKey *[32]byte
	// EnableEarlyData lets a server accept 0-RTT.
	EnableEarlyData bool
	// TokenStore keeps the address validation tokens servers send in
	// NEW_TOKEN frames, by server name (the TLS ServerName, else the
	// address dialed); a client puts the newest one in its first Initial,
	// so that a server requiring address validation needs no Retry.
	TokenStore TokenStore
	// DisableNewTokens stops a server from sending NEW_TOKEN frames.
	DisableNewTokens bool
	// PreferredAddressV4 and PreferredAddressV6 make a server offer a
	// preferred_address (RFC 9000 section 9.6) of each family set: the
	// listener also receives on a socket bound to it (port 0 picks a free
	// port: Listener.PreferredAddrs tells which), and clients that follow
	// it move their connections there once the handshake is confirmed.
	PreferredAddressV4, PreferredAddressV6 netip.AddrPort
	// DisablePreferredAddress keeps a client on the address it dialed
	// even when the server offers a preferred address.
	DisablePreferredAddress bool
}

// TokenStore keeps NEW_TOKEN tokens for clients. Implementations must be
// safe for concurrent use.
type TokenStore interface {
	// Put stores a token received from the server named key.
	Put(key string, token []byte)
	// Pop returns (and forgets: a token is used once) the newest token
	// for key, nil if none.
	Pop(key string) []byte
}

// NewTokenStore returns an in-memory TokenStore keeping up to perKey
// tokens for each server.
func NewTokenStore(perKey int) TokenStore {
	if perKey < 1 {
		perKey = 1
	}
	return &memTokenStore{perKey: perKey, m: make(map[string][][]byte)}
}

type memTokenStore struct {
	mu     sync.Mutex
	perKey int
	m      map[string][][]byte
}

func (s *memTokenStore) Put(key string, token []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := append(s.m[key], append([]byte(nil), token...))
	if len(l) > s.perKey {
		l = l[len(l)-s.perKey:]
	}
	s.m[key] = l
}

func (s *memTokenStore) Pop(key string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.m[key]
	if len(l) == 0 {
		return nil
	}
	t := l[len(l)-1]
	if len(l) == 1 {
		delete(s.m, key)
	} else {
		s.m[key] = l[:len(l)-1]
	}
	return t
}

func (cfg *Config) engineConfig() (C.struct_tquic_conn_config, error) {
	var ec C.struct_tquic_conn_config
	C.tquic_conn_config_init(&ec)
	if cfg == nil {
		cfg = &Config{}
	}
	if len(cfg.Versions) > 0 {
		if len(cfg.Versions) > int(C.TQUIC_CONN_MAX_VERSIONS) {
			return ec, fmt.Errorf("bridge: at most %d versions", int(C.TQUIC_CONN_MAX_VERSIONS))
		}
		for i, v := range cfg.Versions {
			ec.versions[i] = C.u32(v)
		}
		ec.n_versions = C.u32(len(cfg.Versions))
	}
	if cfg.CongestionControl != "" {
		cs := C.CString(cfg.CongestionControl)
		C.tqb_cfg_set_cc(&ec, cs)
		C.free(unsafe.Pointer(cs))
	}
	ec.pacing = C.bool(!cfg.DisablePacing)
	ec.ecn = C.bool(cfg.ECN)
	if cfg.MaxIdleTimeout > 0 {
		ec.idle_timeout = C.u64(cfg.MaxIdleTimeout / time.Millisecond)
	}
	if cfg.EnableDatagrams {
		ec.max_datagram_frame_size = 65535
	}
	if cfg.MaxDatagramSize > 0 {
		ec.max_datagram_size = C.u32(cfg.MaxDatagramSize)
	}
	if cfg.InitialStreamWindow > 0 {
		ec.limits.max_stream_data_bidi_local = C.u64(cfg.InitialStreamWindow)
		ec.limits.max_stream_data_bidi_remote = C.u64(cfg.InitialStreamWindow)
		ec.limits.max_stream_data_uni = C.u64(cfg.InitialStreamWindow)
	}
	if cfg.InitialConnectionWindow > 0 {
		ec.limits.max_data = C.u64(cfg.InitialConnectionWindow)
	}
	if cfg.MaxStreamWindow > 0 {
		ec.max_stream_window = C.u64(cfg.MaxStreamWindow)
	}
	if cfg.MaxConnectionWindow > 0 {
		ec.max_conn_window = C.u64(cfg.MaxConnectionWindow)
	}
	if cfg.MaxIncomingStreams > 0 {
		ec.limits.max_streams_bidi = C.u64(cfg.MaxIncomingStreams)
	}
	if cfg.MaxIncomingUniStreams > 0 {
		ec.limits.max_streams_uni = C.u64(cfg.MaxIncomingUniStreams)
	}
	if cfg.SendBuffer > 0 {
		ec.send_buffer = C.u64(cfg.SendBuffer)
	}
	ec.pacing_burst = C.u32(pacingBurst(int(ec.max_datagram_size), int(C.TQUIC_PACER_BURST_PACKETS)))
	ec.max_frags = C.u32(maxFrags(uint32(ec.max_frags), uint64(ec.max_stream_window)))
	ec.key_update_packets = C.u64(cfg.KeyUpdateInterval)
	ec.new_token = C.bool(!cfg.DisableNewTokens)
	ec.disable_preferred_address = C.bool(cfg.DisablePreferredAddress)
	if ap := cfg.PreferredAddressV4; ap.IsValid() {
		if !ap.Addr().Unmap().Is4() || ap.Port() == 0 {
			return ec, fmt.Errorf("bridge: preferred IPv4 address %v: not an IPv4 address and port", ap)
		}
		ec.preferred_v4 = connAddr(ap)
	}
	if ap := cfg.PreferredAddressV6; ap.IsValid() {
		if !ap.Addr().Is6() || ap.Addr().Is4In6() || ap.Port() == 0 {
			return ec, fmt.Errorf("bridge: preferred IPv6 address %v: not an IPv6 address and port", ap)
		}
		ec.preferred_v6 = connAddr(ap)
	}
	if cfg.StatelessResetKey != nil {
		for i, b := range cfg.StatelessResetKey {
			ec.reset_key[i] = C.u8(b)
		}
	} else {
		var k [32]byte
		if _, err := rand.Read(k[:]); err != nil {
			return ec, fmt.Errorf("bridge: reset key: %w", err)
		}
		for i, b := range k {
			ec.reset_key[i] = C.u8(b)
		}
	}
	return ec, nil
}

var epoch = time.Now()

// monoNow is the engine's clock: nanoseconds since the package loaded.
func monoNow() uint64 { return uint64(time.Since(epoch)) + 1 }

func connAddr(ap netip.AddrPort) C.struct_tquic_addr {
	var a C.struct_tquic_addr
	ip := ap.Addr().Unmap()
	if ip.Is4() {
		a.family = C.TQUIC_ADDR_V4
		b := ip.As4()
		for i := range b {
			a.addr[i] = C.u8(b[i])
		}
	} else {
		a.family = C.TQUIC_ADDR_V6
		b := ip.As16()
		for i := range b {
			a.addr[i] = C.u8(b[i])
		}
	}
	a.port = C.u16(ap.Port())
	return a
}

// packetWriter sends datagrams for a connection (its own socket or the
// listener's shared one).
type packetWriter interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// vnError carries a Version Negotiation outcome from one dial attempt.
type vnError struct {
	pick uint32
	err  error
}

func (e *vnError) Error() string { return e.err.Error() }
func (e *vnError) Unwrap() error { return e.err }

func (cfg *Config) versions() []uint32 {
	if cfg == nil || len(cfg.Versions) == 0 {
		return []uint32{Version1, Version2}
	}
	return cfg.Versions
}

// Conn is a QUIC connection run by the engine in user space over a UDP
// socket. It implements transport.Connection.
type Conn struct {
	mu       sync.Mutex
	c        *C.struct_tquic_conn
	hs       *handshake.Driver
	isServer bool
	pc       packetWriter
	udp      *net.UDPConn // client: owned socket
	raddr    netip.AddrPort
	raddrC   C.struct_tquic_addr // raddr in engine form
	laddr    net.Addr
	ln       *Listener
	cids     map[string]struct{}

	timer    *time.Timer
	deadline uint64
	// Send batches (flush, under mu): the datagrams the engine built back
	// to back in sendBuf, described in sent and then in out; sendOOB is
	// control message scratch.
	sendBuf []byte
	sent    []C.struct_tqb_sent
	out     []outDatagram
	sendOOB []byte
	runs    []flushRun
	// flushing: a flush runs (and may have let go of mu to send);
	// flushAgain: it must build again, something more became due.
	flushing, flushAgain bool
	maxDgram             int // the largest datagram the engine builds
	cryptBuf             []byte

	streams    map[int64]*Stream
	acceptBidi []*Stream
	acceptUni  []*Stream
	acceptCh   chan struct{} // signalled when a stream is queued
	openCh     chan struct{} // signalled when the peer raises stream limits
	dgramCh    chan struct{}

	hsDone     chan struct{}
	hsDoneOnce sync.Once
	ctx        context.Context
	cancel     context.CancelCauseFunc
	closeErr   error
	version    uint32
	tlsState   tls.ConnectionState
	datagrams  bool
	used0RTT   bool
	accepted   bool // server: handed to Accept
	freed      bool
	stats      C.struct_tquic_conn_stats
	// clock, when set, replaces the monotonic clock (simulation); timers
	// are then the simulator's business.
	clock func() uint64
	// vnPick is the version a Version Negotiation packet offered (client).
	vnPick uint32
	// tokens keeps NEW_TOKEN tokens under tokenKey (client).
	tokens   TokenStore
	tokenKey string
	// movedToPreferred: the client follows the server's preferred address.
	movedToPreferred bool
}

// now is the engine time of the connection.
func (c *Conn) now() uint64 {
	if c.clock != nil {
		return c.clock()
	}
	return monoNow()
}

// sendBatchBytes and sendBatchDatagrams bound one send batch: one GSO
// send of full-size datagrams fits.
const (
	sendBatchBytes     = 65536
	sendBatchDatagrams = maxGSOSegments
)

// pacingBurst is how many datagrams of maxDgram bytes a paced path sends
// back to back. User-space timers fire tens of microseconds late: a whole
// batch (one GSO send) per wake-up rather than the engine's default burst,
// which suits the kernel host's hrtimers and stays the floor for
// datagrams so large that few fit in a batch.
func pacingBurst(maxDgram, engineDefault int) int {
	return max(engineDefault, min(sendBatchDatagrams, sendBatchBytes/maxDgram))
}

// maxFragBytes is the smallest average fragment a stream's full window
// may be stored in without being collapsed.
const maxFragBytes = 1024

// maxFrags is the per-stream fragment limit: a stream whose reader lags
// holds up to a window of packets, and below this many fragments keeps
// them as they came rather than copying them into chunks (one copy more
// of every byte). Memory stays bounded by the window either way.
func maxFrags(engineDefault uint32, maxStreamWindow uint64) uint32 {
	return uint32(max(uint64(engineDefault), min(maxStreamWindow/maxFragBytes, 1<<16)))
}

// newConn makes a connection whose engine is configured by ec.
func newConn(ctx context.Context, isServer bool, ec *C.struct_tquic_conn_config) *Conn {
	c := &Conn{
		isServer: isServer,
		sendBuf:  make([]byte, sendBatchBytes),
		sent:     make([]C.struct_tqb_sent, sendBatchDatagrams),
		out:      make([]outDatagram, 0, sendBatchDatagrams),
		sendOOB:  make([]byte, 0, sendOOBSpace),
		maxDgram: int(ec.max_datagram_size),
		cryptBuf: make([]byte, 16384),
		streams:  make(map[int64]*Stream),
		acceptCh: make(chan struct{}, 1),
		openCh:   make(chan struct{}, 1),
		dgramCh:  make(chan struct{}, 1),
		hsDone:   make(chan struct{}),
		cids:     make(map[string]struct{}),
	}
	c.ctx, c.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	c.timer = time.AfterFunc(time.Hour, c.onTimer)
	c.timer.Stop()
	return c
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// engine adapts the connection to handshake.Engine; its methods run under c.mu.
type engine struct{ c *Conn }

func (e engine) InstallSecret(level handshake.Level, write bool, suite uint16, secret []byte) error {
	if len(secret) == 0 {
		return errors.New("empty secret")
	}
	r := C.tquic_conn_install_secret(e.c.c, uint32(level), C.bool(write), C.u16(suite),
		(*C.u8)(unsafe.Pointer(&secret[0])), C.size_t(len(secret)), C.u64(e.c.now()), C.TQUIC_GFP_KERNEL)
	if r != 0 {
		return fmt.Errorf("engine: install secret: errno %d", -int(r))
	}
	return nil
}

func (e engine) WriteCrypto(level handshake.Level, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	r := C.tquic_conn_crypto_write(e.c.c, uint32(level), (*C.u8)(unsafe.Pointer(&data[0])),
		C.size_t(len(data)), C.TQUIC_GFP_KERNEL)
	if r != 0 {
		return fmt.Errorf("engine: crypto write: errno %d", -int(r))
	}
	return nil
}

func (e engine) LocalTransportParameters() ([]byte, error) {
	buf := make([]byte, 1024)
	n := C.tquic_conn_local_tparams(e.c.c, (*C.u8)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	if n < 0 {
		return nil, fmt.Errorf("engine: encode transport parameters: errno %d", -int(n))
	}
	return buf[:n], nil
}

func (e engine) SetPeerTransportParameters(p []byte) error {
	var ptr *C.u8
	if len(p) > 0 {
		ptr = (*C.u8)(unsafe.Pointer(&p[0]))
	}
	r := C.tquic_conn_set_peer_tparams(e.c.c, ptr, C.size_t(len(p)), C.u64(e.c.now()))
	if r != 0 {
		return fmt.Errorf("engine: peer transport parameters rejected (code %#x)", int(r))
	}
	return nil
}

func (e engine) ZeroRTTParameters() ([]byte, error) {
	buf := make([]byte, 256)
	n := C.tquic_conn_zero_rtt_tparams(e.c.c, (*C.u8)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	if n < 0 {
		return nil, fmt.Errorf("engine: 0-RTT transport parameters: errno %d", -int(n))
	}
	return buf[:n], nil
}

func (e engine) SetZeroRTTParameters(p []byte) error {
	if len(p) == 0 {
		return errors.New("engine: empty 0-RTT transport parameters")
	}
	r := C.tquic_conn_set_zero_rtt_tparams(e.c.c, (*C.u8)(unsafe.Pointer(&p[0])), C.size_t(len(p)))
	if r != 0 {
		return fmt.Errorf("engine: 0-RTT transport parameters: errno %d", -int(r))
	}
	return nil
}

func (e engine) HandshakeComplete() { C.tquic_conn_handshake_complete(e.c.c, C.u64(e.c.now())) }

func (e engine) Alert(alert uint8) { C.tquic_conn_tls_alert(e.c.c, C.u8(alert), C.u64(e.c.now())) }

func (e engine) RejectedEarlyData() { C.tquic_conn_early_data_rejected(e.c.c, C.u64(e.c.now())) }

// ---- the event loop pieces, all under c.mu ----

// handleDatagram feeds one datagram and runs everything it triggers.
// @local is the address it came to (nil: unknown), @ecn its IP ECN
// codepoint.
func (c *Conn) handleDatagram(b []byte, local *C.struct_tquic_addr, from netip.AddrPort, ecn uint8) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return
	}
	c.input(b, 0, local, from, ecn)
	c.afterInput()
}

// inputReads feeds the reads of one batch of a client's socket (whose
// local address the engine is not told); respond then runs what they
// triggered.
func (c *Conn) inputReads(msgs []recvMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		c.input(m.b, m.seg, nil, m.from, m.ecn)
	}
}

// respond runs what the input fed since the last call triggered: TLS,
// events, one flush (one ACK for all of it), the timer.
func (c *Conn) respond() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c != nil {
		c.afterInput()
	}
}

// input feeds the engine the datagrams of b cut every seg bytes, from
// from to local (nil: unknown); c.mu is held. The caller runs afterInput.
func (c *Conn) input(b []byte, seg int, local *C.struct_tquic_addr, from netip.AddrPort, ecn uint8) {
	if c.c == nil || len(b) == 0 {
		return
	}
	peer := connAddr(from)
	C.tqb_conn_recv_batch(c.c, (*C.u8)(unsafe.Pointer(&b[0])), C.size_t(len(b)), C.size_t(seg), local,
		&peer, C.u8(ecn), C.u64(c.now()))
}

func (c *Conn) onTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return
	}
	c.deadline = 0
	C.tquic_conn_on_timeout(c.c, C.u64(c.now()))
	c.afterInput()
}

// afterInput drives TLS with received CRYPTO data, dispatches events,
// sends what is due and re-arms the timer.
func (c *Conn) afterInput() {
	c.driveTLS()
	c.drainEvents()
	c.flush()
	c.drainEvents()
	c.armTimer()
}

func (c *Conn) driveTLS() {
	if c.c == nil || c.hs == nil {
		return
	}
	for progress := true; progress; {
		progress = false
		for _, lvl := range []handshake.Level{tls.QUICEncryptionLevelInitial,
			tls.QUICEncryptionLevelHandshake, tls.QUICEncryptionLevelApplication} {
			for {
				n := C.tquic_conn_crypto_read(c.c, uint32(lvl), (*C.u8)(unsafe.Pointer(&c.cryptBuf[0])),
					C.size_t(len(c.cryptBuf)))
				if n <= 0 {
					break
				}
				progress = true
				if err := c.hs.HandleData(lvl, c.cryptBuf[:n]); err != nil {
					return
				}
			}
		}
	}
}

// flushMaxDatagrams bounds one flush, so that a connection with much to
// send lets go of its lock now and then.
const flushMaxDatagrams = 4096

// flush sends what the engine has to send now, in batches: one cgo call
// builds many datagrams, the socket sends them in as few system calls as
// it can (GSO). On a real socket c.mu is let go during each send, so that
// ACKs are processed meanwhile; one flush runs at a time, and a flush
// asked for during another one's send is left to it (c.flushAgain).
func (c *Conn) flush() {
	if c.c == nil {
		return
	}
	if c.flushing {
		c.flushAgain = true
		return
	}
	c.flushing = true
	defer func() { c.flushing = false }()
	for total := 0; total < flushMaxDatagrams; {
		c.flushAgain = false
		var full C.int
		n := int(C.tqb_conn_send_batch(c.c, (*C.u8)(unsafe.Pointer(&c.sendBuf[0])), C.size_t(len(c.sendBuf)),
			C.size_t(c.maxDgram), C.u64(c.now()), &c.sent[0], C.size_t(len(c.sent)), &full))
		if n <= 0 {
			return
		}
		total += n
		c.out = c.out[:0]
		for i := range n {
			d := &c.sent[i]
			to := c.raddr
			if d.peer.family != 0 && d.peer != c.raddrC {
				// The engine moved the active path (path 0) or probes another address.
				to = addrPortFromC(&d.peer)
				if d.path_id == 0 {
					c.raddr, c.raddrC = to, d.peer
				}
			}
			c.out = append(c.out, outDatagram{off: int(d.off), len: int(d.len), ecn: uint8(d.ecn), to: to})
		}
		// Each run of datagrams from the same local address leaves from
		// its socket.
		c.runs = c.runs[:0]
		for i := 0; i < n; {
			j := i + 1
			for j < n && c.sent[j].local == c.sent[i].local {
				j++
			}
			c.runs = append(c.runs, flushRun{pc: c.writerFor(&c.sent[i].local), ds: c.out[i:j], local: c.sent[i].local})
			i = j
		}
		unlock := c.clock == nil
		if unlock {
			c.mu.Unlock()
		}
		for i := range c.runs {
			r := &c.runs[i]
			c.write(r.pc, r.ds, &r.local)
		}
		if unlock {
			c.mu.Lock()
			if c.c == nil {
				return
			}
		}
		if full == 0 && !c.flushAgain && !c.sendDue() {
			return
		}
	}
}

// flushRun is datagrams of a send batch that leave from local through pc.
type flushRun struct {
	pc    packetWriter
	ds    []outDatagram
	local C.struct_tquic_addr
}

// writerFor is where datagrams from local leave: the listener's socket
// bound to it (a preferred address) or the connection's own.
func (c *Conn) writerFor(local *C.struct_tquic_addr) packetWriter {
	if c.ln != nil {
		return c.ln.socketFor(local)
	}
	return c.pc
}

// write sends datagrams of sendBuf that leave from local through pc:
// batched on a UDP socket, else one by one. Send errors are losses as far
// as QUIC is concerned. Only the flush running calls it.
func (c *Conn) write(pc packetWriter, ds []outDatagram, local *C.struct_tquic_addr) {
	switch w := pc.(type) {
	case *udpSocket:
		_ = w.send(c.sendBuf, ds, c.sendOOB)
	case fromWriter:
		from := addrPortFromC(local)
		for _, d := range ds {
			w.writeFrom(c.sendBuf[d.off:d.off+d.len], from, d.to)
		}
	default:
		for _, d := range ds {
			_ = writeECN(pc, c.sendBuf[d.off:d.off+d.len], c.sendOOB[:cap(c.sendOOB)], d.ecn, d.to)
		}
	}
}

// fromWriter is a packetWriter that is told the source address too (the
// simulator's network).
type fromWriter interface {
	writeFrom(b []byte, from, to netip.AddrPort)
}

// sendDue says the engine's next deadline has passed: sending the last
// batch took long enough for the pacer to let more go, so flush goes on
// rather than leaving it to the timer, a goroutine wake-up later.
func (c *Conn) sendDue() bool {
	if c.c == nil || c.clock != nil {
		return false
	}
	d := uint64(C.tquic_conn_next_deadline(c.c))
	return d != math.MaxUint64 && d <= c.now()
}

// addrPortFromC converts an engine address (the zero AddrPort for none).
func addrPortFromC(a *C.struct_tquic_addr) netip.AddrPort {
	var ip netip.Addr
	if a.family == C.TQUIC_ADDR_NONE {
		return netip.AddrPort{}
	}
	if a.family == C.TQUIC_ADDR_V4 {
		ip = netip.AddrFrom4([4]byte{byte(a.addr[0]), byte(a.addr[1]), byte(a.addr[2]), byte(a.addr[3])})
	} else {
		var b [16]byte
		for i := range b {
			b[i] = byte(a.addr[i])
		}
		ip = netip.AddrFrom16(b)
	}
	return netip.AddrPortFrom(ip, uint16(a.port))
}

func (c *Conn) armTimer() {
	if c.clock != nil {
		return
	}
	if c.c == nil {
		c.timer.Stop()
		return
	}
	d := uint64(C.tquic_conn_next_deadline(c.c))
	if d == math.MaxUint64 {
		c.timer.Stop()
		c.deadline = 0
		return
	}
	if d == c.deadline {
		return
	}
	c.deadline = d
	now := c.now()
	wait := time.Duration(0)
	if d > now {
		wait = time.Duration(d - now)
	}
	c.timer.Reset(wait)
}

func (c *Conn) drainEvents() {
	if c.c == nil {
		return
	}
	var ev C.struct_tquic_event
	for c.c != nil && C.tquic_conn_next_event(c.c, &ev) {
		switch ev._type {
		case C.TQUIC_EV_STREAM:
			if s := c.streams[int64(ev.id)]; s != nil {
				s.onEvent(uint32(ev.flags))
			}
		case C.TQUIC_EV_STREAMS_AVAILABLE:
			signal(c.openCh)
		case C.TQUIC_EV_HANDSHAKE_DONE:
			c.onHandshakeDone()
		case C.TQUIC_EV_CLOSED:
			c.onClosed()
		case C.TQUIC_EV_DRAINED:
			c.onClosed()
			c.free()
			return
		case C.TQUIC_EV_CID_NEW:
			c.cidAdd(C.GoBytes(unsafe.Pointer(&ev.data[0]), C.int(ev.len)))
		case C.TQUIC_EV_CID_RETIRED:
			c.cidRemove(C.GoBytes(unsafe.Pointer(&ev.data[0]), C.int(ev.len)))
		case C.TQUIC_EV_DATAGRAM:
			signal(c.dgramCh)
		case C.TQUIC_EV_VERSION_NEGOTIATION:
			c.vnPick = uint32(ev.code)
		case C.TQUIC_EV_NEW_TOKEN:
			c.storeNewToken()
		case C.TQUIC_EV_PREFERRED_ADDRESS:
			// The active path moved to the server's preferred address.
			c.raddrC = *(*C.struct_tquic_addr)(unsafe.Pointer(&ev.data[0]))
			c.raddr = addrPortFromC(&c.raddrC)
			c.movedToPreferred = true
		}
	}
	c.acceptNew()
}

// storeNewToken keeps the token of a NEW_TOKEN frame for the next
// connection to the same server.
func (c *Conn) storeNewToken() {
	if c.tokens == nil || c.isServer {
		return
	}
	buf := make([]byte, int(C.TQUIC_TOKEN_MAX))
	n := C.tquic_conn_new_token(c.c, (*C.u8)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	if n > 0 {
		c.tokens.Put(c.tokenKey, buf[:n])
	}
}

func (c *Conn) acceptNew() {
	var id C.u64
	for c.c != nil && C.tquic_conn_stream_accept(c.c, &id) {
		s := c.newStream(int64(id))
		if transport.StreamID(id).IsUnidirectional() {
			c.acceptUni = append(c.acceptUni, s)
		} else {
			c.acceptBidi = append(c.acceptBidi, s)
		}
		signal(c.acceptCh)
	}
}

func (c *Conn) onHandshakeDone() {
	if c.hs != nil {
		c.tlsState = c.hs.ConnectionState()
	}
	c.version = uint32(C.tquic_conn_version(c.c))
	c.datagrams = bool(C.tquic_conn_datagrams_enabled(c.c))
	c.used0RTT = bool(C.tquic_conn_early_data_accepted(c.c))
	// Streams opened before the handshake wait for the peer's limits.
	signal(c.openCh)
	c.hsDoneOnce.Do(func() { close(c.hsDone) })
	if c.ln != nil {
		c.ln.enqueue(c)
	}
}

// onClosed records why the connection ended and wakes every waiter.
func (c *Conn) onClosed() {
	if c.closeErr != nil || c.c == nil {
		return
	}
	var ci C.struct_tquic_close_info
	if !C.tquic_conn_close_info(c.c, &ci) {
		ci.flags = C.TQUIC_CLOSE_F_IDLE
	}
	remote := ci.flags&C.TQUIC_CLOSE_F_REMOTE != 0
	var reason string
	if ci.reason_len > 0 {
		reason = C.GoStringN((*C.char)(unsafe.Pointer(ci.reason)), C.int(ci.reason_len))
	}
	switch {
	case ci.flags&C.TQUIC_CLOSE_F_RESET != 0:
		c.closeErr = &transport.TransportError{Err: ErrStatelessReset}
	case ci.flags&C.TQUIC_CLOSE_F_IDLE != 0:
		if ci.flags&C.TQUIC_CLOSE_F_HANDSHAKE != 0 {
			c.closeErr = &transport.TransportError{Err: ErrHandshakeTimeout}
		} else {
			c.closeErr = &transport.TransportError{Err: ErrIdleTimeout}
		}
	case ci.flags&C.TQUIC_CLOSE_F_APP != 0:
		c.closeErr = &transport.ApplicationError{ErrorCode: transport.ErrorCode(ci.code), Message: reason, Remote: remote}
	case ci.code == C.TQUIC_ERR_VERSION_NEGOTIATION_ERROR && ci.flags&C.TQUIC_CLOSE_F_HANDSHAKE != 0 && remote:
		c.closeErr = &transport.TransportError{Code: uint64(ci.code), Err: ErrVersionNegotiation}
	default:
		who := "local"
		if remote {
			who = "remote"
		}
		err := fmt.Errorf("bridge: %s transport error %#x", who, uint64(ci.code))
		if reason != "" {
			err = fmt.Errorf("bridge: %s transport error %#x: %s", who, uint64(ci.code), reason)
		}
		if c.hs != nil && c.hs.Err() != nil && !remote {
			err = fmt.Errorf("%w (%w)", err, c.hs.Err())
		}
		c.closeErr = &transport.TransportError{Code: uint64(ci.code), Err: err}
	}
	c.cancel(c.closeErr)
	for _, s := range c.streams {
		s.wake()
	}
	signal(c.acceptCh)
	signal(c.openCh)
	signal(c.dgramCh)
	if c.ln != nil && !c.accepted {
		c.hsDoneOnce.Do(func() { close(c.hsDone) })
	}
}

// free releases the engine connection once it is drained.
func (c *Conn) free() {
	if c.freed {
		return
	}
	c.freed = true
	c.timer.Stop()
	if c.c != nil {
		C.tquic_conn_stats(c.c, &c.stats)
		C.tquic_conn_free(c.c)
		c.c = nil
	}
	if c.hs != nil {
		_ = c.hs.Close()
	}
	if c.ln != nil {
		c.ln.remove(c)
	}
	if c.udp != nil {
		_ = c.udp.Close()
	}
	for _, s := range c.streams {
		s.wake()
	}
}

func (c *Conn) cidAdd(id []byte) {
	c.cids[string(id)] = struct{}{}
	if c.ln != nil {
		c.ln.route(id, c)
	}
}

func (c *Conn) cidRemove(id []byte) {
	delete(c.cids, string(id))
	if c.ln != nil {
		c.ln.unroute(id, c)
	}
}

// err returns the connection's close error, or nil while it is open.
func (c *Conn) errLocked() error {
	if c.closeErr != nil {
		return c.closeErr
	}
	if c.c == nil {
		return net.ErrClosed
	}
	return nil
}

// ---- transport.Connection ----

func (c *Conn) openStream(ctx context.Context, uni bool) (*Stream, error) {
	for {
		c.mu.Lock()
		if err := c.errLocked(); err != nil {
			c.mu.Unlock()
			return nil, err
		}
		var id C.u64
		r := C.tquic_conn_stream_open(c.c, C.bool(uni), &id, C.TQUIC_GFP_KERNEL)
		if r == 0 {
			s := c.newStream(int64(id))
			c.mu.Unlock()
			return s, nil
		}
		if r != -C.EAGAIN {
			c.mu.Unlock()
			return nil, fmt.Errorf("bridge: open stream: errno %d", -int(r))
		}
		c.flush() // STREAMS_BLOCKED
		c.armTimer()
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
		case <-c.openCh:
		}
	}
}

// OpenStream opens a bidirectional stream, waiting for stream credit.
func (c *Conn) OpenStream(ctx context.Context) (transport.Stream, error) {
	return c.openStream(ctx, false)
}

// OpenUniStream opens a unidirectional stream, waiting for stream credit.
func (c *Conn) OpenUniStream(ctx context.Context) (transport.SendStream, error) {
	return c.openStream(ctx, true)
}

func (c *Conn) accept(ctx context.Context, uni bool) (*Stream, error) {
	for {
		c.mu.Lock()
		q := &c.acceptBidi
		if uni {
			q = &c.acceptUni
		}
		if len(*q) > 0 {
			s := (*q)[0]
			*q = (*q)[1:]
			if len(*q) > 0 {
				signal(c.acceptCh)
			}
			c.mu.Unlock()
			return s, nil
		}
		if err := c.errLocked(); err != nil {
			c.mu.Unlock()
			return nil, err
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.acceptCh:
		}
	}
}

// AcceptStream returns the next bidirectional stream the peer opened.
func (c *Conn) AcceptStream(ctx context.Context) (transport.Stream, error) {
	return c.accept(ctx, false)
}

// AcceptUniStream returns the next unidirectional stream the peer opened.
func (c *Conn) AcceptUniStream(ctx context.Context) (transport.ReceiveStream, error) {
	return c.accept(ctx, true)
}

// SendDatagram queues an RFC 9221 datagram.
func (c *Conn) SendDatagram(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.errLocked(); err != nil {
		return err
	}
	if !bool(C.tquic_conn_datagrams_enabled(c.c)) {
		return transport.ErrDatagramsDisabled
	}
	var ptr *C.u8
	if len(p) > 0 {
		ptr = (*C.u8)(unsafe.Pointer(&p[0]))
	}
	r := C.tquic_conn_dgram_send(c.c, ptr, C.size_t(len(p)), C.TQUIC_GFP_KERNEL)
	switch {
	case r == -C.EMSGSIZE:
		return &transport.DatagramTooLargeError{MaxPayload: int(C.tquic_conn_dgram_max(c.c))}
	case r == -C.ENOBUFS:
		return nil // queue full: datagrams are unreliable
	case r != 0:
		return fmt.Errorf("bridge: send datagram: errno %d", -int(r))
	}
	c.flush()
	c.armTimer()
	return nil
}

// ReceiveDatagram returns the next datagram received.
func (c *Conn) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	buf := make([]byte, 65536)
	for {
		c.mu.Lock()
		if c.c != nil {
			if !bool(C.tquic_conn_datagrams_enabled(c.c)) && c.hsDoneClosed() {
				c.mu.Unlock()
				return nil, transport.ErrDatagramsDisabled
			}
			n := C.tquic_conn_dgram_recv(c.c, (*C.u8)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
			if n >= 0 {
				c.mu.Unlock()
				return append([]byte(nil), buf[:n]...), nil
			}
		}
		if err := c.errLocked(); err != nil {
			c.mu.Unlock()
			return nil, err
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.dgramCh:
		}
	}
}

func (c *Conn) hsDoneClosed() bool {
	select {
	case <-c.hsDone:
		return true
	default:
		return false
	}
}

// CloseWithError closes the connection with an application error code.
func (c *Conn) CloseWithError(code transport.ErrorCode, msg string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil || c.closeErr != nil {
		return nil
	}
	var ptr *C.u8
	if len(msg) > 0 {
		b := []byte(msg)
		ptr = (*C.u8)(unsafe.Pointer(&b[0]))
	}
	C.tquic_conn_close(c.c, true, C.u64(code), ptr, C.size_t(len(msg)), C.u64(c.now()))
	c.drainEvents()
	c.flush()
	c.armTimer()
	return nil
}

// Context is canceled when the connection closes.
func (c *Conn) Context() context.Context { return c.ctx }

// State returns the negotiated state.
func (c *Conn) State() transport.ConnectionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := transport.ConnectionState{
		ALPN:       c.tlsState.NegotiatedProtocol,
		Version:    c.version,
		LocalAddr:  c.laddr,
		RemoteAddr: net.UDPAddrFromAddrPort(c.raddr),
		TLS:        c.tlsState,
		Datagrams:  c.datagrams,
		Used0RTT:   c.used0RTT,
	}
	return st
}

// Stats are engine counters of one connection.
type Stats struct {
	PacketsSent, PacketsReceived, PacketsLost, PacketsDropped uint64
	BytesSent, BytesReceived                                  uint64
	KeyUpdates                                                uint64
	SmoothedRTT                                               time.Duration
	CongestionWindow                                          uint64
	AmplificationViolations                                   uint64
	// EngineMemory is the memory the engine holds for the connection.
	EngineMemory uint64
	// EarlySent and EarlyReceived count 0-RTT packets; EarlyRequeued the
	// 0-RTT packets a server rejected, whose data was sent again in 1-RTT.
	EarlySent, EarlyReceived, EarlyRequeued uint64
	// PeerMigrations counts changes of the path (the peer's address on a
	// server, our own address or the server's preferred address on a
	// client); PathReverts the migrated addresses that failed validation.
	PeerMigrations, PathReverts uint64
	// PreferredAddress: the client moved to the server's preferred address.
	PreferredAddress bool
	// Paths is the number of paths: the active one and those being probed.
	Paths int
	// PathMTU is the largest UDP payload the active path sends.
	PathMTU int
	// ECNCapable says the active path passed ECN validation (RFC 9000
	// 13.4.2); ECNMarked counts the packets we sent ECT(0), PeerECT0 and
	// PeerCE the peer's ACK_ECN counts of ours.
	ECNCapable                  bool
	ECNMarked, PeerECT0, PeerCE uint64
}

// Stats returns the connection's engine counters.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	var mem uint64
	var pi C.struct_tquic_path_info
	var ci C.struct_tquic_conn_info
	if c.c != nil {
		C.tquic_conn_stats(c.c, &c.stats)
		mem = uint64(C.tquic_conn_mem(c.c))
		C.tquic_conn_path_info(c.c, 0, &pi)
		C.tquic_conn_get_info(c.c, &ci)
	}
	s := c.stats
	return Stats{
		ECNCapable: uint8(pi.ecn_state) == ecnStateCapable,
		ECNMarked:  uint64(pi.ecn_sent_ect0), PeerECT0: uint64(pi.ecn_ect0), PeerCE: uint64(pi.ecn_ce),
		PacketsSent: uint64(s.pkts_sent), PacketsReceived: uint64(s.pkts_recv),
		PacketsLost: uint64(s.pkts_lost), PacketsDropped: uint64(s.pkts_dropped),
		BytesSent: uint64(s.bytes_sent), BytesReceived: uint64(s.bytes_recv),
		KeyUpdates: uint64(s.key_updates), SmoothedRTT: time.Duration(s.srtt),
		CongestionWindow: uint64(s.cwnd), AmplificationViolations: uint64(s.amp_violations),
		EngineMemory: mem,
		EarlySent:    uint64(s.early_sent), EarlyReceived: uint64(s.early_recv),
		EarlyRequeued:  uint64(s.early_requeued),
		PeerMigrations: uint64(s.peer_migrations), PathReverts: uint64(s.path_reverts),
		PreferredAddress: c.movedToPreferred,
		Paths:            int(ci.n_paths),
		PathMTU:          int(pi.mtu),
	}
}

// KeyUpdate initiates a 1-RTT key update.
func (c *Conn) KeyUpdate() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.errLocked(); err != nil {
		return err
	}
	if r := C.tquic_conn_key_update(c.c, C.u64(c.now())); r != 0 {
		return fmt.Errorf("bridge: key update: errno %d", -int(r))
	}
	c.flush()
	c.armTimer()
	return nil
}

// usedRetry reports whether the handshake went through a Retry.
func (c *Conn) usedRetry() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c != nil && bool(C.tquic_conn_retried(c.c))
}

// HandshakeComplete is closed once the handshake is confirmed (or the
// connection failed).
func (c *Conn) HandshakeComplete() <-chan struct{} { return c.hsDone }

// ---- Dial ----

func randomCID(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("bridge: random CID: %w", err)
	}
	return b, nil
}

// Dial opens a client connection to addr and completes the handshake.
func Dial(ctx context.Context, addr string, tlsConf *tls.Config, cfg *Config) (*Conn, error) {
	return dial(ctx, addr, tlsConf, cfg, false)
}

// DialEarly opens a client connection to addr and returns once the first
// flight is sent. When tlsConf's ClientSessionCache holds a 0-RTT ticket
// for the server, streams carry data in 0-RTT packets right away; if the
// server rejects 0-RTT, that data is sent again once the handshake is
// done. Otherwise streams wait for the handshake. HandshakeComplete and
// State().Used0RTT tell how it went. A Version Negotiation packet fails
// the connection (Dial retries in the offered version).
func DialEarly(ctx context.Context, addr string, tlsConf *tls.Config, cfg *Config) (*Conn, error) {
	return dial(ctx, addr, tlsConf, cfg, true)
}

func dial(ctx context.Context, addr string, tlsConf *tls.Config, cfg *Config, early bool) (*Conn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("bridge: resolve %s: %w", addr, err)
	}
	network := "udp4"
	if ua.IP.To4() == nil {
		network = "udp6"
	}
	udp, err := net.ListenUDP(network, nil)
	if err != nil {
		return nil, fmt.Errorf("bridge: listen: %w", err)
	}
	if early {
		c, err := dialOn(ctx, udp, ua.AddrPort(), tlsConf, cfg, true)
		if err != nil {
			_ = udp.Close()
			return nil, err
		}
		return c, nil
	}
	c, err := dialOn(ctx, udp, ua.AddrPort(), tlsConf, cfg, false)
	var vn *vnError
	if errors.As(err, &vn) {
		// Version Negotiation: one new attempt in the version both speak
		// (RFC 9368 section 4: a second VN is not acted on).
		retry := Config{}
		if cfg != nil {
			retry = *cfg
		}
		retry.Versions = []uint32{vn.pick}
		for _, v := range cfg.versions() {
			if v != vn.pick {
				retry.Versions = append(retry.Versions, v)
			}
		}
		if udp, err = net.ListenUDP(network, nil); err != nil {
			return nil, fmt.Errorf("bridge: listen: %w", err)
		}
		c, err = dialOn(ctx, udp, ua.AddrPort(), tlsConf, &retry, false)
		if errors.As(err, &vn) {
			err = vn.err
		}
	}
	if err != nil {
		_ = udp.Close()
		return nil, err
	}
	return c, nil
}

// startClient creates a client connection sending through pc and starts
// its handshake (the first flight is sent before it returns). clock is
// nil for the monotonic clock.
func startClient(ctx context.Context, pc packetWriter, raddr netip.AddrPort, tlsConf *tls.Config,
	cfg *Config, clock func() uint64) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	ec, err := cfg.engineConfig()
	if err != nil {
		return nil, err
	}
	dcid, err := randomCID(8)
	if err != nil {
		return nil, err
	}
	scid, err := randomCID(8)
	if err != nil {
		return nil, err
	}
	version := Version1
	if len(cfg.Versions) > 0 {
		version = cfg.Versions[0]
	}
	c := newConn(ctx, false, &ec)
	c.clock = clock
	c.pc = pc
	c.raddr = raddr
	c.raddrC = connAddr(raddr)
	peer := connAddr(c.raddr)
	var cerr C.int
	c.c = C.tqb_conn_client(&ec, C.u32(version), (*C.u8)(unsafe.Pointer(&dcid[0])), C.u8(len(dcid)),
		(*C.u8)(unsafe.Pointer(&scid[0])), C.u8(len(scid)), &peer, C.u64(c.now()), &cerr)
	if c.c == nil {
		return nil, fmt.Errorf("bridge: new client connection: errno %d", -int(cerr))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg.TokenStore != nil {
		c.tokens = cfg.TokenStore
		c.tokenKey = raddr.String()
		if tlsConf != nil && tlsConf.ServerName != "" {
			c.tokenKey = tlsConf.ServerName
		}
		if tok := c.tokens.Pop(c.tokenKey); len(tok) > 0 {
			C.tquic_conn_set_token(c.c, (*C.u8)(unsafe.Pointer(&tok[0])), C.size_t(len(tok)))
		}
	}
	tp, err := engine{c}.LocalTransportParameters()
	if err != nil {
		c.free()
		return nil, err
	}
	c.hs = handshake.NewClient(handshake.Config{TLS: tlsConf}, engine{c}, tp)
	if err := c.hs.Start(ctx); err != nil {
		c.free()
		return nil, err
	}
	c.afterInput()
	return c, nil
}

func dialOn(ctx context.Context, udp *net.UDPConn, raddr netip.AddrPort, tlsConf *tls.Config, cfg *Config,
	early bool) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	hsTimeout := cfg.HandshakeTimeout
	if hsTimeout <= 0 {
		hsTimeout = 10 * time.Second
	}
	hctx, hcancel := context.WithTimeout(ctx, hsTimeout)
	// In early mode, TLS watches hctx for the rest of the handshake.
	defer func() {
		if !early {
			hcancel()
		}
	}()
	raddr = netip.AddrPortFrom(raddr.Addr().Unmap(), raddr.Port())
	if ua, ok := udp.LocalAddr().(*net.UDPAddr); ok && ua.IP.To4() == nil {
		raddr = netip.AddrPortFrom(netip.AddrFrom16(raddr.Addr().As16()), raddr.Port())
	}
	sock := newUDPSocket(udp)
	c, err := startClient(hctx, sock, raddr, tlsConf, cfg, nil)
	if err != nil {
		hcancel()
		return nil, err
	}
	c.mu.Lock()
	c.udp = udp
	c.laddr = udp.LocalAddr()
	c.mu.Unlock()
	go c.readLoop(sock)
	if early {
		go c.earlyHandshakeWatch(hctx, hcancel)
		return c, nil
	}

	select {
	case <-c.hsDone:
	case <-c.ctx.Done():
	case <-hctx.Done():
		c.mu.Lock()
		if c.c != nil && c.closeErr == nil {
			C.tquic_conn_close(c.c, false, C.TQUIC_ERR_NO_ERROR, nil, 0, C.u64(monoNow()))
			c.afterInput()
		}
		c.mu.Unlock()
		c.shutdown()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &transport.TransportError{Err: ErrHandshakeTimeout}
	}
	c.mu.Lock()
	err = c.closeErr
	pick := c.vnPick
	c.mu.Unlock()
	if err != nil {
		c.shutdown()
		if pick != 0 && errors.Is(err, ErrVersionNegotiation) {
			return nil, &vnError{pick: pick, err: err}
		}
		return nil, err
	}
	return c, nil
}

// Migrate moves a client connection to another UDP socket (a new local
// address, RFC 9000 section 9): packets leave from udp from now on, with a
// new connection ID, and the engine validates the new path. The previous
// socket is closed. The connection owns udp.
func (c *Conn) Migrate(udp *net.UDPConn) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.errLocked(); err != nil {
		return err
	}
	if c.isServer || c.udp == nil {
		return errors.New("bridge: only a dialed connection migrates")
	}
	var local *C.struct_tquic_addr
	if ua, ok := udp.LocalAddr().(*net.UDPAddr); ok {
		la := connAddr(ua.AddrPort())
		local = &la
	}
	switch r := C.tquic_conn_migrate(c.c, local, C.u64(c.now())); r {
	case 0:
	case -C.EPERM:
		return errors.New("bridge: the server disabled active migration")
	default:
		return fmt.Errorf("bridge: migrate: errno %d", -int(r))
	}
	old := c.udp
	sock := newUDPSocket(udp)
	c.udp = udp
	c.pc = sock
	c.laddr = udp.LocalAddr()
	go c.readLoop(sock)
	_ = old.Close()
	c.flush()
	c.armTimer()
	return nil
}

// earlyHandshakeWatch bounds the handshake of a DialEarly connection.
func (c *Conn) earlyHandshakeWatch(hctx context.Context, hcancel context.CancelFunc) {
	defer hcancel()
	select {
	case <-c.hsDone:
		return
	case <-c.ctx.Done():
		return
	case <-hctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil || c.closeErr != nil || c.hsDoneClosed() {
		return
	}
	c.closeErr = &transport.TransportError{Err: ErrHandshakeTimeout}
	c.cancel(c.closeErr)
	for _, s := range c.streams {
		s.wake()
	}
	C.tquic_conn_close(c.c, false, C.TQUIC_ERR_NO_ERROR, nil, 0, C.u64(c.now()))
	c.afterInput()
}

// shutdown frees a client connection that will not be used.
func (c *Conn) shutdown() {
	c.mu.Lock()
	c.free()
	c.mu.Unlock()
}

// readLoop reads one of the client's own sockets (the current one, or
// one that Migrate replaced, until it is closed).
func (c *Conn) readLoop(sock *udpSocket) {
	rb := recvBatches.Get().(*recvBatch)
	// Reads are fed to the engine before the next one: nothing keeps rb.
	defer recvBatches.Put(rb)
	for {
		msgs, err := sock.readBatch(rb, true)
		if err != nil {
			c.mu.Lock()
			if c.c != nil && c.closeErr == nil && sock.udp == c.udp {
				c.closeErr = &transport.TransportError{Err: fmt.Errorf("bridge: socket: %w", err)}
				c.cancel(c.closeErr)
				c.free()
			}
			c.mu.Unlock()
			return
		}
		c.inputReads(msgs)
		// A full batch says more is queued: take it in before answering.
		for i := 1; len(msgs) == recvBatchSize && i < maxReadsPerResponse; i++ {
			if msgs, err = sock.readBatch(rb, false); err != nil {
				break // the next read reports it
			}
			c.inputReads(msgs)
		}
		c.respond()
	}
}

var _ transport.Connection = (*Conn)(nil)
