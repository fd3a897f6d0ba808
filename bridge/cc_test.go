package bridge

import (
	"math"
	"testing"
)

const mss = 1200

func TestCCRegistry(t *testing.T) {
	names := ccNames()
	if len(names) < 2 || names[0] != "cubic" {
		t.Fatalf("registry %v", names)
	}
	for _, n := range names {
		p := mustPath(t, n, true)
		if p.ccName() != n {
			t.Fatalf("%s: instance runs %s", n, p.ccName())
		}
		// RFC 9002 7.2: min(10 * mss, max(14720, 2 * mss)).
		if p.cwnd() != 12000 || !p.slowStart() || p.ccState() != "slow_start" {
			t.Fatalf("%s: initial cwnd %d state %s", n, p.cwnd(), p.ccState())
		}
	}
	if _, err := newRecPath("nosuch", mss, true, 0, 0); err == nil {
		t.Fatal("unknown controller accepted")
	}
	if _, err := newRecPath("cubic", 10, true, 0, 0); err == nil {
		t.Fatal("tiny datagram size accepted")
	}
}

func TestCCNewReno(t *testing.T) {
	p := mustPath(t, "newreno", true)
	// Slow start: +bytes acked.
	p.ccAck(10*ms, 2400, 0, 1*ms, false)
	if p.cwnd() != 14400 {
		t.Fatalf("slow start cwnd %d", p.cwnd())
	}
	// No growth when application limited.
	p.ccAck(11*ms, 2400, 0, 2*ms, true)
	if p.cwnd() != 14400 {
		t.Fatalf("app-limited growth: %d", p.cwnd())
	}
	// Loss: halve, enter recovery.
	p.ccLoss(100*ms, 1200, 50*ms)
	if p.cwnd() != 7200 || p.ssthresh() != 7200 || p.ccState() != "recovery" {
		t.Fatalf("after loss cwnd %d ssthresh %d state %s", p.cwnd(), p.ssthresh(), p.ccState())
	}
	// Losses of packets sent before recovery started: no further cut.
	p.ccLoss(120*ms, 1200, 99*ms)
	p.ccLoss(130*ms, 1200, 100*ms)
	if p.cwnd() != 7200 {
		t.Fatalf("second reduction in one recovery period: %d", p.cwnd())
	}
	// ACKs of packets sent before recovery: no growth, still in recovery.
	p.ccAck(140*ms, 6000, 0, 90*ms, false)
	if p.cwnd() != 7200 || p.ccState() != "recovery" {
		t.Fatalf("growth in recovery: %d %s", p.cwnd(), p.ccState())
	}
	// An ACK of a packet sent after recovery began ends it; congestion
	// avoidance adds mss * acked / cwnd per ACK (RFC 9002 7.3.3), about one
	// mss per window; sub-byte remainders accumulate.
	ref := float64(p.cwnd())
	for i := 0; i < 600; i++ {
		acked := uint64(300 + 300*(i%4))
		p.ccAck(200*ms+uint64(i)*ms, acked, 0, 150*ms, false)
		ref += float64(mss) * float64(acked) / ref
	}
	if p.ccState() != "congestion_avoidance" || math.Abs(float64(p.cwnd())-ref) > 3 {
		t.Fatalf("congestion avoidance: cwnd %d, RFC 9002 formula %.1f, state %s", p.cwnd(), ref, p.ccState())
	}
	// A later loss cuts again; CE marks react like a loss.
	w := p.cwnd()
	p.ccLoss(400*ms, 1200, 350*ms)
	if p.cwnd() != w/2 {
		t.Fatalf("second loss cwnd %d", p.cwnd())
	}
	w = p.cwnd()
	p.ccECN(500*ms, 1, 450*ms)
	if p.cwnd() != w/2 {
		t.Fatalf("CE cwnd %d", p.cwnd())
	}
	// Never below the minimum window.
	for i := uint64(0); i < 10; i++ {
		p.ccLoss(600*ms+i*100*ms, 1200, 590*ms+i*100*ms)
	}
	if p.cwnd() != 2*mss {
		t.Fatalf("minimum window %d", p.cwnd())
	}
	p.ccPersistent(2000 * ms)
	if p.cwnd() != 2*mss {
		t.Fatalf("persistent congestion cwnd %d", p.cwnd())
	}
	c, e, pc := p.ccEvents()
	if c < 3 || e != 1 || pc != 1 {
		t.Fatalf("events %d %d %d", c, e, pc)
	}
}

// cubicRef is RFC 9438 in floating point, windows in segments.
func cubicRef(wmax, cwndEpoch, t float64) (w, k float64) {
	const c = 0.4
	k = math.Cbrt((wmax - cwndEpoch) / c)
	return c*math.Pow(t-k, 3) + wmax, k
}

// W_cubic(t) of the integer engine against the float formula within 1 %.
func TestCCCubicCurve(t *testing.T) {
	for _, wmaxPkts := range []uint64{20, 100, 1000, 20000} {
		p := mustPath(t, "cubic", true)
		p.ccAck(1*ms, wmaxPkts*mss-12000, 0, 0, false) // slow start to wmax
		if p.cwnd() != wmaxPkts*mss {
			t.Fatalf("cwnd %d", p.cwnd())
		}
		p.ccLoss(10*ms, mss, 5*ms)
		if want := wmaxPkts * mss * 7 / 10; p.cwnd() != want || p.ccState() != "recovery" {
			t.Fatalf("beta: cwnd %d want %d", p.cwnd(), want)
		}
		if p.cubicWMax() != wmaxPkts*mss {
			t.Fatalf("w_max %d", p.cubicWMax())
		}
		// The first ACK after recovery starts the epoch.
		p.ccAck(20*ms, mss, 0, 15*ms, false)
		epochCwnd := float64(wmaxPkts) * 0.7
		_, kRef := cubicRef(float64(wmaxPkts), epochCwnd, 0)
		_, kNs := p.cubicW(0)
		if math.Abs(float64(kNs)/1e9-kRef) > 0.002+kRef*0.001 {
			t.Fatalf("wmax %d: K %.4f s, want %.4f", wmaxPkts, float64(kNs)/1e9, kRef)
		}
		for ts := 0.0; ts <= 3*kRef+2; ts += 0.05 {
			w, _ := p.cubicW(uint64(ts * 1e9))
			ref, _ := cubicRef(float64(wmaxPkts), epochCwnd, ts)
			got := float64(w) / mss
			if ref < 1 {
				continue
			}
			if math.Abs(got-ref)/ref > 0.01 {
				t.Fatalf("wmax %d t %.2f: W_cubic %.3f segments, reference %.3f", wmaxPkts, ts, got, ref)
			}
		}
	}
}

// Driven by ACKs at a fixed RTT, cwnd follows the cubic curve (concave,
// plateau at W_max, convex), within the one-RTT lag the algorithm has.
func TestCCCubicFollowsCurve(t *testing.T) {
	p := mustPath(t, "cubic", true)
	const rtt = 100 * ms
	p.rttUpdate(rtt, 0, true, 0)
	p.ccAck(1*ms, 100*mss-12000, 0, 0, false)
	p.ccLoss(10*ms, mss, 5*ms)
	now := 20 * ms
	sent := now
	start := now
	_, kRef := cubicRef(100, 70, 0)
	worst := 0.0
	for now < start+uint64(2*kRef*1e9) {
		// One round: ACK a window of segments spread over the RTT.
		n := p.cwnd() / mss
		for i := uint64(0); i < n; i++ {
			p.ccAck(now+i*rtt/n, mss, rtt, sent+i*rtt/n, false)
		}
		now += rtt
		sent += rtt
		ts := float64(now-start) / 1e9
		ref, _ := cubicRef(100, 70, ts)
		got := float64(p.cwnd()) / mss
		if d := math.Abs(got-ref) / ref; d > worst {
			worst = d
		}
	}
	if worst > 0.05 {
		t.Fatalf("cwnd strays %.1f %% from W_cubic", worst*100)
	}
	if got := float64(p.cwnd()) / mss; got < 100 {
		t.Fatalf("cwnd %.1f segments did not pass W_max after 2K", got)
	}
}

// With a short RTT, Reno's AIMD estimate outgrows the cubic curve: the
// TCP-friendly region sets cwnd to W_est (RFC 9438 section 4.3).
func TestCCCubicRenoFriendly(t *testing.T) {
	p := mustPath(t, "cubic", true)
	const rtt = 2 * ms
	p.rttUpdate(rtt, 0, true, 0)
	p.ccAck(1*ms, 20*mss-12000, 0, 0, false)
	p.ccLoss(10*ms, mss, 5*ms)
	now, sent := 20*ms, 20*ms
	west := float64(p.cwnd()) // bytes
	prior := float64(20 * mss)
	for r := 0; r < 200; r++ {
		n := p.cwnd() / mss
		for i := uint64(0); i < n; i++ {
			cw := float64(p.cwnd())
			p.ccAck(now, mss, rtt, sent, false)
			alpha := 3 * (1 - 0.7) / (1 + 0.7)
			if west >= prior {
				alpha = 1
			}
			west += alpha * mss * mss / cw
		}
		now += rtt
		sent += rtt
	}
	elapsed := float64(now-20*ms) / 1e9
	wc, _ := cubicRef(20, 14, elapsed)
	got := float64(p.cwnd())
	if got < wc*mss*1.5 {
		t.Fatalf("cwnd %.0f not in the Reno-friendly region (W_cubic %.0f)", got, wc*mss)
	}
	if math.Abs(got-west)/west > 0.01 {
		t.Fatalf("cwnd %.0f, Reno estimate %.0f", got, west)
	}
}

// Fast convergence: a loss below the previous W_max lowers W_max further.
func TestCCCubicFastConvergence(t *testing.T) {
	p := mustPath(t, "cubic", true)
	p.ccAck(1*ms, 100*mss-12000, 0, 0, false)
	p.ccLoss(10*ms, mss, 5*ms) // w_max 100, cwnd 70
	p.ccAck(20*ms, mss, 0, 15*ms, false)
	w := p.cwnd()
	p.ccLoss(30*ms, mss, 25*ms)
	if want := w * 17 / 20; p.cubicWMax() != want {
		t.Fatalf("w_max %d want %d (cwnd was %d)", p.cubicWMax(), want, w)
	}
	if p.cwnd() != w*7/10 {
		t.Fatalf("cwnd %d", p.cwnd())
	}
	// Persistent congestion: minimum window, slow start again.
	p.ccPersistent(40 * ms)
	if p.cwnd() != 2*mss || !p.slowStart() {
		t.Fatalf("after persistent congestion cwnd %d", p.cwnd())
	}
}

// hystartRound acknowledges n segments in one round starting at start,
// each with the given RTT sample (see the round rule in cc_cubic.c).
func hystartRound(p *recPath, start uint64, n int, rtt uint64) {
	for i := 0; i < n; i++ {
		p.ccAck(start+uint64(i)*ms, mss, rtt, start-100*ms+uint64(i)*ms, false)
	}
}

// HyStart++ (RFC 9406): an RTT rise of max(4 ms, min(16 ms, minRTT / 8))
// moves to conservative slow start, which grows at a quarter of the rate
// and ends in congestion avoidance after 5 rounds; a falling RTT resumes
// slow start.
func TestCCHyStartPlusPlus(t *testing.T) {
	p := mustPath(t, "cubic", true)
	hystartRound(p, 200*ms, 10, 100*ms)
	hystartRound(p, 400*ms, 10, 100*ms)
	// +10 ms < 12.5 ms threshold: still slow start.
	hystartRound(p, 600*ms, 10, 110*ms)
	if p.ccState() != "slow_start" {
		t.Fatalf("state %s after a small RTT rise", p.ccState())
	}
	hystartRound(p, 800*ms, 10, 124*ms)
	if p.ccState() != "conservative_slow_start" {
		t.Fatalf("state %s after an RTT rise above the threshold", p.ccState())
	}
	// Growth in CSS: acked / 4.
	w := p.cwnd()
	p.ccAck(801*ms+100*ms, 4*mss, 124*ms, 790*ms, false)
	if p.cwnd() != w+mss {
		t.Fatalf("CSS growth %d -> %d", w, p.cwnd())
	}
	// RTT back below the CSS baseline: slow start resumes.
	hystartRound(p, 1000*ms, 10, 100*ms)
	if p.ccState() != "slow_start" {
		t.Fatalf("state %s after the RTT fell", p.ccState())
	}
	hystartRound(p, 1200*ms, 10, 125*ms)
	if p.ccState() != "conservative_slow_start" {
		t.Fatalf("state %s", p.ccState())
	}
	for r := 0; r < 5; r++ {
		hystartRound(p, 1400*ms+uint64(r)*200*ms, 10, 125*ms)
	}
	// ssthresh is the window when CSS ended; the rest of that round grows
	// it by congestion avoidance only.
	if p.ccState() != "congestion_avoidance" || p.ssthresh() > p.cwnd() || p.cwnd()-p.ssthresh() > mss {
		t.Fatalf("after CSS rounds: state %s cwnd %d ssthresh %d", p.ccState(), p.cwnd(), p.ssthresh())
	}
	// NewReno keeps plain slow start.
	q := mustPath(t, "newreno", true)
	hystartRound(q, 200*ms, 10, 100*ms)
	hystartRound(q, 400*ms, 10, 150*ms)
	if !q.slowStart() {
		t.Fatal("newreno left slow start on RTT")
	}
}

// Pacing rate: cwnd / srtt with gain 2 in slow start, 5/4 afterwards.
func TestCCPacingRate(t *testing.T) {
	p := mustPath(t, "newreno", true)
	// Before any sample the initial RTT (333 ms) stands in.
	if want := uint64(12000) * 2 * 1e9 / uint64(333*ms); p.pacingRate() != want {
		t.Fatalf("initial pacing rate %d want %d", p.pacingRate(), want)
	}
	p.rttUpdate(100*ms, 0, true, 0)
	if p.pacingRate() != 240000 {
		t.Fatalf("slow-start pacing rate %d", p.pacingRate())
	}
	p.ccLoss(10*ms, mss, 5*ms)
	if want := p.cwnd() * 5 * 10 / 4; p.pacingRate() != want {
		t.Fatalf("congestion-avoidance pacing rate %d want %d", p.pacingRate(), want)
	}
}

// Pacer spacing at several rates, burst allowance, long-run accuracy and
// the unpaced extremes.
func TestPacerSpacing(t *testing.T) {
	for _, rate := range []uint64{1, 125000, 1250000, 12500000, 1250000000, 1 << 62} {
		p := mustPath(t, "cubic", true)
		p.pacerSetRate(rate, 0)
		now := uint64(0)
		var times []uint64
		for i := 0; i < 40; i++ {
			at := p.pacerNext(mss, now)
			if at < now {
				t.Fatalf("rate %d: send time %d in the past (%d)", rate, at, now)
			}
			now = at
			p.pacerSent(mss, now)
			times = append(times, now)
		}
		// The first 10 datagrams (the initial burst) go at once.
		for i := 0; i < 10; i++ {
			if times[i] != 0 {
				t.Fatalf("rate %d: burst datagram %d at %d", rate, i, times[i])
			}
		}
		gap := float64(mss) * 1e9 / float64(rate)
		for i := 11; i < 40; i++ {
			d := float64(times[i] - times[i-1])
			if gap < 1 {
				if d > 1 {
					t.Fatalf("rate %d: gap %.0f ns", rate, d)
				}
				continue
			}
			if math.Abs(d-gap) > 1 {
				t.Fatalf("rate %d: gap %d = %.0f ns, want %.1f", rate, i, d, gap)
			}
		}
	}
	// Long run: N datagrams at 10 Mbit/s take (N - burst) * 960 us.
	p := mustPath(t, "cubic", true)
	p.pacerSetRate(1250000, 0)
	now := uint64(0)
	for i := 0; i < 100010; i++ {
		now = p.pacerNext(mss, now)
		p.pacerSent(mss, now)
	}
	if want := uint64(100000) * 960 * us; !near(now, want, 100) {
		t.Fatalf("100000 paced datagrams took %d ns, want %d", now, want)
	}
	// Idle time refills the bucket up to the burst, not beyond.
	now += 1000 * ms
	for i := 0; i < 10; i++ {
		if at := p.pacerNext(mss, now); at != now {
			t.Fatalf("after idle: datagram %d delayed to %d", i, at-now)
		}
		p.pacerSent(mss, now)
	}
	if at := p.pacerNext(mss, now); at != now+960*us {
		t.Fatalf("burst beyond capacity: %d", at-now)
	}
	// Rate 0 and U64_MAX mean unpaced.
	for _, r := range []uint64{0, ^uint64(0)} {
		q := mustPath(t, "cubic", true)
		q.pacerSetRate(r, 5)
		for i := 0; i < 100; i++ {
			if at := q.pacerNext(65000, 5); at != 5 {
				t.Fatalf("unpaced rate %d delayed to %d", r, at)
			}
			q.pacerSent(65000, 5)
		}
	}
	// A rate change applies from the next datagram.
	q := mustPath(t, "cubic", true)
	q.pacerSetRate(1200000, 0) // 1 ms per datagram
	now = 0
	for i := 0; i < 10; i++ {
		q.pacerSent(mss, now)
	}
	if at := q.pacerNext(mss, 0); at != 1*ms {
		t.Fatalf("gap at 1.2 MB/s: %d", at)
	}
	q.pacerSetRate(2400000, 0)
	if at := q.pacerNext(mss, 0); at != 500*us {
		t.Fatalf("gap at 2.4 MB/s: %d", at)
	}
}

// After an idle period the cubic epoch moves forward: idle time is not
// growth time.
func TestCCCubicIdleRestart(t *testing.T) {
	grow := func(idleSend bool) uint64 {
		p := mustPath(t, "cubic", true)
		p.rttUpdate(50*ms, 0, true, 0)
		p.ccAck(1*ms, 100*mss-12000, 0, 0, false)
		p.ccLoss(10*ms, mss, 5*ms)
		p.ccAck(20*ms, mss, 50*ms, 15*ms, false) // epoch starts
		if idleSend {
			if err := p.sent(spaceApp, 0, 10000*ms, mss, sentData, 0, 0, 0); err != nil {
				t.Fatal(err)
			}
		}
		w := p.cwnd()
		p.ccAck(10050*ms, mss, 50*ms, 10000*ms, false)
		return p.cwnd() - w
	}
	if idle, busy := grow(true), grow(false); idle > 60 || busy < 500 {
		t.Fatalf("growth after 10 s: %d bytes with the idle restart, %d without", idle, busy)
	}
}
