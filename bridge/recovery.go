package bridge

/*
#include <stdlib.h>
#include "recovery_glue.h"

static const char *tqb_cc_state(struct tqb_path *p) { return tquic_cc_state_name(&p->cc); }
static u64 tqb_cc_cwnd(struct tqb_path *p) { return tquic_cc_cwnd(&p->cc); }
static u64 tqb_cc_ssthresh(struct tqb_path *p) { return p->cc.ops->ssthresh(&p->cc); }
static int tqb_cc_slow_start(struct tqb_path *p) { return tquic_cc_in_slow_start(&p->cc); }
static u64 tqb_cc_pacing_rate(struct tqb_path *p) { return tquic_cc_pacing_rate(&p->cc); }
static void tqb_cc_ack(struct tqb_path *p, u64 now, u64 bytes, u64 rtt,
		       u64 newest_sent, int app_limited)
{
	struct tquic_ack_sample s;

	memset(&s, 0, sizeof(s));
	s.now = now;
	s.bytes_acked = bytes;
	s.packets_acked = (bytes + p->cc.mss - 1) / p->cc.mss;
	s.rtt = rtt;
	s.newest_sent_time = newest_sent;
	s.app_limited = app_limited;
	p->cc.ops->on_ack(&p->cc, &s);
}
static void tqb_cc_loss(struct tqb_path *p, u64 now, u64 bytes, u64 sent_time)
{
	struct tquic_loss_sample l;

	memset(&l, 0, sizeof(l));
	l.now = now;
	l.bytes_lost = bytes;
	l.packets_lost = 1;
	l.largest_lost_sent_time = sent_time;
	p->cc.ops->on_congestion_event(&p->cc, &l);
}
static void tqb_cc_ecn(struct tqb_path *p, u64 now, u64 ce, u64 sent_time)
{
	struct tquic_ecn_sample e;

	memset(&e, 0, sizeof(e));
	e.now = now;
	e.ce_delta = ce;
	e.largest_acked_sent_time = sent_time;
	p->cc.ops->on_ecn(&p->cc, &e);
}
static void tqb_cc_pc(struct tqb_path *p, u64 now) { p->cc.ops->on_persistent_congestion(&p->cc, now); }
static u64 tqb_cubic_w(struct tqb_path *p, u64 t, u64 *k) { return tquic_cubic_w(&p->cc, t, k); }
static u64 tqb_cubic_w_max(struct tqb_path *p) { return tquic_cubic_w_max(&p->cc); }
static void tqb_rtt_update(struct tqb_path *p, u64 latest, u64 ack_delay, int confirmed, u64 now)
{
	tquic_rtt_update(&p->rtt, latest, ack_delay, confirmed, now);
}
static u64 tqb_rtt_pto(struct tqb_path *p, int mad, unsigned int backoff) { return tquic_rtt_pto(&p->rtt, mad, backoff); }
static u64 tqb_rtt_loss_delay(struct tqb_path *p) { return tquic_rtt_loss_delay(&p->rtt); }
static u64 tqb_pacer_next(struct tqb_path *p, u64 bytes, u64 now) { return tquic_pacer_next_send_time(&p->pacer, bytes, now); }
static void tqb_pacer_sent(struct tqb_path *p, u64 bytes, u64 now) { tquic_pacer_on_sent(&p->pacer, bytes, now); }
static void tqb_pacer_rate(struct tqb_path *p, u64 rate, u64 now) { tquic_pacer_set_rate(&p->pacer, rate, now); }
static int tqb_rec_timeout(struct tqb_path *p, u64 now) { return tquic_recovery_on_timeout(&p->rec, now); }
static u32 tqb_rec_probes(struct tqb_path *p, int *space)
{
	enum tquic_pn_space s;
	u32 n = tquic_recovery_probes(&p->rec, &s);

	*space = s;
	return n;
}
static int tqb_rec_skip(struct tqb_path *p, int space, u64 pn) { return tquic_recovery_skip_pn(&p->rec, space, pn); }
static void tqb_rec_discard(struct tqb_path *p, int space, u64 now) { tquic_recovery_discard_space(&p->rec, space, now); }
static void tqb_rec_confirmed(struct tqb_path *p, u64 now) { tquic_recovery_on_handshake_confirmed(&p->rec, now); }
static void tqb_rec_hs_keys(struct tqb_path *p, u64 now) { tquic_recovery_on_handshake_keys(&p->rec, now); }
static void tqb_rec_amp(struct tqb_path *p, int blocked, u64 now) { tquic_recovery_set_amp_blocked(&p->rec, blocked, now); }
static void tqb_rec_ecn(struct tqb_path *p, int on) { tquic_recovery_set_ecn(&p->rec, on); }
static u8 tqb_rec_ecn_cp(struct tqb_path *p) { return tquic_recovery_ecn_codepoint(&p->rec); }
static void tqb_rec_app_limited(struct tqb_path *p) { tquic_recovery_on_app_limited(&p->rec); }
static u32 tqb_rec_tracked(struct tqb_path *p, int space) { return tquic_recovery_tracked(&p->rec, space); }
static u64 tqb_rec_in_flight_space(struct tqb_path *p, int space)
{
	const struct tquic_pn_space_state *sp = tquic_recovery_space(&p->rec, space);

	return sp ? sp->bytes_in_flight : 0;
}
static u64 tqb_rec_largest_acked(struct tqb_path *p, int space) { return tquic_recovery_largest_acked(&p->rec, space); }
static u64 tqb_rec_loss_time(struct tqb_path *p, int space)
{
	const struct tquic_pn_space_state *sp = tquic_recovery_space(&p->rec, space);

	return sp ? sp->loss_time : TQUIC_TIME_NONE;
}
static struct tqb_ev *tqb_ev_at(struct tqb_path *p, u32 i) { return &p->ev[i]; }
static u64 tqb_ackmgr_floor(const struct tquic_ackmgr *am, int space)
{
	const struct tquic_ackmgr_space *s = tquic_ackmgr_space(am, space);

	return s ? s->floor : 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"
)

// Packet-number spaces.
const (
	spaceInitial   = int(C.TQUIC_PN_SPACE_INITIAL)
	spaceHandshake = int(C.TQUIC_PN_SPACE_HANDSHAKE)
	spaceApp       = int(C.TQUIC_PN_SPACE_APP)
)

// Sent-packet flags.
const (
	sentAckEliciting = uint8(C.TQUIC_SENT_ACK_ELICITING)
	sentInFlight     = uint8(C.TQUIC_SENT_IN_FLIGHT)
	sentHasAck       = uint8(C.TQUIC_SENT_HAS_ACK)
	sentAcked        = uint8(C.TQUIC_SENT_ACKED)
	sentLost         = uint8(C.TQUIC_SENT_LOST)
	sentData         = sentAckEliciting | sentInFlight
)

// ECN codepoints.
const (
	ecnNotECT = uint8(C.TQUIC_ECN_NOT_ECT)
	ecnECT1   = uint8(C.TQUIC_ECN_ECT1)
	ecnECT0   = uint8(C.TQUIC_ECN_ECT0)
	ecnCE     = uint8(C.TQUIC_ECN_CE)
)

// Timer results and ECN states.
const (
	timerNone = int(C.TQUIC_TIMER_NONE)
	timerLoss = int(C.TQUIC_TIMER_LOSS)
	timerPTO  = int(C.TQUIC_TIMER_PTO)

	ecnStateTesting = uint8(C.TQUIC_ECN_STATE_TESTING)
	ecnStateUnknown = uint8(C.TQUIC_ECN_STATE_UNKNOWN)
	ecnStateCapable = uint8(C.TQUIC_ECN_STATE_CAPABLE)
	ecnStateFailed  = uint8(C.TQUIC_ECN_STATE_FAILED)

	timeNone = ^uint64(0)
	pnNone   = ^uint64(0)

	granularityNs = uint64(C.TQUIC_GRANULARITY_NS)
	initialRTTNs  = uint64(C.TQUIC_INITIAL_RTT_NS)
)

const (
	evAcked     = uint8(C.TQB_EV_ACKED)
	evLost      = uint8(C.TQB_EV_LOST)
	evDiscarded = uint8(C.TQB_EV_DISCARDED)
)

// recEvent is one recovery callback as the glue recorded it.
type recEvent struct {
	Kind       uint8
	Space      int
	PN         uint64
	Frames     uint64
	AckLargest uint64
	Size       uint32
	Flags      uint8
}

// ccNames lists the registered congestion controllers.
func ccNames() []string {
	var names []string
	for i := 0; ; i++ {
		ops := C.tquic_cc_get(C.uint(i))
		if ops == nil {
			return names
		}
		names = append(names, C.GoString(ops.name))
	}
}

// recPath is a C-allocated path: RTT estimator, controller, pacer and
// recovery, with recovery events recorded for Go.
type recPath struct {
	p *C.struct_tqb_path
}

func newRecPath(cc string, mss int, isServer bool, initialRTT, now uint64) (*recPath, error) {
	cs := C.CString(cc)
	defer C.free(unsafe.Pointer(cs))
	var cerr C.int
	srv := C.int(0)
	if isServer {
		srv = 1
	}
	p := C.tqb_path_new(cs, C.u32(mss), srv, C.u64(initialRTT), C.u64(now), &cerr)
	if p == nil {
		return nil, fmt.Errorf("tqb_path_new(%q): %w", cc, syscall.Errno(-cerr))
	}
	return &recPath{p: p}, nil
}

func (r *recPath) free() {
	C.tqb_path_free(r.p)
	r.p = nil
}

func errnoErr(rc C.int) error {
	if rc == 0 {
		return nil
	}
	return syscall.Errno(-rc)
}

// sent records a sent packet.
func (r *recPath) sent(space int, pn, now uint64, size int, flags, ecn uint8, ackLargest, frames uint64) error {
	return errnoErr(C.tqb_path_sent(r.p, C.int(space), C.u64(pn), C.u64(now), C.u32(size),
		C.u8(flags), C.u8(ecn), C.u64(ackLargest), C.u64(frames)))
}

// ackFrame describes an ACK-family frame to encode and feed to recovery.
type ackFrame struct {
	Type   FrameType
	Delay  uint64      // encoded ACK Delay
	Ranges [][2]uint64 // {largest, smallest}, descending
	Marks  []uint8     // ACCURATE_ACK_ECN marks
	ECT0   uint64
	ECT1   uint64
	CE     uint64
}

var errAckEncode = errors.New("ack frame encoding failed")

// ack encodes f with the engine's encoder, decodes it again and processes
// it; it returns the QUIC transport error code recovery reports (0 = ok).
func (r *recPath) ack(space int, f ackFrame, now uint64) (uint64, error) {
	if f.Type == 0 {
		f.Type = FrameAck
	}
	flat := make([]C.u64, 2*len(f.Ranges)+2)
	for i, rg := range f.Ranges {
		flat[2*i] = C.u64(rg[0])
		flat[2*i+1] = C.u64(rg[1])
	}
	var marks *C.u8
	if len(f.Marks) > 0 {
		cm := make([]C.u8, len(f.Marks))
		for i, m := range f.Marks {
			cm[i] = C.u8(m)
		}
		marks = &cm[0]
	}
	rc := C.tqb_path_ack(r.p, C.int(space), C.u64(f.Type), C.u64(f.Delay), &flat[0], marks,
		C.u32(len(f.Ranges)), C.u64(f.ECT0), C.u64(f.ECT1), C.u64(f.CE), C.u64(now))
	switch {
	case rc <= -2000:
		return 0, fmt.Errorf("ack frame decoding failed: code %d", -2000-rc)
	case rc <= -1000:
		return 0, fmt.Errorf("%w: %v", errAckEncode, syscall.Errno(-1000-rc))
	}
	return uint64(rc), nil
}

// ackWire feeds one encoded ACK-family frame to recovery.
func (r *recPath) ackWire(space int, wire []byte, now uint64) (uint64, error) {
	if len(wire) == 0 {
		return 0, errors.New("empty ack frame")
	}
	cb := C.CBytes(wire)
	defer C.free(cb)
	rc := C.tqb_path_ack_wire(r.p, C.int(space), (*C.u8)(cb), C.size_t(len(wire)), C.u64(now))
	if rc <= -2000 {
		return 0, fmt.Errorf("ack frame decoding failed: code %d", -2000-rc)
	}
	return uint64(rc), nil
}

// events drains the recorded recovery callbacks.
func (r *recPath) events() []recEvent {
	n := uint32(r.p.nev)
	out := make([]recEvent, n)
	for i := uint32(0); i < n; i++ {
		e := C.tqb_ev_at(r.p, C.u32(i))
		out[i] = recEvent{Kind: uint8(e.kind), Space: int(e.space), PN: uint64(e.pn),
			Frames: uint64(e.frames), AckLargest: uint64(e.ack_largest),
			Size: uint32(e.size), Flags: uint8(e.flags)}
	}
	r.p.nev = 0
	return out
}

func (r *recPath) evDropped() uint32 { return uint32(r.p.ev_dropped) }

// Recovery state.
func (r *recPath) bytesInFlight() uint64 { return uint64(r.p.rec.bytes_in_flight) }
func (r *recPath) spaceInFlight(space int) uint64 {
	return uint64(C.tqb_rec_in_flight_space(r.p, C.int(space)))
}
func (r *recPath) deadline() uint64 { return uint64(r.p.rec.timer) }
func (r *recPath) timerKind() int   { return int(r.p.rec.timer_kind) }
func (r *recPath) ptoCount() uint32 { return uint32(r.p.rec.pto_count) }
func (r *recPath) timeout(now uint64) int {
	return int(C.tqb_rec_timeout(r.p, C.u64(now)))
}
func (r *recPath) probes() (uint32, int) {
	var sp C.int
	n := C.tqb_rec_probes(r.p, &sp)
	return uint32(n), int(sp)
}
func (r *recPath) skip(space int, pn uint64) error {
	return errnoErr(C.tqb_rec_skip(r.p, C.int(space), C.u64(pn)))
}
func (r *recPath) discard(space int, now uint64) { C.tqb_rec_discard(r.p, C.int(space), C.u64(now)) }
func (r *recPath) confirmHandshake(now uint64)   { C.tqb_rec_confirmed(r.p, C.u64(now)) }
func (r *recPath) handshakeKeys(now uint64)      { C.tqb_rec_hs_keys(r.p, C.u64(now)) }
func (r *recPath) setAmpBlocked(b bool, now uint64) {
	v := C.int(0)
	if b {
		v = 1
	}
	C.tqb_rec_amp(r.p, v, C.u64(now))
}
func (r *recPath) setECN(on bool) {
	v := C.int(0)
	if on {
		v = 1
	}
	C.tqb_rec_ecn(r.p, v)
}
func (r *recPath) ecnCodepoint() uint8 { return uint8(C.tqb_rec_ecn_cp(r.p)) }
func (r *recPath) ecnState() uint8     { return uint8(r.p.rec.ecn_state) }
func (r *recPath) appLimited()         { C.tqb_rec_app_limited(r.p) }
func (r *recPath) tracked(space int) uint32 {
	return uint32(C.tqb_rec_tracked(r.p, C.int(space)))
}
func (r *recPath) largestAcked(space int) uint64 {
	return uint64(C.tqb_rec_largest_acked(r.p, C.int(space)))
}
func (r *recPath) lossTime(space int) uint64 {
	return uint64(C.tqb_rec_loss_time(r.p, C.int(space)))
}
func (r *recPath) setMaxTracked(n uint32) { C.tquic_recovery_set_max_tracked(&r.p.rec, C.u32(n)) }
func (r *recPath) setPeerAckDelayExponent(e uint8) {
	C.tquic_recovery_set_peer_ack_delay_exponent(&r.p.rec, C.u8(e))
}

// recStats mirrors struct tquic_recovery_stats.
type recStats struct {
	PktsSent, BytesSent, PktsAcked, BytesAcked, PktsLost, BytesLost uint64
	BytesDiscarded, Spurious, PTOs, PersistentCongestion, ECNCE     uint64
	DeliveredBytes                                                  uint64
}

func (r *recPath) stats() recStats {
	s := r.p.rec.stats
	return recStats{
		PktsSent: uint64(s.pkts_sent), BytesSent: uint64(s.bytes_sent),
		PktsAcked: uint64(s.pkts_acked), BytesAcked: uint64(s.bytes_acked),
		PktsLost: uint64(s.pkts_lost), BytesLost: uint64(s.bytes_lost),
		BytesDiscarded: uint64(s.bytes_discarded), Spurious: uint64(s.spurious_losses),
		PTOs: uint64(s.pto_count), PersistentCongestion: uint64(s.persistent_congestion),
		ECNCE: uint64(s.ecn_ce), DeliveredBytes: uint64(r.p.rec.delivered),
	}
}

// frameHandles reports handles still owned by recovery and handles
// returned more often than given.
func (r *recPath) frameHandles() (live, double uint64) {
	return uint64(r.p.frames_live), uint64(r.p.frames_double)
}

// RTT estimator.
type rttState struct {
	Latest, Min, Smoothed, Var, MaxAckDelay uint64
	HasSample                               bool
}

func (r *recPath) rtt() rttState {
	t := r.p.rtt
	return rttState{Latest: uint64(t.latest_rtt), Min: uint64(t.min_rtt),
		Smoothed: uint64(t.smoothed_rtt), Var: uint64(t.rttvar),
		MaxAckDelay: uint64(t.max_ack_delay), HasSample: bool(t.has_sample)}
}
func (r *recPath) rttUpdate(latest, ackDelay uint64, confirmed bool, now uint64) {
	c := C.int(0)
	if confirmed {
		c = 1
	}
	C.tqb_rtt_update(r.p, C.u64(latest), C.u64(ackDelay), c, C.u64(now))
}
func (r *recPath) setMaxAckDelay(d uint64) { C.tquic_rtt_set_max_ack_delay(&r.p.rtt, C.u64(d)) }
func (r *recPath) pto(withMaxAckDelay bool, backoff uint) uint64 {
	m := C.int(0)
	if withMaxAckDelay {
		m = 1
	}
	return uint64(C.tqb_rtt_pto(r.p, m, C.uint(backoff)))
}
func (r *recPath) lossDelay() uint64 { return uint64(C.tqb_rtt_loss_delay(r.p)) }

// Congestion controller.
func (r *recPath) cwnd() uint64       { return uint64(C.tqb_cc_cwnd(r.p)) }
func (r *recPath) ssthresh() uint64   { return uint64(C.tqb_cc_ssthresh(r.p)) }
func (r *recPath) slowStart() bool    { return C.tqb_cc_slow_start(r.p) != 0 }
func (r *recPath) ccState() string    { return C.GoString(C.tqb_cc_state(r.p)) }
func (r *recPath) ccName() string     { return C.GoString(r.p.cc.ops.name) }
func (r *recPath) pacingRate() uint64 { return uint64(C.tqb_cc_pacing_rate(r.p)) }
func (r *recPath) mss() uint64        { return uint64(r.p.cc.mss) }
func (r *recPath) ccEvents() (congestion, ecn, persistent uint64) {
	return uint64(r.p.cc.congestion_events), uint64(r.p.cc.ecn_events),
		uint64(r.p.cc.persistent_congestion_events)
}
func (r *recPath) ccAck(now, bytes, rtt, newestSent uint64, appLimited bool) {
	a := C.int(0)
	if appLimited {
		a = 1
	}
	C.tqb_cc_ack(r.p, C.u64(now), C.u64(bytes), C.u64(rtt), C.u64(newestSent), a)
}
func (r *recPath) ccLoss(now, bytes, sentTime uint64) {
	C.tqb_cc_loss(r.p, C.u64(now), C.u64(bytes), C.u64(sentTime))
}
func (r *recPath) ccECN(now, ce, sentTime uint64) {
	C.tqb_cc_ecn(r.p, C.u64(now), C.u64(ce), C.u64(sentTime))
}
func (r *recPath) ccPersistent(now uint64) { C.tqb_cc_pc(r.p, C.u64(now)) }
func (r *recPath) cubicW(t uint64) (w, k uint64) {
	var ck C.u64
	w = uint64(C.tqb_cubic_w(r.p, C.u64(t), &ck))
	return w, uint64(ck)
}
func (r *recPath) cubicWMax() uint64 { return uint64(C.tqb_cubic_w_max(r.p)) }

// Pacer.
func (r *recPath) pacerSetRate(rate, now uint64) { C.tqb_pacer_rate(r.p, C.u64(rate), C.u64(now)) }
func (r *recPath) pacerNext(bytes, now uint64) uint64 {
	return uint64(C.tqb_pacer_next(r.p, C.u64(bytes), C.u64(now)))
}
func (r *recPath) pacerSent(bytes, now uint64) { C.tqb_pacer_sent(r.p, C.u64(bytes), C.u64(now)) }

// ackMgr is a C-allocated receive-side ACK manager.
type ackMgr struct {
	am  *C.struct_tquic_ackmgr
	buf *C.u8
}

const ackBufLen = 4096

func newAckMgr(pathID uint32, maxAckDelay uint64, exp uint8) *ackMgr {
	am := C.tqb_ackmgr_new(C.u32(pathID), C.u64(maxAckDelay), C.u8(exp))
	if am == nil {
		panic("tqb_ackmgr_new: out of memory")
	}
	return &ackMgr{am: am, buf: (*C.u8)(C.malloc(ackBufLen))}
}

func (a *ackMgr) free() {
	C.tqb_ackmgr_free(a.am)
	C.free(unsafe.Pointer(a.buf))
	a.am = nil
}

// onPacket records a received packet; it reports false for a duplicate.
func (a *ackMgr) onPacket(space int, pn uint64, ackEliciting bool, ecn uint8, now uint64) (bool, error) {
	rc := C.tquic_ackmgr_on_packet(a.am, uint32(space), C.u64(pn), C.bool(ackEliciting),
		C.u8(ecn), C.u64(now), C.TQUIC_GFP_ATOMIC)
	if rc == -C.EEXIST {
		return false, nil
	}
	return true, errnoErr(rc)
}

func (a *ackMgr) isDuplicate(space int, pn uint64) bool {
	return bool(C.tquic_ackmgr_is_duplicate(a.am, uint32(space), C.u64(pn)))
}
func (a *ackMgr) shouldSend(space int, now uint64) bool {
	return bool(C.tquic_ackmgr_should_send(a.am, uint32(space), C.u64(now)))
}
func (a *ackMgr) hasPending(space int) bool {
	return bool(C.tquic_ackmgr_has_pending(a.am, uint32(space)))
}
func (a *ackMgr) deadline() uint64 { return uint64(C.tquic_ackmgr_deadline(a.am)) }

// emit builds and encodes the ACK for space; markSent records it as sent.
// It returns nil when there is nothing to acknowledge.
func (a *ackMgr) emit(space int, now uint64, maxRanges uint32, markSent bool) ([]byte, error) {
	ms := C.int(0)
	if markSent {
		ms = 1
	}
	n := C.tqb_ackmgr_emit(a.am, C.int(space), C.u64(now), C.u32(maxRanges), a.buf, ackBufLen, ms)
	if n < 0 {
		return nil, errnoErr(n)
	}
	if n == 0 {
		return nil, nil
	}
	return C.GoBytes(unsafe.Pointer(a.buf), n), nil
}

func (a *ackMgr) onAckAcked(space int, largest uint64) {
	C.tquic_ackmgr_on_ack_acked(a.am, uint32(space), C.u64(largest))
}
func (a *ackMgr) immediateAck(space int, now uint64) {
	C.tquic_ackmgr_on_immediate_ack(a.am, uint32(space), C.u64(now))
}
func (a *ackMgr) ackFrequency(seq, threshold, maxDelayUs, reorder, now uint64) uint64 {
	return uint64(C.tqb_ackmgr_ack_frequency(a.am, C.u64(seq), C.u64(threshold),
		C.u64(maxDelayUs), C.u64(reorder), C.u64(now)))
}
func (a *ackMgr) setMaxRanges(n uint32)  { C.tquic_ackmgr_set_max_ranges(a.am, C.u32(n)) }
func (a *ackMgr) setPathAck(on bool)     { C.tquic_ackmgr_set_path_ack(a.am, C.bool(on)) }
func (a *ackMgr) setAccurateECN(on bool) { C.tquic_ackmgr_set_accurate_ecn(a.am, C.bool(on)) }
func (a *ackMgr) setMinAckDelay(ns uint64) {
	C.tquic_ackmgr_set_min_ack_delay(a.am, C.u64(ns))
}
func (a *ackMgr) discard(space int) { C.tquic_ackmgr_discard(a.am, uint32(space)) }
func (a *ackMgr) floor(space int) uint64 {
	return uint64(C.tqb_ackmgr_floor(a.am, C.int(space)))
}

func (r *recPath) setPacketThreshold(n uint32) {
	C.tquic_recovery_set_packet_threshold(&r.p.rec, C.u32(n))
}
