package bridge

import (
	"errors"
	"math"
	"math/rand"
	"syscall"
	"testing"
)

const (
	us = uint64(1000)
	ms = uint64(1000000)
)

func mustPath(t testing.TB, cc string, isServer bool) *recPath {
	t.Helper()
	p, err := newRecPath(cc, 1200, isServer, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.p != nil {
			p.free()
		}
	})
	return p
}

func mustSend(t testing.TB, p *recPath, space int, pn, now uint64, size int, flags uint8) {
	t.Helper()
	if err := p.sent(space, pn, now, size, flags, ecnNotECT, pnNone, pn+1); err != nil {
		t.Fatalf("sent pn %d: %v", pn, err)
	}
}

func mustAck(t testing.TB, p *recPath, space int, f ackFrame, now uint64) {
	t.Helper()
	code, err := p.ack(space, f, now)
	if err != nil || code != 0 {
		t.Fatalf("ack %+v: code %#x err %v", f.Ranges, code, err)
	}
}

func pnsOf(evs []recEvent, kind uint8) []uint64 {
	var out []uint64
	for _, e := range evs {
		if e.Kind == kind {
			out = append(out, e.PN)
		}
	}
	return out
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func near(a, b, tol uint64) bool {
	if a > b {
		return a-b <= tol
	}
	return b-a <= tol
}

// RFC 9002 section 5: initial values, first sample, then the EWMA with
// acknowledgment-delay handling, computed by hand.
func TestRecoveryRTTEstimatorRFC9002(t *testing.T) {
	p := mustPath(t, "newreno", true)
	r := p.rtt()
	if r.Smoothed != 333*ms || r.Var != 333*ms/2 || r.HasSample || r.Min != 0 {
		t.Fatalf("initial estimator %+v", r)
	}
	// PTO before any sample: 333 + 4 * 166.5 = 999 ms (+25 ms max_ack_delay).
	if got := p.pto(false, 0); got != 999*ms {
		t.Fatalf("initial PTO %d", got)
	}
	if got := p.pto(true, 0); got != 1024*ms {
		t.Fatalf("initial PTO with max_ack_delay %d", got)
	}

	// First sample: smoothed = latest, rttvar = latest / 2, ack delay ignored.
	p.rttUpdate(100*ms, 40*ms, false, 1*ms)
	r = p.rtt()
	if r.Latest != 100*ms || r.Min != 100*ms || r.Smoothed != 100*ms || r.Var != 50*ms {
		t.Fatalf("after first sample %+v", r)
	}
	// latest 120, ack_delay 10 (not clamped before confirmation):
	// adjusted 110, rttvar = 3/4*50 + 1/4*10 = 40, smoothed = 7/8*100 + 110/8 = 101.25.
	p.rttUpdate(120*ms, 10*ms, false, 2*ms)
	r = p.rtt()
	if r.Min != 100*ms || r.Var != 40*ms || r.Smoothed != 101250*us {
		t.Fatalf("after second sample %+v", r)
	}
	// latest 105, ack_delay 30 clamped to max_ack_delay 25 after
	// confirmation; 105 < min 100 + 25, so no adjustment:
	// rttvar = 30 + 3.75/4 = 30.9375, smoothed = 88.59375 + 13.125 = 101.71875.
	p.rttUpdate(105*ms, 30*ms, true, 3*ms)
	r = p.rtt()
	if r.Var != 30937500 || r.Smoothed != 101718750 {
		t.Fatalf("after third sample %+v", r)
	}
	// Same sample before confirmation would not clamp: 160 - 30 = 130 is used
	// (160 >= 100 + 30); after confirmation 160 - 25 = 135.
	q := mustPath(t, "newreno", true)
	q.rttUpdate(100*ms, 0, false, 0)
	q.rttUpdate(160*ms, 30*ms, false, 0)
	if got := q.rtt().Smoothed; got != 100*ms-100*ms/8+130*ms/8 {
		t.Fatalf("unclamped ack delay: smoothed %d", got)
	}
	q2 := mustPath(t, "newreno", true)
	q2.rttUpdate(100*ms, 0, true, 0)
	q2.rttUpdate(160*ms, 30*ms, true, 0)
	if got := q2.rtt().Smoothed; got != 100*ms-100*ms/8+135*ms/8 {
		t.Fatalf("clamped ack delay: smoothed %d", got)
	}
	// min_rtt takes the raw sample; PTO = smoothed + 4*rttvar (+ max_ack_delay) << backoff.
	p.rttUpdate(90*ms, 0, true, 4*ms)
	r = p.rtt()
	if r.Min != 90*ms {
		t.Fatalf("min_rtt %d", r.Min)
	}
	base := r.Smoothed + 4*r.Var
	for b := uint(0); b < 5; b++ {
		if got := p.pto(false, b); got != base<<b {
			t.Fatalf("pto backoff %d: %d, want %d", b, got, base<<b)
		}
		if got := p.pto(true, b); got != (base+25*ms)<<b {
			t.Fatalf("pto+mad backoff %d: %d", b, got)
		}
	}
	// Loss delay: 9/8 * max(smoothed, latest), at least 1 ms.
	if got, want := p.lossDelay(), max(r.Smoothed, r.Latest)*9/8; !near(got, want, 1) {
		t.Fatalf("loss delay %d, want %d", got, want)
	}
	// Granularity floors rttvar's contribution and the loss delay.
	g := mustPath(t, "newreno", true)
	g.rttUpdate(100*us, 0, true, 0)
	for i := 0; i < 100; i++ {
		g.rttUpdate(100*us, 0, true, 0)
	}
	if got := g.pto(false, 0); got != g.rtt().Smoothed+granularityNs {
		t.Fatalf("pto floor: %d", got)
	}
	if got := g.lossDelay(); got != granularityNs {
		t.Fatalf("loss delay floor: %d", got)
	}
	// Huge backoff saturates instead of wrapping.
	if got := p.pto(true, 200); got < p.pto(true, 16) {
		t.Fatalf("pto backoff overflow: %d", got)
	}
}

// The estimator against a float implementation of RFC 9002 over random samples.
func TestRecoveryRTTEstimatorRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(9002))
	p := mustPath(t, "cubic", true)
	var srtt, rttvar, minRTT float64
	first := true
	for i := 0; i < 2000; i++ {
		latest := uint64(5*ms) + uint64(rng.Int63n(int64(200*ms)))
		delay := uint64(rng.Int63n(int64(40 * ms)))
		confirmed := i > 100
		p.rttUpdate(latest, delay, confirmed, uint64(i)*ms)
		l, d := float64(latest), float64(delay)
		if first {
			srtt, rttvar, minRTT, first = l, l/2, l, false
		} else {
			minRTT = math.Min(minRTT, l)
			if confirmed {
				d = math.Min(d, float64(25*ms))
			}
			adj := l
			if l >= minRTT+d {
				adj = l - d
			}
			rttvar = 0.75*rttvar + 0.25*math.Abs(srtt-adj)
			srtt = 0.875*srtt + 0.125*adj
		}
		r := p.rtt()
		if math.Abs(float64(r.Smoothed)-srtt) > 16 || math.Abs(float64(r.Var)-rttvar) > 16 ||
			float64(r.Min) != minRTT {
			t.Fatalf("sample %d: engine %+v, reference srtt %.1f rttvar %.1f min %.0f",
				i, r, srtt, rttvar, minRTT)
		}
	}
}

// Packet threshold (3) and time threshold (9/8 RTT) loss detection.
func TestRecoveryLossDetectionThresholds(t *testing.T) {
	p := mustPath(t, "newreno", true)
	p.confirmHandshake(0)
	for pn := uint64(0); pn < 10; pn++ {
		mustSend(t, p, spaceApp, pn, pn*ms, 1200, sentData)
	}
	if p.bytesInFlight() != 12000 {
		t.Fatalf("in flight %d", p.bytesInFlight())
	}
	// ACK of pn 9 at 50 ms: RTT sample 41 ms; 0..6 are 3 or more below 9.
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{9, 9}}}, 50*ms)
	evs := p.events()
	if got := pnsOf(evs, evLost); !equalU64(got, []uint64{0, 1, 2, 3, 4, 5, 6}) {
		t.Fatalf("lost %v", got)
	}
	if got := pnsOf(evs, evAcked); !equalU64(got, []uint64{9}) {
		t.Fatalf("acked %v", got)
	}
	if p.rtt().Latest != 41*ms {
		t.Fatalf("latest rtt %d", p.rtt().Latest)
	}
	// 7 and 8 wait for the time threshold: sent + 9/8 * 41 ms.
	lossDelay := 41 * ms * 9 / 8
	if p.timerKind() != timerLoss || !near(p.deadline(), 7*ms+lossDelay, 1) {
		t.Fatalf("timer kind %d at %d, want loss at %d", p.timerKind(), p.deadline(), 7*ms+lossDelay)
	}
	if p.bytesInFlight() != 2400 {
		t.Fatalf("in flight after loss %d", p.bytesInFlight())
	}
	// Early timeout does nothing.
	if k := p.timeout(p.deadline() - 1); k != timerNone {
		t.Fatalf("early timeout returned %d", k)
	}
	if k := p.timeout(p.deadline()); k != timerLoss {
		t.Fatalf("timeout returned %d", k)
	}
	if got := pnsOf(p.events(), evLost); !equalU64(got, []uint64{7}) {
		t.Fatalf("time-threshold lost %v", got)
	}
	if !near(p.deadline(), 8*ms+lossDelay, 1) {
		t.Fatalf("next loss timer %d", p.deadline())
	}
	p.timeout(p.deadline())
	if got := pnsOf(p.events(), evLost); !equalU64(got, []uint64{8}) {
		t.Fatalf("second time-threshold lost %v", got)
	}
	// One congestion event for the whole episode (one reduction per RTT).
	if c, _, _ := p.ccEvents(); c != 1 {
		t.Fatalf("congestion events %d", c)
	}
	if p.bytesInFlight() != 0 || p.timerKind() != timerNone {
		t.Fatalf("in flight %d timer %d", p.bytesInFlight(), p.timerKind())
	}
	st := p.stats()
	if st.PktsLost != 9 || st.BytesLost != 9*1200 || st.BytesAcked != 1200 {
		t.Fatalf("stats %+v", st)
	}
	if live, dbl := p.frameHandles(); live != 0 || dbl != 0 {
		t.Fatalf("frame handles live %d double %d", live, dbl)
	}
	// Lost records linger one PTO period for late (spurious) ACKs, then go.
	if p.tracked(spaceApp) == 0 {
		t.Fatal("lost records dropped at once")
	}
	mustSend(t, p, spaceApp, 10, 300*ms, 1200, sentData)
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{10, 10}}}, 340*ms)
	if p.tracked(spaceApp) != 0 {
		t.Fatalf("records left %d", p.tracked(spaceApp))
	}
}

// A configurable packet threshold and reordering below it.
func TestRecoveryReorderingWithinThreshold(t *testing.T) {
	p := mustPath(t, "newreno", true)
	p.confirmHandshake(0)
	for pn := uint64(0); pn < 4; pn++ {
		mustSend(t, p, spaceApp, pn, 0, 1000, sentData)
	}
	// ACK 1..3 at 10 ms: pn 0 is 3 below 3 -> lost by packet threshold.
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{3, 1}}}, 10*ms)
	if got := pnsOf(p.events(), evLost); !equalU64(got, []uint64{0}) {
		t.Fatalf("lost %v", got)
	}
	// Spurious: the late ACK for 0 is reported with the LOST flag.
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{3, 0}}}, 11*ms)
	evs := p.events()
	if len(evs) != 1 || evs[0].PN != 0 || evs[0].Kind != evAcked || evs[0].Flags&sentLost == 0 || evs[0].Frames != 0 {
		t.Fatalf("late ack events %+v", evs)
	}
	if p.stats().Spurious != 1 || p.bytesInFlight() != 0 {
		t.Fatalf("spurious %d in flight %d", p.stats().Spurious, p.bytesInFlight())
	}

	q := mustPath(t, "newreno", true)
	q.confirmHandshake(0)
	for pn := uint64(0); pn < 4; pn++ {
		mustSend(t, q, spaceApp, pn, 0, 1000, sentData)
	}
	q.setPacketThreshold(5)
	mustAck(t, q, spaceApp, ackFrame{Ranges: [][2]uint64{{3, 1}}}, 1*ms)
	if got := pnsOf(q.events(), evLost); len(got) != 0 {
		t.Fatalf("threshold 5 lost %v", got)
	}
}

// PTO: deadline from the last ack-eliciting packet, exponential backoff,
// two probes, reset on an ACK.
func TestRecoveryPTOBackoff(t *testing.T) {
	p := mustPath(t, "cubic", true)
	p.confirmHandshake(0)
	mustSend(t, p, spaceApp, 0, 0, 1200, sentData)
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{0, 0}}}, 100*ms)
	r := p.rtt() // smoothed 100, rttvar 50
	pto := r.Smoothed + 4*r.Var + 25*ms
	if pto != 325*ms {
		t.Fatalf("pto %d", pto)
	}
	mustSend(t, p, spaceApp, 1, 200*ms, 1200, sentData)
	if p.timerKind() != timerPTO || p.deadline() != 200*ms+pto {
		t.Fatalf("timer %d at %d", p.timerKind(), p.deadline())
	}
	// A later ack-eliciting packet moves the deadline.
	mustSend(t, p, spaceApp, 2, 210*ms, 1200, sentData)
	if p.deadline() != 210*ms+pto {
		t.Fatalf("deadline after second packet %d", p.deadline())
	}
	// Non-ack-eliciting packets do not.
	if err := p.sent(spaceApp, 3, 220*ms, 50, 0, ecnNotECT, 0, 0); err != nil {
		t.Fatal(err)
	}
	if p.deadline() != 210*ms+pto {
		t.Fatalf("deadline after ack-only packet %d", p.deadline())
	}
	now := p.deadline()
	for i := 1; i <= 4; i++ {
		if k := p.timeout(now); k != timerPTO {
			t.Fatalf("pto %d: kind %d", i, k)
		}
		if n, sp := p.probes(); n != 2 || sp != spaceApp {
			t.Fatalf("probes %d in %d", n, sp)
		}
		if p.ptoCount() != uint32(i) {
			t.Fatalf("pto count %d", p.ptoCount())
		}
		want := 210*ms + pto<<uint(i)
		if p.deadline() != want {
			t.Fatalf("after pto %d deadline %d want %d", i, p.deadline(), want)
		}
		now = p.deadline()
	}
	if got := pnsOf(p.events(), evLost); len(got) != 0 {
		t.Fatalf("PTO declared packets lost: %v", got)
	}
	// Probes consume the probe count and bypass nothing else.
	mustSend(t, p, spaceApp, 4, now, 1200, sentData)
	mustSend(t, p, spaceApp, 5, now, 1200, sentData)
	if n, _ := p.probes(); n != 0 {
		t.Fatalf("probes left %d", n)
	}
	// An ACK resets the backoff; 1 and 2 are then lost by packet threshold.
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{5, 5}}}, now+10*ms)
	if p.ptoCount() != 0 {
		t.Fatalf("pto count after ack %d", p.ptoCount())
	}
	// 3 (ACK-only) is reported lost too: the connection drops its frames.
	if got := pnsOf(p.events(), evLost); !equalU64(got, []uint64{1, 2, 3}) {
		t.Fatalf("lost after probe ack %v", got)
	}
	if p.stats().PTOs != 4 {
		t.Fatalf("PTO stat %d", p.stats().PTOs)
	}
}

// Handshake rules: Initial/Handshake PTOs ignore max_ack_delay, the
// earliest space wins, Application Data waits for confirmation.
func TestRecoveryPTOHandshakeSpaces(t *testing.T) {
	p := mustPath(t, "newreno", true)
	base := p.pto(false, 0) // 999 ms
	mustSend(t, p, spaceInitial, 0, 0, 1200, sentData)
	mustSend(t, p, spaceHandshake, 0, 10*ms, 1200, sentData)
	mustSend(t, p, spaceApp, 0, 20*ms, 1200, sentData)
	if p.timerKind() != timerPTO || p.deadline() != base {
		t.Fatalf("timer %d at %d, want Initial PTO at %d", p.timerKind(), p.deadline(), base)
	}
	if k := p.timeout(base); k != timerPTO {
		t.Fatal("no PTO")
	}
	if n, sp := p.probes(); n != 2 || sp != spaceInitial {
		t.Fatalf("probes %d space %d", n, sp)
	}
	// Dropping Initial keys: the Handshake space drives the timer, backoff reset.
	p.discard(spaceInitial, base)
	evs := p.events()
	if len(evs) != 1 || evs[0].Kind != evDiscarded || evs[0].Space != spaceInitial {
		t.Fatalf("discard events %+v", evs)
	}
	if p.ptoCount() != 0 || p.bytesInFlight() != 2400 {
		t.Fatalf("after discard: pto count %d in flight %d", p.ptoCount(), p.bytesInFlight())
	}
	if p.deadline() != 10*ms+base {
		t.Fatalf("handshake PTO at %d want %d", p.deadline(), 10*ms+base)
	}
	if c, _, _ := p.ccEvents(); c != 0 {
		t.Fatal("discarding a space signalled congestion")
	}
	// Handshake done: only Application Data left, not yet confirmed -> no PTO.
	p.discard(spaceHandshake, 30*ms)
	if p.timerKind() != timerNone {
		t.Fatalf("app PTO armed before confirmation (%d at %d)", p.timerKind(), p.deadline())
	}
	p.confirmHandshake(40 * ms)
	if p.timerKind() != timerPTO || p.deadline() != 20*ms+base+25*ms {
		t.Fatalf("app PTO at %d", p.deadline())
	}
	// Sending in a discarded space is refused.
	if err := p.sent(spaceInitial, 5, 50*ms, 100, sentData, 0, 0, 0); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("send in discarded space: %v", err)
	}
	if st := p.stats(); st.BytesDiscarded != 2400 {
		t.Fatalf("discarded bytes %d", st.BytesDiscarded)
	}
}

// Client anti-deadlock: with nothing in flight and an unvalidated server,
// the client still arms a PTO from now, probing Initial then Handshake.
func TestRecoveryClientAntiDeadlock(t *testing.T) {
	p := mustPath(t, "newreno", false)
	mustSend(t, p, spaceInitial, 0, 0, 1200, sentData)
	// Server's ACK of the Initial arrives; nothing ack-eliciting in flight.
	mustAck(t, p, spaceInitial, ackFrame{Ranges: [][2]uint64{{0, 0}}}, 30*ms)
	r := p.rtt()
	pto := r.Smoothed + 4*r.Var
	if p.timerKind() != timerPTO || p.deadline() != 30*ms+pto {
		t.Fatalf("anti-deadlock timer %d at %d want %d", p.timerKind(), p.deadline(), 30*ms+pto)
	}
	if p.timeout(p.deadline()) != timerPTO {
		t.Fatal("anti-deadlock PTO did not fire")
	}
	if n, sp := p.probes(); n != 1 || sp != spaceInitial {
		t.Fatalf("anti-deadlock probes %d space %d", n, sp)
	}
	// With Handshake keys the probe is a Handshake packet.
	p.handshakeKeys(200 * ms)
	if p.deadline() != 200*ms+pto*2 {
		t.Fatalf("re-armed anti-deadlock at %d", p.deadline())
	}
	p.timeout(p.deadline())
	if n, sp := p.probes(); n != 1 || sp != spaceHandshake {
		t.Fatalf("handshake probe %d space %d", n, sp)
	}
	// A Handshake ACK proves the server validated us: no timer when idle.
	mustSend(t, p, spaceHandshake, 0, 900*ms, 100, sentData)
	mustAck(t, p, spaceHandshake, ackFrame{Ranges: [][2]uint64{{0, 0}}}, 920*ms)
	if p.timerKind() != timerNone {
		t.Fatalf("timer %d still armed after validation", p.timerKind())
	}
	// A server at its amplification limit arms nothing.
	s := mustPath(t, "newreno", true)
	mustSend(t, s, spaceInitial, 0, 0, 1200, sentData)
	s.setAmpBlocked(true, 1*ms)
	if s.timerKind() != timerNone {
		t.Fatal("amplification-blocked server armed a timer")
	}
	s.setAmpBlocked(false, 2*ms)
	if s.timerKind() != timerPTO {
		t.Fatal("timer not re-armed after the limit lifted")
	}
}

// RFC 9002 section 7.6: lost ack-eliciting packets spanning more than
// (smoothed + max(4 rttvar, 1ms) + max_ack_delay) * 3 with nothing acked
// in between collapse the window; an acknowledgment in between prevents it.
func TestRecoveryPersistentCongestion(t *testing.T) {
	for _, ackMiddle := range []bool{false, true} {
		for _, cc := range []string{"newreno", "cubic"} {
			p := mustPath(t, cc, true)
			p.confirmHandshake(0)
			mustSend(t, p, spaceApp, 0, 0, 1200, sentData)
			mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{0, 0}}}, 10*ms) // srtt 10, rttvar 5
			// Duration (10 + 20 + 25) * 3 = 165 ms; packets 1..10 span 20..200 ms.
			for pn := uint64(1); pn <= 11; pn++ {
				mustSend(t, p, spaceApp, pn, 20*ms*pn, 1200, sentData)
			}
			ranges := [][2]uint64{{11, 11}}
			if ackMiddle {
				ranges = [][2]uint64{{11, 11}, {5, 5}}
			}
			mustAck(t, p, spaceApp, ackFrame{Ranges: ranges}, 230*ms)
			_, _, pc := p.ccEvents()
			if ackMiddle {
				if pc != 0 || p.cwnd() <= 2*1200 {
					t.Fatalf("%s: persistent congestion despite an ack in the middle (cwnd %d)", cc, p.cwnd())
				}
				continue
			}
			if pc != 1 || p.stats().PersistentCongestion != 1 {
				t.Fatalf("%s: persistent congestion events %d", cc, pc)
			}
			// RFC 9002 A.7: losses (window to 2 packets, recovery period
			// cleared) are processed before the acknowledgment, which then
			// grows the window in slow start by the 1200 bytes of pn 11.
			if p.cwnd() != 3*1200 || !p.slowStart() {
				t.Fatalf("%s: cwnd %d after persistent congestion", cc, p.cwnd())
			}
		}
	}
	// Spans shorter than the duration do not count.
	p := mustPath(t, "newreno", true)
	p.confirmHandshake(0)
	mustSend(t, p, spaceApp, 0, 0, 1200, sentData)
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{0, 0}}}, 10*ms)
	for pn := uint64(1); pn <= 6; pn++ {
		mustSend(t, p, spaceApp, pn, 20*ms+30*ms*pn, 1200, sentData) // span 150 ms
	}
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{6, 6}}}, 300*ms)
	if _, _, pc := p.ccEvents(); pc != 0 {
		t.Fatal("persistent congestion for a span below the duration")
	}
	// Packets sent before the first RTT sample never count.
	q := mustPath(t, "newreno", true)
	q.confirmHandshake(0)
	for pn := uint64(0); pn <= 10; pn++ {
		mustSend(t, q, spaceApp, pn, 200*ms*pn, 1200, sentData)
	}
	mustAck(t, q, spaceApp, ackFrame{Ranges: [][2]uint64{{10, 10}}}, 2010*ms)
	if _, _, pc := q.ccEvents(); pc != 0 {
		t.Fatal("persistent congestion from packets sent before the first RTT sample")
	}
}

// Acknowledging unsent or skipped packet numbers is a PROTOCOL_VIOLATION.
func TestRecoveryAckValidation(t *testing.T) {
	p := mustPath(t, "newreno", true)
	if code, err := p.ack(spaceApp, ackFrame{Ranges: [][2]uint64{{0, 0}}}, 1); err != nil || code != CodeProtocolViolation {
		t.Fatalf("ack with nothing sent: %#x %v", code, err)
	}
	mustSend(t, p, spaceApp, 0, 0, 1200, sentData)
	if err := p.skip(spaceApp, 1); err != nil {
		t.Fatal(err)
	}
	mustSend(t, p, spaceApp, 2, 0, 1200, sentData)
	if code, _ := p.ack(spaceApp, ackFrame{Ranges: [][2]uint64{{3, 3}}}, 1*ms); code != CodeProtocolViolation {
		t.Fatalf("ack above largest sent: %#x", code)
	}
	if code, _ := p.ack(spaceApp, ackFrame{Ranges: [][2]uint64{{2, 0}}}, 1*ms); code != CodeProtocolViolation {
		t.Fatalf("ack of a skipped pn: %#x", code)
	}
	if p.bytesInFlight() != 2400 || len(p.events()) != 0 {
		t.Fatal("a rejected ACK changed state")
	}
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{2, 2}, {0, 0}}}, 1*ms)
	if got := pnsOf(p.events(), evAcked); !equalU64(got, []uint64{2, 0}) {
		t.Fatalf("acked %v", got)
	}
	// Packet numbers must increase; in-flight packets need a size.
	if err := p.sent(spaceApp, 2, 0, 100, sentData, 0, 0, 0); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("reused pn: %v", err)
	}
	if err := p.sent(spaceApp, 9, 0, 0, sentData, 0, 0, 0); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("zero-size in-flight packet: %v", err)
	}
	// Duplicate ACKs change nothing.
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{2, 2}, {0, 0}}}, 2*ms)
	if len(p.events()) != 0 || p.stats().PktsAcked != 2 {
		t.Fatal("duplicate ACK produced events")
	}
}

// The record ring is bounded: beyond the cap sending fails with ENOBUFS
// until acknowledgments free records.
func TestRecoveryRecordCap(t *testing.T) {
	p := mustPath(t, "newreno", true)
	p.setMaxTracked(40)
	p.confirmHandshake(0)
	for pn := uint64(0); pn < 40; pn++ {
		mustSend(t, p, spaceApp, pn, 0, 100, sentData)
	}
	if err := p.sent(spaceApp, 40, 0, 100, sentData, 0, 0, 41); !errors.Is(err, syscall.ENOBUFS) {
		t.Fatalf("send beyond cap: %v", err)
	}
	if live, _ := p.frameHandles(); live != 40 {
		t.Fatalf("a refused packet kept its handle (%d live)", live)
	}
	// pn 0 is lost (packet threshold) and lingers at the head for a PTO
	// period (3 ms here), holding the acknowledged records behind it.
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{39, 1}}}, 1*ms)
	if p.tracked(spaceApp) != 40 {
		t.Fatalf("records %d", p.tracked(spaceApp))
	}
	if err := p.sent(spaceApp, 40, 2*ms, 100, sentData, 0, 0, 0); !errors.Is(err, syscall.ENOBUFS) {
		t.Fatalf("send beyond cap: %v", err)
	}
	// A later (duplicate) ACK lets the head go.
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{39, 1}}}, 10*ms)
	if p.tracked(spaceApp) != 0 {
		t.Fatalf("records left %d", p.tracked(spaceApp))
	}
	mustSend(t, p, spaceApp, 40, 10*ms, 100, sentData)
}

// ACK-only packets are tracked (for ACK-of-ACK) but never in flight.
func TestRecoveryAckOnlyPackets(t *testing.T) {
	p := mustPath(t, "newreno", true)
	if err := p.sent(spaceApp, 0, 0, 40, sentHasAck, 0, 77, 0); err != nil {
		t.Fatal(err)
	}
	if p.bytesInFlight() != 0 || p.timerKind() != timerNone {
		t.Fatal("ACK-only packet counted in flight")
	}
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{0, 0}}}, 5*ms)
	evs := p.events()
	if len(evs) != 1 || evs[0].AckLargest != 77 || evs[0].Kind != evAcked {
		t.Fatalf("events %+v", evs)
	}
	// No RTT sample from a non-ack-eliciting packet.
	if p.rtt().HasSample {
		t.Fatal("RTT sample from an ACK-only packet")
	}
}

// ECN validation (RFC 9000 section 13.4.2) and CE reaction.
func TestRecoveryECN(t *testing.T) {
	p := mustPath(t, "newreno", true)
	p.confirmHandshake(0)
	p.setECN(true)
	if p.ecnCodepoint() != ecnECT0 || p.ecnState() != ecnStateTesting {
		t.Fatalf("codepoint %d state %d", p.ecnCodepoint(), p.ecnState())
	}
	for pn := uint64(0); pn < 10; pn++ {
		if err := p.sent(spaceApp, pn, pn*ms, 1200, sentData, p.ecnCodepoint(), 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Ten testing packets out: wait for feedback unmarked.
	if p.ecnState() != ecnStateUnknown || p.ecnCodepoint() != ecnNotECT {
		t.Fatalf("after testing: state %d cp %d", p.ecnState(), p.ecnCodepoint())
	}
	mustAck(t, p, spaceApp, ackFrame{Type: FrameAckECN, Ranges: [][2]uint64{{4, 0}}, ECT0: 5}, 20*ms)
	if p.ecnState() != ecnStateCapable || p.ecnCodepoint() != ecnECT0 {
		t.Fatalf("validation: state %d", p.ecnState())
	}
	cwnd := p.cwnd()
	// Two CE marks: one congestion reaction.
	mustAck(t, p, spaceApp, ackFrame{Type: FrameAckECN, Ranges: [][2]uint64{{7, 0}}, ECT0: 6, CE: 2}, 30*ms)
	if _, e, _ := p.ccEvents(); e != 1 || p.cwnd() != cwnd/2 || p.stats().ECNCE != 2 {
		t.Fatalf("CE reaction: ecn events %d cwnd %d (was %d)", e, p.cwnd(), cwnd)
	}
	// A reordered (older) ACK with lower counts is ignored, not a failure.
	mustAck(t, p, spaceApp, ackFrame{Type: FrameAckECN, Ranges: [][2]uint64{{6, 0}}, ECT0: 5, CE: 1}, 31*ms)
	if p.ecnState() != ecnStateCapable {
		t.Fatal("reordered ACK failed validation")
	}
	// Counts that do not cover the newly acknowledged ECT packets: failure.
	mustAck(t, p, spaceApp, ackFrame{Type: FrameAckECN, Ranges: [][2]uint64{{9, 0}}, ECT0: 6, CE: 2}, 40*ms)
	if p.ecnState() != ecnStateFailed || p.ecnCodepoint() != ecnNotECT {
		t.Fatalf("under-reporting peer: state %d", p.ecnState())
	}

	// A peer that sends plain ACKs for ECT packets fails validation.
	q := mustPath(t, "newreno", true)
	q.setECN(true)
	if err := q.sent(spaceApp, 0, 0, 1200, sentData, q.ecnCodepoint(), 0, 0); err != nil {
		t.Fatal(err)
	}
	mustAck(t, q, spaceApp, ackFrame{Ranges: [][2]uint64{{0, 0}}}, 10*ms)
	if q.ecnState() != ecnStateFailed {
		t.Fatal("plain ACK of ECT packets did not fail validation")
	}
	// Counts above what was sent fail too.
	s := mustPath(t, "newreno", true)
	s.setECN(true)
	if err := s.sent(spaceApp, 0, 0, 1200, sentData, s.ecnCodepoint(), 0, 0); err != nil {
		t.Fatal(err)
	}
	mustAck(t, s, spaceApp, ackFrame{Type: FrameAckECN, Ranges: [][2]uint64{{0, 0}}, ECT0: 3}, 10*ms)
	if s.ecnState() != ecnStateFailed {
		t.Fatal("inflated ECN counts accepted")
	}
	// Every testing packet lost: the path drops ECT packets.
	b := mustPath(t, "newreno", true)
	b.confirmHandshake(0)
	b.setECN(true)
	for pn := uint64(0); pn < 13; pn++ {
		cp := b.ecnCodepoint()
		if err := b.sent(spaceApp, pn, pn*ms, 1200, sentData, cp, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	mustAck(t, b, spaceApp, ackFrame{Type: FrameAckECN, Ranges: [][2]uint64{{12, 12}}}, 20*ms)
	if b.ecnState() != ecnStateFailed {
		t.Fatalf("black-holed ECT packets: state %d", b.ecnState())
	}
}

// ACCURATE_ACK_ECN: per-range marks feed the CE reaction.
func TestRecoveryAccurateECN(t *testing.T) {
	p := mustPath(t, "cubic", true)
	p.confirmHandshake(0)
	p.setECN(true)
	for pn := uint64(0); pn < 6; pn++ {
		if err := p.sent(spaceApp, pn, pn*ms, 1200, sentData, ecnECT0, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	mustAck(t, p, spaceApp, ackFrame{Type: FrameAccurateAckECN,
		Ranges: [][2]uint64{{5, 4}, {3, 3}, {2, 0}}, Marks: []uint8{ecnECT0, ecnCE, ecnECT0}}, 20*ms)
	if _, e, _ := p.ccEvents(); e != 1 || p.stats().ECNCE != 1 || p.ecnState() != ecnStateCapable {
		t.Fatalf("accurate ECN: events %d ce %d state %d", e, p.stats().ECNCE, p.ecnState())
	}
}

// Delivery-rate sampling and app-limited marking feed the controller.
func TestRecoveryAppLimited(t *testing.T) {
	p := mustPath(t, "newreno", true)
	p.confirmHandshake(0)
	w := p.cwnd()
	p.appLimited()
	mustSend(t, p, spaceApp, 0, 0, 1200, sentData)
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{0, 0}}}, 10*ms)
	if p.cwnd() != w {
		t.Fatalf("cwnd grew while app limited: %d -> %d", w, p.cwnd())
	}
	// Once the app-limited bubble is delivered, growth resumes.
	mustSend(t, p, spaceApp, 1, 11*ms, 1200, sentData)
	mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{1, 1}}}, 21*ms)
	if p.cwnd() != w+1200 {
		t.Fatalf("cwnd %d after a cwnd-limited ack, want %d", p.cwnd(), w+1200)
	}
	if p.stats().DeliveredBytes != 2400 {
		t.Fatalf("delivered %d", p.stats().DeliveredBytes)
	}
}

// ACK Delay decoding uses the peer's exponent in Application Data.
func TestRecoveryAckDelayExponent(t *testing.T) {
	for _, e := range []uint8{0, 3, 10} {
		p := mustPath(t, "newreno", true)
		p.confirmHandshake(0)
		p.setPeerAckDelayExponent(e)
		mustSend(t, p, spaceApp, 0, 0, 1200, sentData)
		mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{0, 0}}}, 50*ms)
		mustSend(t, p, spaceApp, 1, 100*ms, 1200, sentData)
		delayUs := uint64(20000)
		mustAck(t, p, spaceApp, ackFrame{Ranges: [][2]uint64{{1, 1}}, Delay: delayUs >> e}, 180*ms)
		// latest 80, ack delay ~20 -> adjusted ~60; smoothed = 50*7/8 + 60/8.
		want := 50*ms - 50*ms/8 + (80*ms-(delayUs>>e<<e)*us)/8
		if got := p.rtt().Smoothed; !near(got, want, 2) {
			t.Fatalf("exponent %d: smoothed %d want %d", e, got, want)
		}
	}
}
