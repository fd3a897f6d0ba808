package bridge

/*
#include <stdlib.h>
#include "conn_internal.h"
#include "buf_user.h"

// Seals @payload as the next 1-RTT packet of @c with its current keys:
// what a misbehaving peer would send (hostile-input tests).
static long tqb_sim_forge_1rtt(struct tquic_conn *c, const u8 *payload, size_t len,
			       u8 *out, size_t cap)
{
	const struct tquic_cid *dcid = &c->path->dcid;
	struct tquic_hdr_out o;
	size_t hl;
	u64 pn;
	int err;

	if (!c->tx[TQUIC_LEVEL_APP])
		return -EAGAIN;
	err = tquic_conn_unpark(c);
	if (err)
		return err;
	pn = c->path->x->next_pn[TQUIC_PN_SPACE_APP]++;
	memset(&o, 0, sizeof(o));
	o.type = TQUIC_PKT_1RTT;
	o.dcid = dcid->id;
	o.dcid_len = dcid->len;
	o.pn_len = 4;
	o.pn = pn;
	o.key_phase = c->tx_phase;
	o.payload_len = len;
	err = tquic_write_header(out, cap, &o, &hl);
	if (err)
		return err;
	if (hl + len + TQUIC_AEAD_TAG_LEN > cap)
		return -ENOBUFS;
	memcpy(out + hl, payload, len);
	err = tquic_packet_protect(c->tx[TQUIC_LEVEL_APP], out, hl, 4, pn, len, false, 0, NULL);
	return err ? err : (long)(hl + len + TQUIC_AEAD_TAG_LEN);
}

// Whether @c's crypto objects are parked (an idle connection).
static bool tqb_sim_parked(const struct tquic_conn *c)
{
	return c->parked && !c->tx[TQUIC_LEVEL_APP]->hp && !c->tx[TQUIC_LEVEL_APP]->pkt.aead &&
	       !c->rx[TQUIC_LEVEL_APP]->hp && !c->rx[TQUIC_LEVEL_APP]->pkt.aead &&
	       !c->rx_next.aead;
}

// Creates the server side of a simulated connection from the client's
// first Initial (C copy in @dgram); returns NULL unless it is acceptable.
static struct tquic_conn *tqb_sim_server(const struct tquic_conn_config *cfg, const u8 *dgram,
					 size_t len, const u8 *cid, const struct tquic_addr *local,
					 const struct tquic_addr *peer, u64 now)
{
	struct tquic_server_params sp;
	const u8 *tok;
	size_t tok_len;
	int err;

	if (tquic_server_classify(cfg, dgram, len, &sp, &tok, &tok_len) != TQUIC_SERVER_ACCEPT)
		return NULL;
	sp.cid = cid;
	return tquic_conn_server_new(cfg, &sp, local, peer, now, TQUIC_GFP_KERNEL, &err);
}

*/
import "C"

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand"
	"net/netip"
	"os"
	"runtime/debug"
	"unsafe"

	"github.com/tquic/tquic/pkg/handshake"
)

// connSimOptions describe one simulated network and workload.
type connSimOptions struct {
	Loss      float64 // per datagram
	Dup       float64
	Corrupt   float64
	Reorder   float64 // chance of an extra delay of up to 4x the base delay
	DelayNs   uint64  // one-way base delay
	JitterNs  uint64
	Bandwidth uint64 // bytes per second per direction, 0 = unlimited
	// A black hole drops everything from BlackholeAt for BlackholeNs.
	BlackholeAt, BlackholeNs uint64
	Streams                  int
	MaxStreamSize            int
	KeyUpdateInterval        uint64
	Versions                 []uint32 // client preference
	ServerVersions           []uint32
	Datagrams                int
	LimitNs                  uint64 // virtual time budget
	MemLimit                 uint64 // engine bytes per connection
	// Preferred: the server offers a preferred address (another host of
	// its /24), which drops everything sent to it when PrefUnreachable.
	Preferred, PrefUnreachable bool
}

// connSimResult is what one simulated run observed.
type connSimResult struct {
	Err         error
	VirtualNs   uint64
	Datagrams   uint64
	MaxMem      uint64
	ClientStats Stats
	ServerStats Stats
	Version     uint32
	ToPref      uint64 // datagrams delivered to the server's preferred address
	FromPref    uint64 // datagrams from it delivered to the client before its streams were done
}

type connSimPkt struct {
	at       uint64
	seq      uint64
	toServer bool
	from, to netip.AddrPort
	data     []byte
}

type connSimQueue []connSimPkt

func (q connSimQueue) Len() int { return len(q) }
func (q connSimQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q connSimQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *connSimQueue) Push(x any)   { *q = append(*q, x.(connSimPkt)) }
func (q *connSimQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type connSim struct {
	trace    io.Writer // TQUIC_SIM_TRACE=1: one line per datagram
	o        connSimOptions
	rng      *rand.Rand
	now      uint64
	seq      uint64
	q        connSimQueue
	linkFree [2]uint64
	sent     uint64
}

func (s *connSim) tracef(toServer bool, from, to netip.AddrPort, b []byte, what string) {
	if s.trace == nil {
		return
	}
	dir := "S->C"
	if toServer {
		dir = "C->S"
	}
	kind := "short"
	if len(b) > 0 && b[0]&0x80 != 0 {
		kind = fmt.Sprintf("long%x", (b[0]>>4)&3)
	}
	fmt.Fprintf(s.trace, "%9.3fms %s %v->%v %5d %s %s\n", float64(s.now)/1e6, dir, from, to, len(b), kind, what)
}

type connSimWriter struct {
	s        *connSim
	toServer bool
	self     netip.AddrPort // the source address when the host does not say
}

func (w connSimWriter) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	w.s.transmit(w.toServer, b, w.self, to)
	return len(b), nil
}

// writeFrom sends from the address the engine chose (a server's preferred one).
func (w connSimWriter) writeFrom(b []byte, from, to netip.AddrPort) {
	if !from.IsValid() {
		from = w.self
	}
	w.s.transmit(w.toServer, b, from, to)
}

func (s *connSim) transmit(toServer bool, b []byte, from, to netip.AddrPort) {
	s.sent++
	o := &s.o
	if o.BlackholeNs > 0 && s.now >= o.BlackholeAt && s.now < o.BlackholeAt+o.BlackholeNs {
		s.tracef(toServer, from, to, b, "blackholed")
		return
	}
	if o.PrefUnreachable && toServer && to == connSimPref {
		s.tracef(toServer, from, to, b, "to the unreachable preferred address")
		return
	}
	if s.rng.Float64() < o.Loss {
		s.tracef(toServer, from, to, b, "lost")
		return
	}
	s.tracef(toServer, from, to, b, "sent")
	copies := 1
	if s.rng.Float64() < o.Dup {
		copies = 2
	}
	dir := 0
	if toServer {
		dir = 1
	}
	for i := 0; i < copies; i++ {
		d := bytes.Clone(b)
		if s.rng.Float64() < o.Corrupt && len(d) > 0 {
			d[s.rng.Intn(len(d))] ^= byte(1 + s.rng.Intn(255))
		}
		start := s.now
		if o.Bandwidth > 0 {
			if s.linkFree[dir] > start {
				start = s.linkFree[dir]
			}
			s.linkFree[dir] = start + uint64(len(d))*1e9/o.Bandwidth
			start = s.linkFree[dir]
		}
		at := start + o.DelayNs
		if o.JitterNs > 0 {
			at += uint64(s.rng.Int63n(int64(o.JitterNs)))
		}
		if s.rng.Float64() < o.Reorder {
			at += uint64(s.rng.Int63n(int64(4*o.DelayNs + 1)))
		}
		s.seq++
		heap.Push(&s.q, connSimPkt{at: at, seq: s.seq, toServer: toServer, from: from, to: to, data: d})
	}
}

// connSimStream tracks one echoed stream of the workload.
type connSimStream struct {
	id       int64
	data     []byte
	written  int
	finished bool
	echo     []byte
	done     bool
}

// simWrite queues as much of p as the engine takes; c.mu is held.
func (c *Conn) simWrite(id int64, p []byte, fin bool) int {
	if c.c == nil {
		return 0
	}
	var ptr *C.u8
	if len(p) > 0 {
		ptr = (*C.u8)(unsafe.Pointer(&p[0]))
	}
	n := C.tquic_conn_stream_write(c.c, C.u64(id), ptr, C.size_t(len(p)), C.bool(fin), C.TQUIC_GFP_KERNEL)
	if n < 0 {
		return 0
	}
	return int(n)
}

// simRead reads what is readable; c.mu is held.
func (c *Conn) simRead(id int64, buf []byte) (int, bool, error) {
	if c.c == nil {
		return 0, false, fmt.Errorf("connection gone")
	}
	var fin C.bool
	var code C.u64
	n := C.tquic_conn_stream_read(c.c, C.u64(id), (*C.u8)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &fin, &code)
	if n == -C.ENOENT {
		return 0, true, nil
	}
	if n < 0 {
		return 0, false, fmt.Errorf("stream %d read: errno %d", id, -int(n))
	}
	return int(n), bool(fin), nil
}

// simRecvWindow is the receive flow-control window of stream id (0: no
// such stream); c.mu is held.
func (c *Conn) simRecvWindow(id int64) uint64 {
	if c.c == nil {
		return 0
	}
	st := C.tquic_streams_find(&c.c.streams, C.u64(id))
	if st == nil {
		return 0
	}
	return uint64(st.fc_rx.window)
}

// simInFlight is the bytes in flight on the active path; c.mu is held.
func (c *Conn) simInFlight() uint64 {
	if c.c == nil {
		return 0
	}
	return uint64(c.c.path.x.rec.bytes_in_flight)
}

func (c *Conn) simMem() uint64 {
	if c.c == nil {
		return 0
	}
	return uint64(C.tquic_conn_mem(c.c))
}

func (c *Conn) simDeadline() uint64 {
	if c.c == nil {
		return ^uint64(0)
	}
	return uint64(C.tquic_conn_next_deadline(c.c))
}

// connSimRun runs one seed: a client echoes Streams streams of random sizes
// through a server over the simulated network, then closes.
func connSimRun(seed int64, o connSimOptions, stls, ctls *tls.Config) (res connSimResult) {
	s := &connSim{o: o, rng: rand.New(rand.NewSource(seed)), now: 1}
	if os.Getenv("TQUIC_SIM_TRACE") != "" {
		s.trace = os.Stderr
	}
	clock := func() uint64 { return s.now }
	ctx := context.Background()
	caddr, saddr := connSimClientAddr, connSimServerAddr
	ccfg := &Config{Versions: o.Versions, KeyUpdateInterval: o.KeyUpdateInterval, EnableDatagrams: o.Datagrams > 0,
		DisablePacing: s.rng.Intn(2) == 0}
	if s.rng.Intn(2) == 0 {
		ccfg.CongestionControl = "newreno"
	}
	scfg := &Config{Versions: o.ServerVersions, KeyUpdateInterval: o.KeyUpdateInterval / 2, EnableDatagrams: o.Datagrams > 0}
	if o.Preferred {
		scfg.PreferredAddressV4 = connSimPref
	}
	cli, err := startClient(ctx, connSimWriter{s, true, caddr}, saddr, ctls, ccfg, clock)
	if err != nil {
		res.Err = err
		return res
	}
	var srv *Conn
	defer func() {
		if r := recover(); r != nil {
			res.Err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			return
		}
		cli.mu.Lock()
		res.ClientStats = cli.statsLocked()
		cli.free()
		cli.mu.Unlock()
		if srv != nil {
			srv.mu.Lock()
			res.ServerStats = srv.statsLocked()
			srv.free()
			srv.mu.Unlock()
		}
		res.VirtualNs = s.now
		res.Datagrams = s.sent
	}()
	sec, err := scfg.engineConfig()
	if err != nil {
		res.Err = err
		return res
	}
	streams := make([]*connSimStream, o.Streams)
	for i := range streams {
		n := s.rng.Intn(o.MaxStreamSize + 1)
		d := make([]byte, n)
		s.rng.Read(d)
		streams[i] = &connSimStream{id: -1, data: d}
	}
	srvEcho := map[int64][]byte{}
	srvFin := map[int64]bool{}
	srvDone := map[int64]int{}
	dgSent, dgGot := 0, 0
	buf := make([]byte, 65536)
	closed := false

	for {
		if s.now > o.LimitNs {
			res.Err = fmt.Errorf("no progress: virtual time limit %d ms reached", o.LimitNs/1e6)
			return res
		}
		// Client application.
		cli.mu.Lock()
		if cli.closeErr != nil && !closed {
			cli.mu.Unlock()
			res.Err = fmt.Errorf("client closed: %w", cli.closeErr)
			return res
		}
		hsDone := cli.hsDoneClosed()
		all := hsDone
		if hsDone && !closed {
			for _, st := range streams {
				if st.id < 0 {
					var id C.u64
					if C.tquic_conn_stream_open(cli.c, false, &id, C.TQUIC_GFP_KERNEL) != 0 {
						all = false
						break
					}
					st.id = int64(id)
				}
				if !st.finished {
					st.written += cli.simWrite(st.id, st.data[st.written:], true)
					st.finished = st.written == len(st.data)
				}
				for !st.done {
					n, fin, err := cli.simRead(st.id, buf)
					if err != nil {
						cli.mu.Unlock()
						res.Err = fmt.Errorf("client: %w", err)
						return res
					}
					st.echo = append(st.echo, buf[:n]...)
					if fin {
						st.done = true
						if sha256.Sum256(st.echo) != sha256.Sum256(st.data) {
							cli.mu.Unlock()
							res.Err = fmt.Errorf("stream %d: echo differs (%d of %d bytes)", st.id, len(st.echo), len(st.data))
							return res
						}
					}
					if n == 0 {
						break
					}
				}
				all = all && st.done
			}
			for dgSent < o.Datagrams && C.tquic_conn_datagrams_enabled(cli.c) {
				msg := []byte(fmt.Sprintf("dg %d", dgSent))
				if C.tquic_conn_dgram_send(cli.c, (*C.u8)(unsafe.Pointer(&msg[0])), C.size_t(len(msg)), C.TQUIC_GFP_KERNEL) != 0 {
					break
				}
				dgSent++
			}
			for cli.c != nil && C.tquic_conn_dgram_recv(cli.c, (*C.u8)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))) >= 0 {
				dgGot++
			}
			if all && !closed {
				closed = true
				res.Version = uint32(C.tquic_conn_version(cli.c))
				C.tquic_conn_close(cli.c, true, 0, nil, 0, C.u64(s.now))
			}
		}
		if cli.c != nil {
			cli.afterInput()
		}
		if m := cli.simMem(); m > res.MaxMem {
			res.MaxMem = m
		}
		cli.mu.Unlock()

		// Server application: echo.
		if srv != nil {
			srv.mu.Lock()
			if srv.c != nil && srv.hsDoneClosed() {
				for _, st := range srv.acceptBidi {
					if _, ok := srvEcho[st.id]; !ok {
						srvEcho[st.id] = nil
					}
				}
				srv.acceptBidi = nil
				for id := range srvEcho {
					for !srvFin[id] {
						n, fin, err := srv.simRead(id, buf)
						if err != nil {
							break
						}
						srvEcho[id] = append(srvEcho[id], buf[:n]...)
						srvFin[id] = fin
						if n == 0 {
							break
						}
					}
					if off := srvDone[id]; off >= 0 && (off < len(srvEcho[id]) || srvFin[id]) {
						off += srv.simWrite(id, srvEcho[id][off:], srvFin[id])
						srvDone[id] = off
						if srvFin[id] && off == len(srvEcho[id]) {
							srvDone[id] = -1 // everything and the FIN queued
						}
					}
				}
				for C.tquic_conn_dgram_recv(srv.c, (*C.u8)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))) >= 0 {
					_ = C.tquic_conn_dgram_send(srv.c, (*C.u8)(unsafe.Pointer(&buf[0])), 4, C.TQUIC_GFP_KERNEL)
				}
			}
			if srv.c != nil {
				srv.afterInput()
				if srv.stats.amp_violations != 0 {
					srv.mu.Unlock()
					res.Err = fmt.Errorf("server above the amplification limit")
					return res
				}
			}
			if m := srv.simMem(); m > res.MaxMem {
				res.MaxMem = m
			}
			srv.mu.Unlock()
		}
		if o.MemLimit > 0 && res.MaxMem > o.MemLimit {
			res.Err = fmt.Errorf("engine memory %d above %d", res.MaxMem, o.MemLimit)
			return res
		}
		cli.mu.Lock()
		cdone := cli.c == nil
		cli.mu.Unlock()
		sdone := srv == nil
		if srv != nil {
			srv.mu.Lock()
			sdone = srv.c == nil
			srv.mu.Unlock()
		}
		if closed && cdone && sdone {
			if srv == nil {
				res.Err = fmt.Errorf("server never created")
			}
			return res
		}

		// Next event: a delivery or a timer.
		next := ^uint64(0)
		if len(s.q) > 0 {
			next = s.q[0].at
		}
		cli.mu.Lock()
		if d := cli.simDeadline(); d < next {
			next = d
		}
		cli.mu.Unlock()
		if srv != nil {
			srv.mu.Lock()
			if d := srv.simDeadline(); d < next {
				next = d
			}
			srv.mu.Unlock()
		}
		if next == ^uint64(0) {
			if closed {
				res.Err = fmt.Errorf("closing connection without a deadline")
			} else {
				res.Err = fmt.Errorf("deadlock: nothing in flight and no timer")
			}
			return res
		}
		if next > s.now {
			s.now = next
		}
		for len(s.q) > 0 && s.q[0].at <= s.now {
			p := heap.Pop(&s.q).(connSimPkt)
			if !p.toServer {
				if p.from == connSimPref && !closed {
					res.FromPref++
				}
				cli.handleDatagram(p.data, nil, p.from, 0)
				continue
			}
			local := connAddr(p.to)
			if p.to == connSimPref {
				res.ToPref++
			}
			if srv == nil {
				srv = connSimServer(&sec, stls, p.data, &local, caddr, clock, connSimWriter{s, false, saddr})
				if srv == nil {
					continue
				}
			}
			srv.handleDatagram(p.data, &local, p.from, 0)
		}
		for _, c := range []*Conn{cli, srv} {
			if c == nil {
				continue
			}
			c.mu.Lock()
			if c.c != nil && uint64(C.tquic_conn_next_deadline(c.c)) <= s.now {
				C.tquic_conn_on_timeout(c.c, C.u64(s.now))
				c.afterInput()
			}
			c.mu.Unlock()
		}
	}
}

// The simulated hosts' addresses; the server's preferred one is on its /24.
var (
	connSimClientAddr = netip.MustParseAddrPort("10.0.0.1:4433")
	connSimServerAddr = netip.MustParseAddrPort("10.0.0.2:443")
	connSimPref       = netip.MustParseAddrPort("10.0.0.3:443")
)

// connSimServer creates the server connection for a first Initial.
func connSimServer(ec *C.struct_tquic_conn_config, stls *tls.Config, b []byte, local *C.struct_tquic_addr,
	from netip.AddrPort, clock func() uint64, pc packetWriter) *Conn {
	mem := C.CBytes(b)
	defer C.free(mem)
	cid := C.CBytes([]byte{0x53, 0x52, 0x56, 0x01, 0x02, 0x03, 0x04, 0x05})
	defer C.free(cid)
	peer := connAddr(from)
	cc := C.tqb_sim_server(ec, (*C.u8)(mem), C.size_t(len(b)), (*C.u8)(cid), local, &peer, C.u64(clock()))
	if cc == nil {
		return nil
	}
	c := newConn(context.Background(), true, ec)
	c.clock = clock
	c.pc = pc
	c.raddr = from
	c.raddrC = peer
	c.c = cc
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hs = handshake.NewServer(handshake.Config{TLS: stls}, engine{c})
	if err := c.hs.Start(context.Background()); err != nil {
		c.free()
		return nil
	}
	return c
}

// statsLocked is Stats with c.mu held.
func (c *Conn) statsLocked() Stats {
	if c.c != nil {
		C.tquic_conn_stats(c.c, &c.stats)
	}
	s := c.stats
	return Stats{
		PacketsSent: uint64(s.pkts_sent), PacketsReceived: uint64(s.pkts_recv),
		PacketsLost: uint64(s.pkts_lost), PacketsDropped: uint64(s.pkts_dropped),
		BytesSent: uint64(s.bytes_sent), BytesReceived: uint64(s.bytes_recv),
		KeyUpdates: uint64(s.key_updates), AmplificationViolations: uint64(s.amp_violations),
		PeerMigrations: uint64(s.peer_migrations), PathReverts: uint64(s.path_reverts),
		PreferredAddress: c.movedToPreferred,
	}
}

// connSimPair is a handshaken client and server on a clean simulated
// network, stepped by hand (hostile-input tests).
type connSimPair struct {
	s            *connSim
	cli, srv     *Conn
	sec          C.struct_tquic_conn_config
	stls         *tls.Config
	caddr, saddr netip.AddrPort
}

func newConnSimPair(stls, ctls *tls.Config, ccfg, scfg *Config) (*connSimPair, error) {
	p := &connSimPair{
		s:     &connSim{rng: rand.New(rand.NewSource(1)), now: 1, o: connSimOptions{DelayNs: 5e6}},
		stls:  stls,
		caddr: connSimClientAddr,
		saddr: connSimServerAddr,
	}
	var err error
	if p.sec, err = scfg.engineConfig(); err != nil {
		return nil, err
	}
	clock := func() uint64 { return p.s.now }
	p.cli, err = startClient(context.Background(), connSimWriter{p.s, true, p.caddr}, p.saddr, ctls, ccfg, clock)
	if err != nil {
		return nil, err
	}
	err = p.runUntil(func() bool {
		return p.srv != nil && p.cli.hsDoneClosed() && p.srv.hsDoneClosed()
	}, 10e9)
	return p, err
}

// step delivers the next datagram or runs the next timer.
func (p *connSimPair) step() bool {
	s := p.s
	next := ^uint64(0)
	if len(s.q) > 0 {
		next = s.q[0].at
	}
	for _, c := range []*Conn{p.cli, p.srv} {
		if c == nil {
			continue
		}
		c.mu.Lock()
		if d := c.simDeadline(); d < next {
			next = d
		}
		c.mu.Unlock()
	}
	if next == ^uint64(0) {
		return false
	}
	if next > s.now {
		s.now = next
	}
	for len(s.q) > 0 && s.q[0].at <= s.now {
		pkt := heap.Pop(&s.q).(connSimPkt)
		if !pkt.toServer {
			p.cli.handleDatagram(pkt.data, nil, pkt.from, 0)
			continue
		}
		local := connAddr(pkt.to)
		if p.srv == nil {
			p.srv = connSimServer(&p.sec, p.stls, pkt.data, &local, p.caddr, func() uint64 { return s.now },
				connSimWriter{s, false, p.saddr})
			if p.srv == nil {
				continue
			}
		}
		p.srv.handleDatagram(pkt.data, &local, pkt.from, 0)
	}
	for _, c := range []*Conn{p.cli, p.srv} {
		if c == nil {
			continue
		}
		c.mu.Lock()
		if c.c != nil && uint64(C.tquic_conn_next_deadline(c.c)) <= s.now {
			C.tquic_conn_on_timeout(c.c, C.u64(s.now))
			c.afterInput()
		}
		c.mu.Unlock()
	}
	return true
}

func (p *connSimPair) runUntil(cond func() bool, limitNs uint64) error {
	end := p.s.now + limitNs
	for !cond() {
		if p.s.now > end || !p.step() {
			return fmt.Errorf("condition not reached by %d ms", p.s.now/1e6)
		}
	}
	return nil
}

// forge seals payload (raw frames) as a client 1-RTT packet.
func (p *connSimPair) forge(payload []byte) ([]byte, error) {
	p.cli.mu.Lock()
	defer p.cli.mu.Unlock()
	if p.cli.c == nil {
		return nil, fmt.Errorf("client gone")
	}
	out := make([]byte, len(payload)+64)
	n := C.tqb_sim_forge_1rtt(p.cli.c, (*C.u8)(unsafe.Pointer(&payload[0])), C.size_t(len(payload)),
		(*C.u8)(unsafe.Pointer(&out[0])), C.size_t(len(out)))
	if n < 0 {
		return nil, fmt.Errorf("forge: errno %d", -int(n))
	}
	return out[:n], nil
}

// toServer delivers a datagram to the server right away.
func (p *connSimPair) toServer(b []byte) {
	local := connAddr(p.saddr)
	p.srv.handleDatagram(b, &local, p.caddr, 0)
}

// serverErr is the server's close error (nil while open).
func (p *connSimPair) serverErr() error {
	p.srv.mu.Lock()
	defer p.srv.mu.Unlock()
	return p.srv.closeErr
}

// parked reports whether both ends parked their crypto objects.
func (p *connSimPair) parked() bool {
	both := true
	for _, c := range []*Conn{p.cli, p.srv} {
		c.mu.Lock()
		both = both && c.c != nil && bool(C.tqb_sim_parked(c.c))
		c.mu.Unlock()
	}
	return both
}

func (p *connSimPair) serverMem() uint64 {
	p.srv.mu.Lock()
	defer p.srv.mu.Unlock()
	return p.srv.simMem()
}

func (p *connSimPair) close() {
	for _, c := range []*Conn{p.cli, p.srv} {
		if c != nil {
			c.mu.Lock()
			c.free()
			c.mu.Unlock()
		}
	}
}

// streamOpen opens a client bidirectional stream; c.mu is held.
func streamOpen(c *Conn, id *uint64) bool {
	var cid C.u64
	if C.tquic_conn_stream_open(c.c, false, &cid, C.TQUIC_GFP_KERNEL) != 0 {
		return false
	}
	*id = uint64(cid)
	return true
}
