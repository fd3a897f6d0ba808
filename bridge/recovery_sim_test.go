package bridge

import (
	"container/heap"
	"fmt"
	"math/rand"
	"testing"
)

// A deterministic single-path simulation: a bulk sender (recovery +
// congestion control + pacer) and a receiver (ACK manager) joined by a
// bottleneck link with a tail-drop queue, propagation delay, random loss,
// one loss burst and a lossy ACK path.  Time is virtual.

type simConfig struct {
	cc          string
	seed        int64
	rateBps     uint64 // bottleneck, bytes per second
	owd         uint64 // one-way propagation delay
	queueLimit  int    // packets
	lossRate    float64
	ackLossRate float64
	burstAt     uint64 // time of the loss burst
	burstLen    int    // packets dropped in a row at burstAt
	duration    uint64
}

type simResult struct {
	goodput       map[string]float64 // utilisation per window name
	sent          uint64
	queueDrops    uint64
	randomDrops   uint64
	maxQueue      int
	maxOverCwnd   int64
	events        int
	congestion    uint64
	uniqueChunks  uint64
	lostReported  uint64
	finalCwndPkts float64
}

type simEvent struct {
	at    uint64
	seq   uint64
	ack   []byte // ACK frame arriving at the sender, or nil
	pn    uint64 // data packet arriving at the receiver
	chunk uint64
}

type simHeap []simEvent

func (h simHeap) Len() int { return len(h) }
func (h simHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h simHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *simHeap) Push(x any)   { *h = append(*h, x.(simEvent)) }
func (h *simHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type simWindow struct {
	name       string
	start, end uint64
}

func runSim(t testing.TB, cfg simConfig, windows []simWindow) simResult {
	t.Helper()
	const size = 1200
	rng := rand.New(rand.NewSource(cfg.seed))
	snd, err := newRecPath(cfg.cc, size, true, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.free()
	snd.confirmHandshake(0)
	rcv := newAckMgr(0, 25*ms, 3)
	defer rcv.free()

	var (
		h          simHeap
		seq        uint64
		now        uint64
		nextPN     uint64
		nextChunk  uint64
		retx       []uint64           // chunks to send again
		inflight   = map[uint64]int{} // pn -> chunk (sender's view)
		outBytes   uint64             // sum of sizes the sender believes outstanding
		delivered  = map[uint64]bool{}
		departures []uint64 // bottleneck departure times of queued packets
		linkFree   uint64
		burstLeft  = cfg.burstLen
		res        = simResult{goodput: map[string]float64{}}
		winBytes   = make([]uint64, len(windows))
		txTime     = uint64(size) * 1e9 / cfg.rateBps
	)
	push := func(e simEvent) {
		e.seq = seq
		seq++
		heap.Push(&h, e)
	}
	drain := func() {
		for _, ev := range snd.events() {
			chunk, ok := inflight[ev.PN]
			if !ok {
				if ev.Kind == evAcked && ev.Flags&sentLost != 0 {
					continue // late ACK of a packet already given up on
				}
				t.Fatalf("seed %d: event %+v for an unknown packet", cfg.seed, ev)
			}
			delete(inflight, ev.PN)
			outBytes -= uint64(ev.Size)
			if ev.Frames != uint64(chunk)+1 {
				t.Fatalf("seed %d: handle %d for chunk %d", cfg.seed, ev.Frames, chunk)
			}
			if ev.Kind == evLost {
				res.lostReported++
				retx = append(retx, uint64(chunk))
			}
		}
		if snd.evDropped() != 0 {
			t.Fatalf("seed %d: event buffer overflow", cfg.seed)
		}
	}
	check := func() {
		if snd.bytesInFlight() != outBytes {
			t.Fatalf("seed %d t=%d: bytes in flight %d, sender's own count %d",
				cfg.seed, now, snd.bytesInFlight(), outBytes)
		}
		live, dbl := snd.frameHandles()
		if dbl != 0 || live != uint64(len(inflight)) {
			t.Fatalf("seed %d: frame handles live %d (want %d) double %d", cfg.seed, live, len(inflight), dbl)
		}
	}
	sendOne := func(probe bool) {
		var chunk uint64
		if len(retx) > 0 {
			chunk, retx = retx[0], retx[1:]
		} else {
			chunk = nextChunk
			nextChunk++
		}
		pn := nextPN
		nextPN++
		if over := int64(snd.bytesInFlight()+size) - int64(snd.cwnd()); !probe && over > res.maxOverCwnd {
			res.maxOverCwnd = over
		}
		if err := snd.sent(spaceApp, pn, now, size, sentData, ecnNotECT, pnNone, chunk+1); err != nil {
			t.Fatalf("seed %d: sent: %v", cfg.seed, err)
		}
		snd.pacerSent(size, now)
		inflight[pn] = int(chunk)
		outBytes += size
		res.sent++
		// Bottleneck: tail drop, then serialization and propagation.
		for len(departures) > 0 && departures[0] <= now {
			departures = departures[1:]
		}
		switch {
		case cfg.burstAt != 0 && now >= cfg.burstAt && burstLeft > 0:
			burstLeft--
			res.randomDrops++
			return
		case len(departures) >= cfg.queueLimit:
			res.queueDrops++
			return
		case rng.Float64() < cfg.lossRate:
			res.randomDrops++
			return
		}
		dep := max(now, linkFree) + txTime
		linkFree = dep
		departures = append(departures, dep)
		if len(departures) > res.maxQueue {
			res.maxQueue = len(departures)
		}
		push(simEvent{at: dep + cfg.owd, pn: pn, chunk: chunk})
	}
	var wake uint64 = 0
	trySend := func() {
		wake = timeNone
		for {
			probes, _ := snd.probes()
			probe := probes > 0
			if !probe && snd.bytesInFlight()+size > snd.cwnd() {
				return
			}
			snd.pacerSetRate(snd.pacingRate(), now)
			if !probe {
				if at := snd.pacerNext(size, now); at > now {
					wake = at
					return
				}
			}
			sendOne(probe)
		}
	}
	receiverAck := func() {
		if !rcv.shouldSend(spaceApp, now) {
			return
		}
		wire, err := rcv.emit(spaceApp, now, 0, true)
		if err != nil || wire == nil {
			t.Fatalf("seed %d: emit: %v %v", cfg.seed, wire, err)
		}
		if rng.Float64() < cfg.ackLossRate {
			return
		}
		push(simEvent{at: now + cfg.owd, ack: wire})
	}

	trySend()
	for now < cfg.duration {
		next := min(wake, snd.deadline(), rcv.deadline())
		if len(h) > 0 && h[0].at < next {
			next = h[0].at
		}
		if next == timeNone {
			t.Fatalf("seed %d: deadlock at %d", cfg.seed, now)
		}
		if next < now {
			next = now
		}
		now = next
		res.events++
		for len(h) > 0 && h[0].at <= now {
			e := heap.Pop(&h).(simEvent)
			if e.ack != nil {
				code, err := snd.ackWire(spaceApp, e.ack, now)
				if err != nil || code != 0 {
					t.Fatalf("seed %d: ack: %#x %v", cfg.seed, code, err)
				}
				drain()
				continue
			}
			fresh, err := rcv.onPacket(spaceApp, e.pn, true, ecnNotECT, now)
			if err != nil {
				t.Fatal(err)
			}
			if fresh && !delivered[e.chunk] {
				delivered[e.chunk] = true
				for i, w := range windows {
					if now >= w.start && now < w.end {
						winBytes[i] += size
					}
				}
			}
			receiverAck()
		}
		if d := snd.deadline(); d <= now {
			snd.timeout(now)
			drain()
		}
		if rcv.deadline() <= now {
			receiverAck()
		}
		check()
		trySend()
	}
	for i, w := range windows {
		res.goodput[w.name] = float64(winBytes[i]) / (float64(cfg.rateBps) * float64(w.end-w.start) / 1e9)
	}
	res.congestion, _, _ = snd.ccEvents()
	res.uniqueChunks = uint64(len(delivered))
	res.finalCwndPkts = float64(snd.cwnd()) / size
	// Conservation: every chunk is delivered, in flight or queued again.
	pending := map[uint64]bool{}
	for _, c := range inflight {
		pending[uint64(c)] = true
	}
	for _, c := range retx {
		pending[c] = true
	}
	for c := uint64(0); c < nextChunk; c++ {
		if !delivered[c] && !pending[c] {
			t.Fatalf("seed %d: chunk %d neither delivered nor pending", cfg.seed, c)
		}
	}
	return res
}

// 50 seeds per controller on a 10 Mbit/s, 40 ms link: >= 90 % utilisation,
// recovery from a loss burst, bounded queue overflow, conservation.
func TestRecoverySimulation(t *testing.T) {
	seeds := 50
	if testing.Short() {
		seeds = 10
	}
	for _, cc := range []string{"cubic", "newreno"} {
		var minUtil, minAfter = 2.0, 2.0
		for seed := 1; seed <= seeds; seed++ {
			rng := rand.New(rand.NewSource(int64(seed) * 7919))
			bdp := int(1250000 * 40 / 1000 / 1200) // 41 packets
			cfg := simConfig{
				cc:          cc,
				seed:        int64(seed),
				rateBps:     1250000,
				owd:         20 * ms,
				queueLimit:  bdp + rng.Intn(bdp+1),
				lossRate:    rng.Float64() * 1e-4,
				ackLossRate: rng.Float64() * 0.02,
				burstAt:     6*1e9 + uint64(rng.Int63n(2e9)),
				burstLen:    1 + rng.Intn(20),
				duration:    14 * 1e9,
			}
			res := runSim(t, cfg, []simWindow{
				{"steady", 2e9, 14e9},
				{"after", cfg.burstAt + 2e9, 14e9},
			})
			name := fmt.Sprintf("%s seed %d (queue %d, loss %.5f, burst %d at %.2fs)",
				cc, seed, cfg.queueLimit, cfg.lossRate, cfg.burstLen, float64(cfg.burstAt)/1e9)
			if u := res.goodput["steady"]; u < 0.90 {
				t.Errorf("%s: utilisation %.3f", name, u)
			}
			if u := res.goodput["after"]; u < 0.90 {
				t.Errorf("%s: utilisation %.3f after the loss burst", name, u)
			}
			if res.maxQueue > cfg.queueLimit {
				t.Errorf("%s: queue reached %d", name, res.maxQueue)
			}
			// Overflow losses stay a small share of what was sent.
			if float64(res.queueDrops) > 0.01*float64(res.sent) {
				t.Errorf("%s: %d of %d packets overflowed the queue", name, res.queueDrops, res.sent)
			}
			// Never more in flight than the window (probes aside).
			if res.maxOverCwnd > 0 {
				t.Errorf("%s: %d bytes above cwnd in flight", name, res.maxOverCwnd)
			}
			if res.congestion == 0 || res.lostReported < res.queueDrops {
				t.Errorf("%s: %d congestion events, %d losses reported for %d drops",
					name, res.congestion, res.lostReported, res.queueDrops+res.randomDrops)
			}
			minUtil = min(minUtil, res.goodput["steady"])
			minAfter = min(minAfter, res.goodput["after"])
		}
		t.Logf("%s: %d seeds, worst utilisation %.3f, worst after the burst %.3f", cc, seeds, minUtil, minAfter)
	}
}
